/* train_step.c — one optimizer step on one batch for models of several inputs
 * and outputs: a loss per output, weighted and summed (Keras' loss_weights). */
#include "train.h"
#include <string.h>

/* The losses over a softmax of the last axis. */
static bool is_crossentropy(dc_loss_kind k) {
    return k == DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY || k == DC_LOSS_CATEGORICAL_CROSSENTROPY ||
           k == DC_LOSS_DICE;
}

static dc_loss_kind output_loss(const dc_model *m, int i) {
    return m->copt.losses[i] != DC_LOSS_NONE ? m->copt.losses[i] : m->copt.loss;
}

/* Whether output i's last softmax (sigmoid) is absorbed by its loss. */
static bool absorbs(const dc_model *m, int i) {
    const dc_layer *l = m->nodes[m->outputs[i]].layer;
    dc_loss_kind k = output_loss(m, i);
    return l && ((is_crossentropy(k) && l->act == DC_ACT_SOFTMAX) ||
                 (k == DC_LOSS_BINARY_CROSSENTROPY && l->act == DC_ACT_SIGMOID));
}

/* The mean loss of out against y: crossentropies over the last (class) axis. */
static dc_tensor *loss_of(dc_tape *t, dc_loss_kind k, dc_tensor *out, dc_tensor *y) {
    int64_t C = out->shape[out->ndim - 1], rows = out->size / C;
    switch (k) {
    case DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
        return dc_sparse_softmax_cross_entropy(t, dc_reshape(t, out, 2, (const int64_t[]){rows, C}),
                                               dc_reshape(t, y, 1, (const int64_t[]){rows}));
    case DC_LOSS_CATEGORICAL_CROSSENTROPY:
        return dc_softmax_cross_entropy(t, dc_reshape(t, out, 2, (const int64_t[]){rows, C}),
                                        dc_reshape(t, y, 2, (const int64_t[]){rows, C}));
    case DC_LOSS_DICE:
        return dc_dice_loss(t, dc_reshape(t, out, 2, (const int64_t[]){rows, C}),
                            dc_reshape(t, y, 1, (const int64_t[]){rows}), false, 1.0f);
    case DC_LOSS_BINARY_CROSSENTROPY: return dc_binary_cross_entropy_logits(t, out, y);
    default: return dc_mse(t, out, y);
    }
}

static dc_status ready(const char *fn, dc_model *m, dc_tensor *const *xs, dc_tensor *const *ys) {
    if (!m || !xs || !ys) return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    if (!m->built || !m->compiled)
        return dc_set_error(DC_ERR_STATE, "%s: model '%s' must be built and compiled", fn, m->name);
    if (m->copt.from_probabilities || m->copt.n_class_weights)
        return dc_set_error(DC_ERR_UNSUPPORTED,
                            "%s: outputs must be logits, without class weights (fit takes those)", fn);
    for (int i = 0; i < m->n_outputs; i++)
        if (!ys[i]) return dc_set_error(DC_ERR_ARG, "%s: target %d is NULL", fn, i);
    if (!m->opt) {
        m->opt = dc_optimizer_new(&m->copt.optimizer, m->n_trainable);
        if (!m->opt) return dc_last_status();
    }
    if (!m->tape && !(m->tape = dc_tape_new(NULL))) return dc_last_status();
    return DC_OK;
}

dc_status dc_model_train_on_batch(dc_model *m, dc_tensor *const *xs, dc_tensor *const *ys,
                                  float *loss) {
    const char *fn = "dc_model_train_on_batch";
    if (ready(fn, m, xs, ys) != DC_OK) return dc_last_status();
    dc_tape *t = m->tape;
    dc_tape_reset(t);
    dc_model_zero_grad(m);
    unsigned fused = 0;
    for (int i = 0; i < m->n_outputs; i++) fused |= absorbs(m, i) ? 1u << i : 0u;
    dc_tensor *outs[DC_MAX_MODEL_IO];
    if (dc_model_check_inputs(fn, m, xs) != DC_OK) return dc_last_status();
    if (dc_model_run(m, t, xs, true, fused, outs) != DC_OK) return dc_last_status();
    bool weighted = false; /* all weights 0 (the default): every output weighs 1 */
    for (int i = 0; i < m->n_outputs; i++) weighted = weighted || m->copt.loss_weights[i] != 0;
    dc_tensor *total = NULL;
    for (int i = 0; i < m->n_outputs; i++) {
        float w = weighted ? m->copt.loss_weights[i] : 1.0f;
        dc_tensor *li = loss_of(t, output_loss(m, i), outs[i], ys[i]);
        if (li && w != 1.0f) li = dc_mul_scalar(t, li, w);
        total = total && li ? dc_add(t, total, li) : li;
    }
    if (!total || dc_tape_backward(t, total) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_STATE, "%s: %s",
                            fn, msg);
    }
    if (loss) *loss = total->data[0];
    return dc_optimizer_step(m->opt, m->weights, m->grads, m->n_trainable);
}
