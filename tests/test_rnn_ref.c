/* test_rnn_ref.c — dc_lstm, dc_gru and dc_simple_rnn against PyTorch's nn.LSTM,
 * nn.GRU and nn.RNN (and a hand-written reset_before GRU) from
 * tests/ref/ref_rnn.py: outputs, final states and every gradient, with and
 * without masks (post-padded), in both directions. */
#include "test.h"

static dc_tensor *clone_grad(const dc_tensor *r) {
    dc_tensor *t = dc_tensor_clone(r);
    dc_tensor_set_requires_grad(t, true);
    return t;
}

static void check_close(const char *what, int ci, const float *got, const dc_tensor *want,
                        int64_t n, double atol, double rtol) {
    if (!want) return;
    if (want->size != n) {
        test_fail(__FILE__, __LINE__, "case %d %s: %lld values, reference %lld", ci, what,
                  (long long)n, (long long)want->size);
        return;
    }
    double r = test_close_ratio(got, want->data, n, atol, rtol);
    if (!(r <= 1.0))
        test_fail(__FILE__, __LINE__, "case %d %s: off by %.3g x tolerance", ci, what, r);
}

/* Runs case ci of the reference file; returns false if it could not run. */
static void run_case(ref_file *f, int ci) {
    char key[64];
#define REF(name) (snprintf(key, sizeof key, "c%d_%s", ci, name), ref_get(f, key))
    const dc_tensor *meta = REF("meta");
    if (!meta) return;
    const int kind = (int)meta->data[0];
    const bool masked = meta->data[5] != 0, back = meta->data[6] != 0,
               has_h0 = meta->data[7] != 0, rb = meta->data[9] != 0;
    const int act = (int)meta->data[8];
    dc_tensor *x = clone_grad(REF("x")), *k = clone_grad(REF("kernel")),
              *r = clone_grad(REF("recurrent_kernel")), *b = clone_grad(REF("bias"));
    dc_tensor *h0 = has_h0 ? clone_grad(REF("h0")) : NULL;
    dc_tensor *c0 = has_h0 && kind == 0 ? clone_grad(REF("c0")) : NULL;
    dc_tensor *mask = dc_tensor_clone(REF("mask"));
    dc_tape *t = dc_tape_new(NULL);
    dc_rnn_options o = {.activation = (dc_rnn_activation)act, .go_backwards = back,
                        .reset_before = rb, .mask = masked ? mask : NULL};
    dc_tensor *y = kind == 0   ? dc_lstm(t, x, k, r, b, h0, c0, &o)
                   : kind == 1 ? dc_gru(t, x, k, r, b, h0, &o)
                               : dc_simple_rnn(t, x, k, r, b, h0, &o);
    dc_tensor *h = dc_rnn_state(t, y, 0), *c = kind == 0 ? dc_rnn_state(t, y, 1) : NULL;
    dc_tensor *sy = dc_tensor_clone(REF("sy")), *sh = dc_tensor_clone(REF("sh")),
              *sc = dc_tensor_clone(REF("sc"));
    dc_tensor *loss = dc_add(t, dc_sum_all(t, dc_mul(t, y, sy)), dc_sum_all(t, dc_mul(t, h, sh)));
    if (c) loss = dc_add(t, loss, dc_sum_all(t, dc_mul(t, c, sc)));
    if (!loss || dc_tape_backward(t, loss) != DC_OK) {
        test_fail(__FILE__, __LINE__, "case %d failed: %s", ci, dc_tape_error(t));
    } else {
        const double at = 2e-5, rt = 1e-4;
        check_close("y", ci, y->data, REF("y"), y->size, at, rt);
        check_close("h", ci, h->data, REF("h"), h->size, at, rt);
        if (c) check_close("c", ci, c->data, REF("c"), c->size, at, rt);
        check_close("dx", ci, x->grad, REF("dx"), x->size, at, rt);
        check_close("dkernel", ci, k->grad, REF("dkernel"), k->size, at, rt);
        check_close("drecurrent_kernel", ci, r->grad, REF("drecurrent_kernel"), r->size, at, rt);
        check_close("dbias", ci, b->grad, REF("dbias"), b->size, at, rt);
        if (h0) check_close("dh0", ci, h0->grad, REF("dh0"), h0->size, at, rt);
        if (c0) check_close("dc0", ci, c0->grad, REF("dc0"), c0->size, at, rt);
    }
#undef REF
    dc_tape_free(t);
    dc_tensor *all[] = {x, k, r, b, h0, c0, mask, sy, sh, sc};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) dc_tensor_free(all[i]);
}

