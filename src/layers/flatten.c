/* flatten.c — Keras' Flatten: (B, d1, d2, ...) -> (B, d1*d2*...), a view. */
#include "layer.h"

dc_status flatten_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    (void)values;
    for (int i = 0; i < n; i++)
        if (dc_layer_unknown_key(l, keys[i], "name") != DC_OK) return DC_ERR_ARG;
    return DC_OK;
}

dc_status flatten_build(dc_layer *l) {
    int64_t n = 1;
    bool variable = false;
    for (int i = 0; i < l->in_ndim; i++) {
        variable = variable || l->in_shape[i] == -1;
        n *= l->in_shape[i];
    }
    if (variable) n = -1; /* None values, as Keras (a Dense after it refuses to build) */
    l->out_ndim = 1;
    l->out_shape[0] = n;
    return DC_OK;
}

// x (B, d1, ..., dk) -> (B, d1*...*dk)
dc_tensor *flatten_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)l, (void)training;
    if (x->ndim == 2) return x;
    return dc_reshape(t, x, 2, (const int64_t[]){x->shape[0], x->size / DC_MAX(x->shape[0], 1)});
}
