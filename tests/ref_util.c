/* ref_util.c — reads the reference files that tests/ref/ scripts write with
 * PyTorch or Keras, so the C tests compare against them without Python. */
#include "test.h"
#include <stdio.h>
#include <stdlib.h>

#define REF_MAX 512

struct ref_file {
    int n;
    char names[REF_MAX][64];
    dc_tensor *t[REF_MAX];
    char path[512];
};

void ref_free(ref_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) dc_tensor_free(f->t[i]);
    free(f);
}

ref_file *ref_load(const char *rel_path) {
    const char *path = test_path(rel_path);
    FILE *fp = fopen(path, "r");
    if (!fp) {
        test_fail(__FILE__, __LINE__, "cannot open reference file %s", path);
        return NULL;
    }
    ref_file *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    char name[64];
    while (f->n < REF_MAX && fscanf(fp, " tensor %63s", name) == 1) {
        int nd = 0;
        int64_t shape[DC_MAX_DIMS];
        if (fscanf(fp, "%d", &nd) != 1 || nd < 0 || nd > DC_MAX_DIMS) break;
        for (int d = 0; d < nd; d++) {
            long long v;
            if (fscanf(fp, "%lld", &v) != 1) nd = -1;
            else shape[d] = v;
        }
        if (nd < 0) break;
        dc_tensor *t = dc_tensor_zeros(nd, shape);
        if (!t) break;
        for (int64_t i = 0; i < t->size; i++) {
            double v;
            if (fscanf(fp, "%lf", &v) != 1) {
                test_fail(__FILE__, __LINE__, "%s: tensor %s truncated", path, name);
                break;
            }
            t->data[i] = (float)v;
        }
        snprintf(f->names[f->n], 64, "%s", name);
        f->t[f->n++] = t;
    }
    fclose(fp);
    return f;
}

const dc_tensor *ref_get(ref_file *f, const char *name) {
    if (!f) return NULL;
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->names[i], name)) return f->t[i];
    test_fail(__FILE__, __LINE__, "%s has no tensor %s", f->path, name);
    return NULL;
}

float *test_read_floats(const char *path, int64_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    size_t got = p ? fread(p, sizeof *p, (size_t)n, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (got != (size_t)n || extra != EOF) {
        free(p);
        return NULL;
    }
    return p;
}

int test_predict_all(dc_model *m, dc_tensor *const *xs, dc_tensor **outs) {
    dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
    dc_tensor *o[DC_MAX_MODEL_IO] = {0};
    int n = dc_model_num_outputs(m);
    dc_status s = dc_model_call_multi(m, t, xs, false, o);
    CHECK_OK(s);
    for (int i = 0; i < n; i++) outs[i] = s == DC_OK ? dc_tensor_from_data(o[i]->ndim, o[i]->shape, o[i]->data) : NULL;
    dc_tape_free(t);
    return s == DC_OK ? n : 0;
}
