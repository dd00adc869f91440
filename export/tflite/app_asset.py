"""The TFLite app asset for MediaPipe Tasks: the output a client library reads, and TFLite Model Metadata.

With `--metadata mediapipe` (the default of `python -m export.tflite`) the file is what MediaPipe's
`TextClassifier` / `TextEmbedder` load as it is: a BertTokenizer process unit with the model's vocab.txt embedded,
ids / mask / segment ids mapped to our `serving_default` input tensors by name, and one float32 [1, N] output
(MediaPipe reports the output tensor as the answer): softmax `probabilities` with the labels attached for
classification, so scores, score threshold and top-k mean probabilities; a pooled `embedding` [1, hidden] for
feature extraction (MediaPipe makes one embedding per output tensor and would flatten [1, L, H]). The stock
LiteRT interpreter runs the same file through its signature. `--metadata none` writes the plain tensors.

The file's inputs are resizable ([1, -1]), so MediaPipe feeds it the text's tokens, unpadded, and truncates
nothing: a text over the asset's maximum (`--seq-len`) fails the call and leaves the task unusable
(tests/test_mediapipe.py measures both), hence the export's warning below the model's max_position_embeddings.

MediaPipe's BertTokenizer is not Hugging Face's: it lower-cases ASCII only, strips no accents or other combining
marks, keeps U+00A0 and control characters inside words, and takes one string, never a pair (it does split CJK
ideographs, as HF does). TOKENIZER_DIFFERENCES says on which kinds of text its ids
differ (tests/test_mediapipe.py reads MediaPipe's ids on every tokenizer case and holds this table to them).
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from models import CASES_FILE, TEXTS, OutputHead
from models.contract import SEQUENCE
from models.errors import UserError

from ._steps import run_step
from .ops import signature_tensors, subgraph_count

log = logging.getLogger("export")
METADATA_CHOICES = ("mediapipe", "none")
# Kinds of text (models/_text_cases.py) on which MediaPipe's tokenizer gives other ids than Hugging Face's.
TOKENIZER_DIFFERENCES = {
    "accents": "HF (uncased) strips accents (café -> cafe); MediaPipe keeps them, so the word splits differently",
    "non-ASCII capitals": "MediaPipe lower-cases ASCII only (É, Ä, П stay capitals and miss the uncased vocab)",
    "Greek": "HF strips the tonos accents Greek words carry; MediaPipe keeps them",
    "kana with voiced marks": "HF decomposes kana such as で, が, バ (NFD) and drops the voiced mark (て, か, ハ); "
                              "MediaPipe keeps them and finds no token ([UNK])",
    "Korean": "HF decomposes Hangul syllables (NFD) into the jamo the vocab holds; MediaPipe does not",
    "Devanagari": "HF strips the combining vowel signs and virama (category Mn); MediaPipe keeps them",
    "no-break space": "HF splits at U+00A0 like at a space; MediaPipe keeps it inside the word",
    "control characters": "HF drops control and format characters (U+200B, BEL); MediaPipe keeps them",
    "truncation": "HF truncates to the asset's maximum; MediaPipe truncates nothing for a resizable model: it feeds "
                  "every token, and a text over the maximum fails the call (see mediapipe.longer_text)",
}
WHAT_TO_DO = ("before calling MediaPipe, lower-case the text (String.lowercase()), decompose it (Normalizer NFD), "
              "drop combining marks (\\p{Mn}) and control/format characters and turn U+00A0 into a space (measured: "
              "MediaPipe then gives Hugging Face's ids on every case within the asset's maximum); keep texts within "
              "that maximum, or export with --seq-len set to the model's max_position_embeddings; test any "
              "tokenizer against tokenizer_cases.jsonl")
PAIRS = "MediaPipe's TextClassifier takes one string: pair tasks (MNLI premise + hypothesis) need the string-in ONNX"


def add_options(parser) -> None:
    parser.add_argument("--metadata", choices=METADATA_CHOICES, default="mediapipe",
                        help="mediapipe: TFLite Model Metadata so MediaPipe Tasks' TextClassifier / TextEmbedder load "
                             "the file as it is (BertTokenizer with vocab.txt embedded, labels), with one output: "
                             "softmax 'probabilities' (classification) or a pooled 'embedding' (feature extraction); "
                             "none: no metadata, the plain tensors (logits; last_hidden_state, pooler_output) for an "
                             "app with its own tokenizer")
    parser.add_argument("--pooling", choices=("mean", "cls", "pooler"), default=None,
                        help="feature extraction with --metadata mediapipe, how the embedding is made: mean (default: "
                             "the mean of the token vectors the attention mask keeps; what sentence-embedding models "
                             "such as all-MiniLM are trained for), cls (the [CLS] token's vector) or pooler (the "
                             "pooler's tanh layer, trained for next-sentence prediction; rarely a good similarity)")
    parser.add_argument("--normalize", action="store_true",
                        help="feature extraction with --metadata mediapipe: L2-normalise the embedding, so a dot "
                             "product is the cosine similarity (for a vector index; TextEmbedder's cosine_similarity "
                             "needs no normalisation)")


def prepare(loaded, options: dict):
    """The model as the asset implements it (with the MediaPipe head when metadata is asked for); the flags are
    checked here, before any work. The library default (no option) is the plain tensors, as the benchmarks use."""
    metadata, pooling, normalize = options.get("metadata", "none"), options.get("pooling"), options.get("normalize")
    if metadata not in METADATA_CHOICES:
        raise UserError(f"--metadata {metadata!r}: choose one of {', '.join(METADATA_CHOICES)}")
    shaping = " and ".join(flag for flag, given in (("--pooling", pooling), ("--normalize", normalize)) if given)
    if shaping and metadata == "none":
        raise UserError(f"{shaping} shape the MediaPipe embedding, which --metadata none does not make; drop "
                        f"{shaping} or use --metadata mediapipe")
    if shaping and loaded.task != "feature-extraction":
        raise UserError(f"{shaping} shape a feature-extraction embedding; a {loaded.task} asset outputs softmax "
                        f"probabilities: drop {shaping}")
    if metadata == "none":
        return loaded
    if loaded.task == "sequence-classification" and not loaded.labels:
        raise UserError(f"{loaded.name} has no labels (id2label) for MediaPipe's categories; fine-tune it with labels "
                        "or use --metadata none")
    return loaded.with_head(OutputHead(loaded.task, pooling or "mean", bool(normalize)))


def package(loaded, products, converted, *, precision: str, options: dict):
    """Attach MediaPipe's metadata to the artifact's .tflite (fp32 and int8 alike) when asked for."""
    if options.get("metadata", "none") == "none":
        return converted
    path = converted.files[0]
    if subgraph_count(path) != 1:
        raise UserError(f"{path.name} has {subgraph_count(path)} subgraphs; MediaPipe Tasks load one: use --metadata none")
    tensors = signature_tensors(path)
    output = loaded.head.output_name
    classifier = loaded.task == "sequence-classification"
    spec = {"model": str(path), "task": "classifier" if classifier else "embedder",
            "general": general_info(loaded, precision), "vocab": str(path.parent / "vocab.txt"),
            "labels": loaded.labels, "output": output, "output_description": _output_description(loaded),
            "tensors": {"ids": tensors["inputs"]["input_ids"], "mask": tensors["inputs"]["attention_mask"],
                        "segment": tensors["inputs"]["token_type_ids"]},
            "json_out": str(products.work / f"metadata-{precision}.json")}
    spec_path = products.work / f"metadata-{precision}-spec.json"
    spec_path.write_text(json.dumps(spec))
    run_step([sys.executable, "-m", "export.tflite.metadata", str(spec_path)], log_file=products.work / "metadata.log",
         what="writing MediaPipe metadata", keep=products.logs)
    written = json.loads(Path(spec["json_out"]).read_text())
    _, max_tokens = products.contract.dim_range(SEQUENCE)
    if precision == "fp32" and max_tokens < loaded.max_seq_len:
        log.warning("MediaPipe feeds a resizable asset every token of a text: one over %d tokens will fail the call "
                    "and leave the task unusable; --seq-len %d (max_position_embeddings) takes every text the model "
                    "can, at no cost for short ones", max_tokens, loaded.max_seq_len)
    section = {"task": "TextClassifier" if classifier else "TextEmbedder", "writer": "mediapipe metadata_writers",
               "min_parser_version": written.get("min_parser_version"), "general": spec["general"],
               "tokenizer": "BertTokenizer process unit, vocab.txt embedded",
               "input_tensors": spec["tensors"], "output": {"tensor": tensors["outputs"][output], **loaded.head.record()},
               **({"labels": "labels.txt embedded as TENSOR_AXIS_LABELS"} if classifier else {}),
               "tokenizer_vs_hugging_face": tokenizer_findings(),
               "real_length": "the inputs are resizable ([1, -1]): MediaPipe feeds the text's tokens, unpadded",
               "max_tokens": max_tokens, "longer_text": longer_text(max_tokens, loaded.max_seq_len),
               "turn_off": "--metadata none"}
    return _with_section(converted, "mediapipe", section)


def longer_text(max_tokens: int, model_max: int) -> str:
    """What MediaPipe does with a text over the asset's maximum (measured in tests/test_mediapipe.py)."""
    return (f"MediaPipe truncates nothing for a resizable model: a text over {max_tokens} tokens ([CLS] and [SEP] "
            "included) fails the call (RuntimeError in Python, an exception on Android) and the task stays broken: "
            f"create it again. Cut long texts before the call, or export with --seq-len {model_max} "
            "(max_position_embeddings), which costs short texts nothing")


