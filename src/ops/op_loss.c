/* op_loss.c — losses (each the mean over the batch, as a () tensor) and inverted
 * dropout: shape, forward and backward side by side. The softmax cross-entropies
 * are fused: a stable log-softmax inside, probabilities kept for backward. */
#include "op.h"
#include "../kernels/reduce.h"
#include "../kernels/softmax_xent.h"
#include <math.h>
#include <string.h>

#define PAR_MIN 32768

/* Adds per-row values in row order: the same bits for any thread count. */
static double sum_rows(const double *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    return s;
}

static dc_status same_shape(const char *fn, const char *na, const dc_tensor *a, const char *nb,
                            const dc_tensor *b) {
    if (dc_tensor_same_shape(a, b)) return DC_OK;
    char sa[128], sb[128];
    return dc_set_error(DC_ERR_SHAPE, "%s: %s %s and %s %s must have the same shape", fn, na,
                        dc_shape_string(a->ndim, a->shape, sa, sizeof sa), nb,
                        dc_shape_string(b->ndim, b->shape, sb, sizeof sb));
}

/* ---- mean squared error ---- */

// pred (any), target (same) -> ()
dc_status dc_shape_mse(const dc_node *n, int *ndim, int64_t *shape) {
    (void)shape;
    *ndim = 0;
    return same_shape("dc_mse", "pred", n->in[0], "target", n->in[1]);
}

#define MSE_CHUNK 65536

dc_status dc_mse_forward(dc_node *n) {
    const dc_reduce_kernels *k = dc_reduce_kernels_get();
    const float *p = n->in[0]->data, *q = n->in[1]->data;
    int64_t size = n->in[0]->size, nchunk = (size + MSE_CHUNK - 1) / MSE_CHUNK;
    double *part = dc_node_alloc(n, (size_t)DC_MAX(nchunk, 1) * sizeof(double));
    if (!part) return DC_ERR_NOMEM;
#pragma omp parallel for schedule(static) if (nchunk > 1)
    for (int64_t c = 0; c < nchunk; c++) {
        int64_t i0 = c * MSE_CHUNK;
        part[c] = k->sq_diff_sum(p + i0, q + i0, DC_MIN(MSE_CHUNK, size - i0));
    }
    n->out->data[0] = (float)(sum_rows(part, nchunk) / (double)size);
    return DC_OK;
}

#define ADD_CHUNK 16384

void dc_mse_backward(dc_node *n) {
    const dc_reduce_kernels *k = dc_reduce_kernels_get();
    const float *p = n->in[0]->data, *q = n->in[1]->data;
    float *gp = n->in[0]->grad, *gq = n->in[1]->grad;
    int64_t size = n->in[0]->size, nchunk = (size + ADD_CHUNK - 1) / ADD_CHUNK;
    float s = 2.0f * n->out->grad[0] / (float)size;
#pragma omp parallel for schedule(static) if (size > PAR_MIN)
    for (int64_t c = 0; c < nchunk; c++) {
        int64_t i0 = c * ADD_CHUNK, m = DC_MIN(ADD_CHUNK, size - i0);
        if (gp) k->diff_axpy(gp + i0, p + i0, q + i0, m, s);
        if (gq) k->diff_axpy(gq + i0, p + i0, q + i0, m, -s);
    }
}

dc_tensor *dc_mse(dc_tape *t, dc_tensor *pred, dc_tensor *target) {
    dc_tensor *in[2] = {pred, target};
    return dc_op_apply(t, DC_OP_MSE, 2, in, NULL);
}

/* ---- softmax cross-entropy with one-hot (or soft) targets ---- */

static dc_status check_logits(const char *fn, const dc_tensor *z) {
    if (z->ndim == 2 && z->shape[1] > 0) return DC_OK;
    char s[128];
    return dc_set_error(DC_ERR_SHAPE, "%s: logits %s must be (N,C) with C > 0", fn,
                        dc_shape_string(z->ndim, z->shape, s, sizeof s));
}

// logits (N,C), onehot (N,C) -> ()
dc_status dc_shape_softmax_cross_entropy(const dc_node *n, int *ndim, int64_t *shape) {
    (void)shape;
    const char *fn = "dc_softmax_cross_entropy";
    if (check_logits(fn, n->in[0]) != DC_OK) return DC_ERR_SHAPE;
    *ndim = 0;
    return same_shape(fn, "logits", n->in[0], "onehot", n->in[1]);
}

