/* model.h — the Sequential model's layout, shared by src/model and src/train
 * (internal): the layers, the flat weight and gradient buffers, and what
 * compile and fit keep between calls. */
#ifndef DC_MODEL_H
#define DC_MODEL_H
#include <signal.h>
#include "../layers/layer.h"

/* How the loss reads the model's output. */
typedef enum {
    DC_OUT_LOGITS = 0,   /* raw scores: fused softmax/sigmoid crossentropy */
    DC_OUT_FUSED,        /* the last softmax/sigmoid is skipped and fused into the loss */
    DC_OUT_PROBS,        /* probabilities: log of clipped probabilities */
    DC_OUT_VALUES        /* regression (MSE) */
} dc_out_mode;

struct dc_model {
    char name[64];
    dc_layer **layers;
    int n_layers, cap_layers;
    bool built;
    uint64_t seed;
    int in_ndim, out_ndim;
    int64_t in_shape[DC_MAX_DIMS], out_shape[DC_MAX_DIMS];
    /* every weight: trainable [0, n_trainable), then non-trainable */
    float *weights;
    size_t n_weights, n_trainable;
    float *grads; /* n_trainable floats */
    int n_params;
    dc_param **params; /* trainable first, in layer order */

    /* compile / fit */
    bool compiled;
    dc_compile_options copt;
    int n_metrics;
    dc_optimizer *opt;
    dc_optimizer *opt_options; /* compiled before built: holds copt's schedule until fit */
    dc_out_mode out_mode;
    dc_tape *tape;       /* the training tape, reused every step */
    dc_tape *infer_tape; /* evaluate / predict */
    bool stop_training;
    volatile sig_atomic_t stop_requested; /* dc_model_request_stop, from a signal handler too */
    /* dc_model_set_metadata: keys and values (dc_malloc'd) every save writes */
    char **meta_keys, **meta_vals;
    int n_meta;
};

/* model(x) with the last activation skipped when the loss absorbed it (fused). */
dc_tensor *dc_model_forward(dc_model *m, dc_tape *t, dc_tensor *x, bool training, bool fused);
/* x must be (B, the model's input shape...): DC_OK, or DC_ERR_SHAPE with
 * "fn: what (..) does not match the model's input (None, ..)". */
/* dc_model_build refusing, before allocating, an architecture that declares
 * more than max_weights floats in all (dc_model_build: 2^40); cap_source ends
 * the message ("the file holds 1500"), NULL for the plain "too many". */
dc_status dc_model_build_capped(dc_model *m, int ndim, const int64_t *input_shape, uint64_t seed,
                                uint64_t max_weights, const char *cap_source);
dc_status dc_model_check_input(const char *fn, const char *what, const dc_model *m,
                               const dc_tensor *x);
/* Architecture as JSON (the caller frees with dc_free), for model files. */
char *dc_model_architecture_json(const dc_model *m);
/* A model file with extra tensors and extra metadata, in one atomic write
 * (checkpoints, fit's resume state, the CLI's keys); fn names the caller. */
dc_status dc_model_save_extra(const char *fn, const dc_model *m, const char *path,
                              dc_tensor *const *extra, int n_extra, const char *const *keys,
                              const char *const *vals, int n_meta);
/* Frees what dc_model_set_metadata kept (dc_model_free). */
void dc_model_metadata_free(dc_model *m);
/* The optimizer state as the tensor "optimizer/state" (caller frees), or NULL. */
dc_tensor *dc_model_optimizer_state_tensor(const char *fn, dc_model *m);
#endif
