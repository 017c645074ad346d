/* matmul.c — Y = X W^T over quantized weights (see kernels.h).
 *
 * Activations are converted once to W's vec_dot_type (in parallel when there are several
 * rows), then the rows of W are handed out in chunks through an atomic counter so that a
 * slow thread does not hold the others up.  Inside a chunk, each weight tile (a few rows,
 * small enough to stay in L1/L2) is used against every token before moving on, so prefill
 * reads each weight once from memory; where the ISA has a 4-row kernel, each weight block is
 * also unpacked once for four tokens. */
#include "kernels/kernels_impl.h"

#include "core/core.h"

#include "tensor/blocks.h"

#include <stdatomic.h>
#include <string.h>

/* Weight rows per tile: 16 rows of 2048 Q8_0 weights are about 34 KiB. */
#define MM_TILE_ROWS 16

/* A tile kernel forms its per-token terms (and per-row scales) once per call: it gets as many
 * rows as fit in this many bytes (they stay in L1 across the tokens), in whole tiles. */
#define MM_GEMM_BYTES (24 * 1024)

static int64_t mm_gemm_rows(const hearth_mat *W) {
    const int64_t n = (int64_t)(MM_GEMM_BYTES / W->row_bytes) / MM_TILE_ROWS * MM_TILE_ROWS;
    return n > MM_TILE_ROWS ? n : MM_TILE_ROWS;
}

/* Up to this many activation rows are converted without the pool. */
#define MM_SERIAL_CONVERT 16

/* One weight matrix of a job: its output and kernels, and its share of the job's chunks. */
typedef struct mm_mat {
    const hearth_mat  *W;
    float             *Y;           /* (n_tok, rows) */
    hearth_vec_dot_fn  vec_dot[3];  /* by segment length class: < 4, 4..7, >= 8 tokens */
    hearth_vec_dot4_fn vec_dot4[3]; /* NULL: no multi-row kernel for this type/ISA/class */
    hearth_gemm_fn     gemm;        /* NULL: no tile kernel (then vec_dot4 / vec_dot) */
    hearth_gemm_fn     rows[3];     /* several rows at once, same bits as vec_dot[c]; or NULL */
    hearth_gemm_fn     tile4[3];    /* several rows x groups of 4 tokens, the bits of vec_dot4[c]; or NULL */
    hearth_gemm_fn     multi;       /* runs of 2+ tokens (hearth_kernels_multi), or NULL */
    int64_t            chunk_rows;
    int64_t            first_chunk; /* chunks first_chunk .. next matrix's first_chunk - 1 */
} mm_mat;

/* Up to MM_MAX_MATS matrices with one input (Q/K/V, gate/up), in one pass of the pool. */
#define MM_MAX_MATS 4
typedef struct mm_job {
    mm_mat               m[MM_MAX_MATS];
    int                  n_m;
    int64_t              n_chunks;  /* of all matrices */
    const float         *X;         /* (n_tok, cols) */
    int64_t              cols;
    int64_t              n_tok;
    const uint8_t       *A;        /* (n_tok, a_row) activations in vec_dot_type */
    uint8_t             *scratch;  /* where A is written when converted */
    size_t               a_row;
    hearth_from_float_fn from_float;
    bool                 x8;       /* each row of A followed by its hearth_q4_0_x8_terms */
    const int64_t       *seg_len;     /* (n_seg) runs of tokens, each rounded as a batch alone */
    int64_t              n_seg;
    atomic_llong         next_chunk;
} mm_job;

static void mm_convert_task(void *arg, int ith, int nth) {
    mm_job       *j  = arg;
    const int64_t t0 = j->n_tok * ith / nth, t1 = j->n_tok * (ith + 1) / nth;
    for (int64_t t = t0; t < t1; t++) {
        uint8_t *row = j->scratch + (size_t)t * j->a_row;
        j->from_float(j->X + t * j->cols, row, j->cols);
        if (j->x8) hearth_q4_0_x8_terms(row, j->cols, row + HEARTH_X8_TERMS_AT(j->cols));
    }
}

/* Segment length classes at the reference's thresholds (its float order for Q4_K changes at 4
 * tokens, for Q6_K at HEARTH_TILED_MIN_ROWS). */
