/* keras_export.c — a deepc model as a Keras 3 .keras archive that keras.saving.load_model
 * reads: config.json from the layers' options (Keras' names already), the weights in
 * Keras' HDF5 layout (deepc keeps Keras' tensor layouts), the compile settings. */
#include "../model/model.h"
#include "keras.h"
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FN "dc_model_export_keras"
#define KERAS_FORMAT_VERSION "3.15.1" /* the Keras whose archives this follows (tests/ref/ref_keras.py) */

/* deepc's initializer names as Keras' classes (all with Keras' default arguments). */
static const char *const init_classes[][2] = {
    {"glorot_uniform", "GlorotUniform"}, {"glorot_normal", "GlorotNormal"},
    {"he_normal", "HeNormal"},           {"he_uniform", "HeUniform"},
    {"lecun_normal", "LecunNormal"},     {"lecun_uniform", "LecunUniform"},
    {"zeros", "Zeros"},                  {"ones", "Ones"},
    {"random_normal", "RandomNormal"},   {"random_uniform", "RandomUniform"},
    {"uniform", "RandomUniform"},        {"orthogonal", "Orthogonal"},
};

static cJSON *keras_object(const char *module, const char *cls, cJSON *config) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "module", module);
    cJSON_AddStringToObject(o, "class_name", cls);
    cJSON_AddItemToObject(o, "config", config ? config : cJSON_CreateObject());
    cJSON_AddNullToObject(o, "registered_name");
    return o;
}

/* "3", "2,3" or "(2, 3)" as numbers; NULL when v is not a list of numbers. */
static cJSON *number_list(const char *v, bool force_array) {
    char *end;
    const char *p = v + strspn(v, " ([");
    cJSON *a = cJSON_CreateArray();
    int n = 0;
    while (*p && *p != ')' && *p != ']') {
        double d = strtod(p, &end);
        if (end == p) {
            cJSON_Delete(a);
            return NULL;
        }
        cJSON_AddItemToArray(a, cJSON_CreateNumber(d));
        n++;
        p = end + strspn(end, " ,");
    }
    if (n == 0 || p[strspn(p, ")] ")] != 0) {
        cJSON_Delete(a);
        return NULL;
    }
    if (n == 1 && !force_array) {
        cJSON *one = cJSON_CreateNumber(cJSON_GetArrayItem(a, 0)->valuedouble);
        cJSON_Delete(a);
        return one;
    }
    return a;
}

/* An option string as the JSON value Keras' config holds. */
static cJSON *option_value(const char *key, const char *v) {
    size_t klen = strlen(key);
    if (klen > 12 && !strcmp(key + klen - 12, "_initializer")) {
        for (size_t i = 0; i < sizeof init_classes / sizeof *init_classes; i++)
            if (!strcmp(v, init_classes[i][0]))
                return keras_object("keras.initializers", init_classes[i][1], NULL);
    }
    if (!strcmp(v, "true") || !strcmp(v, "True")) return cJSON_CreateTrue();
    if (!strcmp(v, "false") || !strcmp(v, "False")) return cJSON_CreateFalse();
    cJSON *n = number_list(v, !strcmp(key, "target_shape"));
    return n ? n : cJSON_CreateString(v);
}

static cJSON *shape_with_batch(int nd, const int64_t *shape) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateNull());
    for (int i = 0; i < nd; i++)
        cJSON_AddItemToArray(a, shape[i] < 0 ? cJSON_CreateNull() : cJSON_CreateNumber((double)shape[i]));
    return a;
}

static void add_common(cJSON *cfg, const char *name) {
    cJSON_AddStringToObject(cfg, "name", name);
    cJSON_AddTrueToObject(cfg, "trainable");
    cJSON_AddStringToObject(cfg, "dtype", "float32");
}

