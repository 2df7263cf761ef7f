/* onnx_export.c — a model's inference graph (Sequential or Functional) as an ONNX file
 * (opset 13), through a small protobuf encoder of our own; it takes deepc's NHWC inputs. */
#include "../model/model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FN "dc_model_export_onnx"
#define ONNX_IR_VERSION 7
#define ONNX_OPSET 13

/* ---- protobuf encoding: varints and length-delimited fields into a growing buffer ---- */
typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} pb_buf;

static void pb_raw(pb_buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = dc_realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void pb_varint(pb_buf *b, uint64_t v) {
    uint8_t tmp[10];
    size_t k = 0;
    do {
        tmp[k] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) tmp[k] |= 0x80;
        k++;
    } while (v);
    pb_raw(b, tmp, k);
}

/* Wire types: 0 varint, 2 length-delimited, 5 32-bit. */
static void pb_tag(pb_buf *b, int field, int wire) { pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire); }
static void pb_int(pb_buf *b, int field, int64_t v) {
    pb_tag(b, field, 0);
    pb_varint(b, (uint64_t)v); /* int64: negatives as ten-byte two's complement */
}
static void pb_bytes(pb_buf *b, int field, const void *p, size_t n) {
    pb_tag(b, field, 2);
    pb_varint(b, n);
    pb_raw(b, p, n);
}
static void pb_str(pb_buf *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }
/* Appends sub as a nested message and empties it. */
static void pb_msg(pb_buf *b, int field, pb_buf *sub) {
    if (sub->oom) b->oom = true;
    pb_bytes(b, field, sub->p, sub->n);
    sub->n = 0;
    sub->oom = false;
}
static void pb_free(pb_buf *b) {
    dc_free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- ONNX messages (field numbers of onnx.proto) ---- */
enum { ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_STRING = 3, ATTR_INTS = 7 };
enum { ELEM_FLOAT = 1, ELEM_INT64 = 7 };

/* The graph being written: nodes and initializers as encoded GraphProto fields. */
typedef struct {
    pb_buf nodes, inits;
    pb_buf attrs;     /* the attributes of the next node */
    int n_nodes;
    char cur[128];    /* the value the next layer reads */
    int rank;         /* its rank, batch included */
    bool nchw;        /* a rank-4 value is held as NCHW (between image layers) */
    const dc_layer *l;
    char prefix[80];  /* names within the current layer call: its layer's name, "name@2" for call 2 */
    char mask[128];   /* the (B, T) float mask of the current value (1 = real step), or "" */
    bool pad_differs; /* masked steps of the current value differ from deepc's */
} onnx_graph;

/* A node's output as the graph holds it, for the layers that read it. */
typedef struct {
    char name[128];
    int rank;
    bool nchw;
    char mask[128];
    bool pad_differs;
} onnx_value;

static void value_save(const onnx_graph *g, onnx_value *v) {
    snprintf(v->name, sizeof v->name, "%s", g->cur);
    v->rank = g->rank, v->nchw = g->nchw, v->pad_differs = g->pad_differs;
    snprintf(v->mask, sizeof v->mask, "%s", g->mask);
}
static void value_load(onnx_graph *g, const onnx_value *v) {
    snprintf(g->cur, sizeof g->cur, "%s", v->name);
    g->rank = v->rank, g->nchw = v->nchw, g->pad_differs = v->pad_differs;
    snprintf(g->mask, sizeof g->mask, "%s", v->mask);
}

static const char *gname(const onnx_graph *g) { return g->l ? g->prefix : "graph"; }

static void attr_int(onnx_graph *g, const char *name, int64_t v) {
    pb_buf a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, ATTR_INT);
    pb_int(&a, 3, v);
    pb_msg(&g->attrs, 5, &a);
    pb_free(&a);
}
static void attr_float(onnx_graph *g, const char *name, float v) {
    pb_buf a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, ATTR_FLOAT);
    pb_tag(&a, 2, 5);
    uint8_t le[4];
    uint32_t u;
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++) le[i] = (uint8_t)(u >> (8 * i));
    pb_raw(&a, le, 4);
    pb_msg(&g->attrs, 5, &a);
    pb_free(&a);
}
static void attr_string(onnx_graph *g, const char *name, const char *v) {
    pb_buf a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, ATTR_STRING);
    pb_str(&a, 4, v);
    pb_msg(&g->attrs, 5, &a);
    pb_free(&a);
}
static void attr_ints(onnx_graph *g, const char *name, int n, const int64_t *v) {
    pb_buf a = {0};
    pb_str(&a, 1, name);
    pb_int(&a, 20, ATTR_INTS);
    for (int i = 0; i < n; i++) pb_int(&a, 8, v[i]);
    pb_msg(&g->attrs, 5, &a);
    pb_free(&a);
}

/* A node reading ins (NULL-terminated, "" for an absent optional input) and
 * writing outs (NULL-terminated, "" for an unused optional output); takes the
 * attributes gathered since the last node. */
static void node_outs(onnx_graph *g, const char *op, const char *const *ins,
                      const char *const *outs) {
    pb_buf nd = {0};
    for (int i = 0; ins[i]; i++) pb_str(&nd, 1, ins[i]);
    for (int i = 0; outs[i]; i++) pb_str(&nd, 2, outs[i]);
    char name[160];
    snprintf(name, sizeof name, "%s/%s_%d", gname(g), op, g->n_nodes++);
    pb_str(&nd, 3, name);
    pb_str(&nd, 4, op);
    pb_raw(&nd, g->attrs.p, g->attrs.n);
    if (g->attrs.oom) nd.oom = true;
    g->attrs.n = 0;
    pb_msg(&g->nodes, 1, &nd);
    pb_free(&nd);
}
static void node(onnx_graph *g, const char *op, const char *const *ins, const char *out) {
    const char *outs[] = {out, NULL};
    node_outs(g, op, ins, outs);
}

/* The next value name inside the current layer: "dense/MatMul". */
static void value_name(onnx_graph *g, const char *what, char *out, size_t n) {
    snprintf(out, n, "%s/%s", gname(g), what);
}

/* Runs a one-input node on the current value and makes its output current. */
static void step(onnx_graph *g, const char *op, const char *const *extra) {
    char out[128], what[48];
    snprintf(what, sizeof what, "%s_%d", op, g->n_nodes); /* names are assigned once (SSA) */
    value_name(g, what, out, sizeof out);
    const char *ins[6] = {g->cur, NULL};
    for (int i = 0; extra && extra[i] && i < 4; i++) ins[i + 1] = extra[i], ins[i + 2] = NULL;
    node(g, op, ins, out);
    snprintf(g->cur, sizeof g->cur, "%s", out);
}

