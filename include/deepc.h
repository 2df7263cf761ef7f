/* deepc.h — the one public header of deepc, a deep-learning library in C11.
 * Tensors, a GradientTape, ops, layers, models, optimizers and training, behind
 * opaque handles and plain option structs (zero means "the Keras default"). */
#ifndef DEEPC_H
#define DEEPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DC_VERSION "0.1.0"
#define DC_MAX_DIMS 6

/* ========================================================================
 * Status codes and errors
 * Every call that can fail returns a dc_status (or NULL) and leaves a
 * message naming the function and the shapes or byte offset involved.
 * ======================================================================== */
typedef enum {
    DC_OK = 0,
    DC_ERR_ARG,         /* a bad option or NULL argument */
    DC_ERR_SHAPE,       /* shapes that do not fit together */
    DC_ERR_NOMEM,       /* out of memory */
    DC_ERR_IO,          /* a file could not be opened, read or written */
    DC_ERR_FORMAT,      /* a file is corrupt, truncated or not what it claims */
    DC_ERR_STATE,       /* a call made at the wrong time (e.g. a failed tape) */
    DC_ERR_UNSUPPORTED, /* valid, but not implemented */
    DC_ERR_NUMERIC      /* NaN or Inf where a number was needed */
} dc_status;

/* The message of the last error on this thread ("" if none). */
const char *dc_last_error(void);
/* The status of the last error on this thread (DC_OK if none). */
dc_status dc_last_status(void);
void dc_clear_error(void);
const char *dc_status_string(dc_status s);

typedef enum { DC_LOG_DEBUG = 0, DC_LOG_INFO, DC_LOG_WARN, DC_LOG_ERROR } dc_log_level;
typedef void (*dc_log_fn)(dc_log_level level, const char *msg, void *user);
/* The library prints nothing on its own; it hands log lines to this callback
 * (none by default). */
void dc_set_log_callback(dc_log_fn fn, void *user);

/* ========================================================================
 * Memory accounting: every allocation of the library goes through one
 * counting allocator, so a test can assert that a step allocates nothing.
 * ======================================================================== */
typedef struct {
    uint64_t allocs;     /* calls that obtained memory (malloc, calloc, growing realloc) */
    uint64_t frees;
    uint64_t bytes_live;
    uint64_t bytes_peak;
} dc_alloc_stats;
void dc_alloc_get_stats(dc_alloc_stats *out);
uint64_t dc_alloc_count(void);

/* ========================================================================
 * Random numbers: PCG32, the same numbers on every platform for a seed.
 * ======================================================================== */
typedef struct {
    uint64_t state, inc;
    int has_spare;
    double spare;
} dc_rng;
void dc_rng_seed(dc_rng *r, uint64_t seed);
uint32_t dc_rng_u32(dc_rng *r);
uint32_t dc_rng_below(dc_rng *r, uint32_t n); /* uniform in [0, n), unbiased */
double dc_rng_uniform(dc_rng *r);             /* uniform in [0, 1) */
double dc_rng_normal(dc_rng *r);              /* standard normal */
void dc_rng_shuffle(dc_rng *r, int64_t *idx, int64_t n); /* Fisher-Yates */

/* ========================================================================
 * CPU features and threads
 * ======================================================================== */
typedef struct {
    bool sse42, avx2, fma, avx512f;
} dc_cpu_features;
dc_cpu_features dc_cpu_get_features(void);
/* "avx512", "avx2" or "portable": the kernel path chosen at run time. The
 * environment variable DEEPC_ISA=portable|avx2|avx512 caps it (for tests). */
const char *dc_cpu_isa_name(void);
void dc_set_num_threads(int n); /* <= 0: all cores */
int dc_get_num_threads(void);

/* ========================================================================
 * Tensors: float32, row-major, up to 6 dims, images NHWC.
 * The fields above "private" are public and read-only (data and grad may be
 * written through). A tensor made by dc_tensor_* is freed by dc_tensor_free;
 * a tensor returned by an op lives in its tape's arena until dc_tape_reset.
 * ======================================================================== */
typedef struct dc_tape dc_tape;

typedef struct dc_tensor {
    int ndim;
    int64_t shape[DC_MAX_DIMS];
    int64_t size;  /* number of elements */
    float *data;
    float *grad;   /* NULL unless the tensor requires a gradient */
    char name[64];
    /* Keras' mask of a sequence (B, T): 1 for a real step, 0 for padding, or
     * NULL. Made by Embedding(mask_zero) and Masking, carried by the layers
     * that keep the time axis and read by RNNs, pooling, losses and metrics;
     * it lives in the same tape arena as the tensor. */
    struct dc_tensor *mask;
    /* private */
    uint32_t flags;
    dc_tape *tape;
} dc_tensor;

/* dc_tensor_zeros(DC_DIMS(32, 784)) */
#define DC_DIMS(...) \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

/* Each returns a new tensor the caller frees with dc_tensor_free, or NULL. */
dc_tensor *dc_tensor_zeros(int ndim, const int64_t *shape);
dc_tensor *dc_tensor_ones(int ndim, const int64_t *shape);
dc_tensor *dc_tensor_full(int ndim, const int64_t *shape, float value);
dc_tensor *dc_tensor_uniform(int ndim, const int64_t *shape, float lo, float hi, dc_rng *rng);
dc_tensor *dc_tensor_normal(int ndim, const int64_t *shape, float mean, float std, dc_rng *rng);
/* Copies `data` (shape-many floats). */
dc_tensor *dc_tensor_from_data(int ndim, const int64_t *shape, const float *data);
/* Wraps user memory without copying; the user keeps ownership of data. */
dc_tensor *dc_tensor_wrap(int ndim, const int64_t *shape, float *data);
/* A view with another shape of the same element count (shares data and grad). */
dc_tensor *dc_tensor_reshape(const dc_tensor *t, int ndim, const int64_t *shape);
/* A view of rows [start, start+count) along the first axis (a batch). */
dc_tensor *dc_tensor_slice(const dc_tensor *t, int64_t start, int64_t count);
/* A deep copy (data only; the copy requires no gradient). */
dc_tensor *dc_tensor_clone(const dc_tensor *t);
void dc_tensor_free(dc_tensor *t);

dc_status dc_tensor_copy(dc_tensor *dst, const dc_tensor *src); /* same element count */
void dc_tensor_fill(dc_tensor *t, float value);
/* Allocates (zeroed) or drops the gradient buffer of a tensor made by dc_tensor_*. */
dc_status dc_tensor_set_requires_grad(dc_tensor *t, bool requires);
bool dc_tensor_requires_grad(const dc_tensor *t);
void dc_tensor_zero_grad(dc_tensor *t);
void dc_tensor_set_name(dc_tensor *t, const char *name);
bool dc_tensor_same_shape(const dc_tensor *a, const dc_tensor *b);
/* Writes "(32,784)" into buf; returns buf. */
char *dc_shape_string(int ndim, const int64_t *shape, char *buf, size_t n);
/* The single element of a one-element tensor (NaN if not one element). */
float dc_tensor_item(const dc_tensor *t);
/* Prints shape and values (at most `max_items` of them) to f. */
void dc_tensor_print(const dc_tensor *t, FILE *f, int64_t max_items);

/* ========================================================================
 * The tape (tf.GradientTape): an arena plus the list of recorded ops.
 * Ops take the tape first; their results live in its arena. A tape with
 * recording off runs ops for inference and keeps no backward bookkeeping.
 * After an error every later op on the tape returns NULL; check once with
 * dc_tape_status() at the end of the step.
 * ======================================================================== */
typedef struct {
    size_t arena_bytes; /* initial arena size; 0: 1 MiB, it grows as needed */
    bool no_record;     /* inference: never record, never allocate gradients */
} dc_tape_options;

dc_tape *dc_tape_new(const dc_tape_options *opt); /* opt may be NULL */
void dc_tape_free(dc_tape *t);
/* Forgets the recorded ops and rewinds the arena; after the first step of a
 * loop, a step allocates nothing. Tensors from the tape become invalid. */
void dc_tape_reset(dc_tape *t);
/* Fills .grad of every tensor the loss depends on that requires a gradient
 * (accumulating with +=). loss must have one element. */
dc_status dc_tape_backward(dc_tape *t, dc_tensor *loss);
/* Records gradients for a tensor that does not require one on its own (like
 * tape.watch); its grad buffer lives in the arena until reset. */
dc_status dc_tape_watch(dc_tape *t, dc_tensor *x);
void dc_tape_set_recording(dc_tape *t, bool on);
bool dc_tape_is_recording(const dc_tape *t);
/* DC_OK, or the first error raised by an op on this tape. */
dc_status dc_tape_status(const dc_tape *t);
const char *dc_tape_error(const dc_tape *t);
size_t dc_tape_arena_peak(const dc_tape *t);
/* A tensor in the tape's arena (zeroed); valid until reset. */
dc_tensor *dc_tape_tensor(dc_tape *t, int ndim, const int64_t *shape);

/* ========================================================================
 * Ops. Each records itself on the tape (when recording and an input needs a
 * gradient) and returns NULL on error (the tape is then marked failed).
 * Elementwise binary ops broadcast as NumPy does. Integer data (labels,
 * indices) is passed in float tensors holding whole numbers.
 * ======================================================================== */
/* -- ops: elementwise -- */
/* Binary ops broadcast a and b; a pair that cannot broadcast fails with
 * DC_ERR_SHAPE naming both shapes. Gradients follow PyTorch: maximum/minimum
 * split the gradient half and half where a == b; pow's gradient to b is
 * y log(a) (NaN for a < 0, 0 where a == 0 and b >= 0); abs'(0) = 0; clip
 * passes the gradient where lo <= x <= hi (lo > hi is DC_ERR_ARG). */
dc_tensor *dc_add(dc_tape *t, dc_tensor *a, dc_tensor *b);
dc_tensor *dc_sub(dc_tape *t, dc_tensor *a, dc_tensor *b);
dc_tensor *dc_mul(dc_tape *t, dc_tensor *a, dc_tensor *b);
dc_tensor *dc_div(dc_tape *t, dc_tensor *a, dc_tensor *b);
dc_tensor *dc_maximum(dc_tape *t, dc_tensor *a, dc_tensor *b);
dc_tensor *dc_minimum(dc_tape *t, dc_tensor *a, dc_tensor *b);
dc_tensor *dc_pow(dc_tape *t, dc_tensor *a, dc_tensor *b);
dc_tensor *dc_add_scalar(dc_tape *t, dc_tensor *x, float s);
dc_tensor *dc_mul_scalar(dc_tape *t, dc_tensor *x, float s);
dc_tensor *dc_pow_scalar(dc_tape *t, dc_tensor *x, float p);
dc_tensor *dc_neg(dc_tape *t, dc_tensor *x);
dc_tensor *dc_exp(dc_tape *t, dc_tensor *x);
dc_tensor *dc_log(dc_tape *t, dc_tensor *x);
dc_tensor *dc_sqrt(dc_tape *t, dc_tensor *x);
dc_tensor *dc_square(dc_tape *t, dc_tensor *x);
dc_tensor *dc_abs(dc_tape *t, dc_tensor *x);
dc_tensor *dc_clip(dc_tape *t, dc_tensor *x, float lo, float hi);
/* -- end ops: elementwise -- */

/* -- ops: activations -- */
/* relu'(0) = 0 as in PyTorch. softmax and log_softmax normalize along any
 * axis (negative counts from the end) and subtract the maximum first, so
 * large logits are safe. */
dc_tensor *dc_sigmoid(dc_tape *t, dc_tensor *x);
dc_tensor *dc_tanh(dc_tape *t, dc_tensor *x);
dc_tensor *dc_relu(dc_tape *t, dc_tensor *x);
dc_tensor *dc_leaky_relu(dc_tape *t, dc_tensor *x, float alpha); /* alpha 0: 0.3 (Keras) */
dc_tensor *dc_elu(dc_tape *t, dc_tensor *x, float alpha);        /* alpha 0: 1.0 */
dc_tensor *dc_gelu(dc_tape *t, dc_tensor *x);                    /* exact (erf) form */
dc_tensor *dc_softplus(dc_tape *t, dc_tensor *x);
dc_tensor *dc_softmax(dc_tape *t, dc_tensor *x, int axis);       /* axis -1: last */
dc_tensor *dc_log_softmax(dc_tape *t, dc_tensor *x, int axis);
/* -- end ops: activations -- */

