/* test_functional.c — functional models: a chain equals the Sequential model,
 * a skip connection trains as the same sum written with ops, shared layers
 * (in C and in model files), merge layers' values, broadcasting and build
 * errors, zero allocations per step and the same weights for 1 and 2 threads
 * on a graph with a skip, Conv2D + MaxPooling2D fusion in graphs, and a
 * residual conv model trained as PyTorch 1.13 trains it
 * (tests/ref/ref_functional.py). */
#include "test.h"
#include "layers/layer.h" /* fused_pool, fused_away */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n points in 4-D, labels from the sign pattern of two features (3 classes). */
static dc_dataset *points(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * 4 * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < 4; j++) x[4 * i + j] = (float)dc_rng_normal(&r);
        y[i] = (float)((x[4 * i] > 0) + (x[4 * i + 1] > 0.5f));
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(4), y, 0, NULL, n, true);
    free(x);
    free(y);
    return ds;
}

/* a (rows, cols) tensor of normal values from seed (caller frees) */
static dc_tensor *randn(int64_t rows, int64_t cols, uint64_t seed) {
    dc_rng r;
    dc_rng_seed(&r, seed);
    return dc_tensor_normal(DC_DIMS(rows, cols), 0.0f, 1.0f, &r);
}

static dc_layer *dense(int units, const char *act, const char *name) {
    return dc_layer_dense(&(dc_dense_options){.units = units, .activation = act, .name = name});
}

/* x (4) -> h = Dense(4, relu)(x) -> Add([x, h]) -> Dense(3): a residual block. */
static dc_model *skip_model(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *x = dc_input(g, DC_DIMS(4), "x");
    dc_symbol *h = dc_call(dense(4, "relu", "hidden"), x);
    dc_symbol *s = dc_call_n(dc_layer_add(), (dc_symbol *[]){x, h}, 2);
    dc_symbol *y = dc_call(dense(3, NULL, "logits"), s);
    return dc_model_functional("residual", g, &x, 1, &y, 1);
}

TEST(functional_chain_equals_sequential) {
    dc_model *seq = dc_sequential_new(NULL);
    dc_model_add(seq, dense(8, "relu", NULL));
    dc_model_add(seq, dense(3, "softmax", NULL));
    dc_graph *g = dc_graph_new();
    dc_symbol *x = dc_input(g, DC_DIMS(4), NULL);
    dc_symbol *y = dc_call(dense(3, "softmax", NULL), dc_call(dense(8, "relu", NULL), x));
    dc_model *fun = dc_model_functional(NULL, g, &x, 1, &y, 1);
    CHECK(fun != NULL);
    CHECK_OK(dc_model_build(seq, DC_DIMS(4), 7));
    CHECK_OK(dc_model_build(fun, 0, NULL, 7));
    CHECK(dc_model_is_functional(fun) && !dc_model_is_functional(seq));
    CHECK(!strcmp(dc_layer_name(dc_model_layer(fun, 0)), "input_layer"));
    CHECK(!strcmp(dc_layer_name(dc_model_layer(fun, 2)), "dense_1"));
    float *ws, *wf;
    size_t ns, nf;
    CHECK_OK(dc_model_all_weights(seq, &ws, &ns));
    CHECK_OK(dc_model_all_weights(fun, &wf, &nf));
    CHECK(ns == nf && ns == 4 * 8 + 8 + 8 * 3 + 3 && !memcmp(ws, wf, ns * sizeof *ws));
    dc_tensor *in = randn(5, 4, 3);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *a = dc_model_call(seq, t, in, false), *b = dc_model_call(fun, t, in, false);
    CHECK(a && b && a->size == 15 && !memcmp(a->data, b->data, 15 * sizeof(float)));
    dc_tensor *outs[1];
    CHECK_OK(dc_model_call_multi(fun, t, &in, false, outs));
    CHECK(!memcmp(outs[0]->data, a->data, 15 * sizeof(float)));
    dc_tape_free(t);
    dc_tensor_free(in);
    dc_model_free(seq);
    dc_model_free(fun);
}

/* The residual model's step written with ops on copies of its weights: SGD
 * on the mean crossentropy of the whole batch. */
static void reference_steps(const float *w0, const float *x, const float *y, int64_t n, int steps,
                            float lr, float *w_out) {
    /* flat order: hidden/kernel (4,4), hidden/bias 4, logits/kernel (4,3), logits/bias 3 */
    dc_tensor *w1 = dc_tensor_from_data(DC_DIMS(4, 4), w0);
    dc_tensor *b1 = dc_tensor_from_data(DC_DIMS(4), w0 + 16);
    dc_tensor *w2 = dc_tensor_from_data(DC_DIMS(4, 3), w0 + 20);
    dc_tensor *b2 = dc_tensor_from_data(DC_DIMS(3), w0 + 32);
    dc_tensor *xs = dc_tensor_from_data(DC_DIMS(n, 4), x), *ys = dc_tensor_from_data(DC_DIMS(n), y);
    dc_tensor *ps[4] = {w1, b1, w2, b2};
    for (int i = 0; i < 4; i++) dc_tensor_set_requires_grad(ps[i], true);
    dc_tape *t = dc_tape_new(NULL);
    for (int s = 0; s < steps; s++) {
        dc_tape_reset(t);
        for (int i = 0; i < 4; i++) memset(ps[i]->grad, 0, (size_t)ps[i]->size * sizeof(float));
        dc_tensor *h = dc_relu(t, dc_add(t, dc_matmul(t, xs, w1, false, false), b1));
        dc_tensor *o = dc_add(t, dc_matmul(t, dc_add(t, xs, h), w2, false, false), b2);
        dc_tensor *loss = dc_sparse_softmax_cross_entropy(t, o, ys);
        CHECK_OK(dc_tape_backward(t, loss));
        for (int i = 0; i < 4; i++)
            for (int64_t k = 0; k < ps[i]->size; k++) ps[i]->data[k] -= lr * ps[i]->grad[k];
    }
    memcpy(w_out, w1->data, 16 * sizeof(float));
    memcpy(w_out + 16, b1->data, 4 * sizeof(float));
    memcpy(w_out + 20, w2->data, 12 * sizeof(float));
    memcpy(w_out + 32, b2->data, 3 * sizeof(float));
    dc_tape_free(t);
    for (int i = 0; i < 4; i++) dc_tensor_free(ps[i]);
    dc_tensor_free(xs);
    dc_tensor_free(ys);
}

