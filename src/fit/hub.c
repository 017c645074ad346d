/* hub.c — a Hugging Face hub client over libcurl: repository listings, GGUF headers by range
 * requests, and verified, resumable downloads. */
#include "fit/fit.h"

#include "core/core.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define HDR_MAX (512ull << 20) /* the largest GGUF header we are willing to fetch */

const char *hub_endpoint(void) {
    static char ep[1024];
    const char *e = getenv("HF_ENDPOINT");
    snprintf(ep, sizeof ep, "%s", e && e[0] ? e : "https://huggingface.co");
    size_t n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/') ep[--n] = '\0';
    return ep;
}

static void curl_global(void) {
    static int done;
    if (!done) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = 1;
    }
}

/* ---- one request ------------------------------------------------------------------- */
typedef struct req {
    hearth_buf body;           /* when no file */
    FILE      *file;           /* body appended here (206) or rewritten (200) */
    uint64_t   max_body;       /* stop after this many body bytes (0 = no limit) */
    uint64_t   got;
    uint64_t   offset;         /* bytes already in file before the request */
    bool       restarted;      /* server ignored Range: file rewritten from 0 */
    int        write_errno;
    CURL      *curl;
    char       linked_etag[80];
    uint64_t   linked_size;
    uint64_t   range_total;    /* from Content-Range */
    char       next_url[2048]; /* Link: <...>; rel="next" of the final response ("" = none) */
    /* progress */
    bool       progress, tty;
    uint64_t   total;
    double     t0, last;
    int        last_decile;
    const char *label;
} req;

static long resp_code(CURL *c) {
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
    req *r = ud;
    size_t n = sz * nm;
    long code = resp_code(r->curl);
    if (code >= 300) { /* an error page: keep a little of it, never write it to the file */
        if (r->body.len < 4096) hearth_buf_append(&r->body, p, HEARTH_MIN(n, 4096 - r->body.len));
        return n;
    }
    if (r->file) {
        if (r->got == 0 && code == 200 && r->offset > 0) {
            /* the server sent the whole file: start over */
            if (fflush(r->file) != 0 || ftruncate(fileno(r->file), 0) != 0 || fseek(r->file, 0, SEEK_SET) != 0) {
                r->write_errno = errno;
                return 0;
            }
            r->offset = 0;
            r->restarted = true;
        }
        errno = 0;
        if (fwrite(p, 1, n, r->file) != n) {
            r->write_errno = errno ? errno : EIO;
            return 0;
        }
        r->got += n;
        return n;
    }
    if (r->max_body && r->got + n > r->max_body) n = (size_t)(r->max_body - r->got);
    if (!hearth_buf_append(&r->body, p, n)) return 0;
    r->got += n;
    return r->max_body && r->got >= r->max_body ? 0 : sz * nm;
}

/* What a failed write means for someone pulling a model. */
static const char *write_hint(int e) {
    switch (e) {
    case ENOSPC: return " (disk full: free some space, then run the same command again to resume)";
#ifdef EDQUOT
    case EDQUOT: return " (disk quota exceeded: free some space, then run the same command again to resume)";
#endif
    case EFBIG: return " (over the file size limit of this process: see ulimit -f)";
    default: return "";
    }
}

static void trim_header_value(const char *v, size_t n, char *out, size_t size) {
    while (n > 0 && (*v == ' ' || *v == '"')) v++, n--;
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '"')) n--;
    snprintf(out, size, "%.*s", (int)HEARTH_MIN(n, size - 1), v);
}

/* The target of rel="next" in a Link header value (RFC 8288: `<url>; rel="next", <url2>;
 * rel="prev"`), copied into out; "" when there is none or it does not fit. */
