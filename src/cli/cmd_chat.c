/* cmd_chat.c — `hearth chat -m MODEL [-s SYSTEM] ...`: interactive multi-turn chat.
 *
 * Each turn renders the whole conversation with the model's own chat template (ChatML when it
 * has none; the server's srv_model_render), tokenizes it, and hands it to
 * hearth_generate_continue with the longest common prefix of those tokens and the tokens this
 * program last put into the KV cache: only the new part of the prompt is prefilled.  When the
 * prompt would leave too little room for a reply, the oldest turns are dropped (the system
 * prompt is kept) and the user is told.
 *
 * On a terminal: line editing and in-memory history (libedit; nothing is written to disk),
 * streaming replies, /commands, Ctrl-C stops a reply (at the prompt, a second Ctrl-C or
 * Ctrl-D quits).  Otherwise every input line is one user message and only the replies are
 * printed, one line of input -> one reply followed by a newline. */
#include "cli/cli.h"

#include "hearth.h"
#include "server/server.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <histedit.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

static void chat_usage(FILE *f) {
    fprintf(f,
            "usage: hearth chat -m MODEL [options]\n"
            "  -m, --model PATH        GGUF model file\n"
            "  -s, --system TEXT       system prompt\n"
            "  -c, --ctx-size N        context length (default min(training context, 4096))\n"
            "  -t, --threads N         threads (default: physical cores)\n"
            "  -n, --n-predict N       most tokens per reply (default: until the end of the turn)\n"
            "      --temp T            temperature (default 0.8; 0 = greedy)\n"
            "      --top-k K           (default 40; 0 = off)\n"
            "      --top-p P           (default 0.95; 1 = off)\n"
            "      --min-p P           (default 0.05; 0 = off)\n"
            "      --repeat-penalty R  (default 1.0 = off)\n"
            "      --repeat-last-n N   penalty window (default 64)\n"
            "      --presence-penalty P, --frequency-penalty P\n"
            "      --seed S            RNG seed\n\n"
            "The model's own chat template is used (ChatML when it has none).  When standard input\n"
            "is not a terminal, each line is one user message and only the replies are printed.\n");
}

static void chat_help(void) {
    printf("commands:\n"
           "  /help          this list\n"
           "  /reset         forget the conversation (the system prompt stays)\n"
           "  /system TEXT   set the system prompt (/system alone removes it)\n"
           "  /save FILE     write the conversation as JSON ({\"messages\": [...]})\n"
           "  /load FILE     read a conversation written by /save (or a JSON list of messages)\n"
           "  /stats         tokens in the context, last prompt and reply speed\n"
           "  /quit          leave (also Ctrl-D, or Ctrl-C twice at the prompt)\n"
           "Ctrl-C stops a reply.  When the context fills, the oldest turns are dropped.\n");
}

/* ---- the conversation ----------------------------------------------------------------- */

typedef struct chat_msg {
    char *role, *content;
} chat_msg;

typedef struct chat_session {
    srv_model             m;
    hearth_ctx           *ctx;
    hearth_sampler_params sp;
    int32_t               n_predict; /* < 0: until the end of the turn or the context */
    int32_t               n_ctx;
    char                 *system;    /* NULL: none */
    chat_msg             *msgs;      /* after the system prompt */
    size_t                n_msgs, cap_msgs;
    int32_t              *cache;     /* the tokens in the KV cache (n_ctx room) */
    int32_t               n_cache;
    int32_t              *gen;       /* generated ids of a turn (n_ctx room) */
    bool                  tty;
    /* the last turn, for /stats */
    bool                  have_stats;
    int32_t               st_prompt, st_processed, st_reused, st_gen;
    double                st_prompt_s, st_gen_s;
} chat_session;

static volatile sig_atomic_t g_interrupt; /* SIGINT during a reply */

