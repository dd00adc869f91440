"""List flags, parsed and checked by argparse before any work: a bad value is one line naming the choices."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterable

from export import at_least, positive_int  # one definition for every command

non_negative_int = at_least(0)


def names(choices: Iterable[str], *, what: str, why_not: str | None = None):
    """argparse `type=`: comma-separated names, each one of `choices`, at least one, no repeats. `why_not`: why a
    command takes only these (said when another is given)."""
    allowed = list(choices)

    def parse(text: str) -> list[str]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        bad = [x for x in items if x not in allowed]
        if bad and why_not:
            raise argparse.ArgumentTypeError(f"{what} {', '.join(bad)}: {why_not}; choose from {', '.join(allowed)}")
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(map(repr, bad))}; choose from "
                                             f"{', '.join(allowed)} (comma-separated)")
        return _unique(items, what)
    return parse


def positive_ints(what: str):
    """argparse `type=`: comma-separated positive integers, e.g. --threads 1,2."""
    def parse(text: str) -> list[int]:
        items = [x.strip() for x in text.split(",") if x.strip()]
        try:
            values = [int(x) for x in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of positive integer "
                                             f"{what}, e.g. 1,2") from None
        if any(v < 1 for v in values):
            raise argparse.ArgumentTypeError(f"{what} must be at least 1, got {text!r}")
        return _unique(values, what)
    return parse


def seq_lens(text: str) -> list[int]:
    """argparse `type=`: comma-separated sequence lengths, e.g. --seq-len 16,32,64,128; each at least
    models.contract.MIN_SEQUENCE ([CLS] [SEP]), no repeats. The upper bound is each model's (`check_seq_lens`)."""
    from models.contract import MIN_SEQUENCE

    items = [x.strip() for x in text.split(",") if x.strip()]
    try:
        values = [int(x) for x in items]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of token counts, e.g. 16,32,64,128"
                                         ) from None
    if any(v < MIN_SEQUENCE for v in values):
        raise argparse.ArgumentTypeError(f"sequence lengths must be at least {MIN_SEQUENCE} ([CLS] [SEP]), got {text!r}")
    return _unique(values, "sequence lengths")


def check_seq_lens(model_names: list[str], lengths: list[int]) -> None:
    """Every length within 2..max_position_embeddings of every model, before any work (one line otherwise).
    Registered models are checked from their bundled config; other ids and folders when they are loaded."""
    from models import REGISTRY
    from models.errors import UserError

    for name in model_names:
        spec = REGISTRY.get(name)
        if spec is None:
            continue
        limit = int(spec.config_dict()["max_position_embeddings"])
        over = [n for n in lengths if n > limit]
        if over:
            raise UserError(f"argument --seq-len: {','.join(map(str, over))} is more than {name} takes "
                            f"(max_position_embeddings {limit}); pick lengths in 2..{limit}")


def _unique(items: list, what: str) -> list:
    if not items:
        raise argparse.ArgumentTypeError(f"no {what} given")
    if len(set(items)) != len(items):
        raise argparse.ArgumentTypeError(f"{what} repeated in {','.join(map(str, items))}")
    return items


def model_names(text: str) -> list[str]:
    """argparse `type=`: comma-separated models, each registered, a local folder or an HF id."""
    from models import check_model_name
    from models.errors import UserError

    try:
        return _unique([check_model_name(x.strip()) for x in text.split(",") if x.strip()], "models")
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def all_precisions() -> list[str]:
    """What some format can produce: fp32 and the precision of every registered recipe."""
    import export

    found = {p for fmt in export.available_formats() for p in export.precisions(fmt)}
    return ["fp32", *sorted(found - {"fp32"})]


def check_precisions(formats: list[str], precisions: list[str]) -> None:
    """Every precision must be one each format can produce (fp32 and its registered recipes'), before any work."""
    import export
    from models.errors import UserError

    for fmt in formats:
        missing = [p for p in precisions if p not in export.precisions(fmt)]
        if missing:
            raise UserError(f"argument --precisions: {fmt} cannot produce {', '.join(missing)}; choose from "
                            f"{', '.join(export.precisions(fmt))}")


def command(run):
    """`run(args)` as every benchmark command runs it: the thread counts of a run on this machine checked against its
    cores (`check_threads`; another device's are checked when it is identified), then the lock on args.out held for
    the whole run: one writer per folder, a second refuses at once in one line naming the holder
    (export._files.folder_lock)."""
    def locked(args):
        import os

        from export._files import folder_lock

        if getattr(args, "device", "local") == "local" and getattr(args, "threads", None):
            check_threads(args.threads, os.cpu_count(), "this machine")
        with folder_lock(args.out):
            return run(args)
    return locked


