/* rnn.h — the fused per-step gate kernels of the recurrent ops (LSTM, GRU,
 * SimpleRNN), forward and backward, on raw rows; no tensors. Built once per
 * ISA (rnn_body.h) and chosen at run time. Every element is computed alone, so
 * results never depend on the thread count. */
#ifndef DC_KERNELS_RNN_H
#define DC_KERNELS_RNN_H
#include "../core/cpu.h"

/* Activations of the recurrent ops (the values of dc_rnn_activation, DEFAULT resolved). */
enum { DC_RNN_K_TANH = 1, DC_RNN_K_SIGMOID, DC_RNN_K_RELU, DC_RNN_K_LINEAR, DC_RNN_K_HARD_SIGMOID };

/* One time step over B rows. Every array is addressed as row b at
 * ptr + b * stride (a (B,T,X) array sliced at one step has stride T*X; a
 * (B,U) buffer stride U). Rows whose mask is 0 keep their state: hn = hp,
 * cn = cp, y = yp (0 when yp is NULL or zero_out). Gate rows: LSTM i,f,c,o;
 * GRU z,r,h; SimpleRNN one block. */
typedef struct {
    int64_t B, U;
    int act, ract;             /* DC_RNN_K_*: activation, recurrent activation */
    bool zero_out;             /* masked steps output 0 */
    const float *m; int64_t ms;        /* mask, or NULL (all real) */
    float *g; int64_t gs;              /* gates: pre-activations in, activations out */
    float *r; int64_t rs;              /* GRU: recurrent products (B,3U) / backward dGh */
    const float *hp; int64_t hps;      /* h_{t-1} */
    const float *cp; int64_t cps;      /* LSTM c_{t-1} */
    float *hn; int64_t hns;            /* h_t */
    float *cn; int64_t cns;            /* LSTM c_t */
    float *aux; int64_t auxs;          /* LSTM act(c_t); GRU rec_h (after) or r*hd (before) */
    float *y; int64_t ys;              /* output row of this step */
    const float *yp; int64_t yps;      /* the previous step's output row, or NULL */
    const float *rdm; int64_t rdms;    /* recurrent dropout mask, or NULL */
    /* backward */
    const float *dy; int64_t dys;      /* gradient of this step's output */
    float *carry;                      /* (B,U): gradient of the repeated output */
    float *dh, *dc;                    /* (B,U): gradient of h_t, c_t; dc becomes dc_{t-1} */
    float *pass;                       /* (B,U): the part of dh_{t-1} not through the GEMM */
    float *dg; int64_t dgs;            /* gradient of the gate pre-activations */
} dc_rnn_step;

/* One LSTM time step in the transposed layout (tanh, sigmoid; no mask): each
 * array holds a unit (or gate row) per row and nb batch columns, row n at
 * ptr + n * stride, so the step GEMM's output ct is the gates as they are and
 * h^T is the next step's GEMM operand (no transposes of the gates per step). */
typedef struct {
    int64_t nb, U;
    float *g; int64_t gs;              /* (4U,nb) gates: pre-activations in, activations out */
    const float *cp; int64_t cps;      /* (U,nb) c_{t-1} */
    float *cn; int64_t cns;            /* (U,nb) c_t */
    float *tc; int64_t tcs;            /* (U,nb) tanh(c_t) */
    float *h; int64_t hs;              /* (U,nb) h_t */
    /* backward */
    const float *dh; int64_t dhs;      /* (U,nb) gradient of h_t from the step after */
    const float *dy; int64_t dys;      /* (U,nb) gradient of this step's output */
    float *dc; int64_t dcs;            /* (U,nb) gradient of c_t, becomes that of c_{t-1} */
    float *dg; int64_t dgs;            /* (4U,nb) gradient of the gate pre-activations */
} dc_rnn_tstep;

/* The recurrent GEMM of a step is computed transposed, out^T (N,M) = R^T
 * (N,K) h^T (K,M): the kernel, packed once per call into panels of
 * DC_RNN_TILE output rows, is streamed once per step and the step's few rows
 * (h^T, in L1) are reused by every panel. A panel holds rows j0..j0+TILE-1
 * k-major: element (k, j0+i) at panel[k*TILE + i], zero past the last row. */
#define DC_RNN_TILE 14

