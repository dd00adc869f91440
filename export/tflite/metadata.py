"""TFLite Model Metadata for MediaPipe Tasks, written by mediapipe's own metadata writers. Run as a subprocess:

    python -m export.tflite.metadata SPEC.json

SPEC names the .tflite (rewritten in place), the task ("classifier": TextClassifier, "embedder": TextEmbedder),
the general info, vocab.txt, the labels and the tensor names of ids / mask / segment ids. What it writes: a
BertTokenizer input process unit with vocab.txt embedded, the three input tensors mapped by name, and either a
classification output with the labels as TENSOR_AXIS_LABELS or a feature (embedding) output. The metadata JSON
that mediapipe's displayer reads back goes to SPEC's `json_out`.

A subprocess because mediapipe's metadata module imports TensorFlow when it is installed (torch and TensorFlow
are kept in separate processes here).
"""
from __future__ import annotations

import json
import os
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _provide_metadata_version_module() -> None:
    """mediapipe's PyPI wheels (1.2.2 here) lack the compiled `mediapipe.tasks.cc.metadata.python.
    _pywrap_metadata_version`, which `metadata.py` imports for one function: the minimum metadata parser version
    a metadata buffer needs. Where it is missing, this installs that function, ported from
    mediapipe/tasks/cc/metadata/metadata_version.cc (same fields, same versions); the real module wins when present."""
    try:
        from mediapipe.tasks.cc.metadata.python import _pywrap_metadata_version  # noqa: F401
        return
    except ImportError:
        pass
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    def minimum_parser_version(buffer: bytes) -> str:
        found = [(1, 0, 0)]
        metadata = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(bytearray(buffer), 0))

        def files(items):
            for f in items or []:
                found.extend([(1, 0, 1)] * (f.type == fb.AssociatedFileType.VOCABULARY)
                             + [(1, 4, 0)] * (f.type == fb.AssociatedFileType.SCANN_INDEX_FILE)
                             + [(1, 4, 1)] * (f.version is not None))

        def units(items):
            tokenizers = {fb.ProcessUnitOptions.BertTokenizerOptions: (1, 1, 0),
                          fb.ProcessUnitOptions.SentencePieceTokenizerOptions: (1, 1, 0),
                          fb.ProcessUnitOptions.RegexTokenizerOptions: (1, 2, 1)}
            found.extend(tokenizers[u.optionsType] for u in items or [] if u.optionsType in tokenizers)

        for graph in metadata.subgraphMetadata or []:
            for tensor in (graph.inputTensorMetadata or []) + (graph.outputTensorMetadata or []):
                files(tensor.associatedFiles)
                units(tensor.processUnits)
                if tensor.content is not None and \
                        tensor.content.contentPropertiesType == fb.ContentProperties.AudioProperties:
                    found.append((1, 3, 0))
            files(graph.associatedFiles)
            for present, version in ((graph.inputProcessUnits, (1, 1, 0)), (graph.outputProcessUnits, (1, 1, 0)),
                                     (graph.inputTensorGroups, (1, 2, 0)), (graph.outputTensorGroups, (1, 2, 0)),
                                     (graph.customMetadata, (1, 5, 0))):
                if present is not None:
                    found.append(version)
            units(graph.inputProcessUnits)
            units(graph.outputProcessUnits)
        files(metadata.associatedFiles)
        return ".".join(map(str, max(found)))

    names = ["mediapipe.tasks.cc", "mediapipe.tasks.cc.metadata", "mediapipe.tasks.cc.metadata.python",
             "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"]
    modules = [sys.modules.setdefault(n, types.ModuleType(n)) for n in names]
    modules[-1].GetMinimumMetadataParserVersion = minimum_parser_version
    for parent, child, name in zip(modules, modules[1:], names[1:]):
        setattr(parent, name.rsplit(".", 1)[1], child)


def write(spec: dict) -> None:
    _provide_metadata_version_module()
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_info, metadata_writer

    path = spec["model"]
    with open(path, "rb") as f:
        writer = metadata_writer.MetadataWriter.create(bytearray(f.read()))
    info = spec["general"]
    # add_general_info takes only name and description; GeneralMd also carries version, author and licence.
    writer._general_md = metadata_info.GeneralMd(name=info["name"], version=info.get("version"),
                                                description=info.get("description"), author=info.get("author"),
                                                licenses=info.get("license"))
    names = spec["tensors"]
    writer.add_bert_text_input(metadata_writer.BertTokenizer(spec["vocab"]), ids_name=names["ids"],
                               mask_name=names["mask"], segment_name=names["segment"])
    if spec["task"] == "classifier":
        writer.add_classification_output(metadata_writer.Labels().add(spec["labels"]), name=spec["output"],
                                         description=spec["output_description"])
    else:
        writer.add_feature_output(name=spec["output"], description=spec["output_description"])
    model, metadata_json = writer.populate()
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(model)
    os.replace(tmp, path)
    with open(spec["json_out"], "w") as f:
        f.write(metadata_json)


if __name__ == "__main__":
    with open(sys.argv[1]) as spec_file:
        write(json.load(spec_file))
