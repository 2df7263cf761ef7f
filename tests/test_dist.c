/* test_dist.c — deepc train under mpirun with 2 ranks on a tiny IDX set: the
 * same weights run to run and for 1 or 2 threads per rank, close to one
 * process, a resume with 1 rank, and a killed rank ending the job; and fit's
 * dist option over an in-process backend of two threads (no MPI). */
#include "test.h"
#include "ops/op.h"
#include <dirent.h>
#include <pthread.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* mpirun as root (containers, CI) needs both variables; 2 ranks on fewer
 * cores need --oversubscribe; no binding, so 2 threads per rank can run.
 * Under `make asan` LeakSanitizer would report Open MPI's own allocations,
 * kept until exit in components it has unloaded (no symbols to suppress):
 * leaks are checked in the in-process test below, the rest of ASan here. */
#define MPIRUN "env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " \
               "ASAN_OPTIONS=detect_leaks=0 mpirun --oversubscribe --bind-to none"

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/dist/%s", test_tmpdir(), name);
    return buf[k];
}

static bool have_mpirun(void) { return system("command -v mpirun >/dev/null 2>&1") == 0; }

/* The tiny set and a small CNN with Dropout (each rank draws its samples'
 * part of one process's masks) without BatchNormalization, whose 2-rank run
 * differs from one process only in the order of sums. */
static void write_data(int n_train) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/dist", test_tmpdir());
    mkdir(dir, 0700);
    test_write_idx(tmp("train-images.idx"), tmp("train-labels.idx"), n_train, 1);
    test_write_idx(tmp("test-images.idx"), tmp("test-labels.idx"), 30, 2);
}

static bool setup(void) {
    if (!test_deepc_path() || !have_mpirun()) return false;
    write_data(96);
    FILE *f = fopen(tmp("tiny.ini"), "w");
    if (!f) return false;
    fprintf(f, "[model]\nname = tiny\n\n[data]\n"
               "train_images = train-images.idx\ntrain_labels = train-labels.idx\n"
               "test_images = test-images.idx\ntest_labels = test-labels.idx\nvalidation = test\n\n"
               "[train]\noptimizer = adam\nlearning_rate = 0.01\n"
               "loss = sparse_categorical_crossentropy\nmetrics = accuracy\nbatch_size = 16\n"
               "epochs = 1\nseed = 3\n\n"
               "[Conv2D]\nfilters = 4\nkernel_size = 3\nactivation = relu\n\n"
               "[MaxPooling2D]\npool_size = 2\n\n[Flatten]\n\n[Dropout]\nrate = 0.25\n\n"
               "[Dense]\nunits = 8\nactivation = relu\n\n[Dense]\nunits = 3\n");
    fclose(f);
    return true;
}

/* "mpirun -np N deepc ARGS" (a hang ends at the timeout); the exit code. */
static int run_mpi(int np, const char *args, char *out, size_t cap) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "timeout -k 5 120 " MPIRUN " -np %d %s %s 2>&1", np,
             test_deepc_path(), args);
    return test_run_command(cmd, out, cap);
}

static int count_of(const char *s, const char *what) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++) n++;
    return n;
}

/* The largest |a - b| over the largest |b|, over every weight of two saved
 * models (0 for the same bits); -1 when they cannot be compared. */
static double max_rel_diff(const char *pa, const char *pb) {
    dc_model *a = dc_model_load(pa), *b = dc_model_load(pb);
    double worst = a && b && dc_model_num_params(a) == dc_model_num_params(b) ? 0 : -1;
    for (int i = 0; worst >= 0 && i < dc_model_num_params(a); i++) {
        const dc_tensor *x = dc_model_param(a, i), *y = dc_model_param(b, i);
        if (x->size != y->size) {
            worst = -1;
            break;
        }
        double d = 0, scale = 1e-30;
        for (int64_t k = 0; k < x->size; k++) {
            d = fmax(d, fabs((double)x->data[k] - (double)y->data[k]));
            scale = fmax(scale, fabs((double)y->data[k]));
            if (memcmp(&x->data[k], &y->data[k], sizeof(float))) d = fmax(d, 1e-300);
        }
        worst = fmax(worst, d / scale);
    }
    dc_model_free(a);
    dc_model_free(b);
    return worst;
}