/* saved: p (N,C) then lse (N) */
dc_status dc_softmax_cross_entropy_forward(dc_node *n) {
    const float *z = n->in[0]->data, *y = n->in[1]->data;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    float *p = dc_node_alloc(n, (size_t)(N * C + N) * sizeof(float));
    double *row = dc_node_alloc(n, (size_t)DC_MAX(N, 1) * sizeof(double));
    if (!p || !row) return DC_ERR_NOMEM;
    n->saved = p;
    float *lse = p + N * C;
    dc_softmax_row_fn softmax_row = dc_softmax_row_kernel();
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *zi = z + i * C, *yi = y + i * C;
        lse[i] = softmax_row(zi, p + i * C, C);
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            if (yi[c] != 0) s -= (double)yi[c] * (zi[c] - lse[i]);
        row[i] = s;
    }
    n->out->data[0] = N ? (float)(sum_rows(row, N) / (double)N) : 0.0f;
    return DC_OK;
}

/* d/dz = (p * sum(y) - y) / N, which is (p - y) / N for one-hot rows;
 * d/dy = -log_softmax(z) / N. */
void dc_softmax_cross_entropy_backward(dc_node *n) {
    const float *z = n->in[0]->data, *y = n->in[1]->data, *p = n->saved;
    float *gz = n->in[0]->grad, *gy = n->in[1]->grad;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    const float *lse = p + N * C;
    float k = n->out->grad[0] / (float)N;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN)
    for (int64_t i = 0; i < N; i++) {
        const float *pi = p + i * C, *yi = y + i * C, *zi = z + i * C;
        if (gz) {
            float ys = 0;
            for (int64_t c = 0; c < C; c++) ys += yi[c];
            float *g = gz + i * C;
#pragma omp simd
            for (int64_t c = 0; c < C; c++) g[c] += k * (pi[c] * ys - yi[c]);
        }
        if (gy) {
            float *g = gy + i * C;
            float l = lse[i];
#pragma omp simd
            for (int64_t c = 0; c < C; c++) g[c] -= k * (zi[c] - l);
        }
    }
}

dc_tensor *dc_softmax_cross_entropy(dc_tape *t, dc_tensor *logits, dc_tensor *onehot) {
    dc_tensor *in[2] = {logits, onehot};
    return dc_op_apply(t, DC_OP_SOFTMAX_CROSS_ENTROPY, 2, in, NULL);
}

/* ---- sparse softmax cross-entropy (integer labels) ---- */

// logits (N,C), labels (N,) -> ()
dc_status dc_shape_sparse_softmax_cross_entropy(const dc_node *n, int *ndim, int64_t *shape) {
    (void)shape;
    const char *fn = "dc_sparse_softmax_cross_entropy";
    const dc_tensor *z = n->in[0], *l = n->in[1];
    if (check_logits(fn, z) != DC_OK) return DC_ERR_SHAPE;
    /* (N,1) is accepted too: Keras' sparse labels often come shaped so */
    bool ok = (l->ndim == 1 || (l->ndim == 2 && l->shape[1] == 1)) && l->shape[0] == z->shape[0];
    if (!ok) {
        char sz[128], sl[128];
        return dc_set_error(DC_ERR_SHAPE,
                            "%s: logits %s and labels %s: labels must be (%lld) or (%lld,1)", fn,
                            dc_shape_string(z->ndim, z->shape, sz, sizeof sz),
                            dc_shape_string(l->ndim, l->shape, sl, sizeof sl),
                            (long long)z->shape[0], (long long)z->shape[0]);
    }
    *ndim = 0;
    return DC_OK;
}

/* A label as an index in [0, depth), or -1 if it is not a whole number there. */
static int64_t label_index(float v, int64_t depth) {
    if (!(v >= 0 && v < (float)depth) || v != floorf(v)) return -1;
    return (int64_t)v;
}

