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

/* Whether output i holds logits for a crossentropy of kind: not when the
 * loss absorbs its last softmax (sigmoid) or takes probabilities (as fit's
 * out_mode decides). */
static bool output_logits(const dc_model *m, int i, dc_loss_kind kind) {
    const dc_layer *l = m->nodes[m->outputs[i]].layer;
    dc_act last = l ? l->act : DC_ACT_LINEAR;
    if (kind == DC_LOSS_MSE) return false;
    if (kind == DC_LOSS_BINARY_CROSSENTROPY ? last == DC_ACT_SIGMOID : last == DC_ACT_SOFTMAX)
        return false;
    return !m->copt.from_probabilities;
}

/* A crossentropy on logits needs from_logits=True, which only a loss object says. */
static cJSON *loss_json(const dc_model *m, int out, dc_loss_kind kind) {
    const char *name = dc_loss_name(kind);
    if (!output_logits(m, out, kind)) return cJSON_CreateString(name);
    static const char *const classes[][2] = {
        {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"},
        {"categorical_crossentropy", "CategoricalCrossentropy"},
        {"binary_crossentropy", "BinaryCrossentropy"}};
    const char *cls = NULL;
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(name, classes[i][0])) cls = classes[i][1];
    if (!cls) return cJSON_CreateString(name);
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "name", name);
    cJSON_AddStringToObject(cfg, "reduction", "sum_over_batch_size");
    cJSON_AddTrueToObject(cfg, "from_logits");
    return keras_object("keras.losses", cls, cfg);
}

/* One loss, or (several outputs) a list of one per output with loss_weights. */
static void losses_json(const dc_model *m, cJSON *c) {
    int n = dc_model_num_outputs(m);
    if (n == 1) {
        cJSON_AddItemToObject(c, "loss", loss_json(m, 0, m->copt.loss));
        cJSON_AddNullToObject(c, "loss_weights");
        return;
    }
    cJSON *ls = cJSON_AddArrayToObject(c, "loss");
    bool weighted = false;
    for (int i = 0; i < n; i++) {
        dc_loss_kind k = m->copt.losses[i] != DC_LOSS_NONE ? m->copt.losses[i] : m->copt.loss;
        cJSON_AddItemToArray(ls, loss_json(m, i, k));
        weighted = weighted || m->copt.loss_weights[i] != 0;
    }
    if (!weighted) {
        cJSON_AddNullToObject(c, "loss_weights");
        return;
    }
    cJSON *ws = cJSON_AddArrayToObject(c, "loss_weights");
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(ws, cJSON_CreateNumber(m->copt.loss_weights[i]));
}

static cJSON *compile_json(const dc_model *m) {
    cJSON *opt = optimizer_json(m);
    if (!opt) return NULL;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToObject(c, "optimizer", opt);
    losses_json(m, c);
    if (dc_model_num_outputs(m) > 1) { /* deepc's metrics read one output */
        cJSON_AddNullToObject(c, "metrics");
    } else {
        cJSON *mets = cJSON_AddArrayToObject(c, "metrics");
        for (int i = 0; i < m->n_metrics; i++)
            cJSON_AddItemToArray(mets, cJSON_CreateString(dc_metric_name(m->copt.metrics[i])));
    }
    cJSON_AddNullToObject(c, "weighted_metrics");
    cJSON_AddFalseToObject(c, "run_eagerly");
    cJSON_AddNumberToObject(c, "steps_per_execution", 1);
    cJSON_AddFalseToObject(c, "jit_compile");
    return c;
}

/* ---- the graph as Keras sees it ---- */

/* A deepc layer's activation 'leaky_relu' (slope 0.3) has no string form in
 * Keras 3 (whose 'leaky_relu' has 0.2): Dense and the convolutions become the
 * layer without it plus a LeakyReLU layer (negative_slope 0.3), Activation a
 * LeakyReLU layer itself. */
static bool splits_leaky(const dc_layer *l) {
    return l->act == DC_ACT_LEAKY_RELU &&
           (l->kind == DC_LAYER_DENSE || l->kind == DC_LAYER_CONV2D ||
            l->kind == DC_LAYER_CONV2D_TRANSPOSE || l->kind == DC_LAYER_CONV1D);
}

/* One Keras layer: a deepc layer, or the LeakyReLU split off one. */
typedef struct {
    const dc_layer *l;
    bool leaky;
    char name[96];
    int n_calls;
} k_layer;

/* One call of a Keras layer on earlier calls (indices into k_graph.nodes). */
typedef struct {
    int layer, call, n_in;
    int in[DC_LAYER_MAX_IN];
} k_node;

