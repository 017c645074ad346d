#!/usr/bin/env python3
"""Tokenizer throughput: hearth vs llama.cpp on the same ~1 MB text, per real model vocabulary.

Verify, then time: the ids of both must be identical before any figure is printed.
  hearth:    `hearth tokenize --ids --no-special -f TEXT`, median of N runs, minus the median
             of the same command on a one-byte file (vocabulary load and start-up)
  llama.cpp: llama_cpp.Llama(model, vocab_only=True).tokenize(text), median of N in-process
             calls (only tokenization is timed)
Output: one JSON object per model on stdout (MB/s for both and their ratio).
Usage: ~/.cache/hearth/refvenv/bin/python bench/tokenize.py [--runs 5] [--build build]
"""
import argparse
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MODELS = {"smollm2": "smollm2-135m", "gemma3": "gemma3-270m"}


def make_text(size=1 << 20):
    """~1 MB of mixed prose, code and multilingual text, deterministic."""
    parts = []
    corpus = os.path.join(ROOT, "tests", "golden", "tokenizer", "corpus.txt")
    lines = [l for l in open(corpus, encoding="utf-8").read().split("\n") if l and "\\x" not in l]
    lines = [l.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\") for l in lines]
    src = []
    for d, _, files in os.walk(os.path.join(ROOT, "src")):
        for f in sorted(files):
            if f.endswith((".c", ".h")) and "unicode_tables" not in f:
                src.append(open(os.path.join(d, f), encoding="utf-8", errors="replace").read())
    src.sort()
    rng = random.Random(42)
    words = ("the of and to in is that for it as with was on be by this are from at or an which "
             "model token language local machine memory speed answer question hearth llama "
             "Mensch Stadt über große 東京 世界 привет мир 🙂 2024 3.14 don't it's").split()
    n = 0
    while n < size:
        k = rng.random()
        if k < 0.5:
            s = " ".join(rng.choice(words) for _ in range(rng.randint(5, 40))) + ".\n"
        elif k < 0.8 and src:
            s = rng.choice(src)[: rng.randint(200, 3000)]
        else:
            s = rng.choice(lines) + "\n"
        parts.append(s)
        n += len(s.encode("utf-8"))
    return "".join(parts).encode("utf-8")[:size].decode("utf-8", errors="ignore").encode("utf-8")


def median_time(fn, runs):
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--build", default=os.environ.get("HEARTH_BUILD", os.path.join(ROOT, "build")))
    args = ap.parse_args()
    hearth = os.path.join(args.build, "hearth")
    text = make_text()
    try:
        import llama_cpp
    except ImportError:
        llama_cpp = None
        print("# llama_cpp not importable: hearth figures only", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        big, tiny = os.path.join(tmp, "big.txt"), os.path.join(tmp, "tiny.txt")
        open(big, "wb").write(text)
        open(tiny, "wb").write(b"a")
        for key, name in MODELS.items():
            r = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model"), name], capture_output=True, text=True)
            if r.returncode != 0:
                print(json.dumps({"model": key, "skipped": "model not available"}))
                continue
            path = r.stdout.strip().splitlines()[-1]
            cmd = [hearth, "tokenize", "-m", path, "--ids", "--no-special", "-f"]
            ids = [int(x) for x in subprocess.run(cmd + [big], capture_output=True, check=True).stdout.split()]
            res = {"model": key, "bytes": len(text), "sha256": hashlib.sha256(text).hexdigest()[:16], "tokens": len(ids)}
            run = lambda f: subprocess.run(cmd + [f], stdout=subprocess.DEVNULL, check=True)
            t_big = median_time(lambda: run(big), args.runs)
            t_tiny = median_time(lambda: run(tiny), args.runs)
            t_h = max(t_big - t_tiny, 1e-9)
            res["hearth_s"] = round(t_h, 4)
            res["hearth_MBps"] = round(len(text) / t_h / 1e6, 2)
            if llama_cpp is not None:
                llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
                ref = llm.tokenize(text, add_bos=False, special=False)
                res["identical"] = ref == ids
                if ref != ids:
                    k = next((i for i, (a, b) in enumerate(zip(ref, ids)) if a != b), min(len(ref), len(ids)))
                    res["first_difference"] = k
                t_r = median_time(lambda: llm.tokenize(text, add_bos=False, special=False), args.runs)
                res["llama_cpp_s"] = round(t_r, 4)
                res["llama_cpp_MBps"] = round(len(text) / t_r / 1e6, 2)
                res["speedup"] = round(t_r / t_h, 2)
            print(json.dumps(res))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
