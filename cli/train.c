/* train.c — `deepc train FILE.ini`: trains the model a model file describes and
 * writes model.safetensors, history.csv and curves.png into the output folder,
 * printing Keras' progress and, at the end, the test loss and accuracy. */
#include "cli.h"
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const VERB = "train";

static void help(FILE *f) {
    fprintf(f,
            "usage: deepc train FILE.ini [--epochs N] [--batch-size N] [--out DIR] [--seed S]\n"
            "                   [--steps-per-epoch N] [--threads N] [--quiet]\n"
            "                   [--resume [CHECKPOINT]] [--no-checkpoint] [--tensorboard]\n"
            "\n"
            "Trains the model described in FILE.ini (docs/model-files.md) and writes into DIR\n"
            "(default runs/<FILE without .ini>/):\n"
            "  model.safetensors  weights, architecture, training setup, class names,\n"
            "                     the training inputs' statistics (for predict's warnings)\n"
            "  history.csv        loss and metrics per epoch, rewritten after every epoch\n"
            "  curves.png         the training curves\n"
            "  checkpoint.safetensors  written after every epoch and on Ctrl-C, to resume from\n"
            "\n"
            "  --epochs N       override [train] epochs\n"
            "  --batch-size N   override [train] batch_size\n"
            "  --steps-per-epoch N  an epoch is N batches (Keras' steps_per_epoch; the data\n"
            "                   runs on across epochs): for quick runs and benchmarks\n"
            "  --seed S         override [train] seed (weights and shuffling)\n"
            "  --threads N      threads to use (default: all cores)\n"
            "  --out DIR        where the files go\n"
            "  --quiet          no progress, only the result\n"
            "  --resume [CHECKPOINT]  continue a stopped run where it stopped (default:\n"
            "                   DIR/checkpoint.safetensors); same file, data and options\n"
            "  --no-checkpoint  write no checkpoint (a stopped run cannot be resumed)\n"
            "  --tensorboard    TensorBoard logs in DIR/logs (train/, validation/): loss,\n"
            "                   metrics and learning rate per epoch and per batch, weight\n"
            "                   histograms per epoch, the first Conv2D's filters at the end\n"
            "                   (view with: tensorboard --logdir DIR/logs)\n"
            "\n"
            "Ctrl-C (or SIGTERM) finishes the current batch, writes the checkpoint and\n"
            "history.csv, says how to resume and exits with 130 (143); a second Ctrl-C\n"
            "stops at once, leaving the files of the last checkpoint. A NaN or Inf loss\n"
            "stops training with exit status 1 ([train] terminate_on_nan = false: go on).\n"
            "\n"
            "Under mpirun (mpirun -np N deepc train FILE.ini) N processes train one model,\n"
            "each on its part of every batch; rank 0 prints and writes the files. --resume\n"
            "takes any number of processes (docs/distributed.md).\n");
}

/* The run's name from the file: "models/fashion_cnn.ini" -> "fashion_cnn". */
static void stem(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    size_t len = strlen(out);
    if (len > 4 && cli_ends_with(out, ".ini")) out[len - 4] = '\0';
}

/* The run's class names, data spec, metrics, output kind, source, data
 * statistics and text vectorizer as the model's metadata, so the model file
 * and every checkpoint carry them (each written in one atomic write). */