typedef struct {
    k_layer *layers;
    int n_layers;
    k_node *nodes;
    int n_nodes;
    int ins[DC_MAX_MODEL_IO], outs[DC_MAX_MODEL_IO]; /* nodes */
    int *order; /* the layers in Keras' order (model.layers) */
} k_graph;

static const char *k_class(const k_layer *kl) {
    return kl->leaky || (kl->l->kind == DC_LAYER_ACTIVATION && kl->l->act == DC_ACT_LEAKY_RELU)
               ? "LeakyReLU"
               : dc_layer_type(kl->l);
}

static bool k_name_taken(const k_graph *g, const dc_model *m, const char *name) {
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name)) return true;
    for (int i = 0; i < g->n_layers; i++)
        if (!strcmp(g->layers[i].name, name)) return true;
    return false;
}

static int k_add_node(k_graph *g, int layer, int n_in, const int *in) {
    k_node *n = &g->nodes[g->n_nodes];
    n->layer = layer;
    n->call = g->layers[layer].n_calls++;
    n->n_in = n_in;
    if (n_in) memcpy(n->in, in, (size_t)n_in * sizeof *in);
    return g->n_nodes++;
}

/* The model's nodes as Keras layers and calls (a split LeakyReLU after its
 * layer's every call); a Sequential model's bare input is left out. */
static dc_status k_graph_make(const dc_model *m, k_graph *g) {
    memset(g, 0, sizeof *g);
    g->layers = dc_calloc((size_t)m->n_layers * 2 + 1, sizeof *g->layers);
    g->nodes = dc_calloc((size_t)m->n_nodes * 2 + 1, sizeof *g->nodes);
    g->order = dc_calloc((size_t)m->n_layers * 2 + 1, sizeof *g->order);
    int *out_of = dc_calloc((size_t)m->n_nodes + 1, sizeof *out_of), *first = dc_calloc((size_t)m->n_layers + 1, sizeof *first);
    if (!g->layers || !g->nodes || !g->order || !out_of || !first) {
        dc_free(out_of), dc_free(first);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    }
    for (int i = 0; i < m->n_layers; i++) { /* each layer, then its split LeakyReLU */
        first[i] = g->n_layers;
        k_layer *kl = &g->layers[g->n_layers++];
        kl->l = m->layers[i];
        snprintf(kl->name, sizeof kl->name, "%s", kl->l->name);
        if (!splits_leaky(kl->l)) continue;
        k_layer *lk = &g->layers[g->n_layers];
        lk->l = m->layers[i], lk->leaky = true;
        snprintf(lk->name, sizeof lk->name, "%.60s_leaky_re_lu", kl->l->name);
        for (int k = 1; k_name_taken(g, m, lk->name); k++)
            snprintf(lk->name, sizeof lk->name, "%.60s_leaky_re_lu_%d", kl->l->name, k);
        g->n_layers++;
    }
    for (int k = 0; k < m->n_nodes; k++) {
        const dc_call_node *nd = &m->nodes[k];
        out_of[k] = -1;
        if (!nd->layer) continue;
        int li = 0;
        while (m->layers[li] != nd->layer) li++;
        int in[DC_LAYER_MAX_IN];
        for (int j = 0; j < nd->n_in; j++) in[j] = out_of[nd->in[j]];
        bool bare = nd->n_in == 1 && in[0] < 0; /* reads a Sequential model's bare input */
        out_of[k] = k_add_node(g, first[li], bare ? 0 : nd->n_in, in);
        if (splits_leaky(nd->layer)) out_of[k] = k_add_node(g, first[li] + 1, 1, &out_of[k]);
    }
    for (int i = 0; i < m->n_inputs; i++) g->ins[i] = out_of[m->inputs[i]];
    for (int i = 0; i < m->n_outputs; i++) g->outs[i] = out_of[m->outputs[i]];
    dc_free(out_of), dc_free(first);
    return DC_OK;
}

static void k_graph_free(k_graph *g) {
    dc_free(g->layers), dc_free(g->nodes), dc_free(g->order);
}

/* Keras' depth-first walk from the outputs (ops/function.py's _build_map):
 * post[] gets the nodes inputs first, index[] each layer's first visit. */
static void k_walk(const k_graph *g, int node, bool *done, int *post, int *n_post, int *index,
                   int *n_index) {
    if (done[node]) return;
    int l = g->nodes[node].layer;
    if (index[l] < 0) index[l] = (*n_index)++;
    for (int j = 0; j < g->nodes[node].n_in; j++)
        k_walk(g, g->nodes[node].in[j], done, post, n_post, index, n_index);
    done[node] = true;
    post[(*n_post)++] = node;
}

