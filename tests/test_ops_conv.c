/* test_ops_conv.c — convolution, pooling, batch norm and upsampling ops: gradient
 * checks, comparisons with PyTorch (tests/ref/ref_conv.py, with Keras' asymmetric
 * 'same' padding replayed by explicit pads) and bad-input messages. */
#include "test.h"
#include "core/cpu.h"
#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "kernels/maxpool.h"
#include "kernels/bn.h"
#include "ops/op.h"
#include <stdlib.h>

/* ---- gradient checks ---- */

static dc_tensor *apply_conv_valid(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_conv2d(t, in[0], in[1], in[2], NULL);
}
GRAD_CASE(conv2d_valid_bias) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 5, 5, 3}, {3, 3, 3, 4}, {4}}, .apply = apply_conv_valid};
}

static dc_tensor *apply_conv_nobias(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_conv2d(t, in[0], in[1], NULL, NULL);
}
GRAD_CASE(conv2d_valid_nobias) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 2, .ndim = {4, 4},
                     .shape = {{2, 5, 4, 2}, {2, 3, 2, 3}}, .apply = apply_conv_nobias};
}

static dc_tensor *apply_conv_same_s2(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.stride_h = 2, .stride_w = 2, .padding = DC_PAD_SAME};
    return dc_conv2d(t, in[0], in[1], in[2], &o);
}
GRAD_CASE(conv2d_same_stride2) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 6, 5, 3}, {3, 3, 3, 4}, {4}}, .apply = apply_conv_same_s2};
}

static dc_tensor *apply_conv_valid_s2(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.stride_h = 2, .stride_w = 1};
    return dc_conv2d(t, in[0], in[1], in[2], &o);
}
GRAD_CASE(conv2d_valid_stride2) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 6, 5, 3}, {2, 3, 3, 4}, {4}}, .apply = apply_conv_valid_s2};
}

static dc_tensor *apply_conv_dil2(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.padding = DC_PAD_SAME, .dilation_h = 2, .dilation_w = 2};
    return dc_conv2d(t, in[0], in[1], in[2], &o);
}
/* >= 8 channels, stride 1: the implicit-GEMM path */
GRAD_CASE(conv2d_implicit_same) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 4, 5, 8}, {3, 3, 8, 3}, {3}}, .apply = apply_conv_dil2};
}
GRAD_CASE(conv2d_same_dilation2) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 5, 5, 3}, {3, 3, 3, 4}, {4}}, .apply = apply_conv_dil2};
}

static dc_tensor *apply_conv_relu(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.activation = DC_CONV_ACT_RELU};
    return dc_conv2d(t, in[0], in[1], in[2], &o);
}
GRAD_CASE(conv2d_relu_one_channel) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 6, 6, 1}, {3, 3, 1, 4}, {4}}, .apply = apply_conv_relu};
}
/* More channels: wider patch rows through im2col, GEMM and col2im. */
GRAD_CASE(conv2d_im2col_same_stride2) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 6, 5, 5}, {3, 3, 5, 3}, {3}}, .apply = apply_conv_same_s2};
}
GRAD_CASE(conv2d_im2col_dilation2) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{1, 5, 6, 6}, {3, 3, 6, 2}, {2}}, .apply = apply_conv_dil2};
}
GRAD_CASE(conv2d_im2col_relu) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 5, 5, 5}, {3, 2, 5, 3}, {3}}, .apply = apply_conv_relu};
}
GRAD_CASE(conv2d_pointwise) {
    *c = (grad_case){.op = DC_OP_CONV2D, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 3, 4, 3}, {1, 1, 3, 5}, {5}}, .apply = apply_conv_valid};
}

static dc_tensor *apply_convt_valid_s2(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.stride_h = 2, .stride_w = 2};
    return dc_conv2d_transpose(t, in[0], in[1], in[2], &o);
}
GRAD_CASE(conv2d_transpose_valid_stride2) {
    *c = (grad_case){.op = DC_OP_CONV2D_TRANSPOSE, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 3, 3, 4}, {3, 3, 2, 4}, {2}}, .apply = apply_convt_valid_s2};
}

static dc_tensor *apply_convt_same(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.stride_h = 2, .stride_w = 1, .padding = DC_PAD_SAME};
    return dc_conv2d_transpose(t, in[0], in[1], NULL, &o);
}
GRAD_CASE(conv2d_transpose_same) {
    *c = (grad_case){.op = DC_OP_CONV2D_TRANSPOSE, .n_in = 2, .ndim = {4, 4},
                     .shape = {{2, 3, 4, 3}, {3, 2, 2, 3}}, .apply = apply_convt_same};
}

static dc_tensor *apply_convt_relu(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.stride_h = 2, .stride_w = 2, .padding = DC_PAD_SAME,
                           .activation = DC_CONV_ACT_RELU};
    return dc_conv2d_transpose(t, in[0], in[1], in[2], &o);
}
GRAD_CASE(conv2d_transpose_relu) {
    *c = (grad_case){.op = DC_OP_CONV2D_TRANSPOSE, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 3, 3, 4}, {3, 3, 2, 4}, {2}}, .eps = 1e-3f,
                     .apply = apply_convt_relu};
}

static dc_tensor *apply_convt_pointwise(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_conv2d_transpose(t, in[0], in[1], in[2], NULL);
}
GRAD_CASE(conv2d_transpose_pointwise) {
    *c = (grad_case){.op = DC_OP_CONV2D_TRANSPOSE, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 3, 3, 4}, {1, 1, 2, 4}, {2}}, .apply = apply_convt_pointwise};
}

/* Pooling picks one input per window: a small step keeps near-ties apart. */
static dc_tensor *apply_maxpool2(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_max_pool2d(t, in[0], 2, 2, NULL);
}
GRAD_CASE(max_pool2d_valid) {
    *c = (grad_case){.op = DC_OP_MAX_POOL2D, .n_in = 1, .ndim = {4}, .shape = {{2, 5, 5, 3}},
                     .eps = 1e-4f, .apply = apply_maxpool2};
}

static dc_tensor *apply_maxpool3_same(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_pool_options o = {.stride_h = 2, .stride_w = 2, .padding = DC_PAD_SAME};
    return dc_max_pool2d(t, in[0], 3, 3, &o);
}
GRAD_CASE(max_pool2d_same_stride2) {
    *c = (grad_case){.op = DC_OP_MAX_POOL2D, .n_in = 1, .ndim = {4}, .shape = {{2, 6, 5, 3}},
                     .eps = 1e-4f, .apply = apply_maxpool3_same};
}

static dc_tensor *apply_avgpool_same(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_pool_options o = {.stride_h = 2, .stride_w = 1, .padding = DC_PAD_SAME};
    return dc_avg_pool2d(t, in[0], 3, 2, &o);
}
GRAD_CASE(avg_pool2d_same) {
    *c = (grad_case){.op = DC_OP_AVG_POOL2D, .n_in = 1, .ndim = {4}, .shape = {{2, 5, 4, 3}},
                     .apply = apply_avgpool_same};
}

static dc_tensor *apply_avgpool_valid(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_avg_pool2d(t, in[0], 2, 2, NULL);
}
GRAD_CASE(avg_pool2d_valid) {
    *c = (grad_case){.op = DC_OP_AVG_POOL2D, .n_in = 1, .ndim = {4}, .shape = {{2, 5, 4, 3}},
                     .apply = apply_avgpool_valid};
}

static dc_tensor *apply_gavg(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_global_avg_pool2d(t, in[0]);
}
GRAD_CASE(global_avg_pool2d) {
    *c = (grad_case){.op = DC_OP_GLOBAL_AVG_POOL2D, .n_in = 1, .ndim = {4},
                     .shape = {{2, 3, 4, 5}}, .apply = apply_gavg};
}

static dc_tensor *apply_gmax(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_global_max_pool2d(t, in[0]);
}
GRAD_CASE(global_max_pool2d) {
    *c = (grad_case){.op = DC_OP_GLOBAL_MAX_POOL2D, .n_in = 1, .ndim = {4},
                     .shape = {{2, 3, 4, 5}}, .eps = 1e-4f, .apply = apply_gmax};
}

/* Moving statistics live on the tape: each evaluation starts from the same ones. */
static dc_tensor *apply_bn(dc_tape *t, dc_tensor **in, bool training) {
    int64_t C = in[0]->shape[in[0]->ndim - 1];
    dc_tensor *mm = dc_tape_tensor(t, 1, &C), *mv = dc_tape_tensor(t, 1, &C);
    if (!mm || !mv) return NULL;
    for (int64_t c = 0; c < C; c++) {
        mm->data[c] = 0.1f * (float)c;
        mv->data[c] = 0.5f + 0.25f * (float)c;
    }
    return dc_batch_norm(t, in[0], in[1], in[2], mm, mv, training, 0, 0);
}
static dc_tensor *apply_bn_train(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return apply_bn(t, in, true);
}
static dc_tensor *apply_bn_infer(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return apply_bn(t, in, false);
}
GRAD_CASE(batch_norm_training) {
    *c = (grad_case){.op = DC_OP_BATCH_NORM, .n_in = 3, .ndim = {4, 1, 1},
                     .shape = {{2, 3, 2, 4}, {4}, {4}}, .apply = apply_bn_train};
}
GRAD_CASE(batch_norm_training_2d) {
    *c = (grad_case){.op = DC_OP_BATCH_NORM, .n_in = 3, .ndim = {2, 1, 1},
                     .shape = {{5, 3}, {3}, {3}}, .apply = apply_bn_train};
}
GRAD_CASE(batch_norm_inference) {
    *c = (grad_case){.op = DC_OP_BATCH_NORM, .n_in = 3, .ndim = {4, 1, 1},
                     .shape = {{2, 3, 2, 4}, {4}, {4}}, .apply = apply_bn_infer};
}

