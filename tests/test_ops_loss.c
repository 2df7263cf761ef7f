/* test_ops_loss.c — losses and dropout: gradient-check cases, known values,
 * dropout statistics and bad-input messages (PyTorch references are in
 * test_ops_linalg.c's reference test, from ref/data/linalg.txt). */
#include "test.h"
#include "ops/op.h"
#include "kernels/softmax_xent.h"

/* ---- gradient-check cases ---- */

static dc_tensor *mse2(dc_tape *t, dc_tensor **in, dc_rng *r) { (void)r; return dc_mse(t, in[0], in[1]); }
GRAD_CASE(mse) {
    *c = (grad_case){.op = DC_OP_MSE, .n_in = 2, .ndim = {2, 2}, .shape = {{3, 4}, {3, 4}}, .apply = mse2};
}

static dc_tensor *sce(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_softmax_cross_entropy(t, in[0], in[1]);
}
/* Soft targets (any values) check the general gradient p * sum(y) - y. */
GRAD_CASE(softmax_cross_entropy_soft_targets) {
    *c = (grad_case){.op = DC_OP_SOFTMAX_CROSS_ENTROPY, .n_in = 2, .ndim = {2, 2},
                     .shape = {{4, 5}, {4, 5}}, .lo = -2, .hi = 2, .apply = sce};
}

static dc_tensor *sce_onehot(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    dc_tensor *y = dc_tape_tensor(t, DC_DIMS(4, 5));
    if (!y) return NULL;
    for (int i = 0; i < 4; i++) y->data[i * 5 + (i * 3 + 1) % 5] = 1;
    return dc_softmax_cross_entropy(t, in[0], y);
}
GRAD_CASE(softmax_cross_entropy_onehot) {
    *c = (grad_case){.op = DC_OP_SOFTMAX_CROSS_ENTROPY, .n_in = 1, .ndim = {2},
                     .shape = {{4, 5}}, .lo = -3, .hi = 3, .apply = sce_onehot};
}

static dc_tensor *ssce(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    dc_tensor *lab = dc_tape_tensor(t, DC_DIMS(4));
    if (!lab) return NULL;
    for (int i = 0; i < 4; i++) lab->data[i] = (float)((i * 2 + 1) % 5);
    return dc_sparse_softmax_cross_entropy(t, in[0], lab);
}
GRAD_CASE(sparse_softmax_cross_entropy) {
    *c = (grad_case){.op = DC_OP_SPARSE_SOFTMAX_CROSS_ENTROPY, .n_in = 1, .ndim = {2},
                     .shape = {{4, 5}}, .lo = -3, .hi = 3, .apply = ssce};
}

static dc_tensor *ssce_wide(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    dc_tensor *lab = dc_tape_tensor(t, DC_DIMS(3));
    if (!lab) return NULL;
    for (int i = 0; i < 3; i++) lab->data[i] = (float)(i * 13 + 2);
    return dc_sparse_softmax_cross_entropy(t, in[0], lab);
}
/* 37 classes: the kernel's 16-lane paths as well as its tail */
GRAD_CASE(sparse_softmax_cross_entropy_wide) {
    *c = (grad_case){.op = DC_OP_SPARSE_SOFTMAX_CROSS_ENTROPY, .n_in = 1, .ndim = {2},
                     .shape = {{3, 37}}, .lo = -3, .hi = 3, .apply = ssce_wide};
}

static dc_tensor *bce(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_binary_cross_entropy_logits(t, in[0], in[1]);
}
GRAD_CASE(binary_cross_entropy_logits) {
    *c = (grad_case){.op = DC_OP_BINARY_CROSS_ENTROPY_LOGITS, .n_in = 2, .ndim = {2, 2},
                     .shape = {{3, 4}, {3, 4}}, .lo = -3, .hi = 3, .apply = bce};
}

