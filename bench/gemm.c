/* gemm.c (bench) — deepc's dc_gemm against OpenBLAS cblas_sgemm and oneDNN
 * dnnl_sgemm in the same run: squares and the shapes of a small MLP and CNN
 * (forward and backward). Best-of-N GFLOP/s, a table on stdout, CSV to argv[1].
 * The CNN's convolutions run as implicit GEMM (dc_gemm_taps, dc_gemm_rows on
 * padded frames): the libraries get the same product on a materialized patch
 * matrix. */
#include "deepc.h"
#include "kernels/gemm.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef HAVE_OPENBLAS
#include CBLAS_HEADER
#endif
#ifdef HAVE_DNNL
#include <dnnl.h>
#endif

/* How deepc runs a shape: a plain dc_gemm, or as the conv ops run it on 4
 * zero-padded images of out x out pixels ('same' 3x3, frames of out+2): */
typedef enum {
    RUN_GEMM,
    RUN_TAPS, /* dc_gemm_taps, 9 taps of taps_c floats */
    RUN_ROWS  /* dc_gemm_rows on channel-major frames: dW (9 * taps_c, N) */
} run_kind;

typedef struct {
    const char *name;
    bool ta, tb;
    int64_t M, N, K;
    run_kind run;
    int64_t taps_c, out; /* the implicit runs: input channels, output side */
} shape;

static const shape shapes[] = {
    {"square 64", false, false, 64, 64, 64, RUN_GEMM, 0, 0},
    {"square 128", false, false, 128, 128, 128, RUN_GEMM, 0, 0},
    {"square 256", false, false, 256, 256, 256, RUN_GEMM, 0, 0},
    {"square 512", false, false, 512, 512, 512, RUN_GEMM, 0, 0},
    {"square 1024", false, false, 1024, 1024, 1024, RUN_GEMM, 0, 0},
    {"square 2048", false, false, 2048, 2048, 2048, RUN_GEMM, 0, 0},
    {"mlp fwd x.W", false, false, 32, 128, 784, RUN_GEMM, 0, 0},
    {"mlp dW x^T.dy", true, false, 784, 128, 32, RUN_GEMM, 0, 0},
    {"mlp dx dy.W^T", false, true, 32, 784, 128, RUN_GEMM, 0, 0},
    /* The CNN (models/fashion_cnn.ini, batch 64): its dense layer, and its
     * convolutions as the fused conv + pool op runs them, in 16 chunks of 4
     * images (28x28 and 14x14 'same' outputs; there the two threads take
     * chunks, here both run each product). conv1 (one channel) runs on a
     * patch matrix; conv2 as implicit GEMM: forward and dX 9 taps of 24 and of
     * 36 floats, dW one product over channel-major frames, where the libraries
     * get the same products on a materialized patch matrix (conv2's explicit
     * rows: what a Conv2D with strides runs). */
    {"dense 64x1764x128", false, false, 64, 128, 1764, RUN_GEMM, 0, 0},
    {"dense 64x1764x128 dW", true, false, 1764, 128, 64, RUN_GEMM, 0, 0},
    {"dense 64x1764x128 dx", false, true, 64, 1764, 128, RUN_GEMM, 0, 0},
    {"conv1 fwd", false, false, 4 * 28 * 28, 24, 9, RUN_GEMM, 0, 0},
    {"conv1 dW", true, false, 9, 24, 4 * 28 * 28, RUN_GEMM, 0, 0},
    {"conv2 fwd", false, false, 4 * 14 * 14, 36, 216, RUN_GEMM, 0, 0},
    {"conv2 dW^T", true, false, 36, 216, 4 * 14 * 14, RUN_GEMM, 0, 0},
    {"conv2 dcols", false, true, 4 * 14 * 14, 216, 36, RUN_GEMM, 0, 0},
    {"conv2 fwd implicit", false, false, 4 * 14 * 14, 36, 216, RUN_TAPS, 24, 14},
    {"conv2 dX implicit", false, false, 4 * 14 * 14, 24, 324, RUN_TAPS, 36, 14},
    {"conv2 dW implicit", true, false, 216, 36, 4 * 14 * 14, RUN_ROWS, 24, 14},
};

/* What the implicit runs read: 4 zero-padded frames of taps_c channels (+ the
 * last tap's overhang), NHWC for the taps and channel-major (row stride
 * ldt) for dW, whose gradient gz lives on the frame grid; the tap offsets. */
enum { FRAMES = 4 };
static float *frames, *frames_t, *gz;
static int64_t toff[9], tpix[9], ldt;

