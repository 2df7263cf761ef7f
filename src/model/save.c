/* save.c — model files: a safetensors file with the weights as named tensors
 * ("dense/kernel" ...) and, in __metadata__, the architecture and the training
 * config as JSON, so dc_model_load rebuilds the whole model from the file. */
#include "model.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define ARCH_KEY "deepc_architecture"
#define TRAIN_KEY "deepc_training"
#define EPOCH_KEY "deepc_epoch"
#define OPT_STATE "optimizer/state"

static cJSON *shape_json(int ndim, const int64_t *shape) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < ndim; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[i]));
    return a;
}

/* [layer name, call]: a node as Keras' inbound_nodes name one. */
static cJSON *node_ref(const dc_model *m, int k) {
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString(m->nodes[k].layer->name));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(m->nodes[k].call));
    return a;
}

/* A functional model's graph: "nodes" in order, each {"layer": name,
 * "inputs": [[name, call] ...]}, then "inputs" and "outputs" as node refs. */
static void add_graph(cJSON *root, const dc_model *m) {
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    for (int k = 0; k < m->n_nodes; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "layer", m->nodes[k].layer->name);
        cJSON *in = cJSON_AddArrayToObject(o, "inputs");
        for (int j = 0; j < m->nodes[k].n_in; j++) cJSON_AddItemToArray(in, node_ref(m, m->nodes[k].in[j]));
        cJSON_AddItemToArray(nodes, o);
    }
    cJSON *ins = cJSON_AddArrayToObject(root, "inputs"), *outs = cJSON_AddArrayToObject(root, "outputs");
    for (int i = 0; i < m->n_inputs; i++) cJSON_AddItemToArray(ins, node_ref(m, m->inputs[i]));
    for (int i = 0; i < m->n_outputs; i++) cJSON_AddItemToArray(outs, node_ref(m, m->outputs[i]));
}

/* {"class_name":"Sequential","name":..,"input_shape":[..],"layers":[{"class_name":
 * "Dense","name":"dense","config":{"units":"128",...}}]}: options as given. */
static char *arch_json(const dc_model *m) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "class_name", m->functional ? "Functional" : "Sequential");
    cJSON_AddStringToObject(root, "name", m->name);
    cJSON_AddItemToObject(root, "input_shape", shape_json(m->in_ndim, m->in_shape));
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    for (int i = 0; i < m->n_layers; i++) {
        const dc_layer *l = m->layers[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "class_name", dc_layer_type(l));
        cJSON_AddStringToObject(o, "name", l->name);
        cJSON *cfg = cJSON_AddObjectToObject(o, "config");
        for (int k = 0; k < l->n_cfg; k++)
            if (strcmp(l->cfg_key[k], "name")) cJSON_AddStringToObject(cfg, l->cfg_key[k], l->cfg_val[k]);
        cJSON_AddItemToArray(layers, o);
    }
    if (m->functional) add_graph(root, m);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

char *dc_model_architecture_json(const dc_model *m) {
    char *s = arch_json(m);
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = dc_malloc(n);
    if (d) memcpy(d, s, n);
    cJSON_free(s);
    return d;
}

/* The optimizer options a model file keeps besides kind and learning_rate:
 * one list for saving and loading, so the two cannot drift apart. */
#define OPT_FIELD(name, type) {#name, offsetof(dc_optimizer_options, name), type}
static const struct {
    const char *key;
    size_t off;
    char type; /* 'f' float, 'b' bool */
} opt_fields[] = {
    OPT_FIELD(momentum, 'f'),  OPT_FIELD(nesterov, 'b'),
    OPT_FIELD(beta_1, 'f'),    OPT_FIELD(beta_2, 'f'),
    OPT_FIELD(epsilon, 'f'),   OPT_FIELD(amsgrad, 'b'),
    OPT_FIELD(rho, 'f'),       OPT_FIELD(initial_accumulator_value, 'f'),
    OPT_FIELD(centered, 'b'),  OPT_FIELD(weight_decay, 'f'),
    OPT_FIELD(clipnorm, 'f'),  OPT_FIELD(global_clipnorm, 'f'),
    OPT_FIELD(clipvalue, 'f'),
};
#undef OPT_FIELD