static dc_tensor *apply_up_nearest(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_upsample2d(t, in[0], 2, 3, false);
}
static dc_tensor *apply_up_bilinear(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_upsample2d(t, in[0], 3, 2, true);
}
GRAD_CASE(upsample2d_nearest) {
    *c = (grad_case){.op = DC_OP_UPSAMPLE2D, .n_in = 1, .ndim = {4}, .shape = {{2, 3, 2, 3}},
                     .apply = apply_up_nearest};
}
GRAD_CASE(upsample2d_bilinear) {
    *c = (grad_case){.op = DC_OP_UPSAMPLE2D, .n_in = 1, .ndim = {4}, .shape = {{2, 3, 4, 2}},
                     .apply = apply_up_bilinear};
}

/* conv2d with a fused MaxPooling2D. */
static dc_tensor *apply_conv_pool(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.activation = DC_CONV_ACT_RELU, .pool_h = 2, .pool_w = 2};
    return dc_conv2d(t, in[0], in[1], in[2], &o);
}
GRAD_CASE(conv2d_maxpool_relu) {
    *c = (grad_case){.op = DC_OP_CONV2D_MAXPOOL, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{3, 7, 6, 5}, {3, 3, 5, 4}, {4}}, .eps = 1e-3f,
                     .apply = apply_conv_pool};
}
static dc_tensor *apply_conv_pool_same(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_conv2d_options o = {.stride_h = 2, .padding = DC_PAD_SAME, .pool_h = 2, .pool_w = 3};
    return dc_conv2d(t, in[0], in[1], NULL, &o);
}
GRAD_CASE(conv2d_maxpool_implicit) {
    *c = (grad_case){.op = DC_OP_CONV2D_MAXPOOL, .n_in = 3, .ndim = {4, 4, 1},
                     .shape = {{2, 6, 5, 8}, {3, 3, 8, 3}, {3}}, .eps = 1e-3f,
                     .apply = apply_conv_pool};
}
GRAD_CASE(conv2d_maxpool_same_stride2) {
    *c = (grad_case){.op = DC_OP_CONV2D_MAXPOOL, .n_in = 2, .ndim = {4, 4},
                     .shape = {{2, 8, 7, 1}, {3, 3, 1, 3}}, .eps = 1e-3f,
                     .apply = apply_conv_pool_same};
}

/* ---- comparisons with PyTorch (tests/ref/ref_conv.py) ---- */

static ref_file *conv_ref(void) {
    static ref_file *f;
    if (!f) f = ref_load("ref/data/conv.txt");
    return f;
}

static const dc_tensor *rget(const char *name, const char *suffix) {
    char key[64];
    snprintf(key, sizeof key, "%s_%s", name, suffix);
    return ref_get(conv_ref(), key);
}

/* A copy of a reference tensor that requires a gradient (caller frees). */
static dc_tensor *param_from(const dc_tensor *r) {
    dc_tensor *p = dc_tensor_from_data(r->ndim, r->shape, r->data);
    dc_tensor_set_requires_grad(p, true);
    return p;
}

/* Checks a result against the reference tensor name_suffix (shape and values). */
static void check_ref(const char *name, const char *suffix, const float *got, int ndim,
                      const int64_t *shape, double atol, double rtol) {
    const dc_tensor *r = rget(name, suffix);
    if (!r || !got) {
        test_fail(__FILE__, __LINE__, "%s_%s: missing", name, suffix);
        return;
    }
    bool same = r->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = r->shape[d] == shape[d];
    if (!same) {
        char a[128], b[128];
        test_fail(__FILE__, __LINE__, "%s_%s: shape %s, reference %s", name, suffix,
                  dc_shape_string(ndim, shape, a, sizeof a),
                  dc_shape_string(r->ndim, r->shape, b, sizeof b));
        return;
    }
    double ratio = test_close_ratio(got, r->data, r->size, atol, rtol);
    if (!(ratio <= 1.0))
        test_fail(__FILE__, __LINE__, "%s_%s: off by %.3g x tolerance", name, suffix, ratio);
}

/* Runs conv2d (or its transpose) for case `name` and checks y and every gradient. */
static void conv_ref_case(const char *name, bool transpose) {
    const dc_tensor *cfg = rget(name, "cfg");
    if (!cfg) return;
    const float *c = cfg->data;
    bool has_bias = c[6] != 0;
    dc_conv2d_options o = {.stride_h = (int)c[0], .stride_w = (int)c[1],
                           .padding = c[2] != 0 ? DC_PAD_SAME : DC_PAD_VALID,
                           .dilation_h = (int)c[3], .dilation_w = (int)c[4],
                           .activation = c[5] != 0 ? DC_CONV_ACT_RELU : DC_CONV_ACT_NONE};
    dc_tensor *x = param_from(rget(name, "x")), *w = param_from(rget(name, "w"));
    dc_tensor *b = has_bias ? param_from(rget(name, "b")) : NULL;
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = transpose ? dc_conv2d_transpose(t, x, w, b, &o) : dc_conv2d(t, x, w, b, &o);
    if (!y) {
        test_fail(__FILE__, __LINE__, "%s: %s", name, dc_tape_error(t));
    } else {
        check_ref(name, "y", y->data, y->ndim, y->shape, 1e-5, 1e-4);
        const dc_tensor *dy = rget(name, "dy");
        CHECK(dy && dy->size == y->size);
        if (dy && dy->size == y->size) {
            CHECK_OK(dc_tape_backward_seeded(t, y, dy->data));
            check_ref(name, "dx", x->grad, x->ndim, x->shape, 1e-5, 1e-4);
            check_ref(name, "dw", w->grad, w->ndim, w->shape, 1e-4, 1e-4);
            if (b) check_ref(name, "db", b->grad, b->ndim, b->shape, 1e-4, 1e-4);
        }
    }
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(b);
}

TEST(conv2d_matches_pytorch) {
    const char *cases[] = {"conv0", "conv1", "conv2", "conv3",  "conv4",  "conv5", "conv6",
                           "conv7", "conv8", "conv9", "conv10", "conv11", "conv12", "conv13"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) conv_ref_case(cases[i], false);
}

TEST(conv2d_transpose_matches_pytorch) {
    const char *cases[] = {"convt0", "convt1", "convt2", "convt3", "convt4"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) conv_ref_case(cases[i], true);
}

/* Runs the pooling case `name` (max or average by its config) and checks y and dx. */
static void pool_ref_case(const char *name) {
    const dc_tensor *cfg = rget(name, "cfg");
    if (!cfg) return;
    const float *c = cfg->data;
    dc_pool_options o = {.stride_h = (int)c[2], .stride_w = (int)c[3],
                         .padding = c[4] != 0 ? DC_PAD_SAME : DC_PAD_VALID};
    dc_tensor *x = param_from(rget(name, "x"));
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = c[5] != 0 ? dc_avg_pool2d(t, x, (int)c[0], (int)c[1], &o)
                             : dc_max_pool2d(t, x, (int)c[0], (int)c[1], &o);
    if (!y) {
        test_fail(__FILE__, __LINE__, "%s: %s", name, dc_tape_error(t));
    } else {
        check_ref(name, "y", y->data, y->ndim, y->shape, 1e-6, 1e-5);
        const dc_tensor *dy = rget(name, "dy");
        if (dy && dy->size == y->size) {
            CHECK_OK(dc_tape_backward_seeded(t, y, dy->data));
            check_ref(name, "dx", x->grad, x->ndim, x->shape, 1e-6, 1e-5);
        } else {
            test_fail(__FILE__, __LINE__, "%s: dy does not fit y", name);
        }
    }
    dc_tape_free(t);
    dc_tensor_free(x);
}

TEST(max_pool2d_matches_pytorch) {
    pool_ref_case("pool0");
    pool_ref_case("pool1");
    pool_ref_case("pool2");
}

TEST(avg_pool2d_matches_pytorch) {
    pool_ref_case("pool3");
    pool_ref_case("pool4");
    pool_ref_case("pool5");
}

TEST(global_pool2d_matches_pytorch) {
    const char *names[] = {"gavg", "gmax"};
    for (int k = 0; k < 2; k++) {
        dc_tensor *x = param_from(rget(names[k], "x"));
        dc_tape *t = dc_tape_new(NULL);
        dc_tensor *y = k == 0 ? dc_global_avg_pool2d(t, x) : dc_global_max_pool2d(t, x);
        CHECK(y != NULL);
        if (y) {
            check_ref(names[k], "y", y->data, y->ndim, y->shape, 1e-6, 1e-5);
            const dc_tensor *dy = rget(names[k], "dy");
            CHECK_OK(dc_tape_backward_seeded(t, y, dy->data));
            check_ref(names[k], "dx", x->grad, x->ndim, x->shape, 1e-6, 1e-5);
        }
        dc_tape_free(t);
        dc_tensor_free(x);
    }
}