/* The last row's value of column `key` in a history.csv, or NAN. */
static double history_last(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    char line[1024];
    int col = -1, rows = 0;
    double v = NAN;
    while (f && fgets(line, sizeof line, f)) {
        char *save = NULL;
        int k = 0;
        for (char *c = strtok_r(line, ",\n", &save); c; c = strtok_r(NULL, ",\n", &save), k++) {
            if (!rows && !strcmp(c, key)) col = k;
            if (rows && k == col) v = strtod(c, NULL);
        }
        rows++;
    }
    if (f) fclose(f);
    return v;
}

TEST(dist_mpirun_two_ranks_match_one_process) {
    if (!setup()) SKIP("build/deepc or mpirun is missing");
    static char out[1 << 16];
    char args[2048];
    /* 20 steps of the global batch of 16: 2 ranks x 1 thread, 2 ranks x 2 threads, 1 process */
    snprintf(args, sizeof args, "train %s --out %s --steps-per-epoch 20 --threads 1", tmp("tiny.ini"),
             tmp("r2t1"));
    int rc = run_mpi(2, args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) printf("%s\n", out);
    /* rank 0 alone prints */
    CHECK(count_of(out, "Training on 96 samples") == 1 && count_of(out, "Wrote ") == 1);
    CHECK(strstr(out, "x 2 processes, 8 samples each per batch") != NULL);
    snprintf(args, sizeof args, "train %s --out %s --steps-per-epoch 20 --threads 2 --quiet",
             tmp("tiny.ini"), tmp("r2t2"));
    CHECK(run_mpi(2, args, out, sizeof out) == 0);
    snprintf(args, sizeof args, "train %s --out %s --steps-per-epoch 20 --threads 1 --quiet",
             tmp("tiny.ini"), tmp("r1"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    /* the sum overlapped with backward (MPI_Iallreduce): the same bits */
    snprintf(args, sizeof args, "train %s --out %s --steps-per-epoch 20 --threads 1 --quiet",
             tmp("tiny.ini"), tmp("r2ov"));
    setenv("DEEPC_DIST_OVERLAP", "1", 1);
    CHECK(run_mpi(2, args, out, sizeof out) == 0);
    unsetenv("DEEPC_DIST_OVERLAP");
    CHECK(max_rel_diff(tmp("r2t1/model.safetensors"), tmp("r2ov/model.safetensors")) == 0.0);
    double same = max_rel_diff(tmp("r2t1/model.safetensors"), tmp("r2t2/model.safetensors"));
    double close = max_rel_diff(tmp("r2t1/model.safetensors"), tmp("r1/model.safetensors"));
    CHECK(same == 0.0);
    CHECK(close >= 0.0 && close <= 1e-4);
    if (same != 0.0 || !(close >= 0.0 && close <= 1e-4))
        printf("2 ranks, 1 vs 2 threads: %g; 2 ranks vs 1 process: %g\n", same, close);
    /* a whole epoch: validation accuracy as one process's */
    snprintf(args, sizeof args, "train %s --out %s --threads 1 --quiet", tmp("tiny.ini"),
             tmp("e2"));
    CHECK(run_mpi(2, args, out, sizeof out) == 0);
    snprintf(args, sizeof args, "train %s --out %s --threads 1 --quiet", tmp("tiny.ini"),
             tmp("e1"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    double a2 = history_last(tmp("e2/history.csv"), "val_accuracy");
    double a1 = history_last(tmp("e1/history.csv"), "val_accuracy");
    CHECK(isfinite(a2) && fabs(a2 - a1) <= 0.005);
}

/* 2 ranks for an epoch, then one process resumes its checkpoint for the
 * second: the weights of 2 ranks for both epochs. */
TEST(dist_mpirun_resume_two_ranks_with_one) {
    if (!setup()) SKIP("build/deepc or mpirun is missing");
    static char out[1 << 16];
    char args[2048];
    snprintf(args, sizeof args, "train %s --out %s --epochs 2 --threads 1 --quiet", tmp("tiny.ini"),
             tmp("whole"));
    CHECK(run_mpi(2, args, out, sizeof out) == 0);
    snprintf(args, sizeof args, "train %s --out %s --epochs 1 --threads 1 --quiet", tmp("tiny.ini"),
             tmp("half"));
    CHECK(run_mpi(2, args, out, sizeof out) == 0);
    snprintf(args, sizeof args, "train %s --out %s --epochs 2 --threads 1 --quiet --resume",
             tmp("tiny.ini"), tmp("half"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) printf("%s\n", out);
    double d = max_rel_diff(tmp("whole/model.safetensors"), tmp("half/model.safetensors"));
    CHECK(d >= 0.0 && d <= 1e-4);
    CHECK(!isnan(history_last(tmp("half/history.csv"), "val_loss")));
}

/* The newest child of pid (mpirun's last-started rank), or -1. */
static pid_t newest_child(pid_t pid) {
    DIR *d = opendir("/proc");
    pid_t best = -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        int ppid = 0;
        char state;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == pid &&
            atoi(e->d_name) > best)
            best = atoi(e->d_name);
    }
    if (d) closedir(d);
    return best;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A rank killed with SIGKILL mid-run: the job ends within a bound with a
 * non-zero status and a message, and the last checkpoint loads whole. */
TEST(dist_mpirun_killed_rank_ends_the_job) {
    if (!setup()) SKIP("build/deepc or mpirun is missing");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec " MPIRUN " -np 2 %s train %s --out %s --epochs 1000000 "
             "--threads 1 --quiet >%s 2>&1", test_deepc_path(), tmp("tiny.ini"), tmp("killed"),
             tmp("killed.log"));
    remove(tmp("killed/checkpoint.safetensors"));
    fflush(NULL);
    pid_t job = fork();
    if (job == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    CHECK(job > 0);
    if (job <= 0) return;
    struct stat sb;
    double t0 = now_s();
    while (stat(tmp("killed/checkpoint.safetensors"), &sb) != 0 && now_s() - t0 < 60) usleep(50000);
    usleep(300000); /* some more epochs */
    pid_t rank = newest_child(job);
    CHECK(rank > 0);
    if (rank > 0) kill(rank, SIGKILL);
    double t1 = now_s();
    int st = 0;
    pid_t got = 0;
    while ((got = waitpid(job, &st, WNOHANG)) == 0 && now_s() - t1 < 60) usleep(50000);
    double took = now_s() - t1;
    if (got == 0) { /* a hang: end it, and fail */
        kill(job, SIGKILL);
        waitpid(job, &st, 0);
    }
    CHECK(got == job && took < 30.0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 0);
    static char log[1 << 14];
    FILE *f = fopen(tmp("killed.log"), "r");
    size_t n = f ? fread(log, 1, sizeof log - 1, f) : 0;
    log[n] = '\0';
    if (f) fclose(f);
    CHECK(strstr(log, "signal 9") != NULL);
    dc_model *m = dc_model_load(tmp("killed/checkpoint.safetensors"));
    CHECK(m != NULL);
    dc_model_free(m);
    printf("    the job ended %.2f s after the kill\n", took);
}

/* ---- fit's dist option over two threads ---- */

/* Sums by rank 0 in rank order, read back by both: the same bits on each. */
typedef struct {
    pthread_barrier_t bar;
    void *slot[2];
} two_ranks;
typedef dc_model *(*make_model_fn)(void);
typedef struct {
    two_ranks *c;
    int rank, size;          /* size 1: a plain fit, no dist */
    make_model_fn make;
    dc_compile_options co;
    dc_fit_options fo;       /* this rank's, without dist */
    dc_dataset *train;
    float *weights; /* out: every weight after fit (malloc) */
    size_t n_weights;
    float loss, val_loss;    /* out: the last epoch's */
    bool overlap;            /* sums started during backward (start_sum_floats) */
    bool scaled;             /* the backend scales the gradient (sum_scaled_floats) */
    dc_status status;
} rank_job;

static dc_status sum_two(void *ctx, void *x, int64_t n, bool dbl) {
    rank_job *j = ctx;
    j->c->slot[j->rank] = x;
    pthread_barrier_wait(&j->c->bar);
    for (int64_t i = 0; j->rank == 0 && i < n; i++) {
        if (dbl) {
            double *a = j->c->slot[0], *b = j->c->slot[1];
            b[i] = a[i] = a[i] + b[i];
        } else {
            float *a = j->c->slot[0], *b = j->c->slot[1];
            b[i] = a[i] = a[i] + b[i];
        }
    }
    pthread_barrier_wait(&j->c->bar);
    return DC_OK;
}
static dc_status sum_two_floats(void *ctx, float *x, int64_t n) { return sum_two(ctx, x, n, false); }
static dc_status sum_two_doubles(void *ctx, double *x, int64_t n) { return sum_two(ctx, x, n, true); }
static dc_status sum_two_scaled_floats(void *ctx, float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] *= scale;
    return sum_two(ctx, x, n, false);
}
/* A started sum is done at once: a bucket started before backward has
 * written all of it misses the rest, which the same fit without overlap shows. */
static dc_status wait_nothing(void *ctx) {
    (void)ctx;
    return DC_OK;
}

static float last_of(const dc_history *h, const char *key) {
    const float *v = h ? dc_history_get(h, key) : NULL;
    return v && dc_history_epochs(h) > 0 ? v[dc_history_epochs(h) - 1] : NAN;
}

static void *rank_run(void *arg) {
    rank_job *j = arg;
    dc_cpu_isa_name();
    dc_dist d = {.rank = j->rank, .size = 2, .ctx = j, .sum_floats = sum_two_floats,
                 .sum_doubles = sum_two_doubles};
    dc_model *m = j->make();
    dc_fit_options fo = j->fo;
    if (j->overlap) d.start_sum_floats = sum_two_floats, d.wait_sums = wait_nothing;
    if (j->scaled) d.sum_scaled_floats = sum_two_scaled_floats;
    if (j->size > 1) fo.dist = &d;
    dc_history *h = NULL;
    float *w;
    j->status = dc_model_compile(m, &j->co);
    if (j->status == DC_OK) j->status = dc_model_fit(m, j->train, &fo, &h);
    if (j->status == DC_OK) j->status = dc_model_all_weights(m, &w, &j->n_weights);
    if (j->status == DC_OK && (j->weights = malloc(j->n_weights * sizeof(float))))
        memcpy(j->weights, w, j->n_weights * sizeof(float));
    if (j->status != DC_OK) printf("rank %d: %s\n", j->rank, dc_last_error());
    j->loss = last_of(h, "loss");
    j->val_loss = last_of(h, "val_loss");
    dc_history_free(h);
    dc_model_free(m);
    return NULL;
}

/* Runs j[0..size) (size 2: two threads, size 1: a plain fit in this one). */
static void run_ranks(rank_job *j, int size) {
    two_ranks c;
    pthread_barrier_init(&c.bar, NULL, 2);
    pthread_t th[2];
    for (int r = 0; r < size; r++) {
        j[r].c = &c;
        j[r].rank = r;
        j[r].size = size;
        if (size > 1) pthread_create(&th[r], NULL, rank_run, &j[r]);
        else rank_run(&j[r]);
    }
    for (int r = 0; r < size && size > 1; r++) pthread_join(th[r], NULL);
    pthread_barrier_destroy(&c.bar);
}

/* max |a - b| / max |b| (0 for the same bits), -1 when either is missing. */
static double weights_rel_diff(const rank_job *a, const rank_job *b) {
    if (!a->weights || !b->weights || a->n_weights != b->n_weights) return -1;
    double d = 0, scale = 1e-30;
    for (size_t k = 0; k < a->n_weights; k++) {
        d = fmax(d, fabs((double)a->weights[k] - (double)b->weights[k]));
        scale = fmax(scale, fabs((double)b->weights[k]));
        if (memcmp(&a->weights[k], &b->weights[k], sizeof(float))) d = fmax(d, 1e-300);
    }
    return d / scale;
}

/* The same fit on 2 ranks (in threads) and in one process: both ranks end
 * with the same bits, and those are within tol (relative) of one process's;
 * the logged losses too. */
static void check_two_ranks_match_one(make_model_fn make, const dc_compile_options *co,
                                      const dc_fit_options *fo, dc_dataset *train, double tol) {
    rank_job two[2], one[1];
    for (int r = 0; r < 2; r++) two[r] = (rank_job){.make = make, .co = *co, .fo = *fo, .train = train};
    one[0] = two[0];
    run_ranks(two, 2);
    run_ranks(one, 1);
    CHECK(two[0].status == DC_OK && two[1].status == DC_OK && one[0].status == DC_OK);
    double same = weights_rel_diff(&two[0], &two[1]), close = weights_rel_diff(&two[0], &one[0]);
    CHECK(same == 0.0);
    CHECK(close >= 0.0 && close <= tol);
    CHECK_NEAR(two[0].loss, one[0].loss, tol * fabs(one[0].loss));
    if (fo->validation_data) CHECK_NEAR(two[0].val_loss, one[0].val_loss, tol * fabs(one[0].val_loss));
    printf("    2 ranks vs 1 process: weights %.3g, loss %.9g vs %.9g\n", close, two[0].loss,
           one[0].loss);
    for (int r = 0; r < 2; r++) free(two[r].weights);
    free(one[0].weights);
}

static dc_model *bn_model(void) {
    dc_model *m = dc_sequential_new("bn");
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                        .filters = 4, .kernel_size = {3}, .activation = "relu"}));
    dc_model_add(m, dc_layer_batch_normalization(NULL));
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    return m;
}

