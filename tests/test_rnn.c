/* test_rnn.c — the recurrent ops: gradient checks of LSTM, GRU (both reset
 * forms), SimpleRNN and dc_rnn_state with masks, go_backwards, initial states
 * and recurrent dropout; error messages; states and masks by hand. */
#include "test.h"
#include "ops/op.h"
#include <stdlib.h>
#include <string.h>

/* A (B,T) mask in the tape: row 0 all real, row 1 post-padded, row 2 holes
 * (Keras allows any pattern), row 3 (when B > 3) all padding. */
static dc_tensor *test_mask(dc_tape *t, int64_t B, int64_t T) {
    dc_tensor *m = dc_tape_tensor(t, DC_DIMS(B, T));
    for (int64_t b = 0; b < B; b++)
        for (int64_t s = 0; s < T; s++) {
            float v = 1.0f;
            if (b == 1) v = s < T / 2 ? 1.0f : 0.0f;
            if (b == 2) v = (float)(s % 2);
            if (b == 3) v = 0.0f;
            m->data[b * T + s] = v;
        }
    return m;
}

/* A tape tensor of fixed values in [-r, r] from rng (the checker reseeds it per call). */
static dc_tensor *fixed(dc_tape *t, dc_rng *rng, int64_t a, int64_t b, float r) {
    dc_tensor *x = dc_tape_tensor(t, DC_DIMS(a, b));
    for (int64_t i = 0; i < x->size; i++) x->data[i] = (float)((dc_rng_uniform(rng) * 2 - 1) * r);
    return x;
}

/* (B,U) recurrent dropout mask: 0 or 1/(1-0.5) */
static dc_tensor *rd_mask(dc_tape *t, int64_t B, int64_t U) {
    dc_tensor *m = dc_tape_tensor(t, DC_DIMS(B, U));
    for (int64_t i = 0; i < m->size; i++) m->data[i] = (i * 7 + 3) % 3 ? 2.0f : 0.0f;
    return m;
}

/* seq (B,T,U) and a state: sum over time plus the state, so both paths are checked */
static dc_tensor *with_state(dc_tape *t, dc_tensor *y, int which) {
    return dc_add(t, dc_sum(t, y, 1, false), dc_rnn_state(t, y, which));
}

/* ---- LSTM: B 3, T 4, I 3, U 2 ---- */
static dc_tensor *lstm_basic(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_lstm(t, in[0], in[1], in[2], in[3], NULL, NULL, NULL);
}
GRAD_CASE(lstm_basic) {
    *c = (grad_case){.op = DC_OP_LSTM, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{3, 4, 3}, {3, 8}, {2, 8}, {8}}, .apply = lstm_basic};
}

static dc_tensor *lstm_masked_back(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_rnn_options o = {.go_backwards = true, .mask = test_mask(t, 4, 4)};
    return with_state(t, dc_lstm(t, in[0], in[1], in[2], in[3], NULL, NULL, &o), 1);
}
GRAD_CASE(lstm_masked_backwards_state_c) {
    *c = (grad_case){.op = DC_OP_RNN_STATE, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{4, 4, 3}, {3, 8}, {2, 8}, {8}}, .apply = lstm_masked_back};
}

static dc_tensor *lstm_init(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    dc_tensor *w = fixed(t, rng, 3, 8, 0.8f), *b = fixed(t, rng, 8, 1, 0.5f);
    b = dc_reshape(t, b, DC_DIMS(8));
    dc_rnn_options o = {.mask = test_mask(t, 3, 4), .recurrent_dropout_mask = rd_mask(t, 3, 2)};
    return with_state(t, dc_lstm(t, in[0], w, in[3], b, in[1], in[2], &o), 0);
}
GRAD_CASE(lstm_h0_c0_mask_rdrop) {
    *c = (grad_case){.op = DC_OP_LSTM, .n_in = 4, .ndim = {3, 2, 2, 2},
                     .shape = {{3, 4, 3}, {3, 2}, {3, 2}, {2, 8}}, .apply = lstm_init};
}

static dc_tensor *lstm_acts(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_rnn_options o = {.activation = DC_RNN_ACT_LINEAR,
                        .recurrent_activation = DC_RNN_ACT_HARD_SIGMOID,
                        .mask = test_mask(t, 3, 4), .zero_output_for_mask = true};
    return dc_lstm(t, in[0], in[1], in[2], NULL, NULL, NULL, &o);
}
GRAD_CASE(lstm_linear_hard_sigmoid_zero_out) {
    *c = (grad_case){.op = DC_OP_LSTM, .n_in = 3, .ndim = {3, 2, 2},
                     .shape = {{3, 4, 3}, {3, 8}, {2, 8}}, .apply = lstm_acts};
}

