/* gemm_avx512.c — the AVX-512 GEMM microkernel: a 14x32 tile of C held in 28
 * zmm accumulators, one broadcast of A feeding two FMAs per row and k; masked
 * stores do the ragged edges and the fused epilogue (alpha, beta, bias, relu).
 * Also the AVX-512 packing routines (a 16x16 in-register transpose). */
#include "gemm.h"
#include "../core/cpu.h"
#if DC_HAVE_X86_KERNELS
#include <immintrin.h>
#include "avx512_lanes.h"

#define MR 14
#define NR 32
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13)

/* nv: 16-float vectors per row actually computed (1 when the tile is at most
 * 16 wide, halving the work on narrow edges such as N = 24 or 36); rv: rows
 * computed (4, 8, 10 or 14), so a short edge tile (M = 32 = 14 + 14 + 4) is cheap.
 * da: 0 packed A; 1 A read in place, row-major with row stride lda; 2 and 3
 * A stored transposed (K,M) read in place, k rows -lda apart (lda < 0), 3 for
 * a full tile and 2 for an edge tile. Rows past mr repeat row mr-1 so nothing
 * is read out of bounds. db: B read in place with row stride ldb, masked past nr.
 * da 4 (implicit convolution): K is ntaps segments of kc; row i of A in
 * segment t starts at a + i * lda + toff[t] (B packed). da 5: the same for a
 * full tile (mr == rv), rows addressed from five pointers, three rows each
 * (p, p + lda, p + 2 lda: base + index * scale), so that no row's pointer is
 * reloaded from the stack per broadcast (14 pointers do not fit the
 * registers; the reloads made the loop load-bound). */
// a (kc,14) packed, (mr,kc) or (kc,mr) in place; b (kc,32) packed or (kc,nr) in place
//   -> c (mr,nr)
static inline __attribute__((always_inline)) void
ukr(int64_t kc, const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
    int mr, int nr, const dc_gemm_tile_epi *e, const int nv, const int rv, const int da,
    const int db, const int64_t *toff, const int64_t ntaps) {
#define DECL(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps();
    ROWS(DECL)
#undef DECL
    const __mmask16 m0 = nr >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32   ? (__mmask16)0xFFFF
                         : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1)
                                   : (__mmask16)0;
#define RPTR(i)                                                                 \
    const int64_t o##i = (i) < mr ? (i) : mr - 1;                               \
    const float *a##i = da == 1 ? a + o##i * lda : a;
#define REBASE(i) a##i = a + o##i * lda + toff[t];
    const int64_t lda2 = 2 * lda;
    const float *q0 = a, *q1 = a, *q2 = a, *q3 = a, *q4 = a;
#define REBASE5                                                                 \
    {                                                                           \
        q0 = a + toff[t], q1 = q0 + 3 * lda, q2 = q0 + 6 * lda;                 \
        q3 = q0 + 9 * lda, q4 = q0 + 12 * lda;                                  \
        /* opaque to the compiler, so it keeps five pointers, not 14 offsets */ \
        __asm__("" : "+r"(q0), "+r"(q1), "+r"(q2), "+r"(q3), "+r"(q4));          \
    }
#define QROW(i) ((i) / 3 == 0 ? q0 : (i) / 3 == 1 ? q1 : (i) / 3 == 2 ? q2 : (i) / 3 == 3 ? q3 : q4)
#define QVAL(i) ((i) % 3 == 0 ? QROW(i)[0] : (i) % 3 == 1 ? QROW(i)[lda] : QROW(i)[lda2])
    ROWS(RPTR)
#undef RPTR
    const int64_t astep = da >= 2 ? -lda : MR;
    const int64_t bstep = db ? ldb : NR;
    /* C comes to L2 now; the k loop streams A and B through L1, so the move to
     * L1 waits for the last iterations. Short loops gain nothing from it. */
    const bool pf = kc * ntaps >= 64;
    for (int i = 0; pf && i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T1);
        if (nv == 2) _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T1);
    }
