/* bn.h — the streaming kernels behind batch normalization: per-channel block
 * sums and the normalize / input-gradient passes, built once per ISA (internal). */
#ifndef DC_BN_H
#define DC_BN_H
#include "../core/cpu.h"

/* What block_sums adds up in each lane c. */
typedef enum {
    DC_BN_SUM_X,      /* x */
    DC_BN_SUM_SQ_DEV, /* (x - m)^2 */
    DC_BN_SUM_DY_XHAT /* x, and into acc2 x * ((xin - m) * is): backward's two sums in one pass */
} dc_bn_sum;

typedef struct {
    /* acc (w) = the sums of kind over rows [0,rows) of x (row stride ld), rows
     * in order, a lane per column; xin (same layout), m and is (w) are read
     * where kind needs them, acc2 (w) only by DC_BN_SUM_DY_XHAT. */
    void (*block_sums)(dc_bn_sum kind, const float *x, const float *xin, int64_t ld,
                       int64_t rows, int64_t w, const float *m, const float *is, float *acc,
                       float *acc2);
    /* y (rows,w) = (x - m) * is * g + b, the coefficients (w) per column */
    void (*normalize)(const float *x, float *y, int64_t rows, int64_t w, const float *m,
                      const float *is, const float *g, const float *b);
    /* dx (rows,w) += gi * (dy - mdy - (x - m) * is * mdyx), the coefficients (w)
     * per column (gi = gamma * invstd) */
    void (*input_grad)(const float *x, const float *dy, float *dx, int64_t rows, int64_t w,
                       const float *m, const float *is, const float *gi, const float *mdy,
                       const float *mdyx);
} dc_bn_kernels;

/* The best build for this CPU (decided once). */
const dc_bn_kernels *dc_bn_kernels_get(void);
/* The build for a given ISA (portable where not built); for tests. */
const dc_bn_kernels *dc_bn_kernels_isa(dc_isa isa);
#endif
