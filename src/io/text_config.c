/* text_config.c — model-file support for text: a table of the [data] keys of
 * the text kinds (folder, CSV/TSV, fortunes, character corpus), the
 * [TextVectorization] section, and loading them into datasets. */
#include "text_config.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

enum { TEXT_NONE = 0, TEXT_DIR, TEXT_CSV, TEXT_FORTUNES, TEXT_CORPUS };

#define MAX_CATEGORIES 64

struct dc_text_data {
    int kind;
    int kind_line;              /* the line of the key that chose the kind */
    char *train_path, *test_path;
    char *text_column;
    char *fortunes_dir;         /* NULL: the default folder */
    char *categories[MAX_CATEGORIES];
    int n_categories;
    int64_t min_count;
    int64_t test_every;         /* -1: not given */
    char *corpus;               /* "fortunes" or a file */
    int64_t seq_len, stride;
    bool last_only;
    float validation_fraction;  /* < 0: not given */
    dc_text_vectorizer_options vo;
    bool vo_given;
    dc_text_vectorizer *vec;    /* adapted by the last load */
};

const char *const dc_text_data_keys =
    "train_text_dir, test_text_dir, train_text_csv, test_text_csv, text_column, fortunes, "
    "categories, min_count, test_every, corpus, seq_len, stride, target, validation_fraction";
const char *const dc_text_vectorization_keys =
    "max_tokens, standardize, split, output_mode, output_sequence_length, pad_to_max_tokens, "
    "ngrams";

static dc_status bad(const dc_text_origin *o, const char *fmt, const char *value) {
    char what[400];
    snprintf(what, sizeof what, fmt, value);
    if (o->line > 0)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [%s] %s: %s", o->file, o->line, o->section, o->key,
                            what);
    return dc_set_error(DC_ERR_ARG, "%s: [%s] %s: %s", o->file, o->section, o->key, what);
}

static char *str_copy(const char *s) {
    char *d = dc_malloc(strlen(s) + 1);
    if (d) strcpy(d, s);
    return d;
}

static dc_text_data *ensure(dc_text_data **td) {
    if (!*td) {
        *td = dc_calloc(1, sizeof **td);
        if (*td) {
            (*td)->test_every = -1;
            (*td)->validation_fraction = -1;
            (*td)->min_count = 1;
        }
    }
    return *td;
}

static dc_status set_str(const dc_text_origin *o, char **dst, const char *v) {
    if (!*v) return bad(o, "the value is empty%s", "");
    char *d = dc_malloc(strlen(v) + 1);
    if (!d) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", o->file);
    strcpy(d, v);
    dc_free(*dst);
    *dst = d;
    return DC_OK;
}

static dc_status parse_i64(const dc_text_origin *o, const char *v, int64_t lo, int64_t hi,
                           int64_t *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (isspace((unsigned char)*end)) end++;
    if (!*v || *end || end == v || errno == ERANGE || x < lo || x > hi) {
        char msg[160];
        snprintf(msg, sizeof msg, "'%%s' is not a whole number in [%lld, %lld]", (long long)lo,
                 (long long)hi);
        return bad(o, msg, v);
    }
    *out = x;
    return DC_OK;
}

static dc_status parse_bool(const dc_text_origin *o, const char *v, bool *out) {
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1")) *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0")) *out = false;
    else return bad(o, "'%s' is not true or false", v);
    return DC_OK;
}

/* "a, b, c" or "[a, b]" into the category list. */
static dc_status parse_categories(dc_text_data *td, const dc_text_origin *o, const char *v) {
    char buf[2048];
    if (strlen(v) >= sizeof buf) return bad(o, "the list is too long%s", "");
    snprintf(buf, sizeof buf, "%s", v);
    for (int i = 0; i < td->n_categories; i++) dc_free(td->categories[i]);
    td->n_categories = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ", []'\"", &save); t; t = strtok_r(NULL, ", []'\"", &save)) {
        if (td->n_categories == MAX_CATEGORIES) return bad(o, "more than 64 categories%s", "");
        if (strchr(t, '/')) return bad(o, "'%s' is not a category file name", t);
        char *d = dc_malloc(strlen(t) + 1);
        if (!d) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", o->file);
        strcpy(d, t);
        td->categories[td->n_categories++] = d;
    }
    if (!td->n_categories) return bad(o, "'%s' names no category", v);
    return DC_OK;
}

