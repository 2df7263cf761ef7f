/* op_rnn.c — the fused recurrent ops (LSTM, GRU, SimpleRNN) and dc_rnn_state.
 * Forward: the input projection of all steps as one GEMM (LSTM and SimpleRNN:
 * inside each step's GEMM instead, see fuse_x), then per step one recurrent
 * GEMM and one fused gate kernel; backward: the steps in reverse (gate kernel,
 * one GEMM for dh_{t-1}, with dx_t when fused), then one GEMM each for the
 * weights and the input (or one for all weights when joined). Saved arrays are
 * time-major (T,B,X) by input time t, so each step's rows are contiguous for
 * its GEMMs (strided rows, at page multiples, halved their speed) and the
 * final GEMMs pair x (copied time-major), h_{t-1} and the gate gradients row
 * by row, in either direction. */
#include "op.h"
#include "../kernels/gemm.h"
#include "../kernels/reduce.h"
#include "../kernels/rnn.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Inputs: x, kernel, recurrent_kernel, then those present (attrs i[5] bits):
 * bias, h0, c0, mask, recurrent dropout mask. attrs: i[0] activation, i[1]
 * recurrent activation (DC_RNN_K_*), i[2] go_backwards, i[3] reset_before
 * (GRU), i[4] zero_output_for_mask, i[5] the bits below.
 * The output's data is replaced in forward by a block that holds the
 * sequence (B,T,U), then the final states (B,U) each, then (when a gradient
 * is recorded) their gradients: dc_rnn_state reads and feeds them. */
enum { IN_BIAS = 1, IN_H0 = 2, IN_C0 = 4, IN_MASK = 8, IN_RDM = 16 };

typedef struct {
    int kind; /* DC_OP_LSTM, DC_OP_GRU, DC_OP_SIMPLE_RNN */
    int64_t B, T, I, U, G;
    int nst; /* states: 2 for LSTM */
    dc_tensor *x, *w, *r, *bias, *h0, *c0, *mask, *rdm;
} rnn_dims;

/* What forward keeps for backward (arena). (T,B,X) arrays by input time. */
typedef struct {
    float *xt;     /* (T,B,I) x, time-major; backward reuses it for dx */
    float *gates;  /* (T,B,G) gate activations */
    float *hprev;  /* (T,B,U) h entering each step, rows hs apart */
    float *hd;     /* (T,B,U) hprev * recurrent dropout mask, or NULL (= hprev) */
    float *cprev;  /* (T,B,U) LSTM c entering each step */
    float *aux;    /* (T,B,U) LSTM act(c_t); GRU rec_h (reset_after) or r*hd (reset_before) */
    float *rec;    /* (B,G) per-step scratch: GRU recurrent products, backward GEMM output */
    float *zero;   /* (B,U) zeros: the initial state when none is given */
    float *dg;     /* (T,B,G) gate gradients (input side) */
    float *dgh;    /* (T,B,G) GRU reset_after: gate gradients on the recurrent side */
    float *bufs;   /* (4,B,U) backward: dh, pass, dc, carry */
    float *rp;     /* recurrent_kernel as GEMM panels (forward), see pack_panels */
    float *rtp;    /* its transpose as panels (backward) */
    float *tbuf;   /* (2,B,W) the step GEMMs' transposed operands, rows b at b*W (scratch_w) */
    /* joins_hx: hprev rows are [h_{t-1}, x_t, 1] (xt points into them), so one
     * GEMM over all steps gives the gradients of R, W and b at once, into dwr */
    int64_t hs, xs; /* row strides of hprev and xt */
    float *dwr;     /* (U+I+1,G) that GEMM's result */
    float *wgs;     /* its kernel's scratch, wg_nt column ranges (rnn.h wgrad) */
    int wg_nt;
    /* the transposed LSTM path (see takes_tpath): gates, aux, cprev and dg
     * are kept (T,X,B), a unit per row, the batch along it */
    bool tpath;
} rnn_saved;

/* The per-step GEMMs read the recurrent kernel 100s of times, so it is
 * packed once per op call into panels of DC_RNN_TILE output columns (rnn.h)
 * and each step's GEMM runs transposed on them (the kernel streamed once, the
 * step's rows reused from L1), through two small transposes of the rows. */
/* Packing pays over many steps; a call of one step (generation, batch 1)
 * reads the kernel in place instead. */
#define RNN_PACK_MIN_T 8

static int64_t panels_size(int64_t K, int64_t N) {
    return K * ((N + DC_RNN_TILE - 1) / DC_RNN_TILE) * DC_RNN_TILE;
}

/* LSTM and SimpleRNN, packed: the input kernel shares the panels (rnn_run) */
static bool fuses_x(const rnn_dims *d) {
    return d->T >= RNN_PACK_MIN_T && (d->kind == DC_OP_LSTM || d->kind == DC_OP_SIMPLE_RNN);
}

/* fuses_x without recurrent dropout (whose GEMM operand is not h itself) */
static bool joins_hx(const rnn_dims *d) { return fuses_x(d) && !d->rdm; }

/* Floats per batch row of each step-GEMM scratch block: its K or N at most */
static int64_t scratch_w(const rnn_dims *d) { return DC_MAX(d->G, d->U + d->I + 1); }

/* A block of a (K,N) matrix to be packed into panels: rows k0..k0+kn-1,
 * columns j0..j0+jn-1, element (k,j) at src[k*ld + j] (src[j*ld + k] when
 * trans; 0 when src is NULL). A matrix is packed from up to three blocks, so
 * the kernel and the input kernel (and the bias) can share its panels. */
typedef struct {
    const float *src;
    int64_t ld;
    bool trans;
    int64_t k0, kn, j0, jn;
} pack_part;

/* One matrix (K,N) into the panels at dst; a call packs one or two */
typedef struct {
    float *dst;
    int64_t K, N;
    int nparts;
    pack_part part[3];
} pack_job;

typedef struct {
    int njobs;
    pack_job job[2];
} pack_plan;

// panel p of job j: its columns of every block, zero past N
static void pack_panel(const pack_job *j, int64_t p) {
    const int64_t K = j->K, J0 = p * DC_RNN_TILE, w = DC_MIN((int64_t)DC_RNN_TILE, j->N - J0);
    float *pan = j->dst + J0 * K;
    if (w < DC_RNN_TILE) memset(pan, 0, (size_t)(DC_RNN_TILE * K) * sizeof(float));
    for (int i = 0; i < j->nparts; i++) {
        const pack_part *q = &j->part[i];
        const int64_t lo = DC_MAX(J0, q->j0), hi = DC_MIN(J0 + w, q->j0 + q->jn);
        if (lo >= hi) continue;
        float *at = pan + q->k0 * DC_RNN_TILE - J0;
        if (q->trans) /* loops in the order src is stored */
            for (int64_t c = lo; c < hi; c++) {
                const float *col = q->src + (c - q->j0) * q->ld;
                for (int64_t k = 0; k < q->kn; k++) at[k * DC_RNN_TILE + c] = col[k];
            }
        else
            for (int64_t k = 0; k < q->kn; k++) {
                float *row = at + k * DC_RNN_TILE;
                if (q->src)
                    memcpy(row + lo, q->src + k * q->ld + lo - q->j0,
                           (size_t)(hi - lo) * sizeof(float));
                else memset(row + lo, 0, (size_t)(hi - lo) * sizeof(float));
            }
    }
}

