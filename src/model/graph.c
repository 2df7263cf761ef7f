/* graph.c — functional models: the graph builder (inputs, layers called on
 * symbols, shared layers), a model made from inputs and outputs, and the shape
 * inference over the nodes that both functional and Sequential models build by. */
#include "model.h"
#include <string.h>

static bool name_taken(dc_layer *const *ls, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ls[i]->name, name)) return true;
    return false;
}

dc_status dc_layer_unique_name(const char *fn, const char *model, dc_layer *const *ls, int n,
                               dc_layer *l) {
    if (l->named) {
        if (name_taken(ls, n, l->name))
            return dc_set_error(DC_ERR_ARG, "%s: model '%s' already has a layer named '%s'", fn,
                                model, l->name);
        return DC_OK;
    }
    char base[48];
    dc_snake_case(l->kind == DC_LAYER_INPUT ? "Input" : dc_layer_type(l), base, sizeof base);
    snprintf(l->name, sizeof l->name, "%s", base);
    for (int k = 1; name_taken(ls, n, l->name); k++) snprintf(l->name, sizeof l->name, "%s_%d", base, k);
    return DC_OK;
}

dc_graph *dc_graph_new(void) {
    dc_graph *g = dc_calloc(1, sizeof *g);
    if (!g) dc_set_error(DC_ERR_NOMEM, "dc_graph_new: out of memory");
    return g;
}

void dc_graph_free(dc_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_layers; i++) dc_layer_free(g->layers[i]);
    for (int i = 0; i < g->n_nodes; i++) dc_free(g->syms[i]);
    dc_free(g->layers);
    dc_free(g->nodes);
    dc_free(g->syms);
    dc_free(g);
}