/* -- ops: linear algebra, reductions, shapes -- */
/* a (...,M,K) x b (...,K,N) -> (...,M,N); trans_a / trans_b transpose the last
 * two axes first. Batch axes broadcast; a 2-D operand is shared by every batch. */
dc_tensor *dc_matmul(dc_tape *t, dc_tensor *a, dc_tensor *b, bool trans_a, bool trans_b);
/* The fused dense op: act(x @ w + b). x (..., in), w (in, units), b (units) or
 * NULL -> (..., units); leading axes of x fold into rows. One gemm forward (bias
 * and relu applied as it stores), one gemm per gradient backward; the same
 * result as dc_matmul + dc_add + the activation op, with fewer passes. */
typedef enum {
    DC_DENSE_ACT_NONE = 0,
    DC_DENSE_ACT_RELU,
    DC_DENSE_ACT_SIGMOID,
    DC_DENSE_ACT_TANH
} dc_dense_activation;
dc_tensor *dc_dense(dc_tape *t, dc_tensor *x, dc_tensor *w, dc_tensor *b, int activation);
/* Reductions over one axis (negative counts from the end); sums run in a fixed
 * order, so results do not depend on the thread count. dc_max sends the whole
 * gradient to the first maximum on ties (torch.amax splits it among them). */
dc_tensor *dc_sum(dc_tape *t, dc_tensor *x, int axis, bool keepdims);
dc_tensor *dc_mean(dc_tape *t, dc_tensor *x, int axis, bool keepdims);
dc_tensor *dc_max(dc_tape *t, dc_tensor *x, int axis, bool keepdims);
dc_tensor *dc_sum_all(dc_tape *t, dc_tensor *x);  /* -> () with one element */
dc_tensor *dc_mean_all(dc_tape *t, dc_tensor *x);
dc_tensor *dc_max_all(dc_tape *t, dc_tensor *x);
dc_tensor *dc_reshape(dc_tape *t, dc_tensor *x, int ndim, const int64_t *shape); /* one -1 allowed */
dc_tensor *dc_transpose(dc_tape *t, dc_tensor *x); /* swaps the last two axes */
/* perm has x->ndim entries: output axis d is x's axis perm[d] (torch.permute). */
dc_tensor *dc_permute(dc_tape *t, dc_tensor *x, const int *perm);
/* n >= 1 tensors whose shapes agree except along axis. */
dc_tensor *dc_concat(dc_tape *t, dc_tensor *const *xs, int n, int axis);
/* Elements [start, start+len) along axis; needs 0 <= start <= start+len <= dim. */
dc_tensor *dc_slice(dc_tape *t, dc_tensor *x, int axis, int64_t start, int64_t len);
/* Rows of x (first axis) at the whole-number indices in idx (K,) -> (K, ...). */
dc_tensor *dc_gather(dc_tape *t, dc_tensor *x, dc_tensor *idx);
/* labels (N,) of whole numbers in [0, depth) -> (N, depth); no gradient.
 * (Labels of any shape (...) give (..., depth).) */
dc_tensor *dc_one_hot(dc_tape *t, dc_tensor *labels, int depth);
/* -- end ops: linear algebra, reductions, shapes -- */

/* -- ops: losses -- */
/* Each returns the mean over the batch as a tensor of shape () (one element).
 * dc_mse and dc_binary_cross_entropy_logits average over every element, as
 * torch's reduction='mean' and Keras do; the softmax cross-entropies over rows. */
dc_tensor *dc_mse(dc_tape *t, dc_tensor *pred, dc_tensor *target);
/* logits (N,C), onehot (N,C) */
dc_tensor *dc_softmax_cross_entropy(dc_tape *t, dc_tensor *logits, dc_tensor *onehot);
/* logits (N,C), labels (N,) or (N,1) of whole numbers in [0, C) */
dc_tensor *dc_sparse_softmax_cross_entropy(dc_tape *t, dc_tensor *logits, dc_tensor *labels);
/* logits and targets of one shape, targets in [0, 1] */
dc_tensor *dc_binary_cross_entropy_logits(dc_tape *t, dc_tensor *logits, dc_tensor *targets);
/* Class-weighted: logits (N,C), labels (N,), weights (C,) >= 0 ->
 * sum w[y] * xent / sum w[y], as PyTorch's CrossEntropyLoss(weight=w); 0 when
 * no row has weight. Only the logits get a gradient. */
dc_tensor *dc_weighted_sparse_softmax_cross_entropy(dc_tape *t, dc_tensor *logits,
                                                    dc_tensor *labels, dc_tensor *weights);
/* Soft Dice over rows of classes (a pixel is a row): scores (N,C) as logits
 * (softmaxed inside) or probabilities, labels (N,) class indices. Per class c,
 * dice_c = (2 sum_i p_ic [y_i=c] + smooth) / (sum_i p_ic + count(y_i=c) + smooth);
 * the loss is 1 - mean over classes. smooth > 0 (1 is usual). */
dc_tensor *dc_dice_loss(dc_tape *t, dc_tensor *scores, dc_tensor *labels, bool from_probabilities,
                        float smooth);
/* Inverted dropout: zeroes a `rate` fraction and scales the rest by 1/(1-rate)
 * when training; the identity otherwise. rate in [0, 1). The mask comes from
 * one 64-bit key drawn from rng at forward time (hashed with each element's
 * index), so a seed gives the same mask for any thread count; rng may be NULL
 * when not training or rate is 0. */
dc_tensor *dc_dropout(dc_tape *t, dc_tensor *x, float rate, bool training, dc_rng *rng);
/* Keras' RandomFlip for images x (N,H,W,C): when training, each sample is
 * mirrored left-right (DC_FLIP_HORIZONTAL) and/or upside down
 * (DC_FLIP_VERTICAL) with probability 1/2 per axis, drawn from rng in sample
 * order; the identity otherwise (rng may then be NULL). */
enum { DC_FLIP_HORIZONTAL = 1, DC_FLIP_VERTICAL = 2 };
dc_tensor *dc_random_flip(dc_tape *t, dc_tensor *x, int mode, bool training, dc_rng *rng);
/* -- end ops: losses -- */

/* -- ops: convolution -- */
/* Images are NHWC (Keras channels_last). Padding follows Keras: 'valid' uses
 * no padding; 'same' gives ceil(H / stride) outputs and pads
 * pad_total = max((HO-1)*stride + (KH-1)*dilation + 1 - H, 0) with pad_total/2
 * before and the rest (the odd pixel) after; PyTorch pads symmetrically. */
/* DC_PAD_CAUSAL: Conv1D only (Keras: (kernel-1)*dilation zeros before the sequence). */
typedef enum { DC_PAD_VALID = 0, DC_PAD_SAME, DC_PAD_CAUSAL } dc_padding;
typedef enum { DC_CONV_ACT_NONE = 0, DC_CONV_ACT_RELU } dc_conv_activation;

/* Zero strides and dilations mean 1. Strides > 1 with dilations > 1 are allowed
 * (Keras refuses the combination; the arithmetic is well defined). */
typedef struct {
    int stride_h, stride_w;
    dc_padding padding;
    int dilation_h, dilation_w;
    dc_conv_activation activation; /* fused after the bias: saves a pass and a tensor */
    /* dc_conv2d only: > 0 fuses a MaxPooling2D((pool_h, pool_w)) after the
     * activation (strides = pool size, 'valid'), so the full-size conv output is
     * never stored: the result is that of dc_max_pool2d on the conv's output. */
    int pool_h, pool_w;
} dc_conv2d_options;

/* x (N,H,W,C), w (KH,KW,C,F) (the Keras Conv2D kernel), bias (F) or NULL
 * -> (N,HO,WO,F). opt may be NULL (stride 1, 'valid', no activation). With a
 * fused activation, backward leaves in y->grad the gradient before the
 * activation (the mask is applied in place to save a pass). */
dc_tensor *dc_conv2d(dc_tape *t, dc_tensor *x, dc_tensor *w, dc_tensor *bias,
                     const dc_conv2d_options *opt);
/* The transpose (gradient) of a convolution, as Keras Conv2DTranspose without
 * output_padding: x (N,H,W,C), w (KH,KW,F,C) (the Keras Conv2DTranspose
 * kernel), bias (F) or NULL -> (N,HO,WO,F) with HO = H*s + max(KH' - s, 0)
 * for 'valid' and H*s for 'same' (KH' = (KH-1)*dilation + 1). */
dc_tensor *dc_conv2d_transpose(dc_tape *t, dc_tensor *x, dc_tensor *w, dc_tensor *bias,
                               const dc_conv2d_options *opt);

/* Zero strides mean the pool size (Keras' default). */
typedef struct {
    int stride_h, stride_w;
    dc_padding padding;
} dc_pool_options;

/* x (N,H,W,C) -> (N,HO,WO,C). 'same' max pooling ignores the padding; 'same'
 * average pooling divides by the number of real pixels in each window (Keras;
 * PyTorch's count_include_pad=False). opt may be NULL. */
dc_tensor *dc_max_pool2d(dc_tape *t, dc_tensor *x, int pool_h, int pool_w,
                         const dc_pool_options *opt);
dc_tensor *dc_avg_pool2d(dc_tape *t, dc_tensor *x, int pool_h, int pool_w,
                         const dc_pool_options *opt);
/* x (N,H,W,C) -> (N,C) */
dc_tensor *dc_global_avg_pool2d(dc_tape *t, dc_tensor *x);
dc_tensor *dc_global_max_pool2d(dc_tape *t, dc_tensor *x);

/* Batch normalization over every axis but the last: x (..., C), gamma, beta,
 * moving_mean, moving_var (C). training: normalizes with the batch mean and the
 * biased batch variance, and updates the moving statistics in place as Keras 3
 * does, moving = moving * momentum + batch * (1 - momentum), with the biased
 * variance too (PyTorch puts the unbiased variance into running_var, and its
 * `momentum` is Keras' 1 - momentum). Not training: uses the moving statistics.
 * momentum 0: 0.99; epsilon 0: 1e-3 (Keras' defaults). Gradients flow to x,
 * gamma and beta; the moving statistics never require one. */
dc_tensor *dc_batch_norm(dc_tape *t, dc_tensor *x, dc_tensor *gamma, dc_tensor *beta,
                         dc_tensor *moving_mean, dc_tensor *moving_var, bool training,
                         float momentum, float epsilon);

/* x (N,H,W,C) -> (N,H*size_h,W*size_w,C), as Keras UpSampling2D: nearest, or
 * bilinear with half-pixel centers (tf.image.resize; align_corners=False). */
dc_tensor *dc_upsample2d(dc_tape *t, dc_tensor *x, int size_h, int size_w, bool bilinear);
/* -- end ops: convolution -- */

/* -- ops: sequences -- */
/* The embedding lookup: table (V,D), ids (...) of whole numbers in [0, V)
 * -> (..., D). An id outside the table (or not whole) fails with a message
 * naming it and its position ((batch, step) for (B,T) ids) before any row is
 * read. Backward adds into the looked-up rows only; ids get no gradient. */
dc_tensor *dc_embedding(dc_tape *t, dc_tensor *table, dc_tensor *ids);
/* x (B,T,C) -> (B,C): the mean (max) over the steps whose mask (B,T) is not 0
 * (mask NULL: every step), as Keras' GlobalAveragePooling1D with a mask. A
 * sequence without a real step gives 0 (Keras: NaN for the mean). */
dc_tensor *dc_seq_avg_pool(dc_tape *t, dc_tensor *x, dc_tensor *mask);
dc_tensor *dc_seq_max_pool(dc_tape *t, dc_tensor *x, dc_tensor *mask);
/* x (B,T,...) with its steps in reverse order (the whole padded length, as
 * Keras' ops.flip on axis 1). */
dc_tensor *dc_seq_reverse(dc_tape *t, dc_tensor *x);
/* -- end ops: sequences -- */
/* -- ops: recurrent -- */
/* Fused recurrent layers whose forward loops over time inside one op: the input
 * projection of all T steps is one GEMM, then each step is one recurrent GEMM
 * and one fused gate kernel; backward runs the steps in reverse and ends with
 * one GEMM each for the kernel, recurrent kernel and input gradients. Keras'
 * semantics, layouts and gate orders; the gradients are the same for any
 * thread count, bit for bit. */
