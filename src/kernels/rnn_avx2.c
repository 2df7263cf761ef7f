/* rnn_avx2.c — the recurrent gate kernels built for AVX2 (see rnn_body.h);
 * only called when the CPU has it. */
#include "rnn.h"
#if DC_HAVE_X86_KERNELS
#define RK(name) dc_rnn_avx2_##name
extern const dc_rnn_kernels RK(kernels);
#include "rnn_body.h"
#else
typedef int dc_rnn_avx2_unused;
#endif