/* Every panel of the plan's matrices: by each thread of the op's own team
 * (team: the panels shared out, a barrier after each matrix), or by one
 * thread alone (which may be inside a caller's team: no work-sharing then). */
static void pack_run(const pack_plan *pl, bool team) {
    for (int i = 0; i < pl->njobs; i++) {
        const pack_job *j = &pl->job[i];
        const int64_t np = (j->N + DC_RNN_TILE - 1) / DC_RNN_TILE;
        if (!team) {
            for (int64_t p = 0; p < np; p++) pack_panel(j, p);
            continue;
        }
#pragma omp for schedule(static)
        for (int64_t p = 0; p < np; p++) pack_panel(j, p);
    }
}

/* The recurrent kernel for a GEMM: packed panels, or (raw) its (K,N) or, when
 * trans, its transpose read in place with row stride ld. */
typedef struct {
    const float *panels, *raw;
    int64_t ld;
    bool trans;
} rnn_rk;

/* A thread's step GEMM: its kernels and its two scratch blocks for the
 * transposed operands ((K,M) and (N,M), each at most (G, its rows)). */
typedef struct {
    const dc_rnn_kernels *k;
    float *bt, *ct;
    bool par; /* the panels may be shared among threads */
} rnn_gemm_ctx;

/* One block of rows of the step GEMM's left operand: a (M,k) with row stride
 * lda; a NULL block is one row of ones (it meets the bias row of the panels). */
typedef struct {
    const float *a;
    int64_t lda, k;
} rnn_part;

// panel p of ct (N,M) = panels^T (N,K) @ bt (K,M); or, rows given, of its transpose rows (M,N)
static inline void tgemm_panel_at(const dc_rnn_kernels *k, int64_t M, int64_t N, int64_t K,
                                  const float *panels, const float *bt, float *ct, float *rows,
                                  int64_t ldr, int64_t p) {
    const int64_t j0 = p * DC_RNN_TILE;
    const int mr = (int)DC_MIN((int64_t)DC_RNN_TILE, N - j0);
    if (rows) k->tgemm_panel_rows(M, K, mr, panels + j0 * K, bt, rows + j0, ldr);
    else k->tgemm_panel(M, K, mr, panels + j0 * K, bt, M, ct + j0 * M, M);
}

/* ct (N,M) = panels^T (N,K) @ [parts]^T (K,M), K the parts' k summed; or,
 * when rows is not NULL, its transpose straight into rows (M,N), row stride ldr */
static void rec_gemm_ct(const rnn_gemm_ctx *x, int64_t M, int64_t N, int np_, const rnn_part *parts,
                        const float *panels, float *rows, int64_t ldr) {
    const dc_rnn_kernels *k = x->k;
    int64_t K = 0;
    for (int i = 0; i < np_; i++) {
        if (parts[i].a) k->to_cols(parts[i].a, parts[i].lda, M, parts[i].k, x->bt + K * M, M);
        else
            for (int64_t j = 0; j < M; j++) x->bt[K * M + j] = 1.0f;
        K += parts[i].a ? parts[i].k : 1;
    }
    const int64_t np = (N + DC_RNN_TILE - 1) / DC_RNN_TILE;
    bool par = x->par && np > 1 && (double)M * (double)N * (double)K >= (double)(1 << 20);
#ifdef _OPENMP
    par = par && omp_get_max_threads() > 1;
#endif
    const float *bt = x->bt;
    float *ct = x->ct;
    if (!par) { /* no region at all: even a serialized one costs a team setup per step */
        for (int64_t p = 0; p < np; p++) tgemm_panel_at(k, M, N, K, panels, bt, ct, rows, ldr, p);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < np; p++) tgemm_panel_at(k, M, N, K, panels, bt, ct, rows, ldr, p);
}

// C (M,N) = A (M,K) @ R (K,N) + beta C (+ bias)
static void rec_gemm(const rnn_gemm_ctx *x, int64_t M, int64_t N, int64_t K, const float *A,
                     int64_t lda, rnn_rk rk, float beta, float *C, int64_t ldc,
                     const float *bias) {
    if (!rk.panels) {
        dc_gemm_epilogue ep = {.bias = bias, .act = DC_EPI_NONE};
        dc_gemm_ex(false, rk.trans, M, N, K, 1.0f, A, lda, rk.raw, rk.ld, beta, C, ldc, &ep);
        return;
    }
    const rnn_part part = {A, lda, K};
    rec_gemm_ct(x, M, N, 1, &part, rk.panels, NULL, 0);
    x->k->from_cols(x->ct, M, N, beta, bias, C, ldc);
}

static int gate_count(int op) { return op == DC_OP_LSTM ? 4 : op == DC_OP_GRU ? 3 : 1; }

static rnn_dims rnn_get_dims(const dc_node *n) {
    rnn_dims d;
    memset(&d, 0, sizeof d);
    d.kind = n->op;
    d.x = n->in[0], d.w = n->in[1], d.r = n->in[2];
    int k = 3, f = (int)n->a.i[5];
    if ((f & IN_BIAS) && k < n->n_in) d.bias = n->in[k++];
    if ((f & IN_H0) && k < n->n_in) d.h0 = n->in[k++];
    if ((f & IN_C0) && k < n->n_in) d.c0 = n->in[k++];
    if ((f & IN_MASK) && k < n->n_in) d.mask = n->in[k++];
    if ((f & IN_RDM) && k < n->n_in) d.rdm = n->in[k++];
    d.B = d.x->ndim == 3 ? d.x->shape[0] : 0;
    d.T = d.x->ndim == 3 ? d.x->shape[1] : 0;
    d.I = d.x->ndim == 3 ? d.x->shape[2] : 0;
    d.U = d.r->ndim == 2 ? d.r->shape[0] : 0;
    d.G = gate_count(n->op) * d.U;
    d.nst = n->op == DC_OP_LSTM ? 2 : 1;
    return d;
}

static int popcount5(int f) {
    int c = 0;
    for (int i = 0; i < 5; i++) c += (f >> i) & 1;
    return c;
}