/* Two ranks in one program: the same model on both (BatchNormalization's
 * moving statistics averaged), a last batch of 1 sample (rank 0's part is
 * empty), and rank 0 alone writing the CSVLogger's file. */
TEST(dist_fit_two_ranks_in_threads_agree) {
    write_data(65);
    dc_dataset *train = dc_dataset_load_idx(tmp("train-images.idx"), tmp("train-labels.idx"));
    dc_dataset *val = dc_dataset_load_idx(tmp("test-images.idx"), tmp("test-labels.idx"));
    CHECK(train && val);
    rank_job j[2];
    char csv[2][512];
    dc_callback cb[2][2];
    for (int r = 0; r < 2; r++) {
        snprintf(csv[r], sizeof csv[r], "%s", tmp(r ? "rank1.csv" : "rank0.csv"));
        remove(csv[r]);
        cb[r][0] = (dc_callback){.kind = DC_CB_CSV_LOGGER, .path = csv[r]};
        cb[r][1] = (dc_callback){.kind = DC_CB_REDUCE_LR_ON_PLATEAU, .monitor = "val_loss",
                                 .patience = 1, .factor = 0.5f};
        j[r] = (rank_job){
            .make = bn_model, .train = train,
            .co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, .metrics = {DC_METRIC_ACCURACY},
                   .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f}},
            .fo = {.epochs = 3, .batch_size = 16, .seed = 5, .validation_data = val,
                   .callbacks = cb[r], .n_callbacks = 2}};
    }
    run_ranks(j, 2);
    CHECK(j[0].status == DC_OK && j[1].status == DC_OK);
    CHECK(j[0].weights && j[1].weights && j[0].n_weights == j[1].n_weights);
    if (j[0].weights && j[1].weights && j[0].n_weights == j[1].n_weights)
        CHECK(!memcmp(j[0].weights, j[1].weights, j[0].n_weights * sizeof(float)));
    struct stat sb;
    CHECK(stat(csv[0], &sb) == 0 && sb.st_size > 0);
    CHECK(stat(csv[1], &sb) != 0);
    free(j[0].weights);
    free(j[1].weights);
    /* a bad rank is refused before anything runs */
    dc_dist bad = {.rank = 2, .size = 2, .sum_floats = sum_two_floats, .sum_doubles = sum_two_doubles};
    dc_model *m = dc_sequential_new("m");
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_SGD, .learning_rate = 0.1f}};
    CHECK_OK(dc_model_compile(m, &co));
    dc_fit_options fo = {.dist = &bad};
    CHECK_ERR(dc_model_fit(m, train, &fo, NULL), DC_ERR_ARG, "rank 2 must be in [0, size 2)");
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(val);
}