/* saved: p (N,C) */
dc_status dc_sparse_softmax_cross_entropy_forward(dc_node *n) {
    const float *z = n->in[0]->data, *lab = n->in[1]->data;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    for (int64_t i = 0; i < N; i++)
        if (label_index(lab[i], C) < 0)
            return dc_set_error(DC_ERR_ARG,
                                "dc_sparse_softmax_cross_entropy: label %g at row %lld is not a "
                                "class index in [0, %lld)",
                                (double)lab[i], (long long)i, (long long)C);
    float *p = dc_node_alloc(n, (size_t)(N * C + N) * sizeof(float)), *lse = p + N * C;
    double *row = dc_node_alloc(n, (size_t)DC_MAX(N, 1) * sizeof(double));
    if (!p || !row) return DC_ERR_NOMEM;
    n->saved = p;
    dc_softmax_rows(z, p, lse, N, C);
    for (int64_t i = 0; i < N; i++) row[i] = (double)lse[i] - z[i * C + (int64_t)lab[i]];
    n->out->data[0] = N ? (float)(sum_rows(row, N) / (double)N) : 0.0f;
    return DC_OK;
}

/* d/dz = (p - onehot(label)) / N; labels get no gradient. */
void dc_sparse_softmax_cross_entropy_backward(dc_node *n) {
    float *gz = n->in[0]->grad;
    if (!gz) return;
    const float *p = n->saved, *lab = n->in[1]->data;
    int64_t N = n->in[0]->shape[0], C = n->in[0]->shape[1];
    float k = n->out->grad[0] / (float)N;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN)
    for (int64_t i = 0; i < N; i++) {
        float *g = gz + i * C;
        const float *pi = p + i * C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++) g[c] += k * pi[c];
        g[(int64_t)lab[i]] -= k;
    }
}

dc_tensor *dc_sparse_softmax_cross_entropy(dc_tape *t, dc_tensor *logits, dc_tensor *labels) {
    dc_tensor *in[2] = {logits, labels};
    return dc_op_apply(t, DC_OP_SPARSE_SOFTMAX_CROSS_ENTROPY, 2, in, NULL);
}

/* ---- binary cross-entropy on logits ---- */

// logits (any), targets (same) -> ()
dc_status dc_shape_binary_cross_entropy_logits(const dc_node *n, int *ndim, int64_t *shape) {
    (void)shape;
    *ndim = 0;
    return same_shape("dc_binary_cross_entropy_logits", "logits", n->in[0], "targets", n->in[1]);
}

/* max(x,0) - x z + log(1 + exp(-|x|)): never overflows. */
dc_status dc_binary_cross_entropy_logits_forward(dc_node *n) {
    const float *x = n->in[0]->data, *z = n->in[1]->data;
    int64_t size = n->in[0]->size, nchunk = (size + MSE_CHUNK - 1) / MSE_CHUNK;
    double *part = dc_node_alloc(n, (size_t)DC_MAX(nchunk, 1) * sizeof(double));
    if (!part) return DC_ERR_NOMEM;
#pragma omp parallel for schedule(static) if (nchunk > 1)
    for (int64_t c = 0; c < nchunk; c++) {
        int64_t i0 = c * MSE_CHUNK, m = DC_MIN(MSE_CHUNK, size - i0);
        double s = 0;
        for (int64_t i = i0; i < i0 + m; i++) {
            float v = x[i];
            s += (double)((v > 0 ? v : 0) - v * z[i] + log1pf(expf(-fabsf(v))));
        }
        part[c] = s;
    }
    n->out->data[0] = (float)(sum_rows(part, nchunk) / (double)size);
    return DC_OK;
}

/* d/dx = (sigmoid(x) - z) / n, d/dz = -x / n */
void dc_binary_cross_entropy_logits_backward(dc_node *n) {
    const float *x = n->in[0]->data, *z = n->in[1]->data;
    float *gx = n->in[0]->grad, *gz = n->in[1]->grad;
    int64_t size = n->in[0]->size;
    float k = n->out->grad[0] / (float)size;
#pragma omp parallel for schedule(static) if (size > PAR_MIN)
    for (int64_t i = 0; i < size; i++) {
        if (gx) {
            float e = expf(-fabsf(x[i]));
            float s = x[i] >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
            gx[i] += k * (s - z[i]);
        }
        if (gz) gz[i] -= k * x[i];
    }
}

