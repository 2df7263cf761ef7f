/* test_optim.c — optimizers and learning-rate schedules against Keras 3
 * trajectories (tests/ref/data/optim.txt from tests/ref/ref_optim.py), torch
 * where the rules coincide, bad input, allocation-free steps and state resume. */
#include "test.h"
#include "core/cpu.h"
#include "optim/optim.h"
#include <stdlib.h>

#define STEPS 5
#define NP 7
#define SPLIT 4

/* The fields of a cfg_ vector, in the order ref_optim.py writes them. */
enum {
    F_KIND, F_LR, F_MOMENTUM, F_NESTEROV, F_BETA1, F_BETA2, F_EPS, F_AMSGRAD, F_RHO, F_INITACC,
    F_CENTERED, F_WD, F_CLIPNORM, F_GCLIP, F_CLIPVALUE, F_SPLIT, F_SCHED, F_SINIT, F_DSTEPS,
    F_DRATE, F_STAIR, F_ALPHA, F_WSTEPS, F_WTARGET, F_NB, F_B0, F_B1, F_V0, F_V1, F_V2, F_COUNT
};

typedef struct {
    dc_optimizer_options opt;
    dc_lr_schedule sched;
    int64_t bounds[2];
    float values[3];
    bool split;
} decoded;

static void decode_schedule(const float *c, decoded *d) {
    d->sched = (dc_lr_schedule){
        .kind = (dc_lr_schedule_kind)(int)c[F_SCHED],
        .initial_learning_rate = c[F_SINIT],
        .decay_steps = (int64_t)c[F_DSTEPS],
        .decay_rate = c[F_DRATE],
        .staircase = c[F_STAIR] != 0,
        .alpha = c[F_ALPHA],
        .warmup_steps = (int64_t)c[F_WSTEPS],
        .warmup_target = c[F_WTARGET],
        .n_boundaries = (int)c[F_NB],
    };
    d->bounds[0] = (int64_t)c[F_B0];
    d->bounds[1] = (int64_t)c[F_B1];
    d->values[0] = c[F_V0];
    d->values[1] = c[F_V1];
    d->values[2] = c[F_V2];
    d->sched.boundaries = d->bounds;
    d->sched.values = d->values;
}

/* d must stay in place while d->opt is used (it points at d->sched). */
static void decode(const dc_tensor *cfg, decoded *d) {
    const float *c = cfg->data;
    memset(d, 0, sizeof *d);
    d->opt = (dc_optimizer_options){
        .kind = (dc_optimizer_kind)(int)c[F_KIND],
        .learning_rate = c[F_LR],
        .momentum = c[F_MOMENTUM],
        .nesterov = c[F_NESTEROV] != 0,
        .beta_1 = c[F_BETA1],
        .beta_2 = c[F_BETA2],
        .epsilon = c[F_EPS],
        .amsgrad = c[F_AMSGRAD] != 0,
        .rho = c[F_RHO],
        .initial_accumulator_value = c[F_INITACC],
        .centered = c[F_CENTERED] != 0,
        .weight_decay = c[F_WD],
        .clipnorm = c[F_CLIPNORM],
        .global_clipnorm = c[F_GCLIP],
        .clipvalue = c[F_CLIPVALUE],
    };
    d->split = c[F_SPLIT] != 0;
    if (c[F_SCHED] != 0) {
        decode_schedule(c, d);
        d->opt.schedule = &d->sched;
    }
}

/* Runs STEPS steps of the configuration from p0 with the stored gradients and
 * writes the params after every step into traj (STEPS*NP). */
static bool run_config(const decoded *d, const float *p0, const float *grads, float *traj) {
    dc_optimizer *o = dc_optimizer_new(&d->opt, NP);
    CHECK(o != NULL);
    if (!o) return false;
    float p[NP];
    memcpy(p, p0, sizeof p);
    dc_tensor *v[2] = {dc_tensor_from_data(DC_DIMS(SPLIT), p0),
                       dc_tensor_from_data(DC_DIMS(NP - SPLIT), p0 + SPLIT)};
    CHECK_OK(dc_tensor_set_requires_grad(v[0], true));
    CHECK_OK(dc_tensor_set_requires_grad(v[1], true));
    for (int s = 0; s < STEPS; s++) {
        CHECK(dc_optimizer_iterations(o) == s);
        if (d->split) {
            memcpy(v[0]->grad, grads + s * NP, SPLIT * sizeof(float));
            memcpy(v[1]->grad, grads + s * NP + SPLIT, (NP - SPLIT) * sizeof(float));
            CHECK_OK(dc_optimizer_apply(o, v, 2));
            memcpy(p, v[0]->data, SPLIT * sizeof(float));
            memcpy(p + SPLIT, v[1]->data, (NP - SPLIT) * sizeof(float));
        } else {
            CHECK_OK(dc_optimizer_step(o, p, grads + s * NP, NP));
        }
        memcpy(traj + s * NP, p, sizeof p);
    }
    dc_tensor_free(v[0]);
    dc_tensor_free(v[1]);
    dc_optimizer_free(o);
    return true;
}

