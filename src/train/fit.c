/* fit.c — fit, evaluate and predict (compile is the model's: src/model/compile.c).
 * A training step reuses one tape (reset every step), the batcher's buffers and
 * the model's flat buffers, so after the first step it allocates nothing. */
#include "train.h"
#include "../ops/op.h"
#include "../optim/optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* How the loss reads an output, from its loss and the activation of the layer
 * that makes it. */
static dc_out_mode out_mode(const dc_model *m, dc_loss_kind k, dc_act last) {
    if (k == DC_LOSS_MSE) return DC_OUT_VALUES;
    if ((k == DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY || k == DC_LOSS_CATEGORICAL_CROSSENTROPY ||
         k == DC_LOSS_DICE) &&
        last == DC_ACT_SOFTMAX)
        return DC_OUT_FUSED;
    if (k == DC_LOSS_BINARY_CROSSENTROPY && last == DC_ACT_SIGMOID) return DC_OUT_FUSED;
    return m->copt.from_probabilities ? DC_OUT_PROBS : DC_OUT_LOGITS;
}

void dc_heads_init(const dc_model *m, dc_head *heads) {
    bool weighted = false; /* all weights 0 (the default): every output weighs 1 */
    for (int i = 0; i < m->n_outputs; i++) weighted = weighted || m->copt.loss_weights[i] != 0;
    for (int i = 0; i < m->n_outputs; i++) {
        dc_head *h = &heads[i];
        const dc_call_node *nd = &m->nodes[m->outputs[i]];
        memset(h, 0, sizeof *h);
        h->loss = m->copt.losses[i] != DC_LOSS_NONE ? m->copt.losses[i] : m->copt.loss;
        h->act = nd->layer ? nd->layer->act : DC_ACT_LINEAR;
        h->mode = out_mode(m, h->loss, h->act);
        h->weight = weighted ? m->copt.loss_weights[i] : 1.0f;
        h->ndim = nd->ndim;
        memcpy(h->shape, nd->shape, sizeof h->shape);
        const dc_metric_kind *mk = m->copt.output_metrics[i][0] != DC_METRIC_NONE
                                       ? m->copt.output_metrics[i] : m->copt.metrics;
        while (h->n_metrics < DC_MAX_METRICS && mk[h->n_metrics] != DC_METRIC_NONE)
            h->metrics[h->n_metrics] = mk[h->n_metrics], h->n_metrics++;
        /* class weights are a sparse crossentropy's (compile checks `loss` is one) */
        h->n_class_weights =
            h->loss == DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY ? m->copt.n_class_weights : 0;
        h->class_weights = m->copt.class_weights;
        snprintf(h->name, sizeof h->name, "%s", nd->layer ? nd->layer->name : "output");
    }
}

unsigned dc_heads_fused(const dc_head *h, int n) {
    unsigned bits = 0;
    for (int i = 0; i < n; i++) bits |= h[i].mode == DC_OUT_FUSED ? 1u << i : 0u;
    return bits;
}

