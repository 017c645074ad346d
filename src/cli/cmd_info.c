/* cmd_info.c — `hearth info MODEL.gguf [--json] [--tensors] [--meta]`. */
#include "cli/cli.h"

#include "gguf/gguf.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct model_summary {
    char     arch[64];
    char     name[256];
    char     tokenizer[64];
    uint64_t n_params;
    int64_t  n_layer, n_embd, n_head, n_head_kv, n_ctx_train, n_vocab, n_ff;
    bool     has_chat_template;
    uint64_t type_count[HEARTH_TYPE_COUNT];
    uint64_t type_bytes[HEARTH_TYPE_COUNT];
} model_summary;

/* `{arch}.{suffix}` as an integer; an array (per-layer values) gives its maximum. -1 if absent. */
static int64_t arch_int(const gguf_file *g, const char *arch, const char *suffix) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const gguf_value *v = gguf_find(g, key);
    int64_t x;
    if (!v) return -1;
    if (v->type == GGUF_VT_ARRAY && gguf_vtype_size(v->v.arr.elem)) {
        int64_t m = -1;
        for (uint64_t i = 0; i < v->v.arr.n; i++) {
            int64_t e = gguf_arr_i64(&v->v.arr, i);
            if (e > m) m = e;
        }
        return m;
    }
    return gguf_value_i64(v, &x) ? x : -1;
}

static void summarize(const gguf_file *g, model_summary *s) {
    memset(s, 0, sizeof *s);
    gguf_str str;
    if (gguf_get_str(g, "general.architecture", &str)) gguf_str_copy(str, s->arch, sizeof s->arch);
    if (gguf_get_str(g, "general.name", &str)) gguf_str_copy(str, s->name, sizeof s->name);
    if (gguf_get_str(g, "tokenizer.ggml.model", &str)) gguf_str_copy(str, s->tokenizer, sizeof s->tokenizer);
    s->has_chat_template = gguf_find(g, "tokenizer.chat_template") != NULL;
    s->n_layer     = arch_int(g, s->arch, "block_count");
    s->n_embd      = arch_int(g, s->arch, "embedding_length");
    s->n_ff        = arch_int(g, s->arch, "feed_forward_length");
    s->n_head      = arch_int(g, s->arch, "attention.head_count");
    s->n_head_kv   = arch_int(g, s->arch, "attention.head_count_kv");
    if (s->n_head_kv < 0) s->n_head_kv = s->n_head;
    s->n_ctx_train = arch_int(g, s->arch, "context_length");
    const gguf_array *tokens = gguf_get_arr(g, "tokenizer.ggml.tokens");
    s->n_vocab = tokens ? (int64_t)tokens->n : arch_int(g, s->arch, "vocab_size");
    for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
        const gguf_tensor *t = gguf_tensor_at(g, i);
        s->n_params += t->n_elements;
        s->type_count[t->type]++;
        s->type_bytes[t->type] += t->n_bytes;
    }
}

static void human_count(uint64_t n, char *buf, size_t size) {
    if (n >= 1000000000ull) snprintf(buf, size, "%.2f B", n / 1e9);
    else if (n >= 1000000ull) snprintf(buf, size, "%.1f M", n / 1e6);
    else if (n >= 1000ull) snprintf(buf, size, "%.1f K", n / 1e3);
    else snprintf(buf, size, "%" PRIu64, n);
}

static void human_bytes(uint64_t n, char *buf, size_t size) {
    if (n >= (1ull << 30)) snprintf(buf, size, "%.2f GiB", n / 1073741824.0);
    else if (n >= (1ull << 20)) snprintf(buf, size, "%.1f MiB", n / 1048576.0);
    else if (n >= (1ull << 10)) snprintf(buf, size, "%.1f KiB", n / 1024.0);
    else snprintf(buf, size, "%" PRIu64 " B", n);
}

static void print_int_or_dash(const char *label, int64_t v) {
    if (v >= 0) printf("  %-22s %" PRId64 "\n", label, v);
    else printf("  %-22s -\n", label);
}

