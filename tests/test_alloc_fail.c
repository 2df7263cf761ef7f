/* test_alloc_fail.c — allocation failure injection: the k-th allocation of a
 * build, compile, training step, save and load fails, for every k until the
 * run completes; each failure must be reported, leak nothing, and leave what
 * exists usable (retried without the failure) or cleanly freeable. */
#include "test.h"
#include "core/core.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const char *stage;   /* where the injected failure surfaced, NULL if nowhere */
    dc_status status;
    char message[512];
} fail_report;

static bool failed(fail_report *r, const char *stage, dc_status s) {
    if (s == DC_OK) return false;
    r->stage = stage;
    r->status = s;
    snprintf(r->message, sizeof r->message, "%s", dc_last_error());
    return true;
}

/* The failure was injected, so it must not fire again in a retry. */
static void disarm(void) { dc_alloc_fail_after(0); }

static dc_model *small_model(void) {
    dc_model *m = dc_sequential_new("inject");
    if (!m) return NULL;
    if (dc_model_add(m, dc_layer_reshape(DC_DIMS(2, 2, 1))) != DC_OK ||
        dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                            .filters = 2, .kernel_size = {2}, .padding = DC_PAD_SAME})) != DC_OK ||
        dc_model_add(m, dc_layer_batch_normalization(NULL)) != DC_OK ||
        dc_model_add(m, dc_layer_flatten()) != DC_OK ||
        dc_model_add(m, dc_layer_dropout(0.25f)) != DC_OK ||
        dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3, .activation = "softmax"})) !=
            DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* Build, compile, one training step, save, load; stops at the first error. */
static void scenario(const float *x, const float *y, const char *path, fail_report *r) {
    memset(r, 0, sizeof *r);
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(4), y, 0, NULL, 8, true);
    if (!ds) {
        failed(r, "dataset", dc_last_status());
        return;
    }
    dc_model *m = small_model();
    if (!m) {
        failed(r, "layers", dc_last_status());
        goto out;
    }
    if (failed(r, "build", dc_model_build(m, DC_DIMS(4), 5))) goto out;
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_ADAM},
                             .metrics = {DC_METRIC_ACCURACY}};
    if (failed(r, "compile", dc_model_compile(m, &co))) {
        disarm();
        CHECK_OK(dc_model_compile(m, &co)); /* usable: compiling again works */
        goto out;
    }
    dc_fit_options fo = {.epochs = 1, .batch_size = 8, .seed = 3};
    dc_history *h = NULL;
    if (failed(r, "fit", dc_model_fit(m, ds, &fo, &h))) {
        CHECK(h == NULL);
        disarm();
        CHECK_OK(dc_model_fit(m, ds, &fo, &h)); /* usable: training again works */
        dc_history_free(h);
        goto out;
    }
    dc_history_free(h);
    if (failed(r, "save", dc_model_save(m, path))) {
        disarm();
        CHECK_OK(dc_model_save(m, path));
        goto out;
    }
    float loss, acc;
    if (failed(r, "evaluate", dc_model_evaluate(m, ds, 4, &loss, &acc))) goto out;
    dc_tensor *xt = dc_tensor_from_data(DC_DIMS(2, 4), x);
    if (!xt) {
        failed(r, "tensor", dc_last_status());
        goto out;
    }
    dc_tensor *p = dc_model_predict(m, xt, 0);
    dc_tensor_free(xt);
    if (!p) {
        failed(r, "predict", dc_last_status());
        goto out;
    }
    dc_tensor_free(p);
    char ck[600];
    snprintf(ck, sizeof ck, "%s.ckpt", path);
    if (failed(r, "save_checkpoint", dc_model_save_checkpoint(m, ck, 1))) goto out;
    dc_model *l = dc_model_load(path);
    if (!l) {
        failed(r, "load", dc_last_status());
        goto out;
    }
    int epoch = 0;
    if (failed(r, "load_checkpoint", dc_model_load_checkpoint(l, ck, &epoch))) {
        disarm();
        CHECK_OK(dc_model_load_checkpoint(l, ck, &epoch)); /* usable: loading again works */
    }
    dc_model_free(l);
out:
    dc_model_free(m);
    dc_dataset_free(ds);
}