static int64_t per_sample(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* Equal dims, where None (-1) in either matches any length. */
static bool dims_agree(int an, const int64_t *a, int bn, const int64_t *b) {
    if (an != bn) return false;
    for (int i = 0; i < an; i++)
        if (a[i] != b[i] && a[i] != -1 && b[i] != -1) return false;
    return true;
}

/* Labels for outputs with a None axis: sparse labels shaped like the outputs
 * without the classes (or with a last 1), others shaped like the outputs. */
static bool variable_labels_fit(const dc_head *h, int y_ndim, const int64_t *y) {
    if (h->loss != DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && h->loss != DC_LOSS_DICE)
        return dims_agree(h->ndim, h->shape, y_ndim, y);
    return h->shape[h->ndim - 1] >= 2 &&
           (dims_agree(h->ndim - 1, h->shape, y_ndim, y) ||
            (y_ndim == h->ndim && y[y_ndim - 1] == 1 &&
             dims_agree(h->ndim - 1, h->shape, y_ndim - 1, y)));
}

/* Checks that labels of per-sample shape y fit the output for the loss. */
static dc_status check_labels(const char *fn, const dc_head *h, int y_ndim, const int64_t *y) {
    bool variable = false;
    for (int i = 0; i < h->ndim; i++) variable = variable || h->shape[i] == -1;
    for (int i = 0; i < y_ndim; i++) variable = variable || y[i] == -1;
    if (variable && variable_labels_fit(h, y_ndim, y)) return DC_OK;
    char so[128], sy[128];
    int64_t C = h->shape[h->ndim - 1], ny = per_sample(y_ndim, y);
    int64_t no = per_sample(h->ndim, h->shape);
    dc_layer_shape_string(h->ndim, h->shape, so, sizeof so);
    dc_layer_shape_string(y_ndim, y, sy, sizeof sy);
    const char *loss = dc_loss_name(h->loss);
    int nw = h->n_class_weights;
    if (nw > 0 && nw != C)
        return dc_set_error(DC_ERR_SHAPE, "%s: %d class weights for outputs %s with %lld classes",
                            fn, nw, so, (long long)C);
    for (int k = 0; k < h->n_metrics; k++)
        if (h->metrics[k] == DC_METRIC_MEAN_IOU && (C < 2 || C > DC_MAX_CLASS_WEIGHTS || ny * C != no))
            return dc_set_error(DC_ERR_SHAPE,
                                "%s: mean_io_u needs outputs (None, ..., classes) with 2 to %d "
                                "classes and one integer label per row; the model gives %s, the "
                                "labels are %s", fn, DC_MAX_CLASS_WEIGHTS, so, sy);
    switch (h->loss) {
    case DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
    case DC_LOSS_DICE:
        /* (None, ..., classes) outputs, one integer label per row: (None, ...) */
        if (C < 2 || ny * C != no)
            return dc_set_error(DC_ERR_SHAPE,
                                "%s: %s needs outputs (None, ..., classes) and one integer label "
                                "per row of classes; the model gives %s, the labels are %s",
                                fn, loss, so, sy);
        break;
    case DC_LOSS_CATEGORICAL_CROSSENTROPY:
        if (ny != no)
            return dc_set_error(DC_ERR_SHAPE,
                                "%s: %s needs one-hot labels shaped like the outputs %s; the "
                                "labels are %s",
                                fn, loss, so, sy);
        break;
    default:
        if (ny != no)
            return dc_set_error(DC_ERR_SHAPE, "%s: %s: labels %s do not match the outputs %s", fn,
                                loss, sy, so);
    }
    return DC_OK;
}

/* -mean(sum(target * log(clip(p)), -1)) for probabilities. */
static dc_tensor *prob_crossentropy(dc_tape *t, dc_tensor *p, dc_tensor *target) {
    dc_tensor *lp = dc_log(t, dc_clip(t, p, 1e-7f, 1.0f - 1e-7f));
    return dc_neg(t, dc_mean_all(t, dc_sum(t, dc_mul(t, target, lp), -1, false)));
}

/* Whether the output's mask covers its positions: out (B, T, C), mask (B, T). */
static bool has_sequence_mask(const dc_tensor *out) {
    const dc_tensor *mk = out->mask;
    return mk && out->ndim == 3 && mk->ndim == 2 && mk->shape[0] == out->shape[0] &&
           mk->shape[1] == out->shape[1];
}

/* Keras 3's apply_mask for a 'sum_over_batch_size' loss: real positions weigh
 * total / valid, padding 0 (0 everywhere when nothing is real), so the mean
 * over all positions is the mean over the real ones. mask (B,T) -> w (B,T). */
static dc_tensor *mask_weights(dc_tape *t, const dc_tensor *mask) {
    dc_tensor *w = dc_tape_tensor(t, mask->ndim, mask->shape);
    if (!w) return NULL;
    double valid = 0;
    for (int64_t i = 0; i < mask->size; i++) valid += mask->data[i] != 0.0f;
    const float scale = valid > 0 ? (float)mask->size / (float)valid : 0.0f;
    for (int64_t i = 0; i < mask->size; i++) w->data[i] = mask->data[i] != 0.0f ? scale : 0.0f;
    return w;
}

/* -sum(target * log_probs, -1): (B,T,C) -> (B,T) */
static dc_tensor *xent_rows(dc_tape *t, dc_tensor *target, dc_tensor *log_probs) {
    return dc_neg(t, dc_sum(t, dc_mul(t, target, log_probs), -1, false));
}

/* The loss of each position (B,T) of out (B,T,C), as Keras' loss functions
 * give it before reduction (mean over the last axis for mse and binary). */
static dc_tensor *position_losses(const dc_head *h, dc_tape *t, dc_tensor *out,
                                  dc_tensor *y) {
    const int64_t B = out->shape[0], T = out->shape[1], C = out->shape[2];
    const bool probs = h->mode == DC_OUT_PROBS;
    switch (h->loss) {
    case DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
    case DC_LOSS_CATEGORICAL_CROSSENTROPY: {
        dc_tensor *target = h->loss == DC_LOSS_CATEGORICAL_CROSSENTROPY
                                ? dc_reshape(t, y, 3, out->shape)
                                : dc_one_hot(t, dc_reshape(t, y, 2, (const int64_t[]){B, T}), (int)C);
        dc_tensor *lp = probs ? dc_log(t, dc_clip(t, out, 1e-7f, 1.0f - 1e-7f))
                              : dc_log_softmax(t, out, -1);
        return xent_rows(t, target, lp);
    }
    case DC_LOSS_MSE:
        return dc_mean(t, dc_square(t, dc_sub(t, out, dc_reshape(t, y, 3, out->shape))), -1, false);
    case DC_LOSS_BINARY_CROSSENTROPY: {
        y = dc_reshape(t, y, 3, out->shape);
        dc_tensor *e;
        if (probs) { /* -(y log p + (1 - y) log(1 - p)) */
            dc_tensor *p = dc_clip(t, out, 1e-7f, 1.0f - 1e-7f);
            dc_tensor *one_y = dc_add_scalar(t, dc_neg(t, y), 1.0f);
            e = dc_neg(t, dc_add(t, dc_mul(t, y, dc_log(t, p)),
                                 dc_mul(t, one_y, dc_log(t, dc_add_scalar(t, dc_neg(t, p), 1.0f)))));
        } else { /* max(x, 0) - x y + log(1 + exp(-|x|)), stable for any logit */
            e = dc_add(t, dc_sub(t, dc_relu(t, out), dc_mul(t, out, y)),
                       dc_softplus(t, dc_neg(t, dc_abs(t, out))));
        }
        return dc_mean(t, e, -1, false);
    }
    default: return NULL;
    }
}

// out (B,T,C) with a mask (B,T), y (B,T) or (B,T,C) -> loss (): the weighted mean
static dc_tensor *masked_loss(const dc_head *h, dc_tape *t, dc_tensor *out,
                              dc_tensor *y) {
    dc_tensor *w = mask_weights(t, out->mask);
    dc_tensor *l = w ? position_losses(h, t, out, y) : NULL;
    return dc_mean_all(t, dc_mul(t, l, w));
}

/* What compute_loss's mean is over, for a distributed fit to weigh the ranks'
 * losses as one process's mean over the whole batch: the labels' class
 * weights, the real positions under a sequence mask, else the samples. */
static double loss_weight(const dc_head *h, const dc_tensor *out, const dc_tensor *y) {
    double w = 0;
    if (h->n_class_weights > 0 && h->loss == DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        for (int64_t i = 0; i < y->size; i++) {
            int64_t c = (int64_t)y->data[i];
            w += c >= 0 && c < h->n_class_weights ? h->class_weights[c] : 0.0;
        }
        return w;
    }
    if (has_sequence_mask(out) && h->loss != DC_LOSS_DICE) {
        for (int64_t i = 0; i < out->mask->size; i++) w += out->mask->data[i] != 0.0f;
        return w;
    }
    return (double)out->shape[0];
}

/* Sparse crossentropy weighted by the compiled class weights: out (R,C), y (R,). */
static dc_tensor *weighted_crossentropy(const dc_head *h, dc_tape *t,
                                        dc_tensor *out, dc_tensor *y) {
    int64_t C = out->shape[1];
    dc_tensor *w = dc_tape_tensor(t, 1, &C);
    if (!w) return NULL;
    memcpy(w->data, h->class_weights, (size_t)C * sizeof(float));
    if (h->mode != DC_OUT_PROBS) return dc_weighted_sparse_softmax_cross_entropy(t, out, y, w);
    /* -sum(w[y] log p[y]) / sum(w[y]): the one-hot rows scaled by their weight */
    dc_tensor *wy = dc_mul(t, dc_one_hot(t, y, (int)C), w);
    dc_tensor *lp = dc_log(t, dc_clip(t, out, 1e-7f, 1.0f - 1e-7f));
    return dc_neg(t, dc_div(t, dc_sum_all(t, dc_mul(t, wy, lp)), dc_sum_all(t, wy)));
}

// out (B, ...), y (B, ...) -> loss ()
static dc_tensor *compute_loss(const dc_head *h, dc_tape *t, dc_tensor *out,
                               dc_tensor *y) {
    /* Dice and class weights pool over the whole batch: a mask does not weigh them */
    if (has_sequence_mask(out) && h->loss != DC_LOSS_DICE && !h->n_class_weights)
        return masked_loss(h, t, out, y);
    int64_t C = out->shape[out->ndim - 1], rows = out->size / (C ? C : 1);
    switch (h->loss) {
    case DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
        /* (B, ..., C) -> rows (R, C), labels (R,): sequences and pixels too */
        if (out->ndim != 2) out = dc_reshape(t, out, 2, (const int64_t[]){rows, C});
        if (y->ndim != 1) y = dc_reshape(t, y, 1, &rows);
        if (h->n_class_weights > 0) return weighted_crossentropy(h, t, out, y);
        if (h->mode == DC_OUT_PROBS) return prob_crossentropy(t, out, dc_one_hot(t, y, (int)C));
        return dc_sparse_softmax_cross_entropy(t, out, y);
    case DC_LOSS_DICE:
        if (out->ndim != 2) out = dc_reshape(t, out, 2, (const int64_t[]){rows, C});
        if (y->ndim != 1) y = dc_reshape(t, y, 1, &rows);
        return dc_dice_loss(t, out, y, h->mode == DC_OUT_PROBS, 1.0f);
    case DC_LOSS_CATEGORICAL_CROSSENTROPY:
        if (out->ndim != 2) out = dc_reshape(t, out, 2, (const int64_t[]){rows, C});
        if (!dc_tensor_same_shape(y, out)) y = dc_reshape(t, y, 2, (const int64_t[]){rows, C});
        if (h->mode == DC_OUT_PROBS) return prob_crossentropy(t, out, y);
        return dc_softmax_cross_entropy(t, out, y);
    case DC_LOSS_MSE:
        if (!dc_tensor_same_shape(y, out)) y = dc_reshape(t, y, out->ndim, out->shape);
        return dc_mse(t, out, y);
    case DC_LOSS_BINARY_CROSSENTROPY:
        if (!dc_tensor_same_shape(y, out)) y = dc_reshape(t, y, out->ndim, out->shape);
        if (h->mode == DC_OUT_PROBS) {
            /* -mean(y log p + (1 - y) log(1 - p)) */
            dc_tensor *p = dc_clip(t, out, 1e-7f, 1.0f - 1e-7f);
            dc_tensor *a = dc_mul(t, y, dc_log(t, p));
            dc_tensor *one_y = dc_add_scalar(t, dc_neg(t, y), 1.0f);
            dc_tensor *b = dc_mul(t, one_y, dc_log(t, dc_add_scalar(t, dc_neg(t, p), 1.0f)));
            return dc_neg(t, dc_mean_all(t, dc_add(t, a, b)));
        }
        return dc_binary_cross_entropy_logits(t, out, y);
    default: break;
    }
    return NULL;
}

static int64_t argmax(const float *x, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* The output as a probability/value for metrics (undoes a fused sigmoid). */
static double out_value(const dc_head *h, float v) {
    if (h->mode == DC_OUT_FUSED && h->act == DC_ACT_SIGMOID)
        return 1.0 / (1.0 + exp(-(double)v));
    if (h->mode == DC_OUT_LOGITS && h->loss == DC_LOSS_BINARY_CROSSENTROPY)
        return 1.0 / (1.0 + exp(-(double)v));
    return v;
}

// out (B, C...), y (B, ...) -> sums in acc; with a sequence mask each position
// (row of C) counts with its mask value (Keras' sample_weight = mask)
static void accumulate(const dc_head *h, dc_accum *acc, const dc_tensor *out,
                       const dc_tensor *y, float loss) {
    int64_t B = out->shape[0], C = out->shape[out->ndim - 1];
    int64_t rows = out->size / (C ? C : 1), ny = y->size / (rows ? rows : 1);
    const float *mk = has_sequence_mask(out) ? out->mask->data : NULL;
#define ROW_W(i) (mk ? (double)(mk[i] != 0.0f) : 1.0)
    acc->loss_sum += (double)loss * (double)B;
    acc->loss_n += B;
    acc->batch_loss_sum += loss;
    acc->batches++;
    for (int k = 0; k < h->n_metrics; k++) {
        dc_metric_kind kind = h->metrics[k];
        if (kind == DC_METRIC_MEAN_IOU) {
            if (C > DC_MAX_CLASS_WEIGHTS || ny != 1) continue; /* checked at compile and fit */
            for (int64_t i = 0; i < rows; i++) {
                int64_t p = argmax(out->data + i * C, C), l = (int64_t)y->data[i];
                if (l < 0 || l >= C) continue;
                acc->iou_pred[p] += ROW_W(i);
                acc->iou_true[l] += ROW_W(i);
                acc->iou_hit[l] += (p == l) * ROW_W(i);
            }
        } else if (kind == DC_METRIC_ACCURACY && C > 1) {
            /* per row of classes: an integer label or a one-hot row */
            for (int64_t i = 0; i < rows; i++) {
                int64_t p = argmax(out->data + i * C, C);
                int64_t l = ny == 1 ? (int64_t)y->data[i] : argmax(y->data + i * C, C);
                acc->sum[k] += (p == l) * ROW_W(i);
                acc->count[k] += ROW_W(i);
            }
        } else if (out->size != y->size) {
            continue; /* elementwise metrics need labels shaped like the outputs */
        } else if (kind == DC_METRIC_ACCURACY || kind == DC_METRIC_BINARY_ACCURACY) {
            for (int64_t i = 0; i < out->size; i++) {
                double hit = (out_value(h, out->data[i]) > 0.5) == (y->data[i] > 0.5f);
                acc->sum[k] += hit * ROW_W(i / C);
                acc->count[k] += ROW_W(i / C);
            }
        } else {
            for (int64_t i = 0; i < out->size; i++) {
                double d = out_value(h, out->data[i]) - y->data[i];
                acc->sum[k] += (kind == DC_METRIC_MAE ? fabs(d) : d * d) * ROW_W(i / C);
                acc->count[k] += ROW_W(i / C);
            }
        }
    }
#undef ROW_W
}

/* Keras' MeanIoU: per class tp / (pred + true - tp + 1e-7) from the
 * epoch's sums, averaged over the classes that occur in either. */
static float mean_iou(const dc_accum *acc) {
    double sum = 0;
    int valid = 0;
    for (int c = 0; c < DC_MAX_CLASS_WEIGHTS; c++) {
        double uni = acc->iou_pred[c] + acc->iou_true[c] - acc->iou_hit[c];
        if (uni == 0) continue;
        sum += acc->iou_hit[c] / (uni + 1e-7);
        valid++;
    }
    return valid ? (float)(sum / valid) : NAN;
}

/* Metric k's value over the sums so far. */
static float metric_value(const dc_head *h, const dc_accum *acc, int k) {
    if (h->metrics[k] == DC_METRIC_MEAN_IOU) return mean_iou(acc);
    return acc->count[k] > 0 ? (float)(acc->sum[k] / acc->count[k]) : NAN;
}

dc_tensor *dc_heads_loss(const dc_head *h, int n, dc_tape *t, dc_tensor *const *outs,
                         dc_tensor *const *ys, dc_tensor **each) {
    dc_tensor *total = NULL;
    for (int i = 0; i < n; i++) {
        each[i] = compute_loss(&h[i], t, outs[i], ys[i]);
        if (!each[i]) return NULL;
        dc_tensor *wl = h[i].weight != 1.0f ? dc_mul_scalar(t, each[i], h[i].weight) : each[i];
        total = total ? dc_add(t, total, wl) : wl;
    }
    return total;
}

static dc_tape *ensure_tape(dc_tape **t, bool no_record) {
    if (!*t) {
        dc_tape_options o = {.no_record = no_record};
        *t = dc_tape_new(&o);
    }
    return *t;
}

static void accum_add(dc_accum *a, const dc_accum *b) {
    a->loss_sum += b->loss_sum;
    a->loss_n += b->loss_n;
    a->batch_loss_sum += b->batch_loss_sum;
    a->batches += b->batches;
    for (int k = 0; k < DC_MAX_METRICS; k++) {
        a->sum[k] += b->sum[k];
        a->count[k] += b->count[k];
    }
    for (int c = 0; c < DC_MAX_CLASS_WEIGHTS; c++) {
        a->iou_pred[c] += b->iou_pred[c];
        a->iou_true[c] += b->iou_true[c];
        a->iou_hit[c] += b->iou_hit[c];
    }
}

/* What a pass over batches needs: the model's outputs as their losses see
 * them, and each batch as the model's inputs and targets. A dataset of
 * several arrays holds a sample's parts side by side; they are copied apart
 * into buffers made once (io_init), so a step allocates nothing. */
typedef struct {
    int n_out;
    dc_head heads[DC_MAX_MODEL_IO];
    int n_x, n_y; /* the dataset's arrays; 0: a plain x and y */
    int64_t x_size[DC_MAX_MODEL_IO], y_size[DC_MAX_MODEL_IO]; /* floats per sample */
    float *buf;
    dc_tensor xt[DC_MAX_MODEL_IO], yt[DC_MAX_MODEL_IO];
    dc_tensor *xs[DC_MAX_MODEL_IO], *ys[DC_MAX_MODEL_IO];
} pass_io;

static void io_free(pass_io *io) {
    if (io) dc_free(io->buf);
}

/* Part tensors of one side: n parts of `sizes` floats per sample, cap rows each. */
static float *io_parts(const dc_dataset *ds, bool x_side, int n, int64_t cap, float *buf,
                       int64_t *sizes, dc_tensor *ts) {
    for (int k = 0; k < n; k++) {
        dc_tensor *t = &ts[k];
        memset(t, 0, sizeof *t);
        t->ndim = 1 + (x_side ? dc_dataset_x_part_shape(ds, k, t->shape + 1)
                              : dc_dataset_y_part_shape(ds, k, t->shape + 1));
        sizes[k] = dc_shape_numel(t->ndim - 1, t->shape + 1);
        t->data = buf;
        buf += cap * sizes[k];
    }
    return buf;
}

static dc_status io_init(const char *fn, pass_io *io, const dc_model *m, const dc_dataset *ds,
                         int64_t cap) {
    memset(io, 0, sizeof *io);
    io->n_out = m->n_outputs;
    dc_heads_init(m, io->heads);
    int nx = dc_dataset_num_x(ds), ny = dc_dataset_num_y(ds);
    if (nx == 1 && ny == 1) return DC_OK;
    int64_t per = 0, s[DC_MAX_DIMS];
    for (int k = 0; k < nx; k++) per += dc_shape_numel(dc_dataset_x_part_shape(ds, k, s), s);
    for (int k = 0; k < ny; k++) per += dc_shape_numel(dc_dataset_y_part_shape(ds, k, s), s);
    io->buf = dc_malloc((size_t)(cap * per > 0 ? cap * per : 1) * sizeof(float));
    if (!io->buf) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    io->n_x = nx, io->n_y = ny;
    io_parts(ds, false, ny, cap, io_parts(ds, true, nx, cap, io->buf, io->x_size, io->xt), io->y_size,
             io->yt);
    return DC_OK;
}

/* rows (B, sum of sizes) -> n part tensors (B, part...) */
static void io_cut(const dc_tensor *rows, int n, const int64_t *sizes, dc_tensor *ts,
                   dc_tensor **out) {
    int64_t B = rows->shape[0], per = rows->size / (B ? B : 1), col = 0;
    for (int k = 0; k < n; k++) {
        for (int64_t i = 0; i < B; i++)
            memcpy(ts[k].data + i * sizes[k], rows->data + i * per + col,
                   (size_t)sizes[k] * sizeof(float));
        ts[k].shape[0] = B;
        ts[k].size = B * sizes[k];
        out[k] = &ts[k];
        col += sizes[k];
    }
}

/* The batch (x, y) as io->xs and io->ys. */
static void io_split(pass_io *io, dc_tensor *x, dc_tensor *y) {
    if (io->n_x == 0) {
        io->xs[0] = x;
        io->ys[0] = y;
        return;
    }
    io_cut(x, io->n_x, io->x_size, io->xt, io->xs);
    io_cut(y, io->n_y, io->y_size, io->yt, io->ys);
}

/* Forward and the summed loss of one batch (io->xs, io->ys): outs and each
 * get every output and its loss. NULL on failure (the tape says why). */
static dc_tensor *step_loss(dc_model *m, pass_io *io, dc_tape *t, bool training,
                            dc_tensor **outs, dc_tensor **each) {
    if (dc_model_run(m, t, io->xs, training, dc_heads_fused(io->heads, io->n_out), outs) != DC_OK)
        return NULL;
    return dc_heads_loss(io->heads, io->n_out, t, outs, io->ys, each);
}

static void accumulate_all(const pass_io *io, dc_accum *acc, dc_tensor *const *outs,
                           dc_tensor *const *each) {
    for (int i = 0; i < io->n_out; i++) accumulate(&io->heads[i], &acc[i], outs[i], io->ys[i], each[i]->data[0]);
}

/* The mean summed loss: sum_i w_i mean(loss_i). One output: its mean as is. */
static float total_loss(const pass_io *io, const dc_accum *acc) {
    if (!acc[0].loss_n) return NAN;
    if (io->n_out == 1) return (float)(acc[0].loss_sum / (double)acc[0].loss_n);
    double sum = 0;
    for (int i = 0; i < io->n_out; i++) sum += io->heads[i].weight * acc[i].loss_sum;
    return (float)(sum / (double)acc[0].loss_n);
}

/* One pass over a batcher without training: the sums of each output (with
 * dist: each rank's part of every batch, the sums summed over the ranks at
 * the end, batch_lw holding 3 doubles a batch till then). */
static dc_status run_eval(const char *fn, dc_model *m, pass_io *io, dc_batcher *b,
                          const dc_dist *dist, dc_accum *acc, double *batch_lw) {
    dc_tape *t = ensure_tape(&m->infer_tape, true);
    if (!t) return dc_last_status();
    memset(acc, 0, (size_t)io->n_out * sizeof *acc);
    dc_tensor *x, *y, *outs[DC_MAX_MODEL_IO], *each[DC_MAX_MODEL_IO];
    dc_batcher_reset(b);
    int64_t n, k = 0;
    while ((n = dc_batcher_next(b, &x, &y)) > 0) {
        /* with dist: this part's loss x its weight, the weight, and the
         * batch's samples from rank 0 alone (the sum is them) */
        double *lw = dist ? batch_lw + 3 * k++ : (double[3]){0};
        lw[0] = lw[1] = 0;
        lw[2] = dist && dist->rank == 0 ? (double)n : 0;
        if (x->shape[0] > 0) { /* this rank's part of a short batch may be empty */
            dc_tape_reset(t);
            io_split(io, x, y);
            if (!step_loss(m, io, t, false, outs, each) || dc_tape_status(t) != DC_OK)
                return dc_set_error(dc_tape_status(t) != DC_OK ? dc_tape_status(t) : DC_ERR_STATE,
                                    "%s: %s", fn, dc_tape_error(t));
            accumulate_all(io, acc, outs, each);
            if (dist) { /* one output (checked) */
                lw[1] = loss_weight(&io->heads[0], outs[0], io->ys[0]);
                lw[0] = (double)each[0]->data[0] * lw[1];
            }
        }
    }
    if (!dist) return DC_OK;
    if (dc_fit_dist_sum_loss(dist, batch_lw, 3 * k) != DC_OK ||
        dc_fit_dist_sum_accum(dist, acc, NULL) != DC_OK)
        return dc_last_status();
    /* each batch's loss over all ranks, times its samples, as one process logs it */
    acc[0].loss_sum = 0;
    for (int64_t i = 0; i < k; i++) {
        const double *v = batch_lw + 3 * i;
        acc[0].loss_sum += v[1] > 0 ? (double)(float)(v[0] / v[1]) * v[2] : 0.0;
    }
    return DC_OK;
}

/* Checks one array's sample shape against model input i. */
static dc_status check_input(const char *fn, const char *what, const dc_model *m, int i,
                             int xn, const int64_t *xs) {
    const dc_call_node *nd = &m->nodes[m->inputs[i]];
    bool ok = xn == nd->ndim;
    for (int d = 0; ok && d < xn; d++) ok = xs[d] == nd->shape[d] || nd->shape[d] == -1;
    if (ok) return DC_OK;
    char a[128], b[128];
    if (m->n_inputs == 1)
        return dc_set_error(DC_ERR_SHAPE, "%s: %s samples %s do not match the model's input %s",
                            fn, what, dc_layer_shape_string(xn, xs, a, sizeof a),
                            dc_layer_shape_string(nd->ndim, nd->shape, b, sizeof b));
    return dc_set_error(DC_ERR_SHAPE, "%s: %s input array %d: samples %s do not match input '%s' %s",
                        fn, what, i, dc_layer_shape_string(xn, xs, a, sizeof a),
                        nd->layer ? nd->layer->name : "input",
                        dc_layer_shape_string(nd->ndim, nd->shape, b, sizeof b));
}

/* Checks the dataset's arrays against the model's inputs and outputs. */
static dc_status check_dataset(const char *fn, const char *what, dc_model *m,
                               const dc_dataset *ds) {
    int nx = dc_dataset_num_x(ds), ny = dc_dataset_num_y(ds);
    if (nx != m->n_inputs || ny != m->n_outputs)
        return dc_set_error(DC_ERR_ARG,
                            "%s: the %s data holds %d input and %d target arrays; model '%s' has "
                            "%d inputs and %d outputs (dc_dataset_from_multi_arrays)",
                            fn, what, nx, ny, m->name, m->n_inputs, m->n_outputs);
    dc_head heads[DC_MAX_MODEL_IO];
    dc_heads_init(m, heads);
    int64_t s[DC_MAX_DIMS];
    for (int i = 0; i < nx; i++)
        if (check_input(fn, what, m, i, dc_dataset_x_part_shape(ds, i, s), s) != DC_OK)
            return dc_last_status();
    for (int i = 0; i < ny; i++) {
        if (check_labels(fn, &heads[i], dc_dataset_y_part_shape(ds, i, s), s) == DC_OK) continue;
        if (ny == 1) return dc_last_status();
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status(), "output %d ('%s') of the %s data: %s", i,
                            heads[i].name, what, msg);
    }
    return DC_OK;
}

static dc_status ready(const char *fn, dc_model *m, const dc_dataset *ds) {
    if (!m || !ds) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, m ? "dataset" : "model");
    if (!m->compiled)
        return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not compiled (call dc_model_compile first)",
                            fn, m->name);
    return DC_OK;
}

