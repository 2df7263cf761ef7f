/* test_segment.c — per-pixel losses and metrics: gradient-check cases, PyTorch
 * (losses) and Keras (MeanIoU, pixel accuracy) references, bad input. */
#include "test.h"
#include "ops/op.h"

/* ---- gradient-check cases ---- */

static dc_tensor *row_labels(dc_tape *t, int64_t n, int64_t C) {
    dc_tensor *lab = dc_tape_tensor(t, 1, &n);
    for (int64_t i = 0; lab && i < n; i++) lab->data[i] = (float)((i * 3 + 1) % C);
    return lab;
}

static dc_tensor *wsce(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    dc_tensor *w = dc_tape_tensor(t, DC_DIMS(5));
    if (!w) return NULL;
    for (int c = 0; c < 5; c++) w->data[c] = 0.3f + 0.4f * (float)c;
    return dc_weighted_sparse_softmax_cross_entropy(t, in[0], row_labels(t, 6, 5), w);
}
GRAD_CASE(weighted_sparse_softmax_cross_entropy) {
    *c = (grad_case){.op = DC_OP_WEIGHTED_SPARSE_SOFTMAX_CROSS_ENTROPY, .n_in = 1, .ndim = {2},
                     .shape = {{6, 5}}, .lo = -3, .hi = 3, .apply = wsce};
}

static dc_tensor *dice_logits(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_dice_loss(t, in[0], row_labels(t, 7, 4), false, 1.0f);
}
GRAD_CASE(dice_loss_logits) {
    *c = (grad_case){.op = DC_OP_DICE_LOSS, .n_in = 1, .ndim = {2}, .shape = {{7, 4}}, .lo = -3,
                     .hi = 3, .apply = dice_logits};
}

static dc_tensor *dice_probs(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_dice_loss(t, in[0], row_labels(t, 7, 4), true, 0.5f);
}
GRAD_CASE(dice_loss_probabilities) {
    *c = (grad_case){.op = DC_OP_DICE_LOSS, .n_in = 1, .ndim = {2}, .shape = {{7, 4}}, .lo = 0.05f,
                     .hi = 1, .apply = dice_probs};
}

/* ---- PyTorch references (tests/ref/ref_segment.py) ---- */

/* Runs loss_fn on the reference scores as rows (24,5) and checks value and gradient. */
static void check_loss(ref_file *r, const char *scores, const char *loss_name,
                       const char *grad_name, int kind) {
    const dc_tensor *s = ref_get(r, scores), *lab = ref_get(r, "labels"), *w = ref_get(r, "weights");
    const dc_tensor *want = ref_get(r, loss_name), *want_g = ref_get(r, grad_name);
    if (!s || !lab || !w || !want || !want_g) return;
    dc_tensor *x = dc_tensor_from_data(2, (int64_t[]){24, 5}, s->data);
    dc_tensor *y = dc_tensor_from_data(1, (int64_t[]){24}, lab->data);
    dc_tensor *wt = dc_tensor_from_data(1, (int64_t[]){5}, w->data);
    dc_tensor_set_requires_grad(x, true);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *l = kind == 0   ? dc_weighted_sparse_softmax_cross_entropy(t, x, y, wt)
                   : kind == 1 ? dc_dice_loss(t, x, y, false, 1.0f)
                               : dc_dice_loss(t, x, y, true, 1.0f);
    CHECK(l != NULL);
    if (l) {
        CHECK_NEAR(l->data[0], want->data[0], 1e-5);
        CHECK_OK(dc_tape_backward(t, l));
        CHECK_ALLCLOSE(x->grad, want_g->data, 120, 1e-6, 1e-4);
    }
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(wt);
}

TEST(segment_losses_match_pytorch) {
    ref_file *r = ref_load("ref/data/segment.txt");
    if (!r) return;
    check_loss(r, "logits", "wce_loss", "wce_grad", 0);
    check_loss(r, "logits", "dice_loss", "dice_grad", 1);
    check_loss(r, "probs", "dice_probs_loss", "dice_probs_grad", 2);
    ref_free(r);
}

TEST(segment_loss_bad_input) {
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(3, 4)), *y = dc_tensor_zeros(DC_DIMS(3));
    dc_tensor *w3 = dc_tensor_zeros(DC_DIMS(3)), *w4 = dc_tensor_zeros(DC_DIMS(4));
    y->data[1] = 4; /* out of range for 4 classes */
    CHECK(dc_dice_loss(t, x, y, false, 1.0f) == NULL);
    CHECK_MSG("label 4 at row 1 is not a class index in [0, 4)");
    dc_tape_reset(t);
    CHECK(dc_weighted_sparse_softmax_cross_entropy(t, x, y, w3) == NULL);
    CHECK_MSG("weights (3) must be (4)");
    y->data[1] = 2;
    w4->data[2] = -1;
    dc_tape_free(t);
    t = dc_tape_new(NULL);
    CHECK(dc_weighted_sparse_softmax_cross_entropy(t, x, y, w4) == NULL);
    CHECK_MSG("weight -1 of class 2 must be finite and >= 0");
    dc_tape_free(t);
    t = dc_tape_new(NULL);
    CHECK(dc_dice_loss(t, x, y, false, 0.0f) == NULL);
    CHECK_MSG("smoothing 0 must be > 0");
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_tensor_free(w3);
    dc_tensor_free(w4);
}