/* One layer's entry; a Bidirectional's wrapped options go into its "layer". */
static cJSON *layer_json(const dc_layer *l) {
    cJSON *cfg = cJSON_CreateObject(), *wrapped = NULL;
    add_common(cfg, l->name);
    const char *wrapped_type = NULL;
    bool bidi = l->kind == DC_LAYER_BIDIRECTIONAL;
    if (bidi) {
        wrapped = cJSON_CreateObject();
        for (int k = 0; k < l->n_cfg; k++)
            if (!strcmp(l->cfg_key[k], "layer")) wrapped_type = l->cfg_val[k];
        char snake[48], name[80];
        dc_snake_case(wrapped_type ? wrapped_type : "LSTM", snake, sizeof snake);
        snprintf(name, sizeof name, "forward_%s", snake);
        add_common(wrapped, name);
    }
    for (int k = 0; k < l->n_cfg; k++) {
        const char *key = l->cfg_key[k];
        if (!strcmp(key, "name") || !strcmp(key, "layer")) continue;
        cJSON *dst = bidi && strcmp(key, "merge_mode") ? wrapped : cfg;
        cJSON_AddItemToObject(dst, key, option_value(key, l->cfg_val[k]));
    }
    if (bidi) {
        cJSON *rs = cJSON_GetObjectItemCaseSensitive(wrapped, "return_sequences");
        if (!rs) cJSON_AddFalseToObject(wrapped, "return_sequences");
        cJSON_AddItemToObject(cfg, "layer", keras_object("keras.layers", wrapped_type, wrapped));
    }
    cJSON *o = keras_object("keras.layers", dc_layer_type(l), cfg);
    cJSON *bc = cJSON_AddObjectToObject(o, "build_config");
    cJSON_AddItemToObject(bc, "input_shape", shape_with_batch(l->in_ndim, l->in_shape));
    return o;
}

/* The optimizer's options by Keras' names; zero means Keras' default, left out. */
static cJSON *optimizer_json(const dc_model *m) {
    static const struct {
        dc_optimizer_kind kind;
        const char *cls, *name, *fields;
    } kinds[] = {{DC_OPT_SGD, "SGD", "SGD", "momentum nesterov"},
                 {DC_OPT_ADAM, "Adam", "adam", "beta_1 beta_2 epsilon amsgrad"},
                 {DC_OPT_ADADELTA, "Adadelta", "adadelta", "rho epsilon"},
                 {DC_OPT_ADAGRAD, "Adagrad", "adagrad", "initial_accumulator_value epsilon"},
                 {DC_OPT_RMSPROP, "RMSprop", "rmsprop", "rho momentum epsilon centered"}};
    const dc_optimizer_options *o = &m->copt.optimizer;
    size_t i = 0;
    while (i < sizeof kinds / sizeof *kinds && kinds[i].kind != o->kind) i++;
    if (i == sizeof kinds / sizeof *kinds) return NULL;
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "name", kinds[i].name);
    float lr = m->opt ? dc_optimizer_learning_rate(m->opt) : o->learning_rate;
    if (lr > 0) cJSON_AddNumberToObject(cfg, "learning_rate", lr);
    const struct {
        const char *key;
        float f;
        int b; /* -1: a float option */
    } vals[] = {{"momentum", o->momentum, -1},   {"nesterov", 0, o->nesterov},
                {"beta_1", o->beta_1, -1},       {"beta_2", o->beta_2, -1},
                {"epsilon", o->epsilon, -1},     {"amsgrad", 0, o->amsgrad},
                {"rho", o->rho, -1},             {"centered", 0, o->centered},
                {"initial_accumulator_value", o->initial_accumulator_value, -1}};
    for (size_t k = 0; k < sizeof vals / sizeof *vals; k++) {
        if (!strstr(kinds[i].fields, vals[k].key)) continue;
        if (vals[k].b >= 0) cJSON_AddBoolToObject(cfg, vals[k].key, vals[k].b);
        else if (vals[k].f != 0) cJSON_AddNumberToObject(cfg, vals[k].key, vals[k].f);
    }
    const struct {
        const char *key;
        float v;
    } common[] = {{"weight_decay", o->weight_decay}, {"clipnorm", o->clipnorm},
                  {"global_clipnorm", o->global_clipnorm}, {"clipvalue", o->clipvalue}};
    for (size_t k = 0; k < sizeof common / sizeof *common; k++)
        if (common[k].v != 0) cJSON_AddNumberToObject(cfg, common[k].key, common[k].v);
    return keras_object("keras.optimizers", kinds[i].cls, cfg);
}

