/*
 * core.h — small shared pieces: always-on asserts, logging, error text, checked arithmetic,
 * a growable byte buffer.  Internal to libhearth.
 */
#ifndef HEARTH_CORE_H
#define HEARTH_CORE_H

#include "hearth.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEARTH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HEARTH_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HEARTH_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Internal invariant, always on (also in release builds).  Expression form, so it can sit
 * in a condition.  Never used on untrusted input: that gets an error status instead. */
void hearth_assert_fail(const char *expr, const char *file, int line);
#define HEARTH_ASSERT(x) ((x) ? (void)0 : hearth_assert_fail(#x, __FILE__, __LINE__))

/* Logging to stderr, filtered by hearth_log_set_level. */
void hearth_log(hearth_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define HEARTH_LOG_E(...) hearth_log(HEARTH_LOG_ERROR, __VA_ARGS__)
#define HEARTH_LOG_W(...) hearth_log(HEARTH_LOG_WARN, __VA_ARGS__)
#define HEARTH_LOG_I(...) hearth_log(HEARTH_LOG_INFO, __VA_ARGS__)
#define HEARTH_LOG_D(...) hearth_log(HEARTH_LOG_DEBUG, __VA_ARGS__)

/* Writes a formatted message into a caller's error buffer (err may be NULL) and returns
 * `status`, so a failing path reads `return hearth_err(err, n, HEARTH_ERR_FORMAT, "...")`. */
hearth_status hearth_err(char *err, size_t err_size, hearth_status status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Overflow-checked arithmetic on sizes: return false (and leave *out unspecified) on overflow. */
static inline bool hearth_add_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool hearth_mul_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool hearth_mul_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* Allocation helpers: NULL on failure or on overflow of n*size; callers check. */
void *hearth_calloc(size_t n, size_t size);
void *hearth_malloc_array(size_t n, size_t size);

/* A growable byte buffer, always NUL-terminated (data may be NULL while len == 0). */
typedef struct hearth_buf {
    char  *data;
    size_t len;
    size_t cap;
} hearth_buf;

bool hearth_buf_reserve(hearth_buf *b, size_t extra);
bool hearth_buf_append(hearth_buf *b, const void *p, size_t n);
bool hearth_buf_appends(hearth_buf *b, const char *s);
bool hearth_buf_printf(hearth_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hearth_buf_free(hearth_buf *b);

/* Monotonic time in seconds. */
double hearth_time_s(void);


/* ---- arena: many small allocations released at once -------------------------------- */
typedef struct hearth_arena_chunk hearth_arena_chunk;
typedef struct hearth_arena {
    hearth_arena_chunk *head;
} hearth_arena;

/* Zeroed, 16-byte aligned memory from the arena; NULL on failure or overflow. */
void *hearth_arena_alloc(hearth_arena *a, size_t size);
void *hearth_arena_array(hearth_arena *a, size_t n, size_t size);
char *hearth_arena_strndup(hearth_arena *a, const char *s, size_t n);
void  hearth_arena_free(hearth_arena *a);

#endif /* HEARTH_CORE_H */
