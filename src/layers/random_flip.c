/* random_flip.c — Keras' RandomFlip: while training, mirrors each image
 * left-right and/or upside down at random; the identity otherwise. */
#include "layer.h"
#include <string.h>

typedef struct {
    int mode; /* DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL */
} flip_opts;

static const struct {
    const char *name;
    int mode;
} flip_modes[] = {
    {"horizontal", DC_FLIP_HORIZONTAL},
    {"vertical", DC_FLIP_VERTICAL},
    {"horizontal_and_vertical", DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL},
};

static dc_status parse_mode(const char *key, const char *v, int *mode) {
    for (size_t i = 0; i < sizeof flip_modes / sizeof flip_modes[0]; i++)
        if (!strcmp(v, flip_modes[i].name)) {
            *mode = flip_modes[i].mode;
            return DC_OK;
        }
    return dc_set_error(DC_ERR_ARG,
                        "RandomFlip: option '%s': '%s' is not 'horizontal', 'vertical' or "
                        "'horizontal_and_vertical'",
                        key, v);
}

dc_status random_flip_parse(dc_layer *l, int n, const char *const *keys,
                            const char *const *values) {
    flip_opts *o = dc_calloc(1, sizeof *o);
    if (!o) return dc_set_error(DC_ERR_NOMEM, "RandomFlip: out of memory");
    l->opts = o;
    o->mode = DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL;
    for (int i = 0; i < n; i++) {
        dc_status s = !strcmp(keys[i], "mode") ? parse_mode(keys[i], values[i], &o->mode)
                                               : dc_layer_unknown_key(l, keys[i], "mode, name");
        if (s != DC_OK) return s;
    }
    return DC_OK;
}

dc_status random_flip_build(dc_layer *l) {
    if (dc_layer_need_image(l) != DC_OK) return dc_last_status();
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    return DC_OK;
}

// x (B,H,W,C) -> (B,H,W,C)
dc_tensor *random_flip_forward(dc_layer *l, dc_tape *t, dc_tensor *x, bool training) {
    const flip_opts *o = l->opts;
    if (!training) return x;
    return dc_random_flip(t, x, o->mode, true, &l->rng);
}

dc_layer *dc_layer_random_flip(const char *mode, const char *name) {
    const char *k[2], *v[2];
    int n = 0;
    if (mode) k[n] = "mode", v[n++] = mode;
    if (name) k[n] = "name", v[n++] = name;
    return dc_layer_make("dc_layer_random_flip", "RandomFlip", k, v, n);
}
