/* test_train.c — compile, fit, evaluate, predict, callbacks, history and model
 * files: learning a separable problem, early stopping with restored weights,
 * the validation tail, exact CSV header, errors, and zero allocations per step. */
#include "test.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* n points in 2-D around three centres (3 classes), shuffled by a fixed rule. */
static dc_dataset *blobs(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * 2 * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    const float cx[3] = {-2.0f, 2.0f, 0.0f}, cy[3] = {0.0f, 0.0f, 2.5f};
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)dc_rng_below(&r, 3);
        x[2 * i] = cx[c] + 0.5f * (float)dc_rng_normal(&r);
        x[2 * i + 1] = cy[c] + 0.5f * (float)dc_rng_normal(&r);
        y[i] = (float)c;
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, n, true);
    free(x);
    free(y);
    return ds;
}

static dc_model *classifier(const char *last_act) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 16, .activation = "relu"}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = last_act}));
    return m;
}

static const dc_compile_options adam_scce = {
    .loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
    .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f},
    .metrics = {DC_METRIC_ACCURACY}};

TEST(fit_learns_a_separable_problem) {
    dc_dataset *ds = blobs(600, 1);
    const char *acts[2] = {NULL, "softmax"}; /* logits, and a softmax fused into the loss */
    for (int k = 0; k < 2; k++) {
        dc_model *m = classifier(acts[k]);
        CHECK_OK(dc_model_compile(m, &adam_scce));
        dc_history *h = NULL;
        CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 8, .validation_split = 0.2f, .seed = 3}, &h));
        CHECK(dc_history_epochs(h) == 8);
        const float *acc = dc_history_get(h, "accuracy"), *vacc = dc_history_get(h, "val_accuracy");
        const float *loss = dc_history_get(h, "loss");
        CHECK(acc && vacc && loss);
        if (acc && vacc && loss) {
            CHECK(acc[7] > 0.95f && vacc[7] > 0.95f);
            CHECK(loss[7] < loss[0]);
        }
        float l, a;
        CHECK_OK(dc_model_evaluate(m, ds, 64, &l, &a));
        CHECK(a > 0.95f && l < 0.3f);
        dc_history_free(h);
        dc_model_free(m);
    }
    dc_dataset_free(ds);
}

TEST(regression_with_mse_and_mae) {
    /* y = 3 x0 - 2 x1 + 1 */
    enum { N = 256 };
    float x[N * 2], y[N];
    dc_rng r;
    dc_rng_seed(&r, 9);
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)dc_rng_uniform(&r) * 2 - 1;
        x[2 * i + 1] = (float)dc_rng_uniform(&r) * 2 - 1;
        y[i] = 3 * x[2 * i] - 2 * x[2 * i + 1] + 1;
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, DC_DIMS(1), N, false);
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 1}));
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_MSE,
                                                       .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                                                       .metrics = {DC_METRIC_MAE}}));
    dc_history *h;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 30, .batch_size = 16}, &h));
    const float *mae = dc_history_get(h, "mae");
    CHECK(mae && mae[29] < 0.02f);
    CHECK_NEAR(dc_model_find_param(m, "dense/kernel")->data[0], 3.0, 0.02);
    CHECK_NEAR(dc_model_find_param(m, "dense/bias")->data[0], 1.0, 0.02);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

/* A user callback that records what it sees. */
typedef struct {
    int epochs, batches, stop_at_epoch, warm_batches;
    uint64_t alloc_after_first, alloc_last;
    float lr[16];
} probe;

static bool probe_epoch(dc_model *m, const dc_logs *logs, void *user) {
    (void)m;
    probe *p = user;
    p->lr[p->epochs % 16] = dc_logs_get(logs, "lr");
    p->epochs++;
    return p->stop_at_epoch && logs->epoch + 1 >= p->stop_at_epoch;
}

static bool probe_batch(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)m, (void)epoch, (void)batch, (void)loss;
    probe *p = user;
    if (p->batches++ == p->warm_batches) p->alloc_after_first = dc_alloc_count();
    p->alloc_last = dc_alloc_count();
    return false;
}

