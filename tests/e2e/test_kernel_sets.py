"""Every kernel set gives the same logits, bit for bit, on whole models: the AVX-512 and
AVX-512 VNNI tables promise the AVX2 bits (src/kernels/x86/avx512_util.h).  On a CPU without
AVX-512 they run in the emulated build (build-emu512/hearth, made by `make test` with
EMU512=1: SIMDe implements the 512-bit intrinsics), which offers them wherever AVX2 runs.
Prompts of 1, 3 and 24 tokens take the single-row, multi-row and tile paths of matmul.
Also: Q4_0 weights interleaved at load time (the default) give the bits of the plain layout
(HEARTH_REPACK=0)."""
import os
import tempfile

import numpy as np
import pytest

from conftest import ROOT, run
from test_inference import cpu_has_avx2, load_tiny_module

EMU = os.path.join(ROOT, "build-emu512", "hearth")
SETS = ["avx512", "avx512vnni"]
PROMPTS = [[7], [7, 3, 11], [(i * 37 + 5) % 90 for i in range(24)]]  # tiny vocabularies: 96 tokens


def logits(binary, isa, model, ids, **extra_env):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "logits.bin")
        env = dict(os.environ, HEARTH_KERNELS=isa, **extra_env)
        p = run([binary, "run", "-m", model, "--tokens", "-p", ",".join(map(str, ids)), "--logits", out, "-t", "2"],
                env=env)
        assert p.returncode == 0, p.stderr.decode()
        assert b"lacks it" not in p.stderr, p.stderr.decode()  # a forced set the CPU lacks falls back to ref
        return np.fromfile(out, np.uint32)


@pytest.fixture(scope="module")
def emu(hearth):
    assert os.path.exists(EMU), f"{EMU} not built (make EMU512=1 build-emu512/hearth; make test builds it)"
    if not cpu_has_avx2():
        pytest.skip("this CPU has no AVX2: the emulated AVX-512 build needs it")
    return EMU


@pytest.fixture(scope="module")
def tiny_paths():
    tm = load_tiny_module()
    return tm.make_all(tm.default_dir())


@pytest.mark.parametrize("isa", SETS)
def test_tiny_models_same_bits(hearth, emu, tiny_paths, isa):
    checked = 0
    for name, path in sorted(tiny_paths.items()):
        for ids in PROMPTS:
            want = logits(hearth, "avx2", path, ids)
            got = logits(emu, isa, path, ids)
            assert want.shape == got.shape
            diff = np.nonzero(want != got)[0]
            assert len(diff) == 0, f"{name} {len(ids)} tokens: {len(diff)} of {len(want)} logits differ from avx2"
            checked += 1
    assert checked >= 3 * 20, checked


@pytest.mark.parametrize("isa", SETS)
def test_real_model_same_bits(hearth, emu, smollm2, isa):
    for ids in PROMPTS:
        want = logits(hearth, "avx2", smollm2, ids)
        got = logits(emu, isa, smollm2, ids)
        assert np.array_equal(want, got), f"{len(ids)} tokens: {int((want != got).sum())} logits differ from avx2"


@pytest.mark.parametrize("isa", SETS)
def test_gemma3_same_bits(hearth, emu, gemma3, isa):
    """Gemma 3 270M Q4_K_M: a real model with Q4_K and Q6_K weights (the AVX-512 multi-row kernels
    of decode, the 1- and 3-token prompts), also Q5_0 / Q8_0 tensors."""
    for ids in PROMPTS:
        want = logits(hearth, "avx2", gemma3, ids)
        got = logits(emu, isa, gemma3, ids)
        assert np.array_equal(want, got), f"{len(ids)} tokens: {int((want != got).sum())} logits differ from avx2"


def test_interleaved_same_bits(hearth, tiny_paths, gemma3):
    """Q4_0 and Q4_K matmul weights interleaved 8 rows at a time at load (src/model/model.c
    repack_weights) against the plain rows: every tiny architecture in both types and the real
    Gemma-3 Q4_K_M, 1, 3 and 24 tokens (decode and the 4-token GEMM order of Q4_K)."""
    if not cpu_has_avx2():
        pytest.skip("no AVX2: nothing is interleaved")
    checked = {"Q4_0": 0, "Q4_K": 0}
    models = sorted(tiny_paths.items()) + [("gemma3-Q4_K_M", gemma3)]
    for name, path in models:
        kind = next((k for k in checked if k in name), None)
        if kind is None:
            continue
        prompts = PROMPTS if "gemma3-Q4_K_M" not in name else [[2, 651], [2, 651, 6037, 563, 496], [2] + [651 + i for i in range(23)]]
        for ids in prompts:
            want = logits(hearth, "avx2", path, ids, HEARTH_REPACK="0")
            got = logits(hearth, "avx2", path, ids)
            diff = np.nonzero(want != got)[0]
            assert len(diff) == 0, f"{name} {len(ids)} tokens: {len(diff)} of {len(want)} logits differ"
            checked[kind] += 1
    assert checked["Q4_0"] >= 3 * 4 and checked["Q4_K"] >= 3 * 5, checked