/* ---- bad input ---- */

/* Runs fn on a fresh tape and checks that it fails with status st and substr. */
#define CHECK_OP_FAILS(call, st, substr)                                                  \
    do {                                                                                  \
        dc_tape *t_ = dc_tape_new(NULL);                                                  \
        dc_tape *t = t_;                                                                  \
        dc_tensor *r_ = (call);                                                           \
        CHECK(r_ == NULL);                                                                \
        CHECK(dc_tape_status(t_) == (st));                                                \
        if (!strstr(dc_tape_error(t_), (substr)))                                         \
            test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", dc_tape_error(t_), \
                      (substr));                                                          \
        dc_tape_free(t_);                                                                 \
    } while (0)

TEST(conv2d_bad_input) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 5, 5, 3));
    dc_tensor *x3 = dc_tensor_zeros(DC_DIMS(5, 5, 3));
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(3, 3, 3, 4));
    dc_tensor *w4 = dc_tensor_zeros(DC_DIMS(3, 3, 4, 8));
    dc_tensor *w0 = dc_tensor_zeros(DC_DIMS(3, 3, 3, 0));
    dc_tensor *wbig = dc_tensor_zeros(DC_DIMS(6, 3, 3, 4));
    dc_tensor *b5 = dc_tensor_zeros(DC_DIMS(5));
    CHECK_OP_FAILS(dc_conv2d(t, x, w4, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d: x (2,5,5,3) and w (3,3,4,8): x has 3 channels, w expects 4");
    CHECK_OP_FAILS(dc_conv2d(t, x, w0, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d: w (3,3,3,0) has zero filters");
    CHECK_OP_FAILS(dc_conv2d(t, x3, w, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d: x (5,5,3) must be 4-D (N,H,W,C)");
    CHECK_OP_FAILS(dc_conv2d(t, x, x3, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d: w (5,5,3) must be 4-D (KH,KW,C,F)");
    CHECK_OP_FAILS(dc_conv2d(t, x, wbig, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d: kernel 6x3 (dilated 6x3) of w (6,3,3,4) is larger than the "
                   "padded input 5x5 of x (2,5,5,3)");
    dc_conv2d_options dil = {.dilation_h = 3};
    CHECK_OP_FAILS(dc_conv2d(t, x, w, NULL, &dil), DC_ERR_SHAPE,
                   "kernel 3x3 (dilated 7x3) of w (3,3,3,4) is larger than the padded input");
    CHECK_OP_FAILS(dc_conv2d(t, x, w, b5, NULL), DC_ERR_SHAPE,
                   "dc_conv2d: bias (5) does not match the 4 filters of w (3,3,3,4)");
    dc_conv2d_options bad_stride = {.stride_h = -1};
    CHECK_OP_FAILS(dc_conv2d(t, x, w, NULL, &bad_stride), DC_ERR_ARG,
                   "dc_conv2d: strides (-1,1) must be positive");
    dc_conv2d_options bad_dil = {.dilation_w = -2};
    CHECK_OP_FAILS(dc_conv2d(t, x, w, NULL, &bad_dil), DC_ERR_ARG,
                   "dc_conv2d: dilations (1,-2) must be positive");
    dc_conv2d_options bad_pad = {.padding = (dc_padding)7};
    CHECK_OP_FAILS(dc_conv2d(t, x, w, NULL, &bad_pad), DC_ERR_ARG,
                   "dc_conv2d: unknown padding 7");
    CHECK_OP_FAILS(dc_conv2d(t, NULL, w, NULL, NULL), DC_ERR_ARG, "dc_conv2d: input 1 is NULL");
    dc_conv2d_options big_pool = {.pool_h = 4, .pool_w = 2};
    CHECK_OP_FAILS(dc_conv2d(t, x, w, NULL, &big_pool), DC_ERR_SHAPE,
                   "dc_conv2d: pool 4x2 is larger than the conv output 3x3");
    dc_conv2d_options neg_pool = {.pool_h = 2, .pool_w = -1};
    CHECK_OP_FAILS(dc_conv2d(t, x, w, NULL, &neg_pool), DC_ERR_ARG,
                   "dc_conv2d: pool size (2,-1) must be positive");
    /* an empty batch lets the pixels of an image pass INT32_MAX, which argmax cannot index */
    dc_tensor *xhuge = dc_tensor_zeros(DC_DIMS(0, 70000, 70000, 3));
    dc_conv2d_options pool1 = {.pool_h = 1, .pool_w = 1};
    CHECK_OP_FAILS(dc_conv2d(t, xhuge, w, NULL, &pool1), DC_ERR_UNSUPPORTED,
                   "dc_conv2d: a conv output of 69998x69998 pixels is too large to pool");
    dc_tensor_free(xhuge);
    /* 'same' never runs out of input: the big kernel is fine there */
    dc_tape *t = dc_tape_new(NULL);
    dc_conv2d_options same = {.padding = DC_PAD_SAME, .stride_h = 2, .stride_w = 2};
    dc_tensor *y = dc_conv2d(t, x, wbig, NULL, &same);
    CHECK(y && y->shape[1] == 3 && y->shape[2] == 3 && y->shape[3] == 4);
    dc_tape_free(t);
    /* the transpose names its own kernel layout */
    dc_tensor *wt = dc_tensor_zeros(DC_DIMS(3, 3, 4, 2));
    CHECK_OP_FAILS(dc_conv2d_transpose(t, x, wt, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d_transpose: x (2,5,5,3) and w (3,3,4,2): x has 3 channels, w "
                   "expects 2");
    CHECK_OP_FAILS(dc_conv2d_transpose(t, x3, wt, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d_transpose: x (5,5,3) must be 4-D (N,H,W,C)");
    dc_tensor *wt3 = dc_tensor_zeros(DC_DIMS(3, 3, 4, 3));
    dc_conv2d_options pool = {.pool_h = 2, .pool_w = 2};
    CHECK_OP_FAILS(dc_conv2d_transpose(t, x, wt3, NULL, &pool), DC_ERR_UNSUPPORTED,
                   "dc_conv2d_transpose: no fused pooling");
    dc_tensor_free(wt3);
    dc_tensor *wt0 = dc_tensor_zeros(DC_DIMS(3, 3, 0, 3));
    CHECK_OP_FAILS(dc_conv2d_transpose(t, x, wt0, NULL, NULL), DC_ERR_SHAPE,
                   "dc_conv2d_transpose: w (3,3,0,3) has zero filters");
    dc_tensor *xs[] = {x, x3, w, w4, w0, wbig, b5, wt, wt0};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++) dc_tensor_free(xs[i]);
}

TEST(pool2d_bad_input) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 5, 5, 3));
    dc_tensor *x2 = dc_tensor_zeros(DC_DIMS(5, 3));
    CHECK_OP_FAILS(dc_max_pool2d(t, x2, 2, 2, NULL), DC_ERR_SHAPE,
                   "dc_max_pool2d: x (5,3) must be 4-D (N,H,W,C)");
    CHECK_OP_FAILS(dc_max_pool2d(t, x, 0, 2, NULL), DC_ERR_ARG,
                   "dc_max_pool2d: pool size (0,2) must be positive");
    dc_pool_options bad_stride = {.stride_w = -1};
    CHECK_OP_FAILS(dc_max_pool2d(t, x, 2, 2, &bad_stride), DC_ERR_ARG,
                   "dc_max_pool2d: strides (2,-1) must be positive");
    CHECK_OP_FAILS(dc_max_pool2d(t, x, 6, 2, NULL), DC_ERR_SHAPE,
                   "dc_max_pool2d: pool 6x2 is larger than the input 5x5 of x (2,5,5,3)");
    CHECK_OP_FAILS(dc_avg_pool2d(t, x, 2, -3, NULL), DC_ERR_ARG,
                   "dc_avg_pool2d: pool size (2,-3) must be positive");
    dc_pool_options bad_pad = {.padding = (dc_padding)3};
    CHECK_OP_FAILS(dc_avg_pool2d(t, x, 2, 2, &bad_pad), DC_ERR_ARG,
                   "dc_avg_pool2d: unknown padding 3");
    CHECK_OP_FAILS(dc_global_avg_pool2d(t, x2), DC_ERR_SHAPE,
                   "dc_global_avg_pool2d: x (5,3) must be 4-D (N,H,W,C)");
    dc_tensor *empty = dc_tensor_zeros(DC_DIMS(2, 0, 3, 4));
    CHECK_OP_FAILS(dc_global_max_pool2d(t, empty), DC_ERR_SHAPE,
                   "dc_global_max_pool2d: x (2,0,3,4) has no pixels");
    dc_tensor_free(empty);
    dc_tensor_free(x);
    dc_tensor_free(x2);
}

/* The fused ReLU equals conv2d followed by a separate max(0, .). */
TEST(conv2d_relu_fused_matches_unfused) {
    dc_rng rng;
    dc_rng_seed(&rng, 5);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(3, 7, 6, 2), -1, 1, &rng);
    dc_tensor *w = dc_tensor_uniform(DC_DIMS(3, 3, 2, 5), -1, 1, &rng);
    dc_tensor *b = dc_tensor_uniform(DC_DIMS(5), -1, 1, &rng);
    dc_tape *t = dc_tape_new(NULL);
    dc_conv2d_options o = {.padding = DC_PAD_SAME, .stride_h = 2};
    dc_tensor *y = dc_conv2d(t, x, w, b, &o);
    o.activation = DC_CONV_ACT_RELU;
    dc_tensor *yr = dc_conv2d(t, x, w, b, &o);
    CHECK(y && yr && y->size == yr->size);
    int neg = 0;
    for (int64_t i = 0; y && yr && i < y->size; i++) {
        neg += y->data[i] < 0;
        CHECK_NEAR(yr->data[i], y->data[i] > 0 ? y->data[i] : 0, 0);
    }
    CHECK(neg > 0);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(b);
}

/* Batch norm against the Keras rule computed with PyTorch: output, gradients and the
 * updated moving statistics (which inference leaves alone). */
TEST(batch_norm_matches_reference) {
    const char *names[] = {"bn0", "bn1", "bn2"};
    for (int k = 0; k < 3; k++) {
        const char *nm = names[k];
        const dc_tensor *cfg = rget(nm, "cfg");
        if (!cfg) continue;
        dc_tensor *x = param_from(rget(nm, "x")), *g = param_from(rget(nm, "gamma"));
        dc_tensor *b = param_from(rget(nm, "beta"));
        dc_tensor *mm = dc_tensor_clone(rget(nm, "mm")), *mv = dc_tensor_clone(rget(nm, "mv"));
        dc_tape *t = dc_tape_new(NULL);
        dc_tensor *y = dc_batch_norm(t, x, g, b, mm, mv, cfg->data[0] != 0, cfg->data[1],
                                     cfg->data[2]);
        CHECK(y != NULL);
        if (y) {
            check_ref(nm, "y", y->data, y->ndim, y->shape, 1e-5, 1e-4);
            check_ref(nm, "mm_new", mm->data, mm->ndim, mm->shape, 1e-6, 1e-5);
            check_ref(nm, "mv_new", mv->data, mv->ndim, mv->shape, 1e-6, 1e-5);
            CHECK_OK(dc_tape_backward_seeded(t, y, rget(nm, "dy")->data));
            check_ref(nm, "dx", x->grad, x->ndim, x->shape, 1e-5, 1e-4);
            check_ref(nm, "dgamma", g->grad, g->ndim, g->shape, 1e-5, 1e-4);
            check_ref(nm, "dbeta", b->grad, b->ndim, b->shape, 1e-5, 1e-4);
        }
        dc_tape_free(t);
        dc_tensor *all[] = {x, g, b, mm, mv};
        for (int i = 0; i < 5; i++) dc_tensor_free(all[i]);
    }
}

/* Zero momentum and epsilon mean Keras' 0.99 and 1e-3. */
TEST(batch_norm_defaults_are_keras) {
    float xs[] = {1, 10, 3, 20};
    dc_tensor *x = dc_tensor_from_data(DC_DIMS(2, 2), xs);
    dc_tensor *g = dc_tensor_zeros(DC_DIMS(2)), *b = dc_tensor_zeros(DC_DIMS(2));
    dc_tensor *mm = dc_tensor_zeros(DC_DIMS(2)), *mv = dc_tensor_zeros(DC_DIMS(2));
    dc_tensor_fill(g, 1);
    dc_tensor_fill(mv, 1);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = dc_batch_norm(t, x, g, b, mm, mv, true, 0, 0);
    CHECK(y != NULL);
    /* channel 0: mean 2, biased variance 1 */
    CHECK_NEAR(mm->data[0], 0.02, 1e-6);
    CHECK_NEAR(mv->data[0], 0.99 + 0.01 * 1.0, 1e-6);
    CHECK_NEAR(mv->data[1], 0.99 + 0.01 * 25.0, 1e-5);
    if (y) CHECK_NEAR(y->data[0], -1.0 / sqrt(1.0 + 1e-3), 1e-6);
    /* inference reads the moving statistics and leaves them alone */
    dc_tensor *yi = dc_batch_norm(t, x, g, b, mm, mv, false, 0, 0);
    CHECK(yi != NULL);
    if (yi) CHECK_NEAR(yi->data[0], (1 - 0.02) / sqrt(1.0 + 1e-3), 1e-5);
    CHECK_NEAR(mm->data[0], 0.02, 1e-6);
    dc_tape_free(t);
    dc_tensor *all[] = {x, g, b, mm, mv};
    for (int i = 0; i < 5; i++) dc_tensor_free(all[i]);
}

TEST(batch_norm_bad_input) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 3, 3, 4)), *x1 = dc_tensor_zeros(DC_DIMS(4));
    dc_tensor *p4 = dc_tensor_zeros(DC_DIMS(4)), *p3 = dc_tensor_zeros(DC_DIMS(3));
    CHECK_OP_FAILS(dc_batch_norm(t, x, p4, p3, p4, p4, true, 0, 0), DC_ERR_SHAPE,
                   "dc_batch_norm: beta (3) does not match the 4 channels of x (2,3,3,4)");
    CHECK_OP_FAILS(dc_batch_norm(t, x, p4, p4, p4, p3, true, 0, 0), DC_ERR_SHAPE,
                   "dc_batch_norm: moving_var (3) does not match the 4 channels of x (2,3,3,4)");
    CHECK_OP_FAILS(dc_batch_norm(t, x1, p4, p4, p4, p4, true, 0, 0), DC_ERR_SHAPE,
                   "dc_batch_norm: x (4) must have at least 2 dims (..., C)");
    CHECK_OP_FAILS(dc_batch_norm(t, x, p4, p4, p4, p4, true, 1.5f, 0), DC_ERR_ARG,
                   "dc_batch_norm: momentum 1.5 must be in [0, 1]");
    CHECK_OP_FAILS(dc_batch_norm(t, x, p4, p4, p4, p4, true, 0, -1), DC_ERR_ARG,
                   "dc_batch_norm: epsilon -1 must be positive");
    CHECK_OP_FAILS(dc_batch_norm(t, x, p4, p4, NULL, p4, true, 0, 0), DC_ERR_ARG,
                   "input 4 is NULL");
    dc_tensor *all[] = {x, x1, p4, p3};
    for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
}

TEST(upsample2d_matches_pytorch) {
    const char *names[] = {"up0", "up1", "up2"};
    for (int k = 0; k < 3; k++) {
        const dc_tensor *cfg = rget(names[k], "cfg");
        if (!cfg) continue;
        dc_tensor *x = param_from(rget(names[k], "x"));
        dc_tape *t = dc_tape_new(NULL);
        dc_tensor *y = dc_upsample2d(t, x, (int)cfg->data[0], (int)cfg->data[1], cfg->data[2] != 0);
        CHECK(y != NULL);
        if (y) {
            check_ref(names[k], "y", y->data, y->ndim, y->shape, 1e-6, 1e-5);
            CHECK_OK(dc_tape_backward_seeded(t, y, rget(names[k], "dy")->data));
            check_ref(names[k], "dx", x->grad, x->ndim, x->shape, 1e-6, 1e-5);
        }
        dc_tape_free(t);
        dc_tensor_free(x);
    }
}

TEST(upsample2d_bad_input) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 3, 3, 4)), *x3 = dc_tensor_zeros(DC_DIMS(3, 3, 4));
    CHECK_OP_FAILS(dc_upsample2d(t, x3, 2, 2, false), DC_ERR_SHAPE,
                   "dc_upsample2d: x (3,3,4) must be 4-D (N,H,W,C)");
    CHECK_OP_FAILS(dc_upsample2d(t, x, 0, 2, true), DC_ERR_ARG,
                   "dc_upsample2d: size (0,2) must be positive");
    /* an empty batch whose pixels could not be counted is no tensor at all */
    CHECK(dc_tensor_zeros(DC_DIMS(0, INT64_MAX / 2, 3, 4)) == NULL);
    CHECK_MSG("dc_tensor_zeros: shape's element count overflows");
    dc_tensor *xe = dc_tensor_zeros(DC_DIMS(0, INT64_MAX / 4, 1, 1));
    CHECK(xe != NULL);
    CHECK_OP_FAILS(dc_upsample2d(t, xe, 5, 1, false), DC_ERR_SHAPE,
                   "dc_upsample2d: x (0,2305843009213693951,1,1) upsampled by (5,1) overflows");
    dc_tensor_free(xe);
    dc_tensor_free(x);
    dc_tensor_free(x3);
}

