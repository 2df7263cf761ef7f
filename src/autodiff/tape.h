/* tape.h — the tape's layout, shared by tape.c and the gradient checker (internal). */
#ifndef DC_TAPE_H
#define DC_TAPE_H
#include "../ops/op.h"

struct dc_tape {
    dc_arena arena;
    dc_node *nodes;
    size_t n_nodes, cap_nodes;
    dc_tensor **watched; /* user tensors given an arena gradient by dc_tape_watch */
    size_t n_watched, cap_watched;
    bool recording, no_record;
    dc_status status;
    /* A distributed fit's rank: its samples are [part_start, part_start + B)
     * of a batch of part_total (0: the batch is whole) */
    int64_t part_start, part_total;
    /* called after each node's backward (dc_tape_set_backward_hook) */
    void (*after_node)(void *ctx, size_t node);
    void *after_node_ctx;
    char error[512];
};

/* Arena memory; on failure marks the tape failed and returns NULL. */
void *dc_tape_alloc(dc_tape *t, size_t bytes);
#endif
