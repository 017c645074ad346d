/* avx2_util.h — small AVX2 helpers shared by the AVX2 kernel files (include only
 * from files compiled with -mavx2 -mfma -mf16c). */
#ifndef HEARTH_AVX2_UTIL_H
#define HEARTH_AVX2_UTIL_H

#include "tensor/blocks.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline float avx2_hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s        = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s        = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int avx2_hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s         = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s         = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

static inline float avx2_half(uint16_t h) { return _cvtsh_ss(h); }

/* 16 bytes of nibbles -> 32 bytes: low nibbles in bytes 0..15, high nibbles in 16..31. */
static inline __m256i avx2_nibbles32(const uint8_t *p) {
    const __m128i b  = _mm_loadu_si128((const __m128i *)p);
    const __m256i v  = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes, byte j = 0xFF when bit j is set, else 0. */
static inline __m256i avx2_bits32(const uint8_t *p) {
    uint32_t bits;
    memcpy(&bits, p, 4);
    const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000LL, 0x0101010101010101LL, 0x0202020202020202LL,
                                            0x0303030303030303LL);
    const __m256i v    = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    const __m256i m    = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, m), m);
}

/* Sum over pairs of unsigned x (0..127 safe) times signed y, as 8 int32 lanes. */
static inline __m256i avx2_dot_us8(__m256i ux, __m256i sy) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(ux, sy), _mm256_set1_epi16(1));
}

/* Sum over pairs of signed x times signed y (|x| <= 127), as 8 int32 lanes. */
static inline __m256i avx2_dot_s8(__m256i x, __m256i y) {
    return avx2_dot_us8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* Unaligned 16/32-bit loads. */
static inline uint16_t load16(const void *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static inline int32_t load32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* bytes (> 0) of 64-byte aligned memory for the calling thread, valid until its next call (of
 * any kernel); NULL when out of memory (the caller then does without panels).  kgemm_avx2.c. */
void *hearth_avx2_panel_buffer(size_t bytes);

/* The 32-element block kinds of the tile kernels (gemm_avx2.c, q_avx512.c): weight block bytes
 * and whether the kind has mins (Q4_1, Q5_1: activations in Q8_1, else Q8_0). */
enum { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1, K_Q8_0 };
#define WBYTES(k)                                                                                           \
    ((k) == K_Q4_0 ? sizeof(block_q4_0)                                                                     \
     : (k) == K_Q4_1 ? sizeof(block_q4_1)                                                                   \
     : (k) == K_Q5_0 ? sizeof(block_q5_0)                                                                   \
     : (k) == K_Q5_1 ? sizeof(block_q5_1)                                                                   \
                     : sizeof(block_q8_0))
#define HAS_MIN(k) ((k) == K_Q4_1 || (k) == K_Q5_1)

/* bsums[2j] + bsums[2j+1], j < 8, as int16 (no saturation: 32 int8 values). */
static inline __m128i avx2_bsums_pairs(const int16_t *bsums) {
    const __m256i t = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)bsums), _mm256_set1_epi16(1));
    return _mm_packs_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

/* The 4 int32 sums of 4 vectors of 8 int32 lanes (lane r: the sum of v[r]). */
static inline __m128i avx2_hsum4_epi32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
    const __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

#endif /* HEARTH_AVX2_UTIL_H */