/* ---- GRU ---- */
static dc_tensor *gru_after(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_gru(t, in[0], in[1], in[2], in[3], NULL, NULL);
}
GRAD_CASE(gru_reset_after) {
    *c = (grad_case){.op = DC_OP_GRU, .n_in = 4, .ndim = {3, 2, 2, 2},
                     .shape = {{3, 4, 3}, {3, 6}, {2, 6}, {2, 6}}, .apply = gru_after};
}

static dc_tensor *gru_after_all(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    dc_tensor *b = fixed(t, rng, 2, 6, 0.5f);
    dc_rnn_options o = {.go_backwards = true, .mask = test_mask(t, 4, 4),
                        .recurrent_dropout_mask = rd_mask(t, 4, 2)};
    return with_state(t, dc_gru(t, in[0], in[1], in[2], b, in[3], &o), 0);
}
GRAD_CASE(gru_reset_after_h0_mask_backwards_rdrop) {
    *c = (grad_case){.op = DC_OP_GRU, .n_in = 4, .ndim = {3, 2, 2, 2},
                     .shape = {{4, 4, 3}, {3, 6}, {2, 6}, {4, 2}}, .apply = gru_after_all};
}

static dc_tensor *gru_before(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    dc_rnn_options o = {.reset_before = true};
    return dc_gru(t, in[0], in[1], in[2], in[3], NULL, &o);
}
GRAD_CASE(gru_reset_before) {
    *c = (grad_case){.op = DC_OP_GRU, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{3, 4, 3}, {3, 6}, {2, 6}, {6}}, .apply = gru_before};
}

static dc_tensor *gru_before_all(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    dc_tensor *b = dc_reshape(t, fixed(t, rng, 6, 1, 0.5f), DC_DIMS(6));
    dc_rnn_options o = {.reset_before = true, .go_backwards = true,
                        .mask = test_mask(t, 3, 4), .recurrent_dropout_mask = rd_mask(t, 3, 2)};
    return with_state(t, dc_gru(t, in[0], in[1], in[2], b, in[3], &o), 0);
}
GRAD_CASE(gru_reset_before_h0_mask_backwards_rdrop) {
    *c = (grad_case){.op = DC_OP_GRU, .n_in = 4, .ndim = {3, 2, 2, 2},
                     .shape = {{3, 4, 3}, {3, 6}, {2, 6}, {3, 2}}, .apply = gru_before_all};
}

/* ---- SimpleRNN ---- */
static dc_tensor *simple_basic(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    (void)rng;
    return dc_simple_rnn(t, in[0], in[1], in[2], in[3], NULL, NULL);
}
GRAD_CASE(simple_rnn_basic) {
    *c = (grad_case){.op = DC_OP_SIMPLE_RNN, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{3, 4, 3}, {3, 3}, {3, 3}, {3}}, .apply = simple_basic};
}

static dc_tensor *simple_all(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    dc_tensor *b = dc_reshape(t, fixed(t, rng, 3, 1, 0.5f), DC_DIMS(3));
    dc_rnn_options o = {.go_backwards = true, .mask = test_mask(t, 4, 4),
                        .recurrent_dropout_mask = rd_mask(t, 4, 3),
                        .activation = DC_RNN_ACT_SIGMOID};
    return with_state(t, dc_simple_rnn(t, in[0], in[1], in[2], b, in[3], &o), 0);
}
GRAD_CASE(simple_rnn_h0_mask_backwards_rdrop) {
    *c = (grad_case){.op = DC_OP_SIMPLE_RNN, .n_in = 4, .ndim = {3, 2, 2, 2},
                     .shape = {{4, 4, 3}, {3, 3}, {3, 3}, {4, 3}}, .apply = simple_all};
}

/* ---- 9 steps: the recurrent kernel packed into panels (op_rnn.c packs from 8
 * steps on), the bias among the checked inputs, with an initial state, masks,
 * recurrent dropout or none, both directions ---- */
