/* gemm.h — the matrix-multiply kernel every dense and convolution op calls.
 * Raw floats only (no tensors); row-major; the ISA path is chosen at run time.
 * Threaded with OpenMP over blocks of C; the result is bit-identical for any
 * thread count. Safe to call from several threads, or from inside a caller's
 * parallel region (it then runs on the calling thread alone). */
#ifndef DC_GEMM_H
#define DC_GEMM_H
#include "../core/core.h"

typedef enum { DC_EPI_NONE = 0, DC_EPI_RELU, DC_EPI_SIGMOID, DC_EPI_TANH } dc_epi_act;

/* Applied to each finished element of C, in this order: + bias[j], then act. */
typedef struct {
    const float *bias; /* (N,) or NULL */
    dc_epi_act act;
} dc_gemm_epilogue;

/* C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C.
 * A is stored (M,K) with row stride lda, or (K,M) when ta; B is (K,N) with ldb,
 * or (N,K) when tb. beta == 0 ignores C's old contents (NaN included). */
void dc_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
             int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* dc_gemm followed by the epilogue; ep may be NULL. */
void dc_gemm_ex(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc,
                const dc_gemm_epilogue *ep);
/* Implicit GEMM (a stride-1 convolution without a patch matrix), over I images
 * of G groups of M rows: C[i,g] (M,N) = A~[i,g] (M, ntaps*S) * B (ntaps*S, N) +
 * beta * C[i,g], then the epilogue (ep may be NULL; relu or none), where C[i,g]
 * starts at C + i*ldc_i + g*ldc_g with row stride ldc, and A~[i,g] (r, t*S + s)
 * = A[i*lda_i + g*lda_g + r*lda + toff[t] + s]: the patches of a row of output
 * pixels read in ntaps runs of S floats straight from the (padded) image. B is
 * packed once for all images. Threaded over row tiles outside a parallel
 * region; bit-identical for any thread count. */
void dc_gemm_taps(int64_t I, int64_t G, int64_t M, int64_t N, int64_t ntaps, const int64_t *toff,
                  int64_t S, const float *A, int64_t lda, int64_t lda_g, int64_t lda_i,
                  const float *B, int64_t ldb, float beta, float *C, int64_t ldc, int64_t ldc_g,
                  int64_t ldc_i, const dc_gemm_epilogue *ep);
/* C (G*Mg, N) = A~ (G*Mg, K) * B (K,N), row g*Mg + i of A~ being the K floats at
 * A + goff[g] + i*lda (the weight gradient of an implicit convolution: a row per
 * tap and channel, read from channel-major frames shifted by the tap). B row
 * stride ldb, C row stride ldc; C is overwritten. Runs on the calling thread. */
void dc_gemm_rows(int64_t G, int64_t Mg, int64_t N, int64_t K, const int64_t *goff,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float *C,
                  int64_t ldc);
/* dst (cols, rows) with row stride ldd = src (rows, cols) with row stride ld, transposed. */
void dc_gemm_transpose(const float *src, int64_t ld, int64_t rows, int64_t cols, float *dst,
                  int64_t ldd);
/* The plain triple loop, kept as the oracle for kernel tests. */
void dc_gemm_reference(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                       float *C, int64_t ldc);

/* ---- internal: the pieces of the blocked implementation (not public) ----
 * The driver (gemm.c) packs op(A) into MR-row micro-panels and op(B) into
 * NR-column micro-panels, and calls a microkernel per (MR,NR) tile of C. */

/* What a microkernel does when it stores a tile: t = alpha * acc + beta * t
 * (beta == 0 never reads C), then + bias[j], then relu. */
typedef struct {
    float alpha, beta;
    const float *bias; /* bias of the tile's first column, or NULL */
    bool relu;
} dc_gemm_tile_epi;

/* a: packed (kc,MR) panel (lda == 0); or, where the path allows it, A read in
 * place: lda > 0, rows of op(A) = A (M,K) with row stride lda; lda < 0, A
 * stored (K,M) with row stride -lda. b: packed (kc,NR) panel (ldb == 0), or
 * (ldb > 0) B's rows in place with stride ldb. -> C tile (mr,nr) at c with row
 * stride ldc, mr <= MR and nr <= NR (packed panels are zero padded). */