typedef enum {
    DC_RNN_ACT_DEFAULT = 0, /* tanh for activation, sigmoid for recurrent_activation */
    DC_RNN_ACT_TANH,
    DC_RNN_ACT_SIGMOID,
    DC_RNN_ACT_RELU,
    DC_RNN_ACT_LINEAR,
    DC_RNN_ACT_HARD_SIGMOID /* Keras 3: relu6(x + 3) / 6 */
} dc_rnn_activation;
typedef struct {
    dc_rnn_activation activation, recurrent_activation;
    bool go_backwards;  /* steps T-1..0; outputs in processing order, as Keras */
    bool reset_before;  /* GRU: false = reset_after (Keras 3's default, PyTorch's GRU) */
    /* (B,T) 1 real / 0 padded, or NULL: a masked step keeps the state and
     * repeats the previous output (0 before any real step), as Keras */
    const dc_tensor *mask;
    /* masked steps output 0 instead of repeating (Keras' zero_output_for_mask,
     * which Bidirectional sets when it returns sequences) */
    bool zero_output_for_mask;
    /* (B,U), already scaled by 1/(1-rate): multiplies h_{t-1} where it enters
     * the recurrent GEMM (every gate, every step), or NULL */
    const dc_tensor *recurrent_dropout_mask;
} dc_rnn_options;
/* x (B,T,I), kernel (I,4U) gates i,f,c,o (Keras' order), recurrent_kernel
 * (U,4U), bias (4U) or NULL, h0/c0 (B,U) or NULL (zeros) -> (B,T,U). opt may
 * be NULL (tanh/sigmoid, forwards, no mask). */
dc_tensor *dc_lstm(dc_tape *t, dc_tensor *x, dc_tensor *kernel, dc_tensor *recurrent_kernel,
                   dc_tensor *bias, dc_tensor *h0, dc_tensor *c0, const dc_rnn_options *opt);
/* GRU: kernel (I,3U) gates z,r,h (Keras' order), recurrent_kernel (U,3U),
 * bias (2,3U) [input bias; recurrent bias] with reset_after, (3U) with
 * reset_before, or NULL; h = z h_{t-1} + (1 - z) hh. */
dc_tensor *dc_gru(dc_tape *t, dc_tensor *x, dc_tensor *kernel, dc_tensor *recurrent_kernel,
                  dc_tensor *bias, dc_tensor *h0, const dc_rnn_options *opt);
/* SimpleRNN: kernel (I,U), recurrent_kernel (U,U), bias (U) or NULL. */
dc_tensor *dc_simple_rnn(dc_tape *t, dc_tensor *x, dc_tensor *kernel,
                         dc_tensor *recurrent_kernel, dc_tensor *bias, dc_tensor *h0,
                         const dc_rnn_options *opt);
/* The final state (B,U) of an output of dc_lstm/dc_gru/dc_simple_rnn: which 0
 * is h, 1 LSTM's c. Gradients flow back into the recurrence (return_state).
 * Anything else as rnn_out is an error. */
dc_tensor *dc_rnn_state(dc_tape *t, dc_tensor *rnn_out, int which);
/* -- end ops: recurrent -- */

/* ========================================================================
 * Layers and models
 * ======================================================================== */
/* -- layers and models -- */
/* Layers are built by a constructor (or by Keras' class name and key/value
 * strings, for model files) and handed to a model, which then owns them. */
typedef struct dc_layer dc_layer;
typedef struct dc_model dc_model;

typedef struct {
    int units;                      /* required, > 0 */
    const char *activation;         /* NULL: "linear"; relu sigmoid tanh softmax gelu elu
                                       leaky_relu softplus linear */
    bool no_bias;                   /* false: use_bias=True as Keras */
    const char *kernel_initializer; /* NULL: "glorot_uniform" */
    const char *bias_initializer;   /* NULL: "zeros" */
    const char *name;               /* NULL: automatic ("dense", "dense_1", ...) */
} dc_dense_options;

/* Each returns a new layer (the caller frees it with dc_layer_free unless it
 * hands it to dc_model_add), or NULL with a message. */
dc_layer *dc_layer_dense(const dc_dense_options *opt);
dc_layer *dc_layer_activation(const char *activation);
dc_layer *dc_layer_dropout(float rate);       /* rate in [0, 1); active only in training */
dc_layer *dc_layer_flatten(void);
dc_layer *dc_layer_reshape(int ndim, const int64_t *target_shape); /* without batch; one -1 */
dc_layer *dc_layer_input(int ndim, const int64_t *shape);          /* without batch */

/* Image layers take (H, W, C) samples (NHWC, Keras' channels_last). Pairs
 * like kernel_size are {3} or {3, 3}: a second 0 repeats the first. */
typedef struct {
    int filters;                    /* required, > 0 */
    int kernel_size[2];             /* required, > 0 */
    int strides[2];                 /* 0: 1 */
    dc_padding padding;             /* DC_PAD_VALID (0) or DC_PAD_SAME, Keras' arithmetic */
    int dilation_rate[2];           /* 0: 1 */
    const char *activation;         /* NULL: "linear"; "relu" is fused into the conv op */
    bool no_bias;                   /* false: use_bias=True as Keras */
    const char *kernel_initializer; /* NULL: "glorot_uniform" (fans (KH*KW*C, KH*KW*F)) */
    const char *bias_initializer;   /* NULL: "zeros" */
    const char *name;               /* NULL: automatic ("conv2d", "conv2d_1", ...) */
} dc_conv2d_layer_options;
/* Conv2D: kernel (KH,KW,C,F), bias (F). */
dc_layer *dc_layer_conv2d(const dc_conv2d_layer_options *opt);
/* Conv2DTranspose (no output_padding): kernel (KH,KW,F,C) as Keras, bias (F). */
dc_layer *dc_layer_conv2d_transpose(const dc_conv2d_layer_options *opt);

typedef struct {
    int pool_size[2];    /* 0: 2 */
    int strides[2];      /* 0: the pool size */
    dc_padding padding;  /* DC_PAD_VALID (0) or DC_PAD_SAME */
    const char *name;
} dc_pool2d_layer_options;
/* MaxPooling2D / AveragePooling2D; opt may be NULL (2x2, stride 2, 'valid'). */
dc_layer *dc_layer_max_pooling2d(const dc_pool2d_layer_options *opt);
dc_layer *dc_layer_average_pooling2d(const dc_pool2d_layer_options *opt);
/* (H, W, C) -> (C); dc_layer_from_config takes keepdims=true for (1, 1, C). */
dc_layer *dc_layer_global_average_pooling2d(void);
dc_layer *dc_layer_global_max_pooling2d(void);

typedef struct {
    float momentum;  /* 0: 0.99 (Keras; PyTorch's momentum is 1 minus this) */
    float epsilon;   /* 0: 1e-3 */
    bool no_center;  /* true: no beta */
    bool no_scale;   /* true: no gamma */
    const char *name;
} dc_batch_normalization_options;
/* BatchNormalization over the last axis; opt may be NULL. Parameters gamma,
 * beta (trainable), moving_mean, moving_variance (non-trainable: saved with
 * the model, updated by training steps, used when not training). */
dc_layer *dc_layer_batch_normalization(const dc_batch_normalization_options *opt);

typedef struct {
    int size[2];               /* 0: 2 */
    const char *interpolation; /* NULL: "nearest"; "bilinear" */
    const char *name;
} dc_up_sampling2d_options;
/* UpSampling2D: (H, W, C) -> (H*size[0], W*size[1], C); opt may be NULL. */
dc_layer *dc_layer_up_sampling2d(const dc_up_sampling2d_options *opt);
/* RandomFlip: a training-time augmentation of (H, W, C) images; mode
 * "horizontal", "vertical" or NULL for "horizontal_and_vertical" (Keras'
 * default). Predictions and evaluation see the images as they are. */
dc_layer *dc_layer_random_flip(const char *mode, const char *name);
/* Sequence layers take (T, features) samples (or ids (T) for Embedding); T may
 * be None (-1 in a shape: each batch sets it). A (B,T) mask made by
 * Embedding(mask_zero) or Masking flows to the layers after it as Keras'. */
typedef struct {
    int input_dim, output_dim;          /* required, > 0: ids in [0, input_dim) */
    const char *embeddings_initializer; /* NULL: "uniform" (-0.05, 0.05), as Keras */
    bool mask_zero;                     /* id 0 is padding: makes the mask */
    const char *name;
} dc_embedding_options;
/* Embedding: ids (T) -> (T, output_dim); parameter "embeddings" (input_dim, output_dim). */
dc_layer *dc_layer_embedding(const dc_embedding_options *opt);
/* Masking: a step whose features all equal mask_value (finite) is masked and zeroed. */
dc_layer *dc_layer_masking(float mask_value, const char *name);
typedef struct {
    int filters, kernel_size;       /* required, > 0 */
    int strides, dilation_rate;     /* 0: 1 */
    dc_padding padding;             /* DC_PAD_VALID (0), DC_PAD_SAME or DC_PAD_CAUSAL */
    const char *activation;         /* NULL: "linear"; "relu" is fused into the conv op */
    bool no_bias;
    const char *kernel_initializer; /* NULL: "glorot_uniform" */
    const char *bias_initializer;   /* NULL: "zeros" */
    const char *name;
} dc_conv1d_layer_options;
/* Conv1D: (T, C) -> (T', filters), kernel (kernel_size, C, filters) as Keras. */
dc_layer *dc_layer_conv1d(const dc_conv1d_layer_options *opt);
typedef struct {
    int pool_size;       /* 0: 2 */
    int strides;         /* 0: the pool size */
    dc_padding padding;  /* DC_PAD_VALID (0) or DC_PAD_SAME */
    const char *name;
} dc_pool1d_layer_options;
/* MaxPooling1D: (T, C) -> (T', C); opt may be NULL. */
dc_layer *dc_layer_max_pooling1d(const dc_pool1d_layer_options *opt);
/* (T, C) -> (C): the mean / the max over the real (unmasked) steps. */
dc_layer *dc_layer_global_average_pooling1d(void);
dc_layer *dc_layer_global_max_pooling1d(void);
/* Bidirectional: `layer` (a SimpleRNN, LSTM or GRU, which this call takes over)
 * run forwards and a copy run backwards (go_backwards, its sequence outputs
 * put back in time order), merged by merge_mode "concat" (NULL), "sum", "ave"
 * or "mul"; parameters "forward_lstm/kernel" ... "backward_lstm/bias" (Keras'
 * order). The mask is kept with return_sequences. name may be NULL. */
dc_layer *dc_layer_bidirectional(dc_layer *layer, const char *merge_mode, const char *name);
/* SimpleRNN, LSTM, GRU with Keras' options and defaults. Inputs (T, I), T may
 * be -1 (variable); outputs (T, U) with return_sequences, else (U). The input's
 * mask (x->mask, from Embedding(mask_zero) or Masking) is obeyed, and kept on
 * the output when it returns sequences. Parameters "kernel",
 * "recurrent_kernel", "bias" as Keras (GRU reset_after: bias (2,3U)). */
typedef struct {
    int units;                         /* required, > 0 */
    const char *activation;            /* NULL: "tanh"; sigmoid relu linear hard_sigmoid */
    const char *recurrent_activation;  /* NULL: "sigmoid" (LSTM, GRU) */
    bool no_bias;                      /* false: use_bias=True as Keras */
    bool return_sequences;             /* false: the last output (B,U) */
    bool return_state;                 /* keep the final states: dc_rnn_layer_states */
    bool go_backwards;
    bool reset_before;                 /* GRU: false = reset_after=True (Keras' default) */
    bool no_unit_forget_bias;          /* LSTM: false = unit_forget_bias=True (Keras) */
    float dropout, recurrent_dropout;  /* in [0, 1), active only in training */
    const char *kernel_initializer;    /* NULL: "glorot_uniform" */
    const char *recurrent_initializer; /* NULL: "orthogonal" */
    const char *bias_initializer;      /* NULL: "zeros" */
    const char *name;
} dc_rnn_layer_options;
dc_layer *dc_layer_simple_rnn(const dc_rnn_layer_options *opt);
dc_layer *dc_layer_lstm(const dc_rnn_layer_options *opt);
dc_layer *dc_layer_gru(const dc_rnn_layer_options *opt);
/* The final states of a recurrent layer's last call (return_state true): h
 * (B,U) and, for an LSTM, c (B,U) (c may be NULL; *c is NULL for SimpleRNN and
 * GRU). They live in that call's tape and carry gradients back into it. */
