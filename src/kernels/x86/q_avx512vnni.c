/* q_avx512vnni.c — q_avx512.c's kernels with VPDPBUSD (hearth_avx512vnni_*; the Makefile adds
 * -mavx512vnni for *_avx512vnni.c). */
#define HEARTH_AVX512_VNNI 1
#include "kernels/x86/q_avx512.c"
