/* test_cli.c — the deepc command run as a user runs it (popen), on a tiny
 * synthetic IDX dataset written into the scratch folder: train, eval, predict,
 * summary and visualize, their files, output and exit codes, and bad usage. */
#include "test.h"
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool file_starts_with(const char *path, const char *magic, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char buf[64] = {0};
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && !memcmp(buf, magic, n);
}

static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/cli/%s", test_tmpdir(), name);
    return buf[k];
}

static bool have_conv(void) {
    const char *k[] = {"filters", "kernel_size"}, *v[] = {"2", "3"};
    dc_layer *l = dc_layer_from_config("Conv2D", k, v, 2);
    dc_layer_free(l);
    dc_clear_error();
    return l != NULL;
}

/* Writes the data and the model file; returns false if deepc is missing. */
static bool setup(void) {
    if (!test_deepc_path()) return false;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cli", test_tmpdir());
    mkdir(dir, 0700);
    test_write_idx(tmp("train-images.idx"), tmp("train-labels.idx"), 96, 1);
    test_write_idx(tmp("test-images.idx"), tmp("test-labels.idx"), 30, 2);
    FILE *f = fopen(tmp("tiny.ini"), "w");
    if (!f) return false;
    fprintf(f, "; a tiny model for the CLI tests\n[model]\nname = tiny\n\n[data]\n"
               "train_images = train-images.idx\ntrain_labels = train-labels.idx\n"
               "test_images = test-images.idx\ntest_labels = test-labels.idx\nvalidation = test\n\n"
               "[train]\noptimizer = adam\nlearning_rate = 0.01\n"
               "loss = sparse_categorical_crossentropy\nmetrics = accuracy\nbatch_size = 16\n"
               "epochs = 1\nseed = 3\n\n");
    if (have_conv())
        fprintf(f, "[Conv2D]\nfilters = 4\nkernel_size = 3\nactivation = relu\n\n[MaxPooling2D]\n"
                   "pool_size = 2\n\n");
    fprintf(f, "[Flatten]\n\n[Dense]\nunits = 8\nactivation = relu\n\n[Dense]\nunits = 3\n");
    fclose(f);
    return true;
}

