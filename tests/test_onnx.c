/* test_onnx.c — ONNX export: small deepc models (committed model files) export to the
 * committed .onnx bytes, and predict what onnxruntime computed on them (tests/ref/ref_onnx.py). */
#include "test.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define REF_DIR "ref/data/onnx/"
#define BATCH 3

/* One layer: "Type" then key/value pairs, NULL-terminated. */
typedef struct {
    const char *type;
    const char *kv[12];
} layer_spec;

typedef struct {
    const char *name;
    int in_ndim;
    int64_t in_shape[3];
    layer_spec layers[12];
    int ids; /* > 0: the input holds token ids below this, padded with 0 at the end */
} model_spec;

static const model_spec MODELS[] = {
    {"mlp", 1, {6}, {
        {"Dense", {"units", "8", "activation", "relu"}},
        {"Dropout", {"rate", "0.5"}},
        {"BatchNormalization", {"epsilon", "0.01"}},
        {"Dense", {"units", "5", "activation", "elu"}},
        {"Dense", {"units", "4", "activation", "leaky_relu", "use_bias", "false"}},
        {"Activation", {"activation", "tanh"}},
        {"Dense", {"units", "3", "activation", "softmax"}},
    }, 0},
    {"cnn_same", 3, {8, 8, 3}, {
        {"Conv2D", {"filters", "4", "kernel_size", "3", "padding", "same", "activation", "relu"}},
        {"BatchNormalization", {0}},
        {"MaxPooling2D", {"pool_size", "3", "strides", "2", "padding", "same"}},
        {"Conv2D", {"filters", "5", "kernel_size", "3,2", "strides", "2", "padding", "same",
                    "activation", "sigmoid"}},
        {"AveragePooling2D", {"pool_size", "2", "strides", "1", "padding", "same"}},
        {"Flatten", {0}},
        {"Dense", {"units", "3", "activation", "softplus"}},
    }, 0},
    {"cnn_valid", 3, {9, 7, 2}, {
        {"Conv2D", {"filters", "3", "kernel_size", "3", "dilation_rate", "2", "padding", "valid"}},
        {"MaxPooling2D", {"pool_size", "2", "padding", "valid"}},
        {"UpSampling2D", {"size", "2,3"}},
        {"Conv2DTranspose", {"filters", "4", "kernel_size", "3", "strides", "2", "padding", "same",
                             "activation", "relu"}},
        {"Conv2DTranspose", {"filters", "2", "kernel_size", "2", "strides", "3", "padding", "valid"}},
        {"Conv2DTranspose", {"filters", "3", "kernel_size", "4", "strides", "2", "padding", "valid"}},
        {"GlobalAveragePooling2D", {0}},
        {"Dense", {"units", "2"}},
    }, 0},
    {"cnn_reshape", 3, {6, 6, 1}, {
        {"Conv2D", {"filters", "2", "kernel_size", "4", "strides", "3", "padding", "same"}},
        {"GlobalMaxPooling2D", {"keepdims", "true"}},
        {"Reshape", {"target_shape", "2,1"}},
        {"Dense", {"units", "3"}},
        {"Flatten", {0}},
    }, 0},
    {"rnn", 2, {5, 3}, {
        {"LSTM", {"units", "4", "return_sequences", "true"}},
        {"GRU", {"units", "3", "return_sequences", "true"}},
        {"GRU", {"units", "3", "reset_after", "false", "use_bias", "false", "return_sequences", "true"}},
        {"LSTM", {"units", "3", "return_sequences", "true", "recurrent_activation", "tanh",
                  "activation", "relu"}},
        {"SimpleRNN", {"units", "4"}},
        {"Dense", {"units", "2"}},
    }, 0},
    {"seq1d", 2, {11, 3}, {
        {"Conv1D", {"filters", "4", "kernel_size", "3", "padding", "causal", "dilation_rate", "2",
                    "activation", "relu"}},
        {"Conv1D", {"filters", "5", "kernel_size", "4", "strides", "2", "padding", "same"}},
        {"MaxPooling1D", {"pool_size", "2", "strides", "1", "padding", "same"}},
        {"Conv1D", {"filters", "3", "kernel_size", "2", "padding", "valid"}},
        {"GlobalMaxPooling1D", {"keepdims", "true"}},
        {"Flatten", {0}},
        {"Dense", {"units", "4"}},
        {"Reshape", {"target_shape", "2,2"}},
        {"GlobalAveragePooling1D", {0}},
    }, 0},
    {"text_lstm", 1, {6}, {
        {"Embedding", {"input_dim", "7", "output_dim", "4"}},
        {"LSTM", {"units", "5", "return_sequences", "true"}},
        {"Dense", {"units", "7"}},
    }, 7},
    {"masked_bigru", 1, {6}, {
        {"Embedding", {"input_dim", "9", "output_dim", "3", "mask_zero", "true"}},
        {"Bidirectional", {"layer", "GRU", "units", "3"}},
        {"Dense", {"units", "2"}},
    }, 9},
    {"masked_bilstm_pool", 1, {5}, {
        {"Embedding", {"input_dim", "8", "output_dim", "3", "mask_zero", "true"}},
        {"Bidirectional", {"layer", "LSTM", "units", "4", "merge_mode", "sum",
                           "return_sequences", "true"}},
        {"Dense", {"units", "3", "activation", "tanh"}},
        {"GlobalAveragePooling1D", {0}},
        {"Dense", {"units", "2"}},
    }, 8},
    {"masking_rnn_maxpool", 2, {5, 2}, {
        {"Masking", {"mask_value", "0"}},
        {"SimpleRNN", {"units", "3", "return_sequences", "true"}},
        {"GlobalMaxPooling1D", {0}},
        {"Dense", {"units", "2"}},
    }, 0},
    {"masked_bag", 1, {7}, {
        {"Embedding", {"input_dim", "6", "output_dim", "4", "mask_zero", "true"}},
        {"GlobalAveragePooling1D", {"keepdims", "true"}},
        {"Flatten", {0}},
        {"Dense", {"units", "3", "activation", "softmax"}},
    }, 6},
};
#define N_MODELS (int)(sizeof MODELS / sizeof *MODELS)

