/* test_resume_cli.c — `deepc train` stopped by SIGINT after its first epoch's
 * checkpoint exits 130 with the checkpoint and history written, and
 * `--resume` ends with the weights of the run never stopped, bit for bit; a
 * loss that overflows stops the run with exit status 1 and no model file. */
#include "test.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *p(const char *name) {
    static char buf[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/rcli/%s", test_tmpdir(), name);
    return buf[k];
}

/* deepc train INI [extra...] --out DIR --quiet, stdout and stderr to LOG. */
static pid_t start(const char *ini, const char *out, const char *extra, const char *log) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (extra)
            execl(test_deepc_path(), "deepc", "train", ini, "--out", out, "--quiet", extra, (char *)NULL);
        else
            execl(test_deepc_path(), "deepc", "train", ini, "--out", out, "--quiet", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int finish(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool same_weights(const char *a, const char *b) {
    dc_model *x = dc_model_load(a), *y = dc_model_load(b);
    float *wx = NULL, *wy = NULL;
    size_t nx = 0, ny = 0;
    bool same = x && y && dc_model_all_weights(x, &wx, &nx) == DC_OK &&
                dc_model_all_weights(y, &wy, &ny) == DC_OK && nx == ny &&
                !memcmp(wx, wy, nx * sizeof *wx);
    dc_model_free(x);
    dc_model_free(y);
    return same;
}

static void write_data(const char *path, bool regression) {
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "a,b,c,d,label\n");
    dc_rng r;
    dc_rng_seed(&r, 7);
    for (int i = 0; i < 2000; i++) {
        float v[4];
        for (int k = 0; k < 4; k++) v[k] = (float)dc_rng_uniform(&r) * 2 - 1;
        if (regression)
            fprintf(f, "%g,%g,%g,%g,%g\n", v[0], v[1], v[2], v[3], 100 * v[0] - 50 * v[1] + 0.5);
        else
            fprintf(f, "%g,%g,%g,%g,%d\n", v[0], v[1], v[2], v[3], v[0] + v[1] > 0.3f ? 2 : v[2] > 0 ? 1 : 0);
    }
    fclose(f);
}

TEST(cli_sigint_writes_a_checkpoint_and_resume_is_bit_exact) {
    if (!test_deepc_path()) SKIP("build/deepc is missing");
    mkdir(p(""), 0700);
    write_data(p("d.csv"), false);
    FILE *f = fopen(p("m.ini"), "w");
    if (!f) return;
    fprintf(f, "[model]\nname = r\n[data]\ntrain_csv = d.csv\nvalidation_split = 0.2\n"
               "[train]\noptimizer = adam\nlearning_rate = 0.01\nlearning_rate_schedule = "
               "exponential_decay\ndecay_steps = 100\ndecay_rate = 0.9\n"
               "loss = sparse_categorical_crossentropy\nmetrics = accuracy\nbatch_size = 8\n"
               "epochs = 40\nseed = 5\n[Dense]\nunits = 32\nactivation = relu\n[Dropout]\n"
               "rate = 0.3\n[Dense]\nunits = 3\n");
    fclose(f);
    /* the run never stopped */
    CHECK(finish(start(p("m.ini"), p("ref"), NULL, p("ref.log"))) == 0);
    /* SIGINT once the first epoch's checkpoint is there */
    pid_t pid = start(p("m.ini"), p("run"), NULL, p("run.log"));
    for (int i = 0; i < 20000 && access(p("run/checkpoint.safetensors"), F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    kill(pid, SIGINT);
    int rc = finish(pid);
    CHECK(rc == 130);
    CHECK(access(p("run/checkpoint.safetensors"), R_OK) == 0);
    CHECK(access(p("run/model.safetensors"), F_OK) != 0); /* the model comes at the end */
    int rows = test_count_lines(p("run/history.csv"));
    CHECK(rows >= 2 && rows < 41); /* the header and the finished epochs */
    char log[4096] = "";
    f = fopen(p("run.log"), "r");
    if (f) {
        log[fread(log, 1, sizeof log - 1, f)] = '\0';
        fclose(f);
    }
    if (!strstr(log, "--resume")) test_fail(__FILE__, __LINE__, "no resume hint in: %s", log);
    /* resumed to the end */
    CHECK(finish(start(p("m.ini"), p("run"), "--resume", p("resume.log"))) == 0);
    CHECK(same_weights(p("ref/model.safetensors"), p("run/model.safetensors")));
    CHECK(test_count_lines(p("run/history.csv")) == 41);
    /* a second Ctrl-C stops at once; the last checkpoint on disk stays whole */
    pid = start(p("m.ini"), p("twice"), NULL, p("twice.log"));
    for (int i = 0; i < 20000 && access(p("twice/checkpoint.safetensors"), F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    kill(pid, SIGINT);
    kill(pid, SIGINT);
    CHECK(finish(pid) == 130);
    dc_model *ck = dc_model_load(p("twice/checkpoint.safetensors"));
    CHECK(ck != NULL);
    dc_model_free(ck);
    /* nothing to resume from */
    CHECK(finish(start(p("m.ini"), p("none"), "--resume", p("none.log"))) == 1);
}

TEST(cli_inf_loss_stops_with_status_1_and_no_model) {
    if (!test_deepc_path()) SKIP("build/deepc is missing");
    mkdir(p(""), 0700);
    write_data(p("reg.csv"), true);
    FILE *f = fopen(p("nan.ini"), "w");
    if (!f) return;
    fprintf(f, "[model]\nname = n\n[data]\ntrain_csv = reg.csv\n[train]\noptimizer = sgd\n"
               "learning_rate = 1000\nloss = mse\nbatch_size = 32\nepochs = 5\n"
               "[Dense]\nunits = 1\n");
    fclose(f);
    CHECK(finish(start(p("nan.ini"), p("nan"), NULL, p("nan.log"))) == 1);
    char log[4096] = "";
    f = fopen(p("nan.log"), "r");
    if (f) {
        log[fread(log, 1, sizeof log - 1, f)] = '\0';
        fclose(f);
    }
    if (!strstr(log, "TerminateOnNaN") || !strstr(log, "batch"))
        test_fail(__FILE__, __LINE__, "no NaN message in: %s", log);
    CHECK(access(p("nan/model.safetensors"), F_OK) != 0);
}
