/* rnn_avx512.c — the recurrent gate kernels built for AVX512 (see rnn_body.h),
 * with the transposed step GEMM in intrinsics; only called when the CPU has it. */
#include "rnn.h"
#if DC_HAVE_X86_KERNELS
#include "gemm.h"
#include <immintrin.h>
#include "avx512_lanes.h"
#define RK(name) dc_rnn_avx512_##name
#define RK_OWN_TGEMM

/* A (TILE, 16*nv) tile of ct in 14*nv accumulators: per k one broadcast of
 * each panel element feeds nv FMAs, so the FMAs (not the loads) set the pace. */
/* rows: the tile is stored transposed, column b of ct as row b of c (ldc its
 * row stride), through a 16x16 block in L1 (the transposing pack), so the
 * caller gets the step's GEMM in row layout without a pass over all of ct. */
// panel (K,TILE) x b (K, <=16*nv) with row stride ldb -> ct rows 0..mr-1 (or c rows)
static inline __attribute__((always_inline)) void
tg_tile(int64_t K, const float *panel, const float *b, int64_t ldb, float *ct, int64_t ldc,
        int mr, __mmask16 m0, __mmask16 m1, const int nv, const bool rows, int ncols) {
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
    if (rows) {
        float blk[T * 16] __attribute__((aligned(64)));
#pragma GCC unroll 14
        for (int i = 0; i < T; i++) _mm512_store_ps(blk + i * 16, c0[i]);
        dc_gemm_pack_t_avx512(blk, 16, mr, ncols < 16 ? ncols : 16, ct, ldc, mr);
        if (nv == 2) {
#pragma GCC unroll 14
            for (int i = 0; i < T; i++) _mm512_store_ps(blk + i * 16, c1[i]);
            dc_gemm_pack_t_avx512(blk, 16, mr, ncols - 16, ct + 16 * ldc, ldc, mr);
        }
        return;
    }
#pragma GCC unroll 14
    for (int i = 0; i < T; i++) {
        if (i >= mr) break;
        _mm512_mask_storeu_ps(ct + i * ldc, m0, c0[i]);
        if (nv == 2) _mm512_mask_storeu_ps(ct + i * ldc + 16, m1, c1[i]);
    }
}

// panel (K,TILE) rows 0..mr-1 x bt (K,M) row stride ldb -> ct (mr,M), 32 columns at a time
static void RK(tgemm_panel)(int64_t M, int64_t K, int mr, const float *panel, const float *bt,
                            int64_t ldb, float *ct, int64_t ldc) {
    for (int64_t j0 = 0; j0 < M; j0 += 32) {
        const int64_t nc = M - j0 < 32 ? M - j0 : 32;
        if (nc > 16)
            tg_tile(K, panel, bt + j0, ldb, ct + j0, ldc, mr, 0xFFFF, dc_lanes16(nc - 16), 2, false, 0);
        else
            tg_tile(K, panel, bt + j0, ldb, ct + j0, ldc, mr, dc_lanes16(nc), 0, 1, false, 0);
    }
}

// the same product -> c (M,mr), row b of c at c + b*ldc
static void RK(tgemm_panel_rows)(int64_t M, int64_t K, int mr, const float *panel,
                                 const float *bt, float *c, int64_t ldc) {
    for (int64_t j0 = 0; j0 < M; j0 += 32) {
        const int nc = (int)(M - j0 < 32 ? M - j0 : 32);
        if (nc > 16)
            tg_tile(K, panel, bt + j0, M, c + j0 * ldc, ldc, mr, 0xFFFF, dc_lanes16(nc - 16), 2, true, nc);
        else
            tg_tile(K, panel, bt + j0, M, c + j0 * ldc, ldc, mr, dc_lanes16(nc), 0, 1, true, nc);
    }
}

