"""The inference engine against llama.cpp's goldens (scripts/make-golden-inference.py):
greedy continuations, next-token distributions (top-1 and KL), perplexity, tiny synthetic
models of every architecture x weight type, errors, sampling determinism and peak RSS."""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from conftest import HEARTH, ROOT, run

GOLD = os.path.join(ROOT, "tests", "golden", "inference")
MODELS = {"smollm2": "smollm2-135m", "gemma3": "gemma3-270m"}
# end-of-generation ids: hearth stops there, the golden (which never stops) goes on
EOG = {"smollm2": {0, 2}, "gemma3": {1, 106}}
THREADS = "2"


def model_path(tag, request):
    return request.getfixturevalue({"smollm2": "smollm2", "gemma3": "gemma3"}[tag])


def load_tiny_module():
    spec = importlib.util.spec_from_file_location("tiny_models", os.path.join(ROOT, "scripts", "make-tiny-models.py"))
    tm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tm)
    return tm


def log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def hearth_logits(hearth, model, ids, n_vocab=None):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.bin")
        p = run([hearth, "run", "-m", model, "--tokens", "-p", ",".join(map(str, ids)), "--logits", out, "-t", THREADS])
        assert p.returncode == 0, p.stderr.decode()
        return np.fromfile(out, np.float32).reshape(len(ids), -1)


# ---- real models -------------------------------------------------------------------------

# Hearth computes what llama.cpp computes, in its float order (flash attention off, the
# reference's AVX2 CPU paths: its repacked Q4_K GEMM/GEMV, its tiled K-quant matmul from 8
# tokens, its attention and softmax), so the logits are bit-identical and the checks are the
# issue's: every greedy continuation identical, top-1 equal at every position, mean KL <= 1e-3.
# (The reference is not bit-reproducible against itself: fed one token at a time instead of
# as one batch it moves by a mean KL of 3e-3 / 5e-3, recorded in the goldens as self_kl.)


@pytest.mark.parametrize("tag", ["smollm2", "gemma3"])
def test_greedy_matches_reference(hearth, tag, request):
    model = model_path(tag, request)
    gold = json.load(open(os.path.join(GOLD, f"{tag}.greedy.json")))
    assert len(gold["cases"]) >= 10
    identical = 0
    for case in gold["cases"]:
        p = run([hearth, "run", "-m", model, "--tokens", "-p", ",".join(map(str, case["prompt_ids"])), "-n",
                 str(gold["n_predict"]), "--temp", "0", "-t", THREADS])
        assert p.returncode == 0, p.stderr.decode()
        got = [int(x) for x in p.stdout.split()]
        want = case["greedy_ids"]
        # hearth stops at an end-of-generation token; the golden (which never stops) goes on
        if got and got[-1] in EOG[tag] and len(got) < len(want):
            want = want[:len(got)]
        assert got == want, f"prompt {case['prompt']!r}: {got} != {want}"
        identical += 1
    print(f"{tag}: {identical}/{len(gold['cases'])} continuations identical for all {gold['n_predict']} tokens")


def kl_from_topk(gold, h_logprobs):
    """Mean KL(ref || hearth) with the reference given as its top-K log-probs plus the rest mass."""
    ids, lp_ref, rest = gold["top_ids"], gold["top_logprobs"].astype(np.float64), gold["rest_prob"]
    lp_h = np.take_along_axis(h_logprobs, ids.astype(np.int64), axis=1)
    p_ref = np.exp(lp_ref)
    kl = (p_ref * (lp_ref - lp_h)).sum(1)
    rest_h = np.clip(1.0 - np.exp(lp_h).sum(1), 1e-30, None)
    tail = np.where(rest > 0, rest * (np.log(np.clip(rest, 1e-30, None)) - np.log(rest_h)), 0.0)
    return float((kl + tail).mean())


@pytest.mark.parametrize("tag", ["smollm2", "gemma3"])
def test_logits_match_reference(hearth, tag, request):
    model = model_path(tag, request)
    gold = np.load(os.path.join(GOLD, f"{tag}.logits.npz"))
    ids = gold["tokens"].tolist()
    assert len(ids) == 128
    lp = log_softmax(hearth_logits(hearth, model, ids))
    top1 = lp.argmax(1)
    mism = np.nonzero(top1 != gold["top_ids"][:, 0])[0]
    kl = kl_from_topk(gold, lp)
    print(f"{tag}: mean KL {kl:.3e} (reference vs itself {float(gold['self_kl']):.3e}), top-1 differs at "
          f"{len(mism)} positions (reference vs itself {int(gold['self_top1'])})")
    assert len(mism) == 0, f"top-1 differs at positions {mism.tolist()}"
    assert kl <= 1e-3, kl


# Perplexity goldens take long to make (scripts/make-golden-inference.py --ppl-only); a model
# whose golden has not been generated yet is not listed.
PPL_TAGS = [t for t in ("smollm2", "gemma3") if os.path.exists(os.path.join(GOLD, f"{t}.ppl.json"))]

