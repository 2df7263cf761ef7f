/* text_classify.c — fortune categories solved three ways through the C API:
 * a fixed window of the first words, a bag of words, and a recurrent network
 * (models/fortunes_{window,bow,rnn}.ini); prints their test accuracy as a table.
 *   build/examples/text_classify [EPOCHS [STEPS_PER_EPOCH]]   (from the repository root) */
#include <deepc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    const char *file, *how;
    float accuracy, loss;
    double seconds;
} approach;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Trains one model file as `deepc train` would and measures it on the test split. */
static dc_status run(approach *a, const char *epochs, const char *steps) {
    dc_run_config *cfg = dc_run_config_load(a->file);
    dc_dataset *train = NULL, *test = NULL;
    dc_model *m = NULL;
    dc_fit_options fo;
    dc_status s = cfg ? DC_OK : dc_last_status();
    if (s == DC_OK && epochs) s = dc_run_config_set(cfg, "train", "epochs", epochs);
    if (s == DC_OK && steps) s = dc_run_config_set(cfg, "train", "steps_per_epoch", steps);
    if (s == DC_OK) s = dc_run_config_load_data(cfg, &train, &test);
    if (s == DC_OK && !test) s = DC_ERR_ARG; /* the model files keep a fixed test split */
    if (s == DC_OK && !(m = dc_run_config_build_model(cfg, train))) s = dc_last_status();
    if (s == DC_OK) s = dc_run_config_fit_options(cfg, test, &fo);
    double t0 = now();
    if (s == DC_OK) {
        fo.validation_data = NULL; /* measure once, at the end */
        fo.progress = NULL;
        s = dc_model_fit(m, train, &fo, NULL);
    }
    if (s == DC_OK) s = dc_model_evaluate(m, test, 64, &a->loss, &a->accuracy);
    a->seconds = now() - t0;
    if (s == DC_OK)
        printf("  %-28s %5lld training, %4lld test fortunes, %6.1f s\n", a->file,
               (long long)dc_dataset_count(train), (long long)dc_dataset_count(test), a->seconds);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(cfg);
    return s;
}

int main(int argc, char **argv) {
    const char *epochs = argc > 1 ? argv[1] : NULL, *steps = argc > 2 ? argv[2] : NULL;
    approach a[3] = {
        {.file = "models/fortunes_window.ini", .how = "first 40 words -> Embedding, Flatten, Dense"},
        {.file = "models/fortunes_bow.ini", .how = "bag of words (tf-idf) -> Dense"},
        {.file = "models/fortunes_rnn.ini", .how = "Embedding(mask_zero) -> Bidirectional GRU"}};
    printf("Fortune categories (computers, cookie, definitions, people, politics, science)\n");
    for (int i = 0; i < 3; i++)
        if (run(&a[i], epochs, steps) != DC_OK) {
            fprintf(stderr, "%s: %s\n", a[i].file, dc_last_error());
            return 1;
        }
    printf("\n| approach | model file | test accuracy | test loss | seconds |\n");
    printf("|---|---|---|---|---|\n");
    for (int i = 0; i < 3; i++)
        printf("| %s | `%s` | %.4f | %.4f | %.0f |\n", a[i].how, a[i].file, (double)a[i].accuracy,
               (double)a[i].loss, a[i].seconds);
    return 0;
}