/* ---- random layers and masked losses over ranks ---- */

static dc_model *dropout_model(void) {
    dc_model *m = dc_sequential_new("drop");
    dc_model_add(m, dc_layer_random_flip(NULL, NULL));
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                        .filters = 4, .kernel_size = {3}, .activation = "relu"}));
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dropout(0.5f));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 16, .activation = "relu"}));
    dc_model_add(m, dc_layer_dropout(0.3f));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    return m;
}

/* Each sample gets the masks and flips one process would draw for it. */
TEST(dist_fit_dropout_two_ranks_match_one_process) {
    write_data(97);
    dc_dataset *train = dc_dataset_load_idx(tmp("train-images.idx"), tmp("train-labels.idx"));
    CHECK(train != NULL);
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f}};
    /* 20 steps of 16, the stream running on; each pass ends with a batch of 1
     * (rank 0's part empty: rank 1's generators are taken after it) */
    dc_fit_options fo = {.epochs = 1, .batch_size = 16, .steps_per_epoch = 20, .seed = 9};
    check_two_ranks_match_one(dropout_model, &co, &fo, train, 1e-4);
    dc_dataset_free(train);
}

/* The random ops keep their part of what the whole batch draws: rank r's x
 * holds samples [8r, 8r + 8) of 16, and gets those rows of the whole
 * batch's mask and flips, bit for bit, with the generator left where the
 * whole batch leaves it; the two ranks' masks differ (a shared mask fails). */
