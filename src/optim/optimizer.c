/* optimizer.c — the optimizer object common to every rule: options and their
 * Keras defaults, gradient clipping (clipnorm, global_clipnorm, clipvalue),
 * decoupled weight decay, the step count and schedule, and state get/set. */
#include "optim.h"
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* State layout for checkpoints: a header of five floats, then the slots.
 * The step count is split into two 24-bit halves so floats hold it exactly;
 * the constant rate travels too (a plateau callback may have lowered it), and
 * a flag says whether a schedule was driving the rate. */
enum { HDR_KIND = 0, HDR_IT_LO, HDR_IT_HI, HDR_LR, HDR_SCHED, HDR_N };
#define IT_HALF ((int64_t)1 << 24)

typedef struct {
    const char *name;
    double lr;
    int (*slots)(const struct dc_optimizer *o);
    dc_optim_update_fn update;
} rule_info;

static const rule_info *rule_of(dc_optimizer_kind k) {
    static const rule_info rules[] = {
        {"SGD", 0.01, dc_sgd_slots, dc_sgd_update},
        {"Adam", 0.001, dc_adam_slots, dc_adam_update},
        {"Adadelta", 0.001, dc_adadelta_slots, dc_adadelta_update},
        {"Adagrad", 0.001, dc_adagrad_slots, dc_adagrad_update},
        {"RMSprop", 0.001, dc_rmsprop_slots, dc_rmsprop_update},
    };
    if ((int)k < (int)DC_OPT_SGD || (int)k > (int)DC_OPT_RMSPROP) return NULL;
    return &rules[(int)k - (int)DC_OPT_SGD];
}

/* A user float, or the default when it is 0 (the house rule "zero means the
 * Keras default"); the default is a double so e.g. 1 - 0.999 rounds as in Keras. */
static double or_default(float v, double def) { return v == 0.0f ? def : (double)v; }

static bool finite_nonneg(double v) { return v >= 0 && !isinf(v); }

static dc_status check_options(const dc_optimizer_options *opt, const char *fn) {
    const rule_info *r = rule_of(opt->kind);
    if (!r) return dc_set_error(DC_ERR_ARG, "%s: unknown optimizer kind %d", fn, (int)opt->kind);
    const char *nm = r->name;
    if (!finite_nonneg(opt->learning_rate))
        return dc_set_error(DC_ERR_ARG, "%s: %s learning_rate %g must be >= 0 and finite", fn, nm,
                            (double)opt->learning_rate);
    if (!(opt->momentum >= 0 && opt->momentum <= 1))
        return dc_set_error(DC_ERR_ARG, "%s: %s momentum %g outside [0, 1]", fn, nm,
                            (double)opt->momentum);
    if (!(opt->beta_1 >= 0 && opt->beta_1 < 1))
        return dc_set_error(DC_ERR_ARG, "%s: %s beta_1 %g outside [0, 1)", fn, nm,
                            (double)opt->beta_1);
    if (!(opt->beta_2 >= 0 && opt->beta_2 < 1))
        return dc_set_error(DC_ERR_ARG, "%s: %s beta_2 %g outside [0, 1)", fn, nm,
                            (double)opt->beta_2);
    if (!(opt->rho >= 0 && opt->rho < 1))
        return dc_set_error(DC_ERR_ARG, "%s: %s rho %g outside [0, 1)", fn, nm, (double)opt->rho);
    if (!finite_nonneg(opt->epsilon))
        return dc_set_error(DC_ERR_ARG, "%s: %s epsilon %g must be >= 0 and finite", fn, nm,
                            (double)opt->epsilon);
    if (!finite_nonneg(opt->initial_accumulator_value))
        return dc_set_error(DC_ERR_ARG, "%s: %s initial_accumulator_value %g must be >= 0", fn,
                            nm, (double)opt->initial_accumulator_value);
    if (!finite_nonneg(opt->weight_decay))
        return dc_set_error(DC_ERR_ARG, "%s: %s weight_decay %g must be >= 0 and finite", fn, nm,
                            (double)opt->weight_decay);
    const float clips[3] = {opt->clipnorm, opt->global_clipnorm, opt->clipvalue};
    static const char *const clip_names[3] = {"clipnorm", "global_clipnorm", "clipvalue"};
    int n_clips = 0;
    for (int i = 0; i < 3; i++) {
        if (!(clips[i] >= 0) || isnan(clips[i]))
            return dc_set_error(DC_ERR_ARG, "%s: %s %s %g must be >= 0", fn, nm, clip_names[i],
                                (double)clips[i]);
        n_clips += clips[i] > 0;
    }
    if (n_clips > 1)
        return dc_set_error(DC_ERR_ARG,
                            "%s: only one of clipnorm (%g), clipvalue (%g) and global_clipnorm "
                            "(%g) can be set",
                            fn, (double)opt->clipnorm, (double)opt->clipvalue,
                            (double)opt->global_clipnorm);
    if (opt->schedule) return dc_lr_schedule_check(fn, opt->schedule);
    return DC_OK;
}

