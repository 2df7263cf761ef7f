/* elementwise_impl.h — the bodies of the elementwise kernels, written as plain
 * loops the compiler vectorizes; included once per ISA build (portable, AVX2,
 * AVX-512) with EW_SUFFIX naming the kernel table that build exports. */
#ifndef EW_SUFFIX
#error "define EW_SUFFIX before including elementwise_impl.h"
#endif
#include "elementwise.h"
#include <math.h>
#include <string.h>

/* The selects below (relu, clamps in exp) only vectorize when GCC may assume
 * floating-point exceptions are not observed (results are unchanged by it);
 * -std=c11 turns off FMA contraction, which the polynomials want back. So the
 * builds for different ISAs may differ in the last bit, each deterministic. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "fp-contract=fast")
#endif

#define EW_CAT2(a, b) a##b
#define EW_CAT(a, b) EW_CAT2(a, b)
#define EW_TABLE EW_CAT(dc_ew_kernels_, EW_SUFFIX)

#include "fastmath.h"

#define DC_EW_MINI(a, b) ((a) < (b) ? (a) : (b))

/* for (int64_t v = 0; v < count; v++) body, split over threads when par, else
 * a plain loop: an if() clause would still enter the OpenMP runtime, whose
 * call costs more than a small softmax. */
#define EW_FOR_PAR_IF(par, v, count, ...)                                                  \
    do {                                                                                   \
        if (par) {                                                                         \
            _Pragma("omp parallel for schedule(static)")                                   \
            for (int64_t v = 0; v < (count); v++) { __VA_ARGS__; }                         \
        } else {                                                                           \
            for (int64_t v = 0; v < (count); v++) { __VA_ARGS__; }                         \
        }                                                                                  \
    } while (0)

/* log without a libm call: x = 2^e m with m in [sqrt(1/2), sqrt(2)), then
 * log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| < 0.172, as an odd series in s
 * to s^9 (error < 1e-9). Subnormals are scaled by 2^23 first. */
static inline float ew_logf(float x) {
    const int sub = x < 1.17549435e-38f;
    float xs = sub ? x * 8388608.0f : x;
    uint32_t bits;
    memcpy(&bits, &xs, sizeof bits);
    int32_t e = (int32_t)((bits >> 23) & 0xffu) - 127 - (sub ? 23 : 0);
    uint32_t mb = (bits & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &mb, sizeof m);
    const int big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    e = big ? e + 1 : e;
    float f = m - 1.0f;
    float sv = f / (2.0f + f);
    float z = sv * sv;
    float q = z * (1.0f / 9.0f) + 1.0f / 7.0f;
    q = q * z + 1.0f / 5.0f;
    q = q * z + 1.0f / 3.0f;
    float lm = 2.0f * sv + 2.0f * sv * z * q;
    float ef = (float)e;
    float r = ef * 0.693359375f + (lm - ef * 2.12194440e-4f);
    r = x == INFINITY ? x : r;
    return x > 0.0f ? r : (x == 0.0f ? -INFINITY : NAN);
}

/* log(1 + e) for e >= 0: log(u) * e / (u - 1), u = 1 + e, corrects the
 * rounding of u (exact where u == 1, where log1p(e) = e to float precision). */
static inline float ew_log1pf_pos(float e) {
    float u = 1.0f + e;
    float d = u - 1.0f;
    float r = ew_logf(u) * (e / (d == 0.0f ? 1.0f : d));
    return d == 0.0f ? e : r;
}

/* erfc with relative error about 1.2e-7 for x >= 0 (a Chebyshev-fitted
 * exponent, Numerical Recipes' erfcc), reflected as 2 - erfc(-x) below 0. */
static inline float ew_erfcf(float x) {
    float z = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float r = t * dc_fm_expf(p - z * z);
    return x < 0 ? 2.0f - r : r;
}

/* ---- relu family ---- */

// x (n) -> y (n)
/* written so that NaN passes through, as in PyTorch */
static void ew_relu(const float *x, float *y, int64_t n) {
    DC_EW_LOOP(n, y[i] = x[i] < 0.0f ? 0.0f : x[i]);
}

/* The gradient at 0 is 0, as in PyTorch; y > 0 exactly where x > 0. */
static void ew_relu_backward(const float *y, const float *gy, float *gx, int64_t n) {
    DC_EW_LOOP(n, gx[i] += y[i] > 0.0f ? gy[i] : 0.0f);
}

