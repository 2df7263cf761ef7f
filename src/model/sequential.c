/* sequential.c — the Sequential model: layers in order, Keras' automatic names,
 * shape inference at build, every parameter a view into one flat weight buffer
 * (and one gradient buffer), model(x) on a tape, and the summary table. */
#include "model.h"
#include "../ops/op.h"
#include <string.h>

dc_model *dc_sequential_new(const char *name) {
    dc_model *m = dc_calloc(1, sizeof *m);
    if (!m) {
        dc_set_error(DC_ERR_NOMEM, "dc_sequential_new: out of memory");
        return NULL;
    }
    if (name && (!*name || strlen(name) >= sizeof m->name)) {
        dc_set_error(DC_ERR_ARG, "dc_sequential_new: name '%s' must be 1 to %d characters", name,
                     (int)sizeof m->name - 1);
        dc_free(m);
        return NULL;
    }
    snprintf(m->name, sizeof m->name, "%s", name ? name : "sequential");
    return m;
}

void dc_model_free(dc_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_layers; i++) dc_layer_free(m->layers[i]);
    dc_free(m->layers);
    dc_free(m->params);
    dc_free_aligned(m->weights);
    dc_free_aligned(m->grads);
    dc_optimizer_free(m->opt);
    dc_optimizer_free(m->opt_options);
    dc_tape_free(m->tape);
    dc_tape_free(m->infer_tape);
    dc_free(m->nodes);
    dc_free(m->values);
    dc_model_metadata_free(m);
    dc_free(m);
}

dc_status dc_model_add(dc_model *m, dc_layer *l) {
    if (m && !l && dc_last_status() != DC_OK) {
        /* dc_model_add(m, dc_layer_dense(...)): keep the constructor's error (often out of memory) */
        char why[512];
        snprintf(why, sizeof why, "%s", dc_last_error());
        return dc_set_error(dc_last_status(), "dc_model_add: layer is NULL: %s", why);
    }
    if (!m || !l) {
        dc_layer_free(l);
        return dc_set_error(DC_ERR_ARG, "dc_model_add: %s is NULL", m ? "layer" : "model");
    }
    if (m->built || m->functional) {
        dc_layer_free(l);
        return dc_set_error(DC_ERR_STATE, "dc_model_add: model '%s' is %s", m->name,
                            m->built ? "already built" : "functional (dc_call adds layers)");
    }
    if (l->kind == DC_LAYER_INPUT && m->n_layers > 0) {
        dc_layer_free(l);
        return dc_set_error(DC_ERR_ARG, "dc_model_add: an Input layer must come first");
    }
    if (dc_layer_unique_name("dc_model_add", m->name, m->layers, m->n_layers, l) != DC_OK) {
        dc_layer_free(l);
        return dc_last_status();
    }
    if (m->n_layers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 8;
        dc_layer **ls = dc_realloc(m->layers, (size_t)cap * sizeof *ls);
        if (!ls) {
            dc_layer_free(l);
            return dc_set_error(DC_ERR_NOMEM, "dc_model_add: out of memory");
        }
        m->layers = ls;
        m->cap_layers = cap;
    }
    m->layers[m->n_layers++] = l;
    return DC_OK;
}

static void unbuild(dc_model *m) {
    for (int i = 0; i < m->n_layers; i++) {
        dc_layer *l = m->layers[i];
        for (int j = 0; j < l->n_params; j++) dc_tensor_free(l->params[j].t);
        l->n_params = 0;
    }
    dc_free(m->params);
    dc_free_aligned(m->weights);
    dc_free_aligned(m->grads);
    m->params = NULL;
    m->weights = m->grads = NULL;
    m->n_params = 0;
    m->n_weights = m->n_trainable = 0;
    m->built = false;
    if (!m->functional) { /* a Sequential model's chain is made again at build */
        dc_free(m->nodes);
        dc_free(m->values);
        m->nodes = NULL;
        m->values = NULL;
        m->n_nodes = 0;
    }
}

static void too_many_weights(const char *layer, const char *param, int64_t k, uint64_t cap);

