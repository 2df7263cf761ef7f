/* callbacks.c — fit's callbacks as Keras defines them: EarlyStopping,
 * ModelCheckpoint, CSVLogger, ReduceLROnPlateau, TerminateOnNaN and user
 * functions. Each is a kind plus options; the state lives here, made once per fit. */
#include "train.h"
#include <math.h>
#include <string.h>

typedef struct {
    dc_callback o;
    bool maximize;
    float best;
    int wait, cooldown_left, best_epoch;
    float *best_weights; /* EarlyStopping(restore_best_weights): allocated once */
    FILE *csv;
    dc_tb_writer *tb_train, *tb_val; /* TensorBoard */
    bool tb_batches;
    char tb_error[512]; /* a batch's write error, reported at epoch end */
} cb_one;

struct dc_cb_state {
    dc_model *m;
    int n;
    bool writes_files; /* false on the ranks after 0 of a distributed fit */
    cb_one *cb;
};

static const char *kind_name(dc_callback_kind k) {
    switch (k) {
    case DC_CB_EARLY_STOPPING: return "EarlyStopping";
    case DC_CB_MODEL_CHECKPOINT: return "ModelCheckpoint";
    case DC_CB_CSV_LOGGER: return "CSVLogger";
    case DC_CB_REDUCE_LR_ON_PLATEAU: return "ReduceLROnPlateau";
    case DC_CB_TERMINATE_ON_NAN: return "TerminateOnNaN";
    case DC_CB_LAMBDA: return "LambdaCallback";
    case DC_CB_TENSORBOARD: return "TensorBoard";
    default: return NULL;
    }
}

static bool monitors(dc_callback_kind k) {
    return k == DC_CB_EARLY_STOPPING || k == DC_CB_MODEL_CHECKPOINT ||
           k == DC_CB_REDUCE_LR_ON_PLATEAU;
}

void dc_callbacks_end(dc_cb_state *s, bool finished) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        cb_one *c = &s->cb[i];
        /* Keras 3 restores at the end of training too, not only on an early
         * stop; a run stopped to be resumed is not at its end */
        if (finished && c->o.kind == DC_CB_EARLY_STOPPING && c->o.restore_best_weights &&
            c->best_epoch >= 0)
            memcpy(s->m->weights, c->best_weights, s->m->n_weights * sizeof(float));
        dc_free(c->best_weights);
        if (c->csv) fclose(c->csv);
        dc_tb_writer_close(c->tb_train);
        dc_tb_writer_close(c->tb_val);
    }
    dc_free(s->cb);
    dc_free(s);
}

#define DC_CB_PATH_MAX 1024 /* a ModelCheckpoint path after {epoch} is expanded */

/* Keras' layout: one run per folder, log_dir/train and log_dir/validation. */
static dc_status tensorboard_begin(cb_one *c, const dc_logs *keys) {
    if (!c->o.log_dir || !*c->o.log_dir) c->o.log_dir = "logs";
    if (!c->o.update_freq) c->o.update_freq = "epoch";
    if (strcmp(c->o.update_freq, "epoch") && strcmp(c->o.update_freq, "batch"))
        return dc_set_error(DC_ERR_ARG, "dc_model_fit: TensorBoard update_freq '%s' must be 'epoch' or 'batch'",
                            c->o.update_freq);
    if (c->o.histogram_freq < 0)
        return dc_set_error(DC_ERR_ARG, "dc_model_fit: TensorBoard histogram_freq %d must not be negative",
                            c->o.histogram_freq);
    c->tb_batches = !strcmp(c->o.update_freq, "batch");
    bool val = false;
    for (int k = 0; k < keys->n; k++) val = val || !strncmp(keys->keys[k], "val_", 4);
    char dir[DC_CB_PATH_MAX + 16];
    if (strlen(c->o.log_dir) > DC_CB_PATH_MAX)
        return dc_set_error(DC_ERR_ARG, "dc_model_fit: TensorBoard log_dir of %zu bytes is longer than %d",
                            strlen(c->o.log_dir), DC_CB_PATH_MAX);
    snprintf(dir, sizeof dir, "%s/train", c->o.log_dir);
    if (!(c->tb_train = dc_tb_writer_open(dir))) return dc_last_status();
    snprintf(dir, sizeof dir, "%s/validation", c->o.log_dir);
    if (val && !(c->tb_val = dc_tb_writer_open(dir))) return dc_last_status();
    return DC_OK;
}

/* "loss" -> train "epoch_loss", "val_accuracy" -> validation
 * "epoch_accuracy", "lr" -> train "epoch_learning_rate", as Keras names them;
 * histograms of the weights every histogram_freq epochs. */