/* ---- logs: Keras' names ---- */

typedef struct {
    dc_logs logs;            /* keys point into names */
    char names[DC_MAX_LOGS][DC_HIST_KEY];
    /* [0] training, [1] validation: the summed loss, each output's loss
     * (several outputs), each output's metrics; -1 where not logged */
    int i_loss[2], i_out_loss[2][DC_MAX_MODEL_IO], i_metric[2][DC_MAX_MODEL_IO][DC_MAX_METRICS];
    int i_lr;
    int i_ppl, i_val_ppl; /* perplexity = exp(loss), or -1 */
} fit_logs;

static int add_key(fit_logs *fl, const char *name) {
    int i = fl->logs.n++;
    snprintf(fl->names[i], DC_HIST_KEY, "%s", name);
    fl->logs.keys[i] = fl->names[i];
    fl->logs.values[i] = NAN;
    return i;
}

/* How many keys the logs take: per side the loss, then per output its loss
 * (several) and its metrics; lr; perplexities. */
static int count_keys(const pass_io *io, bool val, bool ppl) {
    int n = 1;
    for (int i = 0; i < io->n_out; i++) n += (io->n_out > 1) + io->heads[i].n_metrics;
    return n * (val ? 2 : 1) + 1 + (ppl ? (val ? 2 : 1) : 0);
}

