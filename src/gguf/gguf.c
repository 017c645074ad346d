/*
 * gguf.c — bounded GGUF v2/v3 reader (see gguf.h).
 *
 * Layout: magic "GGUF", u32 version, u64 n_tensors, u64 n_kv, then n_kv pairs
 * (string key, u32 value type, value), then n_tensors infos (string name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset), padding to `general.alignment`, the data section.
 * All integers little-endian.  Strings are u64 length + bytes.
 */
#include "gguf/gguf.h"

#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_MAX_ARRAY_DEPTH 8

/* a name table: open addressing over indices, FNV-1a hashed */
typedef struct name_table {
    int64_t *slots; /* index + 1, 0 = empty */
    uint64_t mask;
} name_table;

struct gguf_file {
    const uint8_t *base;
    uint64_t       size;
    void          *map;      /* non-NULL when we own an mmap */
    size_t         map_size;
    uint32_t       version;
    uint32_t       alignment;
    uint64_t       data_offset;
    int64_t        n_kv;
    gguf_kv       *kv;
    int64_t        n_tensors;
    gguf_tensor   *tensors;
    name_table     kv_names;
    name_table     tensor_names;
    hearth_arena   arena;
};

/* the parse cursor */
typedef struct reader {
    const uint8_t *p;
    uint64_t       size;
    uint64_t       off;
    char          *err;
    size_t         err_size;
    hearth_arena  *arena;
} reader;

#define FAIL(r, at, ...)                                                                  \
    do {                                                                                  \
        char msg_[256];                                                                   \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                                         \
        hearth_err((r)->err, (r)->err_size, HEARTH_ERR_FORMAT, "gguf: %s (at byte offset %llu)", \
                   msg_, (unsigned long long)(at));                                       \
        return false;                                                                     \
    } while (0)

static uint64_t remaining(const reader *r) { return r->size - r->off; }

static bool need(reader *r, uint64_t n, const char *what) {
    if (n > remaining(r))
        FAIL(r, r->off, "%s runs past the end of the file (needs %llu bytes, %llu left)", what,
             (unsigned long long)n, (unsigned long long)remaining(r));
    return true;
}

static uint64_t rd_le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool rd_u32(reader *r, uint32_t *v, const char *what) {
    if (!need(r, 4, what)) return false;
    *v = (uint32_t)rd_le(r->p + r->off, 4);
    r->off += 4;
    return true;
}

static bool rd_u64(reader *r, uint64_t *v, const char *what) {
    if (!need(r, 8, what)) return false;
    *v = rd_le(r->p + r->off, 8);
    r->off += 8;
    return true;
}

static bool rd_str(reader *r, gguf_str *s, const char *what) {
    uint64_t at = r->off, len;
    if (!rd_u64(r, &len, what)) return false;
    if (len > remaining(r))
        FAIL(r, at, "%s length %llu runs past the end of the file (%llu bytes left)", what,
             (unsigned long long)len, (unsigned long long)remaining(r));
    s->ptr = (const char *)r->p + r->off;
    s->len = len;
    r->off += len;
    return true;
}

