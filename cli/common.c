/* common.c — helpers the verbs share: messages and exit codes, option values,
 * directories, model files with their metadata, and input images. */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_usage(const char *verb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "deepc %s: ", verb);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'deepc %s --help'.\n", verb);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail(const char *verb) {
    const char *m = dc_last_error();
    fprintf(stderr, "deepc %s: %s\n", verb, m && *m ? m : "failed");
    return CLI_FAIL;
}

bool cli_is_help(const char *a) { return !strcmp(a, "--help") || !strcmp(a, "-h"); }

bool cli_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

bool cli_int(const char *verb, const char *opt, const char *s, long long lo, long long hi,
             long long *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi) {
        cli_usage(verb, "%s: '%s' is not a whole number in [%lld, %lld]", opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_value(const char *verb, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_usage(verb, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool cli_mkdirs(const char *verb, const char *dir) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf) {
        fprintf(stderr, "deepc %s: directory name too long\n", verb);
        return false;
    }
    for (char *p = buf + 1;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, "deepc %s: cannot create directory '%s': %s\n", verb, buf,
                        strerror(errno));
                return false;
            }
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "deepc %s: '%s' is not a directory\n", verb, dir);
        return false;
    }
    return true;
}

bool cli_model_load(const char *verb, const char *path, cli_model *cm) {
    memset(cm, 0, sizeof *cm);
    cm->model = dc_model_load(path);
    if (!cm->model) {
        cli_fail(verb);
        return false;
    }
    cm->st = dc_safetensors_load(path);
    if (!cm->st) {
        cli_fail(verb);
        cli_model_free(cm);
        return false;
    }
    cm->in_ndim = dc_model_input_shape(cm->model, cm->in_shape);
    const char *names = dc_safetensors_metadata(cm->st, CLI_META_CLASSES);
    if (names && *names) {
        size_t n = strlen(names);
        cm->class_names = malloc(n + 1);
        if (cm->class_names) {
            memcpy(cm->class_names, names, n + 1);
            char *p = cm->class_names;
            while (cm->n_names < 1024) {
                cm->names[cm->n_names++] = p;
                char *nl = strchr(p, '\n');
                if (!nl) break;
                *nl = '\0';
                p = nl + 1;
            }
        }
    }
    return true;
}

void cli_model_free(cli_model *cm) {
    dc_model_free(cm->model);
    dc_safetensors_free(cm->st);
    free(cm->class_names);
    memset(cm, 0, sizeof *cm);
}

const char *cli_model_meta(const cli_model *cm, const char *key) {
    const char *v = cm->st ? dc_safetensors_metadata(cm->st, key) : NULL;
    return v && *v ? v : NULL;
}

/* Text data: the test texts through the vectorizer kept in the model file. */
static dc_dataset *cli_text_test_data(const cli_model *cm, const char *spec) {
    const char *json = cli_model_meta(cm, DC_TEXT_VECTORIZER_METADATA_KEY);
    dc_text_vectorizer *v = json ? dc_text_vectorizer_from_json(json) : NULL;
    if (json && !v) return NULL;
    dc_dataset *ds = dc_dataset_load_text_spec(spec, v); /* v NULL: a message says so */
    dc_text_vectorizer_free(v);
    return ds;
}

dc_dataset *cli_test_data(const char *verb, const cli_model *cm, const char *spec) {
    if (!spec) spec = cli_model_meta(cm, CLI_META_DATA);
    if (!spec) {
        fprintf(stderr,
                "deepc %s: the model file names no test data; give --data fashion-mnist, "
                "--data IMAGES,LABELS (IDX), --data FILE.csv or --data DIR\n",
                verb);
        return NULL;
    }
    int h = 0, w = 0, c = 0;
    if (cm->in_ndim == 3) h = (int)cm->in_shape[0], w = (int)cm->in_shape[1], c = (int)cm->in_shape[2];
    dc_dataset *ds = !strncmp(spec, "text:", 5) ? cli_text_test_data(cm, spec)
                                                : dc_dataset_load_spec(spec, h, w, c);
    if (!ds) {
        cli_fail(verb);
        return NULL;
    }
    int64_t xs[DC_MAX_DIMS];
    int nd = dc_dataset_x_shape(ds, xs);
    bool same = nd == cm->in_ndim;
    for (int i = 0; same && i < nd; i++) same = xs[i] == cm->in_shape[i] || cm->in_shape[i] == -1;
    if (!same) {
        char a[128], b[128];
        fprintf(stderr, "deepc %s: the data's samples are %s, the model takes %s\n", verb,
                dc_shape_string(nd, xs, a, sizeof a),
                dc_shape_string(cm->in_ndim, cm->in_shape, b, sizeof b));
        dc_dataset_free(ds);
        return NULL;
    }
    return ds;
}