/* Keras' keys of one side: "loss", then "cls_loss", "cls_accuracy" ... for
 * several outputs, or the metric names for one. */
static void add_side(fit_logs *fl, const pass_io *io, int v) {
    const char *pre = v ? "val_" : "";
    char name[DC_HIST_KEY];
    snprintf(name, sizeof name, "%sloss", pre);
    fl->i_loss[v] = add_key(fl, name);
    for (int i = 0; i < io->n_out; i++) {
        const dc_head *h = &io->heads[i];
        snprintf(name, sizeof name, "%s%s_loss", pre, h->name);
        fl->i_out_loss[v][i] = io->n_out > 1 ? add_key(fl, name) : -1;
        for (int k = 0; k < h->n_metrics; k++) {
            snprintf(name, sizeof name, "%s%s%s%s", pre, io->n_out > 1 ? h->name : "",
                     io->n_out > 1 ? "_" : "", dc_metric_name(h->metrics[k]));
            fl->i_metric[v][i][k] = add_key(fl, name);
        }
    }
}

static dc_status fit_logs_init(const char *fn, fit_logs *fl, const pass_io *io, bool val, bool ppl) {
    memset(fl, 0, sizeof *fl);
    /* the history adds its fixed columns: room for them too */
    if (count_keys(io, val, ppl) + 4 > DC_MAX_LOGS)
        return dc_set_error(DC_ERR_ARG, "%s: %d outputs and their metrics make %d log keys (at most %d)",
                            fn, io->n_out, count_keys(io, val, ppl), DC_MAX_LOGS - 4);
    add_side(fl, io, 0);
    fl->i_loss[1] = -1;
    if (val) add_side(fl, io, 1);
    fl->i_lr = add_key(fl, "lr");
    fl->i_ppl = ppl ? add_key(fl, "perplexity") : -1;
    fl->i_val_ppl = ppl && val ? add_key(fl, "val_perplexity") : -1;
    return DC_OK;
}

