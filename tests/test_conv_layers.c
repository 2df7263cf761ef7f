/* test_conv_layers.c — the image layers (Conv2D, Conv2DTranspose, pooling,
 * BatchNormalization, UpSampling2D) against PyTorch, a small CNN's gradients,
 * the Fashion CNN's summary and counts, BN statistics, model files, bad options. */
#include "test.h"
#include "layers/layer.h" /* fused_pool */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define REF "ref/data/conv_layers.txt"

/* A model of one layer on samples shaped like the reference x (without batch). */
static dc_model *one_layer(dc_layer *l, const dc_tensor *x) {
    dc_model *m = dc_sequential_new(NULL);
    CHECK(l != NULL);
    CHECK_OK(dc_model_add(m, l));
    CHECK_OK(dc_model_build(m, x->ndim - 1, x->shape + 1, 1));
    return m;
}

/* Copies reference tensor `ref` into the model's parameter `param`. */
static void set_param(dc_model *m, ref_file *r, const char *param, const char *ref) {
    dc_tensor *p = dc_model_find_param(m, param);
    const dc_tensor *v = ref_get(r, ref);
    CHECK(p != NULL && v != NULL);
    if (p && v) {
        CHECK(dc_tensor_same_shape(p, v));
        CHECK_OK(dc_tensor_copy(p, v));
    }
}

/* m(x) matches reference y in shape (also the layer's declared one) and values. */
static void check_call(dc_model *m, const dc_tensor *x, const dc_tensor *y, bool training,
                       double tol) {
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *xin = dc_tensor_clone(x);
    dc_tensor *out = dc_model_call(m, t, xin, training);
    CHECK_OK(dc_tape_status(t));
    if (out && y) {
        bool same = dc_tensor_same_shape(out, y);
        if (!same) {
            char a[128], b[128];
            test_fail(__FILE__, __LINE__, "output %s, reference %s",
                      dc_shape_string(out->ndim, out->shape, a, sizeof a),
                      dc_shape_string(y->ndim, y->shape, b, sizeof b));
        }
        int64_t s[DC_MAX_DIMS];
        int nd = dc_layer_output_shape(dc_model_layer(m, dc_model_num_layers(m) - 1), s);
        CHECK(nd == y->ndim - 1);
        for (int i = 0; i < nd && i < y->ndim - 1; i++) CHECK(s[i] == y->shape[i + 1]);
        if (same) CHECK_ALLCLOSE(out->data, y->data, y->size, tol, tol);
    }
    dc_tensor_free(xin);
    dc_tape_free(t);
}

TEST(conv2d_layer_matches_pytorch) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    const dc_tensor *x = ref_get(r, "x");
    struct {
        const char *name;
        dc_conv2d_layer_options o;
    } cases[] = {
        {"conv_a", {.filters = 4, .kernel_size = {3}, .activation = "relu"}},
        {"conv_b",
         {.filters = 5, .kernel_size = {4, 3}, .strides = {2}, .padding = DC_PAD_SAME,
          .activation = "tanh"}},
        {"conv_c",
         {.filters = 2, .kernel_size = {3, 2}, .padding = DC_PAD_SAME, .dilation_rate = {2, 2},
          .no_bias = true}},
        {"conv_d",
         {.filters = 3, .kernel_size = {2}, .strides = {2, 1}, .dilation_rate = {1, 2},
          .activation = "relu"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dc_model *m = one_layer(dc_layer_conv2d(&cases[i].o), x);
        char k[64];
        snprintf(k, sizeof k, "%s_kernel", cases[i].name);
        set_param(m, r, "conv2d/kernel", k);
        CHECK(dc_model_num_params(m) == (cases[i].o.no_bias ? 1 : 2));
        if (!cases[i].o.no_bias) {
            snprintf(k, sizeof k, "%s_bias", cases[i].name);
            set_param(m, r, "conv2d/bias", k);
        }
        snprintf(k, sizeof k, "%s_y", cases[i].name);
        check_call(m, x, ref_get(r, k), true, 1e-5);
        dc_model_free(m);
    }
    ref_free(r);
}

TEST(conv2d_transpose_layer_matches_pytorch) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    const dc_tensor *x = ref_get(r, "xt");
    dc_conv2d_layer_options a = {.filters = 4, .kernel_size = {3}, .strides = {2},
                                 .activation = "relu"};
    dc_conv2d_layer_options b = {.filters = 2, .kernel_size = {3, 4}, .strides = {2},
                                 .padding = DC_PAD_SAME};
    const dc_conv2d_layer_options *opts[2] = {&a, &b};
    const char *names[2] = {"convt_a", "convt_b"};
    for (int i = 0; i < 2; i++) {
        dc_model *m = one_layer(dc_layer_conv2d_transpose(opts[i]), x);
        char k[64];
        snprintf(k, sizeof k, "%s_kernel", names[i]);
        set_param(m, r, "conv2d_transpose/kernel", k); /* (KH,KW,F,C) */
        snprintf(k, sizeof k, "%s_bias", names[i]);
        set_param(m, r, "conv2d_transpose/bias", k);
        snprintf(k, sizeof k, "%s_y", names[i]);
        check_call(m, x, ref_get(r, k), true, 1e-5);
        dc_model_free(m);
    }
    ref_free(r);
}