static dc_status shape_err(const char *fn, const char *what, const dc_tensor *a, const char *want,
                           const dc_tensor *x) {
    char sa[128], sx[128];
    return dc_set_error(DC_ERR_SHAPE, "%s: %s %s must be %s (x %s)", fn, what,
                        dc_shape_string(a->ndim, a->shape, sa, sizeof sa), want,
                        dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
}

static bool is2(const dc_tensor *t, int64_t a, int64_t b) {
    return t->ndim == 2 && t->shape[0] == a && t->shape[1] == b;
}

// x (B,T,I), kernel (I,G), recurrent_kernel (U,G) ... -> (B,T,U)
dc_status dc_rnn_shape(const dc_node *n, int *ndim, int64_t *shape) {
    const char *fn = dc_op_fn_name(n->op);
    const int f = (int)n->a.i[5];
    if (n->n_in != 3 + popcount5(f))
        return dc_set_error(DC_ERR_ARG, "%s: %d inputs for the options given", fn, n->n_in);
    for (int i = 0; i < 2; i++)
        if (n->a.i[i] < DC_RNN_K_TANH || n->a.i[i] > DC_RNN_K_HARD_SIGMOID)
            return dc_set_error(DC_ERR_ARG, "%s: %s %lld is not a dc_rnn_activation", fn,
                                i ? "recurrent_activation" : "activation",
                                (long long)n->a.i[i]);
    rnn_dims d = rnn_get_dims(n);
    char s1[128], s2[128], want[96];
    if (d.x->ndim != 3)
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s must be (batch, time, features)", fn,
                            dc_shape_string(d.x->ndim, d.x->shape, s1, sizeof s1));
    if (d.r->ndim != 2 || d.r->shape[0] < 1 || d.r->shape[1] != d.G)
        return dc_set_error(DC_ERR_SHAPE, "%s: recurrent_kernel %s must be (units, %d*units)", fn,
                            dc_shape_string(d.r->ndim, d.r->shape, s1, sizeof s1),
                            gate_count(n->op));
    if (!is2(d.w, d.I, d.G))
        return dc_set_error(DC_ERR_SHAPE, "%s: kernel %s must be (%lld, %lld) for x %s and "
                            "recurrent_kernel (%lld, %lld)", fn,
                            dc_shape_string(d.w->ndim, d.w->shape, s1, sizeof s1),
                            (long long)d.I, (long long)d.G,
                            dc_shape_string(d.x->ndim, d.x->shape, s2, sizeof s2),
                            (long long)d.U, (long long)d.G);
    if (d.bias) {
        bool two = n->op == DC_OP_GRU && !n->a.i[3];
        bool ok = two ? is2(d.bias, 2, d.G) : d.bias->ndim == 1 && d.bias->shape[0] == d.G;
        if (!ok) {
            snprintf(want, sizeof want, two ? "(2, %lld)" : "(%lld)", (long long)d.G);
            return shape_err(fn, "bias", d.bias, want, d.x);
        }
    }
    snprintf(want, sizeof want, "(%lld, %lld)", (long long)d.B, (long long)d.U);
    if (d.h0 && !is2(d.h0, d.B, d.U)) return shape_err(fn, "h0", d.h0, want, d.x);
    if (d.c0 && !is2(d.c0, d.B, d.U)) return shape_err(fn, "c0", d.c0, want, d.x);
    if (d.rdm && !is2(d.rdm, d.B, d.U))
        return shape_err(fn, "recurrent_dropout_mask", d.rdm, want, d.x);
    if (d.mask && !is2(d.mask, d.B, d.T)) {
        snprintf(want, sizeof want, "(%lld, %lld)", (long long)d.B, (long long)d.T);
        return shape_err(fn, "mask", d.mask, want, d.x);
    }
    *ndim = 3;
    shape[0] = d.B, shape[1] = d.T, shape[2] = d.U;
    return DC_OK;
}

/* Threads for the joined weight gradient: ranges of 32-column panels, each
 * range summed whole by one thread. */
static int wgrad_threads(int64_t G) {
#ifdef _OPENMP
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    return (int)DC_MAX(1, DC_MIN((int64_t)nt, (G + 31) / 32 / 4));
#else
    (void)G;
    return 1;
#endif
}

static float *alloc_f(dc_node *n, int64_t count) {
    return dc_node_alloc(n, (size_t)(count > 0 ? count : 1) * sizeof(float));
}

/* The arrays of rnn_saved this op needs; the gradient ones only when recorded. */
static dc_status rnn_alloc(dc_node *n, const rnn_dims *d, rnn_saved *s, bool grad) {
    const int64_t BT = d->B * d->T, BU = d->B * d->U;
    memset(s, 0, sizeof *s);
    const bool join = joins_hx(d);
    s->hs = join ? d->U + d->I + 1 : d->U;
    s->xs = join ? s->hs : d->I;
    s->hprev = alloc_f(n, BT * s->hs);
    s->xt = join ? s->hprev + d->U : alloc_f(n, BT * d->I);
    s->gates = alloc_f(n, BT * d->G);
    s->hd = d->rdm ? alloc_f(n, BT * d->U) : NULL;
    s->cprev = d->kind == DC_OP_LSTM ? alloc_f(n, BT * d->U) : NULL;
    s->aux = d->kind != DC_OP_SIMPLE_RNN ? alloc_f(n, BT * d->U) : NULL;
    s->rec = alloc_f(n, d->B * d->G);
    s->zero = alloc_f(n, BU);
    /* reset_before packs two parts, each rounded up to whole panels */
    const int64_t U = d->U, G = d->G;
    const bool packed = d->T >= RNN_PACK_MIN_T;
    const int64_t I = d->I, Kf = fuses_x(d) ? U + I + 1 : U;
    s->rp = packed ? alloc_f(n, DC_MAX(panels_size(Kf, G), panels_size(U, 2 * U) + panels_size(U, U)))
                   : NULL;
    s->tbuf = packed ? alloc_f(n, 2 * d->B * scratch_w(d)) : NULL;
    if ((packed && (!s->rp || !s->tbuf)) || !s->xt || !s->gates || !s->hprev || (d->rdm && !s->hd) || (d->kind == DC_OP_LSTM && !s->cprev) ||
        (d->kind != DC_OP_SIMPLE_RNN && !s->aux) || !s->rec || !s->zero)
        return DC_ERR_NOMEM;
    memset(s->zero, 0, (size_t)BU * sizeof(float));
    if (grad) {
        s->dg = alloc_f(n, BT * d->G);
        s->dgh = d->kind == DC_OP_GRU ? alloc_f(n, BT * d->G) : NULL;
        s->bufs = alloc_f(n, 4 * BU);
        s->dwr = join ? alloc_f(n, s->hs * G) : NULL;
        if (dc_rnn_kernels_get()->wgrad) {
            s->wg_nt = wgrad_threads(G);
            s->wgs = alloc_f(n, s->wg_nt * dc_rnn_wgrad_scratch(DC_MAX(s->hs, d->I), G));
            if (!s->wgs) return DC_ERR_NOMEM;
        }
        s->rtp = packed ? alloc_f(n, DC_MAX(panels_size(G, U + (fuses_x(d) ? I : 0)),
                                            panels_size(2 * U, U) + panels_size(U, U)))
                        : NULL;
        if ((packed && !s->rtp) || (join && !s->dwr) || !s->dg || (d->kind == DC_OP_GRU && !s->dgh) || !s->bufs) return DC_ERR_NOMEM;
    }
    return DC_OK;
}

static dc_status check_mask(const rnn_dims *d) {
    if (!d->mask) return DC_OK;
    const float *m = d->mask->data;
    for (int64_t i = 0; i < d->mask->size; i++)
        if (m[i] != 0.0f && m[i] != 1.0f)
            return dc_set_error(DC_ERR_ARG,
                                "%s: mask[%lld][%lld] is %g; a mask holds 1 (real step) or 0 "
                                "(padding)",
                                d->kind == DC_OP_LSTM  ? "dc_lstm"
                                : d->kind == DC_OP_GRU ? "dc_gru"
                                                       : "dc_simple_rnn",
                                (long long)(i / d->T), (long long)(i % d->T), (double)m[i]);
    return DC_OK;
}

