#!/usr/bin/env bash
# bench/cputime.sh — hearth vs llama.cpp in CPU milliseconds per token, for a shared or loaded
# machine where wall-clock tokens/s swing with other people's jobs.  For each tool, `perf stat`
# measures the task-clock of two runs that differ only in size (pp: 256 vs 64 prompt tokens;
# tg: 64 vs 16 generated tokens); the difference divided by the extra tokens removes loading and
# set-up.  Both tools run -r 3 plus their warm-up (a full run for hearth and for llama-bench's
# pp, one token for llama-bench's tg).  With 1 thread CPU time is the work done; with more it
# also counts spinning, so compare wall-clock (bench/inference.sh) there.
# usage: bench/cputime.sh MODEL [THREADS=1] [pp|tg|both]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
m=$1; t=${2:-1}; kinds=${3:-both}
h=${HEARTH_BUILD:-$root/build}/hearth
lb=${LLAMA_BENCH:-$("$root/scripts/build-reference" | tail -n 1)/llama-bench}
tc() { perf stat -x, -e task-clock "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ {print $1}'; }
[ "$kinds" = both ] && kinds="pp tg"
for k in $kinds; do
    if [ "$k" = tg ]; then a="-p 0 -n 64"; b="-p 0 -n 16"; d=48; lruns=3; else a="-p 256 -n 0"; b="-p 64 -n 0"; d=192; lruns=4; fi
    h1=$(tc "$h" bench -m "$m" $a -r 3 -t "$t"); h2=$(tc "$h" bench -m "$m" $b -r 3 -t "$t")
    l1=$(tc "$lb" -m "$m" $a -r 3 -t "$t"); l2=$(tc "$lb" -m "$m" $b -r 3 -t "$t")
    python3 -c "
h = ($h1 - $h2) / 4 / $d; l = ($l1 - $l2) / $lruns / $d
print(f'$(basename "$m") $k t=$t  hearth {h:.2f} cpu-ms/tok  llama.cpp {l:.2f} cpu-ms/tok  ratio {l / h:.2f}')"
done
