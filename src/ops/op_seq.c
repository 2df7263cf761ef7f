/* op_seq.c — ops over sequences: the embedding lookup (ids checked, backward
 * touching only the rows looked up) and the global average and max over the
 * time axis that skip masked steps. Shape, forward and backward side by side. */
#include "op.h"
#include "../kernels/reduce.h"
#include <math.h>
#include <string.h>

/* ---- embedding ---- */

// table (V,D), ids (...) -> (..., D)
dc_status dc_shape_embedding(const dc_node *n, int *ndim, int64_t *shape) {
    const dc_tensor *w = n->in[0], *ids = n->in[1];
    if (w->ndim != 2 || ids->ndim < 1 || ids->ndim + 1 > DC_MAX_DIMS) {
        char sw[128], si[128];
        return dc_set_error(DC_ERR_SHAPE,
                            "dc_embedding: table %s must be (input_dim, output_dim) and ids %s "
                            "have 1 to %d dims",
                            dc_shape_string(w->ndim, w->shape, sw, sizeof sw),
                            dc_shape_string(ids->ndim, ids->shape, si, sizeof si), DC_MAX_DIMS - 1);
    }
    *ndim = ids->ndim + 1;
    memcpy(shape, ids->shape, (size_t)ids->ndim * sizeof *shape);
    shape[ids->ndim] = w->shape[1];
    return DC_OK;
}

/* The error for ids[k]: its position as (batch, step) for (B,T) ids. */
static dc_status bad_id(const dc_tensor *ids, int64_t k, int64_t V) {
    char pos[96];
    if (ids->ndim == 2)
        snprintf(pos, sizeof pos, "(batch %lld, step %lld)", (long long)(k / ids->shape[1]),
                 (long long)(k % ids->shape[1]));
    else
        snprintf(pos, sizeof pos, "flat position %lld", (long long)k);
    return dc_set_error(DC_ERR_ARG,
                        "dc_embedding: id %.9g at %s is not a whole number in [0, %lld) "
                        "(input_dim %lld)",
                        (double)ids->data[k], pos, (long long)V, (long long)V);
}

dc_status dc_embedding_forward(dc_node *n) {
    const dc_tensor *w = n->in[0], *ids = n->in[1];
    const int64_t V = w->shape[0], D = w->shape[1], K = ids->size;
    for (int64_t k = 0; k < K; k++) { /* every id checked before any row is read */
        float v = ids->data[k];
        if (!(v >= 0.0f && v < (float)V) || v != floorf(v)) return bad_id(ids, k, V);
    }
#pragma omp parallel for schedule(static) if (K * D > 65536)
    for (int64_t k = 0; k < K; k++)
        memcpy(n->out->data + k * D, w->data + (int64_t)ids->data[k] * D, (size_t)D * sizeof(float));
    return DC_OK;
}

/* Only the rows looked up get gradient, added in id order (a fixed order, so
 * the same sums for any thread count); ids get none. */
void dc_embedding_backward(dc_node *n) {
    dc_tensor *w = n->in[0];
    const dc_tensor *ids = n->in[1];
    if (!w->grad) return;
    const int64_t D = w->shape[1], K = ids->size;
    const dc_reduce_kernels *kr = dc_reduce_kernels_get();
    for (int64_t k = 0; k < K; k++)
        kr->axpy(w->grad + (int64_t)ids->data[k] * D, n->out->grad + k * D, D, 1.0f);
}

dc_tensor *dc_embedding(dc_tape *t, dc_tensor *table, dc_tensor *ids) {
    dc_tensor *in[2] = {table, ids};
    return dc_op_apply(t, DC_OP_EMBEDDING, 2, in, NULL);
}

/* ---- global average / max over time, mask-aware ---- */

static const char *seq_pool_fn(const dc_node *n) {
    return n->op == DC_OP_SEQ_MAX_POOL ? "dc_seq_max_pool" : "dc_seq_avg_pool";
}

