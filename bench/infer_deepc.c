/* infer_deepc.c — batch-1 inference latency of a Fashion-MNIST net in deepc: dc_model_predict
 * on one image, as a program embedding deepc calls it; --onnx PATH first writes the same net (same
 * weights) as ONNX for onnxruntime. Prints deepc,NET,THREADS,median_us,min_us. */
#include "nets.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times runs calls after runs / 10 + 10 unmeasured ones; t receives them sorted. */
static bool time_predict(dc_model *m, const dc_tensor *x, int runs, double *t) {
    for (int i = -(runs / 10 + 10); i < runs; i++) {
        double t0 = now_us();
        dc_tensor *y = dc_model_predict(m, x, 1);
        double t1 = now_us();
        if (!y) return false;
        dc_tensor_free(y);
        if (i >= 0) t[i] = t1 - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, by_value);
    return true;
}

int main(int argc, char **argv) {
    bool cnn = true;
    int threads = 1, runs = 1000;
    const char *onnx = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--net") && i + 1 < argc) cnn = !strcmp(argv[++i], "cnn");
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--onnx") && i + 1 < argc) onnx = argv[++i];
    }
    if (runs < 1) runs = 1;
    dc_set_num_threads(threads);
    dc_rng rng;
    dc_rng_seed(&rng, 1);
    dc_model *m = bench_make_net(cnn, false);
    dc_tensor *x = m ? dc_tensor_uniform(DC_DIMS(1, 28, 28, 1), 0.0f, 1.0f, &rng) : NULL;
    double *t = malloc((size_t)runs * sizeof *t);
    bool ok = m && x && t && (!onnx || dc_model_export_onnx(m, onnx) == DC_OK) &&
              time_predict(m, x, runs, t);
    if (ok)
        printf("deepc,%s,%d,%.1f,%.1f\n", cnn ? "cnn" : "mlp", threads, t[runs / 2], t[0]);
    else
        fprintf(stderr, "infer_deepc: %s\n", dc_last_error());
    free(t);
    dc_tensor_free(x);
    dc_model_free(m);
    return ok ? 0 : 1;
}
