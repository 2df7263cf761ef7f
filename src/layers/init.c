/* init.c — Keras' weight initializers by name, with Keras' formulas: fans from
 * the shape, truncated normals (cut at 2 std, by rejection) whose stddev is
 * divided by 0.87962566 so the result has the intended variance. */
#include "layer.h"
#include <math.h>
#include <string.h>

static const char *const init_names[] = {
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
    "lecun_uniform",  "zeros",         "ones",      "random_normal", "random_uniform",
    "orthogonal", "uniform" /* Keras' RandomUniform(-0.05, 0.05), Embedding's default */};
#define N_INIT (int)(sizeof init_names / sizeof *init_names)

static int init_index(const char *name) {
    for (int i = 0; i < N_INIT; i++)
        if (!strcmp(name, init_names[i])) return i;
    return -1;
}

dc_status dc_parse_initializer(const dc_layer *l, const char *key, const char *v) {
    if (init_index(v) >= 0) return DC_OK;
    return dc_set_error(DC_ERR_ARG,
                        "%s: option '%s': unknown initializer '%s' (known: glorot_uniform, "
                        "glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform, "
                        "zeros, ones, random_normal, random_uniform, orthogonal, uniform)",
                        dc_layer_type(l), key, v);
}

/* Keras' _compute_fans: 1-D (n) -> n, n; 2-D (in, out); k-D: the receptive
 * field (all but the last two dims) times in and out. */
static void fans(const dc_tensor *t, double *fan_in, double *fan_out) {
    if (t->ndim < 1) {
        *fan_in = *fan_out = 1;
    } else if (t->ndim == 1) {
        *fan_in = *fan_out = (double)t->shape[0];
    } else {
        double rf = 1;
        for (int i = 0; i < t->ndim - 2; i++) rf *= (double)t->shape[i];
        *fan_in = (double)t->shape[t->ndim - 2] * rf;
        *fan_out = (double)t->shape[t->ndim - 1] * rf;
    }
}

static void fill_uniform(float *x, int64_t n, double limit, dc_rng *r) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)((2.0 * dc_rng_uniform(r) - 1.0) * limit);
}

static void fill_truncated(float *x, int64_t n, double std, dc_rng *r) {
    for (int64_t i = 0; i < n; i++) {
        double z;
        do z = dc_rng_normal(r);
        while (z < -2.0 || z > 2.0);
        x[i] = (float)(z * std);
    }
}

/* Keras' Orthogonal (gain 1): a normal (max(r,c), min(r,c)) matrix, r the
 * product of all dims but the last and c the last, made orthonormal by QR with
 * the signs fixed so R's diagonal is positive (modified Gram-Schmidt in double
 * gives that factor directly), transposed when r < c. */
static dc_status fill_orthogonal(dc_tensor *t, dc_rng *r) {
    if (t->ndim < 2) return dc_set_error(DC_ERR_SHAPE, "orthogonal initializer: needs 2 or more dims");
    const int64_t cols = t->shape[t->ndim - 1], rows = t->size / (cols ? cols : 1);
    const int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
    if (m == 0 || n == 0) return DC_OK;
    double *q = dc_malloc((size_t)(m * n) * sizeof *q); /* column j at q + j*m */
    if (!q) return dc_set_error(DC_ERR_NOMEM, "orthogonal initializer: out of memory");
    for (int64_t i = 0; i < m; i++) /* drawn row by row, as the (m, n) matrix */
        for (int64_t j = 0; j < n; j++) q[j * m + i] = dc_rng_normal(r);
    for (int64_t j = 0; j < n; j++) {
        double *qj = q + j * m;
        for (int64_t p = 0; p < j; p++) {
            const double *qp = q + p * m;
            double d = 0;
            for (int64_t i = 0; i < m; i++) d += qp[i] * qj[i];
            for (int64_t i = 0; i < m; i++) qj[i] -= d * qp[i];
        }
        double nrm = 0;
        for (int64_t i = 0; i < m; i++) nrm += qj[i] * qj[i];
        nrm = sqrt(nrm);
        for (int64_t i = 0; i < m; i++) qj[i] = nrm > 0 ? qj[i] / nrm : 0;
    }
    for (int64_t i = 0; i < rows; i++) /* element (i, j) of the (rows, cols) result */
        for (int64_t j = 0; j < cols; j++)
            t->data[i * cols + j] = (float)(rows >= cols ? q[j * m + i] : q[i * m + j]);
    dc_free(q);
    return DC_OK;
}

dc_status dc_initializer_fill(dc_tensor *t, const char *name, dc_rng *rng) {
    if (!t || !name || !rng) return dc_set_error(DC_ERR_ARG, "dc_initializer_fill: NULL argument");
    /* LSTM's unit_forget_bias: the base initializer, then 1 on the forget gate
     * (the second quarter of the (4U) bias), as Keras builds it */
    if (!strncmp(name, DC_INIT_UNIT_FORGET, strlen(DC_INIT_UNIT_FORGET))) {
        dc_status s = dc_initializer_fill(t, name + strlen(DC_INIT_UNIT_FORGET), rng);
        const int64_t u = t->size / 4;
        for (int64_t i = u; s == DC_OK && i < 2 * u; i++) t->data[i] = 1.0f;
        return s;
    }
    int k = init_index(name);
    if (k < 0)
        return dc_set_error(DC_ERR_ARG, "dc_initializer_fill: unknown initializer '%s'", name);
    double fi, fo;
    fans(t, &fi, &fo);
    const double trunc = 0.87962566103423978; /* std of a unit normal cut at +-2 */
    float *x = t->data;
    int64_t n = t->size;
    switch (k) {
    case 0: fill_uniform(x, n, sqrt(6.0 / (fi + fo)), rng); break;
    case 1: fill_truncated(x, n, sqrt(2.0 / (fi + fo)) / trunc, rng); break;
    case 2: fill_truncated(x, n, sqrt(2.0 / fi) / trunc, rng); break;
    case 3: fill_uniform(x, n, sqrt(6.0 / fi), rng); break;
    case 4: fill_truncated(x, n, sqrt(1.0 / fi) / trunc, rng); break;
    case 5: fill_uniform(x, n, sqrt(3.0 / fi), rng); break;
    case 6: memset(x, 0, (size_t)n * sizeof *x); break;
    case 7:
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
        break;
    case 8:
        for (int64_t i = 0; i < n; i++) x[i] = (float)(0.05 * dc_rng_normal(rng));
        break;
    case 9:
    case 11: fill_uniform(x, n, 0.05, rng); break;
    case 10: return fill_orthogonal(t, rng);
    }
    return DC_OK;
}
