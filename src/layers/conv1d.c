/* conv1d.c — Keras' Conv1D over sequences (B,T,C) -> (B,T',F), kernel (K,C,F):
 * the Conv2D op on the (B,1,T,C) view of the input with the (1,K,C,F) view of
 * the kernel (no copy); 'causal' padding puts (K-1)*dilation zero steps first. */
#include "layer.h"
#include "../kernels/im2col.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t filters, kernel, strides, dilation;
    dc_padding padding;
    dc_kernel_bias kb;
} conv1d_opts;

static dc_status parse_padding1d(const dc_layer *l, const char *key, const char *v,
                                 dc_padding *out) {
    char low[8] = "";
    size_t n = strlen(v);
    for (size_t i = 0; i < n && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)v[i]);
    if (n < sizeof low && !strcmp(low, "causal")) {
        *out = DC_PAD_CAUSAL;
        return DC_OK;
    }
    if (dc_parse_padding(l, key, v, out) == DC_OK) return DC_OK;
    return dc_set_error(DC_ERR_ARG, "Conv1D: option '%s': '%s' is not 'valid', 'same' or 'causal'",
                        key, v);
}

/* "3", "(3,)" or "[3]": one integer in [1, INT32_MAX] (shared with MaxPooling1D). */
dc_status dc_parse_one(const dc_layer *l, const char *key, const char *v, int64_t *out) {
    const char *p = v;
    while (*p == ' ' || *p == '(' || *p == '[') p++;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(p, &end, 10);
    bool ok = end != p && !errno && x >= 1 && x <= INT32_MAX;
    p = end;
    while (ok && (*p == ' ' || *p == ',')) p++;
    if (ok && (*p == ')' || *p == ']')) p++;
    while (ok && *p == ' ') p++;
    if (!ok || *p)
        return dc_set_error(DC_ERR_ARG, "%s: option '%s': '%s' is not one integer >= 1",
                            dc_layer_type(l), key, v);
    *out = x;
    return DC_OK;
}

dc_status conv1d_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    conv1d_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "Conv1D: out of memory");
    l->opts = o;
    o->strides = o->dilation = 1;
    dc_kernel_bias_defaults(&o->kb);
    bool have_filters = false, have_kernel = false;
    for (int i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        dc_status s;
        if (!strcmp(k, "filters")) {
            s = dc_parse_int(l, k, v, 1, INT32_MAX, &o->filters);
            have_filters = true;
        } else if (!strcmp(k, "kernel_size")) {
            s = dc_parse_one(l, k, v, &o->kernel);
            have_kernel = true;
        } else if (!strcmp(k, "strides")) {
            s = dc_parse_one(l, k, v, &o->strides);
        } else if (!strcmp(k, "dilation_rate")) {
            s = dc_parse_one(l, k, v, &o->dilation);
        } else if (!strcmp(k, "padding")) {
            s = parse_padding1d(l, k, v, &o->padding);
        } else if (!strcmp(k, "data_format")) {
            s = dc_parse_data_format(l, k, v);
        } else {
            s = dc_parse_kernel_bias_key(l, k, v, &o->kb,
                                         "filters, kernel_size, strides, padding, dilation_rate, "
                                         "data_format, activation, use_bias, kernel_initializer, "
                                         "bias_initializer, name");
        }
        if (s != DC_OK) return s;
    }
    if (!have_filters) return dc_set_error(DC_ERR_ARG, "Conv1D: option 'filters' is required");
    if (!have_kernel) return dc_set_error(DC_ERR_ARG, "Conv1D: option 'kernel_size' is required");
    return DC_OK;
}

/* Output steps for T input steps (T -1: None stays None). */
static int64_t out_steps(const conv1d_opts *o, int64_t T) {
    if (T == -1) return -1;
    int64_t out, before;
    const int64_t pad = o->padding == DC_PAD_CAUSAL ? (o->kernel - 1) * o->dilation : 0;
    dc_conv_out_len(T + pad, o->kernel, o->strides, o->dilation, o->padding == DC_PAD_SAME, &out,
                    &before);
    return out;
}

