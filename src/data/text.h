/* text.h — internals shared by the text files of src/data: UTF-8 repair and
 * the vectorizer's id encoding of a byte range (for corpora). */
#ifndef DC_TEXT_H
#define DC_TEXT_H
#include "../core/core.h"

/* A copy of s[0..len) (dc_malloc'd, NUL-terminated) where each ill-formed
 * UTF-8 sequence (its maximal subpart) is replaced by one U+FFFD; *out_len
 * (may be NULL) receives its length. NULL when out of memory. */
char *dc_utf8_repair(const char *s, size_t len, size_t *out_len);
/* Whether s[0..len) is well-formed UTF-8 (no surrogates, no overlong forms). */
bool dc_utf8_valid(const char *s, size_t len);
/* The ids (int mode, no padding or truncation) of text[0..len) as a new float
 * array (dc_malloc_aligned) of *n values; NULL with an error set. */
float *dc_text_vectorizer_ids(const dc_text_vectorizer *v, const char *text, size_t len,
                              int64_t *n);
#endif