/* Records the kind a key implies; two kinds are an error. */
static dc_status set_kind(dc_text_data *td, const dc_text_origin *o, int kind) {
    if (td->kind && td->kind != kind)
        return bad(o, "%sgive one kind of text data: train_text_dir, train_text_csv, fortunes or "
                      "corpus",
                   "");
    td->kind = kind;
    if (!td->kind_line) td->kind_line = o->line;
    return DC_OK;
}

dc_status dc_text_data_key(dc_text_data **tdp, const dc_text_origin *o, const char *v,
                           bool *handled) {
    const char *k = o->key;
    *handled = true;
    static const struct {
        const char *key;
        int kind; /* TEXT_NONE: any */
    } table[] = {{"train_text_dir", TEXT_DIR},  {"test_text_dir", TEXT_DIR},
                 {"train_text_csv", TEXT_CSV},  {"test_text_csv", TEXT_CSV},
                 {"text_column", TEXT_CSV},     {"fortunes", TEXT_FORTUNES},
                 {"categories", TEXT_NONE},     {"min_count", TEXT_NONE},
                 {"test_every", TEXT_NONE},     {"corpus", TEXT_CORPUS},
                 {"seq_len", TEXT_CORPUS},      {"stride", TEXT_CORPUS},
                 {"target", TEXT_CORPUS},       {"validation_fraction", TEXT_CORPUS}};
    int row = -1;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(k, table[i].key)) row = (int)i;
    if (row < 0) {
        *handled = false;
        return DC_OK;
    }
    dc_text_data *td = ensure(tdp);
    if (!td) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", o->file);
    if (table[row].kind && set_kind(td, o, table[row].kind) != DC_OK) return dc_last_status();
    if (!strcmp(k, "train_text_dir") || !strcmp(k, "train_text_csv"))
        return set_str(o, &td->train_path, v);
    if (!strcmp(k, "test_text_dir") || !strcmp(k, "test_text_csv"))
        return set_str(o, &td->test_path, v);
    if (!strcmp(k, "text_column")) return set_str(o, &td->text_column, v);
    if (!strcmp(k, "fortunes")) {
        if (!strcasecmp(v, "default") || !strcasecmp(v, "true") || !strcasecmp(v, "yes")) {
            dc_free(td->fortunes_dir);
            td->fortunes_dir = NULL;
            return DC_OK;
        }
        return set_str(o, &td->fortunes_dir, v);
    }
    if (!strcmp(k, "categories")) return parse_categories(td, o, v);
    if (!strcmp(k, "min_count")) return parse_i64(o, v, 0, INT64_MAX / 2, &td->min_count);
    if (!strcmp(k, "test_every")) {
        int64_t x;
        dc_status st = parse_i64(o, v, 0, INT64_MAX / 2, &x);
        if (st != DC_OK) return st;
        if (x == 1) return bad(o, "'%s' must be 0 (no test split) or at least 2", v);
        td->test_every = x;
        return DC_OK;
    }
    if (!strcmp(k, "corpus")) return set_str(o, &td->corpus, v);
    if (!strcmp(k, "seq_len")) return parse_i64(o, v, 1, 1 << 20, &td->seq_len);
    if (!strcmp(k, "stride")) return parse_i64(o, v, 1, 1 << 20, &td->stride);
    if (!strcmp(k, "target")) {
        if (!strcasecmp(v, "sequence")) td->last_only = false;
        else if (!strcasecmp(v, "last")) td->last_only = true;
        else return bad(o, "'%s' must be sequence (the next character at every step) or last", v);
        return DC_OK;
    }
    /* validation_fraction */
    char *end;
    errno = 0;
    double f = strtod(v, &end);
    while (isspace((unsigned char)*end)) end++;
    if (!*v || *end || !(f >= 0 && f < 1)) return bad(o, "'%s' is not a number in [0, 1)", v);
    td->validation_fraction = (float)f;
    return DC_OK;
}

