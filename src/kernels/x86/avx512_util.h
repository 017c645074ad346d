/* avx512_util.h — what the AVX-512 kernel files share.  Include only from files named
 * *_avx512.c / *_avx512vnni.c (the Makefile gives them their ISA flags).
 *
 * One source, two kernel sets: a file compiled with HEARTH_AVX512_VNNI defined (the
 * *_avx512vnni.c twin that #includes it) names its functions hearth_avx512vnni_* and sums byte
 * products with VPDPBUSD; without it, hearth_avx512_* with VPMADDUBSW + VPMADDWD.  The two give
 * the same integers (no input of ours saturates VPMADDUBSW), so the same floats.
 *
 * Every AVX-512 kernel returns the bits of the AVX2 kernel of the same type: the integer work
 * (the bulk) is done 64 bytes at a time, but the float sums are kept in the AVX2 kernel's lanes
 * and order.  So the AVX2 prefill tiles, the reference-order batch kernels and the goldens all
 * stay valid on a CPU that picks the AVX-512 table.
 *
 * HEARTH_AVX512_EMU (make EMU512=1): the intrinsics come from SIMDe (Debian's libsimde-dev),
 * which implements them with AVX2, so the kernels run and are tested on a CPU without AVX-512.
 * The few intrinsics that SIMDe 0.7.4 lacks are defined below, lane by lane from their
 * documented semantics. */
#ifndef HEARTH_AVX512_UTIL_H
#define HEARTH_AVX512_UTIL_H

#include <stdint.h>
#include <string.h>

#ifdef HEARTH_AVX512_EMU
/* 512-bit vectors passed between inline functions compiled without AVX-512 (clang notes it) */
#pragma GCC diagnostic ignored "-Wpsabi"
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#define HEARTH_EMU_MAP(T, name, IN, OUT, N, expr)                                                                      \
    static inline T hearth_emu_##name(IN##_in a) {                                                                     \
        IN##_lane x[N];                                                                                                \
        OUT##_lane r[N];                                                                                               \
        memcpy(x, &a, sizeof x);                                                                                       \
        for (int i = 0; i < N; i++) r[i] = (OUT##_lane)(expr);                                                         \
        T o;                                                                                                           \
        memcpy(&o, r, sizeof o);                                                                                       \
        return o;                                                                                                      \
    }
typedef __m512i  i32x16_in;
typedef int32_t  i32x16_lane;
typedef __m256i  i16x16_in;
typedef int16_t  i16x16_lane;
typedef __m256i  u16x16_in;
typedef uint16_t u16x16_lane;
typedef __m128i  i8x16_in;
typedef int8_t   i8x16_lane;
typedef __m128i  u8x16_in;
typedef uint8_t  u8x16_lane;
typedef float    f32_lane;
typedef int32_t  i32_lane;

HEARTH_EMU_MAP(__m512, mm512_cvtepi32_ps, i32x16, f32, 16, (float)x[i])
HEARTH_EMU_MAP(__m512i, mm512_cvtepi16_epi32, i16x16, i32, 16, x[i])
HEARTH_EMU_MAP(__m512i, mm512_cvtepu16_epi32, u16x16, i32, 16, x[i])
HEARTH_EMU_MAP(__m512i, mm512_cvtepi8_epi32, i8x16, i32, 16, x[i])
HEARTH_EMU_MAP(__m512i, mm512_cvtepu8_epi32, u8x16, i32, 16, x[i])
#undef HEARTH_EMU_MAP

static inline __m512 hearth_emu_mm512_cvtph_ps(__m256i a) {
    __m256 lo = _mm256_cvtph_ps(_mm256_castsi256_si128(a)), hi = _mm256_cvtph_ps(_mm256_extracti128_si256(a, 1));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}
static inline __m256 hearth_emu_mm512_extractf32x8_ps(__m512 a, int i) {
    __m256 h[2];
    memcpy(h, &a, sizeof h);
    return h[i & 1];
}
static inline __m256i hearth_emu_mm512_extracti32x8_epi32(__m512i a, int i) {
    __m256i h[2];
    memcpy(h, &a, sizeof h);
    return h[i & 1];
}
/* The hardware's reduction tree: halves, then quarters, ... (lane 0+8, then +4, +2, +1). */
static inline float hearth_emu_mm512_reduce_add_ps(__m512 a) {
    float x[16];
    memcpy(x, &a, sizeof x);
    for (int w = 8; w >= 1; w /= 2)
        for (int i = 0; i < w; i++) x[i] = x[i] + x[i + w];
    return x[0];
}
static inline int hearth_emu_mm512_reduce_add_epi32(__m512i a) {
    int32_t x[16];
    memcpy(x, &a, sizeof x);
    uint32_t s = 0;
    for (int i = 0; i < 16; i++) s += (uint32_t)x[i];
    return (int)s;
}
static inline __mmask64 hearth_emu_mm512_cmpneq_epi8_mask(__m512i a, __m512i b) {
    return ~_mm512_cmpeq_epi8_mask(a, b);
}

