/* q_avx512.c — AVX-512 dot products for the 32-element block types Q4_1, Q5_0, Q5_1 and Q8_0
 * (Q4_0 has its own float order and only AVX2 kernels: q40_avx2.c), each with the bits of its AVX2 twin (hearth_avx2_vec_dot_*, the 1 x 1 tile of
 * gemm_avx2.c).  Compiled twice: as itself (hearth_avx512_*) and from q_avx512vnni.c
 * (hearth_avx512vnni_*, byte products with VPDPBUSD); see x86/avx512_util.h.
 *
 * Two blocks per step: their quants are unpacked and multiplied in one 512-bit register (block
 * i in the low 256 bits, block i + 1 in the high), giving for each block the int32 lanes that
 * AVX2 gives (integer sums are exact, so the way they are formed does not matter).  The float
 * work is AVX2's, lane for lane: dx * dy per block, then one FMA per block into one 8-lane
 * accumulator in block order (for Q4_1/Q5_1 also mx * sy summed in block order), so the same
 * bits.  An odd block count ends with the last block alone (its low half used). */
#include "kernels/kernels_impl.h"
#include "kernels/x86/avx2_util.h"
#include "kernels/x86/avx512_util.h"

#define INLINE static inline __attribute__((always_inline))

/* The 16 nibble bytes of two blocks -> 64 bytes, each half laid out as avx2_nibbles32 (low
 * nibbles of block 0, its high nibbles, then block 1's): the bytes go to 128-bit lanes
 * [q0, q0, q1, q1] by two broadcast loads (the second merged into lanes 2, 3 under a mask),
 * one variable shift takes the high nibbles down in lanes 1 and 3, one AND. */
INLINE __m512i nibbles64(const uint8_t *q0, const uint8_t *q1) {
    const __m512i b0 = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)q0));
    const __m512i b  = _mm512_mask_broadcast_i32x4(b0, 0xFF00, _mm_loadu_si128((const __m128i *)q1));
    const __m512i sh = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
    return _mm512_and_si512(_mm512_srlv_epi64(b, sh), _mm512_set1_epi8(0x0F));
}

/* Two 32-byte runs (quants of two blocks) into one register. */
INLINE __m512i bytes64(const void *p0, const void *p1) {
    return avx512_join(_mm256_loadu_si256((const __m256i *)p0), _mm256_loadu_si256((const __m256i *)p1));
}

/* The 32 high-bit flags (qh) of two blocks as one byte mask: bit j of block 0's in bit j,
 * block 1's in bit 32 + j (the byte order of nibbles64). */
INLINE __mmask64 bits64(const uint8_t *h0, const uint8_t *h1) {
    return (__mmask64)(uint32_t)load32(h0) | (__mmask64)(uint32_t)load32(h1) << 32;
}

/* Sum over groups of 4 bytes of (q - off) times signed y, q unsigned <= 31, off 16 (Q5_0): the
 * lanes of AVX2's offset form (dot(q, y) - dot(off, y)).  With VNNI the second dot product
 * accumulates onto -dot(off, y); without, the two byte products are subtracted as int16 pairs
 * (|q - off| <= 16, so no pair leaves int16), then widened once. */
INLINE __m512i dot_off(__m512i q, __m512i y, int off) {
#ifdef HEARTH_AVX512_VNNI
    const __m512i z = _mm512_setzero_si512();
    const __m512i t = _mm512_dpbusd_epi32(z, _mm512_set1_epi8((char)off), y);
    return _mm512_dpbusd_epi32(_mm512_sub_epi32(z, t), q, y); /* -dot(off, y) + dot(q, y) */
#else
    const __m512i o = _mm512_set1_epi8((char)off);
    const __m512i p = _mm512_sub_epi16(_mm512_maddubs_epi16(q, y), _mm512_maddubs_epi16(o, y));
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
#endif
}

/* The int32 lanes of weight blocks p0, p1 against activation blocks a0, a1 (Q8_0, or Q8_1 for
 * the kinds with mins): p0 x a0 in lanes 0..7, p1 x a1 in lanes 8..15. */
