"""`python -m android_bench`: the device harness (android_bench.harness.cli)."""
import sys

from export import run_main

from android_bench.harness.cli import main, parser

if __name__ == "__main__":
    sys.exit(run_main(main, parser=parser()))
