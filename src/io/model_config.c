/* model_config.c — model files: an INI document ([model], [data], [train],
 * callback sections, then one section per layer in order, Keras' names) turned
 * into a checked run configuration, and from it a model, its data and fit options.
 * Every error names the file, the line and the key. */
#include "config.h"
#include "text_config.h"
#include "../train/train.h"
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SRC_NONE = 0, SRC_NAMED, SRC_IDX, SRC_CSV, SRC_FOLDER, SRC_TEXT, SRC_SEG };
enum { VAL_NONE = 0, VAL_TEST, VAL_SPLIT };

typedef struct {
    int sec;          /* index into doc->sections */
    char type[64];
    char name[64];    /* from "[Dense my_name]"; "" if none */
} layer_ref;

struct dc_run_config {
    dc_ini_doc *doc;
    char *name;
    int in_ndim;
    int64_t in_shape[DC_MAX_DIMS];
    /* [data] */
    int source;
    char *dataset, *train_images, *train_labels, *test_images, *test_labels;
    char *train_csv, *test_csv, *label_column, *train_dir, *test_dir;
    int img_h, img_w, img_c;
    int validation;
    float validation_split;
    /* segmentation: dataset = fashion-canvas (train count in canvas.count), or mask folders */
    dc_fashion_canvas_options canvas;
    int64_t test_canvases;
    char *train_seg_dir, *test_seg_dir;
    int num_classes;
    dc_text_data *text;      /* text kinds of [data] and [TextVectorization] (text_config.c) */
    /* [train] */
    dc_optimizer_options opt;
    dc_lr_schedule sched;    /* kind DC_LR_CONSTANT: none; decay_steps 0: the whole run */
    bool decay_rate_given;
    char sched_opt[24];      /* the first schedule option given ("" if none) */
    int sched_opt_line;      /* its line (0: from the command line) */
    char *loss;              /* canonical Keras name */
    bool from_logits;
    char *metrics[4];
    int n_metrics;
    int n_class_weights;
    float class_weights[DC_MAX_CLASS_WEIGHTS];
    int epochs;
    int64_t batch_size;
    int64_t steps_per_epoch; /* 0: one pass over the data */
    uint64_t seed;
    bool shuffle;
    int verbose;
    /* callbacks */
    bool early;
    char *es_monitor;
    int es_patience;
    float es_min_delta;
    bool es_restore;
    bool plateau;
    char *rl_monitor;
    float rl_factor, rl_min_lr, rl_min_delta;
    int rl_patience, rl_cooldown;
    bool terminate_on_nan; /* [train] terminate_on_nan, true unless set false */
    bool tb;               /* [TensorBoard] */
    char *tb_log_dir;
    int tb_histogram_freq;
    const char *tb_update_freq;
    bool tb_write_images;
    dc_callback callbacks[4];
    /* layer sections in order */
    layer_ref *layers;
    int n_layers;
};

/* ---- values ---- */

/* Where a value came from, for messages: "file:line: [section] key". */
typedef struct {
    const char *file;
    int line;            /* 0: not from the file (command line) */
    const char *section;
    const char *key;
} origin;

static dc_status bad(const origin *o, const char *fmt, const char *value, const char *extra) {
    char what[512];
    snprintf(what, sizeof what, fmt, value ? value : "", extra ? extra : "");
    if (o->line > 0)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [%s] %s: %s", o->file, o->line, o->section,
                            o->key, what);
    return dc_set_error(DC_ERR_ARG, "%s: [%s] %s: %s", o->file, o->section, o->key, what);
}

static char *str_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = dc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static dc_status set_str(const origin *o, char **dst, const char *v) {
    if (!*v) return bad(o, "the value is empty%s%s", NULL, NULL);
    char *d = str_dup(v);
    if (!d) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", o->file);
    dc_free(*dst);
    *dst = d;
    return DC_OK;
}

static dc_status parse_i64(const origin *o, const char *v, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    while (isspace((unsigned char)*v)) v++;
    long long x = strtoll(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (!*v || *end || end == v) return bad(o, "'%s' is not a whole number%s", v, NULL);
    if (errno == ERANGE || x < lo || x > hi) {
        char range[96];
        snprintf(range, sizeof range, " (it must be in [%lld, %lld])", (long long)lo,
                 (long long)hi);
        return bad(o, "'%s' is out of range%s", v, range);
    }
    *out = x;
    return DC_OK;
}

static dc_status parse_int(const origin *o, const char *v, int lo, int hi, int *out) {
    int64_t x;
    dc_status s = parse_i64(o, v, lo, hi, &x);
    if (s == DC_OK) *out = (int)x;
    return s;
}

static dc_status parse_u64(const origin *o, const char *v, uint64_t *out) {
    while (isspace((unsigned char)*v)) v++;
    if (*v == '-') return bad(o, "'%s' is not a whole number >= 0%s", v, NULL);
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (!*v || *end || end == v) return bad(o, "'%s' is not a whole number%s", v, NULL);
    if (errno == ERANGE) return bad(o, "'%s' is out of range%s", v, NULL);
    *out = x;
    return DC_OK;
}

/* A finite number in [lo, hi]. */
static dc_status parse_float(const origin *o, const char *v, double lo, double hi, float *out) {
    char *end;
    errno = 0;
    while (isspace((unsigned char)*v)) v++;
    double x = strtod(v, &end);
    while (isspace((unsigned char)*end)) end++;
    if (!*v || *end || end == v || !isfinite(x)) return bad(o, "'%s' is not a number%s", v, NULL);
    if (x < lo || x > hi) {
        char range[96];
        snprintf(range, sizeof range, " (it must be in [%g, %g])", lo, hi);
        return bad(o, "'%s' is out of range%s", v, range);
    }
    *out = (float)x;
    return DC_OK;
}

static dc_status parse_bool(const origin *o, const char *v, bool *out) {
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
             !strcmp(v, "0"))
        *out = false;
    else
        return bad(o, "'%s' is not true or false%s", v, NULL);
    return DC_OK;
}

/* "28,28,1", "(28, 28, 1)" or "28": whole numbers > 0, at most max. */
static dc_status parse_dims(const origin *o, const char *v, int max, bool allow_none, int *ndim,
                            int64_t *dims) {
    const char *p = v;
    while (isspace((unsigned char)*p)) p++;
    bool paren = *p == '(' || *p == '[';
    if (paren) p++;
    int n = 0;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (paren && (*p == ')' || *p == ']') && n > 0) {
            p++;
            break;
        }
        if (!*p) break;
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (allow_none && !strncmp(p, "None", 4)) x = -1, end = (char *)p + 4; /* Keras' None */
        if (end == p || errno == ERANGE || (x <= 0 && !(allow_none && x == -1)) || x > INT_MAX)
            return bad(o, "'%s' is not a list of whole numbers > 0 (or None) like 28,28,1%s", v, NULL);
        if (n == max) {
            char m[48];
            snprintf(m, sizeof m, " (at most %d numbers)", max);
            return bad(o, "'%s' has too many numbers%s", v, m);
        }
        dims[n++] = x;
        p = end;
        while (isspace((unsigned char)*p)) p++;
        if (*p == ',') p++;
    }
    while (isspace((unsigned char)*p)) p++;
    if (*p || n == 0)
        return bad(o, "'%s' is not a list of whole numbers > 0 like 28,28,1%s", v, NULL);
    *ndim = n;
    return DC_OK;
}

/* Finds value (case-insensitive) among names; writes the canonical name. */
static dc_status parse_choice(const origin *o, const char *v, const char *const *names,
                              const char *const *canon, int n, const char **out) {
    for (int i = 0; i < n; i++)
        if (!strcasecmp(v, names[i])) {
            *out = canon[i];
            return DC_OK;
        }
    char known[400] = "";
    for (int i = 0; i < n; i++) {
        if (i > 0 && canon[i] == canon[i - 1]) continue;
        if (*known) strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, names[i], sizeof known - strlen(known) - 1);
    }
    char extra[440];
    snprintf(extra, sizeof extra, " (known: %s)", known);
    return bad(o, "unknown value '%s'%s", v, extra);
}

/* ---- sections ---- */

static const char *const model_keys = "name, input_shape";
static const char *const data_keys =
    "dataset, train_images, train_labels, test_images, test_labels, train_csv, test_csv, "
    "label_column, train_dir, test_dir, image_size, channels, validation, validation_split, "
    "train_text_dir, test_text_dir, train_text_csv, test_text_csv, text_column, fortunes, "
    "categories, min_count, test_every, corpus, seq_len, stride, target, validation_fraction, "
    "canvas_size, train_canvases, test_canvases, max_garments, garment_threshold, canvas_seed, "
    "train_seg_dir, test_seg_dir, num_classes";
static const char *const train_keys =
    "optimizer, learning_rate, beta_1, beta_2, epsilon, amsgrad, momentum, nesterov, rho, "
    "initial_accumulator_value, centered, weight_decay, clipnorm, global_clipnorm, clipvalue, "
    "learning_rate_schedule, decay_steps, decay_rate, staircase, alpha, warmup_steps, "
    "warmup_target, loss, from_logits, metrics, batch_size, epochs, seed, shuffle, verbose, "
    "terminate_on_nan, steps_per_epoch, class_weights";
static const char *const es_keys = "monitor, patience, min_delta, restore_best_weights";
static const char *const rl_keys = "monitor, factor, patience, min_delta, cooldown, min_lr";
static const char *const tb_keys = "log_dir, histogram_freq, update_freq, write_images";

static dc_status unknown_key(const origin *o, const char *known) {
    if (o->line > 0)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [%s] unknown key '%s' (known: %s)", o->file,
                            o->line, o->section, o->key, known);
    return dc_set_error(DC_ERR_ARG, "%s: [%s] unknown key '%s' (known: %s)", o->file,
                        o->section, o->key, known);
}

