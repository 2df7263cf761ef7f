/* test_seq_layers.c — the sequence layers (Embedding, Masking, Conv1D,
 * MaxPooling1D, GlobalAverage/MaxPooling1D, Dense over time) against Keras 3
 * references, masks through a model, None time axes, masked losses, and the
 * gradient checks of the embedding and masked time-pool ops. */
#include "test.h"
#include "ops/op.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define REF "ref/data/seq_layers.txt"

/* ---- gradient checks ---- */

/* ids fixed by the case (row 2 repeated: gradients add up), no gradient */
static dc_tensor *embed_rows(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    dc_tensor *ids = dc_tape_tensor(t, DC_DIMS(2, 3));
    if (!ids) return NULL;
    const float v[6] = {2, 0, 2, 4, 1, 2};
    memcpy(ids->data, v, sizeof v);
    return dc_embedding(t, in[0], ids);
}
GRAD_CASE(embedding) { *c = (grad_case){.op = DC_OP_EMBEDDING, .n_in = 1, .ndim = {2}, .shape = {{5, 3}}, .apply = embed_rows}; }

/* mask (2,4): sequence 0 has steps 0,1,3 real, sequence 1 only step 2 */
static dc_tensor *case_mask(dc_tape *t) {
    dc_tensor *m = dc_tape_tensor(t, DC_DIMS(2, 4));
    if (!m) return NULL;
    const float v[8] = {1, 1, 0, 1, 0, 0, 1, 0};
    memcpy(m->data, v, sizeof v);
    return m;
}
static dc_tensor *avg_masked(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_seq_avg_pool(t, in[0], case_mask(t));
}
static dc_tensor *max_masked(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_seq_max_pool(t, in[0], case_mask(t));
}
static dc_tensor *avg_plain(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_seq_avg_pool(t, in[0], NULL);
}
static dc_tensor *max_plain(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_seq_max_pool(t, in[0], NULL);
}
GRAD_CASE(seq_avg_pool_masked) { *c = (grad_case){.op = DC_OP_SEQ_AVG_POOL, .n_in = 1, .ndim = {3}, .shape = {{2, 4, 3}}, .apply = avg_masked}; }
GRAD_CASE(seq_avg_pool_plain) { *c = (grad_case){.op = DC_OP_SEQ_AVG_POOL, .n_in = 1, .ndim = {3}, .shape = {{2, 4, 3}}, .apply = avg_plain}; }
GRAD_CASE(seq_max_pool_masked) { *c = (grad_case){.op = DC_OP_SEQ_MAX_POOL, .n_in = 1, .ndim = {3}, .shape = {{2, 4, 3}}, .apply = max_masked}; }
GRAD_CASE(seq_max_pool_plain) { *c = (grad_case){.op = DC_OP_SEQ_MAX_POOL, .n_in = 1, .ndim = {3}, .shape = {{2, 4, 3}}, .apply = max_plain}; }

static dc_tensor *reverse_case(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_seq_reverse(t, in[0]);
}
GRAD_CASE(seq_reverse) { *c = (grad_case){.op = DC_OP_SEQ_REVERSE, .n_in = 1, .ndim = {3}, .shape = {{2, 3, 2}}, .apply = reverse_case}; }

/* ---- helpers ---- */

static dc_layer *layer(const char *type, const char *const *k, const char *const *v, int n) {
    dc_layer *l = dc_layer_from_config(type, k, v, n);
    if (!l) test_fail(__FILE__, __LINE__, "%s: %s", type, dc_last_error());
    return l;
}

/* A model of the given layers, built for samples of `shape` (seed 1). */
static dc_model *model_of(dc_layer **ls, int n, int ndim, const int64_t *shape) {
    dc_model *m = dc_sequential_new(NULL);
    for (int i = 0; i < n; i++) CHECK_OK(dc_model_add(m, ls[i]));
    CHECK_OK(dc_model_build(m, ndim, shape, 1));
    return m;
}

static void set_param(dc_model *m, const char *name, const dc_tensor *v) {
    dc_tensor *p = dc_model_find_param(m, name);
    CHECK(p != NULL);
    if (!p || !v) return;
    CHECK(p->size == v->size);
    if (p->size == v->size) memcpy(p->data, v->data, (size_t)v->size * sizeof(float));
}

static void check_param(dc_model *m, const char *name, const dc_tensor *want, double tol) {
    dc_tensor *p = dc_model_find_param(m, name);
    CHECK(p != NULL && want != NULL);
    if (p && want) CHECK_ALLCLOSE(p->data, want->data, want->size, tol, tol);
}

static dc_tensor *copy_of(const dc_tensor *t) { return t ? dc_tensor_clone(t) : NULL; }

/* sum(y * g) on the tape, for gradients of a given seed */
static dc_tensor *weighted_sum(dc_tape *t, dc_tensor *y, const dc_tensor *g) {
    dc_tensor *gt = dc_tape_tensor(t, g->ndim, g->shape);
    if (!gt) return NULL;
    memcpy(gt->data, g->data, (size_t)g->size * sizeof(float));
    return dc_sum_all(t, dc_mul(t, y, gt));
}

/* ---- layers against Keras ---- */

TEST(embedding_matches_keras_with_mask_and_sparse_gradient) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    dc_layer *ls[1] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 7, .output_dim = 3, .mask_zero = true})};
    dc_model *m = model_of(ls, 1, 1, (const int64_t[]){-1});
    set_param(m, "embedding/embeddings", ref_get(r, "emb_w"));
    dc_tensor *ids = copy_of(ref_get(r, "emb_ids"));
    dc_tape *t = dc_tape_new(NULL);
    dc_model_zero_grad(m);
    dc_tensor *y = dc_model_call(m, t, ids, true);
    CHECK(y && y->ndim == 3 && y->shape[2] == 3);
    if (y) {
        CHECK_ALLCLOSE(y->data, ref_get(r, "emb_y")->data, y->size, 1e-6, 1e-6);
        CHECK(y->mask != NULL);
        if (y->mask) CHECK_ALLCLOSE(y->mask->data, ref_get(r, "emb_mask")->data, 10, 0, 0);
        CHECK_OK(dc_tape_backward(t, weighted_sum(t, y, ref_get(r, "emb_g"))));
        CHECK_ALLCLOSE(dc_model_find_param(m, "embedding/embeddings")->grad,
                       ref_get(r, "emb_dw")->data, 21, 1e-6, 1e-6);
    }
    dc_tape_free(t);
    dc_tensor_free(ids);
    dc_model_free(m);
    ref_free(r);
}