static void init_tensor(onnx_graph *g, const char *name, int elem, int ndim, const int64_t *dims,
                        const void *data, size_t bytes) {
    pb_buf t = {0};
    for (int i = 0; i < ndim; i++) pb_int(&t, 1, dims[i]);
    pb_int(&t, 2, elem);
    pb_str(&t, 8, name);
    pb_bytes(&t, 9, data, bytes); /* raw_data: little-endian, as this machine holds it */
    pb_msg(&g->inits, 5, &t);
    pb_free(&t);
}
static void init_float(onnx_graph *g, const char *name, int ndim, const int64_t *dims,
                       const float *data) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    init_tensor(g, name, ELEM_FLOAT, ndim, dims, data, (size_t)n * sizeof(float));
}
static void init_int64(onnx_graph *g, const char *name, int n, const int64_t *v) {
    int64_t d = n;
    init_tensor(g, name, ELEM_INT64, 1, &d, v, (size_t)n * sizeof(int64_t));
}

static void to_layout(onnx_graph *g, bool nchw) {
    if (g->rank != 4 || g->nchw == nchw) return;
    static const int64_t to_nchw[4] = {0, 3, 1, 2}, to_nhwc[4] = {0, 2, 3, 1};
    attr_ints(g, "perm", 4, nchw ? to_nchw : to_nhwc);
    step(g, "Transpose", NULL);
    g->nchw = nchw;
}

/* ---- layers ---- */
static const dc_param *param(const dc_layer *l, const char *name) {
    for (int i = 0; i < l->n_params; i++)
        if (!strcmp(l->params[i].name, name)) return &l->params[i];
    return NULL;
}
static const char *cfg(const dc_layer *l, const char *key) {
    for (int i = 0; i < l->n_cfg; i++)
        if (!strcmp(l->cfg_key[i], key)) return l->cfg_val[i];
    return NULL;
}
static dc_status refuse(const dc_layer *l, const char *why) {
    return dc_set_error(DC_ERR_UNSUPPORTED, "%s: layer '%s' (%s) cannot be exported to ONNX: %s", FN,
                        l->name, dc_layer_type(l), why);
}

/* Names a parameter as an initializer "<layer>/<param>" and returns the name. */
static const char *param_init(onnx_graph *g, const dc_param *p, char *name, size_t n) {
    snprintf(name, n, "%s/%s", gname(g), p->name);
    init_float(g, name, p->ndim, p->shape, p->t->data);
    return name;
}

static dc_status export_activation(onnx_graph *g, dc_act a) {
    switch (a) {
    case DC_ACT_LINEAR: return DC_OK;
    case DC_ACT_RELU: step(g, "Relu", NULL); return DC_OK;
    case DC_ACT_SIGMOID: step(g, "Sigmoid", NULL); return DC_OK;
    case DC_ACT_TANH: step(g, "Tanh", NULL); return DC_OK;
    case DC_ACT_SOFTPLUS: step(g, "Softplus", NULL); return DC_OK;
    case DC_ACT_SOFTMAX:
        to_layout(g, false);
        attr_int(g, "axis", -1);
        step(g, "Softmax", NULL);
        return DC_OK;
    case DC_ACT_ELU:
        attr_float(g, "alpha", 1.0f);
        step(g, "Elu", NULL);
        return DC_OK;
    case DC_ACT_LEAKY_RELU:
        attr_float(g, "alpha", 0.3f);
        step(g, "LeakyRelu", NULL);
        return DC_OK;
    case DC_ACT_GELU: break;
    }
    return refuse(g->l, "activation 'gelu' needs opset 20 (deepc writes opset 13)");
}

static dc_status export_dense(onnx_graph *g) {
    char kn[128], bn[128];
    to_layout(g, false);
    const char *k[] = {param_init(g, param(g->l, "kernel"), kn, sizeof kn), NULL};
    step(g, "MatMul", k);
    const dc_param *b = param(g->l, "bias");
    if (b) {
        const char *bi[] = {param_init(g, b, bn, sizeof bn), NULL};
        step(g, "Add", bi);
    }
    return export_activation(g, g->l->act);
}

/* Keras' 'same' splits the padding with the smaller half first. */
static void same_pads(const dc_layer *l, const int64_t k[2], const int64_t s[2],
                      const int64_t d[2], int64_t pads[4]) {
    for (int i = 0; i < 2; i++) {
        int64_t in = l->in_shape[i], out = l->out_shape[i];
        int64_t total = (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in;
        if (total < 0) total = 0;
        pads[i] = total / 2;
        pads[i + 2] = total - total / 2;
    }
}

/* Conv2D kernel (KH,KW,C,F) -> (F,C,KH,KW); Conv2DTranspose (KH,KW,F,C) -> (C,F,KH,KW):
 * in both, the last two axes go first in reverse order. */
static void conv_weights_transposed(const dc_param *p, float *w) {
    const float *k = p->t->data;
    int64_t kh = p->shape[0], kw = p->shape[1], a = p->shape[2], b = p->shape[3];
    for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++)
            for (int64_t i = 0; i < a; i++)
                for (int64_t j = 0; j < b; j++)
                    w[((j * a + i) * kh + y) * kw + x] = k[((y * kw + x) * a + i) * b + j];
}

static dc_status export_conv(onnx_graph *g, bool transpose) {
    const dc_layer *l = g->l;
    const dc_conv_layer_opts *o = l->opts;
    const dc_param *kp = param(l, "kernel"), *bp = param(l, "bias");
    int64_t n = kp->shape[0] * kp->shape[1] * kp->shape[2] * kp->shape[3];
    float *w = dc_malloc((size_t)n * sizeof *w);
    if (!w) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    conv_weights_transposed(kp, w);
    char kn[128], bn[128];
    snprintf(kn, sizeof kn, "%s/kernel", gname(g));
    const int64_t wd[4] = {kp->shape[3], kp->shape[2], kp->shape[0], kp->shape[1]};
    init_float(g, kn, 4, wd, w);
    dc_free(w);
    to_layout(g, true);
    attr_ints(g, "dilations", 2, o->dilation);
    attr_ints(g, "kernel_shape", 2, o->kernel);
    int64_t pads[4] = {0, 0, 0, 0}, out_pad[2] = {0, 0};
    if (!transpose) {
        if (o->padding == DC_PAD_SAME) same_pads(l, o->kernel, o->strides, o->dilation, pads);
    } else {
        /* out = s*(in-1) + (k-1)*d + 1 + out_pad - pads; Keras wants in*s ('same')
         * or in*s + max(k' - s, 0) ('valid'), k' the dilated kernel. */
        for (int i = 0; i < 2; i++) {
            int64_t in = l->in_shape[i], s = o->strides[i];
            int64_t kd = (o->kernel[i] - 1) * o->dilation[i] + 1;
            int64_t full = s * (in - 1) + kd, want = l->out_shape[i];
            int64_t extra = full - want; /* > 0: pads; < 0: output padding */
            if (extra >= 0) {
                pads[i] = extra / 2;
                pads[i + 2] = extra - extra / 2;
            } else {
                out_pad[i] = -extra;
            }
        }
        if (out_pad[0] || out_pad[1]) attr_ints(g, "output_padding", 2, out_pad);
    }
    attr_ints(g, "pads", 4, pads);
    attr_ints(g, "strides", 2, o->strides);
    const char *ins[] = {kn, bp ? param_init(g, bp, bn, sizeof bn) : NULL, NULL};
    step(g, transpose ? "ConvTranspose" : "Conv", ins);
    return export_activation(g, l->act);
}

