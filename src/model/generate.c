/* generate.c — sampling from a trained sequence model one token at a time:
 * the prompt runs through the model once, then every new token is one step
 * (T = 1) that carries each recurrent layer's state (h, and c for an LSTM). */
#include "model.h"
#include <math.h>
#include <string.h>

static const char *const FN = "dc_model_generate";

/* The kinds of recurrent layer, by Keras class name (0: not recurrent). */
typedef enum { RNN_NONE = 0, RNN_SIMPLE, RNN_LSTM, RNN_GRU } rnn_kind;

static rnn_kind kind_of(const dc_layer *l) {
    const char *type = dc_layer_type(l);
    if (!strcmp(type, "LSTM")) return RNN_LSTM;
    if (!strcmp(type, "GRU")) return RNN_GRU;
    if (!strcmp(type, "SimpleRNN")) return RNN_SIMPLE;
    return RNN_NONE;
}

/* Layers that see one step at a time the same as a whole sequence. */
static bool steps_alone(const dc_layer *l) {
    static const char *const ok[] = {"InputLayer", "Embedding", "Dense", "Dropout",
                                     "Activation", "BatchNormalization", "LSTM", "GRU",
                                     "SimpleRNN"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(dc_layer_type(l), ok[i])) return true;
    return false;
}

static const char *cfg(const dc_layer *l, const char *key) {
    for (int i = 0; i < l->n_cfg; i++)
        if (!strcmp(l->cfg_key[i], key)) return l->cfg_val[i];
    return NULL;
}

static bool cfg_true(const dc_layer *l, const char *key) {
    const char *v = cfg(l, key);
    return v && (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1"));
}

static bool cfg_false(const dc_layer *l, const char *key) {
    const char *v = cfg(l, key);
    return v && (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "0"));
}

static dc_rnn_activation rnn_act(const dc_layer *l, const char *key) {
    static const struct { const char *name; dc_rnn_activation a; } acts[] = {
        {"tanh", DC_RNN_ACT_TANH}, {"sigmoid", DC_RNN_ACT_SIGMOID}, {"relu", DC_RNN_ACT_RELU},
        {"linear", DC_RNN_ACT_LINEAR}, {"hard_sigmoid", DC_RNN_ACT_HARD_SIGMOID}};
    const char *v = cfg(l, key);
    for (size_t i = 0; v && i < sizeof acts / sizeof *acts; i++)
        if (!strcmp(v, acts[i].name)) return acts[i].a;
    return DC_RNN_ACT_DEFAULT; /* the layer's parser accepted it, so absent means the default */
}

static dc_tensor *param(const dc_layer *l, const char *name) {
    for (int i = 0; i < l->n_params; i++)
        if (!strcmp(l->params[i].name, name)) return l->params[i].t;
    return NULL;
}

/* The state a recurrent layer carries from one step to the next. */
typedef struct {
    rnn_kind kind;
    dc_tensor *h, *c; /* (1, U); c for an LSTM only */
} rnn_state;

/* A model that can be stepped: only layers that treat steps alone, recurrent
 * layers that run forwards, and outputs (T, V) or (V) with V >= 2 choices. */
static dc_status check_model(const dc_model *m) {
    if (!m) return dc_set_error(DC_ERR_ARG, "%s: model is NULL", FN);
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", FN, m->name);
    int n_rnn = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const dc_layer *l = m->layers[i];
        if (!steps_alone(l))
            return dc_set_error(DC_ERR_UNSUPPORTED,
                                "%s: layer '%s' (%s) mixes time steps; a generator steps through "
                                "Embedding, Dense, Dropout, Activation, BatchNormalization and "
                                "forward SimpleRNN/LSTM/GRU layers only",
                                FN, l->name, dc_layer_type(l));
        if (kind_of(l) == RNN_NONE) continue;
        n_rnn++;
        if (cfg_true(l, "go_backwards"))
            return dc_set_error(DC_ERR_UNSUPPORTED,
                                "%s: layer '%s' runs backwards (go_backwards); a generator needs "
                                "the past only", FN, l->name);
    }
    if (n_rnn == 0)
        return dc_set_error(DC_ERR_UNSUPPORTED,
                            "%s: model '%s' has no recurrent layer (SimpleRNN, LSTM, GRU) to carry "
                            "the text so far", FN, m->name);
    if (m->in_ndim != 1 || m->out_ndim < 1 || m->out_ndim > 2 || m->out_shape[m->out_ndim - 1] < 2) {
        char a[128], b[128];
        return dc_set_error(DC_ERR_SHAPE,
                            "%s: model '%s' maps %s to %s; a language model maps ids (None, "
                            "steps) to scores (None, steps, vocabulary) or (None, vocabulary)",
                            FN, m->name, dc_layer_shape_string(m->in_ndim, m->in_shape, a, sizeof a),
                            dc_layer_shape_string(m->out_ndim, m->out_shape, b, sizeof b));
    }
    return DC_OK;
}