static bool grow(void **p, int *cap, int n, size_t size) {
    if (n < *cap) return true;
    int c = *cap ? 2 * *cap : 8;
    void *q = dc_realloc(*p, (size_t)c * size);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

static int layer_index(const dc_graph *g, const dc_layer *l) {
    for (int i = 0; i < g->n_layers; i++)
        if (g->layers[i] == l) return i;
    return -1;
}

/* Appends a node calling l (owned by g from now on) on n earlier nodes. */
static dc_symbol *add_node(const char *fn, dc_graph *g, dc_layer *l, const int *in, int n,
                           int input_index) {
    bool owned = layer_index(g, l) >= 0;
    if (!owned) {
        void *ls = g->layers;
        int cap = g->cap_layers;
        if (!grow(&ls, &cap, g->n_layers, sizeof *g->layers)) goto nomem;
        g->layers = ls, g->cap_layers = cap;
        if (dc_layer_unique_name(fn, "(functional)", g->layers, g->n_layers, l) != DC_OK) {
            dc_layer_free(l);
            g->failed = true;
            return NULL;
        }
        g->layers[g->n_layers++] = l;
    }
    void *ns = g->nodes, *ss = g->syms;
    int cap = g->cap_nodes, cap2 = g->cap_nodes;
    if (!grow(&ns, &cap, g->n_nodes, sizeof *g->nodes)) return g->failed = true, NULL;
    g->nodes = ns;
    if (!grow(&ss, &cap2, g->n_nodes, sizeof *g->syms)) return g->failed = true, NULL;
    g->syms = ss;
    g->cap_nodes = cap;
    dc_symbol *sym = dc_calloc(1, sizeof *sym);
    if (!sym) return g->failed = true, NULL;
    dc_call_node *nd = &g->nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->layer = l;
    nd->n_in = n;
    if (n) memcpy(nd->in, in, (size_t)n * sizeof *in);
    nd->input_index = input_index;
    for (int i = 0; i < g->n_nodes; i++) nd->call += g->nodes[i].layer == l;
    sym->g = g;
    sym->node = g->n_nodes;
    g->syms[g->n_nodes++] = sym;
    return sym;
nomem:
    dc_layer_free(l);
    g->failed = true;
    dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    return NULL;
}

dc_status dc_graph_hold(const char *fn, dc_graph *g, dc_layer *l) {
    void *ls = g->layers;
    int cap = g->cap_layers;
    if (!grow(&ls, &cap, g->n_layers, sizeof *g->layers)) {
        dc_layer_free(l);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    }
    g->layers = ls, g->cap_layers = cap;
    if (dc_layer_unique_name(fn, "(functional)", g->layers, g->n_layers, l) != DC_OK) {
        dc_layer_free(l);
        return dc_last_status();
    }
    g->layers[g->n_layers++] = l;
    return DC_OK;
}

dc_layer *dc_graph_layer(const dc_graph *g, const char *name) {
    for (int i = 0; name && i < g->n_layers; i++)
        if (!strcmp(g->layers[i]->name, name)) return g->layers[i];
    return NULL;
}

void dc_graph_label(dc_symbol *s, const char *label) {
    if (s && label) snprintf(s->g->nodes[s->node].label, sizeof s->g->nodes[s->node].label, "%s", label);
}

dc_symbol *dc_graph_add_input(const char *fn, dc_graph *g, dc_layer *l) {
    if (l->kind != DC_LAYER_INPUT) {
        dc_set_error(DC_ERR_FORMAT, "%s: layer '%s' is no InputLayer", fn, l->name);
        return NULL;
    }
    return add_node(fn, g, l, NULL, 0, -1);
}

dc_symbol *dc_input(dc_graph *g, int ndim, const int64_t *shape, const char *name) {
    if (!g) {
        dc_set_error(DC_ERR_ARG, "dc_input: graph is NULL");
        return NULL;
    }
    dc_layer *l = dc_layer_input(ndim, shape);
    if (l && name) {
        if (!*name || strlen(name) >= sizeof l->name || strchr(name, '/')) {
            dc_set_error(DC_ERR_ARG, "dc_input: name '%s' must be 1 to %d characters without '/'",
                         name, (int)sizeof l->name - 1);
            dc_layer_free(l);
            l = NULL;
        } else {
            snprintf(l->name, sizeof l->name, "%s", name);
            l->named = true;
        }
    } else if (l) {
        snprintf(l->name, sizeof l->name, "input_layer");
        for (int k = 1; name_taken(g->layers, g->n_layers, l->name); k++)
            snprintf(l->name, sizeof l->name, "input_layer_%d", k);
        l->named = true;
    }
    if (!l) {
        g->failed = true;
        return NULL;
    }
    return add_node("dc_input", g, l, NULL, 0, -1);
}

dc_symbol *dc_call_n(dc_layer *l, dc_symbol *const *xs, int n) {
    const char *fn = "dc_call";
    if (!xs || n < 1 || n > DC_LAYER_MAX_IN) {
        dc_set_error(DC_ERR_ARG, "%s: %d inputs (1 to %d)", fn, n, DC_LAYER_MAX_IN);
        if (xs && n > 0 && xs[0]) xs[0]->g->failed = true;
        return NULL;
    }
    dc_graph *g = NULL;
    int in[DC_LAYER_MAX_IN];
    for (int i = 0; i < n; i++) {
        if (!xs[i]) { /* an earlier call failed: its message stands */
            if (g) g->failed = true;
            if (l && (!g || layer_index(g, l) < 0)) dc_layer_free(l);
            return NULL;
        }
        if (g && xs[i]->g != g) {
            dc_set_error(DC_ERR_ARG, "%s: inputs come from different graphs", fn);
            g->failed = true;
            if (l && layer_index(g, l) < 0) dc_layer_free(l);
            return NULL;
        }
        g = xs[i]->g;
        in[i] = xs[i]->node;
    }
    if (!l) {
        g->failed = true;
        if (dc_last_status() == DC_OK) dc_set_error(DC_ERR_ARG, "%s: layer is NULL", fn);
        return NULL;
    }
    if (l->kind == DC_LAYER_INPUT) {
        dc_set_error(DC_ERR_ARG, "%s: an InputLayer is not called; use dc_input", fn);
        g->failed = true;
        if (layer_index(g, l) < 0) dc_layer_free(l);
        return NULL;
    }
    return add_node(fn, g, l, in, n, -1);
}

dc_symbol *dc_call(dc_layer *l, dc_symbol *x) { return dc_call_n(l, &x, 1); }

/* The nodes the outputs depend on, marked in keep[]. */
static void mark_needed(const dc_graph *g, dc_symbol *const *outs, int n_out, bool *keep) {
    for (int i = 0; i < n_out; i++) keep[outs[i]->node] = true;
    for (int k = g->n_nodes - 1; k >= 0; k--)
        if (keep[k])
            for (int j = 0; j < g->nodes[k].n_in; j++) keep[g->nodes[k].in[j]] = true;
}

static dc_status check_io(const char *fn, const dc_graph *g, dc_symbol *const *ins, int n_in,
                          dc_symbol *const *outs, int n_out) {
    if (!g) return dc_set_error(DC_ERR_ARG, "%s: graph is NULL", fn);
    if (g->failed)
        return dc_set_error(DC_ERR_ARG, "%s: a layer call on this graph failed", fn);
    if (n_in < 1 || n_in > DC_MAX_MODEL_IO || n_out < 1 || n_out > DC_MAX_MODEL_IO || !ins || !outs)
        return dc_set_error(DC_ERR_ARG, "%s: %d inputs and %d outputs (1 to %d each)", fn, n_in,
                            n_out, DC_MAX_MODEL_IO);
    for (int i = 0; i < n_in + n_out; i++) {
        const dc_symbol *s = i < n_in ? ins[i] : outs[i - n_in];
        if (!s || s->g != g)
            return dc_set_error(DC_ERR_ARG, "%s: %s %d is %s", fn, i < n_in ? "input" : "output",
                                i < n_in ? i : i - n_in, s ? "from another graph" : "NULL");
    }
    for (int i = 0; i < n_in; i++) {
        if (g->nodes[ins[i]->node].n_in != 0)
            return dc_set_error(DC_ERR_ARG, "%s: input %d ('%s') is not made by dc_input", fn, i,
                                g->nodes[ins[i]->node].layer->name);
        for (int j = 0; j < i; j++)
            if (ins[j] == ins[i]) return dc_set_error(DC_ERR_ARG, "%s: input %d given twice", fn, i);
    }
    return DC_OK;
}

/* Moves the kept nodes (renumbered) and their layers from g into m; on an
 * error nothing has moved. */
static dc_status take_graph(const char *fn, dc_model *m, dc_graph *g, const bool *keep,
                            dc_symbol *const *ins, int n_in, dc_symbol *const *outs, int n_out) {
    for (int k = 0; k < g->n_nodes; k++) {
        if (!keep[k] || g->nodes[k].n_in) continue;
        bool listed = false;
        for (int i = 0; i < n_in; i++) listed = listed || ins[i]->node == k;
        if (!listed)
            return dc_set_error(DC_ERR_ARG,
                                "%s: an output depends on input '%s', which is not among the "
                                "model's inputs",
                                fn, g->nodes[k].layer->name);
    }
    for (int i = 0; i < n_in; i++)
        if (!keep[ins[i]->node])
            return dc_set_error(DC_ERR_ARG, "%s: input %d ('%s') leads to no output", fn, i,
                                g->nodes[ins[i]->node].layer->name);
    int *renum = dc_malloc((size_t)g->n_nodes * sizeof *renum);
    m->nodes = dc_calloc((size_t)g->n_nodes, sizeof *m->nodes);
    m->layers = dc_calloc((size_t)g->n_layers + 1, sizeof *m->layers);
    m->values = dc_calloc((size_t)g->n_nodes, sizeof *m->values);
    if (!renum || !m->nodes || !m->layers || !m->values) {
        dc_free(renum);
        return dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    }
    m->cap_layers = g->n_layers + 1;
    for (int k = 0; k < g->n_nodes; k++) {
        renum[k] = -1;
        if (!keep[k]) continue;
        dc_call_node nd = g->nodes[k];
        for (int j = 0; j < nd.n_in; j++) nd.in[j] = renum[nd.in[j]];
        for (int i = 0; nd.n_in == 0 && i < n_in; i++)
            if (ins[i]->node == k) nd.input_index = i;
        int li = layer_index(g, nd.layer);
        if (li >= 0) { /* first kept call: the model takes the layer */
            m->layers[m->n_layers++] = nd.layer;
            g->layers[li] = g->layers[--g->n_layers];
        }
        renum[k] = m->n_nodes;
        m->nodes[m->n_nodes++] = nd;
    }
    for (int i = 0; i < n_in; i++) m->inputs[i] = renum[ins[i]->node];
    for (int i = 0; i < n_out; i++) m->outputs[i] = renum[outs[i]->node];
    m->n_inputs = n_in;
    m->n_outputs = n_out;
    dc_free(renum);
    return DC_OK;
}

dc_model *dc_model_functional(const char *name, dc_graph *g, dc_symbol *const *inputs, int n_in,
                              dc_symbol *const *outputs, int n_out) {
    const char *fn = "dc_model_functional";
    if (check_io(fn, g, inputs, n_in, outputs, n_out) != DC_OK) {
        dc_graph_free(g);
        return NULL;
    }
    dc_model *m = dc_sequential_new(name ? name : "functional");
    bool *keep = m ? dc_calloc((size_t)g->n_nodes, sizeof *keep) : NULL;
    dc_status s = m && keep ? DC_OK : DC_ERR_NOMEM;
    if (s == DC_OK) {
        m->functional = true;
        mark_needed(g, outputs, n_out, keep);
        s = take_graph(fn, m, g, keep, inputs, n_in, outputs, n_out);
    } else if (m) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
    }
    dc_free(keep);
    dc_graph_free(g); /* the layers no output needs */
    if (s != DC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", dc_last_error());
        dc_model_free(m);
        dc_set_error(s, "%s", msg);
        return NULL;
    }
    return m;
}

