/* test_resume.c — fit's resume checkpoints: a run stopped after an epoch, or in
 * the middle of one, and resumed, ends with the weights and history of the run
 * never stopped, bit for bit (schedule, shuffling, Dropout, EarlyStopping with
 * restored weights, ReduceLROnPlateau); and TerminateOnNaN's error status. */
#include "test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dc_dataset *blobs(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * 2 * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    const float cx[3] = {-1.0f, 1.0f, 0.0f}, cy[3] = {0.0f, 0.0f, 1.2f};
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)dc_rng_below(&r, 3);
        x[2 * i] = cx[c] + 0.8f * (float)dc_rng_normal(&r);
        x[2 * i + 1] = cy[c] + 0.8f * (float)dc_rng_normal(&r);
        y[i] = (float)c;
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, n, true);
    free(x);
    free(y);
    return ds;
}

static const dc_lr_schedule decay = {.kind = DC_LR_EXPONENTIAL, .initial_learning_rate = 0.05f,
                                     .decay_steps = 7, .decay_rate = 0.8f};

/* true: the model's random layer is a Bidirectional LSTM's dropout, whose two
 * RNNs draw from streams of their own */
static bool bidi_model;

static dc_model *model(void) {
    dc_model *m = dc_sequential_new(NULL);
    if (bidi_model) {
        dc_model_add(m, dc_layer_reshape(2, (const int64_t[]){2, 1}));
        dc_model_add(m, dc_layer_bidirectional(
                            dc_layer_lstm(&(dc_rnn_layer_options){.units = 6, .dropout = 0.3f,
                                                                  .recurrent_dropout = 0.3f}),
                            NULL, NULL));
    } else {
        dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 16, .activation = "relu"}));
        dc_model_add(m, dc_layer_dropout(0.3f));
    }
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    dc_compile_options c = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                            .optimizer = {.kind = DC_OPT_ADAM, .schedule = &decay},
                            .metrics = {DC_METRIC_ACCURACY}};
    if (dc_model_compile(m, &c) != DC_OK) test_fail(__FILE__, __LINE__, "%s", dc_last_error());
    return m;
}

/* When to ask for a stop: after batch `batch` (1-based) of epoch `epoch` (0-based). */
typedef struct {
    int epoch;
    int64_t batch;
} stop_at;

static bool request_stop(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)loss;
    const stop_at *s = user;
    if (s && epoch == s->epoch && batch + 1 == s->batch) dc_model_request_stop(m);
    return false;
}

/* steps_per_epoch of the runs below (0: whole passes over the data) */
static int64_t run_steps;

/* One fit of 7 epochs; callbacks the same in every run (the lambda only asks). */
static dc_status run(dc_model *m, dc_dataset *ds, const char *ckpt, const char *resume,
                     stop_at *stop, dc_history **h) {
    dc_callback cbs[3] = {
        {.kind = DC_CB_EARLY_STOPPING, .monitor = "val_loss", .patience = 3, .min_delta = 0.004f,
         .restore_best_weights = true},
        {.kind = DC_CB_REDUCE_LR_ON_PLATEAU, .monitor = "loss", .patience = 1, .factor = 0.5f,
         .min_delta = 0.01f},
        {.kind = DC_CB_LAMBDA, .on_batch_end = request_stop, .user = stop}};
    dc_fit_options o = {.epochs = 7, .batch_size = 16, .validation_split = 0.25f, .seed = 11,
                        .callbacks = cbs, .n_callbacks = 3, .checkpoint_path = ckpt,
                        .resume_from = resume, .steps_per_epoch = run_steps};
    return dc_model_fit(m, ds, &o, h);
}

static float *weights_copy(dc_model *m, size_t *n) {
    float *w = NULL;
    if (dc_model_all_weights(m, &w, n) != DC_OK) return NULL;
    float *c = malloc(*n * sizeof *c);
    if (c) memcpy(c, w, *n * sizeof *c);
    return c;
}

