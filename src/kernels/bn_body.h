/* bn_body.h — the kernels of bn.h, included by bn.c (portable) and its _avx2 /
 * _avx512 twins with DC_BNK(name) giving each build's names, so one source gives
 * every ISA path. No FMA contraction (ISO C mode): every build gives the same bits. */

static void DC_BNK(block_sums)(dc_bn_sum kind, const float *x, const float *xin, int64_t ld,
                               int64_t rows, int64_t w, const float *m, const float *is,
                               float *restrict acc, float *restrict acc2) {
    for (int64_t c = 0; c < w; c++) acc[c] = 0;
    if (kind == DC_BN_SUM_DY_XHAT)
        for (int64_t c = 0; c < w; c++) acc2[c] = 0;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict row = x + r * ld;
        if (kind == DC_BN_SUM_SQ_DEV) {
#pragma omp simd
            for (int64_t c = 0; c < w; c++) {
                const float d = row[c] - m[c];
                acc[c] += d * d;
            }
        } else if (kind == DC_BN_SUM_DY_XHAT) {
            const float *restrict xr = xin + r * ld;
#pragma omp simd
            for (int64_t c = 0; c < w; c++) {
                acc[c] += row[c];
                acc2[c] += row[c] * ((xr[c] - m[c]) * is[c]);
            }
        } else {
#pragma omp simd
            for (int64_t c = 0; c < w; c++) acc[c] += row[c];
        }
    }
}

// x (rows,w) -> y (rows,w)
static void DC_BNK(normalize)(const float *x, float *y, int64_t rows, int64_t w, const float *m,
                              const float *is, const float *g, const float *b) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * w;
        float *restrict yr = y + r * w;
#pragma omp simd
        for (int64_t c = 0; c < w; c++) yr[c] = (xr[c] - m[c]) * is[c] * g[c] + b[c];
    }
}

// x, dy (rows,w) -> dx (rows,w) +=
static void DC_BNK(input_grad)(const float *x, const float *dy, float *dx, int64_t rows,
                               int64_t w, const float *m, const float *is, const float *gi,
                               const float *mdy, const float *mdyx) {
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict xr = x + r * w, *restrict dr = dy + r * w;
        float *restrict dxr = dx + r * w;
#pragma omp simd
        for (int64_t c = 0; c < w; c++) {
            const float xhat = (xr[c] - m[c]) * is[c];
            dxr[c] += gi[c] * (dr[c] - mdy[c] - xhat * mdyx[c]);
        }
    }
}

const dc_bn_kernels DC_BNK(kernels) = {DC_BNK(block_sums), DC_BNK(normalize),
                                       DC_BNK(input_grad)};
