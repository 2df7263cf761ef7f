/* cpu.c — CPU feature detection and the thread count. Kernels ask
 * dc_cpu_isa() once to pick their AVX-512, AVX2 or portable path. */
#include "cpu.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define MXCSR_FTZ_DAZ 0x8040u /* flush-to-zero (bit 15), denormals-are-zero (bit 6) */
#endif

dc_cpu_features dc_cpu_get_features(void) {
    dc_cpu_features f = {0};
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.sse42 = __builtin_cpu_supports("sse4.2");
    f.avx2 = __builtin_cpu_supports("avx2");
    f.fma = __builtin_cpu_supports("fma");
    f.avx512f = __builtin_cpu_supports("avx512f");
#endif
    return f;
}

dc_isa dc_cpu_best_isa(void) {
    dc_cpu_features f = dc_cpu_get_features();
    dc_isa best = DC_ISA_PORTABLE;
#if DC_HAVE_X86_KERNELS
    if (f.avx2 && f.fma) best = DC_ISA_AVX2;
    if (f.avx512f && f.fma) best = DC_ISA_AVX512;
#else
    (void)f;
#endif
    return best;
}

dc_isa dc_cpu_isa(void) {
    /* threads may race to set it (all agree); atomic, so the race is defined */
    static atomic_int cached = -1;
    int got = atomic_load_explicit(&cached, memory_order_relaxed);
    if (got >= 0) return (dc_isa)got;
    dc_isa best = dc_cpu_best_isa();
    const char *cap = getenv("DEEPC_ISA");
    if (cap) {
        if (!strcmp(cap, "portable")) best = DC_ISA_PORTABLE;
        else if (!strcmp(cap, "avx2") && best > DC_ISA_AVX2) best = DC_ISA_AVX2;
    }
    atomic_store_explicit(&cached, (int)best, memory_order_relaxed);
    return best;
}

const char *dc_cpu_isa_name(void) {
    switch (dc_cpu_isa()) {
    case DC_ISA_AVX512: return "avx512";
    case DC_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}

unsigned dc_cpu_flush_denormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    const unsigned saved = _mm_getcsr();
    _mm_setcsr(saved | MXCSR_FTZ_DAZ);
    return saved;
#else
    return 0;
#endif
}

void dc_cpu_restore_denormals(unsigned saved) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(saved);
#else
    (void)saved;
#endif
}

void dc_set_num_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

int dc_get_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
