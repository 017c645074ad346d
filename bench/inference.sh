#!/usr/bin/env bash
# bench/inference.sh — `hearth bench` next to llama.cpp's `llama-bench` in the same run, same
# model files, same threads; prints a table with the ratio hearth / llama.cpp and a JSON line per row.
# Models: the two real ones; with BENCH_SYNTHETIC="Q4_0 Q4_K_M ..." also Llama-3.2-1B-shaped
# random-weight files (scripts/make-synthetic-model.py). BENCH_THREADS (default "1 2"),
# BENCH_P (128), BENCH_N (64), BENCH_R (3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$(scripts/build-reference | tail -n 1)
models=("$(scripts/fetch-model smollm2-135m | tail -n 1)" "$(scripts/fetch-model gemma3-270m | tail -n 1)")
for t in ${BENCH_SYNTHETIC:-}; do
    models+=("$(.venv/bin/python scripts/make-synthetic-model.py --shape llama-1b --type "$t" | tail -n 1)")
done
exec .venv/bin/python bench/inference.py --hearth "${HEARTH_BUILD:-build}/hearth" --llama-bench "$bin/llama-bench" \
    --threads "${BENCH_THREADS:-1 2}" -p "${BENCH_P:-128}" -n "${BENCH_N:-64}" -r "${BENCH_R:-3}" "${models[@]}"