static dc_status tensorboard_epoch(cb_one *c, dc_model *m, const dc_logs *logs) {
    if (c->tb_error[0]) return dc_set_error(DC_ERR_IO, "%s", c->tb_error);
    char tag[64];
    for (int k = 0; k < logs->n; k++) {
        const char *key = logs->keys[k];
        float v = logs->values[k];
        if (isnan(v) && strcmp(key, "loss")) continue; /* not measured this epoch */
        bool is_val = !strncmp(key, "val_", 4);
        dc_tb_writer *w = is_val ? c->tb_val : c->tb_train;
        if (!w) continue;
        snprintf(tag, sizeof tag, "epoch_%s", !strcmp(key, "lr") ? "learning_rate" : key + (is_val ? 4 : 0));
        dc_status s = dc_tb_add_scalar(w, tag, v, logs->epoch);
        if (s != DC_OK) return s;
    }
    if (c->o.histogram_freq > 0 && logs->epoch % c->o.histogram_freq == 0) {
        for (int i = 0; i < dc_model_num_params(m); i++) {
            const dc_tensor *t = dc_model_param(m, i);
            snprintf(tag, sizeof tag, "%.50s/histogram", t->name);
            dc_status s = dc_tb_add_histogram(c->tb_train, tag, t->data, t->size, logs->epoch);
            if (s != DC_OK) return s;
        }
    }
    dc_status s = dc_tb_flush(c->tb_train);
    return s == DC_OK && c->tb_val ? dc_tb_flush(c->tb_val) : s;
}

dc_cb_state *dc_callbacks_begin(dc_model *m, const dc_callback *cbs, int n, const dc_logs *keys,
                                const dc_history *h, bool writes_files) {
    dc_cb_state *s = dc_calloc(1, sizeof *s);
    if (!s || !(s->cb = dc_calloc((size_t)(n > 0 ? n : 1), sizeof *s->cb))) {
        dc_free(s);
        dc_set_error(DC_ERR_NOMEM, "dc_model_fit: out of memory for callbacks");
        return NULL;
    }
    s->m = m;
    s->writes_files = writes_files;
    for (int i = 0; i < n; i++) {
        cb_one *c = &s->cb[i];
        c->o = cbs[i];
        c->best_epoch = -1;
        s->n++;
        const char *kn = kind_name(c->o.kind);
        if (!kn) {
            dc_set_error(DC_ERR_ARG, "dc_model_fit: callback %d has unknown kind %d", i, (int)c->o.kind);
            goto fail;
        }
        if (monitors(c->o.kind)) {
            if (!c->o.monitor) c->o.monitor = "val_loss";
            bool found = false;
            char avail[256] = "";
            for (int k = 0; k < keys->n; k++) {
                found = found || !strcmp(keys->keys[k], c->o.monitor);
                if (strcmp(keys->keys[k], "lr")) {
                    if (avail[0]) strncat(avail, ", ", sizeof avail - strlen(avail) - 1);
                    strncat(avail, keys->keys[k], sizeof avail - strlen(avail) - 1);
                }
            }
            if (!found) {
                dc_set_error(DC_ERR_ARG,
                             "dc_model_fit: %s monitors '%s', which fit does not log%s (it logs: %s)",
                             kn, c->o.monitor,
                             !strncmp(c->o.monitor, "val_", 4) ? " without validation data" : "",
                             avail);
                goto fail;
            }
            c->maximize = c->o.mode == DC_MODE_MAX ||
                          (c->o.mode == DC_MODE_AUTO && strstr(c->o.monitor, "acc") != NULL);
            c->best = c->maximize ? -INFINITY : INFINITY;
        }
        switch (c->o.kind) {
        case DC_CB_EARLY_STOPPING:
            if (c->o.patience < 0 || c->o.min_delta < 0) {
                dc_set_error(DC_ERR_ARG, "dc_model_fit: EarlyStopping patience %d and min_delta %g must not be negative",
                             c->o.patience, (double)c->o.min_delta);
                goto fail;
            }
            if (c->o.has_baseline) c->best = c->o.baseline;
            if (c->o.restore_best_weights) {
                c->best_weights = dc_malloc((m->n_weights ? m->n_weights : 1) * sizeof(float));
                if (!c->best_weights) {
                    dc_set_error(DC_ERR_NOMEM, "dc_model_fit: out of memory for EarlyStopping");
                    goto fail;
                }
            }
            break;
        case DC_CB_REDUCE_LR_ON_PLATEAU:
            if (c->o.factor == 0.0f) c->o.factor = 0.1f;
            if (c->o.patience == 0) c->o.patience = 10;
            else if (c->o.patience < 0) c->o.patience = 0;
            if (c->o.min_delta == 0.0f) c->o.min_delta = 1e-4f;
            if (!(c->o.factor > 0.0f && c->o.factor < 1.0f)) {
                dc_set_error(DC_ERR_ARG, "dc_model_fit: ReduceLROnPlateau factor %g must be in (0, 1)",
                             (double)c->o.factor);
                goto fail;
            }
            /* a negative cooldown would never count down to 0 and stop every
             * later reduction without a word */
            if (c->o.cooldown < 0 || !(c->o.min_lr >= 0.0f) || c->o.min_delta < 0.0f) {
                dc_set_error(DC_ERR_ARG,
                             "dc_model_fit: ReduceLROnPlateau cooldown %d, min_lr %g and min_delta %g "
                             "must not be negative",
                             c->o.cooldown, (double)c->o.min_lr, (double)c->o.min_delta);
                goto fail;
            }
            break;
        case DC_CB_MODEL_CHECKPOINT:
        case DC_CB_CSV_LOGGER:
            if (!c->o.path || !*c->o.path) {
                dc_set_error(DC_ERR_ARG, "dc_model_fit: %s needs a path", kn);
                goto fail;
            }
            /* the expanded path must fit expand_path's buffer, or a checkpoint
             * would go to a silently shortened name */
            if (strlen(c->o.path) > DC_CB_PATH_MAX - 16) {
                dc_set_error(DC_ERR_ARG, "dc_model_fit: %s path of %zu bytes is longer than %d", kn,
                             strlen(c->o.path), DC_CB_PATH_MAX - 16);
                goto fail;
            }
            if (c->o.kind == DC_CB_CSV_LOGGER && writes_files) {
                c->csv = fopen(c->o.path, c->o.append ? "a" : "w");
                if (!c->csv) {
                    dc_set_error(DC_ERR_IO, "dc_model_fit: CSVLogger cannot open '%s'", c->o.path);
                    goto fail;
                }
                if (!c->o.append || ftell(c->csv) == 0) dc_history_csv_header(h, c->csv);
                fflush(c->csv);
            }
            break;
        case DC_CB_TENSORBOARD:
            if (writes_files && tensorboard_begin(c, keys) != DC_OK) goto fail;
            break;
        case DC_CB_LAMBDA:
            if (!c->o.on_epoch_end && !c->o.on_batch_end) {
                dc_set_error(DC_ERR_ARG, "dc_model_fit: callback %d (user) has no function", i);
                goto fail;
            }
            break;
        default: break;
        }
    }
    return s;
fail:
    {
        char msg[512];
        dc_status st = dc_last_status();
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        for (int i = 0; i < s->n; i++) s->cb[i].best_epoch = -1; /* restore nothing */
        dc_callbacks_end(s, false);
        dc_set_error(st, "%s", msg);
    }
    return NULL;
}