static const char *const configs[] = {
    "sgd_default", "sgd_lr", "sgd_momentum", "sgd_nesterov", "adam_default", "adam_lr",
    "adam_betas", "adam_amsgrad", "adadelta_default", "adadelta_lr", "adagrad_default",
    "adagrad_lr", "rmsprop_default", "rmsprop_lr", "rmsprop_momentum", "rmsprop_centered",
    "rmsprop_centered_mom", "sgd_wd", "adam_wd", "rmsprop_wd", "sgd_clipnorm",
    "sgd_clipnorm_split", "adam_clipnorm_split", "sgd_global", "sgd_global_split",
    "sgd_clipvalue", "adagrad_clipvalue_split", "rmsprop_split", "adadelta_split_wd",
    "sgd_mom_exp", "sgd_exp_stair", "adam_piecewise", "sgd_cosine", "adam_cosine_warmup",
    "rmsprop_exp"};

static void check_prefix(const char *prefix, const char *kinds) {
    ref_file *f = ref_load("ref/data/optim.txt");
    if (!f) return;
    const dc_tensor *p0 = ref_get(f, "p0"), *g = ref_get(f, "grads");
    int n_run = 0;
    for (size_t i = 0; p0 && g && i < sizeof configs / sizeof *configs; i++) {
        if (strncmp(configs[i], prefix, strlen(prefix)) != 0) continue;
        char name[96];
        snprintf(name, sizeof name, "cfg_%s", configs[i]);
        const dc_tensor *cfg = ref_get(f, name);
        snprintf(name, sizeof name, "%s_%s", kinds, configs[i]);
        const dc_tensor *want = ref_get(f, name);
        if (!cfg || !want || cfg->size != F_COUNT || want->size != STEPS * NP) continue;
        decoded d;
        decode(cfg, &d);
        float traj[STEPS * NP];
        if (!run_config(&d, p0->data, g->data, traj)) continue;
        double r = test_close_ratio(traj, want->data, STEPS * NP, 1e-6, 1e-6);
        if (!(r <= 1.0))
            test_fail(__FILE__, __LINE__, "%s vs %s: off by %.3g x tolerance", configs[i], name,
                      r);
        n_run++;
    }
    CHECK(n_run > 0);
    ref_free(f);
}

TEST(optim_keras_sgd) { check_prefix("sgd", "traj"); }
TEST(optim_keras_adam) { check_prefix("adam", "traj"); }
TEST(optim_keras_adadelta) { check_prefix("adadelta", "traj"); }
TEST(optim_keras_adagrad) { check_prefix("adagrad", "traj"); }
TEST(optim_keras_rmsprop) { check_prefix("rmsprop", "traj"); }

/* Where torch.optim's rule coincides with Keras' (constant-rate SGD momentum
 * and Nesterov, Adadelta with Keras' lr and epsilon). */
TEST(optim_torch_coinciding) {
    ref_file *f = ref_load("ref/data/optim.txt");
    if (!f) return;
    static const char *const names[] = {"sgd_lr", "sgd_momentum", "sgd_nesterov",
                                        "adadelta_default", "adadelta_lr"};
    const dc_tensor *p0 = ref_get(f, "p0"), *g = ref_get(f, "grads");
    for (int i = 0; p0 && g && i < 5; i++) {
        char name[96];
        snprintf(name, sizeof name, "cfg_%s", names[i]);
        const dc_tensor *cfg = ref_get(f, name);
        snprintf(name, sizeof name, "torch_%s", names[i]);
        const dc_tensor *want = ref_get(f, name);
        if (!cfg || !want) continue;
        decoded d;
        decode(cfg, &d);
        float traj[STEPS * NP];
        if (!run_config(&d, p0->data, g->data, traj)) continue;
        double r = test_close_ratio(traj, want->data, STEPS * NP, 1e-6, 1e-5);
        if (!(r <= 1.0))
            test_fail(__FILE__, __LINE__, "%s vs torch: off by %.3g x tolerance", names[i], r);
    }
    ref_free(f);
}