/* Final states after the sequence: ext + BTU + k*BU; gradients after them. */
static float *state_ptr(const rnn_dims *d, float *ext, int k) {
    return ext + d->B * d->T * d->U + (int64_t)k * d->B * d->U;
}

// x (B,T,I) -> xt (T,B,I), rows xs apart, each followed by a 1 when ones
static void transpose_bt(const float *x, int64_t B, int64_t T, int64_t I, float *xt, int64_t xs,
                         bool ones) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t b = 0; b < B; b++) {
            float *row = xt + (t * B + b) * xs;
            memcpy(row, x + (b * T + t) * I, (size_t)I * sizeof(float));
            if (ones) row[I] = 1.0f;
        }
}

static int64_t step_time(const dc_node *n, int64_t T, int64_t s) {
    return n->a.i[2] ? T - 1 - s : s;
}

/* One op call's pieces for the step loops over a range of batch rows. */
typedef struct {
    const dc_node *n;
    const rnn_dims *d;
    rnn_saved *s;
    float *ext;
    rnn_rk rk_all, rk_h; /* forward: R; backward: R^T */
    const float *rec_bias;
    bool gru_after, gru_before;
    const dc_rnn_kernels *k;
    /* LSTM and SimpleRNN sum x W + b and h R: packed, each step's GEMM does
     * both (forward: panels of [R; W; b] over [h; x_t; 1]; backward, when x
     * has a gradient: of [R^T | W^T], dh and dx_t at once) */
    bool fuse_x;
} rnn_run;

/* Threads for the step loops: batch rows are independent through time, so
 * each thread runs every step on its own rows with no barrier per step (a
 * barrier per step costs a time slice when the machine is busy); each row's
 * arithmetic is the same whatever the split, so the bits are too. */
#define RNN_MIN_ROWS 8
static int rnn_threads(int64_t B) {
#ifdef _OPENMP
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    return (int)DC_MAX(1, DC_MIN((int64_t)nt, B / RNN_MIN_ROWS));
#else
    (void)B;
    return 1;
#endif
}

/* The transposed path (rnn.h dc_rnn_tstep): an LSTM with the default
 * activations, no mask and no recurrent dropout, packed and joined, in a
 * build with its kernels, whose step GEMMs would not share out panels
 * (every thread has rows, or there is one). Each step's GEMM then writes the
 * gates as the gate kernel reads them and reads h^T as that kernel writes it;
 * only h (out) and dy (in) are transposed per step, not the gates. */
static bool takes_tpath(const dc_node *n, const rnn_dims *d, const dc_rnn_kernels *k) {
    if (d->kind != DC_OP_LSTM || !joins_hx(d) || d->mask || n->a.i[0] != DC_RNN_K_TANH ||
        n->a.i[1] != DC_RNN_K_SIGMOID || !k->lstm_forward_t || !k->wgrad)
        return false;
#ifdef _OPENMP
    return rnn_threads(d->B) > 1 || omp_in_parallel() || omp_get_max_threads() == 1;
#else
    return true;
#endif
}

// every panel of ct (N,M) (row stride ldc) = panels^T (N,K) @ bt (K,M) (row stride ldb)
static void tgemm_all(const dc_rnn_kernels *k, int64_t M, int64_t N, int64_t K,
                      const float *panels, const float *bt, int64_t ldb, float *ct, int64_t ldc) {
    for (int64_t j0 = 0; j0 < N; j0 += DC_RNN_TILE)
        k->tgemm_panel(M, K, (int)DC_MIN((int64_t)DC_RNN_TILE, N - j0), panels + j0 * K, bt, ldb,
                       ct + j0 * ldc, ldc);
}

/* rows [b0,b1) of every step, forward, transposed: bt (hs,nb) = [h; x_t; 1]^T
 * in the thread's scratch, its h rows written by each step's gate kernel */
static void forward_rows_t(const rnn_run *r, int64_t b0, int64_t b1) {
    const dc_node *n = r->n;
    const rnn_dims d = *r->d;
    rnn_saved *s = r->s;
    const dc_rnn_kernels *k = r->k;
    const int64_t B = d.B, T = d.T, U = d.U, I = d.I, G = d.G, BU = B * U, nb = b1 - b0;
    const int64_t hs = s->hs, W = scratch_w(&d);
    if (nb <= 0) return;
    float *bt = s->tbuf + b0 * W, *clast = s->tbuf + (B + b0) * W;
    float *hT = state_ptr(&d, r->ext, 0), *cT = state_ptr(&d, r->ext, 1);
    const float *c0 = d.c0 ? d.c0->data : s->zero;
    const int64_t t0 = step_time(n, T, 0);
    k->to_cols(s->hprev + (t0 * B + b0) * hs, hs, nb, U, bt, nb);
    k->to_cols(c0 + b0 * U, U, nb, U, s->cprev + t0 * BU + b0, B);
    for (int64_t j = 0; j < nb; j++) bt[(U + I) * nb + j] = 1.0f;
    for (int64_t sp = 0; sp < T; sp++) {
        const int64_t t = step_time(n, T, sp);
        const bool last = sp == T - 1;
        const int64_t tn = last ? 0 : step_time(n, T, sp + 1);
        k->to_cols(s->xt + (t * B + b0) * s->xs, s->xs, nb, I, bt + U * nb, nb);
        float *g = s->gates + t * B * G + b0;
        tgemm_all(k, nb, G, hs, r->rk_all.panels, bt, nb, g, B);
        const dc_rnn_tstep ts = {
            .nb = nb, .U = U, .g = g, .gs = B,
            .cp = s->cprev + t * BU + b0, .cps = B,
            .cn = last ? clast : s->cprev + tn * BU + b0, .cns = last ? nb : B,
            .tc = s->aux + t * BU + b0, .tcs = B, .h = bt, .hs = nb,
        };
        k->lstm_forward_t(&ts);
        /* h as rows: the output, copied to the next step's row of hprev (or the final state) */
        float *y = r->ext + b0 * T * U + sp * U;
        float *hn = last ? hT + b0 * U : s->hprev + (tn * B + b0) * hs;
        k->from_cols(bt, nb, U, 0.0f, NULL, y, T * U);
        for (int64_t b = 0; b < nb; b++)
            memcpy(hn + b * (last ? U : hs), y + b * T * U, (size_t)U * sizeof(float));
    }
    k->from_cols(clast, nb, U, 0.0f, NULL, cT + b0 * U, U);
}

/* rows [b0,b1) of every step in reverse, backward, transposed: ct (U[+I],nb)
 * holds dh^T (and dx_t^T), the step GEMM's output; the (4,B,U) buffers hold
 * dh, dy^T, dc and dc^T. Leaves the gradients of h0 and c0 as rows in dh, dc. */
