/* rnn.c — Keras' SimpleRNN, LSTM and GRU layers over the fused recurrent ops:
 * options and defaults as Keras 3 (orthogonal recurrent kernel, LSTM's
 * unit_forget_bias, GRU's reset_after), input masks, dropout masks shared by
 * every step, return_sequences, and the final states for return_state. */
#include "layer.h"
#include "../ops/op.h"
#include <string.h>

typedef struct {
    int64_t units;
    dc_rnn_activation act, ract;
    bool use_bias, return_sequences, return_state, go_backwards, reset_after, unit_forget_bias;
    float dropout, recurrent_dropout;
    char kernel_init[32], recurrent_init[32], bias_init[32];
    dc_tensor *last_h, *last_c; /* the states of the last call (return_state) */
} rnn_opts;

static const struct {
    const char *name;
    dc_rnn_activation a;
} rnn_acts[] = {{"tanh", DC_RNN_ACT_TANH},     {"sigmoid", DC_RNN_ACT_SIGMOID},
                {"relu", DC_RNN_ACT_RELU},     {"linear", DC_RNN_ACT_LINEAR},
                {"None", DC_RNN_ACT_LINEAR},   {"none", DC_RNN_ACT_LINEAR},
                {"hard_sigmoid", DC_RNN_ACT_HARD_SIGMOID}};

static dc_status parse_rnn_act(const dc_layer *l, const char *key, const char *v,
                               dc_rnn_activation *out) {
    for (size_t i = 0; i < sizeof rnn_acts / sizeof *rnn_acts; i++)
        if (!strcmp(v, rnn_acts[i].name)) {
            *out = rnn_acts[i].a;
            return DC_OK;
        }
    return dc_set_error(DC_ERR_ARG,
                        "%s: option '%s': unknown activation '%s' (known: tanh, sigmoid, relu, "
                        "linear, hard_sigmoid)",
                        dc_layer_type(l), key, v);
}

static dc_status parse_init(const dc_layer *l, const char *key, const char *v, char *dst) {
    dc_status s = dc_parse_initializer(l, key, v);
    if (s == DC_OK) snprintf(dst, 32, "%s", v);
    return s;
}

static const char *known_keys(int kind) {
    switch (kind) {
    case DC_LAYER_LSTM:
        return "units, activation, recurrent_activation, use_bias, return_sequences, "
               "return_state, go_backwards, dropout, recurrent_dropout, kernel_initializer, "
               "recurrent_initializer, bias_initializer, unit_forget_bias, unroll, stateful, name";
    case DC_LAYER_GRU:
        return "units, activation, recurrent_activation, use_bias, return_sequences, "
               "return_state, go_backwards, dropout, recurrent_dropout, kernel_initializer, "
               "recurrent_initializer, bias_initializer, reset_after, unroll, stateful, name";
    default:
        return "units, activation, use_bias, return_sequences, return_state, go_backwards, "
               "dropout, recurrent_dropout, kernel_initializer, recurrent_initializer, "
               "bias_initializer, unroll, stateful, name";
    }
}