TEST(training_steps_allocate_nothing_after_the_first) {
    dc_dataset *ds = blobs(320, 2);
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 32, .activation = "relu"}));
    dc_model_add(m, dc_layer_dropout(0.25f));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax"}));
    CHECK_OK(dc_model_compile(m, &adam_scce));
    probe p = {0};
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = probe_batch, .user = &p};
    /* 3 epochs of 10 steps (the last batch of each smaller: 320 = 9*33 + 23) */
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .batch_size = 33, .callbacks = &cb, .n_callbacks = 1}, NULL));
    CHECK(p.batches == 30);
    if (p.alloc_last != p.alloc_after_first)
        test_fail(__FILE__, __LINE__, "steps 2..30 made %llu allocations",
                  (unsigned long long)(p.alloc_last - p.alloc_after_first));
    /* the same with what runs between steps: validation at each epoch's end,
     * the progress bar, early stopping keeping the best weights, plateau. The
     * first validation pass sizes the inference tape's arena once, so the
     * count starts at the first step of epoch 2 (8 steps an epoch). */
    probe q = {.warm_batches = 8};
    dc_callback cbs[3] = {
        {.kind = DC_CB_LAMBDA, .on_batch_end = probe_batch, .user = &q},
        {.kind = DC_CB_EARLY_STOPPING, .monitor = "val_loss", .patience = 100, .restore_best_weights = true},
        {.kind = DC_CB_REDUCE_LR_ON_PLATEAU, .monitor = "val_loss"}};
    FILE *sink = tmpfile();
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 5, .batch_size = 33, .validation_split = 0.25f, .callbacks = cbs, .n_callbacks = 3, .verbose = 1, .progress = sink}, NULL));
    if (sink) fclose(sink);
    CHECK(q.batches == 40); /* 240 training samples: 8 batches an epoch */
    if (q.alloc_last != q.alloc_after_first)
        test_fail(__FILE__, __LINE__, "epochs 2..5 with validation made %llu allocations",
                  (unsigned long long)(q.alloc_last - q.alloc_after_first));
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(early_stopping_stops_and_restores_the_best_weights) {
    dc_dataset *ds = blobs(300, 4);
    dc_model *m = classifier(NULL);
    /* a rate so large that training diverges after the first epochs */
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.05f}}));
    /* val_loss improves for a while; patience 2 with a huge min_delta stops it
     * two epochs after the first: the best is epoch 1 */
    dc_callback cbs[2] = {{.kind = DC_CB_EARLY_STOPPING, .patience = 2, .min_delta = 100.0f,
                           .restore_best_weights = true, .has_baseline = true, .baseline = 1e9f},
                          {.kind = DC_CB_LAMBDA, .on_epoch_end = probe_epoch}};
    probe p = {0};
    cbs[1].user = &p;
    dc_history *h;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 20, .validation_split = 0.25f, .callbacks = cbs, .n_callbacks = 2}, &h));
    CHECK(dc_history_epochs(h) == 3 && p.epochs == 3);
    /* the weights are those after epoch 1: evaluating the tail gives its val_loss */
    dc_dataset *tail = dc_dataset_view(ds, 225, 75);
    float l;
    CHECK_OK(dc_model_evaluate(m, tail, 32, &l, NULL));
    const float *vl = dc_history_get(h, "val_loss");
    CHECK(vl != NULL);
    if (vl) {
        CHECK_NEAR(l, vl[0], 1e-6);
        CHECK(fabsf(vl[2] - vl[0]) > 1e-4f); /* the last epoch's weights differ */
    }
    dc_history_free(h);
    dc_dataset_free(tail);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(validation_split_takes_the_tail) {
    /* the head is class 0 only, the tail class 1 only: a model that barely
     * trains scores the tail far worse than the head */
    enum { N = 100 };
    float x[N * 2], y[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)(i % 7) * 0.1f;
        x[2 * i + 1] = 0.5f;
        y[i] = i < 80 ? 0.0f : 1.0f;
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, N, false);
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.5f},
                                                       .metrics = {DC_METRIC_ACCURACY}}));
    dc_history *h;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .validation_split = 0.2f}, &h));
    const float *acc = dc_history_get(h, "accuracy"), *vacc = dc_history_get(h, "val_accuracy");
    CHECK(acc && vacc && acc[2] == 1.0f && vacc[2] == 0.0f);
    dc_dataset *tail = dc_dataset_view(ds, 80, 20);
    float l, a;
    CHECK_OK(dc_model_evaluate(m, tail, 7, &l, &a));
    CHECK_NEAR(l, dc_history_get(h, "val_loss")[2], 1e-5);
    dc_dataset_free(tail);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

