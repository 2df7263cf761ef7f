/* tape.c — the GradientTape: an arena for op results plus the recorded nodes in
 * creation order (a topological order), replayed in reverse by backward. */
#include "tape.h"
#include <string.h>

static void tape_set_error_from_last(dc_tape *t) {
    if (t->status != DC_OK) return; /* the first error is the one worth reading */
    t->status = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_STATE;
    snprintf(t->error, sizeof t->error, "%s", dc_last_error());
}

void dc_tape_fail(dc_tape *t) {
    if (t) tape_set_error_from_last(t);
}

dc_tape *dc_tape_new(const dc_tape_options *opt) {
    dc_tape *t = dc_calloc(1, sizeof *t);
    if (!t) {
        dc_set_error(DC_ERR_NOMEM, "dc_tape_new: out of memory");
        return NULL;
    }
    dc_arena_init(&t->arena, opt ? opt->arena_bytes : 0);
    t->recording = !(opt && opt->no_record);
    t->no_record = opt && opt->no_record;
    return t;
}

static void unwatch_all(dc_tape *t) {
    for (size_t i = 0; i < t->n_watched; i++) {
        dc_tensor *x = t->watched[i];
        x->grad = NULL;
        x->flags &= ~(uint32_t)DC_TF_REQUIRES_GRAD;
    }
    t->n_watched = 0;
}

void dc_tape_free(dc_tape *t) {
    if (!t) return;
    unwatch_all(t);
    dc_arena_release(&t->arena);
    dc_free(t->nodes);
    dc_free(t->watched);
    dc_free(t);
}

void dc_tape_reset(dc_tape *t) {
    if (!t) return;
    unwatch_all(t);
    t->n_nodes = 0;
    t->status = DC_OK;
    t->error[0] = '\0';
    dc_arena_reset(&t->arena);
}

void dc_tape_set_batch_part(dc_tape *t, int64_t start, int64_t total) {
    if (!t) return;
    t->part_start = start;
    t->part_total = total;
}

void dc_tape_batch_part(const dc_tape *t, int64_t B, int64_t *start, int64_t *total) {
    bool set = t && t->part_total > 0 && t->part_start >= 0 && t->part_start + B <= t->part_total;
    *start = set ? t->part_start : 0;
    *total = set ? t->part_total : B;
}

void dc_tape_set_recording(dc_tape *t, bool on) {
    if (t) t->recording = on && !t->no_record;
}

bool dc_tape_is_recording(const dc_tape *t) { return t && t->recording; }
dc_status dc_tape_status(const dc_tape *t) { return t ? t->status : DC_ERR_ARG; }
const char *dc_tape_error(const dc_tape *t) { return t ? t->error : "tape is NULL"; }
size_t dc_tape_arena_peak(const dc_tape *t) { return t ? t->arena.peak : 0; }

void *dc_tape_alloc(dc_tape *t, size_t bytes) {
    void *p = dc_arena_alloc(&t->arena, bytes ? bytes : 1);
    if (!p) {
        dc_set_error(DC_ERR_NOMEM, "tape arena: out of memory for %zu bytes", bytes);
        tape_set_error_from_last(t);
    }
    return p;
}

void *dc_node_alloc(dc_node *n, size_t bytes) { return dc_tape_alloc(n->tape, bytes); }

#ifndef DC_POISON_BYTE
#define DC_POISON_BYTE 0xff
#endif

/* The tensor header in the arena with its data: `alias` when given (a view),
 * else new arena memory, zeroed when `zero`. */