static void link_next(const char *v, size_t n, char *out, size_t size) {
    const char *end = v + n;
    out[0] = '\0';
    while (v < end) {
        const char *lt = memchr(v, '<', (size_t)(end - v));
        if (!lt) return;
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt) return;
        /* this link's parameters run to the next '<' (or the end) */
        const char *nx = memchr(gt, '<', (size_t)(end - gt));
        const char *pe = nx ? nx : end;
        for (const char *q = gt + 1; q + 3 <= pe; q++) {
            if (strncasecmp(q, "rel", 3) != 0) continue;
            const char *s = q + 3;
            while (s < pe && *s == ' ') s++;
            if (s >= pe || *s != '=') continue;
            s++;
            while (s < pe && (*s == ' ' || *s == '"')) s++;
            /* rel may hold several space-separated relation types, quoted or not */
            while (s < pe && !strchr("\";,\r\n", *s)) {
                const char *w = s;
                while (s < pe && !strchr(" \";,\r\n", *s)) s++;
                if (s - w == 4 && !strncasecmp(w, "next", 4) && (size_t)(gt - lt - 1) < size) {
                    snprintf(out, size, "%.*s", (int)(gt - lt - 1), lt + 1);
                    return;
                }
                while (s < pe && *s == ' ') s++;
            }
        }
        v = pe;
    }
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud) {
    req *r = ud;
    size_t n = sz * nm;
    char val[128];
    if (n > 5 && !strncmp(p, "HTTP/", 5)) r->next_url[0] = '\0'; /* a new response (after a redirect) */
    else if (n > 5 && !strncasecmp(p, "Link:", 5)) {
        char next[sizeof r->next_url];
        link_next(p + 5, n - 5, next, sizeof next);
        if (next[0]) snprintf(r->next_url, sizeof r->next_url, "%s", next);
    } else if (n > 15 && !strncasecmp(p, "X-Linked-Etag:", 14)) trim_header_value(p + 14, n - 14, r->linked_etag, sizeof r->linked_etag);
    else if (n > 15 && !strncasecmp(p, "X-Linked-Size:", 14)) {
        trim_header_value(p + 14, n - 14, val, sizeof val);
        r->linked_size = strtoull(val, NULL, 10);
    } else if (n > 14 && !strncasecmp(p, "Content-Range:", 14)) {
        trim_header_value(p + 14, n - 14, val, sizeof val);
        const char *slash = strchr(val, '/');
        if (slash && isdigit((unsigned char)slash[1])) r->range_total = strtoull(slash + 1, NULL, 10);
    }
    return n;
}

static void fmt_bytes(double b, char *out, size_t size) {
    if (b >= 1073741824.0) snprintf(out, size, "%.2f GiB", b / 1073741824.0);
    else if (b >= 1048576.0) snprintf(out, size, "%.1f MiB", b / 1048576.0);
    else snprintf(out, size, "%.0f KiB", b / 1024.0);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ult, curl_off_t uln) {
    (void)dltotal, (void)ult, (void)uln;
    req *r = ud;
    if (!r->progress || r->total == 0) return 0;
    double now = hearth_time_s();
    uint64_t have = r->offset + (uint64_t)dlnow;
    double frac = HEARTH_MIN(1.0, (double)have / (double)r->total);
    double rate = now > r->t0 ? (double)dlnow / (now - r->t0) : 0;
    double eta = rate > 0 ? (double)(r->total - HEARTH_MIN(have, r->total)) / rate : 0;
    char hv[32], tv[32], rv[32];
    fmt_bytes((double)have, hv, sizeof hv);
    fmt_bytes((double)r->total, tv, sizeof tv);
    fmt_bytes(rate, rv, sizeof rv);
    if (r->tty) {
        if (now - r->last < 0.1 && have < r->total) return 0;
        r->last = now;
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : ' ';
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %3d%% %s/%s %s/s ETA %d:%02d  ", r->label, bar, (int)(frac * 100), hv, tv, rv,
                (int)eta / 60, (int)eta % 60);
    } else {
        int decile = (int)(frac * 10);
        if (decile > r->last_decile) {
            r->last_decile = decile;
            fprintf(stderr, "%s: %d%% (%s of %s, %s/s)\n", r->label, decile * 10, hv, tv, rv);
        }
    }
    return 0;
}