static int seg_class(int64_t len) { return len >= HEARTH_TILED_MIN_ROWS ? 2 : len >= 4 ? 1 : 0; }
_Static_assert(HEARTH_STABLE_RUN >= HEARTH_TILED_MIN_ROWS, "a stable run is in the last length class");

static void mm_dot_task(void *arg, int ith, int nth) {
    (void)ith;
    (void)nth;
    mm_job *jb = arg;
    for (;;) {
        const int64_t c = atomic_fetch_add_explicit(&jb->next_chunk, 1, memory_order_relaxed);
        if (c >= jb->n_chunks) break;
        int mi = 0;
        while (mi + 1 < jb->n_m && c >= jb->m[mi + 1].first_chunk) mi++;
        const mm_mat     *j    = &jb->m[mi];
        const hearth_mat *W    = j->W;
        const int64_t     rows = W->rows, cols = W->cols;
        const uint8_t    *wd   = W->data;
        const int64_t     r0   = (c - j->first_chunk) * j->chunk_rows;
        const int64_t     r1   = HEARTH_MIN(rows, r0 + j->chunk_rows);
        const int64_t     step = j->gemm ? mm_gemm_rows(W) : MM_TILE_ROWS;
        for (int64_t rb = r0; rb < r1; rb += step) {
            const int64_t re = HEARTH_MIN(r1, rb + step);
            if (j->gemm) { /* tile kernels give every token its lone-token bits */
                j->gemm(cols, j->Y + rb, (size_t)rows, wd + (size_t)rb * W->row_bytes, W->row_bytes, re - rb, jb->A,
                        jb->a_row, jb->n_tok);
                continue;
            }
            int64_t t = 0;
            for (int64_t g = 0; g < jb->n_seg; g++) {
                int64_t te = t + jb->seg_len[g];
                if (jb->seg_len[g] == 1 && j->rows[0]) {
                    /* lone tokens of several sequences (batched decode) side by side: one call of
                     * the rows kernel (each token gets vec_dot's bits; the kernel may share the
                     * weight unpacking between them) */
                    while (g + 1 < jb->n_seg && jb->seg_len[g + 1] == 1) {
                        g++;
                        te++;
                    }
                    j->rows[0](cols, j->Y + t * rows + rb, (size_t)rows, wd + (size_t)rb * W->row_bytes, W->row_bytes,
                               re - rb, jb->A + (size_t)t * jb->a_row, jb->a_row, te - t);
                    t = te;
                    continue;
                }
                if (j->multi && te - t >= 2) {
                    j->multi(cols, j->Y + t * rows + rb, (size_t)rows, wd + (size_t)rb * W->row_bytes, W->row_bytes,
                             re - rb, jb->A + (size_t)t * jb->a_row, jb->a_row, te - t);
                    t = te;
                    continue;
                }
                const int                cls  = seg_class(jb->seg_len[g]);
                const hearth_vec_dot_fn  dot  = j->vec_dot[cls];
                const hearth_vec_dot4_fn dot4 = j->vec_dot4[cls];
                if (j->tile4[cls] && t + 4 <= te) {
                    const int64_t n4 = (te - t) & ~(int64_t)3;
                    j->tile4[cls](cols, j->Y + t * rows + rb, (size_t)rows, wd + (size_t)rb * W->row_bytes, W->row_bytes,
                                  re - rb, jb->A + (size_t)t * jb->a_row, jb->a_row, n4);
                    t += n4;
                }
                if (dot4)
                    for (; t + 4 <= te; t += 4) {
                        const uint8_t *a = jb->A + (size_t)t * jb->a_row;
                        float         *y = j->Y + t * rows;
                        for (int64_t r = rb; r < re; r++)
                            dot4(cols, &y[r], (size_t)rows, wd + (size_t)r * W->row_bytes, a, jb->a_row);
                    }
                if (j->rows[cls] && t < te) {
                    j->rows[cls](cols, j->Y + t * rows + rb, (size_t)rows, wd + (size_t)rb * W->row_bytes, W->row_bytes,
                                 re - rb, jb->A + (size_t)t * jb->a_row, jb->a_row, te - t);
                    t = te;
                }
                for (; t < te; t++) {
                    const uint8_t *a = jb->A + (size_t)t * jb->a_row;
                    float         *y = j->Y + t * rows;
                    for (int64_t r = rb; r < re; r++) dot(cols, &y[r], wd + (size_t)r * W->row_bytes, a);
                }
            }
        }
    }
}