TEST(pooling_layers_match_pytorch) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    const dc_tensor *x = ref_get(r, "x");
    const dc_pool2d_layer_options same3 = {.pool_size = {3}, .strides = {2},
                                           .padding = DC_PAD_SAME};
    const dc_pool2d_layer_options rect = {.pool_size = {3, 2}, .strides = {1, 2}};
    struct {
        dc_layer *l;
        const char *y;
    } cases[] = {
        {dc_layer_max_pooling2d(NULL), "maxpool_a_y"},
        {dc_layer_max_pooling2d(&same3), "maxpool_b_y"},
        {dc_layer_average_pooling2d(NULL), "avgpool_a_y"},
        {dc_layer_average_pooling2d(&same3), "avgpool_b_y"},
        {dc_layer_average_pooling2d(&rect), "avgpool_c_y"},
        {dc_layer_global_average_pooling2d(), "gap_y"},
        {dc_layer_global_max_pooling2d(), "gmp_y"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dc_model *m = one_layer(cases[i].l, x);
        CHECK(dc_model_count_params(m) == 0);
        check_call(m, x, ref_get(r, cases[i].y), false, 1e-6);
        dc_model_free(m);
    }
    /* keepdims gives (1, 1, C); pool_size "2" and strides None as Keras writes them */
    const char *kk[] = {"keepdims"}, *kv[] = {"true"};
    dc_model *m = one_layer(dc_layer_from_config("GlobalAvgPool2D", kk, kv, 1), x);
    int64_t s[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(dc_model_layer(m, 0), s) == 3 && s[0] == 1 && s[1] == 1 &&
          s[2] == 3);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *xin = dc_tensor_clone(x);
    dc_tensor *y = dc_model_call(m, t, xin, false);
    CHECK(y && y->ndim == 4 && y->shape[1] == 1 && y->shape[2] == 1 && y->shape[3] == 3);
    if (y) CHECK_ALLCLOSE(y->data, ref_get(r, "gap_y")->data, 6, 1e-6, 1e-6);
    dc_tensor_free(xin);
    dc_tape_free(t);
    dc_model_free(m);
    const char *pk[] = {"pool_size", "strides", "padding"}, *pv[] = {"(2, 2)", "None", "valid"};
    m = one_layer(dc_layer_from_config("MaxPool2D", pk, pv, 3), x);
    check_call(m, x, ref_get(r, "maxpool_a_y"), false, 1e-6);
    dc_model_free(m);
    ref_free(r);
}

TEST(up_sampling2d_layer_matches_pytorch) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    const dc_tensor *x = ref_get(r, "xu");
    dc_model *m = one_layer(dc_layer_up_sampling2d(&(dc_up_sampling2d_options){.size = {2, 3}}), x);
    check_call(m, x, ref_get(r, "up_nearest_y"), false, 1e-6);
    dc_model_free(m);
    m = one_layer(dc_layer_up_sampling2d(&(dc_up_sampling2d_options){
                      .size = {2, 3}, .interpolation = "bilinear"}),
                  x);
    check_call(m, x, ref_get(r, "up_bilinear_y"), false, 1e-5);
    dc_model_free(m);
    ref_free(r);
}

/* A BatchNormalization model with the reference gamma, beta and moving stats. */
static dc_model *bn_model(ref_file *r, const dc_batch_normalization_options *o) {
    dc_model *m = one_layer(dc_layer_batch_normalization(o), ref_get(r, "xb"));
    if (!o || !o->no_scale) set_param(m, r, "batch_normalization/gamma", "bn_gamma");
    if (!o || !o->no_center) set_param(m, r, "batch_normalization/beta", "bn_beta");
    set_param(m, r, "batch_normalization/moving_mean", "bn_mm");
    set_param(m, r, "batch_normalization/moving_variance", "bn_mv");
    return m;
}