static dc_tensor *drop(dc_tape *t, dc_tensor **in, dc_rng *r) {
    return dc_dropout(t, in[0], 0.5f, true, r);
}
GRAD_CASE(dropout_training) {
    *c = (grad_case){.op = DC_OP_DROPOUT, .n_in = 1, .ndim = {2}, .shape = {{4, 6}}, .apply = drop};
}
static dc_tensor *drop_inf(dc_tape *t, dc_tensor **in, dc_rng *r) {
    return dc_dropout(t, in[0], 0.5f, false, r);
}
GRAD_CASE(dropout_inference) {
    *c = (grad_case){.op = DC_OP_DROPOUT, .n_in = 1, .ndim = {2}, .shape = {{3, 2}}, .apply = drop_inf};
}

/* ---- known values ---- */

TEST(losses_known_values) {
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *p = dc_tensor_from_data(DC_DIMS(2, 2), (const float[]){1, 2, 3, 4});
    dc_tensor *q = dc_tensor_from_data(DC_DIMS(2, 2), (const float[]){1, 0, 0, 4});
    dc_tensor *m = dc_mse(t, p, q);
    CHECK(m && m->ndim == 0 && m->size == 1);
    CHECK_NEAR(dc_tensor_item(m), (4.0 + 9.0) / 4, 1e-6);
    /* uniform logits: loss log(C) whatever the label */
    dc_tensor *z = dc_tensor_zeros(DC_DIMS(3, 4));
    dc_tensor *lab = dc_tensor_from_data(DC_DIMS(3), (const float[]){0, 3, 2});
    dc_tensor *l = dc_sparse_softmax_cross_entropy(t, z, lab);
    CHECK(l && l->ndim == 0);
    CHECK_NEAR(dc_tensor_item(l), log(4.0), 1e-6);
    dc_tensor *oh = dc_tape_tensor(t, DC_DIMS(3, 4));
    oh->data[0] = oh->data[7] = oh->data[10] = 1;
    dc_tensor *l2 = dc_softmax_cross_entropy(t, z, oh);
    CHECK_NEAR(dc_tensor_item(l2), log(4.0), 1e-6);
    /* large logits stay finite */
    dc_tensor *big = dc_tensor_from_data(DC_DIMS(1, 2), (const float[]){1000, -1000});
    dc_tensor *lb = dc_tensor_from_data(DC_DIMS(1), (const float[]){1});
    CHECK_NEAR(dc_tensor_item(dc_sparse_softmax_cross_entropy(t, big, lb)), 2000, 1e-3);
    dc_tensor *zt = dc_tensor_from_data(DC_DIMS(1, 2), (const float[]){0, 1});
    CHECK_NEAR(dc_tensor_item(dc_binary_cross_entropy_logits(t, big, zt)), 1000, 1e-3);
    CHECK(dc_tape_status(t) == DC_OK);
    dc_tape_free(t);
    dc_tensor_free(p);
    dc_tensor_free(q);
    dc_tensor_free(z);
    dc_tensor_free(lab);
    dc_tensor_free(big);
    dc_tensor_free(lb);
    dc_tensor_free(zt);
}

TEST(dropout_inference_is_identity_training_drops_rate) {
    dc_rng rng;
    dc_rng_seed(&rng, 5);
    int64_t n = 100000;
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(n), 0.5f, 1.5f, &rng);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = dc_dropout(t, x, 0.3f, false, &rng);
    CHECK(y && memcmp(y->data, x->data, sizeof(float) * (size_t)n) == 0);
    dc_tensor *y0 = dc_dropout(t, x, 0.0f, true, NULL); /* rate 0 needs no rng */
    CHECK(y0 && memcmp(y0->data, x->data, sizeof(float) * (size_t)n) == 0);
    dc_tensor *d = dc_dropout(t, x, 0.3f, true, &rng);
    CHECK(d != NULL);
    int64_t zeros = 0, bad = 0;
    for (int64_t i = 0; d && i < n; i++) {
        if (d->data[i] == 0) zeros++;
        else if (fabsf(d->data[i] - x->data[i] / 0.7f) > 1e-6f) bad++;
    }
    CHECK(bad == 0);
    CHECK_NEAR((double)zeros / n, 0.3, 0.01);
    /* the same seed gives the same mask */
    dc_rng r1, r2;
    dc_rng_seed(&r1, 9);
    dc_rng_seed(&r2, 9);
    dc_tensor *a = dc_dropout(t, x, 0.5f, true, &r1), *b = dc_dropout(t, x, 0.5f, true, &r2);
    CHECK(a && b && memcmp(a->data, b->data, sizeof(float) * (size_t)n) == 0);
    dc_tape_free(t);
    dc_tensor_free(x);
}

