/* cpu.h — the instruction-set path kernels dispatch on (internal). */
#ifndef DC_CPU_H
#define DC_CPU_H
#include "core.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define DC_HAVE_X86_KERNELS 1
#else
#define DC_HAVE_X86_KERNELS 0
#endif

typedef enum { DC_ISA_PORTABLE = 0, DC_ISA_AVX2 = 1, DC_ISA_AVX512 = 2 } dc_isa;
/* The best path this CPU runs, ignoring DEEPC_ISA. */
dc_isa dc_cpu_best_isa(void);
/* The best path this CPU runs, capped by DEEPC_ISA; decided once. */
dc_isa dc_cpu_isa(void);

/* Denormal floats read and written as zero (x86 FTZ and DAZ) on the calling
 * thread until dc_cpu_restore_denormals(saved); elsewhere a no-op. Denormal
 * operands cost ~100 cycles each on x86, and decaying optimizer moments reach
 * them. Returns the state to restore. */
unsigned dc_cpu_flush_denormals(void);
void dc_cpu_restore_denormals(unsigned saved);
#endif
