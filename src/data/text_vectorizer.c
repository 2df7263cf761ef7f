/* text_vectorizer.c — keras.layers.TextVectorization in C: standardize, split,
 * a vocabulary learned by adapt (Keras' order and tie rule), int / multi_hot /
 * count / tf_idf outputs, and the whole state as JSON for model files. */
#include "text.h"
#include "dataset.h"
#include "../tensor/tensor.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TV_MAX_TOKENS ((int64_t)1 << 30)      /* bounds what a JSON file may ask for */
#define TV_MAX_SEQ_LEN ((int64_t)1 << 24)

static const char *const oov_token = "[UNK]";

struct dc_text_vectorizer {
    dc_text_vectorizer_options opt;
    char **tokens;       /* the vocabulary, special tokens first */
    size_t *token_len;
    int64_t n_tokens;
    float *idf;          /* n_tokens weights (tf_idf), else NULL */
    int64_t *slots;      /* open addressing over tokens: index or -1 */
    int64_t n_slots;     /* a power of two > 2 n_tokens */
};

/* ---- UTF-8 ---- */

/* The well-formed sequence at s (at most n bytes): returns its length, or 0
 * with *bad set to the length of its maximal subpart (the bytes that could
 * still have begun a sequence, at least 1), which becomes one U+FFFD as in
 * Unicode's recommended practice and TensorFlow's unicode_split. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad) {
    unsigned char c = s[0];
    *bad = 1;
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
        if (c == 0xED) hi = 0x9F;      /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;      /* nothing above U+10FFFF */
    } else
        return 0;
    size_t i = 1;
    for (; i < len && i < n; i++) {
        unsigned char a = i == 1 ? lo : 0x80, b = i == 1 ? hi : 0xBF;
        if (s[i] < a || s[i] > b) break;
    }
    if (i == len) return len;
    *bad = i;
    return 0;
}

static size_t utf8_seq_len(const unsigned char *s, size_t n) {
    size_t bad;
    return utf8_seq(s, n, &bad);
}

bool dc_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq_len(p + i, len - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

char *dc_utf8_repair(const char *s, size_t len, size_t *out_len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n_bad = 0, skip;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i, &skip);
        if (!k) n_bad++;
        i += k ? k : skip;
    }
    if (n_bad > (SIZE_MAX - len - 1) / 2) return NULL;
    char *out = dc_malloc(len + 2 * n_bad + 1); /* a bad byte at worst grows to 3 */
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_seq(p + i, len - i, &skip);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += skip;
        }
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

/* ---- standardize and split ---- */

static bool is_ascii_punct(unsigned char c) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
}