static dc_tensor *tape_tensor(dc_tape *t, int ndim, const int64_t *shape, bool zero,
                              float *alias) {
    if (!t) {
        dc_set_error(DC_ERR_ARG, "dc_tape_tensor: tape is NULL");
        return NULL;
    }
    if (dc_shape_check("dc_tape_tensor", ndim, shape) != DC_OK) {
        tape_set_error_from_last(t);
        return NULL;
    }
    dc_tensor *x = dc_tape_alloc(t, sizeof *x);
    if (!x) return NULL;
    dc_tensor_init_header(x, ndim, shape);
    x->flags = DC_TF_IN_ARENA;
    x->tape = t;
    if (alias) {
        x->data = alias;
        return x;
    }
    x->data = dc_tape_alloc(t, (size_t)x->size * sizeof(float));
    if (!x->data) return NULL;
    if (zero) memset(x->data, 0, (size_t)x->size * sizeof(float));
#ifdef DC_POISON_OUTPUTS
    /* Sanitizer builds fill unzeroed outputs with NaN (or, with -DDC_POISON_BYTE=
     * 0x7f / 0xfe, +-1e38, which max/min patterns do not mask), so a forward that
     * reads or leaves an element it never wrote shows up in the tests. */
    else memset(x->data, DC_POISON_BYTE, (size_t)x->size * sizeof(float));
#endif
    return x;
}

dc_tensor *dc_tape_tensor(dc_tape *t, int ndim, const int64_t *shape) {
    return tape_tensor(t, ndim, shape, true, NULL);
}

dc_status dc_tape_watch(dc_tape *t, dc_tensor *x) {
    if (!t || !x) return dc_set_error(DC_ERR_ARG, "dc_tape_watch: tape or tensor is NULL");
    if (x->grad) {
        x->flags |= DC_TF_REQUIRES_GRAD;
        return DC_OK;
    }
    float *g = dc_tape_alloc(t, (size_t)x->size * sizeof(float));
    if (!g) return DC_ERR_NOMEM;
    memset(g, 0, (size_t)x->size * sizeof(float));
    if (!(x->flags & DC_TF_IN_ARENA)) {
        if (t->n_watched == t->cap_watched) {
            size_t cap = t->cap_watched ? t->cap_watched * 2 : 8;
            dc_tensor **w = dc_realloc(t->watched, cap * sizeof *w);
            if (!w) return dc_set_error(DC_ERR_NOMEM, "dc_tape_watch: out of memory");
            t->watched = w;
            t->cap_watched = cap;
        }
        t->watched[t->n_watched++] = x;
    }
    x->grad = g;
    x->flags |= DC_TF_REQUIRES_GRAD;
    return DC_OK;
}

static bool needs_grad(const dc_tensor *x) {
    return (x->flags & DC_TF_REQUIRES_GRAD) && x->grad;
}

static dc_status record_node(dc_tape *t, const dc_node *n) {
    if (t->n_nodes == t->cap_nodes) {
        size_t cap = t->cap_nodes ? t->cap_nodes * 2 : 256;
        dc_node *nodes = dc_realloc(t->nodes, cap * sizeof *nodes);
        if (!nodes) return dc_set_error(DC_ERR_NOMEM, "tape: out of memory for nodes");
        t->nodes = nodes;
        t->cap_nodes = cap;
    }
    t->nodes[t->n_nodes++] = *n;
    return DC_OK;
}

static dc_tensor *fail(dc_tape *t) {
    tape_set_error_from_last(t);
    return NULL;
}