#define STEP(i)                                                                 \
    if (i < rv) {                                                               \
        __m512 av = _mm512_set1_ps(da == 5 ? QVAL(i) : da == 1 || da == 4 ? a##i[k]    \
                                   : da == 2 ? a[o##i] : a[i]);                   \
        c##i##_0 = _mm512_fmadd_ps(av, b0, c##i##_0);                           \
        if (nv == 2) c##i##_1 = _mm512_fmadd_ps(av, b1, c##i##_1);              \
    }
#define KLOOP(k0, k1)                                                           \
    for (int64_t k = (k0); k < (k1); k++) {                                     \
        __m512 b0, b1 = _mm512_setzero_ps();                                    \
        if (db) {                                                               \
            b0 = _mm512_maskz_loadu_ps(m0, b);                                  \
            if (nv == 2) b1 = _mm512_maskz_loadu_ps(m1, b + 16);                \
        } else {                                                                \
            b0 = _mm512_load_ps(b);                                             \
            if (nv == 2) b1 = _mm512_load_ps(b + 16);                           \
        }                                                                       \
        if (da < 1 || da == 2 || da == 3)                                       \
            _mm_prefetch((const char *)(a + 8 * astep), _MM_HINT_T0);           \
        ROWS(STEP)                                                              \
        if (da < 1 || da == 2 || da == 3) a += astep;                           \
        if (da == 5) q0++, q1++, q2++, q3++, q4++;                              \
        b += bstep;                                                             \
    }
    /* every segment but the last (only implicit convolution has several) */
    int64_t t = 0;
    for (; da >= 4 && t < ntaps - 1; t++) {
        if (da == 5) REBASE5
        else {
            ROWS(REBASE)
        }
#pragma GCC unroll 2
        KLOOP(0, kc)
    }
    if (da == 5) REBASE5
    if (da == 4) {
        ROWS(REBASE)
    }
    const int64_t tail = kc < 24 ? kc : 24;
#pragma GCC unroll 2
    KLOOP(0, kc - tail)
    for (int i = 0; pf && i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        if (nv == 2) _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    KLOOP(kc - tail, kc)
#undef KLOOP
#undef STEP
#undef REBASE
#undef REBASE5
#undef QVAL
#undef QROW
    const __m512 al = _mm512_set1_ps(e->alpha), be = _mm512_set1_ps(e->beta);
    const __m512 zero = _mm512_setzero_ps();
    /* one word of flags: kept in a register, not re-derived from floats per row */
    const unsigned fl = (e->alpha != 1 ? 1u : 0u) | (e->beta != 0 ? 2u : 0u) |
                        (e->bias ? 4u : 0u) | (e->relu ? 8u : 0u);
    const bool use_alpha = fl & 1, use_beta = fl & 2, use_bias = fl & 4, relu = fl & 8;
    __m512 bias0 = zero, bias1 = zero;
    if (e->bias) {
        bias0 = _mm512_maskz_loadu_ps(m0, e->bias);
        if (nv == 2) bias1 = _mm512_maskz_loadu_ps(m1, e->bias + 16);
    }
#define FIN(v, cp, m)                                                           \
    {                                                                           \
        if (use_alpha) v = _mm512_mul_ps(al, v);                                \
        if (use_beta) v = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(m, cp), v); \
        if (use_bias) v = _mm512_add_ps(v, bias##m##_v);                        \
        if (relu) v = _mm512_max_ps(v, zero);                                   \
        _mm512_mask_storeu_ps(cp, m, v);                                        \
    }
    const __m512 biasm0_v = bias0, biasm1_v = bias1;
#define STORE(i)                                                                \
    if (i < rv && i < mr) {                                                     \
        float *cr = c + (int64_t)(i) * ldc;                                     \
        FIN(c##i##_0, cr, m0)                                                   \
        if (nv == 2) FIN(c##i##_1, cr + 16, m1)                                 \
    }
#define STORE_PLAIN(i)                                                          \
    if (i < rv && i < mr) {                                                     \
        float *cr = c + (int64_t)(i) * ldc;                                     \
        _mm512_mask_storeu_ps(cr, m0, c##i##_0);                                \
        if (nv == 2) _mm512_mask_storeu_ps(cr + 16, m1, c##i##_1);              \
    }
    /* The plain store has its own copy: with 28 accumulators live the compiler
     * would otherwise re-test every flag on every row. */
    if (!use_alpha && !use_beta && !use_bias && !relu) {
        ROWS(STORE_PLAIN)
    } else {
        ROWS(STORE)
    }
#undef STORE
#undef STORE_PLAIN
#undef FIN
}

#define CALL(nv, rv, da, db) ukr(kc, a, lda, b, ldb, c, ldc, mr, nr, e, nv, rv, da, db, toff, ntaps)
/* rv: the smallest row count that covers mr; A stored transposed picks the
 * full-tile form when mr is exactly rv. */
#define RV_CASE(nv, rv, da, db)                                                 \
    {                                                                           \
        if (da == 4 && mr == rv) CALL(nv, rv, 5, db);                           \
        else if (da < 2 || da == 4) CALL(nv, rv, da, db);                       \
        else if (mr == rv) CALL(nv, rv, 3, db);                                 \
        else CALL(nv, rv, 2, db);                                               \
    }
#define RV_CASES(nv, da, db)                                                    \
    if (mr > 10) RV_CASE(nv, 14, da, db)                                        \
    else if (mr > 8) RV_CASE(nv, 10, da, db)                                    \
    else if (mr > 4) RV_CASE(nv, 8, da, db)                                     \
    else RV_CASE(nv, 4, da, db)
#define NV_CASES(da, db)                                                        \
    if (nr > 16) {                                                              \
        RV_CASES(2, da, db)                                                     \
    } else {                                                                    \
        RV_CASES(1, da, db)                                                     \
    }

void dc_gemm_ukernel_avx512(int64_t kc, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float *c, int64_t ldc, int mr, int nr,
                            const dc_gemm_tile_epi *e) {
    const int64_t *toff = NULL, ntaps = 1;
    const int da = lda == 0 ? 0 : lda > 0 ? 1 : 2;
    if (da == 0 && ldb == 0) {
        NV_CASES(0, 0)
    } else if (da == 0) {
        NV_CASES(0, 1)
    } else if (da == 1 && ldb == 0) {
        NV_CASES(1, 0)
    } else if (da == 1) {
        NV_CASES(1, 1)
    } else if (ldb == 0) {
        NV_CASES(2, 0)
    } else {
        NV_CASES(2, 1)
    }
}

void dc_gemm_ukernel_taps_avx512(int64_t kc, const float *a, int64_t lda, const int64_t *toff,
                                 int64_t ntaps, const float *b, float *c, int64_t ldc, int mr,
                                 int nr, const dc_gemm_tile_epi *e) {
    const int64_t ldb = 0;
    NV_CASES(4, 0)
}

/* ---- the k-split implicit-convolution kernel ----
 * A width of 32 + r columns (r <= 4: the 36 filters of the Fashion CNN's conv2)
 * would leave 12 of the 16 lanes of its last vector empty. Here the r columns
 * share one vector holding 4 columns x 4 consecutive k: lane 4j + i is column
 * 32 + j at k + i, fed by the 4 floats a[k..k+3] broadcast to every 128-bit
 * block, so all lanes work (9 FMAs per row and 4 k instead of 12); the 4
 * partial sums of a column are added at the end. A tile is KS_MR rows: 3
 * accumulators a row, 21 in all. (The same split for 16 + 8 columns, N = 24,
 * measured slower than 24 of 32 lanes: 6 FMAs per 5 loads of A leave the load
 * ports, not the FMAs, the limit.) */
#define KS_MR DC_GEMM_KS_MR
#define KROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6)

/* lane 4j of the result = the sum of block j's four lanes; -> the 4 sums in lanes 0..3 */
static inline __m512 ks_block_sums(__m512 v) {
    v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1)); /* lanes i ^ 1 */
    v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E)); /* lanes i ^ 2 */
    return _mm512_maskz_compress_ps(0x1111, v);
}

/* Floats of packed B per 4 k: 4 rows of 32 columns, then the split vector. */
#define KS_GROUP (4 * 32 + 16)

// a (KS_MR rows, ntaps segments of kc at a + i*lda + toff[t], or at rowp[i] + toff[t]
// when rowp is given (edge form only), kc % 4 == 0),
// b packed by dc_gemm_pack_ks_avx512 -> c (mr, nr), 32 < nr <= 36
static inline __attribute__((always_inline)) void
ukr_ks(int64_t kc, const float *a, int64_t lda, const int64_t *toff, int64_t ntaps,
       const float *const *rowp, const float *b, float *c, int64_t ldc, int mr, int nr,
       const dc_gemm_tile_epi *e, const int full) {
#define DECL(i)                                                                 \
    __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps();      \
    __m512 r##i = _mm512_setzero_ps();
    KROWS(DECL)
#undef DECL
    const int64_t lda2 = 2 * lda, last = mr - 1;
    /* A full tile reads its rows from three pointers (p, p + lda, p + 2 lda), as
     * the 14-row kernel does; an edge tile has a pointer per row, rows past mr
     * repeating row mr - 1 (their sums are never stored). */
    const float *q0 = a, *q1 = a, *q2 = a;
#define KPTR(i) const float *p##i = a;
    KROWS(KPTR)
#undef KPTR
#define KQROW(i) ((i) / 3 == 0 ? q0 : (i) / 3 == 1 ? q1 : q2)
#define KQOFF(i) ((i) % 3 == 0 ? 0 : (i) % 3 == 1 ? lda : lda2)
#define KROW(i) (full ? KQROW(i) + KQOFF(i) : p##i)
#define KSTEP(i, kk)                                                            \
    {                                                                           \
        const __m512 av = _mm512_set1_ps(KROW(i)[kk]);                          \
        c##i##_0 = _mm512_fmadd_ps(av, b0, c##i##_0);                           \
        c##i##_1 = _mm512_fmadd_ps(av, b1, c##i##_1);                           \
    }
#define KREM(i)                                                                 \
    r##i = _mm512_fmadd_ps(_mm512_broadcast_f32x4(_mm_loadu_ps(KROW(i))), bq, r##i);
#define KK(kk)                                                                  \
    {                                                                           \
        const __m512 b0 = _mm512_load_ps(b + (kk) * 32);                        \
        const __m512 b1 = _mm512_load_ps(b + (kk) * 32 + 16);                   \
        KSTEP(0, kk) KSTEP(1, kk) KSTEP(2, kk) KSTEP(3, kk) KSTEP(4, kk)        \
        KSTEP(5, kk) KSTEP(6, kk)                                               \
    }
#define KREBASE(i)                                                              \
    p##i = (rowp ? rowp[DC_MIN((int64_t)(i), last)] : a + DC_MIN((int64_t)(i), last) * lda) + \
           toff[t];
#define KADV(i) p##i += 4;
    for (int64_t t = 0; t < ntaps; t++) {
        if (full) {
            q0 = a + toff[t], q1 = q0 + 3 * lda, q2 = q0 + 6 * lda;
            /* opaque to the compiler, so it keeps three pointers, not 7 offsets */
            __asm__("" : "+r"(q0), "+r"(q1), "+r"(q2));
        } else {
            KROWS(KREBASE)
        }
        for (int64_t k = 0; k < kc; k += 4) {
            KK(0) KK(1) KK(2) KK(3)
            const __m512 bq = _mm512_load_ps(b + 4 * 32);
            KROWS(KREM)
            if (full) q0 += 4, q1 += 4, q2 += 4;
            else {
                KROWS(KADV)
            }
            b += KS_GROUP;
        }
    }
#undef KADV
#undef KREBASE
#undef KK
#undef KREM
#undef KSTEP
#undef KROW
#undef KQOFF
#undef KQROW
    const unsigned fl = (e->alpha != 1 ? 1u : 0u) | (e->beta != 0 ? 2u : 0u) |
                        (e->bias ? 4u : 0u) | (e->relu ? 8u : 0u);
    const bool use_alpha = fl & 1, use_beta = fl & 2, use_bias = fl & 4, relu = fl & 8;
    const __m512 al = _mm512_set1_ps(e->alpha), be = _mm512_set1_ps(e->beta);
    const __m512 zero = _mm512_setzero_ps();
    const __mmask16 all = 0xFFFF, mq = dc_lanes16(nr - 32);
    __m512 bias0 = zero, bias1 = zero, biasq = zero;
    if (use_bias) {
        bias0 = _mm512_loadu_ps(e->bias);
        bias1 = _mm512_loadu_ps(e->bias + 16);
        biasq = _mm512_maskz_loadu_ps(mq, e->bias + 32);
    }
#define KFIN(v, cp, m, bv)                                                      \
    {                                                                           \
        if (use_alpha) v = _mm512_mul_ps(al, v);                                \
        if (use_beta) v = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(m, cp), v); \
        if (use_bias) v = _mm512_add_ps(v, bv);                                 \
        if (relu) v = _mm512_max_ps(v, zero);                                   \
        _mm512_mask_storeu_ps(cp, m, v);                                        \
    }
#define KSTORE(i)                                                               \
    if (i < mr) {                                                               \
        float *cr = c + (int64_t)(i) * ldc;                                     \
        KFIN(c##i##_0, cr, all, bias0)                                          \
        KFIN(c##i##_1, cr + 16, all, bias1)                                     \
        __m512 s = ks_block_sums(r##i);                                         \
        KFIN(s, cr + 32, mq, biasq)                                             \
    }
    KROWS(KSTORE)
#undef KSTORE
#undef KFIN
}

void dc_gemm_ukernel_taps_ks_avx512(int64_t kc, const float *a, int64_t lda, const int64_t *toff,
                                    int64_t ntaps, const float *b, float *c, int64_t ldc, int mr,
                                    int nr, const dc_gemm_tile_epi *e) {
    if (mr == KS_MR) ukr_ks(kc, a, lda, toff, ntaps, NULL, b, c, ldc, mr, nr, e, 1);
    else ukr_ks(kc, a, lda, toff, ntaps, NULL, b, c, ldc, mr, nr, e, 0);
}

void dc_gemm_ukernel_rows_ks_avx512(int64_t kc, const float *const *rowp, const float *b,
                                    float *c, int64_t ldc, int mr, int nr,
                                    const dc_gemm_tile_epi *e) {
    const int64_t toff[1] = {0};
    ukr_ks(kc, NULL, 0, toff, 1, rowp, b, c, ldc, mr, nr, e, 0);
}

// src (kc,cols) with row stride ld, kc % 4 == 0, 32 < cols <= 36 -> per 4 rows of
// k: those rows' first 32 columns, then a vector whose lane 4j + i is
// src[k + i][32 + j] (zero past cols)
void dc_gemm_pack_ks_avx512(const float *src, int64_t ld, int64_t cols, int64_t kc, float *dst) {
    for (int64_t k = 0; k < kc; k += 4) {
        for (int i = 0; i < 4; i++) {
            const float *sk = src + (k + i) * ld;
            _mm512_store_ps(dst + i * 32, _mm512_loadu_ps(sk));
            _mm512_store_ps(dst + i * 32 + 16, _mm512_loadu_ps(sk + 16));
            for (int j = 0; j < 4; j++) dst[4 * 32 + 4 * j + i] = 32 + j < cols ? sk[32 + j] : 0.0f;
        }
        dst += KS_GROUP;
    }
}
#undef KS_GROUP
#undef KROWS

/* In-register 16x16 transpose: r[i] lane j  ->  r[j] lane i. */
static inline __attribute__((always_inline)) void tr16(__m512 r[16]) {
    __m512 t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    /* r[4q + s] now holds, per 128-bit lane L, column 4L + s' of rows 4q..4q+3 */
#pragma GCC unroll 16
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 4; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
        r[i + 4] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0x88);
        r[i + 12] = _mm512_shuffle_f32x4(t[i + 4], t[i + 12], 0xDD);
    }
}

// src rows (rows,kc) with stride ld -> dst (kc,w) with stride dstride; rows < w zero
void dc_gemm_pack_t_avx512(const float *src, int64_t ld, int rows, int64_t kc, float *dst,
                           int64_t dstride, int w) {
    const __mmask16 wm = (__mmask16)((1u << w) - 1);
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
        int kk = (int)(kc - k0 < 16 ? kc - k0 : 16);
        __mmask16 km = (__mmask16)((1u << kk) - 1);
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = _mm512_maskz_loadu_ps(i < rows ? km : 0, src + (i < rows ? i : 0) * ld + k0);
        tr16(r);
#pragma GCC unroll 16
        for (int t = 0; t < kk; t++) _mm512_mask_storeu_ps(dst + (k0 + t) * dstride, wm, r[t]);
    }
}

// src (kc,cols) with row stride ld -> ceil(cols/w) panels (kc,w), panel after panel;
// columns past cols zero, w <= 32. k outermost, so src is read row by row.
void dc_gemm_pack_panels_avx512(const float *src, int64_t ld, int64_t cols, int64_t kc,
                                float *dst, int w) {
    const int64_t np = (cols + w - 1) / w, pstride = kc * w;
    const int w0 = w < 16 ? w : 16, w1 = w - w0;
    const __mmask16 s0 = (__mmask16)((1u << w0) - 1), s1 = (__mmask16)((1u << w1) - 1);
    for (int64_t k = 0; k < kc; k++) {
        const float *sk = src + k * ld;
        float *dk = dst + k * w;
        /* rows are far apart; fetch ahead what the stream prefetcher may miss */
        if (k + 12 < kc)
            for (int64_t j = 0; j < cols; j += 16)
                _mm_prefetch((const char *)(sk + 12 * ld + j), _MM_HINT_T0);
        for (int64_t p = 0; p < np; p++) {
            int64_t left = cols - p * w;
            int c0 = left < 16 ? (int)left : 16, c1 = left < w ? (int)left - c0 : w1;
            __mmask16 l0 = (__mmask16)((1u << c0) - 1), l1 = (__mmask16)((1u << c1) - 1);
            _mm512_mask_storeu_ps(dk + p * pstride, s0, _mm512_maskz_loadu_ps(l0, sk + p * w));
            if (w1)
                _mm512_mask_storeu_ps(dk + p * pstride + 16, s1,
                                      _mm512_maskz_loadu_ps(l1, sk + p * w + 16));
        }
    }
}
#else
typedef int dc_gemm_avx512_unused; /* ISO C wants a declaration in every file */
#endif
