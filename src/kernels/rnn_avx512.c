/* rnn_avx512.c — the recurrent gate kernels built for AVX512 (see rnn_body.h);
 * only called when the CPU has it. */
#include "rnn.h"
#if DC_HAVE_X86_KERNELS
#define RK(name) dc_rnn_avx512_##name
extern const dc_rnn_kernels RK(kernels);
#include "rnn_body.h"
#else
typedef int dc_rnn_avx512_unused;
#endif
