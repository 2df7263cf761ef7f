/* rnn_body.h — the bodies of the recurrent gate kernels (see rnn.h), plain
 * loops over a row's units that the compiler vectorizes; included once per ISA
 * build with RK(name) naming that build's symbols. */
#include "rnn.h"
#include <string.h>

/* As in elementwise_impl.h: vectorized selects and FMA contraction. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "fp-contract=fast")
#endif

#include "fastmath.h"

// v (n) -> act(v) in place
static void rk_act(int k, float *v, int64_t n) {
    switch (k) {
#ifdef RK_OWN_ACT /* the ISA build has its own rows of these two */
    case DC_RNN_K_TANH: rk_tanh_row(v, n); break;
    case DC_RNN_K_SIGMOID: rk_sigmoid_row(v, n); break;
#else
    case DC_RNN_K_TANH:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) v[i] = dc_fm_tanhf(v[i]);
        break;
    case DC_RNN_K_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) v[i] = dc_fm_sigmoidf(v[i]);
        break;
#endif
    case DC_RNN_K_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) v[i] = v[i] < 0.0f ? 0.0f : v[i];
        break;
    case DC_RNN_K_HARD_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float h = v[i] * (1.0f / 6.0f) + 0.5f;
            h = h < 0.0f ? 0.0f : h;
            v[i] = h > 1.0f ? 1.0f : h;
        }
        break;
    default: break; /* linear */
    }
}

/* d (n) *= act'(x) written from the output y = act(x) (every activation here
 * allows it; relu and hard_sigmoid take 0 at their kinks, as PyTorch). */
static void rk_dact(int k, const float *y, float *d, int64_t n) {
    switch (k) {
    case DC_RNN_K_TANH:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] *= 1.0f - y[i] * y[i];
        break;
    case DC_RNN_K_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] *= y[i] * (1.0f - y[i]);
        break;
    case DC_RNN_K_RELU:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) d[i] = y[i] > 0.0f ? d[i] : 0.0f;
        break;
    case DC_RNN_K_HARD_SIGMOID:
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            d[i] = y[i] > 0.0f && y[i] < 1.0f ? d[i] * (1.0f / 6.0f) : 0.0f;
        break;
    default: break;
    }
}

static inline bool rk_real(const dc_rnn_step *s, int64_t b) { return !s->m || s->m[b * s->ms] != 0.0f; }

/* A masked row: the state stays, the output repeats (or is 0). */
static void rk_keep(const dc_rnn_step *s, int64_t b) {
    const int64_t U = s->U;
    memcpy(s->hn + b * s->hns, s->hp + b * s->hps, (size_t)U * sizeof(float));
    if (s->cn) memcpy(s->cn + b * s->cns, s->cp + b * s->cps, (size_t)U * sizeof(float));
    float *y = s->y + b * s->ys;
    if (s->yp && !s->zero_out) memcpy(y, s->yp + b * s->yps, (size_t)U * sizeof(float));
    else memset(y, 0, (size_t)U * sizeof(float));
}

/* Backward of a masked row: no gate gradient, dh passes to h_{t-1}, the
 * output's gradient to the previous output (unless it was a constant 0). */
static void rk_keep_backward(const dc_rnn_step *s, int64_t b, int64_t gates) {
    const int64_t U = s->U;
    float *carry = s->carry + b * U;
    const float *dy = s->dy + b * s->dys;
    if (!s->zero_out)
        for (int64_t j = 0; j < U; j++) carry[j] += dy[j];
    memset(s->dg + b * s->dgs, 0, (size_t)(gates * U) * sizeof(float));
    memcpy(s->pass + b * U, s->dh + b * U, (size_t)U * sizeof(float));
}

/* dH (U) = dh + dy + carry for a real row; the carry is used up. */
static void rk_total_dh(const dc_rnn_step *s, int64_t b, float *dH) {
    const int64_t U = s->U;
    const float *dh = s->dh + b * U, *dy = s->dy + b * s->dys;
    float *carry = s->carry + b * U;
#pragma omp simd
    for (int64_t j = 0; j < U; j++) {
        dH[j] = dh[j] + dy[j] + carry[j];
        carry[j] = 0.0f;
    }
}

// g (B,4U) pre-activations i,f,c,o -> activations; cp, hp (B,U) -> cn, aux = act(cn), hn, y
static void RK(lstm_forward)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        if (!rk_real(s, b)) {
            rk_keep(s, b);
            continue;
        }
#ifdef RK_OWN_LSTM_ROW
        if (rk_lstm_row_ok(s)) {
            rk_lstm_forward_row(s, b);
            continue;
        }
