/* rnn_avx512.c — the recurrent gate kernels built for AVX512 (see rnn_body.h),
 * with the transposed step GEMM in intrinsics; only called when the CPU has it. */
#include "rnn.h"
#if DC_HAVE_X86_KERNELS
#include "gemm.h"
#include <immintrin.h>
#define RK(name) dc_rnn_avx512_##name
#define RK_OWN_TGEMM

/* A (TILE, 16*nv) tile of ct in 14*nv accumulators: per k one broadcast of
 * each panel element feeds nv FMAs, so the FMAs (not the loads) set the pace. */
// panel (K,TILE) x b (K, <=16*nv) with row stride ldb -> ct rows 0..mr-1
static inline __attribute__((always_inline)) void
tg_tile(int64_t K, const float *panel, const float *b, int64_t ldb, float *ct, int64_t ldc,
        int mr, __mmask16 m0, __mmask16 m1, const int nv) {
    enum { T = DC_RNN_TILE };
    __m512 c0[T], c1[T];
#pragma GCC unroll 14
    for (int i = 0; i < T; i++) c0[i] = c1[i] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t k = 0; k < K; k++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, b + k * ldb);
        const __m512 b1 = nv == 2 ? _mm512_maskz_loadu_ps(m1, b + k * ldb + 16) : b0;
        const float *a = panel + k * T;
        /* the panels outgrow L2 (1.3 MB for LSTM(256) and x 64) and come from
         * L3 once per step: ask for them ~20 k ahead */
        _mm_prefetch((const char *)(a + 20 * T), _MM_HINT_T0);
#pragma GCC unroll 14
        for (int i = 0; i < T; i++) {
            const __m512 av = _mm512_set1_ps(a[i]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            if (nv == 2) c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
    }
#pragma GCC unroll 14
    for (int i = 0; i < T; i++) {
        if (i >= mr) break;
        _mm512_mask_storeu_ps(ct + i * ldc, m0, c0[i]);
        if (nv == 2) _mm512_mask_storeu_ps(ct + i * ldc + 16, m1, c1[i]);
    }
}

static __mmask16 lanes(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// panel (K,TILE) rows 0..mr-1 x bt (K,M) -> ct (mr,M), 32 columns at a time
static void RK(tgemm_panel)(int64_t M, int64_t K, int mr, const float *panel, const float *bt,
                            float *ct, int64_t ldc) {
    for (int64_t j0 = 0; j0 < M; j0 += 32) {
        const int64_t nc = M - j0 < 32 ? M - j0 : 32;
        if (nc > 16)
            tg_tile(K, panel, bt + j0, M, ct + j0, ldc, mr, 0xFFFF, lanes(nc - 16), 2);
        else
            tg_tile(K, panel, bt + j0, M, ct + j0, ldc, mr, lanes(nc), 0, 1);
    }
}

// a (M,K) row stride lda -> bt (K,M), 16 rows of a at a time
static void RK(to_cols)(const float *a, int64_t lda, int64_t M, int64_t K, float *bt) {
    for (int64_t r0 = 0; r0 < M; r0 += 16) {
        const int rows = (int)(M - r0 < 16 ? M - r0 : 16);
        dc_gemm_pack_t_avx512(a + r0 * lda, lda, rows, K, bt + r0, M, rows);
    }
}

// c (M,N) = beta c + ct (N,M)^T + bias, through 16-column blocks of c
static void RK(from_cols)(const float *ct, int64_t M, int64_t N, float beta, const float *bias,
                          float *c, int64_t ldc) {
    enum { RB = 64 };
    float tmp[RB * 16] __attribute__((aligned(64)));
    const __m512 be = _mm512_set1_ps(beta);
    if (beta == 0.0f && !bias) { /* a plain transpose: straight into c */
        for (int64_t j0 = 0; j0 < N; j0 += 16) {
            const int jn = (int)(N - j0 < 16 ? N - j0 : 16);
            dc_gemm_pack_t_avx512(ct + j0 * M, M, jn, M, c + j0, ldc, jn);
        }
        return;
    }
    for (int64_t j0 = 0; j0 < N; j0 += 16) {
        const int jn = (int)(N - j0 < 16 ? N - j0 : 16);
        const __mmask16 mj = lanes(jn);
        const __m512 bv = bias ? _mm512_maskz_loadu_ps(mj, bias + j0) : _mm512_setzero_ps();
        for (int64_t b0 = 0; b0 < M; b0 += RB) {
            const int64_t bn = M - b0 < RB ? M - b0 : RB;
            dc_gemm_pack_t_avx512(ct + j0 * M + b0, M, jn, bn, tmp, 16, 16);
            for (int64_t b = 0; b < bn; b++) {
                float *cr = c + (b0 + b) * ldc + j0;
                __m512 v = _mm512_load_ps(tmp + b * 16);
                if (bias) v = _mm512_add_ps(v, bv);
                if (beta != 0.0f) v = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(mj, cr), v);
                _mm512_mask_storeu_ps(cr, mj, v);
            }
        }
    }
}

extern const dc_rnn_kernels RK(kernels);
#include "rnn_body.h"
#else
typedef int dc_rnn_avx512_unused;
#endif
