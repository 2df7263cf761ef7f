/* test_multi_io.c — fit, evaluate and predict on a model of two inputs and two
 * outputs: fit equals the same steps by dc_model_train_on_batch, loss_weights
 * scale each output's gradient, per-output values and Keras' keys, bad input,
 * and fit and evaluate as Keras 3's (tests/ref/ref_multi_io_keras.py). */
#include "test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 12 };

/* a (3) and b (2) -> Concatenate -> trunk Dense(8, relu) -> cls Dense(3,
 * softmax) and reg Dense(1), built with seed 3. */
static dc_model *two_by_two(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *in[2] = {dc_input(g, DC_DIMS(3), "a"), dc_input(g, DC_DIMS(2), "b")};
    dc_symbol *h = dc_call(dc_layer_dense(&(dc_dense_options){.units = 8, .activation = "relu",
                                                              .name = "trunk"}),
                           dc_call_n(dc_layer_concatenate(-1), in, 2));
    dc_symbol *out[2] = {
        dc_call(dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax", .name = "cls"}), h),
        dc_call(dc_layer_dense(&(dc_dense_options){.units = 1, .name = "reg"}), h)};
    dc_model *m = dc_model_functional("two", g, in, 2, out, 2);
    CHECK_OK(dc_model_build(m, 0, NULL, 3));
    return m;
}

static void compile(dc_model *m, float w_cls, float w_reg) {
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                             .losses = {DC_LOSS_NONE, DC_LOSS_MSE},
                             .loss_weights = {w_cls, w_reg},
                             .metrics = {DC_METRIC_ACCURACY},
                             .output_metrics = {{DC_METRIC_NONE}, {DC_METRIC_MAE}}};
    CHECK_OK(dc_model_compile(m, &co));
}

/* The data: a (N,3), b (N,2), classes (N,) and values (N,1). */
typedef struct {
    float a[N * 3], b[N * 2], cls[N], reg[N];
} data;

static void make_data(data *d) {
    dc_rng r;
    dc_rng_seed(&r, 11);
    for (int i = 0; i < N * 3; i++) d->a[i] = (float)dc_rng_normal(&r);
    for (int i = 0; i < N * 2; i++) d->b[i] = (float)dc_rng_normal(&r);
    for (int i = 0; i < N; i++) {
        d->cls[i] = (float)(i % 3);
        d->reg[i] = d->a[3 * i] - d->b[2 * i + 1];
    }
}

static dc_dataset *dataset(const data *d) {
    dc_array xs[2] = {{d->a, N, 1, {3}}, {d->b, N, 1, {2}}};
    dc_array ys[2] = {{d->cls, N, 0, {0}}, {d->reg, N, 1, {1}}};
    return dc_dataset_from_multi_arrays(xs, 2, ys, 2);
}

/* Rows [s, s + n) of a (N, cols) array as a new tensor. */
static dc_tensor *rows(const float *x, int64_t cols, int64_t s, int64_t n) {
    int64_t shape[2] = {n, cols};
    return dc_tensor_from_data(cols ? 2 : 1, shape, x + s * (cols ? cols : 1));
}

TEST(fit_on_two_inputs_and_outputs_equals_train_on_batch) {
    data d;
    make_data(&d);
    dc_dataset *ds = dataset(&d);
    CHECK(ds && dc_dataset_num_x(ds) == 2 && dc_dataset_num_y(ds) == 2);
    dc_model *fitted = two_by_two(), *by_hand = two_by_two();
    compile(fitted, 1.0f, 0.5f);
    compile(by_hand, 1.0f, 0.5f);
    test_alloc_probe p = {0};
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = test_count_allocs, .user = &p};
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(fitted, ds, &(dc_fit_options){.epochs = 2, .batch_size = 4, .no_shuffle = true,
                                                        .callbacks = &cb, .n_callbacks = 1}, &h));
    CHECK(p.batches == 6);
    if (p.last != p.after_first)
        test_fail(__FILE__, __LINE__, "steps after the first made %llu allocations",
                  p.last - p.after_first);
    double epoch_loss[2] = {0, 0};
    for (int e = 0; e < 2; e++)
        for (int s = 0; s < N; s += 4) {
            dc_tensor *x[2] = {rows(d.a, 3, s, 4), rows(d.b, 2, s, 4)};
            dc_tensor *y[2] = {rows(d.cls, 0, s, 4), rows(d.reg, 1, s, 4)};
            float loss;
            CHECK_OK(dc_model_train_on_batch(by_hand, x, y, &loss));
            epoch_loss[e] += loss / 3.0;
            for (int k = 0; k < 2; k++) dc_tensor_free(x[k]), dc_tensor_free(y[k]);
        }
    float *w1, *w2;
    size_t n1, n2;
    CHECK_OK(dc_model_all_weights(fitted, &w1, &n1));
    CHECK_OK(dc_model_all_weights(by_hand, &w2, &n2));
    CHECK(n1 == n2 && !memcmp(w1, w2, n1 * sizeof *w1));
    /* Keras' keys: the summed loss, each output's loss and its metrics */
    const char *keys[] = {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"};
    for (int k = 0; k < 5; k++)
        if (!dc_history_get(h, keys[k])) test_fail(__FILE__, __LINE__, "no history key %s", keys[k]);
    const float *loss = dc_history_get(h, "loss"), *lc = dc_history_get(h, "cls_loss"),
                *lr = dc_history_get(h, "reg_loss");
    if (loss && lc && lr)
        for (int e = 0; e < 2; e++) {
            CHECK_NEAR(loss[e], epoch_loss[e], 1e-5);
            CHECK_NEAR(loss[e], lc[e] + 0.5f * lr[e], 1e-5);
        }
    CHECK(dc_history_get(h, "accuracy") == NULL || isnan(dc_history_get(h, "accuracy")[0]));
    dc_history_free(h);
    dc_model_free(fitted);
    dc_model_free(by_hand);
    dc_dataset_free(ds);
}

