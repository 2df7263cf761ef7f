/* gemv_avx512.c — C (1,N) = alpha * a (1,K) * B (K,N) + beta * C, the one-row
 * GEMM of batch-1 inference, with the same per-element arithmetic as the 14x32
 * microkernel, so a row gets the same bits alone as inside a batch. */
#include "gemm.h"
#include "../core/cpu.h"
#if DC_HAVE_X86_KERNELS
#include <immintrin.h>
#include "avx512_lanes.h"

/* Columns in flight per pass: 8 vectors are 8 independent FMA chains, enough
 * to hide the FMA latency that one 14x32 tile with a single row cannot (two
 * chains, so it ran at a quarter of the FMA rate). */
#define GEMV_NV 8

// a (k * sa for k < kc), b (kc,nv*16 masked to ncols) row stride ldb -> c (1,ncols)
static inline __attribute__((always_inline)) void
gemv_pass(int64_t kc, const float *a, int64_t sa, const float *b, int64_t ldb, float *c,
          int64_t ncols, const dc_gemm_tile_epi *e, const int nv) {
    __m512 acc[GEMV_NV];
    __mmask16 m[GEMV_NV];
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        acc[v] = _mm512_setzero_ps();
        m[v] = dc_lanes16(ncols - 16 * v);
    }
    for (int64_t k = 0; k < kc; k++, b += ldb) {
        const __m512 av = _mm512_set1_ps(a[k * sa]);
        /* B streams from L2 (the CNN's dense kernel is 0.9 MB); the hardware
         * prefetcher alone left the loop waiting on it. Prefetches never fault. */
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(b + 8 * ldb + 16 * v), _MM_HINT_T0);
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
            acc[v] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m[v], b + 16 * v), acc[v]);
    }
    /* the microkernel's store: alpha, then beta * C, then bias, then relu */
    const __m512 al = _mm512_set1_ps(e->alpha), be = _mm512_set1_ps(e->beta);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        __m512 x = acc[v];
        float *cv = c + 16 * v;
        if (e->alpha != 1) x = _mm512_mul_ps(al, x);
        if (e->beta != 0) x = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(m[v], cv), x);
        if (e->bias) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m[v], e->bias + 16 * v));
        if (e->relu) x = _mm512_max_ps(x, _mm512_setzero_ps());
        _mm512_mask_storeu_ps(cv, m[v], x);
    }
}

// a (kc) stride sa, b (kc,n) row stride ldb -> c (1,n)
void dc_gemv_avx512(int64_t kc, const float *a, int64_t sa, const float *b, int64_t ldb,
                    float *c, int64_t n, const dc_gemm_tile_epi *e) {
    for (int64_t j = 0; j < n; j += 16 * GEMV_NV) {
        const int64_t ncols = n - j < 16 * GEMV_NV ? n - j : 16 * GEMV_NV;
        dc_gemm_tile_epi ej = *e;
        if (e->bias) ej.bias = e->bias + j;
        const dc_gemm_tile_epi *const ep = &ej;
        float *const cj = c + j;
        const float *const bj = b + j;
        switch ((ncols + 15) / 16) {
        case 1: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 1); break;
        case 2: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 2); break;
        case 3: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 3); break;
        case 4: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 4); break;
        case 5: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 5); break;
        case 6: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 6); break;
        case 7: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 7); break;
        default: gemv_pass(kc, a, sa, bj, ldb, cj, ncols, ep, 8); break;
        }
    }
}
#endif