static void on_sigint(int sig) {
    (void)sig;
    g_interrupt = 1;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

static void msgs_clear(chat_session *s) {
    for (size_t i = 0; i < s->n_msgs; i++) {
        free(s->msgs[i].role);
        free(s->msgs[i].content);
    }
    s->n_msgs = 0;
}

/* Removes messages [0, n). */
static void msgs_drop_front(chat_session *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(s->msgs[i].role);
        free(s->msgs[i].content);
    }
    memmove(s->msgs, s->msgs + n, (s->n_msgs - n) * sizeof *s->msgs);
    s->n_msgs -= n;
}

static bool msgs_push(chat_session *s, const char *role, const char *content) {
    if (s->n_msgs == s->cap_msgs) {
        size_t cap = s->cap_msgs ? s->cap_msgs * 2 : 16;
        chat_msg *nm = hearth_malloc_array(cap, sizeof *nm);
        if (!nm) return false;
        if (s->n_msgs) memcpy(nm, s->msgs, s->n_msgs * sizeof *nm);
        free(s->msgs);
        s->msgs = nm;
        s->cap_msgs = cap;
    }
    chat_msg *m = &s->msgs[s->n_msgs];
    m->role = dup_str(role);
    m->content = dup_str(content);
    if (!m->role || !m->content) {
        free(m->role);
        free(m->content);
        return false;
    }
    s->n_msgs++;
    return true;
}

static void msgs_pop(chat_session *s) {
    if (!s->n_msgs) return;
    s->n_msgs--;
    free(s->msgs[s->n_msgs].role);
    free(s->msgs[s->n_msgs].content);
}

static bool set_system(chat_session *s, const char *text) {
    free(s->system);
    s->system = NULL;
    if (!text || !*text) return true;
    return (s->system = dup_str(text)) != NULL;
}

/* Renders the conversation (system prompt first) with a generation prompt and tokenizes it. */
static hearth_status render_prompt(const chat_session *s, tok_ids *ids, char *err, size_t err_size) {
    size_t n = s->n_msgs + (s->system ? 1 : 0), k = 0;
    srv_msg *sm = hearth_calloc(n ? n : 1, sizeof *sm);
    if (!sm) return hearth_err(err, err_size, HEARTH_ERR_NOMEM, "out of memory");
    if (s->system) sm[k++] = (srv_msg){ "system", s->system };
    for (size_t i = 0; i < s->n_msgs; i++) sm[k++] = (srv_msg){ s->msgs[i].role, s->msgs[i].content };
    hearth_buf text = { 0 };
    hearth_status st = srv_model_render(&s->m, sm, n, &text, err, err_size);
    free(sm);
    ids->len = 0;
    if (st == HEARTH_OK) st = srv_model_tokenize(&s->m, text.data ? text.data : "", text.len, true, ids, err, err_size);
    hearth_buf_free(&text);
    return st;
}

/* Drops the oldest turn: the first message and everything up to the next user message. */
static size_t drop_oldest_turn(chat_session *s) {
    size_t n = 1;
    while (n + 1 < s->n_msgs && strcmp(s->msgs[n].role, "user") != 0) n++;
    msgs_drop_front(s, n);
    return n;
}

typedef struct reply_sink {
    hearth_buf text;
    bool       print;
} reply_sink;

static int on_piece(void *user, int32_t token, const char *piece, size_t len) {
    (void)token;
    reply_sink *r = user;
    if (len) {
        hearth_buf_append(&r->text, piece, len);
        if (r->print) {
            fwrite(piece, 1, len, stdout);
            fflush(stdout);
        }
    }
    return g_interrupt != 0;
}

static int32_t common_prefix(const int32_t *a, int32_t na, const int32_t *b, int32_t nb) {
    int32_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return i;
}

/* One turn: the user's message in, the reply streamed to stdout (followed by a newline).
 * A message that cannot be answered (template error, too long, engine error) is taken back
 * out, the reason goes to stderr, and false is returned; without a terminal an empty line
 * then stands for the reply, so that replies stay one per input line. */
