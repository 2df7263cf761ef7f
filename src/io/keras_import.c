/* keras_import.c — a Keras 3 .keras archive (Sequential or Functional) as a deepc model:
 * the layers from config.json by their Keras names (a Functional graph through dc_graph),
 * the weights from model.weights.h5, the compile settings; anything deepc cannot do is
 * refused by name, never dropped. */
#include "../model/model.h"
#include "keras.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FN "dc_model_import_keras"
#define CONFIG "config.json"
#define WEIGHTS "model.weights.h5"

/* ---- option values: Keras' JSON as deepc's option strings ---- */

/* Options Keras writes that deepc accepts only at this value (then drops). */
static const struct {
    const char *key, *value;
} fixed_options[] = {
    {"trainable", "true"},   {"groups", "1"},       {"zero_output_for_mask", "false"},
    {"synchronized", "false"}, {"renorm", "false"}, {"sparse", "false"},
    {"ragged", "false"},     {"optional", "false"},     {"data_format", "channels_last"},
};
/* Options without effect on what deepc computes: the seed of a Dropout or
 * RandomFlip (deepc seeds every layer from the model's seed) and BatchNorm's
 * renorm_momentum (read only with renorm, refused above). */
static const char *const ignored_options[] = {"seed", "renorm_momentum"};

/* Keras' initializer classes deepc has, with the arguments they take by default. */
static const struct {
    const char *cls, *name, *args; /* args: "key=value" pairs deepc's initializer fixes */
} initializers[] = {
    {"GlorotUniform", "glorot_uniform", ""}, {"GlorotNormal", "glorot_normal", ""},
    {"HeNormal", "he_normal", ""},           {"HeUniform", "he_uniform", ""},
    {"LecunNormal", "lecun_normal", ""},     {"LecunUniform", "lecun_uniform", ""},
    {"Zeros", "zeros", ""},                  {"Ones", "ones", ""},
    {"Orthogonal", "orthogonal", "gain=1"},  {"RandomNormal", "random_normal", "mean=0 stddev=0.05"},
    {"RandomUniform", "uniform", "minval=-0.05 maxval=0.05"},
};

typedef struct {
    const char *file; /* the archive, for messages */
    char where[160];  /* "config.json: layer 2 'dense' (Dense)" */
    char buf[DC_LAYER_MAX_CFG + 2][160]; /* the option strings */
    const char *k[DC_LAYER_MAX_CFG + 2], *v[DC_LAYER_MAX_CFG + 2];
    int n;
} opt_list;

static dc_status refuse(const opt_list *o, const char *key, const char *why) {
    return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': %s: option '%s': %s", FN, o->file, o->where,
                        key, why);
}

/* A number as deepc parses it: integers without a fraction. */
static void number_str(double v, char *out, size_t n) {
    if (v == floor(v) && fabs(v) < 1e15) snprintf(out, n, "%lld", (long long)v);
    else snprintf(out, n, "%.9g", v);
}

/* Whether a JSON value equals the text a table gives for it. */
static bool json_is(const cJSON *v, const char *text) {
    char b[64];
    if (cJSON_IsBool(v)) return !strcmp(cJSON_IsTrue(v) ? "true" : "false", text);
    if (cJSON_IsNumber(v)) return number_str(v->valuedouble, b, sizeof b), !strcmp(b, text) || atof(text) == v->valuedouble;
    if (cJSON_IsString(v)) return !strcmp(v->valuestring, text);
    return false;
}

/* The dtype policy (a string or {"class_name":"DTypePolicy","config":{"name":..}}). */
static bool dtype_float32(const cJSON *v) {
    if (cJSON_IsString(v)) return !strcmp(v->valuestring, "float32");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "config");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(c, "name");
    return cJSON_IsString(name) && !strcmp(name->valuestring, "float32");
}

/* An initializer object as deepc's name, its arguments checked against the defaults. */
static dc_status initializer_str(opt_list *o, const char *key, const cJSON *v, char *out, size_t n) {
    const cJSON *cls = cJSON_IsString(v) ? v : cJSON_GetObjectItemCaseSensitive(v, "class_name");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(v, "config");
    if (!cJSON_IsString(cls)) return refuse(o, key, "not an initializer");
    for (size_t i = 0; i < sizeof initializers / sizeof *initializers; i++) {
        char snake[64];
        dc_snake_case(initializers[i].cls, snake, sizeof snake);
        if (strcmp(cls->valuestring, initializers[i].cls) && strcmp(cls->valuestring, snake) &&
            strcmp(cls->valuestring, initializers[i].name))
            continue;
        const cJSON *a;
        cJSON_ArrayForEach(a, cfg) {
            if (cJSON_IsNull(a) || !strcmp(a->string, "seed")) continue;
            char want[80];
            const char *p = strstr(initializers[i].args, a->string);
            size_t len = strlen(a->string);
            if (p && p[len] == '=') {
                snprintf(want, sizeof want, "%.*s", (int)strcspn(p + len + 1, " "), p + len + 1);
                if (json_is(a, want)) continue;
            }
            char why[200];
            snprintf(why, sizeof why, "%s with %s other than deepc's (%s)", initializers[i].cls,
                     a->string, initializers[i].args[0] ? initializers[i].args : "none");
            return refuse(o, key, why);
        }
        snprintf(out, n, "%s", initializers[i].name);
        return DC_OK;
    }
    char why[160];
    snprintf(why, sizeof why, "initializer '%s' is not one deepc has", cls->valuestring);
    return refuse(o, key, why);
}

/* One JSON value as an option string; *skip when the option is to be left out. */
static dc_status value_str(opt_list *o, const char *key, const cJSON *v, char *out, size_t n,
                           bool *skip) {
    *skip = false;
    size_t klen = strlen(key);
    if (klen > 12 && !strcmp(key + klen - 12, "_initializer")) return initializer_str(o, key, v, out, n);
    if (cJSON_IsNull(v)) return *skip = true, DC_OK; /* Keras' "off" */
    if (cJSON_IsBool(v)) snprintf(out, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNumber(v)) number_str(v->valuedouble, out, n);
    else if (cJSON_IsString(v)) snprintf(out, n, "%s", v->valuestring);
    else if (cJSON_IsArray(v)) {
        out[0] = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            char b[40];
            if (cJSON_IsNull(e)) snprintf(b, sizeof b, "-1");
            else if (cJSON_IsNumber(e)) number_str(e->valuedouble, b, sizeof b);
            else return refuse(o, key, "a list of something other than numbers");
            if (strlen(out) + strlen(b) + 2 >= n) return refuse(o, key, "too long");
            if (out[0]) strcat(out, ",");
            strcat(out, b);
        }
    } else {
        return refuse(o, key, "an object deepc does not read");
    }
    return DC_OK;
}