TEST(masking_and_masked_global_pooling_match_keras) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    dc_tensor *x = copy_of(ref_get(r, "mask_x"));
    const int64_t shape[2] = {-1, 3};
    dc_layer *ls[2] = {dc_layer_masking(0.5f, NULL), dc_layer_global_average_pooling1d()};
    dc_model *m = model_of(ls, 2, 2, shape);
    dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
    dc_tensor *outs[2] = {0};
    CHECK_OK(dc_model_call_collect(m, t, x, outs, 2));
    if (outs[0] && outs[1]) {
        CHECK_ALLCLOSE(outs[0]->data, ref_get(r, "mask_y")->data, 24, 0, 0);
        CHECK(outs[0]->mask && outs[1]->mask == NULL); /* pooling consumes it */
        if (outs[0]->mask) CHECK_ALLCLOSE(outs[0]->mask->data, ref_get(r, "mask_mask")->data, 8, 0, 0);
        CHECK_ALLCLOSE(outs[1]->data, ref_get(r, "gap_y")->data, 6, 1e-6, 1e-6);
    }
    dc_model_free(m);
    /* without a mask: the plain mean and max over time */
    dc_layer *la[1] = {dc_layer_global_average_pooling1d()};
    dc_layer *lm[1] = {dc_layer_global_max_pooling1d()};
    dc_model *ma = model_of(la, 1, 2, shape), *mm = model_of(lm, 1, 2, shape);
    dc_tape_reset(t);
    dc_tensor *ya = dc_model_call(ma, t, x, false), *ym = dc_model_call(mm, t, x, false);
    CHECK(ya && ym);
    if (ya && ym) {
        CHECK_ALLCLOSE(ya->data, ref_get(r, "gap_nomask_y")->data, 6, 1e-6, 1e-6);
        CHECK_ALLCLOSE(ym->data, ref_get(r, "gmp_nomask_y")->data, 6, 0, 0);
    }
    dc_tape_free(t);
    dc_model_free(ma);
    dc_model_free(mm);
    dc_tensor_free(x);
    ref_free(r);
}

/* GlobalMaxPooling1D skips masked steps (Keras 3 does not: documented), and a
 * sequence with no real step pools to 0 for both. */
TEST(global_max_pooling1d_skips_masked_steps) {
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *x = dc_tape_tensor(t, DC_DIMS(2, 3, 1)), *mk = dc_tape_tensor(t, DC_DIMS(2, 3));
    const float xv[6] = {1, 5, 9, 2, 3, 4}, mv[6] = {1, 1, 0, 0, 0, 0};
    memcpy(x->data, xv, sizeof xv);
    memcpy(mk->data, mv, sizeof mv);
    dc_tensor *mx = dc_seq_max_pool(t, x, mk), *av = dc_seq_avg_pool(t, x, mk);
    CHECK(mx && av);
    if (mx && av) {
        CHECK(mx->data[0] == 5 && mx->data[1] == 0);
        CHECK(av->data[0] == 3 && av->data[1] == 0);
    }
    dc_tape_free(t);
}

static void conv1d_case(ref_file *r, const char *name, const char *filters, const char *kernel,
                        const char *strides, const char *padding, const char *dilation,
                        const char *act, bool bias) {
    char key[64];
    const char *k[7] = {"filters", "kernel_size", "strides", "padding", "dilation_rate", "activation", "use_bias"};
    const char *v[7] = {filters, kernel, strides, padding, dilation, act, bias ? "true" : "false"};
    dc_layer *ls[1] = {layer("Conv1D", k, v, 7)};
    dc_model *m = model_of(ls, 1, 2, (const int64_t[]){-1, 3});
    snprintf(key, sizeof key, "%s_kernel", name);
    set_param(m, "conv1d/kernel", ref_get(r, key));
    snprintf(key, sizeof key, "%s_bias", name);
    if (bias) set_param(m, "conv1d/bias", ref_get(r, key));
    dc_tensor *x = copy_of(ref_get(r, "conv_x"));
    dc_tape *t = dc_tape_new(NULL);
    CHECK_OK(dc_tape_watch(t, x));
    dc_model_zero_grad(m);
    dc_tensor *y = dc_model_call(m, t, x, true);
    snprintf(key, sizeof key, "%s_y", name);
    const dc_tensor *want = ref_get(r, key);
    CHECK(y && want && y->size == want->size);
    if (y && want && y->size == want->size) {
        CHECK_ALLCLOSE(y->data, want->data, y->size, 1e-5, 1e-5);
        snprintf(key, sizeof key, "%s_g", name);
        CHECK_OK(dc_tape_backward(t, weighted_sum(t, y, ref_get(r, key))));
        snprintf(key, sizeof key, "%s_dx", name);
        CHECK_ALLCLOSE(x->grad, ref_get(r, key)->data, x->size, 1e-5, 1e-5);
        snprintf(key, sizeof key, "%s_dk", name);
        CHECK_ALLCLOSE(dc_model_find_param(m, "conv1d/kernel")->grad, ref_get(r, key)->data,
                       ref_get(r, key)->size, 1e-5, 1e-5);
        snprintf(key, sizeof key, "%s_db", name);
        if (bias)
            CHECK_ALLCLOSE(dc_model_find_param(m, "conv1d/bias")->grad, ref_get(r, key)->data,
                           ref_get(r, key)->size, 1e-5, 1e-5);
    }
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_model_free(m);
}