static dc_status model_key(dc_run_config *c, const origin *o, const char *k, const char *v) {
    if (!strcmp(k, "name")) {
        if (strlen(v) >= 64 || strchr(v, '/'))
            return bad(o, "'%s' must be 1 to 63 characters without '/'%s", v, NULL);
        return set_str(o, &c->name, v);
    }
    if (!strcmp(k, "input_shape")) return parse_dims(o, v, DC_MAX_DIMS - 1, true, &c->in_ndim, c->in_shape);
    return unknown_key(o, model_keys);
}

static dc_status data_key(dc_run_config *c, const origin *o, const char *k, const char *v) {
    bool text_key;
    dc_text_origin to = {o->file, o->line, o->section, o->key};
    dc_status ts = dc_text_data_key(&c->text, &to, v, &text_key);
    if (text_key) return ts;
    struct {
        const char *key;
        char **dst;
        int src;
    } paths[] = {{"dataset", &c->dataset, SRC_NAMED},          {"train_images", &c->train_images, SRC_IDX},
                 {"train_labels", &c->train_labels, SRC_IDX},  {"test_images", &c->test_images, SRC_IDX},
                 {"test_labels", &c->test_labels, SRC_IDX},    {"train_csv", &c->train_csv, SRC_CSV},
                 {"test_csv", &c->test_csv, SRC_CSV},          {"label_column", &c->label_column, SRC_CSV},
                 {"train_dir", &c->train_dir, SRC_FOLDER},     {"test_dir", &c->test_dir, SRC_FOLDER},
                 {"train_seg_dir", &c->train_seg_dir, SRC_SEG}, {"test_seg_dir", &c->test_seg_dir, SRC_SEG}};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        if (!strcmp(k, paths[i].key)) {
            if (paths[i].src == SRC_NAMED && strcasecmp(v, "fashion-mnist") &&
                strcasecmp(v, "fashion_mnist") && strcasecmp(v, "fashion-canvas"))
                return bad(o, "unknown dataset '%s' (known: fashion-mnist, fashion-canvas; or give train_images "
                              "and train_labels, train_csv, or train_dir)%s", v, NULL);
            return set_str(o, paths[i].dst, v);
        }
    if (!strcmp(k, "image_size")) {
        int n;
        int64_t d[2];
        dc_status s = parse_dims(o, v, 2, false, &n, d);
        if (s != DC_OK) return s;
        c->img_h = (int)d[0];
        c->img_w = (int)(n == 2 ? d[1] : d[0]);
        return DC_OK;
    }
    if (!strcmp(k, "channels")) {
        int ch;
        dc_status s = parse_int(o, v, 1, 3, &ch);
        if (s == DC_OK && ch == 2) return bad(o, "'%s': channels must be 1 (gray) or 3 (RGB)%s", v, NULL);
        if (s == DC_OK) c->img_c = ch;
        return s;
    }
    if (!strcmp(k, "canvas_size")) return parse_int(o, v, 28, 4096, &c->canvas.size);
    if (!strcmp(k, "train_canvases")) return parse_i64(o, v, 1, 1 << 24, &c->canvas.count);
    if (!strcmp(k, "test_canvases")) return parse_i64(o, v, 1, 1 << 24, &c->test_canvases);
    if (!strcmp(k, "max_garments")) return parse_int(o, v, 1, 64, &c->canvas.max_garments);
    if (!strcmp(k, "garment_threshold")) return parse_float(o, v, 0.001, 0.999, &c->canvas.threshold);
    if (!strcmp(k, "canvas_seed")) return parse_u64(o, v, &c->canvas.seed);
    if (!strcmp(k, "num_classes")) return parse_int(o, v, 2, 256, &c->num_classes);
    if (!strcmp(k, "validation")) {
        if (!strcasecmp(v, "test")) c->validation = VAL_TEST;
        else if (!strcasecmp(v, "none")) c->validation = VAL_NONE;
        else return bad(o, "'%s' must be test or none (or give validation_split)%s", v, NULL);
        return DC_OK;
    }
    if (!strcmp(k, "validation_split")) {
        dc_status s = parse_float(o, v, 0.0, 0.99, &c->validation_split);
        if (s == DC_OK) c->validation = c->validation_split > 0 ? VAL_SPLIT : VAL_NONE;
        return s;
    }
    return unknown_key(o, data_keys);
}

/* "0.2, 1, 1": one weight per output class, each >= 0 */
static dc_status parse_class_weights(dc_run_config *c, const origin *o, const char *v) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", v);
    c->n_class_weights = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ", []", &save); t; t = strtok_r(NULL, ", []", &save)) {
        if (c->n_class_weights == DC_MAX_CLASS_WEIGHTS)
            return bad(o, "'%s': at most %s class weights", v, "256");
        dc_status s = parse_float(o, t, 0.0, 1e6, &c->class_weights[c->n_class_weights++]);
        if (s != DC_OK) return s;
    }
    return c->n_class_weights ? DC_OK : bad(o, "the value is empty%s%s", NULL, NULL);
}

static const char *const opt_names[] = {"sgd", "adam", "adadelta", "adagrad", "rmsprop"};
static const char *const loss_names[] = {"sparse_categorical_crossentropy",
                                         "categorical_crossentropy",
                                         "mse",
                                         "mean_squared_error",
                                         "binary_crossentropy",
                                         "dice"};
static const char *const loss_canon[] = {"sparse_categorical_crossentropy",
                                         "categorical_crossentropy", "mse", "mse",
                                         "binary_crossentropy", "dice"};
static const char *const metric_names[] = {"accuracy", "acc", "binary_accuracy", "mae",
                                           "mean_absolute_error", "mse", "mean_squared_error",
                                           "mean_io_u", "mean_iou", "pixel_accuracy"};
static const char *const metric_canon[] = {"accuracy", "accuracy", "binary_accuracy", "mae",
                                           "mae", "mse", "mse", "mean_io_u", "mean_io_u",
                                           "accuracy"};

/* Keras' schedule classes (keras.optimizers.schedules) by their snake-case names. */
static const char *const sched_names[] = {"constant", "cosine_decay", "exponential_decay"};
static const dc_lr_schedule_kind sched_kinds[] = {DC_LR_CONSTANT, DC_LR_COSINE, DC_LR_EXPONENTIAL};

/* learning_rate_schedule and its options; *handled false for any other key. */
static dc_status schedule_key(dc_run_config *c, const origin *o, const char *k, const char *v,
                              bool *handled) {
    dc_lr_schedule *sc = &c->sched;
    *handled = true;
    if (!strcmp(k, "learning_rate_schedule")) {
        const char *name = NULL;
        dc_status s = parse_choice(o, v, sched_names, sched_names, 3, &name);
        for (int i = 0; s == DC_OK && i < 3; i++)
            if (name == sched_names[i]) sc->kind = sched_kinds[i];
        return s;
    }
    dc_status s;
    if (!strcmp(k, "decay_steps")) s = parse_i64(o, v, 1, INT64_MAX / 2, &sc->decay_steps);
    else if (!strcmp(k, "decay_rate")) s = parse_float(o, v, 0, 1e6, &sc->decay_rate);
    else if (!strcmp(k, "staircase")) s = parse_bool(o, v, &sc->staircase);
    else if (!strcmp(k, "alpha")) s = parse_float(o, v, 0, 1, &sc->alpha);
    else if (!strcmp(k, "warmup_steps")) s = parse_i64(o, v, 0, INT64_MAX / 2, &sc->warmup_steps);
    else if (!strcmp(k, "warmup_target")) s = parse_float(o, v, 0, 1e6, &sc->warmup_target);
    else {
        *handled = false;
        return DC_OK;
    }
    if (s == DC_OK && !strcmp(k, "decay_rate")) c->decay_rate_given = true;
    if (s == DC_OK && !c->sched_opt[0]) {
        snprintf(c->sched_opt, sizeof c->sched_opt, "%s", k);
        c->sched_opt_line = o->line;
    }
    return s;
}

