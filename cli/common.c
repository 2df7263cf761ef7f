/* common.c — helpers the verbs share: messages and exit codes, option values,
 * directories, model files with their metadata, and input images. */
#include "cli.h"
#include <errno.h>
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
