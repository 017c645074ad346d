/*
 * pretok.c — the byte-level BPE pre-tokenizer: the split regexes chosen by
 * `tokenizer.ggml.pre`, run with PCRE2 in UTF mode with Unicode properties (UCP).
 *
 * As in the reference, a pre-tokenizer is a list of regexes applied one after the other: each
 * splits every current piece into its matches and the gaps between them (both kept), and a
 * regex sees one piece at a time (so lookahead stops at the piece's end).  The input is first
 * decoded the way the reference decodes it (a malformed byte becomes U+FFFD), then re-encoded,
 * so the words handed to BPE are exactly the reference's.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/tok_internal.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* the GPT-2 pattern, shared by several pre-tokenizers */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_LLAMA3                                                                                   \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2                                                                                    \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"     \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_CONTR "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
#define RE_GPT4O                                                                                    \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+" RE_CONTR "|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER \
    "*" RE_CONTR "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_TEKKEN                                                                                   \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER "*"     \
    "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* CJK ideographs, and the Hangul/… block the DeepSeek tokenizers keep together */
#define RE_CJK "[\\x{4E00}-\\x{9FA5}\\x{0800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
#define RE_DEEPSEEK_LETTERS                                                                         \
    "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}"   \
    "\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}"  \
    "\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}"         \
    "\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"      \
    "\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"      \
    "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}" \
    "\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}" \
    "\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"       \
    "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}"        \
    "\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"        \
    "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}"        \
    "\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}"      \
    "\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"    \
    "\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}" \
    "\\x{1E900}-\\x{1E943}]+"

typedef struct pre_def {
    const char *names[8];     /* tokenizer.ggml.pre values */
    const char *regex[TOK_MAX_REGEX];
    bool        ignore_merges;
    bool        add_bos;
} pre_def;