/* A Sequential model's graph: its input (the InputLayer, if first), then
 * each layer on the one before. */
static dc_status make_chain(dc_model *m) {
    m->nodes = dc_calloc((size_t)m->n_layers + 1, sizeof *m->nodes);
    m->values = dc_calloc((size_t)m->n_layers + 1, sizeof *m->values);
    if (!m->nodes || !m->values) return dc_set_error(DC_ERR_NOMEM, "out of memory");
    bool has_input = m->layers[0]->kind == DC_LAYER_INPUT;
    m->nodes[0].layer = has_input ? m->layers[0] : NULL;
    m->n_nodes = 1;
    for (int i = has_input ? 1 : 0; i < m->n_layers; i++) {
        dc_call_node *nd = &m->nodes[m->n_nodes];
        nd->layer = m->layers[i];
        nd->n_in = 1;
        nd->in[0] = m->n_nodes - 1;
        nd->input_index = -1;
        m->n_nodes++;
    }
    m->n_inputs = m->n_outputs = 1;
    m->inputs[0] = 0;
    m->outputs[0] = m->n_nodes - 1;
    return DC_OK;
}

/* Counts l's declared parameters into the totals, refusing more than
 * max_weights in all before anything is allocated. */
static dc_status count_params(const dc_layer *l, uint64_t max_weights, const char *cap_source,
                              size_t *n_all, size_t *n_tr, int *n_params) {
    for (int j = 0; j < l->n_params; j++) {
        const dc_param *p = &l->params[j];
        int64_t k = dc_shape_numel(p->ndim, p->shape);
        if (k < 0)
            return dc_set_error(DC_ERR_SHAPE, "layer '%s': parameter '%s' is too large", l->name,
                                p->name);
        if (strlen(l->name) + 1 + strlen(p->name) >= sizeof p->t->name)
            return dc_set_error(DC_ERR_ARG, "layer name '%s' is too long for parameter names",
                                l->name);
        if ((uint64_t)k > max_weights - *n_all) {
            if (cap_source)
                return dc_set_error(DC_ERR_FORMAT, "layer '%s': parameter '%s' needs %lld weights; %s",
                                    l->name, p->name, (long long)k, cap_source);
            too_many_weights(l->name, p->name, k, max_weights);
            return dc_last_status();
        }
        *n_all += (size_t)k;
        if (p->trainable) *n_tr += (size_t)k;
        (*n_params)++;
    }
    return DC_OK;
}

/* n with thousands separators: "3,528,000,000,000". */
static const char *group_digits(int64_t n, char out[48]) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", (long long)n), k = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && digits[i - 1] != '-' && (len - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = '\0';
    return out;
}

/* "layer 'dense': parameter 'kernel' needs 3,528,000,000,000 weights (14.1 TB);
 * too many", so a typo in a unit count reads as what it is. */
static void too_many_weights(const char *layer, const char *param, int64_t k, uint64_t cap) {
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
    double bytes = (double)k * sizeof(float);
    int u = 0;
    while (bytes >= 1000 && u < 6) bytes /= 1000, u++;
    char a[48], b[48];
    dc_set_error(DC_ERR_NOMEM,
                 "layer '%s': parameter '%s' needs %s weights (%.3g %s of floats); too many (a "
                 "model holds at most %s)",
                 layer, param, group_digits(k, a), bytes, unit[u], group_digits((int64_t)cap, b));
}

/* A layer's random stream and its wrapped layers' (Bidirectional's two RNNs),
 * all fixed at build, so a resume checkpoint restores every one of them. */
static void seed_rngs(dc_layer *l, uint64_t seed) {
    dc_rng_seed(&l->rng, seed);
    for (int k = 0; k < 2; k++)
        if (l->sub[k]) dc_rng_seed(&l->sub[k]->rng, seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(k + 1)));
}

static dc_status build_fail(dc_model *m) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", dc_last_error());
    dc_status s = dc_last_status() != DC_OK ? dc_last_status() : DC_ERR_STATE;
    unbuild(m);
    return dc_set_error(s, "dc_model_build: %s", msg);
}