static dc_status train_key(dc_run_config *c, const origin *o, const char *k, const char *v) {
    dc_optimizer_options *p = &c->opt;
    bool handled;
    dc_status ss = schedule_key(c, o, k, v, &handled);
    if (handled) return ss;
    if (!strcmp(k, "optimizer")) {
        const char *name = NULL;
        dc_status s = parse_choice(o, v, opt_names, opt_names, 5, &name);
        if (s != DC_OK) return s;
        for (int i = 0; i < 5; i++)
            if (name == opt_names[i]) p->kind = (dc_optimizer_kind)(DC_OPT_SGD + i);
        return DC_OK;
    }
    struct {
        const char *key;
        float *dst;
        double lo, hi;
    } floats[] = {{"learning_rate", &p->learning_rate, 0, 1e6},
                  {"beta_1", &p->beta_1, 0, 0.999999},
                  {"beta_2", &p->beta_2, 0, 0.999999999},
                  {"epsilon", &p->epsilon, 0, 1},
                  {"momentum", &p->momentum, 0, 0.999999},
                  {"rho", &p->rho, 0, 0.999999},
                  {"initial_accumulator_value", &p->initial_accumulator_value, 0, 1e6},
                  {"weight_decay", &p->weight_decay, 0, 1e6},
                  {"clipnorm", &p->clipnorm, 0, 1e30},
                  {"global_clipnorm", &p->global_clipnorm, 0, 1e30},
                  {"clipvalue", &p->clipvalue, 0, 1e30}};
    for (size_t i = 0; i < sizeof floats / sizeof *floats; i++)
        if (!strcmp(k, floats[i].key)) return parse_float(o, v, floats[i].lo, floats[i].hi, floats[i].dst);
    if (!strcmp(k, "amsgrad")) return parse_bool(o, v, &p->amsgrad);
    if (!strcmp(k, "nesterov")) return parse_bool(o, v, &p->nesterov);
    if (!strcmp(k, "centered")) return parse_bool(o, v, &p->centered);
    if (!strcmp(k, "loss")) {
        const char *name = NULL;
        dc_status s = parse_choice(o, v, loss_names, loss_canon, 6, &name);
        return s == DC_OK ? set_str(o, &c->loss, name) : s;
    }
    if (!strcmp(k, "from_logits")) return parse_bool(o, v, &c->from_logits);
    if (!strcmp(k, "metrics")) {
        /* "accuracy" or "accuracy, mae" */
        char buf[256];
        snprintf(buf, sizeof buf, "%s", v);
        for (int i = 0; i < c->n_metrics; i++) dc_free(c->metrics[i]);
        c->n_metrics = 0;
        char *save = NULL;
        for (char *t = strtok_r(buf, ", []'\"", &save); t; t = strtok_r(NULL, ", []'\"", &save)) {
            const char *name = NULL;
            dc_status s = parse_choice(o, t, metric_names, metric_canon, 10, &name);
            if (s != DC_OK) return s;
            if (c->n_metrics == 4) return bad(o, "'%s': at most 4 metrics%s", v, NULL);
            for (int i = 0; i < c->n_metrics; i++)
                if (!strcmp(c->metrics[i], name)) return bad(o, "'%s': '%s' is given twice", v, name);
            if (!(c->metrics[c->n_metrics] = str_dup(name)))
                return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", o->file);
            c->n_metrics++;
        }
        return DC_OK;
    }
    if (!strcmp(k, "class_weights")) return parse_class_weights(c, o, v);
    if (!strcmp(k, "batch_size")) return parse_i64(o, v, 1, 1 << 24, &c->batch_size);
    if (!strcmp(k, "epochs")) return parse_int(o, v, 1, 1000000, &c->epochs);
    if (!strcmp(k, "steps_per_epoch")) return parse_i64(o, v, 1, INT64_MAX / 2, &c->steps_per_epoch);
    if (!strcmp(k, "seed")) return parse_u64(o, v, &c->seed);
    if (!strcmp(k, "shuffle")) return parse_bool(o, v, &c->shuffle);
    if (!strcmp(k, "verbose")) return parse_int(o, v, 0, 2, &c->verbose);
    if (!strcmp(k, "terminate_on_nan")) return parse_bool(o, v, &c->terminate_on_nan);
    return unknown_key(o, train_keys);
}

static dc_status monitor_value(const origin *o, const char *v, char **dst) {
    /* the keys fit's logs hold */
    static const char *const known[] = {"loss", "val_loss", "accuracy", "val_accuracy",
                                        "binary_accuracy", "val_binary_accuracy", "mae",
                                        "val_mae", "mse", "val_mse"};
    const char *name = NULL;
    dc_status s = parse_choice(o, v, known, known, 10, &name);
    return s == DC_OK ? set_str(o, dst, name) : s;
}

static dc_status early_key(dc_run_config *c, const origin *o, const char *k, const char *v) {
    c->early = true;
    if (!strcmp(k, "monitor")) return monitor_value(o, v, &c->es_monitor);
    if (!strcmp(k, "patience")) return parse_int(o, v, 0, 1000000, &c->es_patience);
    if (!strcmp(k, "min_delta")) return parse_float(o, v, 0, 1e30, &c->es_min_delta);
    if (!strcmp(k, "restore_best_weights")) return parse_bool(o, v, &c->es_restore);
    return unknown_key(o, es_keys);
}

static dc_status plateau_key(dc_run_config *c, const origin *o, const char *k, const char *v) {
    c->plateau = true;
    if (!strcmp(k, "monitor")) return monitor_value(o, v, &c->rl_monitor);
    if (!strcmp(k, "factor")) {
        dc_status s = parse_float(o, v, 0, 1, &c->rl_factor);
        if (s == DC_OK && (c->rl_factor <= 0 || c->rl_factor >= 1))
            return bad(o, "'%s' must be between 0 and 1 (exclusive)%s", v, NULL);
        return s;
    }
    if (!strcmp(k, "patience")) return parse_int(o, v, 0, 1000000, &c->rl_patience);
    if (!strcmp(k, "min_delta")) return parse_float(o, v, 0, 1e30, &c->rl_min_delta);
    if (!strcmp(k, "cooldown")) return parse_int(o, v, 0, 1000000, &c->rl_cooldown);
    if (!strcmp(k, "min_lr")) return parse_float(o, v, 0, 1e6, &c->rl_min_lr);
    return unknown_key(o, rl_keys);
}

/* [TensorBoard]: Keras' options; update_freq "epoch" or "batch" (Keras' integer
 * count of batches is not supported). */
static dc_status tensorboard_key(dc_run_config *c, const origin *o, const char *k, const char *v) {
    static const char *const freqs[] = {"epoch", "batch"};
    if (!strcmp(k, "log_dir")) return set_str(o, &c->tb_log_dir, v);
    if (!strcmp(k, "histogram_freq")) return parse_int(o, v, 0, 1000000, &c->tb_histogram_freq);
    if (!strcmp(k, "update_freq")) return parse_choice(o, v, freqs, freqs, 2, &c->tb_update_freq);
    if (!strcmp(k, "write_images")) return parse_bool(o, v, &c->tb_write_images);
    return unknown_key(o, tb_keys);
}

typedef enum {
    SEC_MODEL,
    SEC_DATA,
    SEC_TRAIN,
    SEC_EARLY,
    SEC_PLATEAU,
    SEC_TENSORBOARD,
    SEC_TEXT_VECTORIZATION,
    SEC_LAYER
} sec_kind;

static sec_kind section_kind(const char *name) {
    if (!strcasecmp(name, "model")) return SEC_MODEL;
    if (!strcasecmp(name, "data")) return SEC_DATA;
    if (!strcasecmp(name, "train")) return SEC_TRAIN;
    if (!strcmp(name, "EarlyStopping")) return SEC_EARLY;
    if (!strcmp(name, "ReduceLROnPlateau")) return SEC_PLATEAU;
    if (!strcmp(name, "TensorBoard")) return SEC_TENSORBOARD;
    if (!strcmp(name, "TextVectorization")) return SEC_TEXT_VECTORIZATION;
    return SEC_LAYER;
}

static dc_status apply_key(dc_run_config *c, sec_kind kind, const origin *o, const char *v) {
    switch (kind) {
    case SEC_MODEL: return model_key(c, o, o->key, v);
    case SEC_DATA: return data_key(c, o, o->key, v);
    case SEC_TRAIN: return train_key(c, o, o->key, v);
    case SEC_EARLY: return early_key(c, o, o->key, v);
    case SEC_PLATEAU: return plateau_key(c, o, o->key, v);
    case SEC_TENSORBOARD: return tensorboard_key(c, o, o->key, v);
    case SEC_TEXT_VECTORIZATION: {
        dc_text_origin to = {o->file, o->line, o->section, o->key};
        return dc_text_vectorization_key(&c->text, &to, v);
    }
    default: return DC_OK;
    }
}

/* ---- the whole file ---- */

void dc_run_config_free(dc_run_config *c) {
    if (!c) return;
    dc_ini_free(c->doc);
    char **strs[] = {&c->name,      &c->dataset,    &c->train_images, &c->train_labels,
                     &c->test_images, &c->test_labels, &c->train_csv,  &c->test_csv,
                     &c->label_column, &c->train_dir, &c->test_dir,     &c->loss,
                     &c->es_monitor, &c->rl_monitor, &c->train_seg_dir, &c->test_seg_dir,
                     &c->tb_log_dir};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) dc_free(*strs[i]);
    for (int i = 0; i < c->n_metrics; i++) dc_free(c->metrics[i]);
    dc_free(c->layers);
    dc_text_data_free(c->text);
    dc_free(c);
}

/* "models/fashion_cnn.ini" -> "fashion_cnn" */
static void base_name(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t len = strlen(b);
    if (len > 4 && !strcmp(b + len - 4, ".ini")) len -= 4;
    if (len >= n) len = n - 1;
    memcpy(out, b, len);
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)out[i]) && out[i] != '_' && out[i] != '-') out[i] = '_';
    if (!len) snprintf(out, n, "model");
}

static dc_status check_layer_section(dc_run_config *c, const dc_ini_section *s, int idx,
                                     layer_ref *ref) {
    const char *file = c->doc->path;
    const char *sp = s->name;
    size_t tl = strcspn(sp, " \t");
    if (tl == 0)
        return dc_set_error(DC_ERR_ARG, "%s:%d: empty section name '[]'", file, s->line);
    if (tl >= sizeof ref->type)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [%s]: section name too long", file, s->line, sp);
    memcpy(ref->type, sp, tl);
    ref->type[tl] = '\0';
    const char *rest = sp + tl;
    while (isspace((unsigned char)*rest)) rest++;
    if (strcspn(rest, " \t") != strlen(rest) || strlen(rest) >= sizeof ref->name || strchr(rest, '/'))
        return dc_set_error(DC_ERR_ARG,
                            "%s:%d: [%s]: write a layer section as [Type] or [Type name], the "
                            "name one word of at most 63 characters without '/'",
                            file, s->line, sp);
    snprintf(ref->name, sizeof ref->name, "%s", rest);
    if (*rest && dc_ini_find(s, "name"))
        return dc_set_error(DC_ERR_ARG, "%s:%d: [%s] name: the section header already names the layer",
                            file, dc_ini_find(s, "name")->line, sp);
    ref->sec = idx;
    return DC_OK;
}