dc_status dc_text_vectorization_key(dc_text_data **tdp, const dc_text_origin *o, const char *v) {
    dc_text_data *td = ensure(tdp);
    if (!td) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", o->file);
    dc_text_vectorizer_options *p = &td->vo;
    const char *k = o->key;
    td->vo_given = true;
    if (!strcmp(k, "max_tokens")) {
        if (!strcasecmp(v, "none")) return p->max_tokens = 0, DC_OK;
        return parse_i64(o, v, 0, (int64_t)1 << 30, &p->max_tokens);
    }
    if (!strcmp(k, "output_sequence_length")) {
        if (!strcasecmp(v, "none")) return p->output_sequence_length = 0, DC_OK;
        return parse_i64(o, v, 0, (int64_t)1 << 24, &p->output_sequence_length);
    }
    if (!strcmp(k, "pad_to_max_tokens")) return parse_bool(o, v, &p->pad_to_max_tokens);
    if (!strcmp(k, "ngrams")) {
        int64_t n = 0;
        if (strcasecmp(v, "none") && parse_i64(o, v, 0, 8, &n) != DC_OK) return dc_last_status();
        p->ngrams = (int)n;
        return DC_OK;
    }
    if (!strcmp(k, "standardize")) {
        static const char *const names[] = {"lower_and_strip_punctuation", "none", "lower",
                                            "strip_punctuation"};
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(v, names[i])) return p->standardize = (dc_text_standardize)i, DC_OK;
        return bad(o, "unknown value '%s' (known: lower_and_strip_punctuation, lower, "
                      "strip_punctuation, none)", v);
    }
    if (!strcmp(k, "split")) {
        if (!strcasecmp(v, "whitespace")) p->split = DC_SPLIT_WHITESPACE;
        else if (!strcasecmp(v, "character")) p->split = DC_SPLIT_CHARACTER;
        else return bad(o, "unknown value '%s' (known: whitespace, character)", v);
        return DC_OK;
    }
    if (!strcmp(k, "output_mode")) {
        static const char *const names[] = {"int", "multi_hot", "count", "tf_idf"};
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(v, names[i])) return p->output_mode = (dc_text_output_mode)i, DC_OK;
        if (!strcasecmp(v, "tf-idf")) return p->output_mode = DC_TEXT_TF_IDF, DC_OK;
        return bad(o, "unknown value '%s' (known: int, multi_hot, count, tf_idf)", v);
    }
    if (o->line > 0)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [%s] unknown key '%s' (known: %s)", o->file,
                            o->line, o->section, k, dc_text_vectorization_keys);
    return dc_set_error(DC_ERR_ARG, "%s: [%s] unknown key '%s' (known: %s)", o->file, o->section,
                        k, dc_text_vectorization_keys);
}

bool dc_text_data_active(const dc_text_data *td) { return td && td->kind != TEXT_NONE; }

bool dc_text_data_has_test(const dc_text_data *td) {
    if (!dc_text_data_active(td)) return false;
    switch (td->kind) {
    case TEXT_FORTUNES: return td->test_every != 0; /* default: every 5th */
    case TEXT_CORPUS: return td->validation_fraction != 0; /* default: 5% */
    default: return td->test_path || td->test_every >= 2;
    }
}

