"""Every benchmark command takes the shared flags (android_bench.harness.flags.SHARED) with one meaning: the same
type, the same default and the same help text as `add_shared` gives them, shown by the commands' own --help."""
import argparse
import subprocess
import sys

import pytest

from android_bench.harness import flags


def _count_parser():
    from android_bench.arm64.__main__ import parser

    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices["count"]


def _parser(module: str):
    import importlib

    return importlib.import_module(module).parser()


COMMANDS = {  # command -> its parser
    "android_bench": lambda: _parser("android_bench.harness.cli"),
    "android_bench.studies.efficiency": lambda: _parser("android_bench.studies.efficiency"),
    "android_bench.studies.precision": lambda: _parser("android_bench.studies.precision"),
    "android_bench.studies.op_profile": lambda: _parser("android_bench.studies.op_profile"),
    "android_bench.studies.flops": lambda: _parser("android_bench.studies.flops"),
    "android_bench.arm64 count": _count_parser,
}


def _shared_actions(p: argparse.ArgumentParser) -> dict:
    return {a.dest: a for a in p._actions if a.dest in flags.SHARED}


def _reference(action: argparse.Action) -> argparse.Action:
    """The action `add_shared` makes for this flag, with the command's own choices of formats and precisions."""
    p = argparse.ArgumentParser()
    choices = {}
    if action.dest in ("formats", "precisions"):  # a command may take fewer; the default is the shared one within
        choices[action.dest] = [x for x in action.help.split("(", 1)[1].split(")", 1)[0].split(", ")]
    flags.add_shared(p, out="build/x", **choices)
    return _shared_actions(p)[action.dest]


@pytest.mark.parametrize("command", COMMANDS)
def test_shared_flags_have_one_meaning_and_default(command):
    p = COMMANDS[command]()
    actions = _shared_actions(p)
    # every command takes the flags that select and time what it runs
    assert {"models", "seq_len", "out", "verbose"} <= set(actions), command
    defaults = vars(p.parse_args([]))
    for dest, action in actions.items():
        ref = _reference(action)
        assert action.option_strings == ref.option_strings, (command, dest)
        if dest == "out":  # each command's own folder, with the one meaning
            assert str(action.default).startswith("build/") and action.help == ref.help, command
            continue
        if dest == "verbose":
            continue  # arm64's subcommands word it for their three commands; a flag, no default to agree on
        assert action.help == ref.help, (command, dest)
        assert action.default == ref.default, (command, dest)
        assert defaults[dest] == vars(argparse.ArgumentParser.parse_args(_holder(ref), []))[dest], (command, dest)


def _holder(action: argparse.Action) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    p._add_action(action)
    return p


def test_lists_are_lists_everywhere():
    """--threads and --seq-len take comma-separated lists in every command that has them."""
    for command, make in COMMANDS.items():
        args = make().parse_args(["--seq-len", "16,32"] + (["--threads", "1,2"]
                                                           if "threads" in _shared_actions(make()) else []))
        assert args.seq_len == [16, 32], command
        if "threads" in vars(args):
            assert args.threads == [1, 2], command


def test_help_shows_the_shared_defaults():
    """What a user reads: each command's --help prints the shared defaults."""
    for command in COMMANDS:
        argv = [sys.executable, "-m", *command.split(), "--help"]
        text = " ".join(subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True).stdout.split())
        assert "(default: squeezebert-mnli-headless,bert-base-uncased)" in text, command
        assert "(default: 128)" in text, command
        if "--weights" in text:
            assert "or 'random' (seeded; recorded) (default: hub)" in text, command