/* An empty batch may carry any H and W: the transpose's grown size must not wrap. */
TEST(conv2d_transpose_output_size_overflow_is_an_error) {
    dc_tensor *xe = dc_tensor_zeros(DC_DIMS(0, INT64_MAX / 4, 1, 2));
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(3, 3, 4, 2));
    CHECK(xe && w);
    dc_conv2d_options s5 = {.stride_h = 5, .stride_w = 1};
    CHECK_OP_FAILS(dc_conv2d_transpose(t, xe, w, NULL, &s5), DC_ERR_SHAPE,
                   "dc_conv2d_transpose: x (0,2305843009213693951,1,2) through w (3,3,4,2) with "
                   "strides (5,1) and dilations (1,1) overflows");
    /* 4 * (2^61 - 1) fits, but 'valid' adds the kernel's overhang (8 - 4) past it */
    dc_tensor *w8 = dc_tensor_zeros(DC_DIMS(8, 1, 1, 2));
    dc_conv2d_options s4 = {.stride_h = 4, .stride_w = 1};
    CHECK_OP_FAILS(dc_conv2d_transpose(t, xe, w8, NULL, &s4), DC_ERR_SHAPE, "overflows");
    s4.padding = DC_PAD_SAME; /* no overhang: the size fits */
    dc_tape *t2 = dc_tape_new(NULL);
    dc_tensor *y = dc_conv2d_transpose(t2, xe, w8, NULL, &s4);
    CHECK(y && y->size == 0 && y->shape[1] == INT64_MAX / 4 * 4);
    dc_tape_free(t2);
    dc_tensor_free(w8);
    dc_tensor_free(xe);
    dc_tensor_free(w);
}