#undef _mm512_madd_epi16 /* SIMDe 0.7.4 defines its alias with the masked form's four arguments */
#define _mm512_madd_epi16(a, b)         simde_mm512_madd_epi16(a, b)
#undef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps(a)           hearth_emu_mm512_cvtepi32_ps(a)
#undef _mm512_cvtepi16_epi32
#define _mm512_cvtepi16_epi32(a)        hearth_emu_mm512_cvtepi16_epi32(a)
#undef _mm512_cvtepu16_epi32
#define _mm512_cvtepu16_epi32(a)        hearth_emu_mm512_cvtepu16_epi32(a)
#undef _mm512_cvtepi8_epi32
#define _mm512_cvtepi8_epi32(a)         hearth_emu_mm512_cvtepi8_epi32(a)
#undef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32(a)         hearth_emu_mm512_cvtepu8_epi32(a)
#undef _mm512_cvtph_ps
#define _mm512_cvtph_ps(a)              hearth_emu_mm512_cvtph_ps(a)
#undef _mm512_extractf32x8_ps
#define _mm512_extractf32x8_ps(a, i)    hearth_emu_mm512_extractf32x8_ps(a, i)
#undef _mm512_extracti32x8_epi32
#define _mm512_extracti32x8_epi32(a, i) hearth_emu_mm512_extracti32x8_epi32(a, i)
#undef _mm512_reduce_add_ps
#define _mm512_reduce_add_ps(a)         hearth_emu_mm512_reduce_add_ps(a)
#undef _mm512_reduce_add_epi32
#define _mm512_reduce_add_epi32(a)      hearth_emu_mm512_reduce_add_epi32(a)
#undef _mm512_cmpneq_epi8_mask
#define _mm512_cmpneq_epi8_mask(a, b)   hearth_emu_mm512_cmpneq_epi8_mask(a, b)
#else
#include <immintrin.h>
#endif

#ifdef HEARTH_AVX512_VNNI
#define K512(name) hearth_avx512vnni_##name
#else
#define K512(name) hearth_avx512_##name
#endif

/* Sum over groups of 4 bytes of unsigned x times signed y, as 16 int32 lanes (lane k: bytes
 * 4k..4k+3; AVX2's maddubs + madd(1) gives the same lane sums for the same bytes).  Caller
 * keeps pair sums within int16 (x <= 128 with |y| <= 127) so that VPMADDUBSW cannot saturate. */
static inline __m512i avx512_dot_us8(__m512i ux, __m512i sy) {
#ifdef HEARTH_AVX512_VNNI
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), ux, sy);
#else
    return _mm512_madd_epi16(_mm512_maddubs_epi16(ux, sy), _mm512_set1_epi16(1));
#endif
}

/* Signed x times signed y by groups of 4 (|x| <= 128, |y| <= 127): AVX2's sign trick, with a
 * mask for the sign (AVX-512 has no VPSIGNB). */
static inline __m512i avx512_dot_s8(__m512i x, __m512i y) {
    const __mmask64 neg = _mm512_movepi8_mask(x);
    const __m512i   sy  = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    return avx512_dot_us8(_mm512_abs_epi8(x), sy);
}

/* Two 32-byte halves into one register (lo in lanes 0..255). */
static inline __m512i avx512_join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static inline __m256 avx512_lo_ps(__m512 v) { return _mm512_castps512_ps256(v); }
static inline __m256 avx512_hi_ps(__m512 v) { return _mm512_extractf32x8_ps(v, 1); }
static inline __m256i avx512_lo_si(__m512i v) { return _mm512_castsi512_si256(v); }
static inline __m256i avx512_hi_si(__m512i v) { return _mm512_extracti32x8_epi32(v, 1); }

#endif /* HEARTH_AVX512_UTIL_H */