static bool same_history(const dc_history *a, const dc_history *b) {
    if (dc_history_epochs(a) != dc_history_epochs(b)) return false;
    const char *keys[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"};
    for (int k = 0; k < 5; k++) {
        const float *x = dc_history_get(a, keys[k]), *y = dc_history_get(b, keys[k]);
        if (!x || !y || memcmp(x, y, (size_t)dc_history_epochs(a) * sizeof *x)) return false;
    }
    return true;
}

TEST(resume_after_an_epoch_and_mid_epoch_is_bit_exact) {
    dc_dataset *ds = blobs(200, 4);
    char ckpt[1024], ref_ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s/resume_ckpt.safetensors", test_tmpdir());
    snprintf(ref_ckpt, sizeof ref_ckpt, "%s/resume_ref.safetensors", test_tmpdir());

    /* the run never stopped */
    dc_model *ref = model();
    dc_history *href = NULL;
    CHECK_OK(run(ref, ds, ref_ckpt, NULL, NULL, &href));
    size_t n = 0, n2 = 0;
    float *want = weights_copy(ref, &n);
    const float *lr = dc_history_get(href, "lr");
    int ne = dc_history_epochs(href);
    CHECK(ne >= 5);                     /* the stops below fall inside the run */
    CHECK(lr && lr[ne - 1] < lr[0]);    /* the schedule and the plateau both moved it */

    /* stopped at the end of epoch 2 (its last batch: 150 / 16 = 10 batches) */
    dc_model *a = model();
    dc_history *ha = NULL;
    stop_at s1 = {1, 10};
    CHECK_OK(run(a, ds, ckpt, NULL, &s1, &ha));
    CHECK(dc_history_epochs(ha) == 2);
    dc_history_free(ha);
    dc_model_free(a);

    /* resumed into a fresh model, stopped again in the middle of epoch 4 */
    dc_model *b = model();
    dc_history *hb = NULL;
    stop_at s2 = {3, 4};
    CHECK_OK(run(b, ds, ckpt, ckpt, &s2, &hb));
    CHECK(dc_history_epochs(hb) == 3);
    dc_history_free(hb);
    dc_model_free(b);

    /* resumed at batch 5 of epoch 4, to the end */
    dc_model *c = model();
    dc_history *hc = NULL;
    CHECK_OK(run(c, ds, ckpt, ckpt, NULL, &hc));
    float *got = weights_copy(c, &n2);
    CHECK(want && got && n == n2);
    if (want && got && n == n2) CHECK(memcmp(want, got, n * sizeof *want) == 0);
    CHECK(same_history(href, hc));

    /* a checkpoint of a finished run resumes to nothing more, same weights */
    dc_model *d = model();
    dc_history *hd = NULL;
    CHECK_OK(run(d, ds, NULL, ref_ckpt, NULL, &hd));
    float *got2 = weights_copy(d, &n2);
    if (want && got2 && n == n2) CHECK(memcmp(want, got2, n * sizeof *want) == 0);
    CHECK(same_history(href, hd));

    free(want);
    free(got);
    free(got2);
    dc_history_free(href);
    dc_history_free(hc);
    dc_history_free(hd);
    dc_model_free(ref);
    dc_model_free(c);
    dc_model_free(d);
    dc_dataset_free(ds);
}

TEST(resume_refuses_another_run) {
    dc_dataset *ds = blobs(100, 2);
    char ckpt[1024], plain[1024];
    snprintf(ckpt, sizeof ckpt, "%s/resume_other.safetensors", test_tmpdir());
    snprintf(plain, sizeof plain, "%s/resume_plain.safetensors", test_tmpdir());
    dc_model *m = model();
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 2, .seed = 1, .checkpoint_path = ckpt},
                          NULL));
    CHECK_OK(dc_model_save(m, plain));
    dc_model_free(m);
    m = model();
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .seed = 2, .resume_from = ckpt},
                           NULL),
              DC_ERR_FORMAT, "seed 1");
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .seed = 1, .resume_from = plain},
                           NULL),
              DC_ERR_FORMAT, "no fit state");
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .seed = 1, .batch_size = 8,
                                                    .resume_from = ckpt}, NULL),
              DC_ERR_FORMAT, "batch size");
    /* a finished run goes on when given more epochs, its history appended */
    dc_history *h = NULL;
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .seed = 1, .resume_from = ckpt}, &h));
    CHECK(dc_history_epochs(h) == 3);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
}