#endif
        float *g = s->g + b * s->gs, *cn = s->cn + b * s->cns, *tc = s->aux + b * s->auxs;
        float *hn = s->hn + b * s->hns, *y = s->y + b * s->ys;
        const float *cp = s->cp + b * s->cps;
        rk_act(s->ract, g, 2 * U);
        rk_act(s->act, g + 2 * U, U);
        rk_act(s->ract, g + 3 * U, U);
#pragma omp simd
        for (int64_t j = 0; j < U; j++) {
            float c = g[U + j] * cp[j] + g[j] * g[2 * U + j];
            cn[j] = c;
            tc[j] = c;
        }
        rk_act(s->act, tc, U);
#pragma omp simd
        for (int64_t j = 0; j < U; j++) {
            float h = g[3 * U + j] * tc[j];
            hn[j] = h;
            y[j] = h;
        }
    }
}

// dh, dc (B,U), dy -> dg (B,4U) (i,f,c,o pre-activation), dc := dc_{t-1}, pass
static void RK(lstm_backward)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        if (!rk_real(s, b)) {
            rk_keep_backward(s, b, 4);
            continue;
        }
#ifdef RK_OWN_LSTM_ROW
        if (rk_lstm_row_ok(s)) {
            rk_lstm_backward_row(s, b);
            continue;
        }
#endif
        const float *g = s->g + b * s->gs, *tc = s->aux + b * s->auxs, *cp = s->cp + b * s->cps;
        float *dg = s->dg + b * s->dgs, *dc = s->dc + b * U;
        float *di = dg, *df = dg + U, *dgg = dg + 2 * U, *dout = dg + 3 * U;
        rk_total_dh(s, b, di); /* dH, kept in di until dc_t is known */
#pragma omp simd
        for (int64_t j = 0; j < U; j++) {
            float dH = di[j];
            dout[j] = dH * tc[j];
            dgg[j] = dH * g[3 * U + j]; /* dH o, times act'(c) next */
        }
        rk_dact(s->act, tc, dgg, U);
#pragma omp simd
        for (int64_t j = 0; j < U; j++) {
            float dct = dc[j] + dgg[j];
            di[j] = dct * g[2 * U + j];
            df[j] = dct * cp[j];
            dgg[j] = dct * g[j];
            dc[j] = dct * g[U + j];
        }
        rk_dact(s->ract, g, dg, 2 * U);
        rk_dact(s->act, g + 2 * U, dgg, U);
        rk_dact(s->ract, g + 3 * U, dout, U);
        memset(s->pass + b * U, 0, (size_t)U * sizeof(float));
    }
}

/* h = z h_{t-1} + (1 - z) hh for a real row */
static void rk_gru_mix(const dc_rnn_step *s, int64_t b, const float *g) {
    const int64_t U = s->U;
    const float *hp = s->hp + b * s->hps;
    float *hn = s->hn + b * s->hns, *y = s->y + b * s->ys;
#pragma omp simd
    for (int64_t j = 0; j < U; j++) {
        float z = g[j], hh = g[2 * U + j];
        float h = z * hp[j] + (1.0f - z) * hh;
        hn[j] = h;
        y[j] = h;
    }
}

// g (B,3U) input side, r (B,3U) recurrent side -> g: z, r, hh; aux = rec_h; hn, y
static void RK(gru_forward)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        if (!rk_real(s, b)) {
            rk_keep(s, b);
            continue;
        }
        float *g = s->g + b * s->gs, *aux = s->aux + b * s->auxs;
        const float *r = s->r + b * s->rs;
#pragma omp simd
        for (int64_t j = 0; j < 2 * U; j++) g[j] += r[j];
        rk_act(s->ract, g, 2 * U);
#pragma omp simd
        for (int64_t j = 0; j < U; j++) {
            aux[j] = r[2 * U + j];
            g[2 * U + j] += g[U + j] * r[2 * U + j];
        }
        rk_act(s->act, g + 2 * U, U);
        rk_gru_mix(s, b, g);
    }
}

/* The update-gate part shared by both GRU forms: dz, dhh (pre-activation) and
 * the direct z dH into pass. */
static void rk_gru_mix_backward(const dc_rnn_step *s, int64_t b, const float *g, float *dg) {
    const int64_t U = s->U;
    const float *hp = s->hp + b * s->hps;
    float *pass = s->pass + b * U;
    rk_total_dh(s, b, pass); /* dH in pass for now */
#pragma omp simd
    for (int64_t j = 0; j < U; j++) {
        float dH = pass[j], z = g[j], hh = g[2 * U + j];
        dg[j] = dH * (hp[j] - hh);
        dg[2 * U + j] = dH * (1.0f - z);
        pass[j] = dH * z;
    }
    rk_dact(s->act, g + 2 * U, dg + 2 * U, U);
    rk_dact(s->ract, g, dg, U);
}

