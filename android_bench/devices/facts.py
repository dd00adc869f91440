"""What a device is, read in one shell round trip (FACTS_SCRIPT, any POSIX sh and Android's toybox sh) and recorded
with every result: missing facts are None, never guessed; emulated devices say how they are emulated."""
from __future__ import annotations

# One shell round trip for every fact; runs in Android's toybox sh and any POSIX sh. Lines are key=value.
FACTS_SCRIPT = r"""
for k in ro.product.manufacturer ro.product.model ro.soc.manufacturer ro.soc.model ro.board.platform \
         ro.hardware ro.product.cpu.abi ro.build.version.release ro.build.version.sdk ro.kernel.qemu ro.boot.qemu \
         ro.serialno ro.boot.serialno ro.boot.qemu.avd_name ro.kernel.qemu.avd_name; do
  echo "prop.$k=$(getprop $k 2>/dev/null)"
done
echo "cores=$(ls -d /sys/devices/system/cpu/cpu[0-9]* 2>/dev/null | wc -l)"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  n=${c##*/cpu}
  echo "maxfreq.$n=$(cat $c/cpufreq/cpuinfo_max_freq 2>/dev/null)"
  echo "governor.$n=$(cat $c/cpufreq/scaling_governor 2>/dev/null)"
done
echo "uname=$(uname -m)"
echo "qemu_cpu=$QEMU_CPU"
echo "cpuinfo_x86=$(grep -c -m1 '^vendor_id' /proc/cpuinfo 2>/dev/null)"
""" + r"""
echo "thermal_status=$(dumpsys thermalservice 2>/dev/null | grep -m1 'Thermal Status' | sed 's/[^0-9]//g')"
echo "battery_temp=$(dumpsys battery 2>/dev/null | grep -m1 'temperature' | sed 's/[^0-9]//g')"
echo "zone_temp=$(cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null | sort -n | tail -1)"
"""
# No trailing newline: adbutils appends `; echo EXIT:$?`, and a line starting with `;` is a syntax error.
FACTS_SCRIPT = FACTS_SCRIPT.strip()
THERMAL_SCRIPT = FACTS_SCRIPT[FACTS_SCRIPT.index('echo "thermal_status'):]

ABI_BY_MACHINE = {"x86_64": "x86_64", "aarch64": "arm64-v8a", "armv7l": "armeabi-v7a", "i686": "x86"}


def _int_or_none(text: str | None):
    return int(text) if text and text.strip().isdigit() else None


def emulation(prop: dict, raw: dict) -> str | bool:
    """How the device is emulated, or False. qemu-user passes QEMU_CPU on to the guest and (QEMU 7) shows it
    the host's /proc/cpuinfo; Android emulators set ro.kernel.qemu / ro.boot.qemu."""
    if raw.get("qemu_cpu"):
        return f"qemu-user, QEMU_CPU={raw['qemu_cpu']}"
    if raw.get("uname", "").startswith(("aarch64", "arm")) and raw.get("cpuinfo_x86") == "1":
        return "qemu-user (an x86 host's /proc/cpuinfo under an ARM userland)"
    if "1" in (prop.get("ro.kernel.qemu"), prop.get("ro.boot.qemu")):
        return "Android emulator (ro.kernel.qemu)"
    return False


def parse_facts(text: str) -> dict:
    """key=value lines from FACTS_SCRIPT -> the recorded device description (None where not exposed)."""
    raw = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            raw[key.strip()] = value.strip()
    prop = {k[len("prop."):]: v or None for k, v in raw.items() if k.startswith("prop.")}
    # a device without /sys/devices/system/cpu leaves the shell's unmatched glob (cpu[0-9]*): no cores known
    cores = sorted(int(k.split(".")[1]) for k in raw if k.startswith("maxfreq.") and k.split(".")[1].isdigit())
    facts = {
        "manufacturer": prop.get("ro.product.manufacturer"),
        "model": prop.get("ro.product.model"),
        "soc": prop.get("ro.soc.model") or prop.get("ro.board.platform") or prop.get("ro.hardware"),
        "abi": prop.get("ro.product.cpu.abi") or ABI_BY_MACHINE.get(raw.get("uname", "")),
        "android_version": prop.get("ro.build.version.release"),
        "sdk": _int_or_none(prop.get("ro.build.version.sdk")),
        "cores": _int_or_none(raw.get("cores")),
        "max_freq_khz": [_int_or_none(raw.get(f"maxfreq.{c}")) for c in cores],
        "governor": [raw.get(f"governor.{c}") or None for c in cores],
        "emulated": emulation(prop, raw),
        **parse_thermal(text),
    }
    facts["missing"] = sorted(k for k, v in facts.items() if v is None or (isinstance(v, list) and not any(v)))
    # What stays when the device reconnects under another adb serial. Emulators of one release share a serial
    # number, so their AVD name goes with it.
    facts["identity"] = {"serialno": prop.get("ro.serialno") or prop.get("ro.boot.serialno"),
                         "avd_name": prop.get("ro.boot.qemu.avd_name") or prop.get("ro.kernel.qemu.avd_name")}
    return facts


def parse_thermal(text: str) -> dict:
    raw = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    battery = _int_or_none(raw.get("battery_temp"))
    zone = _int_or_none(raw.get("zone_temp"))
    return {"thermal_status": _int_or_none(raw.get("thermal_status")),  # Android PowerManager: 0 none .. 6
            "battery_temp_c": battery / 10 if battery is not None else None,  # dumpsys battery: tenths of a degree
            "max_zone_temp_c": zone / 1000 if zone is not None else None}  # sysfs: millidegrees
