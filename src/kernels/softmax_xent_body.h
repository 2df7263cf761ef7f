/* softmax_xent_body.h — the row-softmax kernel bodies, included by
 * softmax_xent.c (portable) and its _avx2 / _avx512 twins with the function
 * names in DC_SOFTMAX_ROW_NAME and DC_SOFTMAX_ROWS_NAME, so one source gives
 * every ISA path. */
#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^x for x <= 0 (or -inf) in one vector lane: Cephes' range reduction and
 * polynomial (about 1.5 ulp), 2^n built in the exponent bits. Below -87.33 it
 * gives 0. Selects are integer masks, not ternaries: GCC will not if-convert a
 * float compare, and a branch stops the loop from vectorizing. */
static inline float dc_exp_neg_lane(float x) {
    int32_t xi;
    memcpy(&xi, &x, sizeof xi);
    int32_t under = (0x42aea8f6 - (xi & 0x7fffffff)) >> 31; /* -1 when |x| > 87.33 */
    int32_t ci = (xi & ~under) | ((int32_t)0xc2aea8f6 & under);
    float xc;
    memcpy(&xc, &ci, sizeof xc);
    float t = xc * 1.44269504088896341f - 0.5f; /* t <= 0: truncation rounds to nearest */
    int32_t ni = (int32_t)t;
    float n = (float)ni;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    int32_t bits = (ni + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float e = y * scale;
    int32_t ei;
    memcpy(&ei, &e, sizeof ei);
    ei &= ~under;
    memcpy(&e, &ei, sizeof e);
    return e;
}

// z (C,) -> p (C,), returns log-sum-exp
float DC_SOFTMAX_ROW_NAME(const float *z, float *p, int64_t C) {
    if (C <= 0) return -INFINITY;
    /* 16 independent lanes, combined in a fixed order: vectorizes, and the
     * result depends on C alone */
    float lane[16];
    for (int l = 0; l < 16; l++) lane[l] = z[0];
    int64_t c = 0;
    for (; c + 16 <= C; c += 16)
        for (int l = 0; l < 16; l++) lane[l] = z[c + l] > lane[l] ? z[c + l] : lane[l];
    float m = lane[0];
    for (int l = 1; l < 16; l++) m = lane[l] > m ? lane[l] : m;
    for (; c < C; c++) m = z[c] > m ? z[c] : m;
    if (m != m || m == INFINITY) { /* +inf logit: no finite softmax */
        for (c = 0; c < C; c++) p[c] = NAN;
        return NAN;
    }
    int32_t nan = 0; /* the max above skips NaN, so look for it here */
#pragma omp simd reduction(| : nan)
    for (c = 0; c < C; c++) {
        int32_t zi;
        memcpy(&zi, &z[c], sizeof zi);
        nan |= (0x7f800000 - (zi & 0x7fffffff)) >> 31;
        p[c] = dc_exp_neg_lane(z[c] - m);
    }
    if (nan) {
        for (c = 0; c < C; c++) p[c] = NAN;
        return NAN;
    }
    for (int l = 0; l < 16; l++) lane[l] = 0;
    for (c = 0; c + 16 <= C; c += 16)
        for (int l = 0; l < 16; l++) lane[l] += p[c + l];
    float s = 0;
    for (int l = 0; l < 16; l++) s += lane[l];
    for (; c < C; c++) s += p[c];
    float inv = 1.0f / s;
#pragma omp simd
    for (c = 0; c < C; c++) p[c] *= inv;
    return m + logf(s);
}

/* Rows of fewer classes than a vector holds (a pixel's 11 classes) go 16 at a
 * time, a row per lane, so every step is one vector op; each lane does what
 * the row kernel does for C < 16 in the same order, so the bits are the same. */
#define DC_SOFTMAX_BLOCK 16

// z (16,C) -> p (16,C), lse (16); 0 < C < 16
static void softmax_block(const float *z, float *p, float *lse, int64_t C) {
    float t[DC_SOFTMAX_BLOCK * DC_SOFTMAX_BLOCK], m[DC_SOFTMAX_BLOCK], s[DC_SOFTMAX_BLOCK];
    int32_t nan[DC_SOFTMAX_BLOCK];
    for (int64_t c = 0; c < C; c++) /* t (C,16): class-major, a row per lane */
        for (int l = 0; l < DC_SOFTMAX_BLOCK; l++) t[c * DC_SOFTMAX_BLOCK + l] = z[l * C + c];
    for (int l = 0; l < DC_SOFTMAX_BLOCK; l++) m[l] = z[l * C], s[l] = 0, nan[l] = 0;
    for (int64_t c = 1; c < C; c++) {
        const float *tc = t + c * DC_SOFTMAX_BLOCK;
#pragma omp simd
        for (int l = 0; l < DC_SOFTMAX_BLOCK; l++) m[l] = tc[l] > m[l] ? tc[l] : m[l];
    }
    for (int64_t c = 0; c < C; c++) {
        float *tc = t + c * DC_SOFTMAX_BLOCK;
#pragma omp simd
        for (int l = 0; l < DC_SOFTMAX_BLOCK; l++) {
            int32_t zi;
            memcpy(&zi, &tc[l], sizeof zi);
            nan[l] |= (0x7f800000 - (zi & 0x7fffffff)) >> 31;
            tc[l] = dc_exp_neg_lane(tc[l] - m[l]);
            s[l] += tc[l];
        }
    }
    float inv[DC_SOFTMAX_BLOCK];
    for (int l = 0; l < DC_SOFTMAX_BLOCK; l++) {
        inv[l] = 1.0f / s[l];
        lse[l] = m[l] + logf(s[l]);
    }
    for (int64_t c = 0; c < C; c++)
        for (int l = 0; l < DC_SOFTMAX_BLOCK; l++)
            p[l * C + c] = t[c * DC_SOFTMAX_BLOCK + l] * inv[l];
    for (int l = 0; l < DC_SOFTMAX_BLOCK; l++)
        if (nan[l] || m[l] != m[l] || m[l] == INFINITY) { /* as the row kernel */
            for (int64_t c = 0; c < C; c++) p[l * C + c] = NAN;
            lse[l] = NAN;
        }
}

// z (N,C) -> p (N,C), lse (N): the softmax and log-sum-exp of each row
void DC_SOFTMAX_ROWS_NAME(const float *z, float *p, float *lse, int64_t N, int64_t C) {
    int64_t i = 0;
    if (C > 0 && C < DC_SOFTMAX_BLOCK)
        for (; i + DC_SOFTMAX_BLOCK <= N; i += DC_SOFTMAX_BLOCK)
            softmax_block(z + i * C, p + i * C, lse + i, C);
    for (; i < N; i++) lse[i] = DC_SOFTMAX_ROW_NAME(z + i * C, p + i * C, C);
}
