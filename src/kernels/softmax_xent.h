/* softmax_xent.h — the row softmax behind the fused cross-entropy losses: a
 * polynomial exp the compiler vectorizes, built once per ISA (internal). */
#ifndef DC_SOFTMAX_XENT_H
#define DC_SOFTMAX_XENT_H
#include "../core/cpu.h"

/* z (C,) -> p (C,) = softmax(z); returns log-sum-exp(z). exp is accurate to a
 * few ulp; a row holding NaN gives NaN. */
typedef float (*dc_softmax_row_fn)(const float *z, float *p, int64_t C);
/* The best path for this CPU (decided once). */
dc_softmax_row_fn dc_softmax_row_kernel(void);
/* The path for a given ISA (falls back to portable where not built); for tests. */
dc_softmax_row_fn dc_softmax_row_kernel_isa(dc_isa isa);
/* z (N,C) -> p (N,C) row softmaxes, lse (N) their log-sum-exps, as the row
 * kernel gives them bit for bit; rows of C < 16 go 16 at a time, a row per lane. */
typedef void (*dc_softmax_rows_fn)(const float *z, float *p, float *lse, int64_t N, int64_t C);
dc_softmax_rows_fn dc_softmax_rows_kernel_isa(dc_isa isa);
/* The rows split among the threads (the best path for this CPU). */
void dc_softmax_rows(const float *z, float *p, float *lse, int64_t N, int64_t C);
#endif