dc_status dc_model_build(dc_model *m, int ndim, const int64_t *input_shape, uint64_t seed) {
    return dc_model_build_capped(m, ndim, input_shape, seed, (uint64_t)1 << 40, NULL);
}

dc_status dc_model_build_capped(dc_model *m, int ndim, const int64_t *input_shape, uint64_t seed,
                                uint64_t max_weights, const char *cap_source) {
    if (!m) return dc_set_error(DC_ERR_ARG, "dc_model_build: model is NULL");
    if (m->built) return dc_set_error(DC_ERR_STATE, "dc_model_build: model '%s' is already built", m->name);
    if (m->n_layers == 0) return dc_set_error(DC_ERR_STATE, "dc_model_build: model '%s' has no layers", m->name);
    if (ndim < 0 || ndim > DC_MAX_DIMS - 1 || (ndim > 0 && !input_shape))
        return dc_set_error(DC_ERR_ARG, "dc_model_build: input ndim %d must be 0 to %d (without the batch axis)",
                            ndim, DC_MAX_DIMS - 1);
    for (int i = 0; i < ndim; i++) /* -1: None, a length each batch sets */
        if (input_shape[i] <= 0 && input_shape[i] != -1) {
            char s[128];
            return dc_set_error(DC_ERR_SHAPE,
                                "dc_model_build: input shape %s has a dim <= 0 (-1 is None)",
                                dc_layer_shape_string(ndim, input_shape, s, sizeof s));
        }
    if (!m->functional && make_chain(m) != DC_OK) return build_fail(m);
    /* shape inference and parameter declarations, each layer at its first call */
    if (dc_graph_infer(m, ndim, input_shape) != DC_OK) return build_fail(m);
    const dc_call_node *in0 = &m->nodes[m->inputs[0]], *out0 = &m->nodes[m->outputs[0]];
    m->in_ndim = in0->ndim;
    memcpy(m->in_shape, in0->shape, sizeof m->in_shape);
    m->out_ndim = out0->ndim;
    memcpy(m->out_shape, out0->shape, sizeof m->out_shape);
    size_t n_tr = 0, n_all = 0;
    int n_params = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (count_params(m->layers[i], max_weights, cap_source, &n_all, &n_tr, &n_params) != DC_OK)
            return build_fail(m);
    /* one flat buffer each; parameters are views */
    m->weights = dc_malloc_aligned((n_all ? n_all : 1) * sizeof(float));
    m->grads = dc_malloc_aligned((n_tr ? n_tr : 1) * sizeof(float));
    m->params = dc_calloc((size_t)(n_params ? n_params : 1), sizeof *m->params);
    if (!m->weights || !m->grads || !m->params) {
        dc_set_error(DC_ERR_NOMEM, "out of memory for %zu weights", n_all);
        return build_fail(m);
    }
    memset(m->grads, 0, (n_tr ? n_tr : 1) * sizeof(float));
    m->n_weights = n_all;
    m->n_trainable = n_tr;
    m->seed = seed;
    size_t off_tr = 0, off_nt = n_tr;
    dc_rng rng;
    dc_rng_seed(&rng, seed);
    for (int pass = 0; pass < 2; pass++) /* trainable first, then the rest */
        for (int i = 0; i < m->n_layers; i++) {
            dc_layer *l = m->layers[i];
            for (int j = 0; j < l->n_params; j++) {
                dc_param *p = &l->params[j];
                if (p->trainable != (pass == 0)) continue;
                size_t *off = p->trainable ? &off_tr : &off_nt;
                p->t = dc_tensor_wrap(p->ndim, p->shape, m->weights + *off);
                if (!p->t) return build_fail(m);
                char full[128];
                snprintf(full, sizeof full, "%s/%s", l->name, p->name);
                dc_tensor_set_name(p->t, full); /* fits: checked above */
                if (p->trainable) {
                    p->t->grad = m->grads + *off;
                    p->t->flags |= DC_TF_REQUIRES_GRAD;
                }
                *off += (size_t)p->t->size;
                m->params[m->n_params++] = p;
            }
        }
    /* initial values in layer order, whatever the buffer layout */
    for (int i = 0; i < m->n_layers; i++) {
        dc_layer *l = m->layers[i];
        for (int j = 0; j < l->n_params; j++)
            if (dc_initializer_fill(l->params[j].t, l->params[j].init, &rng) != DC_OK)
                return build_fail(m);
        seed_rngs(l, seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1)));
    }
    dc_model_fuse(m, true);
    m->built = true;
    return DC_OK;
}