TEST(history_csv_callbacks_and_lr_reduction) {
    dc_dataset *ds = blobs(200, 5);
    dc_model *m = classifier(NULL);
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                                                       .metrics = {DC_METRIC_ACCURACY, DC_METRIC_MAE}}));
    char csv[512], log[512];
    snprintf(csv, sizeof csv, "%s/history.csv", test_tmpdir());
    snprintf(log, sizeof log, "%s/log.csv", test_tmpdir());
    probe p = {0};
    /* min_delta 10: never an improvement, so with patience 1 the rate drops
     * after every epoch but cooldown ones */
    dc_callback cbs[3] = {
        {.kind = DC_CB_REDUCE_LR_ON_PLATEAU, .monitor = "loss", .patience = 1, .min_delta = 10.0f, .factor = 0.5f, .cooldown = 2},
        {.kind = DC_CB_CSV_LOGGER, .path = log},
        {.kind = DC_CB_LAMBDA, .on_epoch_end = probe_epoch, .user = &p}};
    p.stop_at_epoch = 5;
    dc_history *h;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 9, .validation_data = ds, .callbacks = cbs, .n_callbacks = 3}, &h));
    CHECK(dc_history_epochs(h) == 5 && p.epochs == 5); /* the user callback stopped it */
    const float *lr = dc_history_get(h, "lr");
    CHECK(lr != NULL);
    if (lr) {
        /* the rate each epoch ran with: epoch 1 sets the best; after 2: wait 1 ->
         * halve, cooldown 2; after 3: in cooldown; after 4: cooldown over, halve
         * (Keras counts the cooldown down before testing it) */
        float want[5] = {0.1f, 0.1f, 0.05f, 0.05f, 0.025f};
        for (int i = 0; i < 5; i++) CHECK_NEAR(lr[i], want[i], 1e-7);
    }
    CHECK_OK(dc_history_write_csv(h, csv));
    char *a = slurp(csv), *b = slurp(log);
    CHECK(a && b);
    if (a && b) {
        const char *head = "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds,mae,val_mae\n1,";
        CHECK(!strncmp(a, head, strlen(head)));
        CHECK(strlen(a) > 100);
        /* the logger wrote the same rows (seconds may differ by rounding: compare the start) */
        CHECK(!strncmp(a, b, 80));
    }
    free(a);
    free(b);
    char png[512];
    snprintf(png, sizeof png, "%s/curves.png", test_tmpdir());
    CHECK_OK(dc_history_plot(h, png));
    FILE *pf = fopen(png, "rb");
    unsigned char sig[8] = {0};
    CHECK(pf && fread(sig, 1, 8, pf) == 8 && sig[1] == 'P' && sig[2] == 'N' && sig[3] == 'G');
    if (pf) fclose(pf);
    CHECK(dc_history_num_keys(h) == 8);
    CHECK(!strcmp(dc_history_key(h, 6), "mae"));
    CHECK(dc_history_get(h, "nope") == NULL);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(terminate_on_nan_stops_at_once) {
    float x[40 * 2], y[40];
    for (int i = 0; i < 40; i++) x[2 * i] = x[2 * i + 1] = (float)i, y[i] = (float)(i % 3);
    x[0] = NAN; /* refused at load, with the sample's index */
    CHECK(dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, 40, false) == NULL);
    CHECK_MSG("sample 0");
    x[0] = 3e38f; /* finite, but the logits overflow */
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, 40, false);
    dc_model *m = dc_sequential_new(NULL); /* linear, so the overflow reaches the loss */
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    CHECK_OK(dc_model_compile(m, &adam_scce));
    probe p = {0};
    dc_callback cbs[2] = {{.kind = DC_CB_TERMINATE_ON_NAN},
                          {.kind = DC_CB_LAMBDA, .on_batch_end = probe_batch, .user = &p}};
    dc_history *h = NULL;
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 5, .batch_size = 40, .no_shuffle = true, .callbacks = cbs, .n_callbacks = 2}, &h),
              DC_ERR_NUMERIC, ", batch 1: ");
    CHECK(p.batches < 5 && h == NULL); /* stopped before the last epoch's step */
    float *w = NULL;
    size_t nw = 0;
    CHECK_OK(dc_model_all_weights(m, &w, &nw));
    for (size_t i = 0; i < nw; i++) CHECK(isfinite(w[i]));
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(fit_errors_are_clear) {
    dc_dataset *ds = blobs(50, 6);
    dc_model *m = classifier(NULL);
    CHECK_ERR(dc_model_fit(m, ds, NULL, NULL), DC_ERR_STATE,
              "dc_model_fit: model 'sequential' is not compiled (call dc_model_compile first)");
    CHECK_ERR(dc_model_compile(m, &(dc_compile_options){.loss = 99}), DC_ERR_ARG, "unknown loss 99");
    CHECK_ERR(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_MSE, .optimizer = {.kind = 77}}),
              DC_ERR_ARG, "dc_model_compile: ");
    CHECK_OK(dc_model_compile(m, &adam_scce));
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.validation_split = 1.5f}, NULL), DC_ERR_ARG,
              "validation_split 1.5 must be in [0, 1)");
    dc_callback es = {.kind = DC_CB_EARLY_STOPPING};
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.callbacks = &es, .n_callbacks = 1}, NULL), DC_ERR_ARG,
              "EarlyStopping monitors 'val_loss', which fit does not log without validation data (it logs: loss, accuracy)");
    dc_callback pl = {.kind = DC_CB_REDUCE_LR_ON_PLATEAU, .monitor = "loss", .cooldown = -1};
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.callbacks = &pl, .n_callbacks = 1}, NULL), DC_ERR_ARG,
              "dc_model_fit: ReduceLROnPlateau cooldown -1, min_lr 0 and min_delta 0.0001 must not be negative");
    char longpath[1100];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    dc_callback ck = {.kind = DC_CB_MODEL_CHECKPOINT, .monitor = "loss", .path = longpath};
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.callbacks = &ck, .n_callbacks = 1}, NULL), DC_ERR_ARG,
              "dc_model_fit: ModelCheckpoint path of 1099 bytes is longer than 1008");
    float xe[2] = {0}, ye[1] = {0};
    dc_dataset *empty = dc_dataset_from_arrays(xe, DC_DIMS(2), ye, 0, NULL, 0, false);
    CHECK_ERR(dc_model_fit(m, empty, NULL, NULL), DC_ERR_ARG,
              "dc_model_fit: the training dataset has no samples");
    dc_dataset_free(empty);
    CHECK_OK(dc_model_fit(m, ds, NULL, NULL)); /* the failed fits above already built it for (2,) */
    /* input shape mismatch */
    float x3[30] = {0}, y3[10] = {0};
    dc_dataset *bad = dc_dataset_from_arrays(x3, DC_DIMS(3), y3, 0, NULL, 10, false);
    CHECK_ERR(dc_model_fit(m, bad, NULL, NULL), DC_ERR_SHAPE,
              "dc_model_fit: training samples (None, 3) do not match the model's input (None, 2)");
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.validation_data = bad}, NULL), DC_ERR_SHAPE,
              "validation samples (None, 3)");
    /* labels that do not fit the loss */
    float x2[20] = {0}, y2[30] = {0};
    dc_dataset *onehot = dc_dataset_from_arrays(x2, DC_DIMS(2), y2, DC_DIMS(3), 10, false);
    CHECK_ERR(dc_model_fit(m, onehot, NULL, NULL), DC_ERR_SHAPE,
              "sparse_categorical_crossentropy needs outputs (None, ..., classes) and one integer label per row of classes; the model gives (None, 3), the labels are (None, 3)");
    /* a label out of range fails in the step with the op's message */
    float yb[10] = {0, 1, 7};
    dc_dataset *badlab = dc_dataset_from_arrays(x2, DC_DIMS(2), yb, 0, NULL, 10, false);
    CHECK_ERR(dc_model_fit(m, badlab, NULL, NULL), DC_ERR_ARG, "dc_model_fit: epoch 1, batch 1: ");
    CHECK(dc_model_predict(m, (dc_tensor *)NULL, 0) == NULL);
    dc_tensor *xt = dc_tensor_zeros(DC_DIMS(4, 3));
    CHECK(dc_model_predict(m, xt, 0) == NULL);
    CHECK_MSG("dc_model_predict: x (4,3) does not match the model's input (None, 2)");
    dc_tensor_free(xt);
    dc_dataset_free(badlab);
    dc_dataset_free(onehot);
    dc_dataset_free(bad);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(model_file_round_trip_and_checkpoint) {
    dc_dataset *ds = blobs(120, 7);
    dc_model *m = dc_sequential_new("blobnet");
    dc_model_add(m, dc_layer_input(DC_DIMS(2)));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 8, .activation = "tanh", .kernel_initializer = "he_normal"}));
    dc_model_add(m, dc_layer_dropout(0.1f));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax", .name = "out"}));
    CHECK_OK(dc_model_compile(m, &adam_scce));
    char path[512], ck[512], best[512];
    snprintf(path, sizeof path, "%s/model.safetensors", test_tmpdir());
    snprintf(ck, sizeof ck, "%s/ck.safetensors", test_tmpdir());
    snprintf(best, sizeof best, "%s/best_{epoch}.safetensors", test_tmpdir());
    dc_callback cb = {.kind = DC_CB_MODEL_CHECKPOINT, .path = best, .monitor = "loss", .save_best_only = true};
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 2, .callbacks = &cb, .n_callbacks = 1}, NULL));
    snprintf(best, sizeof best, "%s/best_2.safetensors", test_tmpdir());
    dc_model *b2 = dc_model_load(best);
    CHECK(b2 != NULL);
    dc_model_free(b2);
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    CHECK(l != NULL);
    if (l) {
        CHECK(!strcmp(dc_model_name(l), "blobnet") && dc_model_num_layers(l) == 4);
        CHECK(!strcmp(dc_layer_name(dc_model_layer(l, 3)), "out"));
        float *wa, *wb;
        size_t na, nb;
        dc_model_all_weights(m, &wa, &na);
        dc_model_all_weights(l, &wb, &nb);
        CHECK(na == nb && memcmp(wa, wb, na * sizeof(float)) == 0);
        float la, aa, lb, ab;
        CHECK_OK(dc_model_evaluate(m, ds, 32, &la, &aa));
        CHECK_OK(dc_model_evaluate(l, ds, 32, &lb, &ab)); /* compiled from the file */
        CHECK(la == lb && aa == ab);
    }
    /* a checkpoint carries the optimizer state and the epoch */
    CHECK_OK(dc_model_save_checkpoint(m, ck, 2));
    int epoch = 0;
    CHECK_OK(dc_model_load_checkpoint(l, ck, &epoch));
    CHECK(epoch == 2);
    CHECK(dc_optimizer_iterations(dc_model_optimizer(l)) == dc_optimizer_iterations(dc_model_optimizer(m)));
    /* a file that is refused changes nothing: the weights stay as they were */
    float *wl;
    size_t nl;
    dc_model_all_weights(l, &wl, &nl);
    float *keep = malloc(nl * sizeof *keep);
    for (size_t i = 0; i < nl; i++) wl[i] += 1.0f;
    memcpy(keep, wl, nl * sizeof *keep);
    CHECK_ERR(dc_model_load_checkpoint(l, path, NULL), DC_ERR_FORMAT, "not a checkpoint");
    CHECK(memcmp(keep, wl, nl * sizeof *keep) == 0);
    free(keep);
    /* a file whose shapes differ from the architecture */
    dc_model *other = dc_sequential_new(NULL);
    dc_model_add(other, dc_layer_dense(&(dc_dense_options){.units = 9}));
    dc_model_build(other, DC_DIMS(2), 1);
    dc_tensor *k = dc_model_param(other, 0);
    dc_tensor_set_name(k, "dense/kernel");
    CHECK(dc_model_load("/nonexistent/x.safetensors") == NULL);
    CHECK_MSG("dc_model_load: ");
    dc_model_free(other);
    dc_model_free(l);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(tape_loop_with_model_call_and_optimizer) {
    /* the GradientTape loop by hand: model(x) -> loss -> backward -> step */
    dc_dataset *ds = blobs(128, 8);
    dc_model *m = classifier(NULL);
    CHECK_OK(dc_model_build(m, DC_DIMS(2), 11));
    float *w, *g;
    size_t n;
    dc_model_weights(m, &w, &n);
    dc_model_grads(m, &g, &n);
    dc_optimizer *opt = dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_ADAM, .learning_rate = 0.02f}, n);
    dc_batcher *b = dc_batcher_new(ds, 32, true, 1);
    dc_tape *t = dc_tape_new(NULL);
    float first = 0, last = 0;
    for (int epoch = 0; epoch < 10; epoch++) {
        dc_batcher_reset(b);
        dc_tensor *x, *y;
        while (dc_batcher_next(b, &x, &y) > 0) {
            dc_tape_reset(t);
            dc_tensor *loss = dc_sparse_softmax_cross_entropy(t, dc_model_call(m, t, x, true), y);
            dc_model_zero_grad(m);
            CHECK_OK(dc_tape_backward(t, loss));
            CHECK_OK(dc_optimizer_step(opt, w, g, n));
            if (epoch == 0 && first == 0) first = loss->data[0];
            last = loss->data[0];
        }
    }
    CHECK(last < 0.5f * first);
    dc_tape_free(t);
    dc_batcher_free(b);
    dc_optimizer_free(opt);
    dc_model_free(m);
    dc_dataset_free(ds);
}

