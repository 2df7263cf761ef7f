/* test_rnn_layers.c — the SimpleRNN, LSTM and GRU layers: outputs equal the
 * ops, Keras' defaults (orthogonal recurrent kernel, forget bias 1, GRU bias
 * (2,3U)), bad options, masks, return_state, save/load, no allocation after the
 * first training step, and the same weights for 1 and 2 threads. */
#include "test.h"
#include "layers/layer.h"
#include <stdlib.h>

static dc_model *one_rnn_model(dc_layer *l, int64_t T, int64_t I, uint64_t seed) {
    dc_model *m = dc_sequential_new("rnn_model");
    CHECK_OK(dc_model_add(m, l));
    CHECK_OK(dc_model_build(m, 2, (const int64_t[]){T, I}, seed));
    return m;
}

TEST(rnn_layers_equal_their_ops) {
    dc_rng rng;
    dc_rng_seed(&rng, 3);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(3, 5, 4), -1, 1, &rng);
    for (int kind = 0; kind < 3; kind++) {
        dc_rnn_layer_options o = {.units = 6, .return_sequences = kind != 1,
                                  .go_backwards = kind == 2, .activation = kind == 2 ? "relu" : NULL};
        dc_layer *l = kind == 0 ? dc_layer_lstm(&o) : kind == 1 ? dc_layer_gru(&o)
                                                                : dc_layer_simple_rnn(&o);
        dc_model *m = one_rnn_model(l, 5, 4, 11);
        dc_tape *t = dc_tape_new(NULL);
        dc_tensor *y = dc_model_call(m, t, x, false);
        dc_tensor *k = dc_layer_param(l, 0), *r = dc_layer_param(l, 1), *b = dc_layer_param(l, 2);
        dc_rnn_options ro = {.go_backwards = kind == 2,
                             .activation = kind == 2 ? DC_RNN_ACT_RELU : DC_RNN_ACT_DEFAULT};
        dc_tensor *want = kind == 0 ? dc_lstm(t, x, k, r, b, NULL, NULL, &ro)
                          : kind == 1 ? dc_rnn_state(t, dc_gru(t, x, k, r, b, NULL, &ro), 0)
                                      : dc_simple_rnn(t, x, k, r, b, NULL, &ro);
        CHECK(y && want && y->size == want->size);
        if (y && want && y->size == want->size)
            CHECK(!memcmp(y->data, want->data, (size_t)y->size * sizeof(float)));
        CHECK(y && y->ndim == (kind == 1 ? 2 : 3));
        dc_tape_free(t);
        dc_model_free(m);
    }
    dc_tensor_free(x);
}

TEST(rnn_layer_defaults_are_keras) {
    dc_layer *l = dc_layer_from_config("LSTM", (const char *[]){"units"}, (const char *[]){"4"}, 1);
    dc_model *m = one_rnn_model(l, 7, 3, 5);
    int64_t s[4];
    CHECK(dc_layer_output_shape(l, s) == 1 && s[0] == 4);
    CHECK(dc_layer_num_params(l) == 3);
    dc_tensor *k = dc_layer_param(l, 0), *r = dc_layer_param(l, 1), *b = dc_layer_param(l, 2);
    CHECK(k->shape[0] == 3 && k->shape[1] == 16 && r->shape[0] == 4 && r->shape[1] == 16);
    CHECK(b->ndim == 1 && b->shape[0] == 16);
    for (int i = 0; i < 16; i++) CHECK(b->data[i] == (i >= 4 && i < 8 ? 1.0f : 0.0f));
    /* orthogonal: R (4,16) has orthonormal rows */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            double d = 0;
            for (int c = 0; c < 16; c++) d += (double)r->data[i * 16 + c] * r->data[j * 16 + c];
            CHECK_NEAR(d, i == j ? 1.0 : 0.0, 1e-5);
        }
    CHECK(!strcmp(k->name, "lstm/kernel"));
    dc_model_free(m);
    l = dc_layer_from_config("GRU", (const char *[]){"units", "return_sequences"},
                             (const char *[]){"5", "true"}, 2);
    m = one_rnn_model(l, 6, 2, 5);
    b = dc_layer_param(l, 2);
    CHECK(b && b->ndim == 2 && b->shape[0] == 2 && b->shape[1] == 15);
    CHECK(dc_layer_output_shape(l, s) == 2 && s[0] == 6 && s[1] == 5);
    /* orthogonal of a square (5,15)? no: (U,3U) rows orthonormal */
    r = dc_layer_param(l, 1);
    double d = 0;
    for (int c = 0; c < 15; c++) d += (double)r->data[c] * r->data[c];
    CHECK_NEAR(d, 1.0, 1e-5);
    dc_model_free(m);
    l = dc_layer_from_config("GRU", (const char *[]){"units", "reset_after"},
                             (const char *[]){"5", "false"}, 2);
    m = one_rnn_model(l, 6, 2, 5);
    CHECK(dc_layer_param(l, 2)->ndim == 1 && dc_layer_param(l, 2)->shape[0] == 15);
    dc_model_free(m);
    l = dc_layer_from_config("SimpleRNN", (const char *[]){"units", "use_bias"},
                             (const char *[]){"3", "false"}, 2);
    m = one_rnn_model(l, 6, 2, 5);
    CHECK(dc_layer_num_params(l) == 2 && dc_layer_param(l, 1)->shape[1] == 3);
    dc_model_free(m);
}