static bool chat_turn(chat_session *s, const char *user_text) {
    char err[512] = "";
    tok_ids ids = { 0 };
    reply_sink r = { .print = true };
    bool ok = false;
    if (!msgs_push(s, "user", user_text)) {
        fprintf(stderr, "hearth chat: out of memory\n");
        goto out;
    }
    /* room for a reply: -n tokens (at most half the context), else a quarter of it */
    int32_t reserve = s->n_predict > 0 ? HEARTH_MIN(s->n_predict, s->n_ctx / 2) : s->n_ctx / 4;
    if (reserve < 1) reserve = 1;
    size_t dropped = 0;
    for (;;) {
        if (render_prompt(s, &ids, err, sizeof err) != HEARTH_OK) {
            fprintf(stderr, "hearth chat: %s\n", err);
            msgs_pop(s);
            goto out;
        }
        if ((int64_t)ids.len + reserve <= s->n_ctx) break;
        if (s->n_msgs <= 1) {
            if ((int64_t)ids.len < s->n_ctx) break; /* the message alone: answer in the room left */
            fprintf(stderr, "hearth chat: the message (%zu tokens with the template) does not fit the context of %d "
                            "tokens (use -c to enlarge it)\n", ids.len, s->n_ctx);
            msgs_pop(s);
            goto out;
        }
        dropped += drop_oldest_turn(s);
    }
    if (dropped)
        fprintf(s->tty ? stdout : stderr, "[context full: dropped the %zu oldest message%s; the system prompt is kept]\n",
                dropped, dropped == 1 ? "" : "s");

    int32_t n_prompt = (int32_t)ids.len;
    int32_t keep = common_prefix(s->cache, HEARTH_MIN(s->n_cache, hearth_ctx_n_past(s->ctx)), ids.data, n_prompt);
    int32_t limit = s->n_ctx - n_prompt;
    if (s->n_predict >= 0 && s->n_predict < limit) limit = s->n_predict;
    int32_t n_gen = 0;
    hearth_status st = hearth_generate_continue(s->ctx, ids.data, n_prompt, keep, limit, &s->sp, on_piece, &r, s->gen,
                                                &n_gen, err, sizeof err);
    /* what the cache now holds: the first n_past tokens of prompt ++ reply */
    int32_t n_past = hearth_ctx_n_past(s->ctx);
    s->n_cache = 0;
    for (int32_t i = 0; i < n_past && i < n_prompt; i++) s->cache[s->n_cache++] = ids.data[i];
    for (int32_t i = 0; s->n_cache < n_past && i < n_gen; i++) s->cache[s->n_cache++] = s->gen[i];
    if (st != HEARTH_OK) {
        fprintf(stderr, "\nhearth chat: %s\n", err);
        msgs_pop(s);
        goto out;
    }
    bool stopped = g_interrupt != 0;
    printf(stopped && s->tty ? " [stopped]\n" : "\n");
    fflush(stdout);
    if (!msgs_push(s, "assistant", r.text.data ? r.text.data : "")) fprintf(stderr, "hearth chat: out of memory\n");

    hearth_timings t;
    hearth_ctx_timings(s->ctx, &t);
    s->have_stats = true;
    s->st_prompt = n_prompt;
    s->st_processed = t.n_prompt;
    s->st_reused = n_prompt - t.n_prompt;
    s->st_prompt_s = t.prompt_s;
    s->st_gen = t.n_gen;
    s->st_gen_s = t.gen_s;
    ok = true;
out:
    if (!ok && !s->tty) printf("\n");
    fflush(stdout);
    hearth_buf_free(&r.text);
    tok_ids_free(&ids);
    return ok;
}