/* The checks that span keys: one data source, complete. */
static dc_status check_data(dc_run_config *c, int data_line) {
    const char *file = c->doc->path;
    int n_src = (c->dataset != NULL) + (c->train_images || c->train_labels || c->test_images ||
                                        c->test_labels) +
                (c->train_csv || c->test_csv || (c->label_column && !dc_text_data_active(c->text))) +
                (c->train_dir || c->test_dir) + dc_text_data_active(c->text) +
                (c->train_seg_dir || c->test_seg_dir);
    if (n_src == 0)
        return dc_set_error(DC_ERR_ARG,
                            "%s:%d: [data]: no data: give dataset = fashion-mnist, or "
                            "train_images and train_labels (IDX), or train_csv, or train_dir "
                            "(or text: train_text_dir, train_text_csv, fortunes, corpus)",
                            file, data_line);
    if (n_src > 1)
        return dc_set_error(DC_ERR_ARG,
                            "%s:%d: [data]: give one kind of data: dataset, IDX files "
                            "(train_images ...), CSV files (train_csv ...) or an image folder "
                            "(train_dir ...)",
                            file, data_line);
    if (dc_text_data_active(c->text) || (c->text && !c->dataset && !c->train_images &&
                                          !c->train_csv && !c->train_dir)) {
        c->source = SRC_TEXT;
        if ((c->img_h || c->img_c))
            return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: image_size and channels apply to image "
                                "folders (train_dir)", file, data_line);
        return dc_text_data_check(c->text, file, data_line, c->label_column != NULL);
    }
    if (c->text && dc_text_data_check(c->text, file, data_line, false) != DC_OK)
        return dc_last_status();
    bool canvas_keys = c->canvas.size || c->canvas.count || c->test_canvases ||
                       c->canvas.max_garments || c->canvas.threshold > 0;
    if (canvas_keys && !(c->dataset && !strcasecmp(c->dataset, "fashion-canvas")))
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: canvas_size, train_canvases, test_canvases, "
                            "max_garments and garment_threshold apply to dataset = fashion-canvas",
                            file, data_line);
    if (c->num_classes && !c->train_seg_dir && !c->test_seg_dir)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: num_classes applies to mask folders "
                            "(train_seg_dir)", file, data_line);
    if (c->dataset) c->source = SRC_NAMED;
    else if (c->train_seg_dir || c->test_seg_dir) {
        c->source = SRC_SEG;
        if (!c->train_seg_dir || !c->num_classes)
            return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: mask folders need train_seg_dir and "
                                "num_classes", file, data_line);
        if (c->img_h)
            return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: image_size does not apply to mask "
                                "folders (their images are read at their size)", file, data_line);
        return DC_OK;
    } else if (c->train_images || c->train_labels || c->test_images || c->test_labels) {
        c->source = SRC_IDX;
        if (!c->train_images || !c->train_labels)
            return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: IDX data needs train_images and train_labels",
                                file, data_line);
        if (!c->test_images != !c->test_labels)
            return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: give both test_images and test_labels, or neither",
                                file, data_line);
    } else if (c->train_csv || c->test_csv || c->label_column) {
        c->source = SRC_CSV;
        if (!c->train_csv)
            return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: CSV data needs train_csv", file, data_line);
    } else {
        c->source = SRC_FOLDER;
        if (!c->train_dir)
            return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: an image folder needs train_dir", file, data_line);
    }
    if ((c->img_h || c->img_c) && c->source != SRC_FOLDER)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: image_size and channels apply to image folders (train_dir)",
                            file, data_line);
    return DC_OK;
}

static dc_status check_layers(dc_run_config *c);

/* The schedule options must come with a schedule that uses them; exponential
 * decay needs its rate and steps (Keras requires both); ReduceLROnPlateau sets
 * the rate itself, which Keras refuses next to a schedule. */
static dc_status check_schedule(const dc_run_config *c, int train_line) {
    const char *file = c->doc->path;
    const dc_lr_schedule *sc = &c->sched;
    if (sc->kind == DC_LR_CONSTANT && c->sched_opt[0])
        return dc_set_error(DC_ERR_ARG,
                            "%s:%d: [train] %s needs learning_rate_schedule = cosine_decay or "
                            "exponential_decay",
                            file, c->sched_opt_line, c->sched_opt);
    if (sc->kind == DC_LR_EXPONENTIAL && (!sc->decay_steps || !c->decay_rate_given))
        return dc_set_error(DC_ERR_ARG,
                            "%s:%d: [train] learning_rate_schedule = exponential_decay needs "
                            "decay_steps and decay_rate",
                            file, train_line);
    if (sc->kind == DC_LR_COSINE && (sc->staircase || c->decay_rate_given))
        return dc_set_error(DC_ERR_ARG,
                            "%s:%d: [train] cosine_decay takes decay_steps, alpha, warmup_steps "
                            "and warmup_target (not decay_rate or staircase)",
                            file, train_line);
    if (sc->kind == DC_LR_EXPONENTIAL && (sc->alpha > 0 || sc->warmup_steps || sc->warmup_target > 0))
        return dc_set_error(DC_ERR_ARG,
                            "%s:%d: [train] exponential_decay takes decay_steps, decay_rate and "
                            "staircase (not alpha or warm-up)",
                            file, train_line);
    if (sc->kind != DC_LR_CONSTANT && c->plateau)
        return dc_set_error(DC_ERR_ARG,
                            "%s: [ReduceLROnPlateau] changes the learning rate itself: it cannot "
                            "be combined with [train] learning_rate_schedule",
                            file);
    return DC_OK;
}

/* The schedule as the optimizer takes it: it starts at learning_rate (the
 * optimizer's own default when none is given), and cosine decay without
 * decay_steps spans the whole run, run_steps steps. */
static dc_lr_schedule schedule_for_run(const dc_run_config *c, int64_t run_steps) {
    dc_lr_schedule sc = c->sched;
    sc.initial_learning_rate = c->opt.learning_rate;
    if (sc.kind != DC_LR_CONSTANT && !(sc.initial_learning_rate > 0)) {
        dc_optimizer *plain = dc_optimizer_new(&c->opt, 1); /* NULL: its error comes later */
        if (plain) sc.initial_learning_rate = dc_optimizer_learning_rate(plain);
        dc_optimizer_free(plain);
    }
    if (!sc.decay_steps) sc.decay_steps = run_steps > 0 ? run_steps : 1;
    return sc;
}

static dc_run_config *from_doc(dc_ini_doc *doc) {
    dc_run_config *c = dc_calloc(1, sizeof *c);
    if (!c) {
        dc_ini_free(doc);
        dc_set_error(DC_ERR_NOMEM, "dc_run_config_load: out of memory");
        return NULL;
    }
    c->doc = doc;
    c->validation = VAL_NONE;
    c->epochs = 1;
    c->batch_size = 32;
    c->shuffle = true;
    c->terminate_on_nan = true;
    c->verbose = 1;
    c->from_logits = true;
    c->es_patience = 0;
    c->rl_factor = 0.1f;
    c->rl_patience = 10;
    c->rl_min_delta = 1e-4f;
    const char *file = doc->path;
    int seen[SEC_LAYER] = {0}; /* line of each fixed section */
    c->layers = dc_calloc((size_t)(doc->n_sections ? doc->n_sections : 1), sizeof *c->layers);
    if (!c->layers) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", file);
        goto fail;
    }
    for (int i = 0; i < doc->n_sections; i++) {
        const dc_ini_section *s = &doc->sections[i];
        sec_kind kind = section_kind(s->name);
        if (kind != SEC_LAYER) {
            if (seen[kind]) {
                dc_set_error(DC_ERR_ARG, "%s:%d: [%s] given twice (first on line %d)", file, s->line,
                             s->name, seen[kind]);
                goto fail;
            }
            seen[kind] = s->line;
            for (int j = 0; j < s->n_entries; j++) {
                const dc_ini_entry *e = &s->entries[j];
                origin o = {file, e->line, s->name, e->key};
                if (apply_key(c, kind, &o, e->value) != DC_OK) goto fail;
            }
            if (kind == SEC_TENSORBOARD) c->tb = true;
            if (kind == SEC_EARLY || kind == SEC_PLATEAU) {
                if (kind == SEC_EARLY) c->early = true;
                else c->plateau = true;
            }
            continue;
        }
        if (check_layer_section(c, s, i, &c->layers[c->n_layers]) != DC_OK) goto fail;
        c->n_layers++;
    }
    if (!seen[SEC_MODEL]) {
        dc_set_error(DC_ERR_ARG, "%s: no [model] section (it names the model: [model] name = ...)", file);
        goto fail;
    }
    if (!seen[SEC_DATA]) {
        dc_set_error(DC_ERR_ARG, "%s: no [data] section (e.g. [data] dataset = fashion-mnist)", file);
        goto fail;
    }
    if (!seen[SEC_TRAIN]) {
        dc_set_error(DC_ERR_ARG, "%s: no [train] section (optimizer, loss, epochs ...)", file);
        goto fail;
    }
    if (c->n_layers == 0) {
        dc_set_error(DC_ERR_ARG, "%s: no layers: add one section per layer after [train], e.g. [Dense]",
                     file);
        goto fail;
    }
    if (check_data(c, seen[SEC_DATA]) != DC_OK) goto fail;
    if (!c->loss) {
        dc_set_error(DC_ERR_ARG, "%s:%d: [train]: no loss (e.g. loss = sparse_categorical_crossentropy)",
                     file, seen[SEC_TRAIN]);
        goto fail;
    }
    if (c->validation == VAL_TEST && c->source != SRC_NAMED && !c->test_images && !c->test_csv &&
        !c->test_dir && !c->test_seg_dir && !dc_text_data_has_test(c->text)) {
        dc_set_error(DC_ERR_ARG, "%s:%d: [data] validation = test, but there is no test data",
                     file, seen[SEC_DATA]);
        goto fail;
    }
    if (!c->opt.kind) c->opt.kind = DC_OPT_ADAM; /* nothing said: Adam (Keras' usual choice) */
    if (check_schedule(c, seen[SEC_TRAIN]) != DC_OK) goto fail;
    {
        /* the optimizer checks its own options (clip combinations, ranges),
         * with a stand-in for the decay_steps only the data can tell */
        dc_optimizer_options oo = c->opt;
        dc_lr_schedule sc = schedule_for_run(c, 1);
        if (sc.kind != DC_LR_CONSTANT) oo.schedule = &sc;
        dc_optimizer *op = dc_optimizer_new(&oo, 1);
        if (!op) {
            char msg[400];
            snprintf(msg, sizeof msg, "%s", dc_last_error());
            dc_status why = dc_last_status() == DC_ERR_NOMEM ? DC_ERR_NOMEM : DC_ERR_ARG;
            dc_set_error(why, "%s:%d: [train]: %s", file, seen[SEC_TRAIN], msg);
            goto fail;
        }
        dc_optimizer_free(op);
    }
    if (!c->name) {
        char b[64];
        base_name(file, b, sizeof b);
        if (!(c->name = str_dup(b))) {
            dc_set_error(DC_ERR_NOMEM, "%s: out of memory", file);
            goto fail;
        }
    }
    if (check_layers(c) != DC_OK) goto fail;
    return c;
