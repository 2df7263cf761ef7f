/* layer.h — what a layer is inside deepc: its options as key/value strings
 * (kept for model files), shapes without the batch axis, declared parameters,
 * and the parse/build/forward functions listed in layers.def (internal). */
#ifndef DC_LAYER_H
#define DC_LAYER_H
#include "../tensor/tensor.h"

#define DC_LAYER_MAX_PARAMS 8
#define DC_LAYER_MAX_CFG 24
#define DC_LAYER_MAX_IN 8 /* inputs of one call (merge layers) */

/* A parameter a layer declares in build; the model carves its tensor out of
 * the flat buffers and fills it with the initializer. */
typedef struct {
    char name[48];     /* "kernel", "bias", "moving_mean", "forward_lstm/kernel" */
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    bool trainable;    /* false: saved but never optimized (BN moving statistics) */
    char init[32];     /* initializer name (dc_initializer_fill) */
    dc_tensor *t;      /* set by the model */
} dc_param;

/* Activations by Keras name; layers with an `activation` option use these. */
typedef enum {
    DC_ACT_LINEAR = 0, DC_ACT_RELU, DC_ACT_SIGMOID, DC_ACT_TANH, DC_ACT_SOFTMAX, DC_ACT_GELU,
    DC_ACT_ELU, DC_ACT_LEAKY_RELU, DC_ACT_SOFTPLUS
} dc_act;

struct dc_layer {
    int kind;           /* dc_layer_kind */
    char name[64];
    bool named;         /* name given by the user (kept) or to be assigned by the model */
    int n_cfg;          /* the options as given, for model files */
    char *cfg_key[DC_LAYER_MAX_CFG], *cfg_val[DC_LAYER_MAX_CFG];
    void *opts;         /* the parsed options (dc_free'd) */
    int in_ndim, out_ndim;
    int64_t in_shape[DC_MAX_DIMS], out_shape[DC_MAX_DIMS]; /* without the batch axis */
    /* Every input's shape for layers called on several (merge layers); the
     * first is in_ndim/in_shape, and n_in is 1 for every other layer. */
    int n_in;
    int in_ndims[DC_LAYER_MAX_IN];
    int64_t in_shapes[DC_LAYER_MAX_IN][DC_MAX_DIMS];
    int n_params;
    dc_param params[DC_LAYER_MAX_PARAMS];
    dc_act act;         /* the layer's activation (DC_ACT_LINEAR if none) */
    bool act_skip;      /* set by compile when the loss absorbs the last activation */
    dc_rng rng;         /* seeded by the model at build (dropout) */
    /* Conv2D: the MaxPooling2D after it runs inside the conv op, so the full-size
     * conv output is never stored; that pool layer then passes x on (set at build
     * by dc_layers_fuse). */
    int fused_pool[2];
    bool fused_away;
    /* Layers this one wraps (Bidirectional's forward and backward RNNs), freed
     * with it; their parameters are views of this layer's, never their own. */
    struct dc_layer *sub[2];
};

/* parse: reads the options (n key/value pairs, "name" already removed); errors
 * name the layer type and the key. build: in_ndim/in_shape are set; sets the
 * output shape and declares parameters. forward: x (B, in...) -> (B, out...). */
typedef dc_status (*dc_layer_parse_fn)(dc_layer *l, int n, const char *const *keys,
                                       const char *const *values);
typedef dc_status (*dc_layer_build_fn)(dc_layer *l);
typedef dc_tensor *(*dc_layer_forward_fn)(dc_layer *l, dc_tape *t, dc_tensor *x, bool training);
/* Layers called on several inputs (DC_MERGE_LAYER lines): build reads n_in,
 * in_ndims and in_shapes; forward_n gets the n input tensors in call order. */
typedef dc_tensor *(*dc_layer_forward_n_fn)(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n,
                                            bool training);

#define DC_LAYER(KIND, NAME, PARSE, BUILD, FWD) DC_LAYER_##KIND,
#define DC_MERGE_LAYER(KIND, NAME, PARSE, BUILD, FWD_N) DC_LAYER_##KIND,
typedef enum {
#include "layers.def"
    DC_LAYER_COUNT
} dc_layer_kind;
#undef DC_LAYER
#undef DC_MERGE_LAYER