@pytest.mark.parametrize("tag", PPL_TAGS)
def test_perplexity_matches_reference(hearth, tag, request):
    model = model_path(tag, request)
    gold = json.load(open(os.path.join(GOLD, f"{tag}.ppl.json")))
    p = run([hearth, "perplexity", "-m", model, "-f", os.path.join(GOLD, "ppl-text.txt"), "-c", str(gold["n_ctx"]),
             "--chunks", str(gold["chunks"]), "-t", THREADS], timeout=3000)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    last = p.stdout.decode().strip().splitlines()[-1]
    m = re.fullmatch(r"PPL = ([0-9.]+) \+/- ([0-9.]+)", last)
    assert m, last
    ppl = float(m.group(1))
    print(f"{tag}: hearth PPL {ppl:.4f}, llama.cpp {gold['ppl']:.4f}")
    assert gold["chunks"] * gold["n_ctx"] >= 20000
    assert abs(ppl - gold["ppl"]) / gold["ppl"] <= 0.005


# ---- tiny synthetic models: every architecture x weight type ------------------------------

TINY_GOLD = json.load(open(os.path.join(GOLD, "tiny.json")))


@pytest.fixture(scope="session")
def tiny_models():
    tm = load_tiny_module()
    paths = tm.make_all(tm.default_dir())
    return tm, paths


@pytest.mark.parametrize("name", sorted(TINY_GOLD))
def test_tiny_model_logits(hearth, tiny_models, name):
    tm, paths = tiny_models
    path = paths[name]
    if tm.sha256(path) != TINY_GOLD[name]:  # a stale or differently generated file: regenerate once
        tm.write_model(path, *name.split("-", 1))
    assert tm.sha256(path) == TINY_GOLD[name], "generator output differs from the one the goldens were made on"
    gold = np.load(os.path.join(GOLD, "tiny.npz"))
    ref = gold[name].astype(np.float64)
    h = hearth_logits(hearth, path, gold["tokens"].tolist()).astype(np.float64)
    assert np.isfinite(h).all()
    lr, lh = log_softmax(ref), log_softmax(h)
    kl = float((np.exp(lr) * (lr - lh)).sum(1).mean())
    assert kl <= 1e-3, kl
    # Random weights give near-flat distributions; where the reference's two best logits are
    # closer than 0.05 the order is within 8-bit activation-quantization noise and not checked.
    srt = np.sort(ref, axis=1)
    clear = (srt[:, -1] - srt[:, -2]) > 0.05
    bad = np.nonzero(clear & (ref.argmax(1) != h.argmax(1)))[0]
    assert len(bad) == 0, f"top-1 differs at positions {bad.tolist()} (KL {kl:.2e})"


def cpu_has_avx2():
    with open("/proc/cpuinfo") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    return all(x in flags for x in ("avx2", "fma", "f16c"))


@pytest.mark.parametrize("name", sorted(TINY_GOLD))
def test_tiny_model_bit_identical(hearth, tiny_models, name):
    """On an AVX2 CPU every logit of the 12-token prompt is the reference's, bit for bit (the
    goldens come from its AVX2 build), for every architecture and weight type.  The float
    orders followed: a lone token's vec_dot; for a prompt the reference's GEMMs (tinyBLAS for
    F16, F32 and BF16 from 2 tokens, its repacked Q4_0 and Q4_K GEMMs, its tiled K-quant
    matmul for Q6_K, Q5_K, Q3_K and Q2_K from 8 tokens)."""
    if not cpu_has_avx2() or os.environ.get("HEARTH_KERNELS", "avx2") != "avx2":
        pytest.skip("the goldens are the reference's AVX2 bits")
    tm, paths = tiny_models
    path = paths[name]
    if tm.sha256(path) != TINY_GOLD[name]:
        tm.write_model(path, *name.split("-", 1))
    gold = np.load(os.path.join(GOLD, "tiny.npz"))
    ref = gold[name]
    h = hearth_logits(hearth, path, gold["tokens"].tolist())
    diff = np.nonzero(h != ref)
    assert len(diff[0]) == 0, f"{len(diff[0])} of {ref.size} logits differ (max {float(np.abs(h - ref).max()):.3e})"


# ---- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,expect", [
    ("arch", "architecture 'gpt2' is not supported"),
    ("drop", "missing tensor 'blk.1.ffn_up.weight'"),
    ("shape", "tensor 'blk.0.attn_k.weight' has shape"),
])
def test_model_errors_name_the_problem(hearth, tiny_models, kind, expect):
    tm, _ = tiny_models
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.gguf")
        kw = {"arch": {"arch_name": "gpt2"}, "drop": {"drop": "blk.1.ffn_up.weight"},
              "shape": {"bad_shape": "blk.0.attn_k.weight"}}[kind]
        tm.write_model(path, "llama", "Q4_0", **kw)
        p = run([hearth, "run", "-m", path, "--tokens", "-p", "1,2,3", "-n", "2"])
        assert p.returncode != 0
        assert expect in p.stderr.decode(), p.stderr.decode()


