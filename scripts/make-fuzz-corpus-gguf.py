#!/usr/bin/env python3
"""Writes the seed corpus of the GGUF fuzz harness (tests/fuzz/corpus/gguf/): small files made
with the reference writer (the `gguf` Python package) covering every value type, arrays of
strings and of arrays, several tensor types and alignments, plus the first bytes of a real model.
Crashers found later are added to the same directory by hand, under a name saying what they were.

Usage: .venv/bin/python scripts/make-fuzz-corpus-gguf.py
"""
import os
import subprocess

import numpy as np
import gguf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "gguf")


def write(name, build, alignment=None):
    path = os.path.join(OUT, name)
    w = gguf.GGUFWriter(path, "llama")
    if alignment:
        w.add_custom_alignment(alignment)
    build(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def all_values(w):
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -5)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -300)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -70000)
    w.add_float32("t.f32", 1.5)
    w.add_uint64("t.u64", 1 << 50)
    w.add_int64("t.i64", -(1 << 50))
    w.add_float64("t.f64", -2.25)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "h\u00e9llo")
    w.add_array("t.arr_str", ["a", "bb", "", "\u2581x"])
    w.add_array("t.arr_i32", [1, -2, 3])
    w.add_array("t.arr_f32", [0.5, 1.5])
    w.add_array("t.arr_arr", [[1, 2], [3]])


def tensors(w):
    w.add_uint32("llama.block_count", 1)
    rng = np.random.default_rng(0)
    w.add_tensor("f32", rng.standard_normal((2, 8)).astype(np.float32))
    w.add_tensor("f16", rng.standard_normal((4,)).astype(np.float16))
    q = rng.integers(0, 255, size=(2, 18), dtype=np.uint8)  # two Q4_0 rows of 32
    w.add_tensor("q4_0", q, raw_shape=(2, 18), raw_dtype=gguf.GGMLQuantizationType.Q4_0)


def main():
    os.makedirs(OUT, exist_ok=True)
    write("values.gguf", all_values)
    write("tensors.gguf", tensors)
    write("tensors-align64.gguf", tensors, alignment=64)
    write("empty.gguf", lambda w: None)
    model = subprocess.run([os.path.join(ROOT, "scripts", "fetch-model"), "smollm2-135m"], capture_output=True,
                           text=True).stdout.strip().splitlines()
    if model:
        with open(model[-1], "rb") as f:
            head = f.read(4096)
        with open(os.path.join(OUT, "smollm2-head4k.gguf"), "wb") as f:
            f.write(head)


if __name__ == "__main__":
    main()
