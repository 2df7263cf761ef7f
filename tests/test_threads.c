/* test_threads.c — two models trained at once in two threads of one program
 * end with the same weights as each trained alone, and each thread sees only
 * its own errors. `make tsan` runs these under ThreadSanitizer. */
#include "test.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int which;                /* 0: a dense net, 1: a small CNN with Dropout and BatchNorm */
    float *weights;           /* out: copy of every weight after training (malloc) */
    size_t n_weights;
    dc_status status;
    char error[512];
    pthread_barrier_t *sync;  /* NULL when trained alone */
    bool saw_foreign_error;   /* the other thread's message showed here */
} train_job;

/* (n, 4, 4, 1) images whose class is the brighter half (0 top, 1 bottom, 2 none). */
static dc_dataset *images(int64_t n, uint64_t seed) {
    float *x = malloc((size_t)n * 16 * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) {
        int c = (int)dc_rng_below(&r, 3);
        for (int p = 0; p < 16; p++)
            x[16 * i + p] = (float)dc_rng_uniform(&r) * 0.5f +
                            ((c == 0 && p < 8) || (c == 1 && p >= 8) ? 0.5f : 0.0f);
        y[i] = (float)c;
    }
    dc_dataset *ds = dc_dataset_from_arrays(x, DC_DIMS(4, 4, 1), y, 0, NULL, n, true);
    free(x);
    free(y);
    return ds;
}

static dc_model *job_model(int which) {
    dc_model *m = dc_sequential_new(which ? "cnn" : "mlp");
    if (which) {
        dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                            .filters = 4, .kernel_size = {3}, .padding = DC_PAD_SAME,
                            .activation = "relu"}));
        dc_model_add(m, dc_layer_batch_normalization(NULL));
        dc_model_add(m, dc_layer_max_pooling2d(NULL));
        dc_model_add(m, dc_layer_flatten());
        dc_model_add(m, dc_layer_dropout(0.3f));
    } else {
        dc_model_add(m, dc_layer_flatten());
        dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 12, .activation = "tanh"}));
    }
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    return m;
}

static const char *job_error_text(int which) {
    return which ? "thread-one-error" : "thread-zero-error";
}

static void *train_job_run(void *arg) {
    train_job *j = arg;
    dc_cpu_isa_name(); /* the kernels' first choice of code path may happen in both at once */
    dc_dataset *ds = images(256, 10 + (uint64_t)j->which);
    dc_model *m = job_model(j->which);
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = j->which ? DC_OPT_ADAM : DC_OPT_SGD,
                                           .learning_rate = 0.05f}};
    j->status = dc_model_compile(m, &co);
    dc_fit_options fo = {.epochs = 20, .batch_size = 16, .seed = 42 + (uint64_t)j->which};
    if (j->status == DC_OK) j->status = dc_model_fit(m, ds, &fo, NULL);
    float *w;
    if (j->status == DC_OK) j->status = dc_model_all_weights(m, &w, &j->n_weights);
    if (j->status == DC_OK) {
        j->weights = malloc(j->n_weights * sizeof(float));
        memcpy(j->weights, w, j->n_weights * sizeof(float));
    } else {
        snprintf(j->error, sizeof j->error, "%s", dc_last_error());
    }
    if (j->sync) {
        /* each thread fails on its own turn; the other's message must not show here */
        dc_clear_error();
        for (int turn = 0; turn < 2; turn++) {
            pthread_barrier_wait(j->sync);
            if (turn == j->which) {
                char path[64];
                snprintf(path, sizeof path, "/nonexistent/%s.csv", job_error_text(j->which));
                if (dc_dataset_load_csv(path, NULL) != NULL) j->saw_foreign_error = true;
            }
            pthread_barrier_wait(j->sync);
            if (strstr(dc_last_error(), job_error_text(!j->which))) j->saw_foreign_error = true;
        }
        if (!strstr(dc_last_error(), job_error_text(j->which))) j->saw_foreign_error = true;
    }
    dc_model_free(m);
    dc_dataset_free(ds);
    return NULL;
}

TEST(two_models_trained_in_two_threads_match_each_trained_alone) {
    pthread_barrier_t sync;
    pthread_barrier_init(&sync, NULL, 2);
    train_job together[2] = {{.which = 0, .sync = &sync}, {.which = 1, .sync = &sync}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, train_job_run, &together[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&sync);
    for (int i = 0; i < 2; i++) {
        train_job alone = {.which = i};
        train_job_run(&alone);
        CHECK(together[i].status == DC_OK && alone.status == DC_OK);
        if (together[i].status != DC_OK || alone.status != DC_OK)
            test_fail(__FILE__, __LINE__, "model %d: %s / %s", i, together[i].error, alone.error);
        CHECK(together[i].n_weights == alone.n_weights && alone.n_weights > 0);
        if (together[i].weights && alone.weights && together[i].n_weights == alone.n_weights)
            CHECK(memcmp(together[i].weights, alone.weights, alone.n_weights * sizeof(float)) == 0);
        CHECK(!together[i].saw_foreign_error);
        free(together[i].weights);
        free(alone.weights);
    }
}