static struct curl_slist *auth_headers(void) {
    const char *tok = getenv("HF_TOKEN");
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "User-Agent: hearth/" HEARTH_VERSION);
    if (tok && tok[0]) {
        char line[2048];
        snprintf(line, sizeof line, "Authorization: Bearer %s", tok);
        h = curl_slist_append(h, line);
    }
    return h;
}

/* Performs one request.  `range` is "a-b" / "a-" or NULL; `head` for HEAD without
 * redirects.  Maps transport and HTTP errors to a message about `what`. */
static hearth_status perform(const char *url, const char *range, bool head, req *r, const char *what, char *err,
                             size_t err_size) {
    curl_global();
    CURL *c = curl_easy_init();
    if (!c) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "curl: cannot initialise");
    struct curl_slist *hdrs = auth_headers();
    char errbuf[CURL_ERROR_SIZE] = "";
    r->curl = c;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, head ? 0L : 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (range) curl_easy_setopt(c, CURLOPT_RANGE, range);
    if (r->progress) {
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
        r->t0 = r->last = hearth_time_s();
        r->last_decile = (int)(r->total ? (r->offset * 10 / r->total) : 0);
    }
    CURLcode rc = curl_easy_perform(c);
    long code = resp_code(c);
    hearth_status st = HEARTH_OK;
    if (r->progress && r->tty) fputc('\n', stderr);
    bool stopped_on_purpose = rc == CURLE_WRITE_ERROR && !r->file && r->max_body && r->got >= r->max_body;
    if (code == 401 || code == 403)
        st = hearth_err(err, err_size, HEARTH_ERR_IO,
                        "%s: access denied (HTTP %ld): the repository is gated or private; accept its terms on the hub and set HF_TOKEN",
                        what, code);
    else if (code == 404)
        st = hearth_err(err, err_size, HEARTH_ERR_NOT_FOUND, "%s: not found (HTTP 404): check the repository and file name", what);
    else if (code == 416)
        st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: the server rejected the byte range (HTTP 416)", what);
    else if (code >= 400)
        st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: HTTP %ld from %s", what, code, url);
    else if (rc == CURLE_WRITE_ERROR && r->write_errno)
        st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: cannot write: %s%s", what, strerror(r->write_errno),
                        write_hint(r->write_errno));
    else if (rc != CURLE_OK && !stopped_on_purpose) {
        if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY)
            st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: no network: cannot reach %s (%s)", what, url,
                            errbuf[0] ? errbuf : curl_easy_strerror(rc));
        else if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_OPERATION_TIMEDOUT)
            st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: truncated transfer: the connection broke off (%s)", what,
                            errbuf[0] ? errbuf : curl_easy_strerror(rc));
        else
            st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: transfer failed: %s", what,
                            errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    r->curl = NULL;
    return st;
}

/* ---- listing -------------------------------------------------------------------------- */
void hub_listing_free(hub_listing *l) {
    if (!l) return;
    free(l->files);
    l->files = NULL;
    l->n = 0;
}

