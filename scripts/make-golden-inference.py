#!/usr/bin/env python3
"""Goldens for the inference engine, from the reference engine (llama.cpp via llama-cpp-python).

Run with the reference venv (not the checkout's):
    ~/.cache/hearth/refvenv/bin/python scripts/make-golden-inference.py [--skip-ppl] [--skip-tiny]

Writes tests/golden/inference/:
  <model>.greedy.json   for each real model: >= 10 prompts as token ids (tokenized by the
                        reference), each with the 64 tokens greedy decoding produces
  <model>.logits.npz    over a 128-token text: per position the reference's top-K token ids and
                        log-probabilities (K=64, float32) and the total probability of the rest,
                        enough to compute KL(ref || hearth) to ~1e-5
  <model>.ppl.json      perplexity at n_ctx 512 over the first 40 chunks (20480 tokens) of
                        ppl-text.txt, computed exactly as llama-perplexity does
  tiny.npz              for each synthetic model (scripts/make-tiny-models.py): full logits of
                        a fixed token sequence
The perplexity text ppl-text.txt is the concatenation of GPL-3, GPL-2, LGPL-2.1, GFDL-1.3,
MPL-2.0 and Apache-2.0 from Debian's /usr/share/common-licenses (verbatim copying allowed),
each followed by a newline; it is committed so the test does not depend on the system.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import llama_cpp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "inference")
TOPK = 64
N_PREDICT = 64
PPL_CTX = 512
PPL_CHUNKS = 40

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    ",
    "The three primary colors are",
    "In 1969, the first humans",
    "Water boils at a temperature of",
    "Here is a list of fruits: apple, banana,",
    "The quick brown fox",
    "To make a cup of tea, first",
    "Photosynthesis is the process by which",
    "1, 2, 3, 4, 5,",
    "The most important rule of writing clean code is",
]

LOGITS_TEXT = (
    "The history of science is the study of the development of science and scientific knowledge, "
    "including both the natural and social sciences. Science is a body of empirical, theoretical, and "
    "practical knowledge about the natural world, produced by scientists who emphasize the observation, "
    "explanation, and prediction of real-world phenomena. The earliest roots of science can be traced to "
    "Ancient Egypt and Mesopotamia in around 3000 to 1200 BCE. Their contributions to mathematics, "
    "astronomy, and medicine entered and shaped Greek natural philosophy of classical antiquity, whereby "
    "formal attempts were made to provide explanations of events in the physical world based on natural "
    "causes. After the fall of the Western Roman Empire, knowledge of Greek conceptions of the world "
    "deteriorated in Latin-speaking Western Europe during the early centuries of the Middle Ages, but "
    "continued to thrive in the Greek-speaking Byzantine Empire."
)


def fetch(name):
    out = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model"), name], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()
    return out[-1]


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max()
    return x - m - np.log(np.exp(x - m).sum())


def make_llama(path, n_ctx, logits_all=True):
    return llama_cpp.Llama(path, n_ctx=n_ctx, n_batch=512, n_ubatch=512, logits_all=logits_all, verbose=False,
                           n_threads=1, seed=0)


def greedy(path, tag):
    m = make_llama(path, 512)
    cases = []
    for p in PROMPTS:
        ids = m.tokenize(p.encode(), add_bos=True, special=False)
        m.reset()
        m.eval(ids)
        out, gaps = [], []
        for _ in range(N_PREDICT):
            lg = np.asarray(m.scores[m.n_tokens - 1])
            t = int(np.argmax(lg))
            top2 = np.partition(lg, -2)[-2:]
            out.append(t)
            gaps.append(round(float(abs(top2[1] - top2[0])), 4))
            m.eval([t])
        # gaps: the reference's margin between its two best logits at each step
        cases.append({"prompt": p, "prompt_ids": ids, "greedy_ids": out, "gaps": gaps})
    with open(os.path.join(OUT, tag + ".greedy.json"), "w") as f:
        json.dump({"model": os.path.basename(path), "n_predict": N_PREDICT, "cases": cases}, f)
        f.write("\n")


def logits(path, tag):
    m = make_llama(path, 512)
    ids = m.tokenize(LOGITS_TEXT.encode(), add_bos=True, special=False)[:128]
    assert len(ids) == 128, len(ids)
    m.reset()
    m.eval(ids)
    top_ids = np.zeros((128, TOPK), np.int32)
    top_lp = np.zeros((128, TOPK), np.float32)
    rest = np.zeros(128, np.float64)
    for i in range(128):
        lp = log_softmax(m.scores[i])
        order = np.argsort(-lp, kind="stable")[:TOPK]
        top_ids[i] = order
        top_lp[i] = lp[order]
        rest[i] = max(0.0, 1.0 - np.exp(lp[order]).sum())
    # The reference's own noise: the same text fed one token at a time instead of as one batch
    # (different summation orders in its kernels).  Tests use it to calibrate their tolerance.
    ref = np.array([log_softmax(m.scores[i]) for i in range(128)])
    m.reset()
    for t in ids:
        m.eval([t])
    seq = np.array([log_softmax(m.scores[i]) for i in range(128)])
    self_kl = float((np.exp(ref) * (ref - seq)).sum(1).mean())
    self_top1 = int((ref.argmax(1) != seq.argmax(1)).sum())
    print(f"{tag}: reference batch-vs-sequential KL {self_kl:.3e}, top-1 differences {self_top1}", file=sys.stderr)
    np.savez_compressed(os.path.join(OUT, tag + ".logits.npz"), tokens=np.array(ids, np.int32), top_ids=top_ids,
                        top_logprobs=top_lp, rest_prob=rest, self_kl=self_kl, self_top1=self_top1)


def perplexity(path, tag):
    """llama-perplexity's method: tokenize with BOS (if the model adds one), chunks of n_ctx,
    first token of each chunk replaced by BOS, score positions n_ctx/2 .. n_ctx-2."""
    m = make_llama(path, PPL_CTX)
    text = open(os.path.join(OUT, "ppl-text.txt"), "rb").read()
    add_bos = m._model.add_bos_token() if hasattr(m._model, "add_bos_token") else True
    toks = m.tokenize(text, add_bos=add_bos, special=False)
    bos = m.token_bos()
    n_chunk = min(len(toks) // PPL_CTX, PPL_CHUNKS)
    first = PPL_CTX // 2
    nll = nll2 = 0.0
    count = 0
    for c in range(n_chunk):
        chunk = list(toks[c * PPL_CTX:(c + 1) * PPL_CTX])
        if add_bos:
            chunk[0] = bos
        m.reset()
        m.eval(chunk)
        for i in range(first, PPL_CTX - 1):
            v = -log_softmax(m.scores[i])[toks[c * PPL_CTX + i + 1]]
            nll += v
            nll2 += v * v
            count += 1
        print(f"  [{c + 1}] {np.exp(nll / count):.4f}", file=sys.stderr)
    mean = nll / count
    var = nll2 / count - mean * mean
    ppl = float(np.exp(mean))
    err = float(np.sqrt(var / (count - 1)) * ppl)
    with open(os.path.join(OUT, tag + ".ppl.json"), "w") as f:
        json.dump({"model": os.path.basename(path), "n_ctx": PPL_CTX, "chunks": n_chunk, "n_tokens": len(toks),
                   "add_bos": bool(add_bos), "ppl": ppl, "ppl_err": err}, f)
        f.write("\n")
    print(f"{tag}: PPL = {ppl:.4f} +/- {err:.5f}", file=sys.stderr)


def tiny():
    import importlib.util
    spec = importlib.util.spec_from_file_location("tiny_models", os.path.join(ROOT, "scripts", "make-tiny-models.py"))
    tm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tm)
    paths = tm.make_all(tm.default_dir())
    data = {}
    for name, path in sorted(paths.items()):
        m = make_llama(path, 64)
        m.reset()
        m.eval(tm.TOKENS)
        data[name] = np.array(m.scores[:len(tm.TOKENS)], np.float32)
        print("  tiny", name, file=sys.stderr)
        del m
    np.savez_compressed(os.path.join(OUT, "tiny.npz"), tokens=np.array(tm.TOKENS, np.int32), **data)
    with open(os.path.join(OUT, "tiny.json"), "w") as f:
        json.dump({name: tm.sha256(path) for name, path in sorted(paths.items())}, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-ppl", action="store_true")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--skip-tiny", action="store_true")
    ap.add_argument("--ppl-only", action="store_true", help="only the perplexity goldens")
    ap.add_argument("--only", choices=["smollm2", "gemma3"], help="one real model")
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if not a.skip_real:
        for name, tag in (("smollm2-135m", "smollm2"), ("gemma3-270m", "gemma3")):
            if a.only and tag != a.only:
                continue
            path = fetch(name)
            if not a.ppl_only:
                greedy(path, tag)
                logits(path, tag)
            if not a.skip_ppl:
                perplexity(path, tag)
    if not a.skip_tiny:
        tiny()


if __name__ == "__main__":
    main()
