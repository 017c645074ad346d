/*
 * hearth.h — the one public header of libhearth.
 *
 * hearth runs open-weight language models (GGUF files) on the machine it is on.
 * This header is the contract: every function is documented here.
 *
 * Conventions, uniform across the library:
 *  - Functions that can fail return a hearth_status; HEARTH_OK is 0.  When they take an
 *    `err` buffer (char *err, size_t err_size) a human-readable message is written there
 *    (always NUL-terminated when err_size > 0; err may be NULL).
 *  - Whoever calls *_open / *_load / *_create owns the object and releases it with the
 *    matching *_free; every *_free accepts NULL.
 *  - Functions that fill a caller buffer return the length they needed, as snprintf does.
 *  - The library never calls exit() and never aborts on bad input.
 *
 * Compiles alone as C11 and as C++.
 */
#ifndef HEARTH_H
#define HEARTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes (append-only) ---------------------------------------------------- */
typedef enum hearth_status {
    HEARTH_OK = 0,
    HEARTH_ERR_IO,          /* a file could not be opened, read or mapped */
    HEARTH_ERR_FORMAT,      /* malformed input: a corrupt model file, bad JSON, ... */
    HEARTH_ERR_UNSUPPORTED, /* well-formed, but a feature this build does not have */
    HEARTH_ERR_NOMEM,       /* an allocation failed */
    HEARTH_ERR_ARG,         /* an invalid argument from the caller */
    HEARTH_ERR_RANGE,       /* a value out of range: too long a prompt, too small a buffer */
    HEARTH_ERR_LIMIT,       /* a safety limit was hit (recursion, output size, iterations) */
    HEARTH_ERR_NOT_FOUND,   /* a key, file or name that does not exist */
    HEARTH_STATUS_COUNT
} hearth_status;

/* A static English name for a status ("ok", "format error", ...). Never NULL. */
const char *hearth_status_str(hearth_status status);

/* The library version, e.g. "0.1.0". */
const char *hearth_version(void);

/* ---- logging ----------------------------------------------------------------------- */
typedef enum hearth_log_level {
    HEARTH_LOG_ERROR = 0,
    HEARTH_LOG_WARN,
    HEARTH_LOG_INFO,
    HEARTH_LOG_DEBUG,
    HEARTH_LOG_LEVEL_COUNT
} hearth_log_level;

/* Messages at or below `level` go to stderr (default HEARTH_LOG_WARN). */
void hearth_log_set_level(hearth_log_level level);

/* ---- model files (GGUF) ------------------------------------------------------------ */

/* An opened GGUF file: its header parsed and validated, its data mapped (not read). */
typedef struct hearth_gguf hearth_gguf;

/* Opens and validates the GGUF file at `path`.  On success *out owns the mapping; release it
 * with hearth_gguf_free.  On failure *out is NULL and `err` names the problem and its byte
 * offset.  Costs about as much as reading the header, whatever the file size. */
hearth_status hearth_gguf_open(const char *path, hearth_gguf **out, char *err, size_t err_size);

/* Releases an opened file.  Accepts NULL. */
void hearth_gguf_free(hearth_gguf *gguf);

/* Counts of metadata key/value pairs and tensors. */
int64_t hearth_gguf_n_kv(const hearth_gguf *gguf);
int64_t hearth_gguf_n_tensors(const hearth_gguf *gguf);

/* The architecture (`general.architecture`), or "" when absent. Owned by the file. */
const char *hearth_gguf_arch(const hearth_gguf *gguf);

/* ---- tokenizer --------------------------------------------------------------------- */
/* (tokenizer API: see the tokenizer section, added with src/tokenizer/) */

/* ---- model store (src/fit/) ---------------------------------------------------------- */

/* Turns what a user typed where a model is expected (-m) into a file path: an existing file
 * is returned as is; otherwise a store name (`owner/repo:QUANT`, `owner/repo` with one model,
 * `hf://owner/repo/file.gguf`, or a file name with or without `.gguf`) is looked up in the
 * store ($HEARTH_MODELS, default ~/.cache/hearth/models) and its "last used" time updated.
 * Writes the path into out (out_size bytes).  HEARTH_ERR_NOT_FOUND when nothing matches,
 * HEARTH_ERR_ARG when the name is ambiguous. */
hearth_status hearth_resolve_model(const char *name_or_path, char *out, size_t out_size, char *err, size_t err_size);

#ifdef __cplusplus
}
#endif
#endif /* HEARTH_H */