static dc_status export_pool(onnx_graph *g, bool max) {
    const dc_layer *l = g->l;
    const dc_pool_layer_opts *o = l->opts;
    to_layout(g, true);
    static const int64_t one[2] = {1, 1};
    int64_t pads[4] = {0, 0, 0, 0};
    if (o->padding == DC_PAD_SAME) same_pads(l, o->pool, o->strides, one, pads);
    attr_ints(g, "kernel_shape", 2, o->pool);
    attr_ints(g, "pads", 4, pads);
    attr_ints(g, "strides", 2, o->strides);
    step(g, max ? "MaxPool" : "AveragePool", NULL); /* count_include_pad=0: Keras' average */
    return DC_OK;
}

static dc_status export_global_pool(onnx_graph *g, bool max) {
    to_layout(g, true);
    step(g, max ? "GlobalMaxPool" : "GlobalAveragePool", NULL);
    if (g->l->out_ndim == 1) {
        attr_int(g, "axis", 1);
        step(g, "Flatten", NULL);
        g->rank = 2;
    }
    return DC_OK;
}

static dc_status export_batch_norm(onnx_graph *g) {
    const dc_layer *l = g->l;
    const char *axis = cfg(l, "axis");
    if (axis && atoi(axis) != -1 && atoi(axis) != l->in_ndim)
        return refuse(l, "only the last axis (channels) is exported");
    if (l->in_ndim != 1 && l->in_ndim != 3) return refuse(l, "only (C) and (H, W, C) inputs are exported");
    const char *eps = cfg(l, "epsilon");
    float epsilon = eps ? strtof(eps, NULL) : 1e-3f;
    int64_t c = l->in_shape[l->in_ndim - 1];
    float *ones = dc_malloc((size_t)c * 2 * sizeof *ones);
    if (!ones) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    for (int64_t i = 0; i < c; i++) ones[i] = 1.0f, ones[c + i] = 0.0f;
    char gn[128], bn[128], mn[128], vn[128];
    const dc_param *gp = param(l, "gamma"), *bp = param(l, "beta");
    if (gp) param_init(g, gp, gn, sizeof gn);
    else snprintf(gn, sizeof gn, "%s/gamma", gname(g)), init_float(g, gn, 1, &c, ones);
    if (bp) param_init(g, bp, bn, sizeof bn);
    else snprintf(bn, sizeof bn, "%s/beta", gname(g)), init_float(g, bn, 1, &c, ones + c);
    dc_free(ones);
    const char *ins[] = {gn, bn, param_init(g, param(l, "moving_mean"), mn, sizeof mn),
                         param_init(g, param(l, "moving_variance"), vn, sizeof vn), NULL};
    to_layout(g, true);
    attr_float(g, "epsilon", epsilon);
    step(g, "BatchNormalization", ins);
    return DC_OK;
}

static dc_status export_reshape(onnx_graph *g) {
    const dc_layer *l = g->l;
    to_layout(g, false);
    int64_t shape[DC_MAX_DIMS + 1];
    shape[0] = 0; /* 0: the batch size, copied from the input */
    for (int i = 0; i < l->out_ndim; i++) shape[i + 1] = l->out_shape[i];
    char sn[128];
    value_name(g, "shape", sn, sizeof sn);
    init_int64(g, sn, l->out_ndim + 1, shape);
    const char *ins[] = {sn, NULL};
    step(g, "Reshape", ins);
    g->rank = l->out_ndim + 1;
    g->nchw = false;
    return DC_OK;
}

static dc_status export_up_sampling(onnx_graph *g) {
    const dc_layer *l = g->l;
    const char *interp = cfg(l, "interpolation");
    if (interp && strcmp(interp, "nearest")) return refuse(l, "only 'nearest' interpolation is exported");
    to_layout(g, true);
    float scales[4] = {1.0f, 1.0f, (float)(l->out_shape[0] / l->in_shape[0]),
                       (float)(l->out_shape[1] / l->in_shape[1])};
    char sn[128];
    value_name(g, "scales", sn, sizeof sn);
    const int64_t four = 4;
    init_float(g, sn, 1, &four, scales);
    /* asymmetric + floor: output pixel y reads input y / s, as Keras' repeat does */
    attr_string(g, "coordinate_transformation_mode", "asymmetric");
    attr_string(g, "mode", "nearest");
    attr_string(g, "nearest_mode", "floor");
    const char *ins[] = {"", sn, NULL};
    step(g, "Resize", ins);
    return DC_OK;
}

/* ---- recurrent layers: ONNX's RNN / GRU / LSTM over (T, B, I) ---- */
static bool cfg_true(const dc_layer *l, const char *key, bool dflt) {
    const char *v = cfg(l, key);
    if (!v) return dflt;
    return !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE");
}

/* Keras' activation name as ONNX's, or NULL when ONNX has none that agrees. */
static const char *rnn_act(const dc_layer *l, const char *key, const char *dflt) {
    const char *v = cfg(l, key);
    if (!v) v = dflt;
    if (!strcmp(v, "tanh")) return "Tanh";
    if (!strcmp(v, "sigmoid")) return "Sigmoid";
    if (!strcmp(v, "relu")) return "Relu";
    return NULL;
}

/* Keras (rows, gates*U) -> ONNX (gates*U, rows), the gates in ONNX's order:
 * order[j] is the Keras gate that ONNX gate j takes. */
static void rnn_weight(const dc_param *p, int gates, const int *order, float *buf) {
    const float *k = p->t->data;
    int64_t rows = p->shape[0], cols = p->shape[1], U = cols / gates;
    for (int j = 0; j < gates; j++)
        for (int64_t u = 0; u < U; u++)
            for (int64_t r = 0; r < rows; r++)
                buf[(j * U + u) * rows + r] = k[r * cols + order[j] * U + u];
}

/* The parameter NAME of the wrapped layer w inside l ("forward_lstm/kernel"),
 * or of l itself when w is l. */
static const dc_param *rnn_param(const dc_layer *l, const dc_layer *w, const char *name) {
    if (w == l) return param(l, name);
    char full[192];
    snprintf(full, sizeof full, "%s/%s", w->name, name);
    return param(l, full);
}

/* W, R and B of ONNX's RNN/GRU/LSTM for the directions dirs (1 or 2 wrapped
 * layers), each initializer (D, ...) with the directions one after another. */
