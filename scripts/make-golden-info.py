#!/usr/bin/env python3
"""Writes tests/golden/info/<name>.json: what the reference GGUF reader (the `gguf` Python
package) reads from each real model and each vocab-only test file — the values
`hearth info --json` must agree with.

Usage: .venv/bin/python scripts/make-golden-info.py   (models are fetched with scripts/fetch-model)
"""
import glob
import json
import os
import subprocess
import sys

import gguf  # the reference reader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "info")


def field_value(r, key):
    f = r.fields.get(key)
    if f is None:
        return None
    t = f.types[0] if f.types else None
    if t == gguf.GGUFValueType.ARRAY:
        return [f.parts[i].tolist()[0] if f.types[-1] != gguf.GGUFValueType.STRING
                else bytes(f.parts[i]).decode("utf-8", "replace") for i in f.data]
    if t == gguf.GGUFValueType.STRING:
        return bytes(f.parts[f.data[0]]).decode("utf-8")
    return f.parts[f.data[0]].tolist()[0]


def describe(path):
    r = gguf.GGUFReader(path)
    arch = field_value(r, "general.architecture")

    def hp(suffix):
        v = field_value(r, f"{arch}.{suffix}")
        if isinstance(v, list):
            return max(v) if v else None
        return v

    tokens = r.fields.get("tokenizer.ggml.tokens")
    n_vocab = len(tokens.data) if tokens is not None else hp("vocab_size")
    types = {}
    for t in r.tensors:
        name = t.tensor_type.name
        types[name] = types.get(name, 0) + 1
    n_head = hp("attention.head_count")
    n_head_kv = hp("attention.head_count_kv")
    return {
        "architecture": arch,
        "n_params": int(sum(int(t.n_elements) for t in r.tensors)),
        "n_layer": hp("block_count"),
        "n_embd": hp("embedding_length"),
        "n_head": n_head,
        "n_head_kv": n_head_kv if n_head_kv is not None else n_head,
        "n_ctx_train": hp("context_length"),
        "n_vocab": n_vocab,
        "tokenizer": field_value(r, "tokenizer.ggml.model"),
        "chat_template": "tokenizer.chat_template" in r.fields,
        "n_tensors": len(r.tensors),
        "n_kv": len([k for k in r.fields if not k.startswith("GGUF.")]),
        "tensor_types": types,
        "file_size": os.path.getsize(path),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    items = []
    for name in ("smollm2-135m", "gemma3-270m"):
        p = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model"), name], check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
        items.append((name, p))
    vocab = os.path.join(ROOT, "..", "shared", "testdata", "vocab")
    for p in sorted(glob.glob(os.path.join(vocab, "*.gguf"))):
        items.append((os.path.basename(p)[:-5], p))
    for name, path in items:
        d = describe(path)
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(d, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"{name}: {d['architecture']} {d['n_params']} params, {d['n_tensors']} tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