static void ew_leaky_relu(const float *x, float *y, int64_t n, float alpha) {
    DC_EW_LOOP(n, y[i] = x[i] > 0.0f ? x[i] : alpha * x[i]);
}

static void ew_leaky_relu_backward(const float *x, const float *gy, float *gx, int64_t n,
                                   float alpha) {
    DC_EW_LOOP(n, gx[i] += x[i] > 0.0f ? gy[i] : alpha * gy[i]);
}

static void ew_elu(const float *x, float *y, int64_t n, float alpha) {
    DC_EW_LOOP(n, {
        float v = x[i];
        float e = alpha * (dc_fm_expf(v) - 1.0f);
        y[i] = v > 0.0f ? v : e;
    });
}

/* For x <= 0, d/dx alpha (e^x - 1) = y + alpha (PyTorch's form). */
static void ew_elu_backward(const float *x, const float *y, const float *gy, float *gx, int64_t n,
                            float alpha) {
    DC_EW_LOOP(n, gx[i] += x[i] > 0.0f ? gy[i] : gy[i] * (y[i] + alpha));
}

/* ---- sigmoid, tanh, gelu, softplus ---- */

static void ew_sigmoid(const float *x, float *y, int64_t n) {
    DC_EW_LOOP(n, y[i] = dc_fm_sigmoidf(x[i]));
}

static void ew_sigmoid_backward(const float *y, const float *gy, float *gx, int64_t n) {
    DC_EW_LOOP(n, gx[i] += gy[i] * y[i] * (1.0f - y[i]));
}

static void ew_tanh(const float *x, float *y, int64_t n) {
    DC_EW_LOOP(n, y[i] = dc_fm_tanhf(x[i]));
}

static void ew_tanh_backward(const float *y, const float *gy, float *gx, int64_t n) {
    DC_EW_LOOP(n, gx[i] += gy[i] * (1.0f - y[i] * y[i]));
}

/* gelu(x) = x Phi(x) with the exact normal CDF, written Phi(x) = erfc(-x/sqrt 2)/2:
 * the same value as PyTorch's (1 + erf(x/sqrt 2))/2, without its cancellation
 * for x << 0. */
static void ew_gelu(const float *x, float *y, int64_t n) {
    DC_EW_LOOP(n, y[i] = 0.5f * x[i] * ew_erfcf(-x[i] * 0.70710678118654752f));
}

/* d gelu / dx = Phi(x) + x phi(x), phi the normal density. */
static void ew_gelu_backward(const float *x, const float *gy, float *gx, int64_t n) {
    DC_EW_LOOP(n, {
        float v = x[i];
        float cdf = 0.5f * ew_erfcf(-v * 0.70710678118654752f);
        float pdf = 0.39894228040143268f * dc_fm_expf(-0.5f * v * v);
        gx[i] += gy[i] * (cdf + v * pdf);
    });
}

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)): never overflows. */
static void ew_softplus(const float *x, float *y, int64_t n) {
    DC_EW_LOOP(n, {
        float v = x[i];
        float ax = v < 0 ? -v : v;
        y[i] = (v > 0.0f ? v : 0.0f) + ew_log1pf_pos(dc_fm_expf(-ax));
    });
}

static void ew_softplus_backward(const float *x, const float *gy, float *gx, int64_t n) {
    DC_EW_LOOP(n, gx[i] += gy[i] * dc_fm_sigmoidf(x[i]));
}

/* ---- exp, log ---- */

static void ew_exp(const float *x, float *y, int64_t n) {
    DC_EW_LOOP(n, y[i] = dc_fm_expf(x[i]));
}

static void ew_mul_acc(const float *y, const float *gy, float *gx, int64_t n) {
    DC_EW_LOOP(n, gx[i] += gy[i] * y[i]);
}

static void ew_log(const float *x, float *y, int64_t n) {
    DC_EW_LOOP(n, y[i] = ew_logf(x[i]));
}

/* one sample at a time (hundreds of bytes): never worth a thread */
static void ew_bytes_to_unit(const uint8_t *x, float *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = (float)x[i] / 255.0f;
}

/* ---- softmax over the middle axis of (outer, n, inner) ---- */

/* Columns of the inner axis are done in blocks of EW_COLS, so the running max
 * and sum stay in registers/stack and every loop runs over contiguous memory. */