static void backward_rows_t(const rnn_run *r, int64_t b0, int64_t b1) {
    const dc_node *n = r->n;
    const rnn_dims d = *r->d;
    rnn_saved *s = r->s;
    const dc_rnn_kernels *k = r->k;
    const int64_t B = d.B, T = d.T, U = d.U, I = d.I, G = d.G, BU = B * U, nb = b1 - b0;
    const int64_t W = scratch_w(&d), N = U + (r->fuse_x ? I : 0);
    if (nb <= 0) return;
    float *dh = s->bufs + b0 * U, *dyT = s->bufs + BU + b0 * U, *dc = s->bufs + 2 * BU + b0 * U,
          *dcT = s->bufs + 3 * BU + b0 * U, *ct = s->tbuf + (B + b0) * W;
    k->to_cols(dh, U, nb, U, ct, nb);
    k->to_cols(dc, U, nb, U, dcT, nb);
    for (int64_t sp = T - 1; sp >= 0; sp--) {
        const int64_t t = step_time(n, T, sp);
        k->to_cols(n->out->grad + b0 * T * U + sp * U, T * U, nb, U, dyT, nb);
        float *dg = s->dg + t * B * G + b0;
        const dc_rnn_tstep ts = {
            .nb = nb, .U = U, .g = s->gates + t * B * G + b0, .gs = B,
            .cp = s->cprev + t * BU + b0, .cps = B, .tc = s->aux + t * BU + b0, .tcs = B,
            .dh = ct, .dhs = nb, .dy = dyT, .dys = nb, .dc = dcT, .dcs = nb, .dg = dg, .dgs = B,
        };
        k->lstm_backward_t(&ts);
        tgemm_all(k, nb, N, G, r->rk_all.panels, dg, B, ct, nb);
        if (r->fuse_x)
            k->from_cols(ct + U * nb, nb, I, 1.0f, NULL, d.x->grad + (b0 * T + t) * I, T * I);
    }
    k->from_cols(ct, nb, U, 0.0f, NULL, dh, U);
    k->from_cols(dcT, nb, U, 0.0f, NULL, dc, U);
}

// rows [b0,b1) of every step, forward; par: the GEMMs may use threads
static void forward_rows(const rnn_run *r, int64_t b0, int64_t b1, bool par) {
    const dc_node *n = r->n;
    const rnn_dims *dp = r->d;
    const rnn_dims d = *dp;
    rnn_saved *s = r->s;
    float *ext = r->ext;
    const int64_t B = d.B, T = d.T, U = d.U, G = d.G, BU = B * U, BG = B * G, nb = b1 - b0;
    const bool gru_after = r->gru_after, gru_before = r->gru_before;
    const rnn_rk rk_all = r->rk_all, rk_h = r->rk_h;
    const float *rec_bias = r->rec_bias;
    const dc_rnn_kernels *k = r->k;
    float *hT = state_ptr(&d, ext, 0), *cT = d.nst == 2 ? state_ptr(&d, ext, 1) : NULL;
    if (nb <= 0) return;
    const int64_t W = scratch_w(&d), hs = s->hs;
    const rnn_gemm_ctx gx = {k, s->tbuf ? s->tbuf + b0 * W : NULL,
                             s->tbuf ? s->tbuf + (B + b0) * W : NULL, par};
    for (int64_t sp = 0; sp < T; sp++) {
        const int64_t t = step_time(n, T, sp);
        const bool last = sp == T - 1;
        const int64_t tn = last ? 0 : step_time(n, T, sp + 1);
        dc_rnn_step st_ = {
            .B = nb, .U = U, .act = (int)n->a.i[0], .ract = (int)n->a.i[1],
            .zero_out = n->a.i[4] != 0,
            .m = d.mask ? d.mask->data + b0 * T + t : NULL, .ms = T,
            .g = s->gates + t * BG + b0 * G, .gs = G,
            .r = s->rec + b0 * G, .rs = gru_before ? 2 * U : G,
            .hp = s->hprev + (t * B + b0) * hs, .hps = hs,
            .cp = s->cprev ? s->cprev + t * BU + b0 * U : NULL, .cps = U,
            .hn = last ? hT + b0 * U : s->hprev + (tn * B + b0) * hs, .hns = last ? U : hs,
            .cn = !s->cprev ? NULL : (last ? cT : s->cprev + tn * BU) + b0 * U, .cns = U,
            .aux = s->aux ? s->aux + t * BU + b0 * U : NULL, .auxs = U,
            .y = ext + b0 * T * U + sp * U, .ys = T * U,
            .yp = sp ? ext + b0 * T * U + (sp - 1) * U : NULL, .yps = T * U,
            .rdm = d.rdm ? d.rdm->data + b0 * U : NULL, .rdms = U,
        };
        /* the recurrent GEMM's left operand: h_{t-1}, through the dropout mask */
        const float *A = st_.hp;
        int64_t lda = hs;
        if (d.rdm) {
            float *hd = s->hd + t * BU + b0 * U;
            for (int64_t b = 0; b < nb; b++)
                for (int64_t u = 0; u < U; u++)
                    hd[b * U + u] = A[b * hs + u] * d.rdm->data[(b0 + b) * U + u];
            A = hd, lda = U;
        }
        if (r->fuse_x) {
            /* joined rows carry x_t and the 1 after h: one part */
            const rnn_part parts[3] = {{A, lda, d.rdm ? U : hs},
                                       {s->xt + (t * B + b0) * s->xs, s->xs, d.I}, {NULL, 0, 1}};
            rec_gemm_ct(&gx, nb, G, d.rdm ? 3 : 1, parts, rk_all.panels, st_.g, G);
            if (d.kind == DC_OP_LSTM) k->lstm_forward(&st_);
            else k->simple_forward(&st_);
        } else if (d.kind == DC_OP_LSTM || d.kind == DC_OP_SIMPLE_RNN) {
            rec_gemm(&gx, nb, G, U, A, lda, rk_all, 1.0f, st_.g, G, NULL);
            if (d.kind == DC_OP_LSTM) k->lstm_forward(&st_);
            else k->simple_forward(&st_);
        } else if (gru_after) {
            rec_gemm(&gx, nb, G, U, A, lda, rk_all, 0.0f, st_.r, G, rec_bias);
            k->gru_forward(&st_);
        } else {
            rec_gemm(&gx, nb, 2 * U, U, A, lda, rk_all, 0.0f, st_.r, 2 * U, NULL);
            k->gru_rb_forward_a(&st_);
            st_.rs = U;
            rec_gemm(&gx, nb, U, U, st_.aux, U, rk_h, 0.0f, st_.r, U, NULL);
            k->gru_rb_forward_b(&st_);
        }
    }
}