/* One side's values from its sums (v 0: training, 1: validation). */
static void set_logs(fit_logs *fl, const pass_io *io, const dc_accum *acc, int v) {
    float *val = fl->logs.values;
    val[fl->i_loss[v]] = total_loss(io, acc);
    for (int i = 0; i < io->n_out; i++) {
        if (fl->i_out_loss[v][i] >= 0) /* as Keras 3: each batch counts once */
            val[fl->i_out_loss[v][i]] =
                acc[i].batches ? (float)(acc[i].batch_loss_sum / (double)acc[i].batches) : NAN;
        for (int k = 0; k < io->heads[i].n_metrics; k++)
            val[fl->i_metric[v][i][k]] = metric_value(&io->heads[i], &acc[i], k);
    }
    int ppl = v ? fl->i_val_ppl : fl->i_ppl;
    if (ppl >= 0) val[ppl] = expf(val[fl->i_loss[v]]);
}

/* evaluate's pass over ds: fl gets the keys and values of one side. */
static dc_status evaluate_into(const char *fn, dc_model *m, const dc_dataset *ds,
                               int64_t batch_size, fit_logs *fl, pass_io *io) {
    if (ready(fn, m, ds) != DC_OK) return dc_last_status();
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
    if (check_dataset(fn, "the", m, ds) != DC_OK) return dc_last_status();
    int64_t bs = batch_size > 0 ? batch_size : 32;
    dc_batcher *b = dc_batcher_new(ds, bs, false, 0);
    dc_accum *acc = dc_calloc(DC_MAX_MODEL_IO, sizeof *acc);
    dc_status s = !b ? dc_last_status()
                  : !acc ? dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn)
                         : io_init(fn, io, m, ds, bs);
    if (s == DC_OK && (s = fit_logs_init(fn, fl, io, false, false)) == DC_OK &&
        (s = run_eval(fn, m, io, b, NULL, acc, NULL)) == DC_OK)
        set_logs(fl, io, acc, 0);
    dc_free(acc);
    dc_batcher_free(b);
    return s;
}

dc_status dc_model_evaluate_logs(dc_model *m, const dc_dataset *ds, int64_t batch_size,
                                 dc_logs *out) {
    const char *fn = "dc_model_evaluate_logs";
    if (!out) return dc_set_error(DC_ERR_ARG, "%s: logs is NULL", fn);
    pass_io io = {0};
    fit_logs *fl = dc_malloc(sizeof *fl);
    dc_status s = fl ? evaluate_into(fn, m, ds, batch_size, fl, &io)
                     : dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    if (s == DC_OK) { /* the keys live in the model until its next evaluate */
        memcpy(m->eval_keys, fl->names, sizeof m->eval_keys);
        *out = fl->logs;
        out->n--; /* no lr */
        for (int k = 0; k < out->n; k++) out->keys[k] = m->eval_keys[k];
    }
    io_free(&io);
    dc_free(fl);
    return s;
}

dc_status dc_model_evaluate(dc_model *m, const dc_dataset *ds, int64_t batch_size, float *loss,
                            float *metrics) {
    const char *fn = "dc_model_evaluate";
    if (!loss && m && ds) return dc_set_error(DC_ERR_ARG, "%s: loss is NULL", fn);
    pass_io io = {0};
    fit_logs *fl = dc_malloc(sizeof *fl);
    dc_status s = fl ? evaluate_into(fn, m, ds, batch_size, fl, &io)
                     : dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    if (s == DC_OK) {
        *loss = fl->logs.values[fl->i_loss[0]];
        for (int i = 0, k = 0; i < io.n_out && metrics; i++) /* each output's in turn */
            for (int j = 0; j < io.heads[i].n_metrics; j++)
                metrics[k++] = fl->logs.values[fl->i_metric[0][i][j]];
    }
    io_free(&io);
    dc_free(fl);
    return s;
}

/* Rows [s, s+n) of x as a view (the no-record tape keeps no pointer to it). */
static dc_tensor row_view(const dc_tensor *x, int64_t s, int64_t n) {
    int64_t N = x->shape[0], per = x->size / (N ? N : 1);
    dc_tensor v = *x;
    v.shape[0] = n;
    v.size = n * per;
    v.data = x->data + s * per;
    v.grad = NULL;
    v.mask = NULL;
    v.flags = 0;
    v.tape = NULL;
    return v;
}

/* Output i's result for N samples: made at the first batch, whose output
 * gives a None axis (-1) its length. */
static dc_tensor *result_for(const dc_tensor *out, int64_t N) {
    int64_t os[DC_MAX_DIMS];
    memcpy(os, out->shape, (size_t)out->ndim * sizeof *os);
    os[0] = N;
    return dc_tensor_zeros(out->ndim, os);
}