dc_tensor *dc_op_apply(dc_tape *t, dc_op_id op, int n_in, dc_tensor *const *in,
                       const dc_op_attrs *attrs) {
    const dc_op_info *info = &dc_op_table[op];
    if (!t) {
        dc_set_error(DC_ERR_ARG, "%s: tape is NULL", dc_op_fn_name(op));
        return NULL;
    }
    if (t->status != DC_OK) return NULL; /* an earlier op failed; its message stays */
    if (info->n_inputs >= 0 && n_in != info->n_inputs) {
        dc_set_error(DC_ERR_ARG, "%s: %d inputs given, %d expected", dc_op_fn_name(op), n_in,
                     info->n_inputs);
        return fail(t);
    }
    if (n_in < 1 || !in) {
        dc_set_error(DC_ERR_ARG, "%s: no inputs", dc_op_fn_name(op));
        return fail(t);
    }
    for (int i = 0; i < n_in; i++)
        if (!in[i]) {
            dc_set_error(DC_ERR_ARG, "%s: input %d is NULL", dc_op_fn_name(op), i + 1);
            return fail(t);
        }
    dc_node n = {.op = (int)op, .n_in = n_in, .tape = t};
    if (attrs) n.a = *attrs;
    n.in = dc_tape_alloc(t, (size_t)n_in * sizeof *n.in);
    if (!n.in) return NULL;
    for (int i = 0; i < n_in; i++) n.in[i] = in[i];

    int ndim = 0;
    int64_t shape[DC_MAX_DIMS] = {0};
    if (info->shape(&n, &ndim, shape) != DC_OK) return fail(t);
    /* Forwards write every element of their output, so it is not zeroed: the
     * memset was a whole extra pass over every activation. (Gradients below
     * accumulate and are zeroed.) */
    n.out = tape_tensor(t, ndim, shape, false, info->view ? in[0]->data : NULL);
    if (!n.out) return NULL;

    bool grad = false;
    if (t->recording && info->backward != dc_backward_none)
        for (int i = 0; i < n_in; i++) grad = grad || needs_grad(in[i]);
    if (grad) {
        n.out->grad = dc_tape_alloc(t, (size_t)n.out->size * sizeof(float));
        if (!n.out->grad) return NULL;
        memset(n.out->grad, 0, (size_t)n.out->size * sizeof(float));
        n.out->flags |= DC_TF_REQUIRES_GRAD;
    }
    if (info->forward(&n) != DC_OK) return fail(t);
    if (grad && record_node(t, &n) != DC_OK) return fail(t);
    return n.out;
}

static void run_backward(dc_tape *t) {
    for (size_t k = t->n_nodes; k-- > 0;) {
        dc_node *n = &t->nodes[k];
        if (n->out->grad) dc_op_table[n->op].backward(n);
        if (t->after_node) t->after_node(t->after_node_ctx, k);
    }
}

void dc_tape_set_backward_hook(dc_tape *t, void (*fn)(void *ctx, size_t node), void *ctx) {
    if (!t) return;
    t->after_node = fn;
    t->after_node_ctx = ctx;
}

size_t dc_tape_num_nodes(const dc_tape *t) { return t ? t->n_nodes : 0; }
const dc_node *dc_tape_node(const dc_tape *t, size_t k) {
    return t && k < t->n_nodes ? &t->nodes[k] : NULL;
}

dc_status dc_tape_backward_seeded(dc_tape *t, dc_tensor *out, const float *seed) {
    if (!t || !out || !seed) return dc_set_error(DC_ERR_ARG, "dc_tape_backward: NULL argument");
    if (t->status != DC_OK)
        return dc_set_error(DC_ERR_STATE, "dc_tape_backward: the tape failed earlier: %s",
                            t->error);
    if (!out->grad)
        return dc_set_error(DC_ERR_STATE,
                            "dc_tape_backward: the loss does not depend on any tensor that "
                            "requires a gradient (was the tape recording?)");
    for (int64_t i = 0; i < out->size; i++) out->grad[i] += seed[i];
    run_backward(t);
    return DC_OK;
}

dc_status dc_tape_backward(dc_tape *t, dc_tensor *loss) {
    if (!t) return dc_set_error(DC_ERR_ARG, "dc_tape_backward: tape is NULL");
    if (!loss) {
        if (t->status != DC_OK)
            return dc_set_error(t->status, "dc_tape_backward: the loss is NULL because: %s",
                                t->error);
        return dc_set_error(DC_ERR_ARG, "dc_tape_backward: loss is NULL");
    }
    if (loss->size != 1) {
        char s[128];
        return dc_set_error(DC_ERR_SHAPE, "dc_tape_backward: loss %s has %lld elements, not 1",
                            dc_shape_string(loss->ndim, loss->shape, s, sizeof s),
                            (long long)loss->size);
    }
    const float one = 1.0f;
    return dc_tape_backward_seeded(t, loss, &one);
}
