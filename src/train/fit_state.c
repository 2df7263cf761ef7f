/* fit_state.c — fit's resume checkpoints (Keras' BackupAndRestore): the model
 * file plus the optimizer state, every layer's RNG, the callbacks' state, the
 * history so far and the position in the epoch, so a resumed run is the same
 * run bit for bit. Numbers go as C99 hex floats ("%a"), which read back exact. */
#include "train.h"
#include "../optim/optim.h"
#include "../tensor/tensor.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATE_KEY "deepc_fit_state"
#define EPOCH_KEY "deepc_epoch"
#define STATE_VERSION 1

static cJSON *hex(double v) {
    char b[64];
    snprintf(b, sizeof b, "%a", v);
    return cJSON_CreateString(b);
}
static cJSON *u64(uint64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, v);
    return cJSON_CreateString(b);
}
static double get_hex(const cJSON *o, const char *k, bool *ok) {
    const cJSON *v = k ? cJSON_GetObjectItemCaseSensitive(o, k) : o;
    if (!cJSON_IsString(v)) {
        *ok = false;
        return 0;
    }
    return strtod(v->valuestring, NULL);
}
static uint64_t get_u64(const cJSON *o, const char *k, bool *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v)) {
        *ok = false;
        return 0;
    }
    return strtoull(v->valuestring, NULL, 10);
}
static int64_t get_int(const cJSON *o, const char *k, bool *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v) || v->valuedouble < -1e15 || v->valuedouble > 1e15) {
        *ok = false;
        return 0;
    }
    return (int64_t)v->valuedouble;
}

static cJSON *rng_json(const dc_rng *g) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "state", u64(g->state));
    cJSON_AddItemToObject(o, "inc", u64(g->inc));
    cJSON_AddNumberToObject(o, "has_spare", g->has_spare);
    cJSON_AddItemToObject(o, "spare", hex(g->spare));
    return o;
}

static void rng_read(const cJSON *o, dc_rng *g, bool *ok) {
    g->state = get_u64(o, "state", ok);
    g->inc = get_u64(o, "inc", ok);
    g->has_spare = (int)get_int(o, "has_spare", ok);
    g->spare = get_hex(o, "spare", ok);
}

static void best_name(char *out, size_t n, int i) {
    snprintf(out, n, "fit/callback%d/best_weights", i);
}

/* MeanIoU's sums are a confusion summary, kept only when it is measured. */
static bool has_mean_iou(const dc_model *m) {
    for (int k = 0; k < m->n_metrics; k++)
        if (m->copt.metrics[k] == DC_METRIC_MEAN_IOU) return true;
    return false;
}