static dc_model *build_model(const model_spec *ms) {
    dc_model *m = dc_sequential_new(ms->name);
    for (int i = 0; m && ms->layers[i].type; i++) {
        const layer_spec *ls = &ms->layers[i];
        const char *keys[6], *vals[6];
        int n = 0;
        while (n < 6 && ls->kv[2 * n]) keys[n] = ls->kv[2 * n], vals[n] = ls->kv[2 * n + 1], n++;
        dc_layer *l = dc_layer_from_config(ls->type, keys, vals, n);
        if (!l || dc_model_add(m, l) != DC_OK) {
            dc_model_free(m);
            return NULL;
        }
    }
    if (m && dc_model_build(m, ms->in_ndim, ms->in_shape, 7) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

static float unit_rand(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)(*s >> 8) / 16777216.0f * 2.0f - 1.0f;
}

/* Weights away from the initial zeros and ones (BN statistics, biases), variances > 0. */
static void scramble_weights(dc_model *m) {
    uint32_t s = 12345;
    for (int i = 0; i < dc_model_num_layers(m); i++) {
        dc_layer *l = dc_model_layer(m, i);
        for (int p = 0; p < dc_layer_num_params(l); p++) {
            dc_tensor *t = dc_layer_param(l, p);
            bool var = strstr(t->name, "variance") != NULL;
            for (int64_t k = 0; k < t->size; k++) {
                float v = unit_rand(&s);
                t->data[k] = var ? 0.3f + fabsf(v) : v;
            }
        }
    }
}

static int64_t input_size(const model_spec *ms) {
    int64_t n = BATCH;
    for (int i = 0; i < ms->in_ndim; i++) n *= ms->in_shape[i];
    return n;
}

static char *read_all(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)*n + 1);
    if (p && fread(p, 1, (size_t)*n, f) != (size_t)*n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

static const char *onnx_ref(const char *model, const char *ext) {
    static char rel[256];
    snprintf(rel, sizeof rel, REF_DIR "%s%s", model, ext);
    return test_path(rel);
}

/* Where regeneration writes: tests/ref/data/onnx with DC_ONNX_REGEN=1 (then
 * tests/ref/ref_onnx.py writes onnxruntime's outputs), else a scratch folder. */
static const char *regen_path(const char *model, const char *ext) {
    static char path[PATH_MAX];
    if (getenv("DC_ONNX_REGEN")) return onnx_ref(model, ext);
    snprintf(path, sizeof path, "%s/onnx_%s%s", test_tmpdir(), model, ext);
    return path;
}

/* The committed models are made again from their specs and seeds: each export is
 * byte for byte the committed .onnx, so the reference data stays reproducible.
 * DC_ONNX_REGEN=1 build/test_runner onnx_regenerate rewrites the committed files. */
TEST(onnx_regenerate) {
    for (int i = 0; i < N_MODELS; i++) {
        const model_spec *ms = &MODELS[i];
        dc_model *m = build_model(ms);
        CHECK(m != NULL);
        if (!m) {
            printf("%s\n", dc_last_error());
            continue;
        }
        scramble_weights(m);
        CHECK_OK(dc_model_save(m, regen_path(ms->name, ".safetensors")));
        CHECK_OK(dc_model_export_onnx(m, regen_path(ms->name, ".onnx")));
        long n_new = 0, n_ref = 0;
        char *made = read_all(regen_path(ms->name, ".onnx"), &n_new);
        char *ref = read_all(onnx_ref(ms->name, ".onnx"), &n_ref);
        CHECK(made && ref && n_new == n_ref && !memcmp(made, ref, (size_t)n_ref));
        free(made);
        free(ref);
        int64_t n = input_size(ms);
        uint32_t s = 999u + (uint32_t)i;
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t k = 0; k < n; k++) x[k] = unit_rand(&s);
        if (ms->ids) { /* row b: T - b ids in [1, ids), then 0 (padding) */
            const int64_t T = ms->in_shape[0];
            for (int64_t k = 0; k < n; k++)
                x[k] = k % T < T - k / T ? (float)(1 + (int)(fabsf(x[k]) * (float)(ms->ids - 1)) % (ms->ids - 1)) : 0.0f;
        } else if (ms->layers[0].type && !strcmp(ms->layers[0].type, "Masking")) {
            const int64_t T = ms->in_shape[0], C = ms->in_shape[1];
            for (int64_t k = 0; k < n; k++) /* row b: its last b steps all 0 (masked) */
                if (k / C % T >= T - k / (T * C)) x[k] = 0.0f;
        }
        FILE *f = fopen(regen_path(ms->name, ".input.bin"), "wb");
        CHECK(f && fwrite(x, sizeof *x, (size_t)n, f) == (size_t)n);
        if (f) fclose(f);
        free(x);
        dc_model_free(m);
    }
}

