/* im2col.c — NHWC im2col / col2im for the convolution ops, and Keras' 'same'
 * padding arithmetic. Rows are output pixels, so a convolution is one GEMM
 * (N*HO*WO, KH*KW*C) x (KH*KW*C, F) with the Keras kernel used as is. */
#include "im2col.h"
#include "gemm.h"
#include "../core/cpu.h"
#include <string.h>

#define DC_IK(name) dc_im2col_portable_##name
extern const dc_im2col_kernels DC_IK(kernels);
#include "im2col_body.h"

#if DC_HAVE_X86_KERNELS
extern const dc_im2col_kernels dc_im2col_avx2_kernels, dc_im2col_avx512_kernels;
#endif

/* The build for this CPU, decided once. */
static const dc_im2col_kernels *im2col_kernels(void) {
#if DC_HAVE_X86_KERNELS
    dc_isa isa = dc_cpu_isa();
    if (isa == DC_ISA_AVX512) return &dc_im2col_avx512_kernels;
    if (isa == DC_ISA_AVX2) return &dc_im2col_avx2_kernels;
#endif
    return &dc_im2col_portable_kernels;
}

void dc_conv_out_len(int64_t in, int64_t k, int64_t s, int64_t d, bool same, int64_t *out,
                     int64_t *pad_before) {
    int64_t keff = (k - 1) * d + 1;
    if (same) {
        /* ceil(in / s) and the padding, written so that no step exceeds in or
         * keff (an empty batch may carry an H near INT64_MAX) */
        int64_t o = in / s + (in % s != 0);
        int64_t total = o > 0 ? keff - (in - (o - 1) * s) : 0;
        if (total < 0) total = 0;
        *out = o;
        *pad_before = total / 2;
    } else {
        *out = in >= keff ? (in - keff) / s + 1 : 0;
        *pad_before = 0;
    }
}

// x (N,H,W,C) -> cols (N*HO*WO, KH*KW*C)
void dc_im2col_nhwc(const dc_conv_geom *g, const float *x, float *cols) {
    if (g->n == 0) return; /* an empty batch's H and W may be anything: no products */
    const int64_t img_in = g->h * g->w * g->c, img_out = g->ho * g->wo * dc_geom_patch(g);
    const dc_im2col_kernels *ik = im2col_kernels();
#pragma omp parallel for schedule(static) if (g->n > 1 && g->n * img_out > 32768)
    for (int64_t n = 0; n < g->n; n++) ik->im2col(g, x + n * img_in, cols + n * img_out);
}

// cols (N*HO*WO, KH*KW*C) -> dx (N,H,W,C) +=
void dc_col2im_nhwc(const dc_conv_geom *g, const float *cols, float *dx) {
    if (g->n == 0) return;
    const int64_t img_in = g->h * g->w * g->c, img_out = g->ho * g->wo * dc_geom_patch(g);
    const dc_im2col_kernels *ik = im2col_kernels();
#pragma omp parallel for schedule(static) if (g->n > 1 && g->n * img_out > 32768)
    for (int64_t n = 0; n < g->n; n++) ik->col2im(g, cols + n * img_out, dx + n * img_in);
}

// x (N,H,W,C) -> xp (N,HP,WP,C) + tail zeros
void dc_pad_nhwc(const dc_conv_geom *g, int64_t hp, int64_t wp, int64_t tail, const float *x,
                 float *xp) {
    const int64_t C = g->c, frame = hp * wp * C;
    const int64_t w0 = DC_MIN(g->pl, wp), w1 = DC_MIN(g->pl + g->w, wp);
    /* rows [h0,h1) of a frame hold rows of x; the rest is padding */
    const int64_t h0 = DC_MIN(g->pt, hp), h1 = DC_MIN(g->pt + g->h, hp);
    for (int64_t n = 0; n < g->n; n++) {
        float *f = xp + n * frame;
        const float *xi = x + n * g->h * g->w * C;
        memset(f, 0, (size_t)(h0 * wp * C) * sizeof(float));
        for (int64_t r = h0; r < h1; r++) {
            float *row = f + r * wp * C;
            memset(row, 0, (size_t)(w0 * C) * sizeof(float));
            memcpy(row + w0 * C, xi + ((r - g->pt) * g->w + w0 - g->pl) * C, (size_t)((w1 - w0) * C) * sizeof(float));
            memset(row + w1 * C, 0, (size_t)((wp - w1) * C) * sizeof(float));
        }
        memset(f + h1 * wp * C, 0, (size_t)((hp - h1) * wp * C) * sizeof(float));
    }
    memset(xp + g->n * frame, 0, (size_t)tail * sizeof(float));
}

void dc_pad_chw(const dc_conv_geom *g, int64_t hp, int64_t wp, int64_t ld, const float *x,
                float *xt) {
    const int64_t C = g->c;
    const int64_t w0 = DC_MIN(g->pl, wp), w1 = DC_MIN(g->pl + g->w, wp);
    const int64_t h0 = DC_MIN(g->pt, hp), h1 = DC_MIN(g->pt + g->h, hp);
    memset(xt, 0, (size_t)(C * ld) * sizeof(float));
    for (int64_t n = 0; n < g->n; n++)
        for (int64_t r = h0; r < h1; r++)
            // x row (w1-w0, C) -> xt columns of frame pixels (n, r, w0..w1)
            dc_gemm_transpose(x + ((n * g->h + r - g->pt) * g->w + w0 - g->pl) * C, C, w1 - w0, C,
                              xt + (n * hp + r) * wp + w0, ld);
}