static dc_status add_option(opt_list *o, const char *key, const char *value) {
    if (o->n >= DC_LAYER_MAX_CFG)
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s': %s: more than %d options", FN, o->file,
                            o->where, DC_LAYER_MAX_CFG);
    snprintf(o->buf[o->n], sizeof o->buf[o->n], "%s", value);
    o->k[o->n] = key;
    o->v[o->n] = o->buf[o->n];
    o->n++;
    return DC_OK;
}

static const cJSON *child(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Whether Bidirectional's backward layer is its forward layer run backwards:
 * the same class and options but for the name, go_backwards, the mask output
 * Bidirectional sets itself and the initializers (deepc gives the backward copy
 * the forward's; they only matter before training). */
static bool mirrors(const cJSON *fwd, const cJSON *bwd) {
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(fwd, "class_name");
    const cJSON *bc = cJSON_GetObjectItemCaseSensitive(bwd, "class_name");
    const cJSON *fcfg = cJSON_GetObjectItemCaseSensitive(fwd, "config");
    const cJSON *bcfg = cJSON_GetObjectItemCaseSensitive(bwd, "config");
    if (!cJSON_IsString(fc) || !cJSON_IsString(bc) || strcmp(fc->valuestring, bc->valuestring) ||
        !cJSON_IsObject(fcfg) || !cJSON_IsObject(bcfg) ||
        cJSON_GetArraySize(fcfg) != cJSON_GetArraySize(bcfg))
        return false;
    const cJSON *b;
    cJSON_ArrayForEach(b, bcfg) {
        if (!strcmp(b->string, "name") || !strcmp(b->string, "go_backwards") ||
            !strcmp(b->string, "zero_output_for_mask") || !strcmp(b->string, "dtype") ||
            strstr(b->string, "_initializer"))
            continue;
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(fcfg, b->string);
        if (!f || !cJSON_Compare(f, b, true)) return false;
    }
    return true;
}

/* A layer's Keras config as deepc options; the wrapped layer of a
 * Bidirectional becomes `layer` (its class) with its options beside. */
static dc_status convert_config(opt_list *o, const cJSON *cfg, bool wrapped) {
    const cJSON *v;
    cJSON_ArrayForEach(v, cfg) {
        const char *key = v->string;
        bool skip = false;
        size_t klen = strlen(key);
        if (!strcmp(key, "name")) {
            if (!wrapped && !cJSON_IsString(v)) return refuse(o, key, "not a string");
            continue;
        }
        if (!strcmp(key, "dtype")) {
            if (!dtype_float32(v)) return refuse(o, key, "only float32 is supported");
            continue;
        }
        if ((klen > 12 && !strcmp(key + klen - 12, "_regularizer")) ||
            (klen > 11 && !strcmp(key + klen - 11, "_constraint")) || !strcmp(key, "noise_shape") ||
            !strcmp(key, "quantization_config") || !strcmp(key, "lora_rank")) {
            if (!cJSON_IsNull(v)) return refuse(o, key, "set, and deepc has no such option");
            continue;
        }
        for (size_t i = 0; !skip && i < sizeof ignored_options / sizeof *ignored_options; i++)
            skip = !strcmp(key, ignored_options[i]);
        /* Bidirectional sets it on the layers it wraps; deepc's does the same */
        skip = skip || (wrapped && !strcmp(key, "zero_output_for_mask"));
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "leaky_relu"))
            return refuse(o, key, "'leaky_relu' has slope 0.2 in Keras 3 and 0.3 in deepc");
        for (size_t i = 0; !skip && i < sizeof fixed_options / sizeof *fixed_options; i++)
            if (!strcmp(key, fixed_options[i].key)) {
                if (!json_is(v, fixed_options[i].value)) {
                    char why[96];
                    snprintf(why, sizeof why, "only %s is supported", fixed_options[i].value);
                    return refuse(o, key, why);
                }
                skip = true;
            }
        if (skip) continue;
        if (!strcmp(key, "layer") && !wrapped) {
            const cJSON *cls = cJSON_GetObjectItemCaseSensitive(v, "class_name");
            const cJSON *sub = cJSON_GetObjectItemCaseSensitive(v, "config");
            if (!cJSON_IsString(cls) || !cJSON_IsObject(sub))
                return refuse(o, key, "not a layer");
            if (add_option(o, "layer", cls->valuestring) != DC_OK) return dc_last_status();
            if (convert_config(o, sub, true) != DC_OK) return dc_last_status();
            continue;
        }
        if (!strcmp(key, "backward_layer") && !wrapped) {
            if (!cJSON_IsNull(v) && !mirrors(child(cfg, "layer"), v))
                return refuse(o, key, "a backward layer unlike the forward one (deepc mirrors it)");
            continue;
        }
        char val[160];
        if (value_str(o, key, v, val, sizeof val, &skip) != DC_OK) return dc_last_status();
        if (skip) continue;
        if (wrapped && (!strcmp(key, "go_backwards") || !strcmp(key, "return_state"))) {
            if (strcmp(val, "false")) return refuse(o, key, "only false inside Bidirectional");
            continue;
        }
        if (add_option(o, key, val) != DC_OK) return dc_last_status();
    }
    return DC_OK;
}

/* ---- the model ---- */

static dc_status format_error(const char *file, const char *part, const char *what) {
    return dc_set_error(DC_ERR_FORMAT, "%s: '%s': %s: %s", FN, file, part, what);
}