/* How many inputs of later nodes, and model outputs, read node k. */
static int consumers(const dc_model *m, int k) {
    int n = 0;
    for (int j = k + 1; j < m->n_nodes; j++)
        for (int i = 0; i < m->nodes[j].n_in; i++) n += m->nodes[j].in[i] == k;
    for (int i = 0; i < m->n_outputs; i++) n += m->outputs[i] == k;
    return n;
}

/* Whether l is called by one node only (a shared layer's flags would apply to every call). */
static bool called_once(const dc_model *m, const dc_layer *l) {
    int n = 0;
    for (int k = 0; k < m->n_nodes; k++) n += m->nodes[k].layer == l;
    return n == 1;
}

void dc_model_fuse(dc_model *m, bool on) {
    dc_layers_fuse(m->layers, m->n_layers, false);
    /* A MaxPooling2D on a Conv2D whose output nothing else reads (a chain's
     * neighbours, or a graph's conv feeding only its pool) runs inside the conv. */
    for (int k = 0; on && k < m->n_nodes; k++) {
        const dc_call_node *nd = &m->nodes[k];
        if (!nd->layer || nd->layer->kind != DC_LAYER_MAX_POOLING2D || nd->n_in != 1) continue;
        const dc_call_node *src = &m->nodes[nd->in[0]];
        if (src->layer && src->layer->kind == DC_LAYER_CONV2D && consumers(m, nd->in[0]) == 1 &&
            called_once(m, src->layer) && called_once(m, nd->layer))
            dc_layers_fuse((dc_layer *[]){src->layer, nd->layer}, 2, true);
    }
}

bool dc_model_is_built(const dc_model *m) { return m && m->built; }
const char *dc_model_name(const dc_model *m) { return m ? m->name : NULL; }
int dc_model_num_layers(const dc_model *m) { return m ? m->n_layers : 0; }
dc_layer *dc_model_layer(const dc_model *m, int i) {
    return m && i >= 0 && i < m->n_layers ? m->layers[i] : NULL;
}
dc_layer *dc_model_get_layer(const dc_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (int i = 0; i < m->n_layers; i++)
        if (!strcmp(m->layers[i]->name, name)) return m->layers[i];
    return NULL;
}

dc_status dc_model_run(dc_model *m, dc_tape *t, dc_tensor *const *xs, bool training,
                       unsigned fused, dc_tensor **outs) {
    for (int k = 0; k < m->n_nodes; k++) {
        dc_call_node *nd = &m->nodes[k];
        if (nd->n_in == 0) { /* an InputLayer is the identity */
            m->values[k] = xs[nd->input_index];
            continue;
        }
        dc_tensor *ins[DC_LAYER_MAX_IN];
        for (int j = 0; j < nd->n_in; j++) ins[j] = m->values[nd->in[j]];
        dc_layer *l = nd->layer;
        l->act_skip = false;
        for (int i = 0; i < m->n_outputs; i++) l->act_skip |= (fused >> i & 1u) && k == m->outputs[i];
        m->values[k] = dc_layer_call_n(l, t, ins, nd->n_in, training);
        l->act_skip = false;
        if (!m->values[k]) return dc_tape_status(t) != DC_OK ? dc_tape_status(t) : dc_last_status();
    }
    for (int i = 0; i < m->n_outputs; i++) outs[i] = m->values[m->outputs[i]];
    return DC_OK;
}