TEST(optim_schedules_keras) {
    ref_file *f = ref_load("ref/data/optim.txt");
    if (!f) return;
    static const char *const names[] = {"exp", "exp_stair", "piecewise", "cosine",
                                        "cosine_alpha", "cosine_warmup", "cosine_warmup_alpha"};
    const dc_tensor *steps = ref_get(f, "sched_steps");
    for (int i = 0; steps && i < 7; i++) {
        char name[96];
        snprintf(name, sizeof name, "sched_%s", names[i]);
        const dc_tensor *cfg = ref_get(f, name);
        snprintf(name, sizeof name, "schedval_%s", names[i]);
        const dc_tensor *want = ref_get(f, name);
        if (!cfg || !want || want->size != steps->size) continue;
        decoded d;
        decode(cfg, &d);
        for (int64_t k = 0; k < steps->size; k++) {
            int64_t st = (int64_t)steps->data[k];
            float got = dc_lr_schedule_at(&d.sched, st);
            float w = want->data[k];
            if (!(fabsf(got - w) <= 1e-9f + 1e-6f * fabsf(w)))
                test_fail(__FILE__, __LINE__, "schedule %s at step %lld: %.9g, Keras %.9g",
                          names[i], (long long)st, (double)got, (double)w);
        }
    }
    ref_free(f);
}

/* The optimizer evaluates its schedule at its step count before each step. */
TEST(optim_schedule_follows_iterations) {
    dc_lr_schedule s = {.kind = DC_LR_EXPONENTIAL, .initial_learning_rate = 0.5f,
                        .decay_steps = 3, .decay_rate = 0.25f};
    dc_optimizer *o = dc_optimizer_new(
        &(dc_optimizer_options){.kind = DC_OPT_SGD, .learning_rate = 7, .schedule = &s}, 2);
    CHECK(o != NULL);
    if (!o) return;
    float p[2] = {0, 0}, g[2] = {1, -1};
    for (int k = 0; k < 6; k++) {
        float lr = dc_optimizer_learning_rate(o);
        CHECK_NEAR(lr, dc_lr_schedule_at(&s, k), 0);
        float before = p[0];
        CHECK_OK(dc_optimizer_step(o, p, g, 2));
        CHECK_NEAR(before - p[0], lr, 1e-6);
    }
    CHECK(dc_optimizer_iterations(o) == 6);
    dc_optimizer_set_learning_rate(o, 0.125f); /* drops the schedule */
    CHECK_NEAR(dc_optimizer_learning_rate(o), 0.125, 0);
    dc_optimizer_set_learning_rate(o, -1.0f);
    CHECK_MSG("dc_optimizer_set_learning_rate: learning rate -1 must be >= 0");
    CHECK_NEAR(dc_optimizer_learning_rate(o), 0.125, 0);
    dc_optimizer_free(o);
}

TEST(optim_defaults_and_names) {
    static const struct {
        dc_optimizer_kind k;
        const char *name;
        float lr;
    } want[] = {{DC_OPT_SGD, "SGD", 0.01f},           {DC_OPT_ADAM, "Adam", 0.001f},
                {DC_OPT_ADADELTA, "Adadelta", 0.001f}, {DC_OPT_ADAGRAD, "Adagrad", 0.001f},
                {DC_OPT_RMSPROP, "RMSprop", 0.001f}};
    for (int i = 0; i < 5; i++) {
        dc_optimizer *o = dc_optimizer_new(&(dc_optimizer_options){.kind = want[i].k}, 3);
        CHECK(o != NULL);
        if (!o) continue;
        CHECK(strcmp(dc_optimizer_name(o), want[i].name) == 0);
        CHECK_NEAR(dc_optimizer_learning_rate(o), want[i].lr, 0);
        CHECK(dc_optimizer_iterations(o) == 0);
        dc_optimizer_free(o);
    }
}