// -> dg (B,3U) input side, r (B,3U) recurrent side (dGh), pass
static void RK(gru_backward)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        float *dgh = s->r + b * s->rs;
        if (!rk_real(s, b)) {
            rk_keep_backward(s, b, 3);
            memset(dgh, 0, (size_t)(3 * U) * sizeof(float));
            continue;
        }
        const float *g = s->g + b * s->gs, *aux = s->aux + b * s->auxs;
        float *dg = s->dg + b * s->dgs;
        rk_gru_mix_backward(s, b, g, dg);
#pragma omp simd
        for (int64_t j = 0; j < U; j++) {
            float dhh = dg[2 * U + j];
            dg[U + j] = dhh * aux[j];
            dgh[2 * U + j] = dhh * g[U + j];
        }
        rk_dact(s->ract, g + U, dg + U, U);
        memcpy(dgh, dg, (size_t)(2 * U) * sizeof(float));
    }
}

// g[:, :2U] += r (B,2U) -> z, r; aux = r * hd
static void RK(gru_rb_forward_a)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        float *aux = s->aux + b * s->auxs;
        if (!rk_real(s, b)) {
            memset(aux, 0, (size_t)U * sizeof(float)); /* read by the GEMMs, times 0 */
            continue;
        }
        float *g = s->g + b * s->gs;
        const float *r = s->r + b * s->rs, *hp = s->hp + b * s->hps;
        const float *rdm = s->rdm ? s->rdm + b * s->rdms : NULL;
#pragma omp simd
        for (int64_t j = 0; j < 2 * U; j++) g[j] += r[j];
        rk_act(s->ract, g, 2 * U);
        if (rdm) {
#pragma omp simd
            for (int64_t j = 0; j < U; j++) aux[j] = g[U + j] * hp[j] * rdm[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < U; j++) aux[j] = g[U + j] * hp[j];
        }
    }
}

// g[:, 2U:] += r (B,U) -> hh; hn, y
static void RK(gru_rb_forward_b)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        if (!rk_real(s, b)) {
            rk_keep(s, b);
            continue;
        }
        float *g = s->g + b * s->gs;
        const float *r = s->r + b * s->rs;
#pragma omp simd
        for (int64_t j = 0; j < U; j++) g[2 * U + j] += r[j];
        rk_act(s->act, g + 2 * U, U);
        rk_gru_mix(s, b, g);
    }
}

static void RK(gru_rb_backward_a)(const dc_rnn_step *s) {
    for (int64_t b = 0; b < s->B; b++) {
        if (!rk_real(s, b)) {
            rk_keep_backward(s, b, 3);
            continue;
        }
        rk_gru_mix_backward(s, b, s->g + b * s->gs, s->dg + b * s->dgs);
    }
}

// r (B,U) = d(r*hd) -> dg r part; r := d(r*hd) * r
static void RK(gru_rb_backward_b)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        float *dr = s->r + b * s->rs;
        if (!rk_real(s, b)) {
            memset(dr, 0, (size_t)U * sizeof(float));
            continue;
        }
        const float *g = s->g + b * s->gs, *hp = s->hp + b * s->hps;
        const float *rdm = s->rdm ? s->rdm + b * s->rdms : NULL;
        float *dg = s->dg + b * s->dgs;
#pragma omp simd
        for (int64_t j = 0; j < U; j++) {
            float hd = rdm ? hp[j] * rdm[j] : hp[j];
            dg[U + j] = dr[j] * hd;
            dr[j] *= g[U + j];
        }
        rk_dact(s->ract, g + U, dg + U, U);
    }
}

// g (B,U) -> h = act(g) in g; hn, y
static void RK(simple_forward)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        if (!rk_real(s, b)) {
            rk_keep(s, b);
            continue;
        }
        float *g = s->g + b * s->gs;
        rk_act(s->act, g, U);
        memcpy(s->hn + b * s->hns, g, (size_t)U * sizeof(float));
        memcpy(s->y + b * s->ys, g, (size_t)U * sizeof(float));
    }
}

static void RK(simple_backward)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        if (!rk_real(s, b)) {
            rk_keep_backward(s, b, 1);
            continue;
        }
        float *dg = s->dg + b * s->dgs;
        rk_total_dh(s, b, dg);
        rk_dact(s->act, s->g + b * s->gs, dg, U);
        memset(s->pass + b * U, 0, (size_t)U * sizeof(float));
    }
}

