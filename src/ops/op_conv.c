/* op_conv.c — 2-D convolution (optionally with a fused max pool) and its transpose
 * over NHWC images: im2col into the tape's arena, then GEMM with the Keras kernel
 * used in place, bias and ReLU fused into the GEMM's epilogue. Shape, forward and
 * backward side by side. */
#include "op.h"
#include "kernels/gemm.h"
#include "kernels/im2col.h"
#include "kernels/maxpool.h"
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* Attributes of both ops: i[0..1] strides, i[2] the dc_padding, i[3..4] dilations,
 * i[5] activation (dc_conv_activation), i[6..7] the fused max pool (conv2d_maxpool).
 * Zeros were mapped to 1 by the wrappers. */
enum { A_SH, A_SW, A_PAD, A_DH, A_DW, A_ACT, A_POOLH, A_POOLW };

/* What forward keeps for backward (tape arena). */
typedef struct {
    float *cols;  /* conv2d: the patch matrix (or x itself on the 1x1 path) */
    float *dcols; /* scratch for the patch-matrix gradient */
    float *part;  /* (BIAS_CHUNKS, F) scratch for the bias gradient */
    struct pool_saved *imp; /* the implicit-GEMM path's state (stride 1), or NULL */
} conv_saved;

static dc_status conv2d_forward_implicit(dc_node *n, const dc_conv_geom *g);
static void conv2d_backward_implicit(dc_node *n, const dc_conv_geom *g, const float *gy);
static bool conv_is_implicit(const dc_conv_geom *g);

/* Checks strides, dilations and the 4-D shapes common to both ops. */
static dc_status check_common(const char *fn, const dc_node *n, const char *wlayout) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    char sx[128], sw[128];
    if (n->n_in < 2 || n->n_in > 3)
        return dc_set_error(DC_ERR_ARG, "%s: %d inputs given, 2 or 3 expected", fn, n->n_in);
    if (x->ndim != 4)
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s must be 4-D (N,H,W,C)", fn,
                            dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    if (w->ndim != 4)
        return dc_set_error(DC_ERR_SHAPE, "%s: w %s must be 4-D %s", fn,
                            dc_shape_string(w->ndim, w->shape, sw, sizeof sw), wlayout);
    if (n->a.i[A_SH] < 1 || n->a.i[A_SW] < 1)
        return dc_set_error(DC_ERR_ARG, "%s: strides (%lld,%lld) must be positive", fn,
                            (long long)n->a.i[A_SH], (long long)n->a.i[A_SW]);
    if (n->a.i[A_DH] < 1 || n->a.i[A_DW] < 1)
        return dc_set_error(DC_ERR_ARG, "%s: dilations (%lld,%lld) must be positive", fn,
                            (long long)n->a.i[A_DH], (long long)n->a.i[A_DW]);
    if (n->a.i[A_PAD] != DC_PAD_VALID && n->a.i[A_PAD] != DC_PAD_SAME)
        return dc_set_error(DC_ERR_ARG, "%s: unknown padding %lld (DC_PAD_VALID or DC_PAD_SAME)",
                            fn, (long long)n->a.i[A_PAD]);
    if (n->a.i[A_ACT] != DC_CONV_ACT_NONE && n->a.i[A_ACT] != DC_CONV_ACT_RELU)
        return dc_set_error(DC_ERR_ARG, "%s: unknown activation %lld", fn,
                            (long long)n->a.i[A_ACT]);
    if (w->shape[0] < 1 || w->shape[1] < 1)
        return dc_set_error(DC_ERR_SHAPE, "%s: w %s has an empty kernel", fn,
                            dc_shape_string(w->ndim, w->shape, sw, sizeof sw));
    return DC_OK;
}

/* The filter count is `filters`; bias must be (filters). */
static dc_status check_bias(const char *fn, const dc_node *n, int64_t filters) {
    if (n->n_in < 3) return DC_OK;
    const dc_tensor *b = n->in[2], *w = n->in[1];
    if (b->ndim != 1 || b->shape[0] != filters) {
        char sb[128], sw[128];
        return dc_set_error(DC_ERR_SHAPE, "%s: bias %s does not match the %lld filters of w %s",
                            fn, dc_shape_string(b->ndim, b->shape, sb, sizeof sb),
                            (long long)filters, dc_shape_string(w->ndim, w->shape, sw, sizeof sw));
    }
    return DC_OK;
}

/* Forward-convolution geometry from an image (N,H,W,C) through the kernel of n. */
static void make_geom(const dc_node *n, int64_t N, int64_t H, int64_t W, int64_t C,
                      dc_conv_geom *g) {
    const dc_tensor *w = n->in[1];
    memset(g, 0, sizeof *g);
    g->n = N, g->h = H, g->w = W, g->c = C;
    g->kh = w->shape[0], g->kw = w->shape[1];
    g->sh = n->a.i[A_SH], g->sw = n->a.i[A_SW];
    g->dh = n->a.i[A_DH], g->dw = n->a.i[A_DW];
    dc_conv_out_len(H, g->kh, g->sh, g->dh, n->a.i[A_PAD] == DC_PAD_SAME, &g->ho, &g->pt);
    dc_conv_out_len(W, g->kw, g->sw, g->dw, n->a.i[A_PAD] == DC_PAD_SAME, &g->wo, &g->pl);
}

/* A 1x1 kernel, stride 1, no padding: the patch matrix is x itself. */
static bool geom_is_pointwise(const dc_conv_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0;
}

/* Row chunks for the bias gradient: a fixed count, so the sum's order (and the
 * result, bit for bit) does not depend on the number of threads. */
#define BIAS_CHUNKS 16

/* The fused ReLU's mask, applied in place to gy (M,F) (masking is linear, so a
 * second backward over the same tape still sums correctly), and db (F) += the
 * column sums of the masked gy, both in one pass over memory. y is the output
 * (NULL: no ReLU); part holds BIAS_CHUNKS*F floats of scratch. */
