/* test_config.c — model files: the INI reader (sections in order, repeated and
 * empty ones, line numbers), the checks of every section and key with messages
 * naming file, line and key, building a model from a file, the shipped models,
 * extra model-file metadata and per-layer outputs. */
#include "test.h"
#include "io/config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define HEAD                                                                                   \
    "[model]\nname = t\ninput_shape = 8,8,1\n\n[data]\ntrain_images = a.idx\ntrain_labels = "  \
    "b.idx\n\n[train]\noptimizer = adam\nloss = sparse_categorical_crossentropy\nmetrics = "   \
    "accuracy\n"
/* HEAD is 12 lines; the first layer section starts on line 13. */

static dc_run_config *parse(const char *text) { return dc_run_config_parse(text, "m.ini"); }

/* parse must fail with a message containing want. */
static void check_bad(const char *text, const char *want, int line) {
    dc_run_config *c = parse(text);
    if (c) {
        test_fail(__FILE__, line, "parsed, wanted an error with \"%s\"", want);
        dc_run_config_free(c);
        return;
    }
    if (!strstr(dc_last_error(), want))
        test_fail(__FILE__, line, "message \"%s\" lacks \"%s\"", dc_last_error(), want);
}
#define BAD(text, want) check_bad(text, want, __LINE__)

TEST(ini_keeps_sections_in_order_with_lines) {
    const char *t = "; comment\n[model]\nname = x\n\n[Dense]\nunits = 4\n[Flatten]\n"
                    "[Dense  out]\n  units = 2 ; inline comment\nactivation: softmax\n";
    dc_ini_doc *d = dc_ini_parse(t, strlen(t), "a.ini");
    CHECK(d != NULL);
    if (!d) return;
    CHECK(d->n_sections == 4);
    CHECK(!strcmp(d->sections[0].name, "model") && d->sections[0].line == 2);
    CHECK(!strcmp(d->sections[1].name, "Dense") && d->sections[1].line == 5);
    CHECK(d->sections[1].n_entries == 1 && d->sections[1].entries[0].line == 6);
    CHECK(!strcmp(d->sections[2].name, "Flatten") && d->sections[2].n_entries == 0);
    CHECK(!strcmp(d->sections[3].name, "Dense  out") && d->sections[3].line == 8);
    const dc_ini_entry *e = dc_ini_find(&d->sections[3], "units");
    CHECK(e && !strcmp(e->value, "2") && e->line == 9);
    e = dc_ini_find(&d->sections[3], "activation");
    CHECK(e && !strcmp(e->value, "softmax") && e->line == 10);
    dc_ini_free(d);
}