// pass (B,U) += rdm * r
static void RK(add_masked)(const dc_rnn_step *s) {
    const int64_t U = s->U;
    for (int64_t b = 0; b < s->B; b++) {
        float *p = s->pass + b * U;
        const float *r = s->r + b * s->rs;
        const float *rdm = s->rdm ? s->rdm + b * s->rdms : NULL;
        if (rdm) {
#pragma omp simd
            for (int64_t j = 0; j < U; j++) p[j] += rdm[j] * r[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < U; j++) p[j] += r[j];
        }
    }
}

#ifndef RK_OWN_TGEMM
/* Portable forms of the transposed step GEMM and its two transposes (an ISA
 * build with its own defines RK_OWN_TGEMM). */

enum { RK_CB = 32 };

// panel (K,TILE) x bt columns j0..j0+nc-1 (row stride ldb) -> acc (TILE,RK_CB)
static void rk_tgemm_block(int64_t ldb, int64_t K, const float *panel, const float *bt, int64_t j0,
                           int64_t nc, float acc[DC_RNN_TILE][RK_CB]) {
    memset(acc, 0, sizeof(float) * DC_RNN_TILE * RK_CB);
    for (int64_t k = 0; k < K; k++) {
        const float *a = panel + k * DC_RNN_TILE, *b = bt + k * ldb + j0;
        for (int i = 0; i < DC_RNN_TILE; i++) {
            const float ai = a[i];
#pragma omp simd
            for (int64_t j = 0; j < nc; j++) acc[i][j] += ai * b[j];
        }
    }
}

// panel (K,TILE) rows 0..mr-1 x bt (K,M) -> ct (mr,M), 32 columns at a time
static void RK(tgemm_panel)(int64_t M, int64_t K, int mr, const float *panel, const float *bt,
                            int64_t ldb, float *ct, int64_t ldc) {
    for (int64_t j0 = 0; j0 < M; j0 += RK_CB) {
        const int64_t nc = M - j0 < RK_CB ? M - j0 : RK_CB;
        float acc[DC_RNN_TILE][RK_CB];
        rk_tgemm_block(ldb, K, panel, bt, j0, nc, acc);
        for (int i = 0; i < mr; i++) memcpy(ct + i * ldc + j0, acc[i], (size_t)nc * sizeof(float));
    }
}

// the same product -> c (M,mr), row b at c + b*ldc
static void RK(tgemm_panel_rows)(int64_t M, int64_t K, int mr, const float *panel,
                                 const float *bt, float *c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < M; j0 += RK_CB) {
        const int64_t nc = M - j0 < RK_CB ? M - j0 : RK_CB;
        float acc[DC_RNN_TILE][RK_CB];
        rk_tgemm_block(M, K, panel, bt, j0, nc, acc); /* bt (K,M) */
        for (int64_t j = 0; j < nc; j++)
            for (int i = 0; i < mr; i++) c[(j0 + j) * ldc + i] = acc[i][j];
    }
}

// a (M,K) row stride lda -> bt (K,M) row stride ldb
static void RK(to_cols)(const float *a, int64_t lda, int64_t M, int64_t K, float *bt,
                        int64_t ldb) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t k = 0; k < K; k++) bt[k * ldb + i] = a[i * lda + k];
}

// c (M,N) = beta c + ct (N,M)^T + bias
static void RK(from_cols)(const float *ct, int64_t M, int64_t N, float beta, const float *bias,
                          float *c, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *ci = c + i * ldc;
        for (int64_t j = 0; j < N; j++) {
            float v = ct[j * M + i] + (bias ? bias[j] : 0.0f);
            ci[j] = beta != 0.0f ? beta * ci[j] + v : v;
        }
    }
}
#endif

const dc_rnn_kernels RK(kernels) = {
    .lstm_forward = RK(lstm_forward),
    .lstm_backward = RK(lstm_backward),
    .gru_forward = RK(gru_forward),
    .gru_backward = RK(gru_backward),
    .gru_rb_forward_a = RK(gru_rb_forward_a),
    .gru_rb_forward_b = RK(gru_rb_forward_b),
    .gru_rb_backward_a = RK(gru_rb_backward_a),
    .gru_rb_backward_b = RK(gru_rb_backward_b),
    .simple_forward = RK(simple_forward),
    .simple_backward = RK(simple_backward),
    .add_masked = RK(add_masked),
    .tgemm_panel = RK(tgemm_panel),
    .tgemm_panel_rows = RK(tgemm_panel_rows),
    .to_cols = RK(to_cols),
    .from_cols = RK(from_cols),
#ifdef RK_OWN_WGRAD
    .wgrad = RK(wgrad),
#endif
#ifdef RK_OWN_TSTEP
    .lstm_forward_t = RK(lstm_forward_t),
    .lstm_backward_t = RK(lstm_backward_t),
#endif
};
