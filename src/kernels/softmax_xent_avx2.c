/* softmax_xent_avx2.c — the row softmaxes built with AVX2 + FMA (see
 * softmax_xent_body.h); only called when the CPU has them. */
#include "softmax_xent.h"
#if DC_HAVE_X86_KERNELS
#define DC_SOFTMAX_ROW_NAME dc_softmax_row_avx2
float dc_softmax_row_avx2(const float *z, float *p, int64_t C);
#define DC_SOFTMAX_ROWS_NAME dc_softmax_rows_avx2
void dc_softmax_rows_avx2(const float *z, float *p, float *lse, int64_t N, int64_t C);
#include "softmax_xent_body.h"
#else
typedef int dc_softmax_xent_avx2_unused;
#endif