TEST(batch_normalization_training_and_inference) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    const dc_tensor *x = ref_get(r, "xb");
    dc_model *m = bn_model(r, NULL);
    CHECK(dc_model_num_params(m) == 4);
    CHECK(dc_model_count_params(m) == 12 && dc_model_count_trainable_params(m) == 6);
    const dc_tensor *mm = dc_model_find_param(m, "batch_normalization/moving_mean");
    const dc_tensor *mv = dc_model_find_param(m, "batch_normalization/moving_variance");
    /* inference uses the moving statistics and leaves them alone */
    check_call(m, x, ref_get(r, "bn_infer_y"), false, 1e-5);
    CHECK_ALLCLOSE(mm->data, ref_get(r, "bn_mm")->data, 3, 0, 0);
    CHECK_ALLCLOSE(mv->data, ref_get(r, "bn_mv")->data, 3, 0, 0);
    /* training uses the batch statistics and moves the moving ones */
    check_call(m, x, ref_get(r, "bn_train_y"), true, 1e-5);
    CHECK_ALLCLOSE(mm->data, ref_get(r, "bn_mm_after")->data, 3, 1e-6, 1e-6);
    CHECK_ALLCLOSE(mv->data, ref_get(r, "bn_mv_after")->data, 3, 1e-6, 1e-6);
    dc_model_free(m);

    /* no gamma, no beta: only the moving statistics remain */
    dc_batch_normalization_options bare = {.no_center = true, .no_scale = true};
    m = bn_model(r, &bare);
    CHECK(dc_model_num_params(m) == 2 && dc_model_count_trainable_params(m) == 0);
    check_call(m, x, ref_get(r, "bn_nocenter_noscale_y"), true, 1e-5);
    dc_model_free(m);

    /* Keras' momentum 0: the moving statistics become the last batch's */
    const char *k[] = {"momentum", "epsilon"}, *v[] = {"0", "0.001"};
    m = one_layer(dc_layer_from_config("BatchNormalization", k, v, 2), x);
    set_param(m, r, "batch_normalization/moving_mean", "bn_mm");
    check_call(m, x, ref_get(r, "bn_nocenter_noscale_y"), true, 1e-5);
    const dc_tensor *m0 = dc_model_find_param(m, "batch_normalization/moving_mean");
    const dc_tensor *mm1 = ref_get(r, "bn_mm_after"), *mm0 = ref_get(r, "bn_mm");
    for (int c = 0; c < 3; c++) /* batch mean = (after - 0.99 before) / 0.01 */
        CHECK_NEAR(m0->data[c], (mm1->data[c] - 0.99 * mm0->data[c]) / 0.01, 1e-4);
    dc_model_free(m);
    ref_free(r);
}

/* Conv2D(4, 3, same, relu) -> BatchNormalization -> MaxPooling2D -> Flatten -> Dense(3). */
static dc_model *small_cnn(void) {
    dc_model *m = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(m, dc_layer_input(DC_DIMS(6, 6, 2))));
    CHECK_OK(dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                                 .filters = 4, .kernel_size = {3}, .padding = DC_PAD_SAME,
                                 .activation = "relu"})));
    CHECK_OK(dc_model_add(m, dc_layer_batch_normalization(NULL)));
    CHECK_OK(dc_model_add(m, dc_layer_max_pooling2d(NULL)));
    CHECK_OK(dc_model_add(m, dc_layer_flatten()));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3})));
    CHECK_OK(dc_model_build(m, 0, NULL, 7));
    return m;
}

static const char *const cnn_params[6][2] = {
    {"conv2d/kernel", "cnn_conv_kernel"},    {"conv2d/bias", "cnn_conv_bias"},
    {"batch_normalization/gamma", "cnn_bn_gamma"}, {"batch_normalization/beta", "cnn_bn_beta"},
    {"dense/kernel", "cnn_dense_kernel"},    {"dense/bias", "cnn_dense_bias"}};

TEST(small_cnn_loss_and_gradients_match_pytorch) {
    ref_file *r = ref_load(REF);
    if (!r) return;
    dc_model *m = small_cnn();
    for (int i = 0; i < 6; i++) set_param(m, r, cnn_params[i][0], cnn_params[i][1]);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *x = dc_tensor_clone(ref_get(r, "cnn_x"));
    dc_tensor *logits = dc_model_call(m, t, x, true);
    dc_tensor *loss =
        dc_sparse_softmax_cross_entropy(t, logits, (dc_tensor *)ref_get(r, "cnn_labels"));
    CHECK_OK(dc_tape_status(t));
    if (logits && loss) {
        CHECK_ALLCLOSE(logits->data, ref_get(r, "cnn_logits")->data, 15, 1e-5, 1e-5);
        CHECK_NEAR(loss->data[0], ref_get(r, "cnn_loss")->data[0], 1e-5);
        dc_model_zero_grad(m);
        CHECK_OK(dc_tape_backward(t, loss));
        for (int i = 0; i < 6; i++) {
            char g[64];
            snprintf(g, sizeof g, "cnn_g_%s", cnn_params[i][1] + 4);
            const dc_tensor *p = dc_model_find_param(m, cnn_params[i][0]), *want = ref_get(r, g);
            if (p && want) CHECK_ALLCLOSE(p->grad, want->data, want->size, 1e-5, 1e-4);
        }
        /* the moving statistics moved (from zeros and ones) and take no gradient */
        const dc_tensor *mm = dc_model_find_param(m, "batch_normalization/moving_mean");
        const dc_tensor *mv = dc_model_find_param(m, "batch_normalization/moving_variance");
        CHECK(mm->grad == NULL && mv->grad == NULL);
        CHECK_ALLCLOSE(mm->data, ref_get(r, "cnn_mm_after")->data, 4, 1e-6, 1e-5);
        CHECK_ALLCLOSE(mv->data, ref_get(r, "cnn_mv_after")->data, 4, 1e-6, 1e-5);
    }
    dc_tensor_free(x);
    dc_tape_free(t);
    dc_model_free(m);
    ref_free(r);
}