// x (1, T, I) -> (1, T, U) or (1, U); reads and updates s
static dc_tensor *rnn_step(dc_layer *l, dc_tape *t, dc_tensor *x, rnn_state *s) {
    dc_rnn_options o = {.activation = rnn_act(l, "activation"),
                        .recurrent_activation = rnn_act(l, "recurrent_activation"),
                        .reset_before = cfg_false(l, "reset_after")};
    dc_tensor *k = param(l, "kernel"), *r = param(l, "recurrent_kernel"), *b = param(l, "bias");
    dc_tensor *y = s->kind == RNN_LSTM  ? dc_lstm(t, x, k, r, b, s->h, s->c, &o)
                   : s->kind == RNN_GRU ? dc_gru(t, x, k, r, b, s->h, &o)
                                        : dc_simple_rnn(t, x, k, r, b, s->h, &o);
    dc_tensor *h = dc_rnn_state(t, y, 0);
    dc_tensor *c = s->kind == RNN_LSTM ? dc_rnn_state(t, y, 1) : NULL;
    if (!h || (s->kind == RNN_LSTM && !c)) return NULL;
    memcpy(s->h->data, h->data, (size_t)s->h->size * sizeof(float));
    if (c) memcpy(s->c->data, c->data, (size_t)s->c->size * sizeof(float));
    return cfg_true(l, "return_sequences") ? y : h;
}

/* ids (1, T) through every layer; the scores of the last step (logits: a last
 * softmax is left out) go to scores (V floats). */
static dc_status run_steps(dc_model *m, dc_tape *t, dc_tensor *ids, rnn_state *st,
                           float *scores) {
    dc_tensor *x = ids;
    for (int i = 0; i < m->n_layers && x; i++) {
        dc_layer *l = m->layers[i];
        if (st[i].kind != RNN_NONE) {
            x = rnn_step(l, t, x, &st[i]);
            continue;
        }
        l->act_skip = i == m->n_layers - 1 && l->act == DC_ACT_SOFTMAX;
        x = dc_layer_call(l, t, x, false);
        l->act_skip = false;
    }
    if (!x || dc_tape_status(t) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_tape_status(t) != DC_OK ? dc_tape_error(t) : dc_last_error());
        return dc_set_error(dc_tape_status(t) != DC_OK ? dc_tape_status(t) : DC_ERR_STATE, "%s: %s",
                            FN, msg);
    }
    int64_t V = x->shape[x->ndim - 1];
    memcpy(scores, x->data + x->size - V, (size_t)V * sizeof(float));
    return DC_OK;
}

/* Draws an id from softmax(scores / temperature) over ids >= lo. The scores
 * are shifted by their maximum before dividing, so a tiny temperature gives
 * exp(-inf) = 0 for all but the best: the argmax (the first on ties). */
static int64_t sample(const float *scores, int64_t V, int64_t lo, float temperature,
                      double *p, dc_rng *rng) {
    float mx = -INFINITY;
    for (int64_t i = lo; i < V; i++) mx = fmaxf(mx, scores[i]);
    double sum = 0;
    for (int64_t i = lo; i < V; i++)
        sum += p[i] = exp(((double)scores[i] - (double)mx) / (double)temperature);
    double u = dc_rng_uniform(rng) * sum, acc = 0;
    int64_t last = lo;
    for (int64_t i = lo; i < V; i++) {
        if (p[i] <= 0) continue;
        last = i;
        acc += p[i];
        if (u < acc) return i;
    }
    return last; /* rounding left u at the very top */
}