#define DC_LAYER(KIND, NAME, PARSE, BUILD, FWD)                                          \
    dc_status PARSE(dc_layer *l, int n, const char *const *keys, const char *const *values); \
    dc_status BUILD(dc_layer *l);                                                        \
    dc_tensor *FWD(dc_layer *l, dc_tape *t, dc_tensor *x, bool training);
#define DC_MERGE_LAYER(KIND, NAME, PARSE, BUILD, FWD_N)                                  \
    dc_status PARSE(dc_layer *l, int n, const char *const *keys, const char *const *values); \
    dc_status BUILD(dc_layer *l);                                                        \
    dc_tensor *FWD_N(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training);
#include "layers.def"
#undef DC_LAYER
#undef DC_MERGE_LAYER

typedef struct {
    const char *name; /* Keras class name */
    dc_layer_parse_fn parse;
    dc_layer_build_fn build;
    dc_layer_forward_fn forward;     /* NULL for a merge layer */
    dc_layer_forward_n_fn forward_n; /* NULL for a one-input layer */
} dc_layer_info;
extern const dc_layer_info dc_layer_table[DC_LAYER_COUNT];

/* ---- helpers for layer files (layer.c) ---- */
/* Declares a parameter in build; returns its index or -1 (error set). */
int dc_layer_declare_param(dc_layer *l, const char *name, int ndim, const int64_t *shape,
                           bool trainable, const char *init);
/* The error for an unknown key: "Dense: unknown option 'unit' (known: ...)". */
dc_status dc_layer_unknown_key(const dc_layer *l, const char *key, const char *known);
/* Value parsers: each sets an error naming the layer type and the key. */
dc_status dc_parse_int(const dc_layer *l, const char *key, const char *v, int64_t lo, int64_t hi,
                       int64_t *out);
dc_status dc_parse_float(const dc_layer *l, const char *key, const char *v, double lo, double hi,
                         float *out);
dc_status dc_parse_bool(const dc_layer *l, const char *key, const char *v, bool *out);
/* "28,28,1" or "(28, 28, 1)"; allow_neg1: one -1 allowed. */
dc_status dc_parse_shape(const dc_layer *l, const char *key, const char *v, bool allow_neg1,
                         int *ndim, int64_t *shape);
dc_status dc_parse_activation(const dc_layer *l, const char *key, const char *v, dc_act *out);
dc_status dc_parse_initializer(const dc_layer *l, const char *key, const char *v);
/* An initializer name "unit_forget:NAME" (set by LSTM, never parsed): NAME,
 * then 1 on the second quarter (the forget gate of a (4U) bias). */
#define DC_INIT_UNIT_FORGET "unit_forget:"
const char *dc_act_name(dc_act a);
/* x -> act(x) on the tape (linear returns x). */
dc_tensor *dc_activation_apply(dc_tape *t, dc_tensor *x, dc_act a);
/* Applies l->act unless compile fused it into the loss. */
dc_tensor *dc_layer_activate(dc_layer *l, dc_tape *t, dc_tensor *x);
/* "(None, 28, 28)" into buf. */
char *dc_layer_shape_string(int ndim, const int64_t *shape, char *buf, size_t n);
/* Keras' to_snake_case: "MaxPooling2D" -> "max_pooling2d". */
void dc_snake_case(const char *in, char *out, size_t n);

/* ---- shared by the layers with a kernel and a bias (dense.c, conv2d.c) ---- */
typedef struct {
    bool use_bias;
    char kernel_init[32], bias_init[32];
} dc_kernel_bias;
/* Keras' defaults: a bias, glorot_uniform kernel, zeros bias. */
void dc_kernel_bias_defaults(dc_kernel_bias *kb);
/* The last branch of such a layer's parse loop: reads activation, use_bias,
 * kernel_initializer and bias_initializer; any other key is unknown, and the
 * error lists known. */
dc_status dc_parse_kernel_bias_key(dc_layer *l, const char *key, const char *v, dc_kernel_bias *kb,
                                   const char *known);
/* In build: declares "kernel" (kshape) and, with use_bias, "bias" (units). */
dc_status dc_layer_declare_kernel_bias(dc_layer *l, int kndim, const int64_t *kshape,
                                       int64_t units, const dc_kernel_bias *kb);

/* ---- shared by the image layers (conv2d.c, max_pooling2d.c ...) ---- */
/* "3", "3,3" or "(3, 3)": two integers in [lo, hi]; one value is used twice. */
dc_status dc_parse_pair(const dc_layer *l, const char *key, const char *v, int64_t lo, int64_t hi,
                        int64_t out[2]);