/* The summary of m as a string (static buffer). */
static const char *summary_text(const dc_model *m) {
    static char got[8192];
    char path[512];
    snprintf(path, sizeof path, "%s/conv_summary.txt", test_tmpdir());
    FILE *f = fopen(path, "w+");
    got[0] = '\0';
    if (!f) return got;
    CHECK_OK(dc_model_summary(m, f));
    rewind(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    return got;
}

TEST(fashion_cnn_summary_and_param_counts) {
    dc_model *m = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(m, dc_layer_input(DC_DIMS(28, 28, 1))));
    CHECK_OK(dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                                 .filters = 24, .kernel_size = {3}, .activation = "relu"})));
    CHECK_OK(dc_model_add(m, dc_layer_max_pooling2d(&(dc_pool2d_layer_options){.pool_size = {2}})));
    CHECK_OK(dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                                 .filters = 36, .kernel_size = {3, 3}, .activation = "relu"})));
    CHECK_OK(dc_model_add(m, dc_layer_max_pooling2d(NULL)));
    CHECK_OK(dc_model_add(m, dc_layer_flatten()));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 128, .activation = "relu"})));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 10})));
    CHECK_OK(dc_model_build(m, 0, NULL, 1));
    CHECK(dc_model_count_params(m) == 240 + 7812 + 115328 + 1290);
    CHECK(dc_model_count_trainable_params(m) == 124670);
    dc_tensor *k = dc_model_find_param(m, "conv2d_1/kernel");
    CHECK(k && k->ndim == 4 && k->shape[0] == 3 && k->shape[1] == 3 && k->shape[2] == 24 &&
          k->shape[3] == 36);
    const char *want =
        "Model: \"sequential\"\n"
        "______________________________________________________________________\n"
        " Layer (type)                    Output Shape            Param #\n"
        "======================================================================\n"
        " conv2d (Conv2D)                 (None, 26, 26, 24)      240\n"
        "\n"
        " max_pooling2d (MaxPooling2D)    (None, 13, 13, 24)      0\n"
        "\n"
        " conv2d_1 (Conv2D)               (None, 11, 11, 36)      7812\n"
        "\n"
        " max_pooling2d_1 (MaxPooling2D)  (None, 5, 5, 36)        0\n"
        "\n"
        " flatten (Flatten)               (None, 900)             0\n"
        "\n"
        " dense (Dense)                   (None, 128)             115328\n"
        "\n"
        " dense_1 (Dense)                 (None, 10)              1290\n"
        "\n"
        "======================================================================\n"
        "Total params: 124,670\n"
        "Trainable params: 124,670\n"
        "Non-trainable params: 0\n"
        "______________________________________________________________________\n";
    const char *got = summary_text(m);
    if (strcmp(got, want)) test_fail(__FILE__, __LINE__, "summary:\n%s\nwanted:\n%s", got, want);
    dc_model_free(m);
}

TEST(batch_normalization_summary_counts_non_trainable) {
    dc_model *m = dc_sequential_new("bn");
    CHECK_OK(dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                                 .filters = 8, .kernel_size = {3}, .padding = DC_PAD_SAME})));
    CHECK_OK(dc_model_add(m, dc_layer_batch_normalization(NULL)));
    CHECK_OK(dc_model_add(m, dc_layer_global_average_pooling2d()));
    CHECK_OK(dc_model_build(m, DC_DIMS(10, 10, 3), 1));
    const char *want =
        "Model: \"bn\"\n"
        "______________________________________________________________________\n"
        " Layer (type)                    Output Shape            Param #\n"
        "======================================================================\n"
        " conv2d (Conv2D)                 (None, 10, 10, 8)       224\n"
        "\n"
        " batch_normalization             (None, 10, 10, 8)       32\n"
        " (BatchNormalization)\n"
        "\n"
        " global_average_pooling2d        (None, 8)               0\n"
        " (GlobalAveragePooling2D)\n"
        "\n"
        "======================================================================\n"
        "Total params: 256\n"
        "Trainable params: 240\n"
        "Non-trainable params: 16\n"
        "______________________________________________________________________\n";
    const char *got = summary_text(m);
    if (strcmp(got, want)) test_fail(__FILE__, __LINE__, "summary:\n%s\nwanted:\n%s", got, want);
    /* gamma, beta (trainable) then moving_mean, moving_variance, as Keras orders them */
    dc_layer *bn = dc_model_get_layer(m, "batch_normalization");
    CHECK(dc_layer_num_params(bn) == 4);
    CHECK(!strcmp(dc_layer_param(bn, 0)->name, "batch_normalization/gamma"));
    CHECK(!strcmp(dc_layer_param(bn, 3)->name, "batch_normalization/moving_variance"));
    CHECK(dc_layer_param(bn, 0)->data[0] == 1.0f && dc_layer_param(bn, 1)->data[0] == 0.0f);
    CHECK(dc_layer_param(bn, 2)->data[7] == 0.0f && dc_layer_param(bn, 3)->data[7] == 1.0f);
    CHECK(!dc_model_param_trainable(m, dc_model_num_params(m) - 1));
    dc_model_free(m);
}