TEST(dropout_gradient_uses_the_forward_mask) {
    dc_rng rng;
    dc_rng_seed(&rng, 11);
    dc_tensor *x = dc_tensor_ones(DC_DIMS(1000));
    dc_tensor_set_requires_grad(x, true);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = dc_dropout(t, x, 0.25f, true, &rng);
    CHECK_OK(dc_tape_backward(t, dc_sum_all(t, y)));
    for (int i = 0; i < 1000; i++) CHECK(x->grad[i] == y->data[i]); /* x is ones */
    dc_tape_free(t);
    dc_tensor_free(x);
}

/* ---- bad input ---- */

TEST(losses_bad_input) {
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *a = dc_tape_tensor(t, DC_DIMS(4, 3)), *b = dc_tape_tensor(t, DC_DIMS(4, 2));
    CHECK(dc_mse(t, a, b) == NULL);
    CHECK(dc_tape_status(t) == DC_ERR_SHAPE);
    CHECK_MSG("dc_mse: pred (4,3) and target (4,2) must have the same shape");
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(4, 3));
    b = dc_tape_tensor(t, DC_DIMS(4, 2));
    CHECK(dc_softmax_cross_entropy(t, a, b) == NULL);
    CHECK_MSG("dc_softmax_cross_entropy: logits (4,3) and onehot (4,2) must have the same shape");
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(12));
    CHECK(dc_softmax_cross_entropy(t, a, a) == NULL);
    CHECK_MSG("dc_softmax_cross_entropy: logits (12) must be (N,C)");
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(4, 3));
    b = dc_tape_tensor(t, DC_DIMS(5));
    CHECK(dc_sparse_softmax_cross_entropy(t, a, b) == NULL);
    CHECK_MSG("dc_sparse_softmax_cross_entropy: logits (4,3) and labels (5): labels must be (4) or (4,1)");
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(4, 3));
    b = dc_tape_tensor(t, DC_DIMS(4, 2));
    CHECK(dc_sparse_softmax_cross_entropy(t, a, b) == NULL);
    CHECK_MSG("labels (4,2): labels must be");
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(4, 3));
    b = dc_tape_tensor(t, DC_DIMS(4, 1));
    CHECK(dc_sparse_softmax_cross_entropy(t, a, b) != NULL); /* (N,1) labels are fine */
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(4, 3));
    b = dc_tape_tensor(t, DC_DIMS(4));
    b->data[2] = 3;
    CHECK(dc_sparse_softmax_cross_entropy(t, a, b) == NULL);
    CHECK(dc_tape_status(t) == DC_ERR_ARG);
    CHECK_MSG("dc_sparse_softmax_cross_entropy: label 3 at row 2 is not a class index in [0, 3)");
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(4, 3));
    b = dc_tape_tensor(t, DC_DIMS(4));
    b->data[1] = 0.5f;
    CHECK(dc_sparse_softmax_cross_entropy(t, a, b) == NULL);
    CHECK_MSG("label 0.5 at row 1");
    dc_tape_reset(t);
    b->data[1] = -1;
    a = dc_tape_tensor(t, DC_DIMS(4, 3));
    b = dc_tape_tensor(t, DC_DIMS(4));
    b->data[0] = -1;
    CHECK(dc_sparse_softmax_cross_entropy(t, a, b) == NULL);
    CHECK_MSG("label -1 at row 0");
    dc_tape_reset(t);
    a = dc_tape_tensor(t, DC_DIMS(2, 3));
    b = dc_tape_tensor(t, DC_DIMS(3, 2));
    CHECK(dc_binary_cross_entropy_logits(t, a, b) == NULL);
    CHECK_MSG("dc_binary_cross_entropy_logits: logits (2,3) and targets (3,2) must have the same shape");
    dc_tape_reset(t);
    CHECK(dc_mse(t, NULL, a) == NULL);
    CHECK_MSG("input 1 is NULL");
    dc_tape_reset(t);
    CHECK(dc_softmax_cross_entropy(t, a, NULL) == NULL);
    CHECK_MSG("input 2 is NULL");
    dc_tape_reset(t);
    CHECK(dc_sparse_softmax_cross_entropy(t, NULL, a) == NULL);
    CHECK(dc_binary_cross_entropy_logits(NULL, a, a) == NULL);
    CHECK_MSG("tape is NULL");
    dc_tape_free(t);
}