/* ---- metrics in evaluate against Keras (tests/ref/ref_segment_keras.py) ---- */

/* A model whose output is its input: evaluate then scores the given logits. */
static dc_model *identity_model(const dc_compile_options *co) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_activation("linear"));
    CHECK_OK(dc_model_build(m, 3, (int64_t[]){2, 3, 5}, 1));
    CHECK_OK(dc_model_compile(m, co));
    return m;
}

TEST(segment_metrics_match_keras) {
    ref_file *r = ref_load("ref/data/segment_keras.txt");
    if (!r) return;
    const dc_tensor *s = ref_get(r, "scores"), *lab = ref_get(r, "labels");
    const dc_tensor *iou = ref_get(r, "mean_io_u"), *acc = ref_get(r, "accuracy");
    if (!s || !lab || !iou || !acc) return;
    dc_dataset *ds = dc_dataset_from_arrays(s->data, 3, (int64_t[]){2, 3, 5}, lab->data, 2,
                                            (int64_t[]){2, 3}, 3, true);
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                             .metrics = {DC_METRIC_ACCURACY, DC_METRIC_MEAN_IOU}};
    dc_model *m = identity_model(&co);
    float loss, met[2];
    CHECK_OK(dc_model_evaluate(m, ds, 2, &loss, met));
    CHECK_NEAR(met[0], acc->data[0], 1e-6);
    CHECK_NEAR(met[1], iou->data[0], 1e-6);
    CHECK(!strcmp(dc_metric_name(DC_METRIC_MEAN_IOU), "mean_io_u"));
    CHECK(dc_metric_from_name("mean_iou") == DC_METRIC_MEAN_IOU);
    dc_model_free(m);
    /* the Dice loss through evaluate is dc_dice_loss over every pixel of the set */
    co.loss = DC_LOSS_DICE;
    m = identity_model(&co);
    CHECK_OK(dc_model_evaluate(m, ds, 3, &loss, met));
    dc_tensor *x = dc_tensor_from_data(2, (int64_t[]){18, 5}, s->data);
    dc_tensor *y = dc_tensor_from_data(1, (int64_t[]){18}, lab->data);
    dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
    dc_tensor *l = dc_dice_loss(t, x, y, false, 1.0f);
    CHECK(l && fabsf(l->data[0] - loss) < 1e-6f);
    CHECK_NEAR(met[1], iou->data[0], 1e-6);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(y);
    dc_model_free(m);
    dc_dataset_free(ds);
    ref_free(r);
}

TEST(segment_class_weights_bad_input) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_activation("linear"));
    dc_compile_options co = {.loss = DC_LOSS_MSE, .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                             .n_class_weights = 2, .class_weights = {1, 2}};
    CHECK_ERR(dc_model_compile(m, &co), DC_ERR_ARG, "class weights need loss sparse_categorical_crossentropy");
    co.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    co.class_weights[1] = NAN;
    CHECK_ERR(dc_model_compile(m, &co), DC_ERR_ARG, "class weight 1 is nan");
    co.class_weights[1] = 2;
    CHECK_OK(dc_model_compile(m, &co));
    float x[30] = {0}, y[6] = {0};
    dc_dataset *ds = dc_dataset_from_arrays(x, 3, (int64_t[]){2, 3, 5}, y, 2, (int64_t[]){2, 3}, 1, true);
    CHECK_ERR(dc_model_fit(m, ds, NULL, NULL), DC_ERR_SHAPE, "2 class weights for outputs (None, 2, 3, 5) with 5 classes");
    dc_dataset_free(ds);
    dc_model_free(m);
}

/* Class weights through evaluate: from logits (the op) and from probabilities
 * (composed of ops) both give PyTorch's CrossEntropyLoss(weight=w). */
TEST(segment_class_weighted_loss_in_evaluate) {
    ref_file *r = ref_load("ref/data/segment.txt");
    if (!r) return;
    const dc_tensor *lg = ref_get(r, "logits"), *pr = ref_get(r, "probs"), *lab = ref_get(r, "labels");
    const dc_tensor *w = ref_get(r, "weights"), *want = ref_get(r, "wce_loss");
    if (!lg || !pr || !lab || !w || !want) return;
    for (int k = 0; k < 2; k++) {
        dc_dataset *ds = dc_dataset_from_arrays(k ? pr->data : lg->data, 3, (int64_t[]){3, 4, 5},
                                                lab->data, 2, (int64_t[]){3, 4}, 2, true);
        dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                 .from_probabilities = k == 1,
                                 .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                                 .n_class_weights = 5};
        memcpy(co.class_weights, w->data, 5 * sizeof(float));
        dc_model *m = dc_sequential_new(NULL);
        dc_model_add(m, dc_layer_activation("linear"));
        CHECK_OK(dc_model_build(m, 3, (int64_t[]){3, 4, 5}, 1));
        CHECK_OK(dc_model_compile(m, &co));
        float loss = NAN;
        CHECK_OK(dc_model_evaluate(m, ds, 2, &loss, NULL));
        CHECK_NEAR(loss, want->data[0], 1e-5);
        dc_model_free(m);
        dc_dataset_free(ds);
    }
    ref_free(r);
}
