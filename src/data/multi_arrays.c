/* multi_arrays.c — datasets of several inputs and targets (Keras' fit([x1, x2],
 * [y1, y2])): the parts of a sample stored side by side in one row, so views,
 * splits and the batcher's shuffle move a sample's parts together. */
#include "dataset.h"
#include <math.h>
#include <string.h>

/* Checks n arrays of one side ("input"/"target"); *per gets the floats per
 * sample of all of them, *count the common sample count (or the first's). */
static dc_status check_arrays(const char *fn, const char *what, const dc_array *a, int n,
                              int64_t *count, int64_t *per) {
    if (n < 1 || n > DC_MAX_MODEL_IO || !a)
        return dc_set_error(DC_ERR_ARG, "%s: %d %s arrays (1 to %d)", fn, n, what, DC_MAX_MODEL_IO);
    for (int i = 0; i < n; i++) {
        if (!a[i].data)
            return dc_set_error(DC_ERR_ARG, "%s: %s array %d has no data", fn, what, i);
        if (a[i].n < 0 || a[i].ndim < 0 || a[i].ndim > DC_MAX_DIMS - 1)
            return dc_set_error(DC_ERR_ARG, "%s: %s array %d: %lld samples of %d dims", fn, what,
                                i, (long long)a[i].n, a[i].ndim);
        if (dc_shape_check(fn, a[i].ndim, a[i].shape) != DC_OK) return dc_last_status();
        if (*count < 0) *count = a[i].n;
        if (a[i].n != *count)
            return dc_set_error(DC_ERR_SHAPE,
                                "%s: %s array %d holds %lld samples, the first array %lld; every "
                                "array needs one row per sample",
                                fn, what, i, (long long)a[i].n, (long long)*count);
        *per += dc_shape_numel(a[i].ndim, a[i].shape);
    }
    return DC_OK;
}

/* Rows of `per` floats: array after array at its column offset. */
static dc_status pack(const char *fn, const char *what, const dc_array *a, int n, int64_t count,
                      int64_t per, float *rows) {
    int64_t col = 0;
    for (int k = 0; k < n; k++) {
        int64_t size = dc_shape_numel(a[k].ndim, a[k].shape);
        for (int64_t i = 0; i < count; i++)
            for (int64_t j = 0; j < size; j++) {
                float v = a[k].data[i * size + j];
                if (!isfinite(v))
                    return dc_set_error(DC_ERR_ARG,
                                        "%s: %s array %d, sample %lld: value %lld is %g (NaN and "
                                        "Inf cannot be trained on)",
                                        fn, what, k, (long long)i, (long long)j, (double)v);
                rows[i * per + col + j] = v;
            }
        col += size;
    }
    return DC_OK;
}

static void set_parts(struct dc_ds_part *parts, const dc_array *a, int n) {
    for (int k = 0; k < n; k++) {
        parts[k].ndim = a[k].ndim;
        memcpy(parts[k].shape, a[k].shape, (size_t)a[k].ndim * sizeof(int64_t));
    }
}

dc_dataset *dc_dataset_from_multi_arrays(const dc_array *xs, int n_x, const dc_array *ys, int n_y) {
    const char *fn = "dc_dataset_from_multi_arrays";
    int64_t count = -1, px = 0, py = 0, ny = -1;
    if (check_arrays(fn, "input", xs, n_x, &count, &px) != DC_OK ||
        check_arrays(fn, "target", ys, n_y, &ny, &py) != DC_OK)
        return NULL;
    if (ny != count) {
        dc_set_error(DC_ERR_SHAPE, "%s: the inputs hold %lld samples, the targets %lld", fn,
                     (long long)count, (long long)ny);
        return NULL;
    }
    size_t xb, yb;
    if (dc_mul_overflows((size_t)count, (size_t)px * sizeof(float), &xb) ||
        dc_mul_overflows((size_t)count, (size_t)py * sizeof(float), &yb)) {
        dc_set_error(DC_ERR_SHAPE, "%s: %lld samples of this size overflow", fn, (long long)count);
        return NULL;
    }
    dc_ds_storage *s = dc_calloc(1, sizeof *s);
    if (s) {
        s->owns = true;
        s->x = dc_malloc_aligned(xb ? xb : 1);
        s->y = dc_malloc_aligned(yb ? yb : 1);
    }
    if (!s || !s->x || !s->y) {
        dc_ds_storage_free(s);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld samples", fn, (long long)count);
        return NULL;
    }
    if (pack(fn, "input", xs, n_x, count, px, s->x) != DC_OK ||
        pack(fn, "target", ys, n_y, count, py, s->y) != DC_OK) {
        dc_ds_storage_free(s);
        return NULL;
    }
    /* one array: its own shape; several: flat rows */
    dc_dataset *ds = dc_dataset_from_storage(fn, s, count, n_x == 1 ? xs[0].ndim : 1,
                                             n_x == 1 ? xs[0].shape : &px, n_y == 1 ? ys[0].ndim : 1,
                                             n_y == 1 ? ys[0].shape : &py);
    if (!ds) return NULL;
    ds->n_x_parts = n_x;
    ds->n_y_parts = n_y;
    set_parts(ds->x_parts, xs, n_x);
    set_parts(ds->y_parts, ys, n_y);
    return ds;
}

int dc_dataset_num_x(const dc_dataset *ds) { return ds ? (ds->n_x_parts ? ds->n_x_parts : 1) : 0; }
int dc_dataset_num_y(const dc_dataset *ds) { return ds ? (ds->n_y_parts ? ds->n_y_parts : 1) : 0; }

static int part_shape(int n_parts, const struct dc_ds_part *parts, int i, int64_t *shape) {
    if (i < 0 || i >= n_parts) return -1;
    if (shape) memcpy(shape, parts[i].shape, (size_t)parts[i].ndim * sizeof *shape);
    return parts[i].ndim;
}

int dc_dataset_x_part_shape(const dc_dataset *ds, int i, int64_t *shape) {
    if (!ds) return -1;
    if (ds->n_x_parts == 0 && i == 0) return dc_dataset_x_shape(ds, shape);
    return part_shape(ds->n_x_parts, ds->x_parts, i, shape);
}

int dc_dataset_y_part_shape(const dc_dataset *ds, int i, int64_t *shape) {
    if (!ds) return -1;
    if (ds->n_y_parts == 0 && i == 0) return dc_dataset_y_shape(ds, shape);
    return part_shape(ds->n_y_parts, ds->y_parts, i, shape);
}