TEST(cnn_with_batch_norm_survives_save_and_load) {
    dc_model *m = small_cnn();
    /* a few training forwards move the BN statistics away from zeros and ones */
    dc_rng rng;
    dc_rng_seed(&rng, 3);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(8, 6, 6, 2), -1, 2, &rng);
    dc_tape *t = dc_tape_new(NULL);
    for (int i = 0; i < 3; i++) {
        dc_tape_reset(t);
        CHECK(dc_model_call(m, t, x, true) != NULL);
    }
    const dc_tensor *mm = dc_model_find_param(m, "batch_normalization/moving_mean");
    CHECK(mm && mm->data[0] != 0.0f);
    char path[512];
    snprintf(path, sizeof path, "%s/cnn_bn.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *b = dc_model_load(path);
    CHECK(b != NULL);
    if (b) {
        CHECK(dc_model_num_layers(b) == dc_model_num_layers(m));
        CHECK(dc_model_count_params(b) == dc_model_count_params(m));
        CHECK(dc_model_count_trainable_params(b) == dc_model_count_trainable_params(m));
        float *wa, *wb;
        size_t na, nb;
        CHECK_OK(dc_model_all_weights(m, &wa, &na));
        CHECK_OK(dc_model_all_weights(b, &wb, &nb));
        CHECK(na == nb && memcmp(wa, wb, na * sizeof(float)) == 0);
        CHECK(!strcmp(summary_text(m), summary_text(b)) || !"summaries differ");
        dc_tape_reset(t);
        dc_tensor *ya = dc_model_call(m, t, x, false);
        dc_tensor *yb = dc_model_call(b, t, x, false);
        CHECK(ya && yb && memcmp(ya->data, yb->data, (size_t)ya->size * sizeof(float)) == 0);
        dc_model_free(b);
    }
    dc_tensor_free(x);
    dc_tape_free(t);
    dc_model_free(m);
}

TEST(conv_kernels_use_keras_fans) {
    /* glorot_uniform on (5,5,8,16): limit sqrt(6 / (25*8 + 25*16)) */
    dc_model *m = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 16,
                                                                       .kernel_size = {5}})));
    CHECK_OK(dc_model_add(m, dc_layer_conv2d_transpose(&(dc_conv2d_layer_options){
                                 .filters = 4, .kernel_size = {3}, .strides = {2}})));
    CHECK_OK(dc_model_build(m, DC_DIMS(12, 12, 8), 9));
    const dc_tensor *k = dc_model_find_param(m, "conv2d/kernel");
    double lim = sqrt(6.0 / (25 * 8 + 25 * 16)), mx = 0;
    for (int64_t i = 0; i < k->size; i++) mx = fmax(mx, fabs(k->data[i]));
    CHECK(mx <= lim * (1 + 1e-6) && mx > 0.95 * lim);
    /* Conv2DTranspose (3,3,F=4,C=16): fans 9*16 and 9*4, as Keras computes them */
    k = dc_model_find_param(m, "conv2d_transpose/kernel");
    CHECK(k->shape[2] == 4 && k->shape[3] == 16);
    lim = sqrt(6.0 / (9 * 4 + 9 * 16)), mx = 0;
    for (int64_t i = 0; i < k->size; i++) mx = fmax(mx, fabs(k->data[i]));
    CHECK(mx <= lim * (1 + 1e-6) && mx > 0.9 * lim);
    int64_t s[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(dc_model_layer(m, 1), s) == 3 && s[0] == 17 && s[1] == 17 &&
          s[2] == 4); /* 8*2 + max(3-2, 0) */
    dc_model_free(m);
}