static dc_status parse_key(dc_layer *l, rnn_opts *o, const char *k, const char *v, bool *units) {
    bool flag = false;
    dc_status s;
    if (!strcmp(k, "units")) {
        *units = true;
        return dc_parse_int(l, k, v, 1, INT32_MAX, &o->units);
    }
    if (!strcmp(k, "activation")) return parse_rnn_act(l, k, v, &o->act);
    if (!strcmp(k, "recurrent_activation") && l->kind != DC_LAYER_SIMPLE_RNN)
        return parse_rnn_act(l, k, v, &o->ract);
    if (!strcmp(k, "use_bias")) return dc_parse_bool(l, k, v, &o->use_bias);
    if (!strcmp(k, "return_sequences")) return dc_parse_bool(l, k, v, &o->return_sequences);
    if (!strcmp(k, "return_state")) return dc_parse_bool(l, k, v, &o->return_state);
    if (!strcmp(k, "go_backwards")) return dc_parse_bool(l, k, v, &o->go_backwards);
    if (!strcmp(k, "dropout")) return dc_parse_float(l, k, v, 0.0, 0.999999, &o->dropout);
    if (!strcmp(k, "recurrent_dropout"))
        return dc_parse_float(l, k, v, 0.0, 0.999999, &o->recurrent_dropout);
    if (!strcmp(k, "kernel_initializer")) return parse_init(l, k, v, o->kernel_init);
    if (!strcmp(k, "recurrent_initializer")) return parse_init(l, k, v, o->recurrent_init);
    if (!strcmp(k, "bias_initializer")) return parse_init(l, k, v, o->bias_init);
    if (!strcmp(k, "unit_forget_bias") && l->kind == DC_LAYER_LSTM)
        return dc_parse_bool(l, k, v, &o->unit_forget_bias);
    if (!strcmp(k, "reset_after") && l->kind == DC_LAYER_GRU)
        return dc_parse_bool(l, k, v, &o->reset_after);
    if (!strcmp(k, "unroll")) return dc_parse_bool(l, k, v, &flag); /* same results either way */
    if (!strcmp(k, "stateful")) {
        if ((s = dc_parse_bool(l, k, v, &flag)) != DC_OK) return s;
        if (flag)
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: option 'stateful': true is not supported",
                                dc_layer_type(l));
        return DC_OK;
    }
    return dc_layer_unknown_key(l, k, known_keys(l->kind));
}

dc_status rnn_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    rnn_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", dc_layer_type(l));
    l->opts = o;
    o->act = DC_RNN_ACT_TANH;
    o->ract = DC_RNN_ACT_SIGMOID;
    o->use_bias = o->reset_after = o->unit_forget_bias = true;
    snprintf(o->kernel_init, sizeof o->kernel_init, "glorot_uniform");
    snprintf(o->recurrent_init, sizeof o->recurrent_init, "orthogonal");
    snprintf(o->bias_init, sizeof o->bias_init, "zeros");
    bool have_units = false;
    for (int i = 0; i < n; i++) {
        dc_status s = parse_key(l, o, keys[i], values[i], &have_units);
        if (s != DC_OK) return s;
    }
    if (!have_units)
        return dc_set_error(DC_ERR_ARG, "%s: option 'units' is required", dc_layer_type(l));
    return DC_OK;
}

static int gates_of(const dc_layer *l) {
    return l->kind == DC_LAYER_LSTM ? 4 : l->kind == DC_LAYER_GRU ? 3 : 1;
}