/* The weights after one full-batch SGD step with loss weights (1, w_reg). */
static void one_step(float w_reg, float *before, float *after, size_t *n) {
    data d;
    make_data(&d);
    dc_dataset *ds = dataset(&d);
    dc_model *m = two_by_two();
    compile(m, 1.0f, w_reg);
    float *w;
    CHECK_OK(dc_model_weights(m, &w, n));
    memcpy(before, w, *n * sizeof *w);
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.batch_size = N, .no_shuffle = true}, NULL));
    memcpy(after, w, *n * sizeof *w);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(loss_weights_scale_each_outputs_gradient) {
    float b1[256], a1[256], b3[256], a3[256];
    size_t n = 0;
    one_step(1.0f, b1, a1, &n);
    one_step(3.0f, b3, a3, &n);
    CHECK(n == 8 * 5 + 8 + 3 * 8 + 3 + 8 + 1 && n <= 256);
    /* layout: trunk kernel (5,8) and bias, cls (8,3) + 3, reg (8,1) + 1 */
    size_t reg = 5 * 8 + 8 + 8 * 3 + 3, cls = 5 * 8 + 8;
    CHECK(!memcmp(b1, b3, n * sizeof *b1));
    double moved = 0;
    for (size_t i = reg; i < n; i++) { /* reg's step is 3 times as long */
        CHECK_NEAR(a3[i] - b3[i], 3.0f * (a1[i] - b1[i]), 1e-6);
        moved += fabs(a1[i] - b1[i]);
    }
    CHECK(moved > 1e-3);
    for (size_t i = cls; i < reg; i++) CHECK(a3[i] == a1[i]); /* cls's loss is the same */
}