static bool is_hex64(const char *s) {
    if (strlen(s) != 64) return false;
    for (int i = 0; i < 64; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

static bool valid_repo(const char *repo) {
    /* owner/name: letters, digits, - _ . and exactly one slash; no ".." */
    int slashes = 0;
    if (!repo[0] || strstr(repo, "..")) return false;
    for (const char *p = repo; *p; p++) {
        if (*p == '/') slashes++;
        else if (!isalnum((unsigned char)*p) && !strchr("-_.", *p)) return false;
    }
    return slashes == 1 && repo[0] != '/' && repo[strlen(repo) - 1] != '/';
}

/* The next page's URL from a Link target: a path ("/api/...") gets the endpoint's origin; an
 * absolute URL must have that origin (the token is sent with every page).  False otherwise. */
static bool next_page_url(const char *link, char *out, size_t size) {
    const char *ep = hub_endpoint();
    const char *host = strstr(ep, "://");
    if (!host) return false;
    const char *path = strchr(host + 3, '/');
    size_t origin = path ? (size_t)(path - ep) : strlen(ep);
    int n;
    if (link[0] == '/' && link[1] != '/') n = snprintf(out, size, "%.*s%s", (int)origin, ep, link);
    else if (!strncmp(link, ep, origin) && link[origin] == '/') n = snprintf(out, size, "%s", link);
    else return false;
    return n > 0 && (size_t)n < size;
}

/* Appends the file entries of one listing page (a JSON array) to out. */
static hearth_status add_listing_page(const char *text, size_t len, hub_listing *out, size_t *cap, const char *what,
                                      char *err, size_t err_size) {
    cJSON *j = cJSON_ParseWithLength(text ? text : "", len);
    if (!cJSON_IsArray(j)) {
        cJSON_Delete(j);
        return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "%s: the server's listing is not a JSON array", what);
    }
    size_t n = (size_t)cJSON_GetArraySize(j);
    if (out->n + n > *cap) {
        size_t nc = HEARTH_MAX(out->n + n, *cap * 2);
        hub_file *f = realloc(out->files, HEARTH_MAX(nc, 1) * sizeof *f);
        if (!f) {
            cJSON_Delete(j);
            return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
        }
        out->files = f;
        *cap = nc;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
        const cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");
        const cJSON *lfs  = cJSON_GetObjectItemCaseSensitive(it, "lfs");
        if (!cJSON_IsString(path) || (cJSON_IsString(type) && strcmp(type->valuestring, "file"))) continue;
        hub_file *f = &out->files[out->n];
        memset(f, 0, sizeof *f);
        if (snprintf(f->path, sizeof f->path, "%s", path->valuestring) >= (int)sizeof f->path) continue;
        f->size = cJSON_IsNumber(size) && size->valuedouble >= 0 ? (uint64_t)size->valuedouble : 0;
        const cJSON *oid = lfs ? cJSON_GetObjectItemCaseSensitive(lfs, "oid") : NULL;
        const cJSON *lsz = lfs ? cJSON_GetObjectItemCaseSensitive(lfs, "size") : NULL;
        if (cJSON_IsString(oid)) {
            const char *h = oid->valuestring;
            if (!strncmp(h, "sha256:", 7)) h += 7;
            if (is_hex64(h)) snprintf(f->sha256, sizeof f->sha256, "%s", h);
        }
        if (cJSON_IsNumber(lsz) && lsz->valuedouble >= 0) f->size = (uint64_t)lsz->valuedouble;
        out->n++;
    }
    cJSON_Delete(j);
    return HEARTH_OK;
}

#define HUB_MAX_PAGES 1000 /* a listing longer than this many pages is refused (or a link loop) */

hearth_status hub_list(const char *repo, hub_listing *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    if (!valid_repo(repo)) return hearth_err(err, err_size, HEARTH_ERR_ARG, "'%s' is not a repository name (owner/name)", repo);
    char url[2048];
    snprintf(url, sizeof url, "%s/api/models/%s/tree/main?recursive=true", hub_endpoint(), repo);
    char what[600];
    snprintf(what, sizeof what, "listing %s", repo);
    size_t cap = 0;
    hearth_status st = HEARTH_OK;
    /* the hub pages long listings: each page's Link header names the next */
    for (int page = 0; !st; page++) {
        if (page == HUB_MAX_PAGES) {
            st = hearth_err(err, err_size, HEARTH_ERR_LIMIT, "%s: more than %d pages", what, HUB_MAX_PAGES);
            break;
        }
        req r = { 0 };
        r.max_body = 64ull << 20;
        st = perform(url, NULL, false, &r, what, err, err_size);
        if (!st) st = add_listing_page(r.body.data, r.body.len, out, &cap, what, err, err_size);
        hearth_buf_free(&r.body);
        if (st || !r.next_url[0]) break;
        if (!next_page_url(r.next_url, url, sizeof url))
            st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "%s: the next page's link leaves %s: %s", what,
                            hub_endpoint(), r.next_url);
    }
    if (st) hub_listing_free(out);
    return st;
}