dc_tensor *dc_model_forward(dc_model *m, dc_tape *t, dc_tensor *x, bool training, bool fused) {
    dc_tensor *outs[DC_MAX_MODEL_IO];
    return dc_model_run(m, t, &x, training, fused ? 1u : 0u, outs) == DC_OK ? outs[0] : NULL;
}

dc_layer *dc_model_output_layer(const dc_model *m) {
    return m->n_nodes ? m->nodes[m->outputs[0]].layer : NULL;
}

dc_status dc_model_check_input(const char *fn, const char *what, const dc_model *m,
                               const dc_tensor *x) {
    bool ok = x->ndim == m->in_ndim + 1;
    for (int i = 0; ok && i < m->in_ndim; i++) /* None (-1) takes any length > 0 */
        ok = x->shape[i + 1] == m->in_shape[i] || (m->in_shape[i] == -1 && x->shape[i + 1] > 0);
    if (ok) return DC_OK;
    char a[128], b[128];
    return dc_set_error(DC_ERR_SHAPE, "%s: %s %s does not match the model's input %s", fn, what,
                        dc_shape_string(x->ndim, x->shape, a, sizeof a),
                        dc_layer_shape_string(m->in_ndim, m->in_shape, b, sizeof b));
}

dc_tensor *dc_model_call(dc_model *m, dc_tape *t, dc_tensor *x, bool training) {
    if (!t) {
        dc_set_error(DC_ERR_ARG, "dc_model_call: tape is NULL");
        return NULL;
    }
    if (dc_tape_status(t) != DC_OK) return NULL;
    if (!m || !x) {
        dc_set_error(DC_ERR_ARG, "dc_model_call: %s is NULL", m ? "input" : "model");
        dc_tape_fail(t);
        return NULL;
    }
    if (!m->built) {
        dc_set_error(DC_ERR_STATE, "dc_model_call: model '%s' is not built (dc_model_build)",
                     m->name);
        dc_tape_fail(t);
        return NULL;
    }
    if (dc_model_check_input("dc_model_call", "input", m, x) != DC_OK) {
        dc_tape_fail(t);
        return NULL;
    }
    if (m->n_inputs != 1 || m->n_outputs != 1) {
        dc_set_error(DC_ERR_ARG,
                     "dc_model_call: model '%s' has %d inputs and %d outputs (dc_model_call_multi)",
                     m->name, m->n_inputs, m->n_outputs);
        dc_tape_fail(t);
        return NULL;
    }
    return dc_model_forward(m, t, x, training, false);
}

dc_status dc_model_check_inputs(const char *fn, const dc_model *m, dc_tensor *const *xs) {
    for (int i = 0; i < m->n_inputs; i++) {
        const dc_call_node *nd = &m->nodes[m->inputs[i]];
        const dc_tensor *x = xs[i];
        bool ok = x && x->ndim == nd->ndim + 1;
        for (int d = 0; ok && d < nd->ndim; d++)
            ok = x->shape[d + 1] == nd->shape[d] || (nd->shape[d] == -1 && x->shape[d + 1] > 0);
        if (!ok) {
            char a[128] = "NULL", b[128];
            if (x) dc_shape_string(x->ndim, x->shape, a, sizeof a);
            return dc_set_error(DC_ERR_SHAPE, "%s: input %d %s does not match '%s' %s", fn, i, a,
                                nd->layer ? nd->layer->name : "input",
                                dc_layer_shape_string(nd->ndim, nd->shape, b, sizeof b));
        }
    }
    return DC_OK;
}

dc_status dc_model_call_multi(dc_model *m, dc_tape *t, dc_tensor *const *xs, bool training,
                              dc_tensor **outs) {
    const char *fn = "dc_model_call_multi";
    if (!m || !t || !xs || !outs) return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    if (dc_tape_status(t) != DC_OK) return dc_tape_status(t);
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
    if (dc_model_check_inputs(fn, m, xs) != DC_OK) {
        dc_tape_fail(t);
        return dc_last_status();
    }
    dc_status s = dc_model_run(m, t, xs, training, 0, outs);
    if (s != DC_OK) dc_tape_fail(t);
    return s;
}