/* Export of the committed model is byte for byte the committed .onnx, and deepc's
 * prediction equals onnxruntime's within 1e-5. */
static void check_model(const model_spec *ms) {
    dc_model *m = dc_model_load(onnx_ref(ms->name, ".safetensors"));
    if (!m) SKIP("the ONNX reference files are missing");
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/%s.onnx", test_tmpdir(), ms->name);
    CHECK_OK(dc_model_export_onnx(m, out));
    long na = 0, nb = 0;
    char *a = read_all(out, &na), *b = read_all(onnx_ref(ms->name, ".onnx"), &nb);
    CHECK(a && b && na == nb && na > 0 && memcmp(a, b, (size_t)na) == 0);
    free(a);
    free(b);

    int64_t shape[4] = {BATCH, ms->in_shape[0], ms->in_shape[1], ms->in_shape[2]};
    float *xin = test_read_floats(onnx_ref(ms->name, ".input.bin"), input_size(ms));
    CHECK(xin != NULL);
    if (xin) {
        dc_tensor *x = dc_tensor_from_data(ms->in_ndim + 1, shape, xin);
        dc_tensor *y = dc_model_predict(m, x, BATCH);
        CHECK(y != NULL);
        float *want = y ? test_read_floats(onnx_ref(ms->name, ".ort.bin"), y->size) : NULL;
        CHECK(want != NULL);
        if (y && want) {
            for (int64_t k = 0; k < y->size; k++) CHECK_NEAR(y->data[k], want[k], 1e-5);
            CHECK(y->size > BATCH);
        }
        free(want);
        dc_tensor_free(y);
        dc_tensor_free(x);
        free(xin);
    }
    dc_model_free(m);
}

TEST(onnx_export_mlp) { check_model(&MODELS[0]); }
TEST(onnx_export_cnn_same) { check_model(&MODELS[1]); }
TEST(onnx_export_cnn_valid_transpose_upsampling) { check_model(&MODELS[2]); }
TEST(onnx_export_cnn_global_max_reshape) { check_model(&MODELS[3]); }

