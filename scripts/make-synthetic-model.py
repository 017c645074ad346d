#!/usr/bin/env python3
"""Writes a synthetic GGUF model with random weights and the exact layer shapes of a real one,
for benchmarks and memory predictions (the speed of a forward pass does not depend on the
weight values). Quantized tensors are random blocks whose fp16 scales are small, finite values,
written directly (no quantizer needed), so the file is made in seconds by the reference writer
(the `gguf` Python package) and both hearth and llama.cpp load it.

  .venv/bin/python scripts/make-synthetic-model.py --shape llama-1b --type Q4_K_M
  prints the path (last line); files are cached in $HEARTH_MODELS/synthetic/.

Shapes: llama-1b (Llama-3.2-1B: hidden 2048, FFN 8192, 16 layers, 32 heads, 8 KV heads,
vocab 128256, tied output), smollm2-135m (hidden 576, FFN 1536, 30 layers, 9 heads, 3 KV heads,
vocab 49152, tied). Types: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K,
and the mixtures Q4_K_M / Q5_K_M (Q6_K for attn_v and ffn_down in half the layers and the
embeddings, as llama.cpp's quantizer does). The vocabulary is a SentencePiece-style list of
placeholder pieces with byte fallback, so no tokenizer license is involved.
"""
import argparse
import os
import sys

import numpy as np
import gguf

SHAPES = {
    "llama-1b": dict(n_embd=2048, n_ff=8192, n_layer=16, n_head=32, n_head_kv=8, n_vocab=128256, ctx=131072,
                     rope_base=500000.0),
    "smollm2-135m": dict(n_embd=576, n_ff=1536, n_layer=30, n_head=9, n_head_kv=3, n_vocab=49152, ctx=8192,
                         rope_base=100000.0),
}

Q = gguf.GGMLQuantizationType
# byte offsets of the fp16 scale fields inside each block (they must be finite)
SCALE_OFFSETS = {
    Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
}
FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K": 11,
              "Q4_K": 14, "Q4_K_M": 15, "Q5_K": 16, "Q5_K_M": 17, "Q6_K": 18, "BF16": 32}


def tensor_type(mix, name, layer, n_layer):
    """The type of one weight tensor under a file type (mixtures as llama.cpp's quantizer)."""
    if mix in ("Q4_K_M", "Q5_K_M"):
        base = Q.Q4_K if mix == "Q4_K_M" else Q.Q5_K
        if name == "token_embd":
            return Q.Q6_K
        if name in ("attn_v", "ffn_down"):
            use_more = layer < n_layer // 8 or layer >= 7 * n_layer // 8 or (layer - n_layer // 8) % 3 == 2
            return Q.Q6_K if use_more else base
        return base
    return Q[mix]


def random_tensor(rng, qtype, rows, cols):
    """rows x cols weights of qtype: numpy array in the shape the gguf writer expects."""
    if qtype == Q.F32:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02)
    if qtype == Q.F16:
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float16)
    if qtype == Q.BF16:
        f = (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02)
        return (f.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(rows, cols * 2)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    nb = cols // block
    raw = rng.integers(0, 256, size=(rows, nb, size), dtype=np.uint8)
    scales = (rng.random((rows, nb, len(SCALE_OFFSETS[qtype])), dtype=np.float32) * 0.002 + 0.0005)
    scales = scales.astype(np.float16).view(np.uint8).reshape(rows, nb, -1, 2)
    for i, off in enumerate(SCALE_OFFSETS[qtype]):
        raw[:, :, off:off + 2] = scales[:, :, i, :]
    return raw.reshape(rows, nb * size)


def build(shape, ftype, path, seed=1234):
    s = SHAPES[shape]
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, "llama")
    head_dim = s["n_embd"] // s["n_head"]
    w.add_name(f"synthetic {shape} {ftype}")
    w.add_context_length(s["ctx"])
    w.add_embedding_length(s["n_embd"])
    w.add_feed_forward_length(s["n_ff"])
    w.add_block_count(s["n_layer"])
    w.add_head_count(s["n_head"])
    w.add_head_count_kv(s["n_head_kv"])
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(s["rope_base"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(s["n_vocab"])
    w.add_file_type(FILE_TYPES[ftype])
    # vocabulary: <unk> <s> </s>, 256 byte pieces, then placeholder pieces
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    toks += [f"\u2581t{i}" for i in range(s["n_vocab"] - len(toks))]
    types = [2, 3, 3] + [6] * 256 + [1] * (s["n_vocab"] - 259)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([-float(i) for i in range(len(toks))])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def add(name, qtype, rows, cols):
        if qtype in SCALE_OFFSETS and cols % gguf.GGML_QUANT_SIZES[qtype][0]:
            qtype = Q.Q8_0  # rows not a multiple of 256: llama.cpp's quantizer falls back as well
        t = random_tensor(rng, qtype, rows, cols)
        if qtype in (Q.F32, Q.F16):
            w.add_tensor(name, t)
        else:
            w.add_tensor(name, t, raw_dtype=qtype)  # t holds the raw bytes, (rows, bytes per row)

    def norm(name, n):
        w.add_tensor(name, np.ones(n, dtype=np.float32))

    E, F, L, V = s["n_embd"], s["n_ff"], s["n_layer"], s["n_vocab"]
    kv = s["n_head_kv"] * head_dim
    add("token_embd.weight", tensor_type(ftype, "token_embd", 0, L), V, E)
    norm("output_norm.weight", E)
    for i in range(L):
        norm(f"blk.{i}.attn_norm.weight", E)
        add(f"blk.{i}.attn_q.weight", tensor_type(ftype, "attn_q", i, L), E, E)
        add(f"blk.{i}.attn_k.weight", tensor_type(ftype, "attn_k", i, L), kv, E)
        add(f"blk.{i}.attn_v.weight", tensor_type(ftype, "attn_v", i, L), kv, E)
        add(f"blk.{i}.attn_output.weight", tensor_type(ftype, "attn_output", i, L), E, E)
        norm(f"blk.{i}.ffn_norm.weight", E)
        add(f"blk.{i}.ffn_gate.weight", tensor_type(ftype, "ffn_gate", i, L), F, E)
        add(f"blk.{i}.ffn_up.weight", tensor_type(ftype, "ffn_up", i, L), F, E)
        add(f"blk.{i}.ffn_down.weight", tensor_type(ftype, "ffn_down", i, L), E, F)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama-1b")
    ap.add_argument("--type", dest="ftype", choices=sorted(FILE_TYPES), default="Q4_0")
    ap.add_argument("--out-dir", default=os.path.join(os.environ.get("HEARTH_MODELS", os.path.expanduser(
        "~/.cache/hearth/models")), "synthetic"))
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
    path = os.path.join(a.out_dir, f"{a.shape}-{a.ftype}.gguf")
    if not os.path.exists(path):
        tmp = f"{path}.tmp{os.getpid()}"  # another process may be writing the same model
        build(a.shape, a.ftype, tmp)
        os.replace(tmp, path)
        print(f"make-synthetic-model: wrote {path} ({os.path.getsize(path) >> 20} MiB)", file=sys.stderr)
    print(path)


if __name__ == "__main__":
    main()