static void chat_stats(const chat_session *s) {
    printf("context: %d of %d tokens in use\n", hearth_ctx_n_past(s->ctx), s->n_ctx);
    if (!s->have_stats) {
        printf("no turn yet\n");
        return;
    }
    printf("last prompt: %d tokens, %d processed, %d reused from the cache; %.3f s, %.1f tokens/s\n", s->st_prompt,
           s->st_processed, s->st_reused, s->st_prompt_s, s->st_prompt_s > 0 ? s->st_processed / s->st_prompt_s : 0.0);
    printf("last reply: %d tokens; %.3f s, %.1f tokens/s\n", s->st_gen, s->st_gen_s,
           s->st_gen_s > 0 ? s->st_gen / s->st_gen_s : 0.0);
}

/* ---- /save and /load -------------------------------------------------------------------- */

static bool chat_save(const chat_session *s, const char *path) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "messages");
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < s->n_msgs + 1; i++) {
        const char *role, *content;
        if (i == 0) {
            if (!s->system) continue;
            role = "system";
            content = s->system;
        } else {
            role = s->msgs[i - 1].role;
            content = s->msgs[i - 1].content;
        }
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddStringToObject(o, "role", role) && cJSON_AddStringToObject(o, "content", content);
        if (o) cJSON_AddItemToArray(arr, o);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "hearth chat: out of memory\n");
        return false;
    }
    FILE *f = fopen(path, "wb");
    ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) ok = false;
    if (!ok) fprintf(stderr, "hearth chat: cannot write '%s': %s\n", path, strerror(errno));
    cJSON_free(text);
    return ok;
}

/* Replaces the conversation with the one in `path`: {"messages": [...]} or [...], each
 * {"role": string, "content": string}; a leading system message becomes the system prompt. */
static bool chat_load(chat_session *s, const char *path) {
    size_t len = 0;
    char *text = cli_read_file(path, &len);
    if (!text) {
        fprintf(stderr, "hearth chat: cannot read '%s': %s\n", path, strerror(errno));
        return false;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *arr = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "messages");
    const char *why = NULL;
    if (!root) why = "not valid JSON";
    else if (!cJSON_IsArray(arr)) why = "no \"messages\" list";
    const cJSON *it;
    const cJSON *check = why ? NULL : arr;
    cJSON_ArrayForEach(it, check) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsString(role) || !(cJSON_IsString(content) || cJSON_IsNull(content) || !content)) {
            why = "each message needs a string \"role\" and a string \"content\"";
            break;
        }
    }
    if (why) {
        fprintf(stderr, "hearth chat: '%s': %s\n", path, why);
        cJSON_Delete(root);
        return false;
    }
    msgs_clear(s);
    set_system(s, NULL);
    bool ok = true, first = true;
    cJSON_ArrayForEach(it, arr) {
        const char *role = cJSON_GetObjectItemCaseSensitive(it, "role")->valuestring;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        const char *content = cJSON_IsString(c) ? c->valuestring : "";
        if (first && !strcmp(role, "system")) ok = set_system(s, content) && ok;
        else ok = msgs_push(s, role, content) && ok;
        first = false;
    }
    cJSON_Delete(root);
    if (!ok) fprintf(stderr, "hearth chat: out of memory\n");
    return ok;
}

/* ---- the terminal ----------------------------------------------------------------------- */

static volatile sig_atomic_t g_prompt_intr; /* Ctrl-C typed at the prompt */

static char *chat_prompt(EditLine *el) {
    (void)el;
    return "> ";
}

/* Ctrl-C typed at the prompt since the last line entered: the first warns, the second quits. */
static int g_prompt_n_intr;

/* Ctrl-C at the prompt arrives as a character (isig is off while editing).  The first one
 * discards the line typed so far and warns without leaving el_gets: had the read ended and
 * el_gets been called again, a second Ctrl-C typed in between (while the terminal is out of
 * editing mode, isig on) would be a SIGINT that nothing at the prompt waits for, and lost.  The
 * second one ends the read. */