static void mask_and_bias_grad(const float *y, float *gy, int64_t M, int64_t F, float *db,
                               float *part) {
    if (!y && !db) return;
#pragma omp parallel for schedule(static) if (M * F > 65536)
    for (int k = 0; k < BIAS_CHUNKS; k++) {
        const int64_t lo = M * k / BIAS_CHUNKS, hi = M * (k + 1) / BIAS_CHUNKS;
        float *restrict p = part + (int64_t)k * F;
        for (int64_t f = 0; f < F; f++) p[f] = 0;
        for (int64_t i = lo; i < hi; i++) {
            float *restrict g = gy + i * F;
            if (y) {
                const float *restrict yr = y + i * F;
#pragma omp simd
                for (int64_t f = 0; f < F; f++) g[f] = yr[f] > 0 ? g[f] : 0.0f;
            }
            if (db) {
#pragma omp simd
                for (int64_t f = 0; f < F; f++) p[f] += g[f];
            }
        }
    }
    if (db)
        for (int k = 0; k < BIAS_CHUNKS; k++)
            for (int64_t f = 0; f < F; f++) db[f] += part[(int64_t)k * F + f];
}

/* The output gradient with the fused ReLU's mask applied (in place), the bias
 * gradient accumulated on the way. */
static const float *masked_grad(const dc_node *n, const conv_saved *s, int64_t F) {
    float *gy = n->out->grad;
    const dc_tensor *b = n->n_in == 3 ? n->in[2] : NULL;
    const float *y = n->a.i[A_ACT] == DC_CONV_ACT_RELU ? n->out->data : NULL;
    mask_and_bias_grad(y, gy, n->out->size / F, F, b ? b->grad : NULL, s->part);
    return gy;
}

/* The state forward keeps for backward, zeroed, with the bias-gradient scratch
 * for F filters; set as n->saved. NULL when the arena is out of memory. */
static conv_saved *saved_new(dc_node *n, int64_t F) {
    conv_saved *s = dc_node_alloc(n, sizeof *s);
    if (!s) return NULL;
    memset(s, 0, sizeof *s);
    n->saved = s;
    s->part = dc_node_alloc(n, (size_t)(BIAS_CHUNKS * F) * sizeof(float));
    return s->part ? s : NULL;
}

static void epilogue_of(const dc_node *n, dc_gemm_epilogue *ep) {
    ep->bias = n->n_in == 3 ? n->in[2]->data : NULL;
    ep->act = n->a.i[A_ACT] == DC_CONV_ACT_RELU ? DC_EPI_RELU : DC_EPI_NONE;
}

/* Checks x's channels against w's channel axis, that w has filters on its
 * filter axis, and the bias length; shared by conv2d and its transpose. */
static dc_status check_channels(const char *fn, const dc_node *n, int c_axis, int f_axis) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    char sx[128], sw[128];
    if (x->shape[3] != w->shape[c_axis])
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s and w %s: x has %lld channels, w expects %lld",
                            fn, dc_shape_string(x->ndim, x->shape, sx, sizeof sx),
                            dc_shape_string(w->ndim, w->shape, sw, sizeof sw),
                            (long long)x->shape[3], (long long)w->shape[c_axis]);
    if (w->shape[f_axis] < 1)
        return dc_set_error(DC_ERR_SHAPE, "%s: w %s has zero filters", fn,
                            dc_shape_string(w->ndim, w->shape, sw, sizeof sw));
    return check_bias(fn, n, w->shape[f_axis]);
}

/* ---- conv2d ---- */

/* Checks a conv2d node and fills its geometry. */
static dc_status conv2d_check(const char *fn, const dc_node *n, dc_conv_geom *gout) {
    dc_status st = check_common(fn, n, "(KH,KW,C,F)");
    if (st != DC_OK) return st;
    if ((st = check_channels(fn, n, 2, 3)) != DC_OK) return st;
    const dc_tensor *x = n->in[0], *w = n->in[1];
    char sx[128], sw[128];
    dc_conv_geom g;
    make_geom(n, x->shape[0], x->shape[1], x->shape[2], x->shape[3], &g);
    if (g.ho < 1 || g.wo < 1) {
        int64_t kh = (g.kh - 1) * g.dh + 1, kw = (g.kw - 1) * g.dw + 1;
        return dc_set_error(DC_ERR_SHAPE,
                            "%s: kernel %lldx%lld (dilated %lldx%lld) of w %s is larger than the "
                            "padded input %lldx%lld of x %s",
                            fn, (long long)g.kh, (long long)g.kw, (long long)kh, (long long)kw,
                            dc_shape_string(w->ndim, w->shape, sw, sizeof sw), (long long)g.h,
                            (long long)g.w, dc_shape_string(x->ndim, x->shape, sx, sizeof sx));
    }
    *gout = g;
    return DC_OK;
}

/* x (N,H,W,C), w (KH,KW,C,F), bias (F) -> (N,HO,WO,F) */
dc_status dc_conv2d_shape(const dc_node *n, int *ndim, int64_t *shape) {
    dc_conv_geom g;
    dc_status st = conv2d_check("dc_conv2d", n, &g);
    if (st != DC_OK) return st;
    *ndim = 4;
    shape[0] = g.n, shape[1] = g.ho, shape[2] = g.wo, shape[3] = n->in[1]->shape[3];
    return DC_OK;
}

