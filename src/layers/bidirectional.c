/* bidirectional.c — Keras' Bidirectional: a SimpleRNN, LSTM or GRU run forwards
 * and a copy run with go_backwards, the backward outputs put back in time order
 * when they are sequences, merged by concat (default), sum, ave or mul. In model
 * files the wrapped layer's options sit beside `layer` and `merge_mode`. */
#include "layer.h"
#include <string.h>

typedef enum { MERGE_CONCAT = 0, MERGE_SUM, MERGE_AVE, MERGE_MUL } merge_mode;
static const char *const merge_names[] = {"concat", "sum", "ave", "mul"};

typedef struct {
    merge_mode merge;
    bool return_sequences;
} bidi_opts;

/* The wrapped layer named prefix_<its snake-case type>, from the options given. */
static dc_layer *make_wrapped(const char *type, const char *prefix, int n, const char **k,
                              const char **v, bool backwards) {
    char snake[48], name[64];
    dc_snake_case(type, snake, sizeof snake);
    snprintf(name, sizeof name, "%s_%s", prefix, snake);
    k[n] = "name", v[n++] = name;
    if (backwards) k[n] = "go_backwards", v[n++] = "true"; /* as Keras builds the copy */
    return dc_layer_from_config(type, k, v, n);
}

dc_status bidirectional_parse(dc_layer *l, int n, const char *const *keys,
                              const char *const *values) {
    bidi_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "Bidirectional: out of memory");
    l->opts = o;
    const char *type = NULL, *k[DC_LAYER_MAX_CFG + 2], *v[DC_LAYER_MAX_CFG + 2];
    int m = 0;
    for (int i = 0; i < n; i++) {
        const char *key = keys[i], *val = values[i];
        if (!strcmp(key, "layer")) {
            type = val;
        } else if (!strcmp(key, "merge_mode")) {
            int j = 0;
            while (j < 4 && strcmp(val, merge_names[j])) j++;
            if (j == 4)
                return dc_set_error(DC_ERR_ARG,
                                    "Bidirectional: option 'merge_mode': '%s' is not concat, "
                                    "sum, ave or mul",
                                    val);
            o->merge = (merge_mode)j;
        } else if (!strcmp(key, "go_backwards")) {
            continue; /* the forward copy runs forwards, the backward one backwards */
        } else {
            if (!strcmp(key, "return_sequences") &&
                dc_parse_bool(l, key, val, &o->return_sequences) != DC_OK)
                return dc_last_status();
            k[m] = key, v[m++] = val;
        }
    }
    if (!type || (strcmp(type, "SimpleRNN") && strcmp(type, "LSTM") && strcmp(type, "GRU")))
        return dc_set_error(DC_ERR_ARG,
                            "Bidirectional: option 'layer' %s%s%s must be SimpleRNN, LSTM or GRU "
                            "(the wrapped layer's options go beside it)",
                            type ? "'" : "is required:", type ? type : "", type ? "'" : "");
    for (int b = 0; b < 2; b++) {
        l->sub[b] = make_wrapped(type, b ? "backward" : "forward", m, k, v, b == 1);
        if (!l->sub[b]) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", dc_last_error());
            const char *pre = "dc_layer_from_config: ";
            return dc_set_error(dc_last_status(), "Bidirectional: %s",
                                strncmp(msg, pre, strlen(pre)) ? msg : msg + strlen(pre));
        }
    }
    return DC_OK;
}

/* Both copies built on the input; their parameters declared here, forward
 * ones first, named forward_<layer>/<param> and backward_<layer>/<param>. */
