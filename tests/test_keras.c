/* test_keras.c — Keras 3 .keras archives: imported models predict what Keras predicted
 * (tests/ref/ref_keras.py), deepc's exports predict in Keras what deepc does, and
 * hostile or corrupt archives are refused with the file and the part named. */
#include "test.h"
#include "io/h5_read.h"
#include <dirent.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zip.h>

#define KDIR "ref/data/keras/"
#define BATCH 3

static const char *kref(const char *name, const char *ext) {
    static char rel[256];
    snprintf(rel, sizeof rel, KDIR "%s%s", name, ext);
    return test_path(rel);
}

static const char *scratch(const char *name) {
    static char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", test_tmpdir(), name);
    return p;
}

static void write_floats(const char *path, const float *p, int64_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, sizeof *p, (size_t)n, f) == (size_t)n);
    if (f) fclose(f);
}

/* ---- import: Keras' own archives ---- */

static void check_import(const char *name) {
    dc_model *m = dc_model_import_keras(kref(name, ".keras"));
    CHECK(m != NULL);
    if (!m) {
        printf("  %s\n", dc_last_error());
        return;
    }
    ref_file *r = ref_load(KDIR "keras_outputs.txt");
    char xn[64], yn[64];
    snprintf(xn, sizeof xn, "%s_x", name);
    snprintf(yn, sizeof yn, "%s_y", name);
    const dc_tensor *x = ref_get(r, xn), *want = ref_get(r, yn);
    if (x && want) {
        dc_tensor *y = dc_model_predict(m, x, BATCH);
        CHECK(y && y->size == want->size);
        for (int64_t k = 0; y && k < y->size && k < want->size; k++)
            CHECK_NEAR(y->data[k], want->data[k], 1e-5);
        dc_tensor_free(y);
    }
    ref_free(r);
    dc_model_free(m);
}

TEST(keras_import_dense_batchnorm_dropout) { check_import("mlp"); }
TEST(keras_import_conv2d_pools_flatten) { check_import("cnn"); }
TEST(keras_import_embedding_lstm_gru_simple_rnn) { check_import("rnn"); }
TEST(keras_import_conv1d_pool1d_global) { check_import("seq"); }
TEST(keras_import_bidirectional_masking) { check_import("bidi"); }

TEST(keras_import_compile_settings) {
    dc_model *m = dc_model_import_keras(kref("mlp", ".keras"));
    CHECK(m != NULL);
    if (!m) return;
    dc_metric_kind mk[4];
    CHECK(dc_model_metrics(m, mk, 4) == 1 && mk[0] == DC_METRIC_ACCURACY);
    dc_optimizer *o = dc_model_optimizer(m);
    CHECK(o && !strcmp(dc_optimizer_name(o), "Adam"));
    if (o) CHECK_NEAR(dc_optimizer_learning_rate(o), 0.002, 1e-9);
    /* the names and shapes deepc gives the weights */
    dc_tensor *k = dc_model_find_param(m, "dense/kernel");
    CHECK(k && k->ndim == 2 && k->shape[0] == 8 && k->shape[1] == 16);
    CHECK(dc_model_find_param(m, "batch_normalization/moving_variance") != NULL);
    dc_model_free(m);

    m = dc_model_import_keras(kref("rnn", ".keras"));
    CHECK(m != NULL);
    if (!m) return;
    o = dc_model_optimizer(m);
    CHECK(o && !strcmp(dc_optimizer_name(o), "RMSprop"));
    CHECK(dc_model_metrics(m, mk, 4) == 1 && mk[0] == DC_METRIC_MAE);
    /* imported models train on: one step of fit runs */
    float xs[2 * 7] = {1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1}, ys[4] = {0.5f, -0.5f, 1, 0};
    dc_dataset *ds = dc_dataset_from_arrays(xs, DC_DIMS(7), ys, DC_DIMS(2), 2, true);
    dc_fit_options fo = {.epochs = 1, .batch_size = 2};
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &fo, &h));
    CHECK(h && dc_history_get(h, "loss") && isfinite(dc_history_get(h, "loss")[0]));
    dc_history_free(h);
    dc_dataset_free(ds);
    dc_model_free(m);
}

/* ---- import: Functional models ---- */

/* An imported Functional model predicts what Keras did on every output. */
static void check_functional(const char *name, dc_model *m) {
    ref_file *r = ref_load(KDIR "functional_outputs.txt");
    const dc_tensor *xs[DC_MAX_MODEL_IO];
    char key[64];
    int n_in = dc_model_num_inputs(m), n_out = 0;
    for (int i = 0; i < n_in; i++) {
        snprintf(key, sizeof key, "%s_x%d", name, i);
        xs[i] = ref_get(r, key);
        CHECK(xs[i] != NULL);
        if (!xs[i]) n_in = 0;
    }
    dc_tensor *ys[DC_MAX_MODEL_IO];
    if (n_in) n_out = test_predict_all(m, (dc_tensor *const *)xs, ys);
    for (int i = 0; i < n_out; i++) {
        snprintf(key, sizeof key, "%s_y%d", name, i);
        const dc_tensor *want = ref_get(r, key);
        CHECK(want && ys[i] && ys[i]->size == want->size);
        for (int64_t k = 0; want && ys[i] && k < ys[i]->size && k < want->size; k++)
            CHECK_NEAR(ys[i]->data[k], want->data[k], 1e-5);
        dc_tensor_free(ys[i]);
    }
    CHECK(n_out == dc_model_num_outputs(m));
    ref_free(r);
}

static dc_model *import_checked(const char *name) {
    dc_model *m = dc_model_import_keras(kref(name, ".keras"));
    CHECK(m != NULL);
    if (!m) printf("  %s\n", dc_last_error());
    return m;
}

TEST(keras_import_functional_unet) {
    dc_model *m = import_checked("unet");
    if (!m) return;
    CHECK(dc_model_is_functional(m) && dc_model_num_inputs(m) == 1 && dc_model_num_outputs(m) == 1);
    check_functional("unet", m);
    dc_optimizer *o = dc_model_optimizer(m);
    CHECK(o && !strcmp(dc_optimizer_name(o), "Adam"));
    dc_metric_kind mk[4];
    CHECK(dc_model_metrics(m, mk, 4) == 1 && mk[0] == DC_METRIC_ACCURACY);
    CHECK(dc_model_find_param(m, "conv2d_transpose/kernel") != NULL);
    dc_model_free(m);
}

TEST(keras_import_functional_two_inputs_merges_shared) {
    dc_model *m = import_checked("two_in");
    if (!m) return;
    CHECK(dc_model_num_inputs(m) == 2 && dc_model_num_outputs(m) == 2);
    check_functional("two_in", m);
    dc_optimizer *o = dc_model_optimizer(m);
    CHECK(o && !strcmp(dc_optimizer_name(o), "SGD"));
    /* the compile settings train on: one step on both outputs */
    float xa[2 * 6], xb[2 * 4], y0[2 * 3], y1[2 * 2];
    for (int i = 0; i < 12; i++) xa[i] = (float)sin(i), y0[i % 6] = 0.1f * (float)i;
    for (int i = 0; i < 8; i++) xb[i] = (float)cos(i), y1[i % 4] = 0.2f;
    dc_tensor *ta = dc_tensor_from_data(2, (int64_t[]){2, 6}, xa), *tb = dc_tensor_from_data(2, (int64_t[]){2, 4}, xb);
    dc_tensor *t0 = dc_tensor_from_data(2, (int64_t[]){2, 3}, y0), *t1 = dc_tensor_from_data(2, (int64_t[]){2, 2}, y1);
    float loss = -1;
    CHECK_OK(dc_model_train_on_batch(m, (dc_tensor *[]){ta, tb}, (dc_tensor *[]){t0, t1}, &loss));
    CHECK(isfinite(loss) && loss > 0);
    dc_tensor_free(ta), dc_tensor_free(tb), dc_tensor_free(t0), dc_tensor_free(t1);
    dc_model_free(m);
}

