"""TFLite `benchmark_model` (LiteRT's native benchmark binary)."""
from __future__ import annotations

from android_bench.runners.parsers import Timing, parse_tflite_benchmark_model
from android_bench.runners import Pushed, Runner, Settings, input_value_ranges


class TfliteBenchmarkModelRunner(Runner):
    name = "tflite-benchmark_model"
    tool = "benchmark_model"
    formats = ("tflite",)
    where_to_get = ("prebuilt nightly android_aarch64_benchmark_model, or bazel build "
                    "//tensorflow/lite/tools/benchmark:benchmark_model; https://ai.google.dev/edge/litert/models/measurement")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        # A resizable file ([1, -1]) stores the shape [1, 1]: without --input_layer_shape benchmark_model runs it at
        # one token. --input_layer and --input_layer_shape name every input in the interpreter's order (the README
        # of tensorflow/lite/tools/benchmark: names are matched by position, shapes colon-separated); our converter
        # sorts the inputs by name, as the manifest's tflite.signature.inputs lists them.
        ranges = input_value_ranges(pushed.manifest, settings)
        order = pushed.manifest.get("tflite", {}).get("signature", {}).get("inputs") or list(ranges)
        value_range = ":".join(f"{name},{lo},{hi}" for name, (lo, hi) in ranges.items())
        length = settings.length(pushed.manifest)
        return [f"./tools/{self.tool}", f"--graph={pushed.model}", f"--num_threads={settings.threads}",
                f"--warmup_runs={settings.warmup}", f"--num_runs={settings.runs}", "--min_secs=0",
                "--use_xnnpack=true", f"--input_layer={','.join(order)}",
                f"--input_layer_shape={':'.join(f'1,{length}' for _ in order)}",
                f"--input_layer_value_range={value_range}"]

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        return parse_tflite_benchmark_model(output)