TEST(skip_connection_trains_as_the_same_sum_written_with_ops) {
    const int64_t n = 64;
    dc_dataset *ds = points(n, 5);
    float *x = malloc((size_t)n * 4 * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) CHECK_OK(dc_dataset_get(ds, i, x + 4 * i, y + i));
    dc_model *m = skip_model();
    CHECK(m != NULL);
    CHECK_OK(dc_model_build(m, 0, NULL, 11));
    float *w;
    size_t nw;
    CHECK_OK(dc_model_all_weights(m, &w, &nw));
    CHECK(nw == 35);
    float w0[35], want[35];
    memcpy(w0, w, sizeof w0);
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){
                                     .loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                     .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f}}));
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 6, .batch_size = n, .no_shuffle = true}, NULL));
    reference_steps(w0, x, y, n, 6, 0.1f, want);
    double worst = 0, moved = 0;
    for (int i = 0; i < 35; i++) {
        worst = fmax(worst, fabs((double)w[i] - want[i]));
        moved = fmax(moved, fabs((double)w[i] - w0[i]));
    }
    if (worst > 1e-5 || moved < 1e-3)
        test_fail(__FILE__, __LINE__, "weights differ from the ops' by %g (moved %g)", worst, moved);
    free(x);
    free(y);
    dc_model_free(m);
    dc_dataset_free(ds);
}

/* A new graph with inputs "a" and "b", each of n features, into ab. */
static dc_graph *inputs_ab(int64_t n, dc_symbol **ab) {
    dc_graph *g = dc_graph_new();
    ab[0] = dc_input(g, 1, &n, "a");
    ab[1] = dc_input(g, 1, &n, "b");
    return g;
}

TEST(a_layer_called_twice_shares_its_weights) {
    dc_symbol *ab[2];
    dc_graph *g = inputs_ab(3, ab);
    dc_symbol *a = ab[0], *b = ab[1];
    dc_layer *shared = dense(2, NULL, "shared");
    dc_symbol *ya = dc_call(shared, a), *yb = dc_call(shared, b);
    dc_symbol *d = dc_call_n(dc_layer_subtract(), (dc_symbol *[]){ya, yb}, 2);
    dc_model *m = dc_model_functional("siamese", g, ab, 2, (dc_symbol *[]){d, ya}, 2);
    CHECK(m != NULL);
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    CHECK(dc_model_num_inputs(m) == 2 && dc_model_num_outputs(m) == 2);
    CHECK(dc_model_count_params(m) == 3 * 2 + 2); /* one kernel and bias for both calls */
    dc_tensor *xa = randn(4, 3, 1);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *outs[2];
    CHECK_OK(dc_model_call_multi(m, t, (dc_tensor *[]){xa, xa}, true, outs));
    for (int i = 0; i < 8; i++) CHECK(outs[0]->data[i] == 0.0f); /* same weights, same input */
    /* both calls' gradients add into the one kernel: d(sum(ya))/dW counts once */
    CHECK_OK(dc_tape_backward(t, dc_sum_all(t, outs[1])));
    dc_tensor *k = dc_model_find_param(m, "shared/kernel");
    CHECK(k && k->grad);
    if (k && k->grad) {
        float s0 = 0;
        for (int i = 0; i < 4; i++) s0 += xa->data[i * 3];
        CHECK_NEAR(k->grad[0], s0, 1e-5);
    }
    /* dc_model_call takes one input */
    CHECK(dc_model_call(m, t, xa, false) == NULL);
    CHECK_MSG("dc_model_call_multi");
    dc_tape_free(t);
    dc_tensor_free(xa);
    dc_model_free(m);
}

TEST(merge_layers_compute_as_keras) {
    dc_symbol *ab[2];
    dc_graph *g = inputs_ab(2, ab);
    dc_symbol *outs[6] = {
        dc_call_n(dc_layer_add(), ab, 2),      dc_call_n(dc_layer_subtract(), ab, 2),
        dc_call_n(dc_layer_multiply(), ab, 2), dc_call_n(dc_layer_average(), ab, 2),
        dc_call_n(dc_layer_maximum(), ab, 2),  dc_call_n(dc_layer_concatenate(-1), ab, 2)};
    dc_model *m = dc_model_functional("merges", g, ab, 2, outs, 6);
    CHECK(m != NULL);
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    float av[2] = {1, -2}, bv[2] = {3, 5};
    dc_tensor *ta = dc_tensor_from_data(DC_DIMS(1, 2), av), *tb = dc_tensor_from_data(DC_DIMS(1, 2), bv);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *o[6];
    CHECK_OK(dc_model_call_multi(m, t, (dc_tensor *[]){ta, tb}, false, o));
    const float want[6][4] = {{4, 3}, {-2, -7}, {3, -10}, {2, 1.5f}, {3, 5}, {1, -2, 3, 5}};
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < (k == 5 ? 4 : 2); i++) CHECK_NEAR(o[k]->data[i], want[k][i], 1e-6);
    CHECK(o[5]->shape[1] == 4);
    dc_tape_free(t);
    dc_tensor_free(ta);
    dc_tensor_free(tb);
    dc_model_free(m);
}

static dc_model *two_inputs(const int64_t *sa, const int64_t *sb, dc_layer *merge) {
    dc_graph *g = dc_graph_new();
    dc_symbol *a = dc_input(g, 3, sa, "a"), *b = dc_input(g, 3, sb, "b");
    dc_symbol *ca = dc_call(dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = (int)sa[2], .kernel_size = {1}, .name = "conv_a"}), a);
    dc_symbol *y = dc_call_n(merge, (dc_symbol *[]){ca, b}, 2);
    return dc_model_functional("m", g, (dc_symbol *[]){a, b}, 2, &y, 1);
}

