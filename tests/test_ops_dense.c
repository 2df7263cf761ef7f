/* test_ops_dense.c — the fused dense op: gradient checks for each activation
 * with and without bias, PyTorch references, agreement with the unfused
 * matmul + add + activation composition, and bad inputs. */
#include "test.h"
#include "ops/op.h"
#include <stdio.h>

static dc_tensor *d_none(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], in[2], DC_DENSE_ACT_NONE); }
static dc_tensor *d_relu(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], in[2], DC_DENSE_ACT_RELU); }
static dc_tensor *d_sigmoid(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], in[2], DC_DENSE_ACT_SIGMOID); }
static dc_tensor *d_tanh(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], in[2], DC_DENSE_ACT_TANH); }
static dc_tensor *d_none_nob(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], NULL, DC_DENSE_ACT_NONE); }
static dc_tensor *d_relu_nob(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], NULL, DC_DENSE_ACT_RELU); }
static dc_tensor *d_sigmoid_nob(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], NULL, DC_DENSE_ACT_SIGMOID); }
static dc_tensor *d_tanh_nob(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_dense(t, in[0], in[1], NULL, DC_DENSE_ACT_TANH); }

/* relu: a small eps keeps the finite differences off the kink of the
 * pre-activation, which min_abs on the inputs cannot guarantee */
GRAD_CASE(dense_none_bias) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 3, .ndim = {2, 2, 1}, .shape = {{3, 4}, {4, 5}, {5}}, .apply = d_none};
}
GRAD_CASE(dense_relu_bias) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 3, .ndim = {2, 2, 1}, .shape = {{3, 4}, {4, 5}, {5}}, .eps = 1e-3f, .apply = d_relu};
}
GRAD_CASE(dense_sigmoid_bias) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 3, .ndim = {2, 2, 1}, .shape = {{3, 4}, {4, 5}, {5}}, .apply = d_sigmoid};
}
GRAD_CASE(dense_tanh_bias) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 3, .ndim = {2, 2, 1}, .shape = {{3, 4}, {4, 5}, {5}}, .apply = d_tanh};
}
GRAD_CASE(dense_none_nobias_3d) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 2, .ndim = {3, 2}, .shape = {{2, 3, 4}, {4, 5}}, .apply = d_none_nob};
}
GRAD_CASE(dense_relu_nobias) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 2, .ndim = {2, 2}, .shape = {{3, 4}, {4, 5}}, .eps = 1e-3f, .apply = d_relu_nob};
}
GRAD_CASE(dense_sigmoid_nobias) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 2, .ndim = {2, 2}, .shape = {{3, 4}, {4, 5}}, .apply = d_sigmoid_nob};
}
GRAD_CASE(dense_tanh_nobias) {
    *c = (grad_case){.op = DC_OP_DENSE, .n_in = 2, .ndim = {2, 2}, .shape = {{3, 4}, {4, 5}}, .apply = d_tanh_nob};
}

static const char *const act_names[] = {"none", "relu", "sigmoid", "tanh"};

/* out of dc_dense (or, unfused, matmul + add + activation) and the gradients of
 * sum(out * seed) for x, w and (when given) b, into fresh tensors */
typedef struct {
    dc_tensor *x, *w, *b, *y;
    dc_tape *t;
} dense_run;

static bool dense_run_new(dense_run *r, ref_file *f, int act, bool bias, bool fused) {
    memset(r, 0, sizeof *r);
    const dc_tensor *x = ref_get(f, "x"), *w = ref_get(f, "w"), *b = ref_get(f, "b"),
                    *seed = ref_get(f, "seed");
    if (!x || !w || !b || !seed) return false;
    r->x = dc_tensor_clone(x);
    r->w = dc_tensor_clone(w);
    r->b = bias ? dc_tensor_clone(b) : NULL;
    dc_tensor_set_requires_grad(r->x, true);
    dc_tensor_set_requires_grad(r->w, true);
    if (r->b) dc_tensor_set_requires_grad(r->b, true);
    r->t = dc_tape_new(NULL);
    if (fused) {
        r->y = dc_dense(r->t, r->x, r->w, r->b, act);
    } else {
        dc_tensor *z = dc_matmul(r->t, r->x, r->w, false, false);
        if (r->b) z = dc_add(r->t, z, r->b);
        r->y = act == DC_DENSE_ACT_RELU ? dc_relu(r->t, z)
               : act == DC_DENSE_ACT_SIGMOID ? dc_sigmoid(r->t, z)
               : act == DC_DENSE_ACT_TANH ? dc_tanh(r->t, z) : z;
    }
    if (!r->y) {
        test_fail(__FILE__, __LINE__, "dense %s: %s", act_names[act], dc_tape_error(r->t));
        return false;
    }
    CHECK_OK(dc_tape_backward_seeded(r->t, r->y, seed->data));
    return true;
}

