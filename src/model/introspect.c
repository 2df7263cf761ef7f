/* introspect.c — looking inside a built model: its input and output shapes and
 * every layer's output for one input, for filter and feature-map pictures
 * (deepc visualize). */
#include "model.h"
#include <string.h>

int dc_model_input_shape(const dc_model *m, int64_t *shape) {
    if (!m || !m->built) return -1;
    if (shape) memcpy(shape, m->in_shape, (size_t)m->in_ndim * sizeof *shape);
    return m->in_ndim;
}

int dc_model_output_shape(const dc_model *m, int64_t *shape) {
    if (!m || !m->built) return -1;
    if (shape) memcpy(shape, m->out_shape, (size_t)m->out_ndim * sizeof *shape);
    return m->out_ndim;
}

int dc_model_metrics(const dc_model *m, dc_metric_kind *out, int cap) {
    if (!m || !m->compiled) return 0;
    for (int i = 0; out && i < m->n_metrics && i < cap; i++) out[i] = m->copt.metrics[i];
    return m->n_metrics;
}

dc_status dc_model_call_collect(dc_model *m, dc_tape *t, dc_tensor *x, dc_tensor **outs, int cap) {
    const char *fn = "dc_model_call_collect";
    if (!m || !t || !x || !outs) return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    if (cap < m->n_layers)
        return dc_set_error(DC_ERR_ARG, "%s: room for %d outputs, the model has %d layers", fn,
                            cap, m->n_layers);
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
    if (dc_model_check_input(fn, "input", m, x) != DC_OK) return dc_last_status();
    if (dc_tape_status(t) != DC_OK) return dc_tape_status(t);
    /* A Conv2D fused with the MaxPooling2D after it would give the pooled
     * maps as its own: run unfused, so each layer shows its output. */
    if (m->n_inputs != 1)
        return dc_set_error(DC_ERR_ARG, "%s: model '%s' has %d inputs; this takes one", fn, m->name,
                            m->n_inputs);
    dc_model_fuse(m, false);
    dc_tensor *outs_n[DC_MAX_MODEL_IO];
    dc_status s = dc_model_run(m, t, &x, false, 0, outs_n);
    dc_model_fuse(m, true);
    if (s != DC_OK) return s;
    /* each layer's output at its first call */
    for (int i = 0; i < m->n_layers; i++)
        for (int k = m->n_nodes - 1; k >= 0; k--)
            if (m->nodes[k].layer == m->layers[i]) outs[i] = m->values[k];
    return DC_OK;
}