/* A regression whose loss overflows: TerminateOnNaN stops it with an error
 * naming epoch and batch, and the weights stay finite. */
TEST(terminate_on_nan_returns_a_numeric_error_with_finite_weights) {
    enum { N = 64 };
    float x[N * 2], y[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)(i % 7) - 3.0f;
        x[2 * i + 1] = (float)(i % 5);
        y[i] = 100.0f * x[2 * i] - 50.0f * x[2 * i + 1];
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, DC_DIMS(1), N, false);
    for (int with = 0; with < 2; with++) {
        dc_model *m = dc_sequential_new(NULL);
        dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 1}));
        CHECK_OK(dc_model_compile(m, &(dc_compile_options){
                                         .loss = DC_LOSS_MSE,
                                         .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 10.0f}}));
        dc_callback nan = {.kind = DC_CB_TERMINATE_ON_NAN};
        dc_history *h = NULL;
        dc_status s = dc_model_fit(m, ds, &(dc_fit_options){.epochs = 20, .batch_size = 8,
                                                           .callbacks = &nan, .n_callbacks = with},
                                   &h);
        float *w = NULL;
        size_t n = 0;
        CHECK_OK(dc_model_all_weights(m, &w, &n));
        bool finite = true;
        for (size_t i = 0; i < n; i++) finite = finite && isfinite(w[i]);
        if (with) {
            CHECK(s == DC_ERR_NUMERIC);
            CHECK_MSG(", batch ");
            CHECK_MSG("TerminateOnNaN");
            CHECK(h == NULL);
            CHECK(finite);
        } else { /* without it, the run goes on to the end: what the CLI no longer does */
            CHECK(s == DC_OK);
            CHECK(!finite);
        }
        dc_history_free(h);
        dc_model_free(m);
    }
    dc_dataset_free(ds);
}

/* With steps_per_epoch the batches run on across epochs (4 of the 10 per pass
 * here, so passes end inside epochs 3 and 5): a run stopped after an epoch and
 * in the middle of one resumes onto the same stream, bit for bit. */
TEST(resume_with_steps_per_epoch_is_bit_exact) {
    run_steps = 4;
    dc_dataset *ds = blobs(200, 5);
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s/resume_steps.safetensors", test_tmpdir());
    dc_model *ref = model();
    dc_history *href = NULL;
    CHECK_OK(run(ref, ds, NULL, NULL, NULL, &href));
    CHECK(dc_history_epochs(href) >= 5);
    size_t n = 0, n2 = 0;
    float *want = weights_copy(ref, &n);

    dc_model *a = model();
    dc_history *ha = NULL;
    stop_at s1 = {1, 4}; /* the last batch of epoch 2 */
    CHECK_OK(run(a, ds, ckpt, NULL, &s1, &ha));
    CHECK(dc_history_epochs(ha) == 2);
    dc_model *b = model();
    dc_history *hb = NULL;
    stop_at s2 = {3, 2}; /* inside epoch 4, across the end of the first pass */
    CHECK_OK(run(b, ds, ckpt, ckpt, &s2, &hb));
    dc_model *c = model();
    dc_history *hc = NULL;
    CHECK_OK(run(c, ds, ckpt, ckpt, NULL, &hc));
    float *got = weights_copy(c, &n2);
    CHECK(want && got && n == n2);
    if (want && got && n == n2) CHECK(memcmp(want, got, n * sizeof *want) == 0);
    CHECK(same_history(href, hc));

    /* another steps_per_epoch would draw other batches: refused */
    run_steps = 5;
    dc_model *d = model();
    CHECK_ERR(run(d, ds, NULL, ckpt, NULL, NULL), DC_ERR_FORMAT, "steps_per_epoch 4");
    run_steps = 0;
    free(want);
    free(got);
    dc_history_free(href);
    dc_history_free(ha);
    dc_history_free(hb);
    dc_history_free(hc);
    dc_model_free(ref);
    dc_model_free(a);
    dc_model_free(b);
    dc_model_free(c);
    dc_model_free(d);
    dc_dataset_free(ds);
}