/* A shape [null, d1, ...] (the batch axis first) as deepc's, None as -1. */
static dc_status batch_shape(const char *file, const char *where, const cJSON *a, int *nd,
                             int64_t *shape) {
    int n = cJSON_GetArraySize(a);
    if (!cJSON_IsArray(a) || n < 2 || n > DC_MAX_DIMS)
        return format_error(file, where, "the input shape is not [None, d1, ...] of 1 to 5 dims");
    *nd = 0;
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, a) {
        if (i++ == 0) continue;
        if (cJSON_IsNull(d)) shape[(*nd)++] = -1;
        else if (cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble < 1e12 &&
                 d->valuedouble == floor(d->valuedouble))
            shape[(*nd)++] = (int64_t)d->valuedouble;
        else
            return format_error(file, where, "an input dimension is not a positive integer");
    }
    return DC_OK;
}

/* Keras' LeakyReLU layer as deepc's Activation("leaky_relu"), whose slope is
 * fixed at 0.3 (Keras' default for the layer); another slope is refused. */
static dc_status leaky_relu_layer(opt_list *o, const cJSON *cfg) {
    const cJSON *v;
    cJSON_ArrayForEach(v, cfg) {
        if (!strcmp(v->string, "negative_slope")) {
            if (!cJSON_IsNumber(v) || fabs(v->valuedouble - 0.3) > 1e-7)
                return refuse(o, "negative_slope", "deepc's leaky_relu has slope 0.3 only");
            continue;
        }
        if (strcmp(v->string, "name") && strcmp(v->string, "trainable") && strcmp(v->string, "dtype"))
            return refuse(o, v->string, "LeakyReLU has no such option in deepc");
    }
    cJSON *rest = cJSON_Duplicate(cfg, true);
    if (!rest) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    cJSON_DeleteItemFromObjectCaseSensitive(rest, "negative_slope");
    dc_status s = convert_config(o, rest, false);
    cJSON_Delete(rest);
    return s == DC_OK ? add_option(o, "activation", "leaky_relu") : s;
}

/* The deepc layer for one entry of config.json's layer list; where names it
 * in messages ("layer 2" or "layer 'add'"). */
static dc_layer *make_layer(const char *file, const char *where, const cJSON *lj) {
    const cJSON *cls = child(lj, "class_name"), *cfg = child(lj, "config");
    const cJSON *name = child(cfg, "name");
    opt_list *o = dc_calloc(1, sizeof *o);
    if (!o) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
        return NULL;
    }
    o->file = file;
    snprintf(o->where, sizeof o->where, CONFIG ": %s '%.40s' (%.40s)", where,
             cJSON_IsString(name) ? name->valuestring : "?",
             cJSON_IsString(cls) ? cls->valuestring : "?");
    dc_status s = DC_OK;
    bool leaky = cJSON_IsString(cls) && !strcmp(cls->valuestring, "LeakyReLU");
    if (!cJSON_IsString(cls) || !cJSON_IsObject(cfg) || !cJSON_IsString(name))
        s = format_error(file, o->where, "a layer needs class_name and a config with a name");
    if (s == DC_OK) s = leaky ? leaky_relu_layer(o, cfg) : convert_config(o, cfg, false);
    if (s == DC_OK) s = add_option(o, "name", name->valuestring);
    dc_layer *l = NULL;
    if (s == DC_OK) {
        l = dc_layer_from_config(leaky ? "Activation" : cls->valuestring, o->k, o->v, o->n);
        if (!l) {
            char msg[512];
            const char *pre = "dc_layer_from_config: ", *e = dc_last_error();
            snprintf(msg, sizeof msg, "%s", strncmp(e, pre, strlen(pre)) ? e : e + strlen(pre));
            dc_set_error(dc_last_status() == DC_ERR_ARG ? DC_ERR_UNSUPPORTED : dc_last_status(),
                         "%s: '%s': %s: %s", FN, file, o->where, msg);
        }
    }
    dc_free(o);
    return l;
}

static dc_status add_layer(const char *file, dc_model *m, int index, const cJSON *lj) {
    char where[32];
    snprintf(where, sizeof where, "layer %d", index);
    dc_layer *l = make_layer(file, where, lj);
    return l ? dc_model_add(m, l) : dc_last_status();
}

/* ---- Functional models: the layer list with each layer's inbound nodes ---- */

/* The last error with the file and part in front. */
static dc_status prefix_error(const char *file, const char *part) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    return dc_set_error(dc_last_status(), "%s: '%s': %s: %s", FN, file, part, msg);
}

#define MAX_FN_LAYERS 4096
#define MAX_CALLS 64 /* inbound nodes of one (shared) layer */

/* One tensor a call reads: layer l's call k (its only output). */
typedef struct {
    int l, k;
} fn_ref;

typedef struct {
    const cJSON *entry;
    const char *name, *cls;
    dc_layer *layer;   /* held by the graph (NULL for an InputLayer) */
    int n_calls;       /* its inbound nodes (an InputLayer: 1, itself) */
    dc_symbol **syms;  /* one per call, NULL until made */
} fn_layer;

typedef struct {
    const char *file;
    fn_layer *ls;
    int n;
    dc_graph *g;
    cJSON *groups; /* layer name -> its group in model.weights.h5 */
} fn_ctx;

static int fn_find(const fn_ctx *c, const char *name) {
    for (int i = 0; name && i < c->n; i++)
        if (c->ls[i].name && !strcmp(c->ls[i].name, name)) return i;
    return -1;
}

/* A tensor reference, {"class_name": "__keras_tensor__", "config": {"keras_history":
 * [layer, node, tensor]}} in an inbound node or [layer, node, tensor] in
 * input_layers / output_layers, as layer and call; what names it in messages. */