/* Evaluates a model made of the given layers (built with seed 5) on ds. */
static float eval_loss(dc_layer *a, dc_layer *b, const dc_compile_options *c, const dc_dataset *ds,
                       float *acc) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, a);
    if (b) dc_model_add(m, b);
    CHECK_OK(dc_model_build(m, DC_DIMS(2), 5));
    CHECK_OK(dc_model_compile(m, c));
    float l = NAN;
    CHECK_OK(dc_model_evaluate(m, ds, 16, &l, acc));
    dc_model_free(m);
    return l;
}

TEST(losses_read_logits_fused_activations_and_probabilities_alike) {
    dc_dataset *ds = blobs(64, 3);
    float xs[64 * 2], ys[64], onehot[64 * 3] = {0}, bin[64];
    for (int i = 0; i < 64; i++) {
        dc_dataset_get(ds, i, xs + 2 * i, ys + i);
        onehot[i * 3 + (int)ys[i]] = 1.0f;
        bin[i] = ys[i] == 1.0f;
    }
    dc_dataset *oh = dc_dataset_from_arrays(xs, DC_DIMS(2), onehot, DC_DIMS(3), 64, false);
    dc_dataset *bd = dc_dataset_from_arrays(xs, DC_DIMS(2), bin, DC_DIMS(1), 64, false);
    dc_compile_options sparse = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                 .optimizer = {.kind = DC_OPT_SGD}, .metrics = {DC_METRIC_ACCURACY}};
    dc_compile_options cat = sparse, cat_p = sparse;
    cat.loss = cat_p.loss = DC_LOSS_CATEGORICAL_CROSSENTROPY;
    cat_p.from_probabilities = true;
    float a1, a2, a3, a4;
    float logits = eval_loss(dc_layer_dense(&(dc_dense_options){.units = 3}), NULL, &sparse, ds, &a1);
    float fused = eval_loss(dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax"}),
                            NULL, &sparse, ds, &a2);
    float onehot_l = eval_loss(dc_layer_dense(&(dc_dense_options){.units = 3}), NULL, &cat, oh, &a3);
    /* a softmax followed by dropout is not fused: the loss reads probabilities */
    float probs = eval_loss(dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax"}),
                            dc_layer_dropout(0.5f), &cat_p, oh, &a4);
    CHECK(logits > 0.1f);
    CHECK_NEAR(fused, logits, 1e-6);
    CHECK_NEAR(onehot_l, logits, 1e-6);
    CHECK_NEAR(probs, logits, 1e-5);
    CHECK(a1 == a2 && a1 == a3 && a1 == a4);
    /* binary: a sigmoid output, fused or read as a probability */
    dc_compile_options bce = {.loss = DC_LOSS_BINARY_CROSSENTROPY, .optimizer = {.kind = DC_OPT_SGD},
                              .metrics = {DC_METRIC_ACCURACY}}, bce_p = bce;
    bce_p.from_probabilities = true;
    float b1 = eval_loss(dc_layer_dense(&(dc_dense_options){.units = 1}), NULL, &bce, bd, &a1);
    float b2 = eval_loss(dc_layer_dense(&(dc_dense_options){.units = 1, .activation = "sigmoid"}),
                         NULL, &bce, bd, &a2);
    float b3 = eval_loss(dc_layer_dense(&(dc_dense_options){.units = 1, .activation = "sigmoid"}),
                         dc_layer_dropout(0.5f), &bce_p, bd, &a3);
    CHECK(b1 > 0.1f);
    CHECK_NEAR(b2, b1, 1e-6);
    CHECK_NEAR(b3, b1, 1e-5);
    CHECK(a1 == a2 && a1 == a3 && a1 > 0.5f);
    dc_dataset_free(bd);
    dc_dataset_free(oh);
    dc_dataset_free(ds);
}

