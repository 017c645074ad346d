#!/usr/bin/env python3
"""Golden dequantization vectors for tests/unit/test_kernels.c, from the gguf Python package.

For each weight type: random raw blocks (random bytes, with the fp16 scale fields replaced by
finite, moderate values so that no block dequantizes to NaN/Inf) and gguf-py's
`gguf.quants.dequantize` of them.  Also the block size / bytes per block of every type, from
`gguf.constants.GGML_QUANT_SIZES`, to check hearth's type table.

Writes tests/golden/kernels/<TYPE>.blocks (raw bytes), <TYPE>.f32 (little-endian float32) and
sizes.txt.  Run with the reference venv:
    ~/.cache/hearth/refvenv/bin/python scripts/make-golden-kernels.py
"""
import os
import sys

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "kernels")

# byte offsets of the fp16 scale fields inside one block
HALF_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
TYPES = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
         T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]


def random_blocks(rng, qtype, n_elems):
    block, size = GGML_QUANT_SIZES[qtype]
    nb = n_elems // block
    if qtype == T.F32:
        return rng.uniform(-2, 2, n_elems).astype("<f4").view(np.uint8)
    if qtype == T.F16:
        return rng.uniform(-2, 2, n_elems).astype("<f2").view(np.uint8)
    if qtype == T.BF16:
        f = rng.uniform(-2, 2, n_elems).astype("<f4").view("<u4")
        return (f >> 16).astype("<u2").view(np.uint8)
    raw = rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
    scale = 0.01 if block == 256 else 0.1
    for off in HALF_FIELDS[qtype]:
        h = (rng.uniform(-1, 1, nb) * scale).astype("<f2").view(np.uint8).reshape(nb, 2)
        raw[:, off:off + 2] = h
    return raw.reshape(-1)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20250401)
    for qtype in TYPES:
        block, _ = GGML_QUANT_SIZES[qtype]
        n = 1024 if block == 256 else 512
        data = random_blocks(rng, qtype, n)
        deq = quants.dequantize(data, qtype).astype("<f4").reshape(-1)
        assert deq.size == n and np.all(np.isfinite(deq)), qtype.name
        data.tofile(os.path.join(OUT, qtype.name + ".blocks"))
        deq.tofile(os.path.join(OUT, qtype.name + ".f32"))
    with open(os.path.join(OUT, "sizes.txt"), "w") as f:
        f.write("# name id block_size type_size, from gguf.constants.GGML_QUANT_SIZES\n")
        for qtype, (block, size) in sorted(GGML_QUANT_SIZES.items(), key=lambda kv: int(kv[0])):
            f.write(f"{qtype.name} {int(qtype)} {block} {size}\n")
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
