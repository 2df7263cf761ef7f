/* test_random_flip.c — RandomFlip: the op (gradient checks, exact pixel
 * movement, how often it flips, repeatability, bad input) and the layer. */
#include "test.h"
#include "ops/op.h"

/* ---- gradient-check cases (the rng is re-seeded per call: same flips) ---- */

static dc_tensor *flip_both(dc_tape *t, dc_tensor **in, dc_rng *r) {
    return dc_random_flip(t, in[0], DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL, true, r);
}
GRAD_CASE(random_flip_training) {
    *c = (grad_case){.op = DC_OP_RANDOM_FLIP, .n_in = 1, .ndim = {4}, .shape = {{6, 3, 4, 2}},
                     .apply = flip_both};
}
static dc_tensor *flip_inference(dc_tape *t, dc_tensor **in, dc_rng *r) {
    (void)r;
    return dc_random_flip(t, in[0], DC_FLIP_HORIZONTAL, false, NULL);
}
GRAD_CASE(random_flip_inference) {
    *c = (grad_case){.op = DC_OP_RANDOM_FLIP, .n_in = 1, .ndim = {4}, .shape = {{2, 2, 3, 1}},
                     .apply = flip_inference};
}

/* Which of the four mirrorings turned x's image b into y's (-1: none). */
static int flips_of(const dc_tensor *x, const dc_tensor *y, int64_t b) {
    const int64_t H = x->shape[1], W = x->shape[2], C = x->shape[3];
    for (int f = 0; f < 4; f++) {
        bool same = true;
        for (int64_t h = 0; same && h < H; h++)
            for (int64_t w = 0; same && w < W; w++)
                for (int64_t c = 0; same && c < C; c++) {
                    int64_t sh = f & DC_FLIP_VERTICAL ? H - 1 - h : h;
                    int64_t sw = f & DC_FLIP_HORIZONTAL ? W - 1 - w : w;
                    same = y->data[((b * H + h) * W + w) * C + c] ==
                           x->data[((b * H + sh) * W + sw) * C + c];
                }
        if (same) return f;
    }
    return -1;
}

TEST(random_flip_mirrors_whole_images_about_half_the_time) {
    dc_rng rng;
    dc_rng_seed(&rng, 3);
    const int64_t N = 400;
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(N, 5, 4, 3), -1, 1, &rng); /* distinct pixels */
    dc_tape *t = dc_tape_new(NULL);
    int modes[3] = {DC_FLIP_HORIZONTAL, DC_FLIP_VERTICAL, DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL};
    for (int m = 0; m < 3; m++) {
        dc_tensor *y = dc_random_flip(t, x, modes[m], true, &rng);
        CHECK(y && y->ndim == 4 && y->size == x->size);
        if (!y) continue;
        int count[4] = {0}, bad = 0;
        for (int64_t b = 0; b < N; b++) {
            int f = flips_of(x, y, b);
            if (f < 0 || (f & ~modes[m])) bad++;
            else count[f]++;
        }
        CHECK(bad == 0); /* only whole images move, and only along the mode's axes */
        if (m < 2) {
            CHECK(count[modes[m]] > 150 && count[modes[m]] < 250); /* ~200 of 400 */
        } else {
            for (int f = 0; f < 4; f++) CHECK(count[f] > 60 && count[f] < 140); /* ~100 each */
        }
    }
    /* not training: the input as it is, and no rng needed */
    dc_tensor *same = dc_random_flip(t, x, DC_FLIP_HORIZONTAL, false, NULL);
    CHECK(same && !memcmp(same->data, x->data, sizeof(float) * (size_t)x->size));
    /* a seed gives the same flips */
    dc_rng r1, r2;
    dc_rng_seed(&r1, 77);
    dc_rng_seed(&r2, 77);
    dc_tensor *a = dc_random_flip(t, x, DC_FLIP_HORIZONTAL, true, &r1);
    dc_tensor *b = dc_random_flip(t, x, DC_FLIP_HORIZONTAL, true, &r2);
    CHECK(a && b && !memcmp(a->data, b->data, sizeof(float) * (size_t)x->size));
    CHECK(dc_tape_status(t) == DC_OK);
    dc_tape_free(t);
    dc_tensor_free(x);
}

