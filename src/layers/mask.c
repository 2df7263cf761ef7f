/* mask.c — Keras' sequence masks between layers: which layers pass a (B, T)
 * mask on (one table by kind, not a switch in every layer), and the checks
 * shared by layers over a time axis that may be None (-1). */
#include "layer.h"
#include <string.h>

/* Keras' supports_masking: these pass the input's mask on unchanged. Layers
 * that make a mask (Embedding, Masking) or transform it (RNNs with
 * return_sequences, Bidirectional) set it on their output themselves; the
 * rest (Conv1D, pooling, Flatten, Reshape ...) drop it, as Keras does. */
static const bool keeps_mask[DC_LAYER_COUNT] = {
    [DC_LAYER_INPUT] = true,
    [DC_LAYER_DENSE] = true,
    [DC_LAYER_ACTIVATION] = true,
    [DC_LAYER_DROPOUT] = true,
    [DC_LAYER_BATCH_NORMALIZATION] = true,
};

/* The mask still describes y when y keeps x's batch and time axes. */
static bool same_steps(const dc_tensor *mask, const dc_tensor *y) {
    return y->ndim >= 2 && y->shape[0] == mask->shape[0] && y->shape[1] == mask->shape[1];
}

dc_tensor *dc_layer_call(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    dc_tensor *mask = x->mask;
    if (!dc_layer_table[l->kind].forward) return dc_layer_call_n(l, t, &x, 1, training);
    dc_tensor *y = dc_layer_table[l->kind].forward(l, t, x, training);
    if (!y || y == x) return y; /* an identity leaves the input (and its mask) as it was */
    if (y->mask) return y;      /* the layer decided */
    if (mask && keeps_mask[l->kind] && same_steps(mask, y)) y->mask = mask;
    return y;
}

dc_status dc_layer_need_fixed(const dc_layer *l, int from, int to, const char *why) {
    for (int i = from; i < to && i < l->in_ndim; i++)
        if (l->in_shape[i] == -1) {
            char s[128];
            return dc_set_error(DC_ERR_SHAPE, "%s '%s': input %s: axis %d is None (variable); %s",
                                dc_layer_type(l), l->name,
                                dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s), i + 1,
                                why);
        }
    return DC_OK;
}

dc_status dc_layer_need_sequence(const dc_layer *l) {
    if (l->in_ndim != 2) {
        char s[128];
        return dc_set_error(DC_ERR_SHAPE,
                            "%s '%s': input %s must be a sequence (None, steps, features)",
                            dc_layer_type(l), l->name,
                            dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
    }
    return dc_layer_need_fixed(l, 1, 2, "the features axis must be known");
}

dc_tensor *dc_mask_new(dc_tape *t, const dc_tensor *x) {
    return dc_tape_tensor(t, 2, (const int64_t[]){x->shape[0], x->shape[1]});
}

bool dc_layer_is_merge(const dc_layer *l) { return dc_layer_table[l->kind].forward_n != NULL; }

/* Keras' Merge.compute_mask: no masks, none; one distinct mask, that one;
 * several, their product (a step counts when every input counts it). */
static dc_tensor *merged_mask(dc_tape *t, dc_tensor *const *xs, int n) {
    dc_tensor *mask = NULL;
    for (int i = 0; i < n; i++) {
        dc_tensor *mi = xs[i]->mask;
        if (!mi || mi == mask) continue;
        mask = mask ? dc_mul(t, mask, mi) : mi;
    }
    return mask;
}

dc_tensor *dc_layer_call_n(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training) {
    if (!dc_layer_is_merge(l)) return dc_layer_call(l, t, xs[0], training);
    dc_tensor *y = dc_layer_table[l->kind].forward_n(l, t, xs, n, training);
    if (!y) return NULL;
    dc_tensor *mask = merged_mask(t, xs, n);
    if (mask && same_steps(mask, y)) y->mask = mask;
    return y;
}
