/* test_gguf.c — the GGUF reader on files built in memory (valid and deliberately broken),
 * and on the vocab-only files of ../shared/testdata/vocab. */
#include "gguf/gguf.h"
#include "gguf/gguf_write.h"
#include "tap.h"

#include <dirent.h>
#include <stdlib.h>

static char err[512];

/* A small valid model: every scalar type, strings, string arrays, nested arrays, 3 tensors. */
static void build_valid(gguf_writer *w) {
    gguf_writer_init(w);
    gguf_write_str(w, "general.architecture", "llama");
    gguf_write_u32(w, "llama.block_count", 2);
    gguf_write_i32(w, "test.i32", -7);
    gguf_write_u64(w, "test.u64", 1ull << 40);
    gguf_write_f32(w, "test.f32", 0.5f);
    gguf_write_bool(w, "test.bool", true);
    const char *toks[] = { "a", "bc", "", "\xe2\x96\x81x" };
    gguf_write_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
    float scores[] = { 0.f, -1.f, -2.f, -3.5f };
    gguf_write_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 4);
    int64_t ne_a[2] = { 32, 4 }, ne_b[1] = { 64 }, ne_c[2] = { 256, 2 };
    gguf_write_tensor(w, "a.weight", HEARTH_TYPE_Q4_0, 2, ne_a, NULL);
    gguf_write_tensor(w, "b.weight", HEARTH_TYPE_F32, 1, ne_b, NULL);
    gguf_write_tensor(w, "c.weight", HEARTH_TYPE_Q4_K, 2, ne_c, NULL);
}

static hearth_status parse(const hearth_buf *b, gguf_file **g) {
    err[0] = '\0';
    return gguf_open_memory(b->data, b->len, g, err, sizeof err);
}

static void test_valid_file(void) {
    gguf_writer w;
    hearth_buf b = { 0 };
    build_valid(&w);
    REQUIRE(gguf_writer_finish(&w, &b));
    gguf_file *g = NULL;
    CHECKF(parse(&b, &g) == HEARTH_OK, "%s", err);
    REQUIRE(g);
    CHECK(gguf_version(g) == 3);
    CHECK(gguf_n_kv(g) == 8);
    CHECK(gguf_n_tensors(g) == 3);
    gguf_str s;
    CHECK(gguf_get_str(g, "general.architecture", &s) && gguf_str_eq(s, "llama"));
    uint32_t u32;
    CHECK(gguf_get_u32(g, "llama.block_count", &u32) && u32 == 2);
    int64_t i64;
    CHECK(gguf_get_i64(g, "test.i32", &i64) && i64 == -7);
    uint64_t u64;
    CHECK(!gguf_get_u64(g, "test.i32", &u64)); /* negative does not convert to unsigned */
    CHECK(gguf_get_u64(g, "test.u64", &u64) && u64 == (1ull << 40));
    CHECK(!gguf_get_u32(g, "test.u64", &u32)); /* does not fit */
    double f;
    CHECK(gguf_get_f64(g, "test.f32", &f) && f == 0.5);
    bool bl;
    CHECK(gguf_get_bool(g, "test.bool", &bl) && bl);
    CHECK(gguf_find(g, "missing") == NULL);
    const gguf_array *toks = gguf_get_arr(g, "tokenizer.ggml.tokens");
    REQUIRE(toks && toks->elem == GGUF_VT_STRING && toks->n == 4);
    CHECK(gguf_str_eq(toks->strs[1], "bc") && toks->strs[2].len == 0 && toks->strs[3].len == 4);
    const gguf_array *sc = gguf_get_arr(g, "tokenizer.ggml.scores");
    REQUIRE(sc && sc->n == 4);
    CHECK(gguf_arr_f64(sc, 3) == -3.5);
    const gguf_tensor *t = gguf_find_tensor(g, "c.weight");
    REQUIRE(t);
    CHECK(t->type == HEARTH_TYPE_Q4_K && t->ne[0] == 256 && t->ne[1] == 2 && t->n_elements == 512);
    CHECK(t->n_bytes == 2 * 144);
    CHECK((uint64_t)(t->data - gguf_base(g)) % 32 == 0);
    CHECK(gguf_data_offset(g) % 32 == 0);
    CHECK(gguf_find_tensor(g, "a.weight")->n_bytes == 4 * 18);
    gguf_free(g);
    gguf_writer_free(&w);
    hearth_buf_free(&b);
}

