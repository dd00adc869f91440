"""ExecuTorch .pte (XNNPACK): equivalence in the ExecuTorch runtime, the delegation report, bad files."""
from __future__ import annotations

import json

import numpy as np
import pytest

import models
from export._validate import eager_outputs
from export.runtimes import ArtifactError, load_artifact
from tests.conftest import vouch_for

ATOL = 1e-4


@pytest.fixture(scope="module")
def pte(exported):
    return lambda name, task: exported("executorch", name, task, 64)


@pytest.mark.parametrize("task", models.TASKS)
@pytest.mark.parametrize("name", ["squeezebert-tiny", "bert-tiny"])
def test_pte_matches_eager_at_several_sequence_lengths(pte, name, task):
    loaded, artifact = pte(name, task)
    assert artifact.path.name == f"{name}_{task}_xnnpack_fp32.pte"
    manifest = artifact.manifest
    assert [(s["batch"], s["seq_len"]) for s in manifest["validation"]["shapes"]] == [(1, 64), (1, 32)]
    assert manifest["inputs"][0]["shape"] == [1, "sequence"]
    runtime = load_artifact(artifact.dir)
    for seq_len in (64, 17, 100):  # dynamic sequence axis: lengths it was not exported with
        inputs = loaded.inputs(seq_len=seq_len, offset=1)
        got, want = runtime.run(inputs), eager_outputs(loaded, inputs)
        for output in loaded.output_names:
            np.testing.assert_allclose(got[output], want[output], atol=ATOL, rtol=0)


def test_thread_count_sizes_the_xnnpack_threadpool(pte):
    """Without it a '1 thread' benchmark of a .pte silently used every core."""
    from executorch.extension.pybindings.portable_lib import _threadpool_get_thread_count

    loaded, artifact = pte("squeezebert-tiny", "feature-extraction")
    for threads in (1, 2):
        runtime = load_artifact(artifact.dir, threads=threads)
        assert _threadpool_get_thread_count() == threads
        runtime.run(loaded.inputs(seq_len=64))


def test_delegation_report_says_what_xnnpack_took(pte):
    _, artifact = pte("squeezebert-tiny", "feature-extraction")
    report = json.loads((artifact.dir / "manifest.json").read_text())["executorch"]["delegation"]
    assert report["backend"] == "XnnpackBackend" and report["partitions"] >= 1
    # The mobile graph: 2 layers x 13 per-group linears (q+k+v fused, intermediate, output: 4 groups each;
    # post-attention: 1) and the pooler's dense, all on XNNPACK.
    assert report["delegated_ops"]["aten_linear_default"] == 2 * 13 + 1
    assert "aten_convolution_default" not in report["delegated_ops"]
    assert report["delegated_nodes"] > 0
    # The embeddings' lookups have no XNNPACK kernel: they must be reported, not hidden.
    assert report["portable_ops"]["aten_embedding_default"] == 3
    assert "aten_expand_copy_default" not in report["portable_ops"]  # matmul's no-op expands are dropped
    assert sum(report["delegated_ops"].values()) <= report["delegated_nodes"]


def test_bert_attention_runs_without_safe_softmax_checks(pte):
    """SDPA's decomposition adds per-layer masked-row checks on portable kernels (27 ms of 258 in bert-base);
    the eager attention form has none: one `where` builds the additive mask, once per forward pass."""
    loaded, artifact = pte("bert-tiny", "feature-extraction")
    portable = artifact.manifest["executorch"]["delegation"]["portable_ops"]
    assert "aten_any_dim" not in portable and "aten_eq_scalar" not in portable
    assert portable.get("aten_where_self", 0) <= 1
    assert "aten_expand_copy_default" not in portable  # matmul's no-op expands: dropped before lowering
    assert loaded.hf_model.config._attn_implementation == "sdpa"  # restored for the other formats


def test_corrupt_pte_is_one_line(pte, tmp_path):
    _, artifact = pte("bert-tiny", "feature-extraction")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text((artifact.dir / "manifest.json").read_text())
    (broken / artifact.path.name).write_bytes(artifact.path.read_bytes()[:1000])
    vouch_for(broken / artifact.path.name)  # past the sha256 check (tests/test_faults.py): the runtime must refuse it
    with pytest.raises(ArtifactError, match="corrupt or not this format") as err:
        load_artifact(broken)
    assert "\n" not in str(err.value)


def test_cli_exports_executorch(cli, tmp_path):
    done = cli("export.executorch", "--model", "bert-tiny", "--weights", "random", "--seq-len", "32",
               "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["validation"]["max_abs_diff"]["last_hidden_state"] <= ATOL
    assert "delegation" in manifest["executorch"]
