/* op_segment.c — the losses segmentation trains with, over rows of classes
 * (a pixel is a row): class-weighted sparse softmax cross-entropy and a soft Dice loss. */
#include "op.h"
#include "../kernels/softmax_xent.h"
#include <math.h>
#include <string.h>

#define PAR_MIN 32768

/* labels (N,) of whole numbers in [0, C); fn names the public function. */
static dc_status check_rows(const char *fn, const dc_tensor *z, const dc_tensor *l) {
    char sz[128], sl[128];
    if (z->ndim != 2 || z->shape[1] < 1)
        return dc_set_error(DC_ERR_SHAPE, "%s: scores %s must be (N,C) with C > 0", fn,
                            dc_shape_string(z->ndim, z->shape, sz, sizeof sz));
    if (l->ndim != 1 || l->shape[0] != z->shape[0])
        return dc_set_error(DC_ERR_SHAPE, "%s: scores %s and labels %s: labels must be (%lld)",
                            fn, dc_shape_string(z->ndim, z->shape, sz, sizeof sz),
                            dc_shape_string(l->ndim, l->shape, sl, sizeof sl),
                            (long long)z->shape[0]);
    return DC_OK;
}

static dc_status check_labels(const char *fn, const dc_tensor *l, int64_t C) {
    for (int64_t i = 0; i < l->size; i++) {
        float v = l->data[i];
        if (!(v >= 0 && v < (float)C) || v != floorf(v))
            return dc_set_error(DC_ERR_ARG, "%s: label %g at row %lld is not a class index in [0, %lld)",
                                fn, (double)v, (long long)i, (long long)C);
    }
    return DC_OK;
}

/* ---- class-weighted sparse softmax cross-entropy ----
 * sum_i w[y_i] (lse_i - z_i,y_i) / sum_i w[y_i], PyTorch's CrossEntropyLoss(weight=w)
 * with reduction='mean'. No rows of weight: 0. */

// logits (N,C), labels (N,), weights (C,) -> ()
dc_status dc_shape_weighted_sparse_softmax_cross_entropy(const dc_node *n, int *ndim,
                                                         int64_t *shape) {
    (void)shape;
    const char *fn = "dc_weighted_sparse_softmax_cross_entropy";
    if (check_rows(fn, n->in[0], n->in[1]) != DC_OK) return DC_ERR_SHAPE;
    const dc_tensor *w = n->in[2];
    if (w->ndim != 1 || w->shape[0] != n->in[0]->shape[1]) {
        char s[128];
        return dc_set_error(DC_ERR_SHAPE, "%s: weights %s must be (%lld), one per class", fn,
                            dc_shape_string(w->ndim, w->shape, s, sizeof s),
                            (long long)n->in[0]->shape[1]);
    }
    *ndim = 0;
    return DC_OK;
}

/* saved: p (N,C), then the weight sum as a float (then the log-sum-exps) */
dc_status dc_weighted_sparse_softmax_cross_entropy_forward(dc_node *n) {
    const char *fn = "dc_weighted_sparse_softmax_cross_entropy";
    const float *z = n->in[0]->data, *lab = n->in[1]->data, *w = n->in[2]->data;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    if (check_labels(fn, n->in[1], C) != DC_OK) return DC_ERR_ARG;
    for (int64_t c = 0; c < C; c++)
        if (!(w[c] >= 0 && isfinite(w[c])))
            return dc_set_error(DC_ERR_ARG, "%s: weight %g of class %lld must be finite and >= 0",
                                fn, (double)w[c], (long long)c);
    /* p (N*C), the weight sum (1), then the log-sum-exps (N) */
    float *p = dc_node_alloc(n, (size_t)(N * C + 1 + N) * sizeof(float)), *lse = p + N * C + 1;
    double *row = dc_node_alloc(n, (size_t)DC_MAX(N, 1) * sizeof(double));
    if (!p || !row) return DC_ERR_NOMEM;
    n->saved = p;
    dc_softmax_rows(z, p, lse, N, C);
    for (int64_t i = 0; i < N; i++)
        row[i] = (double)w[(int64_t)lab[i]] * ((double)lse[i] - z[i * C + (int64_t)lab[i]]);
    double s = 0, ws = 0; /* in row order: the same bits for any thread count */
    for (int64_t i = 0; i < N; i++) s += row[i], ws += w[(int64_t)lab[i]];
    p[N * C] = (float)ws;
    n->out->data[0] = ws > 0 ? (float)(s / ws) : 0.0f;
    return DC_OK;
}

/* d/dz_i = w[y_i] (p_i - onehot(y_i)) / W; labels and weights get no gradient. */
void dc_weighted_sparse_softmax_cross_entropy_backward(dc_node *n) {
    float *gz = n->in[0]->grad;
    if (!gz) return;
    const float *p = n->saved, *lab = n->in[1]->data, *w = n->in[2]->data;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    float ws = p[N * C];
    if (!(ws > 0)) return;
    float k = n->out->grad[0] / ws;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN)
    for (int64_t i = 0; i < N; i++) {
        float *g = gz + i * C, kw = k * w[(int64_t)lab[i]];
        const float *pi = p + i * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) g[c] += kw * pi[c];
        g[(int64_t)lab[i]] -= kw;
    }
}

