/* sequence_tape.c — the GradientTape loop with an LSTM in C: learn to continue a
 * sine wave. Training sees windows of 20 samples and predicts the next sample
 * at every step; then the model continues a wave on its own for 50 steps,
 * feeding each prediction back in and carrying the LSTM's state (h, c). */
#include <deepc.h>
#include <math.h>
#include <stdio.h>

#define T 20          /* steps per training window */
#define BATCH 32
#define UNITS 16
#define STEPS 800     /* Adam steps */
#define AHEAD 50      /* samples to continue on its own */
#define DX 0.3        /* the wave advances 0.3 radians per sample */

/* A parameter of the given shape, filled by a Keras initializer, that wants a gradient. */
static dc_tensor *param(int ndim, const int64_t *shape, const char *init, dc_rng *rng) {
    dc_tensor *p = dc_tensor_zeros(ndim, shape);
    dc_initializer_fill(p, init, rng);
    dc_tensor_set_requires_grad(p, true);
    return p;
}

/* x (B, T) -> y (B, T): y[b][t] = sin(phase_b + (t + 1) DX), the sample after x[b][t]. */
static void windows(dc_tensor *x, dc_tensor *y, dc_rng *rng) {
    for (int64_t b = 0; b < x->shape[0]; b++) {
        double phase = dc_rng_uniform(rng) * 2 * M_PI;
        for (int64_t t = 0; t < T; t++) {
            x->data[b * T + t] = (float)sin(phase + (double)t * DX);
            y->data[b * T + t] = (float)sin(phase + (double)(t + 1) * DX);
        }
    }
}

int main(void) {
    dc_rng rng;
    dc_rng_seed(&rng, 7);
    /* LSTM kernel (1, 4U), recurrent kernel (U, 4U), bias (4U) with the gates in
     * Keras' order i, f, c, o; then a Dense (U -> 1) reads each step's output. */
    dc_tensor *p[5] = {param(DC_DIMS(1, 4 * UNITS), "glorot_uniform", &rng),
                       param(DC_DIMS(UNITS, 4 * UNITS), "orthogonal", &rng),
                       param(DC_DIMS(4 * UNITS), "zeros", &rng),
                       param(DC_DIMS(UNITS, 1), "glorot_uniform", &rng),
                       param(DC_DIMS(1), "zeros", &rng)};
    for (int u = UNITS; u < 2 * UNITS; u++) p[2]->data[u] = 1.0f; /* forget gate open at first */
    dc_optimizer *adam = dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_ADAM,
                                                                   .learning_rate = 0.01f},
                                         4 * UNITS * (1 + UNITS + 1) + UNITS + 1);
    dc_tensor *x = dc_tensor_zeros(DC_DIMS(BATCH, T, 1)), *y = dc_tensor_zeros(DC_DIMS(BATCH, T, 1));
    dc_tape *tape = dc_tape_new(NULL);
    int rc = 0;
    for (int step = 1; step <= STEPS; step++) {
        windows(x, y, &rng);
        dc_tape_reset(tape);
        dc_tensor *h = dc_lstm(tape, x, p[0], p[1], p[2], NULL, NULL, NULL); /* (B, T, U) */
        dc_tensor *pred = dc_dense(tape, h, p[3], p[4], DC_DENSE_ACT_NONE);  /* (B, T, 1) */
        dc_tensor *loss = dc_mse(tape, pred, y);
        if (dc_tape_backward(tape, loss) != DC_OK || dc_optimizer_apply(adam, p, 5) != DC_OK) {
            fprintf(stderr, "step %d: %s\n", step, dc_last_error());
            rc = 1;
            break;
        }
        for (int k = 0; k < 5; k++) dc_tensor_zero_grad(p[k]);
        if (step % 100 == 0) printf("step %3d  loss %.5f\n", step, dc_tensor_item(loss));
    }

    /* Continue a wave: the first T samples go in as one sequence, then one step
     * at a time, each new sample fed back in with the state of the step before. */
    dc_tape *infer = dc_tape_new(&(dc_tape_options){.no_record = true});
    const double phase = 1.0;
    dc_tensor *seed = dc_tape_tensor(infer, DC_DIMS(1, T, 1));
    for (int t = 0; t < T; t++) seed->data[t] = (float)sin(phase + t * DX);
    dc_tensor *out = dc_lstm(infer, seed, p[0], p[1], p[2], NULL, NULL, NULL);
    double err = 0;
    for (int k = 0; k < AHEAD && out; k++) {
        dc_tensor *h = dc_rnn_state(infer, out, 0), *c = dc_rnn_state(infer, out, 1); /* (1, U) */
        dc_tensor *next = dc_dense(infer, h, p[3], p[4], DC_DENSE_ACT_NONE);         /* (1, 1) */
        if (!next) break;
        double truth = sin(phase + (T + k) * DX), d = next->data[0] - truth;
        err += d * d;
        if (k % 10 == 0) printf("t=%2d  predicted %+.3f  true %+.3f\n", T + k, next->data[0], truth);
        dc_tensor *in = dc_reshape(infer, next, 3, (const int64_t[]){1, 1, 1});
        out = dc_lstm(infer, in, p[0], p[1], p[2], h, c, NULL);
    }
    if (dc_tape_status(infer) != DC_OK) {
        fprintf(stderr, "%s\n", dc_tape_error(infer));
        rc = 1;
    }
    double mse = err / AHEAD;
    printf("mse of %d samples continued on its own: %.5f\n", AHEAD, mse);
    if (!(mse < 0.05)) rc = 1;
    dc_tape_free(infer);
    dc_tape_free(tape);
    dc_optimizer_free(adam);
    for (int k = 0; k < 5; k++) dc_tensor_free(p[k]);
    dc_tensor_free(x);
    dc_tensor_free(y);
    return rc;
}
