"""`python -m export.tflite`: the TFLite asset folder an Android app ships (see export/tflite/convert.py)."""
import sys

from .._cli import format_main


def main(argv=None) -> int:
    return format_main("tflite", argv)


if __name__ == "__main__":
    sys.exit(main())