TEST(loss_and_metric_names) {
    CHECK(dc_loss_from_name("sparse_categorical_crossentropy") == DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY);
    CHECK(dc_loss_from_name("mean_squared_error") == DC_LOSS_MSE);
    CHECK(dc_loss_from_name("hinge") == DC_LOSS_NONE);
    CHECK_MSG("dc_loss_from_name: unknown loss 'hinge'");
    CHECK(dc_metric_from_name("acc") == DC_METRIC_ACCURACY);
    CHECK(dc_metric_from_name("mae") == DC_METRIC_MAE);
    CHECK(dc_metric_from_name("auc") == DC_METRIC_NONE);
    CHECK_MSG("unknown metric 'auc'");
    CHECK(!strcmp(dc_loss_name(DC_LOSS_BINARY_CROSSENTROPY), "binary_crossentropy"));
    CHECK(!strcmp(dc_metric_name(DC_METRIC_BINARY_ACCURACY), "binary_accuracy"));
}

/* Writes a safetensors file with one tensor and the given architecture. */
static void write_model_file(const char *path, const char *arch, int64_t rows) {
    dc_tensor *k = dc_tensor_zeros(DC_DIMS(rows, 3));
    dc_tensor_set_name(k, "dense/kernel");
    const char *keys[1] = {"deepc_architecture"}, *vals[1] = {arch};
    CHECK_OK(dc_safetensors_save(path, &k, 1, keys, vals, arch ? 1 : 0));
    dc_tensor_free(k);
}