dc_tensor *dc_weighted_sparse_softmax_cross_entropy(dc_tape *t, dc_tensor *logits,
                                                    dc_tensor *labels, dc_tensor *weights) {
    dc_tensor *in[3] = {logits, labels, weights};
    return dc_op_apply(t, DC_OP_WEIGHTED_SPARSE_SOFTMAX_CROSS_ENTROPY, 3, in, NULL);
}

/* ---- soft Dice loss ----
 * attrs: i[0] the scores are probabilities (else logits, softmaxed here),
 * f[0] the smoothing s. Per class c over all rows: I_c = sum p_ic [y_i = c],
 * S_c = sum p_ic + count(y_i = c), dice_c = (2 I_c + s) / (S_c + s);
 * loss = 1 - mean_c dice_c. A class absent from the batch and not predicted
 * scores about 1, so it neither helps nor hurts. */

// scores (N,C), labels (N,) -> ()
dc_status dc_shape_dice(const dc_node *n, int *ndim, int64_t *shape) {
    (void)shape;
    const char *fn = "dc_dice_loss";
    if (check_rows(fn, n->in[0], n->in[1]) != DC_OK) return DC_ERR_SHAPE;
    if (!(n->a.f[0] > 0 && isfinite(n->a.f[0])))
        return dc_set_error(DC_ERR_ARG, "%s: smoothing %g must be > 0", fn, (double)n->a.f[0]);
    *ndim = 0;
    return DC_OK;
}

typedef struct {
    const float *p;   /* (N,C) probabilities: the input's, or softmaxed into the arena */
    double *inter;    /* (C,) I_c */
    double *denom;    /* (C,) S_c + s */
    float *coef;      /* (2C,) backward's per-class factors, room taken at forward */
} dice_saved;

dc_status dc_dice_forward(dc_node *n) {
    const char *fn = "dc_dice_loss";
    const float *z = n->in[0]->data, *lab = n->in[1]->data;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    if (check_labels(fn, n->in[1], C) != DC_OK) return DC_ERR_ARG;
    dice_saved *sv = dc_node_alloc(n, sizeof *sv);
    double *sums = dc_node_alloc(n, (size_t)(2 * C) * sizeof(double));
    float *coef = dc_node_alloc(n, (size_t)(2 * C) * sizeof(float));
    if (!sv || !sums || !coef) return DC_ERR_NOMEM;
    sv->coef = coef;
    sv->p = z;
    if (!n->a.i[0]) {
        float *p = dc_node_alloc(n, (size_t)(N * C + N) * sizeof(float));
        if (!p) return DC_ERR_NOMEM;
        dc_softmax_rows(z, p, p + N * C, N, C);
        sv->p = p;
    }
    sv->inter = sums;
    sv->denom = sums + C;
    memset(sums, 0, (size_t)(2 * C) * sizeof(double));
    for (int64_t i = 0; i < N; i++) { /* row order: the same bits for any thread count */
        const float *pi = sv->p + i * C;
        int64_t y = (int64_t)lab[i];
        for (int64_t c = 0; c < C; c++) sv->denom[c] += pi[c];
        sv->inter[y] += pi[y];
        sv->denom[y] += 1.0;
    }
    double s = n->a.f[0], mean = 0;
    for (int64_t c = 0; c < C; c++) {
        sv->denom[c] += s;
        mean += (2 * sv->inter[c] + s) / sv->denom[c];
    }
    n->saved = sv;
    n->out->data[0] = (float)(1.0 - mean / (double)C);
    return DC_OK;
}

/* dL/dp_ic = (dice_c - 2 [y_i = c]) / (C (S_c + s)); through the softmax for
 * logits: dz_ij = p_ij (g_ij - sum_k p_ik g_ik). */
void dc_dice_backward(dc_node *n) {
    float *gz = n->in[0]->grad;
    if (!gz) return;
    const dice_saved *sv = n->saved;
    const float *lab = n->in[1]->data;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    double s = n->a.f[0], k = n->out->grad[0] / (double)C;
    float *a = sv->coef, *b = sv->coef + C;
    for (int64_t c = 0; c < C; c++) {
        double dice = (2 * sv->inter[c] + s) / sv->denom[c];
        a[c] = (float)(k * dice / sv->denom[c]);
        b[c] = (float)(-2 * k / sv->denom[c]);
    }
    const bool probs = n->a.i[0];
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *pi = sv->p + i * C;
        float *g = gz + i * C;
        int64_t y = (int64_t)lab[i];
        if (probs) {
            for (int64_t c = 0; c < C; c++) g[c] += a[c];
            g[y] += b[y];
            continue;
        }
        float dot = 0;
        for (int64_t c = 0; c < C; c++) dot += pi[c] * a[c];
        dot += pi[y] * b[y];
        for (int64_t c = 0; c < C; c++) g[c] += pi[c] * (a[c] + (c == y ? b[y] : 0) - dot);
    }
}

dc_tensor *dc_dice_loss(dc_tape *t, dc_tensor *scores, dc_tensor *labels, bool from_probabilities,
                        float smooth) {
    dc_tensor *in[2] = {scores, labels};
    dc_op_attrs at = {.i = {from_probabilities}, .f = {smooth}};
    return dc_op_apply(t, DC_OP_DICE_LOSS, 2, in, &at);
}
