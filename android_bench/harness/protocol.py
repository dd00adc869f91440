"""The protocol, the same for every runner and device.

Jobs run in rounds; within a round, for each format x precision x threads x sequence length, the models run one
after the other (A B A B ... across rounds) so drift hits both, and the lengths alternate within every round so
drift hits every length alike. One artifact per model, format and precision (made at the longest length) serves
every length: a job's length is the shape its runner feeds. Before a model follows another, the device cools
down until its thermal readings are back to where the run started (capped). Optional big-core pinning uses
a taskset mask of the cores with the highest max frequency. Each invocation's result is appended to the
JSONL log before the next starts. Results are keyed on the device's `id` (devices.identify), so a device back
under another adb serial continues its run. No name reaches a device path or a shell raw: artifacts go to folders
named by `remote_name`, and every command is an argv quoted once.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from android_bench.devices import DeviceError, free_bytes
from android_bench.measurement.results import ResultLog, job_key
from android_bench.runners import ParseError, Pushed, RunnerError, Settings, runner_for

log = logging.getLogger("android_bench")


@dataclass(frozen=True)
class Job:
    model: str
    format: str
    precision: str
    threads: int
    round: int
    order: int  # position in the run, recorded so drift can be checked afterwards
    seq_len: int | None = None  # the length fed (None: the artifact's own)
    peer: str | None = None  # a peer path's name (android_bench.studies.peers); None: our artifact

    @property
    def artifact(self) -> tuple:
        """The key of the job's artifact folder in run_device's `artifacts`: (model, format, precision, peer)."""
        return self.model, self.format, self.precision, self.peer


def path_name(fmt: str, precision: str, peer: str | None) -> str:
    """A job's path: a peer's name (android_bench.studies.peers: a registry key, safe in a device path), else
    format-precision; it names the artifact's device folder and the efficiency study's rows."""
    return peer or f"{fmt}-{precision}"


def plan(models: list[str], formats: list[str], precisions: list[str], threads: list[int], rounds: int,
         seq_lens: list[int | None] = (None,)) -> list[Job]:
    jobs = []
    for r in range(rounds):
        for fmt in formats:
            for precision in precisions:
                for t in threads:
                    for n in seq_lens:
                        for model in models:
                            jobs.append(Job(model, fmt, precision, t, r, len(jobs), n))
    return jobs


def big_core_mask(max_freq_khz: list[int | None]) -> str | None:
    """Hex taskset mask of the cores with the highest max frequency; None if frequencies are unknown."""
    known = [f for f in max_freq_khz if f]
    if not known or len(known) != len(max_freq_khz):
        return None
    top = max(known)
    return format(sum(1 << i for i, f in enumerate(max_freq_khz) if f == top), "x")


def _hotter(now: dict, start: dict, margin_c: float) -> bool:
    if now.get("thermal_status") is not None and start.get("thermal_status") is not None \
            and now["thermal_status"] > start["thermal_status"]:
        return True
    for key in ("battery_temp_c", "max_zone_temp_c"):
        if now.get(key) is not None and start.get(key) is not None and now[key] > start[key] + margin_c:
            return True
    return False


def cool_down(device, start: dict, *, cap_s: float, poll_s: float = 5.0, margin_c: float = 1.0) -> dict:
    """Idle until the thermal readings are back to `start` (within margin_c), at most cap_s seconds."""
    began = time.monotonic()
    now = device.thermal()
    while _hotter(now, start, margin_c) and time.monotonic() - began + poll_s <= cap_s:
        time.sleep(poll_s)
        now = device.thermal()
    return {"waited_s": round(time.monotonic() - began, 1), "capped": _hotter(now, start, margin_c), "thermal": now}


@dataclass
class RunConfig:
    run_id: str
    settings: Settings
    cooldown_cap_s: float = 120.0
    pin_big_cores: bool = False
    runner: str = "auto"
    tools: Path | None = None
    device_python: str = "python3"
    inputs: dict[str, dict[int, Path]] | None = None  # model -> {length: .npz of timing.benchmark_inputs}
    weights: str = "random"  # where the artifacts' weights came from (part of every result's identity)
    length_weights: dict[int, float] | None = None  # android_bench.measurement.lengths.distribution, for the summary
    keep_device_files: bool = False  # leave the run folder (artifacts, tools, inputs) on the device afterwards


def new_run_id() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


RUN_ID = re.compile(r"run-\d{8}-\d{6}-[0-9a-f]{6}")  # what new_run_id makes: safe in a device path
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def remote_name(model: str) -> str:
    """The device folder name for a model: a registered name as it is; a folder path or HF id (which may hold any
    character, a shell's included) as a slug of its last part plus a short hash of the whole, so two models
    never share a folder and nothing but [A-Za-z0-9._-] reaches a device path."""
    if _SAFE_NAME.fullmatch(model):
        return model
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(model.rstrip("/")).name).strip("._-")[:40] or "model"
    return f"{slug}-{hashlib.sha256(model.encode()).hexdigest()[:8]}"


def run_device(device, jobs: list[Job], artifacts: dict[tuple, Path], config: RunConfig, results: ResultLog,
               progress=None, stop: threading.Event | None = None) -> int:
    """Run the jobs not yet in `results` on one device; returns how many were measured now.

    A runner failure is recorded and the run goes on; a lost device ends this device's run (what was
    measured is already saved; --resume continues). When `stop` is set (Ctrl-C), the run ends before the next
    job, and the job cut short is not recorded."""
    from export.runtimes import read_verified

    manifests = {key: read_verified(folder) for key, folder in artifacts.items()}

    def seq_len(job: Job) -> int:
        return job.seq_len or manifests[job.artifact]["seq_len"]

    def identity(job: Job) -> dict:
        manifest = manifests[job.artifact]
        return {"device": device.id, **asdict(job), "seq_len": seq_len(job), "artifact_seq_len": manifest["seq_len"],
                "weights": config.weights, "artifact_sha256": manifest["file"]["sha256"],
                "settings": asdict(replace(config.settings, threads=job.threads, seq_len=seq_len(job)))}

    done = results.done()
    todo = [j for j in jobs if job_key(identity(j)) not in done]
    if not todo:
        return 0
    facts = device.facts()
    mask = big_core_mask(facts["max_freq_khz"]) if config.pin_big_cores else None
    if config.pin_big_cores and mask is None:
        log.warning("%s: per-core max frequencies unknown; not pinning", device.serial)
    remote = device.remote_dir(config.run_id)
    device.shell(["mkdir", "-p", f"{remote}/models", f"{remote}/tools", f"{remote}/py"], what="making its run folder")
    state = {"facts": facts, "remote": remote, "start_thermal": device.thermal(), "prepared": set(), "pushed": {},
             "previous": None, "mask": mask}
    try:
        return _run_jobs(device, todo, artifacts, config, results, state, identity, progress, stop)
    finally:
        if not config.keep_device_files:
            _remove(device, remote)


def _run_jobs(device, todo: list[Job], artifacts, config: RunConfig, results: ResultLog, state: dict, identity,
              progress, stop) -> int:
    measured = 0
    for job in todo:
        if stop is not None and stop.is_set():
            break
        runner = runner_for(job.format, kind=device.kind, tools=config.tools, python=config.device_python,
                            prefer=config.runner, abi=state["facts"]["abi"],
                            flush=config.settings.denormals == "flush")
        length = identity(job)["seq_len"]
        settings = replace(config.settings, threads=job.threads, taskset=state["mask"], seq_len=length)
        # "serial": the adb serial it had this time (its id may be its serial number, the same under any serial)
        record = {"run_id": config.run_id, **identity(job), "serial": device.serial, "runner": runner.name,
                  "settings": asdict(settings), "device_facts": state["facts"], "time": time.time()}
        try:
            _measure(device, job, runner, settings, record, artifacts, config, state)
            measured += 1
        except (RunnerError, ParseError, DeviceError) as exc:
            if stop is not None and stop.is_set():
                break  # cut short by Ctrl-C: not a failure of the job
            if isinstance(exc, RunnerError) and _full(device, state["remote"]):  # every later job would fail too
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), state["remote"]) from exc
            record["error"] = str(exc)
            if isinstance(exc, DeviceError):  # said once, by the command's last line
                results.append(record)
                raise
            log.error("%s", exc)
        finally:
            state["previous"] = job.model
        results.append(record)
        if progress:
            progress()
    return measured


def _full(device, remote: str) -> bool:
    """Whether the device's folder is on a full disk (a tool that could not write its log or result fails so)."""
    free = free_bytes(device, remote)
    return free is not None and free < (1 << 20)


