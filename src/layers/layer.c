/* layer.c — the layer table generated from layers.def, the generic constructor
 * from Keras' class name and key/value strings, and the option parsers every
 * layer file shares. */
#include "layer.h"
#include "../kernels/im2col.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DC_LAYER(KIND, NAME, PARSE, BUILD, FWD) [DC_LAYER_##KIND] = {NAME, PARSE, BUILD, FWD, NULL},
#define DC_MERGE_LAYER(KIND, NAME, PARSE, BUILD, FWD_N) \
    [DC_LAYER_##KIND] = {NAME, PARSE, BUILD, NULL, FWD_N},
const dc_layer_info dc_layer_table[DC_LAYER_COUNT] = {
#include "layers.def"
};
#undef DC_LAYER
#undef DC_MERGE_LAYER

static const char *type_name(const dc_layer *l) { return dc_layer_table[l->kind].name; }

static char *str_dup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = dc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void dc_layer_free(dc_layer *l) {
    if (!l) return;
    for (int i = 0; i < l->n_cfg; i++) {
        dc_free(l->cfg_key[i]);
        dc_free(l->cfg_val[i]);
    }
    for (int i = 0; i < l->n_params; i++) dc_tensor_free(l->params[i].t);
    for (int i = 0; i < 2; i++)
        if (l->sub[i]) {
            l->sub[i]->n_params = 0; /* its tensors were this layer's */
            dc_layer_free(l->sub[i]);
        }
    dc_free(l->opts);
    dc_free(l);
}

static int find_kind(const char *type) {
    for (int k = 0; k < DC_LAYER_COUNT; k++)
        if (!strcmp(dc_layer_table[k].name, type)) return k;
    /* Keras' other names for the same classes */
    static const struct {
        const char *alias;
        int kind;
    } aliases[] = {{"Input", DC_LAYER_INPUT},
                   {"Convolution2D", DC_LAYER_CONV2D},
                   {"Convolution2DTranspose", DC_LAYER_CONV2D_TRANSPOSE},
                   {"MaxPool2D", DC_LAYER_MAX_POOLING2D},
                   {"AvgPool2D", DC_LAYER_AVERAGE_POOLING2D},
                   {"GlobalAvgPool2D", DC_LAYER_GLOBAL_AVERAGE_POOLING2D},
                   {"GlobalMaxPool2D", DC_LAYER_GLOBAL_MAX_POOLING2D},
                   {"Convolution1D", DC_LAYER_CONV1D},
                   {"MaxPool1D", DC_LAYER_MAX_POOLING1D},
                   {"GlobalAvgPool1D", DC_LAYER_GLOBAL_AVERAGE_POOLING1D},
                   {"GlobalMaxPool1D", DC_LAYER_GLOBAL_MAX_POOLING1D}};
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(type, aliases[i].alias)) return aliases[i].kind;
    return -1;
}