/* A crossentropy on logits needs from_logits=True, which only a loss object says. */
static cJSON *loss_json(const dc_model *m) {
    const char *name = dc_loss_name(m->copt.loss);
    bool xent = m->copt.loss != DC_LOSS_MSE;
    if (!xent || m->out_mode != DC_OUT_LOGITS) return cJSON_CreateString(name);
    static const char *const classes[][2] = {
        {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"},
        {"categorical_crossentropy", "CategoricalCrossentropy"},
        {"binary_crossentropy", "BinaryCrossentropy"}};
    const char *cls = NULL;
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(name, classes[i][0])) cls = classes[i][1];
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "name", name);
    cJSON_AddStringToObject(cfg, "reduction", "sum_over_batch_size");
    cJSON_AddTrueToObject(cfg, "from_logits");
    return keras_object("keras.losses", cls, cfg);
}

static cJSON *compile_json(const dc_model *m) {
    cJSON *opt = optimizer_json(m);
    if (!opt) return NULL;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "optimizer", opt);
    cJSON_AddItemToObject(c, "loss", loss_json(m));
    cJSON_AddNullToObject(c, "loss_weights");
    cJSON *mets = cJSON_AddArrayToObject(c, "metrics");
    for (int i = 0; i < m->n_metrics; i++)
        cJSON_AddItemToArray(mets, cJSON_CreateString(dc_metric_name(m->copt.metrics[i])));
    cJSON_AddNullToObject(c, "weighted_metrics");
    cJSON_AddFalseToObject(c, "run_eagerly");
    cJSON_AddNumberToObject(c, "steps_per_execution", 1);
    cJSON_AddFalseToObject(c, "jit_compile");
    return c;
}

static char *config_json(const dc_model *m) {
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    add_common(cfg, m->name);
    cJSON *layers = cJSON_AddArrayToObject(cfg, "layers");
    cJSON *icfg = cJSON_CreateObject();
    cJSON_AddItemToObject(icfg, "batch_shape", shape_with_batch(m->in_ndim, m->in_shape));
    cJSON_AddStringToObject(icfg, "dtype", "float32");
    cJSON_AddStringToObject(icfg, "name", "input_layer");
    cJSON_AddItemToArray(layers, keras_object("keras.layers", "InputLayer", icfg));
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->kind != DC_LAYER_INPUT) cJSON_AddItemToArray(layers, layer_json(m->layers[i]));
    cJSON_AddItemToObject(cfg, "build_input_shape", shape_with_batch(m->in_ndim, m->in_shape));
    cJSON_AddStringToObject(root, "module", "keras");
    cJSON_AddStringToObject(root, "class_name", "Sequential");
    cJSON_AddItemToObject(root, "config", cfg);
    cJSON_AddNullToObject(root, "registered_name");
    cJSON *bc = cJSON_AddObjectToObject(root, "build_config");
    cJSON_AddItemToObject(bc, "input_shape", shape_with_batch(m->in_ndim, m->in_shape));
    cJSON *cc = m->compiled ? compile_json(m) : NULL;
    if (cc) cJSON_AddItemToObject(root, "compile_config", cc);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Writes params [from, to) of l as group/0, group/1 ... */
static dc_status write_vars(dc_h5 *h, const char *group, const char *attr, const dc_layer *l,
                            int from, int to) {
    if (dc_h5_group(h, group, attr) != DC_OK) return dc_last_status();
    char path[256];
    for (int p = from; p < to; p++) {
        snprintf(path, sizeof path, "%s/%d", group, p - from);
        if (dc_h5_write(h, path, l->params[p].t) != DC_OK) return dc_last_status();
    }
    return DC_OK;
}

static bool is_rnn(int kind) {
    return kind == DC_LAYER_SIMPLE_RNN || kind == DC_LAYER_LSTM || kind == DC_LAYER_GRU;
}

/* The layout Keras' saver makes: layers/<group>/vars (an RNN's weights in
 * cell/vars, a Bidirectional's in forward_layer/ and backward_layer/). */
