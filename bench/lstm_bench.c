/* lstm_bench.c — the fortunes_lstm net at tape level: Embedding(V, 64) ->
 * LSTM(256) or GRU(256) with return_sequences -> Dense(V), windows of T 100,
 * batch 64, Adam, sparse softmax cross-entropy over every position. Prints
 * training tokens/s (best of --reps runs) and inference tokens/s (batch 1, one
 * step at a time with the state carried, as generation does).
 * --cpu also prints to stderr the process CPU time per training token (best
 * rep): on a shared machine it compares builds better than tokens/s.
 * --no-gen skips the inference run.
 * usage: lstm_bench [--cell lstm|gru] [--threads N] [--steps N] [--reps N] [--cpu] [--no-gen] */
#include <deepc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { V = 98, E = 64, U = 256, T = 100, B = 64 };

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    bool gru;
    int G;
    float *flat, *gflat;
    size_t n;
    dc_tensor *emb, *k, *r, *b, *w, *wb;
} net;

static dc_tensor *carve(net *m, size_t *off, int ndim, const int64_t *shape, float scale,
                        dc_rng *rng) {
    dc_tensor *t = dc_tensor_wrap(ndim, shape, m->flat + *off);
    t->grad = m->gflat + *off;
    dc_tensor_set_requires_grad(t, true);
    t->grad = m->gflat + *off; /* wrap owns nothing: the grads are views too */
    for (int64_t i = 0; i < t->size; i++) t->data[i] = (float)((dc_rng_uniform(rng) * 2 - 1) * scale);
    *off += (size_t)t->size;
    return t;
}

static void net_init(net *m, bool gru) {
    memset(m, 0, sizeof *m);
    m->gru = gru;
    m->G = (gru ? 3 : 4) * U;
    const int64_t G = m->G;
    m->n = (size_t)(V * E + E * G + U * G + (gru ? 2 : 1) * G + U * V + V);
    m->flat = calloc(m->n, sizeof(float));
    m->gflat = calloc(m->n, sizeof(float));
    dc_rng rng;
    dc_rng_seed(&rng, 1);
    size_t off = 0;
    m->emb = carve(m, &off, DC_DIMS(V, E), 0.05f, &rng);
    m->k = carve(m, &off, DC_DIMS(E, G), 0.1f, &rng);
    m->r = carve(m, &off, DC_DIMS(U, G), 0.06f, &rng);
    m->b = gru ? carve(m, &off, DC_DIMS(2, G), 0.0f, &rng) : carve(m, &off, DC_DIMS(G), 0.0f, &rng);
    m->w = carve(m, &off, DC_DIMS(U, V), 0.1f, &rng);
    m->wb = carve(m, &off, DC_DIMS(V), 0.0f, &rng);
}

/* ids (B*T) -> logits (B*T, V). Dense on the (B,T,U) sequence as the Dense
 * layer does (a reshape on the tape copies its gradient; the logits' is 4x smaller) */
static dc_tensor *net_forward(net *m, dc_tape *t, dc_tensor *ids, int64_t b, int64_t steps,
                              dc_tensor *h0, dc_tensor *c0) {
    dc_tensor *e = dc_reshape(t, dc_gather(t, m->emb, ids), DC_DIMS(b, steps, E));
    dc_tensor *y = m->gru ? dc_gru(t, e, m->k, m->r, m->b, h0, NULL)
                          : dc_lstm(t, e, m->k, m->r, m->b, h0, c0, NULL);
    return dc_reshape(t, dc_dense(t, y, m->w, m->wb, DC_DENSE_ACT_NONE), DC_DIMS(b * steps, V));
}