TEST(dropout_bad_input) {
    dc_rng rng;
    dc_rng_seed(&rng, 1);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *x = dc_tape_tensor(t, DC_DIMS(4));
    CHECK(dc_dropout(t, x, 1.0f, true, &rng) == NULL);
    CHECK(dc_tape_status(t) == DC_ERR_ARG);
    CHECK_MSG("dc_dropout: rate 1 outside [0, 1)");
    dc_tape_reset(t);
    x = dc_tape_tensor(t, DC_DIMS(4));
    CHECK(dc_dropout(t, x, -0.1f, false, &rng) == NULL);
    CHECK_MSG("dc_dropout: rate -0.1 outside [0, 1)");
    dc_tape_reset(t);
    x = dc_tape_tensor(t, DC_DIMS(4));
    CHECK(dc_dropout(t, x, NAN, true, &rng) == NULL);
    CHECK_MSG("outside [0, 1)");
    dc_tape_reset(t);
    x = dc_tape_tensor(t, DC_DIMS(4));
    CHECK(dc_dropout(t, x, 0.5f, true, NULL) == NULL);
    CHECK_MSG("dc_dropout: rng is NULL while training");
    dc_tape_reset(t);
    CHECK(dc_dropout(t, NULL, 0.5f, false, &rng) == NULL);
    CHECK_MSG("input 1 is NULL");
    dc_tape_free(t);
}

TEST(training_step_with_these_ops_allocates_nothing_after_the_first) {
    dc_rng rng;
    dc_rng_seed(&rng, 3);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(16, 8), -1, 1, &rng);
    dc_tensor *w = dc_tensor_uniform(DC_DIMS(8, 5), -1, 1, &rng);
    dc_tensor *lab = dc_tensor_zeros(DC_DIMS(16));
    for (int i = 0; i < 16; i++) lab->data[i] = (float)(i % 5);
    dc_tensor_set_requires_grad(w, true);
    dc_tape *t = dc_tape_new(&(dc_tape_options){.arena_bytes = 4096});
    uint64_t after_first = 0;
    float first_loss = 0;
    for (int step = 0; step < 4; step++) {
        if (step == 1) after_first = dc_alloc_count();
        dc_tape_reset(t);
        dc_tensor_zero_grad(w);
        dc_rng_seed(&rng, 77);
        dc_tensor *h = dc_dropout(t, dc_matmul(t, x, w, false, false), 0.2f, true, &rng);
        dc_tensor *z = dc_reshape(t, dc_concat(t, (dc_tensor *[]){dc_slice(t, h, 0, 0, 8),
                                                                   dc_slice(t, h, 0, 8, 8)}, 2, 0),
                                  DC_DIMS(16, -1));
        dc_tensor *loss = dc_sparse_softmax_cross_entropy(t, z, lab);
        loss = dc_add(t, loss, dc_mean_all(t, dc_max(t, z, 1, false)));
        loss = dc_add(t, loss, dc_mse(t, z, dc_one_hot(t, lab, 5)));
        CHECK_OK(dc_tape_backward(t, loss));
        if (step == 0) first_loss = dc_tensor_item(loss);
        else CHECK(dc_tensor_item(loss) == first_loss); /* same seed, same bits */
    }
    CHECK(dc_alloc_count() == after_first);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(lab);
}