dc_status dc_rnn_layer_states(const dc_layer *l, dc_tensor **h, dc_tensor **c);
/* Any layer by its Keras class name ("Dense", "Dropout" ...) and options as
 * strings, e.g. keys {"units","activation"} values {"128","relu"}. Shapes are
 * written "28,28,1". The key "name" names the layer. Errors name the key. */
dc_layer *dc_layer_from_config(const char *type, const char *const *keys,
                               const char *const *values, int n);
void dc_layer_free(dc_layer *l);
const char *dc_layer_name(const dc_layer *l);
const char *dc_layer_type(const dc_layer *l); /* Keras class name, "Dense" */
/* Output shape without the batch axis (after build); returns ndim. */
int dc_layer_output_shape(const dc_layer *l, int64_t *shape);
/* The layer's parameters (after build): kernel then bias, as Keras orders them. */
int dc_layer_num_params(const dc_layer *l);
dc_tensor *dc_layer_param(const dc_layer *l, int i);

/* Keras' initializers by name, over a tensor (fans from its shape as Keras
 * computes them: 2-D (in,out); conv (KH,KW,C,F) -> C*KH*KW, F*KH*KW). */
dc_status dc_initializer_fill(dc_tensor *t, const char *name, dc_rng *rng);

/* A Sequential model. name NULL: "sequential". Caller frees. */
dc_model *dc_sequential_new(const char *name);
void dc_model_free(dc_model *m);
/* Appends a layer; the model owns it from now on, even when this fails. */
dc_status dc_model_add(dc_model *m, dc_layer *l);
/* Shape inference and parameters: one flat buffer for every weight (trainable
 * first, then non-trainable), one for the trainable gradients. input_shape is
 * without the batch axis; ndim 0 / NULL takes the shape of an Input layer.
 * The same seed gives the same initial weights bit for bit. */
dc_status dc_model_build(dc_model *m, int ndim, const int64_t *input_shape, uint64_t seed);
bool dc_model_is_built(const dc_model *m);
const char *dc_model_name(const dc_model *m);
int dc_model_num_layers(const dc_model *m);
dc_layer *dc_model_layer(const dc_model *m, int i);
dc_layer *dc_model_get_layer(const dc_model *m, const char *name); /* NULL if none */
/* A Keras-like table: Layer (type), Output Shape, Param #, then the totals. */
dc_status dc_model_summary(const dc_model *m, FILE *f);
/* model(x): x (B, input...) -> output (B, ...) recorded on the tape (the
 * output lives in the tape's arena). Dropout is active only when training. */
dc_tensor *dc_model_call(dc_model *m, dc_tape *t, dc_tensor *x, bool training);
/* Parameters as tensors named "dense/kernel", "dense/bias" ... (views into
 * the flat buffers; the model owns them). */
int dc_model_num_params(const dc_model *m); /* tensors, trainable and not */
dc_tensor *dc_model_param(const dc_model *m, int i);
bool dc_model_param_trainable(const dc_model *m, int i);
dc_tensor *dc_model_find_param(const dc_model *m, const char *name);
int dc_model_trainable_params(const dc_model *m, dc_tensor **out, int cap); /* returns count */
int64_t dc_model_count_params(const dc_model *m);           /* floats, all */
int64_t dc_model_count_trainable_params(const dc_model *m); /* floats, trainable */
void dc_model_zero_grad(dc_model *m);                      /* one memset */
/* The flat trainable weights and their gradients (n floats each), for an
 * optimizer step over flat memory: dc_optimizer_step(o, w, g, n). */
dc_status dc_model_weights(dc_model *m, float **data, size_t *n);
dc_status dc_model_grads(dc_model *m, float **data, size_t *n);
/* Every weight, trainable then non-trainable (n floats): for copies. */
dc_status dc_model_all_weights(dc_model *m, float **data, size_t *n);
/* -- end layers and models -- */

/* -- functional models --
 * Keras' functional API: symbols stand for tensors, layers are called on them
 * and a model is made from its input and output symbols:
 *     dc_graph *g = dc_graph_new();
 *     dc_symbol *x = dc_input(g, 3, (int64_t[]){28, 28, 1}, NULL);
 *     dc_symbol *h = dc_call(dc_layer_conv2d(&c), x);
 *     dc_symbol *y = dc_call_n(dc_layer_add(), (dc_symbol *[]){h, x}, 2);
 *     dc_model *m = dc_model_functional("net", g, &x, 1, &y, 1);
 * A layer's first dc_call hands it to the graph (it is freed with the graph,
 * or with the model that takes the graph, even when the call fails); calling
 * it again shares its weights, and every call must then give the same input
 * shapes. Symbols live as long as their graph. A failed call returns NULL
 * with a message, takes NULL inputs quietly (so calls can be chained and
 * checked once) and makes dc_model_functional refuse the graph. */
#define DC_MAX_MODEL_IO 8 /* inputs or outputs of one model */
typedef struct dc_graph dc_graph;
typedef struct dc_symbol dc_symbol;
dc_graph *dc_graph_new(void);
void dc_graph_free(dc_graph *g); /* only a graph no model took */
/* keras.Input(shape): shape without the batch axis (-1: None); name NULL:
 * "input_layer", "input_layer_1" ... */
dc_symbol *dc_input(dc_graph *g, int ndim, const int64_t *shape, const char *name);
dc_symbol *dc_call(dc_layer *l, dc_symbol *x);
/* A layer on n symbols of one graph (the merge layers take 2 or more). */
dc_symbol *dc_call_n(dc_layer *l, dc_symbol *const *xs, int n);
/* keras.Model(inputs, outputs): takes g (freed with the model, or here on
 * failure). Only the layers the outputs depend on are kept; every input an
 * output depends on must be among inputs. Build with dc_model_build(m, 0,
 * NULL, seed) (the inputs' shapes are known). dc_model_call and
 * dc_model_predict take models of one input and one output; dc_model_call_multi,
 * dc_model_predict_multi, fit and evaluate (with dc_dataset_from_multi_arrays)
 * any. */
dc_model *dc_model_functional(const char *name, dc_graph *g, dc_symbol *const *inputs, int n_in,
                              dc_symbol *const *outputs, int n_out);
bool dc_model_is_functional(const dc_model *m);
int dc_model_num_inputs(const dc_model *m);
int dc_model_num_outputs(const dc_model *m);
/* model(xs): n_inputs tensors in, n_outputs tensors into outs. */
dc_status dc_model_call_multi(dc_model *m, dc_tape *t, dc_tensor *const *xs, bool training,
                              dc_tensor **outs);
/* Keras' merge layers: elementwise (Subtract takes two), broadcasting as
 * Keras 3's (sample shapes aligned at the last axis, each axis equal or 1;
 * docs/model-files.md), or Concatenate along axis (Keras' count with the batch axis: -1 the
 * last, 1 the first after the batch); the other axes must agree. */
dc_layer *dc_layer_concatenate(int axis);
dc_layer *dc_layer_add(void);
dc_layer *dc_layer_subtract(void);
dc_layer *dc_layer_multiply(void);
dc_layer *dc_layer_average(void);
dc_layer *dc_layer_maximum(void);
/* -- end functional models -- */


/* ========================================================================
 * Optimizers and learning-rate schedules
 * ======================================================================== */
/* -- optimizers -- */
/* Names, defaults and update rules are Keras' (tf.keras.optimizers); where
 * PyTorch's rule differs, the implementation file says how. */
typedef enum {
    DC_LR_CONSTANT = 0,
    DC_LR_EXPONENTIAL,   /* initial * decay_rate ^ (step / decay_steps) */
    DC_LR_PIECEWISE,     /* values[i] while step <= boundaries[i] (n_boundaries + 1 values) */
    DC_LR_COSINE         /* optional linear warm-up, then cosine decay down to alpha */
} dc_lr_schedule_kind;

typedef struct {
    dc_lr_schedule_kind kind;
    float initial_learning_rate;
    int64_t decay_steps;
    float decay_rate;
    bool staircase;
    const int64_t *boundaries;
    const float *values;
    int n_boundaries;
    float alpha;           /* cosine: final fraction of the initial rate */
    int64_t warmup_steps;  /* cosine: steps of linear warm-up from initial */
    float warmup_target;   /* cosine: rate reached after warm-up (0: initial) */
} dc_lr_schedule;
float dc_lr_schedule_at(const dc_lr_schedule *s, int64_t step);

typedef enum {
    DC_OPT_SGD = 1, DC_OPT_ADAM, DC_OPT_ADADELTA, DC_OPT_ADAGRAD, DC_OPT_RMSPROP
} dc_optimizer_kind;

typedef struct {
    dc_optimizer_kind kind;
    float learning_rate;     /* 0: Keras' default (SGD 0.01, the others 0.001) */
    float momentum;          /* SGD, RMSprop */
    bool nesterov;           /* SGD */
    float beta_1, beta_2;    /* Adam: 0.9, 0.999 */
    float epsilon;           /* 0: 1e-7 (Keras) */
    bool amsgrad;            /* Adam */
    float rho;               /* Adadelta 0.95, RMSprop 0.9 */
    float initial_accumulator_value; /* Adagrad: 0.1 (torch's 0: pass e.g. 1e-30) */
    bool centered;           /* RMSprop */
    float weight_decay;      /* decoupled, as Keras 3 (AdamW-style) */
    float clipnorm;          /* per-variable norm clip (step: the whole buffer is one) */
    float global_clipnorm;   /* clip over all gradients together */
    float clipvalue;         /* elementwise clip to [-v, v] */
    const dc_lr_schedule *schedule; /* overrides learning_rate when set (copied) */
} dc_optimizer_options;

typedef struct dc_optimizer dc_optimizer;
/* An optimizer for n_params floats of parameters; caller frees. Options are
 * checked (unknown kind, negative rate, beta or rho outside [0, 1), more than
 * one clip option, a bad schedule: NULL and an error). All state is allocated
 * here: step and apply allocate nothing. */
dc_optimizer *dc_optimizer_new(const dc_optimizer_options *opt, size_t n_params);
void dc_optimizer_free(dc_optimizer *o);
/* One update over flat memory: params -= rule(grads). Grads are read only. */
dc_status dc_optimizer_step(dc_optimizer *o, float *params, const float *grads, size_t n);
/* apply_gradients for separate tensors: the state is laid out as their
 * concatenation, so the same tensors must come in the same order each time. */
dc_status dc_optimizer_apply(dc_optimizer *o, dc_tensor *const *vars, int n_vars);
float dc_optimizer_learning_rate(const dc_optimizer *o); /* the rate for the next step */
void dc_optimizer_set_learning_rate(dc_optimizer *o, float lr); /* drops a schedule */
int64_t dc_optimizer_iterations(const dc_optimizer *o);
const char *dc_optimizer_name(const dc_optimizer *o);
/* The state (slots and step count) as floats, for checkpoints: returns the
 * count; copies into buf when buf is not NULL and cap is large enough.
 * Layout: 5 header floats (kind, step count as two exact 24-bit halves, the
 * constant learning rate, 1 if a schedule drives the rate), then each slot
 * (n_params floats) in the rule's order. set_state checks size and kind. */
size_t dc_optimizer_state_size(const dc_optimizer *o);
dc_status dc_optimizer_get_state(const dc_optimizer *o, float *buf, size_t cap);
dc_status dc_optimizer_set_state(dc_optimizer *o, const float *buf, size_t n);
/* -- end optimizers -- */

/* ========================================================================
 * Training: compile, fit, evaluate, predict, callbacks, history
 * ======================================================================== */
/* -- training -- */
typedef struct dc_dataset dc_dataset; /* (see Data below; C11 allows the repeat) */
typedef enum {
    DC_LOSS_NONE = 0,
    DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, /* outputs (B,...,C), labels (B,...) whole numbers */
    DC_LOSS_CATEGORICAL_CROSSENTROPY,        /* outputs (B,...,C), one-hot labels alike */
    DC_LOSS_MSE,
    DC_LOSS_BINARY_CROSSENTROPY,             /* targets in [0, 1] */
    DC_LOSS_DICE                             /* outputs (B,...,C), labels (B,...): dc_dice_loss, smooth 1 */
} dc_loss_kind;

