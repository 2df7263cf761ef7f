/* softmax_xent.c — the portable row softmax and the run-time choice among the
 * portable, AVX2 and AVX-512 builds of softmax_xent_body.h. */
#include "softmax_xent.h"

#define DC_SOFTMAX_ROW_NAME dc_softmax_row_portable
#define DC_SOFTMAX_ROWS_NAME dc_softmax_rows_portable
#include "softmax_xent_body.h"

#if DC_HAVE_X86_KERNELS
float dc_softmax_row_avx2(const float *z, float *p, int64_t C);
float dc_softmax_row_avx512(const float *z, float *p, int64_t C);
void dc_softmax_rows_avx2(const float *z, float *p, float *lse, int64_t N, int64_t C);
void dc_softmax_rows_avx512(const float *z, float *p, float *lse, int64_t N, int64_t C);
#endif

dc_softmax_row_fn dc_softmax_row_kernel_isa(dc_isa isa) {
#if DC_HAVE_X86_KERNELS
    if (isa == DC_ISA_AVX512) return dc_softmax_row_avx512;
    if (isa == DC_ISA_AVX2) return dc_softmax_row_avx2;
#endif
    (void)isa;
    return dc_softmax_row_portable;
}

dc_softmax_row_fn dc_softmax_row_kernel(void) { return dc_softmax_row_kernel_isa(dc_cpu_isa()); }

dc_softmax_rows_fn dc_softmax_rows_kernel_isa(dc_isa isa) {
#if DC_HAVE_X86_KERNELS
    if (isa == DC_ISA_AVX512) return dc_softmax_rows_avx512;
    if (isa == DC_ISA_AVX2) return dc_softmax_rows_avx2;
#endif
    (void)isa;
    return dc_softmax_rows_portable;
}

/* Chunks of a fixed size, whole blocks of rows: a row's bits do not depend on
 * the thread count (nor, for C < 16, on the chunking at all). */
#define SOFTMAX_CHUNK 1024

void dc_softmax_rows(const float *z, float *p, float *lse, int64_t N, int64_t C) {
    dc_softmax_rows_fn rows = dc_softmax_rows_kernel_isa(dc_cpu_isa());
    const int64_t chunks = (N + SOFTMAX_CHUNK - 1) / SOFTMAX_CHUNK;
#pragma omp parallel for schedule(static) if (N * C > 32768)
    for (int64_t k = 0; k < chunks; k++) {
        const int64_t lo = k * SOFTMAX_CHUNK, hi = DC_MIN(lo + SOFTMAX_CHUNK, N);
        rows(z + lo * C, p + lo * C, lse + lo, hi - lo, C);
    }
}