static dc_status rnn_forward(dc_node *n) {
    rnn_dims d = rnn_get_dims(n);
    dc_status st = check_mask(&d);
    if (st != DC_OK) return st;
    const bool grad = n->out->grad != NULL;
    const int64_t B = d.B, T = d.T, I = d.I, U = d.U, G = d.G, BU = B * U, BTU = B * T * U;
    float *ext = alloc_f(n, BTU + (grad ? 2 : 1) * d.nst * BU);
    rnn_saved *s = dc_node_alloc(n, sizeof *s);
    if (!ext || !s || rnn_alloc(n, &d, s, grad) != DC_OK) return DC_ERR_NOMEM;
    n->saved = s;
    n->out->data = ext;
    n->out->flags |= DC_TF_RNN_OUT | (d.nst == 2 ? DC_TF_RNN_CELL : 0u);
    if (grad) memset(state_ptr(&d, ext, d.nst), 0, (size_t)(d.nst * BU) * sizeof(float));
    const bool gru_after = d.kind == DC_OP_GRU && !n->a.i[3];
    const bool gru_before = d.kind == DC_OP_GRU && n->a.i[3];
    const float *bias = d.bias ? d.bias->data : NULL;

    /* x (B*T,I) @ kernel (I,G) + input bias -> gates (B*T,G): all steps at once,
     * unless each step's GEMM does it (fuse_x) */
    const bool fuse_x = fuses_x(&d);
    dc_gemm_epilogue ep = {.bias = bias, .act = DC_EPI_NONE};
    transpose_bt(d.x->data, B, T, I, s->xt, s->xs, joins_hx(&d));
    if (!fuse_x)
        dc_gemm_ex(false, false, B * T, G, I, 1.0f, s->xt, I, d.w->data, G, 0.0f, s->gates, G,
                   &ep);
    const float *h0 = d.h0 ? d.h0->data : s->zero, *c0 = d.c0 ? d.c0->data : s->zero;
    float *hT = state_ptr(&d, ext, 0), *cT = d.nst == 2 ? state_ptr(&d, ext, 1) : NULL;
    if (T == 0) {
        memcpy(hT, h0, (size_t)BU * sizeof(float));
        if (cT) memcpy(cT, c0, (size_t)BU * sizeof(float));
        return DC_OK;
    }
    const int64_t t0 = step_time(n, T, 0);
    for (int64_t b = 0; b < B; b++)
        memcpy(s->hprev + (t0 * B + b) * s->hs, h0 + b * U, (size_t)U * sizeof(float));
    const dc_rnn_kernels *k = dc_rnn_kernels_get();
    s->tpath = takes_tpath(n, &d, k);
    if (s->cprev && !s->tpath) memcpy(s->cprev + t0 * BU, c0, (size_t)BU * sizeof(float));
    const float *R = d.r->data;
    /* reset_before: (U,2U) for z, r then (U,U) for h, each as its own panels;
     * fuse_x: (U+I+1,G), R then W then the bias */
    const bool packed = T >= RNN_PACK_MIN_T;
    float *rp_h = s->rp ? s->rp + panels_size(U, 2 * U) : NULL; /* no panels when T is short */
    pack_plan plan = {0};
    if (packed && gru_before) {
        plan = (pack_plan){2, {{s->rp, U, 2 * U, 1, {{R, G, false, 0, U, 0, 2 * U}}},
                               {rp_h, U, U, 1, {{R + 2 * U, G, false, 0, U, 0, U}}}}};
    } else if (fuse_x) {
        plan = (pack_plan){1, {{s->rp, U + I + 1, G, 3,
                                {{R, G, false, 0, U, 0, G}, {d.w->data, G, false, U, I, 0, G},
                                 {bias, 0, false, U + I, 1, 0, G}}}}};
    } else if (packed) {
        plan = (pack_plan){1, {{s->rp, U, G, 1, {{R, G, false, 0, U, 0, G}}}}};
    }
    const rnn_rk rk_all = {packed ? s->rp : NULL, R, G, false};
    const rnn_rk rk_h = {packed ? rp_h : NULL, R + 2 * U, G, false};
    const float *rec_bias = gru_after && bias ? bias + G : NULL;
    rnn_run run = {n, &d, s, ext, rk_all, rk_h, rec_bias, gru_after, gru_before, k, fuse_x};
    const int nt = rnn_threads(B);
    if (nt > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            const int64_t nth = omp_get_num_threads(), id = omp_get_thread_num();
            pack_run(&plan, true);
            if (s->tpath) forward_rows_t(&run, B * id / nth, B * (id + 1) / nth);
            else forward_rows(&run, B * id / nth, B * (id + 1) / nth, false);
        }
#endif
    } else {
        pack_run(&plan, false);
        if (s->tpath) forward_rows_t(&run, 0, B);
        else forward_rows(&run, 0, B, true);
    }
    return DC_OK;
}

dc_status dc_lstm_forward(dc_node *n) { return rnn_forward(n); }
dc_status dc_gru_forward(dc_node *n) { return rnn_forward(n); }
dc_status dc_simple_rnn_forward(dc_node *n) { return rnn_forward(n); }

/* grad (G,) += column sums of g (rows, G), rows in order: blocks of columns
 * over threads, each column summed by one thread, so the bits never depend on
 * the thread count. */
static void add_col_sums(const float *g, int64_t rows, int64_t G, float *grad) {
    const dc_reduce_kernels *k = dc_reduce_kernels_get();
    enum { BLK = 128 };
    const int64_t nblk = (G + BLK - 1) / BLK;
    const bool par = nblk > 1 && rows * G >= (1 << 20);
#pragma omp parallel for schedule(static) if (par)
    for (int64_t bi = 0; bi < nblk; bi++) {
        const int64_t j0 = bi * BLK, w = DC_MIN((int64_t)BLK, G - j0);
        float part[BLK];
        k->col_sum(g + j0, rows, w, G, 1.0f, part);
        for (int64_t j = 0; j < w; j++) grad[j0 + j] += part[j];
    }
}

/* c (M,N) (+)= a^T b over the K rows of a (K,M) and b (K,N), a weight
 * gradient over all steps: by the kernel, ranges of 32-column panels over
 * threads (the bits do not depend on the split), or by dc_gemm. bsteps > 0:
 * b by steps, transposed (the transposed LSTM path's dg, see rnn.h wgrad). */
static void weight_grad(const rnn_saved *s, const dc_rnn_kernels *k, int64_t M, int64_t N,
                        int64_t K, const float *a, int64_t lda, const float *b, int64_t ldb,
                        int64_t bsteps, float *c, int64_t ldc, bool add) {
    if (!s->wgs) {
        dc_gemm(true, false, M, N, K, 1.0f, a, lda, b, ldb, add ? 1.0f : 0.0f, c, ldc);
        return;
    }
    const int nt = (int)DC_MIN((int64_t)s->wg_nt, (int64_t)wgrad_threads(N));
    const int64_t np = (N + 31) / 32, per = dc_rnn_wgrad_scratch(M, N);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int th = 0; th < nt; th++) {
        const int64_t j0 = np * th / nt * 32, j1 = DC_MIN(N, np * (th + 1) / nt * 32);
        k->wgrad(M, K, a, lda, b, ldb, bsteps, c, ldc, j0, j1, add, s->wgs + th * per);
    }
}

