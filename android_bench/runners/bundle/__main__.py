"""python -m android_bench.runners.bundle --abi {arm64-v8a,x86_64} --out DIR [--torch] [-v]: see the package."""
from __future__ import annotations

import argparse


def parser() -> argparse.ArgumentParser:
    from export import ArgumentParser

    from android_bench.runners.bundle import ABIS, __doc__ as doc

    p = ArgumentParser(prog="python -m android_bench.runners.bundle", description=doc.split("\n\n")[0])
    p.add_argument("--abi", required=True, choices=ABIS, help="Android ABI of the device")
    p.add_argument("--out", required=True, help="output folder: the parts go to OUT/<abi>/")
    p.add_argument("--torch", action="store_true", help="also the torch part (TorchScript runs)")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks instead of one-line errors")
    return p


def main(argv=None) -> int:
    from export import run_main

    def go(args):
        from android_bench.runners.bundle import build

        made = build(args.abi, args.out, torch=args.torch)
        for part in made.parts.values():
            print(f"{made.abi}/{part.name}: {part.bytes} bytes, {part.files} files, tar {part.tar} "
                  f"({part.tar.stat().st_size} bytes), sha256 {part.sha256}")

    return run_main(go, argv, parser=parser())


if __name__ == "__main__":
    raise SystemExit(main())