static dc_status fn_tensor(const fn_ctx *c, const char *what, const cJSON *t, fn_ref *r) {
    const cJSON *h = cJSON_IsArray(t) ? t : child(child(t, "config"), "keras_history");
    const cJSON *name = cJSON_GetArrayItem(h, 0), *node = cJSON_GetArrayItem(h, 1),
                *index = cJSON_GetArrayItem(h, 2);
    char msg[256];
    if (!cJSON_IsString(name) || !cJSON_IsNumber(node) || !cJSON_IsNumber(index) ||
        cJSON_GetArraySize(h) != 3) {
        snprintf(msg, sizeof msg, "%s: a tensor is not [layer, node, index]", what);
        return format_error(c->file, CONFIG, msg);
    }
    r->l = fn_find(c, name->valuestring);
    if (r->l < 0) {
        snprintf(msg, sizeof msg, "%s reads layer '%.60s', which the config does not have", what,
                 name->valuestring);
        return format_error(c->file, CONFIG, msg);
    }
    if (index->valuedouble != 0)
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": %s reads output %g of layer "
                            "'%s'; deepc's layers have one", FN, c->file, what, index->valuedouble,
                            name->valuestring);
    if (node->valuedouble < 0 || node->valuedouble >= c->ls[r->l].n_calls) {
        snprintf(msg, sizeof msg, "%s reads call %g of layer '%.60s', which has %d", what,
                 node->valuedouble, name->valuestring, c->ls[r->l].n_calls);
        return format_error(c->file, CONFIG, msg);
    }
    r->k = (int)node->valuedouble;
    return DC_OK;
}

/* The tensors of inbound node k of layer i: args[0], one tensor or a list of
 * them (merge layers); kwargs deepc does not take are refused. */
static int fn_call_inputs(const fn_ctx *c, int i, int k, fn_ref *refs) {
    const fn_layer *fl = &c->ls[i];
    const cJSON *nd = cJSON_GetArrayItem(child(fl->entry, "inbound_nodes"), k);
    const cJSON *args = child(nd, "args"), *kw = child(nd, "kwargs"), *a0 = cJSON_GetArrayItem(args, 0);
    char what[160];
    snprintf(what, sizeof what, "layer '%.60s' (%.40s): inbound node %d", fl->name, fl->cls, k);
    if (!cJSON_IsArray(args) || cJSON_GetArraySize(args) != 1 || !a0) {
        dc_set_error(DC_ERR_FORMAT, "%s: '%s': " CONFIG ": %s: args is not one tensor or one list",
                     FN, c->file, what);
        return -1;
    }
    const cJSON *a;
    cJSON_ArrayForEach(a, kw) {
        if (cJSON_IsNull(a) || (!strcmp(a->string, "training") && cJSON_IsBool(a))) continue;
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": %s: argument '%s' is not one "
                     "deepc takes", FN, c->file, what, a->string);
        return -1;
    }
    bool list = cJSON_IsArray(a0) && !cJSON_IsString(cJSON_GetArrayItem(a0, 0));
    int n = list ? cJSON_GetArraySize(a0) : 1;
    if (n < 1 || n > DC_LAYER_MAX_IN) {
        dc_set_error(DC_ERR_FORMAT, "%s: '%s': " CONFIG ": %s: %d inputs (1 to %d)", FN, c->file,
                     what, n, DC_LAYER_MAX_IN);
        return -1;
    }
    for (int j = 0; j < n; j++)
        if (fn_tensor(c, what, list ? cJSON_GetArrayItem(a0, j) : a0, &refs[j]) != DC_OK) return -1;
    return n;
}

/* The HDF5 group Keras gives entry i: its snake-case class, numbered among the
 * entries of that class before it. */
static dc_status fn_group(fn_ctx *c, int i) {
    char snake[64], other[64], group[128];
    dc_snake_case(c->ls[i].cls, snake, sizeof snake);
    int before = 0;
    for (int j = 0; j < i; j++) {
        dc_snake_case(c->ls[j].cls, other, sizeof other);
        before += !strcmp(snake, other);
    }
    if (before) snprintf(group, sizeof group, "layers/%s_%d", snake, before);
    else snprintf(group, sizeof group, "layers/%s", snake);
    return cJSON_AddStringToObject(c->groups, c->ls[i].name, group)
               ? DC_OK
               : dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
}

/* Entry i as a layer held by the graph, or an InputLayer's input node. */
static dc_status fn_layer_make(fn_ctx *c, int i, const cJSON *lj) {
    fn_layer *fl = &c->ls[i];
    const cJSON *cfg = child(lj, "config"), *cls = child(lj, "class_name");
    const cJSON *name = child(lj, "name");
    if (!cJSON_IsString(name)) name = child(cfg, "name");
    char where[160];
    if (!cJSON_IsString(cls) || !cJSON_IsString(name) || !cJSON_IsObject(cfg))
        return format_error(c->file, CONFIG, "a layer entry needs class_name, name and config");
    fl->entry = lj, fl->cls = cls->valuestring, fl->name = name->valuestring;
    if (fn_find(c, fl->name) < i) {
        snprintf(where, sizeof where, "two layers are named '%.60s'", fl->name);
        return format_error(c->file, CONFIG, where);
    }
    if (fn_group(c, i) != DC_OK) return dc_last_status();
    if (!strcmp(fl->cls, "InputLayer")) {
        const cJSON *dt = child(cfg, "dtype");
        int nd = 0;
        int64_t shape[DC_MAX_DIMS];
        if (dt && !cJSON_IsNull(dt) && !dtype_float32(dt))
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": InputLayer '%s': option "
                                "'dtype': only float32 is supported", FN, c->file, fl->name);
        if (batch_shape(c->file, CONFIG ": InputLayer", child(cfg, "batch_shape"), &nd, shape) != DC_OK)
            return dc_last_status();
        fl->n_calls = 1;
        fl->syms = dc_calloc(1, sizeof *fl->syms);
        if (!fl->syms) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
        fl->syms[0] = dc_input(c->g, nd, shape, fl->name);
        return fl->syms[0] ? DC_OK : prefix_error(c->file, CONFIG ": InputLayer");
    }
    const cJSON *inb = child(lj, "inbound_nodes");
    fl->n_calls = cJSON_GetArraySize(inb);
    if (!cJSON_IsArray(inb) || fl->n_calls < 1 || fl->n_calls > MAX_CALLS) {
        snprintf(where, sizeof where, "layer '%.60s' has %d inbound nodes (1 to %d)", fl->name,
                 fl->n_calls, MAX_CALLS);
        return format_error(c->file, CONFIG, where);
    }
    fl->syms = dc_calloc((size_t)fl->n_calls, sizeof *fl->syms);
    if (!fl->syms) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    fl->layer = make_layer(c->file, "layer", lj);
    if (!fl->layer) return dc_last_status();
    if (dc_graph_hold(FN, c->g, fl->layer) != DC_OK) {
        fl->layer = NULL;
        return prefix_error(c->file, CONFIG);
    }
    return DC_OK;
}

