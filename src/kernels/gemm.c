/* gemm.c — GEMM entry points: ISA dispatch, cache blocking, packing of op(A)
 * and op(B) into micro-panels, OpenMP over output blocks, the portable C
 * microkernel, the fused epilogue, and the reference triple loop (the oracle). */
#include "gemm.h"
#include "../core/cpu.h"
#include <math.h>
#include <pthread.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* A (M,K)/(K,M), B (K,N)/(N,K), C (M,N) */
void dc_gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) {
                float a = ta ? A[k * lda + i] : A[i * lda + k];
                float b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += (double)a * b;
            }
            float old = beta == 0 ? 0 : beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * s) + old;
        }
}

static float epi_act(float v, dc_epi_act act) {
    switch (act) {
    case DC_EPI_RELU: return v > 0 ? v : 0;
    case DC_EPI_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case DC_EPI_TANH: return tanhf(v);
    default: return v;
    }
}

/* ---- the portable microkernel: MR 6, NR 16, written so the compiler can
 * vectorize the j loops with whatever the base ISA offers ---- */
enum { P_MR = 6, P_NR = 16 };

void dc_gemm_store_tile(const float *t, int64_t ldt, float *c, int64_t ldc, int mr, int nr,
                        const dc_gemm_tile_epi *e) {
    for (int i = 0; i < mr; i++) {
        float *cr = c + i * ldc;
        const float *tr = t + i * ldt;
        for (int j = 0; j < nr; j++) {
            float v = e->alpha * tr[j];
            if (e->beta != 0) v += e->beta * cr[j];
            if (e->bias) v += e->bias[j];
            if (e->relu) v = v > 0 ? v : 0;
            cr[j] = v;
        }
    }
}

// a (kc,6), b (kc,16) -> c (mr,nr)
static void ukernel_portable(int64_t kc, const float *a, int64_t lda, const float *b,
                             int64_t ldb, float *c, int64_t ldc, int mr, int nr,
                             const dc_gemm_tile_epi *e) {
    (void)lda; /* packed only */
    (void)ldb;
    float acc[P_MR][P_NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < kc; k++) {
        const float *bk = b + k * P_NR;
        const float *ak = a + k * P_MR;
        for (int i = 0; i < P_MR; i++) {
            float av = ak[i];
            for (int j = 0; j < P_NR; j++) acc[i][j] += av * bk[j];
        }
    }
    dc_gemm_store_tile(&acc[0][0], P_NR, c, ldc, mr, nr, e);
}

/* ---- blocking parameters per path ----
 * The A block (MC,KC) stays in L2 and is swept once per NR-column panel of B;
 * the (KC,NC) panel of B lives in L3; C tiles are re-read once per KC block. */
typedef struct {
    int mr, nr;
    int64_t mc, kc, nc;
    dc_gemm_ukernel ukr;
    /* transposing packer for the strided cases (A not transposed, B transposed), or NULL */
    void (*pack_t)(const float *src, int64_t ld, int rows, int64_t kc, float *dst,
                   int64_t dstride, int w);
    /* copying packer of a run of panels for the contiguous cases, or NULL */
    void (*pack_panels)(const float *src, int64_t ld, int64_t cols, int64_t kc, float *dst,
                        int w);
    bool in_place; /* the microkernel can read A and B rows without packing */
} gemm_arch;

static const gemm_arch arch_portable = {P_MR, P_NR, 72, 256, 2048, ukernel_portable,
                                        NULL, NULL, false};
#if DC_HAVE_X86_KERNELS
static const gemm_arch arch_avx2 = {6, 16, 144, 256, 3072, dc_gemm_ukernel_avx2, NULL, NULL, false};
/* KC is large (measured: 1024 beats 256 by ~10% at 2048^3): re-reading C once
 * per KC block costs more than streaming both micro-panels from L2 rather
 * than keeping B's in L1. */
static const gemm_arch arch_avx512 = {14, 32, 112, 1024, 3072, dc_gemm_ukernel_avx512,
                                      dc_gemm_pack_t_avx512, dc_gemm_pack_panels_avx512, true};
#endif

static int forced_isa = -1;

int dc_gemm_set_isa(int isa) {
    if (isa < 0) {
        forced_isa = -1;
        return (int)dc_cpu_isa();
    }
    int best = (int)dc_cpu_best_isa();
    forced_isa = isa < best ? isa : best;
    return forced_isa;
}