typedef enum {
    DC_METRIC_NONE = 0,
    DC_METRIC_ACCURACY,        /* integer or one-hot labels; binary when one output */
    DC_METRIC_BINARY_ACCURACY, /* threshold 0.5 on probabilities */
    DC_METRIC_MAE,
    DC_METRIC_MSE,
    DC_METRIC_MEAN_IOU         /* Keras' MeanIoU(num_classes = the output's last axis,
                                  sparse_y_pred=False): from the epoch's confusion sums */
} dc_metric_kind;

#define DC_MAX_METRICS 4
#define DC_MAX_CLASS_WEIGHTS 256 /* also the most classes MeanIoU counts */
typedef struct {
    dc_loss_kind loss;
    /* The model's outputs are logits (false, the default) or probabilities.
     * A last softmax (sigmoid) before a categorical (binary) crossentropy is
     * fused into the loss either way, which is both exact and stable. */
    bool from_probabilities;
    dc_optimizer_options optimizer;
    dc_metric_kind metrics[DC_MAX_METRICS]; /* zero-terminated */
    /* A functional model with several outputs: output i's loss (DC_LOSS_NONE:
     * `loss`) and its weight in the sum that is minimized (all 0, the
     * default: every weight 1), as Keras'
     * compile(loss=[...], loss_weights=[...]). fit, evaluate and
     * dc_model_train_on_batch minimize the sum; their logs hold it as "loss"
     * and each output's own (unweighted) loss as "<output layer>_loss". */
    dc_loss_kind losses[DC_MAX_MODEL_IO];
    float loss_weights[DC_MAX_MODEL_IO];
    /* sparse_categorical_crossentropy: a weight per class (n_class_weights of
     * them, one per output class; 0: unweighted), the mean weighted by w[label] */
    int n_class_weights;
    float class_weights[DC_MAX_CLASS_WEIGHTS];
    /* Output i's metrics, zero-terminated (none: `metrics`), as Keras'
     * compile(metrics={"cls": [...], "reg": [...]}). With several outputs
     * each output's metrics are logged as "<output layer>_<metric>". */
    dc_metric_kind output_metrics[DC_MAX_MODEL_IO][DC_MAX_METRICS];
} dc_compile_options;

dc_status dc_model_compile(dc_model *m, const dc_compile_options *opt);
/* One optimizer step on one batch of a compiled, built model of any number of
 * inputs and outputs: xs[i] (B, input i...), ys[i] output i's targets as its
 * loss takes them; loss (may be NULL) gets sum_i loss_weights[i] * loss_i.
 * Outputs are logits, or end in the softmax (sigmoid) a categorical (binary)
 * crossentropy absorbs; class axes are the last. After the first call it
 * allocates nothing. */
dc_status dc_model_train_on_batch(dc_model *m, dc_tensor *const *xs, dc_tensor *const *ys,
                                  float *loss);
/* The compiled optimizer (NULL before the first fit of a model built lazily). */
dc_optimizer *dc_model_optimizer(dc_model *m);
const char *dc_metric_name(dc_metric_kind k); /* "accuracy", "mae" ... */
const char *dc_loss_name(dc_loss_kind k);     /* "sparse_categorical_crossentropy" ... */
/* By Keras name or alias ("mse", "mean_squared_error"; "acc", "mae" ...), for
 * model files; DC_LOSS_NONE / DC_METRIC_NONE with a message if unknown. */
dc_loss_kind dc_loss_from_name(const char *name);
dc_metric_kind dc_metric_from_name(const char *name);
/* The compiled metrics in compile order (as dc_model_evaluate reports them),
 * at most cap into out (may be NULL); returns how many (0 if not compiled). */
int dc_model_metrics(const dc_model *m, dc_metric_kind *out, int cap);

/* What a callback sees at the end of an epoch: "loss", "accuracy",
 * "val_loss", "val_accuracy", "lr" ... */
#define DC_MAX_LOGS 64
typedef struct {
    int epoch; /* 0-based */
    int n;
    const char *keys[DC_MAX_LOGS];
    float values[DC_MAX_LOGS];
} dc_logs;
float dc_logs_get(const dc_logs *logs, const char *key); /* NaN if absent */

typedef enum { DC_MODE_AUTO = 0, DC_MODE_MIN, DC_MODE_MAX } dc_monitor_mode;
typedef enum {
    DC_CB_NONE = 0,
    DC_CB_EARLY_STOPPING,
    DC_CB_MODEL_CHECKPOINT,
    DC_CB_CSV_LOGGER,
    DC_CB_REDUCE_LR_ON_PLATEAU,
    DC_CB_TERMINATE_ON_NAN,
    DC_CB_LAMBDA,
    DC_CB_TENSORBOARD
} dc_callback_kind;

/* Return true to stop training. */
typedef bool (*dc_epoch_end_fn)(dc_model *m, const dc_logs *logs, void *user);
typedef bool (*dc_batch_end_fn)(dc_model *m, int epoch, int64_t batch, float loss, void *user);

/* One callback: a kind and its options (zero = Keras' default). */
typedef struct {
    dc_callback_kind kind;
    const char *monitor;       /* "val_loss" (ModelCheckpoint, EarlyStopping, ReduceLROnPlateau) */
    dc_monitor_mode mode;      /* auto: max for names holding "acc", min otherwise */
    float min_delta;           /* EarlyStopping 0, ReduceLROnPlateau 1e-4 */
    int patience;              /* EarlyStopping 0; ReduceLROnPlateau 10 (< 0: 0) */
    float baseline;            /* EarlyStopping: used when has_baseline */
    bool has_baseline;
    bool restore_best_weights; /* EarlyStopping: the best epoch's weights come back when it
                                  stops training and when fit ends (as Keras 3) */
    const char *path;          /* ModelCheckpoint ("{epoch}" is replaced), CSVLogger */
    bool save_best_only;       /* ModelCheckpoint */
    bool save_optimizer;       /* ModelCheckpoint: a checkpoint (dc_model_save_checkpoint) */
    bool append;               /* CSVLogger */
    float factor;              /* ReduceLROnPlateau: 0.1 */
    int cooldown;              /* ReduceLROnPlateau */
    float min_lr;              /* ReduceLROnPlateau */
    dc_epoch_end_fn on_epoch_end; /* DC_CB_LAMBDA */
    dc_batch_end_fn on_batch_end; /* DC_CB_LAMBDA */
    void *user;
    /* TensorBoard (Keras' options): event files under log_dir/train and
     * log_dir/validation ("logs"); "epoch_loss", "epoch_accuracy" ...,
     * "epoch_learning_rate" every epoch; "batch_loss" every batch when
     * update_freq is "batch" ("epoch", the default: not); a histogram of
     * every weight tensor every histogram_freq epochs (0: none). */
    const char *log_dir;
    int histogram_freq;
    const char *update_freq;
    /* Keras' write_images: `deepc train` logs the first Conv2D's filters and
     * its feature maps (first training sample) as images under log_dir/train
     * when fit ends (dc_model_fit itself writes no images). */
    bool write_images;
} dc_callback;

typedef struct dc_history dc_history;

typedef struct {
    int epochs;                      /* 0: 1 */
    int initial_epoch;               /* resume: epochs run from here to `epochs` (Keras) */
    int64_t batch_size;              /* 0: 32 */
    bool no_shuffle;                 /* false: shuffle every epoch, as Keras */
    float validation_split;          /* the LAST fraction of the data, as Keras */
    const dc_dataset *validation_data; /* overrides validation_split */
    const dc_callback *callbacks;
    int n_callbacks;
    int verbose;                     /* 0 silent, 1 progress bar, 2 one line per epoch */
    FILE *progress;                  /* where progress goes (NULL: nowhere) */
    uint64_t seed;                   /* shuffling, and the weights if fit builds */
    /* Keras' steps_per_epoch: an epoch is this many batches, drawn from one
     * stream that runs on across epochs (reshuffled at each end of the data);
     * 0: one pass over the data. */
    int64_t steps_per_epoch;
    /* also log perplexity = exp(loss) and val_perplexity (language models:
     * the loss per token is a crossentropy) */
    bool perplexity;
    /* Resume checkpoints, as Keras' BackupAndRestore. checkpoint_path: fit
     * writes there (atomically) after every epoch and when a stop is
     * requested mid-epoch: weights, optimizer state and schedule position,
     * every layer's RNG (Dropout, RandomFlip), the callbacks' state
     * (EarlyStopping's wait, best and best weights, ReduceLROnPlateau's
     * counters, ModelCheckpoint's best), the history so far and the batch
     * reached. resume_from: such a file; fit continues where it was written
     * (initial_epoch is then taken from it) and ends with the same weights,
     * bit for bit, as the run that was never stopped, given the same model
     * file, data, seed, batch size and callbacks (checked). The history fit
     * returns then holds the earlier epochs too. A run that reached its
     * epochs resumes with a larger `epochs` to train on; one that a callback
     * stopped (EarlyStopping) stays stopped. */
    const char *checkpoint_path;
    const char *resume_from;
    /* history_path: fit rewrites this CSV (atomically, as
     * dc_history_write_csv) after every epoch with the whole history, a
     * resumed run's earlier epochs included, so a crash or a kill loses at
     * most the epoch in progress. Rank 0 writes it under dist. */
    const char *history_path;
    /* Data-parallel training (docs/distributed.md): NULL trains in this
     * process alone. Set, every one of dist->size processes calls fit with
     * the same model file, data, seed and options (progress may differ);
     * each takes its share of every batch, the gradients are summed with
     * dist's collectives, and every process applies the same step. Only
     * rank 0 writes checkpoint_path and the file-writing callbacks
     * (ModelCheckpoint, CSVLogger, TensorBoard); stop decisions are rank
     * 0's. A fit that fails on one rank leaves the others waiting in a
     * collective: the caller ends the job (dc_dist_mpi_abort). */
    const struct dc_dist *dist;
} dc_fit_options;

/* Asks the fit running on m (or the next one) to stop after its current
 * batch, as Keras' model.stop_training: fit writes its checkpoint_path (at
 * that batch) and returns DC_OK with the finished epochs' history. Only sets
 * a flag: safe from a signal handler or another thread. The library installs
 * no signal handler itself. */
void dc_model_request_stop(dc_model *m);

/* Trains; builds the model from the data's shape when it is not built yet.
 * A model of several inputs or outputs takes a dataset of as many arrays
 * (dc_dataset_from_multi_arrays); then it does not run with dist, and a stop
 * requested mid-epoch takes effect at the epoch's end.
 * *out (may be NULL) receives a history the caller frees. With a
 * TerminateOnNaN callback, a loss or gradient that is NaN or Inf stops fit
 * before that batch's step: DC_ERR_NUMERIC naming the epoch and batch, the
 * weights left as they were before it (the last finite ones). */
dc_status dc_model_fit(dc_model *m, const dc_dataset *train, const dc_fit_options *opt,
                       dc_history **out);
/* Mean loss and metrics (in compile order; metrics may be NULL) over ds.
 * Several outputs: loss is sum_i loss_weights[i] * loss_i, and metrics gets
 * each output's metrics in turn (output 0's, then output 1's ...). */
dc_status dc_model_evaluate(dc_model *m, const dc_dataset *ds, int64_t batch_size, float *loss,
                            float *metrics);
/* Keras' evaluate(return_dict=True): logs gets "loss", then for a model of
 * several outputs each output's "<output layer>_loss" and
 * "<output layer>_<metric>" (one output: the metric names), as fit's history
 * names them ("loss" a mean over the samples; each "<output>_loss", as Keras
 * 3 has it, a mean over the batches, each batch once). The keys point into
 * the model until its next evaluate. */
dc_status dc_model_evaluate_logs(dc_model *m, const dc_dataset *ds, int64_t batch_size,
                                 dc_logs *logs);
/* Outputs for x (N, input...) in batches (0: 32): a new tensor the caller frees.
 * The outputs are what the last layer gives (softmax included). */
dc_tensor *dc_model_predict(dc_model *m, const dc_tensor *x, int64_t batch_size);
/* predict for a model of several inputs and outputs: xs[i] (N, input i...),
 * n_x of them (the model's input count; every one N samples); outs[i] gets
 * output i, a new tensor the caller frees (on failure: none is made). */
dc_status dc_model_predict_multi(dc_model *m, dc_tensor *const *xs, int n_x, int64_t batch_size,
                                 dc_tensor **outs);

