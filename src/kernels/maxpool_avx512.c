/* maxpool_avx512.c — the fused max-pool kernels written for AVX-512: a window
 * is done in one pass per 16 filters (masked tail), its maximum, argmax and
 * gradient kept in registers; the same results, bit for bit, as maxpool_body.h. */
#include "maxpool.h"
#if DC_HAVE_X86_KERNELS
#include <immintrin.h>
#include "avx512_lanes.h"

// z (po*ph, wo, F) -> y (po, qo, F), arg (po, qo, F)
static void pool(const dc_maxpool_geom *g, const float *z, float *y, int32_t *arg) {
    const int64_t F = g->f;
    for (int64_t i = 0; i < g->po; i++)
        for (int64_t j = 0; j < g->qo; j++) {
            const int64_t o = (i * g->qo + j) * F;
            const int32_t pix0 = (int32_t)(i * g->ph * g->wo + j * g->pw);
            for (int64_t f = 0; f < F; f += 16) {
                const __mmask16 m = dc_lanes16(F - f);
                __m512 best = _mm512_maskz_loadu_ps(m, z + (int64_t)pix0 * F + f);
                __m512i at = _mm512_set1_epi32(pix0);
                for (int64_t a = 0; a < g->ph; a++)
                    for (int64_t b = 0; b < g->pw; b++) {
                        if (a == 0 && b == 0) continue;
                        const int32_t pix = pix0 + (int32_t)(a * g->wo + b);
                        const __m512 v = _mm512_maskz_loadu_ps(m, z + (int64_t)pix * F + f);
                        /* larger, or NaN: a NaN wins, as in max_pool2d */
                        const __mmask16 gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                             _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                        best = _mm512_mask_mov_ps(best, gt, v);
                        at = _mm512_mask_mov_epi32(at, gt, _mm512_set1_epi32(pix));
                    }
                _mm512_mask_storeu_ps(y + o + f, m, best);
                if (arg) _mm512_mask_storeu_epi32(arg + o + f, m, at);
            }
        }
}

// y, gy, arg (po, qo, F) -> gz (po*ph, wo, F), db (F) +=
static void unpool(const dc_maxpool_geom *g, const float *y, const float *gy, const int32_t *arg,
                   bool relu, float *gz, float *db) {
    const int64_t F = g->f;
    const __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < g->po; i++)
        for (int64_t j = 0; j < g->qo; j++) {
            const int64_t o = (i * g->qo + j) * F;
            const int32_t pix0 = (int32_t)(i * g->ph * g->wo + j * g->pw);
            for (int64_t f = 0; f < F; f += 16) {
                const __mmask16 m = dc_lanes16(F - f);
                const __mmask16 open =
                    relu ? _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, y + o + f), zero,
                                                   _CMP_GT_OQ)
                         : m;
                /* the gradient through the ReLU (+0 where it is shut) */
                const __m512 v = _mm512_maskz_loadu_ps(open, gy + o + f);
                _mm512_mask_storeu_ps(db + f, m,
                                      _mm512_add_ps(_mm512_maskz_loadu_ps(m, db + f), v));
                const __m512i at = _mm512_maskz_loadu_epi32(m, arg + o + f);
                for (int64_t a = 0; a < g->ph; a++)
                    for (int64_t b = 0; b < g->pw; b++) {
                        const int32_t pix = pix0 + (int32_t)(a * g->wo + b);
                        const __mmask16 hit = _mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(pix));
                        _mm512_mask_storeu_ps(gz + (int64_t)pix * F + f, m,
                                              _mm512_maskz_mov_ps(hit, v));
                    }
            }
        }
}

const dc_maxpool_kernels dc_maxpool_avx512_kernels = {pool, unpool};
#else
typedef int dc_maxpool_avx512_unused;
#endif