typedef void (*dc_gemm_ukernel)(int64_t kc, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float *c, int64_t ldc, int mr, int nr,
                                const dc_gemm_tile_epi *e);
void dc_gemm_ukernel_avx512(int64_t kc, const float *a, int64_t lda, const float *b,
                            int64_t ldb, float *c, int64_t ldc, int mr, int nr,
                            const dc_gemm_tile_epi *e); /* 14 x 32, in-place A and B */
void dc_gemm_ukernel_avx2(int64_t kc, const float *a, int64_t lda, const float *b, int64_t ldb,
                          float *c, int64_t ldc, int mr, int nr,
                          const dc_gemm_tile_epi *e); /* 6 x 16, packed only */
/* The implicit-convolution form (dc_gemm_taps): a (row mr-1 at most) read in
 * ntaps segments of kc at a + i*lda + toff[t]; b packed (ntaps*kc, 32). */
void dc_gemm_ukernel_taps_avx512(int64_t kc, const float *a, int64_t lda, const int64_t *toff,
                                 int64_t ntaps, const float *b, float *c, int64_t ldc, int mr,
                                 int nr, const dc_gemm_tile_epi *e);
/* The k-split form for 32 < N <= 36 columns and kc % 4 == 0: tiles of
 * DC_GEMM_KS_MR rows and all N columns (nr = N); b packed by dc_gemm_pack_ks_avx512. */
enum { DC_GEMM_KS_MR = 7 };
void dc_gemm_ukernel_taps_ks_avx512(int64_t kc, const float *a, int64_t lda, const int64_t *toff,
                                    int64_t ntaps, const float *b, float *c, int64_t ldc, int mr,
                                    int nr, const dc_gemm_tile_epi *e);
/* The same with each row of a read from its own pointer rowp[i] (i < mr), one segment. */
void dc_gemm_ukernel_rows_ks_avx512(int64_t kc, const float *const *rowp, const float *b,
                                    float *c, int64_t ldc, int mr, int nr,
                                    const dc_gemm_tile_epi *e);
/* src (kc,cols) with row stride ld -> the k-split kernel's packed B (kc * 36 floats,
 * 64-byte aligned dst); kc % 4 == 0, 32 < cols <= 36. */
void dc_gemm_pack_ks_avx512(const float *src, int64_t ld, int64_t cols, int64_t kc, float *dst);
/* One row of C (batch-1): a (kc) read with stride sa, B (kc,n) in place with
 * row stride ldb -> c (1,n), each element summed and stored exactly as the
 * 14x32 microkernel does it. */
void dc_gemv_avx512(int64_t kc, const float *a, int64_t sa, const float *b, int64_t ldb,
                    float *c, int64_t n, const dc_gemm_tile_epi *e);
/* Transposing pack: src rows (rows,kc), row stride ld -> dst (kc,w) with row
 * stride dstride; columns rows..w-1 become zero. rows <= w <= 16. */
void dc_gemm_pack_t_avx512(const float *src, int64_t ld, int rows, int64_t kc, float *dst,
                           int64_t dstride, int w);
/* Copying pack of a run of panels: src (kc,cols), row stride ld -> ceil(cols/w) panels of
 * (kc,w) one after another, reading src row by row. w <= 32. */
void dc_gemm_pack_panels_avx512(const float *src, int64_t ld, int64_t cols, int64_t kc,
                                float *dst, int w);
/* Scalar merge of a finished accumulator tile t (mr,nr) with row stride ldt into C. */
void dc_gemm_store_tile(const float *t, int64_t ldt, float *c, int64_t ldc, int mr, int nr,
                        const dc_gemm_tile_epi *e);
/* Forces a path (a dc_isa value), clamped to what the CPU can run; -1 returns to
 * dc_cpu_isa(). Returns the path now used. For tests and benchmarks. */
int dc_gemm_set_isa(int isa);
#endif