dc_tensor *cli_input_image(const char *verb, const cli_model *cm, const char *file,
                           long long index, const char *spec, int *label) {
    *label = -1;
    int64_t shape[DC_MAX_DIMS + 1];
    shape[0] = 1;
    for (int i = 0; i < cm->in_ndim; i++) shape[i + 1] = cm->in_shape[i];
    if (!file) {
        dc_dataset *ds = cli_test_data(verb, cm, spec);
        if (!ds) return NULL;
        int64_t n = dc_dataset_count(ds);
        if (index < 0 || index >= n) {
            fprintf(stderr, "deepc %s: --index %lld is outside the test set [0, %lld)\n", verb,
                    index, (long long)n);
            dc_dataset_free(ds);
            return NULL;
        }
        dc_dataset_x_shape(ds, shape + 1); /* the data's lengths where the model says None */
        dc_tensor *x = dc_tensor_zeros(cm->in_ndim + 1, shape);
        int64_t ys[DC_MAX_DIMS];
        int yn = dc_dataset_y_shape(ds, ys);
        int64_t ycount = 1;
        for (int i = 0; i < yn; i++) ycount *= ys[i];
        float *y = calloc((size_t)(ycount > 0 ? ycount : 1), sizeof *y);
        if (!x || !y || dc_dataset_get(ds, index, x->data, y) != DC_OK) {
            cli_fail(verb);
            dc_tensor_free(x);
            free(y);
            dc_dataset_free(ds);
            return NULL;
        }
        if (yn == 0) *label = (int)y[0];
        free(y);
        dc_dataset_free(ds);
        return x;
    }
    if (cm->in_ndim != 3 || (cm->in_shape[2] != 1 && cm->in_shape[2] != 3)) {
        char a[128];
        fprintf(stderr, "deepc %s: the model takes %s, not images (H,W,1) or (H,W,3)\n", verb,
                dc_shape_string(cm->in_ndim, cm->in_shape, a, sizeof a));
        return NULL;
    }
    int h = (int)cm->in_shape[0], w = (int)cm->in_shape[1], c = (int)cm->in_shape[2];
    dc_tensor *img = dc_image_load(file, c);
    if (!img) {
        cli_fail(verb);
        return NULL;
    }
    dc_tensor *x = dc_tensor_zeros(4, shape);
    if (!x) {
        dc_tensor_free(img);
        cli_fail(verb);
        return NULL;
    }
    if (img->shape[0] == h && img->shape[1] == w) {
        memcpy(x->data, img->data, (size_t)x->size * sizeof(float));
    } else if (dc_image_resize(img->data, (int)img->shape[0], (int)img->shape[1], c, x->data, h,
                               w) != DC_OK) {
        dc_tensor_free(img);
        dc_tensor_free(x);
        cli_fail(verb);
        return NULL;
    }
    dc_tensor_free(img);
    return x;
}

bool cli_image_arg(const char *verb, int argc, char **argv, int *i, cli_image_args *ia) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--index")) {
        return (v = cli_value(verb, argc, argv, i)) &&
               cli_int(verb, a, v, 0, INT64_MAX, &ia->index);
    } else if (!strcmp(a, "--data")) {
        return (ia->spec = cli_value(verb, argc, argv, i)) != NULL;
    } else if (a[0] == '-' && a[1]) {
        cli_usage(verb, "unknown option '%s'", a);
        return false;
    } else if (!ia->model) {
        ia->model = a;
    } else if (!ia->image) {
        ia->image = a;
    } else {
        cli_usage(verb, "too many arguments ('%s')", a);
        return false;
    }
    return true;
}