// rows [b0,b1) of every step in reverse, backward; par: the GEMMs may use threads
static void backward_rows(const rnn_run *r, int64_t b0, int64_t b1, bool par) {
    const dc_node *n = r->n;
    const rnn_dims d = *r->d;
    rnn_saved *s = r->s;
    const int64_t B = d.B, T = d.T, U = d.U, G = d.G, BU = B * U, BG = B * G, nb = b1 - b0;
    const bool gru_after = r->gru_after, gru_before = r->gru_before;
    const rnn_rk rkt_all = r->rk_all, rkt_h = r->rk_h;
    const dc_rnn_kernels *k = r->k;
    if (nb <= 0) return;
    float *dh = s->bufs + b0 * U, *pass = s->bufs + BU + b0 * U, *dc = s->bufs + 2 * BU + b0 * U,
          *carry = s->bufs + 3 * BU + b0 * U, *rec = s->rec + b0 * G;
    const int64_t W = scratch_w(&d), hs = s->hs;
    const rnn_gemm_ctx gx = {k, s->tbuf ? s->tbuf + b0 * W : NULL,
                             s->tbuf ? s->tbuf + (B + b0) * W : NULL, par};
    for (int64_t sp = T - 1; sp >= 0; sp--) {
        const int64_t t = step_time(n, T, sp);
        dc_rnn_step st_ = {
            .B = nb, .U = U, .act = (int)n->a.i[0], .ract = (int)n->a.i[1],
            .zero_out = n->a.i[4] != 0,
            .m = d.mask ? d.mask->data + b0 * T + t : NULL, .ms = T,
            .g = s->gates + t * BG + b0 * G, .gs = G,
            .r = gru_after ? s->dgh + t * BG + b0 * G : s->rec + b0 * G, .rs = gru_after ? G : U,
            .hp = s->hprev + (t * B + b0) * hs, .hps = hs,
            .cp = s->cprev ? s->cprev + t * BU + b0 * U : NULL, .cps = U,
            .aux = s->aux ? s->aux + t * BU + b0 * U : NULL, .auxs = U,
            .rdm = d.rdm ? d.rdm->data + b0 * U : NULL, .rdms = U,
            .dy = n->out->grad + b0 * T * U + sp * U, .dys = T * U,
            .carry = carry, .dh = dh, .dc = dc, .pass = pass,
            .dg = s->dg + t * BG + b0 * G, .dgs = G,
        };
        /* the gradient of h_{t-1} through the recurrent GEMM: dGrec (B,G) R^T */
        const float *dgrec = gru_after ? st_.r : st_.dg;
        if (d.kind == DC_OP_LSTM) k->lstm_backward(&st_);
        else if (d.kind == DC_OP_SIMPLE_RNN) k->simple_backward(&st_);
        else if (gru_after) k->gru_backward(&st_);
        if (gru_before) {
            k->gru_rb_backward_a(&st_);
            rec_gemm(&gx, nb, U, U, st_.dg + 2 * U, G, rkt_h, 0.0f, rec, U, NULL);
            k->gru_rb_backward_b(&st_);
            rec_gemm(&gx, nb, U, 2 * U, st_.dg, G, rkt_all, 1.0f, rec, U, NULL);
            st_.r = rec, st_.rs = U;
            k->add_masked(&st_);
        } else if (r->fuse_x) { /* ct: dh_{t-1} (U rows) then dx_t (I rows), transposed */
            const rnn_part part = {st_.dg, G, G};
            rec_gemm_ct(&gx, nb, U + d.I, 1, &part, rkt_all.panels, NULL, 0);
            k->from_cols(gx.ct, nb, U, d.rdm ? 0.0f : 1.0f, NULL, d.rdm ? rec : pass, U);
            k->from_cols(gx.ct + U * nb, nb, d.I, 1.0f, NULL, d.x->grad + (b0 * T + t) * d.I,
                         T * d.I);
            if (d.rdm) {
                st_.r = rec, st_.rs = U;
                k->add_masked(&st_);
            }
        } else if (d.rdm) {
            rec_gemm(&gx, nb, U, G, dgrec, G, rkt_all, 0.0f, rec, U, NULL);
            st_.r = rec, st_.rs = U;
            k->add_masked(&st_);
        } else {
            rec_gemm(&gx, nb, U, G, dgrec, G, rkt_all, 1.0f, pass, U, NULL);
        }
        float *tmp = dh;
        dh = pass, pass = tmp;
    }
}

void dc_rnn_backward(dc_node *n) {
    rnn_dims d = rnn_get_dims(n);
    rnn_saved *s = n->saved;
    const int64_t B = d.B, T = d.T, I = d.I, U = d.U, G = d.G, BU = B * U;
    const bool gru_after = d.kind == DC_OP_GRU && !n->a.i[3];
    const bool gru_before = d.kind == DC_OP_GRU && n->a.i[3];
    float *ext = n->out->data;
    float *dh = s->bufs, *pass = s->bufs + BU, *dc = s->bufs + 2 * BU, *carry = s->bufs + 3 * BU;
    memcpy(dh, state_ptr(&d, ext, d.nst), (size_t)BU * sizeof(float));
    if (d.nst == 2) memcpy(dc, state_ptr(&d, ext, d.nst + 1), (size_t)BU * sizeof(float));
    memset(carry, 0, (size_t)BU * sizeof(float));
    const dc_rnn_kernels *k = dc_rnn_kernels_get();
    const float *R = d.r->data;
    /* R^T as panels: (G,U), or for reset_before (2U,U) for z, r then (U,U) for
     * h; fuse_x: (G,U+I), R^T then W^T */
    const bool packed = T >= RNN_PACK_MIN_T, fuse_x = fuses_x(&d) && d.x->grad;
    float *rtp_h = s->rtp ? s->rtp + panels_size(2 * U, U) : NULL; /* no panels when T is short */
    pack_plan plan = {0};
    if (packed && gru_before) {
        plan = (pack_plan){2, {{s->rtp, 2 * U, U, 1, {{R, G, true, 0, 2 * U, 0, U}}},
                               {rtp_h, U, U, 1, {{R + 2 * U, G, true, 0, U, 0, U}}}}};
    } else if (fuse_x) {
        plan = (pack_plan){1, {{s->rtp, G, U + I, 2,
                                {{R, G, true, 0, G, 0, U}, {d.w->data, G, true, 0, G, U, I}}}}};
    } else if (packed) {
        plan = (pack_plan){1, {{s->rtp, G, U, 1, {{R, G, true, 0, G, 0, U}}}}};
    }
    const rnn_rk rkt_all = {packed ? s->rtp : NULL, R, G, true};
    const rnn_rk rkt_h = {packed ? rtp_h : NULL, R + 2 * U, G, true};
    rnn_run run = {n, &d, s, ext, rkt_all, rkt_h, NULL, gru_after, gru_before, k, fuse_x};
    const int nt = rnn_threads(B);
    if (nt > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
        {
            const int64_t nth = omp_get_num_threads(), id = omp_get_thread_num();
            pack_run(&plan, true);
            if (s->tpath) backward_rows_t(&run, B * id / nth, B * (id + 1) / nth);
            else backward_rows(&run, B * id / nth, B * (id + 1) / nth, false);
        }
#endif
    } else {
        pack_run(&plan, false);
        if (s->tpath) backward_rows_t(&run, 0, B);
        else backward_rows(&run, 0, B, true);
    }
    if (!s->tpath) dh = T % 2 ? pass : dh; /* where the last swap left the gradient of h0 */
    if (d.h0 && d.h0->grad)
        for (int64_t i = 0; i < BU; i++) d.h0->grad[i] += dh[i];
    if (d.c0 && d.c0->grad)
        for (int64_t i = 0; i < BU; i++) d.c0->grad[i] += dc[i];
    const int64_t BT = B * T;
    if (BT == 0) return;
    if (s->dwr) { /* joined: [dR; dW; db] = [h, x, 1]^T dg, all steps at once */
        weight_grad(s, k, s->hs, G, BT, s->hprev, s->hs, s->dg, G, s->tpath ? B : 0, s->dwr, G,
                    false);
        /* these adds (and the packing) stay serial: on a busy machine each fork
         * and join of a team may wait a time slice for the other thread */
        const dc_reduce_kernels *rk = dc_reduce_kernels_get();
        if (d.r->grad) rk->axpy(d.r->grad, s->dwr, U * G, 1.0f);
        if (d.w->grad) rk->axpy(d.w->grad, s->dwr + U * G, I * G, 1.0f);
        if (d.bias && d.bias->grad) rk->axpy(d.bias->grad, s->dwr + (U + I) * G, G, 1.0f);
        return; /* dx came with the steps (fuse_x) */
    }
    const float *hA = s->hd ? s->hd : s->hprev;
    if (d.w->grad) weight_grad(s, k, I, G, BT, s->xt, s->xs, s->dg, G, 0, d.w->grad, G, true);
    if (d.r->grad) {
        if (gru_before) {
            weight_grad(s, k, U, 2 * U, BT, hA, U, s->dg, G, 0, d.r->grad, G, true);
            weight_grad(s, k, U, U, BT, s->aux, U, s->dg + 2 * U, G, 0, d.r->grad + 2 * U, G, true);
        } else {
            weight_grad(s, k, U, G, BT, hA, U, gru_after ? s->dgh : s->dg, G, 0, d.r->grad, G,
                        true);
        }
    }
    if (d.x->grad && !fuse_x) { /* time-major into scratch (the xt copy is done with), then added back */
        dc_gemm(false, true, BT, I, G, 1.0f, s->dg, G, d.w->data, G, 0.0f, s->xt, I);
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                float *gx = d.x->grad + (b * T + t) * I;
                const float *src = s->xt + (t * B + b) * I;
                for (int64_t j = 0; j < I; j++) gx[j] += src[j];
            }
    }
    if (d.bias && d.bias->grad) {
        add_col_sums(s->dg, BT, G, d.bias->grad);
        if (gru_after) add_col_sums(s->dgh, BT, G, d.bias->grad + G);
    }
}