/* ---- header by range requests --------------------------------------------------------- */

typedef struct scan {
    const uint8_t *p;
    uint64_t       len, off;
    bool           short_;
} scan;

static bool sc_need(scan *s, uint64_t n) {
    if (n > s->len - s->off) {
        s->short_ = true;
        return false;
    }
    return true;
}

static bool sc_u64(scan *s, uint64_t *v, unsigned bytes) {
    if (!sc_need(s, bytes)) return false;
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++) x |= (uint64_t)s->p[s->off + i] << (8 * i);
    s->off += bytes;
    *v = x;
    return true;
}

static bool sc_skip(scan *s, uint64_t n) {
    if (!sc_need(s, n)) return false;
    s->off += n;
    return true;
}

static bool sc_value(scan *s, uint32_t type, int depth) {
    static const uint8_t fixed[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    uint64_t n, t;
    if (type > 12 || depth > 8) return false;
    if (type == GGUF_VT_STRING) return sc_u64(s, &n, 8) && sc_skip(s, n);
    if (type != GGUF_VT_ARRAY) return sc_skip(s, fixed[type]);
    if (!sc_u64(s, &t, 4) || !sc_u64(s, &n, 8)) return false;
    if (t > 12) return false;
    if (t != GGUF_VT_STRING && t != GGUF_VT_ARRAY) {
        uint64_t bytes;
        return hearth_mul_u64(n, fixed[t], &bytes) && sc_skip(s, bytes);
    }
    for (uint64_t i = 0; i < n; i++)
        if (!sc_value(s, (uint32_t)t, depth + 1)) return false;
    return true;
}

hearth_status fit_gguf_header_len(const uint8_t *buf, uint64_t len, uint64_t *hdr_len, bool *need_more, char *err,
                                  size_t err_size) {
    scan s = { .p = buf, .len = len };
    uint64_t magic, version, n_t, n_kv, v;
    *need_more = false;
    *hdr_len = 0;
    if (!sc_u64(&s, &magic, 4)) goto short_;
    if (magic != GGUF_MAGIC) return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "not a GGUF file (bad magic)");
    if (!sc_u64(&s, &version, 4) || !sc_u64(&s, &n_t, 8) || !sc_u64(&s, &n_kv, 8)) goto short_;
    if (version != 2 && version != 3) return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "unsupported GGUF version %llu", (unsigned long long)version);
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!sc_u64(&s, &v, 8) || !sc_skip(&s, v) || !sc_u64(&s, &v, 4)) goto short_;
        if (!sc_value(&s, (uint32_t)v, 0)) goto short_;
    }
    for (uint64_t i = 0; i < n_t; i++) {
        uint64_t nd;
        if (!sc_u64(&s, &v, 8) || !sc_skip(&s, v) || !sc_u64(&s, &nd, 4)) goto short_;
        if (nd > GGUF_MAX_DIMS) return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "malformed GGUF header (tensor with %llu dimensions)", (unsigned long long)nd);
        if (!sc_skip(&s, 8 * nd + 4 + 8)) goto short_;
    }
    *hdr_len = s.off;
    return HEARTH_OK;
short_:
    if (s.short_) {
        *need_more = true;
        return HEARTH_OK;
    }
    return hearth_err(err, err_size, HEARTH_ERR_FORMAT, "malformed GGUF header (at byte %llu)", (unsigned long long)s.off);
}

static hearth_status resolve_url(const char *repo, const char *file, char *url, size_t size, char *err, size_t err_size) {
    if (!valid_repo(repo)) return hearth_err(err, err_size, HEARTH_ERR_ARG, "'%s' is not a repository name (owner/name)", repo);
    if (!file[0] || strstr(file, "..") || file[0] == '/' || strpbrk(file, " ?#%\\"))
        return hearth_err(err, err_size, HEARTH_ERR_ARG, "'%s' is not a file name", file);
    if (snprintf(url, size, "%s/%s/resolve/main/%s", hub_endpoint(), repo, file) >= (int)size)
        return hearth_err(err, err_size, HEARTH_ERR_RANGE, "URL too long");
    return HEARTH_OK;
}

