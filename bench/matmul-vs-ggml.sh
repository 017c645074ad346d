#!/usr/bin/env bash
# bench/matmul-vs-ggml.sh — hearth's matmul kernels against the reference's own (ggml's mul_mat,
# from the scripts/build-reference build) on the same weights and activations, in one process,
# alternately (bench/matmul_vs_ggml.c): milliseconds, GFLOP/s, the ratio (>1: hearth faster) and
# the largest output difference relative to the largest output (0: the same bits).  Kernel
# speed alone, without the rest of a model run; the shapes are the 1B model's prompt matmuls.
# ggml here runs its plain path: llama.cpp's load-time repacking of Q4_0/Q4_K (its CPU extra
# buffer types) does not apply, so only F16 and Q8_0 (which llama-bench runs through the same
# tinyBLAS code) stand for llama.cpp's real speed; other types compare with ggml's plain kernels.
#   MATMUL_SHAPES  "TYPE ROWS COLS TOKENS LAYERS" entries, ';'-separated [1B-shape Q/O, FFN up, FFN down at pp128 for F16 and Q8_0]
#   MATMUL_THREADS [1 2]   MATMUL_REPS [5]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$(scripts/build-reference | tail -n 1)
inc=$(ls -d "${HEARTH_REF:-$HOME/.cache/hearth/ref}"/llama_cpp_python-*/vendor/llama.cpp/ggml/include | head -n 1)
build=${HEARTH_BUILD:-build}
[ -f "$build/libhearth.a" ] || make -s BUILD="$build" all
exe=$build/bench/matmul_vs_ggml
mkdir -p "$(dirname "$exe")"
cc -O2 -march=native -std=c11 -D_GNU_SOURCE -Isrc -Iinclude -I"$inc" bench/matmul_vs_ggml.c "$build/libhearth.a" \
    -L"$bin" -Wl,-rpath,"$bin" -lggml -lggml-base -lggml-cpu -lm -lpthread -o "$exe"
shapes=${MATMUL_SHAPES:-"F16 2048 2048 128 4;F16 8192 2048 128 2;F16 2048 8192 128 2;Q8_0 2048 2048 128 4;Q8_0 8192 2048 128 2;Q8_0 2048 8192 128 2"}
echo "| type | rows x cols | tokens | threads | hearth ms | ggml ms | hearth GFLOP/s | ggml GFLOP/s | ratio | max diff / max |"
echo "|---|---|---|---|---|---|---|---|---|---|"
IFS=';' read -ra list <<< "$shapes"
for t in ${MATMUL_THREADS:-1 2}; do
    for s in "${list[@]}"; do
        read -r ty r c n l <<< "$s"
        "$exe" "$ty" "$r" "$c" "$n" "$l" "$t" "${MATMUL_REPS:-5}"
    done
done