static void test_nested_arrays_and_v2(void) {
    /* hand-assemble an array of arrays of u8 as a raw kv: the writer has no nested helper */
    gguf_writer w;
    gguf_writer_init(&w);
    w.version = 2;
    hearth_buf *kv = &w.kv;
    const char key[] = "test.nested";
    uint64_t klen = sizeof key - 1;
    hearth_buf_append(kv, &klen, 8);
    hearth_buf_append(kv, key, klen);
    uint32_t t_arr = GGUF_VT_ARRAY, t_u8 = GGUF_VT_UINT8;
    uint64_t n_outer = 2, n_inner = 3;
    hearth_buf_append(kv, &t_arr, 4);
    hearth_buf_append(kv, &t_arr, 4);
    hearth_buf_append(kv, &n_outer, 8);
    for (int i = 0; i < 2; i++) {
        uint8_t v[3] = { (uint8_t)i, 2, 3 };
        hearth_buf_append(kv, &t_u8, 4);
        hearth_buf_append(kv, &n_inner, 8);
        hearth_buf_append(kv, v, 3);
    }
    w.n_kv = 1;
    hearth_buf b = { 0 };
    REQUIRE(gguf_writer_finish(&w, &b));
    gguf_file *g = NULL;
    CHECKF(parse(&b, &g) == HEARTH_OK, "%s", err);
    REQUIRE(g);
    CHECK(gguf_version(g) == 2);
    const gguf_array *a = gguf_get_arr(g, "test.nested");
    REQUIRE(a && a->elem == GGUF_VT_ARRAY && a->n == 2);
    CHECK(a->items[1].type == GGUF_VT_ARRAY && a->items[1].v.arr.n == 3);
    CHECK(gguf_arr_i64(&a->items[1].v.arr, 0) == 1 && gguf_arr_i64(&a->items[0].v.arr, 2) == 3);
    gguf_free(g);
    gguf_writer_free(&w);
    hearth_buf_free(&b);
}

/* Builds the valid file, lets `mutate` change the image, and expects a FORMAT error whose
 * message contains `want` and a byte offset. */
