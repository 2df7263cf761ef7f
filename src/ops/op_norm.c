/* op_norm.c — batch normalization over every axis but the last (NHWC channels), with
 * Keras' moving-statistics rule. Per-channel sums are taken in float over blocks of
 * rows, then in double over a fixed number of row chunks, so results do not depend
 * on the thread count. */
#include "op.h"
#include "kernels/bn.h"
#include <math.h>
#include <string.h>

/* Attributes: i[0] training, f[0] momentum, f[1] epsilon (defaults already applied). */
enum { A_TRAIN = 0 };
enum { A_MOMENTUM = 0, A_EPS = 1 };

/* Rows are split into this many chunks whatever the thread count. */
#define BN_CHUNKS 16

typedef struct {
    float *mean, *invstd; /* (C): the statistics the output was normalized with */
    double *part;         /* (2, BN_CHUNKS, C) partial sums, then two sums (C) */
} bn_saved;

static const char *const bn_names[5] = {"x", "gamma", "beta", "moving_mean", "moving_var"};

/* x (..., C), gamma/beta/moving_mean/moving_var (C) -> (..., C) */
dc_status dc_batch_norm_shape(const dc_node *n, int *ndim, int64_t *shape) {
    const char *fn = "dc_batch_norm";
    const dc_tensor *x = n->in[0];
    char sx[128], sp[128];
    if (x->ndim < 2)
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s must have at least 2 dims (..., C)", fn,
                            dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    const int64_t C = x->shape[x->ndim - 1];
    for (int i = 1; i < 5; i++) {
        const dc_tensor *p = n->in[i];
        if (p->ndim != 1 || p->shape[0] != C)
            return dc_set_error(DC_ERR_SHAPE, "%s: %s %s does not match the %lld channels of x %s",
                                fn, bn_names[i], dc_shape_string(p->ndim, p->shape, sp, sizeof sp),
                                (long long)C, dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    }
    const float m = n->a.f[A_MOMENTUM], eps = n->a.f[A_EPS];
    if (!(m >= 0 && m <= 1))
        return dc_set_error(DC_ERR_ARG, "%s: momentum %g must be in [0, 1]", fn, (double)m);
    if (!(eps > 0 && isfinite(eps)))
        return dc_set_error(DC_ERR_ARG, "%s: epsilon %g must be positive", fn, (double)eps);
    if (n->a.i[A_TRAIN] && x->size == 0)
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s has no rows to take batch statistics from",
                            fn, dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    *ndim = x->ndim;
    memcpy(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    return DC_OK;
}

/* Rows [lo, hi) of chunk k of M rows. */
static void chunk_rows(int64_t M, int k, int64_t *lo, int64_t *hi) {
    *lo = M * k / BN_CHUNKS;
    *hi = M * (k + 1) / BN_CHUNKS;
}

/* Rows summed in float, vectorized over channels, before each add into a chunk's
 * double partial sums; channels go in slices of BN_SLICE. A few channels (8, 24)
 * would fill a fraction of a vector, so q rows are read as one run of q*C floats
 * (lane j holds channel j % C) and folded at the end of the block. The blocks
 * start at fixed rows of each chunk, so the bits depend on the shape alone. */
#define BN_BLOCK 32
#define BN_SLICE 256
#define BN_RUN 1024 /* the longest run of q rows */

/* Rows per run for cn channels: the smallest q with q*cn a multiple of 16. */
static int64_t run_rows(int64_t cn) {
    int64_t q = 1;
    while ((q * cn) % 16 && q < 16) q *= 2;
    return q * cn <= BN_RUN ? q : 1;
}

/* sum (C) = the column sums of kind over the rows of x (M,C) (and sum2 (C) the
 * second sums of DC_BN_SUM_DY_XHAT), BN_CHUNKS partial sums per output in part
 * added in a fixed order, so any thread count gives the same bits. xin (M,C),
 * mean and invstd (C) are read where kind needs them. */
static void column_sums(dc_bn_sum kind, const float *x, const float *xin, int64_t M, int64_t C,
                        const float *mean, const float *invstd, double *part, double *sum,
                        double *sum2) {
    const dc_bn_kernels *bk = dc_bn_kernels_get();
    const int outs = kind == DC_BN_SUM_DY_XHAT ? 2 : 1;
#pragma omp parallel for schedule(static) if (M * C > 32768)
    for (int k = 0; k < BN_CHUNKS; k++) {
        double *p = part + (int64_t)k * C, *p2 = p + (int64_t)BN_CHUNKS * C;
        memset(p, 0, (size_t)C * sizeof(double));
        if (outs == 2) memset(p2, 0, (size_t)C * sizeof(double));
        int64_t lo, hi;
        chunk_rows(M, k, &lo, &hi);
        float acc[2][BN_RUN], rest[2][BN_SLICE], m[BN_RUN], is[BN_RUN];
        for (int64_t c0 = 0; c0 < C; c0 += BN_SLICE) {
            const int64_t cn = DC_MIN((int64_t)BN_SLICE, C - c0), q = run_rows(cn);
            for (int64_t j = 0; j < q * cn; j++) {
                m[j] = mean ? mean[c0 + j % cn] : 0;
                is[j] = invstd ? invstd[c0 + j % cn] : 0;
            }
            for (int64_t r0 = lo; r0 < hi; r0 += BN_BLOCK) {
                const int64_t rows = DC_MIN((int64_t)BN_BLOCK, hi - r0), runs = rows / q;
                const float *xb = x + r0 * C + c0, *ib = xin ? xin + r0 * C + c0 : NULL;
                /* runs of q rows read flat when the slice is all of a row */
                const bool flat = q > 1 && cn == C;
                bk->block_sums(kind, xb, ib, flat ? q * C : C, flat ? runs : rows,
                               flat ? q * cn : cn, m, is, acc[0], acc[1]);
                const int64_t done = flat ? runs * q : rows;
                bk->block_sums(kind, xb + done * C, ib ? ib + done * C : NULL, C, rows - done, cn,
                               m, is, rest[0], rest[1]);
                for (int o = 0; o < outs; o++) {
                    double *po = o ? p2 : p;
                    for (int64_t c = 0; c < cn; c++) {
                        float v = acc[o][c];
                        for (int64_t j = 1; flat && j < q; j++) v += acc[o][j * cn + c];
                        po[c0 + c] += (double)v + (double)(rows > done ? rest[o][c] : 0.0f);
                    }
                }
            }
        }
    }
    for (int o = 0; o < outs; o++) {
        double *so = o ? sum2 : sum;
        const double *po = part + (int64_t)o * BN_CHUNKS * C;
        for (int64_t c = 0; c < C; c++) so[c] = 0;
        for (int k = 0; k < BN_CHUNKS; k++)
            for (int64_t c = 0; c < C; c++) so[c] += po[(int64_t)k * C + c];
    }
}

/* Per-channel coefficients laid out for a flat pass over x (M,C): each of the
 * n arrays in src repeated q times in dst (q rows of C in one run, so a few
 * channels still fill whole vectors), or src itself where a run would not fit. */
typedef struct {
    const float *v[5];
    int64_t q;
    float room[5][BN_RUN];
} bn_coefs;

static void coefs_lay_out(bn_coefs *k, int n, const float *const *src, int64_t C) {
    k->q = run_rows(C);
    if (k->q * C > BN_RUN) k->q = 1;
    for (int a = 0; a < n; a++) {
        k->v[a] = src[a];
        if (k->q == 1) continue;
        for (int64_t j = 0; j < k->q * C; j++) k->room[a][j] = src[a][j % C];
        k->v[a] = k->room[a];
    }
}

/* Rows [lo, hi) of chunk k as whole runs of q rows, then the rest row by row. */
static void chunk_runs(int64_t M, int k, int64_t q, int64_t *lo, int64_t *runs, int64_t *rest) {
    int64_t hi;
    chunk_rows(M, k, lo, &hi);
    *runs = (hi - *lo) / q;
    *rest = hi - *lo - *runs * q;
}

dc_status dc_batch_norm_forward(dc_node *n) {
    const dc_tensor *x = n->in[0];
    const float *gamma = n->in[1]->data, *beta = n->in[2]->data;
    float *mm = n->in[3]->data, *mv = n->in[4]->data;
    const int64_t C = x->shape[x->ndim - 1], M = C ? x->size / C : 0;
    const bool training = n->a.i[A_TRAIN] != 0;
    const float momentum = n->a.f[A_MOMENTUM], eps = n->a.f[A_EPS];
    bn_saved *s = dc_node_alloc(n, sizeof *s);
    if (!s) return DC_ERR_NOMEM;
    s->mean = dc_node_alloc(n, (size_t)C * sizeof(float));
    s->invstd = dc_node_alloc(n, (size_t)C * sizeof(float));
    s->part = dc_node_alloc(n, (size_t)(2 * BN_CHUNKS + 2) * (size_t)C * sizeof(double));
    if (!s->mean || !s->invstd || !s->part) return DC_ERR_NOMEM;
    n->saved = s;
    if (training) {
        double *sum = s->part + (int64_t)2 * BN_CHUNKS * C, *sq = sum + C;
        column_sums(DC_BN_SUM_X, x->data, NULL, M, C, NULL, NULL, s->part, sum, NULL);
        for (int64_t c = 0; c < C; c++) s->mean[c] = (float)(sum[c] / (double)M);
        /* Two passes: the variance of data far from zero keeps its digits. */
        column_sums(DC_BN_SUM_SQ_DEV, x->data, NULL, M, C, s->mean, NULL, s->part, sq, NULL);
        for (int64_t c = 0; c < C; c++) {
            double var = sq[c] / (double)M; /* biased, as Keras */
            s->invstd[c] = (float)(1.0 / sqrt(var + (double)eps));
            mm[c] = mm[c] * momentum + s->mean[c] * (1.0f - momentum);
            mv[c] = mv[c] * momentum + (float)var * (1.0f - momentum);
        }
    } else {
        for (int64_t c = 0; c < C; c++) {
            s->mean[c] = mm[c];
            s->invstd[c] = (float)(1.0 / sqrt((double)mv[c] + (double)eps));
        }
    }
    const float *const src[4] = {s->mean, s->invstd, gamma, beta};
    bn_coefs k;
    coefs_lay_out(&k, 4, src, C);
    const dc_bn_kernels *bk = dc_bn_kernels_get();
    float *y = n->out->data;
#pragma omp parallel for schedule(static) if (x->size > 65536)
    for (int c = 0; c < BN_CHUNKS; c++) {
        int64_t lo, runs, rest;
        chunk_runs(M, c, k.q, &lo, &runs, &rest);
        const float *xr = x->data + lo * C;
        float *yr = y + lo * C;
        bk->normalize(xr, yr, runs, k.q * C, k.v[0], k.v[1], k.v[2], k.v[3]);
        bk->normalize(xr + runs * k.q * C, yr + runs * k.q * C, rest, C, k.v[0], k.v[1], k.v[2],
                      k.v[3]);
    }
    return DC_OK;
}

void dc_batch_norm_backward(dc_node *n) {
    dc_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2];
    const bn_saved *s = n->saved;
    const int64_t C = x->shape[x->ndim - 1], M = C ? x->size / C : 0;
    const bool training = n->a.i[A_TRAIN] != 0;
    const float *dy = n->out->grad, *mean = s->mean, *invstd = s->invstd;
    double *part = s->part, *sum_dy = part + (int64_t)2 * BN_CHUNKS * C, *sum_dyx = sum_dy + C;
    /* The sums feed beta's and gamma's gradients and, in training, x's; with
     * frozen parameters in inference (fine-tuning) no pass over dy is needed. */
    const bool dx_sums = training && x->grad;
    // sum_dy (C) = sum of dy; sum_dyx (C) = sum of dy * xhat over rows, in one pass
    if (gamma->grad || dx_sums)
        column_sums(DC_BN_SUM_DY_XHAT, dy, x->data, M, C, mean, invstd, part, sum_dy, sum_dyx);
    else if (beta->grad)
        column_sums(DC_BN_SUM_X, dy, NULL, M, C, NULL, NULL, part, sum_dy, NULL);
    if (beta->grad)
        for (int64_t c = 0; c < C; c++) beta->grad[c] += (float)sum_dy[c];
    if (gamma->grad)
        for (int64_t c = 0; c < C; c++) gamma->grad[c] += (float)sum_dyx[c];
    if (!x->grad) return;
    const float *g = gamma->data;
    float *dx = x->grad;
    if (!training) {
#pragma omp parallel for schedule(static) if (x->size > 65536)
        for (int64_t r = 0; r < M; r++)
            for (int64_t c = 0; c < C; c++) dx[r * C + c] += dy[r * C + c] * g[c] * invstd[c];
        return;
    }
    /* dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)): the batch
     * statistics depend on x too. The means are reused as float per channel. */
    float *mdy = (float *)(void *)part, *mdyx = mdy + C, *gi = mdyx + C; /* part is free again */
    for (int64_t c = 0; c < C; c++) {
        mdy[c] = (float)(sum_dy[c] / (double)M);
        mdyx[c] = (float)(sum_dyx[c] / (double)M);
        gi[c] = g[c] * invstd[c];
    }
    const float *const src[5] = {mean, invstd, gi, mdy, mdyx};
    bn_coefs k;
    coefs_lay_out(&k, 5, src, C);
    const dc_bn_kernels *bk = dc_bn_kernels_get();
#pragma omp parallel for schedule(static) if (x->size > 65536)
    for (int c = 0; c < BN_CHUNKS; c++) {
        int64_t lo, runs, rest;
        chunk_runs(M, c, k.q, &lo, &runs, &rest);
        const int64_t o = lo * C, o2 = o + runs * k.q * C;
        bk->input_grad(x->data + o, dy + o, dx + o, runs, k.q * C, k.v[0], k.v[1], k.v[2],
                       k.v[3], k.v[4]);
        bk->input_grad(x->data + o2, dy + o2, dx + o2, rest, C, k.v[0], k.v[1], k.v[2], k.v[3],
                       k.v[4]);
    }
}

dc_tensor *dc_batch_norm(dc_tape *t, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta,
                         dc_tensor *moving_mean, dc_tensor *moving_var, bool training,
                         float momentum, float epsilon) {
    dc_op_attrs a;
    memset(&a, 0, sizeof a);
    a.i[A_TRAIN] = training;
    a.f[A_MOMENTUM] = momentum == 0 ? 0.99f : momentum;
    a.f[A_EPS] = epsilon == 0 ? 1e-3f : epsilon;
    dc_tensor *in[5] = {x, gamma, beta, moving_mean, moving_var};
    return dc_op_apply(t, DC_OP_BATCH_NORM, 5, in, &a);
}