/* ---- export: Keras loads deepc's models ---- */

/* The deepc models Keras was run on: the ONNX test's committed models, a model
 * deepc trained (trained.safetensors) and bidi.keras as deepc imported it
 * (bidi.safetensors), both made by keras_export_regenerate. */
static const char *const EXPORTS[] = {"cnn_same", "cnn_valid", "cnn_reshape", "rnn",
                                      "seq1d", "trained", "bidi", "mlp"};
#define N_EXPORTS (int)(sizeof EXPORTS / sizeof *EXPORTS)

static const char *export_model_path(const char *name) {
    static char rel[256];
    if (!strcmp(name, "trained") || !strcmp(name, "bidi"))
        snprintf(rel, sizeof rel, KDIR "%s.safetensors", name);
    else snprintf(rel, sizeof rel, "ref/data/onnx/%s.safetensors", name);
    return test_path(rel);
}

static const char *export_input_path(const char *name) {
    static char rel[256];
    if (!strcmp(name, "trained") || !strcmp(name, "bidi"))
        snprintf(rel, sizeof rel, KDIR "%s.input.bin", name);
    else snprintf(rel, sizeof rel, "ref/data/onnx/%s.input.bin", name);
    return test_path(rel);
}

static dc_tensor *export_input(const dc_model *m, const char *name) {
    int64_t shape[DC_MAX_DIMS];
    shape[0] = BATCH;
    int nd = dc_model_input_shape(m, shape + 1);
    int64_t n = 1;
    for (int i = 0; i <= nd; i++) n *= shape[i];
    float *x = test_read_floats(export_input_path(name), n);
    dc_tensor *t = x ? dc_tensor_from_data(nd + 1, shape, x) : NULL;
    free(x);
    return t;
}

/* A small CNN deepc trains for two epochs: BatchNormalization's statistics and
 * the Adam state move, and the loss takes logits (from_logits in Keras). */
static dc_model *train_small_cnn(void) {
    dc_model *m = dc_sequential_new("trained");
    const char *ck[] = {"filters", "kernel_size", "activation", "padding"}, *cv[] = {"4", "3", "relu", "same"};
    const char *dk[] = {"units"}, *dv[] = {"3"};
    const char *rk[] = {"rate"}, *rv[] = {"0.2"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Conv2D", ck, cv, 4)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("BatchNormalization", NULL, NULL, 0)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("MaxPooling2D", NULL, NULL, 0)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Flatten", NULL, NULL, 0)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Dropout", rk, rv, 1)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Dense", dk, dv, 1)));
    CHECK_OK(dc_model_build(m, DC_DIMS(6, 6, 1), 3));
    dc_compile_options c = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                            .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f},
                            .metrics = {DC_METRIC_ACCURACY}};
    CHECK_OK(dc_model_compile(m, &c));
    enum { N = 24 };
    float *x = malloc(N * 36 * sizeof *x), y[N];
    for (int i = 0; i < N; i++) {
        y[i] = (float)(i % 3);
        for (int p = 0; p < 36; p++) x[i * 36 + p] = (float)((p % 6 == i % 3) + 0.1 * sin(i * 7.0 + p));
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(6, 6, 1), y, 0, NULL, N, true);
    dc_fit_options fo = {.epochs = 2, .batch_size = 8, .seed = 5};
    CHECK_OK(dc_model_fit(m, ds, &fo, NULL));
    dc_dataset_free(ds);
    free(x);
    return m;
}

/* Functional models Keras was run on: unet.keras and two_in.keras as deepc
 * imported them, and fun_c, built here: leaky_relu on Dense and Conv2D (a
 * LeakyReLU layer in Keras), Subtract, Maximum, Concatenate, a shared Dense,
 * two inputs and two outputs. Their inputs lie one after another in
 * fun_NAME.input.bin, Keras' outputs likewise in export_fun_NAME.keras.out.bin. */
static const struct {
    const char *name;
    int n_in, nd[2];
    int64_t shape[2][3];
} FUN_EXPORTS[] = {{"fun_unet", 1, {3}, {{8, 8, 2}}},
                   {"fun_two_in", 2, {1, 1}, {{6}, {4}}},
                   {"fun_c", 2, {3, 1}, {{6, 6, 2}, {4}}}};
#define N_FUN_EXPORTS (int)(sizeof FUN_EXPORTS / sizeof *FUN_EXPORTS)

static dc_layer *layer_of(const char *type, const char *opts) {
    /* opts: "key=value key=value" */
    char buf[256], *save = NULL;
    const char *k[8], *v[8];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", opts);
    for (char *t = strtok_r(buf, " ", &save); t && n < 8; t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) continue;
        *eq = 0;
        k[n] = t, v[n++] = eq + 1;
    }
    dc_layer *l = dc_layer_from_config(type, k, v, n);
    CHECK(l != NULL);
    return l;
}

static dc_model *build_fun_c(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *img = dc_input(g, 3, (int64_t[]){6, 6, 2}, "image");
    dc_symbol *vec = dc_input(g, 1, (int64_t[]){4}, "vec");
    dc_symbol *c = dc_call(layer_of("Conv2D", "filters=3 kernel_size=3 padding=same activation=leaky_relu"), img);
    dc_symbol *f = dc_call(dc_layer_flatten(), dc_call(layer_of("MaxPooling2D", "pool_size=2"), c));
    dc_symbol *d = dc_call(layer_of("Dense", "units=4 activation=leaky_relu"), f);
    dc_symbol *e = dc_call(layer_of("Dense", "units=4 activation=tanh"), vec);
    dc_symbol *sub = dc_call_n(dc_layer_subtract(), (dc_symbol *[]){d, e}, 2);
    dc_symbol *mx = dc_call_n(dc_layer_maximum(), (dc_symbol *[]){d, e, sub}, 3);
    dc_layer *sh = layer_of("Dense", "units=4 name=shared");
    dc_symbol *she = dc_call(sh, e), *shm = dc_call(sh, mx);
    dc_symbol *cat = dc_call_n(dc_layer_concatenate(-1), (dc_symbol *[]){mx, vec}, 2);
    dc_symbol *y0 = dc_call(layer_of("Dense", "units=2 name=y0"), cat);
    dc_symbol *y1 = dc_call(layer_of("Activation", "activation=leaky_relu name=y1"),
                            dc_call_n(dc_layer_add(), (dc_symbol *[]){she, shm}, 2));
    dc_model *m = dc_model_functional("fun_c", g, (dc_symbol *[]){img, vec}, 2, (dc_symbol *[]){y0, y1}, 2);
    CHECK(m != NULL);
    if (!m) return NULL;
    CHECK_OK(dc_model_build(m, 0, NULL, 11));
    dc_compile_options co = {.loss = DC_LOSS_MSE, .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f},
                             .losses = {DC_LOSS_MSE, DC_LOSS_MSE}, .loss_weights = {1.0f, 0.25f}};
    CHECK_OK(dc_model_compile(m, &co));
    return m;
}

static int64_t fun_input_floats(int i) {
    int64_t n = 0;
    for (int k = 0; k < FUN_EXPORTS[i].n_in; k++) {
        int64_t e = BATCH;
        for (int d = 0; d < FUN_EXPORTS[i].nd[k]; d++) e *= FUN_EXPORTS[i].shape[k][d];
        n += e;
    }
    return n;
}