INLINE __m512i lanes2(const int kind, const uint8_t *p0, const uint8_t *p1, const uint8_t *a0, const uint8_t *a1) {
    switch (kind) {
    case K_Q4_1: {
        const block_q4_1 *b0 = (const block_q4_1 *)p0, *b1 = (const block_q4_1 *)p1;
        return avx512_dot_us8(nibbles64(b0->qs, b1->qs), bytes64(a0 + 4, a1 + 4));
    }
    case K_Q5_0: {
        const block_q5_0 *b0 = (const block_q5_0 *)p0, *b1 = (const block_q5_0 *)p1;
        const __m512i     q  = nibbles64(b0->qs, b1->qs);
        const __m512i     q5 = _mm512_mask_add_epi8(q, bits64(b0->qh, b1->qh), q, _mm512_set1_epi8(0x10));
        return dot_off(q5, bytes64(a0 + 2, a1 + 2), 16);
    }
    case K_Q5_1: {
        const block_q5_1 *b0 = (const block_q5_1 *)p0, *b1 = (const block_q5_1 *)p1;
        const __m512i     q  = nibbles64(b0->qs, b1->qs);
        const __m512i     q5 = _mm512_mask_add_epi8(q, bits64(b0->qh, b1->qh), q, _mm512_set1_epi8(0x10));
        return avx512_dot_us8(q5, bytes64(a0 + 4, a1 + 4));
    }
    default: {
        const block_q8_0 *b0 = (const block_q8_0 *)p0, *b1 = (const block_q8_0 *)p1;
        /* AVX2's sign trick on the weights, so even a -128 weight gives AVX2's integers */
        return avx512_dot_s8(bytes64(b0->qs, b1->qs), bytes64(a0 + 2, a1 + 2));
    }
    }
}

/* Lane k of v in all 8 lanes (v's lanes past 3 unused). */
INLINE __m256 lane8(__m128 v, int k) {
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(v), _mm256_set1_epi32(k));
}

/* Kinds without mins: [dx0 * dy0, dx1 * dy1] in lanes 0, 1, each AVX2's half_at(p, 0) * dy;
 * the four halves are converted at once. */
INLINE __m128 scales2(const uint8_t *p0, const uint8_t *p1, const uint8_t *a0, const uint8_t *a1) {
    __m128i h = _mm_cvtsi32_si128(load16(p0));
    h         = _mm_insert_epi16(h, (short)load16(p1), 1);
    h         = _mm_insert_epi16(h, (short)load16(a0), 2);
    h         = _mm_insert_epi16(h, (short)load16(a1), 3);
    const __m128 f = _mm_cvtph_ps(h);
    return _mm_mul_ps(f, _mm_movehl_ps(f, f));
}

/* Kinds with mins: [dx0 * dy0, mx0 * sy0, dx1 * dy1, mx1 * sy1], each block's pair AVX2's
 * half2_at(p) * half2_at(pa). */
INLINE __m128 scales_min2(const uint8_t *p0, const uint8_t *p1, const uint8_t *a0, const uint8_t *a1) {
    const __m256 f = _mm256_cvtph_ps(_mm_setr_epi32(load32(p0), load32(p1), load32(a0), load32(a1)));
    return _mm_mul_ps(_mm256_castps256_ps128(f), _mm256_extractf128_ps(f, 1));
}

/* *s = dot(weight row w, activation row a) over n / 32 blocks.  summ's lane 1 is AVX2's: the
 * mins terms added in block order to +0. */