/* History: one value per epoch for each key (NaN where absent). */
int dc_history_epochs(const dc_history *h);
int dc_history_num_keys(const dc_history *h);
const char *dc_history_key(const dc_history *h, int i);
const float *dc_history_get(const dc_history *h, const char *key); /* NULL if absent */
/* CSV with the header epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds
 * then any further metrics; epochs counted from 1; empty cells where absent. */
dc_status dc_history_write_csv(const dc_history *h, const char *path);
/* Training curves as a PNG (loss and val_loss; accuracy and val_accuracy). */
dc_status dc_history_plot(const dc_history *h, const char *path);
void dc_history_free(dc_history *h);

/* Model files (safetensors): weights as named tensors; the architecture and
 * the training config as JSON in __metadata__, so dc_model_load needs only
 * the file. A checkpoint also keeps the optimizer state and the epoch. */
dc_status dc_model_save(const dc_model *m, const char *path);
/* dc_model_save with n more "__metadata__" keys (not deepc's own), all in the
 * same single atomic write. Every file deepc writes (models, checkpoints,
 * history CSV, PNGs) goes whole to "path.tmp", is fsynced and renamed over
 * path, so a crash or a full disk leaves the previous file intact; a failure
 * is DC_ERR_IO naming the path, and the model is untouched (retry at will). */
dc_status dc_model_save_with_metadata(const dc_model *m, const char *path,
                                      const char *const *keys, const char *const *values, int n);
dc_status dc_model_save_checkpoint(dc_model *m, const char *path, int epoch);
/* A "__metadata__" key the model itself carries into every file saved from it
 * (dc_model_save*, checkpoints, ModelCheckpoint, fit's resume state); keys
 * given to dc_model_save_with_metadata win over it. value NULL removes key.
 * deepc's CLI keeps its data spec, class names and text vectorizer here, so
 * each checkpoint of a run can be evaluated, predicted and generated from. */
dc_status dc_model_set_metadata(dc_model *m, const char *key, const char *value);
dc_model *dc_model_load(const char *path); /* caller frees */
/* Loads a checkpoint into a built, compiled model of the same architecture;
 * *epoch (may be NULL) receives the stored epoch. */
dc_status dc_model_load_checkpoint(dc_model *m, const char *path, int *epoch);
/* The inference graph of a built model as ONNX (opset 13), written atomically:
 * it takes the same NHWC input (batch axis "N") and predicts what dc_model_predict
 * does (a functional model: inputs named after its InputLayers when several,
 * outputs "output_0" ... when several). A layer with no ONNX mapping is DC_ERR_UNSUPPORTED naming it and its type. */
dc_status dc_model_export_onnx(const dc_model *m, const char *path);
/* Keras 3 .keras archives (a zip of config.json, metadata.json and
 * model.weights.h5). Import: a Sequential or Functional model (several inputs
 * and outputs, shared layers, merge layers) of layers deepc has, built,
 * with Keras' weights (deepc keeps Keras' layouts) and, when the archive has
 * compile settings, compiled with them; a layer, option, loss, metric or
 * optimizer deepc lacks is refused (DC_ERR_UNSUPPORTED naming it), never
 * skipped, and a hostile or corrupt archive (paths with "..", a zip bomb, a
 * weight whose shape disagrees with the config) is DC_ERR_FORMAT or
 * DC_ERR_SHAPE naming the file and the part. Caller frees. */
dc_model *dc_model_import_keras(const char *path);
/* The same from len bytes in memory; name stands for them in messages. */
dc_model *dc_model_import_keras_buffer(const void *data, size_t len, const char *name);
/* A built model as a .keras archive that keras.saving.load_model reads and
 * predicts with as deepc does, written atomically; compile settings go along
 * (the learning rate in force). A layer Keras cannot express is refused. */
dc_status dc_model_export_keras(const dc_model *m, const char *path);
/* Distributed training. A backend is a rank, a size and two collectives
 * that every rank calls in the same order with the same n; they return
 * DC_OK or an error with a message. libdeepc has no MPI in it: the MPI
 * backend is libdeepc_mpi.a (link -ldeepc_mpi and `pkg-config --libs
 * ompi-c`), and any other transport can fill the struct. */
typedef struct dc_dist {
    int rank, size;
    void *ctx;
    /* x[i] = the sum over the ranks of x[i]; the same bits on every rank */
    dc_status (*sum_floats)(void *ctx, float *x, int64_t n);
    dc_status (*sum_doubles)(void *ctx, double *x, int64_t n);
    /* Optional (NULL: fit sums after backward): start the sum of x[0..n)
     * and return at once, so that it runs while backward goes on (x is not
     * touched meanwhile); wait_sums finishes every started sum. fit starts
     * the gradient's buckets in a fixed order, the same on every rank. */
    dc_status (*start_sum_floats)(void *ctx, float *x, int64_t n);
    dc_status (*wait_sums)(void *ctx);
    /* Optional (NULL: fit scales x, then calls sum_floats): x[i] = the sum
     * over the ranks of each rank's scale * x[i], so that a backend can
     * scale x as it copies it out (one pass over the gradient less). */
    dc_status (*sum_scaled_floats)(void *ctx, float *x, int64_t n, float scale);
} dc_dist;
/* The MPI backend (libdeepc_mpi.a, src/dist/mpi.c); it overlaps the
 * gradient's sum with backward (start_sum_floats: MPI_Iallreduce) only when
 * the environment has DEEPC_DIST_OVERLAP=1. With all ranks on one machine
 * (up to 8) its sums go through a shared window where a rank that waits
 * sleeps; else through MPI, waiting without spinning. dc_dist_mpi_init
 * calls MPI_Init only when a launcher started this process (mpirun's or a
 * process manager's variables are set), with OMPI_MCA_mpi_yield_when_idle=1
 * unless the environment sets it, and returns the world's ranks; otherwise,
 * or on an error (dc_last_error says), NULL and no MPI call was made. */
dc_dist *dc_dist_mpi_init(void);
/* A backend over a communicator the caller made (comm points to an
 * MPI_Comm); MPI must be initialized. Free it with dc_dist_mpi_free, on
 * every rank of comm (both are collective). */
dc_dist *dc_dist_mpi_new(const void *comm);
void dc_dist_mpi_free(dc_dist *d);
/* Frees d and calls MPI_Finalize when dc_dist_mpi_init made it (NULL: none). */
void dc_dist_mpi_finalize(dc_dist *d);
/* Ends every rank of the job with exit status code (MPI_Abort). */
void dc_dist_mpi_abort(dc_dist *d, int code);
/* -- end training -- */

/* ========================================================================
 * Data: datasets and batches
 * ======================================================================== */
/* -- data -- */
/* A dataset is {count, get(i, x, y)}: samples of fixed shapes. Labels of
 * classification sets are whole numbers in a y of shape () (one float). */
typedef struct dc_dataset dc_dataset;
/* From user arrays: x holds n samples of x_shape, y n samples of y_shape
 * (y_ndim 0: one label each). copy=false borrows the arrays. */
dc_dataset *dc_dataset_from_arrays(const float *x, int x_ndim, const int64_t *x_shape,
                                   const float *y, int y_ndim, const int64_t *y_shape,
                                   int64_t n, bool copy);
/* IDX files, plain or gzipped (MNIST, Fashion-MNIST): images scaled to [0, 1],
 * samples shaped (H, W, 1); labels whole numbers. Checks magic and sizes. */
dc_dataset *dc_dataset_load_idx(const char *images_path, const char *labels_path);
/* "fashion-mnist" split "train" or "test", from /usr/share/datasets/fashion-mnist
 * (or $DEEPC_DATA_DIR/fashion-mnist). */
dc_dataset *dc_dataset_load_named(const char *name, const char *split);
/* CSV with a header row: numeric columns; label_column names the label (or
 * NULL: the last column). Samples x (n_columns - 1,), y (). Labels that are all
 * whole numbers in [0, 1000) are class indices; text labels become classes
 * numbered in sorted order (dc_dataset_class_name); other numbers: regression. */
dc_dataset *dc_dataset_load_csv(const char *path, const char *label_column);
/* Rows [start, start+count) of ds, sharing its storage; free it before ds. */
dc_dataset *dc_dataset_view(dc_dataset *ds, int64_t start, int64_t count);
void dc_dataset_free(dc_dataset *ds);
int64_t dc_dataset_count(const dc_dataset *ds);
int dc_dataset_x_shape(const dc_dataset *ds, int64_t *shape); /* returns ndim */
int dc_dataset_y_shape(const dc_dataset *ds, int64_t *shape);
int dc_dataset_num_classes(const dc_dataset *ds);        /* 0 if not classification */
const char *dc_dataset_class_name(const dc_dataset *ds, int i); /* NULL if unnamed */
/* Copies sample i into x (x-shape floats) and y (y-shape floats). */
dc_status dc_dataset_get(const dc_dataset *ds, int64_t i, float *x, float *y);
/* Several inputs and targets, as Keras' fit([x1, x2], [y1, y2]): one array
 * of samples each (n samples of `shape`, ndim dims without the sample axis).
 * xs[i] feeds the model's input i and ys[i] is output i's target, in the
 * orders of dc_model_functional. Every array must hold the same number of
 * samples (else DC_ERR_SHAPE naming both). The arrays are copied; a sample's
 * x is its inputs side by side (dc_dataset_x_shape: (total,) for more than
 * one), and fit, evaluate, views, validation_split and shuffling treat the
 * parts of a sample together. */
typedef struct {
    const float *data;
    int64_t n;
    int ndim;
    int64_t shape[DC_MAX_DIMS];
} dc_array;
dc_dataset *dc_dataset_from_multi_arrays(const dc_array *xs, int n_x, const dc_array *ys, int n_y);
/* How many input (target) arrays a sample holds: 1 for other datasets. */
int dc_dataset_num_x(const dc_dataset *ds);
int dc_dataset_num_y(const dc_dataset *ds);
/* The sample shape of input (target) array i into shape; returns its ndim,
 * -1 when i is out of range. For other datasets array 0 is x (y). */
int dc_dataset_x_part_shape(const dc_dataset *ds, int i, int64_t *shape);
int dc_dataset_y_part_shape(const dc_dataset *ds, int i, int64_t *shape);

/* Batches with preallocated buffers and a seeded shuffle per epoch. */
typedef struct dc_batcher dc_batcher;
dc_batcher *dc_batcher_new(const dc_dataset *ds, int64_t batch_size, bool shuffle, uint64_t seed);
void dc_batcher_free(dc_batcher *b);
/* Starts an epoch (reshuffling when asked). */
void dc_batcher_reset(dc_batcher *b);
/* The next batch as views into the batcher's buffers (valid until the next
 * call): x (B, ...), y (B, ...). Returns B, 0 at the end of the epoch. The
 * last batch may be smaller. After a 0, the next call starts the next epoch
 * by itself (calling dc_batcher_reset first is the same): epoch k's order
 * depends only on the seed and k. Allocates nothing. */
int64_t dc_batcher_next(dc_batcher *b, dc_tensor **x, dc_tensor **y);
int64_t dc_batcher_num_batches(const dc_batcher *b);
/* With a shard set, each batch of batch_size (the global batch) is cut into
 * `size` parts and this batcher hands out part `rank`: samples [B*rank/size,
 * B*(rank+1)/size) of the batch, possibly none when B < size. dc_batcher_next
 * then returns the global B (0 still ends the epoch), x and y hold the part. */
dc_status dc_batcher_shard(dc_batcher *b, int rank, int size);
/* Images under DIR/<class name>/ (*.png, *.jpg, *.jpeg), classes sorted by
 * name (dc_dataset_class_name gives them back), samples (H, W, C) in [0, 1].
 * height and width 0 keep the files' size (all must agree), otherwise each
 * image is resized bilinearly; channels 0 keeps the files' (all must agree),
 * 1 or 3 converts. */
dc_dataset *dc_dataset_load_image_folder(const char *dir, int height, int width, int channels);
/* Segmentation: samples (H, W, C) in [0, 1], labels (H, W) class indices.
 * "fashion-canvas": canvases of Fashion-MNIST garments (split "train" or
 * "test" draws from that split), each holding 1 to max_garments of them at
 * random places, later ones on top; a pixel is labelled with its garment's
 * class + 1 where the garment is brighter than threshold, else 0 (background):
 * 11 classes, named by dc_dataset_class_name. The same options and seed give
 * the same canvases. */