def check_threads(threads: list[int], cores: int | None, where: str) -> None:
    """Thread counts above `where`'s cores time the scheduler, not the model: refused in one line, unless the user
    asks for it on purpose (models.NO_SIZE_LIMITS=1, as for model sizes: then a warning, and the count is recorded
    as given)."""
    import logging

    from models import NO_SIZE_LIMITS, size_limits_lifted
    from models.errors import UserError

    over = [t for t in threads if cores and t > cores]
    if not over:
        return
    if size_limits_lifted():
        logging.getLogger("android_bench").warning("--threads %d on the %d cores of %s: oversubscribed (%s=1)",
                                                   max(over), cores, where, NO_SIZE_LIMITS)
        return
    raise UserError(f"argument --threads: {max(over)} is more than the {cores} cores of {where}; pick at most "
                    f"{cores}, or set {NO_SIZE_LIMITS}=1 to oversubscribe on purpose")


# The flags every benchmark command shares: one meaning, one default, one help text (tests/test_flags.py checks
# every command's --help against this). A command takes those that apply to it (`add_shared(..., omit=)`).
DEFAULT_MODELS = "squeezebert-mnli-headless,bert-base-uncased"
DEFAULT_FORMATS = "tflite,onnx,executorch"
DEFAULT_PRECISIONS = "fp32,int8"
SHARED = ("models", "formats", "precisions", "threads", "seq_len", "weights", "runs", "warmup", "rounds",
          "denormals", "out", "resume", "verbose")


def add_shared(p: argparse.ArgumentParser, *, out: str, formats=None, precisions=None, omit=(),
               why_not_formats: str | None = None) -> None:
    """The shared flags on `p`. `out`: the command's default output folder (artifacts always go to OUT/artifacts);
    `formats`/`precisions`: the choices when the command takes fewer than every registered one (the default stays
    the shared one, narrowed to those choices; `why_not_formats` says why, to whoever names another)."""
    from export import available_formats
    from models import model_choices

    from android_bench.measurement import timing

    formats = list(formats or available_formats())
    precisions = list(precisions or all_precisions())
    added = {
        "models": lambda: p.add_argument(
            "--models", type=model_names, default=DEFAULT_MODELS,
            help=f"comma-separated models, the subject first ({model_choices()}, local folders or HF ids)"),
        "formats": lambda: p.add_argument(
            "--formats", type=names(formats, what="format", why_not=why_not_formats), default=_within(DEFAULT_FORMATS, formats),
            help=f"comma-separated artifact formats ({', '.join(formats)})"),
        "precisions": lambda: p.add_argument(
            "--precisions", type=names(precisions, what="precision"), default=_within(DEFAULT_PRECISIONS, precisions),
            help=f"comma-separated precisions ({', '.join(precisions)}), each checked against every format"),
        "threads": lambda: p.add_argument(
            "--threads", type=positive_ints("thread counts"), default="1,2", help="comma-separated thread counts"),
        "seq_len": lambda: p.add_argument(
            "--seq-len", type=seq_lens, default="128",
            help="comma-separated sequence lengths, e.g. 16,32,64,128: one artifact per model, format and precision "
                 "made at the longest, fed that many real tokens (no padding) at every length"),
        "weights": lambda: p.add_argument(
            "--weights", default="hub",
            help="'hub' (the hub or its local cache), a checkpoint folder, or 'random' (seeded; recorded)"),
        "runs": lambda: p.add_argument(
            "--runs", type=positive_int, default=timing.RUNS, help="timed runs per invocation"),
        "warmup": lambda: p.add_argument(
            "--warmup", type=non_negative_int, default=timing.WARMUP,
            help="untimed warm-up runs per invocation (after the first inference, timed on its own)"),
        "rounds": lambda: p.add_argument(
            "--rounds", type=positive_int, default=3, help="rounds of the models alternating (A B A B ...)"),
        "denormals": lambda: p.add_argument(
            "--denormals", choices=list(timing.DENORMALS), default="flush",
            help="Python runner: see android_bench.measurement.timing.denormals"),
        "out": lambda: p.add_argument(
            "--out", type=Path, default=Path(out), help="output folder (artifacts made and reused in OUT/artifacts)"),
        "resume": lambda: p.add_argument(
            "--resume", action="store_true", help="continue OUT/results.jsonl: jobs already measured there are skipped"),
        "verbose": lambda: p.add_argument(
            "-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error"),
    }
    unknown = set(omit) - set(SHARED)
    if unknown:
        raise ValueError(f"not shared flags: {sorted(unknown)}")
    for name in SHARED:
        if name not in omit:
            added[name]()


def _within(default: str, choices: list[str]) -> str:
    kept = [x for x in default.split(",") if x in choices]
    return ",".join(kept or choices[:1])