static dc_status rnn_weights(onnx_graph *g, const dc_layer *const *dirs, int D, int gates,
                             const int *order, char wn[128], char rn[128], char bn[128]) {
    const dc_layer *l = g->l;
    const dc_param *k0 = rnn_param(l, dirs[0], "kernel"), *b0 = rnn_param(l, dirs[0], "bias");
    int64_t I = k0->shape[0], G = k0->shape[1], U = G / gates;
    size_t per = (size_t)((I > U ? I : U) * G) > (size_t)(2 * G) ? (size_t)((I > U ? I : U) * G)
                                                                  : (size_t)(2 * G);
    float *buf = dc_calloc((size_t)D * per, sizeof *buf);
    if (!buf) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    value_name(g, "W", wn, 128);
    value_name(g, "R", rn, 128);
    bn[0] = '\0';
    for (int which = 0; which < 3; which++) {
        if (which == 2 && !b0) break;
        for (int d = 0; d < D; d++) {
            float *dst = buf + (size_t)d * per;
            if (which < 2) {
                const dc_param *p = rnn_param(l, dirs[d], which ? "recurrent_kernel" : "kernel");
                rnn_weight(p, gates, order, dst);
                continue;
            }
            /* B = [input biases, recurrent biases] (2G); only GRU(reset_after) has the second */
            const dc_param *bp = rnn_param(l, dirs[d], "bias");
            const float *b = bp->t->data;
            memset(dst, 0, (size_t)(2 * G) * sizeof *dst);
            for (int half = 0; half < (bp->ndim == 2 ? 2 : 1); half++)
                for (int j = 0; j < gates; j++)
                    for (int64_t u = 0; u < U; u++)
                        dst[half * G + j * U + u] = b[half * G + order[j] * U + u];
        }
        int64_t rows = which == 0 ? I : U, cols = which == 2 ? 2 * G : G;
        int64_t n = which == 2 ? cols : cols * rows;
        if (D == 2) memmove(buf + n, buf + per, (size_t)n * sizeof *buf); /* pack the directions */
        if (which == 2) value_name(g, "B", bn, 128);
        const int64_t d3[3] = {D, G, rows}, d2[2] = {D, 2 * G};
        if (which == 2) init_float(g, bn, 2, d2, buf);
        else init_float(g, which ? rn : wn, 3, d3, buf);
    }
    dc_free(buf);
    return DC_OK;
}

/* ONNX's sequence_lens from the current mask: the count of real steps, which
 * is what deepc computes when the padding is at the end of each sequence. */
static void rnn_sequence_lens(onnx_graph *g, char out[128]) {
    char axes[128], sum[128];
    value_name(g, "mask_axes", axes, sizeof axes);
    const int64_t one = 1;
    init_int64(g, axes, 1, &one);
    value_name(g, "steps", sum, sizeof sum);
    attr_int(g, "keepdims", 0);
    const char *ins[] = {g->mask, axes, NULL};
    node(g, "ReduceSum", ins, sum);
    value_name(g, "sequence_lens", out, 128);
    attr_int(g, "to", 6); /* INT32 */
    const char *c[] = {sum, NULL};
    node(g, "Cast", c, out);
}

/* The ONNX recurrent node itself: Y and/or Y_h from the current (T, B, I) value. */
static void rnn_node(onnx_graph *g, const char *op, const char *const *ins, bool seq,
                     char y[128], char yh[128]) {
    value_name(g, "Y", y, 128);
    value_name(g, "Y_h", yh, 128);
    const char *outs[] = {seq ? y : "", yh, NULL};
    node_outs(g, op, ins, outs);
}

/* Y (T, D, B, U) -> (B, T, D*U) or Y_h (D, B, U) -> (B, D*U) for concat; for
 * sum/ave/mul (Bidirectional) the directions are reduced first. */
static void rnn_outputs(onnx_graph *g, bool seq, int D, const char *merge) {
    char axes[128], shape[128];
    const int64_t dir_axis = seq ? 1 : 0;
    const char *ax[] = {axes, NULL};
    if (D == 1 || strcmp(merge, "concat")) {
        if (D == 1 || !strcmp(merge, "sum")) { /* axes as an input (opset 13) */
            value_name(g, "dir_axis", axes, sizeof axes);
            init_int64(g, axes, 1, &dir_axis);
        }
        if (D == 1) {
            step(g, "Squeeze", ax);
        } else if (!strcmp(merge, "sum")) {
            attr_int(g, "keepdims", 0);
            step(g, "ReduceSum", ax);
        } else {
            attr_ints(g, "axes", 1, &dir_axis);
            attr_int(g, "keepdims", 0);
            step(g, !strcmp(merge, "mul") ? "ReduceProd" : "ReduceMean", NULL);
        }
        if (seq) {
            static const int64_t tbu[3] = {1, 0, 2};
            attr_ints(g, "perm", 3, tbu);
            step(g, "Transpose", NULL);
        }
        return;
    }
    static const int64_t seq_perm[4] = {2, 0, 1, 3}, last_perm[3] = {1, 0, 2};
    attr_ints(g, "perm", seq ? 4 : 3, seq ? seq_perm : last_perm);
    step(g, "Transpose", NULL); /* (B, T, 2, U) or (B, 2, U): forward first, as Keras */
    const int64_t seq_shape[3] = {0, 0, -1}, last_shape[2] = {0, -1};
    value_name(g, "merged_shape", shape, sizeof shape);
    init_int64(g, shape, seq ? 3 : 2, seq ? seq_shape : last_shape);
    const char *sh[] = {shape, NULL};
    step(g, "Reshape", sh);
}

/* SimpleRNN / LSTM / GRU, or Bidirectional around one, as ONNX's RNN / LSTM /
 * GRU over (T, B, I); a mask becomes sequence_lens. */