TEST(conv1d_matches_keras_forward_and_backward) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    conv1d_case(r, "c1_valid", "4", "3", "1", "valid", "1", "relu", true);
    conv1d_case(r, "c1_same", "5", "4", "2", "same", "1", "tanh", true);
    conv1d_case(r, "c1_causal", "2", "(3,)", "1", "causal", "2", "linear", false);
    conv1d_case(r, "c1_stride", "3", "2", "3", "valid", "1", "linear", true);
    ref_free(r);
}

TEST(max_pooling1d_matches_keras) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    dc_tensor *x = copy_of(ref_get(r, "conv_x"));
    dc_layer *a[1] = {dc_layer_max_pooling1d(NULL)};
    dc_layer *b[1] = {dc_layer_max_pooling1d(&(dc_pool1d_layer_options){.pool_size = 3, .strides = 2, .padding = DC_PAD_SAME})};
    dc_model *ma = model_of(a, 1, 2, (const int64_t[]){9, 3});
    dc_model *mb = model_of(b, 1, 2, (const int64_t[]){-1, 3});
    int64_t os[4];
    CHECK(dc_model_output_shape(ma, os) == 2 && os[0] == 4 && os[1] == 3);
    dc_tensor *ya = dc_model_predict(ma, x, 0), *yb = dc_model_predict(mb, x, 0);
    CHECK(ya && yb);
    if (ya && yb) {
        CHECK(ya->size == ref_get(r, "mp_valid_y")->size && yb->size == ref_get(r, "mp_same_y")->size);
        CHECK_ALLCLOSE(ya->data, ref_get(r, "mp_valid_y")->data, ya->size, 0, 0);
        CHECK_ALLCLOSE(yb->data, ref_get(r, "mp_same_y")->data, yb->size, 0, 0);
    }
    dc_tensor_free(ya);
    dc_tensor_free(yb);
    dc_tensor_free(x);
    dc_model_free(ma);
    dc_model_free(mb);
    ref_free(r);
}

/* ---- masked losses and metrics ---- */

/* Embedding(6, 3, mask_zero) -> Dense(4) over (None) ids, Keras' weights. */
static dc_model *seq_model_act(ref_file *r, dc_loss_kind loss, dc_metric_kind metric,
                               const char *act) {
    dc_layer *ls[2] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 6, .output_dim = 3, .mask_zero = true}),
                       dc_layer_dense(&(dc_dense_options){.units = 4, .activation = act})};
    dc_model *m = model_of(ls, 2, 1, (const int64_t[]){-1});
    set_param(m, "embedding/embeddings", ref_get(r, "seq_emb"));
    set_param(m, "dense/kernel", ref_get(r, "seq_kernel"));
    set_param(m, "dense/bias", ref_get(r, "seq_bias"));
    dc_compile_options co = {.loss = loss, .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.5f},
                             .metrics = {metric}};
    CHECK_OK(dc_model_compile(m, &co));
    return m;
}

static dc_model *seq_model(ref_file *r, dc_loss_kind loss, dc_metric_kind metric) {
    return seq_model_act(r, loss, metric, NULL);
}

/* ids (3,T) padded with zeros to T >= 5 steps, labels alike (one-hot when C). */
static dc_dataset *seq_data_multi(ref_file *r, int64_t T, int C, bool multihot) {
    const dc_tensor *ids = ref_get(r, "seq_ids"), *y = ref_get(r, "seq_y");
    const dc_tensor *mh = ref_get(r, "seq_multihot");
    int64_t yc = C ? C : 1;
    float *xs = calloc((size_t)(3 * T), sizeof(float)), *ys = calloc((size_t)(3 * T * yc), sizeof(float));
    for (int b = 0; b < 3; b++)
        for (int s = 0; s < 5; s++) {
            xs[b * T + s] = ids->data[b * 5 + s];
            float l = y->data[b * 5 + s];
            if (C && multihot)
                memcpy(ys + (b * T + s) * C, mh->data + (b * 5 + s) * C, (size_t)C * sizeof(float));
            else if (C) ys[(b * T + s) * C + (int)l] = 1.0f;
            else ys[b * T + s] = l;
        }
    const int64_t yshape[2] = {T, C};
    dc_dataset *ds = dc_dataset_from_arrays(xs, 1, &T, ys, C ? 2 : 1, yshape, 3, true);
    free(xs);
    free(ys);
    return ds;
}

static dc_dataset *seq_data(ref_file *r, int64_t T, int C) { return seq_data_multi(r, T, C, false); }

TEST(masked_sequence_loss_and_metric_match_keras) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    struct { const char *name; dc_loss_kind loss; dc_metric_kind metric; int C; bool multi; const char *act; } cases[5] = {
        {"sce", DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, DC_METRIC_ACCURACY, 0, false, NULL},
        {"mse", DC_LOSS_MSE, DC_METRIC_MAE, 4, false, NULL},
        {"cce", DC_LOSS_CATEGORICAL_CROSSENTROPY, DC_METRIC_ACCURACY, 4, false, NULL},
        {"bce", DC_LOSS_BINARY_CROSSENTROPY, DC_METRIC_BINARY_ACCURACY, 4, true, "sigmoid"},
        {"sce_softmax", DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, DC_METRIC_ACCURACY, 0, false, "softmax"}};
    for (int c = 0; c < 5; c++) {
        char key[64];
        dc_model *m = seq_model_act(r, cases[c].loss, cases[c].metric, cases[c].act);
        dc_dataset *ds = seq_data_multi(r, 5, cases[c].C, cases[c].multi);
        float loss = 0, metric = 0;
        CHECK_OK(dc_model_evaluate(m, ds, 3, &loss, &metric));
        snprintf(key, sizeof key, "%s_eval", cases[c].name);
        const dc_tensor *ev = ref_get(r, key);
        CHECK_NEAR(loss, ev->data[0], 1e-5);
        CHECK_NEAR(metric, ev->data[1], 1e-5);
        /* padding to 9 steps changes nothing: padded steps weigh 0 */
        dc_dataset *ds9 = seq_data_multi(r, 9, cases[c].C, cases[c].multi);
        float loss9 = 0, metric9 = 0;
        CHECK_OK(dc_model_evaluate(m, ds9, 3, &loss9, &metric9));
        CHECK_NEAR(loss9, loss, 1e-6);
        CHECK_NEAR(metric9, metric, 1e-6);
        /* one SGD step on the batch: Keras' weights after train_on_batch */
        dc_fit_options fo = {.epochs = 1, .batch_size = 3, .no_shuffle = true};
        CHECK_OK(dc_model_fit(m, ds, &fo, NULL));
        snprintf(key, sizeof key, "%s_emb_after", cases[c].name);
        check_param(m, "embedding/embeddings", ref_get(r, key), 1e-5);
        snprintf(key, sizeof key, "%s_kernel_after", cases[c].name);
        check_param(m, "dense/kernel", ref_get(r, key), 1e-5);
        snprintf(key, sizeof key, "%s_bias_after", cases[c].name);
        check_param(m, "dense/bias", ref_get(r, key), 1e-5);
        dc_dataset_free(ds);
        dc_dataset_free(ds9);
        dc_model_free(m);
    }
    ref_free(r);
}

