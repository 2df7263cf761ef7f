/* text_generate.c — text in and out of dc_model_generate: the prompt becomes
 * ids through the vectorizer (refusing tokens it does not know), the sampled
 * ids become text again. */
#include "text.h"
#include "../core/core.h"
#include <string.h>

static const char *const FN = "dc_model_generate_text";

/* Bytes in the UTF-8 character starting at s (1 for a byte that starts none). */
static size_t utf8_len(const unsigned char *s) {
    size_t n = s[0] < 0x80 ? 1 : (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 1;
    return n;
}

/* A character-split prompt as ids, one character at a time so that an unknown
 * one can be named; returns the count, -1 after an error. */
static int64_t char_ids(const dc_text_vectorizer *v, const char *prompt, int64_t *ids,
                        float *buf, int64_t cap) {
    int64_t n = 0, oov = dc_text_vectorizer_oov_id(v), pos = 0;
    for (const char *p = prompt; *p; pos++) {
        size_t len = utf8_len((const unsigned char *)p);
        char ch[5] = {0};
        memcpy(ch, p, len);
        p += len;
        int64_t got = dc_text_vectorizer_encode(v, ch, buf, cap);
        if (got < 0) return -1;
        if (got == 0 || buf[0] == 0.0f) continue; /* stripped by standardization */
        if ((int64_t)buf[0] == oov) {
            dc_set_error(DC_ERR_ARG,
                         "%s: prompt character '%s' at position %lld is not in the model's "
                         "vocabulary of %lld characters",
                         FN, ch, (long long)pos, (long long)dc_text_vectorizer_vocabulary_size(v));
            return -1;
        }
        ids[n++] = (int64_t)buf[0];
    }
    return n;
}

/* A whitespace-split prompt as ids; an unknown word is named by its number. */
static int64_t word_ids(const dc_text_vectorizer *v, const char *prompt, int64_t *ids,
                        float *buf, int64_t cap) {
    int64_t got = dc_text_vectorizer_encode(v, prompt, buf, cap), n = 0;
    int64_t oov = dc_text_vectorizer_oov_id(v);
    for (int64_t i = 0; i < got && i < cap; i++) {
        if (buf[i] == 0.0f) continue;
        if ((int64_t)buf[i] == oov) {
            dc_set_error(DC_ERR_ARG, "%s: prompt word %lld is not in the model's vocabulary", FN,
                         (long long)n + 1);
            return -1;
        }
        ids[n++] = (int64_t)buf[i];
    }
    return got < 0 ? -1 : n;
}

char *dc_model_generate_text(dc_model *m, const dc_text_vectorizer *v, const char *prompt,
                             const dc_generate_options *opt) {
    if (!m || !v || !prompt || !opt) {
        dc_set_error(DC_ERR_ARG, "%s: %s is NULL", FN,
                     !m ? "model" : !v ? "vectorizer" : !prompt ? "prompt" : "options");
        return NULL;
    }
    dc_text_vectorizer_options vo = dc_text_vectorizer_get_options(v);
    int64_t V = dc_text_vectorizer_vocabulary_size(v), shape[DC_MAX_DIMS];
    int nd = dc_model_output_shape(m, shape);
    if (vo.output_mode != DC_TEXT_INT || V < 3) {
        dc_set_error(DC_ERR_ARG, "%s: the vectorizer must give ids (output_mode int) and know at "
                     "least one token", FN);
        return NULL;
    }
    if (nd < 1 || shape[nd - 1] != V) {
        dc_set_error(DC_ERR_SHAPE, "%s: the model scores %lld tokens, the vocabulary has %lld", FN,
                     nd < 1 ? 0LL : (long long)shape[nd - 1], (long long)V);
        return NULL;
    }
    if (opt->length < 1 || opt->length > ((int64_t)1 << 40)) {
        dc_set_error(DC_ERR_ARG, "%s: length %lld must be in [1, 2^40]", FN, (long long)opt->length);
        return NULL;
    }
    size_t plen = strlen(prompt);
    int64_t cap = (int64_t)plen + vo.output_sequence_length + 8;
    int64_t *ids = dc_malloc((size_t)(cap + opt->length) * sizeof *ids);
    float *buf = dc_malloc((size_t)(cap > opt->length ? cap : opt->length) * sizeof *buf);
    char *text = NULL;
    if (!ids || !buf) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
        goto done;
    }
    int64_t n = vo.split == DC_SPLIT_CHARACTER ? char_ids(v, prompt, ids, buf, cap)
                                               : word_ids(v, prompt, ids, buf, cap);
    if (n < 0) goto done;
    if (n == 0 && plen > 0) {
        dc_set_error(DC_ERR_ARG, "%s: nothing of the prompt is left after standardization", FN);
        goto done;
    }
    dc_generate_options o = *opt;
    if (o.exclude_below < 2) o.exclude_below = 2; /* never padding or [UNK] */
    if (dc_model_generate(m, ids, n, &o, ids + n) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(dc_last_status(), "%s: %s", FN, msg);
        goto done;
    }
    for (int64_t i = 0; i < opt->length; i++) buf[i] = (float)ids[n + i];
    char *words = dc_text_vectorizer_decode(v, buf, opt->length);
    if (words && vo.split == DC_SPLIT_WHITESPACE) {
        size_t wl = strlen(words);
        text = dc_malloc(wl + 2);
        if (text) {
            text[0] = ' ';
            memcpy(text + 1, words, wl + 1);
        }
        dc_string_free(words);
    } else {
        text = words;
    }
done:
    dc_free(ids);
    dc_free(buf);
    return text;
}