/* Makes every call whose inputs are made, until none is left; calls that
 * never become ready wait on a cycle. */
static dc_status fn_calls(fn_ctx *c) {
    bool progress = true, left = true;
    while (progress && left) {
        progress = left = false;
        for (int i = 0; i < c->n; i++) {
            for (int k = 0; c->ls[i].layer && k < c->ls[i].n_calls; k++) {
                if (c->ls[i].syms[k]) continue;
                fn_ref refs[DC_LAYER_MAX_IN];
                int n = fn_call_inputs(c, i, k, refs);
                if (n < 0) return dc_last_status();
                dc_symbol *ins[DC_LAYER_MAX_IN];
                bool ready = true;
                for (int j = 0; j < n; j++) ready = ready && (ins[j] = c->ls[refs[j].l].syms[refs[j].k]);
                if (!ready) {
                    left = true;
                    continue;
                }
                c->ls[i].syms[k] = dc_call_n(c->ls[i].layer, ins, n);
                if (!c->ls[i].syms[k]) return prefix_error(c->file, CONFIG);
                progress = true;
            }
        }
    }
    for (int i = 0; left && i < c->n; i++)
        for (int k = 0; c->ls[i].layer && k < c->ls[i].n_calls; k++)
            if (!c->ls[i].syms[k])
                return dc_set_error(DC_ERR_FORMAT, "%s: '%s': " CONFIG ": layer '%s' (%s), inbound "
                                    "node %d, is part of a cycle (or reads one): its inputs are "
                                    "never computed", FN, c->file, c->ls[i].name, c->ls[i].cls, k);
    return DC_OK;
}

/* input_layers or output_layers: one [layer, node, index] or a list of them. */
static int fn_io(const fn_ctx *c, const cJSON *cfg, const char *key, dc_symbol **out) {
    const cJSON *v = child(cfg, key);
    bool one = cJSON_IsString(cJSON_GetArrayItem(v, 0));
    int n = one ? 1 : cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n < 1 || n > DC_MAX_MODEL_IO) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is not 1 to %d tensors", key, DC_MAX_MODEL_IO);
        format_error(c->file, CONFIG, msg);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        fn_ref r;
        if (fn_tensor(c, key, one ? v : cJSON_GetArrayItem(v, i), &r) != DC_OK) return -1;
        out[i] = c->ls[r.l].syms[r.k];
    }
    return n;
}

static dc_model *fn_model(fn_ctx *c, const cJSON *cfg) {
    const cJSON *layers = child(cfg, "layers"), *lj;
    int i = 0;
    cJSON_ArrayForEach(lj, layers) if (fn_layer_make(c, i++, lj) != DC_OK) return NULL;
    if (fn_calls(c) != DC_OK) return NULL;
    dc_symbol *ins[DC_MAX_MODEL_IO], *outs[DC_MAX_MODEL_IO];
    int n_in = fn_io(c, cfg, "input_layers", ins), n_out = n_in > 0 ? fn_io(c, cfg, "output_layers", outs) : -1;
    if (n_in < 0 || n_out < 0) return NULL;
    const cJSON *name = child(cfg, "name");
    dc_graph *g = c->g;
    c->g = NULL; /* dc_model_functional takes it, on failure too */
    dc_model *m = dc_model_functional(cJSON_IsString(name) && strlen(name->valuestring) < 64
                                          ? name->valuestring
                                          : NULL,
                                      g, ins, n_in, outs, n_out);
    if (!m) prefix_error(c->file, CONFIG);
    return m;
}

/* A Functional model: every layer of the list held in a graph, each of its
 * inbound nodes a call once the tensors it reads are made, then the model
 * from input_layers and output_layers. *groups gets each layer's HDF5 group. */
static dc_model *functional_from_config(const char *file, const cJSON *cfg, cJSON **groups) {
    const cJSON *layers = child(cfg, "layers");
    int n = cJSON_GetArraySize(layers);
    if (!cJSON_IsArray(layers) || n < 1 || n > MAX_FN_LAYERS) {
        format_error(file, CONFIG, "Functional has no layers list (or more than 4096 layers)");
        return NULL;
    }
    fn_ctx c = {.file = file, .n = n};
    c.ls = dc_calloc((size_t)n, sizeof *c.ls);
    c.g = dc_graph_new();
    c.groups = cJSON_CreateObject();
    dc_model *m = NULL;
    if (!c.ls || !c.g || !c.groups) dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    else m = fn_model(&c, cfg);
    for (int i = 0; c.ls && i < n; i++) dc_free(c.ls[i].syms);
    dc_free(c.ls);
    dc_graph_free(c.g);
    if (m) *groups = c.groups;
    else cJSON_Delete(c.groups);
    return m;
}

/* Sequential's layers; the InputLayer gives the input shape. */
/* The model's own trainable and dtype options: only true and float32. */
static dc_status check_model_options(const char *file, const char *cls, const cJSON *cfg) {
    const cJSON *tr = child(cfg, "trainable"), *dt = child(cfg, "dtype");
    if (cJSON_IsFalse(tr) || (dt && !cJSON_IsNull(dt) && !dtype_float32(dt)))
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": %s: option '%s': only %s "
                            "is supported", FN, file, cls, cJSON_IsFalse(tr) ? "trainable" : "dtype",
                            cJSON_IsFalse(tr) ? "true" : "float32");
    return DC_OK;
}

static dc_status build_imported(const char *file, dc_model *m, int nd, const int64_t *shape,
                                uint64_t weight_floats) {
    char cap[96];
    snprintf(cap, sizeof cap, "%s holds %llu", WEIGHTS, (unsigned long long)weight_floats);
    if (dc_model_build_capped(m, nd, shape, 0, weight_floats + (1u << 20), cap) != DC_OK)
        return prefix_error(file, CONFIG);
    return DC_OK;
}

/* A Sequential or Functional model from config.json, built; *groups gets a
 * Functional model's HDF5 group per layer name (NULL for Sequential). */
