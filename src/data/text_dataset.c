/* text_dataset.c — datasets made of text: texts through a vectorizer (fixed
 * samples, or ragged id sequences padded per batch by the batcher) and
 * character corpora cut into windows for language models. */
#include "text.h"
#include "dataset.h"
#include <string.h>

/* Ragged storage: the ids of sample r are x[seq_start[r] .. seq_start[r+1]);
 * dc_dataset_get pads them with 0 to the longest (x_shape[0]). */
static dc_status ragged_get(const dc_dataset *ds, int64_t i, float *x, float *y) {
    const dc_ds_storage *s = ds->storage;
    int64_t r = ds->offset + i;
    if (x) {
        int64_t a = s->seq_start[r], len = s->seq_start[r + 1] - a;
        memcpy(x, s->x + a, (size_t)len * sizeof(float));
        memset(x + len, 0, (size_t)(ds->x_size - len) * sizeof(float));
    }
    if (y) *y = s->y[r];
    return DC_OK;
}

static dc_ds_storage *labelled_storage(const char *fn, const dc_text_set *s) {
    dc_ds_storage *st = dc_calloc(1, sizeof *st);
    if (!st) goto nomem;
    st->owns = true;
    st->y = dc_malloc_aligned((size_t)(s->count ? s->count : 1) * sizeof(float));
    if (!st->y) goto nomem;
    for (int64_t i = 0; i < s->count; i++) st->y[i] = s->labels ? (float)s->labels[i] : 0.0f;
    if (s->labels && s->num_classes > 0) {
        st->class_names = dc_calloc((size_t)s->num_classes, sizeof(char *));
        if (!st->class_names) goto nomem;
        st->owns_names = true;
        st->num_classes = s->num_classes;
        for (int c = 0; c < s->num_classes; c++) {
            char num[16];
            snprintf(num, sizeof num, "%d", c);
            if (!(st->class_names[c] = dc_ds_strdup(s->class_names ? s->class_names[c] : num)))
                goto nomem;
        }
    }
    return st;
nomem:
    dc_ds_storage_free(st);
    dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    return NULL;
}

static dc_status ragged_ids(const char *fn, const dc_text_vectorizer *v, const dc_text_set *s,
                            dc_ds_storage *st, int64_t *longest);

/* Variable-length int samples: padded per batch by the batcher. */
static dc_dataset *ragged_from_texts(const char *fn, const dc_text_vectorizer *v,
                                     const dc_text_set *s, dc_ds_storage *st) {
    int64_t longest = 1;
    if (ragged_ids(fn, v, s, st, &longest) != DC_OK) {
        dc_ds_storage_free(st);
        return NULL;
    }
    int64_t xs[1] = {longest};
    dc_dataset *ds = dc_dataset_from_storage(fn, st, s->count, 1, xs, 0, NULL);
    if (ds) {
        ds->var_len = true;
        ds->get = ragged_get;
    }
    return ds;
}

/* A bag of words made when the sample is read from the ragged ids, so a big
 * vocabulary costs memory per batch, not per sample; the same sums, in the
 * same order, as dc_text_vectorizer_encode. */
static dc_status bag_get(const dc_dataset *ds, int64_t i, float *x, float *y) {
    const dc_ds_storage *s = ds->storage;
    int64_t r = ds->offset + i;
    if (x) {
        memset(x, 0, (size_t)ds->x_size * sizeof(float));
        for (int64_t k = s->seq_start[r]; k < s->seq_start[r + 1]; k++) {
            int64_t id = (int64_t)s->x[k];
            if (s->bag_mode == DC_TEXT_MULTI_HOT) x[id] = 1.0f;
            else if (s->bag_mode == DC_TEXT_COUNT) x[id] += 1.0f;
            else x[id] += s->bag_idf[id];
        }
    }
    if (y) *y = s->y[r];
    return DC_OK;
}

/* The ids of every text back to back in st (seq_start, x); *longest gets the
 * longest (at least 1). */