/* A None time axis: fit on 5-step then 9-step batches with one model, and a
 * custom loop whose batches change length every step. */
TEST(variable_length_batches_train_one_model) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    dc_model *m = seq_model(r, DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, DC_METRIC_ACCURACY);
    dc_dataset *a = seq_data(r, 5, 0), *b = seq_data(r, 9, 0);
    dc_fit_options fo = {.epochs = 2, .batch_size = 2, .seed = 4};
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, a, &fo, &h));
    dc_history_free(h);
    CHECK_OK(dc_model_fit(m, b, &fo, &h));
    CHECK(h && isfinite(dc_history_get(h, "loss")[1]));
    dc_history_free(h);
    int64_t os[4];
    CHECK(dc_model_output_shape(m, os) == 2 && os[0] == -1 && os[1] == 4);
    /* predict gives the length of x */
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 7));
    x->data[0] = 3;
    dc_tensor *p = dc_model_predict(m, x, 1);
    CHECK(p && p->ndim == 3 && p->shape[1] == 7 && p->shape[2] == 4);
    dc_tensor_free(p);
    dc_tensor_free(x);
    /* a tape loop with lengths 3, 8, 5, 8 ...: the arena grows to the longest */
    dc_tape *t = dc_tape_new(NULL);
    const int64_t lens[6] = {3, 8, 5, 8, 3, 8};
    for (int step = 0; step < 6; step++) {
        dc_tensor *xs = dc_tensor_ones(DC_DIMS(2, lens[step]));
        dc_tensor *ys = dc_tensor_zeros(DC_DIMS(2 * lens[step]));
        dc_tape_reset(t);
        dc_model_zero_grad(m);
        dc_tensor *out = dc_model_call(m, t, xs, true);
        CHECK(out && out->shape[1] == lens[step] && out->mask);
        dc_tensor *flat = out ? dc_reshape(t, out, 2, (const int64_t[]){2 * lens[step], 4}) : NULL;
        CHECK_OK(dc_tape_backward(t, dc_sparse_softmax_cross_entropy(t, flat, ys)));
        dc_tensor_free(xs);
        dc_tensor_free(ys);
    }
    dc_tape_free(t);
    /* a zero-length batch is refused with a message */
    dc_tensor *empty = dc_tensor_zeros(DC_DIMS(2, 0));
    CHECK(dc_model_predict(m, empty, 0) == NULL);
    CHECK_MSG("does not match the model's input (None, None)");
    dc_tensor_free(empty);
    dc_dataset_free(a);
    dc_dataset_free(b);
    dc_model_free(m);
    ref_free(r);
}

/* ---- masks through a model ---- */

/* Keras' rule: Dense, Dropout and Activation pass the mask on, Conv1D and the
 * global poolings drop it, Masking replaces it. */
TEST(masks_flow_through_the_layers_that_keep_them) {
    const char *ek[3] = {"input_dim", "output_dim", "mask_zero"}, *ev[3] = {"10", "4", "true"};
    const char *ck[2] = {"filters", "kernel_size"}, *cv[2] = {"3", "1"};
    dc_layer *ls[7] = {layer("Embedding", ek, ev, 3),
                       dc_layer_dense(&(dc_dense_options){.units = 5, .activation = "relu"}),
                       dc_layer_dropout(0.5f),
                       dc_layer_activation("tanh"),
                       layer("Conv1D", ck, cv, 2),
                       dc_layer_masking(0.0f, NULL),
                       dc_layer_global_max_pooling1d()};
    dc_model *m = model_of(ls, 7, 1, (const int64_t[]){-1});
    dc_tensor *x = dc_tensor_from_data(DC_DIMS(2, 4), (const float[]){3, 0, 2, 0, 0, 0, 0, 9});
    dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
    dc_tensor *o[7] = {0};
    CHECK_OK(dc_model_call_collect(m, t, x, o, 7));
    const float want[8] = {1, 0, 1, 0, 0, 0, 0, 1};
    for (int i = 0; i < 4; i++) {
        CHECK(o[i] && o[i]->mask);
        if (o[i] && o[i]->mask) CHECK_ALLCLOSE(o[i]->mask->data, want, 8, 0, 0);
    }
    CHECK(o[4] && o[4]->mask == NULL); /* Conv1D drops it */
    CHECK(o[5] && o[5]->mask != NULL);  /* Masking makes a new one */
    CHECK(o[6] && o[6]->mask == NULL);  /* pooling consumes it */
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_model_free(m);
}

/* ---- None axes, summaries and bad input ---- */