/* Max pooling lets a NaN through, as PyTorch does, and keeps the first of ties. */
TEST(max_pool2d_nan_and_ties) {
    float xs[8] = {1, 5, NAN, 2, 7, 7, 3, 7};
    dc_tensor *x = dc_tensor_from_data(DC_DIMS(1, 2, 2, 2), xs);
    dc_tensor_set_requires_grad(x, true);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = dc_max_pool2d(t, x, 2, 2, NULL);
    CHECK(y && y->size == 2);
    if (y) {
        CHECK(isnan(y->data[0]));
        CHECK_NEAR(y->data[1], 7, 0);
        float seed[2] = {1, 10};
        CHECK_OK(dc_tape_backward_seeded(t, y, seed));
        float want[8] = {0, 0, 1, 0, 0, 10, 0, 0};
        CHECK_ALLCLOSE(x->grad, want, 8, 0, 0);
    }
    dc_tape_free(t);
    dc_tensor_free(x);
}

/* One training step through every op of this family; the caller frees nothing. */
static dc_tensor *conv_family_step(dc_tape *t, dc_tensor *x, dc_tensor **p) {
    dc_conv2d_options o = {.padding = DC_PAD_SAME, .activation = DC_CONV_ACT_RELU};
    dc_tensor *h = dc_conv2d(t, x, p[0], p[1], &o);
    h = dc_batch_norm(t, h, p[2], p[3], p[4], p[5], true, 0, 0);
    h = dc_max_pool2d(t, h, 2, 2, NULL);
    dc_conv2d_options s2 = {.stride_h = 2, .stride_w = 2};
    h = dc_conv2d_transpose(t, h, p[6], NULL, &s2);
    h = dc_avg_pool2d(t, h, 2, 2, NULL);
    dc_conv2d_options fused = {.padding = DC_PAD_SAME, .activation = DC_CONV_ACT_RELU,
                               .pool_h = 2, .pool_w = 2};
    h = dc_conv2d(t, h, p[7], NULL, &fused);
    h = dc_upsample2d(t, h, 2, 2, true);
    if (!dc_global_max_pool2d(t, h)) return NULL;
    return dc_global_avg_pool2d(t, h);
}

static dc_tensor **conv_family_params(dc_rng *rng) {
    static dc_tensor *p[8];
    p[0] = dc_tensor_uniform(DC_DIMS(3, 3, 6, 8), -0.3f, 0.3f, rng);
    p[1] = dc_tensor_zeros(DC_DIMS(8));
    p[2] = dc_tensor_zeros(DC_DIMS(8));
    p[3] = dc_tensor_zeros(DC_DIMS(8));
    p[4] = dc_tensor_zeros(DC_DIMS(8));
    p[5] = dc_tensor_zeros(DC_DIMS(8));
    p[6] = dc_tensor_uniform(DC_DIMS(2, 2, 8, 8), -0.3f, 0.3f, rng);
    p[7] = dc_tensor_uniform(DC_DIMS(3, 3, 8, 32), -0.3f, 0.3f, rng);
    dc_tensor_fill(p[2], 1);
    dc_tensor_fill(p[5], 1);
    int trainable[] = {0, 1, 2, 3, 6, 7};
    for (int i = 0; i < 6; i++) dc_tensor_set_requires_grad(p[trainable[i]], true);
    return p;
}

/* After the first step, a step allocates nothing (the tape's arena is reused). */
TEST(conv_ops_steps_allocate_nothing) {
    dc_rng rng;
    dc_rng_seed(&rng, 3);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(4, 12, 12, 6), -1, 1, &rng);
    dc_tensor **p = conv_family_params(&rng);
    dc_tape *t = dc_tape_new(NULL);
    uint64_t before = 0;
    for (int step = 0; step < 3; step++) {
        if (step == 1) before = dc_alloc_count();
        dc_tape_reset(t);
        dc_tensor *y = conv_family_step(t, x, p);
        CHECK(y != NULL);
        if (!y) break;
        float seed[4 * 32];
        for (int i = 0; i < 4 * 32; i++) seed[i] = 1.0f / (float)(i + 1);
        CHECK(y->size == 4 * 32);
        CHECK_OK(dc_tape_backward_seeded(t, y, seed));
    }
    CHECK(dc_alloc_count() == before);
    dc_tape_free(t);
    dc_tensor_free(x);
    for (int i = 0; i < 8; i++) dc_tensor_free(p[i]);
}

/* The same step gives the same bits with one thread or two (fixed reduction order). */
TEST(conv_ops_same_bits_any_thread_count) {
    int keep = dc_get_num_threads();
    float *out[2] = {NULL, NULL};
    int64_t total = 0;
    for (int run = 0; run < 2; run++) {
        dc_set_num_threads(run == 0 ? 1 : 2);
        dc_rng rng;
        dc_rng_seed(&rng, 11);
        dc_tensor *x = dc_tensor_uniform(DC_DIMS(16, 24, 24, 6), -1, 1, &rng);
        dc_tensor **p = conv_family_params(&rng);
        dc_tape *t = dc_tape_new(NULL);
        dc_tensor *y = conv_family_step(t, x, p);
        CHECK(y != NULL);
        float seed[16 * 32];
        CHECK(!y || y->size == 16 * 32);
        for (int i = 0; i < 16 * 32; i++) seed[i] = 1.0f / (float)(i + 1);
        if (y) CHECK_OK(dc_tape_backward_seeded(t, y, seed));
        int grads[] = {0, 1, 2, 3, 6, 7};
        total = 0;
        for (int i = 0; i < 6; i++) total += p[grads[i]]->size;
        total += 16; /* the moving statistics */
        out[run] = calloc((size_t)total, sizeof(float));
        int64_t k = 0;
        for (int i = 0; i < 6; i++) {
            memcpy(out[run] + k, p[grads[i]]->grad, sizeof(float) * (size_t)p[grads[i]]->size);
            k += p[grads[i]]->size;
        }
        memcpy(out[run] + k, p[4]->data, 8 * sizeof(float));
        memcpy(out[run] + k + 8, p[5]->data, 8 * sizeof(float));
        dc_tape_free(t);
        dc_tensor_free(x);
        for (int i = 0; i < 8; i++) dc_tensor_free(p[i]);
    }
    dc_set_num_threads(keep);
    CHECK(memcmp(out[0], out[1], sizeof(float) * (size_t)total) == 0);
    free(out[0]);
    free(out[1]);
}

/* The fused conv + max pool equals conv2d followed by max_pool2d, gradients too,
 * over more images than there are chunks (some chunks hold two); C channels
 * (8 or more: the implicit-GEMM path), F filters (33..36: the k-split kernels
 * for y and dW), padding and dilation as given, pooled output (po,qo). */
static void check_fused_matches_unfused(int64_t C, int64_t F, dc_padding pad, int64_t dil,
                                        int64_t po, int64_t qo) {
    dc_rng rng;
    dc_rng_seed(&rng, 21);
    const int64_t N = 19;
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(N, 11, 10, C), -1, 1, &rng);
    dc_tensor *w = dc_tensor_uniform(DC_DIMS(3, 3, C, F), -0.5f, 0.5f, &rng);
    dc_tensor *b = dc_tensor_uniform(DC_DIMS(F), -0.2f, 0.2f, &rng);
    dc_tensor *ps[3] = {x, w, b};
    float *grads[2][3];
    float *outs[2];
    int64_t ny = 0;
    for (int fused = 0; fused < 2; fused++) {
        for (int i = 0; i < 3; i++) {
            dc_tensor_set_requires_grad(ps[i], true);
            dc_tensor_zero_grad(ps[i]);
        }
        dc_tape *t = dc_tape_new(NULL);
        dc_conv2d_options o = {.activation = DC_CONV_ACT_RELU, .padding = pad,
                               .dilation_h = dil, .dilation_w = dil};
        dc_tensor *y;
        if (fused) {
            o.pool_h = 2, o.pool_w = 3;
            y = dc_conv2d(t, x, w, b, &o);
        } else {
            y = dc_max_pool2d(t, dc_conv2d(t, x, w, b, &o), 2, 3, NULL);
        }
        CHECK(y != NULL);
        if (!y) {
            dc_tape_free(t);
            outs[fused] = NULL;
            continue;
        }
        CHECK(y->shape[0] == N && y->shape[1] == po && y->shape[2] == qo && y->shape[3] == F);
        ny = y->size;
        float *seed = malloc(sizeof(float) * (size_t)ny);
        dc_rng_seed(&rng, 77); /* the same seed gradient for both runs */
        for (int64_t i = 0; i < ny; i++) seed[i] = (float)dc_rng_uniform(&rng) - 0.5f;
        CHECK_OK(dc_tape_backward_seeded(t, y, seed));
        free(seed);
        outs[fused] = malloc(sizeof(float) * (size_t)ny);
        memcpy(outs[fused], y->data, sizeof(float) * (size_t)ny);
        for (int i = 0; i < 3; i++) {
            grads[fused][i] = malloc(sizeof(float) * (size_t)ps[i]->size);
            memcpy(grads[fused][i], ps[i]->grad, sizeof(float) * (size_t)ps[i]->size);
        }
        dc_tape_free(t);
    }
    if (outs[0] && outs[1]) {
        CHECK_ALLCLOSE(outs[1], outs[0], ny, 1e-6, 1e-5);
        for (int i = 0; i < 3; i++)
            CHECK_ALLCLOSE(grads[1][i], grads[0][i], ps[i]->size, 1e-5, 1e-4);
        for (int f = 0; f < 2; f++)
            for (int i = 0; i < 3; i++) free(grads[f][i]);
    }
    free(outs[0]);
    free(outs[1]);
    for (int i = 0; i < 3; i++) dc_tensor_free(ps[i]);
}