/* The outputs for xs (N, input i...) in batches: outs[i] new tensors. */
static dc_status predict_all(const char *fn, dc_model *m, dc_tensor *const *xs,
                             int64_t batch_size, dc_tensor **res) {
    int64_t N = xs[0]->shape[0], bs = batch_size > 0 ? batch_size : 32;
    for (int i = 1; i < m->n_inputs; i++)
        if (xs[i]->shape[0] != N)
            return dc_set_error(DC_ERR_SHAPE, "%s: input %d holds %lld samples, input 0 %lld", fn,
                                i, (long long)xs[i]->shape[0], (long long)N);
    dc_tape *t = ensure_tape(&m->infer_tape, true);
    if (!t) return dc_last_status();
    for (int i = 0; i < m->n_outputs; i++) res[i] = NULL;
    dc_status st = DC_OK;
    for (int64_t s = 0; s < N && st == DC_OK; s += bs) {
        int64_t n = DC_MIN(bs, N - s);
        dc_tensor views[DC_MAX_MODEL_IO], *vs[DC_MAX_MODEL_IO], *outs[DC_MAX_MODEL_IO];
        for (int i = 0; i < m->n_inputs; i++) views[i] = row_view(xs[i], s, n), vs[i] = &views[i];
        dc_tape_reset(t);
        if (dc_model_run(m, t, vs, false, 0, outs) != DC_OK || dc_tape_status(t) != DC_OK) {
            st = dc_set_error(dc_tape_status(t) != DC_OK ? dc_tape_status(t) : DC_ERR_STATE,
                              "%s: %s", fn, dc_tape_error(t));
            break;
        }
        for (int i = 0; i < m->n_outputs && st == DC_OK; i++) {
            if (!res[i] && !(res[i] = result_for(outs[i], N))) st = dc_last_status();
            int64_t per = res[i] ? res[i]->size / N : 0;
            if (res[i]) memcpy(res[i]->data + s * per, outs[i]->data, (size_t)(n * per) * sizeof(float));
        }
    }
    dc_tape_reset(t);
    for (int i = 0; i < m->n_outputs && st == DC_OK && N == 0; i++) {
        int64_t os[DC_MAX_DIMS] = {0}; /* no samples: (0, the output's shape) with None as 0 */
        const dc_call_node *nd = &m->nodes[m->outputs[i]];
        for (int d = 0; d < nd->ndim; d++) os[d + 1] = nd->shape[d] > 0 ? nd->shape[d] : 0;
        if (!(res[i] = dc_tensor_zeros(nd->ndim + 1, os))) st = dc_last_status();
    }
    if (st != DC_OK)
        for (int i = 0; i < m->n_outputs; i++) dc_tensor_free(res[i]), res[i] = NULL;
    return st;
}

/* predict's checks: a built model and n inputs that match it. */
static dc_status predict_ready(const char *fn, const dc_model *m, dc_tensor *const *xs, int n) {
    if (!m || !xs) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, m ? "x" : "model");
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
    if (n != m->n_inputs)
        return dc_set_error(DC_ERR_ARG, "%s: %d input arrays; model '%s' has %d inputs", fn, n,
                            m->name, m->n_inputs);
    if (n == 1) return dc_model_check_input(fn, "x", m, xs[0]);
    return dc_model_check_inputs(fn, m, xs);
}

dc_tensor *dc_model_predict(dc_model *m, const dc_tensor *x, int64_t batch_size) {
    const char *fn = "dc_model_predict";
    dc_tensor *xs[1] = {(dc_tensor *)(uintptr_t)x}, *res[DC_MAX_MODEL_IO];
    if (predict_ready(fn, m, x ? xs : NULL, 1) != DC_OK) return NULL;
    if (m->n_outputs != 1) {
        dc_set_error(DC_ERR_ARG, "%s: model '%s' has %d outputs (dc_model_predict_multi)", fn,
                     m->name, m->n_outputs);
        return NULL;
    }
    return predict_all(fn, m, xs, batch_size, res) == DC_OK ? res[0] : NULL;
}

dc_status dc_model_predict_multi(dc_model *m, dc_tensor *const *xs, int n_x, int64_t batch_size,
                                 dc_tensor **outs) {
    const char *fn = "dc_model_predict_multi";
    if (!outs) return dc_set_error(DC_ERR_ARG, "%s: outs is NULL", fn);
    if (predict_ready(fn, m, xs, n_x) != DC_OK) return dc_last_status();
    return predict_all(fn, m, xs, batch_size, outs);
}

/* ---- fit ---- */

/* A history holding fit's keys: the fixed columns, then the other metrics. */
static dc_history *history_for(const fit_logs *fl, int epochs) {
    const char *extra[DC_MAX_LOGS];
    int n = 0;
    static const char *const fixed[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"};
    for (int i = 0; i < fl->logs.n; i++) {
        bool is_fixed = false;
        for (int j = 0; j < 5; j++) is_fixed = is_fixed || !strcmp(fl->logs.keys[i], fixed[j]);
        if (!is_fixed) extra[n++] = fl->logs.keys[i];
    }
    dc_history *h = dc_history_new(extra, n, epochs);
    for (int i = 0; h && i < fl->logs.n; i++) dc_history_mark_present(h, fl->logs.keys[i]);
    return h;
}

void dc_model_request_stop(dc_model *m) {
    if (m) m->stop_requested = 1;
}

/* Whether n floats are all finite. NaN and Inf have every exponent bit set,
 * and only then does adding 1 to the exponent carry into the sign bit: an
 * integer OR, which the compiler vectorizes (a float sum would be a serial
 * chain). */
static bool all_finite(const float *x, size_t n) {
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        union { float f; uint32_t u; } v = {x[i]}; /* C11's type punning */
        bad |= (v.u & 0x7f800000u) + 0x00800000u;
    }
    return !(bad & 0x80000000u);
}

static dc_status numeric_stop(const char *fn, int epoch, int64_t batch, const char *what,
                              double v) {
    return dc_set_error(DC_ERR_NUMERIC,
                        "%s: epoch %d, batch %lld: %s %g (TerminateOnNaN): training stopped; "
                        "the weights are the last finite ones, from before this batch's step",
                        fn, epoch + 1, (long long)batch + 1, what, v);
}

int64_t dc_fit_split_train_count(int64_t n, float validation_split) {
    /* the split as the user wrote it (0.2f is 0.2000000029...), so that
     * floor(n * (1 - split)) gives Keras' count */
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)validation_split);
    return (int64_t)floor((double)n * (1.0 - strtod(buf, NULL)));
}

/* The next training batch. With steps_per_epoch (Keras' steps_per_epoch) an
 * epoch is that many batches drawn from one running stream: the batcher is
 * not rewound between epochs, and at the end of the data it starts its next
 * shuffled pass, so a short epoch never sees the same batches twice in a row. */
static int64_t next_train_batch(dc_batcher *b, int64_t steps_per_epoch, int64_t done,
                                dc_tensor **x, dc_tensor **y) {
    if (steps_per_epoch <= 0) return dc_batcher_next(b, x, y);
    if (done >= steps_per_epoch) return 0;
    int64_t n = dc_batcher_next(b, x, y);
    return n > 0 ? n : dc_batcher_next(b, x, y);
}

/* Brings a fresh batcher to where a resumed run stopped: epoch k's order costs
 * k+1 shuffles; with steps_per_epoch the stream that ran on across epochs is
 * drawn again up to the batch the checkpoint reached (the same batches, since
 * each pass's order depends only on the seed and the pass). Whole-pass epochs
 * skip a resumed epoch's done batches after the epoch loop's own reset. */
static void replay_batches(dc_batcher *b, int64_t steps_per_epoch, const dc_fit_pos *pos) {
    dc_tensor *x, *y;
    if (steps_per_epoch > 0) {
        int64_t drawn = (int64_t)pos->epoch * steps_per_epoch + pos->batch;
        for (int64_t i = 0; i < drawn; i++) next_train_batch(b, steps_per_epoch, 0, &x, &y);
        return;
    }
    for (int e = 0; e < pos->epoch; e++) dc_batcher_reset(b); /* the epoch loop skips the rest */
}

