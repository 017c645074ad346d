#!/usr/bin/env python3
"""Makes the tokenizer goldens: llama.cpp's token ids (through llama-cpp-python) for every
string of tests/golden/tokenizer/corpus.txt, with the vocabularies of the real models.

  tests/golden/tokenizer/<model>.txt         one line per corpus string: the ids, space-separated
                                             (no BOS/EOS, special tokens not parsed)
  tests/golden/tokenizer/<model>.special.txt the same with special-token parsing on

A string llama.cpp refuses (it raises on some invalid UTF-8) gets the line "ERROR" and is
skipped by the test.  Run with the reference venv:
  ~/.cache/hearth/refvenv/bin/python scripts/make-golden-tokenizer.py
Model paths come from scripts/fetch-model (or HEARTH_SMOLLM2 / HEARTH_GEMMA3).
"""
import os
import subprocess
import sys

import llama_cpp

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
GOLD = os.path.join(ROOT, "tests", "golden", "tokenizer")
MODELS = {"smollm2": ("smollm2-135m", "HEARTH_SMOLLM2"), "gemma3": ("gemma3-270m", "HEARTH_GEMMA3")}


def unescape(line: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            n = line[i + 1]
            if n == "n": out += b"\n"; i += 2; continue
            if n == "t": out += b"\t"; i += 2; continue
            if n == "r": out += b"\r"; i += 2; continue
            if n == "\\": out += b"\\"; i += 2; continue
            if n == "x": out.append(int(line[i + 2:i + 4], 16)); i += 4; continue
        out += c.encode("utf-8")
        i += 1
    return bytes(out)


def model_path(key):
    name, env = MODELS[key]
    if os.environ.get(env):
        return os.environ[env]
    r = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model"), name], capture_output=True, text=True, check=True)
    return r.stdout.strip().splitlines()[-1]


def main():
    corpus = [unescape(l) for l in open(os.path.join(GOLD, "corpus.txt"), encoding="utf-8").read().split("\n")[:-1]]
    for key in sys.argv[1:] or list(MODELS):
        llm = llama_cpp.Llama(model_path=model_path(key), vocab_only=True, verbose=False)
        for special, suffix in ((False, ""), (True, ".special")):
            lines = []
            for s in corpus:
                try:
                    ids = llm.tokenize(s, add_bos=False, special=special)
                    lines.append(" ".join(str(t) for t in ids))
                except Exception:
                    lines.append("ERROR")
            path = os.path.join(GOLD, key + suffix + ".txt")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            print(path, len(lines), "lines,", sum(l == "ERROR" for l in lines), "errors")


if __name__ == "__main__":
    main()