/* model.layers as Keras orders them when it rebuilds the graph (map_graph):
 * by depth from the outputs, deepest first, ties in the walk's order. The
 * weights file names each layer by its class and rank in this order, so a
 * load must find the same order. */
static dc_status k_order(const dc_model *m, k_graph *g) {
    int nn = g->n_nodes, nl = g->n_layers, n_post = 0, n_index = 0;
    bool *done = dc_calloc((size_t)nn + 1, sizeof *done);
    int *post = dc_calloc((size_t)nn + 1, sizeof *post), *ndepth = dc_calloc((size_t)nn + 1, sizeof *ndepth);
    int *index = dc_calloc((size_t)nl + 1, sizeof *index), *ldepth = dc_calloc((size_t)nl + 1, sizeof *ldepth);
    if (!done || !post || !ndepth || !index || !ldepth) {
        dc_free(done), dc_free(post), dc_free(ndepth), dc_free(index), dc_free(ldepth);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    }
    for (int i = 0; i < nl; i++) index[i] = -1, ldepth[i] = -1;
    for (int i = 0; i < m->n_outputs; i++) k_walk(g, g->outs[i], done, post, &n_post, index, &n_index);
    for (int p = n_post - 1; p >= 0; p--) {
        const k_node *nd = &g->nodes[post[p]];
        int d = ndepth[post[p]];
        if (ldepth[nd->layer] > d) d = ldepth[nd->layer];
        ldepth[nd->layer] = ndepth[post[p]] = d;
        for (int j = 0; j < nd->n_in; j++)
            if (ndepth[nd->in[j]] < d + 1) ndepth[nd->in[j]] = d + 1;
    }
    for (int i = 0; i < m->n_inputs; i++) /* an input no output reads */
        if (ldepth[g->nodes[g->ins[i]].layer] < 0) ldepth[g->nodes[g->ins[i]].layer] = 0;
    for (int i = 0; i < nl; i++) { /* insertion sort: deeper first, then walk order */
        int l = i, j = i;
        for (; j > 0; j--) {
            int o = g->order[j - 1];
            if (ldepth[o] > ldepth[l] || (ldepth[o] == ldepth[l] && index[o] <= index[l])) break;
            g->order[j] = o;
        }
        g->order[j] = l;
    }
    dc_free(done), dc_free(post), dc_free(ndepth), dc_free(index), dc_free(ldepth);
    return DC_OK;
}

/* {"class_name": "__keras_tensor__", ...} for the output of node k. */
static cJSON *k_tensor(const dc_model *m, const k_graph *g, int k) {
    const k_node *nd = &g->nodes[k];
    const dc_layer *l = g->layers[nd->layer].l;
    cJSON *cfg = cJSON_CreateObject(), *h = cJSON_CreateArray();
    cJSON_AddItemToObject(cfg, "shape", shape_with_batch(l->out_ndim, l->out_shape));
    cJSON_AddStringToObject(cfg, "dtype", "float32");
    cJSON_AddItemToArray(h, cJSON_CreateString(g->layers[nd->layer].name));
    cJSON_AddItemToArray(h, cJSON_CreateNumber(nd->call));
    cJSON_AddItemToArray(h, cJSON_CreateNumber(0));
    cJSON_AddItemToObject(cfg, "keras_history", h);
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "class_name", "__keras_tensor__");
    cJSON_AddItemToObject(t, "config", cfg);
    (void)m;
    return t;
}

/* [layer, call, 0] of node k (input_layers, output_layers). */
static cJSON *k_ref(const k_graph *g, int k) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString(g->layers[g->nodes[k].layer].name));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(g->nodes[k].call));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(0));
    return a;
}

static cJSON *input_layer_json(const char *name, int nd, const int64_t *shape) {
    cJSON *icfg = cJSON_CreateObject();
    cJSON_AddItemToObject(icfg, "batch_shape", shape_with_batch(nd, shape));
    cJSON_AddStringToObject(icfg, "dtype", "float32");
    cJSON_AddFalseToObject(icfg, "sparse");
    cJSON_AddFalseToObject(icfg, "ragged");
    cJSON_AddStringToObject(icfg, "name", name);
    return keras_object("keras.layers", "InputLayer", icfg);
}

/* A Keras layer's entry: a deepc layer's (its split activation left out), a
 * LeakyReLU's, or an InputLayer's. */
