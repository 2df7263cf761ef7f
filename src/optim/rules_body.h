/* rules_body.h — the update loops of SGD, Adagrad, Adadelta and RMSprop (the
 * rules and their Keras/torch differences are documented in sgd.c adagrad.c
 * adadelta.c rmsprop.c), included by rules.c (portable build) and by
 * rules_avx2.c / rules_avx512.c (built with those flags): the baseline build
 * vectorizes only with SSE2, and sqrt/div loops gain 2-4x from wider vectors.
 * -std=c11 keeps fp-contract off, so every build gives the same bits. */
#ifndef RULES_SUFFIX
#error "define RULES_SUFFIX before including rules_body.h"
#endif
#include "optim.h"
#include <math.h>

#define RULES_CAT2(a, b) a##_##b
#define RULES_CAT(a, b) RULES_CAT2(a, b)

/* ---- sgd (sgd.c) ---- */

// params (n,), grads (n,), m (n,) -> params, m updated in place
void RULES_CAT(dc_sgd_update, RULES_SUFFIX)(const struct dc_optimizer *o,
                                            const dc_optim_ctx *c, float *params,
                                            const float *grads, size_t off, size_t n) {
    float *restrict p = params;
    const float *restrict g = grads;
    const float lr = c->lr, wd = c->wd, gs = c->gscale, lo = c->clip_lo, hi = c->clip_hi;
    const int64_t nn = (int64_t)n;
    if (o->n_slots == 0) {
#pragma omp simd
        for (int64_t i = 0; i < nn; i++) {
            float w = p[i] - p[i] * wd * lr;
            p[i] = w - dc_optim_grad(g[i], gs, lo, hi) * lr;
        }
        return;
    }
    float *restrict m = o->slot[0] + off;
    const float mom = (float)o->momentum;
    /* var += a * m + b * g covers both forms without a branch in the loop:
     * plain (a 1, b 0) and Nesterov (a momentum, b -lr). */
    const float a = o->nesterov ? mom : 1.0f, b = o->nesterov ? -lr : 0.0f;
#pragma omp simd
    for (int64_t i = 0; i < nn; i++) {
        float w = p[i] - p[i] * wd * lr;
        float gi = dc_optim_grad(g[i], gs, lo, hi);
        float mi = m[i] * mom - gi * lr;
        m[i] = mi;
        p[i] = w + (mi * a + gi * b);
    }
}

/* ---- adagrad (adagrad.c) ---- */

// params (n,), grads (n,), acc (n,) -> updated in place
void RULES_CAT(dc_adagrad_update, RULES_SUFFIX)(const struct dc_optimizer *o,
                                            const dc_optim_ctx *c, float *params,
                                            const float *grads, size_t off, size_t n) {
    float *restrict p = params;
    const float *restrict g = grads;
    float *restrict acc = o->slot[0] + off;
    const float lr = c->lr, wd = c->wd, gs = c->gscale, lo = c->clip_lo, hi = c->clip_hi;
    const float eps = (float)o->epsilon;
    const int64_t nn = (int64_t)n;
#pragma omp simd
    for (int64_t i = 0; i < nn; i++) {
        float w = p[i] - p[i] * wd * lr;
        float gi = dc_optim_grad(g[i], gs, lo, hi);
        float a = acc[i] + gi * gi;
        acc[i] = a;
        p[i] = w - (lr * gi) / sqrtf(a + eps);
    }
}

/* ---- adadelta (adadelta.c) ---- */