/* Bidirectional's RNNs keep their own random streams: a run stopped in the
 * middle of an epoch resumes onto the streams the run never stopped drew. */
TEST(resume_of_a_bidirectional_rnn_with_dropout_is_bit_exact) {
    bidi_model = true;
    dc_dataset *ds = blobs(200, 6);
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s/resume_bidi.safetensors", test_tmpdir());
    dc_model *ref = model();
    dc_history *href = NULL;
    CHECK_OK(run(ref, ds, NULL, NULL, NULL, &href));
    CHECK(dc_history_epochs(href) >= 4);
    size_t n = 0, n2 = 0;
    float *want = weights_copy(ref, &n);

    dc_model *a = model();
    stop_at s1 = {2, 5}; /* inside epoch 3 */
    CHECK_OK(run(a, ds, ckpt, NULL, &s1, NULL));
    dc_model *b = model();
    dc_history *hb = NULL;
    CHECK_OK(run(b, ds, ckpt, ckpt, NULL, &hb));
    float *got = weights_copy(b, &n2);
    CHECK(want && got && n == n2);
    if (want && got && n == n2) CHECK(memcmp(want, got, n * sizeof *want) == 0);
    CHECK(same_history(href, hb));
    bidi_model = false;
    free(want);
    free(got);
    dc_history_free(href);
    dc_history_free(hb);
    dc_model_free(ref);
    dc_model_free(a);
    dc_model_free(b);
    dc_dataset_free(ds);
}

typedef struct {
    const char *path;
    int wrong; /* epochs whose callback found another number of rows */
} history_probe;

/* At the end of epoch e (0-based), before fit writes that epoch's row, the
 * file holds the header and the e epochs before it (no file before epoch 1). */
static bool check_history_file(dc_model *m, const dc_logs *logs, void *user) {
    (void)m;
    history_probe *p = user;
    if (test_count_lines(p->path) != (logs->epoch ? 1 + logs->epoch : -1)) p->wrong++;
    return false;
}

TEST(history_path_is_rewritten_after_every_epoch_resumed_epochs_included) {
    dc_dataset *ds = blobs(100, 3);
    char csv[1024], ckpt[1024];
    snprintf(csv, sizeof csv, "%s/history_every_epoch.csv", test_tmpdir());
    snprintf(ckpt, sizeof ckpt, "%s/history_every_epoch.safetensors", test_tmpdir());
    remove(csv);
    history_probe probe = {.path = csv};
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_epoch_end = check_history_file, .user = &probe};
    dc_model *m = model();
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 3, .seed = 1, .callbacks = &cb,
                                                   .n_callbacks = 1, .checkpoint_path = ckpt,
                                                   .history_path = csv}, NULL));
    CHECK(probe.wrong == 0);
    CHECK(test_count_lines(csv) == 4);
    dc_model_free(m);
    /* resumed for two more epochs: the file keeps the first three */
    m = model();
    CHECK_OK(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 5, .seed = 1, .callbacks = &cb,
                                                   .n_callbacks = 1, .checkpoint_path = ckpt,
                                                   .resume_from = ckpt, .history_path = csv}, NULL));
    CHECK(probe.wrong == 0);
    CHECK(test_count_lines(csv) == 6);
    CHECK_ERR(dc_model_fit(m, ds, &(dc_fit_options){.epochs = 6, .seed = 1, .callbacks = &cb,
                                                    .n_callbacks = 1, .resume_from = ckpt,
                                                    .history_path = test_tmpdir()}, NULL),
              DC_ERR_IO, "dc_history_write_csv");
    dc_model_free(m);
    dc_dataset_free(ds);
}