static bool is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The text repaired to UTF-8, then lowered and stripped as the options say;
 * a new buffer (dc_malloc'd) of *n bytes, or NULL with an error set. */
static char *standardize(const dc_text_vectorizer *v, const char *text, size_t len, size_t *n) {
    char *s = dc_utf8_repair(text, len, n);
    if (!s) {
        dc_set_error(DC_ERR_NOMEM, "dc_text_vectorizer: out of memory for a text of %zu bytes", len);
        return NULL;
    }
    dc_text_standardize st = v->opt.standardize;
    bool lower = st == DC_STANDARDIZE_LOWER || st == DC_STANDARDIZE_LOWER_AND_STRIP_PUNCTUATION;
    bool strip = st == DC_STANDARDIZE_STRIP_PUNCTUATION ||
                 st == DC_STANDARDIZE_LOWER_AND_STRIP_PUNCTUATION;
    size_t o = 0;
    for (size_t i = 0; i < *n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (strip && is_ascii_punct(c)) continue; /* ASCII bytes never sit inside a sequence */
        s[o++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    s[o] = '\0';
    *n = o;
    return s;
}

/* The next token of s[*pos..n) into (*tok, *tok_len); false at the end. */
static bool next_token(const dc_text_vectorizer *v, const char *s, size_t n, size_t *pos,
                       const char **tok, size_t *tok_len) {
    size_t i = *pos;
    if (v->opt.split == DC_SPLIT_CHARACTER) {
        if (i >= n) return false;
        size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (!k) k = 1; /* cannot happen after repair */
        *tok = s + i;
        *tok_len = k;
        *pos = i + k;
        return true;
    }
    while (i < n && is_space((unsigned char)s[i])) i++;
    if (i >= n) return false;
    size_t start = i;
    while (i < n && !is_space((unsigned char)s[i])) i++;
    *tok = s + start;
    *tok_len = i - start;
    *pos = i;
    return true;
}

/* Calls fn on each token of the text (standardized and split), then, with
 * ngrams N > 1, on each run of 2 .. N consecutive tokens joined by " " (as
 * tf.strings.ngrams with widths 1..N: all of one width, then the next).
 * Returns DC_OK, fn's failure (an error it set), or DC_ERR_NOMEM. */
typedef bool (*token_fn)(void *user, const char *tok, size_t len);

typedef struct {
    const char *p;
    size_t n;
} span;

static dc_status for_each_token(const dc_text_vectorizer *v, const char *text, size_t len,
                                token_fn fn, void *user) {
    size_t n;
    char *s = standardize(v, text, len, &n);
    if (!s) return dc_last_status();
    dc_status st = DC_OK;
    size_t pos = 0, tl;
    const char *tok;
    int ng = v->opt.ngrams;
    span *spans = NULL;
    size_t count = 0, cap = 0;
    while (st == DC_OK && next_token(v, s, n, &pos, &tok, &tl)) {
        if (!fn(user, tok, tl)) st = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_NOMEM;
        if (ng < 2 || st != DC_OK) continue;
        if (count == cap) {
            size_t c2 = cap ? 2 * cap : 64;
            span *p = dc_realloc(spans, c2 * sizeof *p);
            if (!p) {
                st = dc_set_error(DC_ERR_NOMEM, "dc_text_vectorizer: out of memory for ngrams");
                break;
            }
            spans = p;
            cap = c2;
        }
        spans[count++] = (span){tok, tl};
    }
    char *joined = ng >= 2 && st == DC_OK && count >= 2 ? dc_malloc(n + (size_t)ng + 1) : NULL;
    if (ng >= 2 && st == DC_OK && count >= 2 && !joined)
        st = dc_set_error(DC_ERR_NOMEM, "dc_text_vectorizer: out of memory for ngrams");
    for (int w = 2; joined && w <= ng && st == DC_OK; w++)
        for (size_t i = 0; i + (size_t)w <= count && st == DC_OK; i++) {
            size_t o = 0;
            for (int k = 0; k < w; k++) {
                if (k) joined[o++] = ' ';
                memcpy(joined + o, spans[i + (size_t)k].p, spans[i + (size_t)k].n);
                o += spans[i + (size_t)k].n;
            }
            if (!fn(user, joined, o)) st = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_NOMEM;
        }
    dc_free(joined);
    dc_free(spans);
    dc_free(s);
    return st;
}

/* ---- the vocabulary table ---- */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static int64_t token_start(const dc_text_vectorizer *v) {
    return v->opt.output_mode == DC_TEXT_INT ? 2 : 1;
}

int64_t dc_text_vectorizer_oov_id(const dc_text_vectorizer *v) {
    return v ? token_start(v) - 1 : -1;
}

/* The id of token (n bytes), or -1. */
static int64_t vocab_find(const dc_text_vectorizer *v, const char *s, size_t n) {
    if (!v->n_slots) return -1;
    uint64_t mask = (uint64_t)v->n_slots - 1;
    for (uint64_t h = hash_bytes(s, n) & mask;; h = (h + 1) & mask) {
        int64_t id = v->slots[h];
        if (id < 0) return -1;
        if (v->token_len[id] == n && !memcmp(v->tokens[id], s, n)) return id;
    }
}

static void vocab_clear(dc_text_vectorizer *v) {
    for (int64_t i = 0; i < v->n_tokens; i++) dc_free(v->tokens[i]);
    dc_free(v->tokens);
    dc_free(v->token_len);
    dc_free(v->idf);
    dc_free(v->slots);
    v->tokens = NULL;
    v->token_len = NULL;
    v->idf = NULL;
    v->slots = NULL;
    v->n_tokens = v->n_slots = 0;
}

/* Takes over tokens[0..n) (dc_malloc'd strings) and idf (or NULL) as the
 * vocabulary; checks duplicates. Frees them on failure. */
static dc_status vocab_install(dc_text_vectorizer *v, char **tokens, int64_t n, float *idf,
                               const char *fn) {
    vocab_clear(v);
    v->tokens = tokens;
    v->n_tokens = n;
    v->idf = idf;
    int64_t slots = 16;
    while (slots < 2 * n + 2) slots *= 2;
    v->token_len = dc_malloc((size_t)n * sizeof(size_t) + 1);
    v->slots = dc_malloc((size_t)slots * sizeof(int64_t));
    if (!v->token_len || !v->slots) {
        vocab_clear(v);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %lld tokens", fn, (long long)n);
    }
    v->n_slots = slots;
    for (int64_t i = 0; i < slots; i++) v->slots[i] = -1;
    uint64_t mask = (uint64_t)slots - 1;
    for (int64_t i = 0; i < n; i++) {
        v->token_len[i] = strlen(tokens[i]);
        if (vocab_find(v, tokens[i], v->token_len[i]) >= 0) {
            dc_status s = dc_set_error(DC_ERR_ARG, "%s: token %lld \"%.60s\" appears twice in the vocabulary",
                                       fn, (long long)i, tokens[i]);
            vocab_clear(v);
            return s;
        }
        uint64_t h = hash_bytes(tokens[i], v->token_len[i]) & mask;
        while (v->slots[h] >= 0) h = (h + 1) & mask;
        v->slots[h] = i;
    }
    return DC_OK;
}

/* ---- create, options ---- */

static dc_status check_options(const char *fn, const dc_text_vectorizer_options *o) {
    if ((unsigned)o->standardize > DC_STANDARDIZE_STRIP_PUNCTUATION)
        return dc_set_error(DC_ERR_ARG, "%s: unknown standardize %d", fn, (int)o->standardize);
    if ((unsigned)o->split > DC_SPLIT_CHARACTER)
        return dc_set_error(DC_ERR_ARG, "%s: unknown split %d", fn, (int)o->split);
    if ((unsigned)o->output_mode > DC_TEXT_TF_IDF)
        return dc_set_error(DC_ERR_ARG, "%s: unknown output_mode %d", fn, (int)o->output_mode);
    int64_t start = o->output_mode == DC_TEXT_INT ? 2 : 1;
    if (o->max_tokens < 0 || o->max_tokens > TV_MAX_TOKENS ||
        (o->max_tokens > 0 && o->max_tokens <= start))
        return dc_set_error(DC_ERR_ARG,
                            "%s: max_tokens %lld must be 0 (no limit) or in [%lld, %lld] (it counts "
                            "the %s)",
                            fn, (long long)o->max_tokens, (long long)start + 1,
                            (long long)TV_MAX_TOKENS,
                            start == 2 ? "padding and [UNK] tokens" : "[UNK] token");
    if (o->ngrams < 0 || o->ngrams > 8)
        return dc_set_error(DC_ERR_ARG, "%s: ngrams %d must be in [0, 8] (0 and 1: none)", fn,
                            o->ngrams);
    if (o->output_sequence_length < 0 || o->output_sequence_length > TV_MAX_SEQ_LEN)
        return dc_set_error(DC_ERR_ARG, "%s: output_sequence_length %lld must be in [0, %lld]", fn,
                            (long long)o->output_sequence_length, (long long)TV_MAX_SEQ_LEN);
    if (o->output_sequence_length > 0 && o->output_mode != DC_TEXT_INT)
        return dc_set_error(DC_ERR_ARG, "%s: output_sequence_length applies to output_mode int only",
                            fn);
    if (o->pad_to_max_tokens && (o->output_mode == DC_TEXT_INT || o->max_tokens == 0))
        return dc_set_error(DC_ERR_ARG,
                            "%s: pad_to_max_tokens needs max_tokens and a bag mode (multi_hot, "
                            "count, tf_idf)",
                            fn);
    return DC_OK;
}

dc_text_vectorizer *dc_text_vectorizer_new(const dc_text_vectorizer_options *opt) {
    const char *fn = "dc_text_vectorizer_new";
    dc_text_vectorizer_options o = {0};
    if (opt) o = *opt;
    if (check_options(fn, &o) != DC_OK) return NULL;
    dc_text_vectorizer *v = dc_calloc(1, sizeof *v);
    if (!v) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    v->opt = o;
    return v;
}

void dc_text_vectorizer_free(dc_text_vectorizer *v) {
    if (!v) return;
    vocab_clear(v);
    dc_free(v);
}

void dc_string_free(char *s) { dc_free(s); }

dc_text_vectorizer_options dc_text_vectorizer_get_options(const dc_text_vectorizer *v) {
    dc_text_vectorizer_options o = {0};
    return v ? v->opt : o;
}

int64_t dc_text_vectorizer_vocabulary_size(const dc_text_vectorizer *v) {
    return v ? v->n_tokens : 0;
}

const char *dc_text_vectorizer_token(const dc_text_vectorizer *v, int64_t i) {
    return v && i >= 0 && i < v->n_tokens ? v->tokens[i] : NULL;
}

int64_t dc_text_vectorizer_token_id(const dc_text_vectorizer *v, const char *token) {
    if (!v || !token) return -1;
    int64_t id = vocab_find(v, token, strlen(token));
    return id >= 0 ? id : token_start(v) - 1;
}

const float *dc_text_vectorizer_idf_weights(const dc_text_vectorizer *v) {
    return v ? v->idf : NULL;
}

static int64_t bag_size(const dc_text_vectorizer *v) {
    return v->opt.pad_to_max_tokens ? v->opt.max_tokens : v->n_tokens;
}

int64_t dc_text_vectorizer_output_size(const dc_text_vectorizer *v) {
    if (!v) return 0;
    if (v->opt.output_mode == DC_TEXT_INT) return v->opt.output_sequence_length;
    return bag_size(v);
}

/* ---- adapt ---- */

typedef struct {
    char *s;
    size_t len;
    int64_t count, docs, last_doc;
} count_entry;

typedef struct {
    count_entry *e;
    int64_t n, cap;
    int64_t *slots;
    int64_t n_slots;
} count_table;

static void counts_free(count_table *t) {
    for (int64_t i = 0; i < t->n; i++) dc_free(t->e[i].s);
    dc_free(t->e);
    dc_free(t->slots);
}

static bool counts_rehash(count_table *t, int64_t n_slots) {
    int64_t *slots = dc_malloc((size_t)n_slots * sizeof(int64_t));
    if (!slots) return false;
    for (int64_t i = 0; i < n_slots; i++) slots[i] = -1;
    uint64_t mask = (uint64_t)n_slots - 1;
    for (int64_t i = 0; i < t->n; i++) {
        uint64_t h = hash_bytes(t->e[i].s, t->e[i].len) & mask;
        while (slots[h] >= 0) h = (h + 1) & mask;
        slots[h] = i;
    }
    dc_free(t->slots);
    t->slots = slots;
    t->n_slots = n_slots;
    return true;
}

/* Counts one occurrence of token in document doc. */
static bool counts_add(count_table *t, const char *s, size_t len, int64_t doc) {
    if (2 * (t->n + 1) > t->n_slots && !counts_rehash(t, t->n_slots ? 2 * t->n_slots : 1024))
        return false;
    uint64_t mask = (uint64_t)t->n_slots - 1;
    uint64_t h = hash_bytes(s, len) & mask;
    for (; t->slots[h] >= 0; h = (h + 1) & mask) {
        count_entry *e = &t->e[t->slots[h]];
        if (e->len == len && !memcmp(e->s, s, len)) {
            e->count++;
            if (e->last_doc != doc) e->docs++, e->last_doc = doc;
            return true;
        }
    }
    if (t->n == t->cap) {
        int64_t cap = t->cap ? 2 * t->cap : 1024;
        count_entry *e = dc_realloc(t->e, (size_t)cap * sizeof *e);
        if (!e) return false;
        t->e = e;
        t->cap = cap;
    }
    char *copy = dc_malloc(len + 1);
    if (!copy) return false;
    memcpy(copy, s, len);
    copy[len] = '\0';
    t->e[t->n] = (count_entry){copy, len, 1, 1, doc};
    t->slots[h] = t->n++;
    return true;
}

/* Keras: np.lexsort((tokens, counts))[::-1], i.e. count descending, then the
 * token's bytes descending. */
static int cmp_counted(const void *pa, const void *pb) {
    const count_entry *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    size_t n = DC_MIN(a->len, b->len);
    int c = memcmp(a->s, b->s, n);
    if (!c) c = a->len < b->len ? -1 : a->len > b->len;
    return -c;
}

/* The vocabulary from the sorted counts, with the special tokens first. */
static dc_status vocab_from_counts(dc_text_vectorizer *v, count_table *t, int64_t n_docs,
                                   const char *fn) {
    int64_t start = token_start(v);
    int64_t learned = t->n;
    if (v->opt.max_tokens > 0) learned = DC_MIN(learned, v->opt.max_tokens - start);
    int64_t n = start + learned;
    char **tokens = dc_calloc((size_t)n, sizeof(char *));
    float *idf = v->opt.output_mode == DC_TEXT_TF_IDF ? dc_malloc((size_t)n * sizeof(float)) : NULL;
    if (!tokens || (v->opt.output_mode == DC_TEXT_TF_IDF && !idf)) {
        dc_free(tokens);
        dc_free(idf);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    }
    int64_t k = 0;
    if (start == 2) tokens[k++] = dc_ds_strdup("");
    tokens[k++] = dc_ds_strdup(oov_token);
    double idf_sum = 0;
    for (int64_t i = 0; i < learned; i++, k++) {
        tokens[k] = t->e[i].s; /* taken over */
        t->e[i].s = NULL;
        if (idf) {
            /* log(1 + N / (1 + df)) in double, then float32, as Keras */
            idf[k] = (float)log(1.0 + (double)n_docs / (1.0 + (double)t->e[i].docs));
            idf_sum += idf[k];
        }
    }
    if (idf) {
        float mean = (float)(idf_sum / (double)learned); /* Keras' weight for [UNK] */
        for (int64_t i = 0; i < start; i++) idf[i] = i == start - 1 ? mean : 0.0f;
    }
    for (int64_t i = 0; i < start; i++)
        if (!tokens[i]) {
            for (int64_t j = 0; j < n; j++) dc_free(tokens[j]);
            dc_free(tokens);
            dc_free(idf);
            return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        }
    return vocab_install(v, tokens, n, idf, fn);
}

typedef struct {
    count_table *t;
    int64_t doc;
} count_ctx;

static bool count_token(void *u, const char *tok, size_t len) {
    count_ctx *c = u;
    return (len == 0 || (len == 5 && !memcmp(tok, oov_token, 5))) || counts_add(c->t, tok, len, c->doc);
}

dc_status dc_text_vectorizer_adapt(dc_text_vectorizer *v, const char *const *texts, int64_t n) {
    const char *fn = "dc_text_vectorizer_adapt";
    if (!v || (n > 0 && !texts) || n < 0)
        return dc_set_error(DC_ERR_ARG, "%s: %s", fn, !v ? "vectorizer is NULL" :
                            n < 0 ? "negative text count" : "texts is NULL");
    count_table t = {0};
    dc_status st = DC_OK;
    for (int64_t d = 0; d < n && st == DC_OK; d++) {
        if (!texts[d]) {
            st = dc_set_error(DC_ERR_ARG, "%s: text %lld is NULL", fn, (long long)d);
            break;
        }
        count_ctx cc = {&t, d};
        dc_clear_error();
        st = for_each_token(v, texts[d], strlen(texts[d]), count_token, &cc);
        if (st != DC_OK && dc_last_status() == DC_OK)
            st = dc_set_error(DC_ERR_NOMEM, "%s: out of memory counting tokens", fn);
    }
    if (st == DC_OK && t.n == 0)
        st = dc_set_error(DC_ERR_ARG,
                          "%s: no token in %lld texts: the vocabulary would be empty (are the "
                          "texts empty, or only punctuation?)",
                          fn, (long long)n);
    if (st == DC_OK) {
        qsort(t.e, (size_t)t.n, sizeof *t.e, cmp_counted);
        st = vocab_from_counts(v, &t, n, fn);
    }
    counts_free(&t);
    return st;
}

dc_status dc_text_vectorizer_set_vocabulary(dc_text_vectorizer *v, const char *const *tokens,
                                            int64_t n, const float *idf_weights) {
    const char *fn = "dc_text_vectorizer_set_vocabulary";
    if (!v || !tokens) return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    int64_t start = token_start(v);
    if (n <= start)
        return dc_set_error(DC_ERR_ARG, "%s: %lld tokens: the vocabulary needs the special tokens "
                            "and at least one more", fn, (long long)n);
    if (v->opt.max_tokens > 0 && n > v->opt.max_tokens)
        return dc_set_error(DC_ERR_ARG, "%s: %lld tokens exceed max_tokens %lld", fn, (long long)n,
                            (long long)v->opt.max_tokens);
    bool tfidf = v->opt.output_mode == DC_TEXT_TF_IDF;
    if (tfidf && !idf_weights)
        return dc_set_error(DC_ERR_ARG, "%s: output_mode tf_idf needs idf weights", fn);
    for (int64_t i = 0; i < n; i++) {
        const char *t = tokens[i];
        if (!t) return dc_set_error(DC_ERR_ARG, "%s: token %lld is NULL", fn, (long long)i);
        const char *want = i == start - 1 ? oov_token : i < start - 1 ? "" : NULL;
        if (want && strcmp(t, want))
            return dc_set_error(DC_ERR_ARG, "%s: token %lld is \"%.40s\", expected \"%s\" (%s)", fn,
                                (long long)i, t, want, *want ? "out of vocabulary" : "padding");
        if (!want && (!*t || !strcmp(t, oov_token)))
            return dc_set_error(DC_ERR_ARG, "%s: token %lld is the special token \"%s\"", fn,
                                (long long)i, t);
        if (!dc_utf8_valid(t, strlen(t)))
            return dc_set_error(DC_ERR_ARG, "%s: token %lld is not valid UTF-8", fn, (long long)i);
        if (tfidf && !(isfinite(idf_weights[i]) && idf_weights[i] >= 0))
            return dc_set_error(DC_ERR_ARG, "%s: idf weight %lld (%g) is not a finite number >= 0",
                                fn, (long long)i, (double)idf_weights[i]);
    }
    char **copy = dc_calloc((size_t)n, sizeof(char *));
    float *idf = tfidf ? dc_malloc((size_t)n * sizeof(float)) : NULL;
    bool ok = copy && (!tfidf || idf);
    for (int64_t i = 0; ok && i < n; i++) ok = (copy[i] = dc_ds_strdup(tokens[i])) != NULL;
    if (!ok) {
        for (int64_t i = 0; copy && i < n; i++) dc_free(copy[i]);
        dc_free(copy);
        dc_free(idf);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    }
    if (idf) memcpy(idf, idf_weights, (size_t)n * sizeof(float));
    return vocab_install(v, copy, n, idf, fn);
}

/* ---- vectorize ---- */

/* Calls emit(id) for each token of text[0..len); false with an error set. */
typedef struct {
    float *out;
    int64_t cap, n;
} id_sink;

typedef struct {
    const dc_text_vectorizer *v;
    void (*emit)(void *, int64_t);
    void *user;
} lookup_ctx;

static bool lookup_token(void *u, const char *tok, size_t len) {
    lookup_ctx *c = u;
    int64_t id = vocab_find(c->v, tok, len);
    c->emit(c->user, id >= 0 ? id : token_start(c->v) - 1);
    return true;
}

static dc_status for_each_id(const dc_text_vectorizer *v, const char *text, size_t len,
                             void (*emit)(void *, int64_t), void *user) {
    if (!v->n_tokens)
        return dc_set_error(DC_ERR_STATE,
                            "dc_text_vectorizer: no vocabulary (call dc_text_vectorizer_adapt or "
                            "set_vocabulary first)");
    lookup_ctx lc = {v, emit, user};
    return for_each_token(v, text, len, lookup_token, &lc);
}

static void emit_id(void *u, int64_t id) {
    id_sink *k = u;
    if (k->n < k->cap) k->out[k->n] = (float)id;
    k->n++;
}

typedef struct {
    const dc_text_vectorizer *v;
    float *out;
    int64_t cap;
} bag_sink;

static void emit_bag(void *u, int64_t id) {
    bag_sink *k = u;
    if (id >= k->cap) return;
    switch (k->v->opt.output_mode) {
    case DC_TEXT_MULTI_HOT: k->out[id] = 1.0f; break;
    case DC_TEXT_COUNT: k->out[id] += 1.0f; break;
    default: k->out[id] += k->v->idf[id]; break; /* count x idf */
    }
}

static int64_t encode_len(const dc_text_vectorizer *v, const char *text, size_t len, float *out,
                          int64_t cap) {
    if (cap < 0 || (cap > 0 && !out)) {
        dc_set_error(DC_ERR_ARG, "dc_text_vectorizer_encode: out is NULL or cap negative");
        return -1;
    }
    if (v->opt.output_mode != DC_TEXT_INT) {
        int64_t size = bag_size(v);
        bag_sink k = {v, out, DC_MIN(cap, size)};
        if (k.cap > 0) memset(out, 0, (size_t)k.cap * sizeof(float));
        return for_each_id(v, text, len, emit_bag, &k) == DC_OK ? size : -1;
    }
    int64_t L = v->opt.output_sequence_length;
    id_sink k = {out, L > 0 ? DC_MIN(cap, L) : cap, 0};
    if (for_each_id(v, text, len, emit_id, &k) != DC_OK) return -1;
    if (L == 0) return k.n;
    for (int64_t i = k.n; i < k.cap; i++) out[i] = 0.0f; /* pad at the end */
    return L;
}

int64_t dc_text_vectorizer_encode(const dc_text_vectorizer *v, const char *text, float *out,
                                  int64_t cap) {
    if (!v || !text) {
        dc_set_error(DC_ERR_ARG, "dc_text_vectorizer_encode: %s is NULL", v ? "text" : "vectorizer");
        return -1;
    }
    return encode_len(v, text, strlen(text), out, cap);
}

float *dc_text_vectorizer_ids(const dc_text_vectorizer *v, const char *text, size_t len,
                              int64_t *n) {
    id_sink count = {NULL, 0, 0};
    if (for_each_id(v, text, len, emit_id, &count) != DC_OK) return NULL;
    float *ids = dc_malloc_aligned((size_t)(count.n ? count.n : 1) * sizeof(float));
    if (!ids) {
        dc_set_error(DC_ERR_NOMEM, "dc_text_vectorizer: out of memory for %lld ids",
                     (long long)count.n);
        return NULL;
    }
    id_sink k = {ids, count.n, 0};
    for_each_id(v, text, len, emit_id, &k);
    *n = k.n;
    return ids;
}

dc_tensor *dc_text_vectorizer_call(const dc_text_vectorizer *v, const char *const *texts,
                                   int64_t n) {
    const char *fn = "dc_text_vectorizer_call";
    if (!v || !texts || n <= 0) {
        dc_set_error(DC_ERR_ARG, "%s: %s", fn, n <= 0 ? "no texts" : "NULL argument");
        return NULL;
    }
    int64_t width = dc_text_vectorizer_output_size(v);
    for (int64_t i = 0; i < n; i++) {
        if (!texts[i]) {
            dc_set_error(DC_ERR_ARG, "%s: text %lld is NULL", fn, (long long)i);
            return NULL;
        }
        if (width == 0 || v->opt.output_mode == DC_TEXT_INT) {
            int64_t len = dc_text_vectorizer_encode(v, texts[i], NULL, 0);
            if (len < 0) return NULL;
            if (v->opt.output_sequence_length == 0) width = DC_MAX(width, len);
        }
    }
    width = DC_MAX(width, (int64_t)1);
    dc_tensor *t = dc_tensor_zeros(DC_DIMS(n, width));
    if (!t) return NULL;
    for (int64_t i = 0; i < n; i++)
        if (dc_text_vectorizer_encode(v, texts[i], t->data + i * width, width) < 0) {
            dc_tensor_free(t);
            return NULL;
        }
    return t;
}

char *dc_text_vectorizer_decode(const dc_text_vectorizer *v, const float *ids, int64_t n) {
    const char *fn = "dc_text_vectorizer_decode";
    if (!v || (!ids && n > 0) || n < 0) {
        dc_set_error(DC_ERR_ARG, "%s: NULL argument or negative count", fn);
        return NULL;
    }
    const char *sep = v->opt.split == DC_SPLIT_WHITESPACE ? " " : "";
    size_t total = 1;
    for (int pass = 0; pass < 2; pass++) {
        char *out = pass ? dc_malloc(total) : NULL;
        if (pass && !out) {
            dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
            return NULL;
        }
        size_t o = 0;
        bool first = true;
        for (int64_t i = 0; i < n; i++) {
            float f = ids[i];
            if (f == 0.0f && v->opt.output_mode == DC_TEXT_INT) continue; /* padding */
            int64_t id = (f >= 0 && f < (float)v->n_tokens && f == floorf(f)) ? (int64_t)f
                                                                               : token_start(v) - 1;
            const char *tok = id < v->n_tokens ? v->tokens[id] : oov_token;
            size_t tl = id < v->n_tokens ? v->token_len[id] : 5;
            size_t sl = first ? 0 : strlen(sep);
            if (pass) {
                memcpy(out + o, sep, sl);
                memcpy(out + o + sl, tok, tl);
            }
            o += sl + tl;
            first = false;
        }
        if (pass) {
            out[o] = '\0';
            return out;
        }
        total = o + 1;
    }
    return NULL;
}

/* ---- JSON ---- */

static const char *const standardize_names[] = {"lower_and_strip_punctuation", NULL, "lower",
                                                "strip_punctuation"};
static const char *const split_names[] = {"whitespace", "character"};
static const char *const mode_names[] = {"int", "multi_hot", "count", "tf_idf"};

char *dc_text_vectorizer_to_json(const dc_text_vectorizer *v) {
    const char *fn = "dc_text_vectorizer_to_json";
    if (!v) {
        dc_set_error(DC_ERR_ARG, "%s: vectorizer is NULL", fn);
        return NULL;
    }
    cJSON *root = cJSON_CreateObject(), *cfg = NULL, *voc = NULL;
    bool ok = root && cJSON_AddStringToObject(root, "class_name", "TextVectorization") &&
              (cfg = cJSON_AddObjectToObject(root, "config")) != NULL;
    const dc_text_vectorizer_options *o = &v->opt;
    if (ok) {
        ok = (o->max_tokens ? cJSON_AddNumberToObject(cfg, "max_tokens", (double)o->max_tokens)
                            : cJSON_AddNullToObject(cfg, "max_tokens")) &&
             (standardize_names[o->standardize]
                  ? cJSON_AddStringToObject(cfg, "standardize", standardize_names[o->standardize])
                  : cJSON_AddNullToObject(cfg, "standardize")) &&
             cJSON_AddStringToObject(cfg, "split", split_names[o->split]) &&
             cJSON_AddStringToObject(cfg, "output_mode", mode_names[o->output_mode]) &&
             (o->output_sequence_length
                  ? cJSON_AddNumberToObject(cfg, "output_sequence_length",
                                            (double)o->output_sequence_length)
                  : cJSON_AddNullToObject(cfg, "output_sequence_length")) &&
             cJSON_AddBoolToObject(cfg, "pad_to_max_tokens", o->pad_to_max_tokens) &&
             (o->ngrams > 1 ? cJSON_AddNumberToObject(cfg, "ngrams", o->ngrams)
                            : cJSON_AddNullToObject(cfg, "ngrams")) &&
             (voc = cJSON_AddArrayToObject(root, "vocabulary")) != NULL;
    }
    for (int64_t i = 0; ok && i < v->n_tokens; i++) {
        cJSON *s = cJSON_CreateString(v->tokens[i]);
        ok = s && cJSON_AddItemToArray(voc, s);
    }
    if (ok && v->idf) {
        cJSON *w = cJSON_AddArrayToObject(root, "idf_weights");
        ok = w != NULL;
        for (int64_t i = 0; ok && i < v->n_tokens; i++) {
            cJSON *x = cJSON_CreateNumber((double)v->idf[i]);
            ok = x && cJSON_AddItemToArray(w, x);
        }
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    char *out = text ? dc_ds_strdup(text) : NULL;
    cJSON_free(text);
    if (!out) dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    return out;
}

/* A whole number in [lo, hi] (or null: 0 when null_ok). */
static bool json_int(const cJSON *x, int64_t lo, int64_t hi, bool null_ok, int64_t *out) {
    if (!x) return true; /* absent: the default */
    if (cJSON_IsNull(x)) {
        *out = 0;
        return null_ok;
    }
    if (!cJSON_IsNumber(x)) return false;
    double d = x->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) return false;
    *out = (int64_t)d;
    return true;
}

/* The index of x's string among names (NULL entries match JSON null). */
static int json_choice(const cJSON *x, const char *const *names, int n, int dflt) {
    if (!x) return dflt;
    for (int i = 0; i < n; i++) {
        if (!names[i]) {
            if (cJSON_IsNull(x) || (cJSON_IsString(x) && !strcmp(x->valuestring, "none"))) return i;
        } else if (cJSON_IsString(x) && !strcmp(x->valuestring, names[i]))
            return i;
    }
    return -1;
}

dc_text_vectorizer *dc_text_vectorizer_from_json(const char *json) {
    const char *fn = "dc_text_vectorizer_from_json";
    if (!json) {
        dc_set_error(DC_ERR_ARG, "%s: json is NULL", fn);
        return NULL;
    }
    cJSON *root = cJSON_Parse(json);
    dc_text_vectorizer *v = NULL;
    const char **tokens = NULL;
    float *idf = NULL;
    const char *what = NULL;
    if (!cJSON_IsObject(root)) {
        what = "not a JSON object";
        goto done;
    }
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "class_name");
    if (cls && !(cJSON_IsString(cls) && !strcmp(cls->valuestring, "TextVectorization"))) {
        what = "class_name is not \"TextVectorization\"";
        goto done;
    }
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    if (!cJSON_IsObject(cfg)) {
        what = "no \"config\" object";
        goto done;
    }
    dc_text_vectorizer_options o = {0};
    int st = json_choice(cJSON_GetObjectItemCaseSensitive(cfg, "standardize"), standardize_names, 4, 0);
    int sp = json_choice(cJSON_GetObjectItemCaseSensitive(cfg, "split"), split_names, 2, 0);
    int om = json_choice(cJSON_GetObjectItemCaseSensitive(cfg, "output_mode"), mode_names, 4, 0);
    const cJSON *pad = cJSON_GetObjectItemCaseSensitive(cfg, "pad_to_max_tokens");
    if (st < 0 || sp < 0 || om < 0) {
        what = st < 0 ? "config.standardize is unknown" : sp < 0 ? "config.split is unknown"
                                                                 : "config.output_mode is unknown";
        goto done;
    }
    if (!json_int(cJSON_GetObjectItemCaseSensitive(cfg, "max_tokens"), 0, TV_MAX_TOKENS, true,
                  &o.max_tokens) ||
        !json_int(cJSON_GetObjectItemCaseSensitive(cfg, "output_sequence_length"), 0,
                  TV_MAX_SEQ_LEN, true, &o.output_sequence_length)) {
        what = "config.max_tokens or config.output_sequence_length is not a whole number in range";
        goto done;
    }
    int64_t ngrams = 0;
    if (!json_int(cJSON_GetObjectItemCaseSensitive(cfg, "ngrams"), 0, 8, true, &ngrams)) {
        what = "config.ngrams is not a whole number in [0, 8]";
        goto done;
    }
    o.ngrams = (int)ngrams;
    if (pad && !cJSON_IsBool(pad)) {
        what = "config.pad_to_max_tokens is not true or false";
        goto done;
    }
    o.standardize = (dc_text_standardize)st;
    o.split = (dc_text_split)sp;
    o.output_mode = (dc_text_output_mode)om;
    o.pad_to_max_tokens = pad && cJSON_IsTrue(pad);
    v = dc_text_vectorizer_new(&o);
    if (!v) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(DC_ERR_FORMAT, "%s: %s", fn, msg);
        goto fail;
    }
    const cJSON *voc = cJSON_GetObjectItemCaseSensitive(root, "vocabulary");
    if (!cJSON_IsArray(voc)) {
        what = "no \"vocabulary\" array";
        goto done;
    }
    int n = cJSON_GetArraySize(voc);
    tokens = dc_malloc((size_t)(n ? n : 1) * sizeof(char *));
    if (!tokens) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto fail;
    }
    int i = 0;
    for (const cJSON *t = voc->child; t; t = t->next, i++) {
        if (!cJSON_IsString(t) || !t->valuestring) {
            what = "a vocabulary entry is not a string";
            goto done;
        }
        tokens[i] = t->valuestring;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "idf_weights");
    if (o.output_mode == DC_TEXT_TF_IDF) {
        if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != n) {
            what = "tf_idf needs \"idf_weights\": one number per vocabulary entry";
            goto done;
        }
        idf = dc_malloc((size_t)(n ? n : 1) * sizeof(float));
        if (!idf) {
            dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
            goto fail;
        }
        i = 0;
        for (const cJSON *x = w->child; x; x = x->next, i++) {
            if (!cJSON_IsNumber(x)) {
                what = "an idf weight is not a number";
                goto done;
            }
            idf[i] = (float)x->valuedouble;
        }
    }
    if (dc_text_vectorizer_set_vocabulary(v, tokens, n, idf) != DC_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(DC_ERR_FORMAT, "%s: %s", fn, msg);
        goto fail;
    }
done:
    if (what) {
        dc_set_error(DC_ERR_FORMAT, "%s: %s", fn, what);
        goto fail;
    }
    cJSON_Delete(root);
    dc_free(tokens);
    dc_free(idf);
    return v;
fail:
    cJSON_Delete(root);
    dc_free(tokens);
    dc_free(idf);
    dc_text_vectorizer_free(v);
    return NULL;
}
