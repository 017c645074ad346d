/*
 * gguf.h — a bounded GGUF v2/v3 reader over a memory mapping.  Internal to libhearth.
 *
 * Nothing in the file is trusted: every count, length, size and offset is checked against
 * the end of the buffer with overflow-checked arithmetic before it is used, and a file that
 * fails a check is rejected with a message naming the problem and its byte offset.
 *
 * Strings and array payloads are views into the mapping (not NUL-terminated); keys and
 * tensor names are additionally copied NUL-terminated for convenience.  A gguf_file owns
 * its mapping (when opened from a path) and every view into it.
 */
#ifndef HEARTH_GGUF_H
#define HEARTH_GGUF_H

#include "hearth.h"
#include "tensor/type.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GGUF_MAGIC             0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS          4

typedef enum gguf_vtype {
    GGUF_VT_UINT8   = 0,
    GGUF_VT_INT8    = 1,
    GGUF_VT_UINT16  = 2,
    GGUF_VT_INT16   = 3,
    GGUF_VT_UINT32  = 4,
    GGUF_VT_INT32   = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL    = 7,
    GGUF_VT_STRING  = 8,
    GGUF_VT_ARRAY   = 9,
    GGUF_VT_UINT64  = 10,
    GGUF_VT_INT64   = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
} gguf_vtype;

/* A string view into the file (not NUL-terminated). */
typedef struct gguf_str {
    const char *ptr;
    uint64_t    len;
} gguf_str;

typedef struct gguf_value gguf_value;

/* An array: `n` elements of `elem`.  Fixed-size elements are raw little-endian bytes at
 * `data` (possibly unaligned: read them with gguf_arr_*); STRING elements are in `strs`,
 * ARRAY elements (arrays of arrays) in `items`. */
typedef struct gguf_array {
    gguf_vtype        elem;
    uint64_t          n;
    const uint8_t    *data;
    gguf_str         *strs;
    gguf_value       *items;
} gguf_array;

struct gguf_value {
    gguf_vtype type;
    union {
        uint64_t   u64;   /* UINT8..UINT64 (zero-extended) */
        int64_t    i64;   /* INT8..INT64 (sign-extended) */
        double     f64;   /* FLOAT32, FLOAT64 */
        bool       b;     /* BOOL */
        gguf_str   str;   /* STRING */
        gguf_array arr;   /* ARRAY */
    } v;
};

typedef struct gguf_kv {
    const char *key;      /* NUL-terminated copy */
    uint64_t    key_len;
    uint64_t    offset;   /* byte offset of the pair in the file */
    gguf_value  value;
} gguf_kv;

typedef struct gguf_tensor {
    const char    *name;             /* NUL-terminated copy */
    uint32_t       n_dims;
    int64_t        ne[GGUF_MAX_DIMS]; /* elements per dimension, ne[0] fastest; unused = 1 */
    hearth_type    type;
    uint64_t       offset;           /* relative to the data section */
    uint64_t       n_elements;
    uint64_t       n_bytes;
    const uint8_t *data;             /* view into the mapping */
    uint64_t       info_offset;      /* byte offset of the tensor info in the file */
} gguf_tensor;

typedef struct gguf_file gguf_file;

/* Parses and validates a GGUF image in memory.  The buffer must outlive the result (it is
 * not copied).  Returns a status; on failure *out is NULL and err holds the message. */
hearth_status gguf_open_memory(const void *data, size_t size, gguf_file **out, char *err, size_t err_size);

/* Maps `path` read-only and parses it as gguf_open_memory does; the result owns the mapping. */
hearth_status gguf_open_file(const char *path, gguf_file **out, char *err, size_t err_size);

void gguf_free(gguf_file *g);

uint32_t           gguf_version(const gguf_file *g);
uint64_t           gguf_file_size(const gguf_file *g);
uint32_t           gguf_alignment(const gguf_file *g);
uint64_t           gguf_data_offset(const gguf_file *g);  /* start of the data section */
const uint8_t     *gguf_base(const gguf_file *g);         /* the whole image */
/* Drops the pages wholly inside [p, p + n) of a file opened with gguf_open (mapped) from memory:
 * they are read from the file again if touched.  No effect on an image in memory. */
void               gguf_release(const gguf_file *g, const void *p, size_t n);
int64_t            gguf_n_kv(const gguf_file *g);
const gguf_kv     *gguf_kv_at(const gguf_file *g, int64_t i);
int64_t            gguf_n_tensors(const gguf_file *g);
const gguf_tensor *gguf_tensor_at(const gguf_file *g, int64_t i);

/* Lookups by exact name; NULL when absent. O(1). */
const gguf_value  *gguf_find(const gguf_file *g, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *g, const char *name);

/* Typed getters.  Integers of any integer type convert when the value fits the target;
 * floats accept FLOAT32/FLOAT64 and integers.  Return false when absent or of the wrong type. */
bool gguf_get_u64(const gguf_file *g, const char *key, uint64_t *out);
bool gguf_get_u32(const gguf_file *g, const char *key, uint32_t *out);
bool gguf_get_i64(const gguf_file *g, const char *key, int64_t *out);
bool gguf_get_f64(const gguf_file *g, const char *key, double *out);
bool gguf_get_bool(const gguf_file *g, const char *key, bool *out);
bool gguf_get_str(const gguf_file *g, const char *key, gguf_str *out);
const gguf_array *gguf_get_arr(const gguf_file *g, const char *key);

/* Value helpers, usable on array items too. */
bool gguf_value_u64(const gguf_value *v, uint64_t *out);
bool gguf_value_i64(const gguf_value *v, int64_t *out);
bool gguf_value_f64(const gguf_value *v, double *out);

/* Element i of an array of fixed-size numbers, converted; i < arr->n is the caller's duty. */
int64_t gguf_arr_i64(const gguf_array *a, uint64_t i);
double  gguf_arr_f64(const gguf_array *a, uint64_t i);

/* Bytes per element of a fixed-size value type; 0 for STRING/ARRAY/unknown. */
size_t      gguf_vtype_size(gguf_vtype t);
const char *gguf_vtype_name(gguf_vtype t);

/* Copies a string view NUL-terminated into buf (truncating); returns the view's length. */
size_t gguf_str_copy(gguf_str s, char *buf, size_t buf_size);
bool   gguf_str_eq(gguf_str s, const char *cstr);

#endif /* HEARTH_GGUF_H */
