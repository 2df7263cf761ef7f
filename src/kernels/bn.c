/* bn.c — the portable build of the batch-normalization kernels and the
 * run-time choice among the portable, AVX2 and AVX-512 builds. */
#include "bn.h"

#define DC_BNK(name) dc_bn_portable_##name
#include "bn_body.h"

#if DC_HAVE_X86_KERNELS
extern const dc_bn_kernels dc_bn_avx2_kernels, dc_bn_avx512_kernels;
#endif

const dc_bn_kernels *dc_bn_kernels_isa(dc_isa isa) {
#if DC_HAVE_X86_KERNELS
    if (isa == DC_ISA_AVX512) return &dc_bn_avx512_kernels;
    if (isa == DC_ISA_AVX2) return &dc_bn_avx2_kernels;
#endif
    (void)isa;
    return &dc_bn_portable_kernels;
}

const dc_bn_kernels *dc_bn_kernels_get(void) { return dc_bn_kernels_isa(dc_cpu_isa()); }