// a (M,K) row stride lda -> bt (K,M) row stride ldb, 16 rows of a at a time
static void RK(to_cols)(const float *a, int64_t lda, int64_t M, int64_t K, float *bt,
                        int64_t ldb) {
    for (int64_t r0 = 0; r0 < M; r0 += 16) {
        const int rows = (int)(M - r0 < 16 ? M - r0 : 16);
        dc_gemm_pack_t_avx512(a + r0 * lda, lda, rows, K, bt + r0, ldb, rows);
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
        const __mmask16 mj = dc_lanes16(jn);
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

/* sigmoid and tanh of a row, 16 lanes at a time: exp through scalef (2^n
 * without integer tricks) and 1/d as rcp14 refined by one Newton step (about
 * 1 ulp), not a divide; the forward gates spend most of their time here. */
static inline __m512 rk_exp16(__m512 x) {
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// 1 / d for d in [1, 1e35]
static inline __m512 rk_recip16(__m512 d) {
    const __m512 r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

/* |x| <= 80 keeps e^|x| and 1/(1 + e^|x|) normal floats; both functions are
 * flat to the last bit long before. NaN stays NaN (min/max return their
 * second operand when one is NaN). */
static inline __m512 rk_clamp80(__m512 x) {
    return _mm512_max_ps(_mm512_set1_ps(-80.0f), _mm512_min_ps(_mm512_set1_ps(80.0f), x));
}

static inline __m512 rk_sigmoid16(__m512 x) {
    const __m512 e = rk_exp16(_mm512_sub_ps(_mm512_setzero_ps(), rk_clamp80(x)));
    return rk_recip16(_mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}

/* an odd polynomial near 0 (where 1 - 2/(e^2x + 1) cancels), that form elsewhere */
static inline __m512 rk_tanh16(__m512 x) {
    const __m512 ax = _mm512_abs_ps(x), s = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.70498872745e-3f);
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(2.06390887954e-2f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-5.37397155531e-2f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(1.33314422036e-1f));
    p = _mm512_fmadd_ps(p, s, _mm512_set1_ps(-3.33332819422e-1f));
    const __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(p, s), x, x);
    const __m512 e = rk_exp16(_mm512_min_ps(_mm512_set1_ps(80.0f), _mm512_add_ps(ax, ax)));
    const __m512 two = _mm512_set1_ps(2.0f);
    __m512 big = _mm512_fnmadd_ps(two, rk_recip16(_mm512_add_ps(e, _mm512_set1_ps(1.0f))),
                                  _mm512_set1_ps(1.0f));
    big = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_castps_si512(big),
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
    const __mmask16 near0 = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.625f), _CMP_LT_OQ);
    /* NaN: not near 0, and big came from a NaN e, so NaN */
    return _mm512_mask_blend_ps(near0, big, small);
}

#define RK_OWN_ACT
static void rk_sigmoid_row(float *v, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = dc_lanes16(n - i);
        _mm512_mask_storeu_ps(v + i, m, rk_sigmoid16(_mm512_maskz_loadu_ps(m, v + i)));
    }
}

static void rk_tanh_row(float *v, int64_t n) {
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = dc_lanes16(n - i);
        _mm512_mask_storeu_ps(v + i, m, rk_tanh16(_mm512_maskz_loadu_ps(m, v + i)));
    }
}

/* One real row of the LSTM step with the default activations (tanh,
 * sigmoid) in one pass over its units, 16 at a time: what rnn_body.h's
 * lstm_forward and lstm_backward do in several passes. */
#define RK_OWN_LSTM_ROW
static bool rk_lstm_row_ok(const dc_rnn_step *s) {
    return s->act == DC_RNN_K_TANH && s->ract == DC_RNN_K_SIGMOID;
}