static bool make_frames(const shape *s, dc_rng *r) {
    const int64_t C = s->taps_c, FR = s->out + 2, P = FR * FR, n = FRAMES * P * C + 2 * C;
    ldt = FRAMES * P + 8;
    free(frames), free(frames_t), free(gz);
    frames = calloc((size_t)n, sizeof(float));
    frames_t = calloc((size_t)(C * ldt), sizeof(float));
    gz = calloc((size_t)(FRAMES * P * s->N), sizeof(float));
    if (!frames || !frames_t || !gz) return false;
    for (int64_t i = 0; i < FRAMES; i++)
        for (int64_t y = 1; y <= s->out; y++)
            for (int64_t x = 1; x <= s->out; x++) {
                const int64_t p = (i * FR + y) * FR + x;
                for (int64_t c = 0; c < C; c++)
                    frames_t[c * ldt + p] = frames[p * C + c] = (float)dc_rng_uniform(r) - 0.5f;
                /* dW's output gradient: conv pixel (y-1, x-1) is frame row p - FR - 1 */
                for (int64_t f = 0; f < s->N; f++)
                    gz[(p - FR - 1) * s->N + f] = (float)dc_rng_uniform(r) - 0.5f;
            }
    for (int64_t a = 0; a < 3; a++)
        for (int64_t b = 0; b < 3; b++) toff[a * 3 + b] = (a * FR + b) * C, tpix[a * 3 + b] = a * FR + b;
    return true;
}

static void deepc_implicit(const shape *s, const float *B, float *C) {
    const int64_t Cin = s->taps_c, FR = s->out + 2, P = FR * FR, out = s->out;
    const int64_t rows = (FRAMES - 1) * P + out * FR, kr = (rows + 3) / 4 * 4;
    switch (s->run) {
    case RUN_TAPS:
        dc_gemm_taps(FRAMES, out, out, s->N, 9, toff, Cin, frames, Cin, FR * Cin, P * Cin, B, s->N,
                     0.0f, C, s->N, out * s->N, out * out * s->N, NULL);
        break;
    case RUN_ROWS:
        dc_gemm_rows(9, Cin, s->N, kr, tpix, frames_t, ldt, gz, s->N, C, s->N);
        break;
    case RUN_GEMM: break;
    }
}

typedef enum { LIB_DEEPC, LIB_OPENBLAS, LIB_DNNL } lib_id;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool call(lib_id lib, const shape *s, const float *A, const float *B, float *C) {
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N, ldc = s->N;
    switch (lib) {
    case LIB_DEEPC:
        if (s->run != RUN_GEMM) {
            deepc_implicit(s, B, C);
            return true;
        }
        dc_gemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
        return true;
    case LIB_OPENBLAS:
#ifdef HAVE_OPENBLAS
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, (int)s->M, (int)s->N, (int)s->K, 1.0f, A,
                    (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
        return true;
#else
        return false;
#endif
    case LIB_DNNL:
#ifdef HAVE_DNNL
        return dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M, s->N, s->K, 1.0f, A, lda, B,
                          ldb, 0.0f, C, ldc) == dnnl_success;
#else
        return false;
#endif
    }
    return false;
}

/* Calls per timed batch so that one batch lasts about 5 ms (short batches
 * make it likelier that one misses load from elsewhere); 0 if absent. */
static int calibrate(lib_id lib, const shape *s, const float *A, const float *B, float *C) {
    if (!call(lib, s, A, B, C)) return 0;
    int reps = 1;
    for (;;) {
        double t0 = now();
        for (int r = 0; r < reps; r++) call(lib, s, A, B, C);
        if (now() - t0 > 0.005 || reps >= 1 << 20) return reps;
        reps *= 2;
    }
}

/* Best GFLOP/s of each library over ROUNDS batches; the libraries take turns
 * batch by batch, so a burst of load from elsewhere hits them alike. */
#define ROUNDS 15
static void measure(const shape *s, const float *A, const float *B, float *C, double g[3]) {
    double flop = 2.0 * (double)s->M * (double)s->N * (double)s->K, best[3];
    int reps[3];
    for (int l = 0; l < 3; l++) {
        reps[l] = calibrate((lib_id)l, s, A, B, C);
        best[l] = 1e30;
    }
    for (int round = 0; round < ROUNDS; round++)
        for (int l = 0; l < 3; l++) {
            if (!reps[l]) continue;
            double t0 = now();
            for (int r = 0; r < reps[l]; r++) call((lib_id)l, s, A, B, C);
            double t = (now() - t0) / reps[l];
            if (t < best[l]) best[l] = t;
        }
    for (int l = 0; l < 3; l++) g[l] = reps[l] ? flop / best[l] * 1e-9 : -1;
}

static void cell(char *out, size_t n, double v) {
    if (v < 0) snprintf(out, n, "n/a");
    else snprintf(out, n, "%.1f", v);
}
static void ratio(char *out, size_t n, double a, double b) {
    if (a < 0 || b <= 0) snprintf(out, n, "n/a");
    else snprintf(out, n, "%.2fx", a / b);
}

/* "table:" rows for bench/speed_table.py: SGEMM 1024^3, and the net shapes'
 * lowest ratio to oneDNN (GFLOP/s over GFLOP/s: higher is better here). */
