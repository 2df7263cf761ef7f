/* rnn.c — the portable build of the recurrent gate kernels and the run-time
 * choice among the portable, AVX2 and AVX-512 builds. */
#include "rnn.h"

#define RK(name) dc_rnn_portable_##name
extern const dc_rnn_kernels RK(kernels);
#include "rnn_body.h"
#undef RK

#if DC_HAVE_X86_KERNELS
extern const dc_rnn_kernels dc_rnn_avx2_kernels, dc_rnn_avx512_kernels;
#endif

const dc_rnn_kernels *dc_rnn_kernels_isa(dc_isa isa) {
#if DC_HAVE_X86_KERNELS
    if (isa == DC_ISA_AVX512) return &dc_rnn_avx512_kernels;
    if (isa == DC_ISA_AVX2) return &dc_rnn_avx2_kernels;
#endif
    (void)isa;
    return &dc_rnn_portable_kernels;
}

const dc_rnn_kernels *dc_rnn_kernels_get(void) { return dc_rnn_kernels_isa(dc_cpu_isa()); }