TEST(dist_random_ops_draw_for_the_whole_batch) {
    dc_rng seed_rng;
    dc_rng_seed(&seed_rng, 21);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(16, 3, 4, 2), 0.5f, 1.5f, &seed_rng);
    dc_tape *t = dc_tape_new(NULL);
    for (int op = 0; op < 2; op++) {
        dc_rng whole_rng, part_rng[2];
        dc_rng_seed(&whole_rng, 5);
        dc_tape_reset(t);
        dc_tensor *whole = op ? dc_random_flip(t, x, DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL, true, &whole_rng)
                              : dc_dropout(t, x, 0.5f, true, &whole_rng);
        CHECK(whole != NULL);
        const int64_t per = x->size / 16;
        dc_tensor *got[2] = {NULL, NULL};
        for (int r = 0; r < 2; r++) {
            dc_rng_seed(&part_rng[r], 5);
            dc_tape_set_batch_part(t, 8 * r, 16);
            dc_tensor *xr = dc_slice(t, x, 0, 8 * r, 8);
            got[r] = op ? dc_random_flip(t, xr, DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL, true, &part_rng[r])
                        : dc_dropout(t, xr, 0.5f, true, &part_rng[r]);
            CHECK(got[r] && !memcmp(got[r]->data, whole->data + 8 * r * per, 8 * per * sizeof(float)));
            CHECK(part_rng[r].state == whole_rng.state);
        }
        /* which elements each rank's mask zeroes, or its flips move */
        int differ = 0;
        for (int64_t i = 0; got[0] && got[1] && i < 8 * per; i++) {
            const float *x0 = x->data, *x1 = x->data + 8 * per;
            bool a = op ? got[0]->data[i] != x0[i] : got[0]->data[i] == 0.0f;
            bool b = op ? got[1]->data[i] != x1[i] : got[1]->data[i] == 0.0f;
            differ += a != b;
        }
        CHECK(differ > per);
        dc_tape_set_batch_part(t, 0, 0);
    }
    /* a part that does not fit the batch is ignored: the whole batch's draws */
    dc_rng a, b;
    dc_rng_seed(&a, 6);
    dc_rng_seed(&b, 6);
    dc_tape_reset(t);
    dc_tensor *y0 = dc_dropout(t, x, 0.5f, true, &a);
    dc_tape_set_batch_part(t, 8, 16); /* 8 + 16 > 16 */
    dc_tensor *y1 = dc_dropout(t, x, 0.5f, true, &b);
    CHECK(y0 && y1 && !memcmp(y0->data, y1->data, (size_t)x->size * sizeof(float)));
    dc_tape_free(t);
    dc_tensor_free(x);
}