dc_status dc_text_data_check(const dc_text_data *td, const char *file, int data_line,
                             bool has_label_column) {
    if (!td) return DC_OK;
    if (!td->kind) {
        if (td->vo_given && !td->n_categories && td->test_every < 0)
            return dc_set_error(DC_ERR_ARG,
                                "%s: [TextVectorization] needs text data in [data] "
                                "(train_text_dir, train_text_csv, fortunes or corpus)",
                                file);
        if (td->n_categories || td->test_every >= 0 || td->min_count != 1)
            return dc_set_error(DC_ERR_ARG,
                                "%s:%d: [data]: categories, min_count and test_every need text "
                                "data (fortunes, corpus, train_text_dir or train_text_csv)",
                                file, data_line);
        return DC_OK;
    }
    if ((td->kind == TEXT_DIR || td->kind == TEXT_CSV) && !td->train_path)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: text data needs %s", file, data_line,
                            td->kind == TEXT_DIR ? "train_text_dir" : "train_text_csv");
    if (td->kind == TEXT_CSV && !td->text_column)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: train_text_csv needs text_column (and "
                            "label_column)", file, data_line);
    if (td->kind != TEXT_CSV && td->kind != TEXT_CORPUS && has_label_column)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: label_column applies to CSV files", file,
                            data_line);
    if (td->kind == TEXT_CSV && !has_label_column)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: train_text_csv needs label_column", file,
                            data_line);
    if (td->n_categories && td->kind != TEXT_FORTUNES &&
        !(td->kind == TEXT_CORPUS && td->corpus && !strcasecmp(td->corpus, "fortunes")))
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: categories apply to fortunes", file,
                            data_line);
    if (td->kind == TEXT_CORPUS && td->test_every >= 0)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: a corpus holds out validation_fraction, "
                            "not test_every", file, data_line);
    if (td->kind == TEXT_CORPUS && !td->corpus)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: a character corpus needs corpus = "
                            "fortunes or a text file", file, data_line);
    if (td->test_path && td->test_every >= 2)
        return dc_set_error(DC_ERR_ARG, "%s:%d: [data]: give a test file or test_every, not both",
                            file, data_line);
    const dc_text_vectorizer_options *p = &td->vo;
    if (td->kind == TEXT_CORPUS && td->vo_given &&
        (p->split != DC_SPLIT_CHARACTER || p->output_mode != DC_TEXT_INT ||
         p->output_sequence_length))
        return dc_set_error(DC_ERR_ARG, "%s: [TextVectorization] of a character corpus must keep "
                            "split = character, output_mode = int and no output_sequence_length",
                            file);
    dc_text_vectorizer_options vo = td->vo;
    if (td->kind == TEXT_CORPUS && !td->vo_given) {
        vo.standardize = DC_STANDARDIZE_NONE;
        vo.split = DC_SPLIT_CHARACTER;
    }
    dc_text_vectorizer *v = dc_text_vectorizer_new(&vo);
    if (!v) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(DC_ERR_ARG, "%s: [TextVectorization]: %s", file, msg);
    }
    dc_text_vectorizer_free(v);
    return DC_OK;
}

const dc_text_vectorizer *dc_text_data_vectorizer(const dc_text_data *td) {
    return td ? td->vec : NULL;
}

void dc_text_data_free(dc_text_data *td) {
    if (!td) return;
    dc_free(td->train_path);
    dc_free(td->test_path);
    dc_free(td->text_column);
    dc_free(td->fortunes_dir);
    dc_free(td->corpus);
    for (int i = 0; i < td->n_categories; i++) dc_free(td->categories[i]);
    dc_text_vectorizer_free(td->vec);
    dc_free(td);
}

/* ---- loading ---- */

static dc_text_set *load_set(const dc_text_data *td, const char *path, const char *label_column) {
    switch (td->kind) {
    case TEXT_DIR: return dc_text_set_load_folder(path);
    case TEXT_CSV: return dc_text_set_load_csv(path, td->text_column, label_column, 0);
    default:
        return dc_text_set_load_fortunes(td->fortunes_dir, (const char *const *)td->categories,
                                         td->n_categories, td->min_count);
    }
}

/* The byte offset at about frac of s[0..len) from the end, on a code point start. */
static size_t split_point(const char *s, size_t len, float frac) {
    size_t at = len - (size_t)((double)len * frac);
    while (at < len && ((unsigned char)s[at] & 0xC0) == 0x80) at++;
    return at;
}

/* The corpus text: all fortunes, or a file (dc_malloc'd, *len bytes). */
static char *corpus_text(const dc_text_data *td, dc_text_resolve_fn resolve, const void *ctx,
                         size_t *len) {
    *len = 0;
    if (!strcasecmp(td->corpus, "fortunes")) {
        dc_text_set *s = load_set(td, NULL, NULL);
        if (!s) return NULL;
        char *text = dc_text_set_join(s, "\n\n", len); /* a blank line between fortunes */
        dc_text_set_free(s);
        return text;
    }
    char buf[4096];
    const char *path = resolve(ctx, td->corpus, buf, sizeof buf);
    FILE *f = dc_fopen_read("corpus", path);
    if (!f) return NULL;
    size_t cap = 1 << 16;
    char *text = dc_malloc(cap);
    for (size_t got; text && (got = fread(text + *len, 1, cap - *len - 1, f)) > 0;) {
        *len += got;
        if (*len + 1 == cap) {
            char *t = cap < ((size_t)1 << 30) ? dc_realloc(text, cap * 2) : NULL;
            if (!t) dc_free(text);
            text = t;
            cap *= 2;
        }
    }
    fclose(f);
    if (!text) {
        dc_set_error(DC_ERR_NOMEM, "corpus: %s: out of memory (or over 1 GiB)", path);
        return NULL;
    }
    text[*len] = '\0';
    if (strlen(text) != *len) {
        dc_set_error(DC_ERR_FORMAT, "corpus: %s: a NUL byte at offset %zu: not a text file", path,
                     strlen(text));
        dc_free(text);
        return NULL;
    }
    return text;
}

