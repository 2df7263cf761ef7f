/* test_model.c — layers and the Sequential model: Dense against PyTorch,
 * Keras' initializer formulas, names, the summary text, parameter counts and
 * layout, determinism, and bad options. */
#include "test.h"
#include "layers/layer.h" /* dc_snake_case */
#include <math.h>
#include <stdlib.h>

/* Dense(5, relu) -> Dense(3) on a 6-feature input, weights from the reference. */
static dc_model *ref_mlp(ref_file *r, const char *last_act) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 5, .activation = "relu"}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = last_act}));
    CHECK_OK(dc_model_build(m, DC_DIMS(6), 1));
    const char *names[4] = {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"};
    const char *refs[4] = {"k1", "b1", "k2", "b2"};
    for (int i = 0; i < 4; i++) {
        dc_tensor *p = dc_model_find_param(m, names[i]);
        CHECK(p != NULL);
        if (p) CHECK_OK(dc_tensor_copy(p, ref_get(r, refs[i])));
    }
    return m;
}

TEST(dense_forward_and_gradients_match_pytorch) {
    ref_file *r = ref_load("ref/data/model.txt");
    if (!r) return;
    dc_model *m = ref_mlp(r, NULL);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *x = dc_tensor_clone(ref_get(r, "x"));
    dc_tensor *logits = dc_model_call(m, t, x, true);
    dc_tensor *loss = dc_sparse_softmax_cross_entropy(t, logits, (dc_tensor *)ref_get(r, "labels"));
    CHECK_OK(dc_tape_status(t));
    if (logits && loss) {
        CHECK(logits->ndim == 2 && logits->shape[0] == 4 && logits->shape[1] == 3);
        CHECK_ALLCLOSE(logits->data, ref_get(r, "logits")->data, 12, 1e-5, 1e-5);
        CHECK_NEAR(loss->data[0], ref_get(r, "loss")->data[0], 1e-5);
        dc_model_zero_grad(m);
        CHECK_OK(dc_tape_backward(t, loss));
        const char *names[4] = {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"};
        const char *refs[4] = {"g_k1", "g_b1", "g_k2", "g_b2"};
        for (int i = 0; i < 4; i++) {
            dc_tensor *p = dc_model_find_param(m, names[i]);
            const dc_tensor *g = ref_get(r, refs[i]);
            CHECK_ALLCLOSE(p->grad, g->data, g->size, 1e-5, 1e-4);
        }
        /* the gradients live in the one flat buffer, in parameter order */
        float *gw;
        size_t n;
        CHECK_OK(dc_model_grads(m, &gw, &n));
        CHECK(n == 6 * 5 + 5 + 5 * 3 + 3);
        CHECK(gw == dc_model_find_param(m, "dense/kernel")->grad);
        CHECK(gw + 30 == dc_model_find_param(m, "dense/bias")->grad);
    }
    dc_tensor_free(x);
    dc_tape_free(t);
    dc_model_free(m);
    ref_free(r);
}

TEST(dense_softmax_output_gives_probabilities) {
    ref_file *r = ref_load("ref/data/model.txt");
    if (!r) return;
    dc_model *m = ref_mlp(r, "softmax");
    dc_tensor *x = dc_tensor_clone(ref_get(r, "x"));
    dc_tensor *p = dc_model_predict(m, x, 3); /* two batches: 3 + 1 rows */
    CHECK(p && p->shape[0] == 4 && p->shape[1] == 3);
    if (p) CHECK_ALLCLOSE(p->data, ref_get(r, "probs")->data, 12, 1e-6, 1e-5);
    dc_tensor_free(p);
    dc_tensor_free(x);
    dc_model_free(m);
    ref_free(r);
}

static void stats(const dc_tensor *t, double *mean, double *std, double *maxabs) {
    double s = 0, sq = 0, mx = 0;
    for (int64_t i = 0; i < t->size; i++) {
        s += t->data[i];
        sq += (double)t->data[i] * t->data[i];
        mx = fmax(mx, fabs(t->data[i]));
    }
    *mean = s / (double)t->size;
    *std = sqrt(sq / (double)t->size - *mean * *mean);
    *maxabs = mx;
}

TEST(initializers_follow_keras_formulas) {
    dc_rng rng;
    dc_rng_seed(&rng, 5);
    dc_tensor *w = dc_tensor_zeros(DC_DIMS(200, 300)); /* fan_in 200, fan_out 300 */
    double mean, std, mx;
    struct {
        const char *name;
        double std, limit; /* limit: the largest |x| allowed */
    } cases[] = {
        {"glorot_uniform", sqrt(6.0 / 500) / sqrt(3.0), sqrt(6.0 / 500)},
        {"glorot_normal", sqrt(2.0 / 500), 2 * sqrt(2.0 / 500) / 0.87962566103423978},
        {"he_normal", sqrt(2.0 / 200), 2 * sqrt(2.0 / 200) / 0.87962566103423978},
        {"he_uniform", sqrt(6.0 / 200) / sqrt(3.0), sqrt(6.0 / 200)},
        {"lecun_normal", sqrt(1.0 / 200), 2 * sqrt(1.0 / 200) / 0.87962566103423978},
        {"lecun_uniform", sqrt(3.0 / 200) / sqrt(3.0), sqrt(3.0 / 200)},
        {"random_normal", 0.05, 1.0},
        {"random_uniform", 0.05 / sqrt(3.0), 0.05},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        CHECK_OK(dc_initializer_fill(w, cases[i].name, &rng));
        stats(w, &mean, &std, &mx);
        CHECK_NEAR(mean, 0.0, 0.02 * cases[i].std + 1e-4);
        CHECK_NEAR(std / cases[i].std, 1.0, 0.01);
        CHECK(mx <= cases[i].limit * (1 + 1e-6));
        CHECK(mx >= cases[i].limit * 0.9 || cases[i].limit == 1.0); /* the range is used */
    }
    CHECK_OK(dc_initializer_fill(w, "ones", &rng));
    CHECK(w->data[0] == 1.0f && w->data[59999] == 1.0f);
    CHECK_OK(dc_initializer_fill(w, "zeros", &rng));
    CHECK(w->data[0] == 0.0f && w->data[59999] == 0.0f);
    CHECK_ERR(dc_initializer_fill(w, "identity", &rng), DC_ERR_ARG, "unknown initializer 'identity'");
    /* conv kernels: fans take the receptive field */
    dc_tensor *k = dc_tensor_zeros(DC_DIMS(3, 3, 16, 32));
    CHECK_OK(dc_initializer_fill(k, "he_uniform", &rng));
    stats(k, &mean, &std, &mx);
    CHECK(mx <= sqrt(6.0 / (16 * 9)) * (1 + 1e-6) && mx > 0.9 * sqrt(6.0 / (16 * 9)));
    dc_tensor_free(k);
    dc_tensor_free(w);
}

static dc_model *mnist_mlp(void) {
    dc_model *m = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(m, dc_layer_input(DC_DIMS(28, 28))));
    CHECK_OK(dc_model_add(m, dc_layer_flatten()));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 128, .activation = "relu"})));
    CHECK_OK(dc_model_add(m, dc_layer_dropout(0.2f)));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 10})));
    return m;
}

