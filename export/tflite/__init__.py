"""TFLite app assets: PyTorch -> ONNX -> onnx2tf -> .tflite, runnable by the stock LiteRT interpreter.

`convert` registers the format (torch); `signature` and `onnx2tf_savedmodel` run as subprocesses (TensorFlow,
no torch: this package's import loads neither); `ops` reads a .tflite's flatbuffer. `python -m export.tflite`
is the app-asset command.
"""