bool dc_callbacks_batch_end(dc_cb_state *s, int epoch, int64_t batch, float loss) {
    bool stop = false;
    for (int i = 0; i < s->n; i++) {
        cb_one *c = &s->cb[i];
        if (c->o.kind == DC_CB_TERMINATE_ON_NAN && !isfinite(loss)) {
            dc_log_message(DC_LOG_WARN, "TerminateOnNaN: batch %lld of epoch %d has loss %g",
                           (long long)batch + 1, epoch + 1, (double)loss);
            stop = true;
        }
        /* Keras' step for batch logs: the optimizer's iterations so far */
        if (c->o.kind == DC_CB_TENSORBOARD && c->tb_train && c->tb_batches && !c->tb_error[0] &&
            dc_tb_add_scalar(c->tb_train, "batch_loss", loss,
                             dc_optimizer_iterations(s->m->opt)) != DC_OK) {
            snprintf(c->tb_error, sizeof c->tb_error, "%s", dc_last_error());
            stop = true;
        }
        if (c->o.kind == DC_CB_LAMBDA && c->o.on_batch_end &&
            c->o.on_batch_end(s->m, epoch, batch, loss, c->o.user))
            stop = true;
    }
    return stop;
}

/* Keras' rule: better by more than min_delta in the monitored direction. */
static bool improved(const cb_one *c, float cur, float min_delta) {
    if (isnan(cur)) return false;
    return c->maximize ? cur - min_delta > c->best : cur + min_delta < c->best;
}

/* Writes path with "{epoch}" replaced by the 1-based epoch. */
static void expand_path(const char *path, int epoch, char *out, size_t n) {
    const char *p = strstr(path, "{epoch}");
    if (!p) {
        snprintf(out, n, "%s", path);
        return;
    }
    snprintf(out, n, "%.*s%d%s", (int)(p - path), path, epoch + 1, p + 7);
}