// (T, I) -> (T, U) with return_sequences, else (U); T may be -1 (variable)
dc_status rnn_build(dc_layer *l) {
    const rnn_opts *o = l->opts;
    char s[128];
    if (l->in_ndim != 2 || l->in_shape[1] < 1 || l->in_shape[0] < -1 || l->in_shape[0] == 0)
        return dc_set_error(DC_ERR_SHAPE, "%s '%s': input %s must be (None, timesteps, features)",
                            dc_layer_type(l), l->name,
                            dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
    const int64_t I = l->in_shape[1], U = o->units, G = gates_of(l) * U;
    if (o->return_sequences) {
        l->out_ndim = 2;
        l->out_shape[0] = l->in_shape[0], l->out_shape[1] = U;
    } else {
        l->out_ndim = 1;
        l->out_shape[0] = U;
    }
    if (dc_layer_declare_param(l, "kernel", 2, (const int64_t[]){I, G}, true, o->kernel_init) < 0 ||
        dc_layer_declare_param(l, "recurrent_kernel", 2, (const int64_t[]){U, G}, true,
                               o->recurrent_init) < 0)
        return dc_last_status();
    if (!o->use_bias) return DC_OK;
    char binit[64];
    snprintf(binit, sizeof binit, "%s", o->bias_init);
    if (l->kind == DC_LAYER_LSTM && o->unit_forget_bias)
        snprintf(binit, sizeof binit, "%s%s", DC_INIT_UNIT_FORGET, o->bias_init);
    bool two = l->kind == DC_LAYER_GRU && o->reset_after;
    int idx = two ? dc_layer_declare_param(l, "bias", 2, (const int64_t[]){2, G}, true, binit)
                  : dc_layer_declare_param(l, "bias", 1, &G, true, binit);
    return idx < 0 ? dc_last_status() : DC_OK;
}

/* An inverted-dropout mask (rows, cols) in the tape: 0 with probability rate,
 * else 1/(1-rate), drawn from the layer's rng in row order (Keras draws one
 * mask per call and reuses it at every step). Rows are samples: a rank of a
 * distributed fit skips the other ranks' rows, two draws per element. */
static dc_tensor *dropout_mask(dc_tape *t, dc_rng *rng, int ndim, const int64_t *shape,
                               float rate) {
    dc_tensor *m = dc_tape_tensor(t, ndim, shape);
    if (!m) return NULL;
    const float keep = 1.0f / (1.0f - rate);
    const uint64_t per_row = 2 * (uint64_t)(shape[0] > 0 ? m->size / shape[0] : 0);
    int64_t start, total;
    dc_tape_batch_part(t, shape[0], &start, &total);
    dc_rng_advance(rng, (uint64_t)start * per_row);
    for (int64_t i = 0; i < m->size; i++) m->data[i] = dc_rng_uniform(rng) < rate ? 0.0f : keep;
    dc_rng_advance(rng, (uint64_t)(total - start - shape[0]) * per_row);
    return m;
}

// x (B, T, I) -> (B, T, U) or (B, U)
dc_tensor *rnn_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    rnn_opts *o = l->opts;
    o->last_h = o->last_c = NULL;
    if (!x) return NULL;
    dc_tensor *mask = x->mask;
    if (x->ndim != 3) {
        char s[128];
        dc_set_error(DC_ERR_SHAPE, "%s '%s': input %s must be (batch, timesteps, features)",
                     dc_layer_type(l), l->name, dc_shape_string(x->ndim, x->shape, s, sizeof s));
        dc_tape_fail(t);
        return NULL;
    }
    const int64_t B = x->shape[0];
    dc_rnn_options ro = {.activation = o->act, .recurrent_activation = o->ract,
                         .go_backwards = o->go_backwards, .reset_before = !o->reset_after,
                         .mask = mask};
    if (training && o->dropout > 0.0f)
        x = dc_mul(t, x, dropout_mask(t, &l->rng, 3, (const int64_t[]){B, 1, x->shape[2]},
                                      o->dropout));
    if (training && o->recurrent_dropout > 0.0f) {
        ro.recurrent_dropout_mask =
            dropout_mask(t, &l->rng, 2, (const int64_t[]){B, o->units}, o->recurrent_dropout);
        if (!ro.recurrent_dropout_mask) return NULL;
    }
    dc_tensor *k = l->params[0].t, *r = l->params[1].t, *b = l->n_params > 2 ? l->params[2].t : NULL;
    dc_tensor *y = l->kind == DC_LAYER_LSTM ? dc_lstm(t, x, k, r, b, NULL, NULL, &ro)
                   : l->kind == DC_LAYER_GRU ? dc_gru(t, x, k, r, b, NULL, &ro)
                                             : dc_simple_rnn(t, x, k, r, b, NULL, &ro);
    if (!y) return NULL;
    if (o->return_state) {
        o->last_h = dc_rnn_state(t, y, 0);
        if (l->kind == DC_LAYER_LSTM) o->last_c = dc_rnn_state(t, y, 1);
    }
    if (o->return_sequences) {
        y->mask = mask;
        return y;
    }
    /* The last output is the final h: masked steps keep both (and an all-masked
     * sample gives 0 either way, the layer having no initial state). */
    return o->last_h ? o->last_h : dc_rnn_state(t, y, 0);
}