static cJSON *state_json(const dc_model *m, const dc_cb_state *cbs, const dc_history *h,
                         const dc_fit_pos *pos, const dc_fit_setup *su) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "version", STATE_VERSION);
    cJSON_AddNumberToObject(r, "epoch", pos->epoch);
    cJSON_AddNumberToObject(r, "batch", (double)pos->batch);
    cJSON_AddBoolToObject(r, "done", pos->done);
    cJSON_AddItemToObject(r, "seed", u64(su->seed));
    cJSON_AddBoolToObject(r, "shuffle", su->shuffle);
    cJSON_AddNumberToObject(r, "n_train", (double)su->n_train);
    cJSON_AddNumberToObject(r, "batch_size", (double)su->batch_size);
    cJSON_AddNumberToObject(r, "steps_per_epoch", (double)su->steps_per_epoch);
    cJSON *acc = cJSON_AddObjectToObject(r, "sums");
    cJSON_AddItemToObject(acc, "loss_sum", hex(pos->acc.loss_sum));
    cJSON_AddItemToObject(acc, "epoch_lr", hex(pos->lr));
    cJSON_AddNumberToObject(acc, "loss_n", (double)pos->acc.loss_n);
    cJSON *sum = cJSON_AddArrayToObject(acc, "sum"), *cnt = cJSON_AddArrayToObject(acc, "count");
    for (int k = 0; k < DC_MAX_METRICS; k++) {
        cJSON_AddItemToArray(sum, hex(pos->acc.sum[k]));
        cJSON_AddItemToArray(cnt, hex(pos->acc.count[k]));
    }
    if (has_mean_iou(m)) {
        const double *const iou[3] = {pos->acc.iou_pred, pos->acc.iou_true,
                                      pos->acc.iou_hit};
        cJSON *arr = cJSON_AddArrayToObject(acc, "iou");
        for (int j = 0; j < 3; j++)
            for (int c = 0; c < DC_MAX_CLASS_WEIGHTS; c++) cJSON_AddItemToArray(arr, hex(iou[j][c]));
    }
    cJSON *rngs = cJSON_AddArrayToObject(r, "layer_rngs");
    for (int i = 0; i < m->n_layers; i++) {
        const dc_layer *l = m->layers[i];
        cJSON *o = rng_json(&l->rng);
        if (l->sub[0]) { /* a wrapper's layers (Bidirectional's RNNs) draw from their own */
            cJSON *subs = cJSON_AddArrayToObject(o, "subs");
            for (int k = 0; k < 2 && l->sub[k]; k++) cJSON_AddItemToArray(subs, rng_json(&l->sub[k]->rng));
        }
        cJSON_AddItemToArray(rngs, o);
    }
    cJSON *cb = cJSON_AddArrayToObject(r, "callbacks");
    for (int i = 0; i < dc_callbacks_count(cbs); i++) {
        dc_cb_saved c;
        dc_callbacks_get_state(cbs, i, &c);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "kind", c.kind);
        cJSON_AddItemToObject(o, "best", hex(c.best));
        cJSON_AddNumberToObject(o, "wait", c.wait);
        cJSON_AddNumberToObject(o, "cooldown_left", c.cooldown_left);
        cJSON_AddNumberToObject(o, "best_epoch", c.best_epoch);
        cJSON_AddBoolToObject(o, "has_best_weights", c.best_weights != NULL);
        cJSON_AddItemToArray(cb, o);
    }
    cJSON *hist = cJSON_AddObjectToObject(r, "history");
    cJSON_AddNumberToObject(hist, "first_epoch", h->first_epoch);
    cJSON *keys = cJSON_AddArrayToObject(hist, "keys"), *cols = cJSON_AddArrayToObject(hist, "columns");
    for (int i = 0; i < h->n_keys; i++) {
        cJSON_AddItemToArray(keys, cJSON_CreateString(h->keys[i]));
        cJSON *col = cJSON_CreateArray();
        for (int e = 0; e < h->epochs; e++) cJSON_AddItemToArray(col, hex(h->col[i][e]));
        cJSON_AddItemToArray(cols, col);
    }
    return r;
}

dc_status dc_fit_state_save(const char *path, dc_model *m, const dc_cb_state *cbs,
                            const dc_history *h, const dc_fit_pos *pos, const dc_fit_setup *su) {
    const char *fn = "dc_model_fit: checkpoint";
    dc_tensor *ts[1 + 16];
    int n = 0;
    dc_status s = DC_OK;
    char *json = NULL;
    cJSON *r = NULL;
    dc_tensor *opt = dc_model_optimizer_state_tensor(fn, m);
    if (!opt) return dc_last_status();
    ts[n++] = opt;
    dc_tensor views[16]; /* headers over the callbacks' best weights */
    for (int i = 0; i < dc_callbacks_count(cbs) && n < 17; i++) {
        dc_cb_saved c;
        dc_callbacks_get_state(cbs, i, &c);
        if (!c.best_weights) continue;
        dc_tensor *t = &views[n - 1];
        dc_tensor_init_header(t, 1, (const int64_t[]){(int64_t)m->n_weights});
        t->data = c.best_weights;
        char nm[64];
        best_name(nm, sizeof nm, i);
        dc_tensor_set_name(t, nm);
        ts[n++] = t;
    }
    r = state_json(m, cbs, h, pos, su);
    json = r ? cJSON_PrintUnformatted(r) : NULL;
    if (!json) {
        s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto out;
    }
    char ep[32];
    snprintf(ep, sizeof ep, "%d", pos->epoch);
    const char *keys[2] = {EPOCH_KEY, STATE_KEY}, *vals[2] = {ep, json};
    s = dc_model_save_extra("dc_model_fit", m, path, ts, n, keys, vals, 2);
out:
    dc_tensor_free(opt);
    cJSON_free(json);
    cJSON_Delete(r);
    return s;
}