size_t gguf_vtype_size(gguf_vtype t) {
    switch (t) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

const char *gguf_vtype_name(gguf_vtype t) {
    static const char *const names[GGUF_VT_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    return (unsigned)t < GGUF_VT_COUNT ? names[t] : "unknown";
}

static void decode_scalar(gguf_vtype t, const uint8_t *p, gguf_value *v) {
    v->type = t;
    switch (t) {
    case GGUF_VT_UINT8:  v->v.u64 = p[0]; break;
    case GGUF_VT_UINT16: v->v.u64 = rd_le(p, 2); break;
    case GGUF_VT_UINT32: v->v.u64 = rd_le(p, 4); break;
    case GGUF_VT_UINT64: v->v.u64 = rd_le(p, 8); break;
    case GGUF_VT_INT8:   v->v.i64 = (int8_t)p[0]; break;
    case GGUF_VT_INT16:  v->v.i64 = (int16_t)rd_le(p, 2); break;
    case GGUF_VT_INT32:  v->v.i64 = (int32_t)rd_le(p, 4); break;
    case GGUF_VT_INT64:  v->v.i64 = (int64_t)rd_le(p, 8); break;
    case GGUF_VT_BOOL:   v->v.b = p[0] != 0; break;
    case GGUF_VT_FLOAT32: {
        uint32_t u = (uint32_t)rd_le(p, 4);
        float f;
        memcpy(&f, &u, 4);
        v->v.f64 = f;
        break;
    }
    case GGUF_VT_FLOAT64: {
        uint64_t u = rd_le(p, 8);
        memcpy(&v->v.f64, &u, 8);
        break;
    }
    default: break;
    }
}

static bool rd_value(reader *r, gguf_vtype t, gguf_value *v, int depth);

static bool rd_array(reader *r, gguf_array *a, int depth) {
    uint64_t at = r->off;
    uint32_t elem;
    if (depth >= GGUF_MAX_ARRAY_DEPTH) FAIL(r, at, "arrays nested deeper than %d", GGUF_MAX_ARRAY_DEPTH);
    if (!rd_u32(r, &elem, "array element type")) return false;
    if (elem >= GGUF_VT_COUNT) FAIL(r, at, "array element type %u out of range", elem);
    uint64_t n;
    if (!rd_u64(r, &n, "array length")) return false;
    a->elem = (gguf_vtype)elem;
    a->n    = n;
    size_t esz = gguf_vtype_size(a->elem);
    if (esz) {
        uint64_t bytes;
        if (!hearth_mul_u64(n, esz, &bytes) || bytes > remaining(r))
            FAIL(r, at, "array of %llu %s elements runs past the end of the file", (unsigned long long)n,
                 gguf_vtype_name(a->elem));
        a->data = r->p + r->off;
        if (a->elem == GGUF_VT_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (a->data[i] > 1) FAIL(r, r->off + i, "bool array element is %u, not 0 or 1", a->data[i]);
        r->off += bytes;
        return true;
    }
    /* strings need 8 bytes each at least, arrays 12: bound n before allocating */
    uint64_t min_elem = a->elem == GGUF_VT_STRING ? 8 : 12;
    if (n > remaining(r) / min_elem)
        FAIL(r, at, "array of %llu %s elements runs past the end of the file", (unsigned long long)n,
             gguf_vtype_name(a->elem));
    a->data = r->p + r->off;
    if (a->elem == GGUF_VT_STRING) {
        a->strs = hearth_arena_array(r->arena, n, sizeof(gguf_str));
        if (!a->strs) return hearth_err(r->err, r->err_size, HEARTH_ERR_NOMEM, "gguf: out of memory"), false;
        for (uint64_t i = 0; i < n; i++)
            if (!rd_str(r, &a->strs[i], "array string")) return false;
    } else {
        a->items = hearth_arena_array(r->arena, n, sizeof(gguf_value));
        if (!a->items) return hearth_err(r->err, r->err_size, HEARTH_ERR_NOMEM, "gguf: out of memory"), false;
        for (uint64_t i = 0; i < n; i++)
            if (!rd_value(r, GGUF_VT_ARRAY, &a->items[i], depth + 1)) return false;
    }
    return true;
}

static bool rd_value(reader *r, gguf_vtype t, gguf_value *v, int depth) {
    v->type = t;
    if (t == GGUF_VT_STRING) return rd_str(r, &v->v.str, "string value");
    if (t == GGUF_VT_ARRAY) return rd_array(r, &v->v.arr, depth);
    size_t sz = gguf_vtype_size(t);
    if (!need(r, sz, "value")) return false;
    if (t == GGUF_VT_BOOL && r->p[r->off] > 1) FAIL(r, r->off, "bool value is %u, not 0 or 1", r->p[r->off]);
    decode_scalar(t, r->p + r->off, v);
    r->off += sz;
    return true;
}

/* ---- name tables ------------------------------------------------------------------- */

static uint64_t fnv1a(const char *s, uint64_t n) {
    uint64_t h = 1469598103934665603ull;
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static bool table_init(name_table *t, hearth_arena *arena, int64_t n) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2) cap <<= 1;
    t->slots = hearth_arena_array(arena, cap, sizeof(int64_t));
    t->mask  = cap - 1;
    return t->slots != NULL;
}

/* Finds `name` among the first entries (names via callback); returns its index or -1, and
 * the empty slot where it would go in *slot. */
typedef const char *(*name_of_fn)(const gguf_file *g, int64_t i, uint64_t *len);

static const char *kv_name(const gguf_file *g, int64_t i, uint64_t *len) {
    *len = g->kv[i].key_len;
    return g->kv[i].key;
}

static const char *tensor_name(const gguf_file *g, int64_t i, uint64_t *len) {
    *len = strlen(g->tensors[i].name);
    return g->tensors[i].name;
}

static int64_t table_find(const gguf_file *g, const name_table *t, name_of_fn name_of, const char *s,
                          uint64_t n, uint64_t *slot) {
    if (!t->slots) return -1;
    uint64_t h = fnv1a(s, n) & t->mask;
    for (;;) {
        int64_t e = t->slots[h];
        if (e == 0) {
            if (slot) *slot = h;
            return -1;
        }
        uint64_t len;
        const char *name = name_of(g, e - 1, &len);
        if (len == n && memcmp(name, s, n) == 0) return e - 1;
        h = (h + 1) & t->mask;
    }
}

/* ---- the parse --------------------------------------------------------------------- */

static bool parse_header(gguf_file *g, reader *r) {
    uint32_t magic;
    if (r->size < 4) FAIL(r, 0, "file too small to be GGUF (%llu bytes)", (unsigned long long)r->size);
    if (!rd_u32(r, &magic, "magic")) return false;
    if (magic != GGUF_MAGIC)
        FAIL(r, 0, "bad magic 0x%08x: not a GGUF file (expected \"GGUF\")", magic);
    if (!rd_u32(r, &g->version, "version")) return false;
    if (g->version != 2 && g->version != 3)
        FAIL(r, 4, "unsupported GGUF version %u (supported: 2, 3)", g->version);
    uint64_t n_tensors, n_kv;
    if (!rd_u64(r, &n_tensors, "tensor count")) return false;
    if (!rd_u64(r, &n_kv, "metadata count")) return false;
    /* a key/value pair takes at least 8+4+1 bytes, a tensor info at least 8+4+8+4+8 */
    if (n_kv > remaining(r) / 13)
        FAIL(r, 16, "metadata count %llu runs past the end of the file", (unsigned long long)n_kv);
    if (n_tensors > remaining(r) / 32)
        FAIL(r, 8, "tensor count %llu runs past the end of the file", (unsigned long long)n_tensors);
    g->n_kv      = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    return true;
}

static bool parse_kv(gguf_file *g, reader *r) {
    g->kv = hearth_arena_array(r->arena, (size_t)g->n_kv, sizeof(gguf_kv));
    if (!g->kv || !table_init(&g->kv_names, r->arena, g->n_kv))
        return hearth_err(r->err, r->err_size, HEARTH_ERR_NOMEM, "gguf: out of memory"), false;
    for (int64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        kv->offset = r->off;
        gguf_str key;
        if (!rd_str(r, &key, "metadata key")) return false;
        if (key.len == 0) FAIL(r, kv->offset, "metadata key %lld is empty", (long long)i);
        if (memchr(key.ptr, '\0', key.len)) FAIL(r, kv->offset, "metadata key %lld contains a NUL byte", (long long)i);
        uint64_t slot = 0;
        if (table_find(g, &g->kv_names, kv_name, key.ptr, key.len, &slot) >= 0)
            FAIL(r, kv->offset, "duplicate metadata key '%.*s'", (int)HEARTH_MIN(key.len, 128), key.ptr);
        kv->key = hearth_arena_strndup(r->arena, key.ptr, key.len);
        if (!kv->key) return hearth_err(r->err, r->err_size, HEARTH_ERR_NOMEM, "gguf: out of memory"), false;
        kv->key_len = key.len;
        g->kv_names.slots[slot] = i + 1;
        uint64_t at = r->off;
        uint32_t t;
        if (!rd_u32(r, &t, "metadata value type")) return false;
        if (t >= GGUF_VT_COUNT) FAIL(r, at, "value type %u of key '%s' out of range", t, kv->key);
        if (!rd_value(r, (gguf_vtype)t, &kv->value, 0)) return false;
    }
    return true;
}

static bool parse_tensor_infos(gguf_file *g, reader *r) {
    g->tensors = hearth_arena_array(r->arena, (size_t)g->n_tensors, sizeof(gguf_tensor));
    if (!g->tensors || !table_init(&g->tensor_names, r->arena, g->n_tensors))
        return hearth_err(r->err, r->err_size, HEARTH_ERR_NOMEM, "gguf: out of memory"), false;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        t->info_offset = r->off;
        gguf_str name;
        if (!rd_str(r, &name, "tensor name")) return false;
        if (name.len == 0) FAIL(r, t->info_offset, "tensor %lld has an empty name", (long long)i);
        if (memchr(name.ptr, '\0', name.len)) FAIL(r, t->info_offset, "tensor name %lld contains a NUL byte", (long long)i);
        uint64_t slot = 0;
        t->name = NULL;
        if (table_find(g, &g->tensor_names, tensor_name, name.ptr, name.len, &slot) >= 0)
            FAIL(r, t->info_offset, "duplicate tensor name '%.*s'", (int)HEARTH_MIN(name.len, 128), name.ptr);
        t->name = hearth_arena_strndup(r->arena, name.ptr, name.len);
        if (!t->name) return hearth_err(r->err, r->err_size, HEARTH_ERR_NOMEM, "gguf: out of memory"), false;
        g->tensor_names.slots[slot] = i + 1;

        uint64_t at = r->off;
        if (!rd_u32(r, &t->n_dims, "tensor dimension count")) return false;
        if (t->n_dims > GGUF_MAX_DIMS)
            FAIL(r, at, "tensor '%s' has %u dimensions (at most %d)", t->name, t->n_dims, GGUF_MAX_DIMS);
        uint64_t n_el = 1;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            uint64_t ne;
            at = r->off;
            if (!rd_u64(r, &ne, "tensor dimension")) return false;
            if (ne > (uint64_t)INT64_MAX)
                FAIL(r, at, "tensor '%s' dimension %u is %llu, too large", t->name, d, (unsigned long long)ne);
            t->ne[d] = (int64_t)ne;
            if (!hearth_mul_u64(n_el, ne, &n_el) || n_el > (uint64_t)INT64_MAX)
                FAIL(r, at, "tensor '%s': the product of its dimensions overflows", t->name);
        }
        t->n_elements = n_el;
        uint32_t type;
        at = r->off;
        if (!rd_u32(r, &type, "tensor type")) return false;
        const hearth_type_traits *tt = hearth_type_get(type);
        if (!tt)
            FAIL(r, at, "tensor '%s' has type id %u, %s", t->name, type,
                 type < HEARTH_TYPE_COUNT ? "a type retired from GGML" : "out of range");
        t->type = (hearth_type)type;
        if (t->ne[0] % tt->block_size != 0)
            FAIL(r, at, "tensor '%s': row size %lld is not a multiple of the %s block size %lld", t->name,
                 (long long)t->ne[0], tt->name, (long long)tt->block_size);
        uint64_t blocks = n_el / (uint64_t)tt->block_size;
        if (!hearth_mul_u64(blocks, tt->type_size, &t->n_bytes))
            FAIL(r, at, "tensor '%s': its byte size overflows", t->name);
        if (!rd_u64(r, &t->offset, "tensor data offset")) return false;
    }
    return true;
}

