/* test_seqcli.c — the sequence side of the deepc command, run as a user runs it
 * on fixture text this file writes: predict --text on a tiny text classifier,
 * and (with the recurrent layers) train/generate/eval/summary of a char LSTM. */
#include "test.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* build/deepc beside build/test_runner, or NULL. */
static const char *deepc(void) {
    static char path[PATH_MAX];
    char self[PATH_MAX - 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return NULL;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash) return NULL;
    *slash = '\0';
    snprintf(path, sizeof path, "%s/deepc", self);
    return access(path, X_OK) == 0 ? path : NULL;
}

/* Runs "deepc ARGS" (stderr into out); returns the exit code. */
static int run(const char *args, char *out, size_t cap) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", deepc(), args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/seqcli/%s", test_tmpdir(), name);
    return buf[k];
}

static bool write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* A saved model file with no text vectorizer in it: Dense(2) on (3) inputs. */
static const char *plain_model(void) {
    const char *path = tmp("plain.safetensors");
    dc_model *m = dc_sequential_new(NULL);
    dc_status s = dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2}));
    if (s == DC_OK) s = dc_model_build(m, DC_DIMS(3), 1);
    if (s == DC_OK) s = dc_model_save(m, path);
    dc_model_free(m);
    return s == DC_OK ? path : NULL;
}

static bool setup(void) {
    if (!deepc()) return false;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/seqcli", test_tmpdir());
    mkdir(dir, 0700);
    return true;
}

/* The probability printed for class `name` in predict's output (-1 if absent). */
static double prob_of(const char *out, const char *name) {
    char key[64];
    snprintf(key, sizeof key, ". %-16s", name);
    const char *p = strstr(out, key);
    if (!p) return -1;
    const char *nl = strchr(p, '\n'), *sp = p;
    for (const char *q = p; *q && q != nl; q++)
        if (*q == ' ') sp = q;
    return strtod(sp + 1, NULL);
}

TEST(cli_predict_text_prints_class_probabilities) {
    if (!setup()) SKIP("build/deepc is not built");
    FILE *f = fopen(tmp("moods.csv"), "w");
    if (!f) return;
    fprintf(f, "text,label\n");
    const char *good[] = {"great", "lovely", "superb", "fine"}, *bad[] = {"awful", "dull", "bad", "poor"};
    for (int i = 0; i < 40; i++)
        fprintf(f, "\"A %s %s day.\",%s\n", i % 2 ? good[i / 2 % 4] : bad[i / 2 % 4],
                i % 3 ? "sunny" : "long", i % 2 ? "happy" : "sad");
    fclose(f);
    CHECK(write_file(tmp("moods.ini"),
                     "[model]\n[data]\ntrain_text_csv = moods.csv\ntext_column = text\n"
                     "label_column = label\ntest_every = 4\nvalidation = test\n"
                     "[TextVectorization]\noutput_mode = multi_hot\n[train]\n"
                     "loss = sparse_categorical_crossentropy\nmetrics = accuracy\n"
                     "learning_rate = 0.05\nepochs = 20\nbatch_size = 8\nseed = 1\n"
                     "[Dense]\nunits = 2\nactivation = softmax\n"));
    static char out[1 << 16];
    char args[2048];
    snprintf(args, sizeof args, "train %s --out %s --quiet --threads 1", tmp("moods.ini"),
             tmp("moods"));
    int rc = run(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) {
        printf("%s\n", out);
        return;
    }
    const char *model = tmp("moods/model.safetensors");
    snprintf(args, sizeof args, "predict %s --text \"What a superb day!\"", model);
    CHECK(run(args, out, sizeof out) == 0);
    CHECK(strstr(out, "text \"What a superb day!\":") != NULL);
    double happy = prob_of(out, "happy"), sad = prob_of(out, "sad");
    CHECK(happy > 0.5 && sad >= 0 && sad < 0.5);
    CHECK_NEAR(happy + sad, 1.0, 2e-3);
    CHECK(strstr(out, "1. happy") != NULL);
    snprintf(args, sizeof args, "predict %s --text \"so dull and poor\" --top 1", model);
    CHECK(run(args, out, sizeof out) == 0);
    CHECK(strstr(out, "1. sad") != NULL && strstr(out, "2. ") == NULL);
    /* bad usage: text and an image, or text for a model without a vectorizer */
    snprintf(args, sizeof args, "predict %s x.png --text hi", model);
    CHECK(run(args, out, sizeof out) == 2 && strstr(out, "--text") != NULL);
    snprintf(args, sizeof args, "predict --text hi");
    CHECK(run(args, out, sizeof out) == 2);
    const char *plain = plain_model();
    CHECK(plain != NULL);
    snprintf(args, sizeof args, "predict %s --text hi", plain ? plain : "none");
    CHECK(run(args, out, sizeof out) == 1);
    CHECK(strstr(out, "text vectorizer") != NULL);
}