def _remove(device, remote: str) -> None:
    """The run's folder off the device (what was pushed: hundreds of MB at full size); a device that is gone keeps
    it, said in a warning."""
    try:
        device.shell(["rm", "-rf", remote], timeout=120, what="removing its run folder")
    except DeviceError as exc:
        log.warning("%s: could not remove %s (%s); remove it by hand", device.serial, remote, exc)


def _measure(device, job: Job, runner, settings: Settings, record: dict, artifacts: dict, config: RunConfig,
             state: dict) -> None:
    """One job into `record`: the runner prepared and the artifact pushed (once each per device), the device
    cooled down after another model, then the invocation timed between two thermal readings."""
    remote = state["remote"]
    if runner.name not in state["prepared"]:
        runner.prepare(device, remote, state["facts"]["abi"])
        state["prepared"].add(runner.name)
    key = job.artifact
    if key not in state["pushed"]:
        path = path_name(job.format, job.precision, job.peer)
        state["pushed"][key] = _push_artifact(device, artifacts[key],
                                              f"{remote}/models/{remote_name(job.model)}-{path}",
                                              inputs=(config.inputs or {}).get(job.model))
    if state["previous"] is not None and state["previous"] != job.model:
        record["cooldown"] = cool_down(device, state["start_thermal"], cap_s=config.cooldown_cap_s)
    record["thermal_before"] = device.thermal()
    timing = runner.run(device, remote, state["pushed"][key], settings)
    record["thermal_after"] = device.thermal()
    record["timing"] = timing.to_dict()
    log.info("%s %s %s %s %dt seq %d round %d: %.2f ms", device.serial, job.model, job.peer or job.format,
             job.precision, job.threads, settings.seq_len, job.round, timing.mean_ms)


def _push_artifact(device, folder: Path, remote: str, *, inputs: dict[int, Path] | None = None) -> Pushed:
    """The artifact's files (as its manifest vouches for them) and the model's inputs at every length."""
    from export.runtimes import read_verified

    manifest = read_verified(folder)  # what is pushed is what the manifest vouches for
    model_files = [manifest["file"]["name"], *[f["name"] for f in manifest.get("extra_files") or []]]
    assets = [f["name"] for f in manifest.get("assets") or []]  # the device side checks the whole artifact too
    for name in ["manifest.json", *model_files, *assets]:
        device.push(folder / name, f"{remote}/{name}")
    for length, path in (inputs or {}).items():
        device.push(path, f"{remote}/inputs-{length}.npz")
    return Pushed(model=f"{remote}/{model_files[0]}", folder=remote, manifest=manifest,
                  files=[f"{remote}/{name}" for name in model_files],
                  inputs={length: f"{remote}/inputs-{length}.npz" for length in inputs} if inputs else None)
