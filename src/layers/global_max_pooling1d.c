/* global_max_pooling1d.c — GlobalMaxPooling1D: the maximum over the real steps
 * of a sequence (B,T,C) -> (B,C) (options as GlobalAveragePooling1D). Keras 3
 * takes the max over every step, padding included; deepc skips masked steps. */
#include "layer.h"

// x (B,T,C), mask (B,T) or none -> (B,C) or (B,1,C)
dc_tensor *global_max_pooling1d_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)training;
    return dc_global_pool1d_keepdims(l, t, dc_seq_max_pool(t, x, x->mask));
}

dc_layer *dc_layer_global_max_pooling1d(void) {
    return dc_layer_make("dc_layer_global_max_pooling1d", "GlobalMaxPooling1D", NULL, NULL, 0);
}
