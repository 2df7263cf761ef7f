/* optim.h — the optimizer object shared by optimizer.c (validation, clipping,
 * state, schedules) and the per-rule files sgd.c adam.c adadelta.c adagrad.c
 * rmsprop.c, each of which supplies one update loop over flat memory. */
#ifndef DC_OPTIM_H
#define DC_OPTIM_H

#include "core/cpu.h"

/* Above this many floats an update loop is split across OpenMP threads; the
 * rules are elementwise, so the result does not depend on the thread count. */
#define DC_OPTIM_PAR_MIN ((int64_t)1 << 15)

/* Per-call scalars, computed once before the loop. */
typedef struct {
    float lr;          /* learning rate of this step (schedule already applied) */
    float wd;          /* weight decay (0: none); Keras: var -= var * wd * lr first */
    float gscale;      /* clip-by-norm factor for this variable (1: none) */
    float clip_lo, clip_hi; /* clipvalue bounds (+-inf: none) */
    int64_t t;         /* 1-based step number (Keras' iterations + 1) */
} dc_optim_ctx;

struct dc_optimizer;
/* params (n,), grads (n,) -> params updated in place; the slots used are those of
 * the optimizer at element offset `off` (n of each). Grads are only read. */
typedef void (*dc_optim_update_fn)(const struct dc_optimizer *o, const dc_optim_ctx *c,
                                   float *params, const float *grads, size_t off, size_t n);

#define DC_OPTIM_MAX_SLOTS 3

struct dc_optimizer {
    dc_optimizer_kind kind;
    const char *name;
    size_t n_params;
    int n_slots;
    float *slot[DC_OPTIM_MAX_SLOTS]; /* each n_params floats, inside `block` */
    float *block;
    int64_t iterations;
    float lr;
    bool has_schedule;
    dc_lr_schedule schedule; /* boundaries/values point at the copies below */
    int64_t *bounds;
    float *values;
    /* Hyperparameters kept in double as the user's (or Keras' Python) numbers,
     * so that e.g. 1 - beta_2 rounds like Keras' `1 - 0.999` does. */
    double momentum, beta_1, beta_2, epsilon, rho, init_acc, weight_decay;
    double clipnorm, global_clipnorm, clipvalue;
    bool nesterov, amsgrad, centered;
    dc_optim_update_fn update;
};

/* Adam's per-call operands, resolved once per step (adam.c), for the loop
 * built per ISA from adam_body.h. vh is NULL unless amsgrad. */
typedef struct {
    float *p, *m, *v, *vh;
    const float *g;
    float lr, wd, gs, lo, hi, alpha, c1, c2, eps;
} dc_adam_args;
void dc_adam_loop_portable(const dc_adam_args *a, int64_t n);
void dc_adam_loop_avx2(const dc_adam_args *a, int64_t n);
void dc_adam_loop_avx512(const dc_adam_args *a, int64_t n);

/* The per-ISA builds of the other rules' loops (rules_body.h), and the call
 * that picks one for this CPU. */
void dc_sgd_update_portable(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_sgd_update_avx2(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_sgd_update_avx512(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_adagrad_update_portable(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_adagrad_update_avx2(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_adagrad_update_avx512(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_adadelta_update_portable(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_adadelta_update_avx2(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_adadelta_update_avx512(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_rmsprop_update_portable(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_rmsprop_update_avx2(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
void dc_rmsprop_update_avx512(const struct dc_optimizer *o, const dc_optim_ctx *c,
    float *params, const float *grads, size_t off, size_t n);
#if DC_HAVE_X86_KERNELS
#define DC_OPTIM_DISPATCH(fn, ...)                                                          \
    do {                                                                                    \
        switch (dc_cpu_isa()) {                                                             \
        case DC_ISA_AVX512: fn##_avx512(__VA_ARGS__); break;                                \
        case DC_ISA_AVX2: fn##_avx2(__VA_ARGS__); break;                                    \
        default: fn##_portable(__VA_ARGS__); break;                                         \
        }                                                                                   \
    } while (0)
#else
#define DC_OPTIM_DISPATCH(fn, ...) fn##_portable(__VA_ARGS__)
#endif

/* The slot count of each rule (for the options already resolved in o). */
int dc_sgd_slots(const struct dc_optimizer *o);
int dc_adam_slots(const struct dc_optimizer *o);
int dc_adadelta_slots(const struct dc_optimizer *o);
int dc_adagrad_slots(const struct dc_optimizer *o);
int dc_rmsprop_slots(const struct dc_optimizer *o);

void dc_sgd_update(const struct dc_optimizer *o, const dc_optim_ctx *c, float *params,
                   const float *grads, size_t off, size_t n);
void dc_adam_update(const struct dc_optimizer *o, const dc_optim_ctx *c, float *params,
                    const float *grads, size_t off, size_t n);
void dc_adadelta_update(const struct dc_optimizer *o, const dc_optim_ctx *c, float *params,
                        const float *grads, size_t off, size_t n);
void dc_adagrad_update(const struct dc_optimizer *o, const dc_optim_ctx *c, float *params,
                       const float *grads, size_t off, size_t n);
void dc_rmsprop_update(const struct dc_optimizer *o, const dc_optim_ctx *c, float *params,
                       const float *grads, size_t off, size_t n);

/* The gradient as the rule sees it: scaled by the norm clip, then clamped
 * (written as compares so the loop vectorizes to min/max and keeps NaN). */
static inline float dc_optim_grad(float g, float gscale, float lo, float hi) {
    float x = g * gscale;
    x = x < lo ? lo : x;
    return x > hi ? hi : x;
}

/* Validates a schedule; sets an error naming fn. */
dc_status dc_lr_schedule_check(const char *fn, const dc_lr_schedule *s);

/* The optimizer's own copy of its schedule (piecewise arrays included),
 * valid while it lives; NULL for a constant rate. */
const dc_lr_schedule *dc_optimizer_schedule(const struct dc_optimizer *o);
#endif