/* Index into a sample of shape s (rank r) for position (i, j) of a (4, 3)
 * output, as broadcasting reads it (aligned at the last axis, 1s repeat). */
static int64_t bcast_index(int r, const int64_t *s, int64_t i, int64_t j) {
    int64_t jj = s[r - 1] == 1 ? 0 : j;
    if (r == 1) return jj;
    return (s[0] == 1 ? 0 : i) * s[1] + jj;
}

static float merge_ref(int kind, float a, float b) {
    const float v[5] = {a + b, a - b, a * b, (a + b) / 2, a > b ? a : b};
    return v[kind];
}

/* sum(out * r) of m on (xa, xb); with backward, the inputs' gradients too. */
static float weighted_out(dc_model *m, dc_tensor *xa, dc_tensor *xb, const float *r, bool backward) {
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *o;
    float v = NAN;
    if (dc_model_call_multi(m, t, (dc_tensor *[]){xa, xb}, false, &o) == DC_OK) {
        dc_tensor *rt = dc_tape_tensor(t, o->ndim, o->shape);
        memcpy(rt->data, r, (size_t)o->size * sizeof *r);
        dc_tensor *sum = dc_sum_all(t, dc_mul(t, o, rt));
        v = sum->data[0];
        if (backward) CHECK_OK(dc_tape_backward(t, sum));
    }
    dc_tape_free(t);
    return v;
}

/* Keras 3 (checked with its Merge layers): (4, 3) with (1, 3), (4, 1), (3,)
 * and (1, 3) with (4, 1) give (4, 3); (4, 3) with (2, 3) is an error. */
TEST(merge_layers_broadcast_as_keras_forward_and_backward) {
    static const struct { int ra, rb; int64_t sa[2], sb[2]; } cases[] = {
        {2, 2, {4, 3}, {1, 3}}, {2, 2, {4, 3}, {4, 1}}, {2, 1, {4, 3}, {3}}, {2, 2, {1, 3}, {4, 1}}};
    dc_layer *(*const makers[5])(void) = {dc_layer_add, dc_layer_subtract, dc_layer_multiply,
                                          dc_layer_average, dc_layer_maximum};
    dc_rng rng;
    dc_rng_seed(&rng, 21);
    float r[24];
    for (int i = 0; i < 24; i++) r[i] = (float)dc_rng_normal(&rng);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int kind = 0; kind < 5; kind++) {
            dc_graph *g = dc_graph_new();
            dc_symbol *ab[2] = {dc_input(g, cases[c].ra, cases[c].sa, "a"),
                                dc_input(g, cases[c].rb, cases[c].sb, "b")};
            dc_symbol *y = dc_call_n(makers[kind](), ab, 2);
            dc_model *m = dc_model_functional(NULL, g, ab, 2, &y, 1);
            CHECK_OK(dc_model_build(m, 0, NULL, 1));
            int64_t os[4];
            CHECK(dc_model_output_shape(m, os) == 2 && os[0] == 4 && os[1] == 3);
            int64_t xs_a[3] = {2, cases[c].sa[0], cases[c].sa[1]}, xs_b[3] = {2, cases[c].sb[0], cases[c].sb[1]};
            dc_tensor *xa = dc_tensor_normal(cases[c].ra + 1, xs_a, 0, 1, &rng);
            dc_tensor *xb = dc_tensor_normal(cases[c].rb + 1, xs_b, 0, 1, &rng);
            dc_tensor_set_requires_grad(xa, true);
            dc_tensor_set_requires_grad(xb, true);
            /* forward: every position against the broadcast formula */
            int64_t na = xa->size / 2, nb = xb->size / 2;
            double want = 0;
            for (int64_t bi = 0; bi < 2; bi++)
                for (int64_t i = 0; i < 4; i++)
                    for (int64_t j = 0; j < 3; j++)
                        want += r[(bi * 4 + i) * 3 + j] *
                                merge_ref(kind, xa->data[bi * na + bcast_index(cases[c].ra, cases[c].sa, i, j)],
                                          xb->data[bi * nb + bcast_index(cases[c].rb, cases[c].sb, i, j)]);
            CHECK_NEAR(weighted_out(m, xa, xb, r, true), want, 1e-4);
            /* backward: each input's gradient (the sum over its broadcast
             * axes) against central differences */
            dc_tensor *xs[2] = {xa, xb};
            for (int k = 0; k < 2; k++)
                for (int64_t e = 0; e < xs[k]->size; e++) {
                    float keep = xs[k]->data[e], grad = xs[k]->grad[e];
                    xs[k]->data[e] = keep + 1e-2f;
                    double up = weighted_out(m, xa, xb, r, false);
                    xs[k]->data[e] = keep - 1e-2f;
                    double down = weighted_out(m, xa, xb, r, false);
                    xs[k]->data[e] = keep;
                    CHECK_NEAR(grad, (up - down) / 2e-2, 2e-3);
                }
            dc_tensor_free(xa);
            dc_tensor_free(xb);
            dc_model_free(m);
        }
    /* lengths that are neither equal nor 1: the layers and the shapes */
    dc_graph *g = dc_graph_new();
    dc_symbol *ab[2] = {dc_input(g, DC_DIMS(4, 3), "a"), dc_input(g, DC_DIMS(2, 3), "b")};
    dc_symbol *y = dc_call_n(dc_layer_add(), ab, 2);
    dc_model *m = dc_model_functional(NULL, g, ab, 2, &y, 1);
    CHECK_ERR(dc_model_build(m, 0, NULL, 1), DC_ERR_SHAPE,
              "layer 'add' (Add) on 'a' (None, 4, 3) and 'b' (None, 2, 3): Add 'add': inputs "
              "(None, 4, 3) and (None, 2, 3) cannot broadcast: on axis -2 the lengths are 4 and 2");
    dc_model_free(m);
}