// g (4U) pre-activations -> activations; cp -> cn, aux = tanh(cn), hn = y = o tanh(cn)
static void rk_lstm_forward_row(const dc_rnn_step *s, int64_t b) {
    const int64_t U = s->U;
    float *g = s->g + b * s->gs, *cn = s->cn + b * s->cns, *tc = s->aux + b * s->auxs;
    float *hn = s->hn + b * s->hns, *y = s->y + b * s->ys;
    const float *cp = s->cp + b * s->cps;
    for (int64_t j = 0; j < U; j += 16) {
        const __mmask16 m = dc_lanes16(U - j);
        const __m512 i = rk_sigmoid16(_mm512_maskz_loadu_ps(m, g + j));
        const __m512 f = rk_sigmoid16(_mm512_maskz_loadu_ps(m, g + U + j));
        const __m512 gg = rk_tanh16(_mm512_maskz_loadu_ps(m, g + 2 * U + j));
        const __m512 o = rk_sigmoid16(_mm512_maskz_loadu_ps(m, g + 3 * U + j));
        const __m512 c = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, cp + j), _mm512_mul_ps(i, gg));
        const __m512 t = rk_tanh16(c), h = _mm512_mul_ps(o, t);
        _mm512_mask_storeu_ps(g + j, m, i);
        _mm512_mask_storeu_ps(g + U + j, m, f);
        _mm512_mask_storeu_ps(g + 2 * U + j, m, gg);
        _mm512_mask_storeu_ps(g + 3 * U + j, m, o);
        _mm512_mask_storeu_ps(cn + j, m, c);
        _mm512_mask_storeu_ps(tc + j, m, t);
        _mm512_mask_storeu_ps(hn + j, m, h);
        _mm512_mask_storeu_ps(y + j, m, h);
    }
}

// dh + dy + carry (carry used up), dc -> dg (4U) pre-activation, dc := dc_{t-1}, pass = 0
static void rk_lstm_backward_row(const dc_rnn_step *s, int64_t b) {
    const int64_t U = s->U;
    const float *g = s->g + b * s->gs, *tc = s->aux + b * s->auxs, *cp = s->cp + b * s->cps;
    const float *dh = s->dh + b * U, *dy = s->dy + b * s->dys;
    float *dg = s->dg + b * s->dgs, *dc = s->dc + b * U, *carry = s->carry + b * U;
    float *pass = s->pass + b * U;
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int64_t j = 0; j < U; j += 16) {
        const __mmask16 m = dc_lanes16(U - j);
        const __m512 dH = _mm512_add_ps(
            _mm512_add_ps(_mm512_maskz_loadu_ps(m, dh + j), _mm512_maskz_loadu_ps(m, dy + j)),
            _mm512_maskz_loadu_ps(m, carry + j));
        const __m512 i = _mm512_maskz_loadu_ps(m, g + j), f = _mm512_maskz_loadu_ps(m, g + U + j);
        const __m512 gg = _mm512_maskz_loadu_ps(m, g + 2 * U + j);
        const __m512 o = _mm512_maskz_loadu_ps(m, g + 3 * U + j);
        const __m512 t = _mm512_maskz_loadu_ps(m, tc + j);
        /* sigmoid' = y (1 - y), tanh' = 1 - y^2, from the outputs kept */
        const __m512 dout = _mm512_mul_ps(_mm512_mul_ps(dH, t), _mm512_mul_ps(o, _mm512_sub_ps(one, o)));
        const __m512 dct = _mm512_fmadd_ps(_mm512_mul_ps(dH, o), _mm512_fnmadd_ps(t, t, one),
                                           _mm512_maskz_loadu_ps(m, dc + j));
        const __m512 di = _mm512_mul_ps(_mm512_mul_ps(dct, gg), _mm512_mul_ps(i, _mm512_sub_ps(one, i)));
        const __m512 df = _mm512_mul_ps(_mm512_mul_ps(dct, _mm512_maskz_loadu_ps(m, cp + j)),
                                        _mm512_mul_ps(f, _mm512_sub_ps(one, f)));
        const __m512 dgg = _mm512_mul_ps(_mm512_mul_ps(dct, i), _mm512_fnmadd_ps(gg, gg, one));
        _mm512_mask_storeu_ps(dg + j, m, di);
        _mm512_mask_storeu_ps(dg + U + j, m, df);
        _mm512_mask_storeu_ps(dg + 2 * U + j, m, dgg);
        _mm512_mask_storeu_ps(dg + 3 * U + j, m, dout);
        _mm512_mask_storeu_ps(dc + j, m, _mm512_mul_ps(dct, f));
        _mm512_mask_storeu_ps(carry + j, m, zero);
        _mm512_mask_storeu_ps(pass + j, m, zero);
    }
}

