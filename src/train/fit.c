/* fit.c — fit, evaluate and predict (compile is the model's: src/model/compile.c).
 * A training step reuses one tape (reset every step), the batcher's buffers and
 * the model's flat buffers, so after the first step it allocates nothing. */
#include "train.h"
#include "../ops/op.h"
#include "../optim/optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* How the loss reads the output, from the loss and the last activation. */
static dc_out_mode out_mode(const dc_model *m) {
    dc_loss_kind k = m->copt.loss;
    dc_act last = dc_model_output_layer(m) ? dc_model_output_layer(m)->act : DC_ACT_LINEAR;
    if (k == DC_LOSS_MSE) return DC_OUT_VALUES;
    if ((k == DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY || k == DC_LOSS_CATEGORICAL_CROSSENTROPY ||
         k == DC_LOSS_DICE) &&
        last == DC_ACT_SOFTMAX)
        return DC_OUT_FUSED;
    if (k == DC_LOSS_BINARY_CROSSENTROPY && last == DC_ACT_SIGMOID) return DC_OUT_FUSED;
    return m->copt.from_probabilities ? DC_OUT_PROBS : DC_OUT_LOGITS;
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
static bool variable_labels_fit(const dc_model *m, int y_ndim, const int64_t *y) {
    if (m->copt.loss != DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY && m->copt.loss != DC_LOSS_DICE)
        return dims_agree(m->out_ndim, m->out_shape, y_ndim, y);
    return m->out_shape[m->out_ndim - 1] >= 2 &&
           (dims_agree(m->out_ndim - 1, m->out_shape, y_ndim, y) ||
            (y_ndim == m->out_ndim && y[y_ndim - 1] == 1 &&
             dims_agree(m->out_ndim - 1, m->out_shape, y_ndim - 1, y)));
}

/* Checks that labels of per-sample shape y fit the output for the loss. */
static dc_status check_labels(const char *fn, const dc_model *m, int y_ndim, const int64_t *y) {
    bool variable = false;
    for (int i = 0; i < m->out_ndim; i++) variable = variable || m->out_shape[i] == -1;
    for (int i = 0; i < y_ndim; i++) variable = variable || y[i] == -1;
    if (variable && variable_labels_fit(m, y_ndim, y)) return DC_OK;
    char so[128], sy[128];
    int64_t C = m->out_shape[m->out_ndim - 1], ny = per_sample(y_ndim, y);
    int64_t no = per_sample(m->out_ndim, m->out_shape);
    dc_layer_shape_string(m->out_ndim, m->out_shape, so, sizeof so);
    dc_layer_shape_string(y_ndim, y, sy, sizeof sy);
    const char *loss = dc_loss_name(m->copt.loss);
    int nw = m->copt.n_class_weights;
    if (nw > 0 && nw != C)
        return dc_set_error(DC_ERR_SHAPE, "%s: %d class weights for outputs %s with %lld classes",
                            fn, nw, so, (long long)C);
    for (int k = 0; k < m->n_metrics; k++)
        if (m->copt.metrics[k] == DC_METRIC_MEAN_IOU && (C < 2 || C > DC_MAX_CLASS_WEIGHTS || ny * C != no))
            return dc_set_error(DC_ERR_SHAPE,
                                "%s: mean_io_u needs outputs (None, ..., classes) with 2 to %d "
                                "classes and one integer label per row; the model gives %s, the "
                                "labels are %s", fn, DC_MAX_CLASS_WEIGHTS, so, sy);
    switch (m->copt.loss) {
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
static dc_tensor *position_losses(dc_model *m, dc_out_mode mode, dc_tape *t, dc_tensor *out,
                                  dc_tensor *y) {
    const int64_t B = out->shape[0], T = out->shape[1], C = out->shape[2];
    const bool probs = mode == DC_OUT_PROBS;
    switch (m->copt.loss) {
    case DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
    case DC_LOSS_CATEGORICAL_CROSSENTROPY: {
        dc_tensor *target = m->copt.loss == DC_LOSS_CATEGORICAL_CROSSENTROPY
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
static dc_tensor *masked_loss(dc_model *m, dc_out_mode mode, dc_tape *t, dc_tensor *out,
                              dc_tensor *y) {
    dc_tensor *w = mask_weights(t, out->mask);
    dc_tensor *l = w ? position_losses(m, mode, t, out, y) : NULL;
    return dc_mean_all(t, dc_mul(t, l, w));
}

/* What compute_loss's mean is over, for a distributed fit to weigh the ranks'
 * losses as one process's mean over the whole batch: the labels' class
 * weights, the real positions under a sequence mask, else the samples. */
static double loss_weight(const dc_model *m, const dc_tensor *out, const dc_tensor *y) {
    double w = 0;
    if (m->copt.n_class_weights > 0 && m->copt.loss == DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        for (int64_t i = 0; i < y->size; i++) {
            int64_t c = (int64_t)y->data[i];
            w += c >= 0 && c < m->copt.n_class_weights ? m->copt.class_weights[c] : 0.0;
        }
        return w;
    }
    if (has_sequence_mask(out) && m->copt.loss != DC_LOSS_DICE) {
        for (int64_t i = 0; i < out->mask->size; i++) w += out->mask->data[i] != 0.0f;
        return w;
    }
    return (double)out->shape[0];
}

/* Sparse crossentropy weighted by the compiled class weights: out (R,C), y (R,). */
static dc_tensor *weighted_crossentropy(const dc_model *m, dc_out_mode mode, dc_tape *t,
                                        dc_tensor *out, dc_tensor *y) {
    int64_t C = out->shape[1];
    dc_tensor *w = dc_tape_tensor(t, 1, &C);
    if (!w) return NULL;
    memcpy(w->data, m->copt.class_weights, (size_t)C * sizeof(float));
    if (mode != DC_OUT_PROBS) return dc_weighted_sparse_softmax_cross_entropy(t, out, y, w);
    /* -sum(w[y] log p[y]) / sum(w[y]): the one-hot rows scaled by their weight */
    dc_tensor *wy = dc_mul(t, dc_one_hot(t, y, (int)C), w);
    dc_tensor *lp = dc_log(t, dc_clip(t, out, 1e-7f, 1.0f - 1e-7f));
    return dc_neg(t, dc_div(t, dc_sum_all(t, dc_mul(t, wy, lp)), dc_sum_all(t, wy)));
}

// out (B, ...), y (B, ...) -> loss ()
static dc_tensor *compute_loss(dc_model *m, dc_out_mode mode, dc_tape *t, dc_tensor *out,
                               dc_tensor *y) {
    /* Dice and class weights pool over the whole batch: a mask does not weigh them */
    if (has_sequence_mask(out) && m->copt.loss != DC_LOSS_DICE && !m->copt.n_class_weights)
        return masked_loss(m, mode, t, out, y);
    int64_t C = out->shape[out->ndim - 1], rows = out->size / (C ? C : 1);
    switch (m->copt.loss) {
    case DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY:
        /* (B, ..., C) -> rows (R, C), labels (R,): sequences and pixels too */
        if (out->ndim != 2) out = dc_reshape(t, out, 2, (const int64_t[]){rows, C});
        if (y->ndim != 1) y = dc_reshape(t, y, 1, &rows);
        if (m->copt.n_class_weights > 0) return weighted_crossentropy(m, mode, t, out, y);
        if (mode == DC_OUT_PROBS) return prob_crossentropy(t, out, dc_one_hot(t, y, (int)C));
        return dc_sparse_softmax_cross_entropy(t, out, y);
    case DC_LOSS_DICE:
        if (out->ndim != 2) out = dc_reshape(t, out, 2, (const int64_t[]){rows, C});
        if (y->ndim != 1) y = dc_reshape(t, y, 1, &rows);
        return dc_dice_loss(t, out, y, mode == DC_OUT_PROBS, 1.0f);
    case DC_LOSS_CATEGORICAL_CROSSENTROPY:
        if (out->ndim != 2) out = dc_reshape(t, out, 2, (const int64_t[]){rows, C});
        if (!dc_tensor_same_shape(y, out)) y = dc_reshape(t, y, 2, (const int64_t[]){rows, C});
        if (mode == DC_OUT_PROBS) return prob_crossentropy(t, out, y);
        return dc_softmax_cross_entropy(t, out, y);
    case DC_LOSS_MSE:
        if (!dc_tensor_same_shape(y, out)) y = dc_reshape(t, y, out->ndim, out->shape);
        return dc_mse(t, out, y);
    case DC_LOSS_BINARY_CROSSENTROPY:
        if (!dc_tensor_same_shape(y, out)) y = dc_reshape(t, y, out->ndim, out->shape);
        if (mode == DC_OUT_PROBS) {
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
static double out_value(const dc_model *m, dc_out_mode mode, float v) {
    if (mode == DC_OUT_FUSED && dc_model_output_layer(m)->act == DC_ACT_SIGMOID)
        return 1.0 / (1.0 + exp(-(double)v));
    if (mode == DC_OUT_LOGITS && m->copt.loss == DC_LOSS_BINARY_CROSSENTROPY)
        return 1.0 / (1.0 + exp(-(double)v));
    return v;
}

// out (B, C...), y (B, ...) -> sums in acc; with a sequence mask each position
// (row of C) counts with its mask value (Keras' sample_weight = mask)
static void accumulate(const dc_model *m, dc_out_mode mode, dc_accum *acc, const dc_tensor *out,
                       const dc_tensor *y, float loss) {
    int64_t B = out->shape[0], C = out->shape[out->ndim - 1];
    int64_t rows = out->size / (C ? C : 1), ny = y->size / (rows ? rows : 1);
    const float *mk = has_sequence_mask(out) ? out->mask->data : NULL;
#define ROW_W(i) (mk ? (double)(mk[i] != 0.0f) : 1.0)
    acc->loss_sum += (double)loss * (double)B;
    acc->loss_n += B;
    for (int k = 0; k < m->n_metrics; k++) {
        dc_metric_kind kind = m->copt.metrics[k];
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
                double hit = (out_value(m, mode, out->data[i]) > 0.5) == (y->data[i] > 0.5f);
                acc->sum[k] += hit * ROW_W(i / C);
                acc->count[k] += ROW_W(i / C);
            }
        } else {
            for (int64_t i = 0; i < out->size; i++) {
                double d = out_value(m, mode, out->data[i]) - y->data[i];
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
static float metric_value(const dc_model *m, const dc_accum *acc, int k) {
    if (m->copt.metrics[k] == DC_METRIC_MEAN_IOU) return mean_iou(acc);
    return acc->count[k] > 0 ? (float)(acc->sum[k] / acc->count[k]) : NAN;
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

/* One pass over a batcher without training: mean loss and metrics (with
 * dist: each rank's part of every batch, the sums summed over the ranks). */
static dc_status run_eval(const char *fn, dc_model *m, dc_batcher *b, const dc_dist *dist,
                          float *loss, float *metrics) {
    dc_tape *t = ensure_tape(&m->infer_tape, true);
    if (!t) return dc_last_status();
    dc_out_mode mode = out_mode(m);
    dc_accum acc;
    memset(&acc, 0, sizeof acc);
    dc_tensor *x, *y;
    dc_batcher_reset(b);
    int64_t n;
    double loss_sum = 0; /* with dist: each batch's loss over all ranks, times its samples */
    while ((n = dc_batcher_next(b, &x, &y)) > 0) {
        double lw[2] = {0, 0}; /* this part's loss x its weight, the weight */
        if (x->shape[0] > 0) { /* this rank's part of a short batch may be empty */
            dc_tape_reset(t);
            dc_tensor *out = dc_model_forward(m, t, x, false, mode == DC_OUT_FUSED);
            dc_tensor *l = out ? compute_loss(m, mode, t, out, y) : NULL;
            if (!l || dc_tape_status(t) != DC_OK)
                return dc_set_error(dc_tape_status(t) != DC_OK ? dc_tape_status(t) : DC_ERR_STATE,
                                    "%s: %s", fn, dc_tape_error(t));
            accumulate(m, mode, &acc, out, y, l->data[0]);
            lw[1] = loss_weight(m, out, y);
            lw[0] = (double)l->data[0] * lw[1];
        }
        if (dist && dc_fit_dist_sum_loss(dist, lw) != DC_OK) return dc_last_status();
        loss_sum += lw[1] > 0 ? (double)(float)(lw[0] / lw[1]) * (double)n : 0.0;
    }
    if (dist && dc_fit_dist_sum_accum(dist, &acc, NULL) != DC_OK) return dc_last_status();
    if (dist) acc.loss_sum = loss_sum;
    *loss = acc.loss_n ? (float)(acc.loss_sum / (double)acc.loss_n) : NAN;
    for (int k = 0; k < m->n_metrics && metrics; k++)
        metrics[k] = metric_value(m, &acc, k);
    return DC_OK;
}

/* Checks the dataset's sample shape against the model's input. */
static dc_status check_dataset(const char *fn, const char *what, dc_model *m,
                               const dc_dataset *ds) {
    int64_t xs[DC_MAX_DIMS], ys[DC_MAX_DIMS];
    int xn = dc_dataset_x_shape(ds, xs), yn = dc_dataset_y_shape(ds, ys);
    bool ok = xn == m->in_ndim;
    for (int i = 0; ok && i < xn; i++) ok = xs[i] == m->in_shape[i] || m->in_shape[i] == -1;
    if (!ok) {
        char a[128], b[128];
        return dc_set_error(DC_ERR_SHAPE, "%s: %s samples %s do not match the model's input %s",
                            fn, what, dc_layer_shape_string(xn, xs, a, sizeof a),
                            dc_layer_shape_string(m->in_ndim, m->in_shape, b, sizeof b));
    }
    return check_labels(fn, m, yn, ys);
}

static dc_status ready(const char *fn, dc_model *m, const dc_dataset *ds) {
    if (!m || !ds) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, m ? "dataset" : "model");
    if (!m->compiled)
        return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not compiled (call dc_model_compile first)",
                            fn, m->name);
    return DC_OK;
}

dc_status dc_model_evaluate(dc_model *m, const dc_dataset *ds, int64_t batch_size, float *loss,
                            float *metrics) {
    const char *fn = "dc_model_evaluate";
    if (ready(fn, m, ds) != DC_OK) return dc_last_status();
    if (!loss) return dc_set_error(DC_ERR_ARG, "%s: loss is NULL", fn);
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
    if (check_dataset(fn, "the", m, ds) != DC_OK) return dc_last_status();
    dc_batcher *b = dc_batcher_new(ds, batch_size > 0 ? batch_size : 32, false, 0);
    if (!b) return dc_last_status();
    dc_status s = run_eval(fn, m, b, NULL, loss, metrics);
    dc_batcher_free(b);
    return s;
}

dc_tensor *dc_model_predict(dc_model *m, const dc_tensor *x, int64_t batch_size) {
    const char *fn = "dc_model_predict";
    if (!m || !x) {
        dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, m ? "x" : "model");
        return NULL;
    }
    if (!m->built) {
        dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
        return NULL;
    }
    if (dc_model_check_input(fn, "x", m, x) != DC_OK) return NULL;
    int64_t N = x->shape[0], bs = batch_size > 0 ? batch_size : 32;
    int64_t os[DC_MAX_DIMS];
    os[0] = N;
    memcpy(os + 1, m->out_shape, (size_t)m->out_ndim * sizeof *os);
    /* a None axis (-1) takes its length from x: the first batch's output says it */
    bool variable = false;
    for (int i = 1; i <= m->out_ndim; i++) variable = variable || os[i] == -1;
    dc_tensor *res = variable ? NULL : dc_tensor_zeros(m->out_ndim + 1, os);
    dc_tape *t = res || variable ? ensure_tape(&m->infer_tape, true) : NULL;
    if (!t) {
        dc_tensor_free(res);
        return NULL;
    }
    int64_t per_in = x->size / (N ? N : 1), per_out = res ? res->size / (N ? N : 1) : 0;
    for (int64_t s = 0; s < N; s += bs) {
        int64_t n = DC_MIN(bs, N - s);
        dc_tensor view = *x; /* a batch of rows; the no-record tape keeps no pointer to it */
        view.shape[0] = n;
        view.size = n * per_in;
        view.data = x->data + s * per_in;
        view.grad = NULL;
        view.flags = 0;
        view.tape = NULL;
        dc_tape_reset(t);
        dc_tensor *out = dc_model_forward(m, t, &view, false, false);
        if (!out || dc_tape_status(t) != DC_OK) {
            dc_set_error(dc_tape_status(t) != DC_OK ? dc_tape_status(t) : DC_ERR_STATE, "%s: %s",
                         fn, dc_tape_error(t));
            dc_tensor_free(res);
            return NULL;
        }
        if (!res) {
            memcpy(os + 1, out->shape + 1, (size_t)m->out_ndim * sizeof *os);
            res = dc_tensor_zeros(m->out_ndim + 1, os);
            if (!res) return NULL;
            per_out = res->size / (N ? N : 1);
        }
        memcpy(res->data + s * per_out, out->data, (size_t)(n * per_out) * sizeof(float));
    }
    dc_tape_reset(t);
    if (!res) res = dc_tensor_zeros(m->out_ndim + 1, (int64_t[DC_MAX_DIMS]){0}); /* N = 0 */
    return res;
}

/* ---- fit ---- */

typedef struct {
    dc_logs logs;            /* keys point into names */
    char names[DC_MAX_LOGS][DC_HIST_KEY];
    int i_loss, i_metric[DC_MAX_METRICS], i_val_loss, i_val_metric[DC_MAX_METRICS], i_lr;
    int i_ppl, i_val_ppl; /* perplexity = exp(loss), or -1 */
} fit_logs;

static int add_key(fit_logs *fl, const char *prefix, const char *name) {
    int i = fl->logs.n++;
    snprintf(fl->names[i], DC_HIST_KEY, "%s%s", prefix, name);
    fl->logs.keys[i] = fl->names[i];
    fl->logs.values[i] = NAN;
    return i;
}

static void fit_logs_init(fit_logs *fl, const dc_model *m, bool val, bool ppl) {
    memset(fl, 0, sizeof *fl);
    fl->i_loss = add_key(fl, "", "loss");
    for (int k = 0; k < m->n_metrics; k++)
        fl->i_metric[k] = add_key(fl, "", dc_metric_name(m->copt.metrics[k]));
    fl->i_val_loss = val ? add_key(fl, "", "val_loss") : -1;
    for (int k = 0; k < m->n_metrics; k++)
        fl->i_val_metric[k] = val ? add_key(fl, "val_", dc_metric_name(m->copt.metrics[k])) : -1;
    fl->i_lr = add_key(fl, "", "lr");
    fl->i_ppl = ppl ? add_key(fl, "", "perplexity") : -1;
    fl->i_val_ppl = ppl && val ? add_key(fl, "", "val_perplexity") : -1;
}

static void set_train_logs(fit_logs *fl, const dc_model *m, const dc_accum *acc) {
    fl->logs.values[fl->i_loss] = acc->loss_n ? (float)(acc->loss_sum / (double)acc->loss_n) : NAN;
    for (int k = 0; k < m->n_metrics; k++)
        fl->logs.values[fl->i_metric[k]] = metric_value(m, acc, k);
    if (fl->i_ppl >= 0) fl->logs.values[fl->i_ppl] = expf(fl->logs.values[fl->i_loss]);
}

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
    /* one rank is a plain fit; after 0, a rank writes no files */
    const dc_dist *dist = opt->dist && opt->dist->size > 1 ? opt->dist : NULL;
    const bool root = !dist || dist->rank == 0;
    if (!m->built) {
        int64_t xs[DC_MAX_DIMS];
        int xn = dc_dataset_x_shape(train, xs);
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
    fit_logs fl;
    fit_logs_init(&fl, m, val != NULL, opt->perplexity);
    dc_history *h = history_for(&fl, epochs - opt->initial_epoch);
    if (h) h->first_epoch = opt->initial_epoch;
    dc_cb_state *cbs = NULL;
    float *before_step = NULL;
    bool interrupted = false; /* by dc_model_request_stop, to be resumed */
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
    dc_out_mode mode = out_mode(m);
    dc_progress prog = {.f = opt->progress, .verbose = opt->progress ? opt->verbose : 0};
    int64_t steps = opt->steps_per_epoch > 0 ? opt->steps_per_epoch : dc_batcher_num_batches(b);
    m->stop_training = false;
    bool nan_stop = dc_callbacks_terminate_on_nan(cbs);
    /* TerminateOnNaN keeps the weights of before a step that makes them NaN */
    before_step = nan_stop ? dc_malloc((m->n_trainable ? m->n_trainable : 1) * sizeof(float)) : NULL;
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
        dc_accum acc;
        memset(&acc, 0, sizeof acc);
        bool mid = epoch == pos.epoch && pos.batch > 0; /* resumed inside this epoch */
        if (mid) acc = pos.acc;
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
            dc_tensor *o = empty ? NULL : dc_model_forward(m, t, x, true, mode == DC_OUT_FUSED);
            dc_tensor *loss = o ? compute_loss(m, mode, t, o, y) : NULL;
            dc_model_zero_grad(m);
            bool failed = !empty && (!loss || dc_tape_status(t) != DC_OK);
            float step_loss = loss ? loss->data[0] : NAN;
            dc_accum step_acc; /* with dist: the batch's sums over all ranks */
            memset(&step_acc, 0, sizeof step_acc);
            /* with dist: this part's loss x its weight and the weight, then their sums */
            double lw[2] = {0, 0}, part_w = 0;
            if (dist && !failed) {
                if (!empty) {
                    accumulate(m, mode, &step_acc, o, y, step_loss);
                    lw[1] = part_w = loss_weight(m, o, y);
                    lw[0] = (double)step_loss * part_w;
                }
                if ((st = dc_fit_dist_sum_accum(dist, &step_acc, lw)) != DC_OK) goto done;
                step_loss = lw[1] > 0 ? (float)(lw[0] / lw[1]) : 0.0f;
                step_acc.loss_sum = (double)step_loss * (double)step_acc.loss_n;
            }
            if (!failed && nan_stop && !isfinite(step_loss)) {
                st = numeric_stop(fn, epoch, batch, "the loss is", step_loss);
                goto done;
            }
            dc_fit_dist_overlap ov; /* with dist: the gradient summed as backward goes */
            const bool overlap =
                dist && !failed && dc_fit_dist_overlap_begin(&ov, dist, m, t, part_w, lw[1]);
            failed = failed || (!empty && dc_tape_backward(t, loss) != DC_OK);
            if (!failed && dist &&
                ((st = overlap ? dc_fit_dist_overlap_end(&ov)
                               : dc_fit_dist_sum_grads(dist, m, part_w, lw[1])) != DC_OK ||
                 (n_batch < dist->size && (st = dc_fit_dist_sync_rngs(dist, m)) != DC_OK)))
                goto done;
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
                                  step_loss);
                goto done;
            }
            if (dist) accum_add(&acc, &step_acc);
            else accumulate(m, mode, &acc, o, y, loss->data[0]);
            if (prog.verbose == 1) {
                set_train_logs(&fl, m, &acc);
                dc_progress_batch(&prog, batch + 1, &fl.logs);
            }
            bool stop = dc_callbacks_batch_end(cbs, epoch, batch, step_loss);
            bool requested = m->stop_requested; /* read once: a signal may set it any time */
            if (dist && (st = dc_fit_dist_follow(dist, m, &stop, &requested, false)) != DC_OK)
                goto done;
            if (stop) m->stop_training = true;
            batch++;
            if (requested && batch < steps) { /* a mid-epoch checkpoint to resume at */
                m->stop_requested = 0;
                interrupted = true;
                dc_fit_pos p = {.epoch = epoch, .batch = batch, .acc = acc, .lr = lr};
                if (dist && (st = dc_fit_dist_average_moving_stats(dist, m)) != DC_OK) goto done;
                if (opt->checkpoint_path && root)
                    st = dc_fit_state_save(opt->checkpoint_path, m, cbs, h, &p, &su);
                goto done;
            }
        }
        set_train_logs(&fl, m, &acc);
        if (dist && (st = dc_fit_dist_average_moving_stats(dist, m)) != DC_OK) goto done;
        if (vb) {
            float vl, vm[DC_MAX_METRICS];
            st = run_eval(fn, m, vb, dist, &vl, vm);
            if (st != DC_OK) goto done;
            fl.logs.values[fl.i_val_loss] = vl;
            if (fl.i_val_ppl >= 0) fl.logs.values[fl.i_val_ppl] = expf(vl);
            for (int k = 0; k < m->n_metrics; k++) fl.logs.values[fl.i_val_metric[k]] = vm[k];
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
        if ((dist ? requested : m->stop_requested) && epoch + 1 < epochs) {
            m->stop_requested = 0;
            interrupted = true;
            break;
        }
    }
done:
    dc_tape_set_batch_part(m->tape, 0, 0); /* the next use of the tape has whole batches */
    dc_tape_set_backward_hook(m->tape, NULL, NULL);
    dc_free(vars);
    dc_free(before_step);
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
