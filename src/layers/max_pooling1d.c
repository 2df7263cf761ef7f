/* max_pooling1d.c — Keras' MaxPooling1D over sequences (B,T,C) -> (B,T',C)
 * (pool_size 2, strides = pool_size, 'valid' by default): the 2-D max pool op
 * on the (B,1,T,C) view, a window of 1 x pool_size. */
#include "layer.h"
#include "../kernels/im2col.h"
#include <string.h>

typedef struct {
    int64_t pool, strides;
    dc_padding padding;
} pool1d_opts;

dc_status max_pooling1d_parse(dc_layer *l, int n, const char *const *keys,
                              const char *const *values) {
    pool1d_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "MaxPooling1D: out of memory");
    l->opts = o;
    o->pool = 2;
    bool have_strides = false;
    for (int i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        dc_status s = DC_OK;
        if (!strcmp(k, "pool_size")) {
            s = dc_parse_one(l, k, v, &o->pool);
        } else if (!strcmp(k, "strides")) {
            if (strcmp(v, "None")) { /* Keras: None means the pool size */
                s = dc_parse_one(l, k, v, &o->strides);
                have_strides = true;
            }
        } else if (!strcmp(k, "padding")) {
            s = dc_parse_padding(l, k, v, &o->padding);
        } else if (!strcmp(k, "data_format")) {
            s = dc_parse_data_format(l, k, v);
        } else {
            s = dc_layer_unknown_key(l, k, "pool_size, strides, padding, data_format, name");
        }
        if (s != DC_OK) return s;
    }
    if (!have_strides) o->strides = o->pool;
    return DC_OK;
}

dc_status max_pooling1d_build(dc_layer *l) {
    const pool1d_opts *o = l->opts;
    if (dc_layer_need_sequence(l) != DC_OK) return dc_last_status();
    int64_t T = -1, before;
    if (l->in_shape[0] != -1)
        dc_conv_out_len(l->in_shape[0], o->pool, o->strides, 1, o->padding == DC_PAD_SAME, &T,
                        &before);
    if (T == 0 || T < -1) {
        char s[128];
        return dc_set_error(DC_ERR_SHAPE, "MaxPooling1D '%s': pool %lld is longer than the input %s",
                            l->name, (long long)o->pool,
                            dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
    }
    l->out_ndim = 2;
    l->out_shape[0] = T, l->out_shape[1] = l->in_shape[1];
    return DC_OK;
}

// x (B,T,C) -> (B,T',C)
dc_tensor *max_pooling1d_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    const pool1d_opts *o = l->opts;
    const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
    const dc_pool_options p = {.stride_h = 1, .stride_w = (int)o->strides, .padding = o->padding};
    dc_tensor *y = dc_max_pool2d(t, dc_reshape(t, x, 4, (const int64_t[]){B, 1, T, C}), 1,
                                 (int)o->pool, &p);
    return y ? dc_reshape(t, y, 3, (const int64_t[]){B, y->shape[2], C}) : NULL;
}

dc_layer *dc_layer_max_pooling1d(const dc_pool1d_layer_options *opt) {
    const char *fn = "dc_layer_max_pooling1d";
    const dc_pool1d_layer_options none = {0};
    if (!opt) opt = &none;
    if (opt->padding != DC_PAD_VALID && opt->padding != DC_PAD_SAME) {
        dc_set_error(DC_ERR_ARG, "%s: padding %d is not DC_PAD_VALID or DC_PAD_SAME", fn,
                     (int)opt->padding);
        return NULL;
    }
    const char *k[4], *v[4];
    char ps[32], st[32];
    int n = 0;
    if (opt->pool_size) snprintf(ps, sizeof ps, "%d", opt->pool_size), k[n] = "pool_size", v[n++] = ps;
    if (opt->strides) snprintf(st, sizeof st, "%d", opt->strides), k[n] = "strides", v[n++] = st;
    if (opt->padding == DC_PAD_SAME) k[n] = "padding", v[n++] = "same";
    if (opt->name) k[n] = "name", v[n++] = opt->name;
    return dc_layer_make(fn, "MaxPooling1D", k, v, n);
}