static void print_count(FILE *f, const char *label, int64_t n) {
    char out[48];
    fprintf(f, "%s: %s\n", label, group_digits(n, out));
}

/* Where the summary's columns end (see row); a functional model's table adds
 * "Connected to" up to SUMMARY_WIDE. */
enum { SUMMARY_COL1 = 33, SUMMARY_COL2 = 57, SUMMARY_WIDTH = 70, SUMMARY_WIDE = 110 };

static void rule(FILE *f, char c, int width) {
    char line[SUMMARY_WIDE + 1];
    memset(line, c, (size_t)width);
    line[width] = '\0';
    fprintf(f, "%s\n", line);
}

/* One row of Keras' table (print_row) with Keras 3's column widths: 31
 * characters for "name (Type)", 22 for the shape, each column keeping 2
 * blanks before the next; text too long for its column goes on below, the
 * first column at its last blank, so "(GlobalAveragePooling2D)" moves down
 * whole as Keras 3 wraps it. Trailing blanks are dropped. n is 3, or 4 with
 * "Connected to" (its own column wraps after a comma). */
static void row(FILE *f, int n, const char *const *cols) {
    static const size_t pos[4] = {SUMMARY_COL1, SUMMARY_COL2, SUMMARY_WIDTH, SUMMARY_WIDE};
    const char *left[4] = {cols[0], cols[1], cols[2], n > 3 ? cols[3] : ""};
    while (*left[0] || *left[1] || *left[2] || *left[3]) {
        char line[256];
        size_t len = 0;
        for (int col = 0; col < n; col++) {
            size_t start = col ? pos[col - 1] : 0, space = col < n - 1 ? 2 : 0;
            size_t cut = pos[col] - start - space, avail = strlen(left[col]);
            if (cut > avail) cut = avail;
            /* Keras breaks early after the end of a tuple or list */
            static const char *const brk[4] = {"),", "},", "],", "',"};
            for (int k = 0; k < 4 && col < 3; k++) {
                const char *hit = strstr(left[col], brk[k]);
                if (hit && (size_t)(hit - left[col]) + 2 <= cut) cut = (size_t)(hit - left[col]) + 2;
            }
            size_t skip = 0;
            if ((col == 0 || col == 3) && cut < avail) { /* break at the last blank that fits */
                size_t b = cut;
                while (b > 0 && left[col][b] != ' ') b--;
                if (b > 0) cut = b, skip = 1;
            }
            if (col == 0) line[len++] = ' ';
            memcpy(line + len, left[col], cut);
            len += cut;
            left[col] += cut + skip;
            for (size_t k = 0; k < space; k++) line[len++] = ' ';
            while (len < pos[col]) line[len++] = ' ';
        }
        while (len > 0 && line[len - 1] == ' ') len--;
        line[len] = '\0';
        fprintf(f, "%s\n", line);
    }
}

/* Keras' "Connected to" for node k: "conv_a[0][0], b[0][0]" (layer, call, tensor). */
static void connected_to(const dc_model *m, int k, char *buf, size_t n) {
    size_t len = 0;
    buf[0] = '\0';
    const dc_call_node *nd = &m->nodes[k];
    for (int j = 0; j < nd->n_in && len + 2 < n; j++) {
        const dc_call_node *src = &m->nodes[nd->in[j]];
        len += (size_t)snprintf(buf + len, n - len, "%s%s[%d][0]", j ? ", " : "", src->layer->name,
                                src->call);
    }
}