bool cli_image_args_check(const char *verb, const cli_image_args *ia, const char *example) {
    if (!ia->model) cli_usage(verb, "no model file (%s)", example);
    else if (!ia->image && ia->index < 0) cli_usage(verb, "give an image file or --index N");
    else if (ia->image && ia->index >= 0)
        cli_usage(verb, "give an image file or --index N, not both");
    else return true;
    return false;
}

bool cli_run_arg(const char *verb, int argc, char **argv, int *i, cli_run_args *ra) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--batch-size")) {
        return (v = cli_value(verb, argc, argv, i)) && cli_int(verb, a, v, 1, 1 << 24, &ra->batch);
    } else if (!strcmp(a, "--threads")) {
        return (v = cli_value(verb, argc, argv, i)) && cli_int(verb, a, v, 1, 4096, &ra->threads);
    } else if (a[0] == '-' && a[1]) {
        cli_usage(verb, "unknown option '%s'", a);
        return false;
    } else if (ra->file) {
        cli_usage(verb, "one model file only ('%s' and '%s')", ra->file, a);
        return false;
    }
    ra->file = a;
    return true;
}

/* Running sums per channel, in double so 60,000 images add up exactly enough:
 * of the values (v), of each sample's mean (m) and of its border's mean (b). */
typedef struct {
    double sum[CLI_STATS_MAX_CH], sq[CLI_STATS_MAX_CH], lo[CLI_STATS_MAX_CH],
        hi[CLI_STATS_MAX_CH], msum[CLI_STATS_MAX_CH], msq[CLI_STATS_MAX_CH],
        bsum[CLI_STATS_MAX_CH], bsq[CLI_STATS_MAX_CH];
    int64_t count[CLI_STATS_MAX_CH], samples;
    int channels;
    bool image; /* (H,W,C): a border to measure */
} stats_acc;

static void acc_init(stats_acc *a, int ndim, const int64_t *shape) {
    memset(a, 0, sizeof *a);
    a->image = ndim == 3 && shape[2] >= 1 && shape[2] <= CLI_STATS_MAX_CH;
    a->channels = a->image ? (int)shape[2] : 1;
    for (int c = 0; c < CLI_STATS_MAX_CH; c++) a->lo[c] = INFINITY, a->hi[c] = -INFINITY;
}

/* One sample of n values, (H,W,C) when a->image. */
static void acc_add(stats_acc *a, const float *x, int64_t n, const int64_t *shape) {
    int C = a->channels;
    double s[CLI_STATS_MAX_CH] = {0}, b[CLI_STATS_MAX_CH] = {0};
    int64_t k[CLI_STATS_MAX_CH] = {0}, kb[CLI_STATS_MAX_CH] = {0};
    int64_t H = a->image ? shape[0] : 1, W = a->image ? shape[1] : n;
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % C);
        double v = x[i];
        if (!isfinite(v)) continue;
        a->sq[c] += v * v;
        s[c] += v, k[c]++;
        if (v < a->lo[c]) a->lo[c] = v;
        if (v > a->hi[c]) a->hi[c] = v;
        int64_t px = i / C, r = px / W, col = px % W;
        if (a->image && (r == 0 || r == H - 1 || col == 0 || col == W - 1)) b[c] += v, kb[c]++;
    }
    for (int c = 0; c < C; c++) {
        double m = k[c] ? s[c] / (double)k[c] : 0, bm = kb[c] ? b[c] / (double)kb[c] : 0;
        a->sum[c] += s[c], a->count[c] += k[c];
        a->msum[c] += m, a->msq[c] += m * m;
        a->bsum[c] += bm, a->bsq[c] += bm * bm;
    }
    a->samples++;
}

static double sd(double sum, double sq, double k) {
    double m = sum / k;
    return sqrt(fmax(sq / k - m * m, 0));
}