TEST(dist_rng_advance_is_drawing_and_dropping) {
    const uint64_t steps[] = {0, 1, 2, 37, 1000, 65536};
    for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
        dc_rng a, b;
        dc_rng_seed(&a, 77 + k);
        dc_rng_seed(&b, 77 + k);
        for (uint64_t i = 0; i < steps[k]; i++) dc_rng_u32(&a);
        dc_rng_advance(&b, steps[k]);
        CHECK(a.state == b.state && dc_rng_u32(&a) == dc_rng_u32(&b));
    }
}

/* Sequences of 1 to 10 ids padded with 0, a label per position: ranks get
 * different numbers of real positions. */
static dc_dataset *padded_sequences(int n) {
    enum { T = 10 };
    float *x = calloc((size_t)n * T, sizeof(float)), *y = calloc((size_t)n * T, sizeof(float));
    dc_rng r;
    dc_rng_seed(&r, 12);
    for (int i = 0; x && y && i < n; i++) {
        int len = 1 + (int)dc_rng_below(&r, T);
        for (int k = 0; k < len; k++) {
            int id = 1 + (int)dc_rng_below(&r, 19);
            x[i * T + k] = (float)id;
            y[i * T + k] = (float)(id % 3);
        }
    }
    dc_dataset *ds = x && y ? dc_dataset_from_arrays(x, 1, (const int64_t[]){T}, y, 1,
                                                     (const int64_t[]){T}, n, true)
                            : NULL;
    free(x);
    free(y);
    return ds;
}