dc_status dc_conv2d_forward(dc_node *n) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    dc_conv_geom g;
    make_geom(n, x->shape[0], x->shape[1], x->shape[2], x->shape[3], &g);
    const int64_t M = dc_geom_rows(&g), K = dc_geom_patch(&g), F = w->shape[3];
    const bool record = n->out->grad != NULL, pointwise = geom_is_pointwise(&g);
    if (!pointwise && g.n > 0 && conv_is_implicit(&g)) return conv2d_forward_implicit(n, &g);
    conv_saved *s = NULL;
    if (record) {
        if (!(s = saved_new(n, F))) return DC_ERR_NOMEM;
        if (x->grad && !pointwise) {
            s->dcols = dc_node_alloc(n, (size_t)(M * K) * sizeof(float));
            if (!s->dcols) return DC_ERR_NOMEM;
        }
    }
    float *cols = x->data;
    if (!pointwise) {
        cols = dc_node_alloc(n, (size_t)(M * K) * sizeof(float));
        if (!cols) return DC_ERR_NOMEM;
        dc_im2col_nhwc(&g, x->data, cols);
    }
    if (record) s->cols = cols;
    dc_gemm_epilogue ep;
    epilogue_of(n, &ep);
    // cols (M,K) x w (K,F) -> y (M,F)
    dc_gemm_ex(false, false, M, F, K, 1.0f, cols, K, w->data, F, 0.0f, n->out->data, F, &ep);
    return DC_OK;
}

void dc_conv2d_backward(dc_node *n) {
    dc_tensor *x = n->in[0], *w = n->in[1];
    const conv_saved *s = n->saved;
    dc_conv_geom g;
    make_geom(n, x->shape[0], x->shape[1], x->shape[2], x->shape[3], &g);
    const int64_t M = dc_geom_rows(&g), K = dc_geom_patch(&g), F = w->shape[3];
    const float *gy = masked_grad(n, s, F);
    if (s->imp) {
        conv2d_backward_implicit(n, &g, gy);
        return;
    }
    // dW (K,F) += cols^T (K,M) x dY (M,F)
    if (w->grad) dc_gemm(true, false, K, F, M, 1.0f, s->cols, K, gy, F, 1.0f, w->grad, F);
    if (!x->grad) return;
    if (!s->dcols) {
        // dX (M,C) += dY (M,F) x W^T (F,C)
        dc_gemm(false, true, M, K, F, 1.0f, gy, F, w->data, F, 1.0f, x->grad, K);
        return;
    }
    // dCols (M,K) = dY (M,F) x W^T (F,K), scattered back onto dX
    dc_gemm(false, true, M, K, F, 1.0f, gy, F, w->data, F, 0.0f, s->dcols, K);
    dc_col2im_nhwc(&g, s->dcols, x->grad);
}

/* ---- conv2d_maxpool: conv2d, bias, activation and MaxPooling2D in one op ----
 * Fusing the pool keeps the full-size conv output (the largest tensor of a small
 * CNN) out of memory: images go through in chunks whose patch matrix and conv
 * output stay in cache, and only the pooled output and its argmax are kept.
 * Backward rebuilds each chunk's patches and gradient rows on the fly. */

/* Image chunks: a fixed count, so the weight-gradient sums run in an order (and
 * give bits) that do not depend on the number of threads. Chunks are handed out
 * dynamically (which thread takes one changes no bits), so a thread slowed by
 * other load on the machine takes fewer. */
#define POOL_CHUNKS 16

typedef struct pool_saved {
    int32_t *arg;  /* (N,PO,QO,F): conv-output pixel (oh*WO+ow) of each maximum */
    float *scratch; /* per thread slot: patches (rows,K), conv output then gradient
                     * rows (rows,F), and when x needs a gradient, patch gradients
                     * (rows,K). They live only while a chunk is worked on (backward
                     * gathers the patches again): a slot per thread, not per chunk,
                     * stays in L2 (16 chunks of the Fashion CNN's layers would take
                     * 4-6 MB, read back cold). */
    float *part;   /* per chunk: dW (K,F) and db (F) partial sums */
    int64_t chunk_imgs, chunks;
    int slots;     /* thread slots in scratch; the chunk loops use at most this many */
    /* Implicit GEMM (stride 1, several channels): a chunk's images go into zero
     * frames of hp x wp pixels (dc_pad_nhwc) that the products read through tap
     * offsets, and conv outputs live on the frame grid; no patch matrix. */
    bool implicit;
    int64_t hp, wp, margin; /* margin: zero gradient pixels before the first frame */
    int64_t *toff;          /* (KH*KW) tap offsets into the frames (floats) */
    int64_t *toff_dx;       /* (KH*KW) tap offsets into the gradient frames, for dX */
    int64_t *tpix;          /* (KH*KW) tap offsets in pixels, for dW */
    float *wt;              /* (KH*KW*F, C): each tap's kernel transposed, for dX */
} pool_saved;

/* Stride 1 and runs of at least 8 channels: implicit GEMM beats the patch matrix. */
static bool conv_is_implicit(const dc_conv_geom *g) {
    /* the frame grid must fit the pool's int32 argmax, as the output grid does */
    const double hp = (double)g->ho + (double)(g->kh - 1) * (double)g->dh;
    const double wp = (double)g->wo + (double)(g->kw - 1) * (double)g->dw;
    return g->sh == 1 && g->sw == 1 && g->c >= 8 && hp * wp < (double)INT32_MAX;
}

/* Frame sizes and tap offsets for the implicit path (arena); false when out of memory. */
static bool implicit_setup(dc_node *n, pool_saved *s, const dc_conv_geom *g, int64_t F) {
    const int64_t T = g->kh * g->kw, C = g->c;
    s->hp = g->ho + (g->kh - 1) * g->dh;
    s->wp = g->wo + (g->kw - 1) * g->dw;
    s->margin = (g->kh - 1) * g->dh * s->wp + (g->kw - 1) * g->dw;
    s->toff = dc_node_alloc(n, (size_t)(3 * T) * sizeof(int64_t));
    if (!s->toff) return false;
    s->toff_dx = s->toff + T;
    s->tpix = s->toff + 2 * T;
    for (int64_t a = 0; a < g->kh; a++)
        for (int64_t b = 0; b < g->kw; b++) {
            const int64_t pix = a * g->dh * s->wp + b * g->dw;
            s->toff[a * g->kw + b] = pix * C;
            s->tpix[a * g->kw + b] = pix;
            /* dX (q) gathers gz (q - pix) of every tap: read from the margin's start */
            s->toff_dx[a * g->kw + b] = (s->margin - pix) * F;
        }
    return true;
}

