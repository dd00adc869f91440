"""The flags every command shares, the one place that turns errors into one-line messages, and the thin CLI
over `export()` that every `python -m export.<format>` is."""
from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
from pathlib import Path

from models import TASKS, model_choices
from models.contract import MIN_SEQUENCE
from models.errors import UserError

from ._files import interrupted, remove_scratch


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors (what is wrong, the valid choices), like every other user error here;
    the usage is one `--help` away. Flags show their defaults in --help."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def at_least(minimum: int):
    """argparse `type=`: one integer >= `minimum` (a count of threads, runs, rounds, warm-up runs, ...)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


positive_int = at_least(1)


def base_parser(prog: str, description: str, *, out_default: str) -> argparse.ArgumentParser:
    p = ArgumentParser(prog=prog, description=description)
    p.add_argument("--model", default="squeezebert-mnli-headless",
                   help=f"registered name ({model_choices()}), a local model folder, or a Hugging Face id org/name")
    p.add_argument("--weights", default="hub",
                   help="'hub' (Hugging Face hub or its local cache; honours HF_HUB_OFFLINE), a checkpoint folder "
                        "(e.g. a run_glue.py output), or 'random' (seeded random weights, flagged in the manifest)")
    p.add_argument("--task", choices=TASKS, default=None,
                   help="feature-extraction (last_hidden_state, pooler_output) or sequence-classification (logits); "
                        "default: the model's own")
    p.add_argument("--seq-len", type=at_least(MIN_SEQUENCE), default=None,
                   help="sequence length of the export and validation inputs; for TFLite, the most tokens the "
                        "resizable file takes (default: 128; TFLite: the model's max_position_embeddings, since "
                        "MediaPipe feeds a text's every token and fails on more)")
    p.add_argument("--out", type=Path, default=Path(out_default), help="output folder")
    p.add_argument("--force", action="store_true",
                   help="replace --out even when it holds files no artifact wrote (they are deleted)")
    p.add_argument("--seed", type=int, default=0, help="seed for --weights random")
    p.add_argument("--graph", choices=("mobile", "reference"), default="mobile",
                   help="SqueezeBERT graph to export: mobile (token-major, grouped 1x1 convs as per-group Linear; "
                        "same weights, equivalence-tested) or reference (the Hugging Face graph as is)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="threads for validation runtimes (default: the runtime's)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return p


def _interrupt(signum, frame):
    """SIGTERM (and Ctrl-C) as KeyboardInterrupt, so temporary folders go and children die on the way out. Not in
    the middle of an import: an exception raised in Python code that a native module's import calls back into
    aborts the process (nanobind's std::terminate, seen with onnx), leaving the folders behind; retried after."""
    interrupted.set()
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            threading.Timer(0.05, signal.raise_signal, (signum,)).start()
            return
        frame = frame.f_back
    raise KeyboardInterrupt


def run_main(main, argv=None, *, parser: argparse.ArgumentParser) -> int:
    """Parse, configure logging, run `main(args)`; user errors become one line on stderr and exit 2."""
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C: temporary folders go, children die
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where SIGINT is ignored (`&` jobs)
        signal.signal(signal.SIGINT, _interrupt)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    for noisy in ("torch", "torchao", "jax", "absl", "tensorflow", "onnx2tf", "executorch", "onnx_ir", "onnxscript"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if args.verbose else logging.ERROR)
    try:
        main(args)
        if interrupted.is_set():  # the KeyboardInterrupt was swallowed on the way: still an interrupted run
            raise KeyboardInterrupt
    except UserError as exc:
        if args.verbose:
            raise
        report = getattr(exc, "report", None)
        if report:
            print("\n".join(report), file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        remove_scratch()
        print("error: interrupted; what finished is kept, the work in progress was discarded", file=sys.stderr)
        return 130
    except OSError as exc:
        if args.verbose:
            raise
        if exc.errno == errno.ENOSPC:
            print(f"error: no space left on the disk holding {exc.filename or 'the output'}; free some space or "
                  "write elsewhere (--out)", file=sys.stderr)
        else:
            print(f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''} (rerun with -v for "
                  "the traceback)", file=sys.stderr)
        return 1
    except Exception as exc:  # an unexpected library failure: one line, the traceback only with -v
        if args.verbose:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        print(f"error: {type(exc).__name__}: {first} (rerun with -v for the traceback)", file=sys.stderr)
        return 1
    return 0


_CORE = {"model", "weights", "task", "seq_len", "out", "force", "seed", "threads", "verbose"}  # --graph etc. go on


def format_main(name: str, argv=None) -> int:
    """`python -m export.<name>`: one format's fp32 artifact."""
    from ._formats import get_format

    fmt = get_format(name)
    parser = base_parser(f"python -m export.{name}", f"Export a model to {name}, validate it against PyTorch "
                         "eager in its desktop runtime, and write the artifact folder with manifest.json.",
                         out_default=f"build/{name}")
    if fmt.add_options:
        fmt.add_options(parser)

    def main(args):
        import models
        from ._pipeline import export
        from ._target import claim_target, model_sources

        # a second writer, and an --out that cannot be, are refused before the model loads
        with claim_target(args.out, force=args.force, sources=model_sources(args.model, args.weights)) as out:
            loaded = models.load(args.model, weights=args.weights, task=args.task, seed=args.seed)
            options = {k: v for k, v in vars(args).items() if k not in _CORE}
            artifact = export(fmt, loaded, seq_len=args.seq_len, out=out, threads=args.threads,
                              options=options, force=args.force)["fp32"]
        log_artifact(artifact)

    return run_main(main, argv, parser=parser)


def log_artifact(artifact) -> None:
    worst = artifact.manifest["validation"]["max_abs_diff"]
    logging.getLogger("export").info(
        "wrote %s (%.1f MB); max abs diff vs eager: %s", artifact.path, artifact.path.stat().st_size / 1e6,
        ", ".join(f"{k} {v:.2g}" for k, v in worst.items()))
