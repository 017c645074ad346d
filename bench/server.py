#!/usr/bin/env python3
"""bench/server.py — aggregate generated tokens/s and time to first token of `hearth serve`
at 1, 2, 4 and 8 concurrent streams, side by side with llama.cpp's llama-server on the same
model file (when --llama-server is given).  Each stream is a streaming /v1/completions request
of --n tokens (ignore_eos, temperature 0).  Prints a table and one JSON line per row.
Not a test: numbers depend on the machine and its load."""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

PROMPTS = ["Once upon a time in a small village by the sea,", "The history of the printing press begins",
           "In the beginning of the twentieth century, physics", "A recipe for a simple tomato soup:",
           "The most important lesson I learned at school was", "Deep in the forest there lived an old owl",
           "Here are ten facts about the planet Mars:", "The train left the station at dawn and"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, timeout=300):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:  # noqa: BLE001
            pass
        time.sleep(0.2)
    raise RuntimeError("server not ready")


def stream_one(url, prompt, n, out):
    body = json.dumps({"prompt": prompt, "max_tokens": n, "temperature": 0, "stream": True, "ignore_eos": True,
                       "stream_options": {"include_usage": True}}).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    t0 = time.time()
    ttft, chunks, usage = None, 0, None
    with urllib.request.urlopen(req, timeout=600) as r:
        for line in r:
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            j = json.loads(line[6:])
            if j.get("usage"):
                usage = j["usage"]["completion_tokens"]
            for c in j.get("choices", []):
                if c.get("text"):
                    chunks += 1
                    if ttft is None:
                        ttft = time.time() - t0
    out.append((ttft or (time.time() - t0), usage if usage is not None else chunks))


def run_level(url, k, n):
    out, threads = [], []
    t0 = time.time()
    for i in range(k):
        t = threading.Thread(target=stream_one, args=(url, PROMPTS[i % len(PROMPTS)], n, out))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    wall = time.time() - t0
    toks = sum(o[1] for o in out)
    return toks / wall, statistics.median(o[0] for o in out)


def bench(name, cmd, url, proc_env, levels, n, reps):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=proc_env)
    rows = []
    try:
        wait_ready(url, proc)
        run_level(url, 1, 8)  # warm-up
        for k in levels:
            res = [run_level(url, k, n) for _ in range(reps)]
            tps = statistics.median(r[0] for r in res)
            ttft = statistics.median(r[1] for r in res)
            rows.append((k, tps, ttft))
            print(json.dumps({"engine": name, "streams": k, "tok_s": round(tps, 2), "ttft_s": round(ttft, 3)}),
                  flush=True)
    finally:
        proc.terminate()
        proc.wait()
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--llama-server")
    ap.add_argument("--model", required=True)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--levels", default="1 2 4 8")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split()]
    ctx = 512
    results = {}
    port = free_port()
    cmd = [a.hearth, "serve", "-m", a.model, "--port", str(port), "-np", "8", "-c", str(ctx)]
    if a.threads:
        cmd += ["-t", str(a.threads)]
    results["hearth"] = bench("hearth", cmd, f"http://127.0.0.1:{port}", os.environ, levels, a.n, a.reps)
    if a.llama_server and os.path.exists(a.llama_server):
        port = free_port()
        cmd = [a.llama_server, "-m", a.model, "--port", str(port), "-np", "8", "-c", str(ctx * 8), "--no-webui"]
        if a.threads:
            cmd += ["-t", str(a.threads)]
        results["llama-server"] = bench("llama-server", cmd, f"http://127.0.0.1:{port}", os.environ, levels, a.n,
                                        a.reps)
    print(f"\nmodel {os.path.basename(a.model)}, {a.n} tokens per stream, median of {a.reps}")
    hdr = "streams | hearth tok/s | hearth TTFT s"
    if "llama-server" in results:
        hdr += " | llama-server tok/s | llama-server TTFT s | ratio tok/s"
    print(hdr)
    for i, k in enumerate(levels):
        h = results["hearth"][i]
        line = f"{k:7d} | {h[1]:12.1f} | {h[2]:13.3f}"
        if "llama-server" in results:
            l = results["llama-server"][i]
            line += f" | {l[1]:18.1f} | {l[2]:19.3f} | {h[1] / l[1]:.2f}"
        print(line)


if __name__ == "__main__":
    sys.exit(main())