TEST(optim_bad_input) {
    dc_optimizer_options bad[] = {
        {.kind = (dc_optimizer_kind)0},
        {.kind = (dc_optimizer_kind)42},
        {.kind = DC_OPT_SGD, .learning_rate = -0.1f},
        {.kind = DC_OPT_SGD, .learning_rate = NAN},
        {.kind = DC_OPT_SGD, .momentum = 1.5f},
        {.kind = DC_OPT_ADAM, .beta_1 = 1.0f},
        {.kind = DC_OPT_ADAM, .beta_2 = -0.5f},
        {.kind = DC_OPT_RMSPROP, .rho = 1.0f},
        {.kind = DC_OPT_ADAM, .epsilon = -1e-7f},
        {.kind = DC_OPT_ADAM, .weight_decay = -1},
        {.kind = DC_OPT_SGD, .clipnorm = 1, .clipvalue = 1},
        {.kind = DC_OPT_SGD, .global_clipnorm = -1},
    };
    const char *msgs[] = {"unknown optimizer kind 0",
                          "unknown optimizer kind 42",
                          "SGD learning_rate -0.1 must be >= 0",
                          "SGD learning_rate nan must be >= 0",
                          "SGD momentum 1.5 outside [0, 1]",
                          "Adam beta_1 1 outside [0, 1)",
                          "Adam beta_2 -0.5 outside [0, 1)",
                          "RMSprop rho 1 outside [0, 1)",
                          "Adam epsilon -1e-07 must be >= 0",
                          "Adam weight_decay -1 must be >= 0",
                          "only one of clipnorm (1), clipvalue (1) and global_clipnorm (0)",
                          "SGD global_clipnorm -1 must be >= 0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dc_clear_error();
        CHECK(dc_optimizer_new(&bad[i], 4) == NULL);
        CHECK(dc_last_status() == DC_ERR_ARG);
        CHECK_MSG("dc_optimizer_new: ");
        CHECK_MSG(msgs[i]);
    }
    CHECK(dc_optimizer_new(NULL, 4) == NULL);
    CHECK_MSG("dc_optimizer_new: options are NULL");

    /* Bad schedules. */
    int64_t b_bad[2] = {5, 5};
    float vals[3] = {1, 2, 3};
    dc_lr_schedule s1 = {.kind = DC_LR_EXPONENTIAL, .initial_learning_rate = 0.1f};
    dc_lr_schedule s2 = {.kind = DC_LR_PIECEWISE, .boundaries = b_bad, .values = vals,
                         .n_boundaries = 2};
    dc_lr_schedule s3 = {.kind = DC_LR_PIECEWISE, .values = vals, .n_boundaries = 2};
    dc_lr_schedule s4 = {.kind = (dc_lr_schedule_kind)9};
    CHECK(dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_SGD, .schedule = &s1}, 4) ==
          NULL);
    CHECK_MSG("dc_optimizer_new: schedule decay_steps 0 must be > 0");
    CHECK(dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_SGD, .schedule = &s2}, 4) ==
          NULL);
    CHECK_MSG("boundaries must increase: boundaries[1] = 5 after 5");
    CHECK(dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_SGD, .schedule = &s3}, 4) ==
          NULL);
    CHECK_MSG("piecewise schedule needs n_boundaries >= 1");
    CHECK(isnan(dc_lr_schedule_at(&s4, 3)));
    CHECK_MSG("dc_lr_schedule_at: unknown schedule kind 9");
    CHECK(isnan(dc_lr_schedule_at(NULL, 3)));

    /* Bad calls on a good optimizer. */
    dc_optimizer *o = dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_ADAM}, 4);
    CHECK(o != NULL);
    if (!o) return;
    float p[5] = {0}, g[5] = {0};
    CHECK_ERR(dc_optimizer_step(o, p, g, 5), DC_ERR_SHAPE,
              "dc_optimizer_step: 5 floats given, Adam was made for 4");
    CHECK_ERR(dc_optimizer_step(o, NULL, g, 4), DC_ERR_ARG, "dc_optimizer_step: params is NULL");
    CHECK_ERR(dc_optimizer_step(o, p, NULL, 4), DC_ERR_ARG, "dc_optimizer_step: grads is NULL");
    CHECK_ERR(dc_optimizer_step(NULL, p, g, 4), DC_ERR_ARG, "optimizer is NULL");
    CHECK(dc_optimizer_iterations(o) == 0);

    dc_tensor *a = dc_tensor_zeros(DC_DIMS(3)), *b = dc_tensor_zeros(DC_DIMS(2));
    dc_tensor *vars[2] = {a, b};
    CHECK_ERR(dc_optimizer_apply(o, vars, 2), DC_ERR_SHAPE,
              "dc_optimizer_apply: 2 variables hold 5 floats, Adam was made for 4");
    CHECK_ERR(dc_optimizer_apply(o, vars, 1), DC_ERR_SHAPE, "1 variables hold 3 floats");
    dc_tensor *c = dc_tensor_zeros(DC_DIMS(1));
    dc_tensor *vars2[2] = {a, c};
    CHECK_ERR(dc_optimizer_apply(o, vars2, 2), DC_ERR_ARG,
              "dc_optimizer_apply: none of the 2 variables has a gradient");
    dc_tensor *vars3[2] = {a, NULL};
    CHECK_ERR(dc_optimizer_apply(o, vars3, 2), DC_ERR_ARG,
              "dc_optimizer_apply: variable 1 is NULL");
    CHECK_ERR(dc_optimizer_apply(o, NULL, 2), DC_ERR_ARG, "dc_optimizer_apply: vars is NULL");

    size_t n = dc_optimizer_state_size(o);
    CHECK(n == 5 + 2 * 4);
    float st[64];
    CHECK_ERR(dc_optimizer_get_state(o, st, n - 1), DC_ERR_ARG,
              "dc_optimizer_get_state: buffer of 12 floats, Adam state needs 13");
    CHECK_ERR(dc_optimizer_get_state(o, NULL, n), DC_ERR_ARG, "dc_optimizer_get_state: buf is NULL");
    CHECK_OK(dc_optimizer_get_state(o, st, n));
    CHECK_ERR(dc_optimizer_set_state(o, st, n + 1), DC_ERR_SHAPE,
              "dc_optimizer_set_state: 14 floats given, Adam state for 4 parameters is 13");
    CHECK_ERR(dc_optimizer_set_state(o, NULL, n), DC_ERR_ARG, "dc_optimizer_set_state: buf is NULL");
    st[0] = 1; /* SGD's kind */
    CHECK_ERR(dc_optimizer_set_state(o, st, n), DC_ERR_FORMAT, "state is of optimizer kind 1");
    st[0] = (float)DC_OPT_ADAM;
    st[1] = -3;
    CHECK_ERR(dc_optimizer_set_state(o, st, n), DC_ERR_FORMAT, "corrupt step count");
    st[1] = 0.5f;
    CHECK_ERR(dc_optimizer_set_state(o, st, n), DC_ERR_FORMAT, "corrupt step count");
    st[1] = 2;
    st[3] = -1;
    CHECK_ERR(dc_optimizer_set_state(o, st, n), DC_ERR_FORMAT, "corrupt learning rate -1");
    st[3] = 0.001f;
    st[4] = 1; /* saved with a schedule; this one has none */
    CHECK_ERR(dc_optimizer_set_state(o, st, n), DC_ERR_STATE,
              "saved with a learning-rate schedule, this Adam has none");
    CHECK(dc_optimizer_iterations(o) == 0); /* a refused state changes nothing */
    dc_tensor_free(a);
    dc_tensor_free(b);
    dc_tensor_free(c);
    dc_optimizer_free(o);
}