static unsigned char ed_interrupt(EditLine *el, int ch) {
    (void)ch;
    if (++g_prompt_n_intr >= 2) {
        g_prompt_intr = 1;
        return CC_EOF;
    }
    const LineInfo *li = el_line(el);
    el_cursor(el, (int)(li->lastchar - li->cursor));
    el_deletestr(el, (int)(li->lastchar - li->buffer));
    printf("\n(Ctrl-C again or Ctrl-D to quit)\n");
    fflush(stdout);
    return CC_REDISPLAY;
}

/* Runs a /command; false when it asks to quit. */
static bool chat_command(chat_session *s, const char *line) {
    const char *arg = line + strcspn(line, " \t");
    size_t cmd_len = (size_t)(arg - line);
    while (*arg == ' ' || *arg == '\t') arg++;
#define IS(name) (cmd_len == strlen(name) && !strncmp(line, name, cmd_len))
    if (IS("/help") || IS("/?")) {
        chat_help();
    } else if (IS("/quit") || IS("/exit") || IS("/bye")) {
        return false;
    } else if (IS("/reset")) {
        msgs_clear(s);
        printf("[conversation cleared%s]\n", s->system ? "; the system prompt stays" : "");
    } else if (IS("/system")) {
        if (!set_system(s, arg)) fprintf(stderr, "hearth chat: out of memory\n");
        else printf(*arg ? "[system prompt set]\n" : "[system prompt removed]\n");
    } else if (IS("/save")) {
        if (!*arg) printf("usage: /save FILE\n");
        else if (chat_save(s, arg)) printf("[saved %zu messages to %s]\n", s->n_msgs + (s->system ? 1 : 0), arg);
    } else if (IS("/load")) {
        if (!*arg) printf("usage: /load FILE\n");
        else if (chat_load(s, arg)) printf("[loaded %zu messages from %s]\n", s->n_msgs + (s->system ? 1 : 0), arg);
    } else if (IS("/stats")) {
        chat_stats(s);
    } else {
        printf("unknown command '%.*s'; /help lists them\n", (int)cmd_len, line);
    }
#undef IS
    fflush(stdout);
    return true;
}

static void chomp(char *line) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
}

static int chat_interactive(chat_session *s) {
    if (!setlocale(LC_CTYPE, "") || !strcmp(setlocale(LC_CTYPE, NULL), "C")) setlocale(LC_CTYPE, "C.UTF-8");
    EditLine *el = el_init("hearth", stdin, stdout, stderr);
    History *hist = history_init();
    if (!el || !hist) {
        fprintf(stderr, "hearth chat: cannot set up line editing\n");
        if (el) el_end(el);
        if (hist) history_end(hist);
        return 1;
    }
    HistEvent ev;
    history(hist, &ev, H_SETSIZE, 1000);
    history(hist, &ev, H_SETUNIQUE, 1);
    el_set(el, EL_EDITOR, "emacs");
    el_set(el, EL_PROMPT, chat_prompt);
    el_set(el, EL_HIST, history, hist);
    el_set(el, EL_SIGNAL, 1);
    el_set(el, EL_SETTY, "-d", "-isig", NULL);
    /* the wide form: el_set's narrow EL_ADDFN leaks copies of both strings */
    el_wset(el, EL_ADDFN, L"hearth-interrupt", L"stop, or quit when typed twice", ed_interrupt);
    el_set(el, EL_BIND, "^C", "hearth-interrupt", NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESTART; /* the reply loop polls the flag; writes to the terminal go on */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    printf("hearth chat — %s (%s), context %d tokens.  /help for commands, Ctrl-D to quit.\n", s->m.name, s->m.arch,
           s->n_ctx);
    fflush(stdout);
    for (;;) {
        g_prompt_intr = 0;
        int count = 0;
        const char *got = el_gets(el, &count);
        if (g_prompt_intr || !got || count <= 0) { /* Ctrl-C twice, or Ctrl-D */
            printf("\n");
            break;
        }
        g_prompt_n_intr = 0;
        char *line = dup_str(got);
        if (!line) break;
        chomp(line);
        if (*line) history(hist, &ev, H_ENTER, line);
        g_interrupt = 0;
        bool go_on = true;
        if (line[0] == '/') go_on = chat_command(s, line);
        else if (*line) chat_turn(s, line);
        g_interrupt = 0;
        free(line);
        if (!go_on) break;
    }
    el_end(el);
    history_end(hist);
    return 0;
}

/* Standard input is not a terminal: one user message per line, only replies out. */
static int chat_batch(chat_session *s) {
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        chomp(line);
        if (!chat_turn(s, line)) rc = 1;
    }
    free(line);
    return rc;
}