fail:
    dc_run_config_free(c);
    return NULL;
}

dc_run_config *dc_run_config_load(const char *path) {
    if (!path) {
        dc_set_error(DC_ERR_ARG, "dc_run_config_load: path is NULL");
        return NULL;
    }
    dc_ini_doc *doc = dc_ini_load(path);
    return doc ? from_doc(doc) : NULL;
}

dc_run_config *dc_run_config_parse(const char *text, const char *name) {
    if (!text) {
        dc_set_error(DC_ERR_ARG, "dc_run_config_parse: text is NULL");
        return NULL;
    }
    dc_ini_doc *doc = dc_ini_parse(text, strlen(text), name ? name : "(text)");
    return doc ? from_doc(doc) : NULL;
}

dc_status dc_run_config_set(dc_run_config *c, const char *section, const char *key,
                            const char *value) {
    if (!c || !section || !key || !value)
        return dc_set_error(DC_ERR_ARG, "dc_run_config_set: NULL argument");
    sec_kind kind = section_kind(section);
    if (kind == SEC_LAYER)
        return dc_set_error(DC_ERR_ARG, "dc_run_config_set: [%s]: only [model], [data], [train], "
                                        "[EarlyStopping] and [ReduceLROnPlateau] can be set",
                            section);
    origin o = {"command line", 0, section, key};
    return apply_key(c, kind, &o, value);
}

const char *dc_run_config_name(const dc_run_config *c) { return c ? c->name : NULL; }
const char *dc_run_config_path(const dc_run_config *c) { return c ? c->doc->path : NULL; }
int dc_run_config_epochs(const dc_run_config *c) { return c ? c->epochs : 0; }
int64_t dc_run_config_batch_size(const dc_run_config *c) { return c ? c->batch_size : 0; }
uint64_t dc_run_config_seed(const dc_run_config *c) { return c ? c->seed : 0; }
int dc_run_config_num_layers(const dc_run_config *c) { return c ? c->n_layers : 0; }
const char *dc_run_config_layer_type(const dc_run_config *c, int i) {
    return c && i >= 0 && i < c->n_layers ? c->layers[i].type : NULL;
}
int dc_run_config_layer_line(const dc_run_config *c, int i) {
    return c && i >= 0 && i < c->n_layers ? c->doc->sections[c->layers[i].sec].line : 0;
}

/* ---- layers ---- */

/* The layer's options as given (plus its name from the header); returns n.
 * With text data, the value "vocabulary_size" stands for the size of the
 * adapted vocabulary (written into num; before the data is loaded, a stand-in
 * lets the options be checked). */
static int layer_options(const dc_run_config *c, int i, const char **k, const char **v, int cap,
                         char *num, size_t num_len) {
    const layer_ref *r = &c->layers[i];
    const dc_ini_section *s = &c->doc->sections[r->sec];
    const dc_text_vectorizer *tv = dc_text_data_vectorizer(c->text);
    snprintf(num, num_len, "%lld", tv ? (long long)dc_text_vectorizer_vocabulary_size(tv) : 1000LL);
    int n = 0;
    for (int j = 0; j < s->n_entries && n < cap; j++) {
        if (!strcmp(s->entries[j].key, "inputs")) continue; /* the graph's, not the layer's */
        k[n] = s->entries[j].key;
        v[n] = s->entries[j].value;
        if (dc_text_data_active(c->text) && !strcasecmp(v[n], "vocabulary_size")) v[n] = num;
        n++;
    }
    if (r->name[0] && n < cap) {
        k[n] = "name";
        v[n++] = r->name;
    }
    return n;
}

/* Rewrites a dc_layer_from_config message with the file, the line of the key
 * it names (or of the section) and the section: "x.ini:14: [Dense] units: ...". */
static dc_status layer_error(const dc_run_config *c, int i) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    dc_status st = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_ARG;
    const dc_ini_section *s = &c->doc->sections[c->layers[i].sec];
    const char *m = msg;
    const char *pre = "dc_layer_from_config: ";
    if (!strncmp(m, pre, strlen(pre))) m += strlen(pre);
    /* drop the leading "Dense: " when the section already says it */
    size_t tl = strlen(c->layers[i].type);
    if (!strncmp(m, c->layers[i].type, tl) && m[tl] == ':' && m[tl + 1] == ' ') m += tl + 2;
    int line = s->line;
    const char *q = strstr(m, "option '");
    if (q) {
        const char *key = q + 8;
        const char *e = strchr(key, '\'');
        for (int j = 0; e && j < s->n_entries; j++)
            if (strlen(s->entries[j].key) == (size_t)(e - key) &&
                !strncmp(s->entries[j].key, key, (size_t)(e - key)))
                line = s->entries[j].line;
        /* "option 'units': 'abc' is ..." reads better as "units: 'abc' is ..." */
        if (e && q == m && e[1] == ':')
            return dc_set_error(st, "%s:%d: [%s] %.*s%s", c->doc->path, line, s->name,
                                (int)(e - key), key, e + 1);
    }
    return dc_set_error(st, "%s:%d: [%s] %s", c->doc->path, line, s->name, m);
}

static dc_status check_layers(dc_run_config *c) {
    for (int i = 0; i < c->n_layers; i++) {
        /* a shared layer's call is checked with the graph (shared_layer) */
        if (dc_ini_find(&c->doc->sections[c->layers[i].sec], "share")) continue;
        const char *k[64], *v[64];
        char num[24];
        int n = layer_options(c, i, k, v, 64, num, sizeof num);
        dc_layer *l = dc_layer_from_config(c->layers[i].type, k, v, n);
        if (!l) return layer_error(c, i);
        dc_layer_free(l);
    }
    return DC_OK;
}

/* ---- data ---- */

/* Relative paths are looked up next to the model file first, then in the
 * current directory. Returns the path to use (maybe buf). */
static const char *resolve(const dc_run_config *c, const char *p, char *buf, size_t n) {
    if (!p || p[0] == '/') return p;
    const char *slash = strrchr(c->doc->path, '/');
    if (slash) {
        snprintf(buf, n, "%.*s/%s", (int)(slash - c->doc->path), c->doc->path, p);
        struct stat st;
        if (stat(buf, &st) == 0) return buf;
    }
    return p;
}

static int key_line(const dc_run_config *c, const char *section, const char *key) {
    for (int i = 0; i < c->doc->n_sections; i++) {
        const dc_ini_section *s = &c->doc->sections[i];
        if (strcasecmp(s->name, section)) continue;
        const dc_ini_entry *e = key ? dc_ini_find(s, key) : NULL;
        return e ? e->line : s->line;
    }
    return 0;
}

static dc_status data_error(const dc_run_config *c, const char *key) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    dc_status st = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_IO;
    int line = key_line(c, "data", key);
    if (line > 0) return dc_set_error(st, "%s:%d: [data] %s: %s", c->doc->path, line, key, msg);
    return dc_set_error(st, "%s: [data] %s: %s", c->doc->path, key, msg);
}

static dc_dataset *load_split(const dc_run_config *c, bool train) {
    char a[4096], b[4096];
    dc_dataset *ds = NULL;
    const char *key = "dataset";
    switch (c->source) {
    case SRC_NAMED:
        if (!strcasecmp(c->dataset, "fashion-canvas")) {
            dc_fashion_canvas_options co = c->canvas;
            if (!train) co.count = c->test_canvases ? c->test_canvases : 200;
            ds = dc_dataset_fashion_canvas(train ? "train" : "test", &co);
            break;
        }
        ds = dc_dataset_load_named("fashion-mnist", train ? "train" : "test");
        break;
    case SRC_SEG:
        key = train ? "train_seg_dir" : "test_seg_dir";
        if (!train && !c->test_seg_dir) return NULL;
        ds = dc_dataset_load_segmentation_folder(
            resolve(c, train ? c->train_seg_dir : c->test_seg_dir, a, sizeof a), c->num_classes,
            c->img_c);
        break;
    case SRC_IDX:
        key = train ? "train_images" : "test_images";
        if (!train && !c->test_images) return NULL;
        ds = dc_dataset_load_idx(resolve(c, train ? c->train_images : c->test_images, a, sizeof a),
                                 resolve(c, train ? c->train_labels : c->test_labels, b, sizeof b));
        break;
    case SRC_CSV:
        key = train ? "train_csv" : "test_csv";
        if (!train && !c->test_csv) return NULL;
        ds = dc_dataset_load_csv(resolve(c, train ? c->train_csv : c->test_csv, a, sizeof a),
                                 c->label_column);
        break;
    case SRC_FOLDER:
        key = train ? "train_dir" : "test_dir";
        if (!train && !c->test_dir) return NULL;
        ds = dc_dataset_load_image_folder(resolve(c, train ? c->train_dir : c->test_dir, a, sizeof a),
                                          c->img_h, c->img_w, c->img_c);
        break;
    default:
        dc_set_error(DC_ERR_STATE, "%s: no data source", c->doc->path);
        return NULL;
    }
    if (!ds) data_error(c, key);
    return ds;
}

