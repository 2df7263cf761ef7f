/* train.h — what fit, the callbacks, the history and the progress display
 * share (internal). */
#ifndef DC_TRAIN_H
#define DC_TRAIN_H
#include "../model/model.h"

#define DC_HIST_KEY DC_LOG_KEY

struct dc_history {
    int n_keys;
    char keys[DC_MAX_LOGS][DC_HIST_KEY];
    bool present[DC_MAX_LOGS]; /* false: a fixed CSV column fit did not measure */
    float *col[DC_MAX_LOGS];
    int epochs, cap;
    int first_epoch; /* 0-based epoch of row 0 (fit's initial_epoch) */
};

/* A history with the fixed columns (loss, accuracy, val_loss, val_accuracy,
 * lr, seconds) then `extra` keys; room for cap epochs (grows if needed). */
dc_history *dc_history_new(const char *const *extra, int n_extra, int cap);
void dc_history_mark_present(dc_history *h, const char *key);
/* Appends one epoch from logs (keys absent from logs get NaN). */
dc_status dc_history_append(dc_history *h, const dc_logs *logs, float seconds);
/* The CSV header / one row, as dc_history_write_csv and CSVLogger write them. */
void dc_history_csv_header(const dc_history *h, FILE *f);
void dc_history_csv_row(const dc_history *h, int epoch, FILE *f);

/* How many of n samples fit trains on when validation_split holds out the
 * last ones (Keras' count: floor(n * (1 - split)) of the split as written). */
int64_t dc_fit_split_train_count(int64_t n, float validation_split);

/* Callbacks during fit. */
typedef struct dc_cb_state dc_cb_state;
/* Checks the callbacks against the keys fit will log; NULL on error.
 * writes_files false: ModelCheckpoint, CSVLogger and TensorBoard keep their
 * state but write nothing (the ranks after 0 of a distributed fit). */
dc_cb_state *dc_callbacks_begin(dc_model *m, const dc_callback *cbs, int n, const dc_logs *keys,
                                const dc_history *h, bool writes_files);
/* At batch end: true to stop (TerminateOnNaN, user callbacks). */
bool dc_callbacks_batch_end(dc_cb_state *s, int epoch, int64_t batch, float loss);
/* At epoch end: true to stop. An error (a checkpoint that cannot be written)
 * sets *status. */
bool dc_callbacks_epoch_end(dc_cb_state *s, const dc_logs *logs, const dc_history *h,
                            dc_status *status);
/* Restores best weights when asked and the run is finished (not stopped to
 * be resumed), closes files, frees the state. */
void dc_callbacks_end(dc_cb_state *s, bool finished);
/* Whether a TerminateOnNaN is among them: fit then stops before a step whose
 * loss or gradients are not finite. */
bool dc_callbacks_terminate_on_nan(const dc_cb_state *s);
/* The state a resumed fit needs, per callback (best_weights: n_weights floats
 * owned by the callback, or NULL). */
typedef struct {
    int kind;
    float best;
    int wait, cooldown_left, best_epoch;
    float *best_weights;
} dc_cb_saved;
int dc_callbacks_count(const dc_cb_state *s);
void dc_callbacks_get_state(const dc_cb_state *s, int i, dc_cb_saved *out);
void dc_callbacks_set_state(dc_cb_state *s, int i, const dc_cb_saved *in);

/* Metric sums over an epoch: value = sum / count. */
typedef struct {
    double loss_sum;
    int64_t loss_n;
    /* Keras' "<output>_loss" of a model of several outputs: the mean of the
     * batches' losses, each batch once whatever its size (kept only there:
     * no resume state or dist sum holds it) */
    double batch_loss_sum;
    int64_t batches;
    double sum[DC_MAX_METRICS];
    double count[DC_MAX_METRICS];
    /* MeanIoU: per class, the rows predicted as it, labelled it, and both */
    double iou_pred[DC_MAX_CLASS_WEIGHTS], iou_true[DC_MAX_CLASS_WEIGHTS],
        iou_hit[DC_MAX_CLASS_WEIGHTS];
} dc_accum;

/* One output as fit, evaluate and dc_model_train_on_batch see it. */
typedef struct {
    dc_loss_kind loss;
    dc_out_mode mode;
    dc_act act;   /* of the layer that makes it */
    float weight; /* in the summed loss (1 when no weight is given) */
    int ndim;     /* without the batch axis */
    int64_t shape[DC_MAX_DIMS];
    int n_metrics;
    dc_metric_kind metrics[DC_MAX_METRICS];
    int n_class_weights;
    const float *class_weights;
    char name[64]; /* the layer's name, which Keras' log keys use */
} dc_head;
/* heads[i] for each of m's outputs, from its compile settings (fit.c). */
void dc_heads_init(const dc_model *m, dc_head *heads);
/* Bit i set: output i's last activation is absorbed by its loss. */
unsigned dc_heads_fused(const dc_head *h, int n);
/* sum_i weight_i * loss_i of outs against ys; each[i] gets loss_i. NULL
 * on failure (the tape says why). */
dc_tensor *dc_heads_loss(const dc_head *h, int n, dc_tape *t, dc_tensor *const *outs,
                         dc_tensor *const *ys, dc_tensor **each);

/* Where a fit stands, for its resume checkpoint: the epoch in progress (or
 * next), the batches of it done, their sums, and whether training ended. */