static cJSON *k_layer_json(const k_layer *kl) {
    const dc_layer *l = kl->l;
    if (l->kind == DC_LAYER_INPUT) return input_layer_json(l->name, l->out_ndim, l->out_shape);
    if (!strcmp(k_class(kl), "LeakyReLU")) {
        cJSON *cfg = cJSON_CreateObject();
        add_common(cfg, kl->name);
        cJSON_AddNumberToObject(cfg, "negative_slope", 0.3);
        cJSON *o = keras_object("keras.layers", "LeakyReLU", cfg);
        cJSON *bc = cJSON_AddObjectToObject(o, "build_config");
        cJSON_AddItemToObject(bc, "input_shape", shape_with_batch(l->out_ndim, l->out_shape));
        return o;
    }
    cJSON *o = layer_json(l);
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(o, "config");
    if (splits_leaky(l)) cJSON_ReplaceItemInObject(cfg, "activation", cJSON_CreateString("linear"));
    if (l->n_in > 1) { /* a merge layer builds on a list of shapes */
        cJSON *shapes = cJSON_CreateArray();
        for (int j = 0; j < l->n_in; j++)
            cJSON_AddItemToArray(shapes, shape_with_batch(l->in_ndims[j], l->in_shapes[j]));
        cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(o, "build_config"), "input_shape",
                                  shapes);
    }
    return o;
}

/* A Functional entry: the layer's own, its name and every call's inputs. */
static cJSON *k_functional_layer(const dc_model *m, const k_graph *g, int li) {
    cJSON *o = k_layer_json(&g->layers[li]);
    cJSON_AddStringToObject(o, "name", g->layers[li].name);
    cJSON *inb = cJSON_AddArrayToObject(o, "inbound_nodes");
    for (int k = 0; k < g->n_nodes; k++) {
        const k_node *nd = &g->nodes[k];
        if (nd->layer != li || nd->n_in == 0) continue;
        cJSON *call = cJSON_CreateObject(), *args = cJSON_AddArrayToObject(call, "args");
        cJSON *list = nd->n_in > 1 ? cJSON_CreateArray() : NULL;
        for (int j = 0; j < nd->n_in; j++)
            cJSON_AddItemToArray(list ? list : args, k_tensor(m, g, nd->in[j]));
        if (list) cJSON_AddItemToArray(args, list);
        cJSON_AddObjectToObject(call, "kwargs");
        cJSON_AddItemToArray(inb, call);
    }
    return o;
}

/* input_layers / output_layers: one reference when there is one, a list otherwise. */
static cJSON *k_io(const k_graph *g, const int *nodes, int n) {
    if (n == 1) return k_ref(g, nodes[0]);
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, k_ref(g, nodes[i]));
    return a;
}