TEST(merge_shape_errors_name_the_layers_and_shapes) {
    dc_model *m = two_inputs((const int64_t[]){8, 8, 16}, (const int64_t[]){8, 8, 32}, dc_layer_add());
    CHECK_ERR(dc_model_build(m, 0, NULL, 1), DC_ERR_SHAPE, "layer 'add' (Add) on 'conv_a' (None, 8, 8, 16) and 'b' (None, 8, 8, 32)");
    dc_model_free(m);
    m = two_inputs((const int64_t[]){8, 8, 16}, (const int64_t[]){4, 8, 32}, dc_layer_concatenate(-1));
    CHECK_ERR(dc_model_build(m, 0, NULL, 1), DC_ERR_SHAPE, "differ on axis 1");
    CHECK_MSG("'concatenate'");
    dc_model_free(m);
    /* off the last axis is fine when the rest agrees */
    m = two_inputs((const int64_t[]){8, 8, 16}, (const int64_t[]){4, 8, 16}, dc_layer_concatenate(1));
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    int64_t s[4];
    CHECK(dc_model_output_shape(m, s) == 3 && s[0] == 12 && s[1] == 8 && s[2] == 16);
    dc_model_free(m);
    /* Subtract takes two; a merge in a Sequential model has one input */
    dc_graph *g = dc_graph_new();
    dc_symbol *a = dc_input(g, DC_DIMS(2), NULL);
    dc_symbol *y = dc_call_n(dc_layer_subtract(), (dc_symbol *[]){a, a, a}, 3);
    m = dc_model_functional(NULL, g, &a, 1, &y, 1);
    CHECK_OK(dc_model_build(m, 0, NULL, 1) == DC_OK ? DC_ERR_STATE : DC_OK);
    CHECK_MSG("called on 3 inputs; it takes 2");
    dc_model_free(m);
    dc_model *seq = dc_sequential_new(NULL);
    dc_model_add(seq, dc_layer_add());
    CHECK(dc_model_build(seq, DC_DIMS(2), 1) != DC_OK);
    CHECK_MSG("called on 1 input");
    dc_model_free(seq);
    /* an output that needs an input not given; a failed call poisons the graph */
    g = dc_graph_new();
    dc_symbol *p = dc_input(g, DC_DIMS(2), "p"), *q = dc_input(g, DC_DIMS(2), "q");
    y = dc_call_n(dc_layer_add(), (dc_symbol *[]){p, q}, 2);
    CHECK(dc_model_functional(NULL, g, &p, 1, &y, 1) == NULL);
    CHECK_MSG("depends on input 'q'");
    g = dc_graph_new();
    p = dc_input(g, DC_DIMS(2), "p");
    y = dc_call(dense(2, "nonsense", NULL), p);
    CHECK(y == NULL);
    y = dc_call(dense(2, NULL, NULL), y); /* NULL in: NULL out, message kept */
    CHECK(y == NULL);
    CHECK_MSG("nonsense");
    CHECK(dc_model_functional(NULL, g, &p, 1, &y, 1) == NULL);
}

/* The residual model trained 3 epochs with threads; its weights into out. */
static void train_residual(int threads, float *out, test_alloc_probe *p) {
    dc_set_num_threads(threads);
    dc_dataset *ds = points(200, 9);
    dc_model *m = skip_model();
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){
                                     .loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                     .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f}}));
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = test_count_allocs, .user = p};
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .batch_size = 16, .seed = 4, .callbacks = &cb, .n_callbacks = 1}, NULL));
    float *w;
    size_t n;
    CHECK_OK(dc_model_all_weights(m, &w, &n));
    CHECK(n == 35);
    memcpy(out, w, 35 * sizeof *w);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(skip_graph_allocates_nothing_per_step_and_threads_agree) {
    int saved = dc_get_num_threads();
    float w1[35], w2[35];
    test_alloc_probe p1 = {0}, p2 = {0};
    train_residual(1, w1, &p1);
    train_residual(2, w2, &p2);
    dc_set_num_threads(saved);
    CHECK(p1.batches == 39);
    if (p1.last != p1.after_first || p2.last != p2.after_first)
        test_fail(__FILE__, __LINE__, "steps after the first made %llu and %llu allocations",
                  p1.last - p1.after_first, p2.last - p2.after_first);
    CHECK(!memcmp(w1, w2, sizeof w1));
}