/* T = -1 (None): the build (which the model calls) gives (-1, U) or (U). */
TEST(rnn_layer_variable_time_builds) {
    for (int seq = 0; seq < 2; seq++) {
        dc_layer *l = dc_layer_lstm(&(dc_rnn_layer_options){.units = 8, .return_sequences = seq});
        l->in_ndim = 2;
        l->in_shape[0] = -1, l->in_shape[1] = 3;
        CHECK_OK(dc_layer_table[l->kind].build(l));
        int64_t s[4];
        if (seq) CHECK(dc_layer_output_shape(l, s) == 2 && s[0] == -1 && s[1] == 8);
        else CHECK(dc_layer_output_shape(l, s) == 1 && s[0] == 8);
        CHECK(l->params[0].shape[0] == 3 && l->params[0].shape[1] == 32);
        dc_layer_free(l);
    }
}

TEST(rnn_layer_bad_options) {
    CHECK(!dc_layer_lstm(&(dc_rnn_layer_options){.units = 0}));
    CHECK_MSG("dc_layer_lstm: LSTM: option 'units': '0' is not an integer");
    CHECK(!dc_layer_gru(&(dc_rnn_layer_options){.units = 3, .activation = "softmax"}));
    CHECK_MSG("GRU: option 'activation': unknown activation 'softmax' (known: tanh");
    CHECK(!dc_layer_simple_rnn(&(dc_rnn_layer_options){.units = 3, .recurrent_activation = "tanh"}));
    CHECK_MSG("SimpleRNN: unknown option 'recurrent_activation'");
    CHECK(!dc_layer_lstm(&(dc_rnn_layer_options){.units = 3, .dropout = 1.0f}));
    CHECK_MSG("option 'dropout'");
    CHECK(!dc_layer_lstm(&(dc_rnn_layer_options){.units = 3, .recurrent_initializer = "eye"}));
    CHECK_MSG("unknown initializer 'eye'");
    CHECK(!dc_layer_from_config("LSTM", (const char *[]){"units", "stateful"},
                                (const char *[]){"3", "true"}, 2));
    CHECK_MSG("'stateful': true is not supported");
    CHECK(!dc_layer_from_config("GRU", NULL, NULL, 0));
    CHECK_MSG("GRU: option 'units' is required");
    dc_model *m = dc_sequential_new("bad_input");
    CHECK_OK(dc_model_add(m, dc_layer_lstm(&(dc_rnn_layer_options){.units = 3})));
    CHECK_ERR(dc_model_build(m, 1, (const int64_t[]){7}, 1), DC_ERR_SHAPE,
              "input (None, 7) must be (None, timesteps, features)");
    dc_model_free(m);
    dc_tensor *h;
    dc_layer *l = dc_layer_lstm(&(dc_rnn_layer_options){.units = 3});
    CHECK_ERR(dc_rnn_layer_states(l, &h, NULL), DC_ERR_STATE, "return_state false");
    dc_layer_free(l);
}

/* The mask travels on with return_sequences and stops otherwise; masked
 * steps change the output as the op says. */