static dc_status export_rnn(onnx_graph *g) {
    const dc_layer *l = g->l;
    const bool bidi = l->kind == DC_LAYER_BIDIRECTIONAL;
    const dc_layer *dirs[2] = {bidi ? l->sub[0] : l, bidi ? l->sub[1] : NULL};
    const dc_layer *w = dirs[0];
    const int D = bidi ? 2 : 1;
    static const int lstm_order[4] = {0, 3, 1, 2}; /* ONNX i,o,f,c from Keras i,f,c,o */
    static const int same_order[3] = {0, 1, 2};    /* GRU: z,r,h in both; SimpleRNN: one */
    int gates = w->kind == DC_LAYER_LSTM ? 4 : w->kind == DC_LAYER_GRU ? 3 : 1;
    const int *order = w->kind == DC_LAYER_LSTM ? lstm_order : same_order;
    if (!bidi && cfg_true(w, "go_backwards", false)) return refuse(l, "go_backwards is not exported");
    if (cfg_true(w, "return_state", false) || cfg_true(w, "stateful", false))
        return refuse(l, "return_state and stateful are not exported");
    const char *act = rnn_act(w, "activation", "tanh");
    const char *ract = rnn_act(w, "recurrent_activation", "sigmoid");
    if (!act || !ract)
        return refuse(l, "only tanh, sigmoid and relu activations are exported");
    const bool seq = l->out_ndim == 2;
    const char *merge = bidi && cfg(l, "merge_mode") ? cfg(l, "merge_mode") : "concat";
    char wn[128], rn[128], bn[128], lens[128] = "";
    dc_status st = rnn_weights(g, dirs, D, gates, order, wn, rn, bn);
    if (st != DC_OK) return st;
    bool reset_after = w->kind == DC_LAYER_GRU && cfg_true(w, "reset_after", true);
    if (g->mask[0]) rnn_sequence_lens(g, lens);
    static const int64_t tbi[3] = {1, 0, 2};
    to_layout(g, false);
    attr_ints(g, "perm", 3, tbi);
    step(g, "Transpose", NULL); /* (B, T, I) -> (T, B, I) */
    const char *op = w->kind == DC_LAYER_LSTM ? "LSTM" : w->kind == DC_LAYER_GRU ? "GRU" : "RNN";
    pb_buf acts = {0};
    pb_str(&acts, 1, "activations");
    pb_int(&acts, 20, 8); /* STRINGS */
    for (int d = 0; d < D; d++) {
        if (gates > 1) pb_str(&acts, 9, ract);
        pb_str(&acts, 9, act);
        if (gates == 4) pb_str(&acts, 9, act);
    }
    pb_msg(&g->attrs, 5, &acts);
    pb_free(&acts);
    if (bidi) attr_string(g, "direction", "bidirectional");
    attr_int(g, "hidden_size", rnn_param(l, w, "recurrent_kernel")->shape[0]);
    if (w->kind == DC_LAYER_GRU) attr_int(g, "linear_before_reset", reset_after ? 1 : 0);
    const char *ins[] = {g->cur, wn, rn, bn[0] || lens[0] ? bn : NULL, lens[0] ? lens : NULL, NULL};
    char y[128], yh[128];
    rnn_node(g, op, ins, seq, y, yh);
    snprintf(g->cur, sizeof g->cur, "%s", seq ? y : yh);
    rnn_outputs(g, seq, D, merge);
    g->rank = seq ? 3 : 2;
    /* Past a sequence's end ONNX outputs 0; deepc's RNN repeats the last output
     * (Bidirectional gives 0 too, as Keras). Only real steps are read after a
     * mask-consuming layer, so the difference matters only if it is not. */
    if (g->mask[0]) g->pad_differs = seq && !bidi;
    if (!seq) g->mask[0] = '\0';
    return DC_OK;
}

/* ---- 1-D layers over (B, T, C): ONNX's 1-D Conv / MaxPool on (B, C, T) ---- */
static int64_t cfg_one(const dc_layer *l, const char *key, int64_t dflt) {
    const char *v = cfg(l, key);
    int64_t x = dflt;
    if (v && strcmp(v, "None") && dc_parse_one(l, key, v, &x) != DC_OK) return dflt;
    return x;
}

/* Keras' padding of a window k (dilated kd) with stride s over the layer's time axis:
 * explicit pads when T is known, SAME_UPPER (the extra step last, as Keras) when not. */
static void pads_1d(onnx_graph *g, int64_t k, int64_t s, int64_t d) {
    const dc_layer *l = g->l;
    const char *pad = cfg(l, "padding");
    int64_t pads[2] = {0, 0}, T = l->in_shape[0], kd = (k - 1) * d + 1;
    if (pad && !strcmp(pad, "causal")) {
        pads[0] = kd - 1;
    } else if (pad && (!strcmp(pad, "same") || !strcmp(pad, "SAME") || !strcmp(pad, "Same"))) {
        if (T < 0) {
            attr_string(g, "auto_pad", "SAME_UPPER");
            return;
        }
        int64_t out = (T + s - 1) / s, total = (out - 1) * s + kd - T;
        if (total < 0) total = 0;
        pads[0] = total / 2, pads[1] = total - total / 2;
    }
    attr_ints(g, "pads", 2, pads);
}

static void transpose_tc(onnx_graph *g) {
    static const int64_t perm[3] = {0, 2, 1};
    attr_ints(g, "perm", 3, perm);
    step(g, "Transpose", NULL);
}

static dc_status export_conv1d(onnx_graph *g) {
    const dc_layer *l = g->l;
    const dc_param *kp = param(l, "kernel"), *bp = param(l, "bias");
    int64_t K = kp->shape[0], C = kp->shape[1], F = kp->shape[2];
    int64_t s = cfg_one(l, "strides", 1), d = cfg_one(l, "dilation_rate", 1);
    float *w = dc_malloc((size_t)(K * C * F) * sizeof *w);
    if (!w) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    const float *k = kp->t->data; /* (K, C, F) -> (F, C, K) */
    for (int64_t t = 0; t < K; t++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t f = 0; f < F; f++) w[(f * C + c) * K + t] = k[(t * C + c) * F + f];
    char kn[128], bn[128];
    snprintf(kn, sizeof kn, "%s/kernel", gname(g));
    const int64_t wd[3] = {F, C, K};
    init_float(g, kn, 3, wd, w);
    dc_free(w);
    to_layout(g, false);
    transpose_tc(g);
    attr_ints(g, "dilations", 1, &d);
    attr_ints(g, "kernel_shape", 1, &K);
    pads_1d(g, K, s, d);
    attr_ints(g, "strides", 1, &s);
    const char *ins[] = {kn, bp ? param_init(g, bp, bn, sizeof bn) : NULL, NULL};
    step(g, "Conv", ins);
    transpose_tc(g);
    return export_activation(g, l->act);
}

static dc_status export_max_pool1d(onnx_graph *g) {
    const dc_layer *l = g->l;
    int64_t k = cfg_one(l, "pool_size", 2), s = cfg_one(l, "strides", k);
    to_layout(g, false);
    transpose_tc(g);
    attr_ints(g, "kernel_shape", 1, &k);
    pads_1d(g, k, s, 1);
    attr_ints(g, "strides", 1, &s);
    step(g, "MaxPool", NULL);
    transpose_tc(g);
    return DC_OK;
}

/* Masked steps are left out: the mean over real steps (0 for none, as deepc),
 * the max after pushing masked steps to -FLT_MAX. */