static dc_status ragged_ids(const char *fn, const dc_text_vectorizer *v, const dc_text_set *s,
                            dc_ds_storage *st, int64_t *longest) {
    st->seq_start = dc_malloc((size_t)(s->count + 1) * sizeof(int64_t));
    if (!st->seq_start) goto nomem;
    st->seq_start[0] = 0;
    int64_t total = 0;
    *longest = 1;
    for (int64_t i = 0; i < s->count; i++) {
        int64_t len = dc_text_vectorizer_encode(v, s->texts[i], NULL, 0);
        if (len < 0) return dc_last_status();
        total += len;
        *longest = DC_MAX(*longest, len);
        st->seq_start[i + 1] = total;
    }
    st->x = dc_malloc_aligned((size_t)(total ? total : 1) * sizeof(float));
    if (!st->x) goto nomem;
    for (int64_t i = 0; i < s->count; i++)
        dc_text_vectorizer_encode(v, s->texts[i], st->x + st->seq_start[i],
                                  st->seq_start[i + 1] - st->seq_start[i]);
    return DC_OK;
nomem:
    return dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld texts", fn, (long long)s->count);
}

/* The ids of a bag-mode vectorizer: the same lookup, before counting. */
static dc_status bag_ids(const char *fn, const dc_text_vectorizer *v, const dc_text_set *s,
                         dc_ds_storage *st) {
    st->seq_start = dc_malloc((size_t)(s->count + 1) * sizeof(int64_t));
    float **ids = dc_calloc((size_t)(s->count ? s->count : 1), sizeof(float *));
    dc_status status = DC_OK;
    if (!st->seq_start || !ids) status = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    int64_t total = 0;
    if (status == DC_OK) st->seq_start[0] = 0;
    for (int64_t i = 0; status == DC_OK && i < s->count; i++) {
        int64_t n;
        ids[i] = dc_text_vectorizer_ids(v, s->texts[i], strlen(s->texts[i]), &n);
        if (!ids[i]) status = dc_last_status();
        else st->seq_start[i + 1] = (total += n);
    }
    if (status == DC_OK && !(st->x = dc_malloc_aligned((size_t)(total ? total : 1) * sizeof(float))))
        status = dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld ids", fn, (long long)total);
    for (int64_t i = 0; i < s->count && ids; i++) {
        if (status == DC_OK)
            memcpy(st->x + st->seq_start[i], ids[i],
                   (size_t)(st->seq_start[i + 1] - st->seq_start[i]) * sizeof(float));
        dc_free_aligned(ids[i]);
    }
    dc_free(ids);
    if (status != DC_OK) return status;
    st->bag_mode = (int)dc_text_vectorizer_get_options(v).output_mode;
    const float *idf = dc_text_vectorizer_idf_weights(v);
    if (st->bag_mode == DC_TEXT_TF_IDF) {
        int64_t nv = dc_text_vectorizer_vocabulary_size(v);
        if (!idf || !(st->bag_idf = dc_malloc((size_t)nv * sizeof(float))))
            return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        memcpy(st->bag_idf, idf, (size_t)nv * sizeof(float));
    }
    return DC_OK;
}

dc_dataset *dc_dataset_from_texts(const dc_text_vectorizer *v, const dc_text_set *s) {
    const char *fn = "dc_dataset_from_texts";
    if (!v || !s) {
        dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, v ? "text set" : "vectorizer");
        return NULL;
    }
    if (dc_text_vectorizer_vocabulary_size(v) == 0) {
        dc_set_error(DC_ERR_STATE, "%s: the vectorizer has no vocabulary (adapt it first)", fn);
        return NULL;
    }
    if (s->count == 0) {
        dc_set_error(DC_ERR_ARG, "%s: the text set is empty", fn);
        return NULL;
    }
    dc_ds_storage *st = labelled_storage(fn, s);
    if (!st) return NULL;
    int64_t width = dc_text_vectorizer_output_size(v);
    if (width == 0) return ragged_from_texts(fn, v, s, st);
    if (dc_text_vectorizer_get_options(v).output_mode != DC_TEXT_INT) {
        if (bag_ids(fn, v, s, st) != DC_OK) {
            dc_ds_storage_free(st);
            return NULL;
        }
        int64_t xs[1] = {width};
        dc_dataset *ds = dc_dataset_from_storage(fn, st, s->count, 1, xs, 0, NULL);
        if (ds) ds->get = bag_get;
        return ds;
    }
    size_t bytes;
    if (dc_mul_overflows((size_t)s->count, (size_t)width * sizeof(float), &bytes) ||
        !(st->x = dc_malloc_aligned(bytes))) {
        dc_ds_storage_free(st);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld samples of %lld", fn,
                     (long long)s->count, (long long)width);
        return NULL;
    }
    for (int64_t i = 0; i < s->count; i++)
        if (dc_text_vectorizer_encode(v, s->texts[i], st->x + i * width, width) < 0) {
            dc_ds_storage_free(st);
            return NULL;
        }
    int64_t xs[1] = {width};
    return dc_dataset_from_storage(fn, st, s->count, 1, xs, 0, NULL);
}