bool dc_model_is_functional(const dc_model *m) { return m && m->functional; }
int dc_model_num_inputs(const dc_model *m) { return m ? (m->functional ? m->n_inputs : 1) : 0; }
int dc_model_num_outputs(const dc_model *m) { return m ? (m->functional ? m->n_outputs : 1) : 0; }

/* "'conv_a' (None, 8, 8, 16) and 'conv_b' (None, 8, 8, 32)": a node's inputs. */
static void describe_inputs(const dc_model *m, const dc_call_node *nd, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    for (int j = 0; j < nd->n_in && len + 2 < n; j++) {
        const dc_call_node *src = &m->nodes[nd->in[j]];
        char s[128];
        len += (size_t)snprintf(buf + len, n - len, "%s'%s' %s", j ? " and " : "",
                                src->layer ? src->layer->name : "input",
                                dc_layer_shape_string(src->ndim, src->shape, s, sizeof s));
    }
}

/* A shared layer's later call: its inputs must have the shapes of the first. */
static dc_status check_shared(const dc_model *m, const dc_call_node *nd) {
    const dc_layer *l = nd->layer;
    bool same = nd->n_in == l->n_in;
    for (int j = 0; same && j < nd->n_in; j++) {
        const dc_call_node *src = &m->nodes[nd->in[j]];
        same = src->ndim == l->in_ndims[j] &&
               !memcmp(src->shape, l->in_shapes[j], (size_t)src->ndim * sizeof(int64_t));
    }
    if (same) return DC_OK;
    const dc_call_node *first = nd;
    for (int k = 0; k < m->n_nodes; k++)
        if (m->nodes[k].layer == l && m->nodes[k].call == 0) first = &m->nodes[k];
    char a[512], b[512], by[96] = "";
    describe_inputs(m, nd, a, sizeof a);
    describe_inputs(m, first, b, sizeof b);
    if (nd->label[0]) snprintf(by, sizeof by, " by '%s'", nd->label);
    return dc_set_error(DC_ERR_SHAPE,
                        "layer '%s' (%s) called again%s on %s; its first call took %s, and a "
                        "shared layer takes the same shapes",
                        l->name, dc_layer_type(l), by, a, b);
}

