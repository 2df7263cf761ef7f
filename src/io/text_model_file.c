/* text_model_file.c — a text vectorizer kept in a model file: its JSON under
 * the __metadata__ key "text_vectorizer", so a loaded model takes raw text. */
#include "../core/core.h"
#include <string.h>

dc_status dc_model_file_set_text_vectorizer(const char *path, const dc_text_vectorizer *v) {
    if (!path || !v)
        return dc_set_error(DC_ERR_ARG, "dc_model_file_set_text_vectorizer: NULL argument");
    char *json = dc_text_vectorizer_to_json(v);
    if (!json) return dc_last_status();
    const char *key = DC_TEXT_VECTORIZER_METADATA_KEY;
    const char *val = json;
    dc_status s = dc_model_file_set_metadata(path, &key, &val, 1);
    dc_string_free(json);
    return s;
}

dc_text_vectorizer *dc_text_vectorizer_from_model_file(const char *path) {
    const char *fn = "dc_text_vectorizer_from_model_file";
    dc_safetensors *st = dc_safetensors_load(path);
    if (!st) return NULL;
    const char *json = dc_safetensors_metadata(st, DC_TEXT_VECTORIZER_METADATA_KEY);
    dc_text_vectorizer *v = NULL;
    if (!json) {
        dc_set_error(DC_ERR_ARG, "%s: %s keeps no text vectorizer (no \"%s\" metadata)", fn, path,
                     DC_TEXT_VECTORIZER_METADATA_KEY);
    } else if (!(v = dc_text_vectorizer_from_json(json))) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(DC_ERR_FORMAT, "%s: %s: %s", fn, path, msg);
    }
    dc_safetensors_free(st);
    return v;
}
