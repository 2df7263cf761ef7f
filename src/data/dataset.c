/* dataset.c — the dataset object (arrays, views, sample access) and the batcher,
 * which owns preallocated batch buffers and a per-epoch seeded shuffle so that
 * a training loop allocates nothing after dc_batcher_new. */
#include "dataset.h"
#include "../tensor/tensor.h"
#include "../kernels/elementwise.h"
#include <math.h>
#include <string.h>

char *dc_ds_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = dc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void dc_ds_storage_free(dc_ds_storage *s) {
    if (!s) return;
    if (s->owns) {
        dc_free_aligned(s->x);
        dc_free_aligned(s->x_bytes);
        dc_free_aligned(s->y);
    }
    dc_free_aligned(s->y_bytes);
    if (s->owns_names && s->class_names) {
        for (int i = 0; i < s->num_classes; i++) dc_free(s->class_names[i]);
        dc_free(s->class_names);
    }
    dc_free(s->seq_start);
    dc_free(s->bag_idf);
    dc_free(s);
}

/* Dense storage: sample i is a contiguous run of floats. */
static dc_status storage_get(const dc_dataset *ds, int64_t i, float *x, float *y) {
    int64_t row = ds->offset + i;
    if (x && ds->storage->x_bytes) {
        const uint8_t *src = ds->storage->x_bytes + row * ds->x_size;
        dc_k_bytes_to_unit(src, x, ds->x_size); /* vectorized x / 255.0f */
    } else if (x) {
        memcpy(x, ds->storage->x + row * ds->x_size, (size_t)ds->x_size * sizeof(float));
    }
    if (y && ds->storage->y_bytes) {
        const uint8_t *src = ds->storage->y_bytes + row * ds->y_size;
        for (int64_t j = 0; j < ds->y_size; j++) y[j] = (float)src[j];
    } else if (y) {
        memcpy(y, ds->storage->y + row * ds->y_size, (size_t)ds->y_size * sizeof(float));
    }
    return DC_OK;
}