static const gemm_arch *pick_arch(void) {
    int isa = forced_isa >= 0 ? forced_isa : (int)dc_cpu_isa();
#if DC_HAVE_X86_KERNELS
    if (isa == DC_ISA_AVX512) return &arch_avx512;
    if (isa == DC_ISA_AVX2) return &arch_avx2;
#endif
    (void)isa;
    return &arch_portable;
}

/* ---- packing ---- */

/* op(A) rows [i0,i0+mc), cols [p0,p0+kc) -> ceil(mc/MR) panels, each (kc,MR)
 * k-major, rows past mc zero. */
static void pack_a(const gemm_arch *ar, bool ta, const float *A, int64_t lda, int64_t i0,
                   int64_t mc, int64_t p0, int64_t kc, float *dst) {
    const int MR = ar->mr;
    if (ta && ar->pack_panels) {
        ar->pack_panels(A + p0 * lda + i0, lda, mc, kc, dst, MR);
        return;
    }
    for (int64_t ir = 0; ir < mc; ir += MR) {
        int mr = (int)DC_MIN((int64_t)MR, mc - ir);
        float *d = dst + ir * kc;
        if (ta) {
            /* A stored (K,M): each k gives MR contiguous values */
            const float *s = A + p0 * lda + i0 + ir;
            for (int64_t k = 0; k < kc; k++) {
                const float *sk = s + k * lda;
                float *dk = d + k * MR;
                int i = 0;
                for (; i < mr; i++) dk[i] = sk[i];
                for (; i < MR; i++) dk[i] = 0;
            }
        } else if (ar->pack_t) {
            ar->pack_t(A + (i0 + ir) * lda + p0, lda, mr, kc, d, MR, MR);
        } else {
            const float *s = A + (i0 + ir) * lda + p0;
            for (int i = 0; i < mr; i++) {
                const float *si = s + i * lda;
                for (int64_t k = 0; k < kc; k++) d[k * MR + i] = si[k];
            }
            for (int i = mr; i < MR; i++)
                for (int64_t k = 0; k < kc; k++) d[k * MR + i] = 0;
        }
    }
}

/* op(B) rows [p0,p0+kc), cols [j0,j0+nr) -> one (kc,NR) panel, cols past nr zero. */
static void pack_b_panel(const gemm_arch *ar, bool tb, const float *B, int64_t ldb, int64_t p0,
                         int64_t kc, int64_t j0, int nr, float *d) {
    const int NR = ar->nr;
    if (!tb) {
        const float *s = B + p0 * ldb + j0;
        for (int64_t k = 0; k < kc; k++) {
            const float *sk = s + k * ldb;
            float *dk = d + k * NR;
            memcpy(dk, sk, (size_t)nr * sizeof(float));
            for (int j = nr; j < NR; j++) dk[j] = 0;
        }
    } else if (ar->pack_t) {
        for (int h = 0; h < NR; h += 16) {
            int rows = nr - h < 0 ? 0 : nr - h > 16 ? 16 : nr - h;
            const float *s = rows ? B + (j0 + h) * ldb + p0 : B;
            ar->pack_t(s, ldb, rows, kc, d + h, NR, 16);
        }
    } else {
        /* B stored (N,K): column j of op(B) is row j of B */
        const float *s = B + j0 * ldb + p0;
        for (int j = 0; j < nr; j++) {
            const float *sj = s + j * ldb;
            for (int64_t k = 0; k < kc; k++) d[k * NR + j] = sj[k];
        }
        for (int j = nr; j < NR; j++)
            for (int64_t k = 0; k < kc; k++) d[k * NR + j] = 0;
    }
}

/* ---- per-thread workspace ----
 * Owned by the calling thread (so concurrent callers do not share), grown
 * once and kept: repeated calls allocate nothing. */
#define GEMM_MAX_THREADS 64
typedef struct {
    float *b;
    size_t b_cap;
    float *a[GEMM_MAX_THREADS];
    size_t a_cap[GEMM_MAX_THREADS];
    float *part; /* K-split partial products */
    size_t part_cap;
} gemm_ws;
static _Thread_local gemm_ws ws;

/* A thread that ends frees its workspace (a thread-exit destructor through a
 * pthread key), so programs that train in short-lived threads do not leak. */
static pthread_key_t ws_key;
static pthread_once_t ws_key_once = PTHREAD_ONCE_INIT;
static bool ws_key_ok;
static _Thread_local bool ws_registered;

static void ws_release(void *p) {
    gemm_ws *w = p;
    dc_free_aligned(w->b);
    for (int t = 0; t < GEMM_MAX_THREADS; t++) dc_free_aligned(w->a[t]);
    dc_free_aligned(w->part);
    memset(w, 0, sizeof *w);
}