static dc_status bad(const char *path, const char *what) {
    return dc_set_error(DC_ERR_FORMAT, "dc_model_fit: resume from '%s': %s", path, what);
}

dc_status dc_fit_state_load(const char *path, dc_model *m, dc_cb_state *cbs, dc_history *h,
                            dc_fit_pos *pos, const dc_fit_setup *su) {
    dc_safetensors *st = dc_safetensors_load(path);
    if (!st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status(), "dc_model_fit: resume: %s", msg);
    }
    const char *js = dc_safetensors_metadata(st, STATE_KEY);
    cJSON *r = js ? cJSON_Parse(js) : NULL;
    dc_status s = DC_OK;
    bool ok = true;
    char msg[256];
    if (!r) {
        s = bad(path, "it is not a checkpoint fit wrote (no fit state; dc_fit_options.checkpoint_path writes one)");
        goto out;
    }
    /* the run must be the same one, or its batches would differ */
    dc_fit_setup was = {get_u64(r, "seed", &ok),
                        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "shuffle")),
                        get_int(r, "n_train", &ok), get_int(r, "batch_size", &ok), 0};
    /* checkpoints written before steps_per_epoch was kept had whole passes */
    if (cJSON_GetObjectItemCaseSensitive(r, "steps_per_epoch"))
        was.steps_per_epoch = get_int(r, "steps_per_epoch", &ok);
    if (ok && (was.seed != su->seed || was.shuffle != su->shuffle || was.n_train != su->n_train ||
               was.batch_size != su->batch_size || was.steps_per_epoch != su->steps_per_epoch)) {
        snprintf(msg, sizeof msg,
                 "it was written by a run with seed %" PRIu64 ", shuffle %d, %lld training samples, "
                 "batch size %lld and steps_per_epoch %lld; this one has %" PRIu64
                 ", %d, %lld, %lld and %lld",
                 was.seed, was.shuffle, (long long)was.n_train, (long long)was.batch_size,
                 (long long)was.steps_per_epoch, su->seed, su->shuffle, (long long)su->n_train,
                 (long long)su->batch_size, (long long)su->steps_per_epoch);
        s = bad(path, msg);
        goto out;
    }
    dc_fit_pos p = {0};
    p.epoch = (int)get_int(r, "epoch", &ok);
    p.batch = get_int(r, "batch", &ok);
    p.done = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "done"));
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(r, "sums");
    p.acc.loss_sum = get_hex(acc, "loss_sum", &ok);
    p.acc.loss_n = get_int(acc, "loss_n", &ok);
    p.lr = (float)get_hex(acc, "epoch_lr", &ok);
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(acc, "sum");
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(acc, "count");
    ok = ok && cJSON_GetArraySize(sum) == DC_MAX_METRICS && cJSON_GetArraySize(cnt) == DC_MAX_METRICS;
    for (int k = 0; ok && k < DC_MAX_METRICS; k++) {
        p.acc.sum[k] = get_hex(cJSON_GetArrayItem(sum, k), NULL, &ok);
        p.acc.count[k] = get_hex(cJSON_GetArrayItem(cnt, k), NULL, &ok);
    }
    if (ok && has_mean_iou(m)) {
        double *const iou[3] = {p.acc.iou_pred, p.acc.iou_true, p.acc.iou_hit};
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(acc, "iou");
        ok = cJSON_GetArraySize(arr) == 3 * DC_MAX_CLASS_WEIGHTS;
        for (int j = 0; ok && j < 3; j++)
            for (int c = 0; ok && c < DC_MAX_CLASS_WEIGHTS; c++)
                iou[j][c] = get_hex(cJSON_GetArrayItem(arr, j * DC_MAX_CLASS_WEIGHTS + c), NULL, &ok);
    }
    const cJSON *rngs = cJSON_GetObjectItemCaseSensitive(r, "layer_rngs");
    const cJSON *cb = cJSON_GetObjectItemCaseSensitive(r, "callbacks");
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(r, "history");
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(hist, "keys");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(hist, "columns");
    if (!ok || get_int(r, "version", &ok) != STATE_VERSION || p.epoch < 0 || p.batch < 0) {
        s = bad(path, "its fit state is damaged or from another version");
        goto out;
    }
    if (cJSON_GetArraySize(rngs) != m->n_layers) {
        s = bad(path, "it holds another number of layers than the model");
        goto out;
    }
    if (cJSON_GetArraySize(cb) != dc_callbacks_count(cbs)) {
        snprintf(msg, sizeof msg, "it was written with %d callbacks, this fit has %d",
                 cJSON_GetArraySize(cb), dc_callbacks_count(cbs));
        s = bad(path, msg);
        goto out;
    }
    for (int i = 0; i < dc_callbacks_count(cbs); i++) {
        dc_cb_saved c;
        dc_callbacks_get_state(cbs, i, &c);
        const cJSON *o = cJSON_GetArrayItem(cb, i);
        char nm[64];
        best_name(nm, sizeof nm, i);
        const dc_tensor *bw = dc_safetensors_get(st, nm);
        if (get_int(o, "kind", &ok) != c.kind || (c.best_weights && (!bw || bw->size != (int64_t)m->n_weights))) {
            snprintf(msg, sizeof msg, "callback %d differs from the one that wrote it", i);
            s = bad(path, msg);
            goto out;
        }
    }
    int n_keys = cJSON_GetArraySize(keys), rows = -1;
    bool same = n_keys == h->n_keys && cJSON_GetArraySize(cols) == n_keys;
    for (int i = 0; same && i < n_keys; i++) {
        const cJSON *k = cJSON_GetArrayItem(keys, i);
        int nr = cJSON_GetArraySize(cJSON_GetArrayItem(cols, i));
        same = cJSON_IsString(k) && !strcmp(k->valuestring, h->keys[i]) && (rows < 0 || nr == rows);
        rows = nr;
    }
    if (!same || rows < 0 || rows > 10000000) {
        s = bad(path, "its history has other columns than this fit logs (validation or metrics changed?)");
        goto out;
    }
    /* weights and optimizer state: checked, then copied */
    s = dc_model_load_checkpoint(m, path, NULL);
    if (s != DC_OK) goto out;
    for (int i = 0; i < m->n_layers; i++) {
        const cJSON *o = cJSON_GetArrayItem(rngs, i);
        dc_layer *l = m->layers[i];
        rng_read(o, &l->rng, &ok);
        const cJSON *subs = cJSON_GetObjectItemCaseSensitive(o, "subs"); /* absent before wrappers saved theirs */
        for (int k = 0; k < 2 && l->sub[k] && k < cJSON_GetArraySize(subs); k++)
            rng_read(cJSON_GetArrayItem(subs, k), &l->sub[k]->rng, &ok);
    }
    for (int i = 0; i < dc_callbacks_count(cbs); i++) {
        const cJSON *o = cJSON_GetArrayItem(cb, i);
        char nm[64];
        best_name(nm, sizeof nm, i);
        const dc_tensor *bw = dc_safetensors_get(st, nm);
        dc_cb_saved c = {.kind = (int)get_int(o, "kind", &ok),
                         .best = (float)get_hex(o, "best", &ok),
                         .wait = (int)get_int(o, "wait", &ok),
                         .cooldown_left = (int)get_int(o, "cooldown_left", &ok),
                         .best_epoch = (int)get_int(o, "best_epoch", &ok),
                         .best_weights = bw ? bw->data : NULL};
        dc_callbacks_set_state(cbs, i, &c);
    }
    h->first_epoch = (int)get_int(hist, "first_epoch", &ok);
    h->epochs = 0;
    for (int e = 0; e < rows; e++) {
        dc_logs lg = {.n = n_keys};
        for (int i = 0; i < n_keys; i++) {
            lg.keys[i] = h->keys[i];
            lg.values[i] = (float)get_hex(cJSON_GetArrayItem(cJSON_GetArrayItem(cols, i), e), NULL, &ok);
        }
        if ((s = dc_history_append(h, &lg, dc_logs_get(&lg, "seconds"))) != DC_OK) goto out;
    }
    *pos = p;
out:
    cJSON_Delete(r);
    dc_safetensors_free(st);
    return s;
}