TEST(onnx_export_lstm_gru_simple_rnn) { check_model(&MODELS[4]); }

TEST(onnx_export_conv1d_pool1d) { check_model(&MODELS[5]); }

TEST(onnx_export_embedding_lstm) { check_model(&MODELS[6]); }
TEST(onnx_export_masked_bidirectional_gru) { check_model(&MODELS[7]); }
TEST(onnx_export_masked_bidirectional_lstm_sum_pooled) { check_model(&MODELS[8]); }
TEST(onnx_export_masking_simple_rnn_max_pooled) { check_model(&MODELS[9]); }
TEST(onnx_export_masked_embedding_bag) { check_model(&MODELS[10]); }

/* ---- functional models: merge layers, several inputs and outputs ----
 * fun_unet, fun_two_in and fun_c are the Keras test's models (ref/data/keras);
 * fun_masked, built here, merges two branches of a masked sequence. The
 * inputs lie one after another in NAME.input.bin, onnxruntime's outputs in
 * NAME.ort.bin; the ONNX inputs are named after the InputLayers. */
static const struct {
    const char *name;
    int n_in, nd[2];
    int64_t shape[2][3];
} FUN[] = {{"fun_unet", 1, {3}, {{8, 8, 2}}},
           {"fun_two_in", 2, {1, 1}, {{6}, {4}}},
           {"fun_c", 2, {3, 1}, {{6, 6, 2}, {4}}},
           {"fun_masked", 1, {1}, {{6}}}};
#define N_FUN (int)(sizeof FUN / sizeof *FUN)

static const char *fun_model_path(int i) {
    static char rel[256];
    snprintf(rel, sizeof rel, "ref/data/%s/%s.safetensors", i < 3 ? "keras" : "onnx", FUN[i].name);
    return test_path(rel);
}

static int64_t fun_floats(int i, int k) {
    int64_t e = BATCH;
    for (int d = 0; d < FUN[i].nd[k]; d++) e *= FUN[i].shape[k][d];
    return e;
}

static dc_layer *layer_kv(const char *type, const char *const *kv) {
    const char *k[6], *v[6];
    int n = 0;
    while (n < 6 && kv[2 * n]) k[n] = kv[2 * n], v[n] = kv[2 * n + 1], n++;
    return dc_layer_from_config(type, k, v, n);
}

/* ids -> Embedding(mask_zero) -> Dense(tanh) and Dense, added (one mask), pooled over real steps. */
static dc_model *build_fun_masked(void) {
    dc_graph *g = dc_graph_new();
    dc_symbol *ids = dc_input(g, 1, (int64_t[]){6}, "ids");
    dc_symbol *e = dc_call(layer_kv("Embedding", (const char *[]){"input_dim", "9", "output_dim", "3",
                                                                  "mask_zero", "true", NULL}), ids);
    dc_symbol *a = dc_call(layer_kv("Dense", (const char *[]){"units", "3", "activation", "tanh", NULL}), e);
    dc_symbol *b = dc_call(layer_kv("Dense", (const char *[]){"units", "3", NULL}), e);
    dc_symbol *s = dc_call_n(dc_layer_add(), (dc_symbol *[]){a, b}, 2);
    dc_symbol *p = dc_call(layer_kv("GlobalAveragePooling1D", (const char *[]){NULL}), s);
    dc_symbol *y = dc_call(layer_kv("Dense", (const char *[]){"units", "2", NULL}), p);
    dc_model *m = dc_model_functional("fun_masked", g, &ids, 1, &y, 1);
    CHECK(m != NULL);
    if (m) CHECK_OK(dc_model_build(m, 0, NULL, 5));
    if (m) scramble_weights(m);
    return m;
}

/* DC_ONNX_REGEN=1: the functional models' .onnx and inputs (and fun_masked's
 * model file) into ref/data/onnx; else the export must equal the committed bytes. */
