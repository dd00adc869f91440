"""The string-in ONNX model (`python -m export.onnx --inputs text`): the tokenizer inside, so an app passes text.

onnxruntime-extensions' BertTokenizer op (from `gen_processing_models` on the model's Hugging Face tokenizer) in
front of the exported graph, joined with `onnx.compose.merge_models`. The input `text` is a string tensor of one
text, or of a text pair [text, text_pair] (MNLI's premise and hypothesis); the outputs are the model's.

Truncation is ours, in the graph: the op tokenizes each text on its own (untruncated), then Hugging Face's
`longest_first` rule cuts the pair to the export's --seq-len (`max_length`) and [CLS] / [SEP] and the segment
ids are put around it. The op's own pair truncation gives the odd token to the first text, not the longer one,
and its pair path treats an empty text as no text; so neither is used. The model never sees more tokens than
--seq-len, which is at most max_position_embeddings. Apps register the op library (`CUSTOM_OPS` says how).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from models import INPUT_NAMES, PAIRS, TEXTS
from models.errors import UserError

INPUT_CHOICES = ("ids", "text")
# Kinds of text (models/_text_cases.py) on which the BertTokenizer op gives other ids than Hugging Face's: its
# accent stripping covers precomposed Latin letters only, not a full NFD decomposition. Validation holds every
# export to this table (a kind not listed must give HF's ids, a listed kind must differ).
TOKENIZER_DIFFERENCES = {
    "Greek": "HF strips the tonos (έ -> ε); the op does not and finds no token ([UNK])",
    "kana with voiced marks": "HF drops the voiced mark (で -> て); the op does not ([UNK])",
    "Korean": "HF decomposes Hangul syllables into jamo (NFD); the op does not ([UNK])",
    "Devanagari": "HF strips the vowel signs and virama (category Mn); the op does not ([UNK])",
    "partly unknown words": "HF makes a word with a piece the vocab lacks one [UNK] (snow☃man); the op keeps the "
                            "pieces before it (snow [UNK])",
}
WHAT_TO_DO = ("before the session, decompose the text (java.text.Normalizer NFD) and drop combining marks (\\p{Mn}); "
              "measured: the op then gives Hugging Face's ids on every case but words with a piece the vocab lacks "
              "(partly unknown words, and Korean, whose jamo the vocab only partly has), which no app-side step fixes")
TEXT_INPUT = "text"
CUSTOM_OPS = {
    "domain": "ai.onnx.contrib", "ops": ["BertTokenizer"],
    "python": "so = onnxruntime.SessionOptions(); so.register_custom_ops_library(onnxruntime_extensions."
              "get_library_path())",
    "android": "Gradle: implementation(\"com.microsoft.onnxruntime:onnxruntime-extensions-android:<version>\") beside "
               "onnxruntime-android; Kotlin: OrtSession.SessionOptions().apply { registerCustomOpLibrary("
               "ai.onnxruntime.extensions.OrtxPackage.getLibraryPath()) } before env.createSession(...)",
}


def check_available() -> None:
    try:
        import onnxruntime_extensions  # noqa: F401
    except ImportError as exc:
        raise UserError("--inputs text needs onnxruntime-extensions; install it: pip install "
                        "onnxruntime-extensions==0.15.2") from exc


def tokenizer_attributes(tokenizer) -> dict:
    """The BertTokenizer op's attributes as onnxruntime-extensions derives them from the HF tokenizer, with the
    normalisation made explicit from the tokenizer's own normalizer (HF strips accents when it lower-cases and
    strip_accents is unset); no truncation in the op (ours is in the graph)."""
    import json

    from onnxruntime_extensions import gen_processing_models

    pre, _ = gen_processing_models(tokenizer, pre_kwargs={})
    (node,) = [n for n in pre.graph.node if n.op_type == "BertTokenizer"]
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    normalizer = json.loads(tokenizer.backend_tokenizer.to_str())["normalizer"] or {}
    if normalizer.get("type") != "BertNormalizer":
        raise UserError(f"the tokenizer's normalizer is {normalizer.get('type')!r}, not BERT's; --inputs text "
                        "supports WordPiece (BERT) tokenizers")
    lowercase = bool(normalizer.get("lowercase", True))
    strip = normalizer.get("strip_accents")
    attrs.update(do_lower_case=int(lowercase), strip_accents=int(lowercase if strip is None else strip),
                 tokenize_chinese_chars=int(bool(normalizer.get("handle_chinese_chars", True))))
    attrs.pop("max_length", None)
    return attrs


def tokenizer_graph(tokenizer, *, max_length: int, opsets: dict[str, int], ir_version: int):
    """text [1] or [2] (string) -> input_ids, attention_mask, token_type_ids [1, n] (int64), n <= max_length."""
    from onnx import TensorProto, helper, numpy_helper

    attrs = tokenizer_attributes(tokenizer)
    cls, sep = int(tokenizer.cls_token_id), int(tokenizer.sep_token_id)
    consts = {"c0": 0, "c1": 1, "c2": 2, "len": max_length, "cls": [cls], "sep": [sep], "start0": [0], "end1": [1],
              "start1": [1], "end2": [2], "axis0": [0], "big": [2 ** 62], "empty": np.array([""], dtype=object)}
    init = [numpy_helper.from_array(np.array(v, dtype=object if k == "empty" else np.int64), f"tok/{k}")
            for k, v in consts.items()]
    nodes = [*_text_nodes(attrs), *_truncation_nodes(), *_assembly_nodes()]
    graph = helper.make_graph(
        nodes, "bert_tokenizer", [helper.make_tensor_value_info(TEXT_INPUT, TensorProto.STRING, ["texts"])],
        [helper.make_tensor_value_info(name, TensorProto.INT64, [1, "sequence"]) for name in INPUT_NAMES], init)
    imports = [helper.make_opsetid(domain, version) for domain, version in opsets.items()]
    if "ai.onnx.contrib" not in opsets:
        imports.append(helper.make_opsetid("ai.onnx.contrib", 1))
    return helper.make_model(graph, opset_imports=imports, ir_version=ir_version), attrs


def _text_nodes(attrs: dict) -> list:
    """The two texts (the second "" for one), whether they are a pair, and each tokenized with [CLS] ... [SEP]."""
    from onnx import helper

    n, t = helper.make_node, "tok/"
    return [
        # text[0], and text[1] or "" (a one-element input has no second text)
        n("Slice", [TEXT_INPUT, t + "start0", t + "end1"], [t + "text_a"]),
        n("Concat", [TEXT_INPUT, t + "empty"], [t + "text_padded"], axis=0),
        n("Slice", [t + "text_padded", t + "start1", t + "end2"], [t + "text_b"]),
        # 1 for a pair, 0 for one text; an empty second text is no pair, as in Hugging Face's tokenizer
        n("Size", [TEXT_INPUT], [t + "count"]), n("Sub", [t + "count", t + "c1"], [t + "two"]),
        n("StringLength", [t + "text_b"], [t + "chars_b"], domain="ai.onnx.contrib"),
        n("Squeeze", [t + "chars_b", t + "axis0"], [t + "chars_b0"]),
        n("Min", [t + "chars_b0", t + "c1"], [t + "b_given"]),
        n("Mul", [t + "two", t + "b_given"], [t + "pair"]),
        n("BertTokenizer", [t + "text_a"], [t + "ids_a", t + "types_a", t + "mask_a", t + "offsets_a"], domain="ai.onnx.contrib",
          name="BertTokenizer_a", **attrs),
        n("BertTokenizer", [t + "text_b"], [t + "ids_b", t + "types_b", t + "mask_b", t + "offsets_b"], domain="ai.onnx.contrib",
          name="BertTokenizer_b", **attrs),
    ]


def _truncation_nodes() -> list:
    """How many tokens of each text fit: Hugging Face's longest_first truncation, in graph ops."""
    from onnx import helper

    n, t = helper.make_node, "tok/"
    return [
        # tokens of each text without its [CLS] / [SEP]; the second counts only in a pair
        n("Size", [t + "ids_a"], [t + "size_a"]), n("Sub", [t + "size_a", t + "c2"], [t + "na"]),
        n("Size", [t + "ids_b"], [t + "size_b"]), n("Sub", [t + "size_b", t + "c2"], [t + "nb_all"]),
        n("Mul", [t + "nb_all", t + "pair"], [t + "nb"]),
        # budget m = max_length - special tokens (2, or 3 for a pair)
        n("Sub", [t + "len", t + "c2"], [t + "len_2"]), n("Sub", [t + "len_2", t + "pair"], [t + "m"]),
        # Hugging Face (tokenizers) longest_first: s, l = shorter, longer; l' = s if s > m else max(s, m - s);
        # if s + l' > m: s' = m // 2, l' = s' + m % 2 (the odd token to the longer)
        n("Min", [t + "na", t + "nb"], [t + "s"]), n("Max", [t + "na", t + "nb"], [t + "l"]),
        n("Sub", [t + "m", t + "s"], [t + "m_minus_s"]), n("Max", [t + "s", t + "m_minus_s"], [t + "l_fit"]),
        n("Greater", [t + "s", t + "m"], [t + "s_over"]), n("Where", [t + "s_over", t + "s", t + "l_fit"], [t + "l1"]),
        n("Add", [t + "s", t + "l1"], [t + "sum1"]), n("Greater", [t + "sum1", t + "m"], [t + "halve"]),
        n("Div", [t + "m", t + "c2"], [t + "half"]), n("Mod", [t + "m", t + "c2"], [t + "odd"]),
        n("Add", [t + "half", t + "odd"], [t + "half_up"]),
        n("Where", [t + "halve", t + "half", t + "s"], [t + "s2"]),
        n("Where", [t + "halve", t + "half_up", t + "l1"], [t + "l2"]),
        n("Greater", [t + "na", t + "nb"], [t + "a_longer"]),
        n("Where", [t + "a_longer", t + "l2", t + "s2"], [t + "ta_cut"]),
        n("Where", [t + "a_longer", t + "s2", t + "l2"], [t + "tb_cut"]),
        n("Add", [t + "na", t + "nb"], [t + "total"]), n("Greater", [t + "total", t + "m"], [t + "over"]),
        n("Where", [t + "over", t + "ta_cut", t + "na"], [t + "ta"]),
        n("Where", [t + "over", t + "tb_cut", t + "nb"], [t + "tb"]),
    ]