TEST(random_flip_gradient_follows_the_pixels) {
    dc_rng rng;
    dc_rng_seed(&rng, 8);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(64, 3, 4, 2), -1, 1, &rng);
    dc_tensor_set_requires_grad(x, true);
    dc_tensor *wts = dc_tensor_uniform(DC_DIMS(64, 3, 4, 2), -1, 1, &rng);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = dc_random_flip(t, x, DC_FLIP_HORIZONTAL | DC_FLIP_VERTICAL, true, &rng);
    CHECK_OK(dc_tape_backward(t, dc_sum_all(t, dc_mul(t, y, wts))));
    /* d/dx sum(w * flip(x)) = flip(w): each image's gradient is its weights
     * mirrored by the flips its forward made (a flip is its own inverse) */
    dc_tensor *g = dc_tensor_from_data(DC_DIMS(64, 3, 4, 2), x->grad);
    int64_t mismatched = 0, mirrored = 0;
    for (int64_t b = 0; b < 64; b++) {
        int f = flips_of(wts, g, b);
        if (f < 0 || !y || f != flips_of(x, y, b)) mismatched++;
        else if (f) mirrored++;
    }
    CHECK(mismatched == 0 && mirrored > 32); /* ~48 of 64 images flip on some axis */
    dc_tape_free(t);
    dc_tensor_free(g);
    dc_tensor_free(wts);
    dc_tensor_free(x);
}

TEST(random_flip_bad_input) {
    dc_rng rng;
    dc_rng_seed(&rng, 1);
    dc_tensor *x3 = dc_tensor_zeros(DC_DIMS(2, 3, 4));
    dc_tensor *x4 = dc_tensor_zeros(DC_DIMS(2, 3, 4, 1));
    dc_tape *t = dc_tape_new(NULL);
    CHECK(dc_random_flip(t, x3, DC_FLIP_HORIZONTAL, true, &rng) == NULL);
    CHECK_MSG("dc_random_flip: x (2,3,4) must be 4-D (N,H,W,C)");
    dc_tape_reset(t);
    CHECK(dc_random_flip(t, x4, 0, true, &rng) == NULL);
    CHECK_MSG("dc_random_flip: mode 0 is not DC_FLIP_HORIZONTAL, DC_FLIP_VERTICAL or both");
    dc_tape_reset(t);
    CHECK(dc_random_flip(t, x4, 4, false, NULL) == NULL);
    CHECK_MSG("mode 4 is not");
    dc_tape_reset(t);
    CHECK(dc_random_flip(t, x4, DC_FLIP_VERTICAL, true, NULL) == NULL);
    CHECK_MSG("dc_random_flip: rng is NULL while training");
    dc_tape_free(t);
    dc_tensor_free(x3);
    dc_tensor_free(x4);
}

/* ---- the layer ---- */