TEST(conv_layers_from_config_strings) {
    const char *k[] = {"filters", "kernel_size", "strides", "padding", "activation", "name"};
    const char *v[] = {"6", "(3, 3)", "2", "SAME", "relu", "c1"};
    dc_model *m = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Convolution2D", k, v, 6)));
    const char *bk[] = {"momentum", "epsilon", "center"}, *bv[] = {"0.9", "1e-5", "False"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("BatchNormalization", bk, bv, 3)));
    const char *uk[] = {"size", "interpolation"}, *uv[] = {"2", "bilinear"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("UpSampling2D", uk, uv, 2)));
    const char *pk[] = {"pool_size", "padding"}, *pv[] = {"3", "same"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("AveragePooling2D", pk, pv, 2)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("GlobalMaxPooling2D", NULL, NULL, 0)));
    CHECK_OK(dc_model_build(m, DC_DIMS(9, 9, 2), 1));
    CHECK(!strcmp(dc_layer_type(dc_model_layer(m, 0)), "Conv2D"));
    int64_t s[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(dc_model_get_layer(m, "c1"), s) == 3 && s[0] == 5 && s[1] == 5 &&
          s[2] == 6);
    CHECK(dc_layer_output_shape(dc_model_layer(m, 2), s) == 3 && s[0] == 10 && s[1] == 10);
    CHECK(dc_layer_output_shape(dc_model_layer(m, 3), s) == 3 && s[0] == 4 && s[1] == 4);
    CHECK(dc_layer_output_shape(dc_model_layer(m, 4), s) == 1 && s[0] == 6);
    /* BN without center: gamma + the two moving statistics */
    CHECK(dc_layer_num_params(dc_model_layer(m, 1)) == 3);
    CHECK(dc_model_count_params(m) == 3 * 3 * 2 * 6 + 6 + 3 * 6);
    dc_model_free(m);
}

TEST(conv_layer_training_steps_allocate_nothing_after_the_first) {
    dc_model *m = small_cnn();
    dc_rng rng;
    dc_rng_seed(&rng, 4);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(8, 6, 6, 2), -1, 1, &rng);
    dc_tensor *y = dc_tensor_zeros(DC_DIMS(8));
    for (int i = 0; i < 8; i++) y->data[i] = (float)(i % 3);
    dc_optimizer *opt = dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_ADAM},
                                         (size_t)dc_model_count_trainable_params(m));
    dc_tape *t = dc_tape_new(NULL);
    float *w, *g;
    size_t n;
    dc_model_weights(m, &w, &n);
    dc_model_grads(m, &g, &n);
    uint64_t after_first = 0;
    for (int step = 0; step < 5; step++) {
        dc_tape_reset(t);
        dc_model_zero_grad(m);
        dc_tensor *out = dc_model_call(m, t, x, true);
        dc_tensor *loss = dc_sparse_softmax_cross_entropy(t, out, y);
        CHECK_OK(dc_tape_backward(t, loss));
        CHECK_OK(dc_optimizer_step(opt, w, g, n));
        if (step == 0) after_first = dc_alloc_count();
    }
    if (dc_alloc_count() != after_first)
        test_fail(__FILE__, __LINE__, "steps 2..5 made %llu allocations",
                  (unsigned long long)(dc_alloc_count() - after_first));
    dc_optimizer_free(opt);
    dc_tape_free(t);
    dc_tensor_free(y);
    dc_tensor_free(x);
    dc_model_free(m);
}