static dc_tensor *long_all(dc_tape *t, dc_tensor **in, dc_rng *rng, int op, bool rb,
                           bool rdrop) {
    const int64_t B = in[0]->shape[0], T = in[0]->shape[1], U = in[2]->shape[0];
    dc_tensor *b = in[3], *h0 = fixed(t, rng, B, U, 0.8f);
    dc_rnn_options o = {.go_backwards = op != DC_OP_LSTM, .reset_before = rb,
                        .mask = test_mask(t, B, T),
                        .recurrent_dropout_mask = rdrop ? rd_mask(t, B, U) : NULL};
    dc_tensor *y = op == DC_OP_LSTM ? dc_lstm(t, in[0], in[1], in[2], b, h0, NULL, &o)
                   : op == DC_OP_GRU ? dc_gru(t, in[0], in[1], in[2], b, h0, &o)
                                     : dc_simple_rnn(t, in[0], in[1], in[2], b, h0, &o);
    return with_state(t, y, 0);
}
static dc_tensor *lstm_long(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    return long_all(t, in, rng, DC_OP_LSTM, false, true);
}
/* without recurrent dropout the saved rows are [h, x, 1] (joins_hx in op_rnn.c) */
static dc_tensor *lstm_long_joined(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    return long_all(t, in, rng, DC_OP_LSTM, false, false);
}
static dc_tensor *simple_long_joined(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    return long_all(t, in, rng, DC_OP_SIMPLE_RNN, false, false);
}
static dc_tensor *gru_long(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    return long_all(t, in, rng, DC_OP_GRU, false, true);
}
static dc_tensor *gru_rb_long(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    return long_all(t, in, rng, DC_OP_GRU, true, true);
}
static dc_tensor *simple_long(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    return long_all(t, in, rng, DC_OP_SIMPLE_RNN, false, true);
}
GRAD_CASE(lstm_9_steps_packed) {
    *c = (grad_case){.op = DC_OP_LSTM, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{4, 9, 3}, {3, 12}, {3, 12}, {12}}, .apply = lstm_long};
}
GRAD_CASE(lstm_9_steps_packed_joined) {
    *c = (grad_case){.op = DC_OP_LSTM, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{4, 9, 3}, {3, 12}, {3, 12}, {12}}, .apply = lstm_long_joined};
}
GRAD_CASE(simple_rnn_9_steps_packed_joined) {
    *c = (grad_case){.op = DC_OP_SIMPLE_RNN, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{4, 9, 3}, {3, 3}, {3, 3}, {3}}, .apply = simple_long_joined};
}
GRAD_CASE(gru_9_steps_packed) {
    *c = (grad_case){.op = DC_OP_GRU, .n_in = 4, .ndim = {3, 2, 2, 2},
                     .shape = {{4, 9, 3}, {3, 9}, {3, 9}, {2, 9}}, .apply = gru_long};
}
GRAD_CASE(gru_reset_before_9_steps_packed) {
    *c = (grad_case){.op = DC_OP_GRU, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{3, 9, 3}, {3, 9}, {3, 9}, {9}}, .apply = gru_rb_long};
}
GRAD_CASE(simple_rnn_9_steps_packed) {
    *c = (grad_case){.op = DC_OP_SIMPLE_RNN, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{4, 9, 3}, {3, 3}, {3, 3}, {3}}, .apply = simple_long};
}

/* ---- the transposed LSTM path (op_rnn.c takes_tpath): no mask, the
 * default activations, 16 rows (8 a thread on 2 threads) ---- */
static dc_tensor *lstm_long_plain(dc_tape *t, dc_tensor **in, dc_rng *rng) {
    const int64_t B = in[0]->shape[0], U = in[2]->shape[0];
    dc_tensor *h0 = fixed(t, rng, B, U, 0.8f), *c0 = fixed(t, rng, B, U, 0.8f);
    dc_tensor *y = dc_lstm(t, in[0], in[1], in[2], in[3], h0, c0, NULL);
    return dc_add(t, with_state(t, y, 0), dc_rnn_state(t, y, 1));
}
GRAD_CASE(lstm_9_steps_transposed) {
    *c = (grad_case){.op = DC_OP_LSTM, .n_in = 4, .ndim = {3, 2, 2, 1},
                     .shape = {{16, 9, 3}, {3, 12}, {3, 12}, {12}}, .apply = lstm_long_plain};
}

/* ---- by hand ---- */

/* A masked step keeps the state and repeats the last output; a sample
 * with no real step outputs 0 and keeps h0. */