// params (n,), grads (n,), a_g (n,), a_dx (n,) -> updated in place
void RULES_CAT(dc_adadelta_update, RULES_SUFFIX)(const struct dc_optimizer *o,
                                            const dc_optim_ctx *c, float *params,
                                            const float *grads, size_t off, size_t n) {
    float *restrict p = params;
    const float *restrict g = grads;
    float *restrict ag = o->slot[0] + off;
    float *restrict ad = o->slot[1] + off;
    const float lr = c->lr, wd = c->wd, gs = c->gscale, lo = c->clip_lo, hi = c->clip_hi;
    const float rho = (float)o->rho, c1 = (float)(1.0 - o->rho), eps = (float)o->epsilon;
    const int64_t nn = (int64_t)n;
#pragma omp simd
    for (int64_t i = 0; i < nn; i++) {
        float w = p[i] - p[i] * wd * lr;
        float gi = dc_optim_grad(g[i], gs, lo, hi);
        float a = rho * ag[i] + c1 * (gi * gi);
        float d = -((sqrtf(ad[i] + eps) * gi) / sqrtf(a + eps));
        ag[i] = a;
        ad[i] = rho * ad[i] + c1 * (d * d);
        p[i] = w + lr * d;
    }
}

/* ---- rmsprop (rmsprop.c) ---- */

/* One loop per variant, generated with literal flags so that each copy is
 * branch-free (a flag passed as an argument could stay a branch inside the
 * vectorized loop). */
// params (n,), grads (n,), v (n,) [, mom (n,)] [, avg (n,)] -> updated in place
#define RMS_LOOP(NAME, CENTERED, USE_MOM)                                                   \
    static void NAME(const struct dc_optimizer *o, const dc_optim_ctx *c, float *restrict p,  \
                     const float *restrict g, float *restrict v, float *restrict mo,         \
                     float *restrict av, int64_t nn) {                                        \
        const float lr = c->lr, wd = c->wd, gs = c->gscale, lo = c->clip_lo, hi = c->clip_hi; \
        const float rho = (float)o->rho, c1 = (float)(1.0 - o->rho);                         \
        const float eps = (float)o->epsilon, mom = (float)o->momentum;                       \
        (void)mo;                                                                             \
        (void)av;                                                                             \
        (void)mom;                                                                            \
        _Pragma("omp simd")                                                                  \
        for (int64_t i = 0; i < nn; i++) {                                                    \
            float w = p[i] - p[i] * wd * lr;                                                  \
            float gi = dc_optim_grad(g[i], gs, lo, hi);                                       \
            float vi = rho * v[i] + c1 * (gi * gi);                                           \
            v[i] = vi;                                                                        \
            float den = vi + eps;                                                             \
            if (CENTERED) {                                                                   \
                float ai = rho * av[i] + c1 * gi;                                             \
                av[i] = ai;                                                                   \
                den = vi - ai * ai + eps;                                                     \
            }                                                                                 \
            float inc = (lr * gi) / sqrtf(den);                                               \
            if (USE_MOM) {                                                                    \
                inc = mom * mo[i] + inc;                                                      \
                mo[i] = inc;                                                                  \
            }                                                                                 \
            p[i] = w - inc;                                                                   \
        }                                                                                     \
    }
RMS_LOOP(rms_plain, 0, 0)
RMS_LOOP(rms_mom, 0, 1)
RMS_LOOP(rms_centered, 1, 0)
RMS_LOOP(rms_centered_mom, 1, 1)

void RULES_CAT(dc_rmsprop_update, RULES_SUFFIX)(const struct dc_optimizer *o,
                                            const dc_optim_ctx *c, float *params,
                                            const float *grads, size_t off, size_t n) {
    const bool use_mom = o->momentum > 0;
    float *v = o->slot[0] + off;
    float *mo = use_mom ? o->slot[1] + off : NULL;
    float *av = o->centered ? o->slot[use_mom ? 2 : 1] + off : NULL;
    const int64_t nn = (int64_t)n;
    if (use_mom && o->centered) rms_centered_mom(o, c, params, grads, v, mo, av, nn);
    else if (use_mom) rms_mom(o, c, params, grads, v, mo, av, nn);
    else if (o->centered) rms_centered(o, c, params, grads, v, mo, av, nn);
    else rms_plain(o, c, params, grads, v, mo, av, nn);
}
