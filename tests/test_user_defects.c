/* test_user_defects.c — what a new user met, through the library: a model's
 * compiled metrics, a text file given as a model, a data path that is not
 * there, a batch larger than the data, and messages that say what is wrong. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>

/* Flatten -> Dense(3) on (4,4,1), compiled with accuracy then mae. */
static dc_model *small_model(void) {
    dc_model *m = dc_sequential_new("small");
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    dc_compile_options c = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                            .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f},
                            .metrics = {DC_METRIC_ACCURACY, DC_METRIC_MAE}};
    if (dc_model_compile(m, &c) != DC_OK || dc_model_build(m, DC_DIMS(4, 4, 1), 7) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* n samples (4,4,1) of 3 classes. */
static dc_dataset *small_data(int64_t n) {
    float *x = malloc((size_t)n * 16 * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; x && y && i < n; i++) {
        for (int k = 0; k < 16; k++) x[i * 16 + k] = (float)((i * 7 + k * 3) % 11) / 10.0f;
        y[i] = (float)(i % 3);
    }
    dc_dataset *ds = x && y ? dc_dataset_from_arrays(x, 3, (const int64_t[]){4, 4, 1}, y, 0, NULL,
                                                     n, true)
                            : NULL;
    free(x);
    free(y);
    return ds;
}

TEST(model_metrics_survive_save_and_load) {
    dc_model *m = small_model();
    CHECK(m != NULL);
    if (!m) return;
    dc_metric_kind k[DC_MAX_METRICS];
    CHECK(dc_model_metrics(m, k, DC_MAX_METRICS) == 2);
    CHECK(k[0] == DC_METRIC_ACCURACY && k[1] == DC_METRIC_MAE);
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *l = dc_model_load(path);
    CHECK(l != NULL);
    CHECK(dc_model_metrics(l, k, DC_MAX_METRICS) == 2);
    CHECK(k[0] == DC_METRIC_ACCURACY && k[1] == DC_METRIC_MAE);
    CHECK(dc_model_metrics(l, NULL, 0) == 2);
    CHECK(dc_model_metrics(NULL, k, DC_MAX_METRICS) == 0);
    dc_model *u = dc_sequential_new(NULL); /* not compiled: none */
    CHECK(dc_model_metrics(u, k, DC_MAX_METRICS) == 0);
    dc_model_free(u);
    dc_model_free(l);
    dc_model_free(m);
}

TEST(model_file_that_is_text_says_so) {
    char ini[512], txt[512];
    snprintf(ini, sizeof ini, "%s/looks_like.ini", test_tmpdir());
    snprintf(txt, sizeof txt, "%s/notes.txt", test_tmpdir());
    FILE *f = fopen(ini, "w");
    if (f) {
        fprintf(f, "; a model\n\n[model]\nname = m\n[Dense]\nunits = 3\n");
        fclose(f);
    }
    f = fopen(txt, "w");
    if (f) {
        fprintf(f, "just some words in a file\n");
        fclose(f);
    }
    CHECK(dc_model_load(ini) == NULL);
    CHECK_MSG("is not a safetensors model file");
    CHECK_MSG("model description (INI) for `deepc train`");
    CHECK(strstr(dc_last_error(), "absurd") == NULL);
    CHECK(dc_safetensors_load(txt) == NULL);
    CHECK_MSG("is not a safetensors model file: it starts with text");
}

TEST(data_spec_that_does_not_exist_says_so) {
    CHECK(dc_dataset_load_spec("/no/such/dir", 0, 0, 0) == NULL);
    CHECK_MSG("'/no/such/dir' does not exist");
    CHECK(dc_dataset_load_spec("/no/such/file.csv", 0, 0, 0) == NULL);
    CHECK_MSG("/no/such/file.csv");
}

static char logged[512];
static void keep_warning(dc_log_level level, const char *msg, void *user) {
    (void)user;
    if (level == DC_LOG_WARN) snprintf(logged, sizeof logged, "%s", msg);
}

/* A batch larger than the data is the whole set, with a notice (on the
 * progress stream and the log callback): the same weights as a batch of
 * exactly the set's size. */
TEST(fit_clamps_batch_larger_than_data_with_notice) {
    dc_dataset *ds = small_data(10);
    dc_model *a = small_model(), *b = small_model();
    CHECK(ds && a && b);
    if (!ds || !a || !b) goto out;
    char path[512];
    snprintf(path, sizeof path, "%s/fit_notice.txt", test_tmpdir());
    FILE *f = fopen(path, "w+");
    CHECK(f != NULL);
    if (!f) goto out;
    dc_fit_options o = {.epochs = 2, .batch_size = (int64_t)1 << 24, .seed = 5, .progress = f,
                        .verbose = 2};
    dc_history *h = NULL;
    logged[0] = '\0';
    dc_set_log_callback(keep_warning, NULL);
    CHECK_OK(dc_model_fit(a, ds, &o, &h));
    dc_set_log_callback(NULL, NULL);
    if (!strstr(logged, "batch_size 16777216 is more than the 10 training samples"))
        test_fail(__FILE__, __LINE__, "logged \"%s\"", logged);
    CHECK(h && dc_history_epochs(h) == 2);
    dc_history_free(h);
    rewind(f);
    char text[4096] = {0};
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    if (!strstr(text, "Notice: batch_size 16777216 is more than the 10 training samples; each "
                      "epoch is one batch of 10"))
        test_fail(__FILE__, __LINE__, "no notice in:\n%s", text);
    o.batch_size = 10;
    o.progress = NULL;
    CHECK_OK(dc_model_fit(b, ds, &o, NULL));
    float *wa, *wb;
    size_t na, nb;
    CHECK_OK(dc_model_weights(a, &wa, &na));
    CHECK_OK(dc_model_weights(b, &wb, &nb));
    CHECK(na == nb && !memcmp(wa, wb, na * sizeof *wa));
out:
    dc_model_free(a);
    dc_model_free(b);
    dc_dataset_free(ds);
}

TEST(too_many_weights_says_which_layer_and_how_many) {
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 450000000}));
    CHECK_ERR(dc_model_build(m, DC_DIMS(100000), 1), DC_ERR_NOMEM,
              "layer 'dense': parameter 'kernel' needs 45,000,000,000,000 weights (180 TB");
    CHECK_MSG("too many");
    dc_model_free(m);
}