/* The metric names before the first NONE into the JSON array arr. */
static void add_metrics(cJSON *arr, const dc_metric_kind *metrics) {
    for (int i = 0; i < DC_MAX_METRICS && metrics[i] != DC_METRIC_NONE; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(dc_metric_name(metrics[i])));
}

/* Known metric names of a JSON array into metrics (compile checks the rest). */
static void read_metrics(const cJSON *arr, dc_metric_kind *metrics) {
    const cJSON *mj;
    int n = 0;
    cJSON_ArrayForEach(mj, arr) {
        for (int k = DC_METRIC_ACCURACY; n < DC_MAX_METRICS && cJSON_IsString(mj) && k <= DC_METRIC_MEAN_IOU; k++)
            if (!strcmp(mj->valuestring, dc_metric_name((dc_metric_kind)k))) metrics[n++] = (dc_metric_kind)k;
    }
}

static char *training_json(const dc_model *m) {
    const dc_compile_options *c = &m->copt;
    const dc_optimizer_options *o = &c->optimizer;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "loss", dc_loss_name(c->loss));
    cJSON_AddBoolToObject(root, "from_probabilities", c->from_probabilities);
    add_metrics(cJSON_AddArrayToObject(root, "metrics"), c->metrics);
    bool own_metrics = false; /* "output_metrics": a list per output, [] for `metrics` */
    for (int i = 0; i < DC_MAX_MODEL_IO; i++) own_metrics = own_metrics || c->output_metrics[i][0];
    cJSON *om = own_metrics ? cJSON_AddArrayToObject(root, "output_metrics") : NULL;
    for (int i = 0; om && i < DC_MAX_MODEL_IO; i++) {
        cJSON *list = cJSON_CreateArray();
        add_metrics(list, c->output_metrics[i]);
        cJSON_AddItemToArray(om, list);
    }
    bool per_output = false;
    for (int i = 0; i < DC_MAX_MODEL_IO; i++)
        per_output = per_output || c->losses[i] != DC_LOSS_NONE || c->loss_weights[i] != 0;
    if (per_output) { /* "" for an output that takes `loss` */
        cJSON *ls = cJSON_AddArrayToObject(root, "losses"), *ws = cJSON_AddArrayToObject(root, "loss_weights");
        for (int i = 0; i < DC_MAX_MODEL_IO; i++) {
            const char *name = dc_loss_name(c->losses[i]);
            cJSON_AddItemToArray(ls, cJSON_CreateString(name ? name : ""));
            cJSON_AddItemToArray(ws, cJSON_CreateNumber(c->loss_weights[i]));
        }
    }
    if (c->n_class_weights > 0) {
        cJSON *cw = cJSON_AddArrayToObject(root, "class_weights");
        for (int i = 0; i < c->n_class_weights; i++)
            cJSON_AddItemToArray(cw, cJSON_CreateNumber(c->class_weights[i]));
    }
    cJSON *opt = cJSON_AddObjectToObject(root, "optimizer");
    cJSON_AddNumberToObject(opt, "kind", o->kind);
    if (m->opt) cJSON_AddStringToObject(opt, "name", dc_optimizer_name(m->opt));
    /* the rate in force (ReduceLROnPlateau may have lowered it) */
    cJSON_AddNumberToObject(opt, "learning_rate",
                            m->opt ? dc_optimizer_learning_rate(m->opt) : o->learning_rate);
    for (size_t i = 0; i < sizeof opt_fields / sizeof *opt_fields; i++) {
        const char *f = (const char *)o + opt_fields[i].off;
        if (opt_fields[i].type == 'b') cJSON_AddBoolToObject(opt, opt_fields[i].key, *(const bool *)f);
        else cJSON_AddNumberToObject(opt, opt_fields[i].key, *(const float *)f);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

static bool meta_given(const char *key, const char *const *keys, int n) {
    for (int i = 0; i < n; i++)
        if (keys[i] && !strcmp(keys[i], key)) return true;
    return false;
}

void dc_model_metadata_free(dc_model *m) {
    for (int i = 0; i < m->n_meta; i++) {
        dc_free(m->meta_keys[i]);
        dc_free(m->meta_vals[i]);
    }
    dc_free(m->meta_keys);
    dc_free(m->meta_vals);
    m->meta_keys = m->meta_vals = NULL;
    m->n_meta = 0;
}

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *c = dc_malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

dc_status dc_model_set_metadata(dc_model *m, const char *key, const char *value) {
    const char *fn = "dc_model_set_metadata";
    if (!m || !key || !key[0])
        return dc_set_error(DC_ERR_ARG, "%s: %s", fn, m ? "key is NULL or empty" : "model is NULL");
    if (!strcmp(key, ARCH_KEY) || !strcmp(key, TRAIN_KEY) || !strcmp(key, EPOCH_KEY))
        return dc_set_error(DC_ERR_ARG, "%s: metadata key '%s' is deepc's own", fn, key);
    int i = 0;
    while (i < m->n_meta && strcmp(m->meta_keys[i], key)) i++;
    if (!value) { /* remove: the last entry takes its place */
        if (i == m->n_meta) return DC_OK;
        dc_free(m->meta_keys[i]);
        dc_free(m->meta_vals[i]);
        m->n_meta--;
        m->meta_keys[i] = m->meta_keys[m->n_meta];
        m->meta_vals[i] = m->meta_vals[m->n_meta];
        return DC_OK;
    }
    char *v = copy_string(value), *k = i < m->n_meta ? NULL : copy_string(key);
    char **nk = i < m->n_meta ? m->meta_keys : dc_realloc(m->meta_keys, (size_t)(i + 1) * sizeof *nk);
    if (nk) m->meta_keys = nk;
    char **nv = i < m->n_meta ? m->meta_vals : dc_realloc(m->meta_vals, (size_t)(i + 1) * sizeof *nv);
    if (nv) m->meta_vals = nv;
    if (!v || !nk || !nv || (i == m->n_meta && !k)) {
        dc_free(v);
        dc_free(k);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    }
    if (i < m->n_meta) {
        dc_free(m->meta_vals[i]);
    } else {
        m->meta_keys[i] = k;
        m->n_meta++;
    }
    m->meta_vals[i] = v;
    return DC_OK;
}

dc_status dc_model_save_extra(const char *fn, const dc_model *m, const char *path,
                              dc_tensor *const *extra, int n_extra, const char *const *keys,
                              const char *const *vals, int n_meta) {
    if (!m || !path) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, m ? "path" : "model");
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
    if (n_extra < 0 || n_meta < 0 || (n_extra && !extra) || (n_meta && (!keys || !vals)))
        return dc_set_error(DC_ERR_ARG, "%s: extra tensors or metadata are NULL", fn);
    for (int i = 0; i < n_meta; i++)
        if (keys[i] && (!strcmp(keys[i], ARCH_KEY) || !strcmp(keys[i], TRAIN_KEY)))
            return dc_set_error(DC_ERR_ARG, "%s: metadata key '%s' is deepc's own", fn, keys[i]);
    dc_tensor **ts = dc_malloc((size_t)(m->n_params + n_extra + 1) * sizeof *ts);
    const char **mk = dc_malloc((size_t)(n_meta + m->n_meta + 2) * sizeof *mk);
    const char **mv = dc_malloc((size_t)(n_meta + m->n_meta + 2) * sizeof *mv);
    char *arch = arch_json(m), *train = m->compiled ? training_json(m) : NULL;
    dc_status s = DC_OK;
    if (!ts || !mk || !mv || !arch || (m->compiled && !train)) {
        s = dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto out;
    }
    int n = 0, nm = 0;
    for (int i = 0; i < m->n_params; i++) ts[n++] = m->params[i]->t;
    for (int i = 0; i < n_extra; i++) ts[n++] = extra[i];
    mk[nm] = ARCH_KEY;
    mv[nm++] = arch;
    if (train) {
        mk[nm] = TRAIN_KEY;
        mv[nm++] = train;
    }
    for (int i = 0; i < n_meta; i++) {
        mk[nm] = keys[i];
        mv[nm++] = vals[i];
    }
    for (int i = 0; i < m->n_meta; i++)
        if (!meta_given(m->meta_keys[i], keys, n_meta)) {
            mk[nm] = m->meta_keys[i];
            mv[nm++] = m->meta_vals[i];
        }
    s = dc_safetensors_save(path, ts, n, mk, mv, nm);
    if (s != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(s, "%s: %s", fn, msg);
    }
out:
    dc_free(ts);
    dc_free(mk);
    dc_free(mv);
    cJSON_free(arch);
    cJSON_free(train);
    return s;
}