TEST(rnn_mask_keeps_state_and_repeats_output) {
    dc_rng rng;
    dc_rng_seed(&rng, 5);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(4, 4, 3), -1, 1, &rng);
    dc_tensor *w = dc_tensor_uniform(DC_DIMS(3, 8), -1, 1, &rng);
    dc_tensor *r = dc_tensor_uniform(DC_DIMS(2, 8), -1, 1, &rng);
    dc_tape *t = dc_tape_new(NULL);
    dc_rnn_options o = {.mask = test_mask(t, 4, 4)};
    dc_tensor *y = dc_lstm(t, x, w, r, NULL, NULL, NULL, &o);
    dc_tensor *h = dc_rnn_state(t, y, 0), *c = dc_rnn_state(t, y, 1);
    CHECK(y && h && c);
    if (y && h && c) {
        const float *Y = y->data;
        /* row 1: steps 2, 3 masked: repeat step 1 */
        for (int j = 0; j < 2; j++) {
            CHECK(Y[(1 * 4 + 2) * 2 + j] == Y[(1 * 4 + 1) * 2 + j]);
            CHECK(Y[(1 * 4 + 3) * 2 + j] == Y[(1 * 4 + 1) * 2 + j]);
            CHECK(h->data[1 * 2 + j] == Y[(1 * 4 + 1) * 2 + j]);
            /* row 2: step 0 masked: 0 before any real step */
            CHECK(Y[(2 * 4 + 0) * 2 + j] == 0.0f);
            CHECK(Y[(2 * 4 + 2) * 2 + j] == Y[(2 * 4 + 1) * 2 + j]);
            /* row 3: nothing real */
            CHECK(Y[(3 * 4 + 3) * 2 + j] == 0.0f && h->data[3 * 2 + j] == 0.0f &&
                  c->data[3 * 2 + j] == 0.0f);
        }
        /* row 0 unmasked: the last output is h */
        CHECK(h->data[0] == Y[3 * 2] && h->data[1] == Y[3 * 2 + 1]);
    }
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(r);
}

TEST(rnn_errors_name_function_and_shapes) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 5, 3)), *w = dc_tensor_zeros(DC_DIMS(3, 8));
    dc_tensor *r = dc_tensor_zeros(DC_DIMS(2, 8)), *bad = dc_tensor_zeros(DC_DIMS(4, 8));
    dc_tensor *x2 = dc_tensor_zeros(DC_DIMS(2, 5));
    dc_tape *t = dc_tape_new(NULL);
    CHECK(!dc_lstm(t, x, bad, r, NULL, NULL, NULL, NULL));
    CHECK_MSG("dc_lstm: kernel (4,8) must be (3, 8)");
    dc_tape_reset(t);
    CHECK(!dc_gru(t, x, w, r, NULL, NULL, NULL));
    CHECK_MSG("dc_gru: recurrent_kernel (2,8) must be (units, 3*units)");
    dc_tape_reset(t);
    CHECK(!dc_simple_rnn(t, x2, w, r, NULL, NULL, NULL));
    CHECK_MSG("dc_simple_rnn: x (2,5) must be (batch, time, features)");
    dc_tape_reset(t);
    dc_tensor *m = dc_tensor_zeros(DC_DIMS(2, 4));
    dc_rnn_options o = {.mask = m};
    CHECK(!dc_lstm(t, x, w, r, NULL, NULL, NULL, &o));
    CHECK_MSG("dc_lstm: mask (2,4) must be (2, 5)");
    dc_tape_reset(t);
    dc_tensor *m2 = dc_tensor_full(DC_DIMS(2, 5), 1.0f);
    m2->data[7] = 0.5f;
    o.mask = m2;
    CHECK(!dc_lstm(t, x, w, r, NULL, NULL, NULL, &o));
    CHECK_MSG("mask[1][2] is 0.5");
    dc_tape_reset(t);
    dc_tensor *h0 = dc_tensor_zeros(DC_DIMS(3, 2));
    CHECK(!dc_lstm(t, x, w, r, NULL, h0, NULL, NULL));
    CHECK_MSG("dc_lstm: h0 (3,2) must be (2, 2)");
    dc_tape_reset(t);
    CHECK(!dc_rnn_state(t, x, 0));
    CHECK_MSG("dc_rnn_state: rnn_out (2,5,3) is not an output of dc_lstm");
    dc_tape_reset(t);
    dc_tensor *g6 = dc_tensor_zeros(DC_DIMS(3, 6)), *r6 = dc_tensor_zeros(DC_DIMS(2, 6));
    dc_tensor *y = dc_gru(t, x, g6, r6, NULL, NULL, NULL);
    CHECK(y != NULL);
    CHECK(!dc_rnn_state(t, y, 1));
    CHECK_MSG("dc_rnn_state: state 1 of a GRU");
    dc_tape_reset(t);
    dc_tensor *b6 = dc_tensor_zeros(DC_DIMS(6));
    CHECK(!dc_gru(t, x, g6, r6, b6, NULL, NULL));
    CHECK_MSG("dc_gru: bias (6) must be (2, 6)");
    dc_tape_free(t);
    dc_tensor *all[] = {x, w, r, bad, x2, m, m2, h0, g6, r6, b6};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) dc_tensor_free(all[i]);
}

