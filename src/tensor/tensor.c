/* tensor.c — dc_tensor: creation, views, copies, fills and printing.
 * Tensors made here own their memory (unless wrapped); op results live in a tape. */
#include "tensor.h"
#include <math.h>
#include <string.h>

int64_t dc_shape_numel(int ndim, const int64_t *shape) {
    /* The non-zero dims must multiply without overflow even when a zero dim
     * makes the count 0: kernels take per-sample and per-image products of
     * them, so an empty batch of absurdly large images is refused here rather
     * than guarded against in every op. */
    int64_t n = 1;
    bool empty = false;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return -1;
        if (shape[i] == 0) {
            empty = true;
            continue;
        }
        if (n > INT64_MAX / shape[i]) return -1;
        n *= shape[i];
    }
    return empty ? 0 : n;
}

char *dc_shape_string(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t pos = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    pos += (size_t)snprintf(buf + pos, n - pos, "(");
    for (int i = 0; i < ndim && pos < n; i++)
        pos += (size_t)snprintf(buf + pos, n - pos, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (pos < n) snprintf(buf + pos, n - pos, ")");
    return buf;
}

dc_status dc_shape_check(const char *fn, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > DC_MAX_DIMS)
        return dc_set_error(DC_ERR_SHAPE, "%s: ndim %d outside [0, %d]", fn, ndim, DC_MAX_DIMS);
    if (ndim > 0 && !shape) return dc_set_error(DC_ERR_ARG, "%s: shape is NULL", fn);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            char s[128];
            return dc_set_error(DC_ERR_SHAPE, "%s: shape %s has a negative dimension", fn,
                                dc_shape_string(ndim, shape, s, sizeof s));
        }
    if (dc_shape_numel(ndim, shape) < 0)
        return dc_set_error(DC_ERR_SHAPE, "%s: shape's element count overflows", fn);
    return DC_OK;
}

void dc_tensor_init_header(dc_tensor *t, int ndim, const int64_t *shape) {
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->size = dc_shape_numel(ndim, shape);
}

/* Header plus owned, zeroed, aligned data; caller frees with dc_tensor_free. */
static dc_tensor *tensor_alloc(const char *fn, int ndim, const int64_t *shape) {
    if (dc_shape_check(fn, ndim, shape) != DC_OK) return NULL;
    dc_tensor *t = dc_malloc(sizeof *t);
    if (!t) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    dc_tensor_init_header(t, ndim, shape);
    size_t bytes;
    if (dc_mul_overflows((size_t)t->size, sizeof(float), &bytes)) {
        dc_free(t);
        dc_set_error(DC_ERR_NOMEM, "%s: tensor too large", fn);
        return NULL;
    }
    t->data = dc_malloc_aligned(bytes ? bytes : 1);
    if (!t->data) {
        long long n = (long long)t->size; /* read before t is freed */
        dc_free(t);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld floats", fn, n);
        return NULL;
    }
    memset(t->data, 0, bytes);
    t->flags = DC_TF_OWNS_DATA;
    return t;
}

dc_tensor *dc_tensor_zeros(int ndim, const int64_t *shape) {
    return tensor_alloc("dc_tensor_zeros", ndim, shape);
}

dc_tensor *dc_tensor_full(int ndim, const int64_t *shape, float value) {
    dc_tensor *t = tensor_alloc("dc_tensor_full", ndim, shape);
    if (t) dc_tensor_fill(t, value);
    return t;
}

dc_tensor *dc_tensor_ones(int ndim, const int64_t *shape) {
    return dc_tensor_full(ndim, shape, 1.0f);
}