dc_status dc_model_save(const dc_model *m, const char *path) {
    return dc_model_save_extra("dc_model_save", m, path, NULL, 0, NULL, NULL, 0);
}

dc_status dc_model_save_with_metadata(const dc_model *m, const char *path,
                                      const char *const *keys, const char *const *values, int n) {
    return dc_model_save_extra("dc_model_save_with_metadata", m, path, NULL, 0, keys, values, n);
}

dc_tensor *dc_model_optimizer_state_tensor(const char *fn, dc_model *m) {
    if (!m || !m->compiled || !m->opt) {
        dc_set_error(DC_ERR_STATE, "%s: the model needs to be compiled and trained (it has no optimizer state)", fn);
        return NULL;
    }
    size_t n = dc_optimizer_state_size(m->opt);
    dc_tensor *st = dc_tensor_zeros(1, (const int64_t[]){(int64_t)(n ? n : 1)});
    if (!st) return NULL;
    dc_tensor_set_name(st, OPT_STATE);
    if (n && dc_optimizer_get_state(m->opt, st->data, n) != DC_OK) {
        dc_tensor_free(st);
        return NULL;
    }
    return st;
}

dc_status dc_model_save_checkpoint(dc_model *m, const char *path, int epoch) {
    const char *fn = "dc_model_save_checkpoint";
    dc_tensor *st = dc_model_optimizer_state_tensor(fn, m);
    if (!st) return dc_last_status();
    char ep[32];
    snprintf(ep, sizeof ep, "%d", epoch);
    const char *k = EPOCH_KEY, *v = ep;
    dc_status s = dc_model_save_extra(fn, m, path, &st, 1, &k, &v, 1);
    dc_tensor_free(st);
    return s;
}

