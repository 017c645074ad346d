#!/usr/bin/env python3
"""Tiny synthetic GGUF models (random weights, real layer structure) for each architecture x
weight type the engine supports, written with the `gguf` package.

    python scripts/make-tiny-models.py [DIR]      (default: $HEARTH_TINY_DIR or ~/.cache/hearth/tiny)

Files are generated, not committed: the end-to-end test regenerates them when missing (with
the checkout venv's gguf/numpy) and checks each file's SHA-256 against the golden made when the
reference logits were computed (scripts/make-golden-inference.py), so a different generator
cannot silently change the inputs.

Weights are written as raw blocks rather than quantized through gguf's quantizers: random
quant bytes with scale fields set to fixed-range f16 values, so the files depend only on
numpy's PCG64 stream and the block layouts, and K-quants (which gguf-py cannot quantize) are
covered too.  Every weight matrix of a model (token embedding and output included) has the
model's type; norms and biases are F32.
"""
import hashlib
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

N_EMBD, N_FF, N_HEAD, N_HEAD_KV, HEAD_DIM, N_VOCAB = 256, 512, 4, 2, 64, 96
TOKENS = [1, 17, 42, 5, 77, 63, 9, 88, 30, 51, 12, 70]

# type: (bytes per block, elements per block, [(offset of an f16 scale field, base value)])
BLOCKS = {
    T.Q4_0: (18, 32, [(0, 0.0125)]),
    T.Q4_1: (20, 32, [(0, 0.006), (2, -0.045)]),
    T.Q5_0: (22, 32, [(0, 0.006)]),
    T.Q5_1: (24, 32, [(0, 0.003), (2, -0.045)]),
    T.Q8_0: (34, 32, [(0, 0.0008)]),
    T.Q2_K: (84, 256, [(80, 0.005), (82, 0.005)]),
    T.Q3_K: (110, 256, [(108, 0.0015)]),
    T.Q4_K: (144, 256, [(0, 0.0002), (2, 0.0002)]),
    T.Q5_K: (176, 256, [(0, 0.0001), (2, 0.0001)]),
    T.Q6_K: (210, 256, [(208, 0.00005)]),
}
TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
ARCHS = ["llama", "qwen2", "qwen3", "gemma3"]


def default_dir():
    return os.environ.get("HEARTH_TINY_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "hearth", "tiny")


def matrix(rng, qtype, rows, cols):
    """(array, raw_dtype) for a rows x cols weight of qtype."""
    if qtype == T.F32:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32), None
    if qtype == T.F16:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float16), None
    if qtype == T.BF16:
        f = (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)
        bits = (f.view(np.uint32) >> 16).astype(np.uint16)
        return bits.view(np.uint8).reshape(rows, cols * 2), T.BF16
    nbytes, bs, scales = BLOCKS[qtype]
    nb = cols // bs
    raw = rng.integers(0, 256, size=(rows, nb, nbytes), dtype=np.uint8)
    for off, base in scales:
        vals = (0.4 * base * (0.5 + rng.random((rows, nb)))).astype(np.float16)
        raw[:, :, off:off + 2] = vals.view(np.uint8).reshape(rows, nb, 2)
    return raw.reshape(rows, nb * nbytes), qtype


def vec(rng, n, center, spread):
    return (center + spread * rng.standard_normal(n)).astype(np.float32)