TEST(conv_layers_bad_options) {
    CHECK(dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 0, .kernel_size = {3}}) == NULL);
    CHECK_MSG("dc_layer_conv2d: Conv2D: option 'filters': '0' is not an integer in [1,");
    CHECK(dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 4}) == NULL);
    CHECK_MSG("dc_layer_conv2d: Conv2D: option 'kernel_size': '0' is not one or two integers");
    CHECK(dc_layer_conv2d(NULL) == NULL);
    CHECK_MSG("dc_layer_conv2d: options are NULL");
    CHECK(dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 4, .kernel_size = {3},
                                                     .padding = (dc_padding)7}) == NULL);
    CHECK_MSG("dc_layer_conv2d: padding 7 is not DC_PAD_VALID or DC_PAD_SAME");
    const char *k[] = {"filters", "kernel_size", "padding"}, *v[] = {"4", "3", "full"};
    CHECK(dc_layer_from_config("Conv2D", k, v, 3) == NULL);
    CHECK_MSG("dc_layer_from_config: Conv2D: option 'padding': 'full' is not 'valid' or 'same'");
    const char *k2[] = {"filters", "kernel_size"}, *v2[] = {"4", "3,3,3"};
    CHECK(dc_layer_from_config("Conv2DTranspose", k2, v2, 2) == NULL);
    CHECK_MSG("Conv2DTranspose: option 'kernel_size': '3,3,3' is not one or two integers");
    CHECK(dc_layer_from_config("Conv2D", k2, v2, 1) == NULL);
    CHECK_MSG("Conv2D: option 'kernel_size' is required");
    const char *k3[] = {"filters", "kernel_size", "groups"}, *v3[] = {"4", "3", "2"};
    CHECK(dc_layer_from_config("Conv2D", k3, v3, 3) == NULL);
    CHECK_MSG("Conv2D: unknown option 'groups' (known: filters, kernel_size,");
    const char *k4[] = {"filters", "kernel_size", "data_format"},
               *v4[] = {"4", "3", "channels_first"};
    CHECK(dc_layer_from_config("Conv2D", k4, v4, 3) == NULL);
    CHECK(dc_last_status() == DC_ERR_UNSUPPORTED);
    CHECK_MSG("Conv2D: option 'data_format': 'channels_first' is not supported");

    /* pools */
    CHECK(dc_layer_max_pooling2d(&(dc_pool2d_layer_options){.pool_size = {-1}}) == NULL);
    CHECK_MSG("dc_layer_max_pooling2d: MaxPooling2D: option 'pool_size': '-1,-1' is not one or "
              "two integers");
    const char *pk[] = {"pool_size"}, *pv[] = {"0"};
    CHECK(dc_layer_from_config("AveragePooling2D", pk, pv, 1) == NULL);
    CHECK_MSG("AveragePooling2D: option 'pool_size': '0' is not one or two integers in [1,");
    const char *sk[] = {"strides"}, *sv[] = {"two"};
    CHECK(dc_layer_from_config("MaxPooling2D", sk, sv, 1) == NULL);
    CHECK_MSG("MaxPooling2D: option 'strides': 'two'");
    const char *uk[] = {"interpolation"}, *uv[] = {"bicubic"};
    CHECK(dc_layer_from_config("UpSampling2D", uk, uv, 1) == NULL);
    CHECK_MSG("UpSampling2D: option 'interpolation': 'bicubic' is not 'nearest' or 'bilinear'");
    const char *bk[] = {"momentum"}, *bv[] = {"1.5"};
    CHECK(dc_layer_from_config("BatchNormalization", bk, bv, 1) == NULL);
    CHECK_MSG("BatchNormalization: option 'momentum': '1.5' is not a number in [0, 1]");
    const char *gk[] = {"keepdims"}, *gv[] = {"maybe"};
    CHECK(dc_layer_from_config("GlobalMaxPooling2D", gk, gv, 1) == NULL);
    CHECK_MSG("GlobalMaxPooling2D: option 'keepdims': 'maybe' is not true or false");

    /* build time: kernel or pool larger than the input, not an image, BN axis */
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 2, .kernel_size = {5}}));
    CHECK_ERR(dc_model_build(m, DC_DIMS(4, 6, 1), 1), DC_ERR_SHAPE,
              "dc_model_build: Conv2D 'conv2d': kernel 5x5 is larger than the input (None, 4, 6, 1)");
    CHECK_ERR(dc_model_build(m, DC_DIMS(36), 1), DC_ERR_SHAPE,
              "Conv2D 'conv2d': input (None, 36) must be an image (None, H, W, C)");
    CHECK_OK(dc_model_build(m, DC_DIMS(5, 5, 1), 1)); /* exactly fits: (1, 1, 2) */
    dc_model_free(m);
    m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                        .filters = 2, .kernel_size = {3}, .dilation_rate = {3}}));
    CHECK_ERR(dc_model_build(m, DC_DIMS(6, 6, 1), 1), DC_ERR_SHAPE,
              "kernel 3x3 (dilated 7x7) is larger than the input (None, 6, 6, 1)");
    dc_model_free(m);
    m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_max_pooling2d(&(dc_pool2d_layer_options){.pool_size = {3}}));
    CHECK_ERR(dc_model_build(m, DC_DIMS(2, 8, 4), 1), DC_ERR_SHAPE,
              "MaxPooling2D 'max_pooling2d': pool 3x3 is larger than the input (None, 2, 8, 4)");
    dc_model_free(m);
    m = dc_sequential_new(NULL);
    const char *ak[] = {"axis"}, *av[] = {"1"};
    dc_model_add(m, dc_layer_from_config("BatchNormalization", ak, av, 1));
    CHECK_ERR(dc_model_build(m, DC_DIMS(4, 4, 3), 1), DC_ERR_UNSUPPORTED,
              "BatchNormalization 'batch_normalization': axis 1 of input (None, 4, 4, 3): only the "
              "last axis (-1 or 3) is supported");
    dc_model_free(m);

    /* channel mismatch: a model built for 3 channels given 1 */
    m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){.filters = 2, .kernel_size = {3}}));
    CHECK_OK(dc_model_build(m, DC_DIMS(8, 8, 3), 1));
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 8, 8, 1));
    CHECK(dc_model_call(m, t, x, false) == NULL);
    CHECK_MSG("dc_model_call: input (2,8,8,1) does not match the model's input (None, 8, 8, 3)");
    /* the conv op itself names both shapes */
    dc_tensor *w = dc_model_find_param(m, "conv2d/kernel");
    dc_tape_reset(t);
    CHECK(dc_conv2d(t, x, w, NULL, NULL) == NULL);
    CHECK_MSG("dc_conv2d: x (2,8,8,1) and w (3,3,3,2): x has 1 channels, w expects 3");
    dc_tensor_free(x);
    dc_tape_free(t);
    dc_model_free(m);
}

/* Conv2D(3, relu) -> MaxPooling2D(2) -> Flatten -> Dense(4) on (7,9,2) images. */
static dc_model *conv_pool_net(const char *act, dc_padding pool_pad) {
    dc_model *m = dc_sequential_new(NULL);
    CHECK_OK(dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                                 .filters = 5, .kernel_size = {3}, .activation = act})));
    CHECK_OK(dc_model_add(m, dc_layer_max_pooling2d(&(dc_pool2d_layer_options){
                                 .padding = pool_pad})));
    CHECK_OK(dc_model_add(m, dc_layer_flatten()));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4})));
    CHECK_OK(dc_model_build(m, DC_DIMS(7, 9, 2), 11));
    return m;
}