/* A corpus: the vocabulary comes from the training part only; with a fixed
 * vectorizer only the validation part is made. */
static dc_status load_corpus(const dc_text_data *td, dc_text_vectorizer *learn,
                             const dc_text_vectorizer *vec, dc_text_resolve_fn resolve,
                             const void *ctx, dc_dataset **train, dc_dataset **test) {
    bool fixed = learn == NULL;
    size_t len;
    char *text = corpus_text(td, resolve, ctx, &len);
    if (!text) return dc_last_status();
    float frac = td->validation_fraction < 0 ? 0.05f : td->validation_fraction;
    size_t at = split_point(text, len, frac);
    dc_status s = DC_OK;
    if (!fixed) {
        const char *train_text = text;
        char saved = text[at];
        text[at] = '\0';
        s = dc_text_vectorizer_adapt(learn, &train_text, 1);
        text[at] = saved;
    }
    dc_char_corpus_options co = {.seq_len = td->seq_len ? td->seq_len : 100,
                                 .stride = td->stride,
                                 .last_only = td->last_only};
    if (s == DC_OK && !fixed) s = dc_dataset_char_corpus(vec, text, at, &co, train, NULL);
    if (s == DC_OK && len > at) {
        dc_status sv = dc_dataset_char_corpus(vec, text + at, len - at, &co, test, NULL);
        if (sv != DC_OK && !fixed) {
            *test = NULL; /* too short for a window: no validation */
            dc_clear_error();
        } else if (sv != DC_OK) {
            s = sv;
        }
    }
    dc_free(text);
    return s;
}

/* Loads the splits through vec; learn (vec itself, or NULL) is adapted on the
 * training split first. Without learn only the test split is made. */
static dc_status load_with(const dc_text_data *td, dc_text_vectorizer *learn,
                           const dc_text_vectorizer *vec, dc_text_resolve_fn resolve,
                           const void *ctx, const char *label_column, dc_dataset **train,
                           dc_dataset **test) {
    bool fixed = learn == NULL;
    if (td->kind == TEXT_CORPUS) return load_corpus(td, learn, vec, resolve, ctx, train, test);
    char a[4096], b[4096];
    int64_t every = td->test_every >= 0 ? td->test_every : td->kind == TEXT_FORTUNES ? 5 : 0;
    bool whole_is_test = fixed && td->test_path == NULL && every < 2;
    dc_text_set *all = NULL, *tr = NULL, *te = NULL;
    dc_status s = DC_OK;
    if (!fixed || !td->test_path) {
        all = load_set(td, td->train_path ? resolve(ctx, td->train_path, a, sizeof a) : NULL,
                       label_column);
        if (!all) return dc_last_status();
    }
    if (td->test_path) {
        tr = all;
        te = load_set(td, resolve(ctx, td->test_path, b, sizeof b), label_column);
        if (!te) s = dc_last_status();
    } else if (every >= 2) {
        s = dc_text_set_split(all, every, &tr, &te);
    } else if (whole_is_test) {
        te = all; /* a spec naming the test texts themselves */
    } else {
        tr = all;
    }
    if (s == DC_OK && !fixed)
        s = dc_text_vectorizer_adapt(learn, (const char *const *)tr->texts, tr->count);
    if (s == DC_OK && !fixed && !(*train = dc_dataset_from_texts(vec, tr))) s = dc_last_status();
    if (s == DC_OK && te && te->count > 0 && !(*test = dc_dataset_from_texts(vec, te)))
        s = dc_last_status();
    if (s == DC_OK && fixed && !*test)
        s = dc_set_error(DC_ERR_FORMAT, "the test split holds no text");
    if (s != DC_OK) {
        dc_dataset_free(*train);
        *train = NULL;
    }
    if (tr != all) dc_text_set_free(tr);
    if (te != all) dc_text_set_free(te);
    dc_text_set_free(all);
    return s;
}