TEST(ini_errors_name_file_and_line) {
    struct {
        const char *text, *want;
    } cases[] = {
        {"[a]\nx = 1\nnot a key\n", "b.ini:3: expected '[section]' or 'key = value'"},
        {"x = 1\n[a]\n", "b.ini:1: key 'x' comes before any [section]"},
        {"[a]\nx = 1\ny = 2\nx = 3\n", "b.ini:4: [a] x: given twice (first on line 2)"},
        {"[a]\nx = 1\n  y = 2\n", "b.ini:3: an indented line would continue the value above"},
        {"[a\nx = 1\n", "b.ini:1: expected"},
        {"[a]\n[Dense] units = 3\n", "b.ini:2: text after the section header '[Dense]': 'units = 3'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dc_ini_doc *d = dc_ini_parse(cases[i].text, strlen(cases[i].text), "b.ini");
        CHECK(d == NULL);
        dc_ini_free(d);
        CHECK(dc_last_status() == DC_ERR_FORMAT);
        if (!strstr(dc_last_error(), cases[i].want))
            test_fail(__FILE__, __LINE__, "case %zu: \"%s\" lacks \"%s\"", i, dc_last_error(),
                      cases[i].want);
    }
    /* A comment may follow a section header. */
    const char *commented = "[a] ; the first\nx = 1\n";
    dc_ini_doc *ok = dc_ini_parse(commented, strlen(commented), "b.ini");
    CHECK(ok && ok->n_sections == 1 && ok->sections[0].n_entries == 1);
    dc_ini_free(ok);
    char longline[400];
    memset(longline, 'a', sizeof longline);
    memcpy(longline, "[a]\nk = ", 8);
    longline[sizeof longline - 1] = '\0';
    CHECK(dc_ini_parse(longline, strlen(longline), "c.ini") == NULL);
    CHECK_MSG("c.ini:2: the line is longer than");
    const char nul[] = "[a]\nk = 1\0x\n";
    CHECK(dc_ini_parse(nul, sizeof nul - 1, "d.ini") == NULL);
    CHECK_MSG("d.ini:2: the line holds a NUL byte");
    CHECK(dc_ini_load("/nonexistent/x.ini") == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    CHECK_MSG("/nonexistent/x.ini: cannot open");
}

TEST(config_reads_every_section) {
    dc_run_config *c = parse(HEAD "batch_size = 16\nepochs = 3\nseed = 7\nlearning_rate = 1e-3\n"
                                  "beta_1 = 0.85\n[EarlyStopping]\nmonitor = loss\npatience = 2\n"
                                  "[Flatten]\n[Dense]\nunits = 16\nactivation = relu\n"
                                  "[Dropout]\nrate = 0.2\n[Dense out]\nunits = 3\n");
    CHECK(c != NULL);
    if (!c) {
        printf("    %s\n", dc_last_error());
        return;
    }
    CHECK(!strcmp(dc_run_config_name(c), "t"));
    CHECK(dc_run_config_epochs(c) == 3);
    CHECK(dc_run_config_batch_size(c) == 16);
    CHECK(dc_run_config_seed(c) == 7);
    CHECK(dc_run_config_num_layers(c) == 4);
    CHECK(!strcmp(dc_run_config_layer_type(c, 0), "Flatten"));
    CHECK(!strcmp(dc_run_config_layer_type(c, 1), "Dense"));
    CHECK(!strcmp(dc_run_config_layer_type(c, 3), "Dense"));
    CHECK(dc_run_config_layer_line(c, 0) == 21);
    CHECK(dc_run_config_layer_line(c, 3) == 27);
    const char *m[4];
    CHECK(dc_run_config_metrics(c, m, 4) == 1 && !strcmp(m[0], "accuracy"));
    CHECK(!dc_run_config_outputs_probabilities(c));
    /* command-line overrides are checked like the file */
    CHECK_OK(dc_run_config_set(c, "train", "epochs", "5"));
    CHECK(dc_run_config_epochs(c) == 5);
    CHECK_ERR(dc_run_config_set(c, "train", "epochs", "abc"), DC_ERR_ARG,
              "command line: [train] epochs: 'abc' is not a whole number");
    CHECK_ERR(dc_run_config_set(c, "train", "batch_size", "0"), DC_ERR_ARG, "out of range");
    CHECK_ERR(dc_run_config_set(c, "Dense", "units", "3"), DC_ERR_ARG, "only [model]");
    CHECK(dc_run_config_epochs(c) == 5);
    /* the model it describes, built from [model] input_shape and compiled */
    dc_model *mod = dc_run_config_build_model(c, NULL);
    CHECK(mod != NULL);
    if (mod) {
        CHECK(dc_model_count_params(mod) == 64 * 16 + 16 + 16 * 3 + 3);
        CHECK(dc_model_get_layer(mod, "out") != NULL);
        int64_t s[DC_MAX_DIMS];
        CHECK(dc_model_input_shape(mod, s) == 3 && s[0] == 8 && s[2] == 1);
        CHECK(dc_model_output_shape(mod, s) == 1 && s[0] == 3);
    }
    dc_fit_options fo;
    CHECK_OK(dc_run_config_fit_options(c, NULL, &fo));
    CHECK(fo.epochs == 5 && fo.batch_size == 16 && fo.n_callbacks == 2);
    CHECK(fo.n_callbacks == 2 && fo.callbacks[1].kind == DC_CB_TERMINATE_ON_NAN); /* by default */
    CHECK(fo.callbacks && fo.callbacks[0].kind == DC_CB_EARLY_STOPPING &&
          fo.callbacks[0].patience == 2 && !strcmp(fo.callbacks[0].monitor, "loss"));
    dc_model_free(mod);
    dc_run_config_free(c);
}

TEST(config_bad_values_name_file_line_and_key) {
    BAD(HEAD "[Dense]\nunits = abc\n", "m.ini:14: [Dense] units: 'abc'");
    BAD(HEAD "[Flatten]\n[Dense]\nunits = 4\nunit = 4\n", "m.ini:16: [Dense] unknown option 'unit'");
    BAD(HEAD "[Dence]\nunits = 4\n", "m.ini:13: [Dence] unknown layer type 'Dence'");
    BAD(HEAD "[Dense]\nunits = 4\nactivation = relux\n", "m.ini:15: [Dense] activation:");
    BAD(HEAD "epochs = 1.5\n[Dense]\nunits = 4\n", "m.ini:13: [train] epochs: '1.5' is not a whole number");
    BAD(HEAD "batch_size = 0\n[Dense]\nunits = 4\n", "m.ini:13: [train] batch_size: '0' is out of range");
    BAD(HEAD "learning_rate = fast\n[Dense]\nunits = 4\n",
        "m.ini:13: [train] learning_rate: 'fast' is not a number");
    BAD(HEAD "learning_rate = -1\n[Dense]\nunits = 4\n", "m.ini:13: [train] learning_rate: '-1' is out of range");
    BAD(HEAD "epoch = 3\n[Dense]\nunits = 4\n", "m.ini:13: [train] unknown key 'epoch' (known: ");
    BAD(HEAD "optimizer = sgd\n[Dense]\nunits = 4\n", "m.ini:13: [train] optimizer: given twice (first on line 10)");
    BAD("[model]\n[data]\ndataset = fashion-mnist\n[train]\noptimizer = adamw\n",
        "m.ini:5: [train] optimizer: unknown value 'adamw' (known: sgd, adam");
    BAD("[model]\n[data]\ndataset = fashion-mnist\n[train]\nmetrics = accuracy, f1\n",
        "m.ini:5: [train] metrics: unknown value 'f1'");
    BAD(HEAD "amsgrad = maybe\n[Dense]\nunits = 4\n", "m.ini:13: [train] amsgrad: 'maybe' is not true or false");
    BAD(HEAD "clipnorm = 1\nclipvalue = 1\n[Dense]\nunits = 4\n", "m.ini:9: [train]: ");
    BAD(HEAD "[EarlyStopping]\nmonitor = val_los\n[Dense]\nunits = 4\n",
        "m.ini:14: [EarlyStopping] monitor: unknown value 'val_los'");
    BAD(HEAD "[ReduceLROnPlateau]\nfactor = 1.5\n[Dense]\nunits = 4\n", "m.ini:14: [ReduceLROnPlateau] factor:");
    BAD("[model]\ninput_shape = 28,x\n", "m.ini:2: [model] input_shape: '28,x' is not a list");
    BAD("[model]\ninput_shape = 28,0,1\n", "m.ini:2: [model] input_shape");
    BAD("[model]\nsize = 3\n", "m.ini:2: [model] unknown key 'size'");
}

TEST(config_structure_errors) {
    BAD("[data]\ndataset = fashion-mnist\n[train]\nloss = mse\n[Dense]\nunits = 1\n",
        "m.ini: no [model] section");
    BAD("[model]\n[train]\nloss = mse\n[Dense]\nunits = 1\n", "m.ini: no [data] section");
    BAD("[model]\n[data]\ndataset = fashion-mnist\n[Dense]\nunits = 1\n", "m.ini: no [train] section");
    BAD("[model]\n[data]\ndataset = fashion-mnist\n[train]\nloss = mse\n", "m.ini: no layers");
    BAD("[model]\n[data]\ndataset = fashion-mnist\n[train]\n[Dense]\nunits = 1\n",
        "m.ini:4: [train]: no loss");
    BAD(HEAD "[model]\nname = u\n[Dense]\nunits = 1\n", "m.ini:13: [model] given twice (first on line 1)");
    BAD("[model]\n[data]\n[train]\nloss = mse\n[Dense]\nunits = 1\n", "m.ini:2: [data]: no data");
    BAD("[model]\n[data]\ndataset = fashion-mnist\ntrain_csv = a.csv\n[train]\nloss = mse\n[Dense]\nunits = 1\n",
        "m.ini:2: [data]: give one kind of data");
    BAD("[model]\n[data]\ndataset = cifar\n", "m.ini:3: [data] dataset: unknown dataset 'cifar'");
    BAD("[model]\n[data]\ntrain_images = a\n[train]\nloss = mse\n[Dense]\nunits = 1\n",
        "m.ini:2: [data]: IDX data needs train_images and train_labels");
    BAD("[model]\n[data]\ntrain_csv = a.csv\nvalidation = test\n[train]\nloss = mse\n[Dense]\nunits = 1\n",
        "validation = test, but there is no test data");
    BAD(HEAD "[]\n", "m.ini:13: empty section name");
    BAD(HEAD "[Dense a b]\nunits = 1\n", "m.ini:13: [Dense a b]: write a layer section as");
    BAD(HEAD "[Dense a]\nname = b\nunits = 1\n", "m.ini:14: [Dense a] name: the section header already names");
}

TEST(config_repeated_and_empty_layer_sections_build_in_order) {
    dc_run_config *c = parse(HEAD "[Flatten]\n[Dense]\nunits = 5\n[Dense]\nunits = 4\n[Dense]\nunits = 3\n");
    CHECK(c != NULL);
    if (!c) return;
    CHECK(dc_run_config_num_layers(c) == 4);
    dc_model *m = dc_run_config_build_model(c, NULL);
    CHECK(m && dc_model_num_layers(m) == 4);
    if (m) {
        CHECK(!strcmp(dc_layer_name(dc_model_layer(m, 1)), "dense"));
        CHECK(!strcmp(dc_layer_name(dc_model_layer(m, 3)), "dense_2"));
        int64_t s[DC_MAX_DIMS];
        CHECK(dc_layer_output_shape(dc_model_layer(m, 2), s) == 1 && s[0] == 4);
        /* every layer's output for one input */
        dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
        dc_tensor *x = dc_tensor_full(DC_DIMS(2, 8, 8, 1), 0.5f);
        dc_tensor *outs[4] = {0};
        CHECK_OK(dc_model_call_collect(m, t, x, outs, 4));
        CHECK(outs[0] && outs[0]->ndim == 2 && outs[0]->shape[1] == 64);
        CHECK(outs[3] && outs[3]->shape[0] == 2 && outs[3]->shape[1] == 3);
        dc_tensor *y = dc_model_call(m, t, x, false);
        CHECK(y && outs[3] && !memcmp(y->data, outs[3]->data, 6 * sizeof(float)));
        CHECK_ERR(dc_model_call_collect(m, t, x, outs, 2), DC_ERR_ARG, "room for 2 outputs");
        dc_tensor *bad = dc_tensor_zeros(DC_DIMS(2, 8, 7, 1));
        CHECK_ERR(dc_model_call_collect(m, t, bad, outs, 4), DC_ERR_SHAPE, "does not match");
        dc_tensor_free(bad);
        dc_tensor_free(x);
        dc_tape_free(t);
    }
    dc_model_free(m);
    dc_run_config_free(c);
}

/* Fits the config's model on n random (8,8,1) samples; the history's lr
 * column (the rate each epoch starts with) in lr[0..epochs). */
static bool fit_history_lr(dc_run_config *c, int64_t n, float *lr, int epochs) {
    float *x = calloc((size_t)n * 64, sizeof *x), *y = calloc((size_t)n, sizeof *y);
    for (int64_t i = 0; i < n; i++) y[i] = (float)(i % 3);
    dc_dataset *d = dc_dataset_from_arrays(x, 3, (const int64_t[]){8, 8, 1}, y, 0,
                                           NULL, n, true);
    dc_model *m = d ? dc_run_config_build_model(c, d) : NULL;
    dc_fit_options fo;
    dc_history *h = NULL;
    bool ok = m && dc_run_config_fit_options(c, NULL, &fo) == DC_OK;
    fo.verbose = 0;
    ok = ok && dc_model_fit(m, d, &fo, &h) == DC_OK && dc_history_epochs(h) == epochs;
    const float *col = ok ? dc_history_get(h, "lr") : NULL;
    for (int e = 0; col && e < epochs; e++) lr[e] = col[e];
    if (!ok) printf("    %s\n", dc_last_error());
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(d);
    free(x);
    free(y);
    return ok && col;
}

TEST(config_learning_rate_schedules) {
    /* cosine decay over the whole run: 10 samples, batches of 4 -> 3 steps an
     * epoch; over 4 epochs (12 steps) epoch e starts at step 3e */
    dc_run_config *c = parse(HEAD "learning_rate = 0.01\nlearning_rate_schedule = cosine_decay\n"
                                  "batch_size = 4\nepochs = 4\n[Flatten]\n[Dense]\nunits = 3\n");
    CHECK(c != NULL);
    float lr[4] = {0};
    if (c && fit_history_lr(c, 10, lr, 4)) {
        for (int e = 0; e < 4; e++)
            CHECK_NEAR(lr[e], 0.005 * (1 + cos(M_PI * 3 * e / 12.0)), 1e-7);
    } else {
        CHECK(0);
    }
    /* with validation_split 0.2 the run is 8 samples: 2 steps an epoch, 8 steps */
    CHECK_OK(dc_run_config_set(c, "data", "validation_split", "0.2"));
    if (c && fit_history_lr(c, 10, lr, 4)) {
        for (int e = 0; e < 4; e++)
            CHECK_NEAR(lr[e], 0.005 * (1 + cos(M_PI * 2 * e / 8.0)), 1e-7);
    }
    dc_run_config_free(c);
    /* exponential decay, Keras' staircase: 0.1 * 0.5^floor(step / 3) */
    c = parse(HEAD "learning_rate = 0.1\nlearning_rate_schedule = exponential_decay\ndecay_steps = 3\n"
                   "decay_rate = 0.5\nstaircase = true\nbatch_size = 5\nepochs = 3\n"
                   "[Flatten]\n[Dense]\nunits = 3\n");
    CHECK(c != NULL);
    if (c && fit_history_lr(c, 10, lr, 3)) { /* 2 steps an epoch: steps 0, 2, 4 */
        CHECK_NEAR(lr[0], 0.1, 1e-7);
        CHECK_NEAR(lr[1], 0.1, 1e-7);
        CHECK_NEAR(lr[2], 0.05, 1e-7);
    }
    dc_run_config_free(c);
    /* cosine with an explicit span, a floor and SGD's default starting rate */
    c = parse(HEAD "optimizer = sgd\nlearning_rate_schedule = cosine_decay\ndecay_steps = 4\n"
                   "alpha = 0.1\nbatch_size = 5\nepochs = 3\n[Flatten]\n[Dense]\nunits = 3\n");
    CHECK(c == NULL); /* optimizer given twice (HEAD has adam) */
    c = parse("[model]\ninput_shape = 8,8,1\n[data]\ntrain_images = a\ntrain_labels = b\n[train]\n"
              "optimizer = sgd\nloss = sparse_categorical_crossentropy\n"
              "learning_rate_schedule = cosine_decay\ndecay_steps = 4\nalpha = 0.1\n"
              "batch_size = 5\nepochs = 3\n[Flatten]\n[Dense]\nunits = 3\n");
    CHECK(c != NULL);
    if (c && fit_history_lr(c, 10, lr, 3)) { /* steps 0, 2, 4: 0.01 * (0.1 + 0.9 * cosine) */
        CHECK_NEAR(lr[0], 0.01, 1e-8);
        CHECK_NEAR(lr[1], 0.01 * (0.1 + 0.9 * 0.5 * (1 + cos(M_PI * 2 / 4.0))), 1e-8);
        CHECK_NEAR(lr[2], 0.001, 1e-8);
    }
    dc_run_config_free(c);
}

TEST(config_learning_rate_schedule_errors) {
    BAD(HEAD "learning_rate_schedule = step\n[Dense]\nunits = 4\n",
        "m.ini:13: [train] learning_rate_schedule: unknown value 'step' (known: constant, "
        "cosine_decay, exponential_decay)");
    BAD(HEAD "decay_steps = 100\n[Dense]\nunits = 4\n",
        "m.ini:13: [train] decay_steps needs learning_rate_schedule = cosine_decay or exponential_decay");
    BAD(HEAD "learning_rate_schedule = constant\nalpha = 0.1\n[Dense]\nunits = 4\n",
        "m.ini:14: [train] alpha needs learning_rate_schedule");
    BAD(HEAD "learning_rate_schedule = exponential_decay\ndecay_rate = 0.9\n[Dense]\nunits = 4\n",
        "m.ini:9: [train] learning_rate_schedule = exponential_decay needs decay_steps and decay_rate");
    BAD(HEAD "learning_rate_schedule = exponential_decay\ndecay_steps = 9\n[Dense]\nunits = 4\n",
        "needs decay_steps and decay_rate");
    BAD(HEAD "learning_rate_schedule = cosine_decay\ndecay_rate = 0.9\n[Dense]\nunits = 4\n",
        "m.ini:9: [train] cosine_decay takes decay_steps, alpha, warmup_steps and warmup_target");
    BAD(HEAD "learning_rate_schedule = exponential_decay\ndecay_steps = 9\ndecay_rate = 0.9\n"
             "warmup_steps = 5\n[Dense]\nunits = 4\n",
        "exponential_decay takes decay_steps, decay_rate and staircase");
    BAD(HEAD "learning_rate_schedule = cosine_decay\ndecay_steps = 0\n[Dense]\nunits = 4\n",
        "m.ini:14: [train] decay_steps: '0' is out of range");
    BAD(HEAD "learning_rate_schedule = cosine_decay\nalpha = 2\n[Dense]\nunits = 4\n",
        "m.ini:14: [train] alpha: '2' is out of range");
    BAD(HEAD "learning_rate_schedule = cosine_decay\n[ReduceLROnPlateau]\n[Dense]\nunits = 4\n",
        "m.ini: [ReduceLROnPlateau] changes the learning rate itself");
}

TEST(config_without_input_shape_needs_data) {
    dc_run_config *c = parse("[model]\n[data]\ndataset = fashion-mnist\n[train]\nloss = mse\n[Dense]\nunits = 1\n");
    CHECK(c != NULL);
    if (!c) return;
    CHECK(!strcmp(dc_run_config_name(c), "m")); /* from the file name */
    CHECK(dc_run_config_build_model(c, NULL) == NULL);
    CHECK_MSG("m.ini: [model] input_shape is needed");
    char spec[64];
    CHECK_OK(dc_run_config_test_spec(c, spec, sizeof spec));
    CHECK(!strcmp(spec, "fashion-mnist"));
    dc_run_config_free(c);
}

TEST(shipped_model_files_parse) {
    static const char *const files[] = {"../models/fashion_mlp.ini", "../models/fashion_cnn.ini",
                                        "../models/fashion_cnn_bn.ini"};
    const char *k[] = {"filters", "kernel_size"}, *v[] = {"2", "3"};
    dc_layer *conv = dc_layer_from_config("Conv2D", k, v, 2);
    bool have_conv = conv != NULL;
    dc_layer_free(conv);
    dc_clear_error();
    for (int i = 0; i < 3; i++) {
        if (i > 0 && !have_conv) continue; /* Conv2D has not landed yet */
        dc_run_config *c = dc_run_config_load(test_path(files[i]));
        if (!c) test_fail(__FILE__, __LINE__, "%s: %s", files[i], dc_last_error());
        dc_model *m = c ? dc_run_config_build_model(c, NULL) : NULL;
        if (c && !m) test_fail(__FILE__, __LINE__, "%s: %s", files[i], dc_last_error());
        if (m && i == 0) CHECK(dc_model_count_params(m) == 101770);
        if (m && i == 1) {
            CHECK(dc_run_config_epochs(c) == 10 && dc_run_config_batch_size(c) == 64);
        }
        dc_model_free(m);
        dc_run_config_free(c);
    }
    if (!have_conv) SKIP("Conv2D is not available yet: only fashion_mlp.ini was checked");
}

TEST(model_file_metadata_is_added_in_place) {
    dc_run_config *c = parse(HEAD "[Flatten]\n[Dense]\nunits = 3\nactivation = softmax\n");
    CHECK(c && dc_run_config_outputs_probabilities(c));
    dc_model *m = c ? dc_run_config_build_model(c, NULL) : NULL;
    CHECK(m != NULL);
    if (!m) {
        dc_run_config_free(c);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/meta.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    const char *keys[2] = {"deepc_class_names", "deepc_data"};
    const char *vals[2] = {"cat\ndog\n\"bird\"", "fashion-mnist"};
    CHECK_OK(dc_model_file_set_metadata(path, keys, vals, 2));
    vals[1] = "x.csv";
    CHECK_OK(dc_model_file_set_metadata(path, keys + 1, vals + 1, 1)); /* replaces */
    dc_safetensors *st = dc_safetensors_load(path);
    CHECK(st != NULL);
    if (st) {
        CHECK(!strcmp(dc_safetensors_metadata(st, "deepc_class_names"), "cat\ndog\n\"bird\""));
        CHECK(!strcmp(dc_safetensors_metadata(st, "deepc_data"), "x.csv"));
        dc_safetensors_free(st);
    }
    dc_model *m2 = dc_model_load(path); /* the model itself is untouched */
    CHECK(m2 != NULL);
    if (m2) {
        CHECK(dc_model_count_params(m2) == dc_model_count_params(m));
        float *a, *b;
        size_t na, nb;
        CHECK_OK(dc_model_all_weights(m, &a, &na));
        CHECK_OK(dc_model_all_weights(m2, &b, &nb));
        CHECK(na == nb && !memcmp(a, b, na * sizeof(float)));
    }
    dc_model_free(m2);
    CHECK_ERR(dc_model_file_set_metadata("/nonexistent/m.safetensors", keys, vals, 1), DC_ERR_IO,
              "cannot open");
    CHECK_ERR(dc_model_file_set_metadata(test_tmpdir(), keys, vals, 1), DC_ERR_IO,
              "is a directory, not a file");
    char junk[512];
    snprintf(junk, sizeof junk, "%s/junk.safetensors", test_tmpdir());
    FILE *f = fopen(junk, "wb");
    if (f) {
        fwrite("\xff\xff\xff\xff\xff\xff\xff\x7f{}", 1, 10, f);
        fclose(f);
    }
    CHECK_ERR(dc_model_file_set_metadata(junk, keys, vals, 1), DC_ERR_FORMAT, "does not fit");
    dc_model_free(m);
    dc_run_config_free(c);
}

TEST(dataset_specs_are_checked) {
    CHECK(dc_dataset_load_spec(NULL, 0, 0, 0) == NULL);
    CHECK_MSG("spec is NULL");
    CHECK(dc_dataset_load_spec("nothing-here", 0, 0, 0) == NULL);
    CHECK_MSG("is not fashion-mnist, IMAGES,LABELS");
    CHECK(dc_dataset_load_spec("/nonexistent/a.idx,/nonexistent/b.idx", 0, 0, 0) == NULL);
    CHECK(dc_last_status() == DC_ERR_IO);
    static const char *const not_two[] = {",,", "a,", ",b", "a,b,c"};
    for (int i = 0; i < 4; i++) {
        CHECK(dc_dataset_load_spec(not_two[i], 0, 0, 0) == NULL);
        CHECK(dc_last_status() == DC_ERR_ARG);
        CHECK_MSG("IDX data is IMAGES,LABELS: two file names");
    }
    char path[512];
    snprintf(path, sizeof path, "%s/spec.csv", test_tmpdir());
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("a,b,label\n1,2,0\n3,4,1\n", f);
        fclose(f);
    }
    dc_dataset *ds = dc_dataset_load_spec(path, 0, 0, 0);
    CHECK(ds && dc_dataset_count(ds) == 2 && dc_dataset_num_classes(ds) == 2);
    dc_dataset_free(ds);
}

TEST(call_collect_shows_a_fused_convolution_unpooled) {
    dc_run_config *c = parse(HEAD "[Conv2D]\nfilters = 2\nkernel_size = 3\nactivation = relu\n"
                                  "[MaxPooling2D]\n[Flatten]\n[Dense]\nunits = 3\n");
    if (!c && strstr(dc_last_error(), "unknown layer type 'Conv2D'")) SKIP("no Conv2D yet");
    CHECK(c != NULL);
    dc_model *m = c ? dc_run_config_build_model(c, NULL) : NULL;
    CHECK(m != NULL);
    if (m) {
        dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
        dc_rng r;
        dc_rng_seed(&r, 5);
        dc_tensor *x = dc_tensor_uniform(DC_DIMS(1, 8, 8, 1), 0, 1, &r);
        dc_tensor *outs[4] = {0};
        CHECK_OK(dc_model_call_collect(m, t, x, outs, 4));
        CHECK(outs[0] && outs[0]->ndim == 4 && outs[0]->shape[1] == 6 && outs[0]->shape[3] == 2);
        CHECK(outs[1] && outs[1]->shape[1] == 3 && outs[1]->shape[2] == 3);
        /* the pool of the conv output is the pooled layer's output */
        if (outs[0] && outs[1]) {
            float want = fmaxf(fmaxf(outs[0]->data[0], outs[0]->data[2]),
                               fmaxf(outs[0]->data[12], outs[0]->data[14]));
            CHECK(outs[1]->data[0] == want);
        }
        dc_tensor *y = dc_model_call(m, t, x, false); /* fused as usual */
        CHECK(y && outs[3] && !memcmp(y->data, outs[3]->data, 3 * sizeof(float)));
        dc_tensor_free(x);
        dc_tape_free(t);
    }
    dc_model_free(m);
    dc_run_config_free(c);
}

/* Every prefix of a shipped model file, and random bytes, parse or fail with a message naming
 * the file: never a crash. */
TEST(config_truncated_and_garbage_model_files_fail_cleanly) {
    FILE *f = fopen(test_path("../models/fashion_cnn.ini"), "rb");
    CHECK(f != NULL);
    if (!f) return;
    static char text[8192], cut[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    CHECK(n > 100);
    int parsed = 0;
    for (size_t len = 0; len <= n; len++) {
        memcpy(cut, text, len);
        cut[len] = '\0';
        dc_clear_error();
        dc_run_config *c = dc_run_config_parse(cut, "t.ini");
        if (c) {
            parsed++;
            dc_model *m = dc_run_config_build_model(c, NULL);
            if (!m && !strstr(dc_last_error(), "t.ini"))
                test_fail(__FILE__, __LINE__, "prefix %zu: \"%s\"", len, dc_last_error());
            dc_model_free(m);
            dc_run_config_free(c);
        } else if (dc_last_status() == DC_OK || strncmp(dc_last_error(), "t.ini", 5)) {
            test_fail(__FILE__, __LINE__, "prefix %zu: status %d \"%s\"", len,
                      (int)dc_last_status(), dc_last_error());
        }
    }
    CHECK(parsed > 0); /* the whole file, at least */
    uint32_t r = 12345;
    for (int trial = 0; trial < 200; trial++) {
        size_t len = 1 + (size_t)trial * 7 % 600;
        for (size_t i = 0; i < len; i++) {
            r = r * 1664525u + 1013904223u;
            cut[i] = (char)(1 + (r >> 24) % 255); /* no NUL: the text is a C string */
        }
        cut[len] = '\0';
        dc_run_config *c = dc_run_config_parse(cut, "g.ini");
        if (c) test_fail(__FILE__, __LINE__, "garbage %d parsed", trial);
        dc_run_config_free(c);
        if (dc_last_status() == DC_OK || strncmp(dc_last_error(), "g.ini", 5))
            test_fail(__FILE__, __LINE__, "garbage %d: status %d \"%s\"", trial,
                      (int)dc_last_status(), dc_last_error());
    }
}