static char *config_json(const dc_model *m, const k_graph *g) {
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_CreateObject();
    add_common(cfg, m->name);
    cJSON *layers = cJSON_AddArrayToObject(cfg, "layers");
    if (m->functional) {
        for (int i = 0; i < g->n_layers; i++)
            cJSON_AddItemToArray(layers, k_functional_layer(m, g, g->order[i]));
        cJSON_AddItemToObject(cfg, "input_layers", k_io(g, g->ins, m->n_inputs));
        cJSON_AddItemToObject(cfg, "output_layers", k_io(g, g->outs, m->n_outputs));
    } else {
        cJSON_AddItemToArray(layers, input_layer_json("input_layer", m->in_ndim, m->in_shape));
        for (int i = 0; i < g->n_layers; i++)
            if (g->layers[i].l->kind != DC_LAYER_INPUT)
                cJSON_AddItemToArray(layers, k_layer_json(&g->layers[i]));
        cJSON_AddItemToObject(cfg, "build_input_shape", shape_with_batch(m->in_ndim, m->in_shape));
    }
    cJSON_AddStringToObject(root, "module", m->functional ? "keras.src.models.functional" : "keras");
    cJSON_AddStringToObject(root, "class_name", m->functional ? "Functional" : "Sequential");
    cJSON_AddItemToObject(root, "config", cfg);
    if (m->functional) cJSON_AddStringToObject(root, "registered_name", "Functional");
    else cJSON_AddNullToObject(root, "registered_name");
    cJSON *bc = cJSON_AddObjectToObject(root, "build_config");
    if (m->functional) cJSON_AddNullToObject(bc, "input_shape");
    else cJSON_AddItemToObject(bc, "input_shape", shape_with_batch(m->in_ndim, m->in_shape));
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

/* The layout Keras' saver makes: <group>/vars (an RNN's weights in
 * cell/vars, a Bidirectional's in forward_layer/ and backward_layer/). */
static dc_status write_layer(dc_h5 *h, const char *group, const k_layer *kl) {
    const dc_layer *l = kl->l;
    char path[200], cell[96];
    snprintf(path, sizeof path, "%s/vars", group);
    if (kl->leaky) return write_vars(h, path, kl->name, l, 0, 0);
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

/* The optimizer's variables over the deepc layers in Keras' order. */
static dc_status write_optimizer(dc_h5 *h, const dc_model *m, const k_graph *g) {
    dc_layer **order = dc_calloc((size_t)g->n_layers + 1, sizeof *order);
    if (!order) return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    int n = 0;
    for (int i = 0; i < g->n_layers; i++) {
        const k_layer *kl = &g->layers[m->functional ? g->order[i] : i];
        if (!kl->leaky) order[n++] = (dc_layer *)kl->l;
    }
    dc_status s = dc_keras_optimizer_write(h, m, order, n);
    dc_free(order);
    return s;
}

/* model.layers in Keras' order (a Sequential model's without its InputLayer),
 * each in layers/<snake class>[_<rank among its class>]. */
static dc_status weights_h5(const dc_model *m, const k_graph *g, uint8_t **data, size_t *len) {
    dc_h5 *h = dc_h5_create(FN, "model.weights.h5");
    if (!h) return dc_last_status();
    dc_status s = dc_h5_group(h, "vars", m->name);
    if (s == DC_OK) s = dc_h5_group(h, "layers", NULL);
    for (int i = 0; s == DC_OK && i < g->n_layers; i++) {
        const k_layer *kl = &g->layers[m->functional ? g->order[i] : i];
        if (!m->functional && kl->l->kind == DC_LAYER_INPUT) continue;
        char snake[64], other[64], group[128];
        dc_snake_case(k_class(kl), snake, sizeof snake);
        int before = 0;
        for (int j = 0; j < i; j++) {
            const k_layer *o = &g->layers[m->functional ? g->order[j] : j];
            if (!m->functional && o->l->kind == DC_LAYER_INPUT) continue;
            dc_snake_case(k_class(o), other, sizeof other);
            before += !strcmp(snake, other);
        }
        if (before) snprintf(group, sizeof group, "layers/%s_%d", snake, before);
        else snprintf(group, sizeof group, "layers/%s", snake);
        s = write_layer(h, group, kl);
    }
    if (s == DC_OK && m->compiled) s = dc_h5_group(h, "optimizer/vars", m->opt ? dc_optimizer_name(m->opt) : "optimizer");
    if (s == DC_OK && m->compiled) s = write_optimizer(h, m, g);
    if (s == DC_OK) s = dc_h5_image(h, data, len);
    dc_h5_close(h);
    return s;
}

static dc_status check_exportable(const dc_model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        const dc_layer *l = m->layers[i];
        if (l->kind == DC_LAYER_INPUT && i > 0 && !m->functional)
            return dc_set_error(DC_ERR_UNSUPPORTED, "%s: layer %d '%s': an InputLayer after the "
                                "first layer has no Keras form", FN, i, l->name);
        for (int k = 0; k < l->n_cfg; k++) {
            bool own_act = !strcmp(l->cfg_key[k], "activation") &&
                           (splits_leaky(l) || l->kind == DC_LAYER_ACTIVATION);
            if (!strcmp(l->cfg_val[k], "leaky_relu") && !own_act)
                return dc_set_error(DC_ERR_UNSUPPORTED, "%s: layer '%s' (%s): option '%s': "
                                    "'leaky_relu' has slope 0.3 in deepc and 0.2 in Keras 3 (only "
                                    "a layer's output activation becomes a LeakyReLU layer)", FN,
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
    if (check_exportable(m) != DC_OK) return dc_last_status();
    k_graph g;
    if (k_graph_make(m, &g) != DC_OK || (m->functional && k_order(m, &g) != DC_OK)) {
        k_graph_free(&g);
        return dc_last_status();
    }
    char *config = config_json(m, &g);
    char meta[160], date[32];
    time_t now = time(NULL);
    struct tm tmv;
    strftime(date, sizeof date, "%Y-%m-%d@%H:%M:%S", gmtime_r(&now, &tmv));
    snprintf(meta, sizeof meta, "{\"keras_version\": \"%s\", \"date_saved\": \"%s\", "
             "\"saved_by\": \"deepc %s\"}", KERAS_FORMAT_VERSION, date, DC_VERSION);
    uint8_t *w = NULL;
    size_t wlen = 0;
    dc_status s = config ? DC_OK : dc_set_error(DC_ERR_NOMEM, "%s: out of memory", FN);
    if (s == DC_OK) s = weights_h5(m, &g, &w, &wlen);
    if (s == DC_OK) s = dc_keras_archive_write(FN, path, config, meta, w, wlen);
    k_graph_free(&g);
    cJSON_free(config);
    dc_free(w);
    return s;
}