TEST(functional_model_saves_and_loads_its_graph) {
    dc_symbol *ab[2];
    dc_graph *g = inputs_ab(3, ab);
    dc_symbol *a = ab[0], *b = ab[1];
    dc_layer *shared = dense(4, "relu", "shared");
    dc_symbol *ha = dc_call(shared, a), *hb = dc_call(shared, b);
    dc_symbol *c = dc_call_n(dc_layer_concatenate(-1), (dc_symbol *[]){ha, hb}, 2);
    dc_symbol *y = dc_call(dense(2, NULL, "head"), c);
    dc_model *m = dc_model_functional("pair", g, ab, 2, (dc_symbol *[]){y, ha}, 2);
    CHECK_OK(dc_model_build(m, 0, NULL, 3));
    char path[256];
    snprintf(path, sizeof path, "%s/functional_graph.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    CHECK(l != NULL);
    if (l) {
        CHECK(dc_model_is_functional(l) && dc_model_num_inputs(l) == 2 && dc_model_num_outputs(l) == 2);
        CHECK(dc_model_num_layers(l) == dc_model_num_layers(m));
        dc_tensor *x = randn(5, 3, 2);
        dc_tape *t = dc_tape_new(NULL);
        dc_tensor *o1[2], *o2[2];
        CHECK_OK(dc_model_call_multi(m, t, (dc_tensor *[]){x, x}, false, o1));
        CHECK_OK(dc_model_call_multi(l, t, (dc_tensor *[]){x, x}, false, o2));
        for (int k = 0; k < 2; k++)
            CHECK(o1[k]->size == o2[k]->size && !memcmp(o1[k]->data, o2[k]->data, (size_t)o1[k]->size * sizeof(float)));
        dc_tape_free(t);
        dc_tensor_free(x);
        dc_model_free(l);
    }
    dc_model_free(m);
}

TEST(functional_summary_has_keras_connected_to_column) {
    dc_model *m = skip_model();
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    FILE *f = tmpfile();
    CHECK_OK(dc_model_summary(m, f));
    char text[4096] = "";
    rewind(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    if (getenv("DC_SHOW_SUMMARY")) fputs(text, stderr);
    CHECK(strstr(text, "Connected to") != NULL);
    CHECK(strstr(text, " x (InputLayer)                  (None, 4)               0            -\n") != NULL);
    CHECK(strstr(text, " add (Add)                       (None, 4)               0            x[0][0], hidden[0][0]\n") != NULL);
    CHECK(strstr(text, "Total params: 35\n") != NULL);
    dc_model_free(m);
}

#define INI_HEAD                                                                                \
    "[model]\nname = u\ninput_shape = 8,8,3\n\n[data]\ntrain_images = a.idx\ntrain_labels = "  \
    "b.idx\n\n[train]\noptimizer = adam\nloss = sparse_categorical_crossentropy\n"
/* INI_HEAD is 11 lines; the first layer section starts on line 12. */

/* The model the text describes, or NULL with the error of parsing or building. */
static dc_model *model_from_ini(const char *text) {
    dc_run_config *c = dc_run_config_parse(text, "g.ini");
    dc_model *m = c ? dc_run_config_build_model(c, NULL) : NULL;
    dc_run_config_free(c);
    return m;
}

static void check_ini_error(const char *text, const char *want, int line) {
    dc_model *m = model_from_ini(text);
    if (m) {
        test_fail(__FILE__, line, "built, wanted an error with \"%s\"", want);
        dc_model_free(m);
    } else if (!strstr(dc_last_error(), want)) {
        test_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", dc_last_error(), want);
    }
}
#define INI_BAD(text, want) check_ini_error(text, want, __LINE__)

TEST(model_files_describe_graphs_with_names_and_inputs) {
    dc_model *m = model_from_ini(INI_HEAD
                                 "[Conv2D c1]\nfilters = 4\nkernel_size = 3\npadding = same\n"
                                 "[MaxPooling2D]\n"
                                 "[Conv2D]\nfilters = 4\nkernel_size = 3\npadding = same\n"
                                 "[UpSampling2D up]\n"
                                 "[Concatenate]\ninputs = c1, up\n"
                                 "[Conv2D]\nfilters = 3\nkernel_size = 1\n");
    CHECK(m != NULL);
    if (!m) {
        printf("    %s\n", dc_last_error());
        return;
    }
    CHECK(dc_model_is_functional(m) && dc_model_is_built(m));
    int64_t s[4];
    CHECK(dc_model_output_shape(m, s) == 3 && s[0] == 8 && s[1] == 8 && s[2] == 3);
    dc_layer *cat = dc_model_get_layer(m, "concatenate");
    CHECK(cat && dc_layer_output_shape(cat, s) == 3 && s[2] == 8);
    dc_model_free(m);
    /* a file without inputs = stays a Sequential model */
    m = model_from_ini(INI_HEAD "[Flatten]\n[Dense]\nunits = 3\n");
    CHECK(m && !dc_model_is_functional(m));
    dc_model_free(m);
}

TEST(model_file_graph_errors_name_the_layers_and_shapes) {
    /* an inputs = naming a later layer (a cycle must): its line and the later one's */
    INI_BAD(INI_HEAD "[Dense x]\nunits = 2\n[Dense a]\nunits = 2\ninputs = b\n"
                     "[Dense b]\nunits = 2\ninputs = a\n",
            "g.ini:16: [Dense a] inputs: 'b' is a later layer (line 17)");
    INI_BAD(INI_HEAD "[Dense x]\nunits = 2\n[Dense a]\nunits = 2\ninputs = a\n", "'a' is this layer");
    INI_BAD(INI_HEAD "[Dense a]\nunits = 2\ninputs = a\n", "g.ini:14: [Dense a] inputs: the first layer section");
    INI_BAD(INI_HEAD "[Dense a]\nunits = 2\n[Dense]\nunits = 2\ninputs = nowhere\n",
            "g.ini:16: [Dense] inputs: no layer named 'nowhere' before this one");
    INI_BAD(INI_HEAD "[Dense a]\nunits = 2\n[Dense a]\nunits = 2\ninputs = a\n",
            "the name 'a' is taken by [Dense a] (line 12)");
    INI_BAD(INI_HEAD "[Conv2D a]\nfilters = 16\nkernel_size = 1\n"
                     "[Conv2D b]\nfilters = 32\nkernel_size = 1\ninputs = a\n[Add]\ninputs = a, b\n",
            "layer 'add' (Add) on 'a' (None, 8, 8, 16) and 'b' (None, 8, 8, 32)");
    INI_BAD(INI_HEAD "[Conv2D a]\nfilters = 4\nkernel_size = 1\n"
                     "[MaxPooling2D b]\n[Concatenate]\ninputs = a, b\n",
            "'a' (None, 8, 8, 4) and 'b' (None, 4, 4, 4): Concatenate 'concatenate'");
}

#define INI_SHARED(filters)                                                               \
    INI_HEAD "[Conv2D enc]\nfilters = " #filters "\nkernel_size = 3\npadding = same\n"    \
             "[Conv2D again]\nshare = enc\ninputs = enc\n[Add]\ninputs = enc, again\n"

TEST(model_files_share_a_layer_and_its_weights) {
    dc_model *m = model_from_ini(INI_SHARED(3));
    CHECK(m != NULL);
    if (!m) {
        printf("    %s\n", dc_last_error());
        return;
    }
    /* one kernel and bias for both calls, in the model and in its file */
    CHECK(dc_model_num_layers(m) == 3 && dc_model_num_params(m) == 2);
    CHECK(dc_model_count_params(m) == 3 * 3 * 3 * 3 + 3);
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_MSE,
                                                       .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f}}));
    dc_rng rng;
    dc_rng_seed(&rng, 2);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(2, 8, 8, 3), -1, 1, &rng);
    dc_tensor *y = dc_tensor_zeros(DC_DIMS(2, 8, 8, 3));
    CHECK_OK(dc_model_train_on_batch(m, &x, &y, NULL));
    /* both calls run on the updated weights: conv(conv(x)) + conv(x) */
    dc_tensor *k = dc_model_find_param(m, "enc/kernel"), *b = dc_model_find_param(m, "enc/bias");
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *h = dc_conv2d(t, x, k, b, &(dc_conv2d_options){.padding = DC_PAD_SAME});
    dc_tensor *want = dc_add(t, dc_conv2d(t, h, k, b, &(dc_conv2d_options){.padding = DC_PAD_SAME}), h);
    dc_tensor *got = dc_model_call(m, t, x, false);
    CHECK(want && got && want->size == got->size);
    if (want && got) CHECK_ALLCLOSE(got->data, want->data, got->size, 1e-6, 1e-5);
    char path[256];
    snprintf(path, sizeof path, "%s/shared.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    CHECK(l && dc_model_num_params(l) == 2 && dc_model_count_params(l) == 84);
    dc_tensor *again = l ? dc_model_call(l, t, x, false) : NULL;
    if (again && got) CHECK_ALLCLOSE(again->data, got->data, got->size, 0, 0);
    dc_model_free(l);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
    /* a shared call on another shape: both calls, their inputs and shapes */
    INI_BAD(INI_SHARED(4), "g.ini: dc_model_build: layer 'enc' (Conv2D) called again by 'Conv2D again' "
                           "on 'enc' (None, 8, 8, 4); its first call took 'input_layer' (None, 8, 8, 3)");
    INI_BAD(INI_HEAD "[Dense enc]\nunits = 2\n[Dense]\nshare = nothing\n",
            "g.ini:15: [Dense] share: no layer named 'nothing' before this one");
    INI_BAD(INI_HEAD "[Dense enc]\nunits = 2\n[Conv2D]\nshare = enc\n",
            "g.ini:15: [Conv2D] share: 'enc' is a Dense layer");
    INI_BAD(INI_HEAD "[Dense enc]\nunits = 2\n[Dense]\nshare = enc\nunits = 3\n",
            "g.ini:16: [Dense] units: a section that shares a layer takes its options from it");
    INI_BAD(INI_HEAD "[Dense enc]\nunits = 2\n[Dense enc]\nshare = enc\n",
            "[Dense enc]: the name 'enc' is taken by [Dense enc] (line 12)");
}