typedef struct {
    /* LSTM: g (B,4U) = x W + b + h R -> activations; c, act(c), h, y. */
    void (*lstm_forward)(const dc_rnn_step *s);
    /* -> dg (B,4U), dc := dc_{t-1}, pass, carry */
    void (*lstm_backward)(const dc_rnn_step *s);
    /* GRU reset_after: g (B,3U) = x W + b_in, r (B,3U) = hd R + b_rec -> g: z, r, hh;
     * aux = rec_h; h, y. */
    void (*gru_forward)(const dc_rnn_step *s);
    /* -> dg (B,3U) input-side, r: dGh (B,3U) recurrent side, pass, carry */
    void (*gru_backward)(const dc_rnn_step *s);
    /* GRU reset_before, first half: g[:, :2U] += r (B,2U) (hd R_zr) -> z, r;
     * aux = r * hd (hd = hp, times rdm when given). */
    void (*gru_rb_forward_a)(const dc_rnn_step *s);
    /* second half: g[:, 2U:] += r (B,U) ((r*hd) R_h) -> hh; h, y */
    void (*gru_rb_forward_b)(const dc_rnn_step *s);
    /* first half backward: dg z and h parts, pass, carry */
    void (*gru_rb_backward_a)(const dc_rnn_step *s);
    /* second half: r holds d(r*hd) (B,U) -> dg r part; r := d(r*hd) * r (the
     * direct gradient into hd) */
    void (*gru_rb_backward_b)(const dc_rnn_step *s);
    /* SimpleRNN: g (B,U) = x W + b + h R -> h = act(g) (kept in g), y */
    void (*simple_forward)(const dc_rnn_step *s);
    void (*simple_backward)(const dc_rnn_step *s);
    /* pass (B,U) += rdm * r (B,U), row b of rdm at rdm + b*rdms (the recurrent
     * GEMM's gradient through the dropout mask) */
    void (*add_masked)(const dc_rnn_step *s);
    /* ct (mr,M) with row stride ldc = panel (K,TILE) rows 0..mr-1 times bt (K,M)
     * with row stride ldb, each element summed over k in order (the same bits
     * for any M). */
    void (*tgemm_panel)(int64_t M, int64_t K, int mr, const float *panel, const float *bt,
                        int64_t ldb, float *ct, int64_t ldc);
    /* the same product stored transposed: c (M,mr), row b at c + b*ldc (the
     * step's GEMM in row layout, with no pass over ct) */
    void (*tgemm_panel_rows)(int64_t M, int64_t K, int mr, const float *panel, const float *bt,
                             float *c, int64_t ldc);
    /* bt (K,M) with row stride ldb = a (M,K) transposed; a's row stride lda */
    void (*to_cols)(const float *a, int64_t lda, int64_t M, int64_t K, float *bt, int64_t ldb);
    /* c (M,N) = beta c + ct^T (+ bias (N) when not NULL); ct (N,M); c's row stride ldc */
    void (*from_cols)(const float *ct, int64_t M, int64_t N, float beta, const float *bias,
                      float *c, int64_t ldc);
    /* A weight gradient, columns [j0,j1) of c (M,N) = a^T b (+= when add): a
     * (K,M) and b (K,N) with row strides lda, ldb (K long: every step's rows),
     * c's ldc. K in blocks of DC_RNN_WG_KC in order, so an element's bits do
     * not depend on the column range. ws: the caller's scratch of
     * dc_rnn_wgrad_scratch(M, j1 - j0) floats, 64-byte aligned. bsteps > 0:
     * b is kept by steps of bsteps rows, transposed, element (k,n) at
     * b[k / bsteps * ldb * bsteps + n * bsteps + k % bsteps] (dc_rnn_tstep's
     * dg, ldb its N). NULL in builds without it (the caller uses dc_gemm). */
    void (*wgrad)(int64_t M, int64_t K, const float *a, int64_t lda, const float *b, int64_t ldb,
                  int64_t bsteps, float *c, int64_t ldc, int64_t j0, int64_t j1, bool add,
                  float *ws);
    /* dc_rnn_tstep forward: g -> activations, cn, tc, h; NULL in builds without it */
    void (*lstm_forward_t)(const dc_rnn_tstep *s);
    /* backward: dh + dy, dc -> dg, dc := dc_{t-1} */
    void (*lstm_backward_t)(const dc_rnn_tstep *s);
} dc_rnn_kernels;

/* Rows of a and b per block of the joined weight gradient, and the scratch
 * (floats) one column range of it needs: a block of a in 14-row panels and
 * one of b in 32-column panels. */
#define DC_RNN_WG_KC 256
static inline int64_t dc_rnn_wgrad_scratch(int64_t M, int64_t ncols) {
    return DC_RNN_WG_KC * ((M + 13) / 14 * 14 + (ncols + 31) / 32 * 32);
}

const dc_rnn_kernels *dc_rnn_kernels_get(void);
const dc_rnn_kernels *dc_rnn_kernels_isa(dc_isa isa);
#endif