static void fill_det(float *x, size_t n, uint64_t seed, float scale) {
    dc_rng r;
    dc_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)(dc_rng_uniform(&r) * 2 - 1);
}

/* Every rule and clip mode, over a buffer large enough for the threaded path:
 * steps 1..N allocate nothing, whether flat or through apply. */
TEST(optim_step_allocates_nothing) {
    const size_t n = (size_t)1 << 16;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    dc_tensor *a = dc_tensor_zeros(DC_DIMS(1000)), *b = dc_tensor_zeros(DC_DIMS((int64_t)n - 1000));
    CHECK_OK(dc_tensor_set_requires_grad(a, true));
    CHECK_OK(dc_tensor_set_requires_grad(b, true));
    fill_det(p, n, 1, 1);
    fill_det(g, n, 2, 1);
    fill_det(a->grad, 1000, 3, 1);
    fill_det(b->grad, n - 1000, 4, 1);
    dc_tensor *vars[2] = {a, b};
    dc_lr_schedule cos = {.kind = DC_LR_COSINE, .initial_learning_rate = 0.1f, .decay_steps = 10};
    dc_optimizer_options opts[] = {
        {.kind = DC_OPT_SGD, .momentum = 0.9f, .nesterov = true, .global_clipnorm = 1},
        {.kind = DC_OPT_ADAM, .amsgrad = true, .clipnorm = 1, .weight_decay = 0.01f},
        {.kind = DC_OPT_ADADELTA, .clipvalue = 0.5f, .schedule = &cos},
        {.kind = DC_OPT_ADAGRAD},
        {.kind = DC_OPT_RMSPROP, .momentum = 0.5f, .centered = true},
    };
    for (int k = 0; k < 5; k++) {
        dc_optimizer *o = dc_optimizer_new(&opts[k], n);
        CHECK(o != NULL);
        if (!o) continue;
        uint64_t before = dc_alloc_count();
        for (int s = 0; s < 3; s++) {
            CHECK_OK(dc_optimizer_step(o, p, g, n));
            CHECK_OK(dc_optimizer_apply(o, vars, 2));
        }
        CHECK(dc_alloc_count() == before);
        dc_optimizer_free(o);
    }
    dc_tensor_free(a);
    dc_tensor_free(b);
    free(p);
    free(g);
}

