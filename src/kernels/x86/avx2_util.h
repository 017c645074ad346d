/* avx2_util.h — small AVX2 helpers shared by the AVX2 kernel files (include only
 * from files compiled with -mavx2 -mfma -mf16c). */
#ifndef HEARTH_AVX2_UTIL_H
#define HEARTH_AVX2_UTIL_H

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

#endif /* HEARTH_AVX2_UTIL_H */