INLINE void dot32(const int kind, int64_t n, float *s, const uint8_t *w, const uint8_t *a) {
    const int64_t nb = n / 32;
    const size_t  wb = WBYTES(kind), ab = HAS_MIN(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    __m256        acc  = _mm256_setzero_ps();
    __m128        summ = _mm_setzero_ps();
    const uint8_t *p0 = w, *a0 = a;
    for (const uint8_t *const pend = w + (size_t)(nb & ~(int64_t)1) * wb; p0 != pend; p0 += 2 * wb, a0 += 2 * ab) {
        const __m512   pf = _mm512_cvtepi32_ps(lanes2(kind, p0, p0 + wb, a0, a0 + ab));
        if (HAS_MIN(kind)) {
            const __m128 dm = scales_min2(p0, p0 + wb, a0, a0 + ab);
            acc             = _mm256_fmadd_ps(lane8(dm, 0), avx512_lo_ps(pf), acc);
            acc             = _mm256_fmadd_ps(lane8(dm, 2), avx512_hi_ps(pf), acc);
            summ            = _mm_add_ps(summ, dm);
            summ            = _mm_add_ps(summ, _mm_movehl_ps(dm, dm));
        } else {
            const __m128 d = scales2(p0, p0 + wb, a0, a0 + ab);
            acc            = _mm256_fmadd_ps(lane8(d, 0), avx512_lo_ps(pf), acc);
            acc            = _mm256_fmadd_ps(lane8(d, 1), avx512_hi_ps(pf), acc);
        }
    }
    if (nb & 1) { /* the last block of an odd count, in both halves; the low one is used */
        const __m256   pf = _mm256_cvtepi32_ps(avx512_lo_si(lanes2(kind, p0, p0, a0, a0)));
        if (HAS_MIN(kind)) {
            const __m128 dm = scales_min2(p0, p0, a0, a0);
            acc             = _mm256_fmadd_ps(lane8(dm, 0), pf, acc);
            summ            = _mm_add_ps(summ, dm);
        } else {
            acc = _mm256_fmadd_ps(lane8(scales2(p0, p0, a0, a0), 0), pf, acc);
        }
    }
    float r = avx2_hsum_ps(acc);
    if (HAS_MIN(kind)) r += _mm_cvtss_f32(_mm_movehdup_ps(summ));
    *s = r;
}

#define DEFINE(name, kind)                                                                                             \
    void K512(vec_dot_##name)(int64_t n, float *s, const void *w, const void *a) { dot32(kind, n, s, w, a); }

DEFINE(q4_1, K_Q4_1)
DEFINE(q5_0, K_Q5_0)
DEFINE(q5_1, K_Q5_1)
DEFINE(q8_0, K_Q8_0)

/* ---- Decode tiles: one token against R (1..4) rows -------------------------------------------
 * The AVX2 decode tile (tile32_*_1 of gemm_avx2.c) with two blocks per step: the activation's
 * two blocks are loaded (and, for Q5_0/Q8_0 with VNNI, their offset term formed) once per
 * step for the R rows; each row's two blocks are unpacked and multiplied in one register.  The
 * R rows keep R independent 8-lane FMA chains (one row is bound by the latency of its chain).
 * The float operations per (row, token) are those of the vec_dot above (dx * dy per block, one
 * FMA per block in block order, the mins terms summed in block order from +0, the same hsum),
 * so the same bits. */

/* The activation-side term of a step shared by the R rows: minus the offset (8 or 16; 128 for
 * Q8_0's unsigned weights with VNNI) times the 4-byte sums of y as int32 lanes (VNNI), or the
 * offset's byte products as int16 pairs (without VNNI).  Zero for the kinds that need none. */
INLINE __m512i step_term(const int kind, __m512i y) {
#ifdef HEARTH_AVX512_VNNI
    const __m512i z = _mm512_setzero_si512();
    if (kind == K_Q5_0 || kind == K_Q8_0) {
        const int off = kind == K_Q5_0 ? 16 : 128;
        return _mm512_sub_epi32(z, _mm512_dpbusd_epi32(z, _mm512_set1_epi8((char)off), y));
    }
    return z;
#else
    if (kind == K_Q5_0) return _mm512_maddubs_epi16(_mm512_set1_epi8(16), y);
    return _mm512_setzero_si512();
#endif
}

/* lanes2 of one row's blocks p0, p1 against the step's activation quants y and term t. */
INLINE __m512i row_lanes2(const int kind, const uint8_t *p0, const uint8_t *p1, __m512i y, __m512i t) {
    __m512i q;
    switch (kind) {
    case K_Q4_1: q = nibbles64(((const block_q4_1 *)p0)->qs, ((const block_q4_1 *)p1)->qs); break;
    case K_Q5_0: {
        const block_q5_0 *b0 = (const block_q5_0 *)p0, *b1 = (const block_q5_0 *)p1;
        q = nibbles64(b0->qs, b1->qs);
        q = _mm512_mask_add_epi8(q, bits64(b0->qh, b1->qh), q, _mm512_set1_epi8(0x10));
        break;
    }
    case K_Q5_1: {
        const block_q5_1 *b0 = (const block_q5_1 *)p0, *b1 = (const block_q5_1 *)p1;
        q = nibbles64(b0->qs, b1->qs);
        q = _mm512_mask_add_epi8(q, bits64(b0->qh, b1->qh), q, _mm512_set1_epi8(0x10));
        break;
    }
    default: q = bytes64(((const block_q8_0 *)p0)->qs, ((const block_q8_0 *)p1)->qs); break;
    }
#ifdef HEARTH_AVX512_VNNI
    /* Q8_0: q + 128 (unsigned) times y, less 128 times y's sums: the exact products, as AVX2's
     * sign trick gives them (its pair sums stay within int16) */
    if (kind == K_Q8_0) q = _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80));
    return _mm512_dpbusd_epi32(t, q, y);
#else
    if (kind == K_Q8_0) return avx512_dot_s8(q, y);
    if (kind == K_Q5_0)
        return _mm512_madd_epi16(_mm512_sub_epi16(_mm512_maddubs_epi16(q, y), t), _mm512_set1_epi16(1));
    (void)t;
    return avx512_dot_us8(q, y);
#endif
}

