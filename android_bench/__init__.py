"""android_bench: latency of exported artifacts on Android devices over adb, and on this machine.

Devices (adb through adbutils, or `local`), one runner per benchmark tool, one protocol for all of them,
results appended as they arrive, statistics with bootstrap intervals, and a verdict on the 4.3x claim.
"""