int cmd_chat(int argc, char **argv) {
    const char *model_path = NULL, *system = NULL;
    long n_predict = -1, n_ctx = 0, n_threads = 0;
    int r;
    chat_session s;
    memset(&s, 0, sizeof s);
    hearth_sampler_params_default(&s.sp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL()                                                                 \
    do {                                                                           \
        if (!val) {                                                                \
            fprintf(stderr, "hearth chat: %s needs a value\n", a);                 \
            return 2;                                                              \
        }                                                                          \
        i++;                                                                       \
    } while (0)
#define BAD_VAL()                                                                  \
    do {                                                                           \
        fprintf(stderr, "hearth chat: invalid value '%s' for %s\n", val, a);       \
        return 2;                                                                  \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            chat_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            NEED_VAL(); model_path = val;
        } else if (!strcmp(a, "-s") || !strcmp(a, "--system")) {
            NEED_VAL(); system = val;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            NEED_VAL(); if (!cli_parse_long(val, -1, 1 << 24, &n_predict)) BAD_VAL();
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            NEED_VAL(); if (!cli_parse_long(val, 0, 1 << 24, &n_ctx)) BAD_VAL();
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            NEED_VAL(); if (!cli_parse_long(val, 1, 1024, &n_threads)) BAD_VAL();
        } else if ((r = cli_parse_sampling(a, val, &s.sp)) != 0) {
            NEED_VAL(); if (r < 0) BAD_VAL();
        } else {
            fprintf(stderr, "hearth chat: unknown option '%s'\n", a);
            chat_usage(stderr);
            return 2;
        }
#undef NEED_VAL
#undef BAD_VAL
    }
    if (!model_path) {
        chat_usage(stderr);
        return 2;
    }
    char err[512] = "";
    int rc = 1;
    s.n_predict = (int32_t)n_predict;
    s.tty = isatty(STDIN_FILENO) != 0;
    char resolved[4096];
    if (!cli_model_path("chat", model_path, resolved, sizeof resolved)) return 1;
    if (srv_model_load(&s.m, resolved, NULL, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth chat: %s\n", err);
        return 1;
    }
    hearth_ctx_params cp;
    hearth_ctx_params_default(&cp);
    cp.n_ctx = (int32_t)n_ctx;
    cp.n_threads = (int32_t)n_threads;
    if (hearth_ctx_create(s.m.hm, &cp, &s.ctx, err, sizeof err) != HEARTH_OK) {
        fprintf(stderr, "hearth chat: %s\n", err);
        goto out;
    }
    s.n_ctx = hearth_ctx_n_ctx(s.ctx);
    s.cache = hearth_malloc_array((size_t)s.n_ctx, sizeof *s.cache);
    s.gen = hearth_malloc_array((size_t)s.n_ctx, sizeof *s.gen);
    if (!s.cache || !s.gen || !set_system(&s, system)) {
        fprintf(stderr, "hearth chat: out of memory\n");
        goto out;
    }
    rc = s.tty ? chat_interactive(&s) : chat_batch(&s);
out:
    msgs_clear(&s);
    free(s.msgs);
    free(s.system);
    free(s.cache);
    free(s.gen);
    hearth_ctx_free(s.ctx);
    srv_model_free(&s.m);
    return rc;
}
