"""`hearth info --json` against what the reference `gguf` Python package reads from the same
files (goldens from scripts/make-golden-info.py)."""
import glob
import json
import os

import pytest

from conftest import ROOT, fetch_model, run

GOLDEN = os.path.join(ROOT, "tests", "golden", "info")
KEYS = ["architecture", "n_params", "n_layer", "n_embd", "n_head", "n_head_kv", "n_ctx_train", "n_vocab",
        "tokenizer", "chat_template", "n_tensors", "n_kv", "tensor_types", "file_size"]


def model_path(name):
    if name in ("smollm2-135m", "gemma3-270m"):
        return fetch_model(name)
    return os.path.join(ROOT, "..", "shared", "testdata", "vocab", name + ".gguf")


CASES = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(GOLDEN, "*.json")))


@pytest.mark.parametrize("name", CASES)
def test_info_json_matches_reference(hearth, name):
    path = model_path(name)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present")
    want = json.load(open(os.path.join(GOLDEN, name + ".json")))
    p = run([hearth, "info", "--json", path])
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    for k in KEYS:
        assert got[k] == want[k], f"{name}: {k}: hearth {got[k]!r} vs gguf {want[k]!r}"


def test_goldens_cover_both_real_models():
    assert {"smollm2-135m", "gemma3-270m"} <= set(CASES)


def test_info_human_and_lists(hearth, smollm2):
    p = run([hearth, "info", smollm2, "--tensors", "--meta"])
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "architecture           llama" in out
    assert "token_embd.weight" in out and "Q8_0" in out
    assert "tokenizer.ggml.model" in out
    p = run([hearth, "info", "--json", "--tensors", "--meta", smollm2])
    j = json.loads(p.stdout)
    assert len(j["tensors"]) == j["n_tensors"] == 272
    assert j["metadata"]["general.architecture"] == "llama"
    assert sum(t["bytes"] for t in j["tensors"]) == sum(j["tensor_type_bytes"].values())


def test_info_errors(hearth, tmp_path):
    p = run([hearth, "info", str(tmp_path / "missing.gguf")])
    assert p.returncode == 1 and b"No such file" in p.stderr
    p = run([hearth, "info", str(tmp_path)])
    assert p.returncode == 1 and b"not a regular file" in p.stderr
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    p = run([hearth, "info", str(empty)])
    assert p.returncode == 1 and b"too small" in p.stderr
    p = run([hearth, "info"])
    assert p.returncode == 2
    p = run([hearth, "info", "--bogus", str(empty)])
    assert p.returncode == 2
