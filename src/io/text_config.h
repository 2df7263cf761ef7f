/* text_config.h — the text data kinds of model files (internal): [data] keys for
 * text folders, text CSV/TSV files, Debian's fortunes and character corpora, and
 * the [TextVectorization] section, adapted on the training split at load time. */
#ifndef DC_TEXT_CONFIG_H
#define DC_TEXT_CONFIG_H
#include "../core/core.h"

typedef struct dc_text_data dc_text_data;

/* Where a value came from, for messages "file:line: [section] key: ...". */
typedef struct {
    const char *file;
    int line; /* 0: the command line */
    const char *section;
    const char *key;
} dc_text_origin;

/* The [data] keys of the text kinds, for "known:" lists. */
extern const char *const dc_text_data_keys;
extern const char *const dc_text_vectorization_keys;

/* A [data] key of a text kind: parsed into *td (made on first use); *handled
 * false (and DC_OK) when the key is not one of them. */
dc_status dc_text_data_key(dc_text_data **td, const dc_text_origin *o, const char *value,
                           bool *handled);
/* A [TextVectorization] key. */
dc_status dc_text_vectorization_key(dc_text_data **td, const dc_text_origin *o,
                                    const char *value);
/* Whether td names a text source (then it is the run's only source). */
bool dc_text_data_active(const dc_text_data *td);
/* Whether it will give test (or validation) data. */
bool dc_text_data_has_test(const dc_text_data *td);
/* The checks that span keys; has_label_column: [data] label_column is given. */
dc_status dc_text_data_check(const dc_text_data *td, const char *file, int data_line,
                             bool has_label_column);
/* Loads the texts, adapts the vectorizer on the training split and makes the
 * datasets (*test NULL when there is none). resolve maps a relative path. */
typedef const char *(*dc_text_resolve_fn)(const void *ctx, const char *path, char *buf, size_t n);
dc_status dc_text_data_load(dc_text_data *td, dc_text_resolve_fn resolve, const void *ctx,
                            const char *label_column, dc_dataset **train, dc_dataset **test);
/* The test split as a spec for dc_dataset_load_text_spec ("text:" then JSON,
 * absolute paths) into buf; "" when there is no test split. */
dc_status dc_text_data_spec(const dc_text_data *td, dc_text_resolve_fn resolve, const void *ctx,
                            const char *label_column, char *buf, size_t n);
/* The vectorizer of the last load (owned by td), or NULL. */
const dc_text_vectorizer *dc_text_data_vectorizer(const dc_text_data *td);
void dc_text_data_free(dc_text_data *td);
#endif