static dc_model *masked_lstm_model(void) {
    dc_model *m = dc_sequential_new("masked");
    dc_model_add(m, dc_layer_embedding(&(dc_embedding_options){
                        .input_dim = 20, .output_dim = 6, .mask_zero = true}));
    dc_model_add(m, dc_layer_lstm(&(dc_rnn_layer_options){
                        .units = 8, .return_sequences = true, .dropout = 0.2f,
                        .recurrent_dropout = 0.2f}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    return m;
}

/* The loss is a mean over real positions: each rank's gradient and loss are
 * weighed by its real positions, as one process's mean over the batch's. */
TEST(dist_fit_masked_lstm_two_ranks_match_one_process) {
    dc_dataset *train = padded_sequences(64), *val = padded_sequences(24);
    CHECK(train && val);
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .metrics = {DC_METRIC_ACCURACY},
                             .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.02f}};
    dc_fit_options fo = {.epochs = 1, .batch_size = 16, .steps_per_epoch = 20, .seed = 4,
                         .validation_data = val};
    check_two_ranks_match_one(masked_lstm_model, &co, &fo, train, 1e-4);
    dc_dataset_free(train);
    dc_dataset_free(val);
}

/* ---- no allocation per step ---- */

typedef struct {
    two_ranks *c;
    int rank, batches;
    unsigned long long after_first, last;
} alloc_probe;

/* Both ranks meet at every batch end, so rank 0 counts when both are done
 * with the step. */
static bool count_allocs(dc_model *m, int epoch, int64_t batch, float loss, void *user) {
    (void)m, (void)epoch, (void)batch, (void)loss;
    alloc_probe *p = user;
    pthread_barrier_wait(&p->c->bar);
    if (p->rank == 0) {
        if (p->batches == 0) p->after_first = dc_alloc_count();
        p->last = dc_alloc_count();
    }
    p->batches++;
    pthread_barrier_wait(&p->c->bar);
    return false;
}