dc_status conv1d_build(dc_layer *l) {
    const conv1d_opts *o = l->opts;
    if (dc_layer_need_sequence(l) != DC_OK) return dc_last_status();
    const int64_t T = out_steps(o, l->in_shape[0]);
    if (T == 0 || T < -1) {
        char s[128];
        return dc_set_error(DC_ERR_SHAPE,
                            "Conv1D '%s': kernel %lld (dilated %lld) is longer than the input %s",
                            l->name, (long long)o->kernel,
                            (long long)((o->kernel - 1) * o->dilation + 1),
                            dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
    }
    l->out_ndim = 2;
    l->out_shape[0] = T, l->out_shape[1] = o->filters;
    const int64_t kshape[3] = {o->kernel, l->in_shape[1], o->filters};
    return dc_layer_declare_kernel_bias(l, 3, kshape, o->filters, &o->kb);
}

// x (B,T,C) -> (B,T+P,C): P zero steps first ('causal')
static dc_tensor *pad_front(dc_tape *t, dc_tensor *x, int64_t P) {
    dc_tensor *z = dc_tape_tensor(t, 3, (const int64_t[]){x->shape[0], P, x->shape[2]});
    dc_tensor *parts[2] = {z, x};
    return z ? dc_concat(t, parts, 2, 1) : NULL;
}

// x (B,T,C), kernel (K,C,F), bias (F) -> (B,T',F)
dc_tensor *conv1d_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    const conv1d_opts *o = l->opts;
    const int64_t B = x->shape[0], C = x->shape[2], F = o->filters;
    if (o->padding == DC_PAD_CAUSAL && o->kernel > 1)
        x = pad_front(t, x, (o->kernel - 1) * o->dilation);
    if (!x) return NULL;
    const int64_t T = x->shape[1];
    const bool fuse_relu = l->act == DC_ACT_RELU && !l->act_skip;
    const dc_conv2d_options c = {.stride_h = 1,
                                 .stride_w = (int)o->strides,
                                 .padding = o->padding == DC_PAD_SAME ? DC_PAD_SAME : DC_PAD_VALID,
                                 .dilation_h = 1,
                                 .dilation_w = (int)o->dilation,
                                 .activation = fuse_relu ? DC_CONV_ACT_RELU : DC_CONV_ACT_NONE};
    dc_tensor *x4 = dc_reshape(t, x, 4, (const int64_t[]){B, 1, T, C});
    dc_tensor *w4 = dc_reshape(t, l->params[0].t, 4, (const int64_t[]){1, o->kernel, C, F});
    dc_tensor *y = dc_conv2d(t, x4, w4, o->kb.use_bias ? l->params[1].t : NULL, &c);
    if (!y) return NULL;
    y = dc_reshape(t, y, 3, (const int64_t[]){B, y->shape[2], F});
    return y && !fuse_relu ? dc_layer_activate(l, t, y) : y;
}

dc_layer *dc_layer_conv1d(const dc_conv1d_layer_options *opt) {
    const char *fn = "dc_layer_conv1d";
    if (!opt) {
        dc_set_error(DC_ERR_ARG, "%s: options are NULL", fn);
        return NULL;
    }
    static const char *const pads[] = {"valid", "same", "causal"};
    if ((unsigned)opt->padding > DC_PAD_CAUSAL) {
        dc_set_error(DC_ERR_ARG, "%s: padding %d is not DC_PAD_VALID, DC_PAD_SAME or DC_PAD_CAUSAL",
                     fn, (int)opt->padding);
        return NULL;
    }
    const char *k[10], *v[10];
    char filters[32], ks[32], st[32], dil[32];
    int n = 0;
    snprintf(filters, sizeof filters, "%d", opt->filters);
    snprintf(ks, sizeof ks, "%d", opt->kernel_size);
    k[n] = "filters", v[n++] = filters;
    k[n] = "kernel_size", v[n++] = ks;
    if (opt->strides) snprintf(st, sizeof st, "%d", opt->strides), k[n] = "strides", v[n++] = st;
    if (opt->padding) k[n] = "padding", v[n++] = pads[opt->padding];
    if (opt->dilation_rate)
        snprintf(dil, sizeof dil, "%d", opt->dilation_rate), k[n] = "dilation_rate", v[n++] = dil;
    if (opt->activation) k[n] = "activation", v[n++] = opt->activation;
    if (opt->no_bias) k[n] = "use_bias", v[n++] = "false";
    if (opt->kernel_initializer) k[n] = "kernel_initializer", v[n++] = opt->kernel_initializer;
    if (opt->bias_initializer) k[n] = "bias_initializer", v[n++] = opt->bias_initializer;
    if (opt->name) k[n] = "name", v[n++] = opt->name;
    return dc_layer_make(fn, "Conv1D", k, v, n);
}
