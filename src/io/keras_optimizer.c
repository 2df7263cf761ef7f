/* keras_optimizer.c — the optimizer's state in a .keras archive, as Keras 3 keeps it in
 * model.weights.h5 (optimizer/vars), so training resumes where it stopped on either side. */
#include "../model/model.h"
#include "keras.h"
#include <stdio.h>
#include <string.h>

#define OPT_VARS "optimizer/vars"
/* deepc's optimizer state: a header of five floats (kind, the step count in
 * two 24-bit halves, the rate, the schedule flag), then each slot over every
 * trainable weight (src/optim/optimizer.c). */
enum { HDR_IT_LO = 1, HDR_IT_HI, HDR_LR, HDR_N = 5 };
#define IT_HALF ((int64_t)1 << 24)

/* The slots Keras keeps per variable, in its order, for the rules whose
 * slots are Keras' own (deepc's SGD keeps Keras' velocity, lr folded in). */
static int keras_slots(const dc_model *m) {
    const dc_optimizer_options *o = &m->copt.optimizer;
    if (o->kind == DC_OPT_ADAM && !o->amsgrad) return 2;
    if (o->kind == DC_OPT_SGD) return o->momentum != 0 ? 1 : 0;
    return -1;
}

/* Calls fn on every trainable parameter of layers[0, n), in Keras' order,
 * with its offset among the trainable weights; stops at an error. */
typedef dc_status (*var_fn)(void *ctx, const dc_param *p, size_t off, int index);
static dc_status each_var(const dc_model *m, dc_layer *const *layers, int n, var_fn fn, void *ctx) {
    int index = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < layers[i]->n_params; k++) {
            const dc_param *p = &layers[i]->params[k];
            if (!p->trainable) continue;
            size_t off = (size_t)(p->t->data - m->weights);
            if (off + (size_t)p->t->size > m->n_trainable)
                return dc_set_error(DC_ERR_STATE, "%s/%s: not among the trainable weights",
                                    layers[i]->name, p->name);
            dc_status s = fn(ctx, p, off, index++);
            if (s != DC_OK) return s;
        }
    return DC_OK;
}

typedef struct {
    dc_h5 *h;
    const float *state; /* deepc's, header first */
    float *out;         /* import: the state being filled */
    size_t n_trainable;
    int slots;
    const char *file;
} var_ctx;

static dc_status write_var(void *ctx, const dc_param *p, size_t off, int index) {
    var_ctx *c = ctx;
    for (int s = 0; s < c->slots; s++) {
        char path[64];
        snprintf(path, sizeof path, OPT_VARS "/%d", 2 + index * c->slots + s);
        const float *src = c->state + HDR_N + (size_t)s * c->n_trainable + off;
        dc_tensor *t = dc_tensor_from_data(p->ndim, p->shape, src);
        dc_status st = t ? dc_h5_write(c->h, path, t) : dc_last_status();
        dc_tensor_free(t);
        if (st != DC_OK) return st;
    }
    return DC_OK;
}

static dc_status read_var(void *ctx, const dc_param *p, size_t off, int index) {
    var_ctx *c = ctx;
    for (int s = 0; s < c->slots; s++) {
        char path[64], what[96];
        snprintf(path, sizeof path, OPT_VARS "/%d", 2 + index * c->slots + s);
        snprintf(what, sizeof what, "the optimizer's slot %d of %.48s", s, p->name);
        dc_tensor *t = dc_tensor_zeros(p->ndim, p->shape);
        dc_status st = t ? dc_h5_read(c->h, path, what, t) : dc_last_status();
        if (st == DC_OK)
            memcpy(c->out + HDR_N + (size_t)s * c->n_trainable + off, t->data,
                   (size_t)t->size * sizeof(float));
        dc_tensor_free(t);
        if (st != DC_OK) return st;
    }
    return DC_OK;
}

static float *state_of(const char *fn, dc_optimizer *o, size_t *n) {
    *n = dc_optimizer_state_size(o);
    float *st = dc_malloc(*n * sizeof *st);
    if (!st) dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    else if (dc_optimizer_get_state(o, st, *n) != DC_OK) {
        dc_free(st);
        st = NULL;
    }
    return st;
}

dc_status dc_keras_optimizer_write(dc_h5 *h, const dc_model *m, dc_layer *const *layers, int n) {
    int slots = keras_slots(m);
    if (!m->opt || slots < 0) return DC_OK;
    size_t len = 0;
    float *st = state_of("dc_model_export_keras", m->opt, &len);
    if (!st) return dc_last_status();
    int64_t it = (int64_t)st[HDR_IT_HI] * IT_HALF + (int64_t)st[HDR_IT_LO];
    dc_status s = dc_h5_write_scalar(h, OPT_VARS "/0", (double)it, true);
    if (s == DC_OK) s = dc_h5_write_scalar(h, OPT_VARS "/1", st[HDR_LR], false);
    var_ctx c = {.h = h, .state = st, .n_trainable = m->n_trainable, .slots = slots};
    if (s == DC_OK) s = each_var(m, layers, n, write_var, &c);
    dc_free(st);
    return s;
}

dc_status dc_keras_optimizer_read(const char *file, dc_h5 *h, dc_model *m, dc_layer *const *layers,
                                  int n) {
    int slots = keras_slots(m), n_vars = 0;
    int count = dc_h5_count(h, OPT_VARS);
    if (count < 0) return dc_last_status();
    if (!m->opt || slots < 0 || count == 0) return DC_OK;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < layers[i]->n_params; k++) n_vars += layers[i]->params[k].trainable;
    if (count != 2 + n_vars * slots) return DC_OK; /* another optimizer's: left fresh */
    size_t len = 0;
    float *st = state_of("dc_model_import_keras", m->opt, &len);
    if (!st) return dc_last_status();
    double it = 0, lr = 0;
    dc_status s = dc_h5_read_scalar(h, OPT_VARS "/0", &it);
    if (s == DC_OK) s = dc_h5_read_scalar(h, OPT_VARS "/1", &lr);
    if (s == DC_OK && !(it >= 0 && it < (double)IT_HALF * (double)IT_HALF && lr >= 0))
        s = dc_set_error(DC_ERR_FORMAT, "the iteration (%g) or learning rate (%g) is out of range",
                         it, lr);
    if (s == DC_OK) {
        st[HDR_IT_LO] = (float)((int64_t)it % IT_HALF);
        st[HDR_IT_HI] = (float)((int64_t)it / IT_HALF);
        st[HDR_LR] = (float)lr;
        var_ctx c = {.h = h, .out = st, .n_trainable = m->n_trainable, .slots = slots, .file = file};
        s = each_var(m, layers, n, read_var, &c);
    }
    if (s == DC_OK) s = dc_optimizer_set_state(m->opt, st, len);
    dc_free(st);
    if (s != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status(), "dc_model_import_keras: '%s': optimizer state: %s",
                            file, msg);
    }
    return DC_OK;
}