static void ws_make_key(void) { ws_key_ok = pthread_key_create(&ws_key, ws_release) == 0; }

static bool ws_reserve(float **p, size_t *cap, size_t n) {
    if (*cap >= n) return true;
    if (!ws_registered) {
        pthread_once(&ws_key_once, ws_make_key);
        if (ws_key_ok) pthread_setspecific(ws_key, &ws);
        ws_registered = true;
    }
    dc_free_aligned(*p);
    *p = dc_malloc_aligned(n * sizeof(float));
    *cap = *p ? n : 0;
    return *p != NULL;
}

typedef struct {
    bool ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C;
    const dc_gemm_epilogue *ep;
    const gemm_arch *ar;
    int64_t mc, kc; /* effective block sizes */
    int groups;     /* column groups per row block: the units are row blocks x groups */
    bool da, db;    /* read A / B in place instead of packing */
    float *bp;      /* the caller's workspace: worker threads cannot see its _Thread_local */
    float *const *ap;
} gemm_job;

static void apply_act_tile(float *c, int64_t ldc, int mr, int nr, dc_epi_act act) {
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = epi_act(c[i * ldc + j], act);
}

/* Packs the B panels of chunk ch (PANEL_CHUNK panels) of the current block. */
#define PANEL_CHUNK 8
static void pack_b_chunk(const gemm_job *jb, int64_t jc, int64_t ncur, int64_t pc, int64_t kcur,
                         int64_t ch, float *bp) {
    const gemm_arch *ar = jb->ar;
    const int NR = ar->nr;
    const int64_t npan = (ncur + NR - 1) / NR;
    const int64_t q0 = ch * PANEL_CHUNK, q1 = DC_MIN(npan, q0 + PANEL_CHUNK);
    if (!jb->tb && ar->pack_panels) {
        int64_t j0 = jc + q0 * NR;
        ar->pack_panels(jb->B + pc * jb->ldb + j0, jb->ldb, DC_MIN(jc + ncur, j0 + (q1 - q0) * NR) - j0,
                        kcur, bp + q0 * NR * kcur, NR);
        return;
    }
    for (int64_t q = q0; q < q1; q++) {
        int64_t j0 = jc + q * NR;
        pack_b_panel(ar, jb->tb, jb->B, jb->ldb, pc, kcur, j0,
                     (int)DC_MIN((int64_t)NR, jc + ncur - j0), bp + q * NR * kcur);
    }
}

/* One unit of work: rows [ic, ic+mc) of C times the column panels [q0,q1) of
 * the current (KC,NC) block. *packed_ic says which row block this thread's A
 * buffer holds, so consecutive units of one row block pack A once. */
static void gemm_unit(const gemm_job *jb, int64_t jc, int64_t ncur, int64_t pc, int64_t kcur,
                      int64_t ic, int64_t q0, int64_t q1, float *ap, int64_t *packed_ic) {
    const gemm_arch *ar = jb->ar;
    const int MR = ar->mr, NR = ar->nr;
    const int64_t mcur = DC_MIN(jb->mc, jb->M - ic);
    const bool last = pc + kcur >= jb->K;
    const dc_epi_act act = jb->ep ? jb->ep->act : DC_EPI_NONE;
    const float *bias = jb->ep ? jb->ep->bias : NULL;
    const bool late_act = last && (act == DC_EPI_SIGMOID || act == DC_EPI_TANH);
    if (!jb->da && *packed_ic != ic) {
        pack_a(ar, jb->ta, jb->A, jb->lda, ic, mcur, pc, kcur, ap);
        *packed_ic = ic;
    }
    dc_gemm_tile_epi e = {jb->alpha, pc == 0 ? jb->beta : 1.0f, NULL, last && act == DC_EPI_RELU};
    for (int64_t q = q0; q < q1; q++) {
        const int64_t j0 = jc + q * NR;
        const int nr = (int)DC_MIN((int64_t)NR, jc + ncur - j0);
        e.bias = last && bias ? bias + j0 : NULL;
        const float *bq = jb->db ? jb->B + pc * jb->ldb + j0 : jb->bp + q * NR * kcur;
        for (int64_t ir = 0; ir < mcur; ir += MR) {
            const int mr = (int)DC_MIN((int64_t)MR, mcur - ir);
            float *c = jb->C + (ic + ir) * jb->ldc + j0;
            const float *aq;
            int64_t lda_arg = 0;
            if (!jb->da) {
                aq = ap + ir * kcur;
            } else if (!jb->ta) {
                aq = jb->A + (ic + ir) * jb->lda + pc;
                lda_arg = jb->lda;
            } else if (jb->da) {
                aq = jb->A + pc * jb->lda + ic + ir;
                lda_arg = -jb->lda;
            }
            ar->ukr(kcur, aq, lda_arg, bq, jb->db ? jb->ldb : 0, c, jb->ldc, mr, nr, &e);
            if (late_act) apply_act_tile(c, jb->ldc, mr, nr, act);
        }
    }
}