static const pre_def pre_defs[] = {
    { { "default" }, { "[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]" }, false, false },
    { { "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "dbrx", "smaug-bpe" },
      { RE_LLAMA3 }, true, true },
    { { "deepseek-llm" },
      { "[\\r\\n]", RE_DEEPSEEK_LETTERS,
        "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+", "\\s+$", RE_CJK,
        "\\p{N}+" },
      false, false },
    { { "deepseek-coder" }, { "[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_CJK, "\\p{N}" }, false, false },
    { { "falcon" },
      { "[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]" }, false, false },
    { { "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b" },
      { "\\p{N}", RE_GPT2 }, false, false },
    { { "gpt-2", "mpt", "olmo", "jais", "phi-2", "jina-es", "jina-de", "trillion" }, { RE_GPT2 }, false, false },
    { { "qwen2", "stablelm2", "deepseek-r1-qwen", "hunyuan", "megrez" }, { RE_QWEN2 }, false, false },
    { { "gpt-4o", "llama4" }, { RE_GPT4O }, false, false },
    { { "tekken" }, { RE_TEKKEN }, true, true },
};

hearth_status tok_pretok_init(tokenizer *t, char *err, size_t err_size) {
    const pre_def *d = NULL;
    for (size_t i = 0; i < HEARTH_ARRAY_LEN(pre_defs) && !d; i++)
        for (size_t k = 0; k < HEARTH_ARRAY_LEN(pre_defs[i].names) && pre_defs[i].names[k]; k++)
            if (!strcmp(pre_defs[i].names[k], t->pre)) d = &pre_defs[i];
    if (!d)
        return hearth_err(err, err_size, HEARTH_ERR_UNSUPPORTED,
                          "tokenizer: unknown pre-tokenizer tokenizer.ggml.pre = '%s'", t->pre);
    t->ignore_merges = d->ignore_merges;
    if (d->add_bos) t->add_bos = true;
    for (int i = 0; i < TOK_MAX_REGEX && d->regex[i]; i++) {
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)d->regex[i], PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
        if (!re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return hearth_err(err, err_size, HEARTH_ERR_UNSUPPORTED,
                              "tokenizer: pre-tokenizer '%s' regex %d: %s at %zu", t->pre, i, (char *)msg, (size_t)eo);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
        t->regex[t->n_regex++].code = re;
    }
    return HEARTH_OK;
}

void tok_pretok_free(tokenizer *t) {
    for (int i = 0; i < t->n_regex; i++) pcre2_code_free(t->regex[i].code);
    t->n_regex = 0;
}

void tok_words_free(tok_words *w) {
    if (!w) return;
    free(w->text);
    free(w->start);
    free(w->len);
    memset(w, 0, sizeof *w);
}

static bool words_push(tok_words *w, size_t start, size_t len) {
    if (w->n == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 64;
        uint32_t *ns = realloc(w->start, ncap * sizeof *ns);
        if (!ns) return false;
        w->start = ns;
        uint32_t *nl = realloc(w->len, ncap * sizeof *nl);
        if (!nl) return false;
        w->len = nl;
        w->cap = ncap;
    }
    w->start[w->n] = (uint32_t)start;
    w->len[w->n]   = (uint32_t)len;
    w->n++;
    return true;
}

/*
 * Splits text into pre-token words.  The words are byte ranges of w->text, the input
 * re-encoded from its code points (identical to the input when it is valid UTF-8).  For the
 * regex, surrogate code points (which PCRE2 cannot take) are presented as U+FFFD, which has
 * the same properties for every pattern here; the words keep their own bytes.
 */
bool tok_pretok_split(const tokenizer *t, const char *text, size_t len, tok_words *w) {
    memset(w, 0, sizeof *w);
    if (len > UINT32_MAX / 8) return false;
    size_t n_cp;
    uint32_t *cp = tok_utf8_decode(text, len, &n_cp);
    if (!cp) return false;
    bool ok = false;
    char *subj = NULL;
    pcre2_match_data *md = NULL;
    uint32_t *a = NULL, *b = NULL;
    size_t cap = n_cp * 4 + 1;
    w->text = malloc(cap);
    subj = malloc(cap);
    if (!w->text || !subj) goto done;
    size_t m = 0;
    for (size_t i = 0; i < n_cp; i++) {
        size_t k = tok_utf8_encode(cp[i], w->text + m);
        if (cp[i] >= 0xD800 && cp[i] <= 0xDFFF) {
            /* same length (3 bytes) as U+FFFD, so offsets agree between the two strings */
            memcpy(subj + m, "\xef\xbf\xbd", 3);
        } else {
            memcpy(subj + m, w->text + m, k);
        }
        m += k;
    }
    w->text_len = m;
    w->text[m] = 0;

    /* pieces as [start, end) byte ranges; a and b alternate between regex passes */
    a = hearth_malloc_array(m + 1, sizeof *a);
    b = hearth_malloc_array(m + 1, sizeof *b);
    if (!a || !b) goto done;
    /* The pieces cover the text without gaps, so each is stored by its start offset only:
     * piece i is [a[i], a[i+1]) and the last ends at m. */
    size_t na = m ? 1 : 0;
    a[0] = 0;
    md = pcre2_match_data_create(4, NULL);
    if (!md) goto done;
    for (int r = 0; r < t->n_regex && m; r++) {
        const pcre2_code *re = t->regex[r].code;
        size_t nb = 0;
        for (size_t p = 0; p < na; p++) {
            size_t ps = a[p], pe = p + 1 < na ? a[p + 1] : m;
            PCRE2_SPTR sub = (PCRE2_SPTR)(subj + ps);
            size_t plen = pe - ps, pos = 0, last = 0;
            while (pos < plen) {
                int rc = pcre2_match(re, sub, plen, pos, PCRE2_NO_UTF_CHECK, md, NULL);
                if (rc < 0) break;
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                size_t ms = ov[0], me = ov[1];
                if (me <= ms) { /* empty match: move one character on */
                    pos = ms + 1;
                    while (pos < plen && (sub[pos] & 0xC0) == 0x80) pos++;
                    continue;
                }
                if (ms > last) b[nb++] = (uint32_t)(ps + last);
                b[nb++] = (uint32_t)(ps + ms);
                last = pos = me;
            }
            if (last < plen) b[nb++] = (uint32_t)(ps + last);
        }
        uint32_t *tmp = a; a = b; b = tmp;
        na = nb;
    }
    for (size_t p = 0; p < na; p++) {
        size_t ps = a[p], pe = p + 1 < na ? a[p + 1] : m;
        if (pe > ps && !words_push(w, ps, pe - ps)) goto done;
    }
    ok = true;
done:
    pcre2_match_data_free(md);
    free(cp);
    free(subj);
    free(a);
    free(b);
    if (!ok) tok_words_free(w);
    return ok;
}
