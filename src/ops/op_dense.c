/* op_dense.c — the fused dense op y = act(x @ w + b): one gemm forward with
 * the bias (and relu) applied as the gemm stores its tiles, and one gemm per
 * gradient backward, instead of the matmul, add and activation ops' three
 * passes over the output and their two extra tape tensors. */
#include "op.h"
#include "../kernels/elementwise.h"
#include "../kernels/gemm.h"
#include "../kernels/reduce.h"
#include <string.h>

/* At least this many multiply-adds per block of a dense gemm (gemm.c's
 * threshold for a second thread), and this many rows or columns. */
#define DENSE_BLOCK_FMA (1 << 20)
#define DENSE_BLOCK_MIN 16

/* C (M,N) = op(A) op(B) + beta C, then ep (as dc_gemm_ex); with threads to
 * spare, cut along C's longer side into a block per thread, all in one
 * parallel region, each block a whole gemm on one thread. Left to itself the
 * gemm syncs its team twice per K block (packing, then tiles): for the MLP's
 * (32,784)x(784,128) that is 8 barriers, each a sleep and a wake under a
 * passive wait policy; here the threads meet once. Alone, one whole gemm:
 * blocks of a narrow C run up to 20% slower. Every C element is summed in the
 * same K blocks by the same kernel however C is cut (gemm.c), so the bits do
 * not depend on the thread count. */
static void dense_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
                       int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                       int64_t ldc, const dc_gemm_epilogue *ep) {
    const bool cut_cols = N >= M;
    const int64_t side = cut_cols ? N : M;
    const double fma = (double)M * (double)N * (double)K;
    int64_t nb = dc_get_num_threads();
    nb = DC_MIN(nb, (int64_t)(fma / DENSE_BLOCK_FMA));
    nb = DC_MIN(nb, side / DENSE_BLOCK_MIN);
    if (nb <= 1) {
        dc_gemm_ex(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc, ep);
        return;
    }
    /* blocks of whole 16-float groups, so column blocks start on a cache line */
    const int64_t per = (side / nb + DENSE_BLOCK_MIN - 1) / DENSE_BLOCK_MIN * DENSE_BLOCK_MIN;
#pragma omp parallel for schedule(static) num_threads(nb)
    for (int64_t blk = 0; blk < nb; blk++) {
        const int64_t lo = DC_MIN(side, blk * per), len = DC_MIN(side, lo + per) - lo;
        if (len <= 0) continue;
        if (cut_cols) {
            dc_gemm_epilogue e = {.bias = ep && ep->bias ? ep->bias + lo : NULL,
                                  .act = ep ? ep->act : DC_EPI_NONE};
            dc_gemm_ex(ta, tb, M, len, K, 1.0f, A, lda, tb ? B + lo * ldb : B + lo, ldb, beta,
                       C + lo, ldc, &e);
        } else {
            dc_gemm_ex(ta, tb, len, N, K, 1.0f, ta ? A + lo : A + lo * lda, lda, B, ldb, beta,
                       C + lo * ldc, ldc, ep);
        }
    }
}

/* attrs: i[0] activation (dc_dense_activation). Inputs x, w [, b].
 * saved: (rows, units) scratch for the pre-activation gradient, allocated in
 * forward when a gradient will be needed and the activation is not none. */

// x (..., in), w (in, units), b (units) -> (..., units)
dc_status dc_shape_dense(const dc_node *n, int *ndim, int64_t *shape) {
    /* shapes are formatted only for a message: this runs for every dense op */
#define SX dc_shape_string(x->ndim, x->shape, sx, sizeof sx)
#define SW dc_shape_string(w->ndim, w->shape, sw, sizeof sw)
    if (n->n_in != 2 && n->n_in != 3)
        return dc_set_error(DC_ERR_ARG, "dc_dense: %d inputs given, 2 or 3 expected", n->n_in);
    const dc_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in == 3 ? n->in[2] : NULL;
    char sx[128], sw[128], sb[128];
    if (n->a.i[0] < DC_DENSE_ACT_NONE || n->a.i[0] > DC_DENSE_ACT_TANH)
        return dc_set_error(DC_ERR_ARG,
                            "dc_dense: activation %lld is not one of none, relu, sigmoid, tanh",
                            (long long)n->a.i[0]);
    if (x->ndim < 1 || w->ndim != 2)
        return dc_set_error(DC_ERR_SHAPE,
                            "dc_dense: x %s and w %s: x needs at least 1 dim and w exactly 2",
                            SX, SW);
    if (x->shape[x->ndim - 1] != w->shape[0])
        return dc_set_error(DC_ERR_SHAPE, "dc_dense: x %s and w %s: inner dimensions %lld != %lld",
                            SX, SW, (long long)x->shape[x->ndim - 1], (long long)w->shape[0]);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[1]))
        return dc_set_error(DC_ERR_SHAPE, "dc_dense: w %s and b %s: b must be (%lld)", SW,
                            dc_shape_string(b->ndim, b->shape, sb, sizeof sb),
                            (long long)w->shape[1]);
    *ndim = x->ndim;
    for (int i = 0; i < x->ndim - 1; i++) shape[i] = x->shape[i];
    shape[x->ndim - 1] = w->shape[1];
    return DC_OK;