dc_dataset *dc_dataset_from_storage(const char *fn, dc_ds_storage *storage, int64_t n,
                                    int x_ndim, const int64_t *x_shape, int y_ndim,
                                    const int64_t *y_shape) {
    if (dc_shape_check(fn, x_ndim, x_shape) != DC_OK ||
        dc_shape_check(fn, y_ndim, y_shape) != DC_OK) {
        dc_ds_storage_free(storage);
        return NULL;
    }
    dc_dataset *ds = dc_calloc(1, sizeof *ds);
    if (!ds) {
        dc_ds_storage_free(storage);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    ds->count = n;
    ds->x_ndim = x_ndim;
    ds->y_ndim = y_ndim;
    for (int i = 0; i < x_ndim; i++) ds->x_shape[i] = x_shape[i];
    for (int i = 0; i < y_ndim; i++) ds->y_shape[i] = y_shape[i];
    ds->x_size = dc_shape_numel(x_ndim, x_shape);
    ds->y_size = dc_shape_numel(y_ndim, y_shape);
    ds->get = storage_get;
    ds->storage = storage;
    return ds;
}

dc_dataset *dc_dataset_from_arrays(const float *x, int x_ndim, const int64_t *x_shape,
                                   const float *y, int y_ndim, const int64_t *y_shape,
                                   int64_t n, bool copy) {
    const char *fn = "dc_dataset_from_arrays";
    if (!x || !y || n < 0) {
        dc_set_error(DC_ERR_ARG, "%s: %s", fn,
                     n < 0 ? "negative sample count" : x ? "y is NULL" : "x is NULL");
        return NULL;
    }
    if (dc_shape_check(fn, x_ndim, x_shape) != DC_OK ||
        dc_shape_check(fn, y_ndim, y_shape) != DC_OK)
        return NULL;
    int64_t xs = dc_shape_numel(x_ndim, x_shape), ys = dc_shape_numel(y_ndim, y_shape);
    size_t xb, yb;
    if (dc_mul_overflows((size_t)n, (size_t)xs, &xb) || dc_mul_overflows(xb, sizeof(float), &xb) ||
        dc_mul_overflows((size_t)n, (size_t)ys, &yb) || dc_mul_overflows(yb, sizeof(float), &yb)) {
        dc_set_error(DC_ERR_SHAPE, "%s: %lld samples of this shape overflow", fn, (long long)n);
        return NULL;
    }
    /* a NaN or Inf would surface epochs later as a NaN loss: say where it is now */
    for (int64_t i = 0; i < n; i++) {
        const float *v[2] = {x + i * xs, y + i * ys};
        for (int k = 0; k < 2; k++)
            for (int64_t j = 0; j < (k ? ys : xs); j++)
                if (!isfinite(v[k][j])) {
                    dc_set_error(DC_ERR_ARG, "%s: sample %lld: %s value %lld is %g (NaN and Inf "
                                 "cannot be trained on)", fn, (long long)i, k ? "label" : "input",
                                 (long long)j, (double)v[k][j]);
                    return NULL;
                }
    }
    dc_ds_storage *s = dc_calloc(1, sizeof *s);
    if (!s) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    if (copy) {
        s->owns = true;
        s->x = dc_malloc_aligned(xb ? xb : 1);
        s->y = dc_malloc_aligned(yb ? yb : 1);
        if (!s->x || !s->y) {
            dc_ds_storage_free(s);
            dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld samples", fn, (long long)n);
            return NULL;
        }
        memcpy(s->x, x, xb);
        memcpy(s->y, y, yb);
    } else {
        /* Borrowed: the user keeps ownership and the arrays are never written. */
        s->x = (float *)(uintptr_t)x;
        s->y = (float *)(uintptr_t)y;
    }
    return dc_dataset_from_storage(fn, s, n, x_ndim, x_shape, y_ndim, y_shape);
}

dc_dataset *dc_dataset_view(dc_dataset *ds, int64_t start, int64_t count) {
    if (!ds) {
        dc_set_error(DC_ERR_ARG, "dc_dataset_view: dataset is NULL");
        return NULL;
    }
    if (start < 0 || count < 0 || start > ds->count || count > ds->count - start) {
        dc_set_error(DC_ERR_ARG, "dc_dataset_view: rows [%lld, %lld) outside a dataset of %lld",
                     (long long)start, (long long)(start + count), (long long)ds->count);
        return NULL;
    }
    dc_dataset *v = dc_malloc(sizeof *v);
    if (!v) {
        dc_set_error(DC_ERR_NOMEM, "dc_dataset_view: out of memory");
        return NULL;
    }
    *v = *ds;
    v->offset = ds->offset + start;
    v->count = count;
    v->is_view = true;
    return v;
}

void dc_dataset_free(dc_dataset *ds) {
    if (!ds) return;
    if (!ds->is_view) dc_ds_storage_free(ds->storage);
    dc_free(ds);
}

int64_t dc_dataset_count(const dc_dataset *ds) { return ds ? ds->count : 0; }

int dc_dataset_x_shape(const dc_dataset *ds, int64_t *shape) {
    if (!ds) return 0;
    if (shape) memcpy(shape, ds->x_shape, (size_t)ds->x_ndim * sizeof *shape);
    if (shape && ds->var_len) shape[0] = -1; /* the model builds with a None time axis */
    return ds->x_ndim;
}

int64_t dc_dataset_seq_length(const dc_dataset *ds, int64_t i) {
    if (!ds || i < 0 || i >= ds->count) return 0;
    if (!ds->var_len) return ds->x_ndim > 0 ? ds->x_shape[0] : 1;
    const int64_t *st = ds->storage->seq_start + ds->offset + i;
    return st[1] - st[0];
}

int64_t dc_dataset_max_seq_length(const dc_dataset *ds) {
    if (!ds) return 0;
    return ds->x_ndim > 0 ? ds->x_shape[0] : 1;
}

int dc_dataset_y_shape(const dc_dataset *ds, int64_t *shape) {
    if (!ds) return 0;
    if (shape) memcpy(shape, ds->y_shape, (size_t)ds->y_ndim * sizeof *shape);
    return ds->y_ndim;
}

int dc_dataset_num_classes(const dc_dataset *ds) {
    return ds && ds->storage ? ds->storage->num_classes : 0;
}

const char *dc_dataset_class_name(const dc_dataset *ds, int i) {
    if (!ds || !ds->storage || !ds->storage->class_names || i < 0 ||
        i >= ds->storage->num_classes)
        return NULL;
    return ds->storage->class_names[i];
}

dc_status dc_dataset_get(const dc_dataset *ds, int64_t i, float *x, float *y) {
    if (!ds) return dc_set_error(DC_ERR_ARG, "dc_dataset_get: dataset is NULL");
    if (i < 0 || i >= ds->count)
        return dc_set_error(DC_ERR_ARG, "dc_dataset_get: index %lld outside [0, %lld)",
                            (long long)i, (long long)ds->count);
    return ds->get(ds, i, x, y);
}

/* ---- batcher ---- */

struct dc_batcher {
    const dc_dataset *ds;
    int64_t batch_size;
    bool shuffle;
    dc_rng rng;
    int64_t *perm;      /* the order of this epoch */
    int64_t pos;        /* next position in perm */
    bool pending;       /* the epoch has not started: the next call starts one */
    float *x, *y;       /* batch_size samples each */
    dc_tensor xt, yt;   /* the views handed out, reused for every batch */
    int shard, n_shards; /* this process's part of each batch (dc_batcher_shard) */
};

dc_batcher *dc_batcher_new(const dc_dataset *ds, int64_t batch_size, bool shuffle, uint64_t seed) {
    const char *fn = "dc_batcher_new";
    if (!ds) {
        dc_set_error(DC_ERR_ARG, "%s: dataset is NULL", fn);
        return NULL;
    }
    if (batch_size <= 0) {
        dc_set_error(DC_ERR_ARG, "%s: batch_size %lld must be positive", fn, (long long)batch_size);
        return NULL;
    }
    if (ds->x_ndim + 1 > DC_MAX_DIMS || ds->y_ndim + 1 > DC_MAX_DIMS) {
        dc_set_error(DC_ERR_SHAPE, "%s: samples of %d dims leave no room for the batch axis", fn,
                     DC_MAX(ds->x_ndim, ds->y_ndim));
        return NULL;
    }
    /* A batch never holds more than the dataset. */
    int64_t cap = DC_MIN(batch_size, DC_MAX(ds->count, (int64_t)1));
    size_t xb, yb, pb;
    if (dc_mul_overflows((size_t)cap, (size_t)ds->x_size * sizeof(float), &xb) ||
        dc_mul_overflows((size_t)cap, (size_t)ds->y_size * sizeof(float), &yb) ||
        dc_mul_overflows((size_t)DC_MAX(ds->count, (int64_t)1), sizeof(int64_t), &pb)) {
        dc_set_error(DC_ERR_NOMEM, "%s: batch buffers overflow", fn);
        return NULL;
    }
    dc_batcher *b = dc_calloc(1, sizeof *b);
    if (!b) goto nomem;
    b->ds = ds;
    b->batch_size = batch_size;
    b->shuffle = shuffle;
    dc_rng_seed(&b->rng, seed);
    b->perm = dc_malloc(pb);
    b->x = dc_malloc_aligned(xb ? xb : 1);
    b->y = dc_malloc_aligned(yb ? yb : 1);
    if (!b->perm || !b->x || !b->y) goto nomem;
    for (int64_t i = 0; i < ds->count; i++) b->perm[i] = i;
    int64_t xs[DC_MAX_DIMS] = {0}, ys[DC_MAX_DIMS] = {0}; /* batch axis first, 0 until a batch */
    memcpy(xs + 1, ds->x_shape, (size_t)ds->x_ndim * sizeof(int64_t));
    memcpy(ys + 1, ds->y_shape, (size_t)ds->y_ndim * sizeof(int64_t));
    dc_tensor_init_header(&b->xt, ds->x_ndim + 1, xs);
    dc_tensor_init_header(&b->yt, ds->y_ndim + 1, ys);
    b->xt.data = b->x;
    b->yt.data = b->y;
    b->pending = true;
    b->n_shards = 1;
    return b;
nomem:
    dc_batcher_free(b);
    dc_set_error(DC_ERR_NOMEM, "%s: out of memory for batches of %lld", fn, (long long)batch_size);
    return NULL;
}

void dc_batcher_free(dc_batcher *b) {
    if (!b) return;
    dc_free(b->perm);
    dc_free_aligned(b->x);
    dc_free_aligned(b->y);
    dc_free(b);
}

/* Each epoch shuffles the previous order again, so epoch k's order depends only
 * on the seed and k, whether the caller calls reset or just keeps calling next. */
void dc_batcher_reset(dc_batcher *b) {
    if (!b) return;
    b->pos = 0;
    b->pending = false;
    if (b->shuffle) dc_rng_shuffle(&b->rng, b->perm, b->ds->count);
}

/* A batch of variable-length sequences (B, T_batch): each padded with 0 only to
 * the longest of this batch (at least 1 step), in the buffers sized for the
 * dataset's longest, so nothing is allocated. */
static int64_t next_ragged(dc_batcher *b, const int64_t *idx, int64_t n, dc_tensor **x,
                           dc_tensor **y) {
    const dc_dataset *ds = b->ds;
    const dc_ds_storage *st = ds->storage;
    int64_t t_batch = 1;
    for (int64_t k = 0; k < n; k++) {
        int64_t r = ds->offset + idx[k];
        t_batch = DC_MAX(t_batch, st->seq_start[r + 1] - st->seq_start[r]);
    }
    for (int64_t k = 0; k < n; k++) {
        int64_t r = ds->offset + idx[k];
        int64_t len = st->seq_start[r + 1] - st->seq_start[r];
        float *dst = b->x + k * t_batch;
        memcpy(dst, st->x + st->seq_start[r], (size_t)len * sizeof(float));
        memset(dst + len, 0, (size_t)(t_batch - len) * sizeof(float));
        if (ds->get(ds, idx[k], NULL, b->y + k * ds->y_size) != DC_OK) return 0;
    }
    b->xt.shape[0] = n;
    b->xt.shape[1] = t_batch;
    b->xt.size = n * t_batch;
    b->yt.shape[0] = n;
    b->yt.size = n * ds->y_size;
    if (x) *x = &b->xt;
    if (y) *y = &b->yt;
    return n;
}

int64_t dc_batcher_next(dc_batcher *b, dc_tensor **x, dc_tensor **y) {
    if (x) *x = NULL;
    if (y) *y = NULL;
    if (!b) return 0;
    if (b->pending) dc_batcher_reset(b);
    int64_t n = DC_MIN(b->batch_size, b->ds->count - b->pos);
    if (n <= 0) {
        b->pending = true; /* the next call begins the next epoch */
        return 0;
    }
    const dc_dataset *ds = b->ds;
    /* this shard's part of the n samples (all of them without a shard) */
    const int64_t lo = n * b->shard / b->n_shards, part = n * (b->shard + 1) / b->n_shards - lo;
    const int64_t *idx = b->perm + b->pos + lo;
    b->pos += n;
    if (ds->var_len) return (next_ragged(b, idx, part, x, y) > 0 || part == 0) ? n : 0;
    for (int64_t k = 0; k < part; k++) {
        if (ds->get(ds, idx[k], b->x + k * ds->x_size, b->y + k * ds->y_size) != DC_OK)
            return 0;
    }
    b->xt.shape[0] = part;
    b->xt.size = part * ds->x_size;
    b->yt.shape[0] = part;
    b->yt.size = part * ds->y_size;
    if (x) *x = &b->xt;
    if (y) *y = &b->yt;
    return n;
}

dc_status dc_batcher_shard(dc_batcher *b, int rank, int size) {
    if (!b) return dc_set_error(DC_ERR_ARG, "dc_batcher_shard: batcher is NULL");
    if (size < 1 || rank < 0 || rank >= size)
        return dc_set_error(DC_ERR_ARG, "dc_batcher_shard: rank %d must be in [0, size %d)", rank,
                            size);
    b->shard = rank;
    b->n_shards = size;
    return DC_OK;
}

int64_t dc_batcher_num_batches(const dc_batcher *b) {
    if (!b) return 0;
    return (b->ds->count + b->batch_size - 1) / b->batch_size;
}