/* Prints a value compactly: strings quoted (truncated), arrays as type[n] with a few items. */
static void print_value(const gguf_value *v, int max_str) {
    switch (v->type) {
    case GGUF_VT_STRING: {
        int n = v->v.str.len > (uint64_t)max_str ? max_str : (int)v->v.str.len;
        putchar('"');
        for (int i = 0; i < n; i++) {
            unsigned char c = (unsigned char)v->v.str.ptr[i];
            if (c == '\n') fputs("\\n", stdout);
            else if (c == '"') fputs("\\\"", stdout);
            else if (c < 0x20) printf("\\x%02x", c);
            else putchar(c);
        }
        putchar('"');
        if ((uint64_t)n < v->v.str.len) printf("... (%" PRIu64 " bytes)", v->v.str.len);
        break;
    }
    case GGUF_VT_ARRAY: {
        const gguf_array *a = &v->v.arr;
        printf("%s[%" PRIu64 "] [", gguf_vtype_name(a->elem), a->n);
        uint64_t show = a->n < 6 ? a->n : 6;
        for (uint64_t i = 0; i < show; i++) {
            if (i) fputs(", ", stdout);
            if (a->elem == GGUF_VT_STRING) {
                gguf_value s = { .type = GGUF_VT_STRING, .v.str = a->strs[i] };
                print_value(&s, 24);
            } else if (a->elem == GGUF_VT_ARRAY) {
                print_value(&a->items[i], 24);
            } else if (a->elem == GGUF_VT_FLOAT32 || a->elem == GGUF_VT_FLOAT64) {
                printf("%g", gguf_arr_f64(a, i));
            } else {
                printf("%" PRId64, gguf_arr_i64(a, i));
            }
        }
        printf("%s]", a->n > show ? ", ..." : "");
        break;
    }
    case GGUF_VT_BOOL: fputs(v->v.b ? "true" : "false", stdout); break;
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: printf("%g", v->v.f64); break;
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        printf("%" PRId64, v->v.i64);
        break;
    default: printf("%" PRIu64, v->v.u64); break;
    }
}

static void print_human(const gguf_file *g, const model_summary *s, const char *path, bool tensors, bool meta) {
    char b1[64], b2[64];
    printf("%s\n", path);
    printf("  %-22s %s\n", "architecture", s->arch[0] ? s->arch : "-");
    printf("  %-22s %s\n", "name", s->name[0] ? s->name : "-");
    human_count(s->n_params, b1, sizeof b1);
    printf("  %-22s %s (%" PRIu64 ")\n", "parameters", b1, s->n_params);
    human_bytes(gguf_file_size(g), b1, sizeof b1);
    printf("  %-22s %s (%" PRIu64 " bytes)\n", "file size", b1, gguf_file_size(g));
    printf("  %-22s %u\n", "gguf version", gguf_version(g));
    print_int_or_dash("context (training)", s->n_ctx_train);
    print_int_or_dash("layers", s->n_layer);
    print_int_or_dash("embedding width", s->n_embd);
    print_int_or_dash("feed-forward width", s->n_ff);
    print_int_or_dash("attention heads", s->n_head);
    print_int_or_dash("kv heads", s->n_head_kv);
    print_int_or_dash("vocabulary", s->n_vocab);
    printf("  %-22s %s\n", "tokenizer", s->tokenizer[0] ? s->tokenizer : "-");
    printf("  %-22s %s\n", "chat template", s->has_chat_template ? "yes" : "no");
    printf("  %-22s %" PRId64 " tensors, %" PRId64 " metadata keys\n", "contents", gguf_n_tensors(g), gguf_n_kv(g));
    if (gguf_n_tensors(g) > 0) {
        printf("  tensor types:\n");
        for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
            if (!s->type_count[t]) continue;
            human_bytes(s->type_bytes[t], b2, sizeof b2);
            printf("    %-8s %5" PRIu64 " tensors  %12s\n", hearth_type_name((uint32_t)t), s->type_count[t], b2);
        }
    }
    if (meta) {
        printf("  metadata:\n");
        for (int64_t i = 0; i < gguf_n_kv(g); i++) {
            const gguf_kv *kv = gguf_kv_at(g, i);
            printf("    %-40s ", kv->key);
            print_value(&kv->value, 60);
            putchar('\n');
        }
    }
    if (tensors) {
        printf("  tensors:\n");
        for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            char shape[128] = "";
            size_t n = 0;
            for (uint32_t d = 0; d < t->n_dims; d++)
                n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%" PRId64, d ? " x " : "", t->ne[d]);
            human_bytes(t->n_bytes, b1, sizeof b1);
            printf("    %-40s %-7s %-24s %10s  @%" PRIu64 "\n", t->name, hearth_type_name(t->type), shape, b1,
                   gguf_data_offset(g) + t->offset);
        }
    }
}