static void expect_reject(const char *label, void (*mutate)(hearth_buf *b, gguf_writer *w), const char *want) {
    gguf_writer w;
    hearth_buf b = { 0 };
    build_valid(&w);
    mutate(&b, &w);
    gguf_file *g = NULL;
    hearth_status st = parse(&b, &g);
    CHECKF(st == HEARTH_ERR_FORMAT, "%s: status %d", label, (int)st);
    CHECKF(g == NULL, "%s: result not NULL", label);
    CHECKF(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", label, err, want);
    CHECKF(strstr(err, "at byte offset") != NULL, "%s: message '%s' lacks the offset", label, err);
    gguf_free(g);
    gguf_writer_free(&w);
    hearth_buf_free(&b);
}

static void m_magic(hearth_buf *b, gguf_writer *w) { gguf_writer_finish(w, b); b->data[0] = 'X'; }
static void m_version(hearth_buf *b, gguf_writer *w) { w->version = 1; gguf_writer_finish(w, b); }
static void m_version_hi(hearth_buf *b, gguf_writer *w) { w->version = 99; gguf_writer_finish(w, b); }
static void m_truncated(hearth_buf *b, gguf_writer *w) { gguf_writer_finish(w, b); b->len = 60; }
static void m_n_kv(hearth_buf *b, gguf_writer *w) { gguf_writer_finish(w, b); uint64_t n = 1ull << 60; memcpy(b->data + 16, &n, 8); }
static void m_n_tensors(hearth_buf *b, gguf_writer *w) { gguf_writer_finish(w, b); uint64_t n = 1ull << 50; memcpy(b->data + 8, &n, 8); }
static void m_dup_key(hearth_buf *b, gguf_writer *w) { gguf_write_u32(w, "llama.block_count", 3); gguf_writer_finish(w, b); }
static void m_dup_tensor(hearth_buf *b, gguf_writer *w) {
    int64_t ne[1] = { 64 };
    gguf_write_tensor(w, "b.weight", HEARTH_TYPE_F32, 1, ne, NULL);
    gguf_writer_finish(w, b);
}
static void m_str_len(hearth_buf *b, gguf_writer *w) {
    gguf_writer_finish(w, b);
    uint64_t n = 1ull << 62; /* the first key's length */
    memcpy(b->data + 24, &n, 8);
}
static void m_vtype(hearth_buf *b, gguf_writer *w) {
    gguf_writer_finish(w, b);
    uint32_t t = 77; /* value type of the first pair: after 24 + 8 + strlen("general.architecture") */
    memcpy(b->data + 24 + 8 + 20, &t, 4);
}
static void m_overflow_dims(hearth_buf *b, gguf_writer *w) {
    int64_t ne[4] = { 1ll << 40, 1ll << 40, 1, 1 };
    gguf_write_tensor(w, "huge", HEARTH_TYPE_F32, 2, ne, NULL);
    gguf_writer_finish(w, b);
}
static void m_type_range(hearth_buf *b, gguf_writer *w) {
    int64_t ne[1] = { 32 };
    gguf_write_tensor(w, "bad.type", (hearth_type)200, 1, ne, NULL);
    gguf_writer_finish(w, b);
}
static void m_type_retired(hearth_buf *b, gguf_writer *w) {
    int64_t ne[1] = { 32 };
    gguf_write_tensor(w, "bad.type", (hearth_type)4, 1, ne, NULL);
    gguf_writer_finish(w, b);
}
static void m_row_block(hearth_buf *b, gguf_writer *w) {
    int64_t ne[2] = { 33, 2 };
    gguf_write_tensor(w, "odd.row", HEARTH_TYPE_Q8_0, 2, ne, NULL);
    gguf_writer_finish(w, b);
}
static void m_outside(hearth_buf *b, gguf_writer *w) { gguf_writer_finish(w, b); b->len -= 100; }
static void m_n_dims(hearth_buf *b, gguf_writer *w) {
    int64_t ne[5] = { 1, 1, 1, 1, 1 };
    gguf_write_tensor(w, "five.dims", HEARTH_TYPE_F32, 5, ne, NULL);
    gguf_writer_finish(w, b);
}
/* Finds the u64 data offset of tensor `name` in the image (tensor infos follow the kvs). */
static uint8_t *tensor_offset_field(hearth_buf *b, gguf_writer *w, const char *name) {
    size_t base = 24 + w->kv.len;
    for (size_t p = base; p + strlen(name) < b->len; p++) {
        if (memcmp(b->data + p, name, strlen(name)) != 0) continue;
        uint32_t nd;
        memcpy(&nd, b->data + p + strlen(name), 4);
        return (uint8_t *)b->data + p + strlen(name) + 4 + 8 * nd + 4;
    }
    return NULL;
}
static void m_overlap(hearth_buf *b, gguf_writer *w) {
    gguf_writer_finish(w, b);
    uint8_t *f = tensor_offset_field(b, w, "b.weight");
    uint64_t off = 0; /* on top of a.weight */
    if (f) memcpy(f, &off, 8);
}
static void m_misaligned(hearth_buf *b, gguf_writer *w) {
    gguf_writer_finish(w, b);
    uint8_t *f = tensor_offset_field(b, w, "c.weight");
    uint64_t off;
    if (!f) return;
    memcpy(&off, f, 8);
    off += 4;
    memcpy(f, &off, 8);
}
static void m_offset_overflow(hearth_buf *b, gguf_writer *w) {
    gguf_writer_finish(w, b);
    uint8_t *f = tensor_offset_field(b, w, "c.weight");
    uint64_t off = UINT64_MAX - 31;
    if (f) memcpy(f, &off, 8);
}
static void m_alignment(hearth_buf *b, gguf_writer *w) { gguf_write_u32(w, "general.alignment", 24); gguf_writer_finish(w, b); }
static void m_array_len(hearth_buf *b, gguf_writer *w) {
    uint32_t v[2] = { 1, 2 };
    gguf_write_arr(w, "test.arr", GGUF_VT_UINT32, v, 2);
    gguf_writer_finish(w, b);
    /* the array length sits 16 bytes before the end of the kv section */
    uint64_t n = 1ull << 61;
    memcpy(b->data + 24 + w->kv.len - 8 - 8, &n, 8);
}
static void m_bool(hearth_buf *b, gguf_writer *w) {
    gguf_write_bool(w, "test.bool2", true);
    gguf_writer_finish(w, b);
    b->data[24 + w->kv.len - 1] = 7;
}
static void m_empty(hearth_buf *b, gguf_writer *w) { (void)w; hearth_buf_append(b, "", 0); }

static void test_rejects(void) {
    expect_reject("bad magic", m_magic, "bad magic");
    expect_reject("version 1", m_version, "unsupported GGUF version 1");
    expect_reject("version 99", m_version_hi, "unsupported GGUF version 99");
    expect_reject("truncated", m_truncated, "past the end of the file");
    expect_reject("kv count", m_n_kv, "metadata count");
    expect_reject("tensor count", m_n_tensors, "tensor count");
    expect_reject("duplicate key", m_dup_key, "duplicate metadata key 'llama.block_count'");
    expect_reject("duplicate tensor", m_dup_tensor, "duplicate tensor name 'b.weight'");
    expect_reject("string length", m_str_len, "metadata key length");
    expect_reject("value type", m_vtype, "value type 77");
    expect_reject("dimension overflow", m_overflow_dims, "product of its dimensions overflows");
    expect_reject("type out of range", m_type_range, "type id 200, out of range");
    expect_reject("type retired", m_type_retired, "type id 4, a type retired");
    expect_reject("row not divisible", m_row_block, "row size 33 is not a multiple of the Q8_0 block size 32");
    expect_reject("data outside", m_outside, "lies outside the file");
    expect_reject("too many dims", m_n_dims, "5 dimensions");
    expect_reject("overlap", m_overlap, "overlaps");
    expect_reject("misaligned", m_misaligned, "not a multiple of the alignment");
    expect_reject("offset overflow", m_offset_overflow, "lies outside the file");
    expect_reject("alignment", m_alignment, "general.alignment 24 is not a power of two");
    expect_reject("array length", m_array_len, "array of");
    expect_reject("bool", m_bool, "bool value is 7");
    expect_reject("empty", m_empty, "file too small");
}

/* Every prefix of a valid file is rejected cleanly (no crash, a message, no result). */
static void test_every_truncation(void) {
    gguf_writer w;
    hearth_buf b = { 0 };
    build_valid(&w);
    REQUIRE(gguf_writer_finish(&w, &b));
    int bad = 0;
    for (size_t n = 0; n < b.len; n++) {
        gguf_file *g = NULL;
        hearth_status st = gguf_open_memory(b.data, n, &g, err, sizeof err);
        if (st == HEARTH_OK) { gguf_free(g); bad++; }
        else if (!err[0]) bad++;
    }
    CHECKF(bad == 0, "%d prefixes accepted or without a message", bad);
    gguf_writer_free(&w);
    hearth_buf_free(&b);
}

static void test_type_table(void) {
    const hearth_type_traits *t = hearth_type_get(HEARTH_TYPE_Q6_K);
    REQUIRE(t);
    CHECK_STR(t->name, "Q6_K");
    CHECK(t->block_size == 256 && t->type_size == 210);
    CHECK(hearth_type_get(4) == NULL && hearth_type_get(31) == NULL && hearth_type_get(HEARTH_TYPE_COUNT) == NULL);
    CHECK_STR(hearth_type_name(HEARTH_TYPE_MXFP4), "MXFP4");
    CHECK(hearth_type_row_size(HEARTH_TYPE_Q4_0, 64) == 36);
    CHECK(hearth_type_row_size(HEARTH_TYPE_Q4_0, 65) == 0);
}

static void test_open_file_errors(void) {
    gguf_file *g = NULL;
    CHECK(gguf_open_file("/nonexistent/x.gguf", &g, err, sizeof err) == HEARTH_ERR_IO && g == NULL);
    CHECK(strstr(err, "No such file") != NULL);
    CHECK(gguf_open_file("/", &g, err, sizeof err) == HEARTH_ERR_IO);
    /* a NULL error buffer is allowed */
    CHECK(gguf_open_memory("GGUF", 4, &g, NULL, 0) == HEARTH_ERR_FORMAT && g == NULL);
    gguf_free(NULL);
    hearth_gguf_free(NULL);
}

static void test_vocab_files(void) {
    const char *dir = "../shared/testdata/vocab";
    DIR *d = opendir(dir);
    if (!d) {
        printf("# %s not found; skipping\n", dir);
        return;
    }
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        gguf_file *g = NULL;
        CHECKF(gguf_open_file(path, &g, err, sizeof err) == HEARTH_OK, "%s", err);
        if (!g) continue;
        const gguf_array *toks = gguf_get_arr(g, "tokenizer.ggml.tokens");
        CHECKF(toks && toks->elem == GGUF_VT_STRING && toks->n > 1000, "%s: tokens", path);
        CHECK(gguf_n_tensors(g) == 0);
        gguf_free(g);
        n++;
    }
    closedir(d);
    CHECK(n >= 5);
}

int main(void) {
    RUN(test_valid_file);
    RUN(test_nested_arrays_and_v2);
    RUN(test_rejects);
    RUN(test_every_truncation);
    RUN(test_type_table);
    RUN(test_open_file_errors);
    RUN(test_vocab_files);
    return tap_done();
}
