/* targets.c — one entry function per file parser, shared by the libFuzzer
 * binaries (tests/fuzz/fuzz_main.c) and the regression test of `make test`.
 * Each reads one input, never prints, and frees all it made. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "deepc.h"
#include "io/h5_read.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

/* The loaders take paths: each input goes to an in-memory file reached as
 * /proc/self/fd/N (content, not extension, decides the format). Slot 0 and 1
 * let a target hand two files to one call. */
static int fuzz_fds[2] = {-1, -1};
static char fuzz_paths[2][64];

static const char *fuzz_put(int slot, const uint8_t *data, size_t size) {
    if (fuzz_fds[slot] < 0) {
        fuzz_fds[slot] = memfd_create("deepc-fuzz", 0);
        if (fuzz_fds[slot] < 0) abort();
        snprintf(fuzz_paths[slot], sizeof fuzz_paths[slot], "/proc/self/fd/%d", fuzz_fds[slot]);
    }
    int fd = fuzz_fds[slot];
    if (ftruncate(fd, 0) != 0) abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(fd, data + off, size - off, (off_t)off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    return fuzz_paths[slot];
}

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads every sample, so the loaders' get() paths run too. */
static void fuzz_touch_dataset(dc_dataset *ds) {
    if (!ds) return;
    int64_t xs[8], ys[8];
    int xn = dc_dataset_x_shape(ds, xs), yn = dc_dataset_y_shape(ds, ys);
    /* zero samples of a huge shape load fine (nothing is stored); reading one would not */
    const int64_t cap = 1 << 22;
    int64_t nx = 1, ny = 1;
    for (int i = 0; i < xn; i++) nx = xs[i] > cap || nx * xs[i] > cap ? cap + 1 : nx * xs[i];
    for (int i = 0; i < yn; i++) ny = ys[i] > cap || ny * ys[i] > cap ? cap + 1 : ny * ys[i];
    int64_t n = dc_dataset_count(ds);
    if (n > 64) n = 64;
    if (nx > cap || ny > cap) n = 0;
    float *x = n ? malloc((size_t)(nx ? nx : 1) * sizeof(float)) : NULL;
    float *y = n ? malloc((size_t)(ny ? ny : 1) * sizeof(float)) : NULL;
    if (x && y)
        for (int64_t i = 0; i < n; i++) dc_dataset_get(ds, i, x, y);
    for (int i = 0; i < dc_dataset_num_classes(ds) && i < 16; i++) dc_dataset_class_name(ds, i);
    free(x);
    free(y);
    dc_dataset_free(ds);
}

/* IDX: the input is read once as the images file (next to a valid labels file
 * of the count its header claims) and once as the labels file (next to valid
 * images), so both readers see every input, gzipped or plain. */
int fuzz_idx(const uint8_t *data, size_t size) {
    uint32_t n = size >= 8 ? be32(data + 4) : 1;
    if (n > 4096) n = 1; /* a count the input cannot hold is found by the reader */
    uint8_t *other = calloc(1, 16 + (size_t)n);
    if (!other) return 0;
    const uint8_t lb_head[8] = {0, 0, 8, 1, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
                                (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(other, lb_head, 8);
    for (uint32_t i = 0; i < n; i++) other[8 + i] = (uint8_t)(i % 10);
    const char *im = fuzz_put(0, data, size);
    const char *lb = fuzz_put(1, other, 8 + (size_t)n);
    fuzz_touch_dataset(dc_dataset_load_idx(im, lb));

    const uint8_t im_head[16] = {0, 0, 8, 3, (uint8_t)(n >> 24), (uint8_t)(n >> 16),
                                 (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(other, im_head, 16);
    memset(other + 16, 0x80, n);
    im = fuzz_put(0, other, 16 + (size_t)n);
    lb = fuzz_put(1, data, size);
    fuzz_touch_dataset(dc_dataset_load_idx(im, lb));
    free(other);
    return 0;
}

/* CSV: the last column as the label, then a column named "label". */
int fuzz_csv(const uint8_t *data, size_t size) {
    const char *p = fuzz_put(0, data, size);
    fuzz_touch_dataset(dc_dataset_load_csv(p, NULL));
    fuzz_touch_dataset(dc_dataset_load_csv(p, "label"));
    return 0;
}

/* INI model files, parsed from text (layers checked, nothing built). */
int fuzz_ini(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    dc_run_config *c = dc_run_config_parse(text, "fuzz.ini");
    if (c) {
        dc_run_config_name(c);
        dc_run_config_epochs(c);
        dc_run_config_batch_size(c);
        for (int i = 0; i < dc_run_config_num_layers(c); i++) dc_run_config_layer_type(c, i);
        const char *m[8];
        dc_run_config_metrics(c, m, 8);
        dc_run_config_outputs_probabilities(c);
        char spec[512];
        dc_run_config_test_spec(c, spec, sizeof spec);
        dc_run_config_free(c);
    }
    free(text);
    return 0;
}

/* safetensors model files: load (architecture from the metadata), and on
 * success one prediction on a zero input of the model's shape. */
int fuzz_model(const uint8_t *data, size_t size) {
    dc_model *m = dc_model_load(fuzz_put(0, data, size));
    if (!m) return 0;
    int64_t shape[8] = {1};
    int nd = dc_model_input_shape(m, shape + 1);
    int64_t per = 1;
    for (int i = 1; i <= nd; i++) per *= shape[i];
    if (nd > 0 && nd < 7 && per > 0 && per <= 4096) {
        dc_tensor *x = dc_tensor_zeros(nd + 1, shape);
        if (x) dc_tensor_free(dc_model_predict(m, x, 1));
        dc_tensor_free(x);
    }
    dc_model_free(m);
    return 0;
}

/* The model the checkpoint target loads into (the seeds are its checkpoints). */
dc_model *fuzz_checkpoint_model(void) {
    dc_model *m = dc_sequential_new("fuzz");
    dc_dense_options d1 = {.units = 3, .activation = "relu"};
    dc_dense_options d2 = {.units = 2};
    if (dc_model_add(m, dc_layer_dense(&d1)) != DC_OK ||
        dc_model_add(m, dc_layer_dense(&d2)) != DC_OK ||
        dc_model_build(m, 1, (int64_t[]){4}, 1) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    dc_compile_options co = {.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                             .optimizer = {.kind = DC_OPT_ADAM}};
    if (dc_model_compile(m, &co) != DC_OK) {
        dc_model_free(m);
        return NULL;
    }
    return m;
}

/* Checkpoints loaded into a built, compiled model of a fixed architecture. */
int fuzz_checkpoint(const uint8_t *data, size_t size) {
    dc_model *m = fuzz_checkpoint_model();
    if (!m) return 0;
    int epoch = 0;
    dc_model_load_checkpoint(m, fuzz_put(0, data, size), &epoch);
    dc_model_free(m);
    return 0;
}

/* PNG and JPEG, as the file has it and converted to gray and RGB. */
int fuzz_image(const uint8_t *data, size_t size) {
    const char *p = fuzz_put(0, data, size);
    dc_tensor *t = dc_image_load(p, 0);
    if (!t) return 0;
    dc_tensor_free(t);
    dc_tensor_free(dc_image_load(p, 1));
    dc_tensor_free(dc_image_load(p, 3));
    return 0;
}

/* ---- image folders: the input describes a small tree ----
 * byte 0: options (bits 0-1 channels 0/1/3/0, bit 2 resize to 5x4), then
 * records [entry byte][2-byte little-endian length][content]; the entry
 * byte picks a class folder (3 names), a file name (8 names, some not
 * images) and whether to make a sub-folder or a dangling link instead. */
static char fuzz_root[256];

static void fuzz_rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            fuzz_rm_tree(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
}

static void fuzz_write(const char *path, const uint8_t *p, size_t n) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return;
    if (n && write(fd, p, n) < 0) {
        /* a short tree is still a tree */
    }
    close(fd);
}

int fuzz_image_folder(const uint8_t *data, size_t size) {
    static const char *classes[3] = {"cat", "dog", ".hidden"};
    static const char *files[8] = {"a.png", "b.jpg", "c.jpeg", "d.PNG",
                                   "e.txt", "f",     "g.png",  "h.JPG"};
    if (!fuzz_root[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fuzz_root, sizeof fuzz_root, "%s/deepc-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(fuzz_root)) abort();
    }
    fuzz_rm_tree(fuzz_root);
    if (size < 1) return 0;
    uint8_t opt = data[0];
    size_t i = 1;
    char p[512];
    while (i + 3 <= size) {
        uint8_t e = data[i];
        size_t n = data[i + 1] | (size_t)data[i + 2] << 8;
        i += 3;
        if (n > size - i) n = size - i;
        const char *cls = classes[e % 3];
        const char *file = files[(e >> 2) & 7];
        snprintf(p, sizeof p, "%s/%s", fuzz_root, cls);
        mkdir(p, 0700);
        snprintf(p, sizeof p, "%s/%s/%s", fuzz_root, cls, file);
        if (e & 0x20) mkdir(p, 0700);
        else if (e & 0x40) symlink("/nonexistent/deepc-fuzz", p);
        else fuzz_write(p, data + i, n);
        i += n;
    }
    static const int chans[4] = {0, 1, 3, 0};
    int hw = (opt & 4) ? 5 : 0, ww = (opt & 4) ? 4 : 0;
    fuzz_touch_dataset(dc_dataset_load_image_folder(fuzz_root, hw, ww, chans[opt & 3]));
    fuzz_rm_tree(fuzz_root);
    return 0;
}

/* TextVectorization JSON (as model files keep it): parsed, written back, and
 * one text encoded. */
int fuzz_vectorizer(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    dc_text_vectorizer *v = dc_text_vectorizer_from_json(text);
    free(text);
    if (!v) return 0;
    dc_string_free(dc_text_vectorizer_to_json(v));
    int64_t n = dc_text_vectorizer_output_size(v);
    if (n > 0 && n <= 4096) {
        float *out = malloc((size_t)n * sizeof(float));
        if (out) dc_text_vectorizer_encode(v, "The quick brown fox, the lazy dog.", out, n);
        free(out);
    }
    dc_text_vectorizer_free(v);
    return 0;
}

/* Text CSV / TSV (text and label columns). */
int fuzz_text_csv(const uint8_t *data, size_t size) {
    const char *p = fuzz_put(0, data, size);
    dc_text_set_free(dc_text_set_load_csv(p, "text", "label", ','));
    dc_text_set_free(dc_text_set_load_csv(p, "text", NULL, '\t'));
    return 0;
}

/* A .keras archive of a fixed two-Dense config and h5 as its weights file: the
 * byte mutator never gets past the zip's CRC into HDF5 otherwise. NULL on error. */
static uint8_t *fuzz_keras_wrap(const uint8_t *h5, size_t n, size_t *len) {
    static const char config[] =
        "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"f\", \"layers\": ["
        "{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 3]}},"
        "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2}},"
        "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\"}}]}}";
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *z = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
    uint8_t *out = NULL;
    zip_source_t *a = z ? zip_source_buffer(z, config, sizeof config - 1, 0) : NULL;
    zip_source_t *b = z ? zip_source_buffer(z, h5, n, 0) : NULL;
    if (z && a && b && zip_file_add(z, "config.json", a, 0) >= 0 &&
        zip_file_add(z, "model.weights.h5", b, 0) >= 0) {
        zip_source_keep(src);
        if (zip_close(z) == 0) {
            zip_stat_t st;
            if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
                out = malloc(st.size ? st.size : 1);
                if (out && zip_source_read(src, out, st.size) == (zip_int64_t)st.size) *len = st.size;
                else free(out), out = NULL;
                zip_source_close(src);
            }
        } else {
            zip_discard(z);
        }
        zip_source_free(src);
    } else if (z) {
        zip_discard(z);
    } else if (src) {
        zip_source_free(src);
    }
    zip_error_fini(&ze);
    return out;
}

/* The input as model.weights.h5 of a fixed Dense + BatchNormalization archive:
 * this reaches deepc's own HDF5 reader (src/io/h5_read.c), which the zip's CRC
 * keeps the keras target from. */
int fuzz_keras_h5(const uint8_t *data, size_t size) {
    size_t n = 0;
    uint8_t *zipped = fuzz_keras_wrap(data, size, &n);
    if (!zipped) return 0;
    dc_model_free(dc_model_import_keras_buffer(zipped, n, "fuzz.keras"));
    free(zipped);
    return 0;
}

/* deepc's HDF5 reader alone (no zip around it, so many times faster than
 * keras_h5): the paths Keras and deepc write, each group counted and each dataset
 * read whole, as the import does. */
int fuzz_h5_read(const uint8_t *data, size_t size) {
    static const char *paths[] = {
        "layers/dense/vars/0", "layers/dense/vars/1", "layers/batch_normalization/vars/3",
        "layers/dense/vars", "optimizer/vars", "optimizer/vars/0", "optimizer/vars/2", "vars"};
    dc_h5r *r = dc_h5r_open("fuzz", "model.weights.h5", data, size);
    for (size_t i = 0; r && i < sizeof paths / sizeof *paths; i++) {
        dc_h5r_object o;
        if (dc_h5r_find(r, paths[i], &o) != 1) continue;
        if (o.kind == DC_H5R_GROUP) dc_h5r_count(r, paths[i], &o, 1024);
        float *v = o.kind == DC_H5R_DATASET && o.ds.count <= size ? malloc(o.ds.count * 4 + 4) : NULL;
        if (v) dc_h5r_floats(&o.ds, v);
        free(v);
    }
    dc_h5r_close(r);
    return 0;
}

/* dc_model_import_keras_buffer: the zip, config.json and model.weights.h5 of a
 * .keras archive (Sequential or Functional); an imported model of one input and
 * one output predicts once (dc_model_predict takes no other). */
int fuzz_keras(const uint8_t *data, size_t size) {
    dc_model *m = dc_model_import_keras_buffer(data, size, "fuzz.keras");
    if (!m) return 0;
    if (dc_model_num_inputs(m) != 1 || dc_model_num_outputs(m) != 1) {
        dc_model_free(m);
        return 0;
    }
    int64_t shape[DC_MAX_DIMS + 1] = {1};
    int nd = dc_model_input_shape(m, shape + 1);
    int64_t n = 1;
    for (int i = 1; i <= nd; i++) n *= shape[i] < 0 ? (shape[i] = 4) : shape[i];
    if (n <= (1 << 16)) {
        dc_tensor *x = dc_tensor_zeros(nd + 1, shape);
        dc_tensor_free(x ? dc_model_predict(m, x, 1) : NULL);
        dc_tensor_free(x);
    }
    dc_model_free(m);
    return 0;
}

/* Every target by the name of its corpus and regression folders. */
static const struct {
    const char *name;
    fuzz_fn fn;
} fuzz_targets[] = {
    {"idx", fuzz_idx},     {"csv", fuzz_csv},     {"ini", fuzz_ini},
    {"model", fuzz_model}, {"checkpoint", fuzz_checkpoint}, {"image", fuzz_image},
    {"image_folder", fuzz_image_folder}, {"vectorizer", fuzz_vectorizer},
    {"text_csv", fuzz_text_csv}, {"keras", fuzz_keras},
    {"keras_h5", fuzz_keras_h5}, {"h5_read", fuzz_h5_read},
};
#define FUZZ_N_TARGETS ((int)(sizeof fuzz_targets / sizeof fuzz_targets[0]))
