/* merge.c — Keras' merge layers, called on several inputs in a functional
 * model: Concatenate(axis) and the elementwise Add, Subtract, Multiply,
 * Average and Maximum (broadcasting as Keras 3's), composed from the table's
 * ADD/SUB/MUL/MAXIMUM/CONCAT ops. */
#include "layer.h"
#include <string.h>

typedef struct {
    int64_t axis; /* Keras' axis, counting the batch axis; -1 the last */
} concat_opts;

dc_status merge_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    (void)values;
    for (int i = 0; i < n; i++) return dc_layer_unknown_key(l, keys[i], "name");
    return DC_OK;
}

dc_status concatenate_parse(dc_layer *l, int n, const char *const *keys,
                            const char *const *values) {
    concat_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "Concatenate: out of memory");
    l->opts = o;
    o->axis = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(keys[i], "axis")) return dc_layer_unknown_key(l, keys[i], "axis, name");
        if (dc_parse_int(l, keys[i], values[i], -DC_MAX_DIMS, DC_MAX_DIMS, &o->axis) != DC_OK)
            return dc_last_status();
        if (o->axis == 0)
            return dc_set_error(DC_ERR_ARG, "Concatenate: option 'axis': 0 is the batch axis");
    }
    return DC_OK;
}

/* "(None, 8, 8, 16), (None, 8, 8, 32)": every input's shape, for errors. */
static const char *input_shapes(const dc_layer *l, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < l->n_in && len + 2 < n; i++) {
        char s[128];
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? " and " : "",
                                dc_layer_shape_string(l->in_ndims[i], l->in_shapes[i], s, sizeof s));
    }
    return buf;
}

/* At least `least` inputs (at most `most`); same_rank: all of input 0's rank. */
static dc_status need_inputs(const dc_layer *l, int least, int most, bool same_rank) {
    if (l->n_in < least || l->n_in > most)
        return dc_set_error(DC_ERR_ARG, "%s '%s': called on %d input%s; it takes %d%s", dc_layer_type(l),
                            l->name, l->n_in, l->n_in == 1 ? "" : "s", least,
                            most > least ? " or more" : "");
    for (int i = 1; same_rank && i < l->n_in; i++)
        if (l->in_ndims[i] != l->in_ndims[0]) {
            char s[512];
            return dc_set_error(DC_ERR_SHAPE, "%s '%s': inputs %s differ in rank", dc_layer_type(l),
                                l->name, input_shapes(l, s, sizeof s));
        }
    return DC_OK;
}

/* Elementwise merges broadcast as Keras 3's Merge: the sample shapes (no
 * batch axis) aligned at their last axis, a missing leading axis counting
 * as 1; on each axis the lengths are equal or one of them is 1 (None, -1,
 * with anything gives None). The output has the largest rank. */
static dc_status broadcast_shapes(dc_layer *l, int least, int most) {
    if (need_inputs(l, least, most, false) != DC_OK) return dc_last_status();
    int nd = 0;
    for (int i = 0; i < l->n_in; i++) nd = DC_MAX(nd, l->in_ndims[i]);
    for (int d = 0; d < nd; d++) {
        int64_t out = 1;
        for (int i = 0; i < l->n_in; i++) {
            int k = l->in_ndims[i] - nd + d;
            int64_t len = k >= 0 ? l->in_shapes[i][k] : 1;
            if (len == -1 || out == -1) out = -1;
            else if (out == 1) out = len;
            else if (len != 1 && len != out) {
                char s[512];
                return dc_set_error(DC_ERR_SHAPE,
                                    "%s '%s': inputs %s cannot broadcast: on axis %d the lengths "
                                    "are %lld and %lld (each must be equal or 1)",
                                    dc_layer_type(l), l->name, input_shapes(l, s, sizeof s),
                                    d - nd, (long long)out, (long long)len);
            }
        }
        l->out_shape[d] = out;
    }
    l->out_ndim = nd;
    return DC_OK;
}

dc_status merge_build(dc_layer *l) { return broadcast_shapes(l, 2, DC_LAYER_MAX_IN); }
dc_status subtract_build(dc_layer *l) { return broadcast_shapes(l, 2, 2); }

/* The axis without the batch axis, in [0, ndim). */
static int concat_axis(const dc_layer *l) {
    int64_t a = ((const concat_opts *)l->opts)->axis;
    return (int)(a < 0 ? a + l->in_ndims[0] : a - 1);
}