/* The inputs of FUN_EXPORTS[i] from its .input.bin; returns their count. */
static int fun_inputs(int i, dc_tensor **xs) {
    int64_t n = fun_input_floats(i), at = 0;
    float *all = test_read_floats(kref(FUN_EXPORTS[i].name, ".input.bin"), n);
    CHECK(all != NULL);
    if (!all) return 0;
    for (int k = 0; k < FUN_EXPORTS[i].n_in; k++) {
        int64_t shape[4] = {BATCH};
        int nd = FUN_EXPORTS[i].nd[k];
        memcpy(shape + 1, FUN_EXPORTS[i].shape[k], (size_t)nd * sizeof *shape);
        xs[k] = dc_tensor_from_data(nd + 1, shape, all + at);
        at += xs[k]->size;
    }
    free(all);
    return FUN_EXPORTS[i].n_in;
}

/* Writes fun_NAME.safetensors and fun_NAME.input.bin (DC_KERAS_REGEN). */
static void regenerate_functional(void) {
    static const char *const imported[] = {"unet", "two_in"};
    ref_file *r = ref_load(KDIR "functional_outputs.txt");
    for (int i = 0; i < N_FUN_EXPORTS; i++) {
        dc_model *m = i < 2 ? dc_model_import_keras(kref(imported[i], ".keras")) : build_fun_c();
        CHECK(m != NULL);
        if (!m) continue;
        CHECK_OK(dc_model_save(m, kref(FUN_EXPORTS[i].name, ".safetensors")));
        float *in = malloc((size_t)fun_input_floats(i) * sizeof *in);
        int64_t at = 0;
        for (int k = 0; k < FUN_EXPORTS[i].n_in; k++) {
            char key[64];
            snprintf(key, sizeof key, "%s_x%d", i < 2 ? imported[i] : "", k);
            const dc_tensor *x = i < 2 ? ref_get(r, key) : NULL;
            int64_t e = BATCH;
            for (int d = 0; d < FUN_EXPORTS[i].nd[k]; d++) e *= FUN_EXPORTS[i].shape[k][d];
            for (int64_t j = 0; j < e; j++) in[at + j] = x ? x->data[j] : (float)sin(0.7 * (double)(at + j) + k);
            at += e;
        }
        write_floats(kref(FUN_EXPORTS[i].name, ".input.bin"), in, at);
        free(in);
        dc_model_free(m);
    }
    ref_free(r);
}

/* ---- optimizer state: training continues where it stopped ---- */

/* Every trainable weight, layer by layer (Keras' trainable_variables of a Sequential model). */
static float *trainable_flat(dc_model *m, int64_t *n) {
    *n = 0;
    for (int i = 0; i < dc_model_num_layers(m); i++)
        for (int p = 0; p < dc_layer_num_params(dc_model_layer(m, i)); p++) *n += dc_layer_param(dc_model_layer(m, i), p)->size;
    float *w = malloc((size_t)*n * sizeof *w);
    int64_t at = 0;
    for (int i = 0; i < dc_model_num_layers(m); i++)
        for (int p = 0; p < dc_layer_num_params(dc_model_layer(m, i)); p++) {
            const dc_tensor *t = dc_layer_param(dc_model_layer(m, i), p);
            memcpy(w + at, t->data, (size_t)t->size * sizeof *w);
            at += t->size;
        }
    return w;
}

/* One train_on_batch step on the reference batch (ref_keras.py's opt_batch). */
static void step_on_opt_batch(dc_model *m, ref_file *r) {
    const dc_tensor *x = ref_get(r, "opt_x"), *y = ref_get(r, "opt_y");
    CHECK(x && y);
    if (!x || !y) return;
    float loss = -1;
    CHECK_OK(dc_model_train_on_batch(m, (dc_tensor *[]){(dc_tensor *)x}, (dc_tensor *[]){(dc_tensor *)y}, &loss));
}

/* Keras trained three steps and saved; deepc's fourth step gives Keras' fourth. */
static void check_import_state(const char *name) {
    dc_model *m = import_checked(name);
    ref_file *r = ref_load(KDIR "optimizer_outputs.txt");
    if (!m) {
        ref_free(r);
        return;
    }
    step_on_opt_batch(m, r);
    char key[64];
    snprintf(key, sizeof key, "%s_w4", name);
    const dc_tensor *want = ref_get(r, key);
    int64_t n = 0;
    float *w = trainable_flat(m, &n);
    CHECK(want && want->size == n);
    for (int64_t k = 0; want && k < n && k < want->size; k++) CHECK_NEAR(w[k], want->data[k], 1e-5);
    /* a fresh optimizer's fourth step is another: the state mattered */
    dc_model *fresh = dc_model_import_keras(kref(name, ".keras"));
    dc_compile_options c = {.loss = DC_LOSS_MSE, .optimizer = {.kind = !strcmp(name, "opt_sgd") ? DC_OPT_SGD : DC_OPT_ADAM,
                                                              .learning_rate = !strcmp(name, "opt_sgd") ? 0.1f : 0.05f,
                                                              .momentum = !strcmp(name, "opt_sgd") ? 0.9f : 0.0f}};
    CHECK(fresh && dc_model_compile(fresh, &c) == DC_OK);
    if (fresh) step_on_opt_batch(fresh, r);
    int64_t nf = 0;
    float *wf = fresh ? trainable_flat(fresh, &nf) : NULL;
    float most = 0;
    for (int64_t k = 0; wf && want && k < nf && k < want->size; k++)
        most = fmaxf(most, fabsf(wf[k] - want->data[k]));
    CHECK(most > 1e-3);
    free(wf);
    free(w);
    dc_model_free(fresh);
    ref_free(r);
    dc_model_free(m);
}

TEST(keras_import_optimizer_state_adam) { check_import_state("opt_adam"); }
TEST(keras_import_optimizer_state_sgd_momentum) { check_import_state("opt_sgd"); }

/* deepc trains opt_mlp three steps with Adam (export_opt_mlp.keras carries
 * the state); Keras' next step from it is committed as .step.bin. */
static dc_model *train_opt_mlp(ref_file *r) {
    dc_model *m = dc_sequential_new("opt_mlp");
    CHECK_OK(dc_model_add(m, layer_of("Dense", "units=4 activation=tanh")));
    CHECK_OK(dc_model_add(m, layer_of("Dense", "units=2")));
    CHECK_OK(dc_model_build(m, DC_DIMS(5), 9));
    dc_compile_options c = {.loss = DC_LOSS_MSE, .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.05f}};
    CHECK_OK(dc_model_compile(m, &c));
    for (int i = 0; i < 3; i++) step_on_opt_batch(m, r);
    return m;
}

TEST(keras_export_optimizer_state_adam) {
    ref_file *r = ref_load(KDIR "optimizer_outputs.txt");
    dc_model *m = train_opt_mlp(r);
    char rel[256];
    /* an export imports back with the same state, bit for bit; the committed
     * archive (another build's arithmetic, e.g. -O1 under ASan) within 1e-6 */
    const char *mine = scratch("opt_mlp_state.keras");
    CHECK_OK(dc_model_export_keras(m, mine));
    dc_model *back = dc_model_import_keras(mine);
    dc_model *committed = dc_model_import_keras(kref("export_opt_mlp", ".keras"));
    CHECK(back != NULL && committed != NULL);
    dc_optimizer *a = dc_model_optimizer(m), *b = back ? dc_model_optimizer(back) : NULL,
                 *c = committed ? dc_model_optimizer(committed) : NULL;
    size_t na = a ? dc_optimizer_state_size(a) : 0, nb = b ? dc_optimizer_state_size(b) : 0,
           nc = c ? dc_optimizer_state_size(c) : 0;
    float *sa = malloc((na + 1) * sizeof *sa), *sb = malloc((nb + 1) * sizeof *sb),
          *sc = malloc((nc + 1) * sizeof *sc);
    CHECK(na == nb && na == nc && na > 5 && dc_optimizer_get_state(a, sa, na) == DC_OK &&
          dc_optimizer_get_state(b, sb, nb) == DC_OK && dc_optimizer_get_state(c, sc, nc) == DC_OK);
    if (na == nb && na == nc) {
        CHECK(!memcmp(sa, sb, na * sizeof *sa));
        for (size_t k = 0; k < na; k++) CHECK_NEAR(sc[k], sa[k], 1e-6 + 1e-5 * fabsf(sa[k]));
    }
    free(sa);
    free(sb);
    free(sc);
    dc_model_free(committed);
    /* Keras' fourth step from deepc's state is deepc's fourth step */
    step_on_opt_batch(m, r);
    int64_t n = 0;
    float *w = trainable_flat(m, &n);
    snprintf(rel, sizeof rel, KDIR "export_opt_mlp.keras.step.bin");
    float *want = test_read_floats(test_path(rel), n);
    CHECK(want != NULL);
    for (int64_t k = 0; want && k < n; k++) CHECK_NEAR(w[k], want[k], 1e-5);
    free(want);
    free(w);
    dc_model_free(back);
    dc_model_free(m);
    ref_free(r);
}