TEST(onnx_regenerate_functional) {
    for (int i = 0; i < N_FUN; i++) {
        dc_model *m = i < 3 || !getenv("DC_ONNX_REGEN") ? dc_model_load(fun_model_path(i)) : build_fun_masked();
        CHECK(m != NULL);
        if (!m) continue;
        if (i == 3 && getenv("DC_ONNX_REGEN")) CHECK_OK(dc_model_save(m, fun_model_path(i)));
        CHECK_OK(dc_model_export_onnx(m, regen_path(FUN[i].name, ".onnx")));
        long n_new = 0, n_ref = 0;
        char *made = read_all(regen_path(FUN[i].name, ".onnx"), &n_new);
        char *ref = read_all(onnx_ref(FUN[i].name, ".onnx"), &n_ref);
        CHECK(made && ref && n_new == n_ref && !memcmp(made, ref, (size_t)n_ref));
        free(made);
        free(ref);
        if (getenv("DC_ONNX_REGEN")) { /* the Keras test's inputs, or ids padded at the end */
            char rel[256];
            snprintf(rel, sizeof rel, "ref/data/keras/%s.input.bin", FUN[i].name);
            int64_t n = fun_floats(i, 0) + (FUN[i].n_in > 1 ? fun_floats(i, 1) : 0);
            float *x = i < 3 ? test_read_floats(test_path(rel), n) : malloc((size_t)n * sizeof *x);
            for (int64_t k = 0; i == 3 && k < n; k++) x[k] = k % 6 < 6 - 2 * (k / 6) ? (float)(1 + (k * 5) % 8) : 0.0f;
            FILE *f = x ? fopen(regen_path(FUN[i].name, ".input.bin"), "wb") : NULL;
            CHECK(f && fwrite(x, sizeof *x, (size_t)n, f) == (size_t)n);
            if (f) fclose(f);
            free(x);
        }
        dc_model_free(m);
    }
}

/* deepc's prediction on every output equals onnxruntime's within 1e-5. */
static void check_fun(int i) {
    dc_model *m = dc_model_load(fun_model_path(i));
    CHECK(m != NULL);
    if (!m) return;
    int64_t n0 = fun_floats(i, 0), n1 = FUN[i].n_in > 1 ? fun_floats(i, 1) : 0;
    float *all = test_read_floats(onnx_ref(FUN[i].name, ".input.bin"), n0 + n1);
    CHECK(all != NULL);
    dc_tensor *xs[2] = {0}, *ys[DC_MAX_MODEL_IO];
    for (int k = 0; all && k < FUN[i].n_in; k++) {
        int64_t shape[4] = {BATCH};
        memcpy(shape + 1, FUN[i].shape[k], (size_t)FUN[i].nd[k] * sizeof *shape);
        xs[k] = dc_tensor_from_data(FUN[i].nd[k] + 1, shape, all + (k ? n0 : 0));
    }
    int n_out = all ? test_predict_all(m, xs, ys) : 0;
    int64_t total = 0;
    for (int k = 0; k < n_out; k++) total += ys[k]->size;
    float *want = total ? test_read_floats(onnx_ref(FUN[i].name, ".ort.bin"), total) : NULL;
    CHECK(want != NULL && n_out == dc_model_num_outputs(m));
    for (int k = 0, at = 0; want && k < n_out; at += (int)ys[k]->size, k++)
        for (int64_t j = 0; j < ys[k]->size; j++) CHECK_NEAR(ys[k]->data[j], want[at + j], 1e-5);
    for (int k = 0; k < n_out; k++) dc_tensor_free(ys[k]);
    for (int k = 0; k < FUN[i].n_in; k++) dc_tensor_free(xs[k]);
    free(want);
    free(all);
    dc_model_free(m);
}

TEST(onnx_export_functional_unet_concat) { check_fun(0); }
TEST(onnx_export_functional_two_inputs_all_merges_shared) { check_fun(1); }
TEST(onnx_export_functional_conv_leaky_two_outputs) { check_fun(2); }
TEST(onnx_export_functional_masked_branches) { check_fun(3); }