TEST(evaluate_and_predict_give_each_outputs_values) {
    data d;
    make_data(&d);
    dc_dataset *ds = dataset(&d);
    dc_model *m = two_by_two();
    compile(m, 1.0f, 0.5f);
    dc_logs logs; /* one batch: Keras' per-output means are the plain ones */
    CHECK_OK(dc_model_evaluate_logs(m, ds, N, &logs));
    CHECK(logs.n == 5);
    dc_tensor *x[2] = {rows(d.a, 3, 0, N), rows(d.b, 2, 0, N)}, *o[2] = {NULL, NULL};
    CHECK_OK(dc_model_predict_multi(m, x, 2, 5, o));
    CHECK(o[0] && o[0]->shape[0] == N && o[0]->shape[1] == 3);
    CHECK(o[1] && o[1]->shape[0] == N && o[1]->shape[1] == 1);
    if (o[0] && o[1]) {
        double ce = 0, se = 0, ae = 0, hits = 0;
        for (int i = 0; i < N; i++) {
            const float *p = o[0]->data + 3 * i;
            ce -= log(p[(int)d.cls[i]]) / N;
            int best = p[1] > p[0] ? 1 : 0;
            best = p[2] > p[best] ? 2 : best;
            hits += best == (int)d.cls[i];
            se += pow(o[1]->data[i] - d.reg[i], 2) / N;
            ae += fabs(o[1]->data[i] - d.reg[i]) / N;
        }
        CHECK_NEAR(dc_logs_get(&logs, "cls_loss"), ce, 1e-5);
        CHECK_NEAR(dc_logs_get(&logs, "reg_loss"), se, 1e-5);
        CHECK_NEAR(dc_logs_get(&logs, "loss"), ce + 0.5 * se, 1e-5);
        CHECK_NEAR(dc_logs_get(&logs, "cls_accuracy"), hits / N, 1e-6);
        CHECK_NEAR(dc_logs_get(&logs, "reg_mae"), ae, 1e-5);
        float loss, metrics[2];
        CHECK_OK(dc_model_evaluate(m, ds, 5, &loss, metrics)); /* the sum weighs samples */
        CHECK_NEAR(loss, ce + 0.5 * se, 1e-5);
        CHECK_NEAR(metrics[0], hits / N, 1e-6);
        CHECK_NEAR(metrics[1], ae, 1e-5);
    }
    /* a saved model keeps each output's metrics */
    char path[256];
    snprintf(path, sizeof path, "%s/two_by_two.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    dc_logs again;
    CHECK(l != NULL);
    if (l) {
        CHECK_OK(dc_model_evaluate_logs(l, ds, N, &again));
        CHECK(again.n == 5 && !strcmp(again.keys[4], "reg_mae"));
        CHECK(again.values[4] == dc_logs_get(&logs, "reg_mae"));
    }
    dc_model_free(l);
    /* a validation split logs each output's values under val_ */
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.validation_split = 0.25f}, &h));
    const float *v = dc_history_get(h, "val_reg_mae");
    CHECK(v && isfinite(v[0]) && dc_history_get(h, "val_cls_loss"));
    dc_history_free(h);
    for (int k = 0; k < 2; k++) dc_tensor_free(x[k]), dc_tensor_free(o[k]);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(several_arrays_refuse_bad_input_clearly) {
    data d;
    make_data(&d);
    dc_model *m = two_by_two();
    compile(m, 1.0f, 1.0f);
    dc_array xs[2] = {{d.a, N, 1, {3}}, {d.b, N - 2, 1, {2}}};
    dc_array ys[2] = {{d.cls, N, 0, {0}}, {d.reg, N, 1, {1}}};
    CHECK(dc_dataset_from_multi_arrays(xs, 2, ys, 2) == NULL);
    CHECK_MSG("input array 1 holds 10 samples, the first array 12");
    CHECK(dc_dataset_from_multi_arrays(xs, 0, ys, 2) == NULL);
    CHECK_MSG("0 input arrays (1 to 8)");
    xs[1].n = N;
    ys[1].n = N - 1;
    CHECK(dc_dataset_from_multi_arrays(xs, 2, ys, 2) == NULL);
    CHECK_MSG("target array 1 holds 11 samples");
    /* too few arrays for the model */
    dc_dataset *one = dc_dataset_from_multi_arrays(xs, 1, ys, 1);
    CHECK_ERR(dc_model_fit(m, one, NULL, NULL), DC_ERR_ARG,
              "dc_model_fit: the training data holds 1 input and 1 target arrays; model 'two' has 2 inputs and 2 outputs");
    float loss;
    CHECK_ERR(dc_model_evaluate(m, one, 0, &loss, NULL), DC_ERR_ARG, "holds 1 input and 1 target arrays");
    /* an input of the wrong shape, a target that does not fit its output */
    float wide[N * 4] = {0};
    dc_array bad_x[2] = {{d.a, N, 1, {3}}, {wide, N, 1, {4}}};
    ys[1].n = N;
    dc_dataset *bx = dc_dataset_from_multi_arrays(bad_x, 2, ys, 2);
    CHECK_ERR(dc_model_fit(m, bx, NULL, NULL), DC_ERR_SHAPE,
              "dc_model_fit: training input array 1: samples (None, 4) do not match input 'b' (None, 2)");
    dc_array bad_y[2] = {{d.cls, N, 0, {0}}, {wide, N, 1, {4}}};
    dc_dataset *by = dc_dataset_from_multi_arrays(xs, 2, bad_y, 2);
    CHECK_ERR(dc_model_fit(m, by, NULL, NULL), DC_ERR_SHAPE,
              "output 1 ('reg') of the training data: dc_model_fit: mse: labels (None, 4) do not match the outputs (None, 1)");
    /* predict: the number of arrays and their sample counts */
    dc_tensor *x[2] = {rows(d.a, 3, 0, N), rows(d.b, 2, 0, N - 1)}, *o[2];
    CHECK_ERR(dc_model_predict_multi(m, x, 1, 0, o), DC_ERR_ARG, "1 input arrays; model 'two' has 2 inputs");
    CHECK_ERR(dc_model_predict_multi(m, x, 2, 0, o), DC_ERR_SHAPE, "input 1 holds 11 samples, input 0 12");
    CHECK(dc_model_predict(m, x[0], 0) == NULL);
    CHECK_MSG("1 input arrays; model 'two' has 2 inputs");
    for (int k = 0; k < 2; k++) dc_tensor_free(x[k]);
    dc_dataset_free(one);
    dc_dataset_free(bx);
    dc_dataset_free(by);
    dc_model_free(m);
}