/* The fp16 at p, p + st, ... (the first R) into words K, K + 1, ... of h (vpinsrw from memory;
 * gathering them in a general register costs more instructions).  K literal (clang). */
#define HALF4_INS(h, p, st, R, K)                                                                                      \
    do {                                                                                                               \
        (h) = _mm_insert_epi16((h), (short)load16(p), (K));                                                            \
        if ((R) > 1) (h) = _mm_insert_epi16((h), (short)load16((p) + (st)), (K) + 1);                                  \
        if ((R) > 2) (h) = _mm_insert_epi16((h), (short)load16((p) + 2 * (st)), (K) + 2);                              \
        if ((R) > 3) (h) = _mm_insert_epi16((h), (short)load16((p) + 3 * (st)), (K) + 3);                              \
    } while (0)

/* The 32-bit fields at p, p + st, ... (the first R; 0 after) as 4 dwords. */
INLINE __m128i pair4(const uint8_t *p, size_t st, const int R) {
    __m128i h = _mm_cvtsi32_si128(load32(p));
    if (R > 1) h = _mm_insert_epi32(h, load32(p + st), 1);
    if (R > 2) h = _mm_insert_epi32(h, load32(p + 2 * st), 2);
    if (R > 3) h = _mm_insert_epi32(h, load32(p + 3 * st), 3);
    return h;
}

/* One step of rows32: blocks i, i + 1 (two) or block i alone (the last of an odd count). */
INLINE void rows32_step(const int kind, const int R, const int two, const uint8_t *pw, size_t ws, const uint8_t *a0,
                        __m256 *acc, __m256 *msum, float *dbuf) {
    const size_t   wb  = WBYTES(kind), ab = HAS_MIN(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const size_t   yo  = HAS_MIN(kind) ? 4 : 2; /* offset of the quants in an activation block */
    const size_t   wb1 = two ? wb : 0, ab1 = two ? ab : 0;
    const uint8_t *a1  = a0 + ab1;
    const __m512i  y   = bytes64(a0 + yo, a1 + yo);
    const __m512i  t   = step_term(kind, y);
    /* d: dbuf behind a barrier, so that the broadcasts address it from one register */
    float *d = dbuf;
    __asm__("" : "+r"(d));
    if (HAS_MIN(kind)) {
        const __m256i hx = _mm256_inserti128_si256(_mm256_castsi128_si256(pair4(pw, ws, R)), pair4(pw + wb1, ws, R), 1);
        const __m128  fy = _mm_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128(load32(a0)), load32(a1), 1));
        const __m512  dy = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3),
                                                 _mm512_castps128_ps512(fy));
        const __m512  dm = _mm512_mul_ps(_mm512_cvtph_ps(hx), dy);
        _mm512_store_ps(d, dm);
        *msum = _mm256_add_ps(*msum, avx512_lo_ps(dm));
        if (two) *msum = _mm256_add_ps(*msum, avx512_hi_ps(dm));
    } else {
        __m128i hx = _mm_setzero_si128();
        HALF4_INS(hx, pw, ws, R, 0);
        HALF4_INS(hx, pw + wb1, ws, R, 4);
        const __m128  fy = _mm_cvtph_ps(_mm_cvtsi32_si128((int)(load16(a0) | (uint32_t)load16(a1) << 16)));
        const __m256  dy = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(fy), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
        _mm256_store_ps(d, _mm256_mul_ps(_mm256_cvtph_ps(hx), dy));
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const uint8_t *p = pw + (size_t)r * ws;
        if (R > 1) _mm_prefetch((const char *)(p + (size_t)R * ws), _MM_HINT_T0);
        const __m512   pf = _mm512_cvtepi32_ps(row_lanes2(kind, p, p + wb1, y, t));
        const float   *d0 = HAS_MIN(kind) ? d + 2 * r : d + r, *d1 = HAS_MIN(kind) ? d0 + 8 : d0 + 4;
        acc[r]            = _mm256_fmadd_ps(_mm256_broadcast_ss(d0), avx512_lo_ps(pf), acc[r]);
        if (two) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(d1), avx512_hi_ps(pf), acc[r]);
    }
}