dc_tensor *dc_tensor_uniform(int ndim, const int64_t *shape, float lo, float hi, dc_rng *rng) {
    if (!rng) {
        dc_set_error(DC_ERR_ARG, "dc_tensor_uniform: rng is NULL");
        return NULL;
    }
    dc_tensor *t = tensor_alloc("dc_tensor_uniform", ndim, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (float)(lo + (hi - lo) * dc_rng_uniform(rng));
    return t;
}

dc_tensor *dc_tensor_normal(int ndim, const int64_t *shape, float mean, float std, dc_rng *rng) {
    if (!rng) {
        dc_set_error(DC_ERR_ARG, "dc_tensor_normal: rng is NULL");
        return NULL;
    }
    dc_tensor *t = tensor_alloc("dc_tensor_normal", ndim, shape);
    if (!t) return NULL;
    for (int64_t i = 0; i < t->size; i++) t->data[i] = (float)(mean + std * dc_rng_normal(rng));
    return t;
}

dc_tensor *dc_tensor_from_data(int ndim, const int64_t *shape, const float *data) {
    if (!data) {
        dc_set_error(DC_ERR_ARG, "dc_tensor_from_data: data is NULL");
        return NULL;
    }
    dc_tensor *t = tensor_alloc("dc_tensor_from_data", ndim, shape);
    if (t) memcpy(t->data, data, (size_t)t->size * sizeof(float));
    return t;
}

dc_tensor *dc_tensor_wrap(int ndim, const int64_t *shape, float *data) {
    if (dc_shape_check("dc_tensor_wrap", ndim, shape) != DC_OK) return NULL;
    if (!data && dc_shape_numel(ndim, shape) > 0) {
        dc_set_error(DC_ERR_ARG, "dc_tensor_wrap: data is NULL");
        return NULL;
    }
    dc_tensor *t = dc_malloc(sizeof *t);
    if (!t) {
        dc_set_error(DC_ERR_NOMEM, "dc_tensor_wrap: out of memory");
        return NULL;
    }
    dc_tensor_init_header(t, ndim, shape);
    t->data = data;
    return t;
}

dc_tensor *dc_tensor_reshape(const dc_tensor *t, int ndim, const int64_t *shape) {
    if (!t) {
        dc_set_error(DC_ERR_ARG, "dc_tensor_reshape: tensor is NULL");
        return NULL;
    }
    if (dc_shape_check("dc_tensor_reshape", ndim, shape) != DC_OK) return NULL;
    if (dc_shape_numel(ndim, shape) != t->size) {
        char a[128], b[128];
        dc_set_error(DC_ERR_SHAPE, "dc_tensor_reshape: %s has %lld elements, %s has %lld",
                     dc_shape_string(t->ndim, t->shape, a, sizeof a), (long long)t->size,
                     dc_shape_string(ndim, shape, b, sizeof b),
                     (long long)dc_shape_numel(ndim, shape));
        return NULL;
    }
    dc_tensor *v = dc_tensor_wrap(ndim, shape, t->data);
    if (v) {
        v->grad = t->grad;
        v->flags = t->flags & DC_TF_REQUIRES_GRAD;
    }
    return v;
}

dc_tensor *dc_tensor_slice(const dc_tensor *t, int64_t start, int64_t count) {
    if (!t) {
        dc_set_error(DC_ERR_ARG, "dc_tensor_slice: tensor is NULL");
        return NULL;
    }
    if (t->ndim < 1 || start < 0 || count < 0 || start > t->shape[0] ||
        count > t->shape[0] - start) {
        char s[128];
        dc_set_error(DC_ERR_SHAPE, "dc_tensor_slice: rows [%lld, %lld) outside %s",
                     (long long)start, (long long)(start + count),
                     dc_shape_string(t->ndim, t->shape, s, sizeof s));
        return NULL;
    }
    int64_t shape[DC_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    shape[0] = count;
    int64_t row = t->shape[0] ? t->size / t->shape[0] : 0;
    dc_tensor *v = dc_tensor_wrap(t->ndim, shape, t->data + start * row);
    if (v) {
        v->grad = t->grad ? t->grad + start * row : NULL;
        v->flags = t->flags & DC_TF_REQUIRES_GRAD;
    }
    return v;
}

dc_tensor *dc_tensor_clone(const dc_tensor *t) {
    if (!t) {
        dc_set_error(DC_ERR_ARG, "dc_tensor_clone: tensor is NULL");
        return NULL;
    }
    dc_tensor *c = dc_tensor_from_data(t->ndim, t->shape, t->data);
    if (c) memcpy(c->name, t->name, sizeof c->name);
    return c;
}

void dc_tensor_free(dc_tensor *t) {
    if (!t || (t->flags & DC_TF_IN_ARENA)) return;
    if (t->flags & DC_TF_OWNS_DATA) dc_free_aligned(t->data);
    if (t->flags & DC_TF_OWNS_GRAD) dc_free_aligned(t->grad);
    dc_free(t);
}

dc_status dc_tensor_copy(dc_tensor *dst, const dc_tensor *src) {
    if (!dst || !src) return dc_set_error(DC_ERR_ARG, "dc_tensor_copy: tensor is NULL");
    if (dst->size != src->size) {
        char a[128], b[128];
        return dc_set_error(DC_ERR_SHAPE, "dc_tensor_copy: dst %s and src %s differ in size",
                            dc_shape_string(dst->ndim, dst->shape, a, sizeof a),
                            dc_shape_string(src->ndim, src->shape, b, sizeof b));
    }
    if (dst->data != src->data) memmove(dst->data, src->data, (size_t)src->size * sizeof(float));
    return DC_OK;
}

void dc_tensor_fill(dc_tensor *t, float value) {
    if (!t) return;
    for (int64_t i = 0; i < t->size; i++) t->data[i] = value;
}

dc_status dc_tensor_set_requires_grad(dc_tensor *t, bool requires) {
    if (!t) return dc_set_error(DC_ERR_ARG, "dc_tensor_set_requires_grad: tensor is NULL");
    if (t->flags & DC_TF_IN_ARENA)
        return dc_set_error(DC_ERR_STATE,
                            "dc_tensor_set_requires_grad: '%s' lives on a tape; use dc_tape_watch",
                            t->name);
    if (requires && !t->grad) {
        t->grad = dc_malloc_aligned((size_t)(t->size ? t->size : 1) * sizeof(float));
        if (!t->grad) return dc_set_error(DC_ERR_NOMEM, "dc_tensor_set_requires_grad: out of memory");
        memset(t->grad, 0, (size_t)t->size * sizeof(float));
        t->flags |= DC_TF_OWNS_GRAD;
    }
    if (!requires && (t->flags & DC_TF_OWNS_GRAD)) {
        dc_free_aligned(t->grad);
        t->grad = NULL;
        t->flags &= ~(uint32_t)DC_TF_OWNS_GRAD;
    }
    if (requires) t->flags |= DC_TF_REQUIRES_GRAD;
    else t->flags &= ~(uint32_t)DC_TF_REQUIRES_GRAD;
    return DC_OK;
}

bool dc_tensor_requires_grad(const dc_tensor *t) {
    return t && (t->flags & DC_TF_REQUIRES_GRAD) && t->grad;
}

void dc_tensor_zero_grad(dc_tensor *t) {
    if (t && t->grad) memset(t->grad, 0, (size_t)t->size * sizeof(float));
}

void dc_tensor_set_name(dc_tensor *t, const char *name) {
    if (!t) return;
    snprintf(t->name, sizeof t->name, "%s", name ? name : "");
}

bool dc_tensor_same_shape(const dc_tensor *a, const dc_tensor *b) {
    if (!a || !b || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

float dc_tensor_item(const dc_tensor *t) {
    if (!t || t->size != 1) return NAN;
    return t->data[0];
}

void dc_tensor_print(const dc_tensor *t, FILE *f, int64_t max_items) {
    if (!f) return;
    if (!t) {
        fprintf(f, "tensor(NULL)\n");
        return;
    }
    char s[128];
    fprintf(f, "tensor%s%s%s [", dc_shape_string(t->ndim, t->shape, s, sizeof s),
            t->name[0] ? " " : "", t->name);
    int64_t n = max_items > 0 && max_items < t->size ? max_items : t->size;
    for (int64_t i = 0; i < n; i++) fprintf(f, i ? ", %g" : "%g", (double)t->data[i]);
    fprintf(f, n < t->size ? ", ...]\n" : "]\n");
}