TEST(summary_text_is_exact) {
    dc_model *m = mnist_mlp();
    CHECK_ERR(dc_model_summary(m, stdout), DC_ERR_STATE, "not built");
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    char path[512];
    snprintf(path, sizeof path, "%s/summary.txt", test_tmpdir());
    FILE *f = fopen(path, "w+");
    CHECK_OK(dc_model_summary(m, f));
    rewind(f);
    char got[4096] = {0};
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    const char *want =
        "Model: \"sequential\"\n"
        "______________________________________________________________________\n"
        " Layer (type)                    Output Shape            Param #\n"
        "======================================================================\n"
        " flatten (Flatten)               (None, 784)             0\n"
        "\n"
        " dense (Dense)                   (None, 128)             100480\n"
        "\n"
        " dropout (Dropout)               (None, 128)             0\n"
        "\n"
        " dense_1 (Dense)                 (None, 10)              1290\n"
        "\n"
        "======================================================================\n"
        "Total params: 101,770\n"
        "Trainable params: 101,770\n"
        "Non-trainable params: 0\n"
        "______________________________________________________________________\n";
    if (strcmp(got, want)) test_fail(__FILE__, __LINE__, "summary:\n%s\nwanted:\n%s", got, want);
    dc_model_free(m);
}

TEST(parameters_are_named_counted_and_flat) {
    dc_model *m = mnist_mlp();
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    CHECK(dc_model_count_params(m) == 101770);
    CHECK(dc_model_count_trainable_params(m) == 101770);
    CHECK(dc_model_num_params(m) == 4);
    dc_tensor *ps[8];
    CHECK(dc_model_trainable_params(m, ps, 8) == 4);
    CHECK(!strcmp(ps[0]->name, "dense/kernel") && ps[0]->shape[0] == 784 && ps[0]->shape[1] == 128);
    CHECK(!strcmp(ps[1]->name, "dense/bias") && ps[1]->size == 128);
    CHECK(!strcmp(ps[2]->name, "dense_1/kernel"));
    CHECK(!strcmp(ps[3]->name, "dense_1/bias"));
    float *w;
    size_t n;
    CHECK_OK(dc_model_weights(m, &w, &n));
    CHECK(n == 101770 && ps[0]->data == w && ps[1]->data == w + 784 * 128 &&
          ps[3]->data == w + 101760);
    for (int i = 0; i < 128; i++) CHECK(ps[1]->data[i] == 0.0f); /* bias: zeros */
    dc_layer *d = dc_model_get_layer(m, "dense_1");
    CHECK(d && !strcmp(dc_layer_type(d), "Dense") && dc_layer_num_params(d) == 2);
    int64_t os[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(d, os) == 1 && os[0] == 10);
    /* zero_grad is one memset over the whole gradient buffer */
    float *g;
    CHECK_OK(dc_model_grads(m, &g, &n));
    g[0] = 1.0f, g[n - 1] = 2.0f;
    dc_model_zero_grad(m);
    CHECK(g[0] == 0.0f && g[n - 1] == 0.0f);
    dc_model_free(m);
}