dc_status dc_model_fit(dc_model *m, const dc_dataset *train, const dc_fit_options *opt,
                       dc_history **out) {
    const char *fn = "dc_model_fit";
    static const dc_fit_options defaults = {0};
    if (out) *out = NULL;
    if (ready(fn, m, train) != DC_OK) return dc_last_status();
    if (!opt) opt = &defaults;
    int epochs = opt->epochs > 0 ? opt->epochs : 1;
    int64_t bs = opt->batch_size > 0 ? opt->batch_size : 32;
    if (opt->initial_epoch < 0 || opt->initial_epoch >= epochs)
        return dc_set_error(DC_ERR_ARG, "%s: initial_epoch %d must be in [0, epochs %d)", fn,
                            opt->initial_epoch, epochs);
    if (opt->steps_per_epoch < 0)
        return dc_set_error(DC_ERR_ARG, "%s: steps_per_epoch %lld must not be negative", fn,
                            (long long)opt->steps_per_epoch);
    if (opt->epochs < 0 || opt->batch_size < 0 || opt->n_callbacks < 0 ||
        (opt->n_callbacks > 0 && !opt->callbacks))
        return dc_set_error(DC_ERR_ARG, "%s: epochs %d, batch_size %lld and n_callbacks %d must not be negative",
                            fn, opt->epochs, (long long)opt->batch_size, opt->n_callbacks);
    if (!(opt->validation_split >= 0.0f && opt->validation_split < 1.0f))
        return dc_set_error(DC_ERR_ARG, "%s: validation_split %g must be in [0, 1)", fn,
                            (double)opt->validation_split);
    if (opt->dist && dc_fit_dist_check(fn, opt->dist) != DC_OK) return dc_last_status();
    if (opt->dist && opt->dist->size > 1 && (m->n_inputs > 1 || m->n_outputs > 1))
        return dc_set_error(DC_ERR_UNSUPPORTED,
                            "%s: data-parallel fit takes models of one input and one output; "
                            "model '%s' has %d and %d", fn, m->name, m->n_inputs, m->n_outputs);
    /* one rank is a plain fit; after 0, a rank writes no files */
    const dc_dist *dist = opt->dist && opt->dist->size > 1 ? opt->dist : NULL;
    const bool root = !dist || dist->rank == 0;
    if (!m->built) {
        int64_t xs[DC_MAX_DIMS]; /* several arrays: a functional model knows its shapes */
        int xn = dc_dataset_num_x(train) == 1 ? dc_dataset_x_shape(train, xs) : 0;
        if (dc_model_build(m, xn, xs, opt->seed) != DC_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", dc_last_error());
            return dc_set_error(dc_last_status(), "%s: %s", fn, msg);
        }
    }
    if (check_dataset(fn, "training", m, train) != DC_OK) return dc_last_status();
    if (opt->validation_data && check_dataset(fn, "validation", m, opt->validation_data) != DC_OK)
        return dc_last_status();
    if (!m->opt) {
        m->opt = dc_optimizer_new(&m->copt.optimizer, m->n_trainable);
        if (!m->opt) return dc_last_status();
    }
    if (!ensure_tape(&m->tape, false) || !ensure_tape(&m->infer_tape, true))
        return dc_last_status();

    /* the split: Keras takes the LAST fraction, before any shuffling */
    int64_t n = dc_dataset_count(train);
    if (n < 1) /* no step would run: a NaN history that looks like a result */
        return dc_set_error(DC_ERR_ARG, "%s: the training dataset has no samples", fn);
    dc_dataset *tr_view = NULL, *val_view = NULL;
    const dc_dataset *tr = train, *val = opt->validation_data;
    if (!val && opt->validation_split > 0.0f) {
        int64_t n_tr = dc_fit_split_train_count(n, opt->validation_split);
        if (n_tr < 1 || n_tr >= n)
            return dc_set_error(DC_ERR_ARG, "%s: validation_split %g of %lld samples leaves an empty split",
                                fn, (double)opt->validation_split, (long long)n);
        tr_view = dc_dataset_view((dc_dataset *)train, 0, n_tr);
        val_view = dc_dataset_view((dc_dataset *)train, n_tr, n - n_tr);
        if (!tr_view || !val_view) {
            dc_dataset_free(tr_view);
            dc_dataset_free(val_view);
            return dc_last_status();
        }
        tr = tr_view;
        val = val_view;
    }
    /* Keras' clipnorm clips each variable's gradient on its own, which the
     * flat step cannot (it sees one buffer): then the step goes through
     * dc_optimizer_apply over the trainable tensors, listed once here. */
    dc_tensor **vars = NULL;
    int n_vars = 0;
    if (m->copt.optimizer.clipnorm > 0) {
        vars = dc_malloc((size_t)(m->n_params ? m->n_params : 1) * sizeof *vars);
        if (!vars) {
            dc_dataset_free(tr_view);
            dc_dataset_free(val_view);
            return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        }
        for (int i = 0; i < m->n_params; i++)
            if (m->params[i]->trainable) vars[n_vars++] = m->params[i]->t;
        if (n_vars == 0) { /* nothing to clip; apply would refuse an all-frozen model */
            dc_free(vars);
            vars = NULL;
        }
    }
    /* Keras takes the whole set as one batch then; said aloud, as that
     * batch's activations can take far more memory than a user expects */
    if (bs > dc_dataset_count(tr)) {
        dc_log_message(DC_LOG_WARN, "%s: batch_size %lld is more than the %lld training samples; "
                       "each epoch is one batch of %lld", fn, (long long)bs,
                       (long long)dc_dataset_count(tr), (long long)dc_dataset_count(tr));
        if (opt->progress && opt->verbose)
            fprintf(opt->progress,
                    "Notice: batch_size %lld is more than the %lld training samples; each epoch "
                    "is one batch of %lld\n",
                    (long long)bs, (long long)dc_dataset_count(tr), (long long)dc_dataset_count(tr));
        bs = dc_dataset_count(tr);
    }
    dc_status st = DC_OK;
    dc_batcher *b = dc_batcher_new(tr, bs, !opt->no_shuffle, opt->seed);
    dc_batcher *vb = val ? dc_batcher_new(val, bs, false, 0) : NULL;
    /* the validation batches are never larger: they share the buffers */
    pass_io io = {0};
    fit_logs fl;
    dc_history *h = NULL;
    /* sums per output: acc[i] this epoch's, step_acc[i] a batch's over all ranks */
    dc_accum *acc = dc_calloc(2 * DC_MAX_MODEL_IO, sizeof *acc);
    dc_accum *step_acc = acc ? acc + DC_MAX_MODEL_IO : NULL;
    if (!acc) st = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    if (st == DC_OK && (st = io_init(fn, &io, m, tr, bs)) == DC_OK &&
        (st = fit_logs_init(fn, &fl, &io, val != NULL, opt->perplexity)) == DC_OK)
        h = history_for(&fl, epochs - opt->initial_epoch);
    if (h) h->first_epoch = opt->initial_epoch;
    dc_cb_state *cbs = NULL;
    float *before_step = NULL;
    double *val_lw = NULL; /* with dist: run_eval's sums per validation batch */
    bool interrupted = false; /* by dc_model_request_stop, to be resumed */
    if (st != DC_OK) goto done;
    if (!b || (val && !vb) || !h ||
        (dist && (dc_batcher_shard(b, dist->rank, dist->size) != DC_OK ||
                  (vb && dc_batcher_shard(vb, dist->rank, dist->size) != DC_OK)))) {
        st = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_NOMEM;
        goto done;
    }
    cbs = dc_callbacks_begin(m, opt->callbacks, opt->n_callbacks, &fl.logs, h, root);
    if (!cbs) {
        st = dc_last_status();
        goto done;
    }
    dc_progress prog = {.f = opt->progress, .verbose = opt->progress ? opt->verbose : 0};
    int64_t steps = opt->steps_per_epoch > 0 ? opt->steps_per_epoch : dc_batcher_num_batches(b);
    m->stop_training = false;
    bool nan_stop = dc_callbacks_terminate_on_nan(cbs);
    /* with dist: a batch's stop decision that only rank 0 makes */
    const bool batch_follow = dist && dc_fit_dist_batch_decisions(opt->callbacks, opt->n_callbacks);
    /* TerminateOnNaN keeps the weights of before a step that makes them NaN */
    before_step = nan_stop ? dc_malloc((m->n_trainable ? m->n_trainable : 1) * sizeof(float)) : NULL;
    if (dist && vb && !(val_lw = dc_malloc((size_t)(3 * dc_batcher_num_batches(vb)) * sizeof(double)))) {
        st = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    if (nan_stop && !before_step) {
        st = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto done;
    }
    dc_fit_setup su = {opt->seed, !opt->no_shuffle, dc_dataset_count(tr), bs,
                       opt->steps_per_epoch};
    dc_fit_pos pos = {.epoch = opt->initial_epoch};
    if (opt->resume_from) {
        if ((st = dc_fit_state_load(opt->resume_from, m, cbs, h, &pos, &su)) != DC_OK) goto done;
        replay_batches(b, opt->steps_per_epoch, &pos);
        m->stop_training = pos.done;
    }
    for (int epoch = pos.epoch; epoch < epochs && !m->stop_training; epoch++) {
        memset(acc, 0, (size_t)io.n_out * sizeof *acc);
        bool mid = epoch == pos.epoch && pos.batch > 0; /* resumed inside this epoch */
        if (mid) acc[0] = pos.acc; /* one output: several never stop mid-epoch */
        float lr = mid ? pos.lr : dc_optimizer_learning_rate(m->opt);
        for (int k = 0; k < fl.logs.n; k++) fl.logs.values[k] = NAN; /* no stale val_ values */
        double t0 = dc_now();
        dc_progress_epoch_begin(&prog, epoch, epochs, steps);
        if (opt->steps_per_epoch <= 0) dc_batcher_reset(b);
        dc_tensor *x, *y;
        int64_t batch = 0;
        if (mid && opt->steps_per_epoch > 0) batch = pos.batch; /* replay_batches drew them */
        for (; mid && batch < pos.batch && dc_batcher_next(b, &x, &y) > 0; batch++) {}
        int64_t n_batch; /* the whole batch's samples; x holds this rank's part */
        while (!m->stop_training &&
               (n_batch = next_train_batch(b, opt->steps_per_epoch, batch, &x, &y)) > 0) {
            dc_tape *t = m->tape;
            dc_tape_reset(t);
            if (dist) dc_fit_dist_set_part(dist, t, n_batch);
            const bool empty = x->shape[0] == 0; /* a rank's part of a short batch */
            dc_tensor *outs[DC_MAX_MODEL_IO], *each[DC_MAX_MODEL_IO];
            io_split(&io, x, y);
            dc_tensor *loss = empty ? NULL : step_loss(m, &io, t, true, outs, each);
            dc_model_zero_grad(m);
            bool failed = !empty && (!loss || dc_tape_status(t) != DC_OK);
            float batch_loss = loss ? loss->data[0] : NAN;
            /* with dist: this part's loss x its weight and the weight, then their sums */
            double lw[2] = {0, 0};
            if (dist && !failed) { /* one output (checked) */
                memset(step_acc, 0, sizeof *step_acc);
                if (!empty) {
                    accumulate_all(&io, step_acc, outs, each);
                    lw[1] = loss_weight(&io.heads[0], outs[0], io.ys[0]);
                    lw[0] = (double)batch_loss * lw[1];
                }
            }
            if (!dist && !failed && nan_stop && !isfinite(batch_loss)) {
                st = numeric_stop(fn, epoch, batch, "the loss is", batch_loss);
                goto done;
            }
            dc_fit_dist_overlap ov; /* with dist: the gradient summed as backward goes */
            const bool overlap =
                dist && !failed && dc_fit_dist_overlap_begin(&ov, dist, m, t, lw[1], (double)n_batch);
            failed = failed || (!empty && dc_tape_backward(t, loss) != DC_OK);
            /* with dist: the step's sums, the ranks meeting once (a stop request read there) */
            bool requested = m->stop_requested;
            if (!failed && dist &&
                ((st = dc_fit_dist_sum_step(dist, m, overlap ? &ov : NULL, n_batch, step_acc, lw,
                                            &requested)) != DC_OK ||
                 (n_batch < dist->size && (st = dc_fit_dist_sync_rngs(dist, m)) != DC_OK)))
                goto done;
            if (dist && !failed) {
                batch_loss = lw[1] > 0 ? (float)(lw[0] / lw[1]) : 0.0f;
                step_acc->loss_sum = (double)batch_loss * (double)step_acc->loss_n;
                if (nan_stop && !isfinite(batch_loss)) { /* before the step, as one process */
                    st = numeric_stop(fn, epoch, batch, "the loss is", batch_loss);
                    goto done;
                }
            }
            if (!failed && before_step) memcpy(before_step, m->weights, m->n_trainable * sizeof(float));
            if (failed ||
                (vars ? dc_optimizer_apply(m->opt, vars, n_vars)
                      : dc_optimizer_step(m->opt, m->weights, m->grads, m->n_trainable)) != DC_OK) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s",
                         dc_tape_status(t) != DC_OK ? dc_tape_error(t) : dc_last_error());
                st = dc_set_error(dc_tape_status(t) != DC_OK ? dc_tape_status(t)
                                  : dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_STATE,
                                  "%s: epoch %d, batch %lld: %s", fn, epoch + 1,
                                  (long long)batch + 1, msg);
                goto done;
            }
            if (before_step && !all_finite(m->weights, m->n_trainable)) { /* the step overflowed */
                memcpy(m->weights, before_step, m->n_trainable * sizeof(float));
                st = numeric_stop(fn, epoch, batch, "the step made weights NaN or Inf; loss",
                                  batch_loss);
                goto done;
            }
            if (dist) accum_add(acc, step_acc);
            else accumulate_all(&io, acc, outs, each);
            if (prog.verbose == 1) {
                set_logs(&fl, &io, acc, 0);
                dc_progress_batch(&prog, batch + 1, &fl.logs);
            }
            bool stop = dc_callbacks_batch_end(cbs, epoch, batch, batch_loss);
            if (!dist) requested = m->stop_requested; /* read once: a signal may set it any time */
            if (batch_follow && (st = dc_fit_dist_follow(dist, m, &stop, &requested, false)) != DC_OK)
                goto done;
            if (stop) m->stop_training = true;
            batch++;
            /* a mid-epoch checkpoint to resume at; it keeps one output's
             * sums, so several outputs stop at the epoch's end */
            if (requested && batch < steps && io.n_out == 1) {
                m->stop_requested = 0;
                interrupted = true;
                dc_fit_pos p = {.epoch = epoch, .batch = batch, .acc = acc[0], .lr = lr};
                if (dist && (st = dc_fit_dist_average_moving_stats(dist, m)) != DC_OK) goto done;
                if (opt->checkpoint_path && root)
                    st = dc_fit_state_save(opt->checkpoint_path, m, cbs, h, &p, &su);
                goto done;
            }
        }
        set_logs(&fl, &io, acc, 0);
        if (dist && (st = dc_fit_dist_average_moving_stats(dist, m)) != DC_OK) goto done;
        if (vb) {
            if ((st = run_eval(fn, m, &io, vb, dist, step_acc, val_lw)) != DC_OK) goto done;
            set_logs(&fl, &io, step_acc, 1);
        }
        fl.logs.values[fl.i_lr] = lr;
        fl.logs.epoch = epoch;
        dc_history_append(h, &fl.logs, (float)(dc_now() - t0));
        dc_progress_epoch_end(&prog, &fl.logs);
        bool stop = dc_callbacks_epoch_end(cbs, &fl.logs, h, &st);
        bool requested = m->stop_requested; /* with dist: what all ranks agreed on */
        if (st != DC_OK) goto done;
        if (dist && (st = dc_fit_dist_follow(dist, m, &stop, &requested, true)) != DC_OK) goto done;
        if (stop) m->stop_training = true;
        if (opt->checkpoint_path && root) {
            /* done: stopped by a callback; a run that reached `epochs` can be
             * resumed with more of them */
            dc_fit_pos p = {.epoch = epoch + 1, .done = m->stop_training};
            if ((st = dc_fit_state_save(opt->checkpoint_path, m, cbs, h, &p, &su)) != DC_OK)
                goto done;
        }
        if (opt->history_path && root && (st = dc_history_write_csv(h, opt->history_path)) != DC_OK)
            goto done;
        if ((dist ? requested : m->stop_requested) && epoch + 1 < epochs) {
            m->stop_requested = 0;
            interrupted = true;
            break;
        }
    }
done:
    io_free(&io);
    dc_free(acc);
    dc_tape_set_batch_part(m->tape, 0, 0); /* the next use of the tape has whole batches */
    dc_tape_set_backward_hook(m->tape, NULL, NULL);
    dc_free(vars);
    dc_free(before_step);
    dc_free(val_lw);
    dc_callbacks_end(cbs, st == DC_OK && !interrupted);
    m->stop_requested = 0; /* a request is for this fit, not the next */
    dc_batcher_free(b);
    dc_batcher_free(vb);
    dc_dataset_free(tr_view);
    dc_dataset_free(val_view);
    if (out && st == DC_OK) *out = h;
    else dc_history_free(h);
    return st;
}