TEST(none_time_axis_builds_and_refuses_what_needs_a_length) {
    dc_layer *ls[3] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 20, .output_dim = 8}),
                       dc_layer_conv1d(&(dc_conv1d_layer_options){.filters = 6, .kernel_size = 3, .padding = DC_PAD_CAUSAL}),
                       dc_layer_dense(&(dc_dense_options){.units = 2})};
    dc_model *m = model_of(ls, 3, 1, (const int64_t[]){-1});
    char path[512];
    snprintf(path, sizeof path, "%s/seq_summary.txt", test_tmpdir());
    FILE *f = fopen(path, "w+");
    CHECK_OK(dc_model_summary(m, f));
    rewind(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    CHECK(strstr(buf, "(None, None, 8)") && strstr(buf, "(None, None, 6)") &&
          strstr(buf, "(None, None, 2)"));
    dc_model_free(m);
    /* Flatten then Dense: the Dense kernel would depend on the length */
    dc_model *b = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(b, dc_layer_embedding(&(dc_embedding_options){.input_dim = 5, .output_dim = 2})));
    CHECK_OK(dc_model_add(b, dc_layer_flatten()));
    CHECK_OK(dc_model_add(b, dc_layer_dense(&(dc_dense_options){.units = 2})));
    CHECK_ERR(dc_model_build(b, 1, (const int64_t[]){-1}, 0), DC_ERR_SHAPE,
              "Dense 'dense': input (None, None): axis 1 is None");
    dc_model_free(b);
    /* a fixed length works with Flatten */
    b = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(b, dc_layer_embedding(&(dc_embedding_options){.input_dim = 5, .output_dim = 2})));
    CHECK_OK(dc_model_add(b, dc_layer_flatten()));
    CHECK_OK(dc_model_add(b, dc_layer_dense(&(dc_dense_options){.units = 2})));
    CHECK_OK(dc_model_build(b, 1, (const int64_t[]){6}, 0));
    dc_model_free(b);
    /* image layers need known sizes; sequence layers need (T, C) */
    b = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(b, dc_layer_max_pooling2d(NULL)));
    CHECK_ERR(dc_model_build(b, 3, (const int64_t[]){-1, 8, 1}, 0), DC_ERR_SHAPE,
              "axis 1 is None");
    dc_model_free(b);
    b = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(b, dc_layer_conv1d(&(dc_conv1d_layer_options){.filters = 2, .kernel_size = 3})));
    CHECK_ERR(dc_model_build(b, 3, (const int64_t[]){8, 8, 1}, 0), DC_ERR_SHAPE,
              "Conv1D 'conv1d': input (None, 8, 8, 1) must be a sequence (None, steps, features)");
    dc_model_free(b);
    b = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(b, dc_layer_conv1d(&(dc_conv1d_layer_options){.filters = 2, .kernel_size = 5})));
    CHECK_ERR(dc_model_build(b, 2, (const int64_t[]){4, 3}, 0), DC_ERR_SHAPE,
              "kernel 5 (dilated 5) is longer than the input (None, 4, 3)");
    dc_model_free(b);
    b = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(b, dc_layer_global_average_pooling1d()));
    CHECK_ERR(dc_model_build(b, 1, (const int64_t[]){4}, 0), DC_ERR_SHAPE, "must be a sequence");
    dc_model_free(b);
}

TEST(sequence_layers_refuse_bad_input_with_messages) {
    /* ids outside the table or not whole: named with their (batch, step) */
    dc_layer *ls[1] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 5, .output_dim = 2})};
    dc_model *m = model_of(ls, 1, 1, (const int64_t[]){-1});
    dc_tensor *x = dc_tensor_from_data(DC_DIMS(2, 3), (const float[]){1, 2, 3, 4, 9, 0});
    CHECK(dc_model_predict(m, x, 0) == NULL);
    CHECK_MSG("dc_embedding: id 9 at (batch 1, step 1) is not a whole number in [0, 5)");
    x->data[4] = 1.5f;
    CHECK(dc_model_predict(m, x, 0) == NULL);
    CHECK_MSG("id 1.5 at (batch 1, step 1)");
    x->data[4] = -1;
    CHECK(dc_model_predict(m, x, 0) == NULL);
    CHECK_MSG("id -1 at (batch 1, step 1)");
    x->data[4] = NAN;
    CHECK(dc_model_predict(m, x, 0) == NULL);
    CHECK_MSG("id nan at (batch 1, step 1)");
    dc_tensor_free(x);
    /* wrong rank */
    dc_tensor *x3 = dc_tensor_zeros(DC_DIMS(2, 3, 1));
    CHECK(dc_model_predict(m, x3, 0) == NULL);
    CHECK_MSG("does not match the model's input (None, None)");
    dc_tensor_free(x3);
    dc_model_free(m);
    /* options */
    const char *k1[1] = {"mask_value"}, *v1[1] = {"nan"};
    CHECK(dc_layer_from_config("Masking", k1, v1, 1) == NULL);
    CHECK_MSG("Masking: option 'mask_value': 'nan' is not a number");
    const char *k2[1] = {"output_dim"}, *v2[1] = {"4"};
    CHECK(dc_layer_from_config("Embedding", k2, v2, 1) == NULL);
    CHECK_MSG("Embedding: option 'input_dim' is required");
    const char *k3[2] = {"filters", "kernel_size"}, *v3[2] = {"4", "3,3"};
    CHECK(dc_layer_from_config("Conv1D", k3, v3, 2) == NULL);
    CHECK_MSG("Conv1D: option 'kernel_size': '3,3' is not one integer >= 1");
    const char *k4[3] = {"filters", "kernel_size", "padding"}, *v4[3] = {"4", "3", "full"};
    CHECK(dc_layer_from_config("Conv1D", k4, v4, 3) == NULL);
    CHECK_MSG("'full' is not 'valid', 'same' or 'causal'");
    const char *k5[1] = {"pool_size"}, *v5[1] = {"0"};
    CHECK(dc_layer_from_config("MaxPooling1D", k5, v5, 1) == NULL);
    CHECK_MSG("MaxPooling1D: option 'pool_size': '0' is not one integer >= 1");
    const char *k6[1] = {"shape"}, *v6[1] = {"None,abc"};
    CHECK(dc_layer_from_config("InputLayer", k6, v6, 1) == NULL);
    CHECK_MSG("is not a shape like");
    /* the ops themselves */
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *s = dc_tape_tensor(t, DC_DIMS(2, 3, 4)), *bad = dc_tape_tensor(t, DC_DIMS(2, 2));
    CHECK(dc_seq_avg_pool(t, s, bad) == NULL);
    CHECK_MSG("dc_seq_avg_pool: mask (2,2) does not fit x (2,3,4)");
    dc_tape_free(t);
}

/* ---- training properties ---- */