/* s[r] = dot(row r, activation row a) for r < R over nb blocks.  Per step the scale products of
 * the R rows and both blocks come from one multiply and go through dbuf (the FMAs broadcast them
 * from memory): kinds without mins d[4 b + r] = dx * dy of row r, block b; with mins d[8 b + 2 r]
 * = dx * dy and d[8 b + 2 r + 1] = mx * sy, whose odd lanes are summed per row in msum. */
INLINE void rows32(const int kind, const int R, int64_t nb, float *s, const uint8_t *w, size_t ws, const uint8_t *a) {
    const size_t wb = WBYTES(kind), ab = HAS_MIN(kind) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    __m256       acc[4];
    __m256       msum = _mm256_setzero_ps(); /* lane 2 r + 1: row r's mins term */
    _Alignas(64) float dbuf[16];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    const uint8_t *pw = w, *pa = a;
    for (const uint8_t *const pend = w + (size_t)(nb & ~(int64_t)1) * wb; pw != pend; pw += 2 * wb, pa += 2 * ab)
        rows32_step(kind, R, 1, pw, ws, pa, acc, &msum, dbuf);
    if (nb & 1) rows32_step(kind, R, 0, pw, ws, pa, acc, &msum, dbuf);
    _Alignas(32) float m[8];
    _mm256_store_ps(m, msum);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        float v = avx2_hsum_ps(acc[r]);
        if (HAS_MIN(kind)) v += m[2 * r + 1];
        s[r] = v;
    }
}

/* The tile kernel: each single token through rows32 (rows by 4, then one tile of the 1..3 left);
 * groups of 4 tokens go to the AVX2 prefill tile, which unpacks each weight block once for the 4
 * tokens (fewer operations per (row, token) than unpacking per token, and the weights read once
 * per 4 tokens).  All give the vec_dot bits. */
INLINE void gemm32(const int kind, hearth_gemm_fn avx2, int64_t n, float *s, size_t ss, const void *w, size_t ws,
                   int64_t nr, const void *a, size_t as, int64_t nc) {
    const int64_t  nb = n / 32;
    const uint8_t *W = w, *A = a;
    int64_t        c = nc & ~(int64_t)3;
    if (c > 0) avx2(n, s, ss, w, ws, nr, a, as, c);
    for (; c < nc; c++) {
        float  *sc = s + (size_t)c * ss;
        int64_t r  = 0;
        for (; r + 4 <= nr; r += 4) rows32(kind, 4, nb, sc + r, W + (size_t)r * ws, ws, A + (size_t)c * as);
        switch (nr - r) {
        case 3: rows32(kind, 3, nb, sc + r, W + (size_t)r * ws, ws, A + (size_t)c * as); break;
        case 2: rows32(kind, 2, nb, sc + r, W + (size_t)r * ws, ws, A + (size_t)c * as); break;
        case 1: rows32(kind, 1, nb, sc + r, W + (size_t)r * ws, ws, A + (size_t)c * as); break;
        default: break;
        }
    }
}

#define DEFINE_GEMM(name, kind)                                                                                        \
    void K512(gemm_##name)(int64_t n, float *s, size_t ss, const void *w, size_t ws, int64_t nr, const void *a,       \
                           size_t as, int64_t nc) {                                                                    \
        gemm32(kind, hearth_avx2_gemm_##name, n, s, ss, w, ws, nr, a, as, nc);                                        \
    }

DEFINE_GEMM(q4_1, K_Q4_1)
DEFINE_GEMM(q5_0, K_Q5_0)
DEFINE_GEMM(q5_1, K_Q5_1)
DEFINE_GEMM(q8_0, K_Q8_0)