/* dc_rnn_tstep: the same arithmetic as rk_lstm_forward_row and
 * rk_lstm_backward_row (so the same bits), 16 batch columns of a unit at a time. */
#define RK_OWN_TSTEP
static void RK(lstm_forward_t)(const dc_rnn_tstep *s) {
    const int64_t U = s->U, nb = s->nb, gs = s->gs;
    for (int64_t u = 0; u < U; u++) {
        float *g = s->g + u * gs, *cn = s->cn + u * s->cns, *tc = s->tc + u * s->tcs;
        float *h = s->h + u * s->hs;
        const float *cp = s->cp + u * s->cps;
        for (int64_t j = 0; j < nb; j += 16) {
            const __mmask16 m = dc_lanes16(nb - j);
            const __m512 i = rk_sigmoid16(_mm512_maskz_loadu_ps(m, g + j));
            const __m512 f = rk_sigmoid16(_mm512_maskz_loadu_ps(m, g + U * gs + j));
            const __m512 gg = rk_tanh16(_mm512_maskz_loadu_ps(m, g + 2 * U * gs + j));
            const __m512 o = rk_sigmoid16(_mm512_maskz_loadu_ps(m, g + 3 * U * gs + j));
            const __m512 c = _mm512_fmadd_ps(f, _mm512_maskz_loadu_ps(m, cp + j), _mm512_mul_ps(i, gg));
            const __m512 t = rk_tanh16(c);
            _mm512_mask_storeu_ps(g + j, m, i);
            _mm512_mask_storeu_ps(g + U * gs + j, m, f);
            _mm512_mask_storeu_ps(g + 2 * U * gs + j, m, gg);
            _mm512_mask_storeu_ps(g + 3 * U * gs + j, m, o);
            _mm512_mask_storeu_ps(cn + j, m, c);
            _mm512_mask_storeu_ps(tc + j, m, t);
            _mm512_mask_storeu_ps(h + j, m, _mm512_mul_ps(o, t));
        }
    }
}

static void RK(lstm_backward_t)(const dc_rnn_tstep *s) {
    const int64_t U = s->U, nb = s->nb, gs = s->gs, dgs = s->dgs;
    const __m512 one = _mm512_set1_ps(1.0f);
    for (int64_t u = 0; u < U; u++) {
        const float *g = s->g + u * gs, *tc = s->tc + u * s->tcs, *cp = s->cp + u * s->cps;
        const float *dh = s->dh + u * s->dhs, *dy = s->dy + u * s->dys;
        float *dg = s->dg + u * dgs, *dc = s->dc + u * s->dcs;
        for (int64_t j = 0; j < nb; j += 16) {
            const __mmask16 m = dc_lanes16(nb - j);
            const __m512 dH = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dh + j),
                                            _mm512_maskz_loadu_ps(m, dy + j));
            const __m512 i = _mm512_maskz_loadu_ps(m, g + j);
            const __m512 f = _mm512_maskz_loadu_ps(m, g + U * gs + j);
            const __m512 gg = _mm512_maskz_loadu_ps(m, g + 2 * U * gs + j);
            const __m512 o = _mm512_maskz_loadu_ps(m, g + 3 * U * gs + j);
            const __m512 t = _mm512_maskz_loadu_ps(m, tc + j);
            const __m512 dout = _mm512_mul_ps(_mm512_mul_ps(dH, t), _mm512_mul_ps(o, _mm512_sub_ps(one, o)));
            const __m512 dct = _mm512_fmadd_ps(_mm512_mul_ps(dH, o), _mm512_fnmadd_ps(t, t, one),
                                               _mm512_maskz_loadu_ps(m, dc + j));
            const __m512 di = _mm512_mul_ps(_mm512_mul_ps(dct, gg), _mm512_mul_ps(i, _mm512_sub_ps(one, i)));
            const __m512 df = _mm512_mul_ps(_mm512_mul_ps(dct, _mm512_maskz_loadu_ps(m, cp + j)),
                                            _mm512_mul_ps(f, _mm512_sub_ps(one, f)));
            const __m512 dgg = _mm512_mul_ps(_mm512_mul_ps(dct, i), _mm512_fnmadd_ps(gg, gg, one));
            _mm512_mask_storeu_ps(dg + j, m, di);
            _mm512_mask_storeu_ps(dg + U * dgs + j, m, df);
            _mm512_mask_storeu_ps(dg + 2 * U * dgs + j, m, dgg);
            _mm512_mask_storeu_ps(dg + 3 * U * dgs + j, m, dout);
            _mm512_mask_storeu_ps(dc + j, m, _mm512_mul_ps(dct, f));
        }
    }
}