/* Every thread of the team runs this with the same loop trip counts: B panels
 * are packed together, then units (row block x column group) are handed out
 * dynamically, so a thread slowed by other load on the machine takes fewer.
 * Each C element is summed over K in the same KC blocks in the same order by
 * the same kernel whoever computes it, so results are bit-identical for any
 * thread count. par: called by every thread of a team made for this call;
 * otherwise alone (perhaps inside a caller's parallel region, so no
 * worksharing constructs). */
static void gemm_run(const gemm_job *jb, int tid, bool par) {
    const int NR = jb->ar->nr;
    const int64_t N = jb->N, K = jb->K;
    const int64_t nic = (jb->M + jb->mc - 1) / jb->mc;
    float *bp = jb->bp, *ap = jb->ap[tid];
    for (int64_t jc = 0; jc < N; jc += jb->ar->nc) {
        const int64_t ncur = DC_MIN(jb->ar->nc, N - jc);
        const int64_t npan = (ncur + NR - 1) / NR;
        const int64_t G = DC_MIN((int64_t)jb->groups, npan), units = nic * G;
        const int64_t nch = (npan + PANEL_CHUNK - 1) / PANEL_CHUNK;
        for (int64_t pc = 0; pc < K; pc += jb->kc) {
            const int64_t kcur = DC_MIN(jb->kc, K - pc);
            int64_t packed_ic = -1;
            if (par) {
                if (!jb->db) {
#pragma omp for schedule(dynamic, 1)
                    for (int64_t ch = 0; ch < nch; ch++) pack_b_chunk(jb, jc, ncur, pc, kcur, ch, bp);
                }
#pragma omp for schedule(dynamic, 1)
                for (int64_t u = 0; u < units; u++) {
                    int64_t g = u % G;
                    gemm_unit(jb, jc, ncur, pc, kcur, u / G * jb->mc, npan * g / G,
                              npan * (g + 1) / G, ap, &packed_ic);
                }
            } else {
                if (!jb->db)
                    for (int64_t ch = 0; ch < nch; ch++) pack_b_chunk(jb, jc, ncur, pc, kcur, ch, bp);
                for (int64_t ic = 0; ic < jb->M; ic += jb->mc)
                    gemm_unit(jb, jc, ncur, pc, kcur, ic, 0, npan, ap, &packed_ic);
            }
        }
    }
}

/* C = beta * C then the epilogue: what is left when alpha or K is zero. */
static void gemm_scale_only(int64_t M, int64_t N, float beta, float *C, int64_t ldc,
                            const dc_gemm_epilogue *ep) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) {
            float v = beta == 0 ? 0.0f : beta * c[j];
            if (ep) v = epi_act(v + (ep->bias ? ep->bias[j] : 0.0f), ep->act);
            c[j] = v;
        }
    }
}

/* Only used if the workspace cannot be allocated: slow, but correct. */
static void gemm_fallback(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                          float *C, int64_t ldc, const dc_gemm_epilogue *ep) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            float v = alpha * s + (beta == 0 ? 0.0f : beta * C[i * ldc + j]);
            if (ep) v = epi_act(v + (ep->bias ? ep->bias[j] : 0.0f), ep->act);
            C[i * ldc + j] = v;
        }
}

/* A tiny C with a long K (weight gradients of a convolution: (9,24) summed
 * over 43264 pixels) has too few tiles to share out, so K is cut into chunks
 * whose partial products are summed in chunk order. The cut depends on the
 * shape alone, so the result is the same for every thread count. */
#define GEMM_SPLIT_MIN_K 4096
#define GEMM_SPLIT_CHUNK_K 2048
#define GEMM_SPLIT_MAX 16

static _Thread_local bool in_split; /* chunks never split again: they share ws.part */