#undef SX
#undef SW
}

// x (rows, in) @ w (in, units) + b -> act -> y (rows, units)
dc_status dc_dense_forward(dc_node *n) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    const float *b = n->n_in == 3 ? n->in[2]->data : NULL;
    const int64_t in = w->shape[0], units = w->shape[1], rows = x->size / (in ? in : 1);
    const int act = (int)n->a.i[0];
    float *y = n->out->data;
    /* relu rides in the gemm's tile store; sigmoid and tanh run afterwards in
     * the vectorized elementwise kernels (the same bits as dc_sigmoid/dc_tanh),
     * (an empty product, in == 0, still gets the bias and activation) */
    dc_gemm_epilogue ep = {.bias = b, .act = act == DC_DENSE_ACT_RELU ? DC_EPI_RELU : DC_EPI_NONE};
    dense_gemm(false, false, rows, units, in, x->data, in, w->data, units, 0.0f, y, units, &ep);
    if (act == DC_DENSE_ACT_SIGMOID) dc_k_sigmoid(y, y, n->out->size);
    else if (act == DC_DENSE_ACT_TANH) dc_k_tanh(y, y, n->out->size);
    if (n->out->grad && act != DC_DENSE_ACT_NONE) {
        n->saved = dc_node_alloc(n, (size_t)n->out->size * sizeof(float));
        if (!n->saved) return DC_ERR_NOMEM;
    }
    return DC_OK;
}

void dc_dense_backward(dc_node *n) {
    dc_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in == 3 ? n->in[2] : NULL;
    const int64_t in = w->shape[0], units = w->shape[1], rows = x->size / (in ? in : 1);
    const int64_t size = n->out->size;
    const int act = (int)n->a.i[0];
    const float *y = n->out->data, *gy = n->out->grad;
    /* dz (rows, units): the gradient before the activation, from the output */
    const float *dz = gy;
    if (act != DC_DENSE_ACT_NONE) {
        float *s = n->saved;
        memset(s, 0, (size_t)size * sizeof(float));
        if (act == DC_DENSE_ACT_RELU) dc_k_relu_backward(y, gy, s, size);
        else if (act == DC_DENSE_ACT_SIGMOID) dc_k_sigmoid_backward(y, gy, s, size);
        else dc_k_tanh_backward(y, gy, s, size);
        dz = s;
    }
    if (b && b->grad && units > 0) {
        /* column sums of dz, rows in order whatever the thread count; a stack
         * block at a time so the sum needs no scratch */
        const dc_reduce_kernels *k = dc_reduce_kernels_get();
        enum { BLK = 256 };
        float part[BLK];
        for (int64_t j0 = 0; j0 < units; j0 += BLK) {
            const int64_t wd = DC_MIN((int64_t)BLK, units - j0);
            k->col_sum(dz + j0, rows, wd, units, 1.0f, part);
            for (int64_t j = 0; j < wd; j++) b->grad[j0 + j] += part[j];
        }
    }
    /* dw (in, units) += x^T dz */
    if (w->grad)
        dense_gemm(true, false, in, units, rows, x->data, in, dz, units, 1.0f, w->grad, units, NULL);
    /* dx (rows, in) += dz w^T */
    if (x->grad)
        dense_gemm(false, true, rows, in, units, dz, units, w->data, units, 1.0f, x->grad, in, NULL);
}

dc_tensor *dc_dense(dc_tape *t, dc_tensor *x, dc_tensor *w, dc_tensor *b, int activation) {
    dc_tensor *in[3] = {x, w, b};
    dc_op_attrs at;
    memset(&at, 0, sizeof at);
    at.i[0] = activation;
    return dc_op_apply(t, DC_OP_DENSE, b ? 3 : 2, in, &at);
}
