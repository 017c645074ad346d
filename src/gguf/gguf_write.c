/* gguf_write.c — in-memory GGUF v3 writer (see gguf_write.h). */
#include "gguf/gguf_write.h"

#include <string.h>

static void put(gguf_writer *w, hearth_buf *b, const void *p, size_t n) {
    if (!hearth_buf_append(b, p, n)) w->failed = true;
}

static void put_le(gguf_writer *w, hearth_buf *b, uint64_t v, unsigned n) {
    uint8_t tmp[8];
    for (unsigned i = 0; i < n; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    put(w, b, tmp, n);
}

static void put_str(gguf_writer *w, hearth_buf *b, const char *s) {
    size_t n = strlen(s);
    put_le(w, b, n, 8);
    put(w, b, s, n);
}

static void put_key(gguf_writer *w, const char *key, gguf_vtype t) {
    put_str(w, &w->kv, key);
    put_le(w, &w->kv, (uint32_t)t, 4);
    w->n_kv++;
}

void gguf_writer_init(gguf_writer *w) {
    memset(w, 0, sizeof *w);
    w->version   = 3;
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    hearth_buf_free(&w->kv);
    hearth_buf_free(&w->infos);
    hearth_buf_free(&w->data);
}

void gguf_write_u32(gguf_writer *w, const char *key, uint32_t v) { put_key(w, key, GGUF_VT_UINT32); put_le(w, &w->kv, v, 4); }
void gguf_write_i32(gguf_writer *w, const char *key, int32_t v) { put_key(w, key, GGUF_VT_INT32); put_le(w, &w->kv, (uint32_t)v, 4); }
void gguf_write_u64(gguf_writer *w, const char *key, uint64_t v) { put_key(w, key, GGUF_VT_UINT64); put_le(w, &w->kv, v, 8); }
void gguf_write_bool(gguf_writer *w, const char *key, bool v) { put_key(w, key, GGUF_VT_BOOL); put_le(w, &w->kv, v ? 1 : 0, 1); }
void gguf_write_str(gguf_writer *w, const char *key, const char *v) { put_key(w, key, GGUF_VT_STRING); put_str(w, &w->kv, v); }

void gguf_write_f32(gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    put_key(w, key, GGUF_VT_FLOAT32);
    put_le(w, &w->kv, u, 4);
}

void gguf_write_arr(gguf_writer *w, const char *key, gguf_vtype t, const void *elems, uint64_t n) {
    put_key(w, key, GGUF_VT_ARRAY);
    put_le(w, &w->kv, (uint32_t)t, 4);
    put_le(w, &w->kv, n, 8);
    put(w, &w->kv, elems, (size_t)(n * gguf_vtype_size(t)));
}

void gguf_write_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    put_key(w, key, GGUF_VT_ARRAY);
    put_le(w, &w->kv, GGUF_VT_STRING, 4);
    put_le(w, &w->kv, n, 8);
    for (uint64_t i = 0; i < n; i++) put_str(w, &w->kv, strs[i]);
}

void gguf_write_tensor(gguf_writer *w, const char *name, hearth_type type, uint32_t n_dims, const int64_t *ne,
                       const void *data) {
    uint64_t n_el = 1;
    put_str(w, &w->infos, name);
    put_le(w, &w->infos, n_dims, 4);
    for (uint32_t d = 0; d < n_dims; d++) {
        put_le(w, &w->infos, (uint64_t)ne[d], 8);
        n_el *= (uint64_t)ne[d];
    }
    put_le(w, &w->infos, (uint32_t)type, 4);
    size_t pad = (w->alignment - w->data.len % w->alignment) % w->alignment;
    static const uint8_t zeros[64];
    put(w, &w->data, zeros, pad);
    put_le(w, &w->infos, w->data.len, 8);
    const hearth_type_traits *tt = hearth_type_get(type);
    size_t bytes = tt ? (size_t)(n_el / (uint64_t)tt->block_size * tt->type_size) : 0;
    if (data) {
        put(w, &w->data, data, bytes);
    } else {
        while (bytes > 0) {
            size_t k = bytes < sizeof zeros ? bytes : sizeof zeros;
            put(w, &w->data, zeros, k);
            bytes -= k;
        }
    }
    w->n_tensors++;
}

bool gguf_writer_finish(gguf_writer *w, hearth_buf *out) {
    hearth_buf *b = out;
    put_le(w, b, GGUF_MAGIC, 4);
    put_le(w, b, w->version, 4);
    put_le(w, b, w->n_tensors, 8);
    put_le(w, b, w->n_kv, 8);
    put(w, b, w->kv.data, w->kv.len);
    put(w, b, w->infos.data, w->infos.len);
    if (w->n_tensors) {
        static const uint8_t zeros[64];
        size_t pad = (w->alignment - b->len % w->alignment) % w->alignment;
        put(w, b, zeros, pad);
        put(w, b, w->data.data, w->data.len);
    }
    return !w->failed;
}