TEST(dist_fit_two_ranks_allocate_nothing_per_step_after_the_first) {
    write_data(96);
    dc_dataset *images = dc_dataset_load_idx(tmp("train-images.idx"), tmp("train-labels.idx"));
    dc_dataset *seqs = padded_sequences(64);
    CHECK(images && seqs);
    make_model_fn makes[2] = {dropout_model, masked_lstm_model};
    dc_dataset *sets[2] = {images, seqs};
    for (int k = 0; k < 2; k++) {
        rank_job j[2];
        alloc_probe p[2];
        dc_callback cb[2];
        two_ranks c;
        pthread_barrier_init(&c.bar, NULL, 2);
        for (int r = 0; r < 2; r++) {
            p[r] = (alloc_probe){.c = &c, .rank = r};
            cb[r] = (dc_callback){.kind = DC_CB_LAMBDA, .on_batch_end = count_allocs, .user = &p[r]};
            j[r] = (rank_job){
                .make = makes[k], .train = sets[k],
                .co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                       .metrics = {DC_METRIC_ACCURACY},
                       .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f}},
                /* batches of 15: a short last one of each pass, the stream running on */
                .fo = {.epochs = 1, .batch_size = 15, .steps_per_epoch = 12, .seed = 3,
                       .callbacks = &cb[r], .n_callbacks = 1}};
        }
        run_ranks(j, 2);
        pthread_barrier_destroy(&c.bar);
        CHECK(j[0].status == DC_OK && j[1].status == DC_OK && p[0].batches == 12);
        if (p[0].last != p[0].after_first)
            test_fail(__FILE__, __LINE__, "model %d: the steps after the first made %llu allocations",
                      k, p[0].last - p[0].after_first);
        free(j[0].weights);
        free(j[1].weights);
    }
    dc_dataset_free(images);
    dc_dataset_free(seqs);
}

/* ---- the gradient's sum overlapped with backward ---- */

static dc_model *wide_model(void) {
    dc_model *m = dc_sequential_new("wide");
    dc_model_add(m, dc_layer_conv2d(&(dc_conv2d_layer_options){
                        .filters = 8, .kernel_size = {3}, .activation = "relu"}));
    dc_model_add(m, dc_layer_batch_normalization(NULL));
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 64, .activation = "relu"}));
    dc_model_add(m, dc_layer_dropout(0.2f));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 64, .activation = "relu"}));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    return m;
}

static dc_model *wide_lstm_model(void) {
    dc_model *m = dc_sequential_new("wide_lstm");
    dc_model_add(m, dc_layer_embedding(&(dc_embedding_options){
                        .input_dim = 20, .output_dim = 6, .mask_zero = true}));
    dc_model_add(m, dc_layer_bidirectional(dc_layer_lstm(&(dc_rnn_layer_options){
                        .units = 48, .return_sequences = true, .dropout = 0.2f}), NULL, NULL));
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    return m;
}

/* Buckets started as backward completes them give the bits of the sum after
 * backward (two ranks: a + b either way), with several buckets per step; and
 * so does a backend that scales each rank's part itself (sum_scaled_floats),
 * here with unequal parts (the LSTM's masked positions). */
TEST(dist_fit_overlapped_sum_is_the_sum_after_backward) {
    write_data(97);
    dc_dataset *images = dc_dataset_load_idx(tmp("train-images.idx"), tmp("train-labels.idx"));
    dc_dataset *seqs = padded_sequences(64);
    CHECK(images && seqs);
    make_model_fn makes[2] = {wide_model, wide_lstm_model};
    dc_dataset *sets[2] = {images, seqs};
    for (int k = 0; k < 2; k++) {
        rank_job j[3][2]; /* after backward, overlapped, scaled by the backend */
        for (int ov = 0; ov < 3; ov++) {
            for (int r = 0; r < 2; r++)
                j[ov][r] = (rank_job){
                    .make = makes[k], .train = sets[k], .overlap = ov == 1, .scaled = ov == 2,
                    .co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                           .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f}},
                    .fo = {.epochs = 1, .batch_size = 16, .steps_per_epoch = 10, .seed = 2}};
            run_ranks(j[ov], 2);
            CHECK(j[ov][0].status == DC_OK && j[ov][1].status == DC_OK);
        }
        CHECK(j[0][0].n_weights > 4 * 4096); /* several buckets */
        CHECK(weights_rel_diff(&j[1][0], &j[1][1]) == 0.0);
        CHECK(weights_rel_diff(&j[1][0], &j[0][0]) == 0.0);
        CHECK(weights_rel_diff(&j[2][0], &j[2][1]) == 0.0);
        CHECK(weights_rel_diff(&j[2][0], &j[0][0]) == 0.0);
        for (int i = 0; i < 6; i++) free(j[i / 2][i % 2].weights);
    }
    dc_dataset_free(images);
    dc_dataset_free(seqs);
}
