#!/usr/bin/env bash
# bench/server.sh — `hearth serve` next to llama.cpp's llama-server: aggregate tokens/s and time
# to first token at 1, 2, 4, 8 concurrent streaming /v1/completions (bench/server.py).
# llama-server comes from scripts/build-reference (skipped when BENCH_NO_REF is set).
# BENCH_MODEL (default: SmolLM2), BENCH_N (48 tokens per stream), BENCH_R (2), BENCH_THREADS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model=${BENCH_MODEL:-$(scripts/fetch-model smollm2-135m | tail -n 1)}
ref=()
if [ -z "${BENCH_NO_REF:-}" ]; then bin=$(scripts/build-reference | tail -n 1); ref=(--llama-server "$bin/llama-server"); fi
exec .venv/bin/python bench/server.py --hearth "${HEARTH_BUILD:-build}/hearth" "${ref[@]}" --model "$model" \
    --n "${BENCH_N:-48}" --reps "${BENCH_R:-2}" --threads "${BENCH_THREADS:-0}"
