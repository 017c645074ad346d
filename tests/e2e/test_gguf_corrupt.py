"""A matrix of corrupt GGUF files made from the real SmolLM2 model: each case mutates one
thing in a copy of the header and must be rejected by `hearth info` with exit status 1 (never a
signal) and its own message naming the problem and a byte offset.

The copies keep the real header and are extended to the real size as sparse files (the data
section reads as zeros), so the matrix costs a few MB of disk, not 98 MB per case.
"""
import os
import struct

import pytest

from conftest import run

# ---- a small independent parser that records where each field of the header sits


class Layout:
    def __init__(self, blob):
        self.kv = []       # (key, key_offset, type_offset, value_offset, value_type)
        self.tensors = []  # dict(name, name_off, ndims_off, ne_offs, type_off, offset_off, ne, type, offset)
        o = 24
        self.n_tensors, self.n_kv = struct.unpack_from("<QQ", blob, 8)

        def rd_str(o):
            n = struct.unpack_from("<Q", blob, o)[0]
            return blob[o + 8:o + 8 + n].decode(), o + 8 + n

        sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

        def skip_value(t, o):
            if t == 8:
                return rd_str(o)[1]
            if t == 9:
                et, n = struct.unpack_from("<IQ", blob, o)
                o += 12
                for _ in range(n):
                    o = skip_value(et, o) if et in (8, 9) else o + sizes[et]
                return o
            return o + sizes[t]

        for _ in range(self.n_kv):
            key, vo = rd_str(o)
            t = struct.unpack_from("<I", blob, vo)[0]
            self.kv.append((key, o, vo, vo + 4, t))
            o = skip_value(t, vo + 4)
        for _ in range(self.n_tensors):
            name, p = rd_str(o)
            nd = struct.unpack_from("<I", blob, p)[0]
            ne_offs = [p + 4 + 8 * i for i in range(nd)]
            ne = [struct.unpack_from("<Q", blob, x)[0] for x in ne_offs]
            type_off = p + 4 + 8 * nd
            t = struct.unpack_from("<I", blob, type_off)[0]
            off_off = type_off + 4
            self.tensors.append(dict(name=name, name_off=o, ndims_off=p, ne_offs=ne_offs, ne=ne, type_off=type_off,
                                     type=t, offset_off=off_off,
                                     offset=struct.unpack_from("<Q", blob, off_off)[0]))
            o = off_off + 8
        self.header_end = o
        self.data_start = (o + 31) // 32 * 32

    def key(self, name):
        return next(k for k in self.kv if k[0] == name)

    def tensor(self, pred):
        return next(t for t in self.tensors if pred(t))


@pytest.fixture(scope="module")
def real(smollm2):
    size = os.path.getsize(smollm2)
    with open(smollm2, "rb") as f:
        head = f.read(8 << 20)
    lay = Layout(head)
    assert lay.data_start < len(head)
    return dict(path=smollm2, size=size, head=bytearray(head[:lay.data_start]), lay=lay)


def put(b, off, fmt, *v):
    struct.pack_into(fmt, b, off, *v)


def same_len_pair(names):
    by_len = {}
    for n in names:
        by_len.setdefault(len(n), []).append(n)
    return next(v[:2] for v in by_len.values() if len(v) >= 2)


def case_bad_magic(r, b):
    b[0:4] = b"GGML"


def case_version_1(r, b):
    put(b, 4, "<I", 1)


def case_version_4(r, b):
    put(b, 4, "<I", 4)


def case_n_kv(r, b):
    put(b, 16, "<Q", 1 << 60)


def case_n_tensors(r, b):
    put(b, 8, "<Q", 1 << 58)


def case_key_length(r, b):
    put(b, r["lay"].kv[3][1], "<Q", 1 << 62)


def case_value_type(r, b):
    put(b, r["lay"].kv[2][2], "<I", 99)


def case_string_value_length(r, b):
    k = r["lay"].key("general.architecture")
    put(b, k[3], "<Q", 1 << 40)


def case_array_length(r, b):
    k = r["lay"].key("tokenizer.ggml.tokens")
    put(b, k[3] + 4, "<Q", 1 << 59)


def case_duplicate_key(r, b):
    lay = r["lay"]
    a, c = same_len_pair([k[0] for k in lay.kv])
    off = next(k for k in lay.kv if k[0] == c)[1]
    b[off + 8:off + 8 + len(a)] = a.encode()


def case_duplicate_tensor(r, b):
    lay = r["lay"]
    a, c = same_len_pair([t["name"] for t in lay.tensors])
    t = lay.tensor(lambda t: t["name"] == c)
    b[t["name_off"] + 8:t["name_off"] + 8 + len(a)] = a.encode()


def two_dim(r):
    return r["lay"].tensor(lambda t: len(t["ne"]) == 2)


