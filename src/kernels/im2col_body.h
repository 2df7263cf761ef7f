/* im2col_body.h — one image's im2col and col2im, included once per ISA build
 * with DC_IK(name) naming that build's functions (the short row copies and adds
 * become 512-bit moves where the CPU has them). */
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#if defined(__GNUC__) && !defined(__clang__)
/* Keep the short copies inline: GCC otherwise turns even the vector loop below
 * into a memmove call. */
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

/* d[0,n) = s[0,n), n a few dozen at most: whole and masked vectors with
 * AVX-512 (a memmove call cost 2% of a CNN epoch). */
static inline void DC_IK(copy_run)(float *restrict d, const float *restrict s, int64_t n) {
#ifdef __AVX512F__
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_loadu_ps(s + i));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, s + i));
    }
#else
    dc_copy_short(d, s, n);
#endif
}

static inline void DC_IK(add_run)(float *restrict d, const float *restrict s, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) d[i] += s[i];
}

/* One image of one channel through a 3x3 window, stride 1, no dilation, any
 * padding (the first layer of a small grey-scale CNN): rows of 9 floats, where
 * the general path spends a loop and a copy per 3-float kernel row. Rows
 * outside the image are NULL; pixels outside it read as 0.
 * x (H,W) -> cols (HO*WO, 9) */
static void DC_IK(im2col_c1k3)(const dc_conv_geom *g, const float *x, float *cols) {
    const int64_t H = g->h, W = g->w;
    for (int64_t oh = 0; oh < g->ho; oh++) {
        const float *r[3];
        for (int k = 0; k < 3; k++) {
            const int64_t ih = oh - g->pt + k;
            r[k] = ih >= 0 && ih < H ? x + ih * W : NULL;
        }
        const bool rows_inside = r[0] && r[1] && r[2];
        float *restrict d = cols + oh * g->wo * 9;
        for (int64_t ow = 0; ow < g->wo; ow++, d += 9) {
            const int64_t iw = ow - g->pl;
            if (rows_inside && iw >= 0 && iw + 2 < W) {
                const float *restrict r0 = r[0] + iw, *restrict r1 = r[1] + iw, *restrict r2 = r[2] + iw;
                d[0] = r0[0], d[1] = r0[1], d[2] = r0[2];
                d[3] = r1[0], d[4] = r1[1], d[5] = r1[2];
                d[6] = r2[0], d[7] = r2[1], d[8] = r2[2];
                continue;
            }
            for (int k = 0; k < 3; k++)
                for (int j = 0; j < 3; j++) {
                    const int64_t c = iw + j;
                    d[k * 3 + j] = r[k] && c >= 0 && c < W ? r[k][c] : 0.0f;
                }
        }
    }
}

/* One image: x (H,W,C) -> cols (HO*WO, KH*KW*C). */
static void DC_IK(im2col_image)(const dc_conv_geom *g, const float *x, float *cols) {
    const int64_t H = g->h, W = g->w, C = g->c, KH = g->kh, KW = g->kw;
    const int64_t rowlen = KH * KW * C;
    if (C == 1 && KH == 3 && KW == 3 && g->sh == 1 && g->sw == 1 && g->dh == 1 && g->dw == 1) {
        DC_IK(im2col_c1k3)(g, x, cols);
        return;
    }
    for (int64_t oh = 0; oh < g->ho; oh++) {
        for (int64_t ow = 0; ow < g->wo; ow++) {
            float *dst = cols + (oh * g->wo + ow) * rowlen;
            const int64_t iw0 = ow * g->sw - g->pl;
            /* With no dilation a kernel row is KW*C contiguous floats of x. */
            const bool contiguous = g->dw == 1 && iw0 >= 0 && iw0 + KW <= W;
            for (int64_t kh = 0; kh < KH; kh++) {
                const int64_t ih = oh * g->sh - g->pt + kh * g->dh;
                float *d = dst + kh * KW * C;
                if (ih < 0 || ih >= H) {
                    memset(d, 0, (size_t)(KW * C) * sizeof(float));
                    continue;
                }
                const float *src = x + ih * W * C;
                if (contiguous) {
                    DC_IK(copy_run)(d, src + iw0 * C, KW * C);
                    continue;
                }
                for (int64_t kw = 0; kw < KW; kw++) {
                    const int64_t iw = iw0 + kw * g->dw;
                    if (iw < 0 || iw >= W) memset(d + kw * C, 0, (size_t)C * sizeof(float));
                    else DC_IK(copy_run)(d + kw * C, src + iw * C, C);
                }
            }
        }
    }
}

/* One image: dx (H,W,C) += cols (HO*WO, KH*KW*C) scattered back. */
static void DC_IK(col2im_image)(const dc_conv_geom *g, const float *cols, float *dx) {
    const int64_t H = g->h, W = g->w, C = g->c, KH = g->kh, KW = g->kw;
    const int64_t rowlen = KH * KW * C;
    for (int64_t oh = 0; oh < g->ho; oh++) {
        for (int64_t ow = 0; ow < g->wo; ow++) {
            const float *src = cols + (oh * g->wo + ow) * rowlen;
            const int64_t iw0 = ow * g->sw - g->pl;
            const bool contiguous = g->dw == 1 && iw0 >= 0 && iw0 + KW <= W;
            for (int64_t kh = 0; kh < KH; kh++) {
                const int64_t ih = oh * g->sh - g->pt + kh * g->dh;
                if (ih < 0 || ih >= H) continue;
                const float *s = src + kh * KW * C;
                float *drow = dx + ih * W * C;
                if (contiguous) {
                    DC_IK(add_run)(drow + iw0 * C, s, KW * C);
                    continue;
                }
                for (int64_t kw = 0; kw < KW; kw++) {
                    const int64_t iw = iw0 + kw * g->dw;
                    if (iw < 0 || iw >= W) continue;
                    DC_IK(add_run)(drow + iw * C, s + kw * C, C);
                }
            }
        }
    }
}

const dc_im2col_kernels DC_IK(kernels) = {DC_IK(im2col_image), DC_IK(col2im_image)};