def general_info(loaded, precision: str) -> dict:
    """Name, description, version, author and licence: from the checkpoint where it says them."""
    from .._versions import pipeline_revision

    w = loaded.weights
    source = {"random": f"RANDOM WEIGHTS (seed {w.get('seed')}): not a trained model",
              "hub": f"{w.get('id')} at revision {w.get('revision')}", "folder": f"the checkpoint folder {w.get('path')}"}
    card = _model_card(loaded)
    info = {"name": loaded.name,
            "description": f"{loaded.name} ({loaded.family}, {loaded.config.num_hidden_layers} layers), "
                           f"{loaded.task}, {precision}, from {source.get(w['source'], w['source'])}; exported by "
                           "squeezebert-mobile",
            "version": str(w.get("revision") or f"squeezebert-mobile {pipeline_revision()}")}
    for key in ("author", "license"):
        if card.get(key):
            info[key] = card[key]
    return info


def _model_card(loaded) -> dict:
    """`license` and `author` from the front matter of the checkpoint's README.md (its model card), if any."""
    folder = loaded.weights.get("path")
    card = Path(folder) / "README.md" if folder else None
    if card is None or not card.is_file():
        return {}
    lines = card.read_text(errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}
    found = {}
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() in ("license", "author") and value.strip():
            found[key.strip()] = value.strip().strip("'\"")
    return found


def _output_description(loaded) -> str:
    if loaded.task == "sequence-classification":
        return "Probability of each label (softmax of the logits), in the order of labels.txt."
    return f"Sentence embedding: {loaded.head.record()['what']}."


def tokenizer_findings() -> dict:
    """What the manifest says about MediaPipe's tokenizer, by kind of text (tested against MediaPipe's ids)."""
    kinds = list(dict.fromkeys(kind for kind, _ in TEXTS))
    return {"cases_file": CASES_FILE, "differs_on": TOKENIZER_DIFFERENCES,
            "same_ids_on": [k for k in kinds if k not in TOKENIZER_DIFFERENCES], "pairs": PAIRS,
            "what_to_do": WHAT_TO_DO}


def _with_section(converted, name: str, section: dict):
    from dataclasses import replace

    return replace(converted, sections={**converted.sections, name: section})