/* Floats of one slot's parts: the frames (or patches), the zero margin, the
 * conv output / gradient rows, and the patch gradients (patch path with dx). */
typedef struct {
    int64_t in, margin, out, dcols;
} slot_parts;

static slot_parts slot_layout(const pool_saved *s, const dc_conv_geom *g, int64_t F, bool dx) {
    slot_parts p = {0, 0, 0, 0};
    const int64_t K = dc_geom_patch(g);
    if (s->implicit) {
        const int64_t frames = s->chunk_imgs * s->hp * s->wp;
        /* the last tap's overhang, and 4 pixels more for the channel-major
         * frames of dW (chw_stride) */
        p.in = frames * g->c + ((g->kw - 1) * g->dw + 4) * g->c;
        p.margin = s->margin * F;
        p.out = frames * F;
    } else {
        const int64_t P = g->ho * g->wo;
        p.in = s->chunk_imgs * P * K;
        p.out = s->chunk_imgs * P * F;
        p.dcols = dx ? p.in : 0;
    }
    return p;
}

static int64_t slot_floats(const slot_parts *p) { return p->in + p->margin + p->out + p->dcols; }

/* This thread's slot in a chunk loop of at most s->slots threads. */
static float *slot_of(const pool_saved *s, int64_t slot_size) {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    return s->scratch + (int64_t)t * slot_size;
}

static void pooled_dims(const dc_node *n, const dc_conv_geom *g, int64_t *po, int64_t *qo) {
    *po = g->ho / n->a.i[A_POOLH];
    *qo = g->wo / n->a.i[A_POOLW];
}

/* x (N,H,W,C), w (KH,KW,C,F), bias (F) -> (N,HO/PH,WO/PW,F) */
dc_status dc_conv2d_maxpool_shape(const dc_node *n, int *ndim, int64_t *shape) {
    const char *fn = "dc_conv2d";
    dc_conv_geom g;
    dc_status st = conv2d_check(fn, n, &g);
    if (st != DC_OK) return st;
    if (n->a.i[A_POOLH] < 1 || n->a.i[A_POOLW] < 1)
        return dc_set_error(DC_ERR_ARG, "%s: pool size (%lld,%lld) must be positive", fn,
                            (long long)n->a.i[A_POOLH], (long long)n->a.i[A_POOLW]);
    int64_t po, qo;
    pooled_dims(n, &g, &po, &qo);
    if (po < 1 || qo < 1)
        return dc_set_error(DC_ERR_SHAPE,
                            "%s: pool %lldx%lld is larger than the conv output %lldx%lld", fn,
                            (long long)n->a.i[A_POOLH], (long long)n->a.i[A_POOLW],
                            (long long)g.ho, (long long)g.wo);
    /* the argmax of each window is an int32 pixel index, as in dc_max_pool2d */
    if (g.ho > INT32_MAX / g.wo)
        return dc_set_error(DC_ERR_UNSUPPORTED,
                            "%s: a conv output of %lldx%lld pixels is too large to pool", fn,
                            (long long)g.ho, (long long)g.wo);
    *ndim = 4;
    shape[0] = g.n, shape[1] = po, shape[2] = qo, shape[3] = n->in[1]->shape[3];
    return DC_OK;
}

/* The pool windows of one image of the (cut) conv output. */
static dc_maxpool_geom pool_windows(const dc_node *n, const dc_conv_geom *g, int64_t F) {
    dc_maxpool_geom p = {.ph = n->a.i[A_POOLH], .pw = n->a.i[A_POOLW], .wo = g->wo, .f = F};
    pooled_dims(n, g, &p.po, &p.qo);
    return p;
}

/* The chunk geometry: images [k*ci, min((k+1)*ci, N)). */
static int64_t chunk_images(const pool_saved *s, const dc_conv_geom *g, int64_t k, int64_t *first) {
    *first = k * s->chunk_imgs;
    return DC_MIN(s->chunk_imgs, g->n - *first);
}

/* The conv geometry cut to the pixels some pool window reads ('valid' pooling
 * drops the last rows and columns when the sizes do not divide). */
static void pooled_geom(const dc_node *n, dc_conv_geom *g) {
    const dc_tensor *x = n->in[0];
    make_geom(n, x->shape[0], x->shape[1], x->shape[2], x->shape[3], g);
    int64_t po, qo;
    pooled_dims(n, g, &po, &qo);
    g->ho = po * n->a.i[A_POOLH];
    g->wo = qo * n->a.i[A_POOLW];
}

dc_status dc_conv2d_maxpool_forward(dc_node *n) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    dc_conv_geom g;
    pooled_geom(n, &g);
    const int64_t K = dc_geom_patch(&g), F = w->shape[3];
    pool_saved *s = dc_node_alloc(n, sizeof *s);
    if (!s) return DC_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    n->saved = s;
    s->chunks = DC_MIN(POOL_CHUNKS, g.n);
    if (s->chunks > 0) {
        s->chunk_imgs = (g.n + s->chunks - 1) / s->chunks;
        s->chunks = (g.n + s->chunk_imgs - 1) / s->chunk_imgs;
    }
    const bool dx = n->out->grad && x->grad;
    s->implicit = conv_is_implicit(&g);
    if (s->implicit && !implicit_setup(n, s, &g, F)) return DC_ERR_NOMEM;
    if (s->implicit && dx && !(s->wt = dc_node_alloc(n, (size_t)(K * F) * sizeof(float))))
        return DC_ERR_NOMEM;
    const slot_parts sp = slot_layout(s, &g, F, dx);
    const int64_t slot_size = slot_floats(&sp);
    s->slots = 1;
