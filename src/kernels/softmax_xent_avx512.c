/* softmax_xent_avx512.c — the row softmaxes built with AVX-512 (see
 * softmax_xent_body.h); only called when the CPU has it. */
#include "softmax_xent.h"
#if DC_HAVE_X86_KERNELS
#define DC_SOFTMAX_ROW_NAME dc_softmax_row_avx512
float dc_softmax_row_avx512(const float *z, float *p, int64_t C);
#define DC_SOFTMAX_ROWS_NAME dc_softmax_rows_avx512
void dc_softmax_rows_avx512(const float *z, float *p, float *lse, int64_t N, int64_t C);
#include "softmax_xent_body.h"
#else
typedef int dc_softmax_xent_avx512_unused;
#endif