/* Resuming from get_state/set_state continues the exact trajectory. */
TEST(optim_state_roundtrip) {
    enum { N = 37 };
    dc_lr_schedule pw = {.kind = DC_LR_PIECEWISE, .boundaries = (const int64_t[]){2, 4},
                         .values = (const float[]){0.1f, 0.05f, 0.01f}, .n_boundaries = 2};
    dc_optimizer_options opts[] = {
        {.kind = DC_OPT_SGD, .momentum = 0.9f, .learning_rate = 0.1f},
        {.kind = DC_OPT_ADAM, .amsgrad = true, .schedule = &pw},
        {.kind = DC_OPT_ADADELTA, .learning_rate = 1},
        {.kind = DC_OPT_ADAGRAD, .learning_rate = 0.1f},
        {.kind = DC_OPT_RMSPROP, .momentum = 0.5f, .centered = true},
    };
    for (int k = 0; k < 5; k++) {
        float p0[N], g[6][N], pa[N], pb[N];
        fill_det(p0, N, 10 + k, 1);
        for (int s = 0; s < 6; s++) fill_det(g[s], N, 20 + s, 2);
        dc_optimizer *a = dc_optimizer_new(&opts[k], N), *b = dc_optimizer_new(&opts[k], N);
        CHECK(a && b);
        if (!a || !b) {
            dc_optimizer_free(a);
            dc_optimizer_free(b);
            continue;
        }
        memcpy(pa, p0, sizeof pa);
        for (int s = 0; s < 3; s++) CHECK_OK(dc_optimizer_step(a, pa, g[s], N));
        if (k == 0) dc_optimizer_set_learning_rate(a, 0.03f); /* the rate travels too */
        size_t n = dc_optimizer_state_size(a);
        float *st = malloc(n * sizeof *st);
        CHECK_OK(dc_optimizer_get_state(a, st, n));
        CHECK_OK(dc_optimizer_set_state(b, st, n));
        free(st);
        CHECK(dc_optimizer_iterations(b) == 3);
        CHECK(dc_optimizer_learning_rate(b) == dc_optimizer_learning_rate(a));
        memcpy(pb, pa, sizeof pb);
        for (int s = 3; s < 6; s++) {
            CHECK_OK(dc_optimizer_step(a, pa, g[s], N));
            CHECK_OK(dc_optimizer_step(b, pb, g[s], N));
        }
        CHECK(memcmp(pa, pb, sizeof pa) == 0);
        dc_optimizer_free(a);
        dc_optimizer_free(b);
    }
}

/* The threaded path on a big buffer gives bit for bit what the same rule gives
 * on small pieces (the serial path), since every rule is elementwise. */
TEST(optim_parallel_matches_pieces) {
    const size_t n = (size_t)3 << 15, piece = 1000;
    float *p = malloc(n * sizeof *p), *q = malloc(n * sizeof *q), *g = malloc(n * sizeof *g);
    fill_det(p, n, 5, 1);
    fill_det(g, n, 6, 1);
    memcpy(q, p, n * sizeof *p);
    dc_optimizer_options opts[] = {
        {.kind = DC_OPT_SGD, .momentum = 0.9f, .nesterov = true, .weight_decay = 0.1f},
        {.kind = DC_OPT_ADAM, .amsgrad = true, .clipvalue = 0.5f},
        {.kind = DC_OPT_ADADELTA},
        {.kind = DC_OPT_ADAGRAD},
        {.kind = DC_OPT_RMSPROP, .momentum = 0.5f, .centered = true},
    };
    for (int k = 0; k < 5; k++) {
        dc_optimizer *big = dc_optimizer_new(&opts[k], n);
        dc_optimizer *small = dc_optimizer_new(&opts[k], n);
        CHECK(big && small);
        if (!big || !small) {
            dc_optimizer_free(big);
            dc_optimizer_free(small);
            continue;
        }
        /* small: the same buffer as many variables of `piece` floats via apply */
        size_t nv = (n + piece - 1) / piece;
        dc_tensor **vars = calloc(nv, sizeof *vars);
        for (size_t i = 0; i < nv; i++) {
            size_t len = n - i * piece < piece ? n - i * piece : piece;
            vars[i] = dc_tensor_wrap(DC_DIMS((int64_t)len), q + i * piece);
            vars[i]->grad = g + i * piece; /* read only by the optimizer */
        }
        for (int s = 0; s < 2; s++) {
            CHECK_OK(dc_optimizer_step(big, p, g, n));
            CHECK_OK(dc_optimizer_apply(small, vars, (int)nv));
        }
        CHECK(memcmp(p, q, n * sizeof *p) == 0);
        for (size_t i = 0; i < nv; i++) {
            vars[i]->grad = NULL;
            dc_tensor_free(vars[i]);
        }
        free(vars);
        dc_optimizer_free(big);
        dc_optimizer_free(small);
    }
    free(p);
    free(q);
    free(g);
}

/* Clip norm over flat memory treats the buffer as one variable; apply clips
 * each variable on its own; global clip norm scales all by one factor. */
