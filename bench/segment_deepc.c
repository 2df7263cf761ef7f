/* segment_deepc.c — the deepc side of bench/segment.sh: one training epoch of
 * models/fashion_unet.ini (its data and optimizer; no validation), timed, in
 * batches of 32 as bench/segment_torch.py, whatever batch the file trains with.
 * usage: segment_deepc [--model FILE.ini] [--threads N] [--limit CANVASES]
 * prints net,threads,seconds_per_epoch,peak_rss_mb,final_loss (and cpu_seconds on stderr) */
#include <deepc.h>
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

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    const char *file = "models/fashion_unet.ini", *limit = NULL;
    int threads = 2;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--model")) file = argv[++i];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--limit")) limit = argv[++i];
    }
    dc_set_num_threads(threads);
    dc_run_config *cfg = dc_run_config_load(file);
    dc_dataset *train = NULL, *test = NULL;
    dc_model *m = NULL;
    dc_fit_options fo;
    if (!cfg || dc_run_config_set(cfg, "train", "epochs", "1") != DC_OK ||
        dc_run_config_set(cfg, "train", "batch_size", "32") != DC_OK ||
        (limit && dc_run_config_set(cfg, "data", "train_canvases", limit) != DC_OK) ||
        dc_run_config_load_data(cfg, &train, &test) != DC_OK ||
        !(m = dc_run_config_build_model(cfg, train)) ||
        dc_run_config_fit_options(cfg, test, &fo) != DC_OK) {
        fprintf(stderr, "segment_deepc: %s\n", dc_last_error());
        return 1;
    }
    /* the epoch alone: no validation pass, no callbacks of the file */
    dc_callback cb = {.kind = DC_CB_LAMBDA, .on_batch_end = remember_loss};
    fo.validation_data = NULL;
    fo.callbacks = &cb;
    fo.n_callbacks = 1;
    fo.verbose = 0;
    fo.progress = NULL;
    double t0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
    dc_status s = dc_model_fit(m, train, &fo, NULL);
    double secs = seconds(CLOCK_MONOTONIC) - t0, cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (s != DC_OK) {
        fprintf(stderr, "segment_deepc: %s\n", dc_last_error());
        return 1;
    }
    /* CPU seconds of all threads: on a loaded machine they move less than the wall time */
    fprintf(stderr, "cpu_seconds %.3f\n", cpu);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("unet,%d,%.3f,%.1f,%.4f\n", threads, secs, ru.ru_maxrss / 1024.0, last_loss);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(cfg);
    return 0;
}