#define EW_COLS 64

static void ew_softmax_block(const float *x, float *y, int64_t n, int64_t inner, int64_t c0,
                             int64_t nc, int logmode) {
    float mx[EW_COLS], sum[EW_COLS];
    for (int64_t c = 0; c < nc; c++) mx[c] = -INFINITY, sum[c] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        const float *xr = x + j * inner + c0;
#pragma omp simd
        for (int64_t c = 0; c < nc; c++) mx[c] = xr[c] > mx[c] ? xr[c] : mx[c];
    }
    for (int64_t j = 0; j < n; j++) {
        const float *xr = x + j * inner + c0;
        float *yr = y + j * inner + c0;
#pragma omp simd
        for (int64_t c = 0; c < nc; c++) {
            float e = dc_fm_expf(xr[c] - mx[c]);
            if (logmode) yr[c] = xr[c] - mx[c];
            else yr[c] = e;
            sum[c] += e;
        }
    }
    for (int64_t c = 0; c < nc; c++) sum[c] = logmode ? logf(sum[c]) : 1.0f / sum[c];
    for (int64_t j = 0; j < n; j++) {
        float *yr = y + j * inner + c0;
        if (logmode) {
#pragma omp simd
            for (int64_t c = 0; c < nc; c++) yr[c] -= sum[c];
        } else {
#pragma omp simd
            for (int64_t c = 0; c < nc; c++) yr[c] *= sum[c];
        }
    }
}

/* One contiguous row (inner == 1): the common last-axis case. */
static void ew_softmax_row(const float *x, float *y, int64_t n, int logmode) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; j++) m = x[j] > m ? x[j] : m;
    float s = 0.0f;
    if (logmode) {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++) s += dc_fm_expf(x[j] - m);
        /* (x - m) - log s, not x - (m + log s): m + log s would round at |m|'s scale */
        float ls = logf(s);
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] = (x[j] - m) - ls;
    } else {
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; j++) {
            float e = dc_fm_expf(x[j] - m);
            y[j] = e;
            s += e;
        }
        float inv = 1.0f / s;
#pragma omp simd
        for (int64_t j = 0; j < n; j++) y[j] *= inv;
    }
}

/* Block ob of (outer, column blocks): columns [c0, c0 + EW_COLS) of slab o. */
static void ew_softmax_part(const float *x, float *y, int64_t n, int64_t inner, int64_t nblk,
                            int64_t ob, int logmode) {
    int64_t o = ob / nblk, c0 = (ob % nblk) * EW_COLS;
    int64_t nc = inner - c0 < EW_COLS ? inner - c0 : EW_COLS;
    ew_softmax_block(x + o * n * inner, y + o * n * inner, n, inner, c0, nc, logmode);
}

/* Rows shorter than EW_SHORT_ROW cost more in per-row reductions than in
 * work: EW_COLS of them at a time are transposed into (n, EW_COLS) on the
 * stack, where the column-block code runs the vector lanes across rows.
 * Rows [r0, r0 + nr), nr <= EW_COLS. */
#define EW_SHORT_ROW 32

/* GCC cannot see that the transposes fill every element the block code reads. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
static void ew_softmax_short(const float *x, float *y, int64_t n, int64_t r0, int64_t nr,
                             int logmode) {
    float buf[EW_SHORT_ROW * EW_COLS];
    const float *xs = x + r0 * n;
    float *ys = y + r0 * n;
    for (int64_t r = 0; r < nr; r++)
        for (int64_t j = 0; j < n; j++) buf[j * nr + r] = xs[r * n + j];
    ew_softmax_block(buf, buf, n, nr, 0, nr, logmode);
    for (int64_t r = 0; r < nr; r++)
        for (int64_t j = 0; j < n; j++) ys[r * n + j] = buf[j * nr + r];
}

static void ew_softmax_any(const float *x, float *y, int64_t outer, int64_t n, int64_t inner,
                           int logmode) {
    if (n <= 0) return;
    /* rows (or blocks of columns) are independent: threads split them when
     * the work is large, and small calls stay out of the OpenMP runtime */
    const int par = outer * n * inner > DC_EW_PAR_MIN;
    if (inner == 1 && n < EW_SHORT_ROW) {
        const int64_t nch = (outer + EW_COLS - 1) / EW_COLS;
        EW_FOR_PAR_IF(par, c, nch,
                      ew_softmax_short(x, y, n, c * EW_COLS,
                                       DC_EW_MINI(EW_COLS, outer - c * EW_COLS), logmode));
        return;
    }
    if (inner == 1) {
        EW_FOR_PAR_IF(par, o, outer, ew_softmax_row(x + o * n, y + o * n, n, logmode));
        return;
    }
    const int64_t nblk = (inner + EW_COLS - 1) / EW_COLS;
    EW_FOR_PAR_IF(par, ob, outer * nblk, ew_softmax_part(x, y, n, inner, nblk, ob, logmode));
}