dc_layer *dc_layer_from_config(const char *type, const char *const *keys,
                               const char *const *values, int n) {
    if (!type) {
        dc_set_error(DC_ERR_ARG, "dc_layer_from_config: type is NULL");
        return NULL;
    }
    int kind = find_kind(type);
    if (kind < 0) {
        char known[512] = "";
        for (int k = 0; k < DC_LAYER_COUNT; k++) {
            strncat(known, dc_layer_table[k].name, sizeof known - strlen(known) - 1);
            if (k + 1 < DC_LAYER_COUNT) strncat(known, ", ", sizeof known - strlen(known) - 1);
        }
        dc_set_error(DC_ERR_ARG, "dc_layer_from_config: unknown layer type '%s' (known: %s)",
                     type, known);
        return NULL;
    }
    if (n < 0 || n > DC_LAYER_MAX_CFG || (n > 0 && (!keys || !values))) {
        dc_set_error(DC_ERR_ARG, "dc_layer_from_config: %s: %d options (at most %d, non-NULL)",
                     type, n, DC_LAYER_MAX_CFG);
        return NULL;
    }
    dc_layer *l = dc_calloc(1, sizeof *l);
    if (!l) {
        dc_set_error(DC_ERR_NOMEM, "dc_layer_from_config: out of memory");
        return NULL;
    }
    l->kind = kind;
    const char *k2[DC_LAYER_MAX_CFG], *v2[DC_LAYER_MAX_CFG];
    int n2 = 0;
    for (int i = 0; i < n; i++) {
        if (!keys[i] || !values[i]) {
            dc_set_error(DC_ERR_ARG, "dc_layer_from_config: %s: option %d is NULL", type, i);
            dc_layer_free(l);
            return NULL;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(keys[j], keys[i])) {
                dc_set_error(DC_ERR_ARG, "dc_layer_from_config: %s: option '%s' given twice",
                             type, keys[i]);
                dc_layer_free(l);
                return NULL;
            }
        l->cfg_key[l->n_cfg] = str_dup(keys[i]);
        l->cfg_val[l->n_cfg] = str_dup(values[i]);
        if (!l->cfg_key[l->n_cfg] || !l->cfg_val[l->n_cfg]) {
            l->n_cfg++;
            dc_set_error(DC_ERR_NOMEM, "dc_layer_from_config: out of memory");
            dc_layer_free(l);
            return NULL;
        }
        l->n_cfg++;
        if (!strcmp(keys[i], "name")) {
            size_t len = strlen(values[i]);
            if (len == 0 || len >= sizeof l->name || strchr(values[i], '/')) {
                dc_set_error(DC_ERR_ARG,
                             "dc_layer_from_config: %s: option 'name': '%s' must be 1 to %d "
                             "characters without '/'",
                             type, values[i], (int)sizeof l->name - 1);
                dc_layer_free(l);
                return NULL;
            }
            memcpy(l->name, values[i], len + 1);
            l->named = true;
        } else {
            k2[n2] = keys[i];
            v2[n2++] = values[i];
        }
    }
    if (dc_layer_table[kind].parse(l, n2, k2, v2) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_status st = dc_last_status();
        dc_layer_free(l);
        dc_set_error(st, "dc_layer_from_config: %s", msg);
        return NULL;
    }
    return l;
}

dc_layer *dc_layer_clone_config(const dc_layer *l) {
    return dc_layer_from_config(type_name(l), (const char *const *)l->cfg_key,
                                (const char *const *)l->cfg_val, l->n_cfg);
}

const char *dc_layer_name(const dc_layer *l) { return l ? l->name : NULL; }
const char *dc_layer_type(const dc_layer *l) { return l ? type_name(l) : NULL; }

int dc_layer_output_shape(const dc_layer *l, int64_t *shape) {
    if (!l) return -1;
    if (shape) memcpy(shape, l->out_shape, (size_t)l->out_ndim * sizeof *shape);
    return l->out_ndim;
}

int dc_layer_num_params(const dc_layer *l) { return l ? l->n_params : 0; }

dc_tensor *dc_layer_param(const dc_layer *l, int i) {
    if (!l || i < 0 || i >= l->n_params) return NULL;
    return l->params[i].t;
}

int dc_layer_declare_param(dc_layer *l, const char *name, int ndim, const int64_t *shape,
                           bool trainable, const char *init) {
    if (l->n_params >= DC_LAYER_MAX_PARAMS) {
        dc_set_error(DC_ERR_UNSUPPORTED, "%s '%s': more than %d parameters", type_name(l),
                     l->name, DC_LAYER_MAX_PARAMS);
        return -1;
    }
    dc_param *p = &l->params[l->n_params];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->trainable = trainable;
    snprintf(p->init, sizeof p->init, "%s", init);
    return l->n_params++;
}

void dc_kernel_bias_defaults(dc_kernel_bias *kb) {
    kb->use_bias = true;
    snprintf(kb->kernel_init, sizeof kb->kernel_init, "glorot_uniform");
    snprintf(kb->bias_init, sizeof kb->bias_init, "zeros");
}

dc_status dc_parse_kernel_bias_key(dc_layer *l, const char *key, const char *v, dc_kernel_bias *kb,
                                   const char *known) {
    dc_status s;
    if (!strcmp(key, "activation")) return dc_parse_activation(l, key, v, &l->act);
    if (!strcmp(key, "use_bias")) return dc_parse_bool(l, key, v, &kb->use_bias);
    if (!strcmp(key, "kernel_initializer")) {
        if ((s = dc_parse_initializer(l, key, v)) == DC_OK)
            snprintf(kb->kernel_init, sizeof kb->kernel_init, "%s", v);
        return s;
    }
    if (!strcmp(key, "bias_initializer")) {
        if ((s = dc_parse_initializer(l, key, v)) == DC_OK)
            snprintf(kb->bias_init, sizeof kb->bias_init, "%s", v);
        return s;
    }
    return dc_layer_unknown_key(l, key, known);
}