dc_tensor *dc_binary_cross_entropy_logits(dc_tape *t, dc_tensor *logits, dc_tensor *targets) {
    dc_tensor *in[2] = {logits, targets};
    return dc_op_apply(t, DC_OP_BINARY_CROSS_ENTROPY_LOGITS, 2, in, NULL);
}

/* ---- inverted dropout ----
 * attrs: f[0] rate, i[0] training, p the dc_rng. Forward draws one 64-bit key
 * from the rng; element i is kept when a hash of (key, i) is at least
 * rate * 2^32. The mask then depends only on the rng state, not on the thread
 * count, and elements are independent, so the loop runs in parallel. A rank
 * of a distributed fit numbers its elements from its part's place in the
 * whole batch (dc_tape_batch_part): each sample gets one process's mask. The mask
 * (0 or 1/(1-rate) per element) is saved for backward. */

// x (any) -> same
dc_status dc_shape_dropout(const dc_node *n, int *ndim, int64_t *shape) {
    float rate = n->a.f[0];
    if (!(rate >= 0 && rate < 1))
        return dc_set_error(DC_ERR_ARG, "dc_dropout: rate %g outside [0, 1)", (double)rate);
    if (n->a.i[0] && rate > 0 && !n->a.p)
        return dc_set_error(DC_ERR_ARG, "dc_dropout: rng is NULL while training");
    *ndim = n->in[0]->ndim;
    memcpy(shape, n->in[0]->shape, sizeof(int64_t) * (size_t)*ndim);
    return DC_OK;
}

dc_status dc_dropout_forward(dc_node *n) {
    const float *x = n->in[0]->data;
    float *y = n->out->data;
    int64_t size = n->in[0]->size;
    float rate = n->a.f[0];
    if (!n->a.i[0] || rate == 0) {
        memcpy(y, x, (size_t)size * sizeof(float));
        n->saved = NULL;
        return DC_OK;
    }
    float *mask = dc_node_alloc(n, (size_t)size * sizeof(float));
    if (!mask) return DC_ERR_NOMEM;
    n->saved = mask;
    dc_rng *rng = n->a.p;
    uint64_t key = (uint64_t)dc_rng_u32(rng) << 32 | dc_rng_u32(rng);
    /* a rank's part of a distributed batch: the elements' indices in the whole batch */
    const int64_t B = n->in[0]->ndim > 0 ? n->in[0]->shape[0] : 1;
    int64_t start, total;
    dc_tape_batch_part(n->tape, B, &start, &total);
    const uint64_t first = (uint64_t)start * (uint64_t)(B > 0 ? size / B : 0);
    uint32_t cut = (uint32_t)DC_MIN((double)rate * 4294967296.0, 4294967295.0);
    float scale = 1.0f / (1.0f - rate);
    const dc_reduce_kernels *k = dc_reduce_kernels_get();
    int64_t nchunk = (size + ADD_CHUNK - 1) / ADD_CHUNK;
#pragma omp parallel for schedule(static) if (size > PAR_MIN)
    for (int64_t c = 0; c < nchunk; c++) {
        int64_t i0 = c * ADD_CHUNK;
        k->dropout(mask + i0, y + i0, x + i0, DC_MIN(ADD_CHUNK, size - i0), key,
                   first + (uint64_t)i0, cut, scale);
    }
    return DC_OK;
}

void dc_dropout_backward(dc_node *n) {
    float *gx = n->in[0]->grad;
    if (!gx) return;
    const float *g = n->out->grad, *mask = n->saved;
    int64_t size = n->in[0]->size, nchunk = (size + ADD_CHUNK - 1) / ADD_CHUNK;
    const dc_reduce_kernels *k = dc_reduce_kernels_get();
#pragma omp parallel for schedule(static) if (size > PAR_MIN)
    for (int64_t c = 0; c < nchunk; c++) {
        int64_t i0 = c * ADD_CHUNK, m = DC_MIN(ADD_CHUNK, size - i0);
        if (mask) k->mul_acc(gx + i0, g + i0, mask + i0, m);
        else k->axpy(gx + i0, g + i0, m, 1.0f);
    }
}

dc_tensor *dc_dropout(dc_tape *t, dc_tensor *x, float rate, bool training, dc_rng *rng) {
    dc_op_attrs at = {.i = {training}, .f = {rate}, .p = rng};
    return dc_op_apply(t, DC_OP_DROPOUT, 1, &x, &at);
}