/* ---- loading ---- */

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static double jnum(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}
static bool jbool(const cJSON *o, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The node [name, call] among the first n made, or -1. */
static int find_node(const cJSON *ref, dc_layer *const *node_layer, const int *node_call, int n) {
    const cJSON *name = cJSON_GetArrayItem(ref, 0), *call = cJSON_GetArrayItem(ref, 1);
    if (cJSON_GetArraySize(ref) != 2 || !cJSON_IsString(name) || !cJSON_IsNumber(call)) return -1;
    for (int k = 0; k < n; k++)
        if (!strcmp(node_layer[k]->name, name->valuestring) && node_call[k] == call->valueint) return k;
    return -1;
}

/* Up to cap symbols for the node refs in arr; returns how many, or -1. */
static int refs(const cJSON *arr, dc_symbol **out, int cap, dc_symbol *const *syms,
                dc_layer *const *node_layer, const int *node_call, int n) {
    int k = 0;
    const cJSON *r;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > cap) return -1;
    cJSON_ArrayForEach(r, arr) {
        int i = find_node(r, node_layer, node_call, n);
        if (i < 0) return -1;
        out[k++] = syms[i];
    }
    return k;
}

/* A functional model from the "nodes", "inputs" and "outputs" of an
 * architecture whose layers g holds; takes g. */