TEST(onnx_export_refuses_bad_input) {
    const model_spec *ms = &MODELS[0];
    dc_model *m = build_model(ms);
    CHECK(m != NULL);
    if (!m) return;
    CHECK_ERR(dc_model_export_onnx(m, "/nonexistent-folder/m.onnx"), DC_ERR_IO, "/nonexistent-folder");
    CHECK_ERR(dc_model_export_onnx(NULL, "x.onnx"), DC_ERR_ARG, "dc_model_export_onnx");
    dc_model_free(m);

    /* A masked LSTM's per-step outputs differ at padded steps (ONNX gives 0,
     * deepc repeats): refused where they would be read, and no file is left. */
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/refused.onnx", test_tmpdir());
    const char *last[] = {"Dense", "Flatten"};
    const char *want[] = {"'out' (Dense)", "'flat' (Flatten)"};
    for (int c = 0; c < 2; c++) {
        dc_model *r = dc_sequential_new("seq");
        const char *k[] = {"input_dim", "output_dim", "mask_zero"}, *v[] = {"10", "2", "true"};
        CHECK_OK(dc_model_add(r, dc_layer_from_config("Embedding", k, v, 3)));
        const char *rk[] = {"units", "return_sequences"}, *rv[] = {"3", "true"};
        CHECK_OK(dc_model_add(r, dc_layer_from_config("LSTM", rk, rv, 2)));
        const char *lk[] = {"units", "name"}, *lv[] = {"2", c ? "flat" : "out"};
        CHECK_OK(dc_model_add(r, dc_layer_from_config(last[c], c ? lk + 1 : lk, c ? lv + 1 : lv,
                                                      c ? 1 : 2)));
        int64_t in[1] = {4};
        CHECK_OK(dc_model_build(r, 1, in, 1));
        CHECK_ERR(dc_model_export_onnx(r, out), DC_ERR_UNSUPPORTED, want[c]);
        CHECK(access(out, F_OK) != 0);
        dc_model_free(r);
    }

    /* In a graph the padded steps pass through a merge layer too: refused at
     * the output, naming the merge layer. */
    {
        dc_graph *gr = dc_graph_new();
        dc_symbol *ids = dc_input(gr, 1, (int64_t[]){4}, "ids");
        dc_symbol *e = dc_call(layer_kv("Embedding", (const char *[]){"input_dim", "10", "output_dim", "2",
                                                                      "mask_zero", "true", NULL}), ids);
        dc_symbol *r = dc_call(layer_kv("LSTM", (const char *[]){"units", "2", "return_sequences", "true", NULL}), e);
        dc_symbol *sum = dc_call_n(layer_kv("Add", (const char *[]){"name", "merged", NULL}), (dc_symbol *[]){r, e}, 2);
        dc_model *fm = dc_model_functional("padded", gr, &ids, 1, &sum, 1);
        CHECK(fm && dc_model_build(fm, 0, NULL, 1) == DC_OK);
        if (fm) CHECK_ERR(dc_model_export_onnx(fm, out), DC_ERR_UNSUPPORTED, "'merged' (Add)");
        CHECK(access(out, F_OK) != 0);
        dc_model_free(fm);
    }

    /* gelu needs a later opset: refused naming the layer. */
    dc_model *g = dc_sequential_new("g");
    const char *gk[] = {"units", "activation", "name"}, *gv[] = {"3", "gelu", "dense_gelu"};
    CHECK_OK(dc_model_add(g, dc_layer_from_config("Dense", gk, gv, 3)));
    int64_t gin[1] = {4};
    CHECK_OK(dc_model_build(g, 1, gin, 1));
    CHECK_ERR(dc_model_export_onnx(g, out), DC_ERR_UNSUPPORTED, "'dense_gelu' (Dense)");
    dc_model_free(g);
}

TEST(onnx_cli_export) {
    if (!test_deepc_path()) SKIP("build/deepc is not built");
    char args[2 * PATH_MAX], out[4096], dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%s/cli_cnn.onnx", test_tmpdir());
    snprintf(args, sizeof args, "export '%s' '%s'", onnx_ref("cnn_same", ".safetensors"), dst);
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    long na = 0, nb = 0;
    char *a = read_all(dst, &na), *b = read_all(onnx_ref("cnn_same", ".onnx"), &nb);
    CHECK(a && b && na == nb && memcmp(a, b, (size_t)na) == 0);
    free(a);
    free(b);
    snprintf(args, sizeof args, "export '%s' /nonexistent-folder/x.onnx",
             onnx_ref("cnn_same", ".safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) != 0);
    CHECK(strstr(out, "/nonexistent-folder") != NULL);
    CHECK(test_run_deepc("export", out, sizeof out) != 0);
    CHECK(strstr(out, "usage") != NULL || strstr(out, "Usage") != NULL);
}