static void masked_pool1d(onnx_graph *g, bool max) {
    char axes[128], m3[128], num[128], den[128], big[128], one_n[128];
    const int64_t last = -1, time_axis = 1;
    value_name(g, "mask_last", axes, sizeof axes);
    init_int64(g, axes, 1, &last);
    value_name(g, "mask3", m3, sizeof m3);
    const char *un[] = {g->mask, axes, NULL};
    node(g, "Unsqueeze", un, m3); /* (B, T, 1) */
    if (max) {
        const int64_t one = 1;
        const float lo = 3.4028235e38f, minus_one = -1.0f;
        value_name(g, "minus_one", one_n, sizeof one_n);
        init_float(g, one_n, 1, &one, &minus_one);
        value_name(g, "lowest", big, sizeof big);
        init_float(g, big, 1, &one, &lo);
        char off[128], scaled[128];
        value_name(g, "mask_off", off, sizeof off);
        const char *a[] = {m3, one_n, NULL};
        node(g, "Add", a, off); /* 0 real, -1 masked */
        value_name(g, "mask_push", scaled, sizeof scaled);
        const char *b[] = {off, big, NULL};
        node(g, "Mul", b, scaled);
        const char *c[] = {scaled, NULL};
        step(g, "Add", c);
        attr_ints(g, "axes", 1, &time_axis);
        attr_int(g, "keepdims", 0);
        step(g, "ReduceMax", NULL);
        return;
    }
    char tax[128], eps[128], cnt[128];
    value_name(g, "time_axis", tax, sizeof tax);
    init_int64(g, tax, 1, &time_axis);
    const char *mx[] = {m3, NULL};
    step(g, "Mul", mx);
    attr_int(g, "keepdims", 0);
    const char *ax[] = {tax, NULL};
    step(g, "ReduceSum", ax);
    snprintf(num, sizeof num, "%s", g->cur);
    value_name(g, "real_steps", cnt, sizeof cnt);
    attr_int(g, "keepdims", 0);
    const char *cs[] = {m3, tax, NULL};
    node(g, "ReduceSum", cs, cnt); /* (B, 1) */
    const int64_t one = 1;
    const float tiny = 1.0f;
    value_name(g, "one", eps, sizeof eps);
    init_float(g, eps, 1, &one, &tiny);
    value_name(g, "divisor", den, sizeof den);
    const char *mxn[] = {cnt, eps, NULL};
    node(g, "Max", mxn, den); /* no real step: 0 / 1 = 0 */
    const char *dv[] = {den, NULL};
    step(g, "Div", dv);
}

static dc_status export_global_pool1d(onnx_graph *g, bool max) {
    static const int64_t time_axis = 1;
    to_layout(g, false);
    const bool keep = g->l->out_ndim == 2;
    if (g->mask[0]) {
        masked_pool1d(g, max);
        g->mask[0] = '\0';
        g->pad_differs = false;
        if (keep) {
            char ax[128];
            value_name(g, "keep_axis", ax, sizeof ax);
            init_int64(g, ax, 1, &time_axis);
            const char *k[] = {ax, NULL};
            step(g, "Unsqueeze", k);
        }
    } else {
        attr_ints(g, "axes", 1, &time_axis);
        attr_int(g, "keepdims", keep ? 1 : 0);
        step(g, max ? "ReduceMax" : "ReduceMean", NULL);
    }
    g->rank = g->l->out_ndim + 1;
    return DC_OK;
}

/* Embedding: float ids (B, T) -> int64 -> Gather of the table; mask_zero makes
 * the mask id != 0. An id outside the table fails in the runtime, as in deepc. */
static dc_status export_embedding(onnx_graph *g) {
    char tn[128], ids[128];
    const char *table = param_init(g, param(g->l, "embeddings"), tn, sizeof tn);
    const char *x = g->cur;
    if (cfg_true(g->l, "mask_zero", false)) {
        char nz[128];
        value_name(g, "nonzero", nz, sizeof nz);
        attr_int(g, "to", 9); /* BOOL: id != 0 */
        const char *a[] = {x, NULL};
        node(g, "Cast", a, nz);
        value_name(g, "mask", g->mask, sizeof g->mask);
        attr_int(g, "to", ELEM_FLOAT);
        const char *b[] = {nz, NULL};
        node(g, "Cast", b, g->mask);
        g->pad_differs = false;
    }
    value_name(g, "ids", ids, sizeof ids);
    attr_int(g, "to", ELEM_INT64);
    const char *c[] = {x, NULL};
    node(g, "Cast", c, ids);
    char out[128];
    value_name(g, "Gather", out, sizeof out);
    attr_int(g, "axis", 0);
    const char *gi[] = {table, ids, NULL};
    node(g, "Gather", gi, out);
    snprintf(g->cur, sizeof g->cur, "%s", out);
    g->rank = 3;
    return DC_OK;
}

/* Masking: a step is real when any feature differs from mask_value; masked
 * steps become 0, as deepc's layer does. */
static dc_status export_masking(onnx_graph *g) {
    const char *mv = cfg(g->l, "mask_value");
    const float value = mv ? strtof(mv, NULL) : 0.0f;
    const int64_t one = 1, last = -1;
    char vn[128], eq[128], ne[128], nef[128], m3[128];
    to_layout(g, false);
    value_name(g, "mask_value", vn, sizeof vn);
    init_float(g, vn, 1, &one, &value);
    value_name(g, "equal", eq, sizeof eq);
    const char *a[] = {g->cur, vn, NULL};
    node(g, "Equal", a, eq);
    value_name(g, "differs", ne, sizeof ne);
    const char *b[] = {eq, NULL};
    node(g, "Not", b, ne);
    value_name(g, "differs_f", nef, sizeof nef);
    attr_int(g, "to", ELEM_FLOAT);
    const char *c[] = {ne, NULL};
    node(g, "Cast", c, nef);
    value_name(g, "mask", g->mask, sizeof g->mask);
    attr_ints(g, "axes", 1, &last);
    attr_int(g, "keepdims", 0);
    const char *d[] = {nef, NULL};
    node(g, "ReduceMax", d, g->mask);
    g->pad_differs = false;
    char ax[128];
    value_name(g, "mask_last", ax, sizeof ax);
    init_int64(g, ax, 1, &last);
    value_name(g, "mask3", m3, sizeof m3);
    const char *e[] = {g->mask, ax, NULL};
    node(g, "Unsqueeze", e, m3);
    const char *f[] = {m3, NULL};
    step(g, "Mul", f);
    return DC_OK;
}

