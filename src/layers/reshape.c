/* reshape.c — Keras' Reshape(target_shape): the batch axis stays, the rest
 * takes the target shape (one -1 is inferred). */
#include "layer.h"
#include <string.h>

typedef struct {
    int ndim;
    int64_t shape[DC_MAX_DIMS];
} reshape_opts;

dc_status reshape_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    reshape_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "Reshape: out of memory");
    l->opts = o;
    bool have = false;
    for (int i = 0; i < n; i++) {
        dc_status s;
        if (!strcmp(keys[i], "target_shape")) {
            s = dc_parse_shape(l, keys[i], values[i], true, &o->ndim, o->shape);
            if (s == DC_OK && o->ndim > DC_MAX_DIMS - 1)
                s = dc_set_error(DC_ERR_ARG, "Reshape: option 'target_shape': '%s' has more than %d dims",
                                 values[i], DC_MAX_DIMS - 1);
            have = true;
        } else {
            s = dc_layer_unknown_key(l, keys[i], "target_shape, name");
        }
        if (s != DC_OK) return s;
    }
    if (!have) return dc_set_error(DC_ERR_ARG, "Reshape: option 'target_shape' is required");
    return DC_OK;
}

dc_status reshape_build(dc_layer *l) {
    const reshape_opts *o = l->opts;
    if (dc_layer_need_fixed(l, 0, l->in_ndim, "Reshape needs every length known") != DC_OK)
        return dc_last_status();
    int64_t in = 1, known = 1;
    int neg = -1;
    for (int i = 0; i < l->in_ndim; i++) in *= l->in_shape[i];
    for (int i = 0; i < o->ndim; i++) {
        if (o->shape[i] == -1) neg = i;
        else known *= o->shape[i];
    }
    l->out_ndim = o->ndim;
    memcpy(l->out_shape, o->shape, sizeof l->out_shape);
    if (neg >= 0 && known > 0 && in % known == 0) l->out_shape[neg] = in / known;
    int64_t out = 1;
    for (int i = 0; i < o->ndim; i++) out *= l->out_shape[i];
    if (out != in) {
        char a[128], b[128];
        return dc_set_error(DC_ERR_SHAPE, "Reshape '%s': input %s (%lld values) cannot take %s",
                            l->name, dc_layer_shape_string(l->in_ndim, l->in_shape, a, sizeof a),
                            (long long)in, dc_layer_shape_string(o->ndim, o->shape, b, sizeof b));
    }
    return DC_OK;
}

// x (B, ...) -> (B, target...)
dc_tensor *reshape_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    int64_t s[DC_MAX_DIMS];
    s[0] = x->shape[0];
    memcpy(s + 1, l->out_shape, (size_t)l->out_ndim * sizeof *s);
    return dc_reshape(t, x, l->out_ndim + 1, s);
}