TEST(optim_clip_modes) {
    float g[4] = {3, 4, 0, 0}; /* norms: first pair 5, second 0, all 5 */
    float p[4] = {0, 0, 0, 0};
    dc_optimizer *o = dc_optimizer_new(
        &(dc_optimizer_options){.kind = DC_OPT_SGD, .learning_rate = 1, .clipnorm = 1}, 4);
    CHECK_OK(dc_optimizer_step(o, p, g, 4));
    CHECK_NEAR(p[0], -0.6, 1e-7);
    CHECK_NEAR(p[1], -0.8, 1e-7);
    dc_optimizer_free(o);
    float p2[4] = {0, 0, 0, 0}, g2[4] = {3, 4, 0, 1};
    o = dc_optimizer_new(
        &(dc_optimizer_options){.kind = DC_OPT_SGD, .learning_rate = 1, .clipnorm = 2}, 4);
    dc_tensor *a = dc_tensor_wrap(DC_DIMS(2), p2), *b = dc_tensor_wrap(DC_DIMS(2), p2 + 2);
    a->grad = g2;
    b->grad = g2 + 2;
    dc_tensor *vars[2] = {a, b};
    CHECK_OK(dc_optimizer_apply(o, vars, 2));
    CHECK_NEAR(p2[0], -1.2, 1e-7); /* 5 > 2: scaled by 2/5 */
    CHECK_NEAR(p2[1], -1.6, 1e-7);
    CHECK_NEAR(p2[3], -1.0, 1e-7); /* norm 1 <= 2: untouched */
    a->grad = b->grad = NULL;
    dc_tensor_free(a);
    dc_tensor_free(b);
    dc_optimizer_free(o);
    float p3[2] = {0, 0}, g3[2] = {NAN, 1};
    o = dc_optimizer_new(
        &(dc_optimizer_options){.kind = DC_OPT_SGD, .learning_rate = 1, .global_clipnorm = 1}, 2);
    CHECK_OK(dc_optimizer_step(o, p3, g3, 2));
    CHECK(isnan(p3[1])); /* Keras: a non-finite global norm makes every step NaN */
    dc_optimizer_free(o);
}

/* A schedule dropped by set_learning_rate stays dropped after a resume, and
 * an empty optimizer is harmless. */
TEST(optim_state_schedule_flag) {
    dc_lr_schedule s = {.kind = DC_LR_EXPONENTIAL, .initial_learning_rate = 0.5f,
                        .decay_steps = 1, .decay_rate = 0.5f};
    dc_optimizer_options opt = {.kind = DC_OPT_SGD, .schedule = &s};
    dc_optimizer *a = dc_optimizer_new(&opt, 2), *b = dc_optimizer_new(&opt, 2);
    CHECK(a && b);
    if (!a || !b) return;
    float p[2] = {1, 2}, g[2] = {1, 1}, st[16];
    CHECK_OK(dc_optimizer_step(a, p, g, 2));
    CHECK_OK(dc_optimizer_get_state(a, st, 16));
    CHECK_OK(dc_optimizer_set_state(b, st, dc_optimizer_state_size(b)));
    CHECK_NEAR(dc_optimizer_learning_rate(b), 0.25, 0); /* still scheduled, at step 1 */
    dc_optimizer_set_learning_rate(a, 0.0625f);
    CHECK_OK(dc_optimizer_get_state(a, st, 16));
    CHECK_OK(dc_optimizer_set_state(b, st, dc_optimizer_state_size(b)));
    CHECK_NEAR(dc_optimizer_learning_rate(b), 0.0625, 0);
    CHECK_OK(dc_optimizer_step(b, p, g, 2));
    CHECK_NEAR(dc_optimizer_learning_rate(b), 0.0625, 0); /* no schedule any more */
    dc_optimizer_free(a);
    dc_optimizer_free(b);

    dc_optimizer *e = dc_optimizer_new(&(dc_optimizer_options){.kind = DC_OPT_ADAM}, 0);
    CHECK(e != NULL);
    CHECK(dc_optimizer_state_size(e) == 5);
    CHECK_OK(dc_optimizer_step(e, p, g, 0));
    CHECK(dc_optimizer_iterations(e) == 1);
    dc_optimizer_free(e);
}

/* ---- the per-ISA builds of the update loops agree bit for bit ---- */

typedef void (*rule_fn)(const struct dc_optimizer *, const dc_optim_ctx *, float *, const float *,
                        size_t, size_t);

/* Three steps of one build on copies of the same start: params and slots. */
static void run_build(dc_optimizer *o, rule_fn f, const float *p0, const float *g, size_t n,
                      float *p, float *slots) {
    memcpy(p, p0, n * sizeof *p);
    for (int s = 0; s < o->n_slots; s++) memset(o->slot[s], 0, n * sizeof(float));
    for (int t = 1; t <= 3; t++) {
        dc_optim_ctx c = {.lr = 0.01f, .wd = 0.01f, .gscale = 0.9f, .clip_lo = -0.5f,
                          .clip_hi = 0.5f, .t = t};
        f(o, &c, p, g, 0, n);
    }
    for (int s = 0; s < o->n_slots; s++) memcpy(slots + s * n, o->slot[s], n * sizeof(float));
}

