/* im2col.h — NHWC patch gathering for convolutions (im2col) and its adjoint
 * (col2im), plus the Keras padding arithmetic shared by the conv and pool ops.
 * Raw floats only; the caller owns every buffer. */
#ifndef DC_IM2COL_H
#define DC_IM2COL_H
#include "../core/core.h"
#include <string.h>

/* The geometry of one 2-D window operation over an NHWC image:
 * an input (N,H,W,C) read through a KHxKW window with strides, dilations and
 * top/left zero padding, giving an output grid (N,HO,WO). */
typedef struct {
    int64_t n, h, w, c;    /* input */
    int64_t kh, kw;        /* window */
    int64_t sh, sw;        /* strides (>= 1) */
    int64_t dh, dw;        /* dilations (>= 1) */
    int64_t pt, pl;        /* padding before the first row / column */
    int64_t ho, wo;        /* output grid */
} dc_conv_geom;

/* Keras output length and leading pad along one axis: 'valid' (same=false)
 * floor((in - ((k-1)d+1)) / s) + 1 (<= 0 when the window does not fit),
 * 'same' ceil(in / s) with pad_total = max((out-1)s + (k-1)d + 1 - in, 0) and
 * pad_before = pad_total / 2 (the odd pixel goes after, unlike PyTorch). */
void dc_conv_out_len(int64_t in, int64_t k, int64_t s, int64_t d, bool same, int64_t *out,
                     int64_t *pad_before);

/* Number of rows of the patch matrix: n * ho * wo; its row length kh * kw * c. */
static inline int64_t dc_geom_rows(const dc_conv_geom *g) { return g->n * g->ho * g->wo; }
static inline int64_t dc_geom_patch(const dc_conv_geom *g) { return g->kh * g->kw * g->c; }

/* d[0,n) = s[0,n) for the short runs of patch gathering and pooling (a 3-float
 * kernel row of a 1-channel image, a few dozen channels). GCC turns a plain
 * copy loop into a memcpy call, which cost 6% of a CNN epoch; fixed-size
 * memcpys compile to single vector moves instead. */
static inline void dc_copy_short(float *restrict d, const float *restrict s, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) memcpy(d + i, s + i, 16 * sizeof(float));
    if (n - i >= 8) memcpy(d + i, s + i, 8 * sizeof(float)), i += 8;
    if (n - i >= 4) memcpy(d + i, s + i, 4 * sizeof(float)), i += 4;
    if (n - i >= 2) memcpy(d + i, s + i, 2 * sizeof(float)), i += 2;
    if (i < n) d[i] = s[i];
}

/* One image's im2col (x (H,W,C) -> cols (HO*WO, KH*KW*C)) and col2im
 * (dx (H,W,C) += cols), built once per ISA (internal to im2col.c). */
typedef struct {
    void (*im2col)(const dc_conv_geom *g, const float *x, float *cols);
    void (*col2im)(const dc_conv_geom *g, const float *cols, float *dx);
} dc_im2col_kernels;

/* x (N,H,W,C) -> cols (N*HO*WO, KH*KW*C): each row is one output pixel's window
 * in (kh, kw, c) order (the Keras kernel order), zeros where it hangs over the
 * padding. Parallel over images. */
void dc_im2col_nhwc(const dc_conv_geom *g, const float *x, float *cols);
/* The adjoint: dx (N,H,W,C) += scatter of cols (N*HO*WO, KH*KW*C).
 * Parallel over images (each image's rows touch only that image). */
void dc_col2im_nhwc(const dc_conv_geom *g, const float *cols, float *dx);
/* The padded layout of implicit-GEMM convolution (stride 1): each image of x
 * (N,H,W,C) put into a zero (HP,WP,C) frame at (pt,pl), images one after
 * another, then `tail` zero floats. A conv output pixel (oh,ow) is then row
 * oh*WP+ow of the frame, and its window a run of KW*C floats per kernel row. */
void dc_pad_nhwc(const dc_conv_geom *g, int64_t hp, int64_t wp, int64_t tail, const float *x,
                 float *xp);
/* The same frames channel-major: xt (C, ld), row c holding channel c of every
 * frame pixel (image after image, hp*wp pixels each), zero past them; ld >= N*HP*WP. */
void dc_pad_chw(const dc_conv_geom *g, int64_t hp, int64_t wp, int64_t ld, const float *x,
                float *xt);
#endif