dc_optimizer *dc_optimizer_new(const dc_optimizer_options *opt, size_t n_params) {
    static const char fn[] = "dc_optimizer_new";
    if (!opt) {
        dc_set_error(DC_ERR_ARG, "%s: options are NULL", fn);
        return NULL;
    }
    if (check_options(opt, fn) != DC_OK) return NULL;
    const rule_info *r = rule_of(opt->kind);
    dc_optimizer *o = dc_calloc(1, sizeof *o);
    if (!o) {
        dc_set_error(DC_ERR_NOMEM, "%s: out of memory", fn);
        return NULL;
    }
    o->kind = opt->kind;
    o->name = r->name;
    o->n_params = n_params;
    o->update = r->update;
    o->lr = (float)or_default(opt->learning_rate, r->lr);
    o->momentum = opt->momentum;
    o->nesterov = opt->nesterov;
    o->beta_1 = or_default(opt->beta_1, 0.9);
    o->beta_2 = or_default(opt->beta_2, 0.999);
    o->epsilon = or_default(opt->epsilon, 1e-7);
    o->amsgrad = opt->amsgrad;
    o->rho = or_default(opt->rho, opt->kind == DC_OPT_ADADELTA ? 0.95 : 0.9);
    o->init_acc = or_default(opt->initial_accumulator_value, 0.1);
    o->centered = opt->centered;
    o->weight_decay = opt->weight_decay;
    o->clipnorm = opt->clipnorm;
    o->global_clipnorm = opt->global_clipnorm;
    o->clipvalue = opt->clipvalue;
    if (opt->schedule) {
        o->has_schedule = true;
        o->schedule = *opt->schedule;
        o->schedule.boundaries = NULL;
        o->schedule.values = NULL;
        if (opt->schedule->kind == DC_LR_PIECEWISE) {
            size_t nb = (size_t)opt->schedule->n_boundaries;
            o->bounds = dc_malloc(nb * sizeof *o->bounds);
            o->values = dc_malloc((nb + 1) * sizeof *o->values);
            if (!o->bounds || !o->values) goto nomem;
            memcpy(o->bounds, opt->schedule->boundaries, nb * sizeof *o->bounds);
            memcpy(o->values, opt->schedule->values, (nb + 1) * sizeof *o->values);
            o->schedule.boundaries = o->bounds;
            o->schedule.values = o->values;
        }
    }
    o->n_slots = r->slots(o);
    if (o->n_slots > 0 && n_params > 0) {
        size_t total, bytes;
        if (dc_mul_overflows(n_params, (size_t)o->n_slots, &total) ||
            dc_mul_overflows(total, sizeof(float), &bytes)) {
            dc_set_error(DC_ERR_ARG, "%s: %s state for %zu parameters overflows", fn, o->name,
                         n_params);
            dc_optimizer_free(o);
            return NULL;
        }
        o->block = dc_malloc_aligned(bytes);
        if (!o->block) goto nomem;
        memset(o->block, 0, bytes);
        for (int s = 0; s < o->n_slots; s++) o->slot[s] = o->block + (size_t)s * n_params;
        if (o->kind == DC_OPT_ADAGRAD) {
            const float a = (float)o->init_acc;
            for (size_t i = 0; i < n_params; i++) o->slot[0][i] = a;
        }
    }
    return o;
nomem:
    dc_set_error(DC_ERR_NOMEM, "%s: out of memory for %s state of %zu parameters", fn, o->name,
                 n_params);
    dc_optimizer_free(o);
    return NULL;
}