bool hearth_repack_x8_ok(const hearth_mat *W) {
    if (W->x8 || W->rows < 8 || W->cols > HEARTH_X8_MAX_COLS || W->row_bytes != hearth_type_row_size(W->type, W->cols))
        return false;
    if (W->type == HEARTH_TYPE_Q4_0) return hearth_kernels_gemm_x8(W->type) != NULL;
    if (W->type == HEARTH_TYPE_Q4_K) return hearth_kernels_rows_x8(W->type) && hearth_kernels_tile4_x8(W->type);
    return false;
}

/* The weights' activations carry x8 terms after each row (Q4_0 interleaved). */
static bool x8_terms(const hearth_mat *W) { return W->x8 && W->type == HEARTH_TYPE_Q4_0; }

void hearth_q4_0_x8_terms(const void *aq, int64_t n, void *terms) {
    const int64_t      nb = n / 32;
    const block_q8_0  *b  = aq;
    float             *dy = terms;
    int32_t           *of = (int32_t *)(dy + nb);
    for (int64_t i = 0; i < nb; i++) {
        int32_t sum = 0;
        for (int k = 0; k < 32; k++) sum += b[i].qs[k];
        dy[i] = hearth_fp16_to_fp32(b[i].d);
        of[i] = 8 * sum;
    }
}

void hearth_repack_q4_0_x8(const void *src, void *dst, int64_t rows, int64_t cols) {
    const int64_t  nb = cols / 32;
    const size_t   rb = (size_t)nb * sizeof(block_q4_0);
    const uint8_t *S  = src;
    uint8_t       *D  = dst;
    int64_t        g  = 0;
    for (; g + 8 <= rows; g += 8)
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *o = D + (size_t)g * rb + (size_t)i * 144;
            for (int r = 0; r < 8; r++) {
                const uint8_t *b = S + (size_t)(g + r) * rb + (size_t)i * sizeof(block_q4_0);
                memcpy(o + 2 * r, b, 2);
                for (int k = 0; k < 4; k++) memcpy(o + 16 + 32 * k + 4 * r, b + 2 + 4 * k, 4);
            }
        }
    memcpy(D + (size_t)g * rb, S + (size_t)g * rb, (size_t)(rows - g) * rb);
}

void hearth_repack_q4_K_x8(const void *src, void *dst, int64_t rows, int64_t cols) {
    const int64_t     nb = cols / HEARTH_QK_K;
    const size_t      rb = (size_t)nb * sizeof(block_q4_K);
    const uint8_t    *S  = src;
    uint8_t          *D  = dst;
    int64_t           g  = 0;
    for (; g + 8 <= rows; g += 8) {
        block_q4_Kx8 *o = (block_q4_Kx8 *)(D + (size_t)g * rb);
        for (int64_t i = 0; i < nb; i++, o++)
            for (int r = 0; r < 8; r++) {
                const block_q4_K *b = (const block_q4_K *)(S + (size_t)(g + r) * rb) + i;
                o->d[r]             = b->d;
                o->dmin[r]          = b->dmin;
                for (int k = 0; k < 3; k++) memcpy(&o->sc[k][r], b->scales + 4 * k, 4);
                for (int c = 0; c < 32; c++) memcpy(&o->qs[c][4 * r], b->qs + 4 * c, 4);
            }
    }
    memcpy(D + (size_t)g * rb, S + (size_t)g * rb, (size_t)(rows - g) * rb);
}

void hearth_repack_x8(hearth_type type, const void *src, void *dst, int64_t rows, int64_t cols) {
    HEARTH_ASSERT(type == HEARTH_TYPE_Q4_0 || type == HEARTH_TYPE_Q4_K);
    if (type == HEARTH_TYPE_Q4_0) hearth_repack_q4_0_x8(src, dst, rows, cols);
    else hearth_repack_q4_K_x8(src, dst, rows, cols);
}

