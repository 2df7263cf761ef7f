/* test_torch.c — deepc model files loaded into equivalent PyTorch modules by the mapping
 * of docs/pytorch.md (tests/ref/ref_torch_load.py) predict what deepc predicts. */
#include "test.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#define TDIR "ref/data/torch/"
#define BATCH 3

static const char *tref(const char *name, const char *ext) {
    static char rel[256];
    snprintf(rel, sizeof rel, TDIR "%s%s", name, ext);
    return test_path(rel);
}

static dc_model *rnn_model(void) {
    dc_model *m = dc_sequential_new("rnn");
    const char *ek[] = {"input_dim", "output_dim"}, *ev[] = {"12", "5"};
    const char *lk[] = {"units", "return_sequences"}, *lv[] = {"6", "true"};
    const char *gk[] = {"units"}, *gv[] = {"4"};
    const char *dk[] = {"units"}, *dv[] = {"3"};
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Embedding", ek, ev, 2)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("LSTM", lk, lv, 2)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("GRU", gk, gv, 1)));
    CHECK_OK(dc_model_add(m, dc_layer_from_config("Dense", dk, dv, 1)));
    CHECK_OK(dc_model_build(m, DC_DIMS(7), 11));
    /* every weight away from its initializer (zero biases would hide a bias mix-up) */
    for (int i = 0; i < dc_model_num_params(m); i++) {
        dc_tensor *t = dc_model_param(m, i);
        for (int64_t k = 0; k < t->size; k++) t->data[k] = (float)(0.5 * sin(k * 1.7 + i * 3.1));
    }
    return m;
}

static void write_floats(const char *path, const float *p, int64_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(p, sizeof *p, (size_t)n, f) == (size_t)n);
    if (f) fclose(f);
}

/* DC_TORCH_REGEN=1 build/test_runner torch_regenerate writes the model files and
 * inputs PyTorch reads: cnn is the CNN deepc trained for the Keras test. */
TEST(torch_regenerate) {
    dc_model *r = rnn_model();
    CHECK(r != NULL);
    if (!getenv("DC_TORCH_REGEN")) {
        dc_model_free(r);
        return;
    }
    CHECK_OK(dc_model_save(r, tref("rnn", ".safetensors")));
    float ids[BATCH * 7];
    for (int i = 0; i < BATCH * 7; i++) ids[i] = (float)((i * 7 + 3) % 12);
    write_floats(tref("rnn", ".input.bin"), ids, BATCH * 7);
    dc_model_free(r);
    dc_model *c = dc_model_load(test_path("ref/data/keras/trained.safetensors"));
    CHECK(c != NULL);
    if (c) CHECK_OK(dc_model_save(c, tref("cnn", ".safetensors")));
    float x[BATCH * 36];
    for (int i = 0; i < BATCH * 36; i++) x[i] = (float)cos(i * 0.29);
    write_floats(tref("cnn", ".input.bin"), x, BATCH * 36);
    dc_model_free(c);
}

static void check_torch(const char *name, int ndim, const int64_t *shape) {
    dc_model *m = dc_model_load(tref(name, ".safetensors"));
    CHECK(m != NULL);
    if (!m) return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *xin = test_read_floats(tref(name, ".input.bin"), n);
    CHECK(xin != NULL);
    dc_tensor *x = xin ? dc_tensor_from_data(ndim, shape, xin) : NULL;
    dc_tensor *y = x ? dc_model_predict(m, x, BATCH) : NULL;
    float *want = y ? test_read_floats(tref(name, ".torch.bin"), y->size) : NULL;
    CHECK(want != NULL);
    for (int64_t k = 0; want && k < y->size; k++) CHECK_NEAR(y->data[k], want[k], 1e-5);
    CHECK(y && y->size == BATCH * 3);
    free(want);
    free(xin);
    dc_tensor_free(y);
    dc_tensor_free(x);
    dc_model_free(m);
}

TEST(torch_mapping_conv_batchnorm_dense) { check_torch("cnn", 4, (const int64_t[]){BATCH, 6, 6, 1}); }
TEST(torch_mapping_embedding_lstm_gru) { check_torch("rnn", 2, (const int64_t[]){BATCH, 7}); }