TEST(same_seed_same_weights) {
    dc_model *a = mnist_mlp(), *b = mnist_mlp(), *c = mnist_mlp();
    CHECK_OK(dc_model_build(a, 0, NULL, 42));
    CHECK_OK(dc_model_build(b, 0, NULL, 42));
    CHECK_OK(dc_model_build(c, 0, NULL, 43));
    float *wa, *wb, *wc;
    size_t n;
    dc_model_weights(a, &wa, &n);
    dc_model_weights(b, &wb, &n);
    dc_model_weights(c, &wc, &n);
    CHECK(memcmp(wa, wb, n * sizeof(float)) == 0);
    CHECK(memcmp(wa, wc, n * sizeof(float)) != 0);
    dc_model_free(a);
    dc_model_free(b);
    dc_model_free(c);
}

TEST(layer_names_follow_keras) {
    char s[64];
    dc_snake_case("MaxPooling2D", s, sizeof s);
    CHECK(!strcmp(s, "max_pooling2d"));
    dc_snake_case("BatchNormalization", s, sizeof s);
    CHECK(!strcmp(s, "batch_normalization"));
    dc_snake_case("Conv2D", s, sizeof s);
    CHECK(!strcmp(s, "conv2d"));
    dc_snake_case("LSTM", s, sizeof s);
    CHECK(!strcmp(s, "lstm"));
    dc_model *m = dc_sequential_new("net");
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4, .name = "dense_1"}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4}));
    dc_model_add(m, dc_layer_activation("tanh"));
    CHECK(!strcmp(dc_layer_name(dc_model_layer(m, 0)), "dense_1"));
    CHECK(!strcmp(dc_layer_name(dc_model_layer(m, 1)), "dense"));
    CHECK(!strcmp(dc_layer_name(dc_model_layer(m, 2)), "dense_2"));
    CHECK(!strcmp(dc_layer_name(dc_model_layer(m, 3)), "activation"));
    CHECK_ERR(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4, .name = "dense"})),
              DC_ERR_ARG, "already has a layer named 'dense'");
    CHECK(!strcmp(dc_model_name(m), "net"));
    dc_model_free(m);
}

TEST(layer_from_config_builds_every_layer) {
    const char *k[] = {"units", "activation", "use_bias", "kernel_initializer", "name"};
    const char *v[] = {"7", "gelu", "false", "he_normal", "hidden"};
    dc_layer *d = dc_layer_from_config("Dense", k, v, 5);
    CHECK(d && !strcmp(dc_layer_name(d), "hidden"));
    dc_model *m = dc_sequential_new(NULL);
    const char *ks[] = {"shape"}, *vs[] = {"2,6"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Input", ks, vs, 1)));
    const char *kr[] = {"target_shape"}, *vr[] = {"(3, -1)"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Reshape", kr, vr, 1)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Flatten", NULL, NULL, 0)));
    CHECK_OK(dc_model_add(m, d));
    const char *kd[] = {"rate"}, *vd[] = {"0.5"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Dropout", kd, vd, 1)));
    CHECK_OK(dc_model_build(m, 0, NULL, 3));
    int64_t s[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(dc_model_layer(m, 1), s) == 2 && s[0] == 3 && s[1] == 4);
    CHECK(dc_model_count_params(m) == 12 * 7); /* no bias */
    /* the forward pass runs through reshape, flatten, dense, dropout (inference) */
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *x = dc_tensor_ones(DC_DIMS(5, 2, 6));
    dc_tensor *y = dc_model_call(m, t, x, false);
    CHECK_OK(dc_tape_status(t));
    CHECK(y && y->ndim == 2 && y->shape[0] == 5 && y->shape[1] == 7);
    dc_tensor *bad = dc_tensor_ones(DC_DIMS(5, 12));
    CHECK(dc_model_call(m, t, bad, false) == NULL);
    CHECK_MSG("dc_model_call: input (5,12) does not match the model's input (None, 2, 6)");
    CHECK(dc_tape_status(t) == DC_ERR_SHAPE);
    dc_tensor_free(bad);
    dc_tensor_free(x);
    dc_tape_free(t);
    dc_model_free(m);
}

