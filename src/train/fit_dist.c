/* fit_dist.c — what fit does with a dc_dist (data-parallel training): sums of
 * gradients and metric sums over the ranks, BatchNormalization's moving
 * statistics averaged, and rank 0's decisions followed. Transport-free: the
 * collectives are the backend's (src/dist/mpi.c is one). */
#include "train.h"
#include "../ops/op.h"
#include <stdint.h>
#include <string.h>

/* Buckets of the gradient sum: fixed, so the same sums are taken in the same
 * order every run, and each fits an int count (MPI's). */
#define GRAD_BUCKET ((int64_t)1 << 20)

dc_status dc_fit_dist_check(const char *fn, const dc_dist *d) {
    if (!d->sum_floats || !d->sum_doubles)
        return dc_set_error(DC_ERR_ARG, "%s: dist has no sum_floats or sum_doubles", fn);
    if (d->size < 1 || d->rank < 0 || d->rank >= d->size)
        return dc_set_error(DC_ERR_ARG, "%s: dist rank %d must be in [0, size %d)", fn, d->rank,
                            d->size);
    return DC_OK;
}

static dc_status failed(const char *what) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    return dc_set_error(dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_IO,
                        "dc_model_fit: summing %s over the ranks: %s", what, msg);
}

/* An accumulator's sums as doubles in v[0..ACCUM_DOUBLES), and back. */
enum { M = DC_MAX_METRICS, K = DC_MAX_CLASS_WEIGHTS, ACCUM_DOUBLES = 2 + 2 * M + 3 * K };

static void accum_to(const dc_accum *a, double *v) {
    const double *const iou[3] = {a->iou_pred, a->iou_true, a->iou_hit};
    v[0] = a->loss_sum;
    v[1] = (double)a->loss_n;
    memcpy(v + 2, a->sum, sizeof a->sum);
    memcpy(v + 2 + M, a->count, sizeof a->count);
    for (int j = 0; j < 3; j++) memcpy(v + 2 + 2 * M + j * K, iou[j], K * sizeof(double));
}

static void accum_from(dc_accum *a, const double *v) {
    double *const iou[3] = {a->iou_pred, a->iou_true, a->iou_hit};
    a->loss_sum = v[0];
    a->loss_n = (int64_t)v[1];
    memcpy(a->sum, v + 2, sizeof a->sum);
    memcpy(a->count, v + 2 + M, sizeof a->count);
    for (int j = 0; j < 3; j++) memcpy(iou[j], v + 2 + 2 * M + j * K, K * sizeof(double));
}

dc_status dc_fit_dist_sum_accum(const dc_dist *d, dc_accum *a, double *loss_w) {
    double v[ACCUM_DOUBLES + 2];
    accum_to(a, v);
    if (loss_w) memcpy(v + ACCUM_DOUBLES, loss_w, 2 * sizeof(double));
    if (d->sum_doubles(d->ctx, v, ACCUM_DOUBLES + (loss_w ? 2 : 0)) != DC_OK) return failed("metrics");
    if (loss_w) memcpy(loss_w, v + ACCUM_DOUBLES, 2 * sizeof(double));
    accum_from(a, v);
    return DC_OK;
}

static float part_scale(double part, double whole) {
    return part == whole ? 1.0f : whole > 0 ? (float)(part / whole) : 0.0f;
}

/* x *= s (omp simd: GCC leaves it scalar at -O2, and it runs over the
 * whole gradient every step). */
static void scale_floats(float *x, int64_t n, float s) {
    if (s == 1.0f) return;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) x[i] *= s;
}

dc_status dc_fit_dist_sum_loss(const dc_dist *d, double *v, int64_t n) {
    return d->sum_doubles(d->ctx, v, n) != DC_OK ? failed("losses") : DC_OK;
}

dc_status dc_fit_dist_sum_grads(const dc_dist *d, dc_model *m, double part, double whole) {
    float *g = m->grads;
    const int64_t len = (int64_t)m->n_trainable;
    const float w = part_scale(part, whole); /* 0.5 for two equal parts: exact */
    if (!d->sum_scaled_floats) scale_floats(g, len, w);
    for (int64_t at = 0; at < len; at += GRAD_BUCKET) {
        const int64_t n = DC_MIN(GRAD_BUCKET, len - at);
        if ((d->sum_scaled_floats ? d->sum_scaled_floats(d->ctx, g + at, n, w)
                                  : d->sum_floats(d->ctx, g + at, n)) != DC_OK)
            return failed("gradients");
    }
    return DC_OK;
}

