"""The loopback device: an adb device served on 127.0.0.1 by this machine, so the whole adb path (the real adb
server, adbutils, the native runners, push/pull, faults) runs without a phone. `python -m
android_bench.devices.loopback` serves it to your adb server; the tests use it through tests/loopback_fixtures.py.
The x86 one answers like a Pixel-3-class phone; the arm64 one (arm64.py) runs its commands under qemu-user.

device.py is the device (LoopbackDevice: lifecycle, properties, faults); transport.py adbd's side of the wire
protocol (connection, handshake, streams); shell.py and sync.py the services it serves (`shell:`/`exec:`, `sync:`).
"""