static int cmp_by_offset(const void *a, const void *b) {
    const gguf_tensor *x = *(const gguf_tensor *const *)a, *y = *(const gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static bool check_data(gguf_file *g, reader *r) {
    uint64_t at;
    /* general.alignment: a u32 power of two */
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_value *al = gguf_find(g, "general.alignment");
    if (al) {
        const gguf_kv *kv = NULL;
        for (int64_t i = 0; i < g->n_kv; i++)
            if (&g->kv[i].value == al) kv = &g->kv[i];
        at = kv ? kv->offset : 0;
        if (al->type != GGUF_VT_UINT32) FAIL(r, at, "general.alignment has type %s, not u32", gguf_vtype_name(al->type));
        if (al->v.u64 == 0 || (al->v.u64 & (al->v.u64 - 1)) != 0)
            FAIL(r, at, "general.alignment %llu is not a power of two", (unsigned long long)al->v.u64);
        g->alignment = (uint32_t)al->v.u64;
    }
    /* the data section starts at the next multiple of the alignment */
    uint64_t data = r->off, pad = (g->alignment - data % g->alignment) % g->alignment;
    if (!hearth_add_u64(data, pad, &data)) FAIL(r, r->off, "data section offset overflows");
    if (g->n_tensors > 0 && data > r->size)
        FAIL(r, r->off, "data section starts at %llu, past the end of the file (%llu bytes)",
             (unsigned long long)data, (unsigned long long)r->size);
    g->data_offset = data;
    if (g->n_tensors == 0) return true;

    gguf_tensor **order = malloc((size_t)g->n_tensors * sizeof(*order));
    if (!order) return hearth_err(r->err, r->err_size, HEARTH_ERR_NOMEM, "gguf: out of memory"), false;
    bool ok = true;
    for (int64_t i = 0; i < g->n_tensors && ok; i++) {
        gguf_tensor *t = &g->tensors[i];
        order[i] = t;
        uint64_t at_off = t->info_offset + 8 + strlen(t->name) + 4 + 8ull * t->n_dims + 4;
        uint64_t start, end;
        if (t->offset % g->alignment != 0) {
            hearth_err(r->err, r->err_size, HEARTH_ERR_FORMAT,
                       "gguf: tensor '%s' data offset %llu is not a multiple of the alignment %u (at byte offset %llu)",
                       t->name, (unsigned long long)t->offset, g->alignment, (unsigned long long)at_off);
            ok = false;
        } else if (!hearth_add_u64(data, t->offset, &start) || !hearth_add_u64(start, t->n_bytes, &end) ||
                   end > r->size) {
            hearth_err(r->err, r->err_size, HEARTH_ERR_FORMAT,
                       "gguf: tensor '%s' data [%llu, +%llu bytes) lies outside the file (%llu bytes) (at byte offset %llu)",
                       t->name, (unsigned long long)t->offset, (unsigned long long)t->n_bytes,
                       (unsigned long long)r->size, (unsigned long long)at_off);
            ok = false;
        } else {
            t->data = r->p + start;
        }
    }
    if (ok) {
        qsort(order, (size_t)g->n_tensors, sizeof(*order), cmp_by_offset);
        for (int64_t i = 1; i < g->n_tensors; i++) {
            const gguf_tensor *a = order[i - 1], *b = order[i];
            if (a->n_bytes > 0 && b->n_bytes > 0 && a->offset + a->n_bytes > b->offset) {
                hearth_err(r->err, r->err_size, HEARTH_ERR_FORMAT,
                           "gguf: tensor '%s' data overlaps tensor '%s' (at byte offset %llu)", b->name, a->name,
                           (unsigned long long)(data + b->offset));
                ok = false;
                break;
            }
        }
    }
    free(order);
    return ok;
}

hearth_status gguf_open_memory(const void *data, size_t size, gguf_file **out, char *err, size_t err_size) {
    *out = NULL;
    if (err && err_size) err[0] = '\0';
    gguf_file *g = calloc(1, sizeof(*g));
    if (!g) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "gguf: out of memory");
    g->base = data;
    g->size = size;
    reader r = { .p = data, .size = size, .off = 0, .err = err, .err_size = err_size, .arena = &g->arena };
    char local_err[8];
    if (!err || !err_size) { r.err = local_err; r.err_size = sizeof local_err; }
    r.err[0] = '\0';
    if (!parse_header(g, &r) || !parse_kv(g, &r) || !parse_tensor_infos(g, &r) || !check_data(g, &r)) {
        hearth_status st = strstr(r.err, "out of memory") ? HEARTH_ERR_NOMEM : HEARTH_ERR_FORMAT;
        gguf_free(g);
        return st;
    }
    *out = g;
    return HEARTH_OK;
}

hearth_status gguf_open_file(const char *path, gguf_file **out, char *err, size_t err_size) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
        }
    }
    close(fd);
    static const uint8_t empty[1];
    char msg[512];
    hearth_status s = gguf_open_memory(map ? map : empty, size, out, msg, sizeof msg);
    if (s != HEARTH_OK) {
        if (map) munmap(map, size);
        return hearth_err(err, err_size, s, "%s: %s", path, msg);
    }
    (*out)->map      = map;
    (*out)->map_size = size;
    return HEARTH_OK;
}