TEST(model_load_rejects_bad_files_with_messages) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", test_tmpdir());
    const char *good = "{\"class_name\":\"Sequential\",\"name\":\"s\",\"input_shape\":[2],"
                       "\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":"
                       "{\"units\":\"3\",\"use_bias\":\"false\"}}]}";
    write_model_file(path, good, 2);
    dc_model *m = dc_model_load(path);
    CHECK(m && dc_model_count_params(m) == 6);
    dc_model_free(m);
    struct {
        const char *arch;
        int64_t rows;
        dc_status st;
        const char *msg;
    } cases[] = {
        {NULL, 2, DC_ERR_FORMAT, "has no 'deepc_architecture' metadata"},
        {"{not json", 2, DC_ERR_FORMAT, "is not a deepc architecture"},
        {"{\"name\":\"s\",\"input_shape\":[2],\"layers\":[{\"class_name\":\"Dense2\",\"name\":\"d\",\"config\":{}}]}",
         2, DC_ERR_ARG, "unknown layer type 'Dense2'"},
        {"{\"name\":\"s\",\"input_shape\":[2],\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":{\"units\":3}}]}",
         2, DC_ERR_FORMAT, "option 'units' is not a string"},
        {"{\"name\":\"s\",\"input_shape\":[2],\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":{\"units\":\"-3\"}}]}",
         2, DC_ERR_ARG, "Dense: option 'units': '-3' is not an integer"},
        {"{\"name\":\"s\",\"input_shape\":[-2],\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":{\"units\":\"3\"}}]}",
         2, DC_ERR_SHAPE, "has a dim <= 0"},
        {"{\"name\":\"s\",\"input_shape\":[1e300],\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":{\"units\":\"3\"}}]}",
         2, DC_ERR_SHAPE, "has a dim <= 0"},
        {good, 5, DC_ERR_SHAPE, "tensor 'dense/kernel' is (5,3) in the file, (2,3) in the model"},
        {"{\"name\":\"s\",\"input_shape\":[2],\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":{\"units\":\"3\"}}]}",
         2, DC_ERR_FORMAT, "has no tensor 'dense/bias'"},
        /* a header that would make the build allocate far more than the file holds */
        {"{\"name\":\"s\",\"input_shape\":[2],\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":{\"units\":\"2000000000\"}}]}",
         2, DC_ERR_FORMAT, "layer 'dense': parameter 'kernel' needs 4000000000 weights; the file holds 6"},
        {"{\"name\":\"s\",\"input_shape\":[600000],\"layers\":[{\"class_name\":\"Dense\",\"name\":\"dense\",\"config\":{\"units\":\"3\"}}]}",
         2, DC_ERR_FORMAT, "parameter 'kernel' needs 1800000 weights; the file holds 6"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        write_model_file(path, cases[i].arch, cases[i].rows);
        dc_model *b = dc_model_load(path);
        CHECK(b == NULL);
        CHECK(dc_last_status() == cases[i].st);
        CHECK_MSG("dc_model_load: ");
        CHECK_MSG(cases[i].msg);
        dc_model_free(b);
    }
}

TEST(same_seed_same_training_and_resume_from_a_checkpoint) {
    dc_dataset *ds = blobs(200, 12);
    float *w[3];
    size_t n;
    dc_model *m[3];
    char ck[512];
    snprintf(ck, sizeof ck, "%s/resume_{epoch}.safetensors", test_tmpdir());
    for (int k = 0; k < 3; k++) {
        m[k] = dc_sequential_new(NULL);
        dc_model_add(m[k], dc_layer_dense(&(dc_dense_options){.units = 16, .activation = "relu"}));
        dc_model_add(m[k], dc_layer_dropout(0.3f));
        dc_model_add(m[k], dc_layer_dense(&(dc_dense_options){.units = 3}));
        CHECK_OK(dc_model_compile(m[k], &adam_scce));
        dc_callback cb = {.kind = DC_CB_MODEL_CHECKPOINT, .path = ck, .monitor = "loss", .save_optimizer = true};
        CHECK_OK(dc_model_fit(m[k], ds, &(dc_fit_options){.epochs = k == 2 ? 2 : 4, .seed = 77, .callbacks = &cb, .n_callbacks = k == 0}, NULL));
        dc_model_all_weights(m[k], &w[k], &n);
    }
    CHECK(memcmp(w[0], w[1], n * sizeof(float)) == 0); /* bit for bit */
    CHECK(memcmp(w[0], w[2], n * sizeof(float)) != 0);
    /* resume the 2-epoch model from the epoch-2 checkpoint of run 0: epochs 3..4
     * continue with Adam's state; the result is close to run 0 (the shuffle
     * order of a resumed run differs) */
    snprintf(ck, sizeof ck, "%s/resume_2.safetensors", test_tmpdir());
    int epoch = 0;
    CHECK_OK(dc_model_load_checkpoint(m[2], ck, &epoch));
    CHECK(epoch == 2);
    dc_history *h;
    CHECK_OK(dc_model_fit(m[2], ds, &(dc_fit_options){.epochs = 4, .initial_epoch = epoch, .seed = 78}, &h));
    CHECK(dc_history_epochs(h) == 2);
    CHECK(dc_optimizer_iterations(dc_model_optimizer(m[2])) == dc_optimizer_iterations(dc_model_optimizer(m[0])));
    char csv[512];
    snprintf(csv, sizeof csv, "%s/resume.csv", test_tmpdir());
    CHECK_OK(dc_history_write_csv(h, csv));
    FILE *f = fopen(csv, "r");
    char line[256] = "";
    CHECK(f && fgets(line, sizeof line, f) && fgets(line, sizeof line, f));
    CHECK(!strncmp(line, "3,", 2)); /* rows carry the real epoch numbers */
    if (f) fclose(f);
    CHECK_ERR(dc_model_fit(m[2], ds, &(dc_fit_options){.epochs = 4, .initial_epoch = 4}, NULL), DC_ERR_ARG,
              "initial_epoch 4 must be in [0, epochs 4)");
    dc_history_free(h);
    for (int k = 0; k < 3; k++) dc_model_free(m[k]);
    dc_dataset_free(ds);
}

TEST(per_step_labels_for_sequence_outputs) {
    /* outputs (None, 4, 3) (four steps of three classes), labels (None, 4):
     * the class of step j is the sign pattern of feature j */
    enum { N = 256 };
    static float x[N * 4], y[N * 4];
    dc_rng r;
    dc_rng_seed(&r, 21);
    for (int i = 0; i < N * 4; i++) {
        x[i] = (float)(dc_rng_uniform(&r) * 2 - 1);
        y[i] = x[i] < -0.33f ? 0.0f : x[i] < 0.33f ? 1.0f : 2.0f;
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(4), y, DC_DIMS(4), N, false);
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 32, .activation = "tanh"}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 12}));
    dc_model_add(m, dc_layer_reshape(DC_DIMS(4, 3)));
    CHECK_OK(dc_model_compile(m, &adam_scce));
    dc_history *h;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 40, .batch_size = 16, .seed = 2}, &h));
    const float *acc = dc_history_get(h, "accuracy");
    CHECK(acc && acc[39] > 0.9f && acc[0] < acc[39]);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(early_stopping_on_accuracy_maximizes) {
    /* an easy problem: val_accuracy reaches 1 and cannot improve, so patience 2
     * stops training long before 50 epochs */
    dc_dataset *ds = blobs(300, 13);
    dc_model *m = classifier(NULL);
    CHECK_OK(dc_model_compile(m, &adam_scce));
    dc_callback es = {.kind = DC_CB_EARLY_STOPPING, .monitor = "val_accuracy", .patience = 2};
    dc_history *h;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 50, .validation_split = 0.3f, .callbacks = &es, .n_callbacks = 1}, &h));
    int n = dc_history_epochs(h);
    const float *va = dc_history_get(h, "val_accuracy");
    CHECK(n < 50 && n >= 3);
    if (va && n >= 3) {
        /* the last two epochs did not beat the best before them */
        float best = 0;
        for (int i = 0; i < n - 2; i++) best = fmaxf(best, va[i]);
        CHECK(va[n - 1] <= best && va[n - 2] <= best);
    }
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

/* Every optimizer option a model file keeps comes back: a loaded model and
 * the original then take the same steps, and a default optimizer does not. */
static float train_and_sum(dc_model *m, dc_dataset *ds) {
    float *w;
    size_t n;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 1, .batch_size = 16, .no_shuffle = true}, NULL));
    dc_model_all_weights(m, &w, &n);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += w[i] * (double)(i % 7 + 1);
    return (float)s;
}