/* "valid" or "same", in any case (Keras lower-cases it). */
dc_status dc_parse_padding(const dc_layer *l, const char *key, const char *v, dc_padding *out);
/* Only "channels_last" (NHWC) is accepted, with an error naming the layer. */
dc_status dc_parse_data_format(const dc_layer *l, const char *key, const char *v);
/* In build: the input must be (H, W, C); the error names the layer. */
dc_status dc_layer_need_image(const dc_layer *l);
/* In build: the output grid of a KHxKW window (dilations d) over the input
 * image with strides s and Keras padding, or an error saying it does not fit. */
dc_status dc_layer_window_out(const dc_layer *l, const char *what, const int64_t k[2],
                              const int64_t s[2], const int64_t d[2], dc_padding pad,
                              int64_t out[2]);
/* The options of Conv2D and Conv2DTranspose (conv2d.c parses both). */
typedef struct {
    int64_t filters, kernel[2], strides[2], dilation[2];
    dc_padding padding;
    dc_kernel_bias kb;
} dc_conv_layer_opts;
/* The conv op's options for a Conv2D or Conv2DTranspose layer: strides,
 * padding, dilations, a ReLU fused when the layer's activation is one (and no
 * loss absorbs it), and the pool dc_layers_fuse gave it (never a transpose). */
dc_conv2d_options dc_conv_layer_op_options(const dc_layer *l);
/* The options of MaxPooling2D and AveragePooling2D (max_pooling2d.c parses both). */
typedef struct {
    int64_t pool[2], strides[2];
    dc_padding padding;
} dc_pool_layer_opts;
/* Typed constructors: options as strings through dc_layer_from_config, errors
 * relabelled with the constructor's name fn. */
dc_layer *dc_layer_make(const char *fn, const char *type, const char *const *keys,
                        const char *const *values, int n);
/* MaxPooling2D / AveragePooling2D from the typed options (max_pooling2d.c). */
dc_layer *dc_layer_pool2d_make(const char *fn, const char *type,
                               const dc_pool2d_layer_options *opt);
/* After build: marks the Conv2D -> MaxPooling2D pairs that one conv op can run
 * (conv2d.c); on=false clears the marks, so every layer gives its own output
 * (dc_model_call_collect). Only speed changes; shapes and parameters stay. */
void dc_layers_fuse(dc_layer **layers, int n, bool on);

/* ---- sequences (mask.c) ----
 * A dim of -1 in in_shape/out_shape is Keras' None: a time axis whose length
 * each batch sets. */
/* forward plus Keras' mask rule: a mask the layer set on its output stays;
 * otherwise a layer that keeps masks (a table in mask.c, by kind) passes the
 * input's mask on when the output keeps the (B, T) axes; any other layer
 * drops it (Keras' layers without supports_masking, and those that consume it). */
dc_tensor *dc_layer_call(dc_layer *l, dc_tape *t, dc_tensor *x, bool training);
/* The same for a call on n inputs (n 1 for a one-input layer): a merge layer's
 * output keeps the inputs' masks (one shared mask, or their product), as
 * Keras' Merge.compute_mask. */
dc_tensor *dc_layer_call_n(dc_layer *l, dc_tape *t, dc_tensor *const *xs, int n, bool training);
/* Whether the layer is called on several inputs (a merge layer). */
bool dc_layer_is_merge(const dc_layer *l);
/* In build: DC_OK when in_shape[from, to) holds no None; otherwise an error
 * naming the layer, its input and why the length must be known. */
dc_status dc_layer_need_fixed(const dc_layer *l, int from, int to, const char *why);
/* In build: the input must be a sequence (T, C); T may be None. */
dc_status dc_layer_need_sequence(const dc_layer *l);
/* "3", "(3,)" or "[3]": one integer >= 1 (Conv1D, MaxPooling1D: conv1d.c). */
dc_status dc_parse_one(const dc_layer *l, const char *key, const char *v, int64_t *out);
/* A (B, T) mask tensor in the tape's arena for x (B, T, ...), or NULL. */
dc_tensor *dc_mask_new(dc_tape *t, const dc_tensor *x);

/* A copy of the layer's configuration, made with the same type and options. */
dc_layer *dc_layer_clone_config(const dc_layer *l);
#endif