dc_status dc_text_data_load(dc_text_data *td, dc_text_resolve_fn resolve, const void *ctx,
                            const char *label_column, dc_dataset **train, dc_dataset **test) {
    *train = *test = NULL;
    if (!dc_text_data_active(td)) return dc_set_error(DC_ERR_STATE, "dc_text_data_load: no text data");
    dc_text_vectorizer_free(td->vec);
    dc_text_vectorizer_options vo = td->vo;
    if (td->kind == TEXT_CORPUS && !td->vo_given) {
        vo.standardize = DC_STANDARDIZE_NONE;
        vo.split = DC_SPLIT_CHARACTER;
    }
    td->vec = dc_text_vectorizer_new(&vo);
    if (!td->vec) return dc_last_status();
    return load_with(td, td->vec, td->vec, resolve, ctx, label_column, train, test);
}

/* ---- test specs: the test split of text data, kept in a model file ---- */

static const char *const kind_names[] = {"", "text_dir", "text_csv", "fortunes", "corpus"};

/* An absolute path for p (NULL stays NULL); false if it does not exist. */
static bool absolute(dc_text_resolve_fn resolve, const void *ctx, const char *p, char *out) {
    char buf[4096];
    if (!p) return true;
    return realpath(resolve(ctx, p, buf, sizeof buf), out) != NULL;
}

dc_status dc_text_data_spec(const dc_text_data *td, dc_text_resolve_fn resolve, const void *ctx,
                            const char *label_column, char *buf, size_t n) {
    buf[0] = '\0';
    if (!dc_text_data_has_test(td)) return DC_OK;
    char train[PATH_MAX] = "", test[PATH_MAX] = "", corpus[PATH_MAX] = "", dir[PATH_MAX] = "";
    bool file_corpus = td->corpus && strcasecmp(td->corpus, "fortunes");
    if (!absolute(resolve, ctx, td->test_path ? NULL : td->train_path, train) ||
        !absolute(resolve, ctx, td->test_path, test) ||
        !absolute(resolve, ctx, file_corpus ? td->corpus : NULL, corpus) ||
        !absolute(resolve, ctx, td->fortunes_dir, dir))
        return DC_OK; /* a path that vanished: no spec */
    cJSON *o = cJSON_CreateObject(), *cats = NULL;
    bool ok = o && cJSON_AddStringToObject(o, "kind", kind_names[td->kind]);
    if (ok && train[0]) ok = cJSON_AddStringToObject(o, "train", train) != NULL;
    if (ok && test[0]) ok = cJSON_AddStringToObject(o, "test", test) != NULL;
    if (ok && td->text_column) ok = cJSON_AddStringToObject(o, "text_column", td->text_column) != NULL;
    if (ok && label_column) ok = cJSON_AddStringToObject(o, "label_column", label_column) != NULL;
    if (ok && dir[0]) ok = cJSON_AddStringToObject(o, "fortunes", dir) != NULL;
    if (ok && td->corpus) ok = cJSON_AddStringToObject(o, "corpus", file_corpus ? corpus : "fortunes") != NULL;
    if (ok && td->n_categories) ok = (cats = cJSON_AddArrayToObject(o, "categories")) != NULL;
    for (int i = 0; ok && i < td->n_categories; i++) {
        cJSON *c = cJSON_CreateString(td->categories[i]);
        ok = c && cJSON_AddItemToArray(cats, c);
    }
    ok = ok && cJSON_AddNumberToObject(o, "min_count", (double)td->min_count) &&
         cJSON_AddNumberToObject(o, "test_every", (double)td->test_every) &&
         cJSON_AddNumberToObject(o, "seq_len", (double)td->seq_len) &&
         cJSON_AddNumberToObject(o, "stride", (double)td->stride) &&
         cJSON_AddBoolToObject(o, "last_only", td->last_only) &&
         cJSON_AddNumberToObject(o, "validation_fraction", (double)td->validation_fraction);
    char *json = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!json) return dc_set_error(DC_ERR_NOMEM, "dc_text_data_spec: out of memory");
    dc_status s = DC_OK;
    if ((size_t)snprintf(buf, n, "text:%s", json) >= n) {
        buf[0] = '\0';
        s = dc_set_error(DC_ERR_ARG, "dc_text_data_spec: the spec needs more than %zu bytes", n);
    }
    cJSON_free(json);
    return s;
}

