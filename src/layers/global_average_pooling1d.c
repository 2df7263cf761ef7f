/* global_average_pooling1d.c — Keras' GlobalAveragePooling1D: the mean over the
 * real steps of a sequence (B,T,C) -> (B,C), or (B,1,C) with keepdims; and the
 * options and shapes GlobalMaxPooling1D shares. Both consume the mask. */
#include "layer.h"
#include <string.h>

typedef struct {
    bool keepdims;
} global_pool1d_opts;

dc_status global_pool1d_parse(dc_layer *l, int n, const char *const *keys,
                              const char *const *values) {
    global_pool1d_opts *o = dc_calloc(1, sizeof *o);
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

dc_status global_pool1d_build(dc_layer *l) {
    const global_pool1d_opts *o = l->opts;
    if (dc_layer_need_sequence(l) != DC_OK) return dc_last_status();
    l->out_ndim = o->keepdims ? 2 : 1;
    l->out_shape[0] = o->keepdims ? 1 : l->in_shape[1];
    l->out_shape[1] = l->in_shape[1];
    return DC_OK;
}

/* (B,C) -> (B,1,C) when keepdims: a view. */
dc_tensor *dc_global_pool1d_keepdims(const dc_layer *l, dc_tape *t, dc_tensor *y) {
    const global_pool1d_opts *o = l->opts;
    if (!y || !o->keepdims) return y;
    return dc_reshape(t, y, 3, (const int64_t[]){y->shape[0], 1, y->shape[1]});
}

// x (B,T,C), mask (B,T) or none -> (B,C) or (B,1,C)
dc_tensor *global_average_pooling1d_forward(dc_layer *l, dc_tape *t, dc_tensor *x,
                                            bool training) {
    (void)training;
    return dc_global_pool1d_keepdims(l, t, dc_seq_avg_pool(t, x, x->mask));
}

dc_layer *dc_layer_global_average_pooling1d(void) {
    return dc_layer_make("dc_layer_global_average_pooling1d", "GlobalAveragePooling1D", NULL,
                         NULL, 0);
}
