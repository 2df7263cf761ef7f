/* masking.c — Keras' Masking: a step whose features all equal mask_value
 * (0.0 by default) is padding; the output is the input with those steps
 * zeroed, carrying the (B,T) mask for the layers after it. */
#include "layer.h"
#include <string.h>

typedef struct {
    float mask_value;
} masking_opts;

dc_status masking_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    masking_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "Masking: out of memory");
    l->opts = o;
    for (int i = 0; i < n; i++) {
        dc_status s;
        if (!strcmp(keys[i], "mask_value")) /* a finite number: NaN equals nothing */
            s = dc_parse_float(l, keys[i], values[i], -3.4e38, 3.4e38, &o->mask_value);
        else s = dc_layer_unknown_key(l, keys[i], "mask_value, name");
        if (s != DC_OK) return s;
    }
    return DC_OK;
}

dc_status masking_build(dc_layer *l) {
    if (dc_layer_need_sequence(l) != DC_OK) return dc_last_status();
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return DC_OK;
}

// x (B,T,C) -> x * mask (B,T,1), mask (B,T) = any(x != mask_value, -1)
dc_tensor *masking_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    const masking_opts *o = l->opts;
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    dc_tensor *mask = dc_mask_new(t, x);
    if (!mask) return NULL;
    for (int64_t i = 0; i < B * T; i++) {
        const float *xs = x->data + i * C;
        bool real = false;
        for (int64_t c = 0; c < C && !real; c++) real = xs[c] != o->mask_value;
        mask->data[i] = real;
    }
    dc_tensor *y = dc_mul(t, x, dc_reshape(t, mask, 3, (const int64_t[]){B, T, 1}));
    if (y) y->mask = mask;
    return y;
}

dc_layer *dc_layer_masking(float mask_value, const char *name) {
    char mv[32];
    snprintf(mv, sizeof mv, "%.9g", (double)mask_value);
    const char *k[2] = {"mask_value", "name"}, *v[2] = {mv, name};
    return dc_layer_make("dc_layer_masking", "Masking", k, v, name ? 2 : 1);
}