const void *hearth_x8_row(const hearth_mat *W, int64_t r, void *out) {
    const size_t   rb = W->row_bytes;
    const int64_t  g  = r / 8 * 8;
    const uint8_t *G  = (const uint8_t *)W->data + (size_t)g * rb;
    if (g + 8 > W->rows) return G + (size_t)(r - g) * rb; /* past the last group: plain */
    const int j = (int)(r - g);
    if (W->type == HEARTH_TYPE_Q4_K) {
        const block_q4_Kx8 *x = (const block_q4_Kx8 *)G;
        block_q4_K         *o = out;
        for (int64_t i = 0; i < W->cols / HEARTH_QK_K; i++, o++, x++) {
            o->d    = x->d[j];
            o->dmin = x->dmin[j];
            for (int k = 0; k < 3; k++) memcpy(o->scales + 4 * k, &x->sc[k][j], 4);
            for (int c = 0; c < 32; c++) memcpy(o->qs + 4 * c, &x->qs[c][4 * j], 4);
        }
        return out;
    }
    uint8_t *o = out;
    for (int64_t i = 0; i < W->cols / 32; i++, o += sizeof(block_q4_0)) {
        const uint8_t *p = G + (size_t)i * 144;
        memcpy(o, p + 2 * j, 2);
        for (int k = 0; k < 4; k++) memcpy(o + 2 + 4 * k, p + 16 + 32 * k + 4 * j, 4);
    }
    return out;
}

size_t hearth_matmul_scratch_size(const hearth_mat *W, int64_t n_tok) {
    const hearth_type_kernels *k = hearth_kernels_get(W->type);
    if (!k || n_tok <= 0 || k->vec_dot_type == HEARTH_TYPE_F32) return 0;
    size_t row = x8_terms(W) ? HEARTH_X8_ROW_BYTES(W->cols) : hearth_type_row_size(k->vec_dot_type, W->cols);
    size_t total;
    if (__builtin_mul_overflow(row, (size_t)n_tok, &total)) return SIZE_MAX;
    return total;
}

/* The kernels of one matrix and its chunks (about 4 per thread, in whole tiles; small
 * matrices get at least one tile each), numbered from `first`. */
static void mm_mat_init(mm_mat *mm, const hearth_mat *W, float *Y, const hearth_type_kernels *k, int nth,
                        int64_t first) {
    *mm = (mm_mat){ .W = W, .Y = Y, .gemm = W->x8 ? hearth_kernels_gemm_x8(W->type) : hearth_kernels_gemm(W->type),
                    .first_chunk = first };
    if (W->x8 && !mm->gemm) { /* Q4_K: runs of 4+ tokens in the GEMM order, the rest in vec_dot's */
        for (int c = 0; c < 3; c++) {
            mm->vec_dot[c] = NULL; /* never reached: rows[c] takes every token tile4 leaves */
            mm->rows[c]    = hearth_kernels_rows_x8(W->type);
            mm->tile4[c]   = c > 0 ? hearth_kernels_tile4_x8(W->type) : NULL;
            HEARTH_ASSERT(mm->rows[c] && (c == 0 || mm->tile4[c]));
        }
    }
    for (int c = 0; c < 3 && !(W->x8 && !mm->gemm); c++) {
        mm->vec_dot[c]  = k->vec_dot;
        mm->vec_dot4[c] = c > 0 ? hearth_kernels_vec_dot4(W->type) : NULL;
        hearth_kernels_batch(W->type, c == 2 ? HEARTH_TILED_MIN_ROWS : c == 1 ? 4 : 1, &mm->vec_dot[c], &mm->vec_dot4[c]);
        mm->rows[c] = mm->vec_dot[c] == k->vec_dot ? hearth_kernels_rows(W->type) : NULL;
        mm->tile4[c] = mm->vec_dot4[c] ? hearth_kernels_batch_tile(W->type, c == 2 ? HEARTH_TILED_MIN_ROWS : c == 1 ? 4 : 1) : NULL;
    }
    /* F16 (AVX2): runs of 2+ tokens in the reference's prompt order, lone tokens (and every
     * token of a matrix the reference keeps on vec_dot) in vec_dot's through the tile kernel */
    const hearth_gemm_fn multi = W->x8 ? NULL : hearth_kernels_multi(W->type);
    if (multi && W->rows % 4 == 0 && W->cols % 8 == 0) {
        mm->multi = multi;
        for (int c = 0; c < 3; c++) {
            mm->vec_dot[c]  = k->vec_dot;
            mm->vec_dot4[c] = NULL;
            mm->rows[c]     = mm->gemm;
            mm->tile4[c]    = NULL;
        }
        mm->gemm = NULL;
    }
    int64_t chunk  = (W->rows + (int64_t)nth * 4 - 1) / ((int64_t)nth * 4);
    chunk          = (chunk + MM_TILE_ROWS - 1) / MM_TILE_ROWS * MM_TILE_ROWS;
    mm->chunk_rows = HEARTH_MAX(chunk, (int64_t)MM_TILE_ROWS);
}

