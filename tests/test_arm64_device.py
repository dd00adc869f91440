"""The arm64 device itself: an aarch64 userland under qemu-user that the real adb sees as an arm64-v8a phone,
on CPU profiles that never expose SME (the hazard that made XNNPACK int8 wrong under QEMU's default `max`)."""
from __future__ import annotations

import os
import struct

import pytest

from android_bench.devices.arm64 import profiles
from android_bench.devices.arm64 import rootfs
from android_bench.devices.arm64.sandbox import cpu_sysfs, guest_argv
from android_bench.devices.facts import FACTS_SCRIPT, parse_facts

pytestmark = pytest.mark.arm64

AT_HWCAP, AT_HWCAP2 = 16, 26
AUXV = "import sys; sys.stdout.write(open('/proc/self/auxv', 'rb').read().hex())"


def test_profiles_never_use_max_with_sme():
    """No profile leaves SME or SVE on, and `max` as such is refused (runs without the device)."""
    for profile in profiles.PROFILES.values():
        assert profiles.check_safe(profile.qemu_cpu) == profile.qemu_cpu
        model, *options = profile.qemu_cpu.split(",")
        assert model != "max" or {"sve=off", "sme=off"} <= set(options), profile
    for hazard in ("max", "max,sve=off", "any", "max,sme=off"):
        with pytest.raises(profiles.UnsafeCpuError, match="SME"):
            profiles.check_safe(hazard)
    with pytest.raises(profiles.UserError, match="choose one of a76, i8mm"):
        profiles.get_profile("max")


def guest_hwcaps(qemu_cpu: str) -> tuple[int, int]:
    """AT_HWCAP and AT_HWCAP2 of a guest process under `qemu_cpu`: the features the runtimes' cpuinfo sees."""
    import subprocess

    profile = profiles.get_profile(profiles.DEFAULT_PROFILE)
    argv = guest_argv(rootfs.root_dir(), profile, cpu_sysfs(profile, rootfs.home()))
    argv[argv.index("QEMU_CPU") + 1] = qemu_cpu  # past check_safe on purpose: `max` shows the hazard is real
    done = subprocess.run([*argv, rootfs.guest_python(), "-c", AUXV], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    raw = bytes.fromhex(done.stdout)
    auxv = dict(struct.iter_unpack("<QQ", raw))
    return auxv[AT_HWCAP], auxv.get(AT_HWCAP2, 0)


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_profile_features_as_declared_and_no_sme(arm64_ready, name):
    profile = profiles.PROFILES[name]
    hwcap, hwcap2 = guest_hwcaps(profile.qemu_cpu)
    assert not hwcap2 & profiles.HWCAP2_SME and not hwcap & profiles.HWCAP_SVE
    assert bool(hwcap & profiles.HWCAP_ASIMDDP) == profile.dotprod
    assert bool(hwcap2 & profiles.HWCAP2_I8MM) == profile.i8mm


def test_default_max_exposes_sme(arm64_ready):
    """What the profiles avoid: this QEMU's plain `max` does advertise SME to the guest."""
    _, hwcap2 = guest_hwcaps("max")
    assert hwcap2 & profiles.HWCAP2_SME


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_adb_sees_an_arm64_device(make_arm64_device, arm64_adb_server, name):
    device = make_arm64_device(profile=name)
    shell = lambda cmd: arm64_adb_server.adb("-s", device.serial, "shell", cmd, timeout=120)
    assert shell("getprop ro.product.cpu.abi").stdout == "arm64-v8a\n"
    assert shell("uname -m").stdout == "aarch64\n"
    assert shell("echo $QEMU_CPU").stdout.strip() == profiles.PROFILES[name].qemu_cpu
    assert shell("cat /sys/devices/system/cpu/possible").returncode == 0
    facts = parse_facts(shell(FACTS_SCRIPT).stdout)
    assert facts["abi"] == "arm64-v8a" and facts["cores"] and facts["cores"] >= 1
    assert facts["emulated"] == f"qemu-user, QEMU_CPU={profiles.PROFILES[name].qemu_cpu}"


def test_bare_device_has_no_libc(make_arm64_device, arm64_adb_server):
    """The bare variant: a static busybox and nothing else, so only a self-contained folder runs there."""
    device = make_arm64_device(bare=True)
    shell = lambda cmd: arm64_adb_server.adb("-s", device.serial, "shell", cmd, timeout=120)
    assert shell("uname -m").stdout == "aarch64\n"
    assert shell("ls /").stdout.split() == sorted(["bin", "data", "dev", "proc", "sys", "system", "tmp"])
    assert shell("ls /lib /usr /lib64").returncode != 0
    assert shell("ls /bin/python3").returncode != 0


def test_where_it_cannot_be_built_the_error_is_one_line(monkeypatch, tmp_path):
    """No root for binfmt_misc or debootstrap: one line saying what is missing and the command to fix it."""
    from android_bench.devices.arm64 import host

    monkeypatch.setenv("SQUEEZEBERT_MOBILE_CACHE", str(tmp_path))
    monkeypatch.setattr(host, "is_root", lambda: False)
    monkeypatch.setattr(host, "binfmt_state", lambda: "binfmt_misc is not mounted")
    with pytest.raises(host.HostError) as err:
        host.ensure_binfmt(log=lambda _: None)
    assert "\n" not in str(err.value) and "sudo mount -t binfmt_misc" in str(err.value)
    assert "update-binfmts --enable qemu-aarch64" in str(err.value)
    with pytest.raises(host.HostError, match="debootstrap needs root .* rerun as root or with sudo"):
        rootfs.build_debian(log=lambda _: None)


def test_status_and_skip_reason_name_the_setup_command(monkeypatch, tmp_path):
    import subprocess
    import sys

    from android_bench.devices.loopback import arm64

    monkeypatch.setenv("SQUEEZEBERT_MOBILE_CACHE", str(tmp_path / "empty"))
    reason = arm64.not_built()
    assert reason and "\n" not in reason and "python -m android_bench.arm64 setup" in reason
    done = subprocess.run([sys.executable, "-m", "android_bench.arm64", "status"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "SQUEEZEBERT_MOBILE_CACHE": str(tmp_path / "empty")})
    assert done.returncode == 1 and done.stdout.count("\n") == 1 and "setup" in done.stdout, done.stdout
    bad = subprocess.run([sys.executable, "-m", "android_bench.arm64", "build"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "invalid choice: 'build'" in bad.stderr and bad.stderr.count("\n") == 1