void hub_header_free(hub_header *h) {
    if (!h) return;
    gguf_free(h->g);
    if (h->map) munmap(h->map, h->map_size);
    memset(h, 0, sizeof *h);
}

hearth_status hub_read_header(const char *repo, const char *file, hub_header *out, char *err, size_t err_size) {
    memset(out, 0, sizeof *out);
    char url[4096], what[1200], range[64];
    hearth_status st = resolve_url(repo, file, url, sizeof url, err, err_size);
    if (st) return st;
    snprintf(what, sizeof what, "%s/%s", repo, file);
    hearth_buf b = { 0 };
    uint64_t want = 4ull << 20, total = 0, hdr = 0;
    for (;;) {
        req r = { 0 };
        r.max_body = want - b.len;
        snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)b.len, (unsigned long long)want - 1);
        st = perform(url, range, false, &r, what, err, err_size);
        if (!st && !hearth_buf_append(&b, r.body.data ? r.body.data : "", r.body.len))
            st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
        if (r.range_total) total = r.range_total;
        uint64_t got = r.got;
        hearth_buf_free(&r.body);
        if (st) goto fail;
        bool more;
        st = fit_gguf_header_len((const uint8_t *)b.data, b.len, &hdr, &more, err, err_size);
        if (st) goto fail;
        if (!more) break;
        if (got == 0 || (total && b.len >= total)) {
            st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "%s: the file ends inside its GGUF header", what);
            goto fail;
        }
        if (want >= HDR_MAX) {
            st = hearth_err(err, err_size, HEARTH_ERR_LIMIT, "%s: GGUF header larger than %llu MiB", what, HDR_MAX >> 20);
            goto fail;
        }
        want *= 2;
    }
    if (total == 0) total = b.len; /* the server sent the whole file without ranges */
    if (total < hdr) {
        st = hearth_err(err, err_size, HEARTH_ERR_FORMAT, "%s: file size %llu is smaller than its header", what, (unsigned long long)total);
        goto fail;
    }
    /* Reserve the whole file's address range without memory (PROT_NONE), and place the
     * header at its start: the reader validates tensor offsets against the real size but
     * never touches tensor data. */
    long pg = sysconf(_SC_PAGESIZE);
    size_t map_size = (size_t)((total + (uint64_t)pg - 1) / (uint64_t)pg * (uint64_t)pg);
    if (map_size == 0) map_size = (size_t)pg;
    void *map = mmap(NULL, map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) {
        st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "%s: cannot reserve %llu bytes of address space", what, (unsigned long long)total);
        goto fail;
    }
    size_t copy = (size_t)HEARTH_MIN((uint64_t)b.len, total);
    size_t rw = (copy + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
    if (rw && mprotect(map, rw, PROT_READ | PROT_WRITE) != 0) {
        munmap(map, map_size);
        st = hearth_err(err, err_size, HEARTH_ERR_NOMEM, "%s: mprotect failed", what);
        goto fail;
    }
    memcpy(map, b.data, copy);
    out->map = map;
    out->map_size = map_size;
    out->total = total;
    st = gguf_open_memory(map, (size_t)total, &out->g, err, err_size);
    if (st) hub_header_free(out);
fail:
    hearth_buf_free(&b);
    return st;
}

/* ---- download --------------------------------------------------------------------------- */