TEST(random_flip_layer_trains_flipped_and_predicts_as_is) {
    dc_model *m = dc_sequential_new("flip");
    CHECK_OK(dc_model_add(m, dc_layer_random_flip("horizontal", NULL)));
    CHECK_OK(dc_model_add(m, dc_layer_flatten()));
    CHECK_OK(dc_model_build(m, 3, (const int64_t[]){2, 3, 1}, 5));
    CHECK(dc_model_count_params(m) == 0);
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(64, 2, 3, 1));
    for (int64_t i = 0; i < x->size; i++) x->data[i] = (float)(i % 6); /* 0 1 2 / 3 4 5 */
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *yt = dc_model_call(m, t, x, true);
    dc_tensor *yi = dc_model_call(m, t, x, false);
    CHECK(yt && yi);
    int flipped = 0, bad = 0;
    for (int64_t b = 0; yt && b < 64; b++) {
        const float *r = yt->data + b * 6;
        if (r[0] == 2 && r[1] == 1 && r[2] == 0 && r[3] == 5 && r[4] == 4 && r[5] == 3) flipped++;
        else if (r[0] != 0 || r[1] != 1 || r[2] != 2 || r[3] != 3 || r[4] != 4 || r[5] != 5) bad++;
    }
    CHECK(bad == 0 && flipped > 16 && flipped < 48);
    CHECK(yi && !memcmp(yi->data, x->data, sizeof(float) * (size_t)x->size));
    /* a model file keeps the layer and its mode */
    char path[512];
    snprintf(path, sizeof path, "%s/flip.safetensors", test_tmpdir());
    CHECK_OK(dc_model_save(m, path));
    dc_model *back = dc_model_load(path);
    CHECK(back && dc_model_num_layers(back) == dc_model_num_layers(m));
    const dc_layer *l0 = back ? dc_model_layer(back, 0) : NULL;
    CHECK(l0 && !strcmp(dc_layer_type(l0), "RandomFlip"));
    dc_tensor *yb = back ? dc_model_call(back, t, x, true) : NULL;
    int moved = 0, other = 0; /* "horizontal" kept: rows start 0 (as is) or 2 (mirrored) */
    for (int64_t b = 0; yb && b < 64; b++) {
        moved += yb->data[b * 6] == 2;
        other += yb->data[b * 6] != 2 && yb->data[b * 6] != 0;
    }
    CHECK(yb && moved > 16 && moved < 48 && other == 0);
    dc_model_free(back);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_model_free(m);
    /* the same layer from a model file's strings, and its summary line */
    const char *k[] = {"mode"}, *v[] = {"vertical"};
    dc_layer *l = dc_layer_from_config("RandomFlip", k, v, 1);
    CHECK(l != NULL);
    CHECK(l && !strcmp(dc_layer_type(l), "RandomFlip"));
    dc_layer_free(l);
}

TEST(random_flip_layer_bad_options) {
    CHECK(dc_layer_random_flip("diagonal", NULL) == NULL);
    CHECK_MSG("dc_layer_random_flip: RandomFlip: option 'mode': 'diagonal' is not 'horizontal', "
              "'vertical' or 'horizontal_and_vertical'");
    const char *k[] = {"factor"}, *v[] = {"0.2"};
    CHECK(dc_layer_from_config("RandomFlip", k, v, 1) == NULL);
    CHECK_MSG("RandomFlip: unknown option 'factor' (known: mode, name)");
    dc_model *m = dc_sequential_new("flat");
    CHECK_OK(dc_model_add(m, dc_layer_random_flip(NULL, NULL)));
    CHECK(dc_model_build(m, 1, (const int64_t[]){10}, 1) != DC_OK);
    CHECK_MSG("RandomFlip");
    dc_model_free(m);
}

/* The flips live in the tape's arena: training steps after the first allocate
 * nothing, as the rest of a step. */
TEST(random_flip_training_steps_allocate_nothing_after_the_first) {
    dc_model *m = dc_sequential_new("flip_steps");
    CHECK_OK(dc_model_add(m, dc_layer_random_flip(NULL, NULL)));
    CHECK_OK(dc_model_add(m, dc_layer_flatten()));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 3})));
    CHECK_OK(dc_model_build(m, 3, (const int64_t[]){4, 5, 2}, 9));
    dc_rng rng;
    dc_rng_seed(&rng, 4);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(8, 4, 5, 2), -1, 1, &rng);
    dc_tensor *y = dc_tensor_zeros(DC_DIMS(8));
    dc_tape *t = dc_tape_new(NULL);
    uint64_t after_first = 0;
    for (int step = 0; step < 5; step++) {
        dc_tape_reset(t);
        dc_model_zero_grad(m);
        dc_tensor *out = dc_model_call(m, t, x, true);
        CHECK_OK(dc_tape_backward(t, dc_sparse_softmax_cross_entropy(t, out, y)));
        if (step == 0) after_first = dc_alloc_count();
    }
    CHECK(dc_alloc_count() == after_first);
    dc_tape_free(t);
    dc_tensor_free(y);
    dc_tensor_free(x);
    dc_model_free(m);
}