bool dc_callbacks_epoch_end(dc_cb_state *s, const dc_logs *logs, const dc_history *h,
                            dc_status *status) {
    bool stop = false;
    dc_model *m = s->m;
    for (int i = 0; i < s->n; i++) {
        cb_one *c = &s->cb[i];
        float cur = monitors(c->o.kind) ? dc_logs_get(logs, c->o.monitor) : NAN;
        switch (c->o.kind) {
        case DC_CB_EARLY_STOPPING:
            c->wait++;
            if (improved(c, cur, c->o.min_delta)) {
                c->best = cur;
                c->best_epoch = logs->epoch;
                c->wait = 0;
                if (c->best_weights)
                    memcpy(c->best_weights, m->weights, m->n_weights * sizeof(float));
                break;
            }
            if (c->wait >= c->o.patience && logs->epoch > 0) stop = true;
            break;
        case DC_CB_REDUCE_LR_ON_PLATEAU:
            if (c->cooldown_left > 0) {
                c->cooldown_left--;
                c->wait = 0;
            }
            if (improved(c, cur, c->o.min_delta)) {
                c->best = cur;
                c->wait = 0;
            } else if (c->cooldown_left == 0 && ++c->wait >= c->o.patience) {
                float lr = dc_optimizer_learning_rate(m->opt);
                if (lr > c->o.min_lr) {
                    float nlr = DC_MAX(lr * c->o.factor, c->o.min_lr);
                    dc_optimizer_set_learning_rate(m->opt, nlr);
                    dc_log_message(DC_LOG_INFO, "ReduceLROnPlateau: epoch %d: learning rate %g -> %g",
                                   logs->epoch + 1, (double)lr, (double)nlr);
                    c->cooldown_left = c->o.cooldown;
                    c->wait = 0;
                }
            }
            break;
        case DC_CB_MODEL_CHECKPOINT: {
            if (c->o.save_best_only) {
                if (!improved(c, cur, 0.0f)) break;
                c->best = cur;
            }
            if (!s->writes_files) break;
            char path[DC_CB_PATH_MAX];
            expand_path(c->o.path, logs->epoch, path, sizeof path);
            dc_status sv = c->o.save_optimizer ? dc_model_save_checkpoint(m, path, logs->epoch + 1)
                                               : dc_model_save(m, path);
            if (sv != DC_OK) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", dc_last_error());
                *status = dc_set_error(dc_last_status(), "dc_model_fit: ModelCheckpoint: %s", msg);
                return true;
            }
            break;
        }
        case DC_CB_CSV_LOGGER:
            if (!c->csv) break;
            dc_history_csv_row(h, h->epochs - 1, c->csv);
            fflush(c->csv);
            break;
        case DC_CB_TERMINATE_ON_NAN:
            if (!isfinite(dc_logs_get(logs, "loss"))) stop = true;
            break;
        case DC_CB_TENSORBOARD:
            if (c->tb_train && tensorboard_epoch(c, m, logs) != DC_OK) {
                char msg[600];
                snprintf(msg, sizeof msg, "%s", dc_last_error());
                *status = dc_set_error(dc_last_status(), "dc_model_fit: TensorBoard: %s", msg);
                return true;
            }
            break;
        case DC_CB_LAMBDA:
            if (c->o.on_epoch_end && c->o.on_epoch_end(m, logs, c->o.user)) stop = true;
            break;
        default: break;
        }
    }
    return stop;
}

bool dc_callbacks_terminate_on_nan(const dc_cb_state *s) {
    for (int i = 0; s && i < s->n; i++)
        if (s->cb[i].o.kind == DC_CB_TERMINATE_ON_NAN) return true;
    return false;
}

int dc_callbacks_count(const dc_cb_state *s) { return s ? s->n : 0; }

void dc_callbacks_get_state(const dc_cb_state *s, int i, dc_cb_saved *out) {
    const cb_one *c = &s->cb[i];
    out->kind = (int)c->o.kind;
    out->best = c->best;
    out->wait = c->wait;
    out->cooldown_left = c->cooldown_left;
    out->best_epoch = c->best_epoch;
    out->best_weights = c->best_weights;
}

void dc_callbacks_set_state(dc_cb_state *s, int i, const dc_cb_saved *in) {
    cb_one *c = &s->cb[i];
    c->best = in->best;
    c->wait = in->wait;
    c->cooldown_left = in->cooldown_left;
    c->best_epoch = in->best_epoch;
    if (c->best_weights && in->best_weights)
        memcpy(c->best_weights, in->best_weights, s->m->n_weights * sizeof(float));
}