TEST(bad_layer_options_name_the_key) {
    CHECK(dc_layer_dense(&(dc_dense_options){.units = 0}) == NULL);
    CHECK_MSG("dc_layer_dense: Dense: option 'units': '0' is not an integer in [1,");
    CHECK(dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "relu6"}) == NULL);
    CHECK_MSG("Dense: option 'activation': unknown activation 'relu6'");
    CHECK(dc_layer_dense(&(dc_dense_options){.units = 3, .kernel_initializer = "xavier"}) == NULL);
    CHECK_MSG("option 'kernel_initializer': unknown initializer 'xavier'");
    CHECK(dc_layer_dense(NULL) == NULL);
    CHECK_MSG("dc_layer_dense: options are NULL");
    const char *k[] = {"unit"}, *v[] = {"3"};
    CHECK(dc_layer_from_config("Dense", k, v, 1) == NULL);
    CHECK_MSG("dc_layer_from_config: Dense: unknown option 'unit' (known: units,");
    CHECK(dc_layer_from_config("Dense", NULL, NULL, 0) == NULL);
    CHECK_MSG("Dense: option 'units' is required");
    CHECK(dc_layer_from_config("Conv3D", NULL, NULL, 0) == NULL);
    CHECK_MSG("unknown layer type 'Conv3D' (known: InputLayer, Dense,");
    CHECK(dc_layer_dropout(1.0f) == NULL);
    CHECK_MSG("dc_layer_dropout: Dropout: option 'rate': '1' is not a number in [0,");
    CHECK(dc_layer_reshape(0, NULL) == NULL);
    CHECK_MSG("dc_layer_reshape: ndim 0");
    const char *ks[] = {"target_shape"}, *vs[] = {"2,x"};
    CHECK(dc_layer_from_config("Reshape", ks, vs, 1) == NULL);
    CHECK_MSG("Reshape: option 'target_shape': '2,x' is not a shape");
    CHECK(dc_layer_activation("swishy") == NULL);
    CHECK_MSG("dc_layer_activation: Activation: option 'activation': unknown activation 'swishy'");

    /* build-time errors */
    dc_model *m = dc_sequential_new(NULL);
    CHECK_ERR(dc_model_build(m, DC_DIMS(4), 1), DC_ERR_STATE, "has no layers");
    dc_model_add(m, dc_layer_reshape(DC_DIMS(3, 3)));
    CHECK_ERR(dc_model_build(m, DC_DIMS(4), 1), DC_ERR_SHAPE,
              "dc_model_build: Reshape 'reshape': input (None, 4) (4 values) cannot take (None, 3, 3)");
    dc_model_free(m);
    m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_input(DC_DIMS(8)));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    CHECK_ERR(dc_model_build(m, DC_DIMS(9), 1), DC_ERR_SHAPE,
              "InputLayer 'input': input (None, 9) does not match its shape (None, 8)");
    CHECK_OK(dc_model_build(m, DC_DIMS(8), 1));
    CHECK_ERR(dc_model_build(m, DC_DIMS(8), 1), DC_ERR_STATE, "already built");
    CHECK_ERR(dc_model_add(m, dc_layer_flatten()), DC_ERR_STATE, "already built");
    dc_model_free(m);
    m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    CHECK_ERR(dc_model_build(m, 0, NULL, 1), DC_ERR_ARG, "no input shape given");
    dc_model_free(m);
}

TEST(huge_layers_fail_cleanly) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2000000000}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2000000000}));
    CHECK(dc_model_build(m, DC_DIMS(4), 1) != DC_OK);
    CHECK_MSG("dc_model_build: ");
    CHECK(!dc_model_is_built(m));
    dc_model_free(m);
}