TEST(softmax_row_kernel_every_isa_matches_double) {
    dc_rng rng;
    dc_rng_seed(&rng, 21);
    float z[1003], p[1003];
    for (int isa = DC_ISA_PORTABLE; isa <= (int)dc_cpu_isa(); isa++) {
        dc_softmax_row_fn f = dc_softmax_row_kernel_isa((dc_isa)isa);
        const int64_t sizes[] = {1, 5, 16, 17, 1003};
        for (int k = 0; k < 5; k++) {
            int64_t C = sizes[k];
            for (int64_t c = 0; c < C; c++) z[c] = (float)(dc_rng_uniform(&rng) * 60 - 30);
            if (C > 3) z[2] = -INFINITY, z[3] = -200.0f; /* masked logits give exactly 0 */
            double m = -INFINITY, s = 0;
            for (int64_t c = 0; c < C; c++) m = z[c] > m ? z[c] : m;
            for (int64_t c = 0; c < C; c++) s += exp((double)z[c] - m);
            float lse = f(z, p, C);
            CHECK_NEAR(lse, m + log(s), 1e-5 * fabs(m + log(s)) + 1e-6);
            double sum = 0;
            for (int64_t c = 0; c < C; c++) {
                double want = exp((double)z[c] - m) / s;
                CHECK_NEAR(p[c], want, 2e-5 * want + 1e-30); /* z - m is rounded to float */
                sum += p[c];
            }
            CHECK_NEAR(sum, 1.0, 1e-5);
            if (C > 3) CHECK(p[2] == 0 && p[3] == 0);
        }
        z[0] = 1, z[1] = NAN, z[2] = 3;
        CHECK(isnan(f(z, p, 3)) && isnan(p[0]));
        z[1] = 1e30f; /* huge but finite: no overflow */
        CHECK_NEAR(f(z, p, 3), 1e30, 1e24);
        CHECK(p[1] == 1.0f && p[0] == 0.0f);
    }
}

/* Rows of few classes go 16 at a time, a row per lane: every row must get the
 * row kernel's bits, NaN and +inf rows included, and tails of any length. */
TEST(softmax_rows_kernel_every_isa_matches_row_kernel_bits) {
    dc_rng rng;
    dc_rng_seed(&rng, 5);
    enum { N = 37, CMAX = 17 };
    float z[N * CMAX], p[N * CMAX], lse[N], want_p[CMAX];
    for (int isa = DC_ISA_PORTABLE; isa <= (int)dc_cpu_isa(); isa++) {
        dc_softmax_row_fn row = dc_softmax_row_kernel_isa((dc_isa)isa);
        dc_softmax_rows_fn rows = dc_softmax_rows_kernel_isa((dc_isa)isa);
        const int64_t classes[] = {1, 2, 5, 11, 15, 16, 17};
        for (int k = 0; k < 7; k++) {
            const int64_t C = classes[k];
            for (int64_t i = 0; i < N * C; i++) z[i] = (float)(dc_rng_uniform(&rng) * 60 - 30);
            z[3 * C] = NAN;                /* a NaN row */
            z[5 * C + C - 1] = INFINITY;   /* a +inf row */
            z[7 * C] = -INFINITY;          /* a masked logit */
            rows(z, p, lse, N, C);
            for (int64_t i = 0; i < N; i++) {
                float want = row(z + i * C, want_p, C);
                CHECK(memcmp(&want, &lse[i], sizeof want) == 0);
                CHECK(memcmp(want_p, p + i * C, (size_t)C * sizeof(float)) == 0);
            }
            CHECK(isnan(lse[3]) && isnan(p[3 * C]) && isnan(lse[5]));
        }
    }
    /* the threaded driver gives the same rows */
    float big_z[2100 * 11], big_p[2100 * 11], big_lse[2100], one_p[11];
    for (int i = 0; i < 2100 * 11; i++) big_z[i] = (float)(dc_rng_uniform(&rng) * 20 - 10);
    dc_softmax_rows(big_z, big_p, big_lse, 2100, 11);
    dc_softmax_row_fn best = dc_softmax_row_kernel();
    for (int64_t i = 0; i < 2100; i += 97) {
        CHECK(best(big_z + i * 11, one_p, 11) == big_lse[i]);
        CHECK(memcmp(one_p, big_p + i * 11, sizeof one_p) == 0);
    }
}