dc_status dc_model_summary(const dc_model *m, FILE *f) {
    if (!m || !f) return dc_set_error(DC_ERR_ARG, "dc_model_summary: %s is NULL", m ? "file" : "model");
    if (!m->built)
        return dc_set_error(DC_ERR_STATE,
                            "dc_model_summary: model '%s' is not built yet (dc_model_build, or fit)",
                            m->name);
    const int ncol = m->functional ? 4 : 3, width = m->functional ? SUMMARY_WIDE : SUMMARY_WIDTH;
    fprintf(f, "Model: \"%s\"\n", m->name);
    rule(f, '_', width);
    row(f, ncol, (const char *[]){"Layer (type)", "Output Shape", "Param #", "Connected to"});
    rule(f, '=', width);
    int64_t total = 0, trainable = 0;
    /* a row per call (Keras' functional table); a layer's parameters count once */
    for (int k = 0; k < m->n_nodes; k++) {
        const dc_call_node *nd = &m->nodes[k];
        const dc_layer *l = nd->layer;
        if (!l || (l->kind == DC_LAYER_INPUT && !m->functional)) continue; /* Keras leaves it out of Sequential */
        int64_t n = 0;
        for (int j = 0; j < l->n_params; j++) {
            n += l->params[j].t->size;
            if (l->params[j].trainable && nd->call == 0) trainable += l->params[j].t->size;
        }
        if (nd->call == 0) total += n;
        char a[128], b[160], c[32], d[512];
        snprintf(a, sizeof a, "%s (%s)", l->name, dc_layer_type(l));
        dc_layer_shape_string(nd->ndim, nd->shape, b, sizeof b);
        snprintf(c, sizeof c, "%lld", (long long)(nd->call == 0 ? n : 0));
        d[0] = '\0';
        if (m->functional) connected_to(m, k, d, sizeof d);
        if (m->functional && !*d) snprintf(d, sizeof d, "-");
        row(f, ncol, (const char *[]){a, b, c, d});
        fprintf(f, "\n");
    }
    rule(f, '=', width);
    print_count(f, "Total params", total);
    print_count(f, "Trainable params", trainable);
    print_count(f, "Non-trainable params", total - trainable);
    rule(f, '_', width);
    return DC_OK;
}

int dc_model_num_params(const dc_model *m) { return m ? m->n_params : 0; }
dc_tensor *dc_model_param(const dc_model *m, int i) {
    return m && i >= 0 && i < m->n_params ? m->params[i]->t : NULL;
}
bool dc_model_param_trainable(const dc_model *m, int i) {
    return m && i >= 0 && i < m->n_params && m->params[i]->trainable;
}
dc_tensor *dc_model_find_param(const dc_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i]->t->name, name)) return m->params[i]->t;
    return NULL;
}
int dc_model_trainable_params(const dc_model *m, dc_tensor **out, int cap) {
    if (!m) return 0;
    int k = 0;
    for (int i = 0; i < m->n_params; i++)
        if (m->params[i]->trainable) {
            if (out && k < cap) out[k] = m->params[i]->t;
            k++;
        }
    return k;
}
int64_t dc_model_count_params(const dc_model *m) { return m ? (int64_t)m->n_weights : 0; }
int64_t dc_model_count_trainable_params(const dc_model *m) {
    return m ? (int64_t)m->n_trainable : 0;
}
void dc_model_zero_grad(dc_model *m) {
    if (m && m->grads) memset(m->grads, 0, m->n_trainable * sizeof(float));
}

static dc_status flat(const char *fn, dc_model *m, float *buf, size_t count, float **data,
                      size_t *n) {
    if (!m || !data || !n) return dc_set_error(DC_ERR_ARG, "%s: NULL argument", fn);
    if (!m->built) return dc_set_error(DC_ERR_STATE, "%s: model '%s' is not built", fn, m->name);
    *data = buf;
    *n = count;
    return DC_OK;
}
dc_status dc_model_weights(dc_model *m, float **data, size_t *n) {
    return flat("dc_model_weights", m, m ? m->weights : NULL, m ? m->n_trainable : 0, data, n);
}
dc_status dc_model_grads(dc_model *m, float **data, size_t *n) {
    return flat("dc_model_grads", m, m ? m->grads : NULL, m ? m->n_trainable : 0, data, n);
}
dc_status dc_model_all_weights(dc_model *m, float **data, size_t *n) {
    return flat("dc_model_all_weights", m, m ? m->weights : NULL, m ? m->n_weights : 0, data, n);
}
