/* dense.c — Keras' Dense: y = act(x @ kernel + bias) over the last axis.
 * kernel (in, units), bias (units); glorot_uniform / zeros by default. */
#include "layer.h"
#include <string.h>

typedef struct {
    int64_t units;
    dc_kernel_bias kb;
} dense_opts;

dc_status dense_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    dense_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "Dense: out of memory");
    l->opts = o;
    dc_kernel_bias_defaults(&o->kb);
    bool have_units = false;
    for (int i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        dc_status s = DC_OK;
        if (!strcmp(k, "units")) {
            s = dc_parse_int(l, k, v, 1, INT32_MAX, &o->units);
            have_units = true;
        } else {
            s = dc_parse_kernel_bias_key(l, k, v, &o->kb,
                                         "units, activation, use_bias, kernel_initializer, "
                                         "bias_initializer, name");
        }
        if (s != DC_OK) return s;
    }
    if (!have_units) return dc_set_error(DC_ERR_ARG, "Dense: option 'units' is required");
    return DC_OK;
}

dc_status dense_build(dc_layer *l) {
    const dense_opts *o = l->opts;
    if (l->in_ndim < 1) {
        char s[128];
        return dc_set_error(DC_ERR_SHAPE, "Dense '%s': input %s needs at least one axis", l->name,
                            dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
    }
    if (dc_layer_need_fixed(l, l->in_ndim - 1, l->in_ndim,
                            "Dense needs its last axis known (its kernel is (last, units))") != DC_OK)
        return dc_last_status();
    int64_t in = l->in_shape[l->in_ndim - 1];
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    l->out_shape[l->out_ndim - 1] = o->units;
    return dc_layer_declare_kernel_bias(l, 2, (const int64_t[]){in, o->units}, o->units, &o->kb);
}

/* The fused dense op's activation for a layer activation it can absorb, or
 * -1 when the activation runs as its own op afterwards. */
static int fused_act(const dc_layer *l) {
    if (l->act_skip) return DC_DENSE_ACT_NONE; /* the loss absorbs it */
    switch (l->act) {
    case DC_ACT_LINEAR: return DC_DENSE_ACT_NONE;
    case DC_ACT_RELU: return DC_DENSE_ACT_RELU;
    case DC_ACT_SIGMOID: return DC_DENSE_ACT_SIGMOID;
    case DC_ACT_TANH: return DC_DENSE_ACT_TANH;
    default: return -1;
    }
}

// x (B, ..., in) @ kernel (in, units) + bias (units) -> (B, ..., units)
dc_tensor *dense_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    dc_tensor *b = l->n_params > 1 ? l->params[1].t : NULL;
    int act = fused_act(l);
    dc_tensor *y = dc_dense(t, x, l->params[0].t, b, act < 0 ? DC_DENSE_ACT_NONE : act);
    return y && act < 0 ? dc_layer_activate(l, t, y) : y;
}