dc_status bidirectional_build(dc_layer *l) {
    for (int b = 0; b < 2; b++) {
        dc_layer *s = l->sub[b];
        s->in_ndim = l->in_ndim;
        memcpy(s->in_shape, l->in_shape, sizeof s->in_shape);
        s->n_params = 0;
        if (dc_layer_table[s->kind].build(s) != DC_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", dc_last_error());
            return dc_set_error(dc_last_status(), "Bidirectional '%s': %s", l->name, msg);
        }
        for (int j = 0; j < s->n_params; j++) {
            char name[128];
            const dc_param *p = &s->params[j];
            if ((size_t)snprintf(name, sizeof name, "%s/%s", s->name, p->name) >=
                sizeof l->params[0].name)
                return dc_set_error(DC_ERR_ARG, "Bidirectional '%s': parameter name '%s' is too long",
                                    l->name, name);
            if (dc_layer_declare_param(l, name, p->ndim, p->shape, p->trainable, p->init) < 0)
                return dc_last_status();
        }
    }
    const dc_layer *f = l->sub[0];
    l->out_ndim = f->out_ndim;
    memcpy(l->out_shape, f->out_shape, sizeof l->out_shape);
    if (((const bidi_opts *)l->opts)->merge == MERGE_CONCAT) l->out_shape[l->out_ndim - 1] *= 2;
    return DC_OK;
}

/* The wrapped layer's call on this layer's parameter views. */
static dc_tensor *run_wrapped(dc_layer *l, int b, dc_tape *t, dc_tensor *x, bool training) {
    dc_layer *s = l->sub[b];
    const int first = b ? l->sub[0]->n_params : 0;
    for (int j = 0; j < s->n_params; j++) s->params[j].t = l->params[first + j].t;
    return dc_layer_table[s->kind].forward(s, t, x, training);
}

// x (B,T,I) -> (B,T,2U) (concat) or (B,T,U), or without return_sequences (B,2U) / (B,U)
dc_tensor *bidirectional_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    bidi_opts *o = l->opts;
    dc_tensor *mask = x->mask;
    dc_tensor *y = run_wrapped(l, 0, t, x, training);
    dc_tensor *yr = y ? run_wrapped(l, 1, t, x, training) : NULL;
    if (!yr) return NULL;
    if (o->return_sequences) {
        yr = dc_seq_reverse(t, yr);
        if (mask) { /* Keras' zero_output_for_mask: padded steps output 0 */
            dc_tensor *m3 = dc_reshape(t, mask, 3, (const int64_t[]){mask->shape[0], mask->shape[1], 1});
            y = dc_mul(t, y, m3);
            yr = dc_mul(t, yr, m3);
        }
    }
    dc_tensor *out;
    switch (o->merge) {
    case MERGE_SUM: out = dc_add(t, y, yr); break;
    case MERGE_AVE: out = dc_mul_scalar(t, dc_add(t, y, yr), 0.5f); break;
    case MERGE_MUL: out = dc_mul(t, y, yr); break;
    default: {
        dc_tensor *parts[2] = {y, yr};
        out = dc_concat(t, parts, 2, -1);
    }
    }
    if (out && o->return_sequences) out->mask = mask;
    return out;
}

dc_layer *dc_layer_bidirectional(dc_layer *layer, const char *merge_mode, const char *name) {
    const char *fn = "dc_layer_bidirectional";
    if (!layer) {
        dc_set_error(DC_ERR_ARG, "%s: layer is NULL", fn);
        return NULL;
    }
    const char *k[DC_LAYER_MAX_CFG], *v[DC_LAYER_MAX_CFG];
    int n = 0;
    k[n] = "layer", v[n++] = dc_layer_type(layer);
    if (merge_mode) k[n] = "merge_mode", v[n++] = merge_mode;
    if (name) k[n] = "name", v[n++] = name;
    for (int i = 0; i < layer->n_cfg && n < DC_LAYER_MAX_CFG; i++)
        if (strcmp(layer->cfg_key[i], "name")) k[n] = layer->cfg_key[i], v[n++] = layer->cfg_val[i];
    dc_layer *b = dc_layer_make(fn, "Bidirectional", k, v, n);
    dc_layer_free(layer);
    return b;
}