def _assembly_nodes() -> list:
    """The model's three inputs: the kept tokens between [CLS]/[SEP], segment ids and the all-ones mask."""
    from onnx import TensorProto, helper, numpy_helper

    n, t = helper.make_node, "tok/"
    return [
        # [CLS] a[:ta] [SEP] (b[:tb] [SEP] for a pair)
        n("Add", [t + "ta", t + "c1"], [t + "end_a"]), n("Unsqueeze", [t + "end_a", t + "axis0"], [t + "end_a1"]),
        n("Slice", [t + "ids_a", t + "start1", t + "end_a1"], [t + "body_a"]),
        n("Add", [t + "tb", t + "c1"], [t + "end_b"]), n("Unsqueeze", [t + "end_b", t + "axis0"], [t + "end_b1"]),
        n("Slice", [t + "ids_b", t + "start1", t + "end_b1"], [t + "body_b"]),
        n("Unsqueeze", [t + "pair", t + "axis0"], [t + "pair1"]),
        n("Slice", [t + "sep", t + "start0", t + "pair1"], [t + "sep_b"]),
        n("Concat", [t + "cls", t + "body_a", t + "sep", t + "body_b", t + "sep_b"], [t + "ids"], axis=0),
        # segment ids: 0 up to the first [SEP], 1 after it; every token attended
        n("Size", [t + "ids"], [t + "n"]), n("Range", [t + "c0", t + "n", t + "c1"], [t + "positions"]),
        n("Greater", [t + "positions", t + "end_a"], [t + "second"]),
        n("Cast", [t + "second"], [t + "types"], to=TensorProto.INT64),
        n("Shape", [t + "ids"], [t + "shape"]),
        n("ConstantOfShape", [t + "shape"], [t + "mask"], value=numpy_helper.from_array(np.array([1], np.int64))),
        n("Unsqueeze", [t + "ids", t + "axis0"], ["input_ids"]),
        n("Unsqueeze", [t + "mask", t + "axis0"], ["attention_mask"]),
        n("Unsqueeze", [t + "types", t + "axis0"], ["token_type_ids"]),
    ]