static void print_table_rows(const double sq[3], const char *worst, double worst_ratio) {
    char dnnl[16], oblas[16], r_dnnl[16], r_oblas[16];
    cell(dnnl, sizeof dnnl, sq[2]);
    cell(oblas, sizeof oblas, sq[1]);
    ratio(r_dnnl, sizeof r_dnnl, sq[0], sq[2]);
    ratio(r_oblas, sizeof r_oblas, sq[0], sq[1]);
    if (sq[0] > 0)
        printf("table: | SGEMM 1024^3, GFLOP/s (higher is better) | %.0f | oneDNN %s, OpenBLAS %s | "
               "%s, %s |\n", sq[0], dnnl, oblas, r_dnnl, r_oblas);
    if (worst)
        printf("table: | GEMM shapes of the MLP and CNN, lowest deepc / oneDNN GFLOP/s | %s | | %.2fx |\n",
               worst, worst_ratio);
}

int main(int argc, char **argv) {
    /* argv[1]: CSV path ("-" for none); argv[2]: only shapes whose name contains it */
    const char *csv_path = argc > 1 && strcmp(argv[1], "-") ? argv[1] : NULL;
    const char *filter = argc > 2 ? argv[2] : NULL;
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv_path && !csv) fprintf(stderr, "bench gemm: cannot write %s\n", csv_path);
    if (csv) fprintf(csv, "shape,ta,tb,M,N,K,deepc_gflops,openblas_gflops,onednn_gflops\n");
    int threads = dc_get_num_threads();
#ifdef HAVE_OPENBLAS
    openblas_set_num_threads(threads);
#endif
    printf("deepc GEMM (%s path) vs OpenBLAS cblas_sgemm and oneDNN dnnl_sgemm, %d threads, "
           "GFLOP/s (best of 15 interleaved batches)\n",
           dc_cpu_isa_name(), threads);
    /* The reader should know when other work shared the machine. */
    FILE *la = fopen("/proc/loadavg", "r");
    double load = -1;
    if (la) {
        if (fscanf(la, "%lf", &load) != 1) load = -1;
        fclose(la);
    }
    if (load >= 0)
        printf("load average %.2f before the run%s\n", load,
               load > 1.5 ? " (busy machine: compare ratios, not absolute numbers)" : "");
    printf("%-22s %5s %5s %6s %6s %6s %9s %9s %9s %9s %9s\n", "shape", "ta", "tb", "M", "N", "K",
           "deepc", "openblas", "onednn", "vs oblas", "vs dnnl");
    dc_rng r;
    dc_rng_seed(&r, 5);
    double sq1024[3] = {-1, -1, -1}, worst_ratio = 0;
    const char *worst = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        if (filter && !strstr(s->name, filter)) continue;
        size_t na = (size_t)(s->M * s->K), nb = (size_t)(s->K * s->N), nc = (size_t)(s->M * s->N);
        float *A = malloc(na * sizeof(float)), *B = malloc(nb * sizeof(float));
        float *C = malloc(nc * sizeof(float));
        if (!A || !B || !C) return 1;
        for (size_t k = 0; k < na; k++) A[k] = (float)dc_rng_uniform(&r) - 0.5f;
        for (size_t k = 0; k < nb; k++) B[k] = (float)dc_rng_uniform(&r) - 0.5f;
        if (s->run != RUN_GEMM && !make_frames(s, &r)) return 1;
        double g[3];
        measure(s, A, B, C, g);
        if (!strcmp(s->name, "square 1024")) memcpy(sq1024, g, sizeof g);
        if (strncmp(s->name, "square", 6) && g[0] > 0 && g[2] > 0 &&
            (!worst || g[0] / g[2] < worst_ratio))
            worst = s->name, worst_ratio = g[0] / g[2];
        char c0[16], c1[16], c2[16], r1[16], r2[16];
        cell(c0, sizeof c0, g[0]);
        cell(c1, sizeof c1, g[1]);
        cell(c2, sizeof c2, g[2]);
        ratio(r1, sizeof r1, g[0], g[1]);
        ratio(r2, sizeof r2, g[0], g[2]);
        printf("%-22s %5s %5s %6lld %6lld %6lld %9s %9s %9s %9s %9s\n", s->name,
               s->ta ? "T" : "N", s->tb ? "T" : "N", (long long)s->M, (long long)s->N,
               (long long)s->K, c0, c1, c2, r1, r2);
        fflush(stdout);
        if (csv)
            fprintf(csv, "%s,%d,%d,%lld,%lld,%lld,%.2f,%.2f,%.2f\n", s->name, s->ta, s->tb,
                    (long long)s->M, (long long)s->N, (long long)s->K, g[0], g[1], g[2]);
        free(A);
        free(B);
        free(C);
    }
    if (csv) fclose(csv);
    print_table_rows(sq1024, worst, worst_ratio);
    return 0;
}