/* DC_KERAS_REGEN=1 build/test_runner keras_export_regenerate writes the committed
 * exports (tests/ref/data/keras/export_NAME.keras), then tests/ref/ref_keras.py runs
 * them in Keras; without it, everything goes to a scratch folder. */
TEST(keras_export_regenerate) {
    bool regen = getenv("DC_KERAS_REGEN") != NULL;
    char path[PATH_MAX];
    dc_model *t = train_small_cnn();
    if (regen) {
        CHECK_OK(dc_model_save(t, kref("trained", ".safetensors")));
        float xin[BATCH * 36];
        for (int i = 0; i < BATCH * 36; i++) xin[i] = (float)sin(i * 0.37);
        write_floats(kref("trained", ".input.bin"), xin, BATCH * 36);
        dc_model *b = dc_model_import_keras(kref("bidi", ".keras"));
        ref_file *r = ref_load(KDIR "keras_outputs.txt");
        const dc_tensor *bx = ref_get(r, "bidi_x");
        CHECK(b && bx);
        if (b && bx) {
            CHECK_OK(dc_model_save(b, kref("bidi", ".safetensors")));
            write_floats(kref("bidi", ".input.bin"), bx->data, bx->size);
        }
        ref_free(r);
        dc_model_free(b);
        regenerate_functional();
    }
    {
        ref_file *r = ref_load(KDIR "optimizer_outputs.txt");
        dc_model *om = train_opt_mlp(r);
        const dc_tensor *ox = ref_get(r, "opt_x");
        if (regen && ox) write_floats(kref("opt_mlp", ".input.bin"), ox->data, BATCH * 5);
        snprintf(path, sizeof path, "%s", regen ? kref("export_opt_mlp", ".keras") : scratch("opt_mlp.keras"));
        CHECK_OK(dc_model_export_keras(om, path));
        dc_model_free(om);
        ref_free(r);
    }
    dc_model_free(t);
    for (int i = 0; i < N_EXPORTS; i++) {
        dc_model *m = dc_model_load(export_model_path(EXPORTS[i]));
        CHECK(m != NULL);
        if (!m) continue;
        snprintf(path, sizeof path, "%s", regen ? kref("export_", EXPORTS[i]) : scratch(EXPORTS[i]));
        strncat(path, ".keras", sizeof path - strlen(path) - 1);
        CHECK_OK(dc_model_export_keras(m, path));
        dc_model_free(m);
    }
    for (int i = 0; i < N_FUN_EXPORTS; i++) {
        dc_model *m = dc_model_load(kref(FUN_EXPORTS[i].name, ".safetensors"));
        CHECK(m && dc_model_is_functional(m));
        if (!m) continue;
        snprintf(path, sizeof path, "%s", regen ? kref("export_", FUN_EXPORTS[i].name) : scratch(FUN_EXPORTS[i].name));
        strncat(path, ".keras", sizeof path - strlen(path) - 1);
        CHECK_OK(dc_model_export_keras(m, path));
        dc_model_free(m);
    }
}

/* What Keras predicted on an exported Functional model equals deepc's
 * prediction on every output, and the archive imports back bit for bit. */
static void check_fun_export(int i) {
    const char *name = FUN_EXPORTS[i].name;
    dc_model *m = dc_model_load(kref(name, ".safetensors"));
    CHECK(m != NULL);
    dc_tensor *xs[2] = {0}, *ys[DC_MAX_MODEL_IO], *back_ys[DC_MAX_MODEL_IO];
    int n_in = m ? fun_inputs(i, xs) : 0;
    int n_out = n_in ? test_predict_all(m, xs, ys) : 0;
    int64_t total = 0;
    for (int k = 0; k < n_out; k++) total += ys[k]->size;
    char rel[256];
    snprintf(rel, sizeof rel, KDIR "export_%s.keras.out.bin", name);
    float *want = total ? test_read_floats(test_path(rel), total) : NULL;
    CHECK(want != NULL);
    for (int k = 0, at = 0; want && k < n_out; at += (int)ys[k]->size, k++)
        for (int64_t j = 0; j < ys[k]->size; j++) CHECK_NEAR(ys[k]->data[j], want[at + j], 1e-5);
    snprintf(rel, sizeof rel, KDIR "export_%s.keras", name);
    dc_model *back = dc_model_import_keras(test_path(rel));
    CHECK(back != NULL);
    if (!back) printf("  %s\n", dc_last_error());
    int n_back = back && n_in ? test_predict_all(back, xs, back_ys) : 0;
    CHECK(n_back == n_out && n_out == dc_model_num_outputs(m));
    for (int k = 0; k < n_back && k < n_out; k++)
        CHECK(back_ys[k]->size == ys[k]->size &&
              !memcmp(back_ys[k]->data, ys[k]->data, (size_t)ys[k]->size * sizeof(float)));
    CHECK(back && dc_model_count_params(back) == dc_model_count_params(m));
    for (int k = 0; k < n_back; k++) dc_tensor_free(back_ys[k]);
    for (int k = 0; k < n_out; k++) dc_tensor_free(ys[k]);
    for (int k = 0; k < n_in; k++) dc_tensor_free(xs[k]);
    free(want);
    dc_model_free(back);
    dc_model_free(m);
}

TEST(keras_export_functional_unet) { check_fun_export(0); }
TEST(keras_export_functional_two_inputs_merges_shared) { check_fun_export(1); }
TEST(keras_export_functional_leaky_relu_built_in_c) { check_fun_export(2); }

/* What Keras predicted on deepc's exported archives equals deepc's prediction. */
static void check_export(const char *name) {
    dc_model *m = dc_model_load(export_model_path(name));
    CHECK(m != NULL);
    if (!m) return;
    dc_tensor *x = export_input(m, name);
    CHECK(x != NULL);
    dc_tensor *y = x ? dc_model_predict(m, x, BATCH) : NULL;
    char rel[256];
    snprintf(rel, sizeof rel, KDIR "export_%s.keras.out.bin", name);
    float *want = y ? test_read_floats(test_path(rel), y->size) : NULL;
    CHECK(want != NULL);
    for (int64_t k = 0; want && k < y->size; k++) CHECK_NEAR(y->data[k], want[k], 1e-5);
    /* and the archive comes back into deepc as the same model, bit for bit */
    snprintf(rel, sizeof rel, KDIR "export_%s.keras", name);
    dc_model *back = dc_model_import_keras(test_path(rel));
    CHECK(back != NULL);
    dc_tensor *y2 = back && x ? dc_model_predict(back, x, BATCH) : NULL;
    CHECK(y2 && y && y2->size == y->size && !memcmp(y2->data, y->data, (size_t)y->size * sizeof(float)));
    CHECK(back && dc_model_count_params(back) == dc_model_count_params(m));
    free(want);
    dc_tensor_free(y2);
    dc_tensor_free(y);
    dc_tensor_free(x);
    dc_model_free(back);
    dc_model_free(m);
}