static bool set_run_metadata(dc_model *m, const dc_run_config *cfg, const dc_dataset *train,
                             const char *ini, bool root) {
    char spec[8192], metrics[128] = "", *names = NULL;
    dc_run_config_test_spec(cfg, spec, sizeof spec);
    int nc = dc_dataset_num_classes(train);
    size_t len = 0;
    for (int i = 0; i < nc; i++) {
        const char *s = dc_dataset_class_name(train, i);
        len += (s ? strlen(s) : 12) + 1;
    }
    names = calloc(len + 1, 1);
    if (!names) return false;
    for (int i = 0; i < nc; i++) {
        const char *s = dc_dataset_class_name(train, i);
        char num[16];
        if (!s) {
            snprintf(num, sizeof num, "%d", i);
            s = num;
        }
        size_t at = strlen(names);
        if (i) names[at++] = '\n';
        for (const char *p = s; *p; p++) names[at++] = *p == '\n' ? ' ' : *p;
        names[at] = '\0';
    }
    /* the metrics evaluate reports, in compile order */
    const char *mn[DC_MAX_METRICS];
    int n_m = dc_run_config_metrics(cfg, mn, DC_MAX_METRICS);
    for (int i = 0; i < n_m && i < DC_MAX_METRICS; i++) {
        if (i) strncat(metrics, ",", sizeof metrics - strlen(metrics) - 1);
        strncat(metrics, mn[i], sizeof metrics - strlen(metrics) - 1);
    }
    const char *out = dc_run_config_outputs_probabilities(cfg) ? "probabilities" : "logits";
    /* so predict can tell an input unlike the training images */
    cli_stats stats;
    char stats_text[512] = "";
    /* (ranks after 0 save nothing: they skip the pass over the data) */
    if (root && cli_dataset_stats(train, &stats)) cli_stats_format(&stats, stats_text, sizeof stats_text);
    /* a text model's vectorizer goes in the same write */
    char *vec = NULL;
    if (dc_run_config_text_vectorizer(cfg) &&
        !(vec = dc_text_vectorizer_to_json(dc_run_config_text_vectorizer(cfg)))) {
        free(names);
        return false;
    }
    const char *keys[7] = {CLI_META_DATA, CLI_META_CLASSES, CLI_META_METRICS, CLI_META_OUTPUT,
                           CLI_META_SOURCE, CLI_META_STATS, DC_TEXT_VECTORIZER_METADATA_KEY};
    const char *vals[7] = {spec, names, metrics, out, ini, stats_text, vec};
    dc_status s = DC_OK;
    for (int i = 0; i < (vec ? 7 : 6) && s == DC_OK; i++) s = dc_model_set_metadata(m, keys[i], vals[i]);
    dc_string_free(vec);
    free(names);
    return s == DC_OK;
}

/* Ctrl-C / SIGTERM: the first asks fit to stop after its batch; the second
 * exits at once (the files on disk are whole: every write is atomic). */
/* --tensorboard: the first Conv2D's kernel (KH,KW,C,F) as a row of F tiles,
 * each scaled to its own range (RGB when C is 3, else the channels' mean),
 * one pixel apart, each weight an S x S square so that a 3x3 kernel is seen,
 * logged once as "filters/<layer>" in DIR/logs/train. */
static bool log_png(const char *logs, const char *tmp, const char *tag, int H, int W, int ch,
                    int64_t step);
static bool log_filters_image(const dc_model *m, const char *logs, int64_t step) {
    const dc_layer *l = NULL;
    for (int i = 0; i < dc_model_num_layers(m) && !l; i++)
        if (!strcmp(dc_layer_type(dc_model_layer(m, i)), "Conv2D")) l = dc_model_layer(m, i);
    if (!l) return true;
    const dc_tensor *k = dc_layer_param(l, 0);
    int KH = (int)k->shape[0], KW = (int)k->shape[1], C = (int)k->shape[2], F = (int)k->shape[3];
    int S = KH <= 16 && KW <= 16 ? 8 : 1;
    int ch = C == 3 ? 3 : 1, W = F * (KW * S + 1) - 1, H = KH * S;
    float *img = calloc((size_t)H * W * ch, sizeof(float));
    char tmp[4300], tag[96];
    snprintf(tmp, sizeof tmp, "%s/.filters.png", logs);
    snprintf(tag, sizeof tag, "filters/%.80s", dc_layer_name(l));
    if (!img) return false;
    for (int f = 0; f < F; f++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t i = f; i < k->size; i += F) {
            lo = fminf(lo, k->data[i]);
            hi = fmaxf(hi, k->data[i]);
        }
        for (int y = 0; y < KH; y++)
            for (int x = 0; x < KW; x++)
                for (int c = 0; c < C; c++) {
                    float v = k->data[(((int64_t)y * KW + x) * C + c) * F + f];
                    v = hi > lo ? (v - lo) / (hi - lo) : 0.5f;
                    for (int sy = 0; sy < S; sy++)
                        for (int sx = 0; sx < S; sx++)
                            img[((int64_t)(y * S + sy) * W + f * (KW * S + 1) + x * S + sx) * ch +
                                (ch == 3 ? c : 0)] += ch == 3 ? v : v / C;
                }
    }
    bool ok = dc_image_save_png(tmp, img, H, W, ch) == DC_OK;
    free(img);
    return ok && log_png(logs, tmp, tag, H, W, ch, step);
}

/* Logs the PNG file tmp (then removed) as an image under DIR/logs/train. */
static bool log_png(const char *logs, const char *tmp, const char *tag, int H, int W, int ch,
                    int64_t step) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/train", logs);
    bool ok = true;
    FILE *f = fopen(tmp, "rb");
    unsigned char *png = NULL;
    long len = 0;
    if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (png = malloc((size_t)len)))
        ok = fread(png, 1, (size_t)len, f) == (size_t)len;
    else
        ok = false;
    if (f) fclose(f);
    remove(tmp);
    dc_tb_writer *w = ok ? dc_tb_writer_open(dir) : NULL;
    ok = w && dc_tb_add_image_png(w, tag, png, (size_t)len, H, W, ch, step) == DC_OK;
    ok = dc_tb_writer_close(w) == DC_OK && ok;
    free(png);
    return ok;
}