// x (B,T,C), mask (B,T) or none -> (B,C)
dc_status dc_shape_seq_pool(const dc_node *n, int *ndim, int64_t *shape) {
    const dc_tensor *x = n->in[0], *mk = n->n_in > 1 ? n->in[1] : NULL;
    char sx[128], sm[128];
    if (n->n_in > 2 || x->ndim != 3)
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s must be (B,T,C), with at most one mask",
                            seq_pool_fn(n), dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    if (mk && (mk->ndim != 2 || mk->shape[0] != x->shape[0] || mk->shape[1] != x->shape[1]))
        return dc_set_error(DC_ERR_SHAPE, "%s: mask %s does not fit x %s (needs (B,T))",
                            seq_pool_fn(n), dc_shape_string(mk->ndim, mk->shape, sm, sizeof sm),
                            dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    if (x->shape[1] == 0)
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s has no steps", seq_pool_fn(n),
                            dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    *ndim = 2;
    shape[0] = x->shape[0], shape[1] = x->shape[2];
    return DC_OK;
}

static bool step_real(const dc_node *n, int64_t b, int64_t s) {
    const dc_tensor *mk = n->n_in > 1 ? n->in[1] : NULL;
    return !mk || mk->data[b * mk->shape[1] + s] != 0.0f;
}

/* The number of real steps of sequence b (T without a mask). */
static int64_t real_steps(const dc_node *n, int64_t b) {
    const int64_t T = n->in[0]->shape[1];
    int64_t k = 0;
    for (int64_t s = 0; s < T; s++) k += step_real(n, b, s);
    return k;
}

/* The mean over real steps (Keras' masked GlobalAveragePooling1D); a sequence
 * with no real step gives 0 (Keras: 0/0, NaN). */
dc_status dc_seq_avg_pool_forward(dc_node *n) {
    const dc_tensor *x = n->in[0];
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
#pragma omp parallel for schedule(static) if (B > 1 && x->size > 65536)
    for (int64_t b = 0; b < B; b++) {
        float *y = n->out->data + b * C;
        const int64_t k = real_steps(n, b);
        for (int64_t c = 0; c < C; c++) y[c] = 0.0f;
        for (int64_t s = 0; s < T; s++)
            if (step_real(n, b, s))
                for (int64_t c = 0; c < C; c++) y[c] += x->data[(b * T + s) * C + c];
        const float inv = k ? 1.0f / (float)k : 0.0f;
        for (int64_t c = 0; c < C; c++) y[c] *= inv;
    }
    return DC_OK;
}

void dc_seq_avg_pool_backward(dc_node *n) {
    dc_tensor *x = n->in[0];
    if (!x->grad) return;
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
#pragma omp parallel for schedule(static) if (B > 1 && x->size > 65536)
    for (int64_t b = 0; b < B; b++) {
        const int64_t k = real_steps(n, b);
        const float inv = k ? 1.0f / (float)k : 0.0f;
        const float *d = n->out->grad + b * C;
        for (int64_t s = 0; s < T; s++)
            if (step_real(n, b, s))
                for (int64_t c = 0; c < C; c++) x->grad[(b * T + s) * C + c] += d[c] * inv;
    }
}

/* The max over real steps; the gradient goes to the first maximum (the step
 * kept in an int32 index per output, tape arena). No real step: 0, no gradient. */
dc_status dc_seq_max_pool_forward(dc_node *n) {
    const dc_tensor *x = n->in[0];
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    if (T > INT32_MAX)
        return dc_set_error(DC_ERR_UNSUPPORTED, "dc_seq_max_pool: %lld steps are too many",
                            (long long)T);
    int32_t *arg = dc_node_alloc(n, (size_t)DC_MAX(n->out->size, 1) * sizeof(int32_t));
    if (!arg) return DC_ERR_NOMEM;
    n->saved = arg;
#pragma omp parallel for schedule(static) if (B > 1 && x->size > 65536)
    for (int64_t b = 0; b < B; b++) {
        float *y = n->out->data + b * C;
        int32_t *a = arg + b * C;
        for (int64_t c = 0; c < C; c++) y[c] = 0.0f, a[c] = -1;
        for (int64_t s = 0; s < T; s++) {
            if (!step_real(n, b, s)) continue;
            const float *xs = x->data + (b * T + s) * C;
            for (int64_t c = 0; c < C; c++)
                if (a[c] < 0 || xs[c] > y[c] || (xs[c] != xs[c] && y[c] == y[c]))
                    y[c] = xs[c], a[c] = (int32_t)s;
        }
    }
    return DC_OK;
}

void dc_seq_max_pool_backward(dc_node *n) {
    dc_tensor *x = n->in[0];
    if (!x->grad) return;
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    const int32_t *arg = n->saved;
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            if (arg[b * C + c] >= 0)
                x->grad[(b * T + arg[b * C + c]) * C + c] += n->out->grad[b * C + c];
}

static dc_tensor *seq_pool(dc_tape *t, dc_op_id op, dc_tensor *x, dc_tensor *mask) {
    dc_tensor *in[2] = {x, mask};
    return dc_op_apply(t, op, mask ? 2 : 1, in, NULL);
}

dc_tensor *dc_seq_avg_pool(dc_tape *t, dc_tensor *x, dc_tensor *mask) {
    return seq_pool(t, DC_OP_SEQ_AVG_POOL, x, mask);
}

dc_tensor *dc_seq_max_pool(dc_tape *t, dc_tensor *x, dc_tensor *mask) {
    return seq_pool(t, DC_OP_SEQ_MAX_POOL, x, mask);
}

/* ---- time reversal (Bidirectional's backward outputs back in time order) ---- */

// x (B,T,...) -> (B,T,...), step s of y = step T-1-s of x
dc_status dc_shape_seq_reverse(const dc_node *n, int *ndim, int64_t *shape) {
    const dc_tensor *x = n->in[0];
    if (x->ndim < 2) {
        char sx[128];
        return dc_set_error(DC_ERR_SHAPE, "dc_seq_reverse: x %s needs (B,T,...)",
                            dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    }
    *ndim = x->ndim;
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    return DC_OK;
}

/* Copies (or adds, backward) the steps of src into dst in reverse order. */
static void reverse_steps(float *dst, const float *src, const dc_tensor *x, bool add) {
    const int64_t B = x->shape[0], T = x->shape[1], row = T && B ? x->size / (B * T) : 0;
#pragma omp parallel for schedule(static) if (x->size > 65536)
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < T; s++) {
            float *d = dst + (b * T + s) * row;
            const float *v = src + (b * T + (T - 1 - s)) * row;
            if (add)
                for (int64_t k = 0; k < row; k++) d[k] += v[k];
            else
                memcpy(d, v, (size_t)row * sizeof(float));
        }
}

dc_status dc_seq_reverse_forward(dc_node *n) {
    reverse_steps(n->out->data, n->in[0]->data, n->in[0], false);
    return DC_OK;
}

void dc_seq_reverse_backward(dc_node *n) {
    dc_tensor *x = n->in[0];
    if (x->grad) reverse_steps(x->grad, n->out->grad, x, true);
}

dc_tensor *dc_seq_reverse(dc_tape *t, dc_tensor *x) {
    return dc_op_apply(t, DC_OP_SEQ_REVERSE, 1, &x, NULL);
}