static void acc_finish(const stats_acc *a, cli_stats *st) {
    st->channels = a->channels;
    double ns = a->samples ? (double)a->samples : 1;
    for (int c = 0; c < a->channels; c++) {
        double k = a->count[c] ? (double)a->count[c] : 1;
        st->mean[c] = a->sum[c] / k;
        st->std[c] = sd(a->sum[c], a->sq[c], k);
        st->min[c] = a->count[c] ? a->lo[c] : 0;
        st->max[c] = a->count[c] ? a->hi[c] : 0;
        st->spread[c] = sd(a->msum[c], a->msq[c], ns);
        st->border[c] = a->image ? a->bsum[c] / ns : NAN;
        st->border_spread[c] = a->image ? sd(a->bsum[c], a->bsq[c], ns) : NAN;
    }
}

bool cli_dataset_stats(const dc_dataset *ds, cli_stats *st) {
    int64_t xs[DC_MAX_DIMS], ys[DC_MAX_DIMS];
    int xn = dc_dataset_x_shape(ds, xs), yn = dc_dataset_y_shape(ds, ys);
    int64_t n = dc_dataset_count(ds), xsize = 1, ysize = 1;
    for (int i = 0; i < xn; i++) xsize *= xs[i];
    for (int i = 0; i < yn; i++) ysize *= ys[i];
    if (n < 1 || xsize < 1 || xn < 0 || yn < 0) return false;
    for (int i = 0; i < xn; i++)
        if (xs[i] < 1) return false; /* a None (-1) axis: samples of varying length */
    float *x = malloc((size_t)xsize * sizeof *x), *y = malloc((size_t)(ysize > 0 ? ysize : 1) * sizeof *y);
    stats_acc a;
    acc_init(&a, xn, xs);
    int64_t step = n > 20000 ? n / 20000 : 1;
    bool ok = x && y;
    for (int64_t i = 0; ok && i < n; i += step) {
        ok = dc_dataset_get(ds, i, x, y) == DC_OK;
        if (ok) acc_add(&a, x, xsize, xs);
    }
    free(x);
    free(y);
    if (ok) acc_finish(&a, st);
    dc_clear_error();
    return ok;
}

void cli_sample_stats(const float *x, int ndim, const int64_t *shape, cli_stats *st) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    stats_acc a;
    acc_init(&a, ndim, shape);
    acc_add(&a, x, n, shape);
    acc_finish(&a, st);
}

void cli_stats_format(const cli_stats *st, char *buf, size_t n) {
    size_t at = 0;
    buf[0] = '\0';
    for (int c = 0; c < st->channels && at < n; c++) {
        int k = snprintf(buf + at, n - at, "%s%.6g %.6g %.6g %.6g %.6g %.6g %.6g", c ? "\n" : "",
                         st->mean[c], st->std[c], st->min[c], st->max[c], st->spread[c],
                         st->border[c], st->border_spread[c]);
        if (k < 0) break;
        at += (size_t)k;
    }
}

bool cli_stats_parse(const char *text, cli_stats *st) {
    memset(st, 0, sizeof *st);
    for (const char *p = text; p && *p && st->channels < CLI_STATS_MAX_CH;) {
        int c = st->channels;
        double v[7];
        if (sscanf(p, "%lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6]) != 7)
            return false;
        for (int i = 0; i < 5; i++)
            if (!isfinite(v[i])) return false;
        st->mean[c] = v[0], st->std[c] = v[1], st->min[c] = v[2], st->max[c] = v[3];
        st->spread[c] = v[4], st->border[c] = v[5], st->border_spread[c] = v[6];
        st->channels++;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return st->channels > 0;
}

int cli_in_out_args(const char *verb, int argc, char **argv, void (*help)(FILE *),
                    const char *usage, const char *files[2]) {
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            help(stdout);
            return CLI_OK;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage(verb, "unknown option '%s'", a);
        } else if (n == 2) {
            return cli_usage(verb, "two files only (%s), not also '%s'", usage, a);
        } else {
            files[n++] = a;
        }
    }
    if (n < 2) return cli_usage(verb, "usage: deepc %s %s", verb, usage);
    return CLI_PARSED;
}