static dc_model *functional_from_arch(const char *fn, const char *path, const cJSON *root,
                                      dc_graph *g) {
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    int n_nodes = cJSON_GetArraySize(nodes);
    dc_symbol **syms = dc_calloc((size_t)n_nodes + 1, sizeof *syms);
    dc_layer **node_layer = dc_calloc((size_t)n_nodes + 1, sizeof *node_layer);
    int *node_call = dc_calloc((size_t)n_nodes + 1, sizeof *node_call);
    dc_model *m = NULL;
    if (!syms || !node_layer || !node_call) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        goto out;
    }
    int k = 0;
    const cJSON *nj;
    cJSON_ArrayForEach(nj, nodes) {
        dc_layer *l = dc_graph_layer(g, jstr(nj, "layer"));
        dc_symbol *ins[DC_LAYER_MAX_IN];
        int n_in = refs(cJSON_GetObjectItemCaseSensitive(nj, "inputs"), ins, DC_LAYER_MAX_IN, syms,
                        node_layer, node_call, k);
        if (!l || n_in < 0 || (n_in == 0) != (l->kind == DC_LAYER_INPUT)) {
            dc_set_error(DC_ERR_FORMAT, "%s: '%s': graph node %d names an unknown layer or input", fn,
                         path, k);
            goto out;
        }
        node_call[k] = 0;
        for (int i = 0; i < k; i++) node_call[k] += node_layer[i] == l;
        node_layer[k] = l;
        syms[k] = n_in ? dc_call_n(l, ins, n_in) : dc_graph_add_input(fn, g, l);
        if (!syms[k]) goto out;
        k++;
    }
    dc_symbol *ins[DC_MAX_MODEL_IO], *outs[DC_MAX_MODEL_IO];
    int n_in = refs(cJSON_GetObjectItemCaseSensitive(root, "inputs"), ins, DC_MAX_MODEL_IO, syms,
                    node_layer, node_call, k);
    int n_out = refs(cJSON_GetObjectItemCaseSensitive(root, "outputs"), outs, DC_MAX_MODEL_IO, syms,
                     node_layer, node_call, k);
    if (n_in < 1 || n_out < 1) {
        dc_set_error(DC_ERR_FORMAT, "%s: '%s': the graph's inputs or outputs name unknown nodes", fn, path);
        goto out;
    }
    m = dc_model_functional(jstr(root, "name"), g, ins, n_in, outs, n_out);
    g = NULL;
out:
    dc_graph_free(g);
    dc_free(syms);
    dc_free(node_layer);
    dc_free(node_call);
    return m;
}

/* The architecture in json, built. It may declare at most 2^20 floats more
 * than the file holds (file_weights), so a hostile header cannot make the
 * build allocate far beyond the file's size, while a small mismatch still
 * reaches load_weights, which names the tensor. */
static dc_model *model_from_arch(const char *fn, const char *path, const char *json,
                                 uint64_t file_weights) {
    cJSON *root = cJSON_Parse(json);
    dc_model *m = NULL;
    dc_graph *g = NULL; /* a functional model's layers until its nodes call them */
    const cJSON *layers = root ? cJSON_GetObjectItemCaseSensitive(root, "layers") : NULL;
    const cJSON *ishape = root ? cJSON_GetObjectItemCaseSensitive(root, "input_shape") : NULL;
    if (!cJSON_IsArray(layers) || !cJSON_IsArray(ishape) || !jstr(root, "name") ||
        cJSON_GetArraySize(ishape) > DC_MAX_DIMS - 1) {
        dc_set_error(DC_ERR_FORMAT, "%s: '%s': metadata '%s' is not a deepc architecture", fn, path,
                     ARCH_KEY);
        goto out;
    }
    m = dc_sequential_new(jstr(root, "name"));
    if (!m) goto out;
    if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "nodes")) && !(g = dc_graph_new()))
        goto fail;
    const cJSON *lj;
    cJSON_ArrayForEach(lj, layers) {
        const char *type = jstr(lj, "class_name"), *name = jstr(lj, "name");
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(lj, "config");
        if (!type || !name || !cJSON_IsObject(cfg) || cJSON_GetArraySize(cfg) >= DC_LAYER_MAX_CFG) {
            dc_set_error(DC_ERR_FORMAT, "%s: '%s': a layer entry lacks class_name, name or config", fn, path);
            goto fail;
        }
        const char *k[DC_LAYER_MAX_CFG], *v[DC_LAYER_MAX_CFG];
        int n = 0;
        const cJSON *kv;
        cJSON_ArrayForEach(kv, cfg) {
            if (!cJSON_IsString(kv)) {
                dc_set_error(DC_ERR_FORMAT, "%s: '%s': layer '%s': option '%s' is not a string", fn, path, name, kv->string);
                goto fail;
            }
            k[n] = kv->string;
            v[n++] = kv->valuestring;
        }
        k[n] = "name";
        v[n++] = name;
        dc_layer *l = dc_layer_from_config(type, k, v, n);
        if (!l || (g ? dc_graph_hold(fn, g, l) : dc_model_add(m, l)) != DC_OK) goto relabel;
    }
    if (g) {
        dc_model *f = functional_from_arch(fn, path, root, g);
        g = NULL;
        dc_model_free(m);
        m = f;
        if (!m) goto relabel;
        char cap[64];
        snprintf(cap, sizeof cap, "the file holds %llu", (unsigned long long)file_weights);
        if (dc_model_build_capped(m, 0, NULL, 0, file_weights + (1u << 20), cap) != DC_OK)
            goto relabel;
        goto out;
    }
    int64_t shape[DC_MAX_DIMS];
    int nd = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, ishape) /* out-of-range doubles must not reach the cast */
        shape[nd++] = cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble < 1e15
                          ? (int64_t)d->valuedouble
                      : cJSON_IsNumber(d) && d->valuedouble == -1 ? -1 /* None */
                                                                  : 0;
    char cap[64];
    snprintf(cap, sizeof cap, "the file holds %llu", (unsigned long long)file_weights);
    if (dc_model_build_capped(m, nd, shape, 0, file_weights + (1u << 20), cap) != DC_OK)
        goto relabel;
    goto out;