typedef struct {
    int epoch;
    int64_t batch;
    bool done;
    dc_accum acc;
    float lr; /* the rate at the start of the epoch, which its history row shows */
} dc_fit_pos;
/* What must match between the run that wrote a checkpoint and the one that
 * resumes it, so that the batches come in the same order. */
typedef struct {
    uint64_t seed;
    bool shuffle;
    int64_t n_train, batch_size;
    int64_t steps_per_epoch; /* 0: whole passes; else the stream runs on across epochs */
} dc_fit_setup;
/* Writes weights, optimizer state, every layer's RNG, the callbacks' state,
 * the history and pos to path in one atomic write (fit_state.c). */
dc_status dc_fit_state_save(const char *path, dc_model *m, const dc_cb_state *cbs,
                            const dc_history *h, const dc_fit_pos *pos, const dc_fit_setup *su);
/* Reads it back into a model, callbacks and an empty history made for the
 * same fit; everything is checked before anything changes. */
dc_status dc_fit_state_load(const char *path, dc_model *m, dc_cb_state *cbs, dc_history *h,
                            dc_fit_pos *pos, const dc_fit_setup *su);

/* Progress display (progress.c). */
typedef struct {
    FILE *f;
    int verbose;
    bool tty;
    int64_t steps;
    double t_start, t_last_draw;
    int last_len;
} dc_progress;
double dc_now(void);
void dc_progress_epoch_begin(dc_progress *p, int epoch, int epochs, int64_t steps);
void dc_progress_batch(dc_progress *p, int64_t done, const dc_logs *logs);
void dc_progress_epoch_end(dc_progress *p, const dc_logs *logs);

/* Distributed fit (fit_dist.c): the steps fit takes with a dc_dist. */
dc_status dc_fit_dist_check(const char *fn, const dc_dist *d);
/* Sums a's loss and metric sums over the ranks, and loss_w (NULL: none): a
 * part's mean loss times what it is a mean over, and that weight. */
dc_status dc_fit_dist_sum_accum(const dc_dist *d, dc_accum *a, double *loss_w);
/* Sums v[0..n) (validation's losses and weights, per batch). */
dc_status dc_fit_dist_sum_loss(const dc_dist *d, double *v, int64_t n);
/* The batch's gradient from each rank's mean over its part (weight `part` of
 * the batch's `whole`: samples, or real positions): each scaled by
 * part / whole, then summed over the ranks in fixed buckets. */
dc_status dc_fit_dist_sum_grads(const dc_dist *d, dc_model *m, double part, double whole);
/* The gradient's sum overlapped with backward (a dist with start_sum_floats):
 * the gradient cut into at most DC_DIST_BUCKETS buckets, started from the
 * last (the last layers' gradients are complete first) as soon as backward
 * has run every node that writes into one, in the same order on every rank. */
#define DC_DIST_BUCKETS 8
typedef struct {
    const dc_dist *d;
    dc_model *m;
    dc_tape *t;
    float scale;                    /* part / whole, as dc_fit_dist_sum_grads */
    int64_t bucket, n_buckets;      /* floats per bucket, buckets */
    size_t first_node[DC_DIST_BUCKETS]; /* the first node writing into each (SIZE_MAX: none) */
    int64_t next;                   /* the next bucket to start, counting down */
    dc_status status;
} dc_fit_dist_overlap;
/* Plans the buckets from t's nodes and hooks the tape's backward; false when
 * the dist cannot overlap (then dc_fit_dist_sum_grads). */
bool dc_fit_dist_overlap_begin(dc_fit_dist_overlap *o, const dc_dist *d, dc_model *m, dc_tape *t,
                               double part, double whole);
/* After backward: starts the buckets not started yet, waits for all, unhooks. */
dc_status dc_fit_dist_overlap_end(dc_fit_dist_overlap *o);
/* A training step's sums at one meeting of the ranks (after backward): the
 * gradient (ov: its sum started during backward, else summed here), each
 * rank's scaled by its weight over n_batch and the sum rescaled when the
 * batch's whole weight is not n_batch (class weights, masks); then a's
 * metric sums, loss_w (this part's mean loss times its weight, the weight)
 * and the stop requests (*requested: true on every rank if on any). */
dc_status dc_fit_dist_sum_step(const dc_dist *d, dc_model *m, dc_fit_dist_overlap *ov,
                               int64_t n_batch, dc_accum *a, double *loss_w, bool *requested);
/* Whether a batch's stop decision can differ between ranks (a callback
 * that runs code of the user's or writes on rank 0 alone): then the ranks
 * follow rank 0 after each batch (dc_fit_dist_follow). */
bool dc_fit_dist_batch_decisions(const dc_callback *cb, int n);
/* Tells the tape this rank's part of a batch of n samples, for random layers. */
void dc_fit_dist_set_part(const dc_dist *d, dc_tape *t, int64_t n);
/* Every layer's generator as the last rank's (whose part of a batch is never
 * empty): after a batch smaller than the ranks, where an empty rank drew nothing. */
dc_status dc_fit_dist_sync_rngs(const dc_dist *d, dc_model *m);
/* BatchNormalization's moving statistics: the mean over the ranks. */
dc_status dc_fit_dist_average_moving_stats(const dc_dist *d, dc_model *m);
/* Every rank follows rank 0: *stop becomes rank 0's, and with lr rank 0's
 * learning rate is set where it differs; *requested (a stop request read
 * once, dc_model_request_stop) becomes true on every rank if on any. */
dc_status dc_fit_dist_follow(const dc_dist *d, dc_model *m, bool *stop, bool *requested,
                             bool lr);
#endif