#ifdef _OPENMP
    s->slots = (int)DC_MAX(1, DC_MIN((int64_t)omp_get_max_threads(), s->chunks));
#endif
    s->scratch = dc_node_alloc(n, (size_t)(s->slots * slot_size) * sizeof(float));
    if (!s->scratch) return DC_ERR_NOMEM;
    if (n->out->grad) {
        s->arg = dc_node_alloc(n, (size_t)n->out->size * sizeof(int32_t));
        s->part = dc_node_alloc(n, (size_t)(s->chunks * (K * F + F)) * sizeof(float));
        if (!s->arg || !s->part) return DC_ERR_NOMEM;
    }
    dc_gemm_epilogue ep;
    epilogue_of(n, &ep);
    const int64_t img_in = g.h * g.w * g.c, img_out = n->out->size / DC_MAX(g.n, 1);
    /* conv output pixels of one image: on the frame grid for the implicit path */
    const int64_t P = s->implicit ? s->hp * s->wp : g.ho * g.wo;
    const dc_maxpool_kernels *pk = dc_maxpool_kernels_get();
    dc_maxpool_geom pw = pool_windows(n, &g, F);
    if (s->implicit) pw.wo = s->wp;
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->slots) \
    if (s->chunks > 1 && g.n * P * F > 65536)
    for (int64_t k = 0; k < s->chunks; k++) {
        int64_t first, cn = chunk_images(s, &g, k, &first);
        float *in = slot_of(s, slot_size), *z = in + sp.in + sp.margin;
        dc_conv_geom gc = g;
        gc.n = cn;
        if (s->implicit) {
            dc_pad_nhwc(&gc, s->hp, s->wp, sp.in - cn * P * g.c, x->data + first * img_in, in);
            // frame rows (wo, taps x C) x w (K,F) -> z (cn, ho, wo, F) on the frame grid
            dc_gemm_taps(cn, g.ho, g.wo, F, g.kh * g.kw, s->toff, g.c, in, g.c, s->wp * g.c,
                         P * g.c, w->data, F, 0.0f, z, F, s->wp * F, P * F, &ep);
        } else {
            dc_im2col_nhwc(&gc, x->data + first * img_in, in);
            // cols (cn*P, K) x w (K,F) -> z (cn*P, F), + bias, activation
            dc_gemm_ex(false, false, cn * P, F, K, 1.0f, in, K, w->data, F, 0.0f, z, F, &ep);
        }
        for (int64_t i = 0; i < cn; i++)
            pk->pool(&pw, z + i * P * F, n->out->data + (first + i) * img_out,
                     s->arg ? s->arg + (first + i) * img_out : NULL);
    }
    return DC_OK;
}

/* Zeroes what unpool leaves of one image's gradient frame (hp, wp, F): the
 * columns past wo of the first ho rows, and the rows past ho. */
static void zero_frame_rest(const pool_saved *s, const dc_conv_geom *g, int64_t F, float *gz) {
    for (int64_t r = 0; r < g->ho; r++)
        memset(gz + (r * s->wp + g->wo) * F, 0, (size_t)((s->wp - g->wo) * F) * sizeof(float));
    memset(gz + g->ho * s->wp * F, 0, (size_t)((s->hp - g->ho) * s->wp * F) * sizeof(float));
}

/* The row stride of a chunk's channel-major frames: every frame pixel, the
 * last tap's overhang, and the 3 pixels a product rounded up to 4 rows reads. */
static int64_t chw_stride(const pool_saved *s, const dc_conv_geom *gc) {
    return gc->n * s->hp * s->wp + (gc->kw - 1) * gc->dw + 4;
}

/* One chunk's dW and dX through the frames (implicit path); gz is the chunk's
 * gradient on the frame grid, `in` its slot's frames. With `padded` forward's
 * frames are still there and dW^T (F,K) comes a tap at a time; otherwise x is
 * put into `in` channel-major, and dW (K,F) is one product whose rows (tap,
 * channel) are the channel rows shifted by the tap: F in the vectors (36 of
 * 36 lanes with the k-split kernel, against 24 of 32 for C a tap at a time). */
static void implicit_chunk_backward(const pool_saved *s, const dc_conv_geom *gc, const float *x,
                                    bool padded, const float *gz, float *in, int64_t F, float *dw,
                                    float *gx) {
    /* gx (cn,H,W,C) */
    const int64_t C = gc->c, T = gc->kh * gc->kw, K = T * C, P = s->hp * s->wp;
    const int64_t rows = (gc->n - 1) * P + gc->ho * s->wp;
    if (dw && padded) {
        // dW^T (F, C) of tap t = gz^T (F, rows) x frames shifted by the tap (rows, C)
        for (int64_t t = 0; t < T; t++)
            dc_gemm(true, false, F, C, rows, 1.0f, gz, F, in + s->toff[t], C, 0.0f, dw + t * C, K);
    } else if (dw) {
        const int64_t ld = chw_stride(s, gc);
        dc_pad_chw(gc, s->hp, s->wp, ld, x, in);
        /* rows rounded up to 4 for the k-split kernel where gz's zero rows past
         * the last output row cover it */
        const int64_t r4 = (rows + 3) / 4 * 4, kr = r4 <= gc->n * P ? r4 : rows;
        // dW (T*C, F): row (t, c) = channel c's frame pixels from tpix[t] (kr) x gz (kr, F)
        dc_gemm_rows(T, C, F, kr, s->tpix, in, ld, gz, F, dw, F);
    }
    if (!gx) return;
    /* dX += at each pixel of x in the frames, the gz of every tap gathered
     * (gz - margin: the zero margin before the first frame) */
    const int64_t h0 = DC_MIN(gc->pt, s->hp), h1 = DC_MIN(gc->pt + gc->h, s->hp);
    const int64_t w0 = DC_MIN(gc->pl, s->wp), w1 = DC_MIN(gc->pl + gc->w, s->wp);
    const float *gzm = gz - s->margin * F;
    dc_gemm_taps(gc->n, h1 - h0, w1 - w0, C, T, s->toff_dx, F, gzm + (h0 * s->wp + w0) * F, F,
                 s->wp * F, P * F, s->wt, C, 1.0f, gx + ((h0 - gc->pt) * gc->w + w0 - gc->pl) * C,
                 C, gc->w * C, gc->h * gc->w * C, NULL);
}

