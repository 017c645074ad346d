/* kquants_avx512vnni.c — the K-quant dot products of kquants_avx512.c with VPDPWSSD
 * (hearth_avx512vnni_*). */
#define HEARTH_AVX512_VNNI 1
#include "kernels/x86/kquants_avx512.c"
