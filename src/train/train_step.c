/* train_step.c — one optimizer step on one batch for models of several inputs
 * and outputs: a loss per output, weighted and summed (Keras' loss_weights),
 * computed by the same code as fit's (dc_heads_loss). */
#include "train.h"
#include <string.h>

static dc_status ready(const char *fn, dc_model *m, dc_tensor *const *xs, dc_tensor *const *ys) {
    if (!m || !xs || !ys) return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    if (!m->built || !m->compiled)
        return dc_set_error(DC_ERR_STATE, "%s: model '%s' must be built and compiled", fn, m->name);
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
    dc_head heads[DC_MAX_MODEL_IO];
    dc_heads_init(m, heads);
    dc_tensor *outs[DC_MAX_MODEL_IO], *each[DC_MAX_MODEL_IO];
    if (dc_model_check_inputs(fn, m, xs) != DC_OK) return dc_last_status();
    if (dc_model_run(m, t, xs, true, dc_heads_fused(heads, m->n_outputs), outs) != DC_OK)
        return dc_last_status();
    dc_tensor *total = dc_heads_loss(heads, m->n_outputs, t, outs, ys, each);
    if (!total || dc_tape_backward(t, total) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_STATE, "%s: %s",
                            fn, msg);
    }
    if (loss) *loss = total->data[0];
    return dc_optimizer_step(m->opt, m->weights, m->grads, m->n_trainable);
}