TEST(rnn_matches_pytorch) {
    ref_file *f = ref_load("ref/data/rnn.txt");
    if (!f) return;
    const dc_tensor *n = ref_get(f, "ncases");
    int cases = n ? (int)n->data[0] : 0;
    CHECK(cases >= 15);
    for (int ci = 0; ci < cases; ci++) run_case(f, ci);
    ref_free(f);
}

/* The layers against Keras 3 (tests/ref/ref_rnn_keras.py): masks with holes,
 * go_backwards, return_sequences, hard_sigmoid, both GRU forms. */
TEST(rnn_layers_match_keras) {
    ref_file *f = ref_load("ref/data/rnn_keras.txt");
    if (!f) return;
    const dc_tensor *x = ref_get(f, "x"), *mask = ref_get(f, "mask"), *nc = ref_get(f, "ncases");
    if (!x || !mask || !nc) {
        ref_free(f);
        return;
    }
    const char *types[] = {"LSTM", "GRU", "SimpleRNN"};
    for (int ci = 0; ci < (int)nc->data[0]; ci++) {
        char key[64];
#define REF(name) (snprintf(key, sizeof key, "c%d_%s", ci, name), ref_get(f, key))
        const dc_tensor *meta = REF("meta"), *want = REF("y");
        if (!meta || !want) break;
        const int kind = (int)meta->data[0];
        const char *k[5] = {"units", "go_backwards", "return_sequences"}, *v[5] = {"5"};
        v[1] = meta->data[1] != 0 ? "true" : "false";
        v[2] = meta->data[2] != 0 ? "true" : "false";
        int n = 3;
        if (meta->data[3] != 0) k[n] = "recurrent_activation", v[n++] = "hard_sigmoid";
        if (kind == 1) k[n] = "reset_after", v[n++] = meta->data[4] != 0 ? "true" : "false";
        dc_layer *l = dc_layer_from_config(types[kind], k, v, n);
        dc_model *m = dc_sequential_new("keras_check");
        CHECK_OK(dc_model_add(m, l));
        CHECK_OK(dc_model_build(m, 2, (const int64_t[]){x->shape[1], x->shape[2]}, 1));
        const char *pn[3] = {"kernel", "recurrent_kernel", "bias"};
        for (int i = 0; i < 3; i++) {
            const dc_tensor *src = REF(pn[i]);
            dc_tensor *dst = dc_layer_param(l, i);
            CHECK(src && dst && src->size == dst->size);
            if (src && dst && src->size == dst->size) CHECK_OK(dc_tensor_copy(dst, src));
        }
#undef REF
        dc_tape *t = dc_tape_new(&(dc_tape_options){.no_record = true});
        dc_tensor *xm = dc_tape_tensor(t, x->ndim, x->shape), *mm = dc_tape_tensor(t, 2, mask->shape);
        memcpy(xm->data, x->data, (size_t)x->size * sizeof(float));
        memcpy(mm->data, mask->data, (size_t)mask->size * sizeof(float));
        xm->mask = mm;
        dc_tensor *y = dc_model_call(m, t, xm, false);
        CHECK(y && y->size == want->size);
        if (y && y->size == want->size) {
            double r = test_close_ratio(y->data, want->data, y->size, 2e-6, 1e-5);
            if (!(r <= 1.0))
                test_fail(__FILE__, __LINE__, "Keras case %d (%s): off by %.3g x tolerance", ci,
                          types[kind], r);
        }
        dc_tape_free(t);
        dc_model_free(m);
    }
    ref_free(f);
}