TEST(conv2d_maxpool_matches_unfused) {
    check_fused_matches_unfused(3, 6, DC_PAD_SAME, 1, 5, 3);
    check_fused_matches_unfused(10, 6, DC_PAD_SAME, 1, 5, 3);
    check_fused_matches_unfused(9, 6, DC_PAD_VALID, 2, 3, 2);
    check_fused_matches_unfused(8, 6, DC_PAD_SAME, 2, 5, 3);
    check_fused_matches_unfused(12, 36, DC_PAD_SAME, 1, 5, 3);
    check_fused_matches_unfused(8, 33, DC_PAD_VALID, 1, 4, 2);
}

/* An empty batch gives an empty result, forward and backward. */
TEST(conv_ops_empty_batch) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(0, 6, 6, 3));
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(3, 3, 3, 4));
    dc_tensor_set_requires_grad(x, true);
    dc_tensor_set_requires_grad(w, true);
    dc_tape *t = dc_tape_new(NULL);
    dc_conv2d_options pool = {.pool_h = 2, .pool_w = 2};
    dc_tensor *ys[] = {dc_conv2d(t, x, w, NULL, NULL), dc_conv2d(t, x, w, NULL, &pool),
                       dc_max_pool2d(t, x, 2, 2, NULL), dc_avg_pool2d(t, x, 2, 2, NULL),
                       dc_upsample2d(t, x, 2, 2, true), dc_global_avg_pool2d(t, x)};
    for (int i = 0; i < 6; i++) {
        CHECK(ys[i] != NULL);
        if (!ys[i]) continue;
        CHECK(ys[i]->size == 0 && ys[i]->shape[0] == 0);
        CHECK_OK(dc_tape_backward_seeded(t, ys[i], (const float[]){0}));
    }
    for (int64_t i = 0; i < w->size; i++) CHECK(w->grad[i] == 0);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
}

/* Keras 'same' with stride 2 on an even size pads only after (bottom/right):
 * the first window starts on the first pixel, where PyTorch's padding=1 would
 * start it one pixel earlier. */
TEST(conv2d_same_stride2_pads_after) {
    float xs[16];
    for (int i = 0; i < 16; i++) xs[i] = (float)(i + 1);
    dc_tensor *x = dc_tensor_from_data(DC_DIMS(1, 4, 4, 1), xs);
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(3, 3, 1, 1));
    dc_tensor_fill(w, 1);
    dc_tape *t = dc_tape_new(NULL);
    dc_conv2d_options o = {.stride_h = 2, .stride_w = 2, .padding = DC_PAD_SAME};
    dc_tensor *y = dc_conv2d(t, x, w, NULL, &o);
    CHECK(y && y->shape[1] == 2 && y->shape[2] == 2);
    if (y) {
        CHECK_NEAR(y->data[0], 1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11, 0);
        CHECK_NEAR(y->data[3], 11 + 12 + 15 + 16, 0); /* the bottom-right pad */
    }
    dc_pool_options po = {.stride_h = 2, .stride_w = 2, .padding = DC_PAD_SAME};
    dc_tensor *p = dc_avg_pool2d(t, x, 3, 3, &po); /* 2 outputs, pad 1 after */
    CHECK(p && p->shape[1] == 2);
    if (p) {
        CHECK_NEAR(p->data[0], (1 + 2 + 3 + 5 + 6 + 7 + 9 + 10 + 11) / 9.0, 1e-5);
        CHECK_NEAR(p->data[3], (11 + 12 + 15 + 16) / 4.0, 1e-5); /* real pixels only */
    }
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
}

/* One grey channel through a 3x3 kernel, stride 1 (the first layer of a small
 * CNN, which im2col fills 9 floats a pixel at a time): equal to a direct sum
 * over the window, with 'same' padding's zeros, on images down to 1x1. */
TEST(conv2d_one_channel_3x3_matches_direct_sum) {
    static const int64_t sizes[][2] = {{1, 1}, {2, 3}, {3, 2}, {5, 4}, {7, 9}};
    dc_rng rng;
    dc_rng_seed(&rng, 21);
    dc_tensor *w = dc_tensor_uniform(DC_DIMS(3, 3, 1, 2), -1, 1, &rng);
    for (int si = 0; si < 5; si++) {
        const int64_t H = sizes[si][0], W = sizes[si][1];
        dc_tensor *x = dc_tensor_uniform(DC_DIMS(2, H, W, 1), -1, 1, &rng);
        for (int same = 0; same < 2; same++) {
            if (!same && (H < 3 || W < 3)) continue;
            dc_tape *t = dc_tape_new(NULL);
            dc_conv2d_options o = {.padding = same ? DC_PAD_SAME : DC_PAD_VALID};
            dc_tensor *y = dc_conv2d(t, x, w, NULL, &o);
            const int64_t HO = same ? H : H - 2, WO = same ? W : W - 2, pad = same;
            CHECK(y && y->shape[1] == HO && y->shape[2] == WO);
            int bad = 0;
            for (int64_t n = 0; y && n < 2; n++)
                for (int64_t oh = 0; oh < HO; oh++)
                    for (int64_t ow = 0; ow < WO; ow++)
                        for (int64_t f = 0; f < 2; f++) {
                            double sum = 0;
                            for (int64_t kh = 0; kh < 3; kh++)
                                for (int64_t kw = 0; kw < 3; kw++) {
                                    const int64_t ih = oh + kh - pad, iw = ow + kw - pad;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                    sum += (double)x->data[(n * H + ih) * W + iw] *
                                           w->data[(kh * 3 + kw) * 2 + f];
                                }
                            if (fabs(y->data[((n * HO + oh) * WO + ow) * 2 + f] - sum) > 1e-5) bad++;
                        }
            if (bad) test_fail(__FILE__, __LINE__, "%lldx%lld %s: %d outputs differ", (long long)H,
                               (long long)W, same ? "same" : "valid", bad);
            dc_tape_free(t);
        }
        dc_tensor_free(x);
    }
    dc_tensor_free(w);
}

/* Every ISA build of the fused pool's kernels gives the portable build's bits:
 * maxima with ties and NaNs, argmax, the gradient put back and the bias sum,
 * for filter counts around the vector width and non-square windows. */
TEST(maxpool_kernels_same_bits_every_isa) {
    dc_rng rng;
    dc_rng_seed(&rng, 31);
    const int64_t fs[] = {1, 5, 16, 24, 36}, win[][2] = {{2, 2}, {2, 3}, {1, 1}};
    const dc_maxpool_kernels *ref = dc_maxpool_kernels_isa(DC_ISA_PORTABLE);
    for (int isa = DC_ISA_AVX2; isa <= (int)dc_cpu_best_isa(); isa++) {
        const dc_maxpool_kernels *k = dc_maxpool_kernels_isa((dc_isa)isa);
        for (size_t a = 0; a < sizeof fs / sizeof fs[0]; a++)
            for (size_t b = 0; b < sizeof win / sizeof win[0]; b++) {
                const dc_maxpool_geom g = {.po = 3, .qo = 2, .ph = win[b][0], .pw = win[b][1],
                                           .wo = 2 * win[b][1] + 1, .f = fs[a]};
                const int64_t nz = 3 * g.ph * g.wo * g.f, ny = 3 * 2 * g.f;
                float *z = malloc(sizeof(float) * (size_t)nz), *y[2], *gz[2], db[2][36];
                int32_t *arg[2];
                for (int64_t i = 0; i < nz; i++) {
                    float u = (float)dc_rng_uniform(&rng);
                    z[i] = u < 0.1f ? NAN : u < 0.3f ? 0.5f : u - 0.6f; /* NaNs and ties */
                }
                float *gy = malloc(sizeof(float) * (size_t)ny);
                for (int64_t i = 0; i < ny; i++) gy[i] = (float)dc_rng_uniform(&rng) - 0.5f;
                for (int r = 0; r < 2; r++) {
                    const dc_maxpool_kernels *kr = r ? k : ref;
                    y[r] = malloc(sizeof(float) * (size_t)ny);
                    arg[r] = malloc(sizeof(int32_t) * (size_t)ny);
                    gz[r] = calloc((size_t)nz, sizeof(float));
                    for (int64_t f = 0; f < g.f; f++) db[r][f] = 0.25f;
                    kr->pool(&g, z, y[r], arg[r]);
                    kr->unpool(&g, y[r], gy, arg[r], (a + b) % 2 == 0, gz[r], db[r]);
                }
                CHECK(memcmp(y[0], y[1], sizeof(float) * (size_t)ny) == 0);
                CHECK(memcmp(arg[0], arg[1], sizeof(int32_t) * (size_t)ny) == 0);
                CHECK(memcmp(gz[0], gz[1], sizeof(float) * (size_t)nz) == 0);
                CHECK(memcmp(db[0], db[1], sizeof(float) * (size_t)g.f) == 0);
                for (int r = 0; r < 2; r++) free(y[r]), free(arg[r]), free(gz[r]);
                free(z);
                free(gy);
            }
    }
}