static dc_model *model_from_config(const char *file, const cJSON *root, uint64_t weight_floats,
                                   cJSON **groups) {
    const cJSON *cls = child(root, "class_name"), *cfg = child(root, "config");
    *groups = NULL;
    if (!cJSON_IsString(cls) || !cJSON_IsObject(cfg)) {
        format_error(file, CONFIG, "no class_name and config at the top (not a Keras 3 model)");
        return NULL;
    }
    bool functional = !strcmp(cls->valuestring, "Functional") || !strcmp(cls->valuestring, "Model");
    if (strcmp(cls->valuestring, "Sequential") && !functional) {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": model class '%s': only Sequential "
                     "and Functional models are imported", FN, file, cls->valuestring);
        return NULL;
    }
    if (check_model_options(file, cls->valuestring, cfg) != DC_OK) return NULL;
    if (functional) {
        dc_model *f = functional_from_config(file, cfg, groups);
        if (f && build_imported(file, f, 0, NULL, weight_floats) != DC_OK) {
            dc_model_free(f);
            cJSON_Delete(*groups);
            *groups = NULL;
            return NULL;
        }
        return f;
    }
    const cJSON *layers = child(cfg, "layers"), *name = child(cfg, "name");
    if (!cJSON_IsArray(layers)) {
        format_error(file, CONFIG, "Sequential has no layers list");
        return NULL;
    }
    dc_model *m = dc_sequential_new(cJSON_IsString(name) && name->valuestring[0] &&
                                            strlen(name->valuestring) < 64
                                        ? name->valuestring
                                        : NULL);
    if (!m) return NULL;
    int nd = 0, i = 0;
    int64_t shape[DC_MAX_DIMS];
    const cJSON *lj;
    cJSON_ArrayForEach(lj, layers) {
        const cJSON *lc = child(lj, "class_name");
        if (cJSON_IsString(lc) && !strcmp(lc->valuestring, "InputLayer")) {
            const cJSON *icfg = child(lj, "config");
            const cJSON *dt = child(icfg, "dtype");
            if (i > 0 || nd > 0) {
                format_error(file, CONFIG, "an InputLayer after the first layer");
                goto fail;
            }
            if (dt && !cJSON_IsNull(dt) && !dtype_float32(dt)) {
                dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": InputLayer: option 'dtype': "
                             "only float32 is supported", FN, file);
                goto fail;
            }
            if (batch_shape(file, CONFIG ": InputLayer", child(icfg, "batch_shape"), &nd, shape) != DC_OK)
                goto fail;
            continue;
        }
        if (add_layer(file, m, i++, lj) != DC_OK) goto fail;
    }
    if (nd == 0) { /* no InputLayer: the shape the model was built with */
        const cJSON *bc = child(child(root, "build_config"), "input_shape");
        if (!bc) bc = child(cfg, "build_input_shape");
        if (batch_shape(file, CONFIG ": build_config", bc, &nd, shape) != DC_OK) goto fail;
    }
    if (build_imported(file, m, nd, shape, weight_floats) != DC_OK) goto fail;
    return m;
fail:
    dc_model_free(m);
    return NULL;
}

/* The groups Keras keeps a layer's variables in, in the order of deepc's
 * parameters: the layer's own, an RNN's cell, a Bidirectional's two cells. */
static const char *const var_groups[] = {"vars", "cell/vars", "forward_layer/cell/vars",
                                         "backward_layer/cell/vars"};

/* The layer's HDF5 group: its snake-case class, numbered from the second of a
 * class on ("dense", "dense_1"), as Keras names the entries of a layer list. */
void dc_keras_layer_group(const dc_model *m, int i, char *out, size_t n) {
    char snake[64];
    dc_snake_case(dc_layer_type(m->layers[i]), snake, sizeof snake);
    int before = 0;
    for (int j = 0; j < i; j++) before += m->layers[j]->kind == m->layers[i]->kind;
    if (before) snprintf(out, n, "layers/%s_%d", snake, before);
    else snprintf(out, n, "layers/%s", snake);
}

static dc_status load_layer_weights(const char *file, dc_h5 *h, dc_model *m, int i,
                                   const cJSON *groups) {
    dc_layer *l = m->layers[i];
    char group[128], path[200], what[160];
    const cJSON *gj = child(groups, l->name);
    if (cJSON_IsString(gj)) snprintf(group, sizeof group, "%s", gj->valuestring);
    else dc_keras_layer_group(m, i, group, sizeof group);
    int p = 0;
    for (size_t g = 0; g < sizeof var_groups / sizeof *var_groups; g++) {
        snprintf(path, sizeof path, "%s/%s", group, var_groups[g]);
        int n = dc_h5_count(h, path);
        if (n < 0) return dc_last_status();
        if (p + n > l->n_params)
            return dc_set_error(DC_ERR_FORMAT, "%s: '%s': " WEIGHTS ": %s holds more variables "
                                "than layer '%s' (%s) has (%d)", FN, file, group, l->name,
                                dc_layer_type(l), l->n_params);
        for (int k = 0; k < n; k++, p++) {
            snprintf(path, sizeof path, "%s/%s/%d", group, var_groups[g], k);
            snprintf(what, sizeof what, "%s/%s", l->name, l->params[p].name);
            if (dc_h5_read(h, path, what, l->params[p].t) != DC_OK) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", dc_last_error());
                return dc_set_error(dc_last_status(), "%s: '%s': %s", FN, file, msg);
            }
        }
    }
    if (p != l->n_params)
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s': " WEIGHTS ": %s holds %d variables, layer "
                            "'%s' (%s) has %d", FN, file, group, p, l->name, dc_layer_type(l),
                            l->n_params);
    return DC_OK;
}

/* ---- compile settings ---- */

/* A loss or metric: a name, or {"class_name": "MeanSquaredError", "config": {...}}. */
static const char *class_or_name(const cJSON *v, char *snake, size_t n) {
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = child(v, "class_name");
    if (!cJSON_IsString(c)) return NULL;
    dc_snake_case(c->valuestring, snake, n);
    return snake;
}

