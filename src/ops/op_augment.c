/* op_augment.c — random image augmentation for training, as Keras' RandomFlip:
 * shape, forward and backward side by side. The identity when not training. */
#include "op.h"
#include <string.h>

/* Attributes: i[0] mode (DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL), i[1] training,
 * p the dc_rng. Forward draws each sample's flips from the rng in sample order
 * (one draw per flipped axis), so a seed gives the same flips for any thread
 * count; they are saved for backward, one byte per sample. A rank of a
 * distributed fit skips the draws of the samples before and after its part
 * (dc_tape_batch_part), so each sample flips as in one process. */
enum { A_MODE, A_TRAINING };

// x (N,H,W,C) -> (N,H,W,C)
dc_status dc_shape_random_flip(const dc_node *n, int *ndim, int64_t *shape) {
    const char *fn = "dc_random_flip";
    const dc_tensor *x = n->in[0];
    char sx[128];
    if (x->ndim != 4)
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s must be 4-D (N,H,W,C)", fn,
                            dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    int64_t mode = n->a.i[A_MODE];
    if (mode < 1 || mode > (DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL))
        return dc_set_error(DC_ERR_ARG,
                            "%s: mode %lld is not DC_FLIP_HORIZONTAL, DC_FLIP_VERTICAL or both",
                            fn, (long long)mode);
    if (n->a.i[A_TRAINING] && !n->a.p)
        return dc_set_error(DC_ERR_ARG, "%s: rng is NULL while training", fn);
    *ndim = 4;
    memcpy(shape, x->shape, sizeof(int64_t) * 4);
    return DC_OK;
}

/* Row h of image b of `from` goes to `to` (as a copy, or added when acc),
 * mirrored as flips[b] says. Flipping is its own inverse, so backward runs the
 * same mapping from the output's gradient to the input's. */
static void flip_row(const dc_tensor *x, const uint8_t *flips, int64_t b, int64_t h,
                     const float *from, float *to, bool acc) {
    const int64_t H = x->shape[1], W = x->shape[2], C = x->shape[3];
    const int64_t src_h = flips[b] & DC_FLIP_VERTICAL ? H - 1 - h : h;
    const bool mirror = flips[b] & DC_FLIP_HORIZONTAL;
    const float *src = from + (b * H + src_h) * W * C;
    float *dst = to + (b * H + h) * W * C;
    for (int64_t w = 0; w < W; w++) {
        const float *s = src + (mirror ? W - 1 - w : w) * C;
        float *d = dst + w * C;
        if (acc)
            for (int64_t c = 0; c < C; c++) d[c] += s[c];
        else
            memcpy(d, s, (size_t)C * sizeof(float));
    }
}

dc_status dc_random_flip_forward(dc_node *n) {
    const dc_tensor *x = n->in[0];
    n->saved = NULL;
    if (!n->a.i[A_TRAINING]) {
        memcpy(n->out->data, x->data, (size_t)x->size * sizeof(float));
        return DC_OK;
    }
    const int64_t N = x->shape[0], H = x->shape[1];
    uint8_t *flips = dc_node_alloc(n, (size_t)(N > 0 ? N : 1));
    if (!flips) return DC_ERR_NOMEM;
    n->saved = flips;
    dc_rng *rng = n->a.p;
    /* a rank's part of a distributed batch: the other ranks' samples' draws skipped */
    const int64_t mode = n->a.i[A_MODE];
    const uint64_t per_sample = !!(mode & DC_FLIP_HORIZONTAL) + !!(mode & DC_FLIP_VERTICAL);
    int64_t start, total;
    dc_tape_batch_part(n->tape, N, &start, &total);
    dc_rng_advance(rng, (uint64_t)start * per_sample);
    for (int64_t b = 0; b < N; b++) {
        flips[b] = 0;
        if (n->a.i[A_MODE] & DC_FLIP_HORIZONTAL && dc_rng_u32(rng) >> 31)
            flips[b] |= DC_FLIP_HORIZONTAL;
        if (n->a.i[A_MODE] & DC_FLIP_VERTICAL && dc_rng_u32(rng) >> 31)
            flips[b] |= DC_FLIP_VERTICAL;
    }
    dc_rng_advance(rng, (uint64_t)(total - start - N) * per_sample);
#pragma omp parallel for schedule(static) if (x->size > (1 << 16))
    for (int64_t r = 0; r < N * H; r++) flip_row(x, flips, r / H, r % H, x->data, n->out->data, false);
    return DC_OK;
}

void dc_random_flip_backward(dc_node *n) {
    const dc_tensor *x = n->in[0];
    if (!x->grad) return;
    const uint8_t *flips = n->saved;
    if (!flips) { /* not training: the identity */
        for (int64_t i = 0; i < x->size; i++) x->grad[i] += n->out->grad[i];
        return;
    }
    const int64_t N = x->shape[0], H = x->shape[1];
    /* each output row comes from one input row, and no two from the same one */
#pragma omp parallel for schedule(static) if (x->size > (1 << 16))
    for (int64_t r = 0; r < N * H; r++) flip_row(x, flips, r / H, r % H, n->out->grad, x->grad, true);
}

dc_tensor *dc_random_flip(dc_tape *t, dc_tensor *x, int mode, bool training, dc_rng *rng) {
    dc_op_attrs at = {.i = {mode, training}, .p = rng};
    return dc_op_apply(t, DC_OP_RANDOM_FLIP, 1, &x, &at);
}