/* ---- the plain conv2d's implicit-GEMM path (stride 1, >= 8 channels) ---- */

/* Direct sums in double of conv2d (stride 1) with bias and optional ReLU, and its
 * gradients for the output gradient gy: y (N,HO,WO,F), dx (N,H,W,C), dw (KH,KW,C,F),
 * db (F). */
typedef struct {
    int64_t N, H, W, C, KH, KW, F, dil, HO, WO, pt, pl;
    bool relu;
} direct_conv;

static void direct_conv_run(const direct_conv *d, const float *x, const float *w, const float *b,
                            const float *gy, double *y, double *dx, double *dw, double *db) {
    const int64_t F = d->F, C = d->C;
    memset(dx, 0, sizeof(double) * (size_t)(d->N * d->H * d->W * C));
    memset(dw, 0, sizeof(double) * (size_t)(d->KH * d->KW * C * F));
    memset(db, 0, sizeof(double) * (size_t)F);
    for (int64_t n = 0; n < d->N; n++)
        for (int64_t oh = 0; oh < d->HO; oh++)
            for (int64_t ow = 0; ow < d->WO; ow++)
                for (int64_t f = 0; f < F; f++) {
                    const int64_t o = ((n * d->HO + oh) * d->WO + ow) * F + f;
                    double s = b[f];
                    for (int pass = 0; pass < 2; pass++) {
                        const double g = pass && !(d->relu && s <= 0) ? gy[o] : 0;
                        if (pass) db[f] += g;
                        for (int64_t kh = 0; kh < d->KH; kh++)
                            for (int64_t kw = 0; kw < d->KW; kw++) {
                                const int64_t ih = oh + kh * d->dil - d->pt;
                                const int64_t iw = ow + kw * d->dil - d->pl;
                                if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W) continue;
                                for (int64_t c = 0; c < C; c++) {
                                    const int64_t xi = ((n * d->H + ih) * d->W + iw) * C + c;
                                    const int64_t wi = ((kh * d->KW + kw) * C + c) * F + f;
                                    if (!pass) s += (double)x[xi] * w[wi];
                                    else dx[xi] += g * w[wi], dw[wi] += g * x[xi];
                                }
                            }
                    }
                    y[o] = d->relu && s < 0 ? 0 : s;
                }
}

/* Largest |got - want| / (atol + rtol |want|) over n values. */
static double worst_ratio(const float *got, const double *want, int64_t n, double atol,
                          double rtol) {
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        const double r = fabs(got[i] - want[i]) / (atol + rtol * fabs(want[i]));
        if (!(r <= worst)) worst = r; /* NaN counts as worst */
    }
    return worst;
}

/* One shape through dc_conv2d on every GEMM path and thread count: values
 * against the direct sums; the same bits for 1 and 2 threads. */
static void check_implicit_conv(int64_t N, int64_t H, int64_t W, int64_t C, int64_t KH,
                                int64_t KW, int64_t F, int64_t dil, dc_padding pad, bool relu) {
    dc_rng rng;
    dc_rng_seed(&rng, (uint64_t)(H * 131 + W * 17 + C * 7 + F));
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(N, H, W, C), -1, 1, &rng);
    dc_tensor *w = dc_tensor_uniform(DC_DIMS(KH, KW, C, F), -0.5f, 0.5f, &rng);
    dc_tensor *b = dc_tensor_uniform(DC_DIMS(F), -0.2f, 0.2f, &rng);
    direct_conv d = {N, H, W, C, KH, KW, F, dil, 0, 0, 0, 0, relu};
    dc_conv_out_len(H, KH, 1, dil, pad == DC_PAD_SAME, &d.HO, &d.pt);
    dc_conv_out_len(W, KW, 1, dil, pad == DC_PAD_SAME, &d.WO, &d.pl);
    const int64_t ny = N * d.HO * d.WO * F, nw = w->size;
    float *gy = malloc(sizeof(float) * (size_t)ny), *bits = NULL;
    for (int64_t i = 0; i < ny; i++) gy[i] = (float)dc_rng_uniform(&rng) - 0.5f;
    double *y = malloc(sizeof(double) * (size_t)(ny + x->size + nw + F));
    double *dx = y + ny, *dw = dx + x->size, *db = dw + nw;
    direct_conv_run(&d, x->data, w->data, b->data, gy, y, dx, dw, db);
    dc_tensor *ps[3] = {x, w, b};
    const int keep = dc_get_num_threads();
    const int paths[] = {DC_ISA_PORTABLE, DC_ISA_AVX2, DC_ISA_AVX512};
    const int64_t nall = ny + x->size + nw + F;
    for (int p = 0; p < 3; p++) {
        if (dc_gemm_set_isa(paths[p]) != paths[p]) continue;
        for (int th = 1; th <= 2; th++) {
            dc_set_num_threads(th);
            for (int i = 0; i < 3; i++) {
                dc_tensor_set_requires_grad(ps[i], true);
                dc_tensor_zero_grad(ps[i]);
            }
            dc_tape *t = dc_tape_new(NULL);
            dc_conv2d_options o = {.padding = pad, .dilation_h = (int)dil, .dilation_w = (int)dil,
                                   .activation = relu ? DC_CONV_ACT_RELU : DC_CONV_ACT_NONE};
            dc_tensor *yt = dc_conv2d(t, x, w, b, &o);
            CHECK(yt && yt->size == ny);
            if (!yt || yt->size != ny) {
                dc_tape_free(t);
                continue;
            }
            CHECK_OK(dc_tape_backward_seeded(t, yt, gy));
            const double r[4] = {worst_ratio(yt->data, y, ny, 1e-5, 1e-4),
                                 worst_ratio(x->grad, dx, x->size, 1e-5, 1e-4),
                                 worst_ratio(w->grad, dw, nw, 1e-4, 1e-4),
                                 worst_ratio(b->grad, db, F, 1e-4, 1e-4)};
            for (int k = 0; k < 4; k++)
                if (!(r[k] <= 1))
                    test_fail(__FILE__, __LINE__,
                              "%lldx%lldx%lld C %lld F %lld kernel %lldx%lld dil %lld %s isa %d "
                              "threads %d: %s off by %.3g x tolerance",
                              (long long)N, (long long)H, (long long)W, (long long)C, (long long)F,
                              (long long)KH, (long long)KW, (long long)dil,
                              pad == DC_PAD_SAME ? "same" : "valid", paths[p], th,
                              (const char *[]){"y", "dx", "dw", "db"}[k], r[k]);
            /* 1 thread, then 2: the same bits */
            float *cur = malloc(sizeof(float) * (size_t)nall);
            memcpy(cur, yt->data, sizeof(float) * (size_t)ny);
            memcpy(cur + ny, x->grad, sizeof(float) * (size_t)x->size);
            memcpy(cur + ny + x->size, w->grad, sizeof(float) * (size_t)nw);
            memcpy(cur + ny + x->size + nw, b->grad, sizeof(float) * (size_t)F);
            if (th == 1) {
                bits = cur;
            } else {
                CHECK(memcmp(bits, cur, sizeof(float) * (size_t)nall) == 0);
                free(bits);
                free(cur);
                bits = NULL;
            }
            dc_tape_free(t);
        }
    }
    dc_gemm_set_isa(-1);
    dc_set_num_threads(keep);
    free(bits);
    free(gy);
    free(y);
    for (int i = 0; i < 3; i++) dc_tensor_free(ps[i]);
}

TEST(conv2d_implicit_matches_direct_sums) {
    /* N, H, W, C, KH, KW, F, dilation, padding, relu: filter and channel counts
     * around the 16-float vector, rows longer and shorter than a 14-row tile,
     * a 1x1 'same' image, a kernel wider than tall, dilation */
    check_implicit_conv(3, 7, 5, 8, 3, 3, 5, 1, DC_PAD_SAME, true);
    check_implicit_conv(2, 9, 17, 13, 3, 3, 36, 1, DC_PAD_SAME, false);
    check_implicit_conv(2, 6, 31, 24, 3, 3, 17, 1, DC_PAD_VALID, true);
    check_implicit_conv(1, 1, 1, 9, 3, 3, 16, 1, DC_PAD_SAME, false);
    check_implicit_conv(2, 8, 9, 11, 2, 3, 24, 2, DC_PAD_SAME, true);
    check_implicit_conv(2, 11, 10, 33, 3, 3, 40, 2, DC_PAD_VALID, false);
}