typedef struct {
    int size;           /* canvas side, >= 28; 0: 64 */
    int64_t count;      /* canvases; 0: 1000 */
    int max_garments;   /* 0: 4 */
    float threshold;    /* in [0, 1); 0: 0.2 */
    uint64_t seed;
} dc_fashion_canvas_options;
dc_dataset *dc_dataset_fashion_canvas(const char *split, const dc_fashion_canvas_options *opt);
/* DIR/images/NAME.(png|jpg) with DIR/masks/NAME.png: masks 8-bit palette or
 * gray PNGs of class indices below num_classes, the size of their image; all
 * images one size (channels 0 keeps theirs, 1 or 3 converts). */
dc_dataset *dc_dataset_load_segmentation_folder(const char *dir, int num_classes, int channels);
/* Variable-length samples (texts vectorized without output_sequence_length):
 * dc_dataset_x_shape reports -1 for the time axis, and dc_batcher_next pads
 * each batch with 0 only to the longest sequence of that batch, so x comes out
 * (B, T_batch) with 1 <= T_batch (a batch of empty texts is (B, 1) of zeros).
 * dc_dataset_get writes the sample padded with 0 to the longest sequence of
 * the whole dataset. The length of sample i (its time steps before padding;
 * for fixed-shape samples, the first dim of the sample shape): */
int64_t dc_dataset_seq_length(const dc_dataset *ds, int64_t i);
/* The longest sequence of a variable-length dataset (its padded length), or
 * the first dim of the sample shape otherwise. */
int64_t dc_dataset_max_seq_length(const dc_dataset *ds);
/* -- end data -- */

/* ========================================================================
 * Text: a vectorizer with the behaviour of keras.layers.TextVectorization,
 * text collections (folders, CSV/TSV, Debian's fortunes) and datasets made
 * from them, including character corpora for language models.
 * ======================================================================== */
/* -- text -- */
/* Bytes that are not UTF-8: every text is decoded as UTF-8 first, and each
 * ill-formed sequence (its maximal subpart: a lone or truncated lead byte with
 * the continuation bytes that fit it, or one stray byte) becomes one U+FFFD,
 * the replacement character, as Unicode recommends and TensorFlow's
 * unicode_split does; so tokens and vocabularies are always valid UTF-8 and a
 * character split yields code points. Lowering, as Keras'
 * tf.strings.lower, changes ASCII letters only; punctuation stripping removes
 * the 32 ASCII punctuation characters !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~; the
 * whitespace split cuts at runs of space, \t, \n, \v, \f and \r. */
typedef enum {
    DC_STANDARDIZE_LOWER_AND_STRIP_PUNCTUATION = 0, /* Keras' default */
    DC_STANDARDIZE_NONE,
    DC_STANDARDIZE_LOWER,
    DC_STANDARDIZE_STRIP_PUNCTUATION
} dc_text_standardize;
typedef enum { DC_SPLIT_WHITESPACE = 0, DC_SPLIT_CHARACTER } dc_text_split;
typedef enum {
    DC_TEXT_INT = 0,  /* token ids: 0 padding, 1 out-of-vocabulary ("[UNK]") */
    DC_TEXT_MULTI_HOT, /* bag of words: id 0 is "[UNK]" (no padding token) */
    DC_TEXT_COUNT,
    DC_TEXT_TF_IDF     /* count x idf, idf = log(1 + documents / (1 + document frequency)) */
} dc_text_output_mode;
typedef struct {
    int64_t max_tokens;             /* vocabulary size with its special tokens; 0: no limit */
    dc_text_standardize standardize;
    dc_text_split split;
    dc_text_output_mode output_mode;
    /* int mode: pad with 0 or truncate at the end to this length (a longer
     * text loses its tail, as Keras); 0: variable length. */
    int64_t output_sequence_length;
    /* bag modes: the output has max_tokens entries even when the vocabulary
     * is smaller (Keras' pad_to_max_tokens); otherwise the vocabulary size. */
    bool pad_to_max_tokens;
    /* Keras' ngrams = N: after the tokens, every run of 2 .. N consecutive
     * tokens joined by " " is a token too (all of width 2, then 3 ...);
     * 0 or 1: none. At most 8. */
    int ngrams;
} dc_text_vectorizer_options;
typedef struct dc_text_vectorizer dc_text_vectorizer;

/* opt may be NULL (Keras' defaults); caller frees with dc_text_vectorizer_free. */
dc_text_vectorizer *dc_text_vectorizer_new(const dc_text_vectorizer_options *opt);
void dc_text_vectorizer_free(dc_text_vectorizer *v);
dc_text_vectorizer_options dc_text_vectorizer_get_options(const dc_text_vectorizer *v);
/* Learns the vocabulary from n texts (as Keras' adapt): the special tokens
 * ("" and "[UNK]" in int mode, "[UNK]" in the bag modes), then the tokens by
 * count, most frequent first, ties broken by the token's bytes in descending
 * order (Keras sorts with np.lexsort and reverses), at most max_tokens in
 * all; tf_idf also learns the idf weights (the out-of-vocabulary weight is
 * the mean of the others, as Keras). No token at all is DC_ERR_ARG. */
dc_status dc_text_vectorizer_adapt(dc_text_vectorizer *v, const char *const *texts, int64_t n);
/* Sets the whole vocabulary as dc_text_vectorizer_token lists it (special
 * tokens first); idf_weights (n values) is needed for tf_idf, else ignored. */
dc_status dc_text_vectorizer_set_vocabulary(dc_text_vectorizer *v, const char *const *tokens,
                                            int64_t n, const float *idf_weights);
int64_t dc_text_vectorizer_vocabulary_size(const dc_text_vectorizer *v); /* 0 before adapt */
/* Token i of the vocabulary (owned by v), or NULL. */
const char *dc_text_vectorizer_token(const dc_text_vectorizer *v, int64_t i);
/* The id of a token (the out-of-vocabulary id if unknown; -1 on NULL). */
int64_t dc_text_vectorizer_token_id(const dc_text_vectorizer *v, const char *token);
/* The out-of-vocabulary id: 1 in int mode, 0 in the bag modes. */
int64_t dc_text_vectorizer_oov_id(const dc_text_vectorizer *v);
/* idf weights (vocabulary size values, owned by v) in tf_idf mode, else NULL. */
const float *dc_text_vectorizer_idf_weights(const dc_text_vectorizer *v);
/* Floats per text: output_sequence_length, or the bag's size; 0 for int mode
 * of variable length. */
int64_t dc_text_vectorizer_output_size(const dc_text_vectorizer *v);
/* Vectorizes one NUL-terminated text into out (cap floats). Returns how many
 * floats the text gives (int, variable length: its token count; otherwise
 * dc_text_vectorizer_output_size) and writes the first min(that, cap); -1 on
 * error. Call with cap 0 to learn the size. */
int64_t dc_text_vectorizer_encode(const dc_text_vectorizer *v, const char *text, float *out,
                                  int64_t cap);
/* Keras' layer call on n texts: a new tensor the caller frees, (n, L) of ids
 * (L = output_sequence_length, or the longest text, at least 1, padding 0)
 * or (n, bag size). NULL with a message on error. */
dc_tensor *dc_text_vectorizer_call(const dc_text_vectorizer *v, const char *const *texts,
                                   int64_t n);
/* Ids back to text (int mode): tokens joined by " " (whitespace split) or
 * nothing (character split); padding (0) is skipped, unknown ids give "[UNK]".
 * A new string the caller frees with dc_string_free, or NULL. */
char *dc_text_vectorizer_decode(const dc_text_vectorizer *v, const float *ids, int64_t n);
/* The options (Keras' names: max_tokens, standardize, split, output_mode,
 * output_sequence_length, pad_to_max_tokens, ngrams), the vocabulary and the idf
 * weights as one JSON object:
 * {"class_name": "TextVectorization", "config": {...}, "vocabulary": [...],
 *  "idf_weights": [...]}. A new string the caller frees with dc_string_free.
 * A model file keeps it under the __metadata__ key "text_vectorizer"
 * (DC_TEXT_VECTORIZER_METADATA_KEY): see dc_model_file_set_text_vectorizer. */
char *dc_text_vectorizer_to_json(const dc_text_vectorizer *v);
/* The inverse; every field is checked (a corrupt or hostile document is
 * DC_ERR_FORMAT with a message, never a crash). Caller frees. */
dc_text_vectorizer *dc_text_vectorizer_from_json(const char *json);
#define DC_TEXT_VECTORIZER_METADATA_KEY "text_vectorizer"
/* Stores v in a saved model file's metadata (key "text_vectorizer"). */
dc_status dc_model_file_set_text_vectorizer(const char *path, const dc_text_vectorizer *v);
/* The vectorizer stored in a model file; NULL with DC_ERR_ARG ("... keeps no
 * text vectorizer") when the file has none. Caller frees. */
dc_text_vectorizer *dc_text_vectorizer_from_model_file(const char *path);
/* Frees a string returned by the library. */
void dc_string_free(char *s);

/* A collection of texts with optional class labels. Fields are read-only;
 * everything belongs to the set (dc_text_set_free). Texts are valid UTF-8
 * (see above) and NUL-terminated. */
typedef struct {
    int64_t count;
    char **texts;
    int32_t *labels;     /* count class ids, or NULL (unlabelled) */
    int num_classes;
    char **class_names;  /* num_classes names (sorted), or NULL */
} dc_text_set;
/* n texts (copied), labels (n class ids in [0, num_classes)) may be NULL;
 * class_names may be NULL (names "0", "1", ...). Caller frees. */
dc_text_set *dc_text_set_new(const char *const *texts, const int32_t *labels, int64_t n,
                             int num_classes, const char *const *class_names);
void dc_text_set_free(dc_text_set *s);
/* As keras.utils.text_dataset_from_directory: DIR/<class>/ *.txt, classes
 * sorted by name, files sorted by name within a class. An empty .txt file is
 * an empty text (as Keras); an unreadable file, a file holding a NUL byte, or
 * no .txt file at all, is an error naming the path. */
dc_text_set *dc_text_set_load_folder(const char *dir);
/* A CSV file (a TSV file when delimiter is '\t'; 0: '\t' for names ending in
 * .tsv, else ','), read as Python's csv module does: a header row, fields in
 * double quotes may hold delimiters, newlines and "" for a quote. text_column
 * names the text column; label_column (or NULL: unlabelled) the label: labels
 * that are all whole numbers in [0, 1000) are class ids, others become
 * classes numbered in sorted order. A missing column is an error naming it. */
dc_text_set *dc_text_set_load_csv(const char *path, const char *text_column,
                                  const char *label_column, char delimiter);
/* Debian's fortunes (package fortunes): DIR/<category> files (NULL:
 * /usr/share/games/fortunes, or $DEEPC_FORTUNES_DIR), fortunes separated by
 * lines holding a single '%', labelled by category (classes sorted by name).
 * categories (n of them) chooses the files, NULL: every plain file without a
 * '.' in its name (not .dat or .u8). A category with fewer than min_count
 * fortunes is dropped when chosen automatically, an error when named.
 * Fortunes keep their line breaks, lose the final one; empty ones are skipped. */
dc_text_set *dc_text_set_load_fortunes(const char *dir, const char *const *categories, int n,
                                       int64_t min_count);
/* A fixed split: sample i goes to *test when i % test_every == test_every - 1
 * (every k-th sample, so each category keeps its share), else to *train.
 * test_every >= 2. Both are new sets the caller frees. */
dc_status dc_text_set_split(const dc_text_set *s, int64_t test_every, dc_text_set **train,
                            dc_text_set **test);
/* All texts joined by sep (NULL: ""); a new string the caller frees with
 * dc_string_free; *len (may be NULL) receives its length. */
char *dc_text_set_join(const dc_text_set *s, const char *sep, size_t *len);

/* Samples from texts through an adapted vectorizer; y () is the label (a set
 * without labels gives 0). int mode with output_sequence_length: samples (L);
 * int mode of variable length: samples (-1), padded per batch (see
 * dc_dataset_seq_length); multi_hot / count / tf_idf: samples (bag size),
 * kept as token ids and counted as samples are read (a vocabulary of 20000
 * costs memory per batch, not per text). */
dc_dataset *dc_dataset_from_texts(const dc_text_vectorizer *v, const dc_text_set *s);

