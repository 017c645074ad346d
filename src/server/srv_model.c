/*
 * srv_model.c — the model a server serves: the engine handle plus what the HTTP faces need
 * around it (its own tokenizer view for /tokenize, usage counts and streaming text; the chat
 * template; metadata for /v1/models, /api/tags and /api/show).
 */
#include "server/server.h"

#include "chat/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A small, stable FNV-1a based id: hex of two 64-bit hashes, repeated to 64 hex digits. */
static void make_digest(char *out, size_t size, const char *path, uint64_t fsize) {
    uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull ^ fsize;
    for (const char *p = path; *p; p++) {
        h1 = (h1 ^ (uint8_t)*p) * 1099511628211ull;
        h2 = (h2 ^ (uint8_t)*p) * 6364136223846793005ull + 1;
    }
    snprintf(out, size, "sha256:%016llx%016llx%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2,
             (unsigned long long)(h1 ^ h2), (unsigned long long)(h1 + h2));
}

static void token_text(const tokenizer *t, int32_t id, char *out, size_t size) {
    out[0] = 0;
    if (!t || id < 0) return;
    size_t n = 0;
    const char *s = tokenizer_token_text(t, id, &n);
    if (s && n < size) {
        memcpy(out, s, n);
        out[n] = 0;
    }
}

hearth_status srv_model_load(srv_model *m, const char *path, const char *alias, char *err, size_t err_size) {
    memset(m, 0, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    hearth_status st = gguf_open_file(path, &m->g, err, err_size);
    if (st != HEARTH_OK) return st;
    st = tokenizer_load(m->g, &m->tok, err, err_size);
    if (st != HEARTH_OK) goto fail;
    st = hearth_model_load(path, &m->hm, err, err_size);
    if (st != HEARTH_OK) goto fail;

    gguf_str s;
    if (gguf_get_str(m->g, "tokenizer.chat_template", &s) && s.len > 0 && s.len < (64u << 20)) {
        m->tmpl = malloc(s.len + 1);
        if (!m->tmpl) {
            st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(m->tmpl, s.ptr, s.len);
        m->tmpl[s.len] = 0;
    }
    snprintf(m->arch, sizeof m->arch, "%s", hearth_model_arch(m->hm));
    char key[128];
    snprintf(key, sizeof key, "%s.embedding_length", m->arch);
    uint64_t u = 0;
    if (gguf_get_u64(m->g, key, &u)) m->n_embd = (int64_t)u;
    token_text(m->tok, tokenizer_bos(m->tok), m->bos_text, sizeof m->bos_text);
    token_text(m->tok, tokenizer_eos(m->tok), m->eos_text, sizeof m->eos_text);

    /* parameter count and the most common weight type (by bytes) */
    uint64_t bytes_by_type[64] = { 0 };
    for (int64_t i = 0; i < gguf_n_tensors(m->g); i++) {
        const gguf_tensor *t = gguf_tensor_at(m->g, i);
        m->n_params += (int64_t)t->n_elements;
        if (t->n_dims >= 2 && (uint32_t)t->type < 64) bytes_by_type[t->type] += t->n_bytes;
    }
    uint32_t best = 0;
    for (uint32_t i = 0; i < 64; i++)
        if (bytes_by_type[i] > bytes_by_type[best]) best = i;
    snprintf(m->quant, sizeof m->quant, "%s", hearth_type_name(best));
    if (m->n_params >= 1000000000) snprintf(m->param_size, sizeof m->param_size, "%.1fB", m->n_params / 1e9);
    else snprintf(m->param_size, sizeof m->param_size, "%.0fM", m->n_params / 1e6);

    m->size = gguf_file_size(m->g);
    struct stat sb;
    if (stat(path, &sb) == 0) m->mtime = (int64_t)sb.st_mtime;
    make_digest(m->digest, sizeof m->digest, path, m->size);

    if (alias && *alias) {
        snprintf(m->name, sizeof m->name, "%s", alias);
    } else {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        snprintf(m->name, sizeof m->name, "%s", base);
        size_t n = strlen(m->name);
        if (n > 5 && !strcmp(m->name + n - 5, ".gguf")) m->name[n - 5] = 0;
    }
    return HEARTH_OK;
fail:
    srv_model_free(m);
    return st;
}

void srv_model_free(srv_model *m) {
    if (!m) return;
    hearth_model_free(m->hm);
    tokenizer_free(m->tok);
    gguf_free(m->g);
    free(m->tmpl);
    memset(m, 0, sizeof *m);
}

/* name equals want, or want + ":latest" */
static bool name_eq(const char *name, const char *want) {
    size_t n = strlen(want);
    if (strncmp(name, want, n)) return false;
    return name[n] == 0 || !strcmp(name + n, ":latest");
}

bool srv_model_matches(const srv_model *m, const char *name) {
    if (!name || !*name) return true;
    if (name_eq(name, m->name) || name_eq(name, m->path)) return true;
    const char *base = strrchr(m->path, '/');
    base = base ? base + 1 : m->path;
    if (name_eq(name, base)) return true;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf")) {
        char b[512];
        snprintf(b, sizeof b, "%.*s", (int)(n - 5), base);
        if (name_eq(name, b)) return true;
    }
    return false;
}

hearth_status srv_model_render(const srv_model *m, const srv_msg *msgs, size_t n, hearth_buf *out, char *err,
                               size_t err_size) {
    chat_message *cm = hearth_calloc(n ? n : 1, sizeof *cm);
    if (!cm) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        cm[i].role = msgs[i].role;
        cm[i].content = msgs[i].content;
    }
    /* the model's own template; ChatML (chat_default_template) when it has none */
    hearth_status st = chat_apply_template(m->tmpl, cm, n, true, m->bos_text, m->eos_text, out, err, err_size);
    free(cm);
    return st;
}

hearth_status srv_model_tokenize(const srv_model *m, const char *text, size_t len, bool add_special, tok_ids *out,
                                 char *err, size_t err_size) {
    /* a text that already starts with the BOS token's text (templates often write it) gets no second BOS */
    size_t nb = strlen(m->bos_text);
    if (add_special && nb && len >= nb && !memcmp(text, m->bos_text, nb)) add_special = false;
    return tokenizer_tokenize(m->tok, text, len, add_special, true, out, err, err_size);
}