relabel: {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    dc_set_error(dc_last_status(), "%s: '%s': %s", fn, path, msg);
}
fail:
    dc_model_free(m);
    m = NULL;
out:
    dc_graph_free(g);
    cJSON_Delete(root);
    return m;
}

static dc_status compile_from_json(const char *fn, const char *path, dc_model *m, const char *json) {
    cJSON *root = cJSON_Parse(json);
    const cJSON *opt = root ? cJSON_GetObjectItemCaseSensitive(root, "optimizer") : NULL;
    const char *loss = root ? jstr(root, "loss") : NULL;
    dc_compile_options c = {0};
    for (int k = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY; loss && k <= DC_LOSS_DICE; k++)
        if (!strcmp(loss, dc_loss_name((dc_loss_kind)k))) c.loss = (dc_loss_kind)k;
    if (!cJSON_IsObject(opt) || c.loss == DC_LOSS_NONE) {
        cJSON_Delete(root);
        return dc_set_error(DC_ERR_FORMAT, "%s: '%s': metadata '%s' is not a deepc training config", fn, path, TRAIN_KEY);
    }
    c.from_probabilities = jbool(root, "from_probabilities");
    for (int i = 0; i < DC_MAX_MODEL_IO; i++) { /* unknown names are left to `loss` */
        const cJSON *lj = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "losses"), i);
        const cJSON *wj = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "loss_weights"), i);
        for (int k = DC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY; cJSON_IsString(lj) && k <= DC_LOSS_DICE; k++)
            if (!strcmp(lj->valuestring, dc_loss_name((dc_loss_kind)k))) c.losses[i] = (dc_loss_kind)k;
        if (cJSON_IsNumber(wj)) c.loss_weights[i] = (float)wj->valuedouble; /* compile checks it */
    }
    read_metrics(cJSON_GetObjectItemCaseSensitive(root, "metrics"), c.metrics);
    for (int i = 0; i < DC_MAX_MODEL_IO; i++)
        read_metrics(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "output_metrics"), i),
                     c.output_metrics[i]);
    const cJSON *mj;
    cJSON_ArrayForEach(mj, cJSON_GetObjectItemCaseSensitive(root, "class_weights")) {
        if (c.n_class_weights < DC_MAX_CLASS_WEIGHTS)  /* compile checks each value */
            c.class_weights[c.n_class_weights++] = cJSON_IsNumber(mj) ? (float)mj->valuedouble : -1.0f;
    }
    dc_optimizer_options *o = &c.optimizer;
    /* a hostile double must not reach the int cast (undefined out of range);
     * -1 is an unknown kind that dc_model_compile reports */
    double kind = jnum(opt, "kind");
    o->kind = (dc_optimizer_kind)(kind >= 0 && kind < 1000 ? (int)kind : -1);
    o->learning_rate = (float)jnum(opt, "learning_rate");
    for (size_t i = 0; i < sizeof opt_fields / sizeof *opt_fields; i++) {
        char *f = (char *)o + opt_fields[i].off;
        if (opt_fields[i].type == 'b') *(bool *)f = jbool(opt, opt_fields[i].key);
        else *(float *)f = (float)jnum(opt, opt_fields[i].key);
    }
    cJSON_Delete(root);
    if (dc_model_compile(m, &c) != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status(), "%s: '%s': %s", fn, path, msg);
    }
    return DC_OK;
}

/* Checks every parameter's name and shape in st; copies them only when copy
 * is set and all are present, so a bad file changes nothing. */
