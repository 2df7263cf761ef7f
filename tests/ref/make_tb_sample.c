/* make_tb_sample.c — writes the TensorBoard sample that ref_tensorboard.py reads
 * back: a custom-loop run through the writer API and a fit with the TensorBoard
 * callback, plus expected.txt listing every value written. Run by hand:
 *   cc -std=c11 -D_DEFAULT_SOURCE -Iinclude tests/ref/make_tb_sample.c build/libdeepc.a \
 *      -lcjson -linih -lplplot -lpng -ljpeg -lz -lm -fopenmp -o /tmp/make_tb_sample
 *   rm -rf tests/ref/data/tb_sample && /tmp/make_tb_sample tests/ref/data/tb_sample */
#include "deepc.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *expect;

static bool on_batch(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)epoch;
    (void)batch;
    (void)user;
    fprintf(expect, "scalar fit/train batch_loss %lld %.9g\n",
            (long long)dc_optimizer_iterations(dc_model_optimizer(m)), (double)loss);
    return false;
}

static void hist_line(const char *run, const char *tag, int64_t step, const float *x, int64_t n) {
    double lo = INFINITY, hi = -INFINITY, s = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
        s += x[i];
        sq += (double)x[i] * x[i];
    }
    fprintf(expect, "histo %s %s %lld %.17g %.17g %lld %.17g %.17g\n", run, tag, (long long)step, lo,
            hi, (long long)n, s, sq);
}

static int fail(const char *what) {
    fprintf(stderr, "make_tb_sample: %s: %s\n", what, dc_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: make_tb_sample DIR\n"), 2;
    char path[1024];
    const char *dir = argv[1];
    snprintf(path, sizeof path, "%s/custom", dir);
    dc_tb_writer *w = dc_tb_writer_open(path);
    if (!w) return fail("open");
    snprintf(path, sizeof path, "%s/expected.txt", dir);
    expect = fopen(path, "w");
    if (!expect) return 2;

    /* custom loop: scalars, a histogram, an image */
    for (int step = 0; step < 5; step++) {
        float v = 1.0f / (float)(step + 1), acc = 0.1f * (float)step;
        if (dc_tb_add_scalar(w, "loss", v, step) || dc_tb_add_scalar(w, "metrics/accuracy", acc, step))
            return fail("scalar");
        fprintf(expect, "scalar custom loss %d %.9g\nscalar custom metrics/accuracy %d %.9g\n", step,
                (double)v, step, (double)acc);
    }
    float xs[100];
    for (int i = 0; i < 100; i++) xs[i] = sinf((float)i * 0.37f) * (float)(i % 7);
    if (dc_tb_add_histogram(w, "weights", xs, 100, 7)) return fail("histogram");
    hist_line("custom", "weights", 7, xs, 100);
    float img[6 * 8 * 3];
    for (int i = 0; i < 6 * 8; i++)
        for (int c = 0; c < 3; c++) img[i * 3 + c] = (float)((i + c * 5) % 16) / 15.0f;
    char png_path[1024];
    snprintf(png_path, sizeof png_path, "%s/.tmp.png", dir);
    if (dc_image_save_png(png_path, img, 6, 8, 3)) return fail("png");
    FILE *pf = fopen(png_path, "rb");
    static unsigned char png[65536];
    size_t plen = pf ? fread(png, 1, sizeof png, pf) : 0;
    if (pf) fclose(pf);
    remove(png_path);
    if (dc_tb_add_image_png(w, "images/gradient", png, plen, 6, 8, 3, 2)) return fail("image");
    fprintf(expect, "image custom images/gradient 2 6 8 3 %zu\n", plen);
    if (dc_tb_writer_close(w)) return fail("close");

    /* fit with the callback: per-batch loss, weight histograms every epoch */
    enum { N = 40 };
    float x[N * 2], y[N];
    for (int i = 0; i < N; i++) {
        x[2 * i] = (float)(i % 5) - 2.0f;
        x[2 * i + 1] = (float)((i * 3) % 7) / 3.0f - 1.0f;
        y[i] = (float)((x[2 * i] + x[2 * i + 1] > 0) + (x[2 * i] > 1));
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(2), y, 0, NULL, N, true);
    dc_model *m = dc_sequential_new(NULL);
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 4, .activation = "relu"}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    if (dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                  .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.05f},
                                                  .metrics = {DC_METRIC_ACCURACY}}))
        return fail("compile");
    snprintf(path, sizeof path, "%s/fit", dir);
    dc_callback cbs[2] = {{.kind = DC_CB_LAMBDA, .on_batch_end = on_batch},
                          {.kind = DC_CB_TENSORBOARD, .log_dir = path, .histogram_freq = 2,
                           .update_freq = "batch"}};
    dc_history *h;
    const int epochs = 3;
    if (dc_model_fit(m, ds, &(dc_fit_options){.epochs = epochs, .batch_size = 16, .validation_data = ds,
                                              .callbacks = cbs, .n_callbacks = 2, .seed = 3},
                     &h))
        return fail("fit");
    /* the history holds what the epoch scalars must be; the last epoch's
     * weights are the final ones only when a histogram was written then */
    for (int k = 0; k < dc_history_num_keys(h); k++) {
        const char *key = dc_history_key(h, k);
        const float *col = dc_history_get(h, key);
        if (!strcmp(key, "seconds")) continue;
        bool val = !strncmp(key, "val_", 4);
        for (int e = 0; e < epochs; e++) {
            if (isnan(col[e])) continue;
            fprintf(expect, "scalar fit/%s epoch_%s %d %.9g\n", val ? "validation" : "train",
                    !strcmp(key, "lr") ? "learning_rate" : key + (val ? 4 : 0), e, (double)col[e]);
        }
    }
    for (int i = 0; i < dc_model_num_params(m); i++) {
        const dc_tensor *t = dc_model_param(m, i);
        char tag[128];
        snprintf(tag, sizeof tag, "%s/histogram", t->name);
        hist_line("fit/train", tag, 2, t->data, t->size);
        fprintf(expect, "histo_steps fit/train %s 0 2\n", tag);
    }
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(ds);
    fclose(expect);
    return 0;
}
