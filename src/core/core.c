/* core.c — asserts, logging, error text, allocation helpers, buffers, time. */
#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_names[HEARTH_STATUS_COUNT] = {
    [HEARTH_OK]              = "ok",
    [HEARTH_ERR_IO]          = "i/o error",
    [HEARTH_ERR_FORMAT]      = "format error",
    [HEARTH_ERR_UNSUPPORTED] = "unsupported",
    [HEARTH_ERR_NOMEM]       = "out of memory",
    [HEARTH_ERR_ARG]         = "invalid argument",
    [HEARTH_ERR_RANGE]       = "out of range",
    [HEARTH_ERR_LIMIT]       = "limit exceeded",
    [HEARTH_ERR_NOT_FOUND]   = "not found",
};

const char *hearth_status_str(hearth_status status) {
    if ((unsigned)status >= HEARTH_STATUS_COUNT) return "unknown status";
    return status_names[status];
}

const char *hearth_version(void) { return HEARTH_VERSION; }

static hearth_log_level g_log_level = HEARTH_LOG_WARN;

void hearth_log_set_level(hearth_log_level level) { g_log_level = level; }

void hearth_log(hearth_log_level level, const char *fmt, ...) {
    static const char *const tags[] = { "error", "warning", "info", "debug" };
    if (level > g_log_level || (unsigned)level >= HEARTH_LOG_LEVEL_COUNT) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hearth: %s: ", tags[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void hearth_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "hearth: internal error: assertion `%s` failed at %s:%d\n", expr, file, line);
    fflush(stderr);
    abort();
}

hearth_status hearth_err(char *err, size_t err_size, hearth_status status, const char *fmt, ...) {
    if (err && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return status;
}

void *hearth_calloc(size_t n, size_t size) {
    if (n == 0 || size == 0) return calloc(1, 1);
    return calloc(n, size);
}

void *hearth_malloc_array(size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) return NULL;
    return malloc(total ? total : 1);
}

bool hearth_buf_reserve(hearth_buf *b, size_t extra) {
    size_t need;
    if (__builtin_add_overflow(b->len, extra, &need) || need == SIZE_MAX) return false;
    need += 1; /* the terminating NUL */
    if (need <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) { cap = need; break; }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) return false;
    b->data = p;
    b->cap  = cap;
    b->data[b->len] = '\0'; /* a reserved buffer is a valid (empty-tailed) string */
    return true;
}

bool hearth_buf_append(hearth_buf *b, const void *p, size_t n) {
    if (!hearth_buf_reserve(b, n)) return false;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool hearth_buf_appends(hearth_buf *b, const char *s) { return hearth_buf_append(b, s, strlen(s)); }

bool hearth_buf_printf(hearth_buf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !hearth_buf_reserve(b, (size_t)n)) { va_end(ap2); return false; }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return true;
}

void hearth_buf_free(hearth_buf *b) {
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

double hearth_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct hearth_arena_chunk {
    hearth_arena_chunk *next;
    size_t              used, cap;
    _Alignas(16) unsigned char mem[];
};

void *hearth_arena_alloc(hearth_arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    if (size == 0) size = 16;
    hearth_arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        if (cap > SIZE_MAX - sizeof(*c)) return NULL;
        c = malloc(sizeof(*c) + cap);
        if (!c) return NULL;
        c->used = 0;
        c->cap  = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->mem + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

void *hearth_arena_array(hearth_arena *a, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total) || total > SIZE_MAX - 16) return NULL;
    return hearth_arena_alloc(a, total);
}

char *hearth_arena_strndup(hearth_arena *a, const char *s, size_t n) {
    if (n == SIZE_MAX) return NULL;
    char *p = hearth_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void hearth_arena_free(hearth_arena *a) {
    if (!a) return;
    hearth_arena_chunk *c = a->head;
    while (c) {
        hearth_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    a->head = NULL;
}
