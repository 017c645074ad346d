#!/usr/bin/env bash
# Tokenizer throughput, hearth vs llama.cpp (see bench/tokenize.py).
root=$(cd "$(dirname "$0")/.." && pwd)
py=${HEARTH_REF_PYTHON:-$HOME/.cache/hearth/refvenv/bin/python}
[ -x "$py" ] || py=python3
exec "$py" "$root/bench/tokenize.py" "$@"