static const char *resolve_for_text(const void *ctx, const char *p, char *buf, size_t n) {
    return resolve(ctx, p, buf, n);
}

/* Text data: the texts are loaded, the vectorizer adapted on the training split. */
static dc_status load_text(const dc_run_config *c, dc_dataset **train, dc_dataset **test) {
    dc_status s = dc_text_data_load(c->text, resolve_for_text, c, c->label_column, train, test);
    if (s == DC_OK) return DC_OK;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    return dc_set_error(s, "%s: [data]: %s", c->doc->path, msg);
}

const dc_text_vectorizer *dc_run_config_text_vectorizer(const dc_run_config *c) {
    return c ? dc_text_data_vectorizer(c->text) : NULL;
}

dc_status dc_run_config_load_data(const dc_run_config *c, dc_dataset **train, dc_dataset **test) {
    if (!c || !train || !test)
        return dc_set_error(DC_ERR_ARG, "dc_run_config_load_data: NULL argument");
    *train = *test = NULL;
    if (c->source == SRC_TEXT) return load_text(c, train, test);
    dc_clear_error();
    *train = load_split(c, true);
    if (!*train) return dc_last_status();
    dc_clear_error();
    *test = load_split(c, false);
    if (!*test && dc_last_status() != DC_OK) {
        dc_dataset_free(*train);
        *train = NULL;
        return dc_last_status();
    }
    return DC_OK;
}

dc_status dc_run_config_test_spec(const dc_run_config *c, char *buf, size_t n) {
    if (!c || !buf || n == 0)
        return dc_set_error(DC_ERR_ARG, "dc_run_config_test_spec: NULL argument");
    char a[4096], b[4096], ra[PATH_MAX], rb[PATH_MAX];
    buf[0] = '\0';
    if (c->source == SRC_TEXT)
        return dc_text_data_spec(c->text, resolve_for_text, c, c->label_column, buf, n);
    switch (c->source) {
    case SRC_NAMED:
        if (!strcasecmp(c->dataset, "fashion-canvas"))
            snprintf(buf, n, "fashion-canvas:%d,%lld,%llu,%d,%.9g", c->canvas.size,
                     (long long)(c->test_canvases ? c->test_canvases : 200),
                     (unsigned long long)c->canvas.seed, c->canvas.max_garments,
                     (double)c->canvas.threshold);
        else
            snprintf(buf, n, "fashion-mnist");
        break;
    case SRC_SEG:
        if (c->test_seg_dir && realpath(resolve(c, c->test_seg_dir, a, sizeof a), ra))
            snprintf(buf, n, "masks:%d:%s", c->num_classes, ra);
        break;
    case SRC_IDX:
        if (c->test_images && realpath(resolve(c, c->test_images, a, sizeof a), ra) &&
            realpath(resolve(c, c->test_labels, b, sizeof b), rb))
            snprintf(buf, n, "%s,%s", ra, rb);
        break;
    case SRC_CSV:
        if (c->test_csv && realpath(resolve(c, c->test_csv, a, sizeof a), ra)) {
            if (c->label_column) snprintf(buf, n, "%s,%s", ra, c->label_column);
            else snprintf(buf, n, "%s", ra);
        }
        break;
    case SRC_FOLDER:
        if (c->test_dir && realpath(resolve(c, c->test_dir, a, sizeof a), ra))
            snprintf(buf, n, "%s", ra);
        break;
    default: break;
    }
    return DC_OK;
}

static bool ends_with(const char *s, size_t len, const char *suffix) {
    size_t k = strlen(suffix);
    return len >= k && !strncasecmp(s + len - k, suffix, k);
}

/* "fashion-canvas[:SIZE,COUNT,SEED,MAX_GARMENTS,THRESHOLD]" (its test split;
 * 0 or absent fields take the defaults) or "masks:NUM_CLASSES:DIR". */
static dc_dataset *load_segmentation_spec(const char *fn, const char *spec, int channels) {
    if (!strncmp(spec, "masks:", 6)) {
        char *end;
        long k = strtol(spec + 6, &end, 10);
        if (*end != ':' || k < 2 || k > 256 || !end[1]) {
            dc_set_error(DC_ERR_ARG, "%s: '%s': mask folders are masks:NUM_CLASSES:DIR", fn, spec);
            return NULL;
        }
        return dc_dataset_load_segmentation_folder(end + 1, (int)k, channels);
    }
    dc_fashion_canvas_options o = {.count = 200};
    long long count = 200;
    unsigned long long seed = 0;
    double thr = 0;
    int got = spec[14] ? sscanf(spec + 14, ":%d,%lld,%llu,%d,%lf", &o.size, &count, &seed,
                                &o.max_garments, &thr)
                       : 0;
    if (spec[14] && got < 1) {
        dc_set_error(DC_ERR_ARG, "%s: '%s': write fashion-canvas or "
                     "fashion-canvas:SIZE,COUNT,SEED,MAX_GARMENTS,THRESHOLD", fn, spec);
        return NULL;
    }
    o.count = count;
    o.seed = seed;
    o.threshold = (float)thr;
    return dc_dataset_fashion_canvas("test", &o);
}

dc_dataset *dc_dataset_load_spec(const char *spec, int height, int width, int channels) {
    const char *fn = "dc_dataset_load_spec";
    if (!spec || !*spec) {
        dc_set_error(DC_ERR_ARG, "%s: spec is %s", fn, spec ? "empty" : "NULL");
        return NULL;
    }
    if (!strcasecmp(spec, "fashion-mnist") || !strcasecmp(spec, "fashion_mnist"))
        return dc_dataset_load_named("fashion-mnist", "test");
    if (!strncasecmp(spec, "fashion-canvas", 14) || !strncmp(spec, "masks:", 6))
        return load_segmentation_spec(fn, spec, channels);
    const char *comma = strchr(spec, ',');
    size_t first = comma ? (size_t)(comma - spec) : strlen(spec);
    char a[4096];
    if (first >= sizeof a) {
        dc_set_error(DC_ERR_ARG, "%s: path too long", fn);
        return NULL;
    }
    memcpy(a, spec, first);
    a[first] = '\0';
    if (ends_with(a, first, ".csv")) return dc_dataset_load_csv(a, comma ? comma + 1 : NULL);
    struct stat st;
    if (!comma && stat(a, &st) == 0 && S_ISDIR(st.st_mode))
        return dc_dataset_load_image_folder(a, height, width, channels);
    if (!comma && stat(a, &st) != 0) {
        dc_set_error(DC_ERR_IO,
                     "%s: '%s' %s%s, and is not fashion-mnist, IMAGES,LABELS (IDX files), "
                     "FILE.csv[,LABEL] or an image folder",
                     fn, spec, errno == ENOENT ? "does not exist" : "cannot be read: ",
                     errno == ENOENT ? "" : strerror(errno));
        return NULL;
    }
    if (!comma) {
        dc_set_error(DC_ERR_ARG,
                     "%s: '%s' is not fashion-mnist, IMAGES,LABELS (IDX files), FILE.csv[,LABEL] "
                     "or an image folder",
                     fn, spec);
        return NULL;
    }
    if (!*a || !comma[1] || strchr(comma + 1, ',')) {
        dc_set_error(DC_ERR_ARG, "%s: '%s': IDX data is IMAGES,LABELS: two file names", fn, spec);
        return NULL;
    }
    return dc_dataset_load_idx(a, comma + 1);
}

/* ---- model and training ---- */

static dc_status model_error(const dc_run_config *c) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    dc_status st = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_ARG;
    return dc_set_error(st, "%s: %s", c->doc->path, msg);
}

/* The optimizer steps fit will take: epochs x batches of the training part
 * (1 without data: the model is only built, not trained). */
static int64_t run_steps(const dc_run_config *c, const dc_dataset *train) {
    if (!train) return 1;
    int64_t n = dc_dataset_count(train);
    if (c->validation == VAL_SPLIT) n = dc_fit_split_train_count(n, c->validation_split);
    if (c->steps_per_epoch > 0) return (int64_t)c->epochs * c->steps_per_epoch;
    return (int64_t)c->epochs * ((n + c->batch_size - 1) / c->batch_size);
}

/* The model's input shape: [model] input_shape (checked against the data),
 * else the data's samples; nd 0 when the first layer is an InputLayer. */
static dc_status model_input_shape(const dc_run_config *c, const dc_dataset *train, int *ndim,
                                   int64_t *shape) {
    int nd = c->in_ndim;
    if (nd > 0) {
        memcpy(shape, c->in_shape, DC_MAX_DIMS * sizeof *shape);
        if (train) {
            int64_t ds[DC_MAX_DIMS];
            int dn = dc_dataset_x_shape(train, ds);
            bool same = dn == nd;
            for (int i = 0; same && i < nd; i++) same = ds[i] == shape[i] || shape[i] == -1;
            if (!same) {
                char a[128], b[128];
                return dc_set_error(DC_ERR_SHAPE,
                                    "%s:%d: [model] input_shape: %s, but the data's samples are %s",
                                    c->doc->path, key_line(c, "model", "input_shape"),
                                    dc_shape_string(nd, shape, a, sizeof a),
                                    dc_shape_string(dn, ds, b, sizeof b));
            }
        }
    } else if (train) {
        nd = dc_dataset_x_shape(train, shape);
    } else if (strcmp(c->layers[0].type, "InputLayer") && strcmp(c->layers[0].type, "Input")) {
        return dc_set_error(DC_ERR_ARG,
                            "%s: [model] input_shape is needed to build the model without its data",
                            c->doc->path);
    }
    *ndim = nd;
    return DC_OK;
}