static bool gemm_split_k(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                         const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                         float *C, int64_t ldc, const dc_gemm_epilogue *ep, int nt) {
    const int S = (int)DC_MIN((int64_t)GEMM_SPLIT_MAX, K / GEMM_SPLIT_CHUNK_K);
    const int64_t mn = M * N;
    if (!ws_reserve(&ws.part, &ws.part_cap, (size_t)(S * mn))) return false;
    float *P = ws.part;
    in_split = true;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int s = 0; s < S; s++) {
        int64_t k0 = K * s / S, k1 = K * (s + 1) / S;
        const float *As = ta ? A + k0 * lda : A + k0;
        const float *Bs = tb ? B + k0 : B + k0 * ldb;
        dc_gemm_ex(ta, tb, M, N, k1 - k0, 1.0f, As, lda, Bs, ldb, 0.0f, P + s * mn, N, NULL);
    }
    in_split = false;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            float sum = P[i * N + j];
            for (int s = 1; s < S; s++) sum += P[s * mn + i * N + j];
            float *c = C + i * ldc + j;
            float v = alpha * sum + (beta == 0 ? 0.0f : beta * *c);
            if (ep) v = epi_act(v + (ep->bias ? ep->bias[j] : 0.0f), ep->act);
            *c = v;
        }
    return true;
}

/* Below this many multiply-adds a second thread costs more than it saves. */
#define GEMM_PAR_MIN_FMA (1 << 20)

#if DC_HAVE_X86_KERNELS
/* A single row of C in the blocked path's KC blocks, so each element is summed
 * in the same order and gets the same bits as inside a batch. */
static void gemv_cols(const gemm_arch *ar, bool ta, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, const dc_gemm_epilogue *ep);

/* Below this many floats of B one thread reads it fast enough; above, the
 * columns are shared out (in 16-column vectors, so every element is summed as
 * before): B streams from each core's own L2 (the CNN's dense kernel, 0.9 MB). */
#define GEMV_PAR_MIN_B (1 << 16)

static void gemv_run(const gemm_arch *ar, bool ta, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                     float *C, const dc_gemm_epilogue *ep) {
    int nt = 1;
#ifdef _OPENMP
    if (!omp_in_parallel()) nt = omp_get_max_threads();
#endif
    const int64_t vecs = (N + 15) / 16;
    nt = (int)DC_MIN((int64_t)nt, DC_MIN(vecs / 2, (int64_t)GEMM_MAX_THREADS));
    if (nt < 2 || (double)K * (double)N < GEMV_PAR_MIN_B) {
        gemv_cols(ar, ta, N, K, alpha, A, lda, B, ldb, beta, C, ep);
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int th = 0; th < nt; th++) {
        const int64_t j0 = vecs * th / nt * 16, j1 = DC_MIN(N, vecs * (th + 1) / nt * 16);
        dc_gemm_epilogue e;
        if (ep) e = *ep, e.bias = ep->bias ? ep->bias + j0 : NULL;
        gemv_cols(ar, ta, j1 - j0, K, alpha, A, lda, B + j0, ldb, beta, C + j0, ep ? &e : NULL);
    }
}

static void gemv_cols(const gemm_arch *ar, bool ta, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                      float *C, const dc_gemm_epilogue *ep) {
    const dc_epi_act act = ep ? ep->act : DC_EPI_NONE;
    const int64_t sa = ta ? lda : 1;
    for (int64_t pc = 0; pc < K; pc += ar->kc) {
        const int64_t kcur = DC_MIN(ar->kc, K - pc);
        const bool last = pc + kcur >= K;
        dc_gemm_tile_epi e = {alpha, pc == 0 ? beta : 1.0f, last && ep ? ep->bias : NULL,
                              last && act == DC_EPI_RELU};
        dc_gemv_avx512(kcur, A + pc * sa, sa, B + pc * ldb, ldb, C, N, &e);
        if (last && (act == DC_EPI_SIGMOID || act == DC_EPI_TANH)) apply_act_tile(C, 0, 1, (int)N, act);
    }
}
#endif

void dc_gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                const dc_gemm_epilogue *ep) {
    if (M <= 0 || N <= 0) return;
    if (ep && !ep->bias && ep->act == DC_EPI_NONE) ep = NULL;
    if (K <= 0 || alpha == 0) {
        gemm_scale_only(M, N, beta, C, ldc, ep);
        return;
    }
    const gemm_arch *ar = pick_arch();
    gemm_job jb = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
                   .A = A, .B = B, .lda = lda, .ldb = ldb, .ldc = ldc, .C = C, .ep = ep,
                   .ar = ar, .groups = 1};
    jb.kc = DC_MIN(ar->kc, K);
    const int64_t mtiles = (M + ar->mr - 1) / ar->mr;
    const int64_t ntiles = (DC_MIN(N, ar->nc) + ar->nr - 1) / ar->nr;

    int nt = 1;