hearth_status hub_download(const char *repo, const char *file, uint64_t size, const char *sha256, const char *dest,
                           bool progress_tty, char *err, size_t err_size) {
    char url[4096], what[1200], part[4200], expect[80] = "";
    hearth_status st = resolve_url(repo, file, url, sizeof url, err, err_size);
    if (st) return st;
    snprintf(what, sizeof what, "%s/%s", repo, file);
    snprintf(part, sizeof part, "%s.part", dest);
    if (sha256 && is_hex64(sha256)) snprintf(expect, sizeof expect, "%s", sha256);
    if (!expect[0] || !size) {
        /* ask the resolve URL itself: the hub names an LFS file's SHA-256 and size in headers */
        req h = { 0 };
        st = perform(url, NULL, true, &h, what, err, err_size);
        hearth_buf_free(&h.body);
        if (st) return st;
        if (!expect[0] && is_hex64(h.linked_etag)) snprintf(expect, sizeof expect, "%s", h.linked_etag);
        if (!size) size = h.linked_size;
    }
    if (!expect[0])
        return hearth_err(err, err_size, HEARTH_ERR_UNSUPPORTED, "%s: the server publishes no SHA-256 for this file; refusing an unverifiable download", what);
    for (char *c = expect; *c; c++) *c = (char)tolower((unsigned char)*c);

    struct stat sb;
    uint64_t have = stat(part, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    if (size && have > size) {
        if (truncate(part, 0) != 0) return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", part, strerror(errno));
        have = 0;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", dest);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    struct statvfs vf;
    if (size && statvfs(slash ? dir : ".", &vf) == 0) {
        uint64_t free_b = (uint64_t)vf.f_bavail * (uint64_t)vf.f_frsize;
        if (free_b < size - have)
            return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: disk full: needs %llu more bytes, %llu free in %s", what,
                              (unsigned long long)(size - have), (unsigned long long)free_b, dir);
    }
    if (!size || have < size) {
        FILE *f = fopen(part, "ab");
        if (!f) return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", part, strerror(errno));
        req r = { 0 };
        r.file = f;
        r.offset = have;
        r.total = size;
        r.progress = true;
        r.tty = progress_tty;
        r.label = file;
        if (have > 0) fprintf(stderr, "%s: resuming at %llu of %llu bytes\n", file, (unsigned long long)have, (unsigned long long)size);
        char range[48];
        snprintf(range, sizeof range, "%llu-", (unsigned long long)have);
        st = perform(url, have > 0 ? range : NULL, false, &r, what, err, err_size);
        hearth_buf_free(&r.body);
        errno = 0;
        if (fclose(f) != 0 && !st) {
            int e = errno ? errno : EIO;
            st = hearth_err(err, err_size, HEARTH_ERR_IO, "%s: cannot write: %s%s", part, strerror(e), write_hint(e));
        }
        if (st) {
            if (stat(part, &sb) == 0 && size)
                fprintf(stderr, "hearth: %llu of %llu bytes kept in %s; run the same command again to resume\n",
                        (unsigned long long)sb.st_size, (unsigned long long)size, part);
            return st;
        }
    }
    if (stat(part, &sb) != 0) return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: %s", part, strerror(errno));
    if (size && (uint64_t)sb.st_size != size) {
        if ((uint64_t)sb.st_size > size) unlink(part);
        return hearth_err(err, err_size, HEARTH_ERR_IO, "%s: truncated transfer: got %llu of %llu bytes%s", what,
                          (unsigned long long)sb.st_size, (unsigned long long)size,
                          (uint64_t)sb.st_size < size ? "; run the same command again to resume" : "");
    }
    char got[65];
    st = fit_sha256_file(part, got, err, err_size);
    if (st) return st;
    if (strcmp(got, expect) != 0) {
        unlink(part);
        return hearth_err(err, err_size, HEARTH_ERR_FORMAT,
                          "%s: SHA-256 mismatch: got %s, the server publishes %s; the download was discarded", what, got, expect);
    }
    if (rename(part, dest) != 0) return hearth_err(err, err_size, HEARTH_ERR_IO, "rename %s -> %s: %s", part, dest, strerror(errno));
    return store_write_manifest(dest, repo, file, expect, (uint64_t)sb.st_size, err, err_size);
}