/* wt (KH*KW*F, C): tap t's block is w's (C,F) block of tap t transposed. */
static void transpose_taps(const float *w, int64_t T, int64_t C, int64_t F, float *wt) {
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t f = 0; f < F; f++) wt[(t * F + f) * C + c] = w[(t * C + c) * F + f];
}

/* ---- conv2d by implicit GEMM (stride 1, >= 8 channels), the pooled path's
 * machinery over the whole batch as one chunk: the frames of x replace the patch
 * matrix (9x smaller for 3x3), the products write y in place, and backward reads
 * the output gradient put onto the frame grid. */

static dc_status conv2d_forward_implicit(dc_node *n, const dc_conv_geom *g) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    const int64_t K = dc_geom_patch(g), F = w->shape[3], T = g->kh * g->kw;
    const bool record = n->out->grad != NULL, dx = record && x->grad;
    conv_saved *cs = NULL;
    if (record && !(cs = saved_new(n, F))) return DC_ERR_NOMEM;
    pool_saved *s = dc_node_alloc(n, sizeof *s);
    if (!s) return DC_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->implicit = true;
    s->chunks = 1, s->chunk_imgs = g->n, s->slots = 1;
    if (!implicit_setup(n, s, g, F)) return DC_ERR_NOMEM;
    const slot_parts sp = slot_layout(s, g, F, dx);
    /* inference needs the frames only */
    s->scratch = dc_node_alloc(n, (size_t)(record ? slot_floats(&sp) : sp.in) * sizeof(float));
    if (!s->scratch) return DC_ERR_NOMEM;
    if (record) {
        s->part = dc_node_alloc(n, (size_t)(K * F) * sizeof(float)); /* dW^T (F,K) */
        if (!s->part || (dx && !(s->wt = dc_node_alloc(n, (size_t)(K * F) * sizeof(float)))))
            return DC_ERR_NOMEM;
        cs->imp = s;
    }
    const int64_t P = s->hp * s->wp, C = g->c;
    dc_pad_nhwc(g, s->hp, s->wp, sp.in - g->n * P * C, x->data, s->scratch);
    dc_gemm_epilogue ep;
    epilogue_of(n, &ep);
    // frame rows (wo, taps x C) x w (K,F) -> y (N, ho, wo, F)
    dc_gemm_taps(g->n, g->ho, g->wo, F, T, s->toff, C, s->scratch, C, s->wp * C, P * C, w->data,
                 F, 0.0f, n->out->data, F, g->wo * F, g->ho * g->wo * F, &ep);
    return DC_OK;
}

/* gy (N,HO,WO,F), masked by the fused ReLU -> dW, dX through the frames. */
static void conv2d_backward_implicit(dc_node *n, const dc_conv_geom *g, const float *gy) {
    dc_tensor *x = n->in[0], *w = n->in[1];
    const pool_saved *s = ((const conv_saved *)n->saved)->imp;
    const int64_t K = dc_geom_patch(g), F = w->shape[3], P = s->hp * s->wp;
    const slot_parts sp = slot_layout(s, g, F, x->grad != NULL);
    float *gz = s->scratch + sp.in + sp.margin;
    if (!w->grad && !x->grad) return;
    memset(gz - sp.margin, 0, (size_t)sp.margin * sizeof(float));
    for (int64_t i = 0; i < g->n; i++) {
        float *gzi = gz + i * P * F;
        for (int64_t r = 0; r < g->ho; r++)
            memcpy(gzi + r * s->wp * F, gy + (i * g->ho + r) * g->wo * F,
                   (size_t)(g->wo * F) * sizeof(float));
        zero_frame_rest(s, g, F, gzi);
    }
    if (x->grad) transpose_taps(w->data, g->kh * g->kw, g->c, F, s->wt);
    implicit_chunk_backward(s, g, x->data, true, gz, s->scratch, F, w->grad ? s->part : NULL,
                            x->grad);
    if (!w->grad) return;
    // dW (K,F) += dW^T (F,K) transposed
    for (int64_t f = 0; f < F; f++)
        for (int64_t k = 0; k < K; k++) w->grad[k * F + f] += s->part[f * K + k];
}

