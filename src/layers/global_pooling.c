/* global_pooling.c — Keras' global pools: GlobalAveragePooling1D/2D and
 * GlobalMaxPooling1D/2D reduce the time axis of (B,T,C) or the height and width
 * of (B,H,W,C) to (B,C), or keep the reduced axes as 1 with keepdims. The 1-D
 * pools consume the mask; Keras 3's GlobalMaxPooling1D takes the max over
 * every step, padding included, where deepc skips masked steps. */
#include "layer.h"
#include <string.h>

typedef struct {
    bool keepdims;
} global_pool_opts;

dc_status global_pool_parse(dc_layer *l, int n, const char *const *keys,
                            const char *const *values) {
    global_pool_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", dc_layer_type(l));
    l->opts = o;
    for (int i = 0; i < n; i++) {
        dc_status s;
        if (!strcmp(keys[i], "keepdims")) s = dc_parse_bool(l, keys[i], values[i], &o->keepdims);
        else if (!strcmp(keys[i], "data_format")) s = dc_parse_data_format(l, keys[i], values[i]);
        else s = dc_layer_unknown_key(l, keys[i], "keepdims, data_format, name");
        if (s != DC_OK) return s;
    }
    return DC_OK;
}

/* (T,C) or (H,W,C) -> (C), or with keepdims (1,C) or (1,1,C). */
static dc_status global_pool_shape(dc_layer *l, int reduced) {
    const global_pool_opts *o = l->opts;
    int64_t c = l->in_shape[reduced];
    l->out_ndim = o->keepdims ? reduced + 1 : 1;
    for (int i = 0; i < l->out_ndim; i++) l->out_shape[i] = 1;
    l->out_shape[l->out_ndim - 1] = c;
    return DC_OK;
}

dc_status global_pool1d_build(dc_layer *l) {
    if (dc_layer_need_sequence(l) != DC_OK) return dc_last_status();
    return global_pool_shape(l, 1);
}

dc_status global_pool2d_build(dc_layer *l) {
    if (dc_layer_need_image(l) != DC_OK) return dc_last_status();
    return global_pool_shape(l, 2);
}

/* (B,C) -> (B,1,C) or (B,1,1,C) when keepdims: a view. */
static dc_tensor *global_pool_keepdims(const dc_layer *l, dc_tape *t, dc_tensor *y) {
    const global_pool_opts *o = l->opts;
    if (!y || !o->keepdims) return y;
    int64_t shape[4] = {y->shape[0], 1, 1, 1};
    shape[l->out_ndim] = y->shape[1];
    return dc_reshape(t, y, l->out_ndim + 1, shape);
}

// x (B,T,C), mask (B,T) or none -> (B,C) or (B,1,C)
dc_tensor *global_average_pooling1d_forward(dc_layer *l, dc_tape *t, dc_tensor *x,
                                            bool training) {
    (void)training;
    return global_pool_keepdims(l, t, dc_seq_avg_pool(t, x, x->mask));
}

// x (B,T,C), mask (B,T) or none -> (B,C) or (B,1,C)
dc_tensor *global_max_pooling1d_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    return global_pool_keepdims(l, t, dc_seq_max_pool(t, x, x->mask));
}

// x (B,H,W,C) -> (B,C) or (B,1,1,C)
dc_tensor *global_average_pooling2d_forward(dc_layer *l, dc_tape *t, dc_tensor *x,
                                            bool training) {
    (void)training;
    return global_pool_keepdims(l, t, dc_global_avg_pool2d(t, x));
}

// x (B,H,W,C) -> (B,C) or (B,1,1,C)
dc_tensor *global_max_pooling2d_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    return global_pool_keepdims(l, t, dc_global_max_pool2d(t, x));
}

dc_layer *dc_layer_global_average_pooling1d(void) {
    return dc_layer_make("dc_layer_global_average_pooling1d", "GlobalAveragePooling1D", NULL,
                         NULL, 0);
}

dc_layer *dc_layer_global_max_pooling1d(void) {
    return dc_layer_make("dc_layer_global_max_pooling1d", "GlobalMaxPooling1D", NULL, NULL, 0);
}

dc_layer *dc_layer_global_average_pooling2d(void) {
    return dc_layer_make("dc_layer_global_average_pooling2d", "GlobalAveragePooling2D", NULL,
                         NULL, 0);
}

dc_layer *dc_layer_global_max_pooling2d(void) {
    return dc_layer_make("dc_layer_global_max_pooling2d", "GlobalMaxPooling2D", NULL, NULL, 0);
}
