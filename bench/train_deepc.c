/* train_deepc.c — the deepc side of the training benchmark: one epoch of the
 * Fashion-MNIST MLP or CNN (models/fashion_cnn.ini's layers), the same nets,
 * batch sizes and optimizer as bench/torch_ref.py; prints net,threads,seconds_per_epoch,peak_rss_mb,final_loss
 * (--flops: the epoch's training FLOPs counted from the layer shapes, and no training) */
#include "nets.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static float last_loss;
static bool remember_loss(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)m, (void)epoch, (void)batch, (void)user;
    last_loss = loss;
    return false;
}

/* One epoch of Fashion-MNIST's 60000 training images (or limit of them). */
static int print_epoch_flops(bool cnn, int64_t limit) {
    dc_model *m = bench_make_net(cnn, false);
    if (!m) {
        fprintf(stderr, "train_deepc: %s\n", dc_last_error());
        return 1;
    }
    printf("%.6g\n", bench_train_flops_per_sample(m) * (double)(limit ? limit : 60000));
    dc_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    bool cnn = false;
    int threads = 2;
    int64_t limit = 0;
    bool flops = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--net") && i + 1 < argc) cnn = !strcmp(argv[++i], "cnn");
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc) limit = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--flops")) flops = true;
    }
    if (flops) return print_epoch_flops(cnn, limit);
    dc_set_num_threads(threads);
    dc_dataset *all = dc_dataset_load_named("fashion-mnist", "train");
    dc_dataset *train = all && limit ? dc_dataset_view(all, 0, limit) : all;
    dc_model *m = train ? bench_make_net(cnn, true) : NULL;
    if (!m) {
        fprintf(stderr, "train_deepc: %s\n", dc_last_error());
        return 1;
    }
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = remember_loss};
    dc_fit_options fo = {.epochs = 1, .batch_size = cnn ? 64 : 32, .callbacks = &cb,
                         .n_callbacks = 1, .seed = 0};
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    dc_status s = dc_model_fit(m, train, &fo, NULL);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (s != DC_OK) {
        fprintf(stderr, "train_deepc: %s\n", dc_last_error());
        return 1;
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    /* CPU seconds of all threads, on stderr: on a shared, loaded machine they
     * move less than the wall time, so they compare code versions better. */
    fprintf(stderr, "cpu_seconds %.3f\n",
            (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%s,%d,%.3f,%.1f,%.4f\n", cnn ? "cnn" : "mlp", threads, secs, ru.ru_maxrss / 1024.0,
           last_loss);
    dc_model_free(m);
    if (train != all) dc_dataset_free(train);
    dc_dataset_free(all);
    return 0;
}