/* x (4) -> trunk Dense(8, relu) -> cls Dense(3, softmax) and reg Dense(1). */
static dc_model *two_heads(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *x = dc_input(g, DC_DIMS(4), "x");
    dc_symbol *h = dc_call(dense(8, "relu", "trunk"), x);
    dc_symbol *outs[2] = {dc_call(dense(3, "softmax", "cls"), h), dc_call(dense(1, NULL, "reg"), h)};
    dc_model *m = dc_model_functional("heads", g, &x, 1, outs, 2);
    CHECK_OK(dc_model_build(m, 0, NULL, 5));
    return m;
}

TEST(several_outputs_train_on_their_weighted_losses) {
    dc_model *m = two_heads();
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.05f},
                             .losses = {DC_LOSS_NONE, DC_LOSS_MSE},
                             .loss_weights = {1.0f, 0.5f}};
    CHECK_OK(dc_model_compile(m, &co));
    dc_tensor *x = randn(6, 4, 8), *yr = randn(6, 1, 9);
    float cls[6] = {0, 1, 2, 2, 1, 0};
    dc_tensor *yc = dc_tensor_from_data(DC_DIMS(6), cls);
    /* the loss by hand from the outputs before the step */
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *o[2];
    CHECK_OK(dc_model_call_multi(m, t, &x, false, o));
    double ce = 0, se = 0;
    for (int i = 0; i < 6; i++) {
        ce -= log(o[0]->data[i * 3 + (int)cls[i]]) / 6;
        se += pow(o[1]->data[i] - yr->data[i], 2) / 6;
    }
    float loss = 0;
    CHECK_OK(dc_model_train_on_batch(m, &x, (dc_tensor *[]){yc, yr}, &loss));
    CHECK_NEAR(loss, ce + 0.5 * se, 1e-5);
    unsigned long long before = dc_alloc_count();
    for (int s = 0; s < 5; s++) CHECK_OK(dc_model_train_on_batch(m, &x, (dc_tensor *[]){yc, yr}, &loss));
    CHECK(dc_alloc_count() == before);
    CHECK(loss < ce + 0.5 * se);
    /* a weight 0 leaves its head untouched: no gradient reaches it */
    co.loss_weights[1] = 0.0f;
    CHECK_OK(dc_model_compile(m, &co));
    dc_tensor *k = dc_model_find_param(m, "reg/kernel");
    float kept[8];
    memcpy(kept, k->data, sizeof kept);
    CHECK_OK(dc_model_train_on_batch(m, &x, (dc_tensor *[]){yc, yr}, NULL));
    CHECK(!memcmp(kept, k->data, sizeof kept));
    /* a saved model keeps the losses and their weights */
    char path[256];
    snprintf(path, sizeof path, "%s/heads.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    CHECK(l && dc_model_num_outputs(l) == 2);
    if (l) {
        float l1, l2;
        CHECK_OK(dc_model_train_on_batch(m, &x, (dc_tensor *[]){yc, yr}, &l1));
        CHECK_OK(dc_model_train_on_batch(l, &x, (dc_tensor *[]){yc, yr}, &l2));
        CHECK_NEAR(l1, l2, 1e-6); /* reg's weight 0 survived: the same sum */
    }
    dc_model_free(l);
    /* bad input shapes and weights are refused */
    CHECK_ERR(dc_model_train_on_batch(m, &yr, (dc_tensor *[]){yc, yr}, NULL), DC_ERR_SHAPE, "input 0 (6,1) does not match 'x' (None, 4)");
    co.loss_weights[0] = -1;
    CHECK_ERR(dc_model_compile(m, &co), DC_ERR_ARG, "loss_weights[0]");
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(yr);
    dc_tensor_free(yc);
    dc_model_free(m);
}