dc_status dc_layer_declare_kernel_bias(dc_layer *l, int kndim, const int64_t *kshape,
                                       int64_t units, const dc_kernel_bias *kb) {
    if (dc_layer_declare_param(l, "kernel", kndim, kshape, true, kb->kernel_init) < 0)
        return dc_last_status();
    if (kb->use_bias && dc_layer_declare_param(l, "bias", 1, &units, true, kb->bias_init) < 0)
        return dc_last_status();
    return DC_OK;
}

dc_status dc_layer_unknown_key(const dc_layer *l, const char *key, const char *known) {
    return dc_set_error(DC_ERR_ARG, "%s: unknown option '%s' (known: %s)", type_name(l), key,
                        known);
}

dc_status dc_parse_int(const dc_layer *l, const char *key, const char *v, int64_t lo, int64_t hi,
                       int64_t *out) {
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    while (end && isspace((unsigned char)*end)) end++;
    if (end == v || !end || *end || errno || x < lo || x > hi)
        return dc_set_error(DC_ERR_ARG, "%s: option '%s': '%s' is not an integer in [%lld, %lld]",
                            type_name(l), key, v, (long long)lo, (long long)hi);
    *out = x;
    return DC_OK;
}

dc_status dc_parse_float(const dc_layer *l, const char *key, const char *v, double lo, double hi,
                         float *out) {
    char *end = NULL;
    double x = strtod(v, &end);
    while (end && isspace((unsigned char)*end)) end++;
    if (end == v || !end || *end || !(x >= lo && x <= hi))
        return dc_set_error(DC_ERR_ARG, "%s: option '%s': '%s' is not a number in [%g, %g]",
                            type_name(l), key, v, lo, hi);
    *out = (float)x;
    return DC_OK;
}

dc_status dc_parse_bool(const dc_layer *l, const char *key, const char *v, bool *out) {
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "1")) *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "0")) *out = false;
    else
        return dc_set_error(DC_ERR_ARG, "%s: option '%s': '%s' is not true or false",
                            type_name(l), key, v);
    return DC_OK;
}

dc_status dc_parse_shape(const dc_layer *l, const char *key, const char *v, bool allow_neg1,
                         int *ndim, int64_t *shape) {
    const char *p = v;
    int nd = 0, n_neg = 0;
    while (*p == ' ' || *p == '(' || *p == '[') p++;
    while (*p && *p != ')' && *p != ']') {
        char *end = NULL;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (end == p || errno || nd == DC_MAX_DIMS || d == 0 || d < -1 || (d == -1 && !allow_neg1))
            goto bad;
        n_neg += d == -1;
        shape[nd++] = d;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        while (*p == ' ') p++;
    }
    if (*p == ')' || *p == ']') p++;
    while (*p == ' ') p++;
    if (*p || nd == 0 || n_neg > 1) goto bad; /* nothing may follow the closing bracket */
    *ndim = nd;
    return DC_OK;
bad:
    return dc_set_error(DC_ERR_ARG,
                        "%s: option '%s': '%s' is not a shape like \"28,28,1\" (1 to %d positive "
                        "dims%s)",
                        type_name(l), key, v, DC_MAX_DIMS, allow_neg1 ? ", at most one -1" : "");
}

static const char *const act_names[] = {"linear", "relu", "sigmoid", "tanh", "softmax",
                                        "gelu", "elu", "leaky_relu", "softplus"};

const char *dc_act_name(dc_act a) { return act_names[a]; }

dc_status dc_parse_activation(const dc_layer *l, const char *key, const char *v, dc_act *out) {
    for (int i = 0; i < (int)(sizeof act_names / sizeof *act_names); i++)
        if (!strcmp(v, act_names[i])) {
            *out = (dc_act)i;
            return DC_OK;
        }
    if (!strcmp(v, "None") || !strcmp(v, "none") || !*v) {
        *out = DC_ACT_LINEAR;
        return DC_OK;
    }
    return dc_set_error(DC_ERR_ARG,
                        "%s: option '%s': unknown activation '%s' (known: linear, relu, sigmoid, "
                        "tanh, softmax, gelu, elu, leaky_relu, softplus)",
                        type_name(l), key, v);
}