void dc_optimizer_free(dc_optimizer *o) {
    if (!o) return;
    dc_free_aligned(o->block);
    dc_free(o->bounds);
    dc_free(o->values);
    dc_free(o);
}

const dc_lr_schedule *dc_optimizer_schedule(const dc_optimizer *o) {
    return o && o->has_schedule ? &o->schedule : NULL;
}

float dc_optimizer_learning_rate(const dc_optimizer *o) {
    if (!o) return NAN;
    return o->has_schedule ? dc_lr_schedule_at(&o->schedule, o->iterations) : o->lr;
}

void dc_optimizer_set_learning_rate(dc_optimizer *o, float lr) {
    if (!o) return;
    if (!finite_nonneg(lr)) {
        dc_set_error(DC_ERR_ARG, "dc_optimizer_set_learning_rate: learning rate %g must be >= 0 "
                     "and finite; kept %g", (double)lr, (double)dc_optimizer_learning_rate(o));
        return;
    }
    o->lr = lr;
    o->has_schedule = false;
}

int64_t dc_optimizer_iterations(const dc_optimizer *o) { return o ? o->iterations : 0; }

const char *dc_optimizer_name(const dc_optimizer *o) { return o ? o->name : "(null)"; }

/* Sum of squares in double, in an order fixed by n alone: 64 blocks summed in
 * index order whatever the thread count, so norms (and hence clipped steps)
 * are reproducible. */
// x (n,) -> sum x^2
static double sum_squares(const float *x, size_t n) {
    enum { BLOCKS = 64 };
    const int64_t nn = (int64_t)n;
    if (nn < DC_OPTIM_PAR_MIN) {
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < nn; i++) s += (double)x[i] * x[i];
        return s;
    }
    double part[BLOCKS];
    const int64_t per = (nn + BLOCKS - 1) / BLOCKS;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < BLOCKS; b++) {
        const int64_t lo = b * per, hi = DC_MIN(nn, lo + per);
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = lo; i < hi; i++) s += (double)x[i] * x[i];
        part[b] = s;
    }
    double s = 0;
    for (int b = 0; b < BLOCKS; b++) s += part[b];
    return s;
}

/* The per-step scalars: learning rate from the schedule at the current step
 * count, weight decay, clip bounds. */
static void ctx_init(const dc_optimizer *o, dc_optim_ctx *c) {
    c->lr = dc_optimizer_learning_rate(o);
    c->wd = (float)o->weight_decay;
    c->gscale = 1.0f;
    c->clip_lo = o->clipvalue > 0 ? -(float)o->clipvalue : -INFINITY;
    c->clip_hi = o->clipvalue > 0 ? (float)o->clipvalue : INFINITY;
    c->t = o->iterations + 1;
}

/* tf.clip_by_norm: g * clip / max(norm, clip), i.e. a factor of clip / norm
 * when the norm exceeds clip (a NaN norm propagates). */
static float norm_scale(double sumsq, double clip) {
    double norm = sqrt(sumsq);
    if (isnan(norm)) return NAN;
    return norm > clip ? (float)(clip / norm) : 1.0f;
}

/* Keras' clip_by_global_norm: clip * min(1/norm, 1/clip), NaN if the norm is
 * not finite. */
static float global_scale(double sumsq, double clip) {
    double norm = sqrt(sumsq);
    if (!isfinite(norm)) return NAN;
    return norm > clip ? (float)(clip / norm) : 1.0f;
}