/* Inference (no gradients recorded) takes the same path without backward state. */
TEST(conv2d_implicit_inference_equals_training_forward) {
    dc_rng rng;
    dc_rng_seed(&rng, 4);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(3, 10, 12, 16), -1, 1, &rng);
    dc_tensor *w = dc_tensor_uniform(DC_DIMS(3, 3, 16, 20), -0.5f, 0.5f, &rng);
    dc_tensor *b = dc_tensor_uniform(DC_DIMS(20), -0.2f, 0.2f, &rng);
    dc_conv2d_options o = {.padding = DC_PAD_SAME, .activation = DC_CONV_ACT_RELU};
    dc_tape *t0 = dc_tape_new(NULL), *t1 = dc_tape_new(NULL);
    dc_tensor *y0 = dc_conv2d(t0, x, w, b, &o);
    dc_tensor_set_requires_grad(w, true);
    dc_tensor *y1 = dc_conv2d(t1, x, w, b, &o);
    CHECK(y0 && y1 && y0->size == y1->size);
    if (y0 && y1) CHECK(memcmp(y0->data, y1->data, sizeof(float) * (size_t)y0->size) == 0);
    dc_tape_free(t0);
    dc_tape_free(t1);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(b);
}

/* Batch statistics and the gamma and beta gradients (sums over rows, taken in
 * float blocks then double chunks) against sums in double, on data far from
 * zero, with more channels than one slice of the summing loop, or few enough
 * that several rows share a vector, and a row count that no block or chunk
 * divides; the same bits for 1 and 2 threads. */
static void check_bn_sums(int64_t M, int64_t C) {
    dc_rng rng;
    dc_rng_seed(&rng, 9);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(M, C), -1, 1, &rng);
    for (int64_t i = 0; i < x->size; i++) x->data[i] += 1000.0f + (float)(i % C);
    float *dy = malloc(sizeof(float) * (size_t)x->size);
    for (int64_t i = 0; i < x->size; i++) dy[i] = (float)dc_rng_uniform(&rng) - 0.3f;
    double *mean = calloc((size_t)C, sizeof(double)), *var = calloc((size_t)C, sizeof(double));
    double *dbeta = calloc((size_t)C, sizeof(double)), *dgamma = calloc((size_t)C, sizeof(double));
    double *dyabs = calloc((size_t)C, sizeof(double));
    for (int64_t r = 0; r < M; r++)
        for (int64_t c = 0; c < C; c++) mean[c] += x->data[r * C + c] / (double)M;
    for (int64_t r = 0; r < M; r++)
        for (int64_t c = 0; c < C; c++) {
            const double d = x->data[r * C + c] - mean[c];
            var[c] += d * d / (double)M;
        }
    for (int64_t r = 0; r < M; r++)
        for (int64_t c = 0; c < C; c++) {
            const double xhat = (x->data[r * C + c] - mean[c]) / sqrt(var[c] + 1e-3);
            dbeta[c] += dy[r * C + c];
            dgamma[c] += dy[r * C + c] * xhat;
            dyabs[c] += fabs(dy[r * C + c]);
        }
    const int keep = dc_get_num_threads();
    float *bits[2];
    for (int th = 1; th <= 2; th++) {
        dc_set_num_threads(th);
        dc_rng_seed(&rng, 10);
        dc_tensor *g = dc_tensor_uniform(DC_DIMS(C), 0.5f, 1.5f, &rng), *b = dc_tensor_zeros(DC_DIMS(C));
        dc_tensor *mm = dc_tensor_zeros(DC_DIMS(C)), *mv = dc_tensor_zeros(DC_DIMS(C));
        dc_tensor_set_requires_grad(g, true);
        dc_tensor_set_requires_grad(b, true);
        dc_tensor_set_requires_grad(x, true);
        dc_tensor_zero_grad(x);
        dc_tape *t = dc_tape_new(NULL);
        /* momentum 1e-30: the moving statistics become the batch's */
        dc_tensor *y = dc_batch_norm(t, x, g, b, mm, mv, true, 1e-30f, 1e-3f);
        CHECK(y != NULL);
        if (y) CHECK_OK(dc_tape_backward_seeded(t, y, dy));
        double worst[4] = {0, 0, 0, 0};
        for (int64_t c = 0; c < C; c++) {
            const double e[4] = {fabs(mm->data[c] - mean[c]) / (1e-6 * fabs(mean[c])),
                                 fabs(mv->data[c] - var[c]) / (1e-4 * var[c]),
                                 fabs(b->grad[c] - dbeta[c]) / (1e-3 + 1e-5 * fabs(dbeta[c])),
                                 /* xhat from the float mean (1000 + c: a step of 6e-5) */
                                 fabs(g->grad[c] - dgamma[c]) / (2e-4 * dyabs[c])};
            for (int k = 0; k < 4; k++)
                if (!(e[k] <= worst[k])) worst[k] = e[k];
        }
        for (int k = 0; k < 4; k++)
            if (!(worst[k] <= 1))
                test_fail(__FILE__, __LINE__, "%s off by %.3g x tolerance (threads %d)",
                          (const char *[]){"mean", "variance", "dbeta", "dgamma"}[k], worst[k], th);
        const int64_t nb = y ? y->size : 0;
        bits[th - 1] = malloc(sizeof(float) * (size_t)(2 * x->size + 4 * C));
        if (y) memcpy(bits[th - 1], y->data, sizeof(float) * (size_t)nb);
        memcpy(bits[th - 1] + x->size, x->grad, sizeof(float) * (size_t)x->size);
        memcpy(bits[th - 1] + 2 * x->size, mm->data, sizeof(float) * (size_t)C);
        memcpy(bits[th - 1] + 2 * x->size + C, mv->data, sizeof(float) * (size_t)C);
        memcpy(bits[th - 1] + 2 * x->size + 2 * C, g->grad, sizeof(float) * (size_t)C);
        memcpy(bits[th - 1] + 2 * x->size + 3 * C, b->grad, sizeof(float) * (size_t)C);
        dc_tape_free(t);
        dc_tensor *all[] = {g, b, mm, mv};
        for (int i = 0; i < 4; i++) dc_tensor_free(all[i]);
    }
    dc_set_num_threads(keep);
    CHECK(memcmp(bits[0], bits[1], sizeof(float) * (size_t)(2 * x->size + 4 * C)) == 0);
    free(bits[0]), free(bits[1]), free(dy), free(mean), free(var), free(dbeta), free(dgamma), free(dyabs);
    dc_tensor_free(x);
}

TEST(batch_norm_sums_accurate_any_thread_count) {
    check_bn_sums(4099, 300);
    check_bn_sums(4099, 24);
    check_bn_sums(2051, 5);
    check_bn_sums(517, 8);
}

/* The batch-normalization kernels give the portable build's bits on every ISA
 * (no FMA contraction, sums in row order), for run widths that fill vectors
 * partly and wholly. */
TEST(batch_norm_kernels_same_bits_every_isa) {
    dc_rng rng;
    dc_rng_seed(&rng, 41);
    enum { ROWS = 7, WMAX = 37 };
    float x[ROWS * WMAX], dy[ROWS * WMAX], cf[5][WMAX];
    for (int i = 0; i < ROWS * WMAX; i++)
        x[i] = (float)dc_rng_uniform(&rng) * 4 - 2, dy[i] = (float)dc_rng_uniform(&rng) - 0.5f;
    for (int a = 0; a < 5; a++)
        for (int c = 0; c < WMAX; c++) cf[a][c] = (float)dc_rng_uniform(&rng) + 0.25f;
    const dc_bn_kernels *ref = dc_bn_kernels_isa(DC_ISA_PORTABLE);
    const int64_t ws[] = {1, 8, 16, 24, 37};
    for (int isa = DC_ISA_AVX2; isa <= (int)dc_cpu_best_isa(); isa++) {
        const dc_bn_kernels *k = dc_bn_kernels_isa((dc_isa)isa);
        for (size_t j = 0; j < sizeof ws / sizeof ws[0]; j++) {
            const int64_t w = ws[j];
            float acc[2][2][WMAX], y[2][ROWS * WMAX], dx[2][ROWS * WMAX];
            for (int r = 0; r < 2; r++) {
                const dc_bn_kernels *kr = r ? k : ref;
                kr->block_sums(DC_BN_SUM_DY_XHAT, dy, x, w, ROWS, w, cf[0], cf[1], acc[r][0],
                               acc[r][1]);
                kr->normalize(x, y[r], ROWS, w, cf[0], cf[1], cf[2], cf[3]);
                for (int i = 0; i < ROWS * WMAX; i++) dx[r][i] = 0.5f;
                kr->input_grad(x, dy, dx[r], ROWS, w, cf[0], cf[1], cf[2], cf[3], cf[4]);
            }
            CHECK(!memcmp(acc[0][0], acc[1][0], (size_t)w * sizeof(float)));
            CHECK(!memcmp(acc[0][1], acc[1][1], (size_t)w * sizeof(float)));
            CHECK(!memcmp(y[0], y[1], (size_t)(ROWS * w) * sizeof(float)));
            CHECK(!memcmp(dx[0], dx[1], (size_t)(ROWS * w) * sizeof(float)));
            CHECK(acc[1][0][0] != 0 && dx[1][0] != 0.5f);
        }
    }
}