TEST(alloc_failure_at_every_allocation_is_reported_and_leaks_nothing) {
    float x[32], y[8];
    for (int i = 0; i < 32; i++) x[i] = (float)((i * 7) % 11) / 10.0f - 0.5f;
    for (int i = 0; i < 8; i++) y[i] = (float)(i % 3);
    char path[512];
    snprintf(path, sizeof path, "%s/inject.safetensors", test_tmpdir());
    fail_report r;
    scenario(x, y, path, &r); /* warm-up: one-time state (threads, CPU dispatch) settles */
    CHECK(r.stage == NULL);
    if (r.stage) {
        test_fail(__FILE__, __LINE__, "the run fails without injection: %s", r.message);
        return;
    }
    int failures = 0;
    uint64_t k;
    for (k = 1; k < 100000; k++) {
        dc_alloc_stats before, after;
        dc_alloc_get_stats(&before);
        dc_clear_error();
        dc_alloc_fail_after(k);
        scenario(x, y, path, &r);
        bool reached = !dc_alloc_fail_pending();
        disarm();
        dc_alloc_get_stats(&after);
        if (after.bytes_live != before.bytes_live)
            test_fail(__FILE__, __LINE__, "k=%llu (%s): %lld bytes leaked", (unsigned long long)k,
                      r.stage ? r.stage : "no error", (long long)(after.bytes_live - before.bytes_live));
        if (!reached) break; /* the whole run made fewer than k allocations */
        if (!r.stage) {
            /* a failed allocation that the run absorbed (a retry, an optional cache) is fine */
            continue;
        }
        failures++;
        if (r.status != DC_ERR_NOMEM || r.message[0] == '\0')
            test_fail(__FILE__, __LINE__, "k=%llu: %s returned %s with \"%s\", wanted out of memory",
                      (unsigned long long)k, r.stage, dc_status_string(r.status), r.message);
    }
    if (getenv("DEEPC_TEST_VERBOSE")) printf("    %d injected failures reported, run complete at k=%llu\n", failures, (unsigned long long)k);
    CHECK(failures > 50);
    CHECK(k > 100 && k < 100000);
    dc_clear_error();
}

/* ---- the file readers, each with every allocation failing in turn ---- */

static dc_status load_csv(void) {
    dc_dataset *d = dc_dataset_load_csv(test_path("fuzz/corpus/csv/text_labels.csv"), NULL);
    dc_dataset_free(d);
    return d ? DC_OK : dc_last_status();
}
static dc_status load_idx(void) {
    char images[512]; /* test_path reuses its buffer */
    snprintf(images, sizeof images, "%s", test_path("fuzz/corpus/idx/images_3x5x1.gz"));
    dc_dataset *d = dc_dataset_load_idx(images, test_path("fuzz/corpus/idx/labels_3"));
    dc_dataset_free(d);
    return d ? DC_OK : dc_last_status();
}
static dc_status load_model(void) {
    dc_model *m = dc_model_load(test_path("fuzz/corpus/model/cnn_bn.safetensors"));
    dc_model_free(m);
    return m ? DC_OK : dc_last_status();
}
static dc_status load_images(void) {
    dc_tensor *a = dc_image_load(test_path("fuzz/corpus/image/rgb.jpg"), 1);
    if (!a) return dc_last_status();
    dc_tensor *b = dc_image_load(test_path("fuzz/corpus/image/rgb.png"), 3);
    dc_tensor_free(a);
    dc_tensor_free(b);
    return b ? DC_OK : dc_last_status();
}
static dc_status parse_model_file(void) {
    FILE *f = fopen(test_path("fuzz/corpus/ini/fashion_cnn_bn.ini"), "rb");
    if (!f) return DC_ERR_IO;
    char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    dc_run_config *c = dc_run_config_parse(text, "fashion_cnn_bn.ini");
    dc_run_config_free(c);
    return c ? DC_OK : dc_last_status();
}

TEST(alloc_failure_in_every_file_reader_is_reported_and_leaks_nothing) {
    static const struct {
        const char *name;
        dc_status (*run)(void);
    } readers[] = {{"csv", load_csv},       {"idx", load_idx},
                   {"model", load_model},   {"images", load_images},
                   {"model file", parse_model_file}};
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++) {
        CHECK_OK(readers[i].run());
        int failures = 0;
        uint64_t k;
        for (k = 1; k < 100000; k++) {
            dc_alloc_stats before, after;
            dc_alloc_get_stats(&before);
            dc_clear_error();
            dc_alloc_fail_after(k);
            dc_status s = readers[i].run();
            bool reached = !dc_alloc_fail_pending();
            dc_alloc_fail_after(0);
            dc_alloc_get_stats(&after);
            if (after.bytes_live != before.bytes_live)
                test_fail(__FILE__, __LINE__, "%s, k=%llu: %lld bytes leaked", readers[i].name,
                          (unsigned long long)k, (long long)(after.bytes_live - before.bytes_live));
            if (!reached) break;
            if (s == DC_OK) continue;
            failures++;
            if (s != DC_ERR_NOMEM || dc_last_error()[0] == '\0')
                test_fail(__FILE__, __LINE__, "%s, k=%llu: %s with \"%s\", wanted out of memory",
                          readers[i].name, (unsigned long long)k, dc_status_string(s),
                          dc_last_error());
        }
        if (getenv("DEEPC_TEST_VERBOSE"))
            printf("    %s: %d injected failures reported, complete at k=%llu\n", readers[i].name,
                   failures, (unsigned long long)k);
        CHECK(failures > 0);
    }
    dc_clear_error();
}