TEST(model_file_keeps_the_optimizer_options) {
    dc_dataset *ds = blobs(64, 3);
    char path[512];
    snprintf(path, sizeof path, "%s/opts.safetensors", test_tmpdir());
    const dc_compile_options opts[2] = {
        {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
         .optimizer = {.kind = DC_OPT_RMSPROP, .learning_rate = 0.02f, .momentum = 0.5f, .rho = 0.8f,
                       .centered = true, .epsilon = 1e-3f, .clipvalue = 0.05f, .weight_decay = 0.01f}},
        {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
         .optimizer = {.kind = DC_OPT_RMSPROP, .learning_rate = 0.02f}}};
    float sums[2];
    dc_model *l = NULL;
    for (int k = 0; k < 2; k++) {
        dc_model *m = dc_sequential_new(NULL);
        dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax"}));
        CHECK_OK(dc_model_build(m, DC_DIMS(2), 5));
        CHECK_OK(dc_model_compile(m, &opts[k]));
        if (k == 0) {
            CHECK_OK(dc_model_save(m, path));
            l = dc_model_load(path);
            CHECK(l != NULL);
        }
        sums[k] = train_and_sum(m, ds);
        dc_model_free(m);
    }
    if (l) CHECK(train_and_sum(l, ds) == sums[0]);
    CHECK(sums[0] != sums[1]);
    dc_model_free(l);
    dc_dataset_free(ds);
}

/* clipnorm in fit clips each variable's gradient on its own, as Keras does:
 * fit gives the weights of a tape loop that applies per variable, and not
 * those of one norm over all gradients (global_clipnorm). */
TEST(fit_clipnorm_clips_each_variable) {
    dc_dataset *ds = blobs(96, 4);
    const dc_optimizer_options per = {.kind = DC_OPT_SGD, .learning_rate = 0.1f, .clipnorm = 0.05f};
    const dc_optimizer_options all = {.kind = DC_OPT_SGD, .learning_rate = 0.1f, .global_clipnorm = 0.05f};
    float *w[3];
    size_t n[3];
    dc_model *m[3];
    for (int k = 0; k < 3; k++) {
        m[k] = classifier(NULL);
        CHECK_OK(dc_model_build(m[k], DC_DIMS(2), 11));
        dc_model_weights(m[k], &w[k], &n[k]);
    }
    for (int k = 0; k < 2; k++) {
        dc_compile_options c = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                .optimizer = k == 0 ? per : all};
        CHECK_OK(dc_model_compile(m[k], &c));
        CHECK_OK(dc_model_fit(m[k], ds, &(dc_fit_options){.epochs = 2, .batch_size = 32, .no_shuffle = true}, NULL));
    }
    /* the oracle: the tape loop, one clip per variable through dc_optimizer_apply */
    dc_tensor *vars[8];
    int nv = 0;
    for (int i = 0; i < dc_model_num_params(m[2]) && nv < 8; i++)
        if (dc_model_param_trainable(m[2], i)) vars[nv++] = dc_model_param(m[2], i);
    CHECK(nv == 4);
    dc_optimizer *opt = dc_optimizer_new(&per, n[2]);
    dc_batcher *b = dc_batcher_new(ds, 32, false, 0);
    dc_tape *t = dc_tape_new(NULL);
    for (int epoch = 0; epoch < 2; epoch++) {
        dc_batcher_reset(b);
        dc_tensor *x, *y;
        while (dc_batcher_next(b, &x, &y) > 0) {
            dc_tape_reset(t);
            dc_tensor *loss = dc_sparse_softmax_cross_entropy(t, dc_model_call(m[2], t, x, true), y);
            dc_model_zero_grad(m[2]);
            CHECK_OK(dc_tape_backward(t, loss));
            CHECK_OK(dc_optimizer_apply(opt, vars, nv));
        }
    }
    CHECK(n[0] == n[2] && memcmp(w[0], w[2], n[0] * sizeof(float)) == 0);
    CHECK(memcmp(w[0], w[1], n[0] * sizeof(float)) != 0);
    dc_tape_free(t);
    dc_batcher_free(b);
    dc_optimizer_free(opt);
    for (int k = 0; k < 3; k++) dc_model_free(m[k]);
    dc_dataset_free(ds);
}

/* Keras lets compile come before the model is built; the optimizer is then
 * made at the first fit, and a schedule given to compile (whose struct may
 * be gone by then) must still drive it. */
TEST(schedule_given_to_compile_before_build_drives_fit) {
    dc_dataset *ds = blobs(40, 3);
    dc_model *m = classifier(NULL); /* no input shape: built by fit */
    {
        dc_lr_schedule cos = {.kind = DC_LR_COSINE, .initial_learning_rate = 0.02f,
                              .decay_steps = 8};
        dc_compile_options c = adam_scce;
        c.optimizer.schedule = &cos;
        CHECK_OK(dc_model_compile(m, &c));
        memset(&cos, 0xff, sizeof cos); /* the caller's struct is gone */
    }
    CHECK(dc_model_optimizer(m) == NULL);
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 2, .batch_size = 10, .seed = 1}, &h));
    const float *lr = h ? dc_history_get(h, "lr") : NULL;
    CHECK(lr != NULL);
    if (lr) { /* 4 steps an epoch: epoch 2 starts half way down the cosine */
        CHECK_NEAR(lr[0], 0.02, 1e-7);
        CHECK_NEAR(lr[1], 0.01, 1e-7);
    }
    CHECK_NEAR(dc_optimizer_learning_rate(dc_model_optimizer(m)), 0.0, 1e-9);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

/* A model file whose architecture numbers were replaced by extreme values
 * (a fuzzing run found a header that made the build allocate 400 GB): every
 * load fails with a message or gives a model that predicts; none crashes or
 * allocates beyond the file's size (ASAN builds would abort on that). */
static dc_model *many_layer_model(void) {
    dc_model *m = dc_sequential_new("fz");
    dc_model_add(m, dc_layer_random_flip("horizontal", NULL));
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                        .filters = 3, .kernel_size = {3}, .padding = DC_PAD_SAME, .activation = "relu"}));
    dc_model_add(m, dc_layer_batch_normalization(NULL));
    dc_model_add(m, dc_layer_max_pooling2d(&(dc_pool2d_layer_options){.pool_size = {2}}));
    dc_model_add(m, dc_layer_up_sampling2d(NULL));
    dc_model_add(m, dc_layer_conv2d_transpose(&(dc_conv2d_layer_options){
                        .filters = 2, .kernel_size = {2}, .strides = {2}}));
    dc_model_add(m, dc_layer_average_pooling2d(&(dc_pool2d_layer_options){.pool_size = {2}}));
    dc_model_add(m, dc_layer_reshape(2, (const int64_t[]){-1, 2}));
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4}));
    dc_model_add(m, dc_layer_dropout(0.3f));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax"}));
    return m;
}