/* [TensorBoard] write_images: the first Conv2D's feature maps on the first
 * training sample, a tile per filter scaled to its own range, logged as
 * "feature_maps/<layer>". */
static bool log_feature_maps_image(dc_model *m, const dc_dataset *ds, const char *logs,
                                   int64_t step) {
    int conv = -1, n = dc_model_num_layers(m);
    for (int i = 0; i < n && conv < 0; i++)
        if (!strcmp(dc_layer_type(dc_model_layer(m, i)), "Conv2D")) conv = i;
    int64_t xs[DC_MAX_DIMS + 1] = {1}, ys[DC_MAX_DIMS];
    int nd = conv >= 0 && ds ? dc_dataset_x_shape(ds, xs + 1) : -1, yd = ds ? dc_dataset_y_shape(ds, ys) : 0;
    if (nd != 3) return true; /* no Conv2D, or not images */
    int64_t ny = 1;
    for (int i = 0; i < yd; i++) ny *= ys[i] > 0 ? ys[i] : 1;
    dc_tensor *x = dc_tensor_zeros(nd + 1, xs);
    float *y = malloc((size_t)ny * sizeof *y);
    dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
    dc_tensor **outs = calloc((size_t)n, sizeof *outs);
    bool ok = x && y && t && outs && dc_dataset_get(ds, 0, x->data, y) == DC_OK &&
              dc_model_call_collect(m, t, x, outs, n) == DC_OK && outs[conv]->ndim == 4;
    char tmp[4300], tag[96];
    snprintf(tmp, sizeof tmp, "%s/.feature_maps.png", logs);
    snprintf(tag, sizeof tag, "feature_maps/%.80s", dc_layer_name(dc_model_layer(m, conv)));
    float *tiles = NULL;
    if (ok) { /* (1,HO,WO,F) -> F tiles of (HO,WO) */
        const dc_tensor *fm = outs[conv];
        int64_t HO = fm->shape[1], WO = fm->shape[2], F = fm->shape[3];
        tiles = malloc((size_t)fm->size * sizeof *tiles);
        for (int64_t p = 0; tiles && p < HO * WO; p++)
            for (int64_t f = 0; f < F; f++) tiles[f * HO * WO + p] = fm->data[p * F + f];
        ok = tiles && dc_plot_image_grid_png(tmp, tiles, (int)F, (int)HO, (int)WO, 1,
                                             F < 8 ? (int)F : 8, HO < 32 ? 4 : 1, true) == DC_OK;
    }
    dc_tensor *img = ok ? dc_image_load(tmp, 0) : NULL;
    ok = img && log_png(logs, tmp, tag, (int)img->shape[0], (int)img->shape[1],
                        (int)img->shape[2], step);
    dc_tensor_free(img);
    free(tiles);
    free(outs);
    dc_tape_free(t);
    free(y);
    dc_tensor_free(x);
    return ok;
}

static volatile sig_atomic_t stop_signal = 0;
static dc_model *volatile running_model = NULL;

static void on_stop_signal(int sig) {
    if (stop_signal) _exit(128 + sig);
    stop_signal = sig;
    if (running_model) dc_model_request_stop(running_model);
}