def case_dims_overflow(r, b):
    t = two_dim(r)
    put(b, t["ne_offs"][0], "<Q", 1 << 35)
    put(b, t["ne_offs"][1], "<Q", 1 << 35)


def case_too_many_dims(r, b):
    put(b, two_dim(r)["ndims_off"], "<I", 7)


def case_type_out_of_range(r, b):
    put(b, two_dim(r)["type_off"], "<I", 200)


def case_type_retired(r, b):
    put(b, two_dim(r)["type_off"], "<I", 5)


def case_row_not_multiple(r, b):
    t = r["lay"].tensor(lambda t: t["type"] == 3)  # a Q4_1 tensor
    put(b, t["ne_offs"][0], "<Q", t["ne"][0] + 1)


def case_data_outside(r, b):
    t = max(r["lay"].tensors, key=lambda t: t["offset"])
    put(b, t["offset_off"], "<Q", t["offset"] + (64 << 20))


def case_overlap(r, b):
    ts = sorted(r["lay"].tensors, key=lambda t: t["offset"])
    put(b, ts[5]["offset_off"], "<Q", ts[4]["offset"])


def case_misaligned(r, b):
    t = r["lay"].tensors[10]
    put(b, t["offset_off"], "<Q", t["offset"] + 8)


def case_offset_overflow(r, b):
    put(b, r["lay"].tensors[0]["offset_off"], "<Q", (1 << 64) - 32)


def case_truncated_header(r, b):
    del b[r["lay"].kv[20][1] + 3:]


CASES = [
    ("bad_magic", case_bad_magic, "bad magic", None),
    ("version_1", case_version_1, "unsupported GGUF version 1", None),
    ("version_4", case_version_4, "unsupported GGUF version 4", None),
    ("n_kv", case_n_kv, "metadata count", None),
    ("n_tensors", case_n_tensors, "tensor count", None),
    ("key_length", case_key_length, "metadata key length", None),
    ("value_type", case_value_type, "value type 99", None),
    ("string_value_length", case_string_value_length, "string value length", None),
    ("array_length", case_array_length, "array of", None),
    ("duplicate_key", case_duplicate_key, "duplicate metadata key", None),
    ("duplicate_tensor", case_duplicate_tensor, "duplicate tensor name", None),
    ("dims_overflow", case_dims_overflow, "product of its dimensions overflows", None),
    ("too_many_dims", case_too_many_dims, "has 7 dimensions", None),
    ("type_out_of_range", case_type_out_of_range, "type id 200, out of range", None),
    ("type_retired", case_type_retired, "type id 5, a type retired", None),
    ("row_not_multiple", case_row_not_multiple, "is not a multiple of the Q4_1 block size", None),
    ("data_outside", case_data_outside, "lies outside the file", None),
    ("overlap", case_overlap, "overlaps tensor", None),
    ("misaligned", case_misaligned, "is not a multiple of the alignment", None),
    ("offset_overflow", case_offset_overflow, "lies outside the file", None),
    ("truncated_header", case_truncated_header, "runs past the end of the file", "short"),
    ("truncated_data", None, "lies outside the file", "cut"),
]


@pytest.mark.parametrize("name,mutate,want,size_mode", CASES, ids=[c[0] for c in CASES])
def test_corrupt_file_rejected(hearth, real, tmp_path, name, mutate, want, size_mode):
    b = bytearray(real["head"])
    if mutate:
        mutate(real, b)
    path = tmp_path / f"{name}.gguf"
    with open(path, "wb") as f:
        f.write(b)
        if size_mode is None:
            f.truncate(real["size"])          # sparse: the real size, zeros for data
        elif size_mode == "cut":
            f.truncate(real["size"] - 4096)   # the last tensor runs past the end
    p = run([hearth, "info", str(path)])
    err = p.stderr.decode()
    assert p.returncode == 1, f"{name}: exit {p.returncode}, stderr {err!r}"
    assert want in err, f"{name}: {err!r} lacks {want!r}"
    assert "at byte offset" in err, err


def test_messages_are_distinct(hearth, real, tmp_path):
    """Each case gets its own message (the matrix is not one generic 'bad file')."""
    msgs = set()
    for name, mutate, want, size_mode in CASES:
        if size_mode:
            continue
        b = bytearray(real["head"])
        mutate(real, b)
        path = tmp_path / f"{name}.gguf"
        with open(path, "wb") as f:
            f.write(b)
            f.truncate(real["size"])
        msgs.add(run([hearth, "info", str(path)]).stderr.decode().split(": gguf: ")[-1].split(" (at")[0])
    assert len(msgs) >= 15, msgs


def test_unmodified_sparse_copy_is_accepted(hearth, real, tmp_path):
    """The control: the same header, same size, no mutation, opens fine."""
    path = tmp_path / "control.gguf"
    with open(path, "wb") as f:
        f.write(real["head"])
        f.truncate(real["size"])
    p = run([hearth, "info", "--json", str(path)])
    assert p.returncode == 0, p.stderr