TEST(shipped_fashion_unet_is_a_graph_of_11_classes) {
    dc_run_config *c = dc_run_config_load(test_path("../models/fashion_unet.ini"));
    if (!c) test_fail(__FILE__, __LINE__, "%s", dc_last_error());
    dc_model *m = c ? dc_run_config_build_model(c, NULL) : NULL;
    if (c && !m) test_fail(__FILE__, __LINE__, "%s", dc_last_error());
    if (m) {
        int64_t s[4];
        CHECK(dc_model_is_functional(m));
        CHECK(dc_model_output_shape(m, s) == 3 && s[0] == 64 && s[1] == 64 && s[2] == 11);
        CHECK(dc_model_count_params(m) == 1471195);
        dc_layer *cat = dc_model_get_layer(m, "cat1");
        CHECK(cat && dc_layer_output_shape(cat, s) == 3 && s[2] == 16);
    }
    dc_model_free(m);
    dc_run_config_free(c);
}

TEST(masks_flow_through_a_graph_and_its_merges) {
    /* ids (5) -> Embedding(mask_zero) -> two Dense branches -> Add and Concatenate:
     * both keep the embedding's mask (Keras' Merge.compute_mask); Flatten drops it */
    dc_graph *g = dc_graph_new();
    dc_symbol *ids = dc_input(g, DC_DIMS(5), "ids");
    dc_symbol *e = dc_call(dc_layer_embedding(&(dc_embedding_options){.input_dim = 10, .output_dim = 4, .mask_zero = true}), ids);
    dc_symbol *a = dc_call(dense(3, NULL, "a"), e), *b = dc_call(dense(3, "relu", "b"), e);
    dc_symbol *outs[3] = {dc_call_n(dc_layer_add(), (dc_symbol *[]){a, b}, 2),
                          dc_call_n(dc_layer_concatenate(-1), (dc_symbol *[]){a, b}, 2),
                          dc_call(dc_layer_flatten(), a)};
    dc_model *m = dc_model_functional("masked", g, &ids, 1, outs, 3);
    CHECK_OK(dc_model_build(m, 0, NULL, 2));
    float v[10] = {3, 4, 0, 0, 0, 1, 2, 3, 4, 0};
    dc_tensor *x = dc_tensor_from_data(DC_DIMS(2, 5), v);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *o[3];
    CHECK_OK(dc_model_call_multi(m, t, &x, false, o));
    for (int k = 0; k < 2; k++) {
        CHECK(o[k]->mask != NULL);
        for (int i = 0; o[k]->mask && i < 10; i++) CHECK(o[k]->mask->data[i] == (v[i] != 0 ? 1.0f : 0.0f));
    }
    CHECK(o[2]->mask == NULL);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_model_free(m);
}

TEST(a_merge_of_two_masks_keeps_the_steps_both_keep) {
    dc_graph *g = dc_graph_new();
    dc_symbol *p = dc_input(g, DC_DIMS(3), "p"), *q = dc_input(g, DC_DIMS(3), "q");
    dc_embedding_options eo = {.input_dim = 5, .output_dim = 2, .mask_zero = true};
    dc_symbol *y = dc_call_n(dc_layer_add(), (dc_symbol *[]){dc_call(dc_layer_embedding(&eo), p), dc_call(dc_layer_embedding(&eo), q)}, 2);
    dc_model *m = dc_model_functional(NULL, g, (dc_symbol *[]){p, q}, 2, &y, 1);
    CHECK_OK(dc_model_build(m, 0, NULL, 2));
    float pv[3] = {1, 0, 2}, qv[3] = {3, 4, 0};
    dc_tensor *xp = dc_tensor_from_data(DC_DIMS(1, 3), pv), *xq = dc_tensor_from_data(DC_DIMS(1, 3), qv);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *o[1];
    CHECK_OK(dc_model_call_multi(m, t, (dc_tensor *[]){xp, xq}, false, o));
    CHECK(o[0]->mask && o[0]->mask->data[0] == 1 && o[0]->mask->data[1] == 0 && o[0]->mask->data[2] == 0);
    dc_tape_free(t);
    dc_tensor_free(xp);
    dc_tensor_free(xq);
    dc_model_free(m);
}

/* The residual conv model of tests/ref/ref_functional.py. */
static dc_model *residual_conv(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *x = dc_input(g, DC_DIMS(6, 6, 2), "x");
    dc_conv2d_layer_options co = {.filters = 4, .kernel_size = {3}, .padding = DC_PAD_SAME, .activation = "relu", .name = "c1"};
    dc_symbol *c1 = dc_call(dc_layer_conv2d(&co), x);
    co.activation = NULL, co.name = "c2";
    dc_symbol *c2 = dc_call(dc_layer_conv2d(&co), c1);
    dc_symbol *s = dc_call_n(dc_layer_add(), (dc_symbol *[]){c1, c2}, 2);
    dc_symbol *y = dc_call(dense(3, NULL, "out"), dc_call(dc_layer_global_average_pooling2d(), s));
    return dc_model_functional("residual_conv", g, &x, 1, &y, 1);
}