dc_status dc_fit_dist_sum_step(const dc_dist *d, dc_model *m, dc_fit_dist_overlap *ov,
                               int64_t n_batch, dc_accum *a, double *loss_w, bool *requested) {
    double v[ACCUM_DOUBLES + 3];
    const double part = loss_w[1];
    /* the gradient first: a rank with an empty part started no bucket during
     * backward, and the collectives must come in the same order on all */
    if ((ov ? dc_fit_dist_overlap_end(ov) : dc_fit_dist_sum_grads(d, m, part, (double)n_batch)) !=
        DC_OK)
        return dc_last_status();
    accum_to(a, v);
    memcpy(v + ACCUM_DOUBLES, loss_w, 2 * sizeof(double));
    v[ACCUM_DOUBLES + 2] = *requested;
    if (d->sum_doubles(d->ctx, v, ACCUM_DOUBLES + 3) != DC_OK) return failed("metrics");
    accum_from(a, v);
    memcpy(loss_w, v + ACCUM_DOUBLES, 2 * sizeof(double));
    *requested = v[ACCUM_DOUBLES + 2] > 0;
    const double whole = loss_w[1];
    if (whole == (double)n_batch) return DC_OK; /* the weights were the samples: done */
    /* class weights or masked positions: each part was scaled by its weight
     * over n_batch, so the sum needs n_batch / whole (nothing to learn from
     * a batch of weight 0, as one process's mean of nothing) */
    const float w = whole > 0 ? (float)((double)n_batch / whole) : 0.0f;
    scale_floats(m->grads, (int64_t)m->n_trainable, w);
    return DC_OK;
}

bool dc_fit_dist_batch_decisions(const dc_callback *cb, int n) {
    for (int i = 0; i < n; i++)
        if ((cb[i].kind == DC_CB_LAMBDA && cb[i].on_batch_end) || cb[i].kind == DC_CB_TENSORBOARD)
            return true;
    return false;
}

static void start_bucket(dc_fit_dist_overlap *o, int64_t b) {
    const int64_t len = (int64_t)o->m->n_trainable, at = b * o->bucket;
    const int64_t n = DC_MIN(o->bucket, len - at);
    float *g = o->m->grads + at;
    scale_floats(g, n, o->scale);
    if (o->status == DC_OK && o->d->start_sum_floats(o->d->ctx, g, n) != DC_OK)
        o->status = failed("gradients");
}

/* After node k's backward every node from k on has run: a bucket whose
 * writers all lie there is complete. Buckets start strictly in order. */
static void after_node(void *ctx, size_t k) {
    dc_fit_dist_overlap *o = ctx;
    while (o->next >= 0 && (o->first_node[o->next] == SIZE_MAX || o->first_node[o->next] >= k))
        start_bucket(o, o->next--);
}

/* Marks the buckets that the gradient g[0..n) of a node's input falls in. */
static void mark_writer(dc_fit_dist_overlap *o, const float *g, int64_t n, size_t k) {
    const float *base = o->m->grads;
    const int64_t len = (int64_t)o->m->n_trainable;
    if (!g || n <= 0 || g < base || g >= base + len) return;
    const int64_t lo = (int64_t)(g - base) / o->bucket;
    const int64_t hi = DC_MIN((int64_t)(g - base) + n - 1, len - 1) / o->bucket;
    for (int64_t b = lo; b <= hi; b++)
        if (o->first_node[b] == SIZE_MAX) o->first_node[b] = k; /* nodes come in order */
}