int main(int argc, char **argv) {
    bool gru = false;
    int threads = 2, steps = 5, reps = 3;
    bool cpu = false, gen_run = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu")) cpu = true;
        else if (!strcmp(argv[i], "--no-gen")) gen_run = false;
        else if (i + 1 >= argc) break;
        else if (!strcmp(argv[i], "--cell")) gru = !strcmp(argv[i + 1], "gru"), i++;
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]), i++;
        else if (!strcmp(argv[i], "--steps")) steps = atoi(argv[i + 1]), i++;
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]), i++;
    }
    dc_set_num_threads(threads);
    net m;
    net_init(&m, gru);
    dc_tensor *ids = dc_tensor_zeros(DC_DIMS(B * T)), *lab = dc_tensor_zeros(DC_DIMS(B * T));
    dc_rng rng;
    dc_rng_seed(&rng, 2);
    for (int i = 0; i < B * T; i++) {
        ids->data[i] = (float)dc_rng_below(&rng, V);
        lab->data[i] = (float)dc_rng_below(&rng, V);
    }
    dc_optimizer *opt = dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_ADAM,
                                                                 .learning_rate = 1e-3f}, m.n);
    dc_tape *t = dc_tape_new(NULL);
    double best = 1e30, best_cpu = 1e30;
    float loss = 0;
    for (int rep = 0; rep <= reps; rep++) { /* rep 0 warms up */
        double t0 = now(), c0 = cpu_now();
        for (int s = 0; s < steps; s++) {
            dc_tape_reset(t);
            memset(m.gflat, 0, m.n * sizeof(float));
            dc_tensor *l = dc_sparse_softmax_cross_entropy(t, net_forward(&m, t, ids, B, T, NULL, NULL), lab);
            if (!l || dc_tape_backward(t, l) != DC_OK) {
                fprintf(stderr, "lstm_bench: %s\n", dc_tape_error(t));
                return 1;
            }
            loss = dc_tensor_item(l);
            dc_optimizer_step(opt, m.flat, m.gflat, m.n);
        }
        double dt = (now() - t0) / steps, dc = (cpu_now() - c0) / steps;
        if (rep > 0 && dt < best) best = dt;
        if (rep > 0 && dc < best_cpu) best_cpu = dc;
    }
    if (cpu)
        fprintf(stderr, "lstm_bench %s %d threads: CPU %.1f ms per step, %.2f us per token\n",
                gru ? "gru" : "lstm", threads, best_cpu * 1e3, best_cpu * 1e6 / (B * T));
    /* inference: batch 1, one token at a time, the state carried */
    dc_tape *it = dc_tape_new(&(dc_tape_options){.no_record = true});
    dc_tensor *h = dc_tensor_zeros(DC_DIMS(1, U)), *c = dc_tensor_zeros(DC_DIMS(1, U));
    dc_tensor *tok = dc_tensor_zeros(DC_DIMS(1));
    const int gen = gen_run ? 2000 : 0;
    double g0 = now();
    for (int i = 0; i < gen; i++) {
        dc_tape_reset(it);
        dc_tensor *e = dc_reshape(it, dc_gather(it, m.emb, tok), DC_DIMS(1, 1, E));
        dc_tensor *y = gru ? dc_gru(it, e, m.k, m.r, m.b, h, NULL)
                           : dc_lstm(it, e, m.k, m.r, m.b, h, c, NULL);
        dc_tensor *lg = dc_dense(it, dc_reshape(it, y, DC_DIMS(1, U)), m.w, m.wb, DC_DENSE_ACT_NONE);
        memcpy(h->data, dc_rnn_state(it, y, 0)->data, U * sizeof(float));
        if (!gru) memcpy(c->data, dc_rnn_state(it, y, 1)->data, U * sizeof(float));
        int arg = 0;
        for (int v = 1; v < V; v++)
            if (lg->data[v] > lg->data[arg]) arg = v;
        tok->data[0] = (float)arg;
    }
    double gen_tps = gen_run ? gen / (now() - g0) : 0.0;
    printf("deepc,%s,%d,%.0f,%.0f,%.4f\n", gru ? "gru" : "lstm", threads, B * T / best, gen_tps,
           loss);
    return 0;
}
