/* embedding.c — Keras' Embedding: whole-number ids (T) -> vectors (T, output_dim)
 * from a table "embeddings" (input_dim, output_dim), uniform(-0.05, 0.05) by
 * default; mask_zero makes the (B,T) mask "id != 0" for the layers after it. */
#include "layer.h"
#include <string.h>

typedef struct {
    int64_t input_dim, output_dim;
    bool mask_zero;
    char init[32];
} embedding_opts;

dc_status embedding_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    embedding_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "Embedding: out of memory");
    l->opts = o;
    snprintf(o->init, sizeof o->init, "uniform");
    bool have_in = false, have_out = false;
    for (int i = 0; i < n; i++) {
        const char *k = keys[i], *v = values[i];
        dc_status s;
        if (!strcmp(k, "input_dim")) {
            s = dc_parse_int(l, k, v, 1, INT32_MAX, &o->input_dim);
            have_in = true;
        } else if (!strcmp(k, "output_dim")) {
            s = dc_parse_int(l, k, v, 1, INT32_MAX, &o->output_dim);
            have_out = true;
        } else if (!strcmp(k, "mask_zero")) {
            s = dc_parse_bool(l, k, v, &o->mask_zero);
        } else if (!strcmp(k, "embeddings_initializer")) {
            if ((s = dc_parse_initializer(l, k, v)) == DC_OK)
                snprintf(o->init, sizeof o->init, "%s", v);
        } else {
            s = dc_layer_unknown_key(l, k,
                                     "input_dim, output_dim, embeddings_initializer, mask_zero, "
                                     "name");
        }
        if (s != DC_OK) return s;
    }
    if (!have_in || !have_out)
        return dc_set_error(DC_ERR_ARG, "Embedding: option '%s' is required",
                            have_in ? "output_dim" : "input_dim");
    return DC_OK;
}

dc_status embedding_build(dc_layer *l) {
    const embedding_opts *o = l->opts;
    if (l->in_ndim < 1 || l->in_ndim > DC_MAX_DIMS - 2) {
        char s[128];
        return dc_set_error(DC_ERR_SHAPE, "Embedding '%s': input %s must be ids (None, steps)",
                            l->name, dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
    }
    l->out_ndim = l->in_ndim + 1;
    memcpy(l->out_shape, l->in_shape, (size_t)l->in_ndim * sizeof *l->out_shape);
    l->out_shape[l->in_ndim] = o->output_dim;
    const int64_t shape[2] = {o->input_dim, o->output_dim};
    return dc_layer_declare_param(l, "embeddings", 2, shape, true, o->init) < 0 ? dc_last_status()
                                                                                 : DC_OK;
}

// ids (B, T) -> (B, T, output_dim); mask_zero: mask (B, T) = ids != 0
dc_tensor *embedding_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    const embedding_opts *o = l->opts;
    dc_tensor *y = dc_embedding(t, l->params[0].t, x);
    if (!y || !o->mask_zero || x->ndim != 2) return y;
    dc_tensor *mask = dc_mask_new(t, x);
    if (!mask) return NULL;
    for (int64_t i = 0; i < x->size; i++) mask->data[i] = x->data[i] != 0.0f;
    y->mask = mask;
    return y;
}

dc_layer *dc_layer_embedding(const dc_embedding_options *opt) {
    if (!opt) {
        dc_set_error(DC_ERR_ARG, "dc_layer_embedding: options are NULL");
        return NULL;
    }
    const char *k[5], *v[5];
    char in[32], out[32];
    int n = 0;
    snprintf(in, sizeof in, "%d", opt->input_dim);
    snprintf(out, sizeof out, "%d", opt->output_dim);
    k[n] = "input_dim", v[n++] = in;
    k[n] = "output_dim", v[n++] = out;
    if (opt->embeddings_initializer)
        k[n] = "embeddings_initializer", v[n++] = opt->embeddings_initializer;
    if (opt->mask_zero) k[n] = "mask_zero", v[n++] = "true";
    if (opt->name) k[n] = "name", v[n++] = opt->name;
    return dc_layer_make("dc_layer_embedding", "Embedding", k, v, n);
}