static dc_status export_layer(onnx_graph *g) {
    const dc_layer *l = g->l;
    switch (l->kind) {
    case DC_LAYER_INPUT:
    case DC_LAYER_DROPOUT:     /* identity at inference */
    case DC_LAYER_RANDOM_FLIP: /* identity at inference */
        return DC_OK;
    case DC_LAYER_DENSE: return export_dense(g);
    case DC_LAYER_ACTIVATION: return export_activation(g, l->act);
    case DC_LAYER_FLATTEN:
        to_layout(g, false);
        attr_int(g, "axis", 1);
        step(g, "Flatten", NULL);
        g->rank = 2;
        return DC_OK;
    case DC_LAYER_RESHAPE: return export_reshape(g);
    case DC_LAYER_CONV2D: return export_conv(g, false);
    case DC_LAYER_CONV2D_TRANSPOSE: return export_conv(g, true);
    case DC_LAYER_MAX_POOLING2D: return export_pool(g, true);
    case DC_LAYER_AVERAGE_POOLING2D: return export_pool(g, false);
    case DC_LAYER_GLOBAL_AVERAGE_POOLING2D: return export_global_pool(g, false);
    case DC_LAYER_GLOBAL_MAX_POOLING2D: return export_global_pool(g, true);
    case DC_LAYER_BATCH_NORMALIZATION: return export_batch_norm(g);
    case DC_LAYER_UP_SAMPLING2D: return export_up_sampling(g);
    case DC_LAYER_SIMPLE_RNN:
    case DC_LAYER_LSTM:
    case DC_LAYER_GRU: return export_rnn(g);
    case DC_LAYER_CONV1D: return export_conv1d(g);
    case DC_LAYER_MAX_POOLING1D: return export_max_pool1d(g);
    case DC_LAYER_GLOBAL_AVERAGE_POOLING1D: return export_global_pool1d(g, false);
    case DC_LAYER_GLOBAL_MAX_POOLING1D: return export_global_pool1d(g, true);
    case DC_LAYER_EMBEDDING: return export_embedding(g);
    case DC_LAYER_MASKING: return export_masking(g);
    case DC_LAYER_BIDIRECTIONAL: return export_rnn(g);
    default: break;
    }
    return refuse(l, "no ONNX mapping for this layer type yet");
}

/* Keras' mask rule for the exported graph: the layers that pass the mask on
 * keep it, the mask consumers (RNNs, the 1-D global pools) and makers handle
 * it themselves, every other layer drops it. */
static bool mask_passes(int kind) {
    return kind == DC_LAYER_INPUT || kind == DC_LAYER_DENSE || kind == DC_LAYER_ACTIVATION ||
           kind == DC_LAYER_DROPOUT || kind == DC_LAYER_BATCH_NORMALIZATION;
}
static bool mask_handled(int kind) {
    return kind == DC_LAYER_EMBEDDING || kind == DC_LAYER_MASKING || kind == DC_LAYER_LSTM ||
           kind == DC_LAYER_GRU || kind == DC_LAYER_SIMPLE_RNN ||
           kind == DC_LAYER_BIDIRECTIONAL || kind == DC_LAYER_GLOBAL_AVERAGE_POOLING1D ||
           kind == DC_LAYER_GLOBAL_MAX_POOLING1D;
}

/* A masked RNN's repeated outputs at padded steps (see export_rnn) may only
 * reach a layer that reads real steps alone. */
static dc_status refuse_padded(const dc_layer *l, const char *where) {
    return dc_set_error(DC_ERR_UNSUPPORTED,
                        "%s: layer '%s' (%s) cannot be exported to ONNX: %s the padded steps of "
                        "a masked recurrent layer with return_sequences, which ONNX sets to 0 "
                        "where deepc repeats the last output",
                        FN, l->name, dc_layer_type(l), where);
}

static dc_status export_layer_masked(onnx_graph *g) {
    const dc_layer *l = g->l;
    if (g->mask[0] && g->pad_differs && !mask_passes(l->kind) && !mask_handled(l->kind))
        return refuse_padded(l, "it reads");
    dc_status s = export_layer(g);
    if (s == DC_OK && !mask_passes(l->kind) && !mask_handled(l->kind)) g->mask[0] = '\0';
    return s;
}

/* ValueInfoProto for a float tensor (N, shape...): the batch axis is "N", a None axis "d<i>". */
static void value_info(pb_buf *graph, int field, const char *name, int ndim, const int64_t *shape) {
    pb_buf shp = {0}, dim = {0}, tt = {0}, ty = {0}, vi = {0};
    for (int i = -1; i < ndim; i++) {
        if (i < 0) pb_str(&dim, 2, "N");
        else if (shape[i] < 0) {
            char p[16];
            snprintf(p, sizeof p, "d%d", i + 1);
            pb_str(&dim, 2, p);
        } else pb_int(&dim, 1, shape[i]);
        pb_msg(&shp, 1, &dim);
    }
    pb_int(&tt, 1, ELEM_FLOAT);
    pb_msg(&tt, 2, &shp);
    pb_msg(&ty, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &ty);
    pb_msg(graph, field, &vi);
    if (shp.oom || dim.oom || tt.oom || ty.oom || vi.oom) graph->oom = true;
    pb_free(&shp), pb_free(&dim), pb_free(&tt), pb_free(&ty), pb_free(&vi);
}

/* ---- merge layers: one node over several values ---- */

static bool is_merge(int kind) {
    return kind == DC_LAYER_CONCATENATE || kind == DC_LAYER_ADD || kind == DC_LAYER_SUBTRACT ||
           kind == DC_LAYER_MULTIPLY || kind == DC_LAYER_AVERAGE || kind == DC_LAYER_MAXIMUM;
}

/* Concatenate's axis in the layout the inputs are held in: Keras counts it
 * with the batch axis (-1 the last) over NHWC. */
static int64_t concat_axis(const dc_layer *l, int rank, bool nchw) {
    const char *a = cfg(l, "axis");
    int64_t axis = a ? strtoll(a, NULL, 10) : -1;
    if (axis < 0) axis += rank;
    static const int64_t nhwc_to_nchw[4] = {0, 2, 3, 1};
    return nchw && rank == 4 && axis >= 0 && axis < 4 ? nhwc_to_nchw[axis] : axis;
}

/* The inputs in one layout (NCHW when all are image values held so, else
 * NHWC) and their masks multiplied, as deepc's merge layers keep them; then
 * Concat, Sum, Sub, a chain of Mul, Mean or Max. */