TEST(conv_then_max_pool_runs_fused_with_the_same_results) {
    dc_model *m = conv_pool_net("relu", DC_PAD_VALID);
    dc_layer *conv = dc_model_layer(m, 0), *pool = dc_model_layer(m, 1);
    CHECK(conv->fused_pool[0] == 2 && conv->fused_pool[1] == 2 && pool->fused_away);
    int64_t s[DC_MAX_DIMS];
    CHECK(dc_layer_output_shape(conv, s) == 3 && s[0] == 5 && s[1] == 7); /* as Keras shows */
    dc_rng rng;
    dc_rng_seed(&rng, 12);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(3, 7, 9, 2), -1, 1, &rng);
    dc_tensor *y = dc_tensor_zeros(DC_DIMS(3));
    y->data[1] = 2, y->data[2] = 3;
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *out = dc_model_call(m, t, x, true);
    dc_tensor *loss = dc_sparse_softmax_cross_entropy(t, out, y);
    dc_model_zero_grad(m);
    CHECK_OK(dc_tape_backward(t, loss));
    /* the same net from separate ops on a second tape, gradients into copies */
    dc_tensor *k = dc_tensor_clone(dc_model_find_param(m, "conv2d/kernel"));
    dc_tensor *b = dc_tensor_clone(dc_model_find_param(m, "conv2d/bias"));
    dc_tensor *dk = dc_tensor_clone(dc_model_find_param(m, "dense/kernel"));
    dc_tensor *db = dc_tensor_clone(dc_model_find_param(m, "dense/bias"));
    dc_tensor *ps[4] = {k, b, dk, db};
    for (int i = 0; i < 4; i++) CHECK_OK(dc_tensor_set_requires_grad(ps[i], true));
    dc_tape *t2 = dc_tape_new(NULL);
    dc_tensor *h = dc_conv2d(t2, x, k, b, &(dc_conv2d_options){.activation = DC_CONV_ACT_RELU});
    h = dc_max_pool2d(t2, h, 2, 2, NULL);
    h = dc_reshape(t2, h, 2, (const int64_t[]){3, 2 * 3 * 5});
    dc_tensor *out2 = dc_add(t2, dc_matmul(t2, h, dk, false, false), db);
    dc_tensor *loss2 = dc_sparse_softmax_cross_entropy(t2, out2, y);
    CHECK_OK(dc_tape_backward(t2, loss2));
    if (out && out2 && out->size == out2->size) {
        CHECK_ALLCLOSE(out->data, out2->data, out->size, 1e-6, 1e-5);
        const char *names[4] = {"conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias"};
        for (int i = 0; i < 4; i++)
            CHECK_ALLCLOSE(dc_model_find_param(m, names[i])->grad, ps[i]->grad, ps[i]->size, 1e-6,
                           1e-5);
    } else {
        CHECK(!"outputs missing or of different sizes");
    }
    /* each layer's own output when collected (the conv's unpooled maps) */
    dc_tensor *outs[4] = {0};
    dc_tape_reset(t2);
    CHECK_OK(dc_model_call_collect(m, t2, x, outs, 4));
    CHECK(outs[0] && outs[0]->ndim == 4 && outs[0]->shape[1] == 5 && outs[0]->shape[2] == 7);
    CHECK(outs[1] && outs[1]->ndim == 4 && outs[1]->shape[1] == 2 && outs[1]->shape[2] == 3);
    CHECK(conv->fused_pool[0] == 2 && pool->fused_away); /* and fused again after */
    if (out && outs[3]) CHECK_ALLCLOSE(outs[3]->data, out->data, out->size, 1e-6, 1e-5);
    for (int i = 0; i < 4; i++) dc_tensor_free(ps[i]);
    dc_tape_free(t2);
    dc_tape_free(t);
    dc_model_free(m);
    /* what the op cannot fuse stays apart: a tanh conv, a 'same' pool */
    m = conv_pool_net("tanh", DC_PAD_VALID);
    CHECK(dc_model_layer(m, 0)->fused_pool[0] == 0 && !dc_model_layer(m, 1)->fused_away);
    dc_model_free(m);
    m = conv_pool_net(NULL, DC_PAD_SAME);
    CHECK(dc_model_layer(m, 0)->fused_pool[0] == 0 && !dc_model_layer(m, 1)->fused_away);
    dc_tape *t3 = dc_tape_new(NULL);
    out = dc_model_call(m, t3, x, false);
    CHECK(out && out->shape[1] == 4);
    dc_tape_free(t3);
    dc_model_free(m);
    dc_tensor_free(y);
    dc_tensor_free(x);
}