TEST(rnn_layer_uses_and_keeps_the_mask) {
    dc_rng rng;
    dc_rng_seed(&rng, 8);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(2, 4, 3), -1, 1, &rng);
    dc_layer *l = dc_layer_gru(&(dc_rnn_layer_options){.units = 3, .return_sequences = true,
                                                       .return_state = true});
    dc_model *m = one_rnn_model(l, 4, 3, 2);
    dc_tape *t = dc_tape_new(NULL);
    dc_tensor *mask = dc_tape_tensor(t, DC_DIMS(2, 4));
    for (int i = 0; i < 8; i++) mask->data[i] = i == 2 || i == 3 || i == 7 ? 0.0f : 1.0f;
    dc_tensor *xm = dc_mul_scalar(t, x, 1.0f);
    xm->mask = mask;
    dc_tensor *y = dc_model_call(m, t, xm, false);
    CHECK(y && y->mask == mask);
    dc_tensor *h = NULL, *c = NULL;
    CHECK_OK(dc_rnn_layer_states(l, &h, &c));
    CHECK(h && !c);
    if (y && h) {
        for (int j = 0; j < 3; j++) {
            CHECK(y->data[3 * 3 + j] == y->data[1 * 3 + j]); /* repeated */
            CHECK(h->data[j] == y->data[1 * 3 + j]);
            CHECK(h->data[3 + j] == y->data[(4 + 2) * 3 + j]);
        }
    }
    dc_tape_free(t);
    dc_model_free(m);
    l = dc_layer_lstm(&(dc_rnn_layer_options){.units = 3});
    m = one_rnn_model(l, 4, 3, 2);
    t = dc_tape_new(NULL);
    xm = dc_mul_scalar(t, x, 1.0f);
    xm->mask = dc_tape_tensor(t, DC_DIMS(2, 4));
    y = dc_model_call(m, t, xm, false);
    CHECK(y && !y->mask && y->ndim == 2);
    if (y) CHECK(y->data[0] == 0.0f && y->data[5] == 0.0f); /* all padding: 0 */
    dc_tape_free(t);
    dc_model_free(m);
    dc_tensor_free(x);
}

/* 10 steps: long enough that the recurrent kernel is packed (op_rnn.c) */
enum { LM_T = 10 };

/* kind 0 LSTM, 1 GRU, 2 SimpleRNN, 3 LSTM without recurrent dropout (its own
 * path in op_rnn.c: joins_hx) */
static dc_model *lm_model(uint64_t seed, int kind) {
    dc_model *m = dc_sequential_new("lm");
    dc_rnn_layer_options o = {.units = 64, .return_sequences = true, .dropout = 0.2f,
                              .recurrent_dropout = kind == 3 ? 0.0f : 0.3f};
    CHECK_OK(dc_model_add(m, kind % 3 == 0 ? dc_layer_lstm(&o) : kind == 1 ? dc_layer_gru(&o)
                                                                          : dc_layer_simple_rnn(&o)));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 5})));
    CHECK_OK(dc_model_build(m, 2, (const int64_t[]){LM_T, 16}, seed));
    return m;
}

/* steps of Adam on random sequences; returns the final flat weights (caller frees) */
static float *train_steps(dc_model *m, int steps, uint64_t *allocs_after_first) {
    dc_rng rng;
    dc_rng_seed(&rng, 12);
    dc_tensor *x = dc_tensor_uniform(DC_DIMS(32, LM_T, 16), -1, 1, &rng);
    dc_tensor *y = dc_tensor_zeros(DC_DIMS(32 * LM_T));
    for (int i = 0; i < 32 * LM_T; i++) y->data[i] = (float)(i % 5);
    float *w, *g;
    size_t n, ng;
    dc_model_weights(m, &w, &n);
    dc_model_grads(m, &g, &ng);
    dc_optimizer *opt = dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_ADAM}, n);
    dc_tape *t = dc_tape_new(NULL);
    for (int s = 0; s < steps; s++) {
        dc_tape_reset(t);
        dc_model_zero_grad(m);
        dc_tensor *out = dc_model_call(m, t, x, true);
        dc_tensor *logits = dc_reshape(t, out, DC_DIMS(32 * LM_T, 5));
        CHECK_OK(dc_tape_backward(t, dc_sparse_softmax_cross_entropy(t, logits, y)));
        CHECK_OK(dc_optimizer_step(opt, w, g, n));
        if (s == 0 && allocs_after_first) *allocs_after_first = dc_alloc_count();
    }
    if (allocs_after_first && dc_alloc_count() != *allocs_after_first)
        test_fail(__FILE__, __LINE__, "%llu allocations after the first step",
                  (unsigned long long)(dc_alloc_count() - *allocs_after_first));
    float *copy = malloc(n * sizeof *copy);
    memcpy(copy, w, n * sizeof *copy);
    dc_tape_free(t);
    dc_optimizer_free(opt);
    dc_tensor_free(x);
    dc_tensor_free(y);
    return copy;
}

TEST(rnn_layer_training_steps_allocate_nothing_after_the_first) {
    for (int kind = 0; kind < 4; kind++) {
        dc_model *m = lm_model(4, kind);
        uint64_t after = 0;
        free(train_steps(m, 4, &after));
        dc_model_free(m);
    }
}

