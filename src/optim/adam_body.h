/* adam_body.h — Adam's update loop, included by adam.c (portable build) and by
 * adam_avx2.c / adam_avx512.c (built with those ISA flags), so the one loop
 * is vectorized for each path; adam.c picks one at run time. The rule is
 * elementwise and -std=c11 keeps fp-contract off, so all paths agree bit for bit. */
#ifndef ADAM_SUFFIX
#error "define ADAM_SUFFIX before including adam_body.h"
#endif
#include "optim.h"
#include <math.h>

#define ADAM_CAT2(a, b) a##_##b
#define ADAM_CAT(a, b) ADAM_CAT2(a, b)

// p (n,), g (n,), m (n,), v (n,) [, vh (n,) when amsgrad] -> updated in place
void ADAM_CAT(dc_adam_loop, ADAM_SUFFIX)(const dc_adam_args *a, int64_t nn) {
    float *restrict p = a->p;
    const float *restrict g = a->g;
    float *restrict m = a->m;
    float *restrict v = a->v;
    const float lr = a->lr, wd = a->wd, gs = a->gs, lo = a->lo, hi = a->hi;
    const float alpha = a->alpha, c1 = a->c1, c2 = a->c2, eps = a->eps;
    if (!a->vh) {
#pragma omp simd
        for (int64_t i = 0; i < nn; i++) {
            float w = p[i] - p[i] * wd * lr;
            float gi = dc_optim_grad(g[i], gs, lo, hi);
            float mi = m[i] + (gi - m[i]) * c1;
            float vi = v[i] + (gi * gi - v[i]) * c2;
            m[i] = mi;
            v[i] = vi;
            p[i] = w - (mi * alpha) / (sqrtf(vi) + eps);
        }
        return;
    }
    float *restrict vh = a->vh;
#pragma omp simd
    for (int64_t i = 0; i < nn; i++) {
        float w = p[i] - p[i] * wd * lr;
        float gi = dc_optim_grad(g[i], gs, lo, hi);
        float mi = m[i] + (gi - m[i]) * c1;
        float vi = v[i] + (gi * gi - v[i]) * c2;
        float hv = vh[i];
        hv = hv > vi ? hv : vi;
        m[i] = mi;
        v[i] = vi;
        vh[i] = hv;
        p[i] = w - (mi * alpha) / (sqrtf(hv) + eps);
    }
}
