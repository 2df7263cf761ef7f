/* test.h — the test harness: TEST(name) defines a test (the Makefile collects
 * them), CHECK* record failures, SKIP ends a test as skipped. */
#ifndef DC_TEST_H
#define DC_TEST_H
#include "deepc.h"
#include <math.h>
#include <string.h>

#define TEST(name) void test_##name(void)

void test_fail(const char *file, int line, const char *fmt, ...);
void test_skip(const char *reason);
/* Path of a reference or fixture file under tests/ (the runner knows the root). */
const char *test_path(const char *rel);
/* A scratch directory for this run (created on demand). */
const char *test_tmpdir(void);
/* build/deepc beside the test runner, or NULL if it is not built. */
const char *test_deepc_path(void);
/* Runs "deepc ARGS" with stderr into OUT (cap bytes); the exit code, or -1. */
int test_run_deepc(const char *args, char *out, size_t cap);
/* A shell command with its stderr in out; its exit code, -1 if it did not exit. */
int test_run_command(const char *cmd, char *out, size_t cap);
/* Lines in a text file (newlines counted), or -1 if it cannot be read. */
int test_count_lines(const char *path);
/* n 8x8 IDX images of 3 classes (a bright bar at the top, middle or bottom) and their labels. */
void test_write_idx(const char *images, const char *labels, int n, uint32_t seed);
/* Allocations between fit's batch ends: a DC_CB_LAMBDA with on_batch_end =
 * test_count_allocs and user = a zeroed probe; steps after the first
 * allocate nothing when last == after_first. */
typedef struct {
    int batches;
    unsigned long long after_first, last;
} test_alloc_probe;
bool test_count_allocs(dc_model *m, int epoch, int64_t batch, float loss, void *user);

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) test_fail(__FILE__, __LINE__, "%s", #cond);                          \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                             \
    do {                                                                                  \
        double a_ = (double)(a), b_ = (double)(b);                                        \
        if (!(fabs(a_ - b_) <= (tol)) || a_ != a_ || b_ != b_)                            \
            test_fail(__FILE__, __LINE__, "%s = %.9g, %s = %.9g, differ by more than %g", \
                      #a, a_, #b, b_, (double)(tol));                                     \
    } while (0)
/* expr must return DC_OK. */
#define CHECK_OK(expr)                                                                    \
    do {                                                                                  \
        dc_status s_ = (expr);                                                            \
        if (s_ != DC_OK)                                                                  \
            test_fail(__FILE__, __LINE__, "%s returned %s: %s", #expr, dc_status_string(s_), \
                      dc_last_error());                                                   \
    } while (0)
/* expr must return status st and leave a message containing substr. */
#define CHECK_ERR(expr, st, substr)                                                       \
    do {                                                                                  \
        dc_status s_ = (expr);                                                            \
        if (s_ != (st) || !strstr(dc_last_error(), (substr)))                             \
            test_fail(__FILE__, __LINE__, "%s returned %s with \"%s\", wanted %s with \"%s\"", \
                      #expr, dc_status_string(s_), dc_last_error(), dc_status_string(st),  \
                      (substr));                                                          \
    } while (0)
/* The last error message must contain substr. */
#define CHECK_MSG(substr)                                                                 \
    do {                                                                                  \
        if (!strstr(dc_last_error(), (substr)))                                           \
            test_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", dc_last_error(),  \
                      (substr));                                                          \
    } while (0)
#define SKIP(reason)                                                                      \
    do {                                                                                  \
        test_skip(reason);                                                                \
        return;                                                                           \
    } while (0)

/* Largest |a[i] - b[i]| / (atol + rtol |b[i]|) over n values; <= 1 means close. */
double test_close_ratio(const float *a, const float *b, int64_t n, double atol, double rtol);
#define CHECK_ALLCLOSE(a, b, n, atol, rtol)                                               \
    do {                                                                                  \
        double r_ = test_close_ratio((a), (b), (n), (atol), (rtol));                      \
        if (!(r_ <= 1.0))                                                                 \
            test_fail(__FILE__, __LINE__, "%s vs %s: off by %.3g x tolerance", #a, #b, r_); \
    } while (0)

/* ---- reference files written by tests/ref/ scripts ----
 * Text: lines "tensor NAME NDIM D1 .. Dn" followed by one line of values. */
typedef struct ref_file ref_file;
ref_file *ref_load(const char *rel_path); /* NULL (and a test failure) if missing */
/* Exactly n little-endian floats from a raw .bin file (caller frees), or NULL
 * if the file is missing or holds another count. */
float *test_read_floats(const char *path, int64_t n);
/* The named tensor (caller must not free); NULL and a test failure if absent. */
const dc_tensor *ref_get(ref_file *f, const char *name);
void ref_free(ref_file *f);
/* model(xs) in inference mode for a model of any inputs and outputs: outs[i]
 * (caller frees) per output; returns their count, 0 (and a failure) on error. */
int test_predict_all(dc_model *m, dc_tensor *const *xs, dc_tensor **outs);

/* ---- gradient checking ----
 * GRAD_CASE(name) fills a grad_case; the checker builds random inputs, runs the
 * op, and compares tape gradients with central differences summed in double. */
typedef struct grad_case {
    int op;       /* the dc_op_id this case covers (see src/ops/ops.def) */
    int n_in;     /* differentiable inputs */
    int ndim[4];
    int64_t shape[4][DC_MAX_DIMS];
    float lo, hi;                 /* inputs uniform in [lo, hi]; 0,0 means [-1, 1] */
    float min_abs;                /* push inputs at least this far from 0 (kinks) */
    float eps, atol, rtol;        /* 0: 1e-2, 2e-3, 2e-2 */
    dc_tensor *(*apply)(dc_tape *t, dc_tensor **in, dc_rng *rng);
} grad_case;
#define GRAD_CASE(name) void gradcase_##name(grad_case *c)
#endif