TEST(cli_train_eval_predict_visualize) {
    if (!setup()) SKIP("build/deepc is not built");
    static char out[1 << 16];
    char args[2048];
    snprintf(args, sizeof args, "train %s --out %s --epochs 2 --threads 1", tmp("tiny.ini"),
             tmp("run"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc != 0) {
        printf("%s\n", out);
        return;
    }
    CHECK(strstr(out, "Epoch 2/2") != NULL);
    CHECK(strstr(out, "Test loss: ") != NULL && strstr(out, "test accuracy: ") != NULL);
    CHECK(strstr(out, "model.safetensors") != NULL);
    CHECK(file_starts_with(tmp("run/curves.png"), "\x89PNG\r\n\x1a\n", 8));
    CHECK(file_starts_with(tmp("run/history.csv"), "epoch,loss,accuracy,val_loss,val_accuracy", 41));
    FILE *h = fopen(tmp("run/history.csv"), "r");
    int lines = 0;
    for (int c; h && (c = fgetc(h)) != EOF;) lines += c == '\n';
    if (h) fclose(h);
    CHECK(lines == 3); /* header and 2 epochs */
    dc_safetensors *st = dc_safetensors_load(tmp("run/model.safetensors"));
    CHECK(st != NULL);
    if (st) {
        const char *names = dc_safetensors_metadata(st, "deepc_class_names");
        CHECK(names && !strcmp(names, "0\n1\n2"));
        const char *data = dc_safetensors_metadata(st, "deepc_data");
        CHECK(data && strstr(data, "test-images.idx,") && strstr(data, "test-labels.idx"));
        dc_safetensors_free(st);
    }

    /* eval on the test data recorded in the model file, and on --data */
    snprintf(args, sizeof args, "eval %s", tmp("run/model.safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    float loss = -1, acc = -1;
    const char *l = strstr(out, "loss: "), *a = strstr(out, "\naccuracy: ");
    CHECK(l == out && a != NULL);
    if (l) loss = strtof(l + 6, NULL);
    if (a) acc = strtof(a + 11, NULL);
    CHECK(loss > 0 && loss < 10);
    CHECK(acc >= 0 && acc <= 1);
    snprintf(args, sizeof args, "eval %s --data %s,%s", tmp("run/model.safetensors"),
             tmp("train-images.idx"), tmp("train-labels.idx"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "samples: 96") != NULL);

    /* predict: probabilities of every class sum to 1 */
    snprintf(args, sizeof args, "predict %s --index 4 --top 10", tmp("run/model.safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "test sample 4 (label 1") != NULL);
    double sum = 0;
    int rows = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        char *last = strrchr(line, ' ');
        if (line[0] == ' ' && last) {
            sum += strtod(last + 1, NULL);
            rows++;
        }
    }
    CHECK(rows == 3);
    CHECK_NEAR(sum, 1.0, 2e-3);

    /* predict an RGB PNG of another size: converted to gray and resized */
    float rgb[12 * 10 * 3];
    for (int i = 0; i < 12 * 10 * 3; i++) rgb[i] = (i / 30) < 4 ? 0.9f : 0.1f;
    CHECK_OK(dc_image_save_png(tmp("top.png"), rgb, 12, 10, 3));
    snprintf(args, sizeof args, "predict %s %s", tmp("run/model.safetensors"), tmp("top.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "top.png:") != NULL && strstr(out, " 1. ") != NULL);

    /* summary of the model file and of the trained model agree */
    char out2[8192];
    snprintf(args, sizeof args, "summary %s", tmp("tiny.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    snprintf(args, sizeof args, "summary %s", tmp("run/model.safetensors"));
    CHECK(test_run_deepc(args, out2, sizeof out2) == 0);
    CHECK(strstr(out, "Total params") != NULL && !strcmp(out, out2));

    /* visualize: filters and feature maps */
    snprintf(args, sizeof args, "visualize %s --index 0 --out %s", tmp("run/model.safetensors"),
             tmp("vis"));
    rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) printf("%s\n", out);
    CHECK(file_starts_with(tmp("vis/filters.png"), "\x89PNG\r\n\x1a\n", 8));
    CHECK(file_starts_with(tmp("vis/feature_maps.png"), "\x89PNG\r\n\x1a\n", 8));
    if (have_conv()) {
        CHECK(file_starts_with(tmp("vis/feature_maps_conv2d.png"), "\x89PNG", 4));
        dc_tensor *img = dc_image_load(tmp("vis/filters.png"), 0);
        CHECK(img && img->ndim == 3 && img->shape[1] > 40);
        dc_tensor_free(img);
    }
    snprintf(args, sizeof args, "visualize %s --index 0 --layer nope --out %s",
             tmp("run/model.safetensors"), tmp("vis"));
    CHECK(test_run_deepc(args, out, sizeof out) == 1);
    CHECK(strstr(out, "has no layer 'nope'") != NULL);

    /* a model file that names only some classes: every row keeps the same columns */
    const char *key = "deepc_class_names", *val = "zero";
    CHECK_OK(dc_model_file_set_metadata(tmp("run/model.safetensors"), &key, &val, 1));
    snprintf(args, sizeof args, "predict %s %s --top 3", tmp("run/model.safetensors"),
             tmp("top.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    char want[3][64];
    snprintf(want[0], sizeof want[0], ". %-16s %d  0.", "zero", 0);
    snprintf(want[1], sizeof want[1], ". %-16s %d  0.", "class 1", 1);
    snprintf(want[2], sizeof want[2], ". %-16s %d  0.", "class 2", 2);
    for (int k = 0; k < 3; k++)
        if (!strstr(out, want[k])) test_fail(__FILE__, __LINE__, "no \"%s\" in:\n%s", want[k], out);
}

TEST(cli_bad_usage_and_errors) {
    if (!setup()) SKIP("build/deepc is not built");
    char out[8192], args[2048];
    CHECK(test_run_deepc("", out, sizeof out) == 2);
    CHECK(test_run_deepc("frobnicate", out, sizeof out) == 2 && strstr(out, "unknown command 'frobnicate'"));
    CHECK(test_run_deepc("--help", out, sizeof out) == 0 && strstr(out, "train FILE.ini"));
    const char *verbs[] = {"train", "eval", "predict", "summary", "visualize"};
    for (int i = 0; i < 5; i++) {
        snprintf(args, sizeof args, "%s --help", verbs[i]);
        if (test_run_deepc(args, out, sizeof out) != 0 || !strstr(out, "usage: deepc"))
            test_fail(__FILE__, __LINE__, "deepc %s --help: %s", verbs[i], out);
        if (test_run_deepc(verbs[i], out, sizeof out) != 2 || !strstr(out, "--help"))
            test_fail(__FILE__, __LINE__, "deepc %s with nothing: %s", verbs[i], out);
        snprintf(args, sizeof args, "%s x --bogus", verbs[i]);
        if (test_run_deepc(args, out, sizeof out) != 2 || !strstr(out, "unknown option '--bogus'"))
            test_fail(__FILE__, __LINE__, "deepc %s --bogus: %s", verbs[i], out);
    }
    snprintf(args, sizeof args, "train %s --epochs abc", tmp("tiny.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 2 && strstr(out, "--epochs: 'abc' is not a whole number"));
    snprintf(args, sizeof args, "train %s --batch-size", tmp("tiny.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 2 && strstr(out, "--batch-size needs a value"));
    CHECK(test_run_deepc("predict m.safetensors a.png --index 3", out, sizeof out) == 2);
    CHECK(strstr(out, "not both") != NULL);
    /* errors that are not usage: exit 1 with the library's message */
    CHECK(test_run_deepc("train /nonexistent/x.ini", out, sizeof out) == 1);
    CHECK(strstr(out, "deepc train: /nonexistent/x.ini: cannot open") != NULL);
    CHECK(test_run_deepc("eval /nonexistent/m.safetensors", out, sizeof out) == 1);
    CHECK(strstr(out, "deepc eval: ") != NULL && strstr(out, "/nonexistent/m.safetensors"));
    FILE *f = fopen(tmp("bad.ini"), "w");
    if (f) {
        fprintf(f, "[model]\n[data]\ndataset = fashion-mnist\n[train]\nloss = mse\n[Dense]\n"
                   "units = many\n");
        fclose(f);
    }
    snprintf(args, sizeof args, "train %s", tmp("bad.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 1);
    CHECK(strstr(out, "bad.ini:7: [Dense] units: 'many'") != NULL);
    snprintf(args, sizeof args, "summary %s", tmp("bad.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 1 && strstr(out, "bad.ini:7:"));
}

TEST(cli_image_folder_keeps_class_names) {
    if (!setup()) SKIP("build/deepc is not built");
    /* two classes of 6x6 RGB images: bright left half or bright right half */
    const char *cls[2] = {"left", "right"};
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/folder", tmp(""));
    mkdir(dir, 0700);
    for (int c = 0; c < 2; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, cls[c]);
        mkdir(path, 0700);
        for (int k = 0; k < 6; k++) {
            float px[6 * 6 * 3];
            for (int i = 0; i < 6 * 6; i++)
                for (int ch = 0; ch < 3; ch++)
                    px[i * 3 + ch] = ((i % 6) < 3) == (c == 0) ? 0.8f + 0.03f * (float)k : 0.1f;
            snprintf(path, sizeof path, "%s/%s/%d.png", dir, cls[c], k);
            CHECK_OK(dc_image_save_png(path, px, 6, 6, 3));
        }
    }
    FILE *f = fopen(tmp("folder.ini"), "w");
    if (!f) return;
    fprintf(f, "[model]\n[data]\ntrain_dir = folder\ntest_dir = folder\nchannels = 1\n"
               "image_size = 6,6\n[train]\nloss = sparse_categorical_crossentropy\nmetrics = "
               "accuracy\nlearning_rate = 0.05\nepochs = 3\nbatch_size = 4\n[Flatten]\n[Dense]\n"
               "units = 2\nactivation = softmax\n");
    fclose(f);
    char out[8192], args[2048];
    snprintf(args, sizeof args, "train %s --out %s --quiet", tmp("folder.ini"), tmp("frun"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) {
        printf("%s\n", out);
        return;
    }
    /* a 12x12 RGB file: converted to gray and resized to 6x6 */
    float big[12 * 12 * 3];
    for (int i = 0; i < 12 * 12; i++)
        for (int ch = 0; ch < 3; ch++) big[i * 3 + ch] = (i % 12) >= 6 ? 0.9f : 0.1f;
    CHECK_OK(dc_image_save_png(tmp("right.png"), big, 12, 12, 3));
    snprintf(args, sizeof args, "predict %s %s", tmp("frun/model.safetensors"), tmp("right.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    const char *r = strstr(out, "right "), *l = strstr(out, "left ");
    CHECK(r && l); /* named classes, both listed */
    snprintf(args, sizeof args, "eval %s", tmp("frun/model.safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0 && strstr(out, "samples: 12"));
}

/* Small defects a new user met: each message says what is wrong, eval names
 * the metrics of a file saved through the C API, a batch larger than the data
 * is clamped with a notice, and `make demo` lists every file it wrote. */
TEST(cli_new_user_defects) {
    if (!setup()) SKIP("build/deepc is not built");
    static char out[1 << 16];
    char args[4096];
    /* a model saved with the C API: no deepc_metrics key, the metrics compiled */
    dc_model *m = dc_sequential_new("capi");
    dc_model_add(m, dc_layer_flatten());
    dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3}));
    dc_compile_options c = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                            .optimizer = {.kind = DC_OPT_ADAM, .learning_rate = 0.01f},
                            .metrics = {DC_METRIC_ACCURACY}};
    CHECK_OK(dc_model_compile(m, &c));
    CHECK_OK(dc_model_build(m, DC_DIMS(8, 8, 1), 1));
    CHECK_OK(dc_model_save(m, tmp("capi.safetensors")));
    dc_model_free(m);
    snprintf(args, sizeof args, "eval %s --data %s,%s", tmp("capi.safetensors"),
             tmp("test-images.idx"), tmp("test-labels.idx"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    if (!strstr(out, "\naccuracy: ")) test_fail(__FILE__, __LINE__, "eval printed:\n%s", out);

    /* an MLP has no convolutions: visualize says so */
    snprintf(args, sizeof args, "visualize %s --index 0 --data %s,%s --out %s",
             tmp("capi.safetensors"), tmp("test-images.idx"), tmp("test-labels.idx"),
             tmp("capi_vis"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    if (!strstr(out, "the model has no convolution layers") || strstr(out, "0 convolution"))
        test_fail(__FILE__, __LINE__, "visualize printed:\n%s", out);
    /* filters.png: large, signed weights blue and red on one scale, a colour bar */
    dc_tensor *img = dc_image_load(tmp("capi_vis/filters.png"), 3);
    CHECK(img && img->shape[0] >= 150 && img->shape[1] >= 400);
    int reds = 0, blues = 0;
    for (int64_t i = 0; img && i < img->shape[0] * img->shape[1]; i++) {
        const float *p = img->data + i * 3;
        reds += p[0] > p[2] + 0.3f;
        blues += p[2] > p[0] + 0.3f;
    }
    CHECK(reds > 100 && blues > 100);
    dc_tensor_free(img);

    /* a model description given where a model file belongs */
    snprintf(args, sizeof args, "eval %s", tmp("tiny.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 1);
    CHECK(strstr(out, "is not a safetensors model file") && strstr(out, "deepc train"));
    CHECK(strstr(out, "absurd") == NULL);

    /* a data path that is not there */
    snprintf(args, sizeof args, "eval %s --data /no/such/dir", tmp("capi.safetensors"));
    CHECK(test_run_deepc(args, out, sizeof out) == 1);
    if (!strstr(out, "'/no/such/dir' does not exist"))
        test_fail(__FILE__, __LINE__, "eval --data /no/such/dir printed:\n%s", out);

    /* a batch larger than the data: one batch of all, with a notice; 1 thread */
    snprintf(args, sizeof args, "train %s --out %s --epochs 1 --threads 1 --batch-size 16777216",
             tmp("tiny.ini"), tmp("bigbatch"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    if (!strstr(out, "batch_size 16777216 is more than the 96 training samples"))
        test_fail(__FILE__, __LINE__, "train printed no notice:\n%s", out);
    CHECK(strstr(out, "(1 thread)") != NULL && strstr(out, "(1 threads)") == NULL);

    /* make demo's closing list names the feature maps it wrote */
    if (have_conv()) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%.1000s", test_deepc_path());
        *strrchr(dir, '/') = '\0';
        snprintf(args, sizeof args,
                 "BUILD=%s MODEL=%s OUT=%s EPOCHS=1 sh %s > %s 2>&1", dir, tmp("tiny.ini"),
                 tmp("demo"), test_path("../scripts/demo.sh"), tmp("demo.txt"));
        CHECK(system(args) == 0);
        FILE *f = fopen(tmp("demo.txt"), "r");
        size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
        out[n] = '\0';
        if (f) fclose(f);
        const char *list = strstr(out, "Files in");
        if (!list || !strstr(list, "demo/feature_maps_conv2d.png") ||
            !strstr(list, "demo/feature_maps.png"))
            test_fail(__FILE__, __LINE__, "demo printed:\n%s", out);
    }
}

/* A model file keeps its training inputs' statistics; predict warns on an
 * input far from them (an inverted image: dark bars on white) and suggests
 * --invert, which takes 1 - x and silences the warning. */
TEST(cli_predict_warns_on_inputs_unlike_training) {
    if (!setup()) SKIP("build/deepc is not built");
    static char out[1 << 16];
    char args[4096];
    snprintf(args, sizeof args, "train %s --out %s --epochs 3 --quiet", tmp("tiny.ini"),
             tmp("statrun"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) {
        printf("%s\n", out);
        return;
    }
    dc_safetensors *st = dc_safetensors_load(tmp("statrun/model.safetensors"));
    const char *stats = st ? dc_safetensors_metadata(st, "deepc_input_stats") : NULL;
    double mean = -1, sd = -1, lo = -1, hi = -1;
    CHECK(stats && sscanf(stats, "%lf %lf %lf %lf", &mean, &sd, &lo, &hi) == 4);
    CHECK(mean > 0.2 && mean < 0.6 && sd > 0.1 && lo >= 0 && lo < 0.05 && hi > 0.95 && hi <= 1);
    dc_safetensors_free(st);
    /* a light bar in the middle on black, as trained (class 1), and its inverse */
    float px[64], inv[64];
    for (int i = 0; i < 64; i++) {
        px[i] = (i / 8) / 3 == 1 ? 0.9f : 0.05f;
        inv[i] = 1.0f - px[i];
    }
    CHECK_OK(dc_image_save_png(tmp("bar.png"), px, 8, 8, 1));
    CHECK_OK(dc_image_save_png(tmp("bar_inverted.png"), inv, 8, 8, 1));
    snprintf(args, sizeof args, "predict %s %s", tmp("statrun/model.safetensors"), tmp("bar.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    if (strstr(out, "warning")) test_fail(__FILE__, __LINE__, "a training-like image warned:\n%s", out);
    snprintf(args, sizeof args, "predict %s %s", tmp("statrun/model.safetensors"),
             tmp("bar_inverted.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    if (!strstr(out, "warning: this input is unlike the training images") || !strstr(out, "--invert"))
        test_fail(__FILE__, __LINE__, "no warning for an inverted image:\n%s", out);
    snprintf(args, sizeof args, "predict %s %s --invert --top 1", tmp("statrun/model.safetensors"),
             tmp("bar_inverted.png"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    if (strstr(out, "warning") || !strstr(out, " 1. 1 "))
        test_fail(__FILE__, __LINE__, "--invert:\n%s", out);
}

TEST(cli_train_text_keeps_vectorizer) {
    if (!setup()) SKIP("build/deepc is not built");
    FILE *f = fopen(tmp("reviews.csv"), "w");
    if (!f) return;
    fprintf(f, "text,label\n");
    for (int i = 0; i < 12; i++)
        fprintf(f, "\"%s, %s!\",%s\n", i % 2 ? "Great" : "Awful", i % 3 ? "film" : "movie",
                i % 2 ? "pos" : "neg");
    fclose(f);
    f = fopen(tmp("text.ini"), "w");
    if (!f) return;
    fprintf(f, "[model]\n[data]\ntrain_text_csv = reviews.csv\ntext_column = text\nlabel_column = "
               "label\ntest_every = 3\nvalidation = test\n[TextVectorization]\noutput_mode = "
               "multi_hot\n[train]\nloss = sparse_categorical_crossentropy\nmetrics = accuracy\n"
               "epochs = 2\nbatch_size = 4\n[Dense]\nunits = 2\nactivation = softmax\n");
    fclose(f);
    char out[8192], args[2048];
    snprintf(args, sizeof args, "train %s --out %s --quiet", tmp("text.ini"), tmp("trun"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) {
        printf("%s\n", out);
        return;
    }
    dc_text_vectorizer *v = dc_text_vectorizer_from_model_file(tmp("trun/model.safetensors"));
    CHECK(v != NULL);
    /* adapted on the 8 training rows only (every 3rd row is a test row): each
     * word 4 times, so the tie rule orders them: bytes descending */
    CHECK(v && dc_text_vectorizer_vocabulary_size(v) == 5);
    const char *want[] = {"[UNK]", "movie", "great", "film", "awful"};
    for (int i = 0; v && i < 5; i++) CHECK(!strcmp(dc_text_vectorizer_token(v, i), want[i]));
    CHECK(v && dc_text_vectorizer_get_options(v).output_mode == DC_TEXT_MULTI_HOT);
    dc_text_vectorizer_free(v);
    /* eval finds the test rows through the model file's data spec and vectorizer */
    snprintf(args, sizeof args, "eval %s", tmp("trun/model.safetensors"));
    rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0 && strstr(out, "samples: 4"));
    if (rc) printf("%s\n", out);
}

/* --steps-per-epoch: epochs of N batches, history.csv with seconds per epoch. */
TEST(cli_train_steps_per_epoch) {
    if (!setup()) SKIP("build/deepc is not built");
    static char out[1 << 16];
    char args[2048];
    snprintf(args, sizeof args, "train %s --out %s --epochs 3 --steps-per-epoch 2 --threads 1",
             tmp("tiny.ini"), tmp("spe"));
    int rc = test_run_deepc(args, out, sizeof out);
    CHECK(rc == 0);
    if (rc) {
        printf("%s\n", out);
        return;
    }
    CHECK(strstr(out, "Epoch 3/3") != NULL && strstr(out, "2/2 - ") != NULL);
    CHECK(strstr(out, "6/6") == NULL); /* 96 samples in batches of 16 would be 6 */
    FILE *h = fopen(tmp("spe/history.csv"), "r");
    char line[512];
    int rows = 0;
    bool seconds_ok = true;
    int col = -1;
    while (h && fgets(line, sizeof line, h)) {
        char *save = NULL;
        int k = 0;
        for (char *c = strtok_r(line, ",\n", &save); c; c = strtok_r(NULL, ",\n", &save), k++) {
            if (!rows && !strcmp(c, "seconds")) col = k;
            if (rows && k == col) seconds_ok = seconds_ok && strtod(c, NULL) >= 0.0;
        }
        rows++;
    }
    if (h) fclose(h);
    CHECK(col >= 0 && rows == 4 && seconds_ok);
    snprintf(args, sizeof args, "train %s --steps-per-epoch 0", tmp("tiny.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 2);
    CHECK(strstr(out, "--steps-per-epoch") != NULL);
}

/* --tensorboard: event files under DIR/logs/train and DIR/logs/validation,
 * the filters image among them when the model has a Conv2D. */
TEST(cli_train_tensorboard_logs) {
    if (!setup()) SKIP("build/deepc is not built");
    static char out[1 << 16];
    char args[2048];
    snprintf(args, sizeof args, "train %s --out %s --epochs 2 --threads 1 --quiet --tensorboard",
             tmp("tiny.ini"), tmp("run_tb"));
    CHECK(test_run_deepc(args, out, sizeof out) == 0);
    CHECK(strstr(out, "run_tb/logs/ (tensorboard --logdir") != NULL);
    const char *sub[2] = {"run_tb/logs/train", "run_tb/logs/validation"};
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(tmp(sub[k]));
        int files = 0;
        for (struct dirent *e; d && (e = readdir(d));)
            files += !strncmp(e->d_name, "events.out.tfevents.", 20);
        if (d) closedir(d);
        CHECK(files == (k == 0 && have_conv() ? 2 : 1)); /* the filters image has its own file */
    }
    snprintf(args, sizeof args, "train %s --out %s/x --epochs 1 --quiet --tensorboard",
             tmp("tiny.ini"), tmp("tiny.ini"));
    CHECK(test_run_deepc(args, out, sizeof out) == 1 && strstr(out, "tiny.ini") != NULL);
}