void hearth_matmul_multi(hearth_threadpool *pool, const hearth_mat *const *W, float *const *Y, int n_w,
                         const float *X, int64_t n_tok, void *scratch, const int64_t *seg_len, int64_t n_seg) {
    if (n_tok <= 0 || n_w <= 0) return;
    const hearth_type_kernels *k0 = hearth_kernels_get(W[0]->type);
    HEARTH_ASSERT(k0 && k0->vec_dot);
    /* One conversion of X serves the matrices only when they all take the same activations. */
    bool shared = n_w <= MM_MAX_MATS;
    for (int i = 1; i < n_w && shared; i++) {
        const hearth_type_kernels *k = hearth_kernels_get(W[i]->type);
        shared = k && k->vec_dot_type == k0->vec_dot_type && W[i]->cols == W[0]->cols && x8_terms(W[i]) == x8_terms(W[0]);
    }
    if (!shared) {
        for (int i = 0; i < n_w; i++) hearth_matmul_segs(pool, W[i], X, Y[i], n_tok, scratch, seg_len, n_seg);
        return;
    }
    const hearth_type_kernels *ak = hearth_kernels_get(k0->vec_dot_type);
    HEARTH_ASSERT(ak && ak->from_float);
    const int nth = hearth_threadpool_size(pool);

    mm_job j = {
        .X = X, .cols = W[0]->cols, .n_tok = n_tok, .scratch = scratch,
        .a_row = x8_terms(W[0]) ? HEARTH_X8_ROW_BYTES(W[0]->cols) : hearth_type_row_size(k0->vec_dot_type, W[0]->cols),
        .from_float = ak->from_float, .x8 = x8_terms(W[0]),
        .seg_len = seg_len, .n_seg = n_seg,
    };
    HEARTH_ASSERT(j.a_row > 0);
    int64_t seg_sum = 0;
    for (int64_t g = 0; g < n_seg; g++) seg_sum += seg_len[g];
    HEARTH_ASSERT(n_seg >= 1 && seg_sum == n_tok);
    for (int i = 0; i < n_w; i++) {
        if (W[i]->rows <= 0) continue;
        const hearth_type_kernels *k = hearth_kernels_get(W[i]->type);
        mm_mat_init(&j.m[j.n_m], W[i], Y[i], k, nth, j.n_chunks);
        j.n_chunks += (W[i]->rows + j.m[j.n_m].chunk_rows - 1) / j.m[j.n_m].chunk_rows;
        j.n_m++;
    }
    if (j.n_m == 0) return;
    if (k0->vec_dot_type == HEARTH_TYPE_F32) {
        j.A = (const uint8_t *)X;
    } else {
        HEARTH_ASSERT(scratch != NULL);
        j.A = scratch;
        /* A few rows (decode, batched decode) are converted by the caller: splitting them costs
         * a second wait for the pool per matmul, more than the conversion itself. */
        if (n_tok <= MM_SERIAL_CONVERT || nth == 1) mm_convert_task(&j, 0, 1);
        else hearth_threadpool_run(pool, mm_convert_task, &j);
    }
    atomic_init(&j.next_chunk, 0);
    hearth_threadpool_run(pool, mm_dot_task, &j);
}

void hearth_matmul_segs(hearth_threadpool *pool, const hearth_mat *W, const float *X, float *Y, int64_t n_tok,
                        void *scratch, const int64_t *seg_len, int64_t n_seg) {
    hearth_matmul_multi(pool, &W, &Y, 1, X, n_tok, scratch, seg_len, n_seg);
}

void hearth_matmul(hearth_threadpool *pool, const hearth_mat *W, const float *X, float *Y, int64_t n_tok,
                   void *scratch) {
    hearth_matmul_segs(pool, W, X, Y, n_tok, scratch, &n_tok, 1);
}