TEST(keras_export_conv2d_same) { check_export("cnn_same"); }
TEST(keras_export_conv2d_transpose_upsampling) { check_export("cnn_valid"); }
TEST(keras_export_global_max_reshape) { check_export("cnn_reshape"); }
TEST(keras_export_lstm_gru_simple_rnn) { check_export("rnn"); }
TEST(keras_export_conv1d_pool1d) { check_export("seq1d"); }
TEST(keras_export_trained_cnn) { check_export("trained"); }
TEST(keras_export_bidirectional_embedding_mask) { check_export("bidi"); }
TEST(keras_export_leaky_relu_as_layer) { check_export("mlp"); }

/* import -> export -> import keeps every weight and the compile settings. */
TEST(keras_round_trip) {
    static const char *const names[] = {"mlp", "cnn", "rnn", "seq", "bidi"};
    for (int i = 0; i < 5; i++) {
        dc_model *a = dc_model_import_keras(kref(names[i], ".keras"));
        CHECK(a != NULL);
        if (!a) continue;
        CHECK_OK(dc_model_export_keras(a, scratch("round.keras")));
        dc_model *b = dc_model_import_keras(scratch("round.keras"));
        CHECK(b != NULL);
        float *wa, *wb;
        size_t na = 0, nb = 0;
        if (b && dc_model_all_weights(a, &wa, &na) == DC_OK && dc_model_all_weights(b, &wb, &nb) == DC_OK)
            CHECK(na == nb && na > 0 && !memcmp(wa, wb, na * sizeof(float)));
        dc_metric_kind ma[4], mb[4];
        CHECK(b && dc_model_metrics(a, ma, 4) == dc_model_metrics(b, mb, 4));
        CHECK(b && dc_model_optimizer(b) &&
              !strcmp(dc_optimizer_name(dc_model_optimizer(a)), dc_optimizer_name(dc_model_optimizer(b))));
        dc_model_free(b);
        dc_model_free(a);
    }
}

/* ---- bad input ---- */

typedef struct {
    const char *name;
    const void *data;
    size_t len;
} part;

static void *slurp_entry(const char *archive, const char *entry, size_t *len) {
    int err = 0;
    zip_t *z = zip_open(archive, ZIP_RDONLY, &err);
    if (!z) return NULL;
    zip_stat_t st;
    void *p = NULL;
    if (zip_stat(z, entry, 0, &st) == 0) {
        p = malloc(st.size + 1);
        zip_file_t *f = zip_fopen(z, entry, 0);
        if (f && zip_fread(f, p, st.size) == (zip_int64_t)st.size) {
            ((char *)p)[st.size] = 0;
            *len = st.size;
        } else {
            free(p);
            p = NULL;
        }
        if (f) zip_fclose(f);
    }
    zip_discard(z);
    return p;
}

/* Writes a zip of the parts at path (compressed with deflate). */
static void make_zip(const char *path, const part *parts, int n) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    CHECK(z != NULL);
    if (!z) return;
    for (int i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, parts[i].data, parts[i].len, 0);
        CHECK(s && zip_file_add(z, parts[i].name, s, 0) >= 0);
    }
    CHECK(zip_close(z) == 0);
}

/* base.keras with its config replaced (NULL: kept) and an extra part. */
static const char *variant_of(const char *base, const char *file, const char *config,
                              const part *extra, const void *weights, size_t wlen) {
    size_t clen = 0, hlen = 0;
    char *cfg = slurp_entry(kref(base, ".keras"), "config.json", &clen);
    char *h5 = slurp_entry(kref(base, ".keras"), "model.weights.h5", &hlen);
    part parts[3] = {{"config.json", config ? config : cfg, config ? strlen(config) : clen},
                     {"model.weights.h5", weights ? weights : h5, weights ? wlen : hlen}};
    int n = 2;
    if (extra) parts[n++] = *extra;
    make_zip(scratch(file), parts, n);
    free(cfg);
    free(h5);
    return scratch(file);
}

static const char *variant(const char *file, const char *config, const part *extra,
                           const void *weights, size_t wlen) {
    return variant_of("mlp", file, config, extra, weights, wlen);
}

