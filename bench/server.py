#!/usr/bin/env python3
"""bench/server.py — aggregate generated tokens/s and time to first token of `hearth serve`
at 1, 2, 4 and 8 concurrent streams, side by side with llama.cpp's llama-server on the same
model file (when --llama-server is given).  Each stream is a streaming /v1/completions request
of --n tokens (ignore_eos, temperature 0).  Prompts are sent as token ids, --prompt-tokens of them
(default 16, about one sentence of real text): both engines get exactly the same tokens, and the
synthetic test models, whose made-up vocabulary spells ordinary text out letter by letter (a
sentence becomes some 80 tokens), do not turn a decode benchmark into a prefill one.  The ids are
those of real sentences, as the model's own tokenizer (`hearth tokenize --ids`) gives them,
cycled to length; the first id varies per request so that no server reuses a cached prefix.

Both servers are started once and stay up; for every level and repetition the two engines run
back to back, the first of the pair alternating, so that a burst of load from elsewhere on a
shared machine hits both about equally.  Medians over the repetitions are reported, with the
server process's CPU time (user + system, all threads, from /proc) per generated token, which
load from other processes disturbs much less than wall-clock time.
Prints one JSON line per measurement, then a table.  Not a test: numbers depend on the machine
and its load."""
import argparse
import json
import os
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
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_ready(url, proc, timeout=600):
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


def prompt_ids(hearth, model, n_tokens):
    """Token ids of each of PROMPTS (no BOS/EOS), repeated or cut to n_tokens."""
    out = []
    for text in PROMPTS:
        r = subprocess.run([hearth, "tokenize", "--ids", "--no-special", "-m", model, text], capture_output=True,
                           text=True, check=True)
        ids = [int(x) for x in r.stdout.split()]
        out.append([ids[i % len(ids)] for i in range(n_tokens)])
    return out


def stream_one(url, prompt, n, out):
    body = json.dumps({"prompt": prompt, "max_tokens": n, "temperature": 0, "stream": True, "ignore_eos": True,
                       "stream_options": {"include_usage": True}}).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    t0 = time.time()
    ttft, chunks, usage = None, 0, None
    with urllib.request.urlopen(req, timeout=900) as r:
        for line in r:
            line = line.strip()
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            j = json.loads(line[6:])
            if j.get("usage"):
                usage = j["usage"]["completion_tokens"]
            for c in j.get("choices", []):
                # the first chunk that carries a token (its text may be empty: a partial UTF-8 character)
                if ttft is None and (c.get("text") or c.get("finish_reason") is None):
                    ttft = time.time() - t0
                if c.get("text"):
                    chunks += 1
    out.append((ttft or (time.time() - t0), usage if usage is not None else n))


SERIAL = [0]
PROMPT_IDS = []  # per text prompt, its ids (set in main)
FIRST_IDS = []   # ids to start prompts with, each used once


def run_level(url, pid, k, n, offset):
    """k concurrent streams: (aggregate tok/s, median TTFT s, server CPU ms per generated token).
    Every prompt starts with a token id never used first before, so no server reuses a cached
    prefix: time to first token includes the prompt's prefill."""
    out, threads = [], []
    c0 = cpu_seconds(pid)
    t0 = time.time()
    for i in range(k):
        SERIAL[0] += 1
        ids = PROMPT_IDS[(i + offset) % len(PROMPT_IDS)]
        prompt = [FIRST_IDS[SERIAL[0] % len(FIRST_IDS)]] + ids[1:]
        t = threading.Thread(target=stream_one, args=(url, prompt, n, out))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    wall = time.time() - t0
    cpu = cpu_seconds(pid) - c0
    toks = sum(o[1] for o in out)
    return toks / wall, statistics.median(o[0] for o in out), 1000.0 * cpu / max(toks, 1)


class Server:
    def __init__(self, name, cmd, port):
        self.name, self.url = name, f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--llama-server")
    ap.add_argument("--model", required=True)
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--prompt-tokens", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--levels", default="1 2 4 8")
    ap.add_argument("--json-out", help="append the summary rows to this file (JSON lines)")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split()]
    ctx = 512
    PROMPT_IDS[:] = prompt_ids(a.hearth, a.model, a.prompt_tokens)
    # first ids: 20000 distinct ids in [1000, 21000) (7919 is prime to 20000); every model
    # benchmarked here has a larger vocabulary
    FIRST_IDS[:] = [1000 + (i * 7919) % 20000 for i in range(20000)]
    servers = []
    try:
        port = free_port()
        cmd = [a.hearth, "serve", "-m", a.model, "--port", str(port), "-np", "8", "-c", str(ctx)]
        if a.threads:
            cmd += ["-t", str(a.threads)]
        servers.append(Server("hearth", cmd, port))
        if a.llama_server and os.path.exists(a.llama_server):
            port = free_port()
            cmd = [a.llama_server, "-m", a.model, "--port", str(port), "-np", "8", "-c", str(ctx * 8), "--no-webui"]
            if a.threads:
                cmd += ["-t", str(a.threads)]
            servers.append(Server("llama-server", cmd, port))
        for s in servers:
            wait_ready(s.url, s.proc)
            run_level(s.url, s.proc.pid, max(levels), 8, 0)  # warm-up, every slot used once
        res = {s.name: {k: [] for k in levels} for s in servers}
        for k in levels:
            for rep in range(a.reps):
                order = servers if rep % 2 == 0 else servers[::-1]
                for s in order:
                    r = run_level(s.url, s.proc.pid, k, a.n, rep)
                    res[s.name][k].append(r)
                    print(json.dumps({"engine": s.name, "streams": k, "rep": rep, "tok_s": round(r[0], 2),
                                      "ttft_s": round(r[1], 3), "cpu_ms_per_tok": round(r[2], 1)}), flush=True)
    finally:
        for s in servers:
            s.stop()

    def med(name, k, i):
        return statistics.median(r[i] for r in res[name][k])

    names = [s.name for s in servers]
    print(f"\nmodel {os.path.basename(a.model)}, {a.n} tokens per stream, median of {a.reps}")
    hdr = "| streams | " + " | ".join(f"{n} tok/s | {n} TTFT s | {n} CPU ms/tok" for n in names)
    if len(names) == 2:
        hdr += " | tok/s ratio | TTFT ratio (ref/hearth) | CPU ratio (ref/hearth)"
    print(hdr)
    rows = []
    for k in levels:
        line = f"| {k} | " + " | ".join(f"{med(n, k, 0):.1f} | {med(n, k, 1):.3f} | {med(n, k, 2):.1f}" for n in names)
        row = {"model": os.path.basename(a.model), "streams": k, "n": a.n, "reps": a.reps}
        for n in names:
            row[n] = {"tok_s": med(n, k, 0), "ttft_s": med(n, k, 1), "cpu_ms_per_tok": med(n, k, 2)}
        if len(names) == 2:
            h, l = names
            line += (f" | {med(h, k, 0) / med(l, k, 0):.2f} | {med(l, k, 1) / med(h, k, 1):.2f}"
                     f" | {med(l, k, 2) / med(h, k, 2):.2f}")
        print(line + " |")
        rows.append(row)
    if a.json_out:
        with open(a.json_out, "a") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