def test_unsupported_tensor_type_is_named(hearth, tiny_models):
    tm, _ = tiny_models
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "iq.gguf")
        tm.write_model(path, "llama", "F32")
        # patch the type of one tensor info (name, n_dims u32, dims u64 x n, type u32, offset u64)
        # to IQ2_XXS, whose data is smaller than the F32 data so the file stays well-formed
        raw = bytearray(open(path, "rb").read())
        name = b"blk.0.attn_q.weight"
        pos = raw.index(name) + len(name)
        n_dims = int.from_bytes(raw[pos:pos + 4], "little")
        tpos = pos + 4 + 8 * n_dims
        assert int.from_bytes(raw[tpos:tpos + 4], "little") == 0  # F32
        raw[tpos:tpos + 4] = (16).to_bytes(4, "little")
        open(path, "wb").write(raw)
        p = run([hearth, "run", "-m", path, "--tokens", "-p", "1,2,3", "-n", "2"])
        assert p.returncode != 0
        err = p.stderr.decode()
        assert "blk.0.attn_q.weight" in err and "IQ2_XXS" in err, err


def test_prompt_that_does_not_fit_is_an_error(hearth, smollm2):
    p = run([hearth, "run", "-m", smollm2, "-p", "Hello there, how are you today?", "-n", "64", "-c", "32"])
    assert p.returncode != 0
    assert "do not fit the context of 32 tokens" in p.stderr.decode()
    assert p.stdout == b""


# ---- sampling, streaming, memory ----------------------------------------------------------------

def test_run_text_greedy_and_seeded_sampling(hearth, smollm2):
    base = [hearth, "run", "-m", smollm2, "-p", "Once upon a time", "-n", "24", "-t", THREADS]
    g1 = run(base + ["--temp", "0"])
    assert g1.returncode == 0, g1.stderr.decode()
    assert len(g1.stdout.strip()) > 0
    assert b"tokens/s" in g1.stderr and b"tokens/s" not in g1.stdout
    s = [run(base + ["--temp", "0.9", "--seed", str(seed), "--top-k", "50", "--top-p", "0.9", "--min-p", "0.02",
                     "--repeat-penalty", "1.1"]) for seed in (7, 7, 8)]
    assert all(p.returncode == 0 for p in s)
    assert s[0].stdout == s[1].stdout
    assert s[0].stdout != s[2].stdout


def test_peak_rss_of_run(hearth, smollm2):
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
            "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    p = run([sys.executable, "-c", code, hearth, "run", "-m", smollm2, "-c", "2048", "-p", "The weather today is",
             "-n", "32", "-t", THREADS])
    rc, rss_kb = map(int, p.stdout.split())
    assert rc == 0
    kv = 30 * 2048 * 192 * 2 * 2  # layers x ctx x (kv heads * head dim) x (K, V) x f16
    limit = os.path.getsize(smollm2) + kv + 100 * 1024 * 1024
    print(f"peak RSS {rss_kb / 1024:.1f} MiB, limit {limit / 1048576:.1f} MiB")
    assert rss_kb * 1024 <= limit


def test_bench_json_has_llama_bench_keys(hearth, smollm2):
    p = run([hearth, "bench", "-m", smollm2, "-p", "32", "-n", "8", "-r", "2", "-t", THREADS, "--json"])
    assert p.returncode == 0, p.stderr.decode()
    rows = json.loads(p.stdout)
    assert [(r["n_prompt"], r["n_gen"]) for r in rows] == [(32, 0), (0, 8)]
    for r in rows:
        for k in ("n_threads", "avg_ts", "stddev_ts"):
            assert k in r
        assert r["avg_ts"] > 0


def test_bench_depth(hearth, smollm2):
    """-d N: tests after N tokens already in the cache (llama-bench's -d): the JSON carries
    n_depth, the table names the tests "pp16 @ d64"; a depth beyond what the model can hold is an
    error, not a crash."""
    p = run([hearth, "bench", "-m", smollm2, "-p", "16", "-n", "4", "-d", "64", "-r", "1", "-t", THREADS, "--json"])
    assert p.returncode == 0, p.stderr.decode()
    rows = json.loads(p.stdout)
    assert [(r["n_prompt"], r["n_gen"], r["n_depth"]) for r in rows] == [(16, 0, 64), (0, 4, 64)]
    assert all(r["avg_ts"] > 0 for r in rows)
    p = run([hearth, "bench", "-m", smollm2, "-p", "16", "-n", "0", "-d", "64", "-r", "1", "-t", THREADS])
    assert p.returncode == 0, p.stderr.decode()
    assert "pp16 @ d64" in p.stdout.decode()
    p = run([hearth, "bench", "-m", smollm2, "-p", "16", "-n", "0", "-d", "1000000", "-r", "1", "-t", THREADS])
    assert p.returncode != 0 and p.returncode < 128, p.returncode
    assert b"hearth bench" in p.stderr