/* Embedding -> GlobalAveragePooling1D -> Dense on fixed-length ids */
static dc_model *bag_model(void) {
    dc_layer *ls[3] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 50, .output_dim = 8, .mask_zero = true}),
                       dc_layer_global_average_pooling1d(),
                       dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax"})};
    dc_model *m = model_of(ls, 3, 1, (const int64_t[]){12});
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_ADAM}, .metrics = {DC_METRIC_ACCURACY}};
    CHECK_OK(dc_model_compile(m, &co));
    return m;
}

/* 64 sequences of 12 ids, zero-padded after a length of 3..12; label = the
 * first id mod 3 */
static dc_dataset *bag_data(void) {
    float x[64 * 12] = {0}, y[64];
    dc_rng r;
    dc_rng_seed(&r, 9);
    for (int i = 0; i < 64; i++) {
        int len = 3 + (int)dc_rng_below(&r, 10);
        for (int s = 0; s < len; s++) x[i * 12 + s] = (float)(1 + dc_rng_below(&r, 49));
        y[i] = (float)((int)x[i * 12] % 3);
    }
    return dc_dataset_from_arrays(x, 1, (const int64_t[]){12}, y, 0, NULL, 64, true);
}

static bool count_allocs(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)m, (void)loss;
    uint64_t *c = user;
    if (epoch == 0 && batch == 0) c[0] = dc_alloc_count();
    c[1] = dc_alloc_count();
    return false;
}

TEST(embedding_pooling_training_allocates_nothing_after_the_first_step) {
    dc_model *m = bag_model();
    dc_dataset *ds = bag_data();
    uint64_t c[2] = {0, 0};
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = count_allocs, .user = c};
    dc_fit_options fo = {.epochs = 3, .batch_size = 16, .callbacks = &cb, .n_callbacks = 1, .seed = 2};
    CHECK_OK(dc_model_fit(m, ds, &fo, NULL));
    CHECK(c[0] > 0 && c[1] == c[0]);
    dc_dataset_free(ds);
    dc_model_free(m);
}

TEST(sequence_training_same_weights_for_1_and_2_threads) {
    int saved = dc_get_num_threads();
    float *w[2] = {0};
    size_t n[2] = {0};
    dc_model *ms[2];
    for (int k = 0; k < 2; k++) {
        dc_set_num_threads(k + 1);
        const char *ck[3] = {"filters", "kernel_size", "padding"}, *cv[3] = {"6", "3", "same"};
        dc_layer *ls[5] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 50, .output_dim = 8, .mask_zero = true}),
                           layer("Conv1D", ck, cv, 3), dc_layer_max_pooling1d(NULL),
                           dc_layer_global_max_pooling1d(),
                           dc_layer_dense(&(dc_dense_options){.units = 3})};
        ms[k] = model_of(ls, 5, 1, (const int64_t[]){12});
        dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = {.kind = DC_OPT_ADAM}};
        CHECK_OK(dc_model_compile(ms[k], &co));
        dc_dataset *ds = bag_data();
        dc_fit_options fo = {.epochs = 2, .batch_size = 16, .seed = 5};
        CHECK_OK(dc_model_fit(ms[k], ds, &fo, NULL));
        CHECK_OK(dc_model_weights(ms[k], &w[k], &n[k]));
        dc_dataset_free(ds);
    }
    dc_set_num_threads(saved);
    CHECK(n[0] == n[1] && n[0] > 0);
    if (n[0] == n[1]) CHECK(memcmp(w[0], w[1], n[0] * sizeof(float)) == 0);
    dc_model_free(ms[0]);
    dc_model_free(ms[1]);
}

TEST(sequence_model_save_load_round_trip) {
    const char *ck[4] = {"filters", "kernel_size", "padding", "dilation_rate"}, *cv[4] = {"4", "2", "causal", "2"};
    const char *mk[1] = {"mask_value"}, *mv[1] = {"0.25"};
    const char *pk[3] = {"pool_size", "strides", "padding"}, *pv[3] = {"3", "1", "same"};
    dc_layer *ls[7] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 30, .output_dim = 5, .mask_zero = true}),
                       dc_layer_dense(&(dc_dense_options){.units = 6, .activation = "tanh"}),
                       layer("Conv1D", ck, cv, 4), layer("MaxPooling1D", pk, pv, 3),
                       layer("Masking", mk, mv, 1), dc_layer_global_average_pooling1d(),
                       dc_layer_dense(&(dc_dense_options){.units = 2})};
    dc_model *m = model_of(ls, 7, 1, (const int64_t[]){-1});
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = {.kind = DC_OPT_ADAM}};
    CHECK_OK(dc_model_compile(m, &co));
    char path[512];
    snprintf(path, sizeof path, "%s/seq_model.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    CHECK(l != NULL);
    if (l) {
        int64_t s[4];
        CHECK(dc_model_input_shape(l, s) == 1 && s[0] == -1);
        dc_tensor *x = dc_tensor_from_data(DC_DIMS(2, 6), (const float[]){4, 8, 1, 0, 0, 0, 7, 7, 2, 9, 29, 3});
        dc_tensor *a = dc_model_predict(m, x, 0), *b = dc_model_predict(l, x, 0);
        CHECK(a && b && a->size == 4 && b->size == 4);
        if (a && b) CHECK(memcmp(a->data, b->data, 4 * sizeof(float)) == 0);
        dc_tensor_free(a);
        dc_tensor_free(b);
        dc_tensor_free(x);
        for (int i = 0; i < dc_model_num_layers(m); i++)
            CHECK(!strcmp(dc_layer_type(dc_model_layer(m, i)), dc_layer_type(dc_model_layer(l, i))));
        dc_model_free(l);
    }
    dc_model_free(m);
}

/* A model file with the sequence layers and a None time axis, as `deepc
 * summary` reads it (the same builder). */