void dc_conv2d_maxpool_backward(dc_node *n) {
    dc_tensor *x = n->in[0], *w = n->in[1], *b = n->n_in == 3 ? n->in[2] : NULL;
    const pool_saved *s = n->saved;
    dc_conv_geom g;
    pooled_geom(n, &g);
    const int64_t K = dc_geom_patch(&g), F = w->shape[3];
    const slot_parts sp = slot_layout(s, &g, F, x->grad != NULL);
    const int64_t slot_size = slot_floats(&sp);
    const int64_t P = s->implicit ? s->hp * s->wp : g.ho * g.wo;
    const int64_t img_in = g.h * g.w * g.c, img_out = n->out->size / DC_MAX(g.n, 1);
    const bool relu = n->a.i[A_ACT] == DC_CONV_ACT_RELU;
    const float *y = n->out->data, *gy = n->out->grad;
    /* The GEMM vectorizes along its N: with a long patch (conv2 of the Fashion
     * CNN: K = 216, F = 36) the transposed product dW^T (F,K) fills its vectors
     * (216 of 224 lanes, against 36 of 48 for dW (K,F)) and reads the patches
     * in place; a short patch (K = 9) is better as it is. The implicit path
     * writes dW (K,F) (implicit_chunk_backward). */
    const bool dw_t = !s->implicit && K >= 2 * F;
    const dc_maxpool_kernels *pk = dc_maxpool_kernels_get();
    dc_maxpool_geom pw = pool_windows(n, &g, F);
    if (s->implicit) pw.wo = s->wp;
    if (s->implicit && x->grad) transpose_taps(w->data, g.kh * g.kw, g.c, F, s->wt);
#pragma omp parallel for schedule(dynamic, 1) num_threads(s->slots) \
    if (s->chunks > 1 && g.n * P * F > 65536)
    for (int64_t k = 0; k < s->chunks; k++) {
        int64_t first, cn = chunk_images(s, &g, k, &first);
        float *in = slot_of(s, slot_size), *gz = in + sp.in + sp.margin;
        float *dw = s->part + k * (K * F + F), *db = dw + K * F;
        memset(dw, 0, (size_t)(K * F + F) * sizeof(float));
        /* gz (cn*P, F): the pooled gradient put back at each maximum; through the
         * ReLU only where the maximum was positive. */
        for (int64_t i = 0; i < cn; i++) {
            const int64_t o = (first + i) * img_out;
            pk->unpool(&pw, y + o, gy + o, s->arg + o, relu, gz + i * P * F, db);
            if (s->implicit) zero_frame_rest(s, &g, F, gz + i * P * F);
        }
        dc_conv_geom gc = g;
        gc.n = cn;
        if (s->implicit) {
            memset(gz - sp.margin, 0, (size_t)sp.margin * sizeof(float));
            implicit_chunk_backward(s, &gc, x->data + first * img_in, false, gz, in, F,
                                    w->grad ? dw : NULL, x->grad ? x->grad + first * img_in : NULL);
            continue;
        }
        if (w->grad) dc_im2col_nhwc(&gc, x->data + first * img_in, in);
        if (w->grad && dw_t) {
            // dW^T (F,K) = gz^T (F, cn*P) x cols (cn*P, K)
            dc_gemm(true, false, F, K, cn * P, 1.0f, gz, F, in, K, 0.0f, dw, K);
        } else if (w->grad) {
            // dW (K,F) = cols^T (K, cn*P) x gz (cn*P, F)
            dc_gemm(true, false, K, F, cn * P, 1.0f, in, K, gz, F, 0.0f, dw, F);
        }
        if (x->grad) {
            float *dcols = gz + sp.out;
            // dCols (cn*P, K) = gz (cn*P, F) x W^T (F,K), scattered onto dX
            dc_gemm(false, true, cn * P, K, F, 1.0f, gz, F, w->data, F, 0.0f, dcols, K);
            dc_col2im_nhwc(&gc, dcols, x->grad + first * img_in);
        }
    }
    /* Chunk partials are added in chunk order for every element, whoever adds
     * them: split over rows of dW (disjoint cache lines), this pass runs in
     * parallel too. */
    const int64_t pstride = K * F + F;
    if (w->grad) {
#pragma omp parallel for schedule(static) num_threads(s->slots) if (K * F * s->chunks > 65536)
        for (int64_t i = 0; i < K; i++) {
            float *restrict gw = w->grad + i * F;
            for (int64_t k = 0; k < s->chunks; k++) {
                const float *restrict dw = s->part + k * pstride;
                if (dw_t)
                    for (int64_t f = 0; f < F; f++) gw[f] += dw[f * K + i];
                else
                    for (int64_t f = 0; f < F; f++) gw[f] += dw[i * F + f];
            }
        }
    }
    if (b && b->grad)
        for (int64_t k = 0; k < s->chunks; k++)
            for (int64_t f = 0; f < F; f++) b->grad[f] += s->part[k * pstride + K * F + f];
}

/* Maps the options onto attributes (zero strides/dilations mean 1). */
static void conv_attrs(const dc_conv2d_options *opt, dc_op_attrs *a) {
    memset(a, 0, sizeof *a);
    dc_conv2d_options o = {0};
    if (opt) o = *opt;
    a->i[A_SH] = o.stride_h ? o.stride_h : 1;
    a->i[A_SW] = o.stride_w ? o.stride_w : 1;
    a->i[A_PAD] = (int64_t)o.padding;
    a->i[A_DH] = o.dilation_h ? o.dilation_h : 1;
    a->i[A_DW] = o.dilation_w ? o.dilation_w : 1;
    a->i[A_ACT] = (int64_t)o.activation;
    a->i[A_POOLH] = o.pool_h;
    a->i[A_POOLW] = o.pool_w;
}

dc_tensor *dc_conv2d(dc_tape *t, dc_tensor *x, dc_tensor *w, dc_tensor *bias,
                     const dc_conv2d_options *opt) {
    dc_op_attrs a;
    conv_attrs(opt, &a);
    dc_tensor *in[3] = {x, w, bias};
    const bool pool = opt && (opt->pool_h != 0 || opt->pool_w != 0);
    return dc_op_apply(t, pool ? DC_OP_CONV2D_MAXPOOL : DC_OP_CONV2D, bias ? 3 : 2, in, &a);
}

/* ---- conv2d_transpose ---- */

/* The output length of Conv2DTranspose along one axis (Keras, no
 * output_padding); false when it does not fit in int64 (an empty batch may
 * carry any H and W, and strides and dilations come from the caller). */
static bool deconv_len(int64_t in, int64_t k, int64_t s, int64_t d, bool same, int64_t *out) {
    if (k - 1 > (INT64_MAX - 1) / d || in > INT64_MAX / s) return false;
    const int64_t keff = (k - 1) * d + 1, grown = in * s, extra = DC_MAX(keff - s, 0);
    if (!same && grown > INT64_MAX - extra) return false;
    *out = same ? grown : grown + extra;
    return true;
}

/* The forward convolution this op transposes: from y (N,HO,WO,F) to x's grid;
 * false when that grid's size overflows. */