dc_status concatenate_build(dc_layer *l) {
    if (need_inputs(l, 2, DC_LAYER_MAX_IN, true) != DC_OK) return dc_last_status();
    int nd = l->in_ndims[0], ax = concat_axis(l);
    char s[512];
    if (ax < 0 || ax >= nd)
        return dc_set_error(DC_ERR_SHAPE, "Concatenate '%s': axis %lld is outside inputs %s", l->name,
                            (long long)((const concat_opts *)l->opts)->axis,
                            input_shapes(l, s, sizeof s));
    memcpy(l->out_shape, l->in_shapes[0], sizeof l->out_shape);
    l->out_ndim = nd;
    for (int i = 1; i < l->n_in; i++)
        for (int d = 0; d < nd; d++) {
            if (d == ax) {
                l->out_shape[d] = l->out_shape[d] == -1 || l->in_shapes[i][d] == -1
                                      ? -1
                                      : l->out_shape[d] + l->in_shapes[i][d];
                continue;
            }
            if (l->in_shapes[i][d] != l->in_shapes[0][d])
                return dc_set_error(DC_ERR_SHAPE,
                                    "Concatenate '%s': inputs %s differ on axis %d, not only on the "
                                    "concatenation axis %d",
                                    l->name, input_shapes(l, s, sizeof s), d + 1, ax + 1);
        }
    return DC_OK;
}

dc_tensor *concatenate_forward(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training) {
    (void)training;
    return dc_concat(t, xs, n, concat_axis(l) + 1);
}

typedef dc_tensor *(*binary_op)(dc_tape *, dc_tensor *, dc_tensor *);

/* x (B, s...) of a lower rank than the output: (B, 1, ..., s...), as Keras
 * expands it at axis 1, so the ops' broadcast aligns the sample axes. */
static dc_tensor *to_rank(dc_tape *t, dc_tensor *x, int ndim) {
    if (x->ndim >= ndim) return x;
    int64_t shape[DC_MAX_DIMS];
    int pad = ndim - x->ndim;
    shape[0] = x->shape[0];
    for (int d = 1; d <= pad; d++) shape[d] = 1;
    memcpy(shape + pad + 1, x->shape + 1, (size_t)(x->ndim - 1) * sizeof *shape);
    return dc_reshape(t, x, ndim, shape);
}

/* xs[0] op xs[1] op ... left to right, so the sum order is fixed; the ops
 * broadcast, and their backward sums a broadcast input's gradient back. */
static dc_tensor *fold(const dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, binary_op op) {
    dc_tensor *y = to_rank(t, xs[0], l->out_ndim + 1);
    for (int i = 1; i < n && y; i++) y = op(t, y, to_rank(t, xs[i], l->out_ndim + 1));
    return y;
}

dc_tensor *add_forward(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training) {
    (void)training;
    return fold(l, t, xs, n, dc_add);
}

dc_tensor *subtract_forward(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training) {
    (void)training;
    return fold(l, t, xs, n, dc_sub);
}

dc_tensor *multiply_forward(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training) {
    (void)training;
    return fold(l, t, xs, n, dc_mul);
}

dc_tensor *average_forward(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training) {
    (void)training;
    dc_tensor *sum = fold(l, t, xs, n, dc_add);
    return sum ? dc_mul_scalar(t, sum, 1.0f / (float)n) : NULL;
}

dc_tensor *maximum_forward(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training) {
    (void)training;
    return fold(l, t, xs, n, dc_maximum);
}

/* ---- typed constructors ---- */

dc_layer *dc_layer_concatenate(int axis) {
    char v[16];
    snprintf(v, sizeof v, "%d", axis);
    const char *k[] = {"axis"}, *vs[] = {v};
    return dc_layer_make("dc_layer_concatenate", "Concatenate", k, vs, 1);
}
dc_layer *dc_layer_add(void) { return dc_layer_make("dc_layer_add", "Add", NULL, NULL, 0); }
dc_layer *dc_layer_subtract(void) {
    return dc_layer_make("dc_layer_subtract", "Subtract", NULL, NULL, 0);
}
dc_layer *dc_layer_multiply(void) {
    return dc_layer_make("dc_layer_multiply", "Multiply", NULL, NULL, 0);
}
dc_layer *dc_layer_average(void) { return dc_layer_make("dc_layer_average", "Average", NULL, NULL, 0); }
dc_layer *dc_layer_maximum(void) { return dc_layer_make("dc_layer_maximum", "Maximum", NULL, NULL, 0); }