void gguf_free(gguf_file *g) {
    if (!g) return;
    if (g->map) munmap(g->map, g->map_size);
    hearth_arena_free(&g->arena);
    free(g);
}

void gguf_release(const gguf_file *g, const void *p, size_t n) {
    if (!g->map) return;
    const uintptr_t lo = (uintptr_t)g->map, hi = lo + g->map_size;
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t       a = ((uintptr_t)p + pg - 1) & ~(pg - 1), b = ((uintptr_t)p + n) & ~(pg - 1);
    if (a < lo) a = lo;
    if (b > hi) b = hi;
    if (a < b) madvise((void *)a, b - a, MADV_DONTNEED);
}

uint32_t gguf_version(const gguf_file *g) { return g->version; }
uint64_t gguf_file_size(const gguf_file *g) { return g->size; }
uint32_t gguf_alignment(const gguf_file *g) { return g->alignment; }
uint64_t gguf_data_offset(const gguf_file *g) { return g->data_offset; }
const uint8_t *gguf_base(const gguf_file *g) { return g->base; }
int64_t gguf_n_kv(const gguf_file *g) { return g->n_kv; }
int64_t gguf_n_tensors(const gguf_file *g) { return g->n_tensors; }

const gguf_kv *gguf_kv_at(const gguf_file *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? &g->kv[i] : NULL;
}