/* The joined weight gradient (rnn.h): per block of K rows, a packed into
 * 14-row micro-panels (kept in L2) and b's columns into 32-column panels, each
 * (KC,32) panel of b (in L1) swept by every micro-panel of a through the GEMM
 * microkernel, which adds into the 14x32 tile of c in place. Long K is the
 * point: c is read and written once per block, not per step. */
/* Rows k0..k0+kc-1 of b kept by steps of bsteps rows, transposed (rnn.h),
 * columns j0..j0+ncols-1 -> 32-column panels (kc,32), one after another: each
 * step's part of each 16 columns by the transposing pack. */
static void wg_pack_steps(const float *b, int64_t ldb, int64_t bsteps, int64_t k0, int64_t kc,
                          int64_t j0, int64_t ncols, float *wb) {
    const int64_t wide = (ncols + 31) / 32 * 32; /* the last panel's columns past ncols: zero */
    for (int64_t k = k0; k < k0 + kc;) {
        const int64_t t = k / bsteps, r = k % bsteps;
        const int64_t n = bsteps - r < k0 + kc - k ? bsteps - r : k0 + kc - k;
        const float *bs = b + t * ldb * bsteps + r;
        for (int64_t q = 0; q < wide; q += 16) {
            const int cols = (int)(ncols - q < 16 ? (ncols - q > 0 ? ncols - q : 0) : 16);
            dc_gemm_pack_t_avx512(cols ? bs + (j0 + q) * bsteps : bs, bsteps, cols, n,
                                  wb + (q / 32) * 32 * kc + (k - k0) * 32 + q % 32, 32, 16);
        }
        k += n;
    }
}

// a (K,M), b (K,N) -> c (M, [j0,j1)), or += when add
static void RK(wgrad)(int64_t M, int64_t K, const float *a, int64_t lda, const float *b,
                      int64_t ldb, int64_t bsteps, float *c, int64_t ldc, int64_t j0, int64_t j1,
                      bool add, float *ws) {
    enum { KC = DC_RNN_WG_KC, MR = 14, NR = 32 };
    const int64_t ncols = j1 - j0;
    float *wb = ws, *wa = ws + KC * ((ncols + NR - 1) / NR * NR);
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
        const int64_t kc = K - k0 < KC ? K - k0 : KC;
        dc_gemm_pack_panels_avx512(a + k0 * lda, lda, M, kc, wa, MR);
        if (bsteps) wg_pack_steps(b, ldb, bsteps, k0, kc, j0, ncols, wb);
        else dc_gemm_pack_panels_avx512(b + k0 * ldb + j0, ldb, ncols, kc, wb, NR);
        const dc_gemm_tile_epi e = {1.0f, k0 || add ? 1.0f : 0.0f, NULL, false};
        for (int64_t q = 0; q < ncols; q += NR) {
            const int nr = (int)(ncols - q < NR ? ncols - q : NR);
            for (int64_t i0 = 0; i0 < M; i0 += MR)
                dc_gemm_ukernel_avx512(kc, wa + i0 * kc, 0, wb + q * kc, 0, c + i0 * ldc + j0 + q,
                                       ldc, (int)(M - i0 < MR ? M - i0 : MR), nr, &e);
        }
    }
}
#define RK_OWN_WGRAD

extern const dc_rnn_kernels RK(kernels);
#include "rnn_body.h"
#else
typedef int dc_rnn_avx512_unused;
#endif