static dc_status load_weights(const char *fn, const char *path, dc_model *m, const dc_safetensors *st,
                              bool copy) {
    for (int i = 0; i < m->n_params; i++) {
        dc_tensor *p = m->params[i]->t;
        const dc_tensor *f = dc_safetensors_get(st, p->name);
        char a[128], b[128];
        if (!f)
            return dc_set_error(DC_ERR_FORMAT, "%s: '%s' has no tensor '%s'", fn, path, p->name);
        if (!dc_tensor_same_shape(p, f))
            return dc_set_error(DC_ERR_SHAPE, "%s: '%s': tensor '%s' is %s in the file, %s in the model",
                                fn, path, p->name, dc_shape_string(f->ndim, f->shape, a, sizeof a),
                                dc_shape_string(p->ndim, p->shape, b, sizeof b));
    }
    for (int i = 0; copy && i < m->n_params; i++) {
        dc_tensor *p = m->params[i]->t;
        memcpy(p->data, dc_safetensors_get(st, p->name)->data, (size_t)p->size * sizeof(float));
    }
    return DC_OK;
}

dc_model *dc_model_load(const char *path) {
    const char *fn = "dc_model_load";
    if (!path) {
        dc_set_error(DC_ERR_ARG, "%s: path is NULL", fn);
        return NULL;
    }
    dc_safetensors *st = dc_safetensors_load(path);
    if (!st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_set_error(dc_last_status(), "%s: %s", fn, msg);
        return NULL;
    }
    const char *arch = dc_safetensors_metadata(st, ARCH_KEY);
    const char *train = dc_safetensors_metadata(st, TRAIN_KEY);
    dc_model *m = NULL;
    if (!arch) {
        dc_set_error(DC_ERR_FORMAT, "%s: '%s' has no '%s' metadata (not a deepc model file)", fn, path, ARCH_KEY);
        goto out;
    }
    uint64_t file_weights = 0;
    for (int i = 0; i < dc_safetensors_count(st); i++)
        file_weights += (uint64_t)dc_safetensors_get(st, dc_safetensors_name(st, i))->size;
    m = model_from_arch(fn, path, arch, file_weights);
    if (!m) goto out;
    if (load_weights(fn, path, m, st, true) != DC_OK ||
        (train && compile_from_json(fn, path, m, train) != DC_OK)) {
        dc_model_free(m);
        m = NULL;
    }
out:
    dc_safetensors_free(st);
    return m;
}

dc_status dc_model_load_checkpoint(dc_model *m, const char *path, int *epoch) {
    const char *fn = "dc_model_load_checkpoint";
    if (!m || !path) return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, m ? "path" : "model");
    if (!m->built || !m->compiled)
        return dc_set_error(DC_ERR_STATE, "%s: model '%s' must be built and compiled", fn, m->name);
    dc_safetensors *st = dc_safetensors_load(path);
    if (!st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        return dc_set_error(dc_last_status(), "%s: %s", fn, msg);
    }
    /* every check comes before the first copy, so a bad file leaves the
     * model as it was */
    dc_status s = DC_OK;
    const dc_tensor *os = dc_safetensors_get(st, OPT_STATE);
    const char *ep = dc_safetensors_metadata(st, EPOCH_KEY);
    if (!os || !ep)
        s = dc_set_error(DC_ERR_FORMAT, "%s: '%s' is a model file, not a checkpoint (no optimizer state)", fn, path);
    if (s == DC_OK && !m->opt) {
        m->opt = dc_optimizer_new(&m->copt.optimizer, m->n_trainable);
        if (!m->opt) s = dc_last_status();
    }
    size_t n = s == DC_OK ? dc_optimizer_state_size(m->opt) : 0;
    if (s == DC_OK && (size_t)os->size != (n ? n : 1))
        s = dc_set_error(DC_ERR_SHAPE, "%s: '%s': optimizer state has %lld values, the optimizer %zu",
                         fn, path, (long long)os->size, n);
    if (s == DC_OK) s = load_weights(fn, path, m, st, false);
    if (s == DC_OK && n) s = dc_optimizer_set_state(m->opt, os->data, n); /* checks, then copies */
    if (s == DC_OK) s = load_weights(fn, path, m, st, true);
    if (s == DC_OK && epoch) *epoch = atoi(ep);
    dc_safetensors_free(st);
    return s;
}
