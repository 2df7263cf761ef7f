/* history.c — the per-epoch record fit returns (Keras' History): one column of
 * floats per key, the fixed CSV columns first, and its CSV form. */
#include "train.h"
#include <math.h>
#include <string.h>

static const char *const fixed_keys[] = {"loss", "accuracy", "val_loss", "val_accuracy", "lr",
                                         "seconds"};
#define N_FIXED 6

dc_history *dc_history_new(const char *const *extra, int n_extra, int cap) {
    if (n_extra < 0 || n_extra + N_FIXED > DC_MAX_LOGS) {
        dc_set_error(DC_ERR_ARG, "dc_history: too many keys (%d)", n_extra + N_FIXED);
        return NULL;
    }
    dc_history *h = dc_calloc(1, sizeof *h);
    if (!h) goto oom;
    h->cap = cap > 0 ? cap : 1;
    for (int i = 0; i < N_FIXED + n_extra; i++) {
        snprintf(h->keys[i], DC_HIST_KEY, "%s", i < N_FIXED ? fixed_keys[i] : extra[i - N_FIXED]);
        h->present[i] = i == N_FIXED - 1; /* seconds, always */
        h->col[i] = dc_malloc((size_t)h->cap * sizeof(float));
        h->n_keys++;
        if (!h->col[i]) goto oom;
    }
    return h;
oom:
    dc_history_free(h);
    dc_set_error(DC_ERR_NOMEM, "dc_history: out of memory");
    return NULL;
}

void dc_history_free(dc_history *h) {
    if (!h) return;
    for (int i = 0; i < h->n_keys; i++) dc_free(h->col[i]);
    dc_free(h);
}

static int key_index(const dc_history *h, const char *key) {
    for (int i = 0; i < h->n_keys; i++)
        if (!strcmp(h->keys[i], key)) return i;
    return -1;
}

void dc_history_mark_present(dc_history *h, const char *key) {
    int i = key_index(h, key);
    if (i >= 0) h->present[i] = true;
}

dc_status dc_history_append(dc_history *h, const dc_logs *logs, float seconds) {
    if (h->epochs == h->cap) {
        int cap = 2 * h->cap;
        for (int i = 0; i < h->n_keys; i++) {
            float *c = dc_realloc(h->col[i], (size_t)cap * sizeof(float));
            if (!c) return dc_set_error(DC_ERR_NOMEM, "dc_history: out of memory");
            h->col[i] = c;
        }
        h->cap = cap;
    }
    for (int i = 0; i < h->n_keys; i++) {
        float v = !strcmp(h->keys[i], "seconds") ? seconds : dc_logs_get(logs, h->keys[i]);
        h->col[i][h->epochs] = v;
    }
    h->epochs++;
    return DC_OK;
}

float dc_logs_get(const dc_logs *logs, const char *key) {
    if (!logs || !key) return NAN;
    for (int i = 0; i < logs->n; i++)
        if (!strcmp(logs->keys[i], key)) return logs->values[i];
    return NAN;
}

int dc_history_epochs(const dc_history *h) { return h ? h->epochs : 0; }
int dc_history_num_keys(const dc_history *h) {
    int n = 0;
    for (int i = 0; h && i < h->n_keys; i++) n += h->present[i];
    return n;
}
const char *dc_history_key(const dc_history *h, int i) {
    for (int k = 0; h && k < h->n_keys; k++)
        if (h->present[k] && i-- == 0) return h->keys[k];
    return NULL;
}
const float *dc_history_get(const dc_history *h, const char *key) {
    if (!h || !key) return NULL;
    int i = key_index(h, key);
    return i >= 0 && h->present[i] ? h->col[i] : NULL;
}

void dc_history_csv_header(const dc_history *h, FILE *f) {
    fprintf(f, "epoch");
    for (int i = 0; i < h->n_keys; i++) fprintf(f, ",%s", h->keys[i]);
    fprintf(f, "\n");
}

void dc_history_csv_row(const dc_history *h, int epoch, FILE *f) {
    fprintf(f, "%d", h->first_epoch + epoch + 1);
    for (int i = 0; i < h->n_keys; i++) {
        float v = h->col[i][epoch];
        if (h->present[i] && !isnan(v)) fprintf(f, ",%.9g", (double)v);
        else fprintf(f, ",");
    }
    fprintf(f, "\n");
}

dc_status dc_history_write_csv(const dc_history *h, const char *path) {
    if (!h || !path) return dc_set_error(DC_ERR_ARG, "dc_history_write_csv: %s is NULL", h ? "path" : "history");
    dc_atomic_file af;
    if (dc_atomic_open(&af, "dc_history_write_csv", path) != DC_OK) return dc_last_status();
    dc_history_csv_header(h, af.f);
    for (int e = 0; e < h->epochs; e++) dc_history_csv_row(h, e, af.f);
    return dc_atomic_commit(&af);
}

dc_status dc_history_plot(const dc_history *h, const char *path) {
    if (!h || !path) return dc_set_error(DC_ERR_ARG, "dc_history_plot: %s is NULL", h ? "path" : "history");
    if (h->epochs == 0) return dc_set_error(DC_ERR_STATE, "dc_history_plot: the history is empty");
    return dc_plot_history(path, NULL, dc_history_get(h, "loss"), dc_history_get(h, "val_loss"),
                           dc_history_get(h, "accuracy"), dc_history_get(h, "val_accuracy"),
                           h->epochs);
}
