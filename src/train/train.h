/* train.h — what fit, the callbacks, the history and the progress display
 * share (internal). */
#ifndef DC_TRAIN_H
#define DC_TRAIN_H
#include "../model/model.h"

#define DC_HIST_KEY 32

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
/* Checks the callbacks against the keys fit will log; NULL on error. */
dc_cb_state *dc_callbacks_begin(dc_model *m, const dc_callback *cbs, int n, const dc_logs *keys,
                                const dc_history *h);
/* At batch end: true to stop (TerminateOnNaN, user callbacks). */
bool dc_callbacks_batch_end(dc_cb_state *s, int epoch, int64_t batch, float loss);
/* At epoch end: true to stop. An error (a checkpoint that cannot be written)
 * sets *status. */
bool dc_callbacks_epoch_end(dc_cb_state *s, const dc_logs *logs, const dc_history *h,
                            dc_status *status);
/* Restores best weights when asked, closes files, frees the state. */
void dc_callbacks_end(dc_cb_state *s);

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
#endif