static const char *resolve_as_is(const void *ctx, const char *p, char *buf, size_t n) {
    (void)ctx;
    (void)buf;
    (void)n;
    return p;
}

static bool spec_str(const cJSON *o, const char *key, char **dst) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x) return true;
    if (!cJSON_IsString(x) || !x->valuestring[0]) return false;
    return (*dst = str_copy(x->valuestring)) != NULL;
}

static bool spec_num(const cJSON *o, const char *key, double lo, double hi, double *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!x) return true;
    if (!cJSON_IsNumber(x) || !(x->valuedouble >= lo && x->valuedouble <= hi)) return false;
    *out = x->valuedouble;
    return true;
}

dc_dataset *dc_dataset_load_text_spec(const char *spec, const dc_text_vectorizer *v) {
    const char *fn = "dc_dataset_load_text_spec";
    if (!spec || !v || strncmp(spec, "text:", 5)) {
        dc_set_error(DC_ERR_ARG, "%s: %s", fn,
                     !spec ? "spec is NULL"
                     : !v  ? "no text vectorizer (a model trained on text keeps one in its "
                             "metadata as \"text_vectorizer\")"
                           : "the spec does not start with \"text:\"");
        return NULL;
    }
    cJSON *o = cJSON_Parse(spec + 5);
    dc_text_data *td = NULL;
    char *label = NULL;
    dc_dataset *train = NULL, *test = NULL;
    const char *what = NULL;
    if (!cJSON_IsObject(o) || !ensure(&td)) {
        what = o ? "out of memory" : "not JSON";
        goto done;
    }
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    for (int k = 1; k <= TEXT_CORPUS && cJSON_IsString(kind); k++)
        if (!strcmp(kind->valuestring, kind_names[k])) td->kind = k;
    double min_count = 1, every = -1, seq_len = 0, stride = 0, frac = -1;
    const cJSON *last = cJSON_GetObjectItemCaseSensitive(o, "last_only");
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(o, "categories");
    if (!td->kind || !spec_str(o, "train", &td->train_path) || !spec_str(o, "test", &td->test_path) ||
        !spec_str(o, "text_column", &td->text_column) || !spec_str(o, "label_column", &label) ||
        !spec_str(o, "fortunes", &td->fortunes_dir) || !spec_str(o, "corpus", &td->corpus) ||
        !spec_num(o, "min_count", 0, 1e15, &min_count) || !spec_num(o, "test_every", -1, 1e15, &every) ||
        !spec_num(o, "seq_len", 0, 1 << 20, &seq_len) || !spec_num(o, "stride", 0, 1 << 20, &stride) ||
        !spec_num(o, "validation_fraction", -1, 0.999, &frac) || (last && !cJSON_IsBool(last)) ||
        (cats && (!cJSON_IsArray(cats) || cJSON_GetArraySize(cats) > MAX_CATEGORIES))) {
        what = "a field is missing, of the wrong type or out of range";
        goto done;
    }
    for (const cJSON *c = cats ? cats->child : NULL; c; c = c->next) {
        if (!cJSON_IsString(c) || !c->valuestring[0] || strchr(c->valuestring, '/') ||
            !(td->categories[td->n_categories] = str_copy(c->valuestring))) {
            what = "a category is not a file name";
            goto done;
        }
        td->n_categories++;
    }
    td->min_count = (int64_t)min_count;
    td->test_every = (int64_t)every;
    td->seq_len = (int64_t)seq_len;
    td->stride = (int64_t)stride;
    td->validation_fraction = (float)frac;
    td->last_only = last && cJSON_IsTrue(last);
    if ((td->kind == TEXT_CSV && (!td->text_column)) || (td->kind == TEXT_CORPUS && !td->corpus) ||
        ((td->kind == TEXT_DIR || td->kind == TEXT_CSV) && !td->train_path && !td->test_path)) {
        what = "the fields do not describe that kind of text data";
        goto done;
    }
    if (load_with(td, NULL, v, resolve_as_is, NULL, label, &train, &test) != DC_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(dc_last_status(), "%s: %s", fn, msg);
    }
done:
    if (what) dc_set_error(DC_ERR_FORMAT, "%s: %s", fn, what);
    dc_dataset_free(train);
    cJSON_Delete(o);
    dc_free(label);
    dc_text_data_free(td);
    return test;
}