static void free_states(rnn_state *st, int n) {
    for (int i = 0; st && i < n; i++) {
        dc_tensor_free(st[i].h);
        dc_tensor_free(st[i].c);
    }
    dc_free(st);
}

static dc_status check_options(const dc_model *m, int64_t n_prompt, const dc_generate_options *o) {
    if (!o) return dc_set_error(DC_ERR_ARG, "%s: options are NULL", FN);
    if (o->length < 1)
        return dc_set_error(DC_ERR_ARG, "%s: length %lld must be at least 1", FN,
                            (long long)o->length);
    if (!(o->temperature > 0.0f) || isinf(o->temperature))
        return dc_set_error(DC_ERR_ARG,
                            "%s: temperature %g must be a number > 0 (small: nearly always the "
                            "most likely token; 1: the model's own probabilities)",
                            FN, (double)o->temperature);
    if (n_prompt < 1)
        return dc_set_error(DC_ERR_ARG, "%s: the prompt is empty; give at least one token", FN);
    int64_t V = m->out_shape[m->out_ndim - 1];
    if (o->exclude_below < 0 || o->exclude_below >= V)
        return dc_set_error(DC_ERR_ARG, "%s: exclude_below %lld leaves no id of %lld to sample", FN,
                            (long long)o->exclude_below, (long long)V);
    return DC_OK;
}

dc_status dc_model_generate(dc_model *m, const int64_t *prompt, int64_t n_prompt,
                            const dc_generate_options *opt, int64_t *out) {
    if (check_model(m) != DC_OK || check_options(m, n_prompt, opt) != DC_OK) return dc_last_status();
    if (!prompt || !out) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", FN, prompt ? "out" : "prompt");
    int64_t V = m->out_shape[m->out_ndim - 1], vocab_in = -1;
    for (int i = 0; i < m->n_layers && vocab_in < 0; i++)
        if (!strcmp(dc_layer_type(m->layers[i]), "Embedding"))
            vocab_in = param(m->layers[i], "embeddings")->shape[0];
    for (int64_t i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || (vocab_in > 0 && prompt[i] >= vocab_in))
            return dc_set_error(DC_ERR_ARG, "%s: prompt id %lld at position %lld is outside [0, %lld)",
                                FN, (long long)prompt[i], (long long)i, (long long)vocab_in);
    dc_status s = DC_OK;
    rnn_state *st = dc_calloc((size_t)m->n_layers, sizeof *st);
    double *p = dc_malloc((size_t)V * sizeof *p);
    float *scores = dc_malloc((size_t)V * sizeof *scores);
    dc_tensor *ids = dc_tensor_zeros(DC_DIMS(1, n_prompt));
    dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
    if (!st || !p || !scores || !ids || !t) {
        s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
        goto done;
    }
    for (int i = 0; i < m->n_layers; i++) {
        dc_layer *l = m->layers[i];
        st[i].kind = kind_of(l);
        if (st[i].kind == RNN_NONE) continue;
        int64_t U = l->out_shape[l->out_ndim - 1];
        st[i].h = dc_tensor_zeros(DC_DIMS(1, U));
        st[i].c = st[i].kind == RNN_LSTM ? dc_tensor_zeros(DC_DIMS(1, U)) : NULL;
        if (!st[i].h || (st[i].kind == RNN_LSTM && !st[i].c)) {
            s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
            goto done;
        }
    }
    dc_rng rng;
    dc_rng_seed(&rng, opt->seed);
    for (int64_t i = 0; i < n_prompt; i++) ids->data[i] = (float)prompt[i];
    /* the whole prompt as one sequence, then one step per new token: the ids
     * tensor is reshaped to (1, 1) in place, so the loop allocates nothing */
    dc_tensor step = *ids;
    step.shape[1] = 1;
    step.size = 1;
    dc_tensor *x = ids;
    for (int64_t k = 0; k < opt->length; k++) {
        dc_tape_reset(t);
        if ((s = run_steps(m, t, x, st, scores)) != DC_OK) goto done;
        out[k] = sample(scores, V, opt->exclude_below, opt->temperature, p, &rng);
        step.data[0] = (float)out[k];
        x = &step;
    }
done:
    dc_tape_free(t);
    dc_tensor_free(ids);
    dc_free(scores);
    dc_free(p);
    free_states(st, m->n_layers);
    return s;
}