dc_status dc_rnn_layer_states(const dc_layer *l, dc_tensor **h, dc_tensor **c) {
    if (!l || !h)
        return dc_set_error(DC_ERR_ARG, "dc_rnn_layer_states: layer or h is NULL");
    if (l->kind != DC_LAYER_LSTM && l->kind != DC_LAYER_GRU && l->kind != DC_LAYER_SIMPLE_RNN)
        return dc_set_error(DC_ERR_ARG, "dc_rnn_layer_states: layer '%s' is a %s, not a "
                            "SimpleRNN, LSTM or GRU", l->name, dc_layer_type(l));
    const rnn_opts *o = l->opts;
    if (!o->return_state)
        return dc_set_error(DC_ERR_STATE, "dc_rnn_layer_states: layer '%s' has return_state "
                            "false", l->name);
    if (!o->last_h)
        return dc_set_error(DC_ERR_STATE, "dc_rnn_layer_states: layer '%s' has not been called",
                            l->name);
    *h = o->last_h;
    if (c) *c = o->last_c;
    return DC_OK;
}

/* ---- typed constructors: the options become Keras' key/value strings ---- */

static dc_layer *rnn_make(const char *fn, const char *type, const dc_rnn_layer_options *opt,
                          int kind) {
    if (!opt) {
        dc_set_error(DC_ERR_ARG, "%s: options are NULL", fn);
        return NULL;
    }
    const char *k[DC_LAYER_MAX_CFG], *v[DC_LAYER_MAX_CFG];
    char units[32], drop[32], rdrop[32];
    int n = 0;
    snprintf(units, sizeof units, "%d", opt->units);
    k[n] = "units", v[n++] = units;
    if (opt->activation) k[n] = "activation", v[n++] = opt->activation;
    if (opt->recurrent_activation)
        k[n] = "recurrent_activation", v[n++] = opt->recurrent_activation;
    if (opt->no_bias) k[n] = "use_bias", v[n++] = "false";
    if (opt->return_sequences) k[n] = "return_sequences", v[n++] = "true";
    if (opt->return_state) k[n] = "return_state", v[n++] = "true";
    if (opt->go_backwards) k[n] = "go_backwards", v[n++] = "true";
    if (opt->reset_before && kind == DC_LAYER_GRU) k[n] = "reset_after", v[n++] = "false";
    if (opt->no_unit_forget_bias && kind == DC_LAYER_LSTM)
        k[n] = "unit_forget_bias", v[n++] = "false";
    if (opt->dropout != 0) {
        snprintf(drop, sizeof drop, "%.9g", (double)opt->dropout);
        k[n] = "dropout", v[n++] = drop;
    }
    if (opt->recurrent_dropout != 0) {
        snprintf(rdrop, sizeof rdrop, "%.9g", (double)opt->recurrent_dropout);
        k[n] = "recurrent_dropout", v[n++] = rdrop;
    }
    if (opt->kernel_initializer) k[n] = "kernel_initializer", v[n++] = opt->kernel_initializer;
    if (opt->recurrent_initializer)
        k[n] = "recurrent_initializer", v[n++] = opt->recurrent_initializer;
    if (opt->bias_initializer) k[n] = "bias_initializer", v[n++] = opt->bias_initializer;
    if (opt->name) k[n] = "name", v[n++] = opt->name;
    return dc_layer_make(fn, type, k, v, n);
}

dc_layer *dc_layer_simple_rnn(const dc_rnn_layer_options *opt) {
    return rnn_make("dc_layer_simple_rnn", "SimpleRNN", opt, DC_LAYER_SIMPLE_RNN);
}
dc_layer *dc_layer_lstm(const dc_rnn_layer_options *opt) {
    return rnn_make("dc_layer_lstm", "LSTM", opt, DC_LAYER_LSTM);
}
dc_layer *dc_layer_gru(const dc_rnn_layer_options *opt) {
    return rnn_make("dc_layer_gru", "GRU", opt, DC_LAYER_GRU);
}