/* Whether a layer section names its inputs or shares a layer (the model is then a graph). */
static bool has_graph(const dc_run_config *c) {
    for (int i = 0; i < c->n_layers; i++)
        if (dc_ini_find(&c->doc->sections[c->layers[i].sec], "inputs") ||
            dc_ini_find(&c->doc->sections[c->layers[i].sec], "share"))
            return true;
    return false;
}

/* The name section j gives itself ([Type name] or name = ...), or NULL. */
static const char *section_name(const dc_run_config *c, int j) {
    const dc_ini_entry *e = dc_ini_find(&c->doc->sections[c->layers[j].sec], "name");
    return c->layers[j].name[0] ? c->layers[j].name : e ? e->value : NULL;
}

/* The name `inputs =` finds section j's output by: a section that shares a
 * layer names its call (its own name), any other its layer. */
static const char *call_name(const dc_run_config *c, int j, dc_layer *const *ls) {
    if (!dc_ini_find(&c->doc->sections[c->layers[j].sec], "share")) return ls[j]->name;
    const char *n = section_name(c, j);
    return n ? n : "";
}

/* Section i's `share = layer`: the earlier layer it calls again, of the
 * section's type, the section giving only share, inputs and name; NULL with
 * an error naming the file, line and section. */
static dc_layer *shared_layer(const dc_run_config *c, int i, dc_layer *const *ls,
                              const dc_ini_entry *share) {
    const dc_ini_section *s = &c->doc->sections[c->layers[i].sec];
    for (int k = 0; k < s->n_entries; k++)
        if (strcmp(s->entries[k].key, "share") && strcmp(s->entries[k].key, "inputs") &&
            strcmp(s->entries[k].key, "name")) {
            dc_set_error(DC_ERR_ARG,
                         "%s:%d: [%s] %s: a section that shares a layer takes its options from "
                         "it (it may give only share, inputs and name)",
                         c->doc->path, s->entries[k].line, s->name, s->entries[k].key);
            return NULL;
        }
    const char *own = section_name(c, i);
    for (int j = 0; j < i; j++) {
        if (own && !strcmp(call_name(c, j, ls), own)) {
            dc_set_error(DC_ERR_ARG, "%s:%d: [%s]: the name '%s' is taken by [%s] (line %d)",
                         c->doc->path, s->line, s->name, own, c->doc->sections[c->layers[j].sec].name,
                         c->doc->sections[c->layers[j].sec].line);
            return NULL;
        }
    }
    for (int j = 0; j < i; j++) {
        if (dc_ini_find(&c->doc->sections[c->layers[j].sec], "share") ||
            strcmp(ls[j]->name, share->value))
            continue;
        if (strcmp(dc_layer_type(ls[j]), c->layers[i].type) || ls[j]->kind == DC_LAYER_INPUT) {
            dc_set_error(DC_ERR_ARG, "%s:%d: [%s] share: '%s' is a %s layer; a section shares a "
                         "layer of its own type (no InputLayer)",
                         c->doc->path, share->line, s->name, share->value, dc_layer_type(ls[j]));
            return NULL;
        }
        return ls[j];
    }
    dc_set_error(DC_ERR_ARG, "%s:%d: [%s] share: no layer named '%s' before this one", c->doc->path,
                 share->line, s->name, share->value);
    return NULL;
}

/* The symbol of the layer named name among sections [0, i), or NULL with an
 * error at the `inputs` line saying why. */
static dc_symbol *input_named(const dc_run_config *c, int i, const char *name, dc_layer *const *ls,
                              dc_symbol *const *syms, int line) {
    const dc_ini_section *s = &c->doc->sections[c->layers[i].sec];
    for (int j = 0; j < i; j++)
        if (!strcmp(call_name(c, j, ls), name)) return syms[j];
    for (int j = i; j < c->n_layers; j++) { /* a later (or this) section: a cycle or out of order */
        const char *nj = section_name(c, j);
        if (nj && !strcmp(nj, name)) {
            dc_set_error(DC_ERR_ARG,
                         "%s:%d: [%s] inputs: '%s' is %s (line %d); a layer's inputs must come "
                         "before it",
                         c->doc->path, line, s->name, name, j == i ? "this layer" : "a later layer",
                         c->doc->sections[c->layers[j].sec].line);
            return NULL;
        }
    }
    dc_set_error(DC_ERR_ARG, "%s:%d: [%s] inputs: no layer named '%s' before this one", c->doc->path,
                 line, s->name, name);
    return NULL;
}

/* Splits "a, b" and finds each earlier layer; returns how many, or -1. */
static int section_inputs(const dc_run_config *c, int i, dc_layer *const *ls,
                          dc_symbol *const *syms, dc_symbol **out) {
    const dc_ini_entry *e = dc_ini_find(&c->doc->sections[c->layers[i].sec], "inputs");
    if (!e) { /* the section before */
        out[0] = syms[i - 1];
        return 1;
    }
    int n = 0;
    const char *p = e->value;
    while (*p) {
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strcspn(p, ", \t");
        char name[64];
        if (len == 0 || len >= sizeof name || n == DC_LAYER_MAX_IN) {
            dc_set_error(DC_ERR_ARG, "%s:%d: [%s] inputs: '%s' is not 1 to %d layer names", c->doc->path,
                         e->line, c->doc->sections[c->layers[i].sec].name, e->value, DC_LAYER_MAX_IN);
            return -1;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (!(out[n++] = input_named(c, i, name, ls, syms, e->line))) return -1;
        p += len;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == ',') p++;
    }
    return n;
}

/* A functional model: each section called on its `inputs` (default: the
 * section before); the first section (or an input of the data's shape when
 * it is no InputLayer) is the input, the last the output. */
static dc_model *graph_from_config(const dc_run_config *c, int nd, const int64_t *shape) {
    dc_graph *g = dc_graph_new();
    dc_layer **ls = dc_calloc((size_t)c->n_layers + 1, sizeof *ls);
    dc_symbol **syms = dc_calloc((size_t)c->n_layers + 1, sizeof *syms);
    dc_model *m = NULL;
    if (!g || !ls || !syms) goto out;
    dc_symbol *in = NULL;
    for (int i = 0; i < c->n_layers; i++) {
        const char *k[64], *v[64];
        char num[24];
        int n = layer_options(c, i, k, v, 64, num, sizeof num);
        /* a section with share = calls an earlier layer again: the graph owns it */
        const dc_ini_entry *share = dc_ini_find(&c->doc->sections[c->layers[i].sec], "share");
        dc_layer *l = share ? shared_layer(c, i, ls, share)
                            : dc_layer_from_config(c->layers[i].type, k, v, n);
        if (!l) {
            if (!share) layer_error(c, i);
            goto out;
        }
        bool is_input = !strcmp(dc_layer_type(l), "InputLayer");
        if (is_input && i > 0) {
            dc_layer_free(l);
            dc_set_error(DC_ERR_ARG, "%s:%d: [%s]: an InputLayer must be the first layer section",
                         c->doc->path, c->doc->sections[c->layers[i].sec].line, c->layers[i].type);
            goto out;
        }
        const dc_ini_entry *named_in = dc_ini_find(&c->doc->sections[c->layers[i].sec], "inputs");
        if (i == 0 && named_in) {
            dc_layer_free(l);
            dc_set_error(DC_ERR_ARG,
                         "%s:%d: [%s] inputs: the first layer section takes the model's input; "
                         "it names no layers",
                         c->doc->path, named_in->line, c->doc->sections[c->layers[i].sec].name);
            goto out;
        }
        if (i == 0 && !is_input) {
            if (nd == 0) {
                dc_layer_free(l);
                dc_set_error(DC_ERR_ARG, "%s: [model] input_shape is needed to build the model", c->doc->path);
                goto out;
            }
            in = dc_input(g, nd, shape, NULL);
        }
        for (int j = 0; j < i && l->named && !share; j++)
            if (!strcmp(ls[j]->name, l->name)) {
                dc_set_error(DC_ERR_ARG, "%s:%d: [%s]: the name '%s' is taken by [%s] (line %d)",
                             c->doc->path, c->doc->sections[c->layers[i].sec].line,
                             c->doc->sections[c->layers[i].sec].name, l->name,
                             c->doc->sections[c->layers[j].sec].name,
                             c->doc->sections[c->layers[j].sec].line);
                dc_layer_free(l);
                goto out;
            }
        dc_symbol *xs[DC_LAYER_MAX_IN];
        int n_in = i == 0 ? (is_input ? 0 : 1) : section_inputs(c, i, ls, syms, xs);
        if (i == 0 && !is_input) xs[0] = in;
        if (n_in < 0) {
            if (!share) dc_layer_free(l);
            goto out;
        }
        ls[i] = l;
        if (is_input) {
            syms[i] = in = dc_graph_hold("dc_run_config_build_model", g, l) == DC_OK
                                   ? dc_graph_add_input("dc_run_config_build_model", g, l)
                                   : NULL; /* l is freed */
        } else {
            syms[i] = dc_call_n(l, xs, n_in);
            if (share) dc_graph_label(syms[i], c->doc->sections[c->layers[i].sec].name);
        }
        if (!syms[i]) {
            layer_error(c, i);
            goto out;
        }
    }
    m = dc_model_functional(c->name, g, &in, 1, &syms[c->n_layers - 1], 1);
    g = NULL;
    if (!m) model_error(c);
out:
    dc_graph_free(g);
    dc_free(ls);
    dc_free(syms);
    return m;
}