/* A corpus for a character-level language model: text (len bytes) is turned
 * into ids by v (int mode, character split; usually standardize none), the
 * last validation_fraction of the ids is held out, and each part is cut into
 * windows of seq_len ids every stride ids (0: seq_len, windows that do not
 * overlap). x (seq_len) holds a window; y (seq_len) the id that follows each
 * of its positions (for LSTM(return_sequences) -> Dense(V) with sparse
 * cross-entropy at every step), or, with last_only, y () the id after the
 * window. A part too short for one window gives an error (train) or
 * *val = NULL (validation). */
typedef struct {
    int64_t seq_len;            /* 0: 100 */
    int64_t stride;             /* 0: seq_len */
    bool last_only;
    float validation_fraction;  /* in [0, 1) */
} dc_char_corpus_options;
dc_status dc_dataset_char_corpus(const dc_text_vectorizer *v, const char *text, size_t len,
                                 const dc_char_corpus_options *opt, dc_dataset **train,
                                 dc_dataset **val);
/* The test split of a model file's text data, as dc_run_config_test_spec
 * writes it ("text:" and JSON: the kind, absolute paths, the split options),
 * through v (the model file's vectorizer, not adapted again). Caller frees. */
dc_dataset *dc_dataset_load_text_spec(const char *spec, const dc_text_vectorizer *v);
/* -- end text -- */

/* -- generation -- */
/* Sampling from a trained language model: ids (None, steps) through
 * Embedding, forward SimpleRNN/LSTM/GRU layers (return_sequences or not),
 * Dense, Dropout and Activation layers to scores (None, steps, V) or
 * (None, V). The prompt runs through the model once; then each new token is
 * one step (T = 1) carrying every recurrent layer's state (h, and c for an
 * LSTM), so the text so far is never run again. A last softmax is left out:
 * the scores are logits, divided by the temperature before the softmax. */
typedef struct {
    int64_t length;        /* tokens to sample, >= 1 */
    float temperature;     /* > 0; near 0: nearly always the most likely token (argmax) */
    uint64_t seed;         /* the same seed gives the same tokens */
    int64_t exclude_below; /* ids below this are never sampled (dc_model_generate_text: 2,
                              the padding and [UNK] of an int-mode vectorizer) */
} dc_generate_options;
/* prompt: n_prompt >= 1 ids; out receives opt->length ids. Allocates only
 * before the first step. */
dc_status dc_model_generate(dc_model *m, const int64_t *prompt, int64_t n_prompt,
                            const dc_generate_options *opt, int64_t *out);
/* The same on text through v (int mode): returns the continuation only (not
 * the prompt; a whitespace-split vectorizer puts a space before it), a new
 * string the caller frees with dc_string_free, or NULL with a message. The
 * model's scores must cover v's vocabulary. A prompt token outside the
 * vocabulary is refused (DC_ERR_ARG naming the character or word and its
 * position) rather than fed as [UNK], which the model never learned from;
 * characters that standardization strips are dropped. */
char *dc_model_generate_text(dc_model *m, const dc_text_vectorizer *v, const char *prompt,
                             const dc_generate_options *opt);
/* -- end generation -- */

/* ========================================================================
 * Files: safetensors, images, plots
 * ======================================================================== */
/* -- io -- */
/* safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * ({"__metadata__": {...}, "name": {"dtype", "shape", "data_offsets"}}) and
 * the raw little-endian data. Writes "path.tmp", fsyncs it, then renames it
 * over path, so a crash never leaves a half-written file at path. Tensors are
 * named by their .name field (non-empty and unique). */
dc_status dc_safetensors_save(const char *path, dc_tensor *const *tensors, int n,
                              const char *const *meta_keys, const char *const *meta_values,
                              int n_meta);
typedef struct dc_safetensors dc_safetensors;
/* Reads and checks the whole file (F32, F16, BF16 and F64 become float); the
 * caller frees with dc_safetensors_free. NULL with a message on error. */
dc_safetensors *dc_safetensors_load(const char *path);
void dc_safetensors_free(dc_safetensors *st);
int dc_safetensors_count(const dc_safetensors *st);
const char *dc_safetensors_name(const dc_safetensors *st, int i);  /* in file order */
/* The tensor called name (owned by st), or NULL. */
const dc_tensor *dc_safetensors_get(const dc_safetensors *st, const char *name);
/* The value of a "__metadata__" key (owned by st), or NULL. */
const char *dc_safetensors_metadata(const dc_safetensors *st, const char *key);

/* Images. dc_image_load reads PNG or JPEG (by content) into a new (H, W, C)
 * tensor of floats in [0, 1], which the caller frees; channels 0 keeps the
 * file's (gray 1, gray+alpha 2, RGB 3, RGBA 4), 1 converts to gray, 3 to RGB. */
dc_tensor *dc_image_load(const char *path, int channels);
/* Writes hwc (H, W, C) floats, clamped to [0, 1], as an 8-bit PNG; C is 1 or 3. */
dc_status dc_image_save_png(const char *path, const float *hwc, int height, int width,
                            int channels);
/* Bilinear resize (H, W, C) -> (H2, W2, C), pixel centres aligned
 * (align_corners=False, as PyTorch and tf.image.resize). */
dc_status dc_image_resize(const float *src, int height, int width, int channels, float *dst,
                          int height2, int width2);

/* Plots (PLplot, PNG output). The library prints nothing while plotting. */
typedef struct {
    const char *name;   /* legend entry */
    const float *x;     /* NULL: 1, 2, ..., n */
    const float *y;
    int n;
} dc_plot_series;
dc_status dc_plot_lines(const char *path, const char *title, const char *xlabel,
                        const char *ylabel, const dc_plot_series *series, int n_series);
/* Training curves: left panel loss (and val_loss), right panel accuracy (and
 * val_accuracy); any of val_loss, acc and val_acc may be NULL (no acc and no
 * val_acc: one panel). epochs NULL: 1..n. */
dc_status dc_plot_history(const char *path, const float *epochs, const float *loss,
                          const float *val_loss, const float *acc, const float *val_acc, int n);
/* n_tiles tiles of (tile_h, tile_w, channels) floats (channels 1 or 3) in a grid
 * of `cols` columns, each upscaled `scale` times (nearest neighbour), separated
 * by a border; normalize_each: min-max scale every tile to [0, 1], else clamp. */
dc_status dc_plot_image_grid_png(const char *path, const float *tiles, int n_tiles, int tile_h,
                                 int tile_w, int channels, int cols, int scale,
                                 bool normalize_each);
/* TensorBoard event files for custom loops: dc_tb_writer_open creates log_dir
 * (and its parents) and a new events.out.tfevents.<time>.<host>.<pid>.<n>
 * there; each add appends one event (TFRecord framing, Event/Summary
 * protobufs). Writes are buffered: dc_tb_flush makes them visible to a
 * running TensorBoard. Errors name the file. */
typedef struct dc_tb_writer dc_tb_writer;
dc_tb_writer *dc_tb_writer_open(const char *log_dir); /* NULL on error */
const char *dc_tb_writer_path(const dc_tb_writer *w);
dc_status dc_tb_add_scalar(dc_tb_writer *w, const char *tag, float value, int64_t step);
/* 30 equal buckets between the finite values' min and max (NaN, Inf skipped). */
dc_status dc_tb_add_histogram(dc_tb_writer *w, const char *tag, const float *x, int64_t n,
                              int64_t step);
/* png: an encoded PNG of height x width with channels 1, 3 or 4. */
dc_status dc_tb_add_image_png(dc_tb_writer *w, const char *tag, const void *png, size_t len,
                              int height, int width, int channels, int64_t step);
dc_status dc_tb_flush(dc_tb_writer *w);
dc_status dc_tb_writer_close(dc_tb_writer *w); /* flushes, closes, frees; NULL is fine */
/* -- end io -- */

/* ========================================================================
 * Model files (INI) and the command line
 * ======================================================================== */
/* -- model files and command line -- */
/* A model file: [model], [data], [train], optional [EarlyStopping] and
 * [ReduceLROnPlateau], then one section per layer in order, named by its
 * Keras class ([Dense] or [Dense my_name]) with Keras' option names. See
 * docs/model-files.md. Errors name the file, the line and the key:
 * "models/x.ini:14: [Dense] units: 'abc' is not an integer ...". */
typedef struct dc_run_config dc_run_config;
/* Parses and checks the whole file (layers included); caller frees. */
dc_run_config *dc_run_config_load(const char *path);
/* The same from text; name stands for the file in messages (NULL: "(text)"). */
dc_run_config *dc_run_config_parse(const char *text, const char *name);
void dc_run_config_free(dc_run_config *c);
/* Sets one key as if the file said it, checked the same way: ("train",
 * "epochs", "3"); for command-line overrides. Layer sections cannot be set. */
dc_status dc_run_config_set(dc_run_config *c, const char *section, const char *key,
                            const char *value);
const char *dc_run_config_name(const dc_run_config *c); /* [model] name, else the file's base name */
const char *dc_run_config_path(const dc_run_config *c);
int dc_run_config_epochs(const dc_run_config *c);
int64_t dc_run_config_batch_size(const dc_run_config *c);
uint64_t dc_run_config_seed(const dc_run_config *c);
int dc_run_config_num_layers(const dc_run_config *c);
const char *dc_run_config_layer_type(const dc_run_config *c, int i);
int dc_run_config_layer_line(const dc_run_config *c, int i); /* of its [section] */
/* [train] metrics in compile order (canonical names: "accuracy", "mae" ...);
 * returns the count, copies up to cap pointers (owned by c). */
int dc_run_config_metrics(const dc_run_config *c, const char **names, int cap);
/* Whether the model's outputs are probabilities (a last softmax or sigmoid,
 * or from_logits = false) rather than logits. */
bool dc_run_config_outputs_probabilities(const dc_run_config *c);
/* The training and test sets of [data] (*test NULL when there is none);
 * the caller frees both. Relative paths are looked up next to the model file
 * first, then in the current directory. */
dc_status dc_run_config_load_data(const dc_run_config *c, dc_dataset **train, dc_dataset **test);
/* Text data ([data] train_text_dir, train_text_csv, fortunes or corpus): the
 * vectorizer ([TextVectorization]) that the last dc_run_config_load_data
 * adapted on the training split (owned by c, valid until the next load or
 * dc_run_config_free), or NULL. deepc train stores it
 * in the saved model file (dc_model_file_set_text_vectorizer). */
const dc_text_vectorizer *dc_run_config_text_vectorizer(const dc_run_config *c);
/* The model of the file, built (input shape from [model] input_shape, else
 * from train's samples) and compiled; caller frees. */
dc_model *dc_run_config_build_model(const dc_run_config *c, const dc_dataset *train);
/* fit options from [train], [data]'s validation (test: validation_data =
 * test) and the callback sections; out->callbacks points into c. */
dc_status dc_run_config_fit_options(dc_run_config *c, const dc_dataset *test, dc_fit_options *out);
/* The test split as a data spec for dc_dataset_load_spec ("" if none), with
 * absolute paths, to keep in a model file. Text data gives a "text:" spec for
 * dc_dataset_load_text_spec (it needs the model file's vectorizer). */
dc_status dc_run_config_test_spec(const dc_run_config *c, char *buf, size_t n);
/* A dataset from a spec: "fashion-mnist" (its test split), "IMAGES,LABELS"
 * (IDX files), "FILE.csv" or "FILE.csv,LABEL_COLUMN", or an image folder
 * (resized to height x width, channels converted; 0 keeps). Caller frees. */
dc_dataset *dc_dataset_load_spec(const char *spec, int height, int width, int channels);
/* Adds (or replaces) string entries of a safetensors file's __metadata__ in
 * place (written to path.tmp, then renamed): class names, the data spec. */
dc_status dc_model_file_set_metadata(const char *path, const char *const *keys,
                                     const char *const *values, int n);

/* Introspection, for pictures of what a model does. */
int dc_model_input_shape(const dc_model *m, int64_t *shape);  /* without batch; returns ndim */
int dc_model_output_shape(const dc_model *m, int64_t *shape);
/* Runs x (B, input...) through the model for inference and stores each
 * layer's output (in the tape's arena) in outs[0 .. n_layers-1]; cap must be
 * at least dc_model_num_layers. */
dc_status dc_model_call_collect(dc_model *m, dc_tape *t, dc_tensor *x, dc_tensor **outs, int cap);
/* -- end model files and command line -- */

#ifdef __cplusplus
}
#endif
#endif /* DEEPC_H */