static dc_status write_layer(dc_h5 *h, const dc_model *m, int i) {
    const dc_layer *l = m->layers[i];
    char group[128], path[200], cell[96];
    dc_keras_layer_group(m, i, group, sizeof group);
    snprintf(path, sizeof path, "%s/vars", group);
    if (!is_rnn(l->kind) && l->kind != DC_LAYER_BIDIRECTIONAL)
        return write_vars(h, path, l->name, l, 0, l->n_params);
    if (write_vars(h, path, l->name, l, 0, 0) != DC_OK) return dc_last_status();
    if (is_rnn(l->kind)) {
        snprintf(path, sizeof path, "%s/cell/vars", group);
        snprintf(cell, sizeof cell, "%s_cell", l->name);
        return write_vars(h, path, cell, l, 0, l->n_params);
    }
    int half = l->n_params / 2;
    for (int b = 0; b < 2; b++) {
        const char *side = b ? "backward_layer" : "forward_layer";
        snprintf(path, sizeof path, "%s/%s/vars", group, side);
        if (write_vars(h, path, side, l, 0, 0) != DC_OK) return dc_last_status();
        snprintf(path, sizeof path, "%s/%s/cell/vars", group, side);
        if (write_vars(h, path, side, l, b * half, (b + 1) * half) != DC_OK) return dc_last_status();
    }
    return DC_OK;
}

static dc_status weights_h5(const dc_model *m, uint8_t **data, size_t *len) {
    dc_h5 *h = dc_h5_create(FN, "model.weights.h5");
    if (!h) return dc_last_status();
    dc_status s = dc_h5_group(h, "vars", m->name);
    if (s == DC_OK) s = dc_h5_group(h, "layers", NULL);
    for (int i = 0; s == DC_OK && i < m->n_layers; i++)
        if (m->layers[i]->kind != DC_LAYER_INPUT) s = write_layer(h, m, i);
    if (s == DC_OK && m->compiled) s = dc_h5_group(h, "optimizer/vars", m->opt ? dc_optimizer_name(m->opt) : "optimizer");
    if (s == DC_OK) s = dc_h5_image(h, data, len);
    dc_h5_close(h);
    return s;
}

static dc_status check_exportable(const dc_model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        const dc_layer *l = m->layers[i];
        if (l->kind == DC_LAYER_INPUT && i > 0)
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: layer %d '%s': an InputLayer after the "
                                "first layer has no Keras form", FN, i, l->name);
        for (int k = 0; k < l->n_cfg; k++) {
            if (!strcmp(l->cfg_val[k], "leaky_relu"))
                return dc_set_error(DC_ERR_UNSUPPORTED, "%s: layer '%s' (%s): option '%s': "
                                    "'leaky_relu' has slope 0.3 in deepc and 0.2 in Keras 3", FN,
                                    l->name, dc_layer_type(l), l->cfg_key[k]);
            if (!strcmp(l->cfg_key[k], "return_state") && strcmp(l->cfg_val[k], "false"))
                return dc_set_error(DC_ERR_UNSUPPORTED, "%s: layer '%s' (%s): return_state has "
                                    "no Sequential form in Keras", FN, l->name, dc_layer_type(l));
        }
    }
    return DC_OK;
}

dc_status dc_model_export_keras(const dc_model *m, const char *path) {
    if (!m || !path) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", FN, m ? "path" : "model");
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", FN, m->name);
    if (m->functional) /* config_json writes a Sequential model's layer list */
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: model '%s' is functional; only Sequential "
                            "models are exported yet", FN, m->name);
    if (check_exportable(m) != DC_OK) return dc_last_status();
    char *config = config_json(m);
    char meta[160], date[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", gmtime_r(&now, &tmv));
    snprintf(meta, sizeof meta, "{\"keras_version\": \"%s\", \"date_saved\": \"%s\", "
             "\"saved_by\": \"deepc %s\"}", KERAS_FORMAT_VERSION, date, DC_VERSION);
    uint8_t *w = NULL;
    size_t wlen = 0;
    dc_status s = config ? DC_OK : dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    if (s == DC_OK) s = weights_h5(m, &w, &wlen);
    if (s == DC_OK) s = dc_keras_archive_write(FN, path, config, meta, w, wlen);
    cJSON_free(config);
    dc_free(w);
    return s;
}