const gguf_tensor *gguf_tensor_at(const gguf_file *g, int64_t i) {
    return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const gguf_value *gguf_find(const gguf_file *g, const char *key) {
    int64_t i = table_find(g, &g->kv_names, kv_name, key, strlen(key), NULL);
    return i >= 0 ? &g->kv[i].value : NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name) {
    int64_t i = table_find(g, &g->tensor_names, tensor_name, name, strlen(name), NULL);
    return i >= 0 ? &g->tensors[i] : NULL;
}

static bool is_unsigned(gguf_vtype t) {
    return t == GGUF_VT_UINT8 || t == GGUF_VT_UINT16 || t == GGUF_VT_UINT32 || t == GGUF_VT_UINT64;
}

static bool is_signed(gguf_vtype t) {
    return t == GGUF_VT_INT8 || t == GGUF_VT_INT16 || t == GGUF_VT_INT32 || t == GGUF_VT_INT64;
}

bool gguf_value_u64(const gguf_value *v, uint64_t *out) {
    if (!v) return false;
    if (is_unsigned(v->type)) { *out = v->v.u64; return true; }
    if (is_signed(v->type) && v->v.i64 >= 0) { *out = (uint64_t)v->v.i64; return true; }
    return false;
}

bool gguf_value_i64(const gguf_value *v, int64_t *out) {
    if (!v) return false;
    if (is_signed(v->type)) { *out = v->v.i64; return true; }
    if (is_unsigned(v->type) && v->v.u64 <= (uint64_t)INT64_MAX) { *out = (int64_t)v->v.u64; return true; }
    return false;
}

bool gguf_value_f64(const gguf_value *v, double *out) {
    if (!v) return false;
    if (v->type == GGUF_VT_FLOAT32 || v->type == GGUF_VT_FLOAT64) { *out = v->v.f64; return true; }
    if (is_signed(v->type)) { *out = (double)v->v.i64; return true; }
    if (is_unsigned(v->type)) { *out = (double)v->v.u64; return true; }
    return false;
}

bool gguf_get_u64(const gguf_file *g, const char *key, uint64_t *out) { return gguf_value_u64(gguf_find(g, key), out); }

bool gguf_get_u32(const gguf_file *g, const char *key, uint32_t *out) {
    uint64_t v;
    if (!gguf_get_u64(g, key, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

bool gguf_get_i64(const gguf_file *g, const char *key, int64_t *out) { return gguf_value_i64(gguf_find(g, key), out); }
bool gguf_get_f64(const gguf_file *g, const char *key, double *out) { return gguf_value_f64(gguf_find(g, key), out); }

bool gguf_get_bool(const gguf_file *g, const char *key, bool *out) {
    const gguf_value *v = gguf_find(g, key);
    if (!v || v->type != GGUF_VT_BOOL) return false;
    *out = v->v.b;
    return true;
}

bool gguf_get_str(const gguf_file *g, const char *key, gguf_str *out) {
    const gguf_value *v = gguf_find(g, key);
    if (!v || v->type != GGUF_VT_STRING) return false;
    *out = v->v.str;
    return true;
}

const gguf_array *gguf_get_arr(const gguf_file *g, const char *key) {
    const gguf_value *v = gguf_find(g, key);
    return v && v->type == GGUF_VT_ARRAY ? &v->v.arr : NULL;
}

int64_t gguf_arr_i64(const gguf_array *a, uint64_t i) {
    gguf_value v;
    size_t sz = gguf_vtype_size(a->elem);
    if (!sz || i >= a->n) return 0;
    decode_scalar(a->elem, a->data + i * sz, &v);
    int64_t x = 0;
    if (!gguf_value_i64(&v, &x)) {
        double d;
        if (gguf_value_f64(&v, &d) && d > -9.2e18 && d < 9.2e18) x = (int64_t)d; /* NaN fails both */
        else if (v.type == GGUF_VT_BOOL) x = v.v.b;
    }
    return x;
}

double gguf_arr_f64(const gguf_array *a, uint64_t i) {
    gguf_value v;
    size_t sz = gguf_vtype_size(a->elem);
    if (!sz || i >= a->n) return 0;
    decode_scalar(a->elem, a->data + i * sz, &v);
    double d = 0;
    if (!gguf_value_f64(&v, &d) && v.type == GGUF_VT_BOOL) d = v.v.b;
    return d;
}

size_t gguf_str_copy(gguf_str s, char *buf, size_t buf_size) {
    if (buf_size) {
        size_t n = s.len < buf_size - 1 ? (size_t)s.len : buf_size - 1;
        memcpy(buf, s.ptr, n);
        buf[n] = '\0';
    }
    return (size_t)s.len;
}

bool gguf_str_eq(gguf_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.len == n && memcmp(s.ptr, cstr, n) == 0;
}

/* ---- the public face (hearth.h) ----------------------------------------------------- */

struct hearth_gguf {
    gguf_file *g;
    char       arch[64];
};

hearth_status hearth_gguf_open(const char *path, hearth_gguf **out, char *err, size_t err_size) {
    if (!out || !path) return hearth_err(err, err_size, HEARTH_ERR_ARG, "hearth_gguf_open: NULL argument");
    *out = NULL;
    hearth_gguf *h = calloc(1, sizeof(*h));
    if (!h) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    hearth_status s = gguf_open_file(path, &h->g, err, err_size);
    if (s != HEARTH_OK) {
        free(h);
        return s;
    }
    gguf_str a;
    if (gguf_get_str(h->g, "general.architecture", &a)) gguf_str_copy(a, h->arch, sizeof h->arch);
    *out = h;
    return HEARTH_OK;
}

void hearth_gguf_free(hearth_gguf *h) {
    if (!h) return;
    gguf_free(h->g);
    free(h);
}

int64_t hearth_gguf_n_kv(const hearth_gguf *h) { return gguf_n_kv(h->g); }
int64_t hearth_gguf_n_tensors(const hearth_gguf *h) { return gguf_n_tensors(h->g); }
const char *hearth_gguf_arch(const hearth_gguf *h) { return h->arch; }
