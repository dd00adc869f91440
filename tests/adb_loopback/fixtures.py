"""pytest fixtures for the adb loopback device (filled in by the harness work)."""