dc_status dc_parse_pair(const dc_layer *l, const char *key, const char *v, int64_t lo, int64_t hi,
                        int64_t out[2]) {
    const char *p = v;
    int n = 0;
    while (*p == ' ' || *p == '(' || *p == '[') p++;
    while (*p && *p != ')' && *p != ']') {
        char *end = NULL;
        errno = 0;
        long long d = strtoll(p, &end, 10);
        if (end == p || errno || n == 2 || d < lo || d > hi) goto bad;
        out[n++] = d;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        while (*p == ' ') p++;
    }
    if (*p && *p != ')' && *p != ']') goto bad;
    if (n == 0) goto bad;
    if (*p) p++;
    while (*p == ' ') p++;
    if (*p) goto bad;
    if (n == 1) out[1] = out[0];
    return DC_OK;
bad:
    return dc_set_error(DC_ERR_ARG,
                        "%s: option '%s': '%s' is not one or two integers in [%lld, %lld] like "
                        "\"3\" or \"3,3\"",
                        type_name(l), key, v, (long long)lo, (long long)hi);
}

dc_status dc_parse_padding(const dc_layer *l, const char *key, const char *v, dc_padding *out) {
    char low[8] = "";
    size_t n = strlen(v);
    for (size_t i = 0; i < n && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)v[i]);
    if (n < sizeof low && !strcmp(low, "valid")) *out = DC_PAD_VALID;
    else if (n < sizeof low && !strcmp(low, "same")) *out = DC_PAD_SAME;
    else
        return dc_set_error(DC_ERR_ARG, "%s: option '%s': '%s' is not 'valid' or 'same'",
                            type_name(l), key, v);
    return DC_OK;
}

dc_status dc_parse_data_format(const dc_layer *l, const char *key, const char *v) {
    if (!strcmp(v, "channels_last") || !strcmp(v, "None")) return DC_OK;
    return dc_set_error(DC_ERR_UNSUPPORTED,
                        "%s: option '%s': '%s' is not supported (images are NHWC: "
                        "'channels_last')",
                        type_name(l), key, v);
}

dc_status dc_layer_need_image(const dc_layer *l) {
    if (l->in_ndim == 3) return dc_layer_need_fixed(l, 0, 3, "images need a known size");
    char s[128];
    return dc_set_error(DC_ERR_SHAPE, "%s '%s': input %s must be an image (None, H, W, C)",
                        type_name(l), l->name,
                        dc_layer_shape_string(l->in_ndim, l->in_shape, s, sizeof s));
}

dc_status dc_layer_window_out(const dc_layer *l, const char *what, const int64_t k[2],
                              const int64_t s[2], const int64_t d[2], dc_padding pad,
                              int64_t out[2]) {
    for (int i = 0; i < 2; i++) {
        int64_t before;
        dc_conv_out_len(l->in_shape[i], k[i], s[i], d[i], pad == DC_PAD_SAME, &out[i], &before);
    }
    if (out[0] >= 1 && out[1] >= 1) return DC_OK;
    char sh[128], dil[64] = "";
    if (d[0] > 1 || d[1] > 1)
        snprintf(dil, sizeof dil, " (dilated %lldx%lld)", (long long)((k[0] - 1) * d[0] + 1),
                 (long long)((k[1] - 1) * d[1] + 1));
    return dc_set_error(DC_ERR_SHAPE, "%s '%s': %s %lldx%lld%s is larger than the input %s",
                        type_name(l), l->name, what, (long long)k[0], (long long)k[1], dil,
                        dc_layer_shape_string(l->in_ndim, l->in_shape, sh, sizeof sh));
}

dc_tensor *dc_layer_activate(dc_layer *l, dc_tape *t, dc_tensor *x) {
    return l->act_skip ? x : dc_activation_apply(t, x, l->act);
}

char *dc_layer_shape_string(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t len = (size_t)snprintf(buf, n, "(None");
    for (int i = 0; i < ndim && len < n; i++) {
        if (shape[i] == -1) len += (size_t)snprintf(buf + len, n - len, ", None");
        else len += (size_t)snprintf(buf + len, n - len, ", %lld", (long long)shape[i]);
    }
    if (len < n) snprintf(buf + len, n - len, ")");
    return buf;
}

/* Keras' two regular expressions: "(.)([A-Z][a-z]+)" -> "\1_\2", then
 * "([a-z])([A-Z])" -> "\1_\2", then lower case. */