TEST(model_file_with_sequence_layers_and_none_axis) {
    const char *text =
        "[model]\nname = seq\ninput_shape = None\n\n[data]\ndataset = fashion-mnist\n\n"
        "[train]\nloss = sparse_categorical_crossentropy\noptimizer = adam\n\n"
        "[Embedding]\ninput_dim = 100\noutput_dim = 16\nmask_zero = true\n\n"
        "[Conv1D]\nfilters = 8\nkernel_size = 3\npadding = causal\nactivation = relu\n\n"
        "[MaxPooling1D]\npool_size = 2\n\n[Masking]\nmask_value = 0\n\n"
        "[GlobalMaxPooling1D]\n\n[Dense]\nunits = 4\nactivation = softmax\n";
    dc_run_config *c = dc_run_config_parse(text, "seq.ini");
    CHECK(c != NULL);
    if (!c) {
        test_fail(__FILE__, __LINE__, "%s", dc_last_error());
        return;
    }
    dc_model *m = dc_run_config_build_model(c, NULL);
    CHECK(m != NULL);
    if (m) {
        char path[512];
        snprintf(path, sizeof path, "%s/seq_ini_summary.txt", test_tmpdir());
        FILE *f = fopen(path, "w+");
        CHECK_OK(dc_model_summary(m, f));
        rewind(f);
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        CHECK(strstr(buf, "embedding (Embedding)") && strstr(buf, "(None, None, 16)"));
        CHECK(strstr(buf, "conv1d (Conv1D)") && strstr(buf, "(None, None, 8)"));
        CHECK(strstr(buf, "(None, 4)") && strstr(buf, "1600")); /* 100*16 */
        dc_model_free(m);
    } else {
        test_fail(__FILE__, __LINE__, "%s", dc_last_error());
    }
    dc_run_config_free(c);
    /* the command */
    char ini[1100], args[1200], out[4096] = "";
    snprintf(ini, sizeof ini, "%s/seq.ini", test_tmpdir());
    FILE *f = fopen(ini, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    snprintf(args, sizeof args, "summary %s", ini);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "(None, None, 16)") && strstr(out, "(None, None, 8)"));
    /* InputLayer with None */
    const char *text2 =
        "[model]\nname = seq2\n\n[data]\ndataset = fashion-mnist\n\n"
        "[train]\nloss = mse\noptimizer = sgd\n\n[InputLayer]\nshape = None, 3\n\n"
        "[Masking]\n\n[Dense]\nunits = 2\n";
    c = dc_run_config_parse(text2, "seq2.ini");
    m = c ? dc_run_config_build_model(c, NULL) : NULL;
    CHECK(m != NULL);
    int64_t s[4];
    if (m) CHECK(dc_model_output_shape(m, s) == 2 && s[0] == -1 && s[1] == 2);
    dc_model_free(m);
    dc_run_config_free(c);
}

/* ---- Bidirectional against Keras ---- */

static void bidi_case(ref_file *r, const char *name, const char *type, const char *units,
                      const char *ret_seq, const char *merge, int n_w) {
    char key[64];
    const char *k[4] = {"layer", "units", "return_sequences", "merge_mode"};
    const char *v[4] = {type, units, ret_seq, merge};
    dc_layer *ls[2] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 7, .output_dim = 4, .mask_zero = true}),
                       layer("Bidirectional", k, v, 4)};
    if (!ls[1]) {
        dc_layer_free(ls[0]);
        return;
    }
    dc_model *m = model_of(ls, 2, 1, (const int64_t[]){-1});
    set_param(m, "embedding/embeddings", ref_get(r, "bi_emb"));
    dc_layer *bl = dc_model_layer(m, 1);
    CHECK(dc_layer_num_params(bl) == n_w);
    for (int j = 0; j < n_w && j < dc_layer_num_params(bl); j++) {
        snprintf(key, sizeof key, "%s_w%d", name, j);
        const dc_tensor *want = ref_get(r, key);
        dc_tensor *p = dc_layer_param(bl, j);
        CHECK(want && p->size == want->size);
        if (want && p->size == want->size) memcpy(p->data, want->data, (size_t)p->size * sizeof(float));
    }
    CHECK(strstr(dc_layer_param(bl, 0)->name, "bidirectional/forward_") != NULL);
    CHECK(strstr(dc_layer_param(bl, n_w - 1)->name, "bidirectional/backward_") != NULL);
    dc_tensor *ids = copy_of(ref_get(r, "bi_ids"));
    dc_tape *t = dc_tape_new(NULL);
    dc_model_zero_grad(m);
    dc_tensor *y = dc_model_call(m, t, ids, true);
    snprintf(key, sizeof key, "%s_y", name);
    const dc_tensor *want = ref_get(r, key);
    CHECK(y && want && y->size == want->size);
    if (y && want && y->size == want->size) {
        CHECK_ALLCLOSE(y->data, want->data, y->size, 1e-5, 1e-4);
        CHECK(!strcmp(ret_seq, "true") ? y->mask != NULL : y->mask == NULL);
        snprintf(key, sizeof key, "%s_g", name);
        CHECK_OK(dc_tape_backward(t, weighted_sum(t, y, ref_get(r, key))));
        for (int j = 0; j < n_w; j++) {
            snprintf(key, sizeof key, "%s_dw%d", name, j);
            const dc_tensor *dw = ref_get(r, key);
            if (dw) CHECK_ALLCLOSE(dc_layer_param(bl, j)->grad, dw->data, dw->size, 1e-5, 1e-4);
        }
    }
    dc_tape_free(t);
    dc_tensor_free(ids);
    dc_model_free(m);
}

TEST(bidirectional_matches_keras_with_masks) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    bidi_case(r, "bi_lstm", "LSTM", "3", "true", "concat", 6);
    bidi_case(r, "bi_gru", "GRU", "2", "false", "sum", 6);
    bidi_case(r, "bi_rnn", "SimpleRNN", "3", "true", "ave", 6);
    bidi_case(r, "bi_gru_mul", "GRU", "2", "true", "mul", 6);
    ref_free(r);
}