/* The rule's update in one parallel region, a block of whole cache lines per
 * thread (the rules are elementwise, so the split does not change a bit), with
 * denormals flushed to zero as TensorFlow's kernels run: moments that decay
 * towards zero (a pixel that is always 0, a momentum after its gradient
 * stops) would otherwise hit x86's slow denormal path, which doubled the
 * Fashion-MNIST MLP's epoch. */
// params (n,), grads (n,) -> params and the slots at off updated in place
static void update_flushing_denormals(const dc_optimizer *o, const dc_optim_ctx *c,
                                      float *params, const float *grads, size_t off, size_t n) {
    enum { LINE = 16 }; /* floats per 64-byte cache line */
    const int64_t nn = (int64_t)n;
#pragma omp parallel if (nn >= DC_OPTIM_PAR_MIN)
    {
        int64_t id = 0, nth = 1;
#ifdef _OPENMP
        id = omp_get_thread_num();
        nth = omp_get_num_threads();
#endif
        const int64_t per = ((nn + nth - 1) / nth + LINE - 1) / LINE * LINE;
        const int64_t lo = DC_MIN(nn, id * per), hi = DC_MIN(nn, lo + per);
        const unsigned saved = dc_cpu_flush_denormals();
        if (hi > lo)
            o->update(o, c, params + lo, grads + lo, off + (size_t)lo, (size_t)(hi - lo));
        dc_cpu_restore_denormals(saved);
    }
}

dc_status dc_optimizer_step(dc_optimizer *o, float *params, const float *grads, size_t n) {
    static const char fn[] = "dc_optimizer_step";
    if (!o) return dc_set_error(DC_ERR_ARG, "%s: optimizer is NULL", fn);
    if (!params || !grads)
        return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, !params ? "params" : "grads");
    if (n != o->n_params)
        return dc_set_error(DC_ERR_SHAPE, "%s: %zu floats given, %s was made for %zu", fn, n,
                            o->name, o->n_params);
    dc_optim_ctx c;
    ctx_init(o, &c);
    if (o->clipnorm > 0) c.gscale = norm_scale(sum_squares(grads, n), o->clipnorm);
    else if (o->global_clipnorm > 0)
        c.gscale = global_scale(sum_squares(grads, n), o->global_clipnorm);
    if (n > 0) update_flushing_denormals(o, &c, params, grads, 0, n);
    o->iterations++;
    return DC_OK;
}

dc_status dc_optimizer_apply(dc_optimizer *o, dc_tensor *const *vars, int n_vars) {
    static const char fn[] = "dc_optimizer_apply";
    if (!o) return dc_set_error(DC_ERR_ARG, "%s: optimizer is NULL", fn);
    if (!vars || n_vars < 0)
        return dc_set_error(DC_ERR_ARG, "%s: vars is NULL or n_vars %d < 0", fn, n_vars);
    size_t total = 0;
    int with_grad = 0;
    for (int i = 0; i < n_vars; i++) {
        if (!vars[i] || !vars[i]->data)
            return dc_set_error(DC_ERR_ARG, "%s: variable %d is NULL or has no data", fn, i);
        total += (size_t)vars[i]->size;
        with_grad += vars[i]->grad != NULL;
    }
    if (total != o->n_params)
        return dc_set_error(DC_ERR_SHAPE,
                            "%s: %d variables hold %zu floats, %s was made for %zu", fn, n_vars,
                            total, o->name, o->n_params);
    /* Keras skips variables without a gradient, and refuses a call where none has one. */
    if (with_grad == 0)
        return dc_set_error(DC_ERR_ARG, "%s: none of the %d variables has a gradient", fn,
                            n_vars);
    dc_optim_ctx c;
    ctx_init(o, &c);
    float gscale = 1.0f;
    if (o->global_clipnorm > 0) {
        double s = 0;
        for (int i = 0; i < n_vars; i++)
            if (vars[i]->grad) s += sum_squares(vars[i]->grad, (size_t)vars[i]->size);
        gscale = global_scale(s, o->global_clipnorm);
    }
    size_t off = 0;
    for (int i = 0; i < n_vars; i++) {
        const dc_tensor *v = vars[i];
        const size_t n = (size_t)v->size;
        if (v->grad && n > 0) {
            c.gscale = o->clipnorm > 0 ? norm_scale(sum_squares(v->grad, n), o->clipnorm) : gscale;
            update_flushing_denormals(o, &c, v->data, v->grad, off, n);
        }
        off += n;
    }
    o->iterations++;
    return DC_OK;
}