static void ew_softmax(const float *x, float *y, int64_t outer, int64_t n, int64_t inner) {
    ew_softmax_any(x, y, outer, n, inner, 0);
}

static void ew_log_softmax(const float *x, float *y, int64_t outer, int64_t n, int64_t inner) {
    ew_softmax_any(x, y, outer, n, inner, 1);
}

/* softmax: gx += y (gy - <gy, y>); log_softmax: gx += gy - e^y sum(gy).
 * Part ob of (outer, column blocks), as in the forward. */
static void ew_softmax_backward_part(const float *y, const float *gy, float *gx, int64_t n,
                                     int64_t inner, int64_t nblk, int64_t ob, int logmode) {
    int64_t o = ob / nblk, c0 = (ob % nblk) * EW_COLS;
    int64_t nc = inner - c0 < EW_COLS ? inner - c0 : EW_COLS;
    const float *yo = y + o * n * inner + c0, *go = gy + o * n * inner + c0;
    float *xo = gx + o * n * inner + c0;
    if (inner == 1) {
        float d = 0.0f;
        if (logmode) {
#pragma omp simd reduction(+ : d)
            for (int64_t j = 0; j < n; j++) d += go[j];
#pragma omp simd
            for (int64_t j = 0; j < n; j++) xo[j] += go[j] - dc_fm_expf(yo[j]) * d;
        } else {
#pragma omp simd reduction(+ : d)
            for (int64_t j = 0; j < n; j++) d += go[j] * yo[j];
#pragma omp simd
            for (int64_t j = 0; j < n; j++) xo[j] += yo[j] * (go[j] - d);
        }
        return;
    }
    float d[EW_COLS];
    for (int64_t c = 0; c < nc; c++) d[c] = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        const float *yr = yo + j * inner, *gr = go + j * inner;
        if (logmode) {
#pragma omp simd
            for (int64_t c = 0; c < nc; c++) d[c] += gr[c];
        } else {
#pragma omp simd
            for (int64_t c = 0; c < nc; c++) d[c] += gr[c] * yr[c];
        }
    }
    for (int64_t j = 0; j < n; j++) {
        const float *yr = yo + j * inner, *gr = go + j * inner;
        float *xr = xo + j * inner;
        if (logmode) {
#pragma omp simd
            for (int64_t c = 0; c < nc; c++) xr[c] += gr[c] - dc_fm_expf(yr[c]) * d[c];
        } else {
#pragma omp simd
            for (int64_t c = 0; c < nc; c++) xr[c] += yr[c] * (gr[c] - d[c]);
        }
    }
}