TEST(bidirectional_options_save_load_and_errors) {
    const char *k[3] = {"layer", "units", "merge_mode"}, *v[3] = {"Dense", "3", "concat"};
    CHECK(dc_layer_from_config("Bidirectional", k, v, 3) == NULL);
    CHECK_MSG("must be SimpleRNN, LSTM or GRU");
    v[0] = "LSTM", v[2] = "max";
    CHECK(dc_layer_from_config("Bidirectional", k, v, 3) == NULL);
    CHECK_MSG("'max' is not concat, sum, ave or mul");
    const char *k2[2] = {"layer", "unit"}, *v2[2] = {"GRU", "3"};
    CHECK(dc_layer_from_config("Bidirectional", k2, v2, 2) == NULL);
    CHECK_MSG("unknown option 'unit'");
    /* C constructor, save and load */
    dc_layer *ls[3] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 9, .output_dim = 4, .mask_zero = true}),
                       dc_layer_bidirectional(dc_layer_gru(&(dc_rnn_layer_options){.units = 3}), NULL, NULL),
                       dc_layer_dense(&(dc_dense_options){.units = 2})};
    CHECK(ls[1] != NULL);
    if (!ls[1]) return;
    dc_model *m = model_of(ls, 3, 1, (const int64_t[]){-1});
    int64_t s[4];
    CHECK(dc_layer_output_shape(dc_model_layer(m, 1), s) == 1 && s[0] == 6);
    char path[512];
    snprintf(path, sizeof path, "%s/bidi.safetensors", test_tmpdir());
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = {.kind = DC_OPT_ADAM}};
    CHECK_OK(dc_model_compile(m, &co));
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    CHECK(l != NULL);
    if (l) {
        dc_tensor *x = dc_tensor_from_data(DC_DIMS(2, 4), (const float[]){1, 2, 0, 0, 8, 7, 6, 5});
        dc_tensor *a = dc_model_predict(m, x, 0), *b = dc_model_predict(l, x, 0);
        CHECK(a && b && a->size == 4 && b->size == 4);
        if (a && b) CHECK(memcmp(a->data, b->data, 4 * sizeof(float)) == 0);
        CHECK(dc_model_find_param(l, "bidirectional/backward_gru/recurrent_kernel") != NULL);
        dc_tensor_free(a);
        dc_tensor_free(b);
        dc_tensor_free(x);
        dc_model_free(l);
    }
    dc_model_free(m);
}

/* Embedding(mask_zero) -> Bidirectional(GRU, return_sequences) -> Dense over
 * time -> GlobalAveragePooling1D -> Dense: masks through every layer. */
static dc_model *bidi_model(void) {
    const char *k[4] = {"layer", "units", "return_sequences", "dropout"}, *v[4] = {"GRU", "4", "true", "0.2"};
    dc_layer *ls[5] = {dc_layer_embedding(&(dc_embedding_options){.input_dim = 50, .output_dim = 6, .mask_zero = true}),
                       layer("Bidirectional", k, v, 4),
                       dc_layer_dense(&(dc_dense_options){.units = 5, .activation = "relu"}),
                       dc_layer_global_average_pooling1d(),
                       dc_layer_dense(&(dc_dense_options){.units = 3})};
    dc_model *m = model_of(ls, 5, 1, (const int64_t[]){12});
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .optimizer = {.kind = DC_OPT_ADAM}};
    CHECK_OK(dc_model_compile(m, &co));
    return m;
}

TEST(bidirectional_training_allocation_free_and_thread_independent) {
    int saved = dc_get_num_threads();
    float *w[2] = {0};
    size_t n[2] = {0};
    dc_model *ms[2];
    for (int k = 0; k < 2; k++) {
        dc_set_num_threads(k + 1);
        ms[k] = bidi_model();
        dc_dataset *ds = bag_data();
        uint64_t c[2] = {0, 0};
        dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = count_allocs, .user = c};
        dc_fit_options fo = {.epochs = 2, .batch_size = 16, .seed = 5, .callbacks = &cb, .n_callbacks = 1};
        CHECK_OK(dc_model_fit(ms[k], ds, &fo, NULL));
        CHECK(c[0] > 0 && c[1] == c[0]);
        CHECK_OK(dc_model_weights(ms[k], &w[k], &n[k]));
        dc_dataset_free(ds);
    }
    dc_set_num_threads(saved);
    CHECK(n[0] == n[1] && n[0] > 0);
    if (n[0] == n[1]) CHECK(memcmp(w[0], w[1], n[0] * sizeof(float)) == 0);
    dc_model_free(ms[0]);
    dc_model_free(ms[1]);
}

TEST(model_file_with_bidirectional) {
    const char *text =
        "[model]\nname = bi\ninput_shape = None\n\n[data]\ndataset = fashion-mnist\n\n"
        "[train]\nloss = sparse_categorical_crossentropy\noptimizer = adam\n\n"
        "[Embedding]\ninput_dim = 100\noutput_dim = 16\nmask_zero = true\n\n"
        "[Bidirectional]\nlayer = LSTM\nunits = 8\nreturn_sequences = true\n\n"
        "[Bidirectional]\nlayer = GRU\nunits = 4\nmerge_mode = sum\n\n"
        "[Dense]\nunits = 3\nactivation = softmax\n";
    dc_run_config *c = dc_run_config_parse(text, "bi.ini");
    dc_model *m = c ? dc_run_config_build_model(c, NULL) : NULL;
    CHECK(m != NULL);
    if (!m) test_fail(__FILE__, __LINE__, "%s", dc_last_error());
    if (m) {
        int64_t s[4];
        CHECK(dc_layer_output_shape(dc_model_layer(m, 1), s) == 2 && s[0] == -1 && s[1] == 16);
        CHECK(dc_layer_output_shape(dc_model_layer(m, 2), s) == 1 && s[0] == 4);
        /* LSTM 2*(16*32 + 8*32 + 32), GRU 2*(16*12 + 4*12 + 2*12) */
        CHECK(dc_model_count_params(m) == 1600 + 2 * (512 + 256 + 32) + 2 * (192 + 48 + 24) + 15);
        CHECK(dc_model_find_param(m, "bidirectional/forward_lstm/kernel") != NULL);
        CHECK(dc_model_find_param(m, "bidirectional_1/backward_gru/bias") != NULL);
    }
    dc_model_free(m);
    dc_run_config_free(c);
}