/* Arguments of a loss or metric object that deepc computes only at these values. */
static dc_status check_args(const char *file, const char *what, const cJSON *cfg,
                            bool *from_logits) {
    static const struct {
        const char *key, *value;
    } fixed[] = {{"label_smoothing", "0"}, {"axis", "-1"}, {"reduction", "sum_over_batch_size"},
                 {"threshold", "0.5"}, {"from_logits", NULL}};
    const cJSON *a;
    cJSON_ArrayForEach(a, cfg) {
        if (cJSON_IsNull(a) || !strcmp(a->string, "name") || !strcmp(a->string, "dtype")) continue;
        size_t i = 0, nf = sizeof fixed / sizeof *fixed;
        while (i < nf && strcmp(fixed[i].key, a->string)) i++;
        if (i < nf && !fixed[i].value && cJSON_IsBool(a)) {
            if (from_logits) *from_logits = cJSON_IsTrue(a);
            continue;
        }
        if (i < nf && fixed[i].value && json_is(a, fixed[i].value)) continue;
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: %s: "
                            "argument '%s' %s", FN, file, what, a->string,
                            i < nf ? "has a value deepc does not compute" : "is not one deepc has");
    }
    return DC_OK;
}

/* Keras' optimizer options deepc keeps, by their names in both. */
#define OPT_F(k) {#k, offsetof(dc_optimizer_options, k), 'f'}
#define OPT_B(k) {#k, offsetof(dc_optimizer_options, k), 'b'}
static const struct {
    const char *key;
    size_t off;
    char type;
} opt_fields[] = {OPT_F(learning_rate), OPT_F(momentum), OPT_B(nesterov), OPT_F(beta_1),
                  OPT_F(beta_2), OPT_F(epsilon), OPT_B(amsgrad), OPT_F(rho),
                  OPT_F(initial_accumulator_value), OPT_B(centered), OPT_F(weight_decay),
                  OPT_F(clipnorm), OPT_F(global_clipnorm), OPT_F(clipvalue)};
#undef OPT_F
#undef OPT_B

static dc_status optimizer_from(const char *file, const cJSON *oj, dc_optimizer_options *o) {
    static const struct {
        const char *cls;
        dc_optimizer_kind kind;
    } kinds[] = {{"SGD", DC_OPT_SGD}, {"Adam", DC_OPT_ADAM}, {"AdamW", DC_OPT_ADAM},
                 {"Adadelta", DC_OPT_ADADELTA}, {"Adagrad", DC_OPT_ADAGRAD},
                 {"RMSprop", DC_OPT_RMSPROP}};
    const cJSON *cls = cJSON_IsString(oj) ? oj : child(oj, "class_name");
    const cJSON *cfg = child(oj, "config");
    if (!cJSON_IsString(cls)) return format_error(file, CONFIG, "compile_config: optimizer has no class");
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        char low[32];
        snprintf(low, sizeof low, "%s", kinds[i].cls);
        for (char *p = low; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        if (!strcmp(cls->valuestring, kinds[i].cls) || !strcmp(cls->valuestring, low))
            o->kind = kinds[i].kind;
    }
    if (!o->kind)
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: optimizer "
                            "'%s' is not one deepc has (SGD, Adam, AdamW, Adadelta, Adagrad, "
                            "RMSprop)", FN, file, cls->valuestring);
    if (!strcmp(cls->valuestring, "AdamW")) o->weight_decay = 0.004f; /* Keras' AdamW default */
    const cJSON *a;
    cJSON_ArrayForEach(a, cfg) {
        const char *k = a->string;
        if (!strcmp(k, "name") || !strcmp(k, "ema_momentum") || !strcmp(k, "ema_overwrite_frequency"))
            continue; /* read only with use_ema, refused below */
        if (!strcmp(k, "use_ema") && cJSON_IsFalse(a)) continue;
        if (cJSON_IsNull(a) && strcmp(k, "learning_rate")) continue;
        size_t i = 0, nf = sizeof opt_fields / sizeof *opt_fields;
        while (i < nf && strcmp(opt_fields[i].key, k)) i++;
        char *f = i < nf ? (char *)o + opt_fields[i].off : NULL;
        if (f && opt_fields[i].type == 'b' && cJSON_IsBool(a)) *(bool *)f = cJSON_IsTrue(a);
        else if (f && opt_fields[i].type == 'f' && cJSON_IsNumber(a)) *(float *)f = (float)a->valuedouble;
        else
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: "
                                "optimizer %s: option '%s' %s", FN, file, cls->valuestring, k,
                                f ? "has a value deepc does not take (a schedule?)"
                                  : "is not one deepc has");
    }
    return DC_OK;
}

/* One loss (a name or an object) as deepc's kind; *from_logits from its config. */
static dc_status loss_from(const char *file, const cJSON *loss, dc_loss_kind *k, bool *from_logits) {
    char snake[96], what[128];
    const char *ln = class_or_name(loss, snake, sizeof snake);
    if (!ln) return format_error(file, CONFIG, "compile_config: no loss (a name or a loss object)");
    snprintf(what, sizeof what, "loss '%s'", ln);
    *k = dc_loss_from_name(ln);
    if (*k == DC_LOSS_NONE)
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: %s is not "
                            "one deepc has", FN, file, what);
    *from_logits = false;
    return check_args(file, what, child(loss, "config"), from_logits);
}

/* The loss, or a list of one loss per output with their loss_weights. */
static dc_status losses_from(const char *file, const dc_model *m, const cJSON *cc,
                             dc_compile_options *c) {
    const cJSON *loss = child(cc, "loss"), *lw = child(cc, "loss_weights");
    int n_out = dc_model_num_outputs(m);
    bool list = cJSON_IsArray(loss);
    if (list && cJSON_GetArraySize(loss) != n_out)
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s': " CONFIG ": compile_config: %d losses for %d "
                            "outputs", FN, file, cJSON_GetArraySize(loss), n_out);
    bool logits = false, xent = false;
    for (int i = 0; i < (list ? n_out : 1); i++) {
        bool fl = false;
        dc_loss_kind k = DC_LOSS_NONE;
        if (loss_from(file, list ? cJSON_GetArrayItem(loss, i) : loss, &k, &fl) != DC_OK)
            return dc_last_status();
        if (i > 0 && fl != logits)
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: losses "
                                "that differ in from_logits (deepc takes one for all)", FN, file);
        logits = fl;
        xent = xent || k != DC_LOSS_MSE;
        if (i == 0) c->loss = k;
        if (list && n_out > 1) c->losses[i] = k;
    }
    c->from_probabilities = !logits && xent; /* from_logits means nothing to MSE */
    if (!lw || cJSON_IsNull(lw)) return DC_OK;
    bool ok = cJSON_IsArray(lw) && cJSON_GetArraySize(lw) == n_out && n_out > 1;
    for (int i = 0; ok && i < n_out; i++) {
        const cJSON *w = cJSON_GetArrayItem(lw, i);
        ok = cJSON_IsNumber(w) && w->valuedouble >= 0;
        if (ok) c->loss_weights[i] = (float)w->valuedouble;
    }
    if (!ok)
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: loss_weights "
                            "other than a list of one weight per output (of a model with several) "
                            "are not supported", FN, file);
    return DC_OK;
}