/* The backward of ew_softmax_short: y, gy transposed in, gx added back. */
static void ew_softmax_backward_short(const float *y, const float *gy, float *gx, int64_t n,
                                      int64_t r0, int64_t nr, int logmode) {
    float by[EW_SHORT_ROW * EW_COLS], bg[EW_SHORT_ROW * EW_COLS], bx[EW_SHORT_ROW * EW_COLS];
    const int64_t off = r0 * n;
    for (int64_t r = 0; r < nr; r++)
        for (int64_t j = 0; j < n; j++) {
            by[j * nr + r] = y[off + r * n + j];
            bg[j * nr + r] = gy[off + r * n + j];
            bx[j * nr + r] = 0.0f;
        }
    ew_softmax_backward_part(by, bg, bx, n, nr, 1, 0, logmode);
    for (int64_t r = 0; r < nr; r++)
        for (int64_t j = 0; j < n; j++) gx[off + r * n + j] += bx[j * nr + r];
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

static void ew_softmax_backward_any(const float *y, const float *gy, float *gx, int64_t outer,
                                    int64_t n, int64_t inner, int logmode) {
    if (n <= 0) return;
    const int par = outer * n * inner > DC_EW_PAR_MIN;
    if (inner == 1 && n < EW_SHORT_ROW) {
        const int64_t nch = (outer + EW_COLS - 1) / EW_COLS;
        EW_FOR_PAR_IF(par, c, nch,
                      ew_softmax_backward_short(y, gy, gx, n, c * EW_COLS,
                                                DC_EW_MINI(EW_COLS, outer - c * EW_COLS),
                                                logmode));
        return;
    }
    const int64_t nblk = (inner + EW_COLS - 1) / EW_COLS;
    EW_FOR_PAR_IF(par, ob, outer * nblk,
                  ew_softmax_backward_part(y, gy, gx, n, inner, nblk, ob, logmode));
}

static void ew_softmax_backward(const float *y, const float *gy, float *gx, int64_t outer,
                                int64_t n, int64_t inner) {
    ew_softmax_backward_any(y, gy, gx, outer, n, inner, 0);
}

static void ew_log_softmax_backward(const float *y, const float *gy, float *gx, int64_t outer,
                                    int64_t n, int64_t inner) {
    ew_softmax_backward_any(y, gy, gx, outer, n, inner, 1);
}

/* ---- binary rows (the broadcasting itself is planned in op_elementwise.c) ---- */

/* STMT runs for i in [0, L) with A = a's element, B = b's element, in the
 * variant of the loop where each operand steps by 1 or stays put; SIMD is the
 * loops' pragma string. */
#define EW_LOOP4_WITH(SIMD, L, ar, ra, br, rb, STMT)                                       \
    do {                                                                                   \
        if ((ra) && (rb)) {                                                                \
            _Pragma(SIMD) for (int64_t i = 0; i < (L); i++) {                              \
                const float A = (ar)[i], B = (br)[i];                                      \
                STMT;                                                                      \
            }                                                                              \
        } else if (ra) {                                                                   \
            const float B = (br)[0];                                                       \
            _Pragma(SIMD) for (int64_t i = 0; i < (L); i++) {                              \
                const float A = (ar)[i];                                                   \
                STMT;                                                                      \
            }                                                                              \
        } else if (rb) {                                                                   \
            const float A = (ar)[0];                                                       \
            _Pragma(SIMD) for (int64_t i = 0; i < (L); i++) {                              \
                const float B = (br)[i];                                                   \
                STMT;                                                                      \
            }                                                                              \
        } else {                                                                           \
            const float A = (ar)[0], B = (br)[0];                                          \
            _Pragma(SIMD) for (int64_t i = 0; i < (L); i++) { STMT; }                      \
        }                                                                                  \
    } while (0)
#define EW_LOOP4(L, ar, ra, br, rb, STMT) EW_LOOP4_WITH("omp simd", L, ar, ra, br, rb, STMT)
/* The same where STMT adds into acc_ (a sum over the row). */
#define EW_LOOP4_SUM(L, ar, ra, br, rb, STMT)                                              \
    EW_LOOP4_WITH("omp simd reduction(+ : acc_)", L, ar, ra, br, rb, STMT)

/* One op's forward and derivatives, in A, B (operands), Y (output), G (its
 * gradient), over `rows` rows: row r of a starts at a + r*as, of b at b + r*bs,
 * of y and g at r*ys, of the operand's gradient gx at r*xs. */
#define EW_BIN_FWD(EXPR)                                                                   \
    for (int64_t r = 0; r < rows; r++) {                                                   \
        const float *ar = a + r * as, *br = b + r * bs;                                    \
        float *yr = y + r * ys;                                                            \
        EW_LOOP4(n, ar, ra, br, rb, yr[i] = (EXPR));                                       \
    }
#define EW_BIN_BWD(DEXPR)                                                                  \
    for (int64_t r = 0; r < rows; r++) {                                                   \
        const float *ar = a + r * as, *br = b + r * bs, *yr = y + r * ys, *gr = g + r * ys; \
        float *gxr = gx + r * xs;                                                          \
        if (rs) {                                                                          \
            EW_LOOP4(n, ar, ra, br, rb, const float Y = yr[i]; const float G = gr[i];      \
                     (void)A; (void)B; (void)Y; gxr[i] += (DEXPR));                        \
        } else {                                                                           \
            float acc_ = 0.0f;                                                             \
            EW_LOOP4_SUM(n, ar, ra, br, rb, const float Y = yr[i]; const float G = gr[i];  \
                         (void)A; (void)B; (void)Y; acc_ += (DEXPR));                      \
            gxr[0] += acc_;                                                                \
        }                                                                                  \
    }

static void ew_binary(dc_ew_binop op, const float *a, int64_t as, int ra, const float *b,
                      int64_t bs, int rb, float *y, int64_t ys, int64_t rows, int64_t n) {
    switch (op) {
    case DC_EW_ADD: EW_BIN_FWD(A + B); break;
    case DC_EW_SUB: EW_BIN_FWD(A - B); break;
    case DC_EW_MUL: EW_BIN_FWD(A * B); break;
    case DC_EW_DIV: EW_BIN_FWD(A / B); break;
    /* a NaN in either operand propagates */
    case DC_EW_MAXIMUM: EW_BIN_FWD((A > B || A != A) ? A : B); break;
    case DC_EW_MINIMUM: EW_BIN_FWD((A < B || A != A) ? A : B); break;
    case DC_EW_POW: EW_BIN_FWD(powf(A, B)); break;
    }
}

static void ew_binary_backward(dc_ew_binop op, int which, const float *a, int64_t as, int ra,
                               const float *b, int64_t bs, int rb, const float *y, const float *g,
                               int64_t ys, float *gx, int64_t rows, int64_t n) {
    const int rs = which ? rb : ra;
    const int64_t xs = which ? bs : as;
    if (which == 0) {
        switch (op) {
        case DC_EW_ADD: EW_BIN_BWD(G); break;
        case DC_EW_SUB: EW_BIN_BWD(G); break;
        case DC_EW_MUL: EW_BIN_BWD(G * B); break;
        case DC_EW_DIV: EW_BIN_BWD(G / B); break;
        case DC_EW_MAXIMUM: EW_BIN_BWD(A > B ? G : (A == B ? 0.5f * G : 0.0f)); break;
        case DC_EW_MINIMUM: EW_BIN_BWD(A < B ? G : (A == B ? 0.5f * G : 0.0f)); break;
        /* 0 where b == 0, as in PyTorch */
        case DC_EW_POW: EW_BIN_BWD(B == 0.0f ? 0.0f : G * B * powf(A, B - 1.0f)); break;
        }
    } else {
        switch (op) {
        case DC_EW_ADD: EW_BIN_BWD(G); break;
        case DC_EW_SUB: EW_BIN_BWD(-G); break;
        case DC_EW_MUL: EW_BIN_BWD(G * A); break;
        /* -a / b^2 as PyTorch writes it (not -y / b), to round alike */
        case DC_EW_DIV: EW_BIN_BWD(-G * A / (B * B)); break;
        case DC_EW_MAXIMUM: EW_BIN_BWD(B > A ? G : (A == B ? 0.5f * G : 0.0f)); break;
        case DC_EW_MINIMUM: EW_BIN_BWD(B < A ? G : (A == B ? 0.5f * G : 0.0f)); break;
        /* y log a: NaN for a < 0, taken as 0 where a == 0 and b >= 0 */
        case DC_EW_POW: EW_BIN_BWD((A == 0.0f && B >= 0.0f) ? 0.0f : G * Y * ew_logf(A)); break;
        }
    }
}

const dc_ew_kernels EW_TABLE = {
    .relu = ew_relu,
    .relu_backward = ew_relu_backward,
    .leaky_relu = ew_leaky_relu,
    .leaky_relu_backward = ew_leaky_relu_backward,
    .elu = ew_elu,
    .elu_backward = ew_elu_backward,
    .sigmoid = ew_sigmoid,
    .sigmoid_backward = ew_sigmoid_backward,
    .tanh = ew_tanh,
    .tanh_backward = ew_tanh_backward,
    .gelu = ew_gelu,
    .gelu_backward = ew_gelu_backward,
    .softplus = ew_softplus,
    .softplus_backward = ew_softplus_backward,
    .exp = ew_exp,
    .mul_acc = ew_mul_acc,
    .log = ew_log,
    .bytes_to_unit = ew_bytes_to_unit,
    .softmax = ew_softmax,
    .log_softmax = ew_log_softmax,
    .softmax_backward = ew_softmax_backward,
    .log_softmax_backward = ew_log_softmax_backward,
    .binary = ew_binary,
    .binary_backward = ew_binary_backward,
};