TEST(rnn_layer_same_weights_for_1_and_2_threads) {
    int keep = dc_get_num_threads();
    for (int kind = 0; kind < 4; kind++) {
        float *w[2];
        size_t n = 0;
        for (int th = 1; th <= 2; th++) {
            dc_set_num_threads(th);
            dc_model *m = lm_model(6, kind);
            float *p;
            dc_model_weights(m, &p, &n);
            w[th - 1] = train_steps(m, 3, NULL);
            dc_model_free(m);
        }
        CHECK(!memcmp(w[0], w[1], n * sizeof(float)));
        free(w[0]);
        free(w[1]);
    }
    dc_set_num_threads(keep);
}

TEST(rnn_layer_save_load_round_trip) {
    char path[512];
    snprintf(path, sizeof path, "%s/rnn_model.safetensors", test_tmpdir());
    dc_model *m = dc_sequential_new("rt");
    CHECK_OK(dc_model_add(m, dc_layer_gru(&(dc_rnn_layer_options){.units = 7, .return_sequences = true,
                                                                  .go_backwards = true})));
    CHECK_OK(dc_model_add(m, dc_layer_lstm(&(dc_rnn_layer_options){.units = 5,
                                                                   .recurrent_activation = "hard_sigmoid"})));
    CHECK_OK(dc_model_add(m, dc_layer_dense(&(dc_dense_options){.units = 2})));
    CHECK_OK(dc_model_build(m, 2, (const int64_t[]){9, 3}, 21));
    CHECK_OK(dc_model_compile(m, &(dc_compile_options){.loss = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY,
                                                       .optimizer = {.kind = DC_OPT_ADAM}}));
    CHECK_OK(dc_model_save(m, path));
    dc_model *m2 = dc_model_load(path);
    CHECK(m2 != NULL);
    if (m2) {
        CHECK(dc_model_num_params(m2) == dc_model_num_params(m));
        dc_rng rng;
        dc_rng_seed(&rng, 1);
        dc_tensor *x = dc_tensor_uniform(DC_DIMS(4, 9, 3), -1, 1, &rng);
        dc_tensor *a = dc_model_predict(m, x, 0), *b = dc_model_predict(m2, x, 0);
        CHECK(a && b && a->size == b->size && !memcmp(a->data, b->data, (size_t)a->size * 4));
        CHECK(!strcmp(dc_layer_type(dc_model_layer(m2, 1)), "LSTM"));
        dc_tensor_free(a);
        dc_tensor_free(b);
        dc_tensor_free(x);
        dc_model_free(m2);
    } else {
        test_fail(__FILE__, __LINE__, "load: %s", dc_last_error());
    }
    dc_model_free(m);
}

/* A model file names the layers by Keras class and options; summary counts as Keras. */
TEST(rnn_layers_in_model_files) {
    const char *text = "[model]\ninput_shape = 100,64\n[data]\ndataset = fashion-mnist\n[train]\noptimizer = adam\n"
                       "loss = sparse_categorical_crossentropy\n"
                       "[LSTM]\nunits = 256\nreturn_sequences = true\n"
                       "[GRU]\nunits = 32\nreset_after = false\nreturn_sequences = true\n"
                       "[SimpleRNN]\nunits = 16\nactivation = relu\n[Dense]\nunits = 10\n";
    dc_run_config *c = dc_run_config_parse(text, "rnn.ini");
    CHECK(c != NULL);
    if (!c) return;
    dc_model *m = dc_run_config_build_model(c, NULL);
    CHECK(m != NULL);
    if (m) {
        CHECK(dc_model_count_params(m) == 328704 + 27744 + 784 + 170);
        char path[512];
        snprintf(path, sizeof path, "%s/rnn_summary.txt", test_tmpdir());
        FILE *f = fopen(path, "w+");
        CHECK_OK(dc_model_summary(m, f));
        rewind(f);
        char buf[4096] = "";
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
        CHECK(strstr(buf, "lstm (LSTM)") && strstr(buf, "(None, 100, 256)") &&
              strstr(buf, "328704") && strstr(buf, "simple_rnn (SimpleRNN)"));
        dc_model_free(m);
    }
    dc_run_config_free(c);
    c = dc_run_config_parse("[model]\ninput_shape = 10,4\n[data]\ndataset = fashion-mnist\n[train]\nloss = mse\n[LSTM]\nunits = 4\nactivation = gelu\n",
                            "bad.ini");
    CHECK(!c);
    CHECK_MSG("unknown activation 'gelu'");
    dc_run_config_free(c);
}