static cJSON *value_json(const gguf_value *v) {
    switch (v->type) {
    case GGUF_VT_STRING: {
        char *s = malloc((size_t)v->v.str.len + 1);
        if (!s) return cJSON_CreateNull();
        gguf_str_copy(v->v.str, s, (size_t)v->v.str.len + 1);
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    case GGUF_VT_ARRAY: {
        cJSON *a = cJSON_CreateArray();
        const gguf_array *arr = &v->v.arr;
        for (uint64_t i = 0; i < arr->n; i++) {
            cJSON *e;
            if (arr->elem == GGUF_VT_STRING) {
                gguf_value s = { .type = GGUF_VT_STRING, .v.str = arr->strs[i] };
                e = value_json(&s);
            } else if (arr->elem == GGUF_VT_ARRAY) {
                e = value_json(&arr->items[i]);
            } else if (arr->elem == GGUF_VT_BOOL) {
                e = cJSON_CreateBool(gguf_arr_i64(arr, i) != 0);
            } else if (arr->elem == GGUF_VT_FLOAT32 || arr->elem == GGUF_VT_FLOAT64) {
                e = cJSON_CreateNumber(gguf_arr_f64(arr, i));
            } else {
                e = cJSON_CreateNumber((double)gguf_arr_i64(arr, i));
            }
            cJSON_AddItemToArray(a, e);
        }
        return a;
    }
    case GGUF_VT_BOOL: return cJSON_CreateBool(v->v.b);
    case GGUF_VT_FLOAT32: case GGUF_VT_FLOAT64: return cJSON_CreateNumber(v->v.f64);
    case GGUF_VT_INT8: case GGUF_VT_INT16: case GGUF_VT_INT32: case GGUF_VT_INT64:
        return cJSON_CreateNumber((double)v->v.i64);
    default: return cJSON_CreateNumber((double)v->v.u64);
    }
}

static cJSON *int_or_null(int64_t v) { return v >= 0 ? cJSON_CreateNumber((double)v) : cJSON_CreateNull(); }

static int print_json(const gguf_file *g, const model_summary *s, bool tensors, bool meta) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "architecture", s->arch[0] ? cJSON_CreateString(s->arch) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "name", s->name[0] ? cJSON_CreateString(s->name) : cJSON_CreateNull());
    cJSON_AddNumberToObject(o, "gguf_version", gguf_version(g));
    cJSON_AddNumberToObject(o, "n_params", (double)s->n_params);
    cJSON_AddItemToObject(o, "n_layer", int_or_null(s->n_layer));
    cJSON_AddItemToObject(o, "n_embd", int_or_null(s->n_embd));
    cJSON_AddItemToObject(o, "n_ff", int_or_null(s->n_ff));
    cJSON_AddItemToObject(o, "n_head", int_or_null(s->n_head));
    cJSON_AddItemToObject(o, "n_head_kv", int_or_null(s->n_head_kv));
    cJSON_AddItemToObject(o, "n_ctx_train", int_or_null(s->n_ctx_train));
    cJSON_AddItemToObject(o, "n_vocab", int_or_null(s->n_vocab));
    cJSON_AddItemToObject(o, "tokenizer", s->tokenizer[0] ? cJSON_CreateString(s->tokenizer) : cJSON_CreateNull());
    cJSON_AddBoolToObject(o, "chat_template", s->has_chat_template);
    cJSON_AddNumberToObject(o, "n_tensors", (double)gguf_n_tensors(g));
    cJSON_AddNumberToObject(o, "n_kv", (double)gguf_n_kv(g));
    cJSON *types = cJSON_AddObjectToObject(o, "tensor_types");
    cJSON *tbytes = cJSON_AddObjectToObject(o, "tensor_type_bytes");
    for (int t = 0; t < HEARTH_TYPE_COUNT; t++) {
        if (!s->type_count[t]) continue;
        cJSON_AddNumberToObject(types, hearth_type_name((uint32_t)t), (double)s->type_count[t]);
        cJSON_AddNumberToObject(tbytes, hearth_type_name((uint32_t)t), (double)s->type_bytes[t]);
    }
    cJSON_AddNumberToObject(o, "file_size", (double)gguf_file_size(g));
    if (meta) {
        cJSON *m = cJSON_AddObjectToObject(o, "metadata");
        for (int64_t i = 0; i < gguf_n_kv(g); i++) {
            const gguf_kv *kv = gguf_kv_at(g, i);
            cJSON_AddItemToObject(m, kv->key, value_json(&kv->value));
        }
    }
    if (tensors) {
        cJSON *arr = cJSON_AddArrayToObject(o, "tensors");
        for (int64_t i = 0; i < gguf_n_tensors(g); i++) {
            const gguf_tensor *t = gguf_tensor_at(g, i);
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "name", t->name);
            cJSON_AddStringToObject(e, "type", hearth_type_name(t->type));
            cJSON *shape = cJSON_AddArrayToObject(e, "shape");
            for (uint32_t d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->ne[d]));
            cJSON_AddNumberToObject(e, "offset", (double)(gguf_data_offset(g) + t->offset));
            cJSON_AddNumberToObject(e, "bytes", (double)t->n_bytes);
            cJSON_AddItemToArray(arr, e);
        }
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        fprintf(stderr, "hearth info: out of memory\n");
        return 1;
    }
    puts(text);
    cJSON_free(text);
    return 0;
}