/* ---- dc_rnn_state: a final state of a recurrent op's output ---- */

// rnn_out (B,T,U) -> (B,U); attrs i[0] which state
dc_status dc_rnn_state_shape(const dc_node *n, int *ndim, int64_t *shape) {
    const dc_tensor *y = n->in[0];
    char sy[128];
    if (!(y->flags & DC_TF_RNN_OUT) || y->ndim != 3)
        return dc_set_error(DC_ERR_ARG,
                            "dc_rnn_state: rnn_out %s is not an output of dc_lstm, dc_gru or "
                            "dc_simple_rnn",
                            dc_shape_string(y->ndim, y->shape, sy, sizeof sy));
    const int nst = (y->flags & DC_TF_RNN_CELL) ? 2 : 1;
    if (n->a.i[0] < 0 || n->a.i[0] >= nst)
        return dc_set_error(DC_ERR_ARG, "dc_rnn_state: state %lld of %s (0 is h%s)",
                            (long long)n->a.i[0], nst == 2 ? "an LSTM" : "a GRU or SimpleRNN",
                            nst == 2 ? ", 1 is c" : "; it has no other");
    *ndim = 2;
    shape[0] = y->shape[0], shape[1] = y->shape[2];
    return DC_OK;
}

static float *rnn_state_of(const dc_tensor *y, int which, bool grad) {
    const int64_t BU = y->shape[0] * y->shape[2];
    const int nst = (y->flags & DC_TF_RNN_CELL) ? 2 : 1;
    return y->data + y->size + (int64_t)(which + (grad ? nst : 0)) * BU;
}

dc_status dc_rnn_state_forward(dc_node *n) {
    memcpy(n->out->data, rnn_state_of(n->in[0], (int)n->a.i[0], false),
           (size_t)n->out->size * sizeof(float));
    return DC_OK;
}

void dc_rnn_state_backward(dc_node *n) {
    if (!n->in[0]->grad) return;
    float *g = rnn_state_of(n->in[0], (int)n->a.i[0], true);
    for (int64_t i = 0; i < n->out->size; i++) g[i] += n->out->grad[i];
}

dc_tensor *dc_rnn_state(dc_tape *t, dc_tensor *rnn_out, int which) {
    dc_op_attrs at;
    memset(&at, 0, sizeof at);
    at.i[0] = which;
    return dc_op_apply(t, DC_OP_RNN_STATE, 1, &rnn_out, &at);
}

/* ---- public entry points ---- */

static int resolve_act(dc_rnn_activation a, int dflt) {
    return a == DC_RNN_ACT_DEFAULT ? dflt : (int)a; /* DC_RNN_K_* share the values */
}

static dc_tensor *rnn_apply(dc_tape *t, dc_op_id op, dc_tensor *x, dc_tensor *w, dc_tensor *r,
                            dc_tensor *bias, dc_tensor *h0, dc_tensor *c0,
                            const dc_rnn_options *opt) {
    dc_rnn_options o;
    memset(&o, 0, sizeof o);
    if (opt) o = *opt;
    dc_op_attrs at;
    memset(&at, 0, sizeof at);
    at.i[0] = resolve_act(o.activation, DC_RNN_K_TANH);
    at.i[1] = resolve_act(o.recurrent_activation, DC_RNN_K_SIGMOID);
    at.i[2] = o.go_backwards;
    at.i[3] = o.reset_before;
    at.i[4] = o.zero_output_for_mask;
    dc_tensor *in[8] = {x, w, r};
    int n = 3, f = 0;
    if (bias) in[n++] = bias, f |= IN_BIAS;
    if (h0) in[n++] = h0, f |= IN_H0;
    if (c0) in[n++] = c0, f |= IN_C0;
    if (o.mask) in[n++] = (dc_tensor *)o.mask, f |= IN_MASK;
    if (o.recurrent_dropout_mask) in[n++] = (dc_tensor *)o.recurrent_dropout_mask, f |= IN_RDM;
    at.i[5] = f;
    return dc_op_apply(t, op, n, in, &at);
}

dc_tensor *dc_lstm(dc_tape *t, dc_tensor *x, dc_tensor *kernel, dc_tensor *recurrent_kernel,
                   dc_tensor *bias, dc_tensor *h0, dc_tensor *c0, const dc_rnn_options *opt) {
    return rnn_apply(t, DC_OP_LSTM, x, kernel, recurrent_kernel, bias, h0, c0, opt);
}

dc_tensor *dc_gru(dc_tape *t, dc_tensor *x, dc_tensor *kernel, dc_tensor *recurrent_kernel,
                  dc_tensor *bias, dc_tensor *h0, const dc_rnn_options *opt) {
    return rnn_apply(t, DC_OP_GRU, x, kernel, recurrent_kernel, bias, h0, NULL, opt);
}

dc_tensor *dc_simple_rnn(dc_tape *t, dc_tensor *x, dc_tensor *kernel,
                         dc_tensor *recurrent_kernel, dc_tensor *bias, dc_tensor *h0,
                         const dc_rnn_options *opt) {
    return rnn_apply(t, DC_OP_SIMPLE_RNN, x, kernel, recurrent_kernel, bias, h0, NULL, opt);
}