static void dense_run_free(dense_run *r) {
    dc_tape_free(r->t);
    dc_tensor_free(r->x);
    dc_tensor_free(r->w);
    dc_tensor_free(r->b);
}

static void check_against(const char *what, const float *got, const dc_tensor *want, int64_t n) {
    if (!want) return;
    if (want->size != n || test_close_ratio(got, want->data, n, 1e-5, 1e-5) > 1)
        test_fail(__FILE__, __LINE__, "%s differs from torch", what);
}

TEST(dense_op_matches_pytorch) {
    ref_file *f = ref_load("ref/data/dense.txt");
    if (!f) return;
    for (int act = 0; act < 4; act++)
        for (int bias = 1; bias >= 0; bias--) {
            dense_run r;
            char key[64];
            const char *tag = bias ? "b" : "nob";
            if (dense_run_new(&r, f, act, bias, true)) {
                snprintf(key, sizeof key, "y_%s_%s", act_names[act], tag);
                check_against(key, r.y->data, ref_get(f, key), r.y->size);
                snprintf(key, sizeof key, "dx_%s_%s", act_names[act], tag);
                check_against(key, r.x->grad, ref_get(f, key), r.x->size);
                snprintf(key, sizeof key, "dw_%s_%s", act_names[act], tag);
                check_against(key, r.w->grad, ref_get(f, key), r.w->size);
                if (bias) {
                    snprintf(key, sizeof key, "db_%s_%s", act_names[act], tag);
                    check_against(key, r.b->grad, ref_get(f, key), r.b->size);
                }
            }
            dense_run_free(&r);
        }
    ref_free(f);
}

TEST(dense_op_matches_unfused_composition) {
    ref_file *f = ref_load("ref/data/dense.txt");
    if (!f) return;
    for (int act = 0; act < 4; act++)
        for (int bias = 0; bias < 2; bias++) {
            dense_run a = {0}, u = {0};
            if (dense_run_new(&a, f, act, bias, true) && dense_run_new(&u, f, act, bias, false)) {
                CHECK_ALLCLOSE(a.y->data, u.y->data, a.y->size, 1e-6, 1e-6);
                CHECK_ALLCLOSE(a.x->grad, u.x->grad, a.x->size, 1e-6, 1e-6);
                CHECK_ALLCLOSE(a.w->grad, u.w->grad, a.w->size, 1e-6, 1e-6);
                if (bias) CHECK_ALLCLOSE(a.b->grad, u.b->grad, a.b->size, 1e-6, 1e-6);
            }
            dense_run_free(&a);
            dense_run_free(&u);
        }
    ref_free(f);
}

TEST(dense_op_bad_inputs) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(32, 784));
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(100, 10));
    dc_tensor *w3 = dc_tensor_zeros(DC_DIMS(784, 10, 1));
    dc_tensor *w2 = dc_tensor_zeros(DC_DIMS(784, 10));
    dc_tensor *b = dc_tensor_zeros(DC_DIMS(7));
    dc_tape *t = dc_tape_new(NULL);

    CHECK(dc_dense(t, x, w, NULL, DC_DENSE_ACT_NONE) == NULL);
    CHECK_MSG("dc_dense: x (32,784) and w (100,10): inner dimensions 784 != 100");
    dc_tape_reset(t);
    CHECK(dc_dense(t, x, w3, NULL, DC_DENSE_ACT_NONE) == NULL);
    CHECK_MSG("w exactly 2");
    dc_tape_reset(t);
    CHECK(dc_dense(t, x, w2, b, DC_DENSE_ACT_RELU) == NULL);
    CHECK_MSG("dc_dense: w (784,10) and b (7): b must be (10)");
    dc_tape_reset(t);
    CHECK(dc_dense(t, x, w2, NULL, 9) == NULL);
    CHECK_MSG("dc_dense: activation 9 is not one of none, relu, sigmoid, tanh");
    CHECK(dc_tape_status(t) != DC_OK);
    dc_tape_reset(t);
    CHECK(dc_dense(t, NULL, w2, NULL, DC_DENSE_ACT_NONE) == NULL);
    CHECK_MSG("dc_dense: input 1 is NULL");
    dc_tape_reset(t);
    CHECK(dc_dense(NULL, x, w2, NULL, DC_DENSE_ACT_NONE) == NULL);
    CHECK_MSG("dc_dense: tape is NULL");
    dc_tape_reset(t);
    dc_tensor *y = dc_dense(t, x, w2, NULL, DC_DENSE_ACT_TANH);
    CHECK(y && y->ndim == 2 && y->shape[0] == 32 && y->shape[1] == 10);

    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(w3);
    dc_tensor_free(w2);
    dc_tensor_free(b);
}