/* ---- character corpora ---- */

/* Window r starts at x[r * stride]: x its seq_len ids, y the ids one ahead
 * (or the one id after the window). */
static dc_status corpus_get(const dc_dataset *ds, int64_t i, float *x, float *y) {
    const dc_ds_storage *s = ds->storage;
    int64_t a = (ds->offset + i) * s->stride, t = ds->x_size;
    if (x) memcpy(x, s->x + a, (size_t)t * sizeof(float));
    if (y && s->last_only) *y = s->x[a + t];
    else if (y) memcpy(y, s->x + a + 1, (size_t)t * sizeof(float));
    return DC_OK;
}

/* A dataset of the windows of ids[0..n) (copied). */
static dc_dataset *corpus_part(const char *fn, const float *ids, int64_t n,
                               const dc_char_corpus_options *o) {
    int64_t windows = n > o->seq_len ? (n - o->seq_len - 1) / o->stride + 1 : 0;
    dc_ds_storage *st = dc_calloc(1, sizeof *st);
    if (!st || !(st->x = dc_malloc_aligned((size_t)n * sizeof(float)))) {
        dc_ds_storage_free(st);
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld ids", fn, (long long)n);
        return NULL;
    }
    st->owns = true;
    memcpy(st->x, ids, (size_t)n * sizeof(float));
    st->x_len = n;
    st->stride = o->stride;
    st->last_only = o->last_only;
    int64_t xs[1] = {o->seq_len};
    dc_dataset *ds = dc_dataset_from_storage(fn, st, windows, 1, xs, o->last_only ? 0 : 1, xs);
    if (ds) ds->get = corpus_get;
    return ds;
}

dc_status dc_dataset_char_corpus(const dc_text_vectorizer *v, const char *text, size_t len,
                                 const dc_char_corpus_options *opt, dc_dataset **train,
                                 dc_dataset **val) {
    const char *fn = "dc_dataset_char_corpus";
    if (train) *train = NULL;
    if (val) *val = NULL;
    if (!v || !text || !train)
        return dc_set_error(DC_ERR_ARG, "%s: vectorizer, text and train must not be NULL", fn);
    dc_char_corpus_options o = {0};
    if (opt) o = *opt;
    if (!o.seq_len) o.seq_len = 100;
    if (!o.stride) o.stride = o.seq_len;
    if (o.seq_len < 1 || o.seq_len > ((int64_t)1 << 24) || o.stride < 1)
        return dc_set_error(DC_ERR_ARG, "%s: seq_len %lld and stride %lld must be positive", fn,
                            (long long)o.seq_len, (long long)o.stride);
    if (!(o.validation_fraction >= 0.0f && o.validation_fraction < 1.0f))
        return dc_set_error(DC_ERR_ARG, "%s: validation_fraction %g must be in [0, 1)", fn,
                            (double)o.validation_fraction);
    dc_text_vectorizer_options vo = dc_text_vectorizer_get_options(v);
    if (vo.output_mode != DC_TEXT_INT || vo.split != DC_SPLIT_CHARACTER)
        return dc_set_error(DC_ERR_ARG, "%s: the vectorizer must be output_mode int with split "
                            "character", fn);
    int64_t n;
    float *ids = dc_text_vectorizer_ids(v, text, len, &n);
    if (!ids) return dc_last_status();
    int64_t n_val = (int64_t)((double)n * o.validation_fraction);
    int64_t n_train = n - n_val;
    dc_status s = DC_OK;
    if (n_train <= o.seq_len) {
        s = dc_set_error(DC_ERR_ARG,
                         "%s: %lld characters for training, too few for one window of %lld and "
                         "its next character",
                         fn, (long long)n_train, (long long)o.seq_len);
    } else {
        *train = corpus_part(fn, ids, n_train, &o);
        if (!*train) s = dc_last_status();
        else if (val && n_val > o.seq_len) {
            *val = corpus_part(fn, ids + n_train, n_val, &o);
            if (!*val) {
                s = dc_last_status();
                dc_dataset_free(*train);
                *train = NULL;
            }
        }
    }
    dc_free_aligned(ids);
    return s;
}
