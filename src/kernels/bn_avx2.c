/* bn_avx2.c — the batch-normalization kernels built for AVX2 (see
 * bn_body.h); only called when the CPU has it. */
#include "bn.h"
#if DC_HAVE_X86_KERNELS
#define DC_BNK(name) dc_bn_avx2_##name
extern const dc_bn_kernels DC_BNK(kernels);
#include "bn_body.h"
#else
typedef int dc_bn_avx2_unused;
#endif