def with_tokenizer(model_path: Path, out: Path, tokenizer, *, max_length: int) -> dict:
    """`out`: the ONNX file at `model_path` with the tokenizer graph in front. Returns the op's attributes
    (vocabulary left out)."""
    import onnx
    from onnx import compose

    model = onnx.load(str(model_path))
    opsets = {o.domain or "": o.version for o in model.opset_import}
    tok, attrs = tokenizer_graph(tokenizer, max_length=max_length, opsets=opsets, ir_version=model.ir_version)
    merged = compose.merge_models(tok, model, io_map=[(n, n) for n in INPUT_NAMES])
    onnx.save(merged, str(out))
    return {k: v for k, v in attrs.items() if k != "vocab_file"}


def tokenizer_only(tokenizer, *, max_length: int):
    """The tokenizer graph alone (text -> ids), to check its ids against Hugging Face's."""
    import onnx

    model, _ = tokenizer_graph(tokenizer, max_length=max_length, opsets={"": 17}, ir_version=onnx.IR_VERSION)
    return model


def session(model, *, threads: int | None = None):
    """An ONNX Runtime session with onnxruntime-extensions' ops registered. `model`: a path or a ModelProto."""
    import onnxruntime as ort
    from onnxruntime_extensions import get_library_path

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.register_custom_ops_library(get_library_path())
    if threads:
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    source = model if isinstance(model, (str, Path)) else model.SerializeToString()
    return ort.InferenceSession(str(source) if isinstance(source, Path) else source, opts,
                                providers=["CPUExecutionProvider"])