size_t dc_optimizer_state_size(const dc_optimizer *o) {
    return o ? HDR_N + (size_t)o->n_slots * o->n_params : 0;
}

dc_status dc_optimizer_get_state(const dc_optimizer *o, float *buf, size_t cap) {
    static const char fn[] = "dc_optimizer_get_state";
    if (!o || !buf)
        return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, !o ? "optimizer" : "buf");
    const size_t need = dc_optimizer_state_size(o);
    if (cap < need)
        return dc_set_error(DC_ERR_ARG, "%s: buffer of %zu floats, %s state needs %zu", fn, cap,
                            o->name, need);
    buf[HDR_KIND] = (float)o->kind;
    buf[HDR_IT_LO] = (float)(o->iterations % IT_HALF);
    buf[HDR_IT_HI] = (float)(o->iterations / IT_HALF);
    buf[HDR_LR] = o->lr;
    buf[HDR_SCHED] = o->has_schedule ? 1.0f : 0.0f;
    if (o->n_slots > 0)
        memcpy(buf + HDR_N, o->block, (size_t)o->n_slots * o->n_params * sizeof(float));
    return DC_OK;
}

dc_status dc_optimizer_set_state(dc_optimizer *o, const float *buf, size_t n) {
    static const char fn[] = "dc_optimizer_set_state";
    if (!o || !buf)
        return dc_set_error(DC_ERR_ARG, "%s: %s is NULL", fn, !o ? "optimizer" : "buf");
    const size_t need = dc_optimizer_state_size(o);
    if (n != need)
        return dc_set_error(DC_ERR_SHAPE, "%s: %zu floats given, %s state for %zu parameters is %zu",
                            fn, n, o->name, o->n_params, need);
    if (buf[HDR_KIND] != (float)o->kind)
        return dc_set_error(DC_ERR_FORMAT, "%s: state is of optimizer kind %g, this is %s (%d)", fn,
                            (double)buf[HDR_KIND], o->name, (int)o->kind);
    const float lo = buf[HDR_IT_LO], hi = buf[HDR_IT_HI];
    if (!(lo >= 0 && lo < (float)IT_HALF && lo == floorf(lo)) ||
        !(hi >= 0 && hi < (float)IT_HALF && hi == floorf(hi)))
        return dc_set_error(DC_ERR_FORMAT, "%s: corrupt step count (%g, %g)", fn, (double)lo,
                            (double)hi);
    if (!finite_nonneg(buf[HDR_LR]))
        return dc_set_error(DC_ERR_FORMAT, "%s: corrupt learning rate %g", fn,
                            (double)buf[HDR_LR]);
    if (buf[HDR_SCHED] != 0 && buf[HDR_SCHED] != 1)
        return dc_set_error(DC_ERR_FORMAT, "%s: corrupt schedule flag %g", fn,
                            (double)buf[HDR_SCHED]);
    if (buf[HDR_SCHED] == 1 && !o->has_schedule)
        return dc_set_error(DC_ERR_STATE,
                            "%s: the state was saved with a learning-rate schedule, this %s "
                            "has none",
                            fn, o->name);
    o->iterations = (int64_t)hi * IT_HALF + (int64_t)lo;
    o->lr = buf[HDR_LR];
    /* Saved after set_learning_rate dropped the schedule: drop it here too. */
    if (buf[HDR_SCHED] == 0) o->has_schedule = false;
    if (o->n_slots > 0)
        memcpy(o->block, buf + HDR_N, (size_t)o->n_slots * o->n_params * sizeof(float));
    return DC_OK;
}