TEST(two_inputs_and_outputs_fit_as_keras) {
    ref_file *f = ref_load("ref/data/multi_io_keras.txt");
    if (!f) return;
    dc_model *m = two_by_two();
    compile(m, 1.0f, 0.5f);
    static const char *const params[] = {"trunk/kernel", "trunk/bias", "cls/kernel",
                                         "cls/bias",     "reg/kernel", "reg/bias"};
    char key[64];
    for (int i = 0; i < 6; i++) {
        dc_tensor *p = dc_model_find_param(m, params[i]);
        snprintf(key, sizeof key, "init/%s", params[i]);
        const dc_tensor *r = ref_get(f, key);
        CHECK(p && r && p->size == r->size);
        if (p && r && p->size == r->size) memcpy(p->data, r->data, (size_t)p->size * sizeof(float));
    }
    const dc_tensor *a = ref_get(f, "a"), *b = ref_get(f, "b"), *cls = ref_get(f, "cls"),
                    *reg = ref_get(f, "reg");
    if (!a || !b || !cls || !reg) {
        ref_free(f);
        dc_model_free(m);
        return;
    }
    dc_array xs[2] = {{a->data, N, 1, {3}}, {b->data, N, 1, {2}}};
    dc_array ys[2] = {{cls->data, N, 0, {0}}, {reg->data, N, 1, {1}}};
    dc_dataset *ds = dc_dataset_from_multi_arrays(xs, 2, ys, 2);
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 2, .batch_size = 4, .no_shuffle = true,
                                                   .validation_split = 0.25f}, &h));
    static const char *const cols[] = {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae",
                                       "val_loss", "val_cls_loss", "val_reg_loss",
                                       "val_cls_accuracy", "val_reg_mae"};
    for (int i = 0; h && i < 10; i++) {
        snprintf(key, sizeof key, "history/%s", cols[i]);
        const dc_tensor *r = ref_get(f, key);
        const float *got = dc_history_get(h, cols[i]);
        CHECK(r && got);
        for (int e = 0; r && got && e < 2; e++)
            if (fabs(got[e] - r->data[e]) > 1e-5 + 1e-5 * fabs(r->data[e]))
                test_fail(__FILE__, __LINE__, "%s epoch %d: %g, Keras %g", cols[i], e + 1,
                          (double)got[e], (double)r->data[e]);
    }
    /* evaluate in batches of 5: "loss" weighs each batch by its samples,
     * the per-output losses count each batch once (Keras 3 does both) */
    dc_logs logs;
    CHECK_OK(dc_model_evaluate_logs(m, ds, 5, &logs));
    for (int i = 0; i < logs.n; i++) {
        snprintf(key, sizeof key, "evaluate/%s", logs.keys[i]);
        const dc_tensor *r = ref_get(f, key);
        CHECK(r != NULL);
        if (r && fabs(logs.values[i] - r->data[0]) > 1e-5 + 1e-5 * fabs(r->data[0]))
            test_fail(__FILE__, __LINE__, "evaluate %s: %g, Keras %g", logs.keys[i],
                      (double)logs.values[i], (double)r->data[0]);
    }
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "final/%s", params[i]);
        const dc_tensor *r = ref_get(f, key), *p = dc_model_find_param(m, params[i]);
        CHECK(p && r && p->size == r->size);
        if (p && r && p->size == r->size) CHECK_ALLCLOSE(p->data, r->data, p->size, 1e-5, 1e-5);
    }
    dc_history_free(h);
    dc_dataset_free(ds);
    dc_model_free(m);
    ref_free(f);
}

/* Class weights are the sparse crossentropy output's: the mse output takes
 * none, and weights of 1 train as none at all. */
TEST(class_weights_go_to_the_crossentropy_output_only) {
    data d;
    make_data(&d);
    dc_dataset *ds = dataset(&d);
    dc_model *plain = two_by_two(), *weighted = two_by_two();
    compile(plain, 1.0f, 1.0f);
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                             .losses = {DC_LOSS_NONE, DC_LOSS_MSE},
                             .n_class_weights = 3, .class_weights = {1, 1, 1}};
    CHECK_OK(dc_model_compile(weighted, &co));
    dc_fit_options fo = {.batch_size = 4, .no_shuffle = true};
    CHECK_OK(dc_model_fit(plain, ds, &fo, NULL));
    CHECK_OK(dc_model_fit(weighted, ds, &fo, NULL));
    float *w1, *w2;
    size_t n1, n2;
    CHECK_OK(dc_model_weights(plain, &w1, &n1));
    CHECK_OK(dc_model_weights(weighted, &w2, &n2));
    CHECK(n1 == n2);
    CHECK_ALLCLOSE(w1, w2, (int64_t)n1, 1e-6, 1e-5);
    dc_model_free(plain);
    dc_model_free(weighted);
    dc_dataset_free(ds);
}