def validation_cases() -> list[tuple[str, tuple[str, ...]]]:
    """(kind, texts) of every tokenizer case (models/_text_cases.py): 28 texts and 16 pairs, over-long ones
    included."""
    return [(kind, tuple(texts)) for kind, *texts in (*TEXTS, *PAIRS)]


def compare_text(loaded, file: Path, *, tolerance, threads=None, max_length: int):
    """The string-in file in ORT + extensions against eager on the HF tokenizer's ids, every validation case:
    first the ids the graph's tokenizer makes (HF's, except on the kinds TOKENIZER_DIFFERENCES lists, where they
    must differ), then the outputs (within `tolerance`) wherever the ids agree."""
    from ._validate import Deviation, ValidationError, eager_outputs

    tokens = session(tokenizer_only(loaded.tokenizer, max_length=max_length))
    model = session(file, threads=threads)
    names = [o.name for o in model.get_outputs()]
    results, report, failures = [], [], []
    for kind, texts in validation_cases():
        feed = {TEXT_INPUT: np.array(texts, dtype=object)}
        enc = loaded.tokenizer(*texts, truncation="longest_first", max_length=max_length, return_tensors="np",
                               return_token_type_ids=True, return_attention_mask=True)
        want_ids = {k: np.asarray(enc[k], dtype=np.int64) for k in INPUT_NAMES}
        got_ids = dict(zip(INPUT_NAMES, tokens.run(list(INPUT_NAMES), feed)))
        tag = f"{kind}: " + " + ".join(repr(t[:24] + ("..." if len(t) > 24 else "")) for t in texts)
        same = all(got_ids[k].shape == want_ids[k].shape and (got_ids[k] == want_ids[k]).all() for k in INPUT_NAMES)
        entry = {"kind": kind, "texts": len(texts), "tokens": int(want_ids["input_ids"].shape[1]),
                 "same_ids_as_hf": bool(same), "outputs": {}}
        results.append(entry)
        if same == (kind in TOKENIZER_DIFFERENCES):
            failures.append(tag)
            report.append(f"-[x] {tag}: the op's ids {'equal' if same else 'differ from'} Hugging Face's, "
                          "against export/onnx_text.py's TOKENIZER_DIFFERENCES")
            continue
        if not same:
            report.append(f"-[✓] {tag}: other ids than Hugging Face's, as TOKENIZER_DIFFERENCES says")
            continue
        want = eager_outputs(loaded, want_ids)
        got = dict(zip(names, model.run(names, feed)))
        for name, ref in want.items():
            dev = Deviation.between(got[name], ref) if got[name].shape == ref.shape else None
            ok = dev is not None and tolerance.passes(dev)
            if dev is not None:
                entry["outputs"][name] = {**dev.__dict__, "within_tolerance": ok}
            report.append(f"-[{'✓' if ok else 'x'}] {name} {tag} ({entry['tokens']} tokens): "
                          + (f"max abs diff {dev.max_abs_diff:.3g}, cosine {dev.mean_cosine:.6f}" if dev else
                             f"shape {got[name].shape} != eager {ref.shape}"))
            if not ok:
                failures.append(f"{name} {tag}")
    if failures:
        raise ValidationError(f"string-in ONNX differs from HF tokenizer + eager on {', '.join(failures[:5])}"
                              + (f" and {len(failures) - 5} more" if len(failures) > 5 else ""), report)
    return "onnxruntime + onnxruntime-extensions", results, report


def text_inputs(max_length: int) -> list[dict]:
    return [{"name": TEXT_INPUT, "dtype": "string", "shape": ["texts"],
             "values": "one text, or a text pair [text, text_pair] (e.g. premise, hypothesis)",
             "max_tokens": max_length}]
