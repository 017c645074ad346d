#!/usr/bin/env python3
"""Runs `hearth bench --json` and `llama-bench -o json` on the same models and threads and
prints tokens/s side by side with the ratio. Used by bench/inference.sh."""
import argparse
import json
import os
import subprocess
import sys


def run_json(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"# failed: {' '.join(cmd)}\n{p.stderr[-500:]}", file=sys.stderr)
        return []
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--llama-bench", required=True)
    ap.add_argument("--threads", default="1 2")
    ap.add_argument("-p", type=int, default=128)
    ap.add_argument("-n", type=int, default=64)
    ap.add_argument("-r", type=int, default=3)
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()
    rows = []
    print(f"{'model':34} {'test':8} {'thr':>3} {'hearth t/s':>11} {'llama t/s':>10} {'ratio':>6}")
    for m in a.models:
        for t in a.threads.split():
            common = ["-p", str(a.p), "-n", str(a.n), "-r", str(a.r), "-t", t]
            ours = run_json([a.hearth, "bench", "-m", m, "--json"] + common)
            ref = run_json([a.llama_bench, "-m", m, "-o", "json"] + common)
            for kind, key in (("pp", "n_prompt"), ("tg", "n_gen")):
                o = next((x for x in ours if x.get(key) and not x.get("n_gen" if key == "n_prompt" else "n_prompt")),
                         None)
                r = next((x for x in ref if x.get(key) and not x.get("n_gen" if key == "n_prompt" else "n_prompt")),
                         None)
                ov, rv = (o or {}).get("avg_ts"), (r or {}).get("avg_ts")
                ratio = ov / rv if ov and rv else None
                test = f"{kind}{a.p if kind == 'pp' else a.n}"
                print(f"{os.path.basename(m)[:34]:34} {test:8} {t:>3} {ov or 0:11.1f} {rv or 0:10.1f} "
                      f"{ratio or 0:6.2f}")
                rows.append(dict(model=os.path.basename(m), test=test, threads=int(t), hearth_ts=ov, llama_ts=rv,
                                 ratio=ratio))
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
