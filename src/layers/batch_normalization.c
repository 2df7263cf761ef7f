/* batch_normalization.c — Keras' BatchNormalization over the last axis: gamma
 * and beta are trained, moving_mean and moving_variance are non-trainable
 * weights that training steps update (momentum 0.99, epsilon 1e-3). */
#include "layer.h"
#include <float.h>
#include <string.h>

typedef struct {
    int64_t axis;
    float momentum, epsilon;
    bool center, scale;
    char beta_init[32], gamma_init[32], mean_init[32], var_init[32];
    int i_gamma, i_beta, i_mean, i_var; /* parameter indices (-1: absent), set by build */
} bn_opts;

/* Copies an initializer name after checking it. */
static dc_status parse_init(const dc_layer *l, const char *k, const char *v, char out[32]) {
    dc_status s = dc_parse_initializer(l, k, v);
    if (s == DC_OK) snprintf(out, 32, "%s", v);
    return s;
}

dc_status batch_normalization_parse(dc_layer *l, int n, const char *const *keys,
                                    const char *const *values) {
    bn_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "BatchNormalization: out of memory");
    l->opts = o;
    o->axis = -1;
    o->momentum = 0.99f, o->epsilon = 1e-3f;
    o->center = o->scale = true;
    snprintf(o->beta_init, sizeof o->beta_init, "zeros");
    snprintf(o->gamma_init, sizeof o->gamma_init, "ones");
    snprintf(o->mean_init, sizeof o->mean_init, "zeros");
    snprintf(o->var_init, sizeof o->var_init, "ones");
    for (int i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        dc_status s;
        if (!strcmp(k, "axis")) s = dc_parse_int(l, k, v, -1, DC_MAX_DIMS - 1, &o->axis);
        else if (!strcmp(k, "momentum")) s = dc_parse_float(l, k, v, 0.0, 1.0, &o->momentum);
        else if (!strcmp(k, "epsilon")) s = dc_parse_float(l, k, v, 1e-30, 1e30, &o->epsilon);
        else if (!strcmp(k, "center")) s = dc_parse_bool(l, k, v, &o->center);
        else if (!strcmp(k, "scale")) s = dc_parse_bool(l, k, v, &o->scale);
        else if (!strcmp(k, "beta_initializer")) s = parse_init(l, k, v, o->beta_init);
        else if (!strcmp(k, "gamma_initializer")) s = parse_init(l, k, v, o->gamma_init);
        else if (!strcmp(k, "moving_mean_initializer")) s = parse_init(l, k, v, o->mean_init);
        else if (!strcmp(k, "moving_variance_initializer")) s = parse_init(l, k, v, o->var_init);
        else
            s = dc_layer_unknown_key(l, k,
                                     "axis, momentum, epsilon, center, scale, beta_initializer, "
                                     "gamma_initializer, moving_mean_initializer, "
                                     "moving_variance_initializer, name");
        if (s != DC_OK) return s;
    }
    if (o->axis == 0)
        return dc_set_error(DC_ERR_ARG,
                            "BatchNormalization: option 'axis': 0 is the batch axis; only the "
                            "last axis (-1) is supported");
    return DC_OK;
}

dc_status batch_normalization_build(dc_layer *l) {
    bn_opts *o = l->opts;
    char s[128];
    if (l->in_ndim < 1)
        return dc_set_error(DC_ERR_SHAPE, "BatchNormalization '%s': input %s has no feature axis",
                            l->name, dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
    /* Keras counts the batch axis: the last axis of (None, H, W, C) is 3 or -1 */
    if (o->axis != -1 && o->axis != l->in_ndim)
        return dc_set_error(DC_ERR_UNSUPPORTED,
                            "BatchNormalization '%s': axis %lld of input %s: only the last axis "
                            "(-1 or %d) is supported",
                            l->name, (long long)o->axis,
                            dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s),
                            l->in_ndim);
    if (dc_layer_need_fixed(l, l->in_ndim - 1, l->in_ndim, "its parameters are per feature") !=
        DC_OK)
        return dc_last_status();
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    const int64_t c[1] = {l->in_shape[l->in_ndim - 1]};
    o->i_gamma = o->i_beta = -1;
    /* Keras' order: gamma, beta, moving_mean, moving_variance */
    if (o->scale && (o->i_gamma = dc_layer_declare_param(l, "gamma", 1, c, true, o->gamma_init)) < 0)
        return dc_last_status();
    if (o->center && (o->i_beta = dc_layer_declare_param(l, "beta", 1, c, true, o->beta_init)) < 0)
        return dc_last_status();
    if ((o->i_mean = dc_layer_declare_param(l, "moving_mean", 1, c, false, o->mean_init)) < 0 ||
        (o->i_var = dc_layer_declare_param(l, "moving_variance", 1, c, false, o->var_init)) < 0)
        return dc_last_status();
    return DC_OK;
}

/* A (C) tensor of `value` in the tape's arena, for a gamma or beta that is off. */
static dc_tensor *constant(dc_tape *t, int64_t c, float value) {
    dc_tensor *k = dc_tape_tensor(t, 1, (const int64_t[]){c});
    if (k)
        for (int64_t i = 0; i < c; i++) k->data[i] = value;
    return k;
}

// x (B, ..., C), gamma, beta, moving_mean, moving_variance (C) -> (B, ..., C)
dc_tensor *batch_normalization_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    const bn_opts *o = l->opts;
    const int64_t c = l->in_shape[l->in_ndim - 1];
    dc_tensor *gamma = o->i_gamma >= 0 ? l->params[o->i_gamma].t : constant(t, c, 1.0f);
    dc_tensor *beta = o->i_beta >= 0 ? l->params[o->i_beta].t : constant(t, c, 0.0f);
    if (!gamma || !beta) return NULL;
    /* The op reads momentum 0 as "the default 0.99"; Keras' momentum 0 (keep
     * only the last batch) is the smallest positive float, which rounds to it. */
    const float momentum = o->momentum == 0.0f ? FLT_TRUE_MIN : o->momentum;
    return dc_batch_norm(t, x, gamma, beta, l->params[o->i_mean].t, l->params[o->i_var].t,
                         training, momentum, o->epsilon);
}

dc_layer *dc_layer_batch_normalization(const dc_batch_normalization_options *opt) {
    const char *fn = "dc_layer_batch_normalization";
    const dc_batch_normalization_options none = {0};
    if (!opt) opt = &none;
    const char *k[5], *v[5];
    char mom[32], eps[32];
    int n = 0;
    if (opt->momentum != 0) {
        snprintf(mom, sizeof mom, "%.9g", (double)opt->momentum);
        k[n] = "momentum", v[n++] = mom;
    }
    if (opt->epsilon != 0) {
        snprintf(eps, sizeof eps, "%.9g", (double)opt->epsilon);
        k[n] = "epsilon", v[n++] = eps;
    }
    if (opt->no_center) k[n] = "center", v[n++] = "false";
    if (opt->no_scale) k[n] = "scale", v[n++] = "false";
    if (opt->name) k[n] = "name", v[n++] = opt->name;
    return dc_layer_make(fn, "BatchNormalization", k, v, n);
}