TEST(model_file_with_extreme_numbers_never_crashes) {
    static const char *const values[] = {"0", "-1", "2000000000", "1e308", "4294967297",
                                         "9223372036854775807", "0.5", "65536", "nan", "[]"};
    char path[512];
    snprintf(path, sizeof path, "%s/extreme.safetensors", test_tmpdir());
    dc_model *m = many_layer_model();
    CHECK_OK(dc_model_build(m, 3, (const int64_t[]){6, 6, 1}, 1));
    CHECK_OK(dc_model_save(m, path));
    dc_model_free(m);
    /* the header (JSON) and the data after it */
    FILE *f = fopen(path, "rb");
    unsigned char lb[8];
    CHECK(f && fread(lb, 1, 8, f) == 8);
    if (!f) return;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | lb[i];
    char *hdr = malloc(hlen + 1), *mut = malloc(hlen + 4096);
    CHECK(fread(hdr, 1, hlen, f) == hlen);
    hdr[hlen] = '\0';
    float data[4096];
    size_t ndata = fread(data, 1, sizeof data, f);
    fclose(f);
    dc_rng rng;
    dc_rng_seed(&rng, 2024);
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 6, 6, 1));
    int loaded = 0, refused = 0, unexplained = 0;
    for (int it = 0; it < 400; it++) {
        strcpy(mut, hdr);
        /* replace the run of digits at a random place by one of the values */
        size_t len = strlen(mut), p = dc_rng_below(&rng, (uint32_t)len);
        while (p < len && !isdigit((unsigned char)mut[p])) p++;
        if (p == len) continue;
        size_t a = p, b = p;
        while (a > 0 && isdigit((unsigned char)mut[a - 1])) a--;
        while (isdigit((unsigned char)mut[b])) b++;
        const char *v = values[dc_rng_below(&rng, 10)];
        memmove(mut + a + strlen(v), mut + b, len - b + 1);
        memcpy(mut + a, v, strlen(v));
        uint64_t nl = strlen(mut);
        for (int i = 0; i < 8; i++) lb[i] = (unsigned char)(nl >> (8 * i));
        f = fopen(path, "wb");
        fwrite(lb, 1, 8, f);
        fwrite(mut, 1, nl, f);
        fwrite(data, 1, ndata, f);
        fclose(f);
        dc_model *b2 = dc_model_load(path);
        if (b2) {
            loaded++;
            dc_tensor_free(dc_model_predict(b2, x, 2)); /* may refuse its input; must not crash */
            dc_model_free(b2);
        } else if (!strncmp(dc_last_error(), "dc_model_load: ", 15)) {
            refused++;
        } else {
            unexplained++;
        }
    }
    CHECK(unexplained == 0);
    CHECK(refused > 100); /* the mutations reach the architecture */
    CHECK(loaded > 0);    /* and some leave a model that still loads */
    dc_tensor_free(x);
    free(hdr);
    free(mut);
}

static bool count_batch(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)m, (void)loss;
    int *per_epoch = user;
    if (epoch >= 0 && epoch < 8) per_epoch[epoch] = (int)batch + 1;
    return false;
}

/* Weights after fit with the given epochs and steps_per_epoch (0: whole passes). */
static float *weights_after(dc_dataset *ds, int epochs, int64_t steps, int *per_epoch,
                            dc_history **h) {
    dc_model *m = classifier(NULL);
    float *w = NULL, *copy = NULL;
    size_t n = 0;
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = count_batch, .user = per_epoch};
    if (dc_model_compile(m, &adam_scce) == DC_OK &&
        dc_model_fit(m, ds, &(dc_fit_options){.epochs = epochs, .steps_per_epoch = steps,
                                              .seed = 9, .callbacks = &cb, .n_callbacks = 1},
                     h) == DC_OK &&
        dc_model_all_weights(m, &w, &n) == DC_OK && (copy = malloc(n * sizeof *copy)))
        memcpy(copy, w, n * sizeof *copy);
    dc_model_free(m);
    return copy;
}

TEST(steps_per_epoch_cuts_one_running_stream_into_epochs) {
    dc_dataset *ds = blobs(100, 4); /* batches of 32: 4 per pass, the last of 4 samples */
    int per[8] = {0};
    dc_history *h1 = NULL, *h2 = NULL, *h3 = NULL;
    float *pass = weights_after(ds, 2, 0, per, &h1);      /* two whole passes: 8 batches */
    CHECK(per[0] == 4 && per[1] == 4);
    float *cut = weights_after(ds, 4, 2, per, &h2);       /* the same 8 batches, 2 per epoch */
    CHECK(per[0] == 2 && per[1] == 2 && per[2] == 2 && per[3] == 2);
    float *across = weights_after(ds, 2, 3, per, &h3);    /* 6 batches: the pass runs on */
    CHECK(per[0] == 3 && per[1] == 3);
    CHECK(pass && cut && across);
    if (pass && cut) CHECK(!memcmp(pass, cut, (2 * 16 + 16 + 16 * 3 + 3) * sizeof(float)));
    if (pass && across) CHECK(memcmp(pass, across, (2 * 16 + 16 + 16 * 3 + 3) * sizeof(float)));
    CHECK(h2 && dc_history_epochs(h2) == 4);
    const float *sec = h2 ? dc_history_get(h2, "seconds") : NULL;
    CHECK(sec != NULL);
    for (int e = 0; sec && e < 4; e++) CHECK(sec[e] >= 0.0f && sec[e] < 60.0f);
    dc_model *m = classifier(NULL);
    CHECK_OK(dc_model_compile(m, &adam_scce));
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.steps_per_epoch = -1}, NULL), DC_ERR_ARG,
              "steps_per_epoch -1");
    dc_model_free(m);
    free(pass);
    free(cut);
    free(across);
    dc_history_free(h1);
    dc_history_free(h2);
    dc_history_free(h3);
    dc_dataset_free(ds);
}
