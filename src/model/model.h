/* model.h — the Sequential model's layout, shared by src/model and src/train
 * (internal): the layers, the flat weight and gradient buffers, and what
 * compile and fit keep between calls. */
#ifndef DC_MODEL_H
#define DC_MODEL_H
#include <signal.h>
#include "../layers/layer.h"

#define DC_LOG_KEY 96 /* a log key's characters: "val_" + a layer name + "_" + a metric */

/* How the loss reads the model's output. */
typedef enum {
    DC_OUT_LOGITS = 0,   /* raw scores: fused softmax/sigmoid crossentropy */
    DC_OUT_FUSED,        /* the last softmax/sigmoid is skipped and fused into the loss */
    DC_OUT_PROBS,        /* probabilities: log of clipped probabilities */
    DC_OUT_VALUES        /* regression (MSE) */
} dc_out_mode;

/* One call of a layer in the graph. Nodes are kept in creation order, which
 * is topological: a node's inputs are earlier nodes. */
typedef struct {
    dc_layer *layer; /* NULL: a Sequential model's input when it has no InputLayer */
    int n_in;        /* 0: a model input (input_index says which) */
    int in[DC_LAYER_MAX_IN];
    int input_index;
    int call; /* which call of its layer this is (0 the first; more: shared weights) */
    int ndim; /* output shape without the batch axis, set at build */
    int64_t shape[DC_MAX_DIMS];
    char label[64]; /* a model file's name for a shared layer's later call, or "" */
} dc_call_node;

/* The functional API's builder: layers called on symbols (graph.c). */
struct dc_symbol {
    dc_graph *g;
    int node;
};
struct dc_graph {
    dc_call_node *nodes;
    int n_nodes, cap_nodes;
    dc_layer **layers; /* owned until a model takes them */
    int n_layers, cap_layers;
    dc_symbol **syms; /* one per node, freed with the graph */
    bool failed;      /* a call failed: dc_model_functional refuses the graph */
};

struct dc_model {
    char name[64];
    dc_layer **layers; /* each layer once, in the order of its first call */
    int n_layers, cap_layers;
    /* The graph the executor walks (dc_model_run). A Sequential model gets a
     * chain at build; a functional one keeps the nodes it was made from. */
    bool functional;
    dc_call_node *nodes;
    int n_nodes;
    int n_inputs, inputs[DC_MAX_MODEL_IO];   /* input nodes, in the model's input order */
    int n_outputs, outputs[DC_MAX_MODEL_IO]; /* output nodes */
    dc_tensor **values;                      /* each node's output in a forward (n_nodes) */
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
    dc_tape *tape;       /* the training tape, reused every step */
    dc_tape *infer_tape; /* evaluate / predict */
    bool stop_training;
    volatile sig_atomic_t stop_requested; /* dc_model_request_stop, from a signal handler too */
    /* the keys dc_model_evaluate_logs hands out */
    char eval_keys[DC_MAX_LOGS][DC_LOG_KEY];
    /* dc_model_set_metadata: keys and values (dc_malloc'd) every save writes */
    char **meta_keys, **meta_vals;
    int n_meta;
};

/* model(x) with the last activation skipped when the loss absorbed it (fused). */
dc_tensor *dc_model_forward(dc_model *m, dc_tape *t, dc_tensor *x, bool training, bool fused);
/* The executor: every node in order on the model inputs xs (n_inputs of them);
 * outs gets the n_outputs outputs. Bit i of fused skips output i's last
 * activation (a loss absorbs it). */
dc_status dc_model_run(dc_model *m, dc_tape *t, dc_tensor *const *xs, bool training,
                       unsigned fused, dc_tensor **outs);
/* Each of the n_inputs tensors xs[i] is (B, input i's shape...): DC_OK, or
 * DC_ERR_SHAPE naming fn, the input and both shapes. */
dc_status dc_model_check_inputs(const char *fn, const dc_model *m, dc_tensor *const *xs);
/* The layer that makes output 0 (whose activation a loss may absorb). */
dc_layer *dc_model_output_layer(const dc_model *m);
/* Conv2D -> MaxPooling2D fusion on (only along a chain) or off. */
void dc_model_fuse(dc_model *m, bool on);
/* Shape inference over the nodes: builds each layer at its first call, checks
 * a shared layer's later inputs, sets every node's shape (graph.c). The given
 * shape (ndim > 0) is input 0's. */
dc_status dc_graph_infer(dc_model *m, int ndim, const int64_t *shape);
/* For loading a graph (save.c, model files): hold l in g before any call
 * (its name must be new there; l is freed on failure), find a held layer by
 * name, and add an InputLayer l as an input node; errors name fn. */
dc_status dc_graph_hold(const char *fn, dc_graph *g, dc_layer *l);
dc_layer *dc_graph_layer(const dc_graph *g, const char *name);
/* Names the call s stands for in errors (a model file's section that shares a layer). */
void dc_graph_label(dc_symbol *s, const char *label);
dc_symbol *dc_graph_add_input(const char *fn, dc_graph *g, dc_layer *l);
/* Gives l a name unique among ls[0, n) (Keras' "dense", "dense_1" ...), or an
 * error naming fn when a name the user gave is taken. */
dc_status dc_layer_unique_name(const char *fn, const char *model, dc_layer *const *ls, int n,
                               dc_layer *l);
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