TEST(residual_conv_model_trains_as_pytorch) {
    ref_file *f = ref_load("ref/data/functional_skip.txt");
    if (!f) return;
    dc_model *m = residual_conv();
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                        .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f}}));
    static const char *const names[] = {"c1/kernel", "c1/bias", "c2/kernel", "c2/bias", "out/kernel", "out/bias"};
    char key[64];
    for (int i = 0; i < 6; i++) {
        dc_tensor *p = dc_model_find_param(m, names[i]);
        snprintf(key, sizeof key, "init/%s", names[i]);
        const dc_tensor *r = ref_get(f, key);
        CHECK(p && r && p->size == r->size);
        if (p && r && p->size == r->size) memcpy(p->data, r->data, (size_t)p->size * sizeof(float));
    }
    const dc_tensor *x = ref_get(f, "x"), *y = ref_get(f, "y"), *losses = ref_get(f, "losses");
    CHECK(x && y && losses);
    for (int s = 0; x && y && losses && s < 3; s++) {
        float loss = 0;
        CHECK_OK(dc_model_train_on_batch(m, (dc_tensor *[]){(dc_tensor *)x}, (dc_tensor *[]){(dc_tensor *)y}, &loss));
        CHECK_NEAR(loss, losses->data[s], 1e-5);
    }
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        dc_tensor *p = dc_model_find_param(m, names[i]);
        snprintf(key, sizeof key, "final/%s", names[i]);
        const dc_tensor *r = ref_get(f, key);
        for (int64_t k = 0; p && r && k < p->size; k++) worst = fmax(worst, fabs((double)p->data[k] - r->data[k]));
    }
    if (worst > 1e-5) test_fail(__FILE__, __LINE__, "weights differ from PyTorch's by %g", worst);
    /* the exporters write the graph with its skip (test_onnx and test_keras check the values) */
    snprintf(key, sizeof key, "%s/graph.onnx", test_tmpdir());
    CHECK_OK(dc_model_export_onnx(m, key));
    snprintf(key, sizeof key, "%s/graph.keras", test_tmpdir());
    CHECK_OK(dc_model_export_keras(m, key));
    dc_model_free(m);
    ref_free(f);
}

static dc_layer *conv(const char *name, int filters, int k, const char *act) {
    return dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = filters, .kernel_size = {k},
                                                      .padding = DC_PAD_SAME, .activation = act,
                                                      .name = name});
}

static dc_layer *pool(const char *name) {
    return dc_layer_max_pooling2d(&(dc_pool2d_layer_options){.name = name});
}

/* x (8, 8, 3) -> c1 -> p1 -> c2, Add(p1, c2); x -> c3 -> p3 and p4 (two
 * readers of c3), Add(p3, p4); both sums -> Concatenate -> Flatten -> Dense. */
static dc_model *pooled_graph(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *x = dc_input(g, DC_DIMS(8, 8, 3), "x");
    dc_symbol *p1 = dc_call(pool("p1"), dc_call(conv("c1", 4, 3, "relu"), x));
    dc_symbol *s1 = dc_call_n(dc_layer_add(), (dc_symbol *[]){p1, dc_call(conv("c2", 4, 1, NULL), p1)}, 2);
    dc_symbol *c3 = dc_call(conv("c3", 4, 3, NULL), x);
    dc_symbol *s2 = dc_call_n(dc_layer_add(), (dc_symbol *[]){dc_call(pool("p3"), c3), dc_call(pool("p4"), c3)}, 2);
    dc_symbol *h = dc_call(dc_layer_flatten(), dc_call_n(dc_layer_concatenate(-1), (dc_symbol *[]){s1, s2}, 2));
    dc_symbol *y = dc_call(dense(3, NULL, "out"), h);
    dc_model *m = dc_model_functional("pooled", g, &x, 1, &y, 1);
    CHECK_OK(dc_model_build(m, 0, NULL, 4));
    return m;
}

/* The output and every gradient of one step on (x, labels 0, 1, 2 ...). */
static void step(dc_model *m, dc_tensor *x, float *out, float *grads) {
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = dc_tensor_zeros(DC_DIMS(x->shape[0]));
    for (int64_t i = 0; i < y->size; i++) y->data[i] = (float)(i % 3);
    dc_tensor *o = dc_model_call(m, t, x, true);
    dc_model_zero_grad(m);
    CHECK_OK(dc_tape_backward(t, dc_sparse_softmax_cross_entropy(t, o, y)));
    memcpy(out, o->data, (size_t)o->size * sizeof *out);
    float *g;
    size_t n;
    CHECK_OK(dc_model_grads(m, &g, &n));
    memcpy(grads, g, n * sizeof *g);
    dc_tensor_free(y);
    dc_tape_free(t);
}

TEST(graph_fuses_a_conv_into_its_only_reader_a_pool_with_the_same_results) {
    dc_model *m = pooled_graph();
    dc_layer *c1 = dc_model_get_layer(m, "c1"), *p1 = dc_model_get_layer(m, "p1");
    dc_layer *c3 = dc_model_get_layer(m, "c3");
    CHECK(c1->fused_pool[0] == 2 && c1->fused_pool[1] == 2 && p1->fused_away);
    /* c3 feeds two pools: its full maps are needed, nothing is fused */
    CHECK(c3->fused_pool[0] == 0 && !dc_model_get_layer(m, "p3")->fused_away &&
          !dc_model_get_layer(m, "p4")->fused_away);
    dc_rng rng;
    dc_rng_seed(&rng, 8);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(3, 8, 8, 3), -1, 1, &rng);
    size_t n = (size_t)dc_model_count_trainable_params(m);
    float out[2][9], *grads[2] = {malloc(n * sizeof(float)), malloc(n * sizeof(float))};
    step(m, x, out[0], grads[0]);
    /* the unfused path: the conv's full maps, then the pool's own op */
    c1->fused_pool[0] = c1->fused_pool[1] = 0;
    p1->fused_away = false;
    step(m, x, out[1], grads[1]);
    CHECK_ALLCLOSE(out[0], out[1], 9, 1e-6, 1e-5);
    CHECK_ALLCLOSE(grads[0], grads[1], (int64_t)n, 1e-6, 1e-5);
    free(grads[0]);
    free(grads[1]);
    dc_tensor_free(x);
    dc_model_free(m);
    /* a conv that is itself an output keeps its maps */
    dc_graph *g = dc_graph_new();
    dc_symbol *in = dc_input(g, DC_DIMS(8, 8, 3), "x");
    dc_symbol *c = dc_call(conv("c", 2, 3, "relu"), in);
    m = dc_model_functional(NULL, g, &in, 1, (dc_symbol *[]){c, dc_call(pool("p"), c)}, 2);
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    CHECK(dc_model_get_layer(m, "c")->fused_pool[0] == 0 && !dc_model_get_layer(m, "p")->fused_away);
    dc_model_free(m);
}
