/* input.c — Keras' InputLayer (tf.keras.Input(shape)): fixes the model's input
 * shape; the identity in forward. */
#include "layer.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "28,28,1", "(None, 16)" or "-1,16": None (or -1) is a length each batch sets. */
static dc_status parse_input_shape(dc_layer *l, const char *key, const char *v) {
    const char *p = v;
    int nd = 0;
    int64_t shape[DC_MAX_DIMS];
    while (*p == ' ' || *p == '(' || *p == '[') p++;
    while (*p && *p != ')' && *p != ']') {
        long long d;
        char *end = NULL;
        if (!strncmp(p, "None", 4)) {
            d = -1, end = (char *)p + 4;
        } else {
            errno = 0;
            d = strtoll(p, &end, 10);
            if (end == p || errno || (d < 1 && d != -1) || d > INT32_MAX) goto bad;
        }
        if (nd == DC_MAX_DIMS) goto bad;
        shape[nd++] = d;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        while (*p == ' ') p++;
    }
    if (*p == ')' || *p == ']') p++;
    while (*p == ' ') p++;
    if (*p || nd == 0) goto bad;
    l->in_ndim = nd;
    memcpy(l->in_shape, shape, (size_t)nd * sizeof *shape);
    return DC_OK;
bad:
    return dc_set_error(DC_ERR_ARG,
                        "InputLayer: option '%s': '%s' is not a shape like \"28,28,1\" or "
                        "\"None,16\" (1 to %d dims > 0, or None)",
                        key, v, DC_MAX_DIMS - 1);
}

dc_status input_parse(dc_layer *l, int n, const char *const *keys, const char *const *values) {
    bool have = false;
    for (int i = 0; i < n; i++) {
        dc_status s;
        if (!strcmp(keys[i], "shape")) {
            s = parse_input_shape(l, keys[i], values[i]);
            if (s == DC_OK && l->in_ndim > DC_MAX_DIMS - 1)
                s = dc_set_error(DC_ERR_ARG, "InputLayer: option 'shape': '%s' has more than %d dims",
                                 values[i], DC_MAX_DIMS - 1);
            have = true;
        } else {
            s = dc_layer_unknown_key(l, keys[i], "shape, name");
        }
        if (s != DC_OK) return s;
    }
    if (!have) return dc_set_error(DC_ERR_ARG, "InputLayer: option 'shape' is required");
    /* the declared shape is kept in out_shape; build checks the real input */
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return DC_OK;
}

dc_status input_build(dc_layer *l) {
    bool same = l->in_ndim == l->out_ndim;
    for (int i = 0; same && i < l->in_ndim; i++) /* a declared None takes any length */
        same = l->in_shape[i] == l->out_shape[i] || l->out_shape[i] == -1;
    if (!same) {
        char a[128], b[128];
        return dc_set_error(DC_ERR_SHAPE, "InputLayer '%s': input %s does not match its shape %s",
                            l->name, dc_layer_shape_string(l->in_ndim, l->in_shape, a, sizeof a),
                            dc_layer_shape_string(l->out_ndim, l->out_shape, b, sizeof b));
    }
    return DC_OK;
}

// x (B, ...) -> x
dc_tensor *input_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    (void)l, (void)t, (void)training;
    return x;
}