#ifdef _OPENMP
    if (!omp_in_parallel()) nt = omp_get_max_threads();
#endif
    double fma = (double)M * (double)N * (double)K;
    if (fma < (double)GEMM_PAR_MIN_FMA * nt) nt = (int)DC_MAX(1.0, fma / GEMM_PAR_MIN_FMA);
    if (nt > GEMM_MAX_THREADS) nt = GEMM_MAX_THREADS;
    if (nt > mtiles * ntiles) nt = (int)(mtiles * ntiles);
    if (mtiles * ntiles <= 2 && K >= GEMM_SPLIT_MIN_K && !in_split) {
        int snt = 1;
#ifdef _OPENMP
        if (!omp_in_parallel()) snt = DC_MIN(omp_get_max_threads(), GEMM_SPLIT_MAX);
#endif
        if (fma < (double)GEMM_PAR_MIN_FMA * snt) snt = (int)DC_MAX(1.0, fma / GEMM_PAR_MIN_FMA);
        if (gemm_split_k(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep, snt)) return;
    }
#if DC_HAVE_X86_KERNELS
    /* 33..36 columns (a convolution's 36 filters on a patch matrix): the
     * k-split kernel of dc_gemm_taps, one segment of K, fills the lanes that
     * 32 + 16 would leave empty. One row too, so that it gets the bits it
     * gets inside a batch. */
    if (ar == &arch_avx512 && !ta && !tb && alpha == 1.0f && N > 32 && N <= 36 &&
        K % 4 == 0 && K <= ar->kc && (!ep || ep->act == DC_EPI_NONE || ep->act == DC_EPI_RELU)) {
        const int64_t zero = 0;
        dc_gemm_taps(1, 1, M, N, 1, &zero, K, A, lda, 0, 0, B, ldb, beta, C, ldc, 0, 0, ep);
        return;
    }
    /* one row: the tile's single FMA chain per vector would wait on latency */
    if (M == 1 && !tb && ar == &arch_avx512 && N <= INT32_MAX) {
        gemv_run(ar, ta, N, K, alpha, A, lda, B, ldb, beta, C, ep);
        return;
    }
#endif
    /* Enough units for dynamic balance. With a narrow C (few column panels) a
     * packed A block is used by little work, so only rows are split, in
     * smaller blocks (>= 8 units per thread), and each A block is packed once.
     * Otherwise row blocks come first and column groups (each thread packing
     * the A block it works on) make up about 16 units per thread. */
    jb.mc = DC_MIN(ar->mc, mtiles * ar->mr);
    jb.groups = 1;
    if (nt > 1 && ntiles <= 8 && mtiles >= 8 * nt) {
        jb.mc = DC_MIN(ar->mc, mtiles / (8 * nt) * ar->mr);
    } else if (nt > 1) {
        const int64_t nic = (M + jb.mc - 1) / jb.mc;
        jb.groups = (int)DC_MIN(ntiles, (16 * nt + nic - 1) / nic);
    }
    /* Packing pays when a panel is reused many times. B is read in place when
     * few row tiles use it, and its rows are close together: with rows 4 KB or
     * more apart each row of a panel is its own page and falls in the same
     * cache sets, so even 2 row tiles (M 28, K 6400, ldb 1024) ran at half the
     * speed of packing. A is read in place when a unit spans few column panels
     * or K is short. */
    jb.da = ar->in_place && ((ntiles + jb.groups - 1) / jb.groups <= 2 || (!ta && K <= 16));
    jb.db = ar->in_place && !tb && (ldb <= 256 ? mtiles <= 6 : M <= 8);

    /* Buffers only for what is packed; a thread's A block holds mc rows rounded to MR. */
    bool ok = jb.db || ws_reserve(&ws.b, &ws.b_cap, (size_t)(jb.kc * ntiles * ar->nr));
    const size_t a_size = (size_t)(jb.kc * ((jb.mc + ar->mr - 1) / ar->mr) * ar->mr);
    for (int t = 0; ok && !jb.da && t < nt; t++) ok = ws_reserve(&ws.a[t], &ws.a_cap[t], a_size);
    if (!ok) {
        gemm_fallback(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
        return;
    }
    jb.bp = ws.b;
    jb.ap = ws.a;
    if (nt == 1) {
        gemm_run(&jb, 0, false);
        return;
    }
#ifdef _OPENMP
    /* The runtime may give fewer threads than asked; the dynamic units adapt. */
#pragma omp parallel num_threads(nt)
    gemm_run(&jb, omp_get_thread_num(), omp_get_num_threads() > 1);
#endif
}

void dc_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
             int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    dc_gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

