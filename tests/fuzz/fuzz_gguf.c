/* fuzz_gguf.c — libFuzzer harness for the GGUF reader: parse arbitrary bytes, then walk
 * every key, value, array item and tensor view the reader hands out. */
#include "gguf/gguf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t walk_value(const gguf_value *v) {
    uint64_t h = (uint64_t)v->type;
    if (v->type == GGUF_VT_STRING) {
        for (uint64_t i = 0; i < v->v.str.len; i++) h += (uint8_t)v->v.str.ptr[i];
    } else if (v->type == GGUF_VT_ARRAY) {
        const gguf_array *a = &v->v.arr;
        for (uint64_t i = 0; i < a->n; i++) {
            if (a->elem == GGUF_VT_STRING) h += a->strs[i].len ? (uint8_t)a->strs[i].ptr[a->strs[i].len - 1] : 0;
            else if (a->elem == GGUF_VT_ARRAY) h += walk_value(&a->items[i]);
            else {
                double d = gguf_arr_f64(a, i);
                uint64_t bits;
                memcpy(&bits, &d, sizeof bits);
                h += (uint64_t)gguf_arr_i64(a, i) + bits;
            }
        }
    } else {
        int64_t i;
        double d;
        if (gguf_value_i64(v, &i)) h += (uint64_t)i;
        if (gguf_value_f64(v, &d)) h += (uint64_t)(d == d);
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file *g = NULL;
    char err[256];
    if (gguf_open_memory(data, size, &g, err, sizeof err) != HEARTH_OK) return 0;
    volatile uint64_t sink = 0;
    for (int64_t i = 0; i < gguf_n_kv(g); i++) {
        const gguf_kv *kv = gguf_kv_at(g, i);
        sink += walk_value(&kv->value);
        if (gguf_find(g, kv->key) != &kv->value) __builtin_trap();
    }
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        if (gguf_find_tensor(g, t->name) != t) __builtin_trap();
        if (t->n_bytes) sink += t->data[0] + t->data[t->n_bytes - 1];
    }
    (void)sink;
    gguf_free(g);
    return 0;
}