static bool transpose_geom(const dc_node *n, dc_conv_geom *g) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    const bool same = n->a.i[A_PAD] == DC_PAD_SAME;
    int64_t ho, wo;
    if (!deconv_len(x->shape[1], w->shape[0], n->a.i[A_SH], n->a.i[A_DH], same, &ho) ||
        !deconv_len(x->shape[2], w->shape[1], n->a.i[A_SW], n->a.i[A_DW], same, &wo))
        return false;
    make_geom(n, x->shape[0], ho, wo, w->shape[2], g);
    return true;
}

/* x (N,H,W,C), w (KH,KW,F,C), bias (F) -> (N,HO,WO,F) */
dc_status dc_conv2d_transpose_shape(const dc_node *n, int *ndim, int64_t *shape) {
    const char *fn = "dc_conv2d_transpose";
    dc_status st = check_common(fn, n, "(KH,KW,F,C)");
    if (st != DC_OK) return st;
    if ((st = check_channels(fn, n, 3, 2)) != DC_OK) return st;
    if (n->a.i[A_POOLH] || n->a.i[A_POOLW])
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: no fused pooling (pool_h, pool_w)", fn);
    dc_conv_geom g;
    if (!transpose_geom(n, &g)) {
        char sx[128], sw[128];
        return dc_set_error(DC_ERR_SHAPE, "%s: x %s through w %s with strides (%lld,%lld) and "
                                          "dilations (%lld,%lld) overflows",
                            fn, dc_shape_string(n->in[0]->ndim, n->in[0]->shape, sx, sizeof sx),
                            dc_shape_string(n->in[1]->ndim, n->in[1]->shape, sw, sizeof sw),
                            (long long)n->a.i[A_SH], (long long)n->a.i[A_SW],
                            (long long)n->a.i[A_DH], (long long)n->a.i[A_DW]);
    }
    *ndim = 4;
    shape[0] = g.n, shape[1] = g.h, shape[2] = g.w, shape[3] = g.c;
    return DC_OK;
}

dc_status dc_conv2d_transpose_forward(dc_node *n) {
    const dc_tensor *x = n->in[0], *w = n->in[1];
    dc_conv_geom g;
    (void)transpose_geom(n, &g); /* its size was checked by the shape function */
    /* g maps y (N,HO,WO,F) to the grid (N,H,W) of x: x's rows are its patch rows. */
    const int64_t M = dc_geom_rows(&g), K = dc_geom_patch(&g), C = x->shape[3], F = g.c;
    const bool record = n->out->grad != NULL;
    conv_saved *s = NULL;
    if (record && !(s = saved_new(n, F))) return DC_ERR_NOMEM;
    dc_gemm_epilogue ep;
    epilogue_of(n, &ep);
    if (geom_is_pointwise(&g)) {
        // x (M,C) x w^T (C,F) -> y (M,F)
        dc_gemm_ex(false, true, M, F, C, 1.0f, x->data, C, w->data, C, 0.0f, n->out->data, F,
                   &ep);
        return DC_OK;
    }
    float *cols = dc_node_alloc(n, (size_t)(M * K) * sizeof(float));
    if (!cols) return DC_ERR_NOMEM;
    if (record) s->dcols = cols; /* backward reuses it for the patches of dY */
    // cols (M, KH*KW*F) = x (M,C) x w^T (C, KH*KW*F), scattered onto y (zeroed here:
    // col2im adds, and the tape hands out op outputs unzeroed)
    dc_gemm(false, true, M, K, C, 1.0f, x->data, C, w->data, C, 0.0f, cols, K);
    memset(n->out->data, 0, (size_t)n->out->size * sizeof(float));
    dc_col2im_nhwc(&g, cols, n->out->data);
    float *y = n->out->data;
    const int64_t rows = n->out->size / F;
    if (ep.bias || ep.act != DC_EPI_NONE) {
#pragma omp parallel for schedule(static) if (rows * F > 65536)
        for (int64_t i = 0; i < rows; i++) {
            float *r = y + i * F;
            if (ep.bias)
                for (int64_t f = 0; f < F; f++) r[f] += ep.bias[f];
            if (ep.act == DC_EPI_RELU)
                for (int64_t f = 0; f < F; f++) r[f] = r[f] > 0 ? r[f] : 0.0f;
        }
    }
    return DC_OK;
}

void dc_conv2d_transpose_backward(dc_node *n) {
    dc_tensor *x = n->in[0], *w = n->in[1];
    const conv_saved *s = n->saved;
    dc_conv_geom g;
    (void)transpose_geom(n, &g);
    const int64_t M = dc_geom_rows(&g), K = dc_geom_patch(&g), C = x->shape[3], F = g.c;
    const float *gy = masked_grad(n, s, F);
    const float *dcols = gy; /* pointwise: dY is its own patch matrix */
    if (!geom_is_pointwise(&g)) {
        dc_im2col_nhwc(&g, gy, s->dcols);
        dcols = s->dcols;
    }
    // dX (M,C) += dCols (M,K) x W (K,C)
    if (x->grad) dc_gemm(false, false, M, C, K, 1.0f, dcols, K, w->data, C, 1.0f, x->grad, C);
    // dW (K,C) += dCols^T (K,M) x X (M,C)
    if (w->grad) dc_gemm(true, false, K, C, M, 1.0f, dcols, K, x->data, C, 1.0f, w->grad, C);
}

dc_tensor *dc_conv2d_transpose(dc_tape *t, dc_tensor *x, dc_tensor *w, dc_tensor *bias,
                               const dc_conv2d_options *opt) {
    dc_op_attrs a;
    conv_attrs(opt, &a);
    dc_tensor *in[3] = {x, w, bias};
    return dc_op_apply(t, DC_OP_CONV2D_TRANSPOSE, bias ? 3 : 2, in, &a);
}