/* T = 0: no steps; the state is the initial one. */
TEST(rnn_zero_steps) {
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(2, 0, 3)), *w = dc_tensor_ones(DC_DIMS(3, 4));
    dc_tensor *r = dc_tensor_ones(DC_DIMS(4, 4)), *h0 = dc_tensor_full(DC_DIMS(2, 4), 0.5f);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *y = dc_simple_rnn(t, x, w, r, NULL, h0, NULL);
    CHECK(y && y->shape[1] == 0);
    dc_tensor *h = dc_rnn_state(t, y, 0);
    CHECK(h && h->data[7] == 0.5f);
    dc_tape_free(t);
    dc_tensor_free(x);
    dc_tensor_free(w);
    dc_tensor_free(r);
    dc_tensor_free(h0);
}

/* One LSTM forward and backward (loss: y, h and c weighted by fixed values)
 * from seeded inputs; returns y, h, c and the gradients of x, kernel,
 * recurrent kernel, bias, h0, c0, one after another (caller frees), *n their count. */
static float *lstm_outputs_and_grads(bool mask_of_ones, bool back, size_t *n) {
    enum { B = 16, T = 11, I = 5, U = 19, G = 4 * U };
    dc_rng rng;
    dc_rng_seed(&rng, 21);
    dc_tensor *in[6] = {dc_tensor_uniform(DC_DIMS(B, T, I), -1, 1, &rng),
                        dc_tensor_uniform(DC_DIMS(I, G), -0.5f, 0.5f, &rng),
                        dc_tensor_uniform(DC_DIMS(U, G), -0.5f, 0.5f, &rng),
                        dc_tensor_uniform(DC_DIMS(G), -0.5f, 0.5f, &rng),
                        dc_tensor_uniform(DC_DIMS(B, U), -1, 1, &rng),
                        dc_tensor_uniform(DC_DIMS(B, U), -1, 1, &rng)};
    for (int i = 0; i < 6; i++) dc_tensor_set_requires_grad(in[i], true);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *m = dc_tape_tensor(t, DC_DIMS(B, T));
    for (int64_t i = 0; i < m->size; i++) m->data[i] = 1.0f;
    dc_rnn_options o = {.go_backwards = back, .mask = mask_of_ones ? m : NULL};
    dc_tensor *y = dc_lstm(t, in[0], in[1], in[2], in[3], in[4], in[5], &o);
    dc_tensor *st[3] = {y, dc_rnn_state(t, y, 0), dc_rnn_state(t, y, 1)}, *loss = NULL;
    for (int i = 0; i < 3; i++) {
        dc_tensor *w = dc_tape_tensor(t, st[i]->ndim, st[i]->shape);
        for (int64_t j = 0; j < w->size; j++) w->data[j] = (float)(((j * 37) % 11) - 5) * 0.1f;
        dc_tensor *term = dc_sum_all(t, dc_mul(t, st[i], w));
        loss = loss ? dc_add(t, loss, term) : term;
    }
    CHECK_OK(dc_tape_backward(t, loss));
    *n = (size_t)(y->size + 2 * B * U);
    for (int i = 0; i < 6; i++) *n += (size_t)in[i]->size;
    float *all = malloc(*n * sizeof *all), *at = all;
    for (int i = 0; i < 3; i++) {
        memcpy(at, st[i]->data, (size_t)st[i]->size * sizeof *at);
        at += st[i]->size;
    }
    for (int i = 0; i < 6; i++) {
        memcpy(at, in[i]->grad, (size_t)in[i]->size * sizeof *at);
        at += in[i]->size;
    }
    dc_tape_free(t);
    for (int i = 0; i < 6; i++) dc_tensor_free(in[i]);
    return all;
}

/* Without a mask an LSTM takes the transposed path (op_rnn.c takes_tpath);
 * with a mask of ones the row path: the same arithmetic, so the same bits. */
TEST(lstm_transposed_path_equals_row_path) {
    for (int back = 0; back < 2; back++) {
        size_t n, n1;
        float *tp = lstm_outputs_and_grads(false, back, &n);
        float *rows = lstm_outputs_and_grads(true, back, &n1);
        CHECK(n == n1);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += tp[i] != rows[i];
        CHECK(bad == 0);
        free(tp);
        free(rows);
    }
}
