/* op.h — what an op is inside deepc: a node on the tape, plus the shape,
 * forward and backward functions listed in ops.def (internal). */
#ifndef DC_OP_H
#define DC_OP_H
#include "../tensor/tensor.h"

/* Small per-op parameters (axis, stride, alpha ...); each op documents its use. */
typedef struct {
    int64_t i[12];
    float f[4];
    void *p;
} dc_op_attrs;

typedef struct dc_node {
    int op;             /* dc_op_id */
    int n_in;
    dc_tensor **in;     /* inputs (array in the tape's arena) */
    dc_tensor *out;
    dc_op_attrs a;
    void *saved;        /* what forward keeps for backward (tape arena) */
    dc_tape *tape;
} dc_node;

/* shape: computes the output shape, or sets an error naming the public function. */
typedef dc_status (*dc_op_shape_fn)(const dc_node *n, int *ndim, int64_t *shape);
/* forward: fills every element of n->out->data (it comes unzeroed); may fail on
 * bad data (e.g. a label out of range). */
typedef dc_status (*dc_op_forward_fn)(dc_node *n);
/* backward: accumulates (+=) into n->in[i]->grad where that is not NULL. */
typedef void (*dc_op_backward_fn)(dc_node *n);

void dc_backward_none(dc_node *n); /* for ops without a gradient (one_hot) */
/* The public function's name for an op: "dc_matmul" (a per-thread buffer). */
const char *dc_op_fn_name(int op);

#define DC_OP(NAME, NIN, SHAPE, FWD, BWD, VIEW) DC_OP_##NAME,
typedef enum {
#include "ops.def"
    DC_OP_COUNT
} dc_op_id;
#undef DC_OP

#define DC_OP(NAME, NIN, SHAPE, FWD, BWD, VIEW)                                             \
    dc_status SHAPE(const dc_node *n, int *ndim, int64_t *shape);                           \
    dc_status FWD(dc_node *n);                                                              \
    void BWD(dc_node *n);
#include "ops.def"
#undef DC_OP

typedef struct {
    const char *name;
    int n_inputs; /* -1: any number */
    dc_op_shape_fn shape;
    dc_op_forward_fn forward;
    dc_op_backward_fn backward;
    bool view; /* the output shares input 1's data: nothing to compute or copy */
} dc_op_info;

extern const dc_op_info dc_op_table[DC_OP_COUNT];

/* Runs op on inputs: checks, output allocation in the tape's arena, forward, and
 * recording when the tape records and an input needs a gradient. NULL on error
 * (the tape is marked failed). */
dc_tensor *dc_op_apply(dc_tape *t, dc_op_id op, int n_in, dc_tensor *const *in,
                       const dc_op_attrs *attrs);
/* Scratch memory in the tape's arena for a node's forward (lives until reset). */
void *dc_node_alloc(dc_node *n, size_t bytes);
/* Marks the tape failed with the current dc_last_error (first error wins). */
void dc_tape_fail(dc_tape *t);
/* In a distributed fit each rank's x holds samples [start, start + B) of a
 * batch of total; random ops and layers draw for the whole batch (skipping
 * the other ranks' samples) so that every sample gets what one process would
 * give it. total 0: the batch is whole (the default). */
void dc_tape_set_batch_part(dc_tape *t, int64_t start, int64_t total);
/* Where a batch of B samples lies: (start, total), or (0, B) when no part is
 * set or it does not fit B (a tensor whose first axis is not the batch). */
void dc_tape_batch_part(const dc_tape *t, int64_t B, int64_t *start, int64_t *total);
/* fn(ctx, k) runs after node k's backward (nodes go from the last to the
 * first), as a distributed fit starts summing gradients that are complete;
 * NULL: none. The nodes: dc_tape_num_nodes, dc_tape_node. */
void dc_tape_set_backward_hook(dc_tape *t, void (*fn)(void *ctx, size_t node), void *ctx);
size_t dc_tape_num_nodes(const dc_tape *t);
const dc_node *dc_tape_node(const dc_tape *t, size_t k);
/* Runs backward from `out` with the given seed gradient (out->size floats),
 * instead of the scalar 1 of dc_tape_backward. For the gradient checker. */
dc_status dc_tape_backward_seeded(dc_tape *t, dc_tensor *out, const float *seed);

/* Broadcasting helpers (op_elementwise.c): NumPy rules over up to 6 dims. */
dc_status dc_broadcast_shape(const char *fn, const dc_tensor *a, const dc_tensor *b, int *ndim,
                             int64_t *shape);
/* Normalizes axis (negative counts from the end); sets an error if out of range. */
dc_status dc_axis_check(const char *fn, const dc_tensor *x, int axis, int *out_axis);
#endif