/* fused dense (relu, bias) on x (rows,in), w (in,units) from seed, at the
 * given thread count; the gradients are of sum(y * s) for a fixed s */
static bool dense_run_big(dense_run *r, int64_t rows, int64_t in, int64_t units, int threads,
                          bool fused) {
    memset(r, 0, sizeof *r);
    dc_rng g;
    dc_rng_seed(&g, 7);
    r->x = dc_tensor_uniform(DC_DIMS(rows, in), -1, 1, &g);
    r->w = dc_tensor_uniform(DC_DIMS(in, units), -0.1f, 0.1f, &g);
    r->b = dc_tensor_uniform(DC_DIMS(units), -0.1f, 0.1f, &g);
    dc_tensor *s = dc_tensor_uniform(DC_DIMS(rows, units), -1, 1, &g);
    dc_tensor_set_requires_grad(r->x, true);
    dc_tensor_set_requires_grad(r->w, true);
    dc_tensor_set_requires_grad(r->b, true);
    r->t = dc_tape_new(NULL);
    const int keep = dc_get_num_threads();
    dc_set_num_threads(threads);
    r->y = fused ? dc_dense(r->t, r->x, r->w, r->b, DC_DENSE_ACT_RELU)
                 : dc_relu(r->t, dc_add(r->t, dc_matmul(r->t, r->x, r->w, false, false), r->b));
    bool ok = r->y && dc_tape_backward_seeded(r->t, r->y, s->data) == DC_OK;
    dc_set_num_threads(keep);
    dc_tensor_free(s);
    if (!ok) test_fail(__FILE__, __LINE__, "dense %lldx%lldx%lld: %s", (long long)rows,
                       (long long)in, (long long)units, dc_last_error());
    return ok;
}

/* Shapes large enough for the op's blocked gemms, cut along columns (a wide
 * output) and along rows (a tall one): the unfused ops' values, and the same
 * bits on 1 and 2 threads. */
TEST(dense_op_blocked_gemms_match_unfused_and_threads) {
    const int64_t shapes[2][3] = {{32, 784, 128}, {1024, 256, 32}}; /* rows, in, units */
    for (int k = 0; k < 2; k++) {
        const int64_t rows = shapes[k][0], in = shapes[k][1], units = shapes[k][2];
        dense_run one = {0}, two = {0}, ref = {0};
        if (dense_run_big(&one, rows, in, units, 1, true) &&
            dense_run_big(&two, rows, in, units, 2, true) &&
            dense_run_big(&ref, rows, in, units, 1, false)) {
            const dc_tensor *a[4] = {one.y, one.x, one.w, one.b}, *b[4] = {two.y, two.x, two.w, two.b},
                            *c[4] = {ref.y, ref.x, ref.w, ref.b};
            for (int i = 0; i < 4; i++) {
                const float *pa = i ? a[i]->grad : a[i]->data, *pb = i ? b[i]->grad : b[i]->data,
                            *pc = i ? c[i]->grad : c[i]->data;
                CHECK(memcmp(pa, pb, (size_t)a[i]->size * sizeof(float)) == 0);
                CHECK_ALLCLOSE(pa, pc, a[i]->size, 1e-5, 1e-5);
            }
        }
        dense_run_free(&one);
        dense_run_free(&two);
        dense_run_free(&ref);
    }
}
