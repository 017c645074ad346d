/*
 * gguf_write.h — builds GGUF v3 images in memory (for `quantize`, tests and fuzz seeds).
 * Keys and tensors are written in the order added; tensor data is padded to the alignment.
 * The writer does not validate uniqueness: tests use it to build deliberately bad files.
 */
#ifndef HEARTH_GGUF_WRITE_H
#define HEARTH_GGUF_WRITE_H

#include "core/core.h"
#include "gguf/gguf.h"

typedef struct gguf_writer {
    hearth_buf kv;        /* serialized key/value pairs */
    hearth_buf infos;     /* serialized tensor infos */
    hearth_buf data;      /* tensor data, each tensor aligned */
    uint64_t   n_kv;
    uint64_t   n_tensors;
    uint32_t   version;   /* written into the header; default 3 */
    uint32_t   alignment; /* default 32; set general.alignment yourself to change it */
    bool       failed;    /* an allocation failed: the result is unusable */
} gguf_writer;

void gguf_writer_init(gguf_writer *w);
void gguf_writer_free(gguf_writer *w);

void gguf_write_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_write_i32(gguf_writer *w, const char *key, int32_t v);
void gguf_write_u64(gguf_writer *w, const char *key, uint64_t v);
void gguf_write_f32(gguf_writer *w, const char *key, float v);
void gguf_write_bool(gguf_writer *w, const char *key, bool v);
void gguf_write_str(gguf_writer *w, const char *key, const char *v);
/* An array of n fixed-size elements of type t (raw little-endian bytes). */
void gguf_write_arr(gguf_writer *w, const char *key, gguf_vtype t, const void *elems, uint64_t n);
void gguf_write_arr_str(gguf_writer *w, const char *key, const char *const *strs, uint64_t n);

/* A tensor of n_dims dims; data holds its n_bytes (may be NULL: zeros). */
void gguf_write_tensor(gguf_writer *w, const char *name, hearth_type type, uint32_t n_dims, const int64_t *ne,
                       const void *data);

/* Appends the whole file image to out. Returns false on allocation failure. */
bool gguf_writer_finish(gguf_writer *w, hearth_buf *out);

#endif /* HEARTH_GGUF_WRITE_H */