/* dc_gemm_taps one group and tap at a time through dc_gemm_ex (C accumulates;
 * the epilogue comes with the last tap): for paths without a taps microkernel. */
static void gemm_taps_by_tap(int64_t I, int64_t G, int64_t M, int64_t N, int64_t ntaps,
                             const int64_t *toff, int64_t S, const float *A, int64_t lda,
                             int64_t lda_g, int64_t lda_i, const float *B, int64_t ldb, float beta,
                             float *C, int64_t ldc, int64_t ldc_g, int64_t ldc_i,
                             const dc_gemm_epilogue *ep) {
    for (int64_t i = 0; i < I; i++)
        for (int64_t g = 0; g < G; g++)
            for (int64_t t = 0; t < ntaps; t++)
                dc_gemm_ex(false, false, M, N, S, 1.0f, A + i * lda_i + g * lda_g + toff[t], lda,
                           B + t * S * ldb, ldb, t == 0 ? beta : 1.0f, C + i * ldc_i + g * ldc_g,
                           ldc, t == ntaps - 1 ? ep : NULL);
}

#if DC_HAVE_X86_KERNELS
/* The shape of one dc_gemm_taps call, as its row tiles see it. */
typedef struct {
    int64_t G, M, N, S, lda, lda_g, lda_i, ldc, ldc_g, ldc_i;
    int64_t tiles; /* row tiles per group */
    const float *A;
    float *C;
    bool ks; /* the k-split kernel (tiles of DC_GEMM_KS_MR rows, all N columns) */
} taps_job;

/* Widths whose last vector the k-split kernel fills (33..36), with segments a
 * multiple of 4 long. */
static bool taps_use_ks(int64_t N, int64_t S) { return S % 4 == 0 && N > 32 && N <= 36; }

/* Row tiles [u0,u1) (numbered over all images and groups) of one tap block: every column
 * panel of a tile while its rows of A are in L1. */
static void gemm_taps_rows(const taps_job *j, int64_t u0, int64_t u1, int64_t nt,
                           const int64_t *toff, const float *bp, const dc_gemm_tile_epi *e,
                           const float *bias) {
    const int MR = j->ks ? DC_GEMM_KS_MR : arch_avx512.mr, NR = arch_avx512.nr;
    dc_gemm_tile_epi te = *e;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t img = u / j->tiles / j->G, g = u / j->tiles % j->G, i = u % j->tiles * MR;
        const int mr = (int)DC_MIN((int64_t)MR, j->M - i);
        const float *a = j->A + img * j->lda_i + g * j->lda_g + i * j->lda;
        float *c = j->C + img * j->ldc_i + g * j->ldc_g + i * j->ldc;
        if (j->ks) {
            te.bias = bias;
            dc_gemm_ukernel_taps_ks_avx512(j->S, a, j->lda, toff, nt, bp, c, j->ldc, mr, (int)j->N,
                                           &te);
            continue;
        }
        for (int64_t j0 = 0; j0 < j->N; j0 += NR) {
            te.bias = bias ? bias + j0 : NULL;
            dc_gemm_ukernel_taps_avx512(j->S, a, j->lda, toff, nt, bp + j0 * nt * j->S, c + j0,
                                        j->ldc, mr, (int)DC_MIN((int64_t)NR, j->N - j0), &te);
        }
    }
}
#endif

