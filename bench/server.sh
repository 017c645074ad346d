#!/usr/bin/env bash
# bench/server.sh — `hearth serve` next to llama.cpp's llama-server: aggregate tokens/s, time
# to first token and server CPU ms per generated token at 1, 2, 4, 8 concurrent streaming
# /v1/completions (bench/server.py; the two engines alternate, medians of BENCH_R repetitions).
# llama-server comes from scripts/build-reference (skipped when BENCH_NO_REF is set).
#   BENCH_MODEL   a model file or one of: smollm2 (default, the real SmolLM2-135M Q4_1),
#                 smollm2-q4_0, llama1b-q4_0 (synthetic, from scripts/make-synthetic-model.py)
#   BENCH_N (48 tokens per stream), BENCH_R (3), BENCH_THREADS (0: each engine's default),
#   BENCH_LEVELS ("1 2 4 8"), BENCH_PROMPT_TOKENS (16: prompt length, sent as token ids),
#   BENCH_JSON (append summary rows to this file)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case "${BENCH_MODEL:-smollm2}" in
    smollm2) model=$(scripts/fetch-model smollm2-135m | tail -n 1) ;;
    smollm2-q4_0) model=$(.venv/bin/python scripts/make-synthetic-model.py --shape smollm2-135m --type Q4_0 | tail -n 1) ;;
    llama1b-q4_0) model=$(.venv/bin/python scripts/make-synthetic-model.py --shape llama-1b --type Q4_0 | tail -n 1) ;;
    *) model=$BENCH_MODEL ;;
esac
ref=()
if [ -z "${BENCH_NO_REF:-}" ]; then bin=$(scripts/build-reference | tail -n 1); ref=(--llama-server "$bin/llama-server"); fi
json=()
if [ -n "${BENCH_JSON:-}" ]; then json=(--json-out "$BENCH_JSON"); fi
exec .venv/bin/python bench/server.py --hearth "${HEARTH_BUILD:-build}/hearth" "${ref[@]}" --model "$model" \
    --n "${BENCH_N:-48}" --reps "${BENCH_R:-3}" --threads "${BENCH_THREADS:-0}" --levels "${BENCH_LEVELS:-1 2 4 8}" \
    --prompt-tokens "${BENCH_PROMPT_TOKENS:-16}" "${json[@]}"