TEST(dense_applies_to_the_last_axis) {
    /* (None, 5, 4) -> Dense(3) -> (None, 5, 3): every step uses the same kernel */
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .bias_initializer = "ones"}));
    CHECK_OK(dc_model_build(m, DC_DIMS(5, 4), 8));
    int64_t s[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(dc_model_layer(m, 0), s) == 2 && s[0] == 5 && s[1] == 3);
    dc_rng r;
    dc_rng_seed(&r, 1);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(2, 5, 4), -1, 1, &r);
    dc_tensor *y = dc_model_predict(m, x, 0);
    const dc_tensor *k = dc_model_find_param(m, "dense/kernel");
    CHECK(y && y->ndim == 3 && y->shape[1] == 5 && y->shape[2] == 3);
    for (int row = 0; y && row < 10; row++)
        for (int j = 0; j < 3; j++) {
            double want = 1.0; /* bias: ones */
            for (int i = 0; i < 4; i++) want += (double)x->data[row * 4 + i] * k->data[i * 3 + j];
            CHECK_NEAR(y->data[row * 3 + j], want, 1e-5);
        }
    dc_tensor_free(y);
    dc_tensor_free(x);
    dc_model_free(m);
}

TEST(shape_options_reject_trailing_text) {
    const char *k[] = {"target_shape"};
    const char *bad[] = {"28,28)junk"}, *good[] = {"(28, 28)"};
    CHECK(dc_layer_from_config("Reshape", k, bad, 1) == NULL);
    CHECK_MSG("'28,28)junk' is not a shape");
    dc_layer *l = dc_layer_from_config("Reshape", k, good, 1);
    CHECK(l != NULL);
    dc_layer_free(l);
}

/* dc_model_set_metadata: the model's keys go into every file saved from it,
 * replaced and removed by key; a key given at save time wins; deepc's own
 * keys are refused. */
TEST(model_metadata_goes_into_every_saved_file) {
    dc_model *m = dc_sequential_new("meta");
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2})));
    int64_t in[1] = {3};
    CHECK_OK(dc_model_build(m, 1, in, 1));
    dc_compile_options co = {.loss = DC_LOSS_MSE, .optimizer = {.kind = DC_OPT_SGD}};
    CHECK_OK(dc_model_compile(m, &co));
    CHECK_OK(dc_model_set_metadata(m, "a", "one"));
    CHECK_OK(dc_model_set_metadata(m, "b", "two"));
    CHECK_OK(dc_model_set_metadata(m, "c", "three"));
    CHECK_OK(dc_model_set_metadata(m, "a", "uno"));   /* replaced */
    CHECK_OK(dc_model_set_metadata(m, "b", NULL));    /* removed */
    CHECK_OK(dc_model_set_metadata(m, "zz", NULL));   /* absent: nothing to do */
    CHECK_ERR(dc_model_set_metadata(m, "deepc_architecture", "x"), DC_ERR_ARG, "deepc's own");
    CHECK_ERR(dc_model_set_metadata(m, "", "x"), DC_ERR_ARG, "empty");
    CHECK_ERR(dc_model_set_metadata(NULL, "k", "x"), DC_ERR_ARG, "model is NULL");
    char plain[600], ckpt[600], given[600];
    snprintf(plain, sizeof plain, "%s/meta_model.safetensors", test_tmpdir());
    snprintf(ckpt, sizeof ckpt, "%s/meta_ckpt.safetensors", test_tmpdir());
    snprintf(given, sizeof given, "%s/meta_given.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, plain));
    CHECK_OK(dc_model_save_checkpoint(m, ckpt, 1));
    const char *k = "c", *v = "given";
    CHECK_OK(dc_model_save_with_metadata(m, given, &k, &v, 1));
    const char *paths[3] = {plain, ckpt, given};
    for (int i = 0; i < 3; i++) {
        dc_safetensors *st = dc_safetensors_load(paths[i]);
        CHECK(st != NULL);
        if (!st) continue;
        const char *a = dc_safetensors_metadata(st, "a"), *c = dc_safetensors_metadata(st, "c");
        CHECK(a && !strcmp(a, "uno"));
        CHECK(c && !strcmp(c, i == 2 ? "given" : "three"));
        CHECK(dc_safetensors_metadata(st, "b") == NULL);
        dc_safetensors_free(st);
    }
    dc_model_free(m);
}