static void info_usage(FILE *f) {
    fprintf(f, "usage: hearth info MODEL.gguf [--json] [--tensors] [--meta]\n"
               "  --json     one JSON object (keys: architecture, n_params, n_layer, n_embd, n_head,\n"
               "             n_head_kv, n_ctx_train, n_vocab, tensor_types, file_size, ...)\n"
               "  --tensors  list every tensor (name, type, shape, bytes, file offset)\n"
               "  --meta     list every metadata key and value\n");
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    bool json = false, tensors = false, meta = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--tensors")) tensors = true;
        else if (!strcmp(argv[i], "--meta")) meta = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { info_usage(stdout); return 0; }
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) path = argv[++i];
        else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "hearth info: unknown option '%s'\n", argv[i]); info_usage(stderr); return 2; }
        else if (!path) path = argv[i];
        else { fprintf(stderr, "hearth info: more than one model given\n"); return 2; }
    }
    if (!path) {
        info_usage(stderr);
        return 2;
    }
    gguf_file *g = NULL;
    char err[512], resolved[4096];
    if (!cli_model_path("info", path, resolved, sizeof resolved)) return 1;
    path = resolved;
    if (gguf_open_file(path, &g, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth info: %s\n", err);
        return 1;
    }
    model_summary *s = malloc(sizeof *s);
    if (!s) {
        gguf_free(g);
        fprintf(stderr, "hearth info: out of memory\n");
        return 1;
    }
    summarize(g, s);
    int rc = 0;
    if (json) rc = print_json(g, s, tensors, meta);
    else print_human(g, s, path, tensors, meta);
    free(s);
    gguf_free(g);
    return rc;
}