/* base's config with the first occurrence of from replaced by to. */
static char *config_of_with(const char *base, const char *from, const char *to) {
    size_t n = 0;
    char *c = slurp_entry(kref(base, ".keras"), "config.json", &n);
    char *at = c ? strstr(c, from) : NULL;
    CHECK(at != NULL);
    if (!at) {
        free(c);
        return NULL;
    }
    char *out = malloc(n + strlen(to) + 1);
    size_t pre = (size_t)(at - c);
    memcpy(out, c, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    free(c);
    return out;
}

static char *config_with(const char *from, const char *to) { return config_of_with("mlp", from, to); }

static void check_refused(const char *path, dc_status st, const char *part_name, const char *what) {
    dc_model *m = dc_model_import_keras(path);
    CHECK(m == NULL);
    if (m) {
        dc_model_free(m);
        return;
    }
    CHECK(dc_last_status() == st);
    CHECK_MSG(path);
    CHECK_MSG(part_name);
    CHECK_MSG(what);
}

TEST(keras_import_refuses_hostile_paths) {
    part evil = {"../evil.txt", "x", 1};
    check_refused(variant("dotdot.keras", NULL, &evil, NULL, 0), DC_ERR_FORMAT, "../evil.txt", "'..'");
    part abs = {"/tmp/deepc-evil.txt", "x", 1};
    check_refused(variant("abs.keras", NULL, &abs, NULL, 0), DC_ERR_FORMAT, "/tmp/deepc-evil.txt",
                  "absolute");
    part deep = {"assets/../../x", "x", 1};
    check_refused(variant("deep.keras", NULL, &deep, NULL, 0), DC_ERR_FORMAT, "assets/../../x", "'..'");
    CHECK(access("/tmp/deepc-evil.txt", F_OK) != 0);
}

TEST(keras_import_refuses_zip_bomb) {
    size_t n = (size_t)16 << 20; /* 16 MiB of zeros deflate to about 16 KiB */
    char *zeros = calloc(1, n);
    check_refused(variant("bomb.keras", NULL, NULL, zeros, n), DC_ERR_FORMAT, "model.weights.h5",
                  "zip bomb");
    free(zeros);
}

TEST(keras_import_refuses_missing_and_truncated_parts) {
    size_t hlen = 0, clen = 0;
    char *h5 = slurp_entry(kref("mlp", ".keras"), "model.weights.h5", &hlen);
    char *cfg = slurp_entry(kref("mlp", ".keras"), "config.json", &clen);
    CHECK(h5 && cfg);
    if (!h5 || !cfg) return;
    part only_w[1] = {{"model.weights.h5", h5, hlen}};
    make_zip(scratch("noconfig.keras"), only_w, 1);
    check_refused(scratch("noconfig.keras"), DC_ERR_FORMAT, "config.json", "has no");
    part only_c[1] = {{"config.json", cfg, clen}};
    make_zip(scratch("noweights.keras"), only_c, 1);
    check_refused(scratch("noweights.keras"), DC_ERR_FORMAT, "model.weights.h5", "has no");
    /* the weights file cut in half, cut inside its superblock, without its signature */
    check_refused(variant("half_h5.keras", NULL, NULL, h5, hlen / 2), DC_ERR_FORMAT,
                  "model.weights.h5", "");
    check_refused(variant("tiny_h5.keras", NULL, NULL, h5, 16), DC_ERR_FORMAT, "model.weights.h5",
                  "superblock is truncated");
    check_refused(variant("nosig_h5.keras", NULL, NULL, h5 + 1, hlen - 1), DC_ERR_FORMAT,
                  "model.weights.h5", "not an HDF5 file");
    /* the archive itself cut at several points */
    FILE *f = fopen(kref("mlp", ".keras"), "rb");
    char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    CHECK(n > 1000);
    for (size_t cut = 0; cut < n; cut += n / 7) {
        dc_model *m = dc_model_import_keras_buffer(buf, cut, "cut.keras");
        CHECK(m == NULL);
        CHECK_MSG("cut.keras");
        dc_model_free(m);
    }
    /* not JSON */
    check_refused(variant("badjson.keras", "{\"class_name\": ", NULL, NULL, 0), DC_ERR_FORMAT,
                  "config.json", "not valid JSON");
    CHECK(dc_model_import_keras("/nonexistent/x.keras") == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    free(h5);
    free(cfg);
}

/* ---- the weights reader (src/io/h5_read.c) ---- */

static uint8_t *slurp_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *p = f ? malloc(1 << 20) : NULL;
    *len = p ? fread(p, 1, 1 << 20, f) : 0;
    if (f) fclose(f);
    return p;
}

/* Weights files on which libhdf5 1.10 read past its image (SIGSEGV) or asked
 * malloc for ~1 TB: deepc's reader refuses them, naming the file and the part. */
TEST(keras_import_refuses_weights_that_crashed_libhdf5) {
    static const char *files[] = {
        "accum_read_memcpy", "accum_read_memcpy_11", "accum_read_memcpy_23",
        "alloc_too_big_0124c513316abf5474c3a9231c677d658dc8513c",
        "alloc_too_big_090df261fc0cfc62e772c873580517802e247f8a",
        "alloc_too_big_12d1bdf79939193f934581da2dfdfcc9f661328b",
        "alloc_too_big_1a35f67bc1c6d64967edf3af60470381b5eae737",
        "alloc_too_big_1c3d219239e55dcdce80c347d2fd6a8ad1f72267"};
    static const char *paths[] = {"layers/dense/vars/0", "layers/batch_normalization/vars/3"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char rel[200];
        snprintf(rel, sizeof rel, "fuzz/regressions/keras_h5/%s.weights.h5", files[i]);
        size_t n = 0;
        uint8_t *img = slurp_file(test_path(rel), &n);
        CHECK(img && n > 1000);
        dc_h5r *r = img ? dc_h5r_open("t", "w.h5", img, n) : NULL;
        int refused = r ? 0 : 1;
        for (size_t k = 0; r && k < sizeof paths / sizeof *paths; k++) {
            dc_h5r_object o;
            refused += dc_h5r_find(r, paths[k], &o) < 0;
        }
        CHECK(refused > 0);
        CHECK(dc_last_status() == DC_ERR_FORMAT);
        CHECK_MSG("t: w.h5: ");
        dc_h5r_close(r);
        free(img);
    }
    /* and through the import, which names the archive and its part */
    size_t n = 0;
    uint8_t *h5 = slurp_file(test_path("fuzz/regressions/keras_h5/accum_read_memcpy.weights.h5"), &n);
    CHECK(h5 != NULL);
    if (!h5) return;
    check_refused(variant("crash_h5.keras", NULL, NULL, h5, n), DC_ERR_FORMAT,
                  "model.weights.h5: ", "no valid symbol table node");
    free(h5);
}

/* Compares every dataset of a file as libhdf5 reads it and as deepc's reader does. */
typedef struct {
    const dc_h5r *r;
    int datasets;
} compare_ctx;

static herr_t compare_dataset(hid_t file, const char *name, const H5O_info_t *info, void *p) {
    if (info->type != H5O_TYPE_DATASET) return 0;
    compare_ctx *c = p;
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT), sp = H5Dget_space(ds);
    hsize_t dims[32];
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    double *want = malloc((size_t)n * sizeof *want + 1), *got = malloc((size_t)n * sizeof *got + 1);
    CHECK(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, want) >= 0);
    dc_h5r_object o;
    CHECK(dc_h5r_find(c->r, name, &o) == 1);
    bool same = o.kind == DC_H5R_DATASET && o.ds.rank == nd && o.ds.count == (uint64_t)n;
    for (int d = 0; same && d < nd; d++) same = o.ds.dims[d] == dims[d];
    for (hssize_t i = 0; same && i < n; i++) got[i] = dc_h5r_value(&o.ds, (uint64_t)i);
    if (same) same = !memcmp(got, want, (size_t)n * sizeof *got); /* bit for bit */
    if (!same) test_fail(__FILE__, __LINE__, "%s reads otherwise than libhdf5 reads it", name);
    free(want);
    free(got);
    H5Sclose(sp);
    H5Dclose(ds);
    c->datasets++;
    return 0;
}

/* Every dataset of every committed Keras and deepc weights file (trusted bytes, so
 * libhdf5 may read them here): the same shape and values, bit for bit. */