/* Builds nd's layer on its input nodes' shapes; errors name the inputs. */
static dc_status build_call(dc_model *m, dc_call_node *nd) {
    dc_layer *l = nd->layer;
    l->n_in = nd->n_in;
    for (int j = 0; j < nd->n_in; j++) {
        const dc_call_node *src = &m->nodes[nd->in[j]];
        l->in_ndims[j] = src->ndim;
        memcpy(l->in_shapes[j], src->shape, sizeof src->shape);
    }
    l->in_ndim = l->in_ndims[0];
    memcpy(l->in_shape, l->in_shapes[0], sizeof l->in_shape);
    l->n_params = 0;
    if (dc_layer_table[l->kind].build(l) == DC_OK) return DC_OK;
    if (!m->functional) return dc_last_status(); /* a chain's messages name the layer already */
    char msg[512], a[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    describe_inputs(m, nd, a, sizeof a);
    return dc_set_error(dc_last_status(), "layer '%s' (%s) on %s: %s", l->name, dc_layer_type(l),
                        a, msg);
}

dc_status dc_graph_infer(dc_model *m, int ndim, const int64_t *shape) {
    for (int k = 0; k < m->n_nodes; k++) {
        dc_call_node *nd = &m->nodes[k];
        dc_layer *l = nd->layer;
        if (nd->n_in == 0) { /* a model input: the given shape, or its InputLayer's */
            bool given = nd->input_index == 0 && ndim > 0;
            if (!given && !l)
                return dc_set_error(DC_ERR_ARG, "no input shape given and the model has no Input layer");
            if (l) {
                l->n_in = 1;
                l->in_ndim = l->in_ndims[0] = given ? ndim : l->out_ndim;
                memcpy(l->in_shape, given ? shape : l->out_shape,
                       (size_t)l->in_ndim * sizeof *shape);
                memcpy(l->in_shapes[0], l->in_shape, sizeof l->in_shape);
                l->n_params = 0;
                if (dc_layer_table[l->kind].build(l) != DC_OK) return dc_last_status();
            }
            nd->ndim = l ? l->out_ndim : ndim;
            memcpy(nd->shape, l ? l->out_shape : shape, (size_t)nd->ndim * sizeof *shape);
            continue;
        }
        if (nd->call > 0 ? check_shared(m, nd) != DC_OK : build_call(m, nd) != DC_OK)
            return dc_last_status();
        nd->ndim = l->out_ndim;
        memcpy(nd->shape, l->out_shape, sizeof nd->shape);
    }
    return DC_OK;
}