def write_model(path, arch, tname, drop=None, arch_name=None, bad_shape=None):
    """Writes one model.  For error tests: `drop` omits a tensor, `arch_name` overrides
    general.architecture, `bad_shape` gives that tensor one row too many."""
    qtype = T[tname]
    seed = ARCHS.index(arch) * 100 + TYPES.index(tname)
    rng = np.random.default_rng(seed)
    n_layer = 6 if arch == "gemma3" else 2
    w = gguf.GGUFWriter(path, arch_name or arch)
    add_tensor = w.add_tensor

    def guarded_add(name, a, **kw):
        if name == drop:
            return
        if name == bad_shape:
            a = np.concatenate([a, a[:1]], axis=0) if a.ndim == 2 else np.concatenate([a, a[:1]])
        add_tensor(name, a, **kw)
    w.add_tensor = guarded_add
    w.add_name(f"tiny-{arch}-{tname}")
    w.add_context_length(256)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-6 if arch == "gemma3" else 1e-5)
    w.add_rope_freq_base(10000.0 if arch != "gemma3" else 1000000.0)
    if arch in ("qwen3", "gemma3"):
        w.add_key_length(HEAD_DIM)
        w.add_value_length(HEAD_DIM)
    if arch == "gemma3":
        w.add_sliding_window(4)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    # vocabulary: SentencePiece-style, plain tokens (ids are what the tests use)
    toks = ["<unk>", "<s>", "</s>", "<0x0A>"] + [f"t{i}" for i in range(4, N_VOCAB)]
    types = [2, 3, 3, 6] + [1] * (N_VOCAB - 4)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([float(-i) for i in range(N_VOCAB)])
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(False)

    def mat(name, rows, cols):
        a, raw = matrix(rng, qtype, rows, cols)
        if raw is None:
            w.add_tensor(name, a)
        else:
            w.add_tensor(name, a, raw_dtype=raw)

    dq, dkv = N_HEAD * HEAD_DIM, N_HEAD_KV * HEAD_DIM
    mat("token_embd.weight", N_VOCAB, N_EMBD)
    w.add_tensor("output_norm.weight", vec(rng, N_EMBD, 1.0, 0.1))
    if arch in ("llama", "qwen3"):  # untied output; the others tie it to token_embd
        mat("output.weight", N_VOCAB, N_EMBD)
    if arch == "llama":  # llama3-style frequency factors
        w.add_tensor("rope_freqs.weight", np.linspace(1.0, 8.0, HEAD_DIM // 2).astype(np.float32))
    for il in range(n_layer):
        p = f"blk.{il}."
        w.add_tensor(p + "attn_norm.weight", vec(rng, N_EMBD, 1.0, 0.1))
        mat(p + "attn_q.weight", dq, N_EMBD)
        mat(p + "attn_k.weight", dkv, N_EMBD)
        mat(p + "attn_v.weight", dkv, N_EMBD)
        mat(p + "attn_output.weight", N_EMBD, dq)
        if arch == "qwen2":
            w.add_tensor(p + "attn_q.bias", vec(rng, dq, 0.0, 0.1))
            w.add_tensor(p + "attn_k.bias", vec(rng, dkv, 0.0, 0.1))
            w.add_tensor(p + "attn_v.bias", vec(rng, dkv, 0.0, 0.1))
        if arch in ("qwen3", "gemma3"):
            w.add_tensor(p + "attn_q_norm.weight", vec(rng, HEAD_DIM, 1.0, 0.1))
            w.add_tensor(p + "attn_k_norm.weight", vec(rng, HEAD_DIM, 1.0, 0.1))
        if arch == "gemma3":
            w.add_tensor(p + "post_attention_norm.weight", vec(rng, N_EMBD, 1.0, 0.1))
            w.add_tensor(p + "post_ffw_norm.weight", vec(rng, N_EMBD, 1.0, 0.1))
        w.add_tensor(p + "ffn_norm.weight", vec(rng, N_EMBD, 1.0, 0.1))
        mat(p + "ffn_gate.weight", N_FF, N_EMBD)
        mat(p + "ffn_up.weight", N_FF, N_EMBD)
        mat(p + "ffn_down.weight", N_EMBD, N_FF)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_all(d, force=False):
    """Writes every model missing from d; returns {name: path}."""
    os.makedirs(d, exist_ok=True)
    out = {}
    for arch in ARCHS:
        for t in TYPES:
            name = f"{arch}-{t}"
            path = os.path.join(d, f"tiny-{name}.gguf")
            if force or not os.path.exists(path):
                tmp = path + ".tmp"
                write_model(tmp, arch, t)
                os.replace(tmp, path)
            out[name] = path
    return out


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else default_dir()
    for name, path in make_all(d, force=True).items():
        print(name, path, sha256(path))