static void catch_stop_signals(bool on) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on ? on_stop_signal : SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_train(int argc, char **argv) {
    const char *out_dir = NULL;
    long long epochs = 0, seed = -1, steps_per_epoch = 0;
    cli_run_args ra = {0};
    bool quiet = false, resume = false, no_checkpoint = false, tensorboard = false;
    const char *resume_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (cli_is_help(a)) {
            help(stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--epochs")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) || !cli_int(VERB, a, v, 1, 1000000, &epochs))
                return CLI_USAGE;
        } else if (!strcmp(a, "--steps-per-epoch")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) ||
                !cli_int(VERB, a, v, 1, INT64_MAX / 2, &steps_per_epoch))
                return CLI_USAGE;
        } else if (!strcmp(a, "--seed")) {
            if (!(v = cli_value(VERB, argc, argv, &i)) || !cli_int(VERB, a, v, 0, INT64_MAX, &seed))
                return CLI_USAGE;
        } else if (!strcmp(a, "--out")) {
            if (!(out_dir = cli_value(VERB, argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (!strcmp(a, "--resume")) {
            resume = true; /* an optional CHECKPOINT: the next word, unless an option or the .ini */
            if (i + 1 < argc && argv[i + 1][0] != '-' && !cli_ends_with(argv[i + 1], ".ini"))
                resume_path = argv[++i];
        } else if (!strcmp(a, "--no-checkpoint")) {
            no_checkpoint = true;
        } else if (!strcmp(a, "--tensorboard")) {
            tensorboard = true;
        } else if (!cli_run_arg(VERB, argc, argv, &i, &ra)) {
            return CLI_USAGE;
        }
    }
    const char *file = ra.file;
    const long long batch = ra.batch;
    if (!file) return cli_usage(VERB, "no model file (deepc train FILE.ini)");
    if (ra.threads > 0) dc_set_num_threads((int)ra.threads);

    char num[32];
    int rc = CLI_FAIL;
    dc_dataset *train = NULL, *test = NULL;
    dc_model *m = NULL;
    dc_history *h = NULL;
    dc_callback *cbs = NULL;
    dc_run_config *cfg = NULL;
    /* under mpirun: one of several ranks (docs/distributed.md); rank 0 alone
     * prints and writes files */
    dc_clear_error();
    dc_dist *dist = dc_dist_mpi_init();
    if (!dist && dc_last_status() != DC_OK) return cli_fail(VERB);
    const bool root = !dist || dist->rank == 0;
    quiet = quiet || !root;
    if (!(cfg = dc_run_config_load(file))) goto fail;
    if (epochs) {
        snprintf(num, sizeof num, "%lld", epochs);
        if (dc_run_config_set(cfg, "train", "epochs", num) != DC_OK) goto fail;
    }
    if (batch) {
        snprintf(num, sizeof num, "%lld", batch);
        if (dc_run_config_set(cfg, "train", "batch_size", num) != DC_OK) goto fail;
    }
    if (steps_per_epoch) {
        snprintf(num, sizeof num, "%lld", steps_per_epoch);
        if (dc_run_config_set(cfg, "train", "steps_per_epoch", num) != DC_OK) goto fail;
    }
    if (seed >= 0) {
        snprintf(num, sizeof num, "%lld", seed);
        if (dc_run_config_set(cfg, "train", "seed", num) != DC_OK) goto fail;
    }
    char dir[4096], name[256];
    stem(file, name, sizeof name);
    snprintf(dir, sizeof dir, "%s", out_dir ? out_dir : "runs/");
    if (!out_dir) strncat(dir, name, sizeof dir - strlen(dir) - 1);
    if (!cli_mkdirs(VERB, dir)) {
        rc = CLI_FAIL;
        goto done;
    }
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", dir);
    if (resume && !resume_path) resume_path = ckpt;
    if (resume && access(resume_path, R_OK) != 0) {
        fprintf(stderr, "deepc %s: no checkpoint '%s' to resume from (a run writes one after "
                "each epoch unless --no-checkpoint)\n", VERB, resume_path);
        goto done;
    }
    if (dc_run_config_load_data(cfg, &train, &test) != DC_OK) goto fail;
    if (!(m = dc_run_config_build_model(cfg, train))) goto fail;
    if (!set_run_metadata(m, cfg, train, file, root)) goto fail;
    dc_fit_options fo;
    if (dc_run_config_fit_options(cfg, test, &fo) != DC_OK) goto fail;
    fo.progress = quiet ? NULL : stdout;
    fo.checkpoint_path = no_checkpoint ? NULL : ckpt;
    fo.resume_from = resume ? resume_path : NULL;
    char history_csv[4200];
    snprintf(history_csv, sizeof history_csv, "%s/history.csv", dir);
    fo.history_path = history_csv;
    fo.dist = dist;
    char logs[4200];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    if (tensorboard) { /* the model file's callbacks, then TensorBoard */
        if (!(cbs = calloc((size_t)fo.n_callbacks + 1, sizeof *cbs))) goto fail;
        for (int i = 0; i < fo.n_callbacks; i++) cbs[i] = fo.callbacks[i];
        cbs[fo.n_callbacks] = (dc_callback){.kind = DC_CB_TENSORBOARD, .log_dir = logs,
                                            .histogram_freq = 1, .update_freq = "batch"};
        fo.callbacks = cbs;
        fo.n_callbacks++;
    }
    if (!quiet) {
        dc_model_summary(m, stdout);
        printf("Training on %lld samples", (long long)dc_dataset_count(train));
        if (fo.validation_data)
            printf(", validating on %lld test samples", (long long)dc_dataset_count(test));
        else if (fo.validation_split > 0)
            printf(", validating on the last %g of them", (double)fo.validation_split);
        printf(" (%d thread%s", dc_get_num_threads(), dc_get_num_threads() == 1 ? "" : "s");
        if (dist && dist->size > 1)
            printf(" x %d processes, %lld samples each per batch", dist->size,
                   (long long)dc_run_config_batch_size(cfg) / dist->size);
        printf(")\n");
        fflush(stdout);
    }
    running_model = m;
    catch_stop_signals(true);
    dc_status fit_status = dc_model_fit(m, train, &fo, &h);
    running_model = NULL;
    if (fit_status != DC_OK) goto fail;

    char path[4200], csv[4200], png[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(csv, sizeof csv, "%s/history.csv", dir);
    snprintf(png, sizeof png, "%s/curves.png", dir);
    if (!root) { /* rank 0 writes the files */
        rc = stop_signal ? 128 + stop_signal : CLI_OK;
        goto done;
    }
    if (stop_signal) { /* the checkpoint is written; the history so far too */
        if (dc_history_write_csv(h, csv) != DC_OK) goto fail;
        int ne = dc_history_epochs(h);
        printf("\nStopped by %s after %d finished epoch%s", stop_signal == SIGINT ? "Ctrl-C" : "SIGTERM",
               ne, ne == 1 ? "" : "s");
        if (fo.checkpoint_path)
            printf("; wrote %s and %s.\nResume with the same options and: %sdeepc train %s "
                   "--resume%s%s%s\n", ckpt, csv, dist ? "mpirun -np N " : "", file,
                   out_dir ? " --out " : "", out_dir ? out_dir : "",
                   dist ? " (N: any number of processes, 1 included)" : "");
        else
            printf(" (--no-checkpoint: nothing to resume from).\n");
        rc = 128 + stop_signal;
        goto done;
    }
    if (dc_model_save(m, path) != DC_OK) goto fail;
    if (dc_history_write_csv(h, csv) != DC_OK) goto fail;
    int ne = dc_history_epochs(h);
    if (dc_plot_history(png, NULL, dc_history_get(h, "loss"), dc_history_get(h, "val_loss"),
                        dc_history_get(h, "accuracy"), dc_history_get(h, "val_accuracy"),
                        ne) != DC_OK)
        goto fail;
    if (test) {
        float loss = NAN, metrics[DC_MAX_METRICS];
        for (int i = 0; i < DC_MAX_METRICS; i++) metrics[i] = NAN;
        if (dc_model_evaluate(m, test, dc_run_config_batch_size(cfg), &loss, metrics) != DC_OK)
            goto fail;
        const char *mn[DC_MAX_METRICS];
        int n_m = dc_run_config_metrics(cfg, mn, DC_MAX_METRICS);
        printf("Test loss: %.4f", (double)loss);
        if (fo.perplexity) printf(" - test perplexity: %.3f", exp((double)loss));
        for (int i = 0; i < n_m && i < DC_MAX_METRICS; i++)
            printf(" - test %s: %.4f", mn[i], (double)metrics[i]);
        printf(" (%lld samples)\n", (long long)dc_dataset_count(test));
    }
    if (tensorboard && !log_filters_image(m, logs, ne > 0 ? ne - 1 : 0)) goto fail;
    for (int i = 0; i < fo.n_callbacks; i++) /* [TensorBoard] write_images = true */
        if (fo.callbacks[i].kind == DC_CB_TENSORBOARD && fo.callbacks[i].write_images &&
            (!log_filters_image(m, fo.callbacks[i].log_dir, ne > 0 ? ne - 1 : 0) ||
             !log_feature_maps_image(m, train, fo.callbacks[i].log_dir, ne > 0 ? ne - 1 : 0)))
            goto fail;
    printf("Wrote %s\n      %s\n      %s\n", path, csv, png);
    if (tensorboard) printf("      %s/ (tensorboard --logdir %s)\n", logs, logs);
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_fail(VERB);
    if (dist && dist->size > 1) { /* the other ranks would wait for this one forever */
        fprintf(stderr, "deepc %s: rank %d of %d failed; ending the job\n", VERB, dist->rank,
                dist->size);
        dc_dist_mpi_abort(dist, rc);
    }
done:
    dc_dist_mpi_finalize(dist);
    catch_stop_signals(false);
    free(cbs);
    dc_history_free(h);
    dc_model_free(m);
    dc_dataset_free(train);
    dc_dataset_free(test);
    dc_run_config_free(cfg);
    return rc;
}