bool dc_fit_dist_overlap_begin(dc_fit_dist_overlap *o, const dc_dist *d, dc_model *m, dc_tape *t,
                               double part, double whole) {
    const int64_t len = (int64_t)m->n_trainable;
    if (!d->start_sum_floats || !d->wait_sums || len == 0) return false;
    *o = (dc_fit_dist_overlap){.d = d, .m = m, .t = t, .scale = part_scale(part, whole)};
    /* at least 4096 floats (16 KiB) a bucket: smaller ones cost more in latency */
    o->bucket = DC_MAX((int64_t)4096, (len + DC_DIST_BUCKETS - 1) / DC_DIST_BUCKETS);
    o->n_buckets = (len + o->bucket - 1) / o->bucket;
    for (int64_t b = 0; b < o->n_buckets; b++) o->first_node[b] = SIZE_MAX;
    for (size_t k = 0; k < dc_tape_num_nodes(t); k++) {
        const dc_node *n = dc_tape_node(t, k);
        for (int i = 0; i < n->n_in; i++) mark_writer(o, n->in[i]->grad, n->in[i]->size, k);
    }
    o->next = o->n_buckets - 1;
    dc_tape_set_backward_hook(t, after_node, o);
    return true;
}

dc_status dc_fit_dist_overlap_end(dc_fit_dist_overlap *o) {
    dc_tape_set_backward_hook(o->t, NULL, NULL);
    while (o->next >= 0) start_bucket(o, o->next--);
    if (o->d->wait_sums(o->d->ctx) != DC_OK && o->status == DC_OK) o->status = failed("gradients");
    return o->status;
}

static bool is_moving_stat(const char *name) {
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    return !strcmp(base, "moving_mean") || !strcmp(base, "moving_variance");
}

dc_status dc_fit_dist_average_moving_stats(const dc_dist *d, dc_model *m) {
    const float inv = 1.0f / (float)d->size;
    for (int i = 0; i < m->n_params; i++) {
        dc_param *p = m->params[i];
        if (p->trainable || !is_moving_stat(p->name)) continue;
        if (d->sum_floats(d->ctx, p->t->data, p->t->size) != DC_OK)
            return failed("moving statistics");
        for (int64_t k = 0; k < p->t->size; k++) p->t->data[k] *= inv;
    }
    return DC_OK;
}

dc_status dc_fit_dist_follow(const dc_dist *d, dc_model *m, bool *stop, bool *requested,
                             bool lr) {
    const bool root = d->rank == 0;
    /* a sum where only rank 0 adds its decision and rate: x + 0 + ... is x */
    double v[3] = {root && *stop, *requested,
                   root && lr ? (double)dc_optimizer_learning_rate(m->opt) : 0.0};
    if (d->sum_doubles(d->ctx, v, 3) != DC_OK) return failed("stop decisions");
    *stop = v[0] > 0;
    *requested = v[1] > 0;
    if (lr && !root && (float)v[2] != dc_optimizer_learning_rate(m->opt))
        dc_optimizer_set_learning_rate(m->opt, (float)v[2]);
    return DC_OK;
}

void dc_fit_dist_set_part(const dc_dist *d, dc_tape *t, int64_t n) {
    /* the batcher's cut (dc_batcher_shard): samples [n r / N, n (r+1) / N) */
    dc_tape_set_batch_part(t, n * d->rank / d->size, n);
}

/* A layer's generator and those of the layers it wraps: their states, each
 * as two 32-bit halves (a double holds them exactly), summed with zeros from
 * every rank but `from`. */
static dc_status take_rngs(const dc_dist *d, dc_layer *l, int from) {
    dc_rng *g[3] = {&l->rng, l->sub[0] ? &l->sub[0]->rng : NULL,
                    l->sub[1] ? &l->sub[1]->rng : NULL};
    double v[6] = {0};
    for (int k = 0; k < 3 && d->rank == from; k++)
        if (g[k]) v[2 * k] = (double)(g[k]->state >> 32), v[2 * k + 1] = (double)(uint32_t)g[k]->state;
    if (d->sum_doubles(d->ctx, v, 6) != DC_OK) return failed("random generators");
    for (int k = 0; k < 3; k++)
        if (g[k]) g[k]->state = (uint64_t)v[2 * k] << 32 | (uint64_t)v[2 * k + 1];
    return DC_OK;
}

dc_status dc_fit_dist_sync_rngs(const dc_dist *d, dc_model *m) {
    for (int i = 0; i < m->n_layers; i++)
        if (take_rngs(d, m->layers[i], d->size - 1) != DC_OK) return dc_last_status();
    return DC_OK;
}