TEST(keras_h5_reader_reads_every_dataset_as_libhdf5) {
    DIR *dir = opendir(test_path("ref/data/keras"));
    CHECK(dir != NULL);
    struct dirent *e;
    int files = 0, datasets = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    while (dir && (e = readdir(dir))) {
        size_t len = strlen(e->d_name), n = 0;
        if (len < 7 || strcmp(e->d_name + len - 6, ".keras")) continue;
        char rel[300];
        snprintf(rel, sizeof rel, KDIR "%s", e->d_name);
        uint8_t *img = slurp_entry(test_path(rel), "model.weights.h5", &n);
        FILE *f = fopen(scratch("w.h5"), "wb");
        CHECK(img && f && fwrite(img, 1, n, f) == n);
        if (f) fclose(f);
        dc_h5r *r = img ? dc_h5r_open("t", e->d_name, img, n) : NULL;
        if (!r) printf("  %s\n", dc_last_error());
        hid_t h = H5Fopen(scratch("w.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
        compare_ctx c = {r, 0};
        CHECK(r && h >= 0 && H5Ovisit(h, H5_INDEX_NAME, H5_ITER_NATIVE, compare_dataset, &c) >= 0);
        CHECK(c.datasets > 0);
        datasets += c.datasets;
        files++;
        if (h >= 0) H5Fclose(h);
        dc_h5r_close(r);
        free(img);
    }
    if (dir) closedir(dir);
    CHECK(files >= 20 && datasets > 300);
}

/* The paths of a file's datasets, as libhdf5 lists them. */
typedef struct {
    char paths[64][80];
    int n;
} path_list;

static herr_t list_dataset(hid_t file, const char *name, const H5O_info_t *info, void *p) {
    (void)file;
    path_list *l = p;
    if (info->type == H5O_TYPE_DATASET && l->n < 64) snprintf(l->paths[l->n++], 80, "%s", name);
    return 0;
}

static uint8_t *committed_weights(const char *base, size_t *n, path_list *l) {
    uint8_t *img = slurp_entry(kref(base, ".keras"), "model.weights.h5", n);
    FILE *f = fopen(scratch("w.h5"), "wb");
    CHECK(img && f && fwrite(img, 1, *n, f) == *n);
    if (f) fclose(f);
    hid_t h = H5Fopen(scratch("w.h5"), H5F_ACC_RDONLY, H5P_DEFAULT);
    l->n = 0;
    CHECK(h >= 0 && H5Ovisit(h, H5_INDEX_NAME, H5_ITER_NATIVE, list_dataset, l) >= 0);
    if (h >= 0) H5Fclose(h);
    return img;
}

/* Reads every listed dataset of the image (len bytes) into values (NULL: only read):
 * true when all of them read; a refusal must name the file. */
static bool read_all(const uint8_t *img, size_t len, const path_list *l, double *values) {
    dc_h5r *r = dc_h5r_open("t", "w.h5", img, len);
    bool ok = r != NULL;
    size_t k = 0;
    for (int i = 0; ok && i < l->n; i++) {
        dc_h5r_object o;
        ok = dc_h5r_find(r, l->paths[i], &o) == 1 && o.kind == DC_H5R_DATASET;
        for (uint64_t j = 0; ok && j < o.ds.count; j++, k++) {
            double v = dc_h5r_value(&o.ds, j);
            if (values) CHECK(memcmp(&values[k], &v, sizeof v) == 0);
        }
    }
    if (!ok) {
        CHECK(dc_last_status() == DC_ERR_FORMAT);
        CHECK_MSG("t: w.h5: ");
    }
    dc_h5r_close(r);
    return ok;
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#define SB_EOF 40  /* superblock 0, 8-byte offsets: the end-of-file address */
#define SB_ROOT 64 /* the root group's object header address */

/* A committed weights file cut at every byte offset, in a buffer of exactly that
 * size (so ASan sees any read past it): refused, naming the file. Then again with
 * the superblock's end-of-file address patched to the cut, so the checks inside the
 * file, not the superblock's, must refuse it, and what reads reads right. */
TEST(keras_h5_reader_refuses_every_truncation) {
    size_t n = 0;
    path_list *l = calloc(1, sizeof *l);
    uint8_t *img = committed_weights("opt_sgd", &n, l);
    CHECK(img && l->n >= 6);
    if (!img) return;
    double *values = malloc(n * sizeof *values);
    CHECK(read_all(img, n, l, NULL));
    /* the values in path order, and where the last dataset's data ends */
    size_t k = 0, data_end = 0;
    dc_h5r *r = dc_h5r_open("t", "w.h5", img, n);
    for (int i = 0; r && i < l->n; i++) {
        dc_h5r_object o;
        CHECK(dc_h5r_find(r, l->paths[i], &o) == 1);
        for (uint64_t j = 0; j < o.ds.count && k < n; j++) values[k++] = dc_h5r_value(&o.ds, j);
        size_t end = (size_t)(o.ds.data - img) + o.ds.count * o.ds.size;
        if (end > data_end) data_end = end;
    }
    dc_h5r_close(r);
    int whole = 0;
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, img, cut);
        CHECK(!read_all(part, cut, l, values));
        if (cut >= SB_EOF + 8) {
            put_le64(part + SB_EOF, cut);
            bool all = read_all(part, cut, l, values);
            if (all) CHECK(cut >= data_end);
            whole += all;
        }
        free(part);
    }
    CHECK(whole < (int)(n - data_end) + 1); /* what follows the data: attributes and the like */
    free(values);
    free(img);
    free(l);
}

/* The offset of the first message of type type in the root group's object header
 * (v1: the header's 16 bytes, then type (2), size (2), flags, 3 reserved, data). */
static size_t root_message(const uint8_t *img, unsigned type) {
    size_t hdr = (size_t)le64(img + SB_ROOT), at = hdr + 16;
    CHECK((unsigned)(img[at] | img[at + 1] << 8) == type);
    return at;
}

/* Hand-made corruptions of a committed file: cycles, offsets outside the file,
 * what the reader does not support; each refused with the part named. */
TEST(keras_h5_reader_refuses_cycles_and_outside_offsets) {
    size_t n = 0;
    path_list *l = calloc(1, sizeof *l);
    uint8_t *img = committed_weights("opt_sgd", &n, l), *bad = malloc(n);
    CHECK(img && bad && l->n > 0);
    if (!img || !bad) return;
    size_t msg = root_message(img, 17); /* the symbol table: B-tree, heap addresses */
    size_t btree = (size_t)le64(img + msg + 8);
    dc_h5r_object o;
    size_t root = (size_t)le64(img + SB_ROOT);
    typedef struct {
        size_t at;      /* where to patch */
        uint64_t value; /* little-endian */
        int bytes;
    } patch;
    struct {
        patch p[2];
        const char *why;
    } cases[] = {
        /* the root's symbol table message made a continuation to its own block */
        {{{msg, 16, 2}, {msg + 8, root + 16, 8}}, "(a cycle)"},
        /* the B-tree's root claims level 1: its children are no B-tree nodes */
        {{{btree + 5, 1, 1}}, "no valid group B-tree node at byte"},
        /* ... and its first child is itself */
        {{{btree + 5, 1, 1}, {btree + 32, btree, 8}}, "has level 1 where 0 belongs (a cycle"},
        {{{msg + 8, n + 64, 8}}, "no valid group B-tree node at byte"},
        {{{msg + 16, UINT64_MAX - 7, 8}}, "no valid local heap"},
        {{{SB_ROOT, n - 8, 8}}, "the root group: the object header at byte"},
        {{{8, 2, 1}}, "superblock version 2 is not supported"},
        {{{root, 0x5244484fu, 4}}, "object header version 2"}, /* "OHDR" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(bad, img, n);
        for (int j = 0; j < 2; j++)
            for (int b = 0; b < cases[i].p[j].bytes; b++)
                bad[cases[i].p[j].at + b] = (uint8_t)(cases[i].p[j].value >> (8 * b));
        CHECK(!read_all(bad, n, l, NULL));
        CHECK_MSG(cases[i].why);
    }
    /* a dataset's data moved past the end, and made chunked (layout 3, class 1 -> 2) */
    dc_h5r *r = dc_h5r_open("t", "w.h5", img, n);
    CHECK(r && dc_h5r_find(r, "optimizer/vars/2", &o) == 1 && o.ds.count > 0);
    uint8_t want[10] = {3, 1};
    put_le64(want + 2, (uint64_t)(o.ds.data - img));
    uint8_t *layout = NULL;
    for (size_t at = 0; !layout && at + sizeof want <= n; at++)
        if (!memcmp(img + at, want, sizeof want)) layout = img + at;
    CHECK(layout != NULL);
    dc_h5r_close(r);
    if (layout) {
        memcpy(bad, img, n);
        put_le64(bad + (layout - img) + 2, n - 4);
        r = dc_h5r_open("t", "w.h5", bad, n);
        CHECK(r && dc_h5r_find(r, "optimizer/vars/2", &o) < 0);
        CHECK_MSG("optimizer/vars/2: its data");
        CHECK_MSG("lies outside the file");
        dc_h5r_close(r);
        bad[(layout - img) + 1] = 2;
        CHECK(!read_all(bad, n, l, NULL));
        CHECK_MSG("chunked storage is not supported");
        check_refused(variant_of("opt_sgd", "chunked.keras", NULL, NULL, bad, n), DC_ERR_FORMAT,
                      "model.weights.h5: optimizer/vars/2: ", "chunked storage is not supported");
    }
    free(bad);
    free(img);
    free(l);
}

TEST(keras_import_refuses_shape_mismatch) {
    char *c = config_with("\"units\": 16", "\"units\": 12");
    if (!c) return;
    check_refused(variant("shape.keras", c, NULL, NULL, 0), DC_ERR_SHAPE, "model.weights.h5",
                  "layers/dense/vars/0 is (8,16), but dense/kernel is (8,12)");
    free(c);
    /* a layer more than the weights file holds */
    c = config_with("\"use_bias\": false", "\"use_bias\": true");
    if (!c) return;
    check_refused(variant("nobias.keras", c, NULL, NULL, 0), DC_ERR_FORMAT, "model.weights.h5",
                  "dense_1");
    free(c);
}

TEST(keras_import_refuses_what_deepc_lacks) {
    static const struct {
        const char *from, *to, *what;
    } cases[] = {
        {"\"class_name\": \"Dropout\"", "\"class_name\": \"GaussianNoise\"", "unknown layer type 'GaussianNoise'"},
        {"\"kernel_regularizer\": null", "\"kernel_regularizer\": {\"class_name\": \"L2\"}", "option 'kernel_regularizer'"},
        {"\"activation\": \"tanh\"", "\"activation\": \"selu\"", "selu"},
        {"\"class_name\": \"GlorotUniform\"", "\"class_name\": \"TruncatedNormal\"", "TruncatedNormal"},
        {"\"name\": \"dense\", \"trainable\": true", "\"name\": \"dense\", \"trainable\": false", "option 'trainable'"},
        {"\"name\": \"mlp\", \"trainable\": true", "\"name\": \"mlp\", \"trainable\": false", "option 'trainable'"},
        {"\"activation\": \"relu\"", "\"activation\": \"leaky_relu\"", "slope 0.2"},
        {"\"class_name\": \"Sequential\"", "\"class_name\": \"Subclassed\"", "model class 'Subclassed'"},
        {"\"class_name\": \"Adam\"", "\"class_name\": \"Lion\"", "optimizer 'Lion'"},
        {"\"loss\": \"sparse_categorical_crossentropy\"", "\"loss\": \"huber\"", "loss 'huber'"},
        {"\"metrics\": [\"accuracy\"]", "\"metrics\": [\"auc\"]", "metric 'auc'"},
        {"\"name\": \"float32\"}", "\"name\": \"mixed_float16\"}", "option 'dtype'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *c = config_with(cases[i].from, cases[i].to);
        if (!c) continue;
        const char *p = variant("lacks.keras", c, NULL, NULL, 0);
        dc_model *m = dc_model_import_keras(p);
        CHECK(m == NULL);
        if (!strstr(dc_last_error(), cases[i].what) || !strstr(dc_last_error(), "config.json"))
            test_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, dc_last_error(), cases[i].what);
        dc_model_free(m);
        free(c);
    }
}

/* Functional configs: an unknown layer, a layer read that is not there, a
 * cycle, a call that is not there, a shape the weights disagree with. */
TEST(keras_import_functional_refuses_bad_graphs) {
    static const struct {
        const char *from, *to, *what;
        dc_status st;
    } cases[] = {
        {"\"class_name\": \"UpSampling2D\"", "\"class_name\": \"ZeroPadding2D\"",
         "layer 'up_sampling2d' (ZeroPadding2D): unknown layer type 'ZeroPadding2D'", DC_ERR_UNSUPPORTED},
        {"\"keras_history\": [\"max_pooling2d\"", "\"keras_history\": [\"nowhere\"",
         "layer 'conv2d_1' (Conv2D): inbound node 0 reads layer 'nowhere', which the config does not have",
         DC_ERR_FORMAT},
        {"\"keras_history\": [\"image\", 0, 0]", "\"keras_history\": [\"conv2d_1\", 0, 0]",
         "is part of a cycle", DC_ERR_FORMAT},
        {"\"keras_history\": [\"conv2d\", 0, 0]", "\"keras_history\": [\"conv2d\", 1, 0]",
         "reads call 1 of layer 'conv2d', which has 1", DC_ERR_FORMAT},
        {"\"keras_history\": [\"conv2d\", 0, 0]", "\"keras_history\": [\"conv2d\", 0, 1]",
         "reads output 1 of layer 'conv2d'", DC_ERR_UNSUPPORTED},
        {"\"filters\": 6", "\"filters\": 5", "layers/conv2d_1/vars/0 is (3,3,4,6), but conv2d_1/kernel is (3,3,4,5)",
         DC_ERR_SHAPE},
        {"\"output_layers\": [\"conv2d_2\"", "\"output_layers\": [\"conv2d_9\"",
         "output_layers reads layer 'conv2d_9'", DC_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *c = config_of_with("unet", cases[i].from, cases[i].to);
        if (!c) continue;
        const char *p = variant_of("unet", "bad_graph.keras", c, NULL, NULL, 0);
        dc_model *m = dc_model_import_keras(p);
        CHECK(m == NULL);
        if (!strstr(dc_last_error(), cases[i].what) || !strstr(dc_last_error(), "bad_graph.keras") ||
            dc_last_status() != cases[i].st)
            test_fail(__FILE__, __LINE__, "case %zu: \"%s\" (status %d) lacks \"%s\"", i,
                      dc_last_error(), (int)dc_last_status(), cases[i].what);
        dc_model_free(m);
        free(c);
    }
}

TEST(keras_export_refuses_bad_input) {
    CHECK_ERR(dc_model_export_keras(NULL, "x.keras"), DC_ERR_ARG, "dc_model_export_keras");
    dc_model *m = dc_model_import_keras(kref("mlp", ".keras"));
    CHECK(m != NULL);
    if (!m) return;
    CHECK_ERR(dc_model_export_keras(m, "/nonexistent-folder/m.keras"), DC_ERR_IO, "/nonexistent-folder");
    dc_model_free(m);
    /* a layer Keras cannot express: refused by name, no file left */
    m = dc_sequential_new("state_rnn");
    CHECK_OK(dc_model_add(m, layer_of("LSTM", "units=3 return_state=true")));
    CHECK_OK(dc_model_build(m, DC_DIMS(5, 2), 1));
    CHECK_ERR(dc_model_export_keras(m, scratch("state.keras")), DC_ERR_UNSUPPORTED, "return_state");
    CHECK(access(scratch("state.keras"), F_OK) != 0);
    dc_model_free(m);
    dc_model *u = dc_sequential_new("u");
    CHECK_OK(dc_model_add(u, dc_layer_dense(&(dc_dense_options){.units = 2})));
    CHECK_ERR(dc_model_export_keras(u, scratch("u.keras")), DC_ERR_STATE, "not built");
    dc_model_free(u);
}

TEST(keras_cli_import_export) {
    if (!test_deepc_path()) SKIP("build/deepc is not built");
    char args[3 * PATH_MAX], out[4096], dst[PATH_MAX], k2[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/cli_cnn.safetensors", test_tmpdir());
    snprintf(args, sizeof args, "import '%s' '%s'", kref("cnn", ".keras"), dst);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    dc_model *m = dc_model_load(dst);
    CHECK(m && dc_model_num_layers(m) == 7);
    dc_model_free(m);
    snprintf(k2, sizeof k2, "%s/cli_cnn.keras", test_tmpdir());
    snprintf(args, sizeof args, "export '%s' '%s'", dst, k2);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    m = dc_model_import_keras(k2);
    CHECK(m != NULL);
    dc_model_free(m);
    /* a Functional model through the CLI: import, then export to .keras and .onnx */
    snprintf(dst, sizeof dst, "%s/cli_two_in.safetensors", test_tmpdir());
    snprintf(args, sizeof args, "import '%s' '%s'", kref("two_in", ".keras"), dst);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    m = dc_model_load(dst);
    CHECK(m && dc_model_is_functional(m) && dc_model_num_inputs(m) == 2);
    dc_model_free(m);
    for (int i = 0; i < 2; i++) {
        snprintf(k2, sizeof k2, "%s/cli_two_in.%s", test_tmpdir(), i ? "onnx" : "keras");
        snprintf(args, sizeof args, "export '%s' '%s'", dst, k2);
        CHECK(test_run_deepc(args, out, sizeof out) == 0);
        CHECK(access(k2, F_OK) == 0);
    }
    /* a hostile archive: exit 1, the file and the part named, nothing written */
    part evil = {"../evil.txt", "x", 1};
    const char *bad = variant("cli_evil.keras", NULL, &evil, NULL, 0);
    snprintf(dst, sizeof dst, "%s/cli_evil.safetensors", test_tmpdir());
    snprintf(args, sizeof args, "import '%s' '%s'", bad, dst);
    CHECK(test_run_deepc(args, out, sizeof out) == 1);
    CHECK(strstr(out, "cli_evil.keras") && strstr(out, "../evil.txt"));
    CHECK(access(dst, F_OK) != 0);
    CHECK(test_run_deepc("import", out, sizeof out) == 2);
}
