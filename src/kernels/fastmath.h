/* fastmath.h — exp, tanh and sigmoid without libm calls, so the loops over
 * them vectorize; shared by the elementwise and recurrent kernels. */
#ifndef DC_KERNELS_FASTMATH_H
#define DC_KERNELS_FASTMATH_H
#include <stdint.h>
#include <string.h>

/* Included after the kernels' "no-trapping-math, fp-contract=fast" pragma, so
 * the selects vectorize and the polynomials keep their FMAs. */

/* exp without a libm call, so loops over it vectorize. Round x/ln2 to n with
 * the 1.5*2^23 trick, reduce r = x - n ln2 (ln2 split in two for precision),
 * Taylor to degree 7 on |r| <= ln2/2 (error < 1e-8), then scale by 2^n built
 * in two halves so that neither half leaves the normal range. */
static inline float dc_fm_expf(float x) {
    const float magic = 12582912.0f;
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    xc = xc != xc ? 0.0f : xc; /* NaN: keep the integer steps defined */
    float t = xc * 1.44269504088896341f + magic;
    float nf = t - magic;
    float r = xc - nf * 0.693359375f;
    r = r + nf * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* NaN must not reach the int conversion (undefined behaviour); it is
     * returned as NaN below anyway. */
    int32_t n = nf == nf ? (int32_t)nf : 0;
    int32_t k = n >> 1, m = n - k;
    uint32_t bk = (uint32_t)(k + 127) << 23, bm = (uint32_t)(m + 127) << 23;
    float sk, sm;
    memcpy(&sk, &bk, sizeof sk);
    memcpy(&sm, &bm, sizeof sm);
    float y = p * sk * sm;
    return x != x ? x : y;
}

/* tanh: an odd polynomial near 0, where 1 - 2/(e^2x + 1) would cancel, and the
 * exp form elsewhere (it saturates to +-1 cleanly as e^2x overflows). */
static inline float dc_fm_tanhf(float x) {
    float ax = x < 0 ? -x : x;
    float s = x * x;
    float small = ((((-5.70498872745e-3f * s + 2.06390887954e-2f) * s - 5.37397155531e-2f) * s +
                    1.33314422036e-1f) * s - 3.33332819422e-1f) * s * x + x;
    float e = dc_fm_expf(2.0f * ax);
    float big = 1.0f - 2.0f / (e + 1.0f);
    big = x < 0 ? -big : big;
    return ax < 0.625f ? small : big;
}

static inline float dc_fm_sigmoidf(float x) { return 1.0f / (1.0f + dc_fm_expf(-x)); }

#endif