static dc_status export_merge(onnx_graph *g, const onnx_value *const *vals, int n) {
    const dc_layer *l = g->l;
    bool nchw = true, pad = false;
    for (int i = 0; i < n; i++) nchw = nchw && vals[i]->rank == 4 && vals[i]->nchw;
    char names[DC_LAYER_MAX_IN][128], mask[128] = "";
    const char *ins[DC_LAYER_MAX_IN + 1];
    for (int i = 0; i < n; i++) {
        value_load(g, vals[i]);
        to_layout(g, nchw);
        snprintf(names[i], sizeof names[i], "%s", g->cur);
        ins[i] = names[i];
        pad = pad || vals[i]->pad_differs;
        if (!vals[i]->mask[0] || !strcmp(vals[i]->mask, mask)) continue;
        if (!mask[0]) {
            snprintf(mask, sizeof mask, "%s", vals[i]->mask);
            continue;
        }
        char both[128];
        value_name(g, "mask_product", both, sizeof both);
        snprintf(both + strlen(both), sizeof both - strlen(both), "_%d", g->n_nodes);
        const char *mi[] = {mask, vals[i]->mask, NULL};
        node(g, "Mul", mi, both);
        snprintf(mask, sizeof mask, "%s", both);
    }
    ins[n] = NULL;
    int rank = vals[0]->rank;
    char out[128], what[48];
    const char *op = l->kind == DC_LAYER_CONCATENATE ? "Concat"
                     : l->kind == DC_LAYER_ADD       ? "Sum"
                     : l->kind == DC_LAYER_SUBTRACT  ? "Sub"
                     : l->kind == DC_LAYER_AVERAGE   ? "Mean"
                     : l->kind == DC_LAYER_MAXIMUM   ? "Max"
                                                     : "Mul";
    if (l->kind == DC_LAYER_CONCATENATE) attr_int(g, "axis", concat_axis(l, rank, nchw));
    if (l->kind == DC_LAYER_MULTIPLY) { /* Mul takes two: ((a * b) * c) ... */
        snprintf(g->cur, sizeof g->cur, "%s", names[0]);
        for (int i = 1; i < n; i++) {
            const char *b[] = {names[i], NULL};
            step(g, "Mul", b);
        }
    } else {
        snprintf(what, sizeof what, "%s_%d", op, g->n_nodes);
        value_name(g, what, out, sizeof out);
        node(g, op, ins, out);
        snprintf(g->cur, sizeof g->cur, "%s", out);
    }
    g->rank = l->out_ndim + 1;
    g->nchw = nchw && g->rank == 4;
    snprintf(g->mask, sizeof g->mask, "%s", mask);
    g->pad_differs = pad && mask[0];
    return DC_OK;
}

/* ---- the model ---- */

/* The graph's input i: "input" for a model of one, else its InputLayer's name;
 * its outputs "output", or "output_0", "output_1" ... */
static void io_name(const dc_model *m, bool input, int i, char *out, size_t n) {
    int count = input ? m->n_inputs : m->n_outputs;
    const dc_layer *l = input ? m->nodes[m->inputs[i]].layer : NULL;
    if (count == 1) snprintf(out, n, "%s", input ? "input" : "output");
    else if (l) snprintf(out, n, "%s", l->name);
    else snprintf(out, n, "%s_%d", input ? "input" : "output", i);
}

/* Node k of the model: an input, a layer on one value or a merge layer. */
static dc_status export_node(const dc_model *m, onnx_graph *g, onnx_value *vals, int k) {
    const dc_call_node *nd = &m->nodes[k];
    g->l = nd->layer;
    if (g->l && nd->call == 0) snprintf(g->prefix, sizeof g->prefix, "%s", g->l->name);
    else if (g->l) snprintf(g->prefix, sizeof g->prefix, "%.64s@%d", g->l->name, nd->call);
    dc_status s = DC_OK;
    if (nd->n_in == 0) {
        io_name(m, true, nd->input_index, g->cur, sizeof g->cur);
        g->rank = nd->ndim + 1, g->nchw = false, g->mask[0] = '\0', g->pad_differs = false;
    } else if (g->l && is_merge(g->l->kind)) {
        const onnx_value *ins[DC_LAYER_MAX_IN];
        for (int j = 0; j < nd->n_in; j++) ins[j] = &vals[nd->in[j]];
        s = export_merge(g, ins, nd->n_in);
    } else {
        value_load(g, &vals[nd->in[0]]);
        s = export_layer_masked(g);
    }
    value_save(g, &vals[k]);
    return s;
}

/* Identity nodes from each output value (back in NHWC) to the graph's outputs. */
static dc_status export_outputs(const dc_model *m, onnx_graph *g, const onnx_value *vals) {
    for (int i = 0; i < m->n_outputs; i++) {
        value_load(g, &vals[m->outputs[i]]);
        if (g->mask[0] && g->pad_differs)
            return refuse_padded(m->nodes[m->outputs[i]].layer, "the model's output holds");
        g->l = NULL;
        to_layout(g, false);
        char name[128];
        io_name(m, false, i, name, sizeof name);
        const char *ins[] = {g->cur, NULL};
        node(g, "Identity", ins, name);
    }
    return DC_OK;
}

/* The whole ModelProto into out. */
static dc_status encode_model(const dc_model *m, pb_buf *out) {
    onnx_graph g = {0};
    onnx_value *vals = dc_calloc((size_t)m->n_nodes + 1, sizeof *vals);
    dc_status s = vals ? DC_OK : dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    for (int k = 0; k < m->n_nodes && s == DC_OK; k++) s = export_node(m, &g, vals, k);
    if (s == DC_OK) s = export_outputs(m, &g, vals);
    if (s == DC_OK) {
        pb_buf graph = {0}, ops = {0};
        pb_raw(&graph, g.nodes.p, g.nodes.n);
        pb_str(&graph, 2, m->name);
        pb_raw(&graph, g.inits.p, g.inits.n);
        char name[128];
        for (int i = 0; i < m->n_inputs; i++) {
            const dc_call_node *nd = &m->nodes[m->inputs[i]];
            io_name(m, true, i, name, sizeof name);
            value_info(&graph, 11, name, nd->ndim, nd->shape);
        }
        for (int i = 0; i < m->n_outputs; i++) {
            const dc_call_node *nd = &m->nodes[m->outputs[i]];
            io_name(m, false, i, name, sizeof name);
            value_info(&graph, 12, name, nd->ndim, nd->shape);
        }
        pb_int(out, 1, ONNX_IR_VERSION);
        pb_str(out, 2, "deepc");
        pb_msg(out, 7, &graph);
        pb_str(&ops, 1, "");
        pb_int(&ops, 2, ONNX_OPSET);
        pb_msg(out, 8, &ops);
        if (g.nodes.oom || g.inits.oom || g.attrs.oom || graph.oom || ops.oom) out->oom = true;
        pb_free(&graph), pb_free(&ops);
        if (out->oom) s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory encoding the graph", FN);
        else if (out->n > (size_t)INT32_MAX) /* protobuf's limit; ONNX's external data is not written */
            s = dc_set_error(DC_ERR_UNSUPPORTED,
                             "%s: model '%s' needs %zu bytes, over protobuf's 2 GiB for one file",
                             FN, m->name, out->n);
    }
    dc_free(vals);
    pb_free(&g.nodes), pb_free(&g.inits), pb_free(&g.attrs);
    return s;
}

dc_status dc_model_export_onnx(const dc_model *m, const char *path) {
    if (!m || !path) return dc_set_error(DC_ERR_ARG, "%s: model and path are required", FN);
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: the model is not built", FN);
    pb_buf out = {0};
    dc_status s = encode_model(m, &out);
    if (s != DC_OK) {
        pb_free(&out);
        return s;
    }
    dc_atomic_file a;
    s = dc_atomic_open(&a, FN, path);
    if (s == DC_OK) {
        dc_atomic_write(&a, out.p, out.n); /* a failed write makes commit fail and clean up */
        s = dc_atomic_commit(&a);
    }
    pb_free(&out);
    return s;
}