void dc_snake_case(const char *in, char *out, size_t n) {
    char tmp[128];
    size_t k = 0, len = strlen(in);
    for (size_t i = 0; i < len && k + 2 < sizeof tmp; i++) {
        if (i > 0 && isupper((unsigned char)in[i]) && i + 1 < len &&
            islower((unsigned char)in[i + 1]))
            tmp[k++] = '_';
        tmp[k++] = in[i];
    }
    tmp[k] = '\0';
    size_t j = 0;
    for (size_t i = 0; tmp[i] && j + 2 < n; i++) {
        if (i > 0 && islower((unsigned char)tmp[i - 1]) && isupper((unsigned char)tmp[i]))
            out[j++] = '_';
        out[j++] = (char)tolower((unsigned char)tmp[i]);
    }
    out[j] = '\0';
}

/* ---- typed constructors: options become key/value strings, so a layer made
 * either way is saved and rebuilt the same way ---- */

/* Re-labels an error of dc_layer_from_config with the typed constructor's name. */
static void relabel(const char *fn) {
    char msg[512];
    const char *e = dc_last_error();
    const char *pre = "dc_layer_from_config: ";
    if (!strncmp(e, pre, strlen(pre))) e += strlen(pre);
    snprintf(msg, sizeof msg, "%s", e);
    dc_set_error(dc_last_status(), "%s: %s", fn, msg);
}

dc_layer *dc_layer_make(const char *fn, const char *type, const char *const *keys,
                        const char *const *values, int n) {
    dc_layer *l = dc_layer_from_config(type, keys, values, n);
    if (!l) relabel(fn);
    return l;
}

dc_layer *dc_layer_dense(const dc_dense_options *opt) {
    if (!opt) {
        dc_set_error(DC_ERR_ARG, "dc_layer_dense: options are NULL");
        return NULL;
    }
    const char *k[6], *v[6];
    char units[32];
    int n = 0;
    snprintf(units, sizeof units, "%d", opt->units);
    k[n] = "units", v[n++] = units;
    if (opt->activation) k[n] = "activation", v[n++] = opt->activation;
    if (opt->no_bias) k[n] = "use_bias", v[n++] = "false";
    if (opt->kernel_initializer) k[n] = "kernel_initializer", v[n++] = opt->kernel_initializer;
    if (opt->bias_initializer) k[n] = "bias_initializer", v[n++] = opt->bias_initializer;
    if (opt->name) k[n] = "name", v[n++] = opt->name;
    return dc_layer_make("dc_layer_dense", "Dense", k, v, n);
}

dc_layer *dc_layer_activation(const char *activation) {
    const char *k[1] = {"activation"}, *v[1] = {activation ? activation : "(null)"};
    if (!activation) {
        dc_set_error(DC_ERR_ARG, "dc_layer_activation: activation is NULL");
        return NULL;
    }
    return dc_layer_make("dc_layer_activation", "Activation", k, v, 1);
}

dc_layer *dc_layer_dropout(float rate) {
    char r[32];
    snprintf(r, sizeof r, "%.9g", (double)rate);
    const char *k[1] = {"rate"}, *v[1] = {r};
    return dc_layer_make("dc_layer_dropout", "Dropout", k, v, 1);
}

dc_layer *dc_layer_flatten(void) { return dc_layer_from_config("Flatten", NULL, NULL, 0); }

static dc_layer *shape_layer(const char *fn, const char *type, const char *key, int ndim,
                             const int64_t *shape) {
    if (ndim < 1 || ndim > DC_MAX_DIMS - 1 || !shape) {
        dc_set_error(DC_ERR_ARG, "%s: ndim %d must be 1 to %d (without the batch axis)", fn, ndim,
                     DC_MAX_DIMS - 1);
        return NULL;
    }
    char s[160];
    size_t len = 0;
    s[0] = '\0';
    for (int i = 0; i < ndim; i++)
        len += (size_t)snprintf(s + len, sizeof s - len, "%s%lld", i ? "," : "",
                                (long long)shape[i]);
    const char *k[1] = {key}, *v[1] = {s};
    return dc_layer_make(fn, type, k, v, 1);
}

dc_layer *dc_layer_reshape(int ndim, const int64_t *target_shape) {
    return shape_layer("dc_layer_reshape", "Reshape", "target_shape", ndim, target_shape);
}

dc_layer *dc_layer_input(int ndim, const int64_t *shape) {
    return shape_layer("dc_layer_input", "InputLayer", "shape", ndim, shape);
}
