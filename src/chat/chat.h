/*
 * chat.h — chat templates: render a model's Jinja chat template (tokenizer.chat_template)
 * for a list of messages, exactly as Hugging Face transformers renders it with Python
 * jinja2 (ImmutableSandboxedEnvironment, trim_blocks and lstrip_blocks on, its tojson,
 * raise_exception and strftime_now).  Internal to libhearth.
 *
 * Templates are untrusted (they come inside downloaded model files): rendering has no file,
 * environment or process access, and hard limits on output size, memory, nesting depth,
 * loop iterations and evaluation steps; hitting one is an error (HEARTH_ERR_LIMIT) with a
 * message, never a crash or a hang.
 */
#ifndef HEARTH_CHAT_H
#define HEARTH_CHAT_H

#include "hearth.h"
#include "core/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chat_limits {
    size_t   max_output;     /* bytes of text any one render or capture may produce */
    size_t   max_memory;     /* bytes the renderer may allocate in all */
    int      max_depth;      /* nesting of statements, expressions, macro calls and data */
    uint64_t max_loop_iters; /* loop iterations, all loops together */
    uint64_t max_steps;      /* evaluation steps (nodes visited), all together */
    bool     has_now;        /* strftime_now uses `now` (Unix seconds, UTC) instead of the clock */
    int64_t  now;
} chat_limits;

/* Defaults: 16 MiB output, 512 MiB memory, depth 200, 1e6 iterations, 5e7 steps, real clock. */
void chat_limits_default(chat_limits *lim);

/* The template used for a model that has none: ChatML, as SmolLM2 and Qwen use it:
 *   <|im_start|>{role}\n{content}<|im_end|>\n   per message, then
 *   <|im_start|>assistant\n                      when add_generation_prompt. */
extern const char chat_default_template[];

/* Renders `tmpl` (tmpl_len bytes; need not be NUL-terminated) with the variables of the JSON
 * object `context_json` (e.g. {"messages": [...], "add_generation_prompt": true,
 * "bos_token": "<s>", ...}).  On success the text is appended to `out` (the caller frees it
 * with hearth_buf_free).  lim may be NULL for the defaults.  Errors: HEARTH_ERR_FORMAT (bad
 * JSON, template syntax or runtime error, raise_exception), HEARTH_ERR_LIMIT (a limit),
 * HEARTH_ERR_NOMEM; err holds the message. */
hearth_status chat_render_json(const char *tmpl, size_t tmpl_len, const char *context_json,
                               const chat_limits *lim, hearth_buf *out, char *err, size_t err_size);

/* One chat message for chat_apply_template. */
typedef struct chat_message {
    const char *role;    /* "system", "user", "assistant", "tool" */
    const char *content; /* UTF-8 */
} chat_message;

/* Renders the prompt for `msgs` with a model's template (NULL: chat_default_template), the way
 * transformers' apply_chat_template does: variables messages, add_generation_prompt,
 * bos_token and eos_token (NULL: ""), tools = none.  Appends to `out`; returns a status and
 * a message in err as chat_render_json does. */
hearth_status chat_apply_template(const char *tmpl, const chat_message *msgs, size_t n_msgs,
                                  bool add_generation_prompt, const char *bos_token,
                                  const char *eos_token, hearth_buf *out, char *err, size_t err_size);

#endif /* HEARTH_CHAT_H */