/* Metrics: a list of names or objects (of one output's model); a model with
 * several outputs takes none (deepc's metrics read one output). */
static dc_status metrics_from(const char *file, const dc_model *m, const cJSON *cc,
                              dc_compile_options *c) {
    char snake[96], what[128];
    const cJSON *mj, *ms = child(cc, "metrics");
    int n = 0;
    cJSON_ArrayForEach(mj, ms) {
        if (cJSON_IsNull(mj) || (cJSON_IsArray(mj) && cJSON_GetArraySize(mj) == 0)) continue;
        if (dc_model_num_outputs(m) > 1)
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: metrics "
                                "of a model with several outputs are not supported", FN, file);
        const char *mn = class_or_name(mj, snake, sizeof snake);
        snprintf(what, sizeof what, "metric '%s'", mn ? mn : "?");
        dc_metric_kind k = mn ? dc_metric_from_name(mn) : DC_METRIC_NONE;
        if (k == DC_METRIC_NONE || n == DC_MAX_METRICS)
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: %s is "
                                "not one deepc has", FN, file, what);
        if (check_args(file, what, child(mj, "config"), NULL) != DC_OK) return dc_last_status();
        c->metrics[n++] = k;
    }
    return DC_OK;
}

static dc_status compile_from(const char *file, dc_model *m, const cJSON *cc) {
    dc_compile_options c = {0};
    if (losses_from(file, m, cc, &c) != DC_OK || metrics_from(file, m, cc, &c) != DC_OK)
        return dc_last_status();
    const cJSON *wm = child(cc, "weighted_metrics");
    if (cJSON_GetArraySize(wm) > 0)
        return dc_set_error(DC_ERR_UNSUPPORTED, "%s: '%s': " CONFIG ": compile_config: "
                            "weighted_metrics are not supported", FN, file);
    if (optimizer_from(file, child(cc, "optimizer"), &c.optimizer) != DC_OK) return dc_last_status();
    if (dc_model_compile(m, &c) != DC_OK) return prefix_error(file, CONFIG ": compile_config");
    return DC_OK;
}

/* The optimizer's variables, its layers in Keras' order: a Functional
 * model's as its config lists them (groups keeps that order). */
static dc_status load_optimizer(const char *file, dc_h5 *h, dc_model *m, const cJSON *groups) {
    dc_layer **order = dc_calloc((size_t)m->n_layers + 1, sizeof *order);
    if (!order) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    int n = 0;
    const cJSON *gj;
    if (groups) {
        cJSON_ArrayForEach(gj, groups) {
            for (int i = 0; i < m->n_layers; i++)
                if (!strcmp(m->layers[i]->name, gj->string)) order[n++] = m->layers[i];
        }
    } else {
        for (int i = 0; i < m->n_layers; i++) order[n++] = m->layers[i];
    }
    dc_status s = dc_keras_optimizer_read(file, h, m, order, n);
    dc_free(order);
    return s;
}

/* ---- entry points ---- */

dc_model *dc_model_import_keras_buffer(const void *data, size_t len, const char *name) {
    if (!data || !name) {
        dc_set_error(DC_ERR_ARG, "%s: %s is NULL", FN, data ? "name" : "data");
        return NULL;
    }
    dc_keras_archive a;
    if (dc_keras_archive_read(FN, name, data, len, &a) != DC_OK) return NULL;
    dc_model *m = NULL;
    dc_h5 *h = NULL;
    cJSON *groups = NULL; /* a Functional model's HDF5 group per layer */
    cJSON *root = cJSON_Parse(a.config);
    if (!root) {
        format_error(name, CONFIG, "not valid JSON");
        goto out;
    }
    m = model_from_config(name, root, a.weights_len / sizeof(float), &groups);
    if (!m) goto out;
    char h5name[300];
    snprintf(h5name, sizeof h5name, "'%s': " WEIGHTS, name);
    h = dc_h5_open_image(FN, h5name, a.weights, a.weights_len);
    bool ok = h != NULL;
    for (int i = 0; ok && i < m->n_layers; i++) ok = load_layer_weights(name, h, m, i, groups) == DC_OK;
    const cJSON *cc = child(root, "compile_config");
    if (ok && cc && !cJSON_IsNull(cc)) ok = compile_from(name, m, cc) == DC_OK;
    if (ok && m->opt) ok = load_optimizer(name, h, m, groups) == DC_OK;
    if (!ok) {
        dc_model_free(m);
        m = NULL;
    }
out:
    dc_h5_close(h);
    cJSON_Delete(groups);
    cJSON_Delete(root);
    dc_keras_archive_free(&a);
    return m;
}

dc_model *dc_model_import_keras(const char *path) {
    if (!path) {
        dc_set_error(DC_ERR_ARG, "%s: path is NULL", FN);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        dc_set_error(DC_ERR_IO, "%s: cannot open '%s'", FN, path);
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 16;
            uint8_t *q = nc > cap ? dc_realloc(buf, nc) : NULL;
            if (!q) {
                dc_free(buf);
                fclose(f);
                dc_set_error(DC_ERR_NOMEM, "%s: '%s': out of memory", FN, path);
                return NULL;
            }
            buf = q, cap = nc;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    dc_model *m = NULL;
    if (bad) dc_set_error(DC_ERR_IO, "%s: cannot read '%s'", FN, path);
    else m = dc_model_import_keras_buffer(buf, n, path);
    dc_free(buf);
    return m;
}