void dc_gemm_taps(int64_t I, int64_t G, int64_t M, int64_t N, int64_t ntaps, const int64_t *toff,
                  int64_t S, const float *A, int64_t lda, int64_t lda_g, int64_t lda_i,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int64_t ldc_g,
                  int64_t ldc_i, const dc_gemm_epilogue *ep) {
    if (I <= 0 || G <= 0 || M <= 0 || N <= 0) return;
    if (ep && !ep->bias && ep->act == DC_EPI_NONE) ep = NULL;
#if DC_HAVE_X86_KERNELS
    const gemm_arch *ar = pick_arch();
    const bool fast = ar == &arch_avx512 && ntaps > 0 && S > 0 && N <= ar->nc &&
                      (!ep || ep->act == DC_EPI_NONE || ep->act == DC_EPI_RELU);
    /* taps per block: a block's B panels span at most KC rows */
    const int64_t tpb = DC_MAX((int64_t)1, ar->kc / DC_MAX(S, (int64_t)1));
    const int64_t npan = (N + ar->nr - 1) / ar->nr;
    if (fast && ws_reserve(&ws.b, &ws.b_cap, (size_t)(DC_MIN(tpb, ntaps) * S * npan * ar->nr))) {
        const bool ks = taps_use_ks(N, S);
        const int64_t mr = ks ? DC_GEMM_KS_MR : ar->mr;
        const taps_job j = {G, M, N, S, lda, lda_g, lda_i, ldc, ldc_g, ldc_i, (M + mr - 1) / mr,
                            A, C, ks};
        const int64_t units = I * G * j.tiles;
        int nt = 1;
#ifdef _OPENMP
        if (!omp_in_parallel()) nt = omp_get_max_threads();
#endif
        const double fma = (double)I * (double)G * (double)M * (double)N * (double)(ntaps * S);
        if (fma < (double)GEMM_PAR_MIN_FMA * nt) nt = (int)DC_MAX(1.0, fma / GEMM_PAR_MIN_FMA);
        if (nt > units) nt = (int)units;
        float *bp = ws.b;
        for (int64_t t0 = 0; t0 < ntaps; t0 += tpb) {
            const int64_t tn = DC_MIN(tpb, ntaps - t0);
            const bool last = t0 + tn >= ntaps;
            if (ks) dc_gemm_pack_ks_avx512(B + t0 * S * ldb, ldb, N, tn * S, bp);
            else ar->pack_panels(B + t0 * S * ldb, ldb, N, tn * S, bp, ar->nr);
            dc_gemm_tile_epi e = {1.0f, t0 == 0 ? beta : 1.0f, NULL,
                                  last && ep && ep->act == DC_EPI_RELU};
            const float *bias = last && ep ? ep->bias : NULL;
            if (nt > 1) {
#pragma omp parallel for num_threads(nt) schedule(static)
                for (int th = 0; th < nt; th++)
                    gemm_taps_rows(&j, units * th / nt, units * (th + 1) / nt, tn, toff + t0, bp,
                                   &e, bias);
            } else {
                gemm_taps_rows(&j, 0, units, tn, toff + t0, bp, &e, bias);
            }
        }
        return;
    }
#endif
    gemm_taps_by_tap(I, G, M, N, ntaps, toff, S, A, lda, lda_g, lda_i, B, ldb, beta, C, ldc, ldc_g,
                     ldc_i, ep);
}

void dc_gemm_rows(int64_t G, int64_t Mg, int64_t N, int64_t K, const int64_t *goff,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                  int64_t ldc) {
    if (G <= 0 || Mg <= 0 || N <= 0) return;
#if DC_HAVE_X86_KERNELS
    /* the k-split kernel over tiles of rows taken across groups, B packed once */
    const int64_t M = G * Mg;
    if (pick_arch() == &arch_avx512 && K > 0 && K % 4 == 0 && N > 32 && N <= 36 &&
        ws_reserve(&ws.b, &ws.b_cap, (size_t)(K * 36))) {
        dc_gemm_pack_ks_avx512(B, ldb, N, K, ws.b);
        /* K unblocked: the packed B streams from L2 (blocks of 256 or 512 rows
         * kept in L1 measured slower: C re-read and the lane sums per block) */
        const dc_gemm_tile_epi e = {1.0f, 0.0f, NULL, false};
        for (int64_t r0 = 0; r0 < M; r0 += DC_GEMM_KS_MR) {
            const int mr = (int)DC_MIN((int64_t)DC_GEMM_KS_MR, M - r0);
            const float *rowp[DC_GEMM_KS_MR];
            for (int i = 0; i < mr; i++) {
                const int64_t r = r0 + i;
                rowp[i] = A + goff[r / Mg] + r % Mg * lda;
            }
            dc_gemm_ukernel_rows_ks_avx512(K, rowp, ws.b, C + r0 * ldc, ldc, mr, (int)N, &e);
        }
        return;
    }
#endif
    for (int64_t g = 0; g < G; g++)
        dc_gemm(false, false, Mg, N, K, 1.0f, A + goff[g], lda, B, ldb, 0.0f, C + g * Mg * ldc,
                ldc);
}

void dc_gemm_transpose(const float *src, int64_t ld, int64_t rows, int64_t cols, float *dst,
                  int64_t ldd) {
#if DC_HAVE_X86_KERNELS
    if (pick_arch() == &arch_avx512) {
        for (int64_t r0 = 0; r0 < rows; r0 += 16) {
            const int rr = (int)DC_MIN((int64_t)16, rows - r0);
            dc_gemm_pack_t_avx512(src + r0 * ld, ld, rr, cols, dst + r0, ldd, rr);
        }
        return;
    }
#endif
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = 0; r < rows; r++) dst[c * ldd + r] = src[r * ld + c];
}