dc_model *dc_run_config_build_model(const dc_run_config *c, const dc_dataset *train) {
    if (!c) {
        dc_set_error(DC_ERR_ARG, "dc_run_config_build_model: config is NULL");
        return NULL;
    }
    int64_t shape[DC_MAX_DIMS] = {0};
    int nd = 0;
    if (model_input_shape(c, train, &nd, shape) != DC_OK) return NULL;
    dc_model *m = has_graph(c) ? graph_from_config(c, nd, shape) : dc_sequential_new(c->name);
    if (!m) {
        if (!has_graph(c)) model_error(c);
        return NULL;
    }
    for (int i = 0; !dc_model_is_functional(m) && i < c->n_layers; i++) {
        const char *k[64], *v[64];
        char num[24];
        int n = layer_options(c, i, k, v, 64, num, sizeof num);
        dc_layer *l = dc_layer_from_config(c->layers[i].type, k, v, n);
        if (!l || dc_model_add(m, l) != DC_OK) {
            layer_error(c, i);
            goto fail;
        }
    }
    if (dc_model_build(m, nd, nd ? shape : NULL, c->seed) != DC_OK) {
        model_error(c);
        goto fail;
    }
    dc_compile_options co = {0};
    for (int k = 1; k < 16 && dc_loss_name((dc_loss_kind)k); k++)
        if (!strcmp(dc_loss_name((dc_loss_kind)k), c->loss)) co.loss = (dc_loss_kind)k;
    for (int i = 0; i < c->n_metrics; i++)
        for (int k = 1; k < 16 && dc_metric_name((dc_metric_kind)k); k++)
            if (!strcmp(dc_metric_name((dc_metric_kind)k), c->metrics[i]))
                co.metrics[i] = (dc_metric_kind)k;
    co.from_probabilities = !c->from_logits;
    co.n_class_weights = c->n_class_weights;
    memcpy(co.class_weights, c->class_weights, sizeof co.class_weights);
    co.optimizer = c->opt;
    if (check_schedule(c, key_line(c, "train", NULL)) != DC_OK) goto fail; /* after any _set */
    dc_lr_schedule sc = schedule_for_run(c, run_steps(c, train));
    if (sc.kind != DC_LR_CONSTANT) co.optimizer.schedule = &sc; /* compile copies it */
    if (dc_model_compile(m, &co) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(dc_last_status(), "%s:%d: [train]: %s", c->doc->path,
                     key_line(c, "train", NULL), msg);
        goto fail;
    }
    return m;
fail:
    dc_model_free(m);
    return NULL;
}

dc_status dc_run_config_fit_options(dc_run_config *c, const dc_dataset *test, dc_fit_options *out) {
    if (!c || !out) return dc_set_error(DC_ERR_ARG, "dc_run_config_fit_options: NULL argument");
    memset(out, 0, sizeof *out);
    out->epochs = c->epochs;
    out->steps_per_epoch = c->steps_per_epoch;
    /* a character-level language model (a corpus) also logs exp(loss) */
    const dc_text_vectorizer *tv = dc_text_data_vectorizer(c->text);
    if (tv) {
        dc_text_vectorizer_options vo = dc_text_vectorizer_get_options(tv);
        out->perplexity = vo.split == DC_SPLIT_CHARACTER && vo.output_mode == DC_TEXT_INT;
    }
    out->batch_size = c->batch_size;
    out->no_shuffle = !c->shuffle;
    out->seed = c->seed;
    out->verbose = c->verbose;
    bool has_val = c->validation != VAL_NONE;
    if (c->validation == VAL_TEST) {
        if (!test)
            return dc_set_error(DC_ERR_ARG,
                                "%s: [data] validation = test, but no test data was loaded",
                                c->doc->path);
        out->validation_data = test;
    } else if (c->validation == VAL_SPLIT) {
        out->validation_split = c->validation_split;
    }
    if ((c->es_monitor && !strncmp(c->es_monitor, "val_", 4) && !has_val) ||
        (c->rl_monitor && !strncmp(c->rl_monitor, "val_", 4) && !has_val))
        return dc_set_error(DC_ERR_ARG,
                            "%s: a callback monitors a val_ value, but [data] sets no validation "
                            "(validation = test, or validation_split)",
                            c->doc->path);
    int n = 0;
    if (c->early) {
        dc_callback *cb = &c->callbacks[n++];
        memset(cb, 0, sizeof *cb);
        cb->kind = DC_CB_EARLY_STOPPING;
        cb->monitor = c->es_monitor ? c->es_monitor : (has_val ? "val_loss" : "loss");
        cb->patience = c->es_patience;
        cb->min_delta = c->es_min_delta;
        cb->restore_best_weights = c->es_restore;
    }
    if (c->plateau) {
        dc_callback *cb = &c->callbacks[n++];
        memset(cb, 0, sizeof *cb);
        cb->kind = DC_CB_REDUCE_LR_ON_PLATEAU;
        cb->monitor = c->rl_monitor ? c->rl_monitor : (has_val ? "val_loss" : "loss");
        cb->factor = c->rl_factor;
        cb->patience = c->rl_patience;
        cb->min_delta = c->rl_min_delta;
        cb->cooldown = c->rl_cooldown;
        cb->min_lr = c->rl_min_lr;
    }
    if (c->tb) { /* log_dir as Keras takes it: relative to the working folder */
        dc_callback *cb = &c->callbacks[n++];
        memset(cb, 0, sizeof *cb);
        cb->kind = DC_CB_TENSORBOARD;
        cb->log_dir = c->tb_log_dir ? c->tb_log_dir : "logs";
        cb->histogram_freq = c->tb_histogram_freq;
        cb->update_freq = c->tb_update_freq;
        cb->write_images = c->tb_write_images;
    }
    if (c->terminate_on_nan) {
        memset(&c->callbacks[n], 0, sizeof c->callbacks[n]);
        c->callbacks[n++].kind = DC_CB_TERMINATE_ON_NAN;
    }
    out->callbacks = n ? c->callbacks : NULL;
    out->n_callbacks = n;
    return DC_OK;
}

/* ---- extra metadata in a model file ---- */

dc_status dc_model_file_set_metadata(const char *path, const char *const *keys,
                                     const char *const *values, int n) {
    const char *fn = "dc_model_file_set_metadata";
    if (!path || n < 0 || (n > 0 && (!keys || !values)))
        return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    FILE *f = dc_fopen_read(fn, path);
    if (!f) return dc_last_status();
    dc_status s = DC_OK;
    char *data = NULL, *json = NULL, *out = NULL;
    cJSON *root = NULL;
    uint8_t lb[8];
    long size = -1;
    if (fread(lb, 1, 8, f) != 8 || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 8) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: '%s' is not a safetensors file (too short)", fn, path);
        goto done;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | lb[i];
    if (hlen > (uint64_t)size - 8 || hlen > ((uint64_t)100 << 20)) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: '%s': header length %llu does not fit the file", fn,
                         path, (unsigned long long)hlen);
        goto done;
    }
    size_t dlen = (size_t)size - 8 - (size_t)hlen;
    json = dc_malloc((size_t)hlen + 1);
    data = dc_malloc(dlen + 1);
    if (!json || !data) {
        s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (fseek(f, 8, SEEK_SET) != 0 || fread(json, 1, (size_t)hlen, f) != hlen ||
        fread(data, 1, dlen, f) != dlen) {
        s = dc_set_error(DC_ERR_IO, "%s: '%s': read error", fn, path);
        goto done;
    }
    json[hlen] = '\0';
    root = cJSON_ParseWithLength(json, (size_t)hlen);
    if (!cJSON_IsObject(root)) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: '%s': the header is not a JSON object", fn, path);
        goto done;
    }
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    if (!meta) meta = cJSON_AddObjectToObject(root, "__metadata__");
    if (!cJSON_IsObject(meta)) {
        s = dc_set_error(DC_ERR_FORMAT, "%s: '%s': __metadata__ is not an object", fn, path);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (!keys[i] || !values[i]) {
            s = dc_set_error(DC_ERR_ARG, "%s: metadata %d is NULL", fn, i);
            goto done;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(meta, keys[i]);
        if (!cJSON_AddStringToObject(meta, keys[i], values[i])) {
            s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
            goto done;
        }
    }
    out = cJSON_PrintUnformatted(root);
    if (!out) {
        s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    fclose(f);
    f = NULL;
    {
        /* the data keeps its 8-byte alignment: pad the header with blanks */
        size_t jl = strlen(out), padded = (jl + 7) & ~(size_t)7;
        dc_atomic_file af; /* the same one-commit write as every other file */
        uint8_t nb[8];
        for (int i = 0; i < 8; i++) nb[i] = (uint8_t)((uint64_t)padded >> (8 * i));
        static const char blanks[8] = "        ";
        s = dc_atomic_open(&af, fn, path);
        if (s == DC_OK) s = dc_atomic_write(&af, nb, 8);
        if (s == DC_OK) s = dc_atomic_write(&af, out, jl);
        if (s == DC_OK && padded > jl) s = dc_atomic_write(&af, blanks, padded - jl);
        if (s == DC_OK) s = dc_atomic_write(&af, data, dlen);
        if (af.tmp) s = dc_atomic_commit(&af);
    }
done:
    if (f) fclose(f);
    cJSON_Delete(root);
    cJSON_free(out);
    dc_free(json);
    dc_free(data);
    return s;
}

int dc_run_config_metrics(const dc_run_config *c, const char **names, int cap) {
    if (!c) return 0;
    for (int i = 0; names && i < c->n_metrics && i < cap; i++) names[i] = c->metrics[i];
    return c->n_metrics;
}

bool dc_run_config_outputs_probabilities(const dc_run_config *c) {
    if (!c || c->n_layers == 0) return false;
    if (!c->from_logits) return true;
    const dc_ini_section *s = &c->doc->sections[c->layers[c->n_layers - 1].sec];
    const dc_ini_entry *e = dc_ini_find(s, "activation");
    if (!strcmp(c->layers[c->n_layers - 1].type, "Softmax")) return true;
    return e && (!strcasecmp(e->value, "softmax") || !strcasecmp(e->value, "sigmoid"));
}