TEST(optim_isa_builds_agree_bit_for_bit) {
    const size_t n = 1003; /* not a multiple of any vector width */
    struct {
        dc_optimizer_options opt;
        rule_fn f[3];
    } cases[] = {
        {{.kind = DC_OPT_SGD}, {dc_sgd_update_portable, dc_sgd_update_avx2, dc_sgd_update_avx512}},
        {{.kind = DC_OPT_SGD, .momentum = 0.9f, .nesterov = true},
         {dc_sgd_update_portable, dc_sgd_update_avx2, dc_sgd_update_avx512}},
        {{.kind = DC_OPT_ADAGRAD},
         {dc_adagrad_update_portable, dc_adagrad_update_avx2, dc_adagrad_update_avx512}},
        {{.kind = DC_OPT_ADADELTA},
         {dc_adadelta_update_portable, dc_adadelta_update_avx2, dc_adadelta_update_avx512}},
        {{.kind = DC_OPT_RMSPROP, .momentum = 0.5f, .centered = true},
         {dc_rmsprop_update_portable, dc_rmsprop_update_avx2, dc_rmsprop_update_avx512}},
    };
#if DC_HAVE_X86_KERNELS
    dc_cpu_features feat = dc_cpu_get_features();
    const bool have[3] = {true, feat.avx2 && feat.fma, feat.avx512f};
#else
    const bool have[3] = {true, false, false};
#endif
    float *p0 = malloc(n * sizeof *p0), *g = malloc(n * sizeof *g);
    float *p[3], *sl[3];
    for (int b = 0; b < 3; b++) {
        p[b] = malloc(n * sizeof(float));
        sl[b] = malloc(DC_OPTIM_MAX_SLOTS * n * sizeof(float));
    }
    fill_det(p0, n, 11, 1);
    fill_det(g, n, 12, 1);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        dc_optimizer *o = dc_optimizer_new(&cases[k].opt, n);
        CHECK(o);
        if (!o) continue;
        for (int b = 0; b < 3; b++)
            if (have[b]) run_build(o, cases[k].f[b], p0, g, n, p[b], sl[b]);
        for (int b = 1; b < 3; b++) {
            if (!have[b]) continue;
            if (memcmp(p[b], p[0], n * sizeof(float)) ||
                memcmp(sl[b], sl[0], (size_t)o->n_slots * n * sizeof(float)))
                test_fail(__FILE__, __LINE__, "%s: build %d differs from the portable one",
                          o->name, b);
        }
        dc_optimizer_free(o);
    }
    /* Adam's loop takes its scalars resolved */
    dc_adam_args a0 = {.lr = 0.01f, .wd = 0.01f, .gs = 0.9f, .lo = -0.5f, .hi = 0.5f,
                       .alpha = 0.003f, .c1 = 0.1f, .c2 = 0.001f, .eps = 1e-7f};
    void (*adam[3])(const dc_adam_args *, int64_t) = {dc_adam_loop_portable, dc_adam_loop_avx2,
                                                      dc_adam_loop_avx512};
    for (int ams = 0; ams < 2; ams++) {
        for (int b = 0; b < 3; b++) {
            if (!have[b]) continue;
            memcpy(p[b], p0, n * sizeof(float));
            memset(sl[b], 0, 3 * n * sizeof(float));
            dc_adam_args a = a0;
            a.p = p[b], a.g = g, a.m = sl[b], a.v = sl[b] + n, a.vh = ams ? sl[b] + 2 * n : NULL;
            for (int t = 0; t < 3; t++) adam[b](&a, (int64_t)n);
        }
        for (int b = 1; b < 3; b++)
            if (have[b] && (memcmp(p[b], p[0], n * sizeof(float)) ||
                            memcmp(sl[b], sl[0], 3 * n * sizeof(float))))
                test_fail(__FILE__, __LINE__, "adam (amsgrad %d): build %d differs", ams, b);
    }
    for (int b = 0; b < 3; b++) {
        free(p[b]);
        free(sl[b]);
    }
    free(p0);
    free(g);
}

/* Updates run with denormals flushed to zero on every thread (x86), and the
 * caller's own floating-point mode comes back unchanged. */
TEST(optim_flushes_denormals_and_restores_the_caller) {
#if DC_HAVE_X86_KERNELS
    const size_t sizes[2] = {100, (size_t)DC_OPTIM_PAR_MIN * 2}; /* one thread, then all */
    for (int k = 0; k < 2; k++) {
        const size_t n = sizes[k];
        float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
        for (size_t i = 0; i < n; i++) p[i] = 1.0f, g[i] = 1e-30f;
        /* the velocity -lr * g = -1e-40 is a denormal: flushed, it is 0 */
        dc_optimizer_options so = {.kind = DC_OPT_SGD, .learning_rate = 1e-10f, .momentum = 0.5f};
        dc_optimizer *o = dc_optimizer_new(&so, n);
        CHECK(o != NULL);
        if (o) {
            CHECK_OK(dc_optimizer_step(o, p, g, n));
            size_t nonzero = 0;
            for (size_t i = 0; i < n; i++) nonzero += o->slot[0][i] != 0.0f || p[i] != 1.0f;
            CHECK(nonzero == 0);
        }
        dc_optimizer_free(o);
        free(p);
        free(g);
    }
    volatile float tiny = 1e-30f;
    CHECK(tiny * 1e-10f != 0.0f);
#endif
}
