/* test_gemm.c — the blocked GEMM against the reference triple loop: odd shapes,
 * every transpose combination, padded strides, alpha/beta (beta = 0 over NaN),
 * the fused epilogue, every ISA path, thread-count determinism, no allocation. */
#include "test.h"
#include "core/cpu.h"
#include "kernels/gemm.h"
#include <stdlib.h>
#include <string.h>

static void fill(dc_rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(dc_rng_uniform(r) * 2 - 1);
}

/* Paths this CPU can run, each once. */
static int isa_paths(int *out) {
    int n = 0;
    for (int isa = DC_ISA_PORTABLE; isa <= DC_ISA_AVX512; isa++) {
        int got = dc_gemm_set_isa(isa);
        if (got == isa) out[n++] = isa;
    }
    dc_gemm_set_isa(-1);
    return n;
}

/* One dc_gemm_ex call against reference + scalar epilogue; returns the closeness ratio. */
static double run_case(dc_rng *r, bool ta, bool tb, int64_t M, int64_t N, int64_t K, int pad,
                       float alpha, float beta, const dc_gemm_epilogue *ep) {
    int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    int64_t arows = ta ? K : M, brows = tb ? N : K;
    float *A = malloc(sizeof(float) * (size_t)(arows * lda + 1));
    float *B = malloc(sizeof(float) * (size_t)(brows * ldb + 1));
    /* GUARD rows past the end of C catch stores outside the tile */
    enum { GUARD = 16 };
    int64_t cn = (M + GUARD) * ldc;
    float *C = malloc(sizeof(float) * (size_t)cn);
    float *R = malloc(sizeof(float) * (size_t)cn);
    fill(r, A, arows * lda);
    fill(r, B, brows * ldb);
    if (beta == 0)
        for (int64_t i = 0; i < M * ldc; i++) C[i] = NAN;
    else fill(r, C, M * ldc);
    for (int64_t i = M * ldc; i < cn; i++) C[i] = 12345.0f;
    memcpy(R, C, sizeof(float) * (size_t)cn);
    dc_gemm_ex(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, ep);
    dc_gemm_reference(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
    double worst = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            float want = R[i * ldc + j];
            if (ep) {
                want += ep->bias ? ep->bias[j] : 0.0f;
                if (ep->act == DC_EPI_RELU) want = want > 0 ? want : 0;
                if (ep->act == DC_EPI_SIGMOID) want = 1.0f / (1.0f + expf(-want));
                if (ep->act == DC_EPI_TANH) want = tanhf(want);
            }
            double tol = 2e-6 * (double)K + 1e-5 + 1e-5 * fabs(want);
            double d = fabs((double)C[i * ldc + j] - want) / tol;
            if (!(d <= worst)) worst = d; /* NaN makes worst NaN */
        }
        /* padding past N must be untouched */
        for (int64_t j = N; j < ldc; j++)
            if (memcmp(&C[i * ldc + j], &R[i * ldc + j], sizeof(float))) worst = 1e9;
    }
    if (memcmp(C + M * ldc, R + M * ldc, sizeof(float) * (size_t)(GUARD * ldc))) worst = 1e9;
    free(A);
    free(B);
    free(C);
    free(R);
    return worst;
}

static const int64_t shapes[][3] = {
    {1, 1, 1},     {1, 17, 3},    {3, 1, 17},    {17, 31, 33},  {31, 33, 17},   {33, 65, 31},
    {65, 127, 3},  {127, 65, 33}, {14, 32, 1},   {15, 33, 257}, {28, 64, 300},  {13, 47, 520},
    {200, 70, 40}, {1, 127, 65},  {127, 1, 65},  {29, 17, 513}, {6, 16, 7},     {7, 17, 256},
    {12, 48, 2},   {5, 24, 9},    {40, 36, 216}, {3, 3100, 5}, {200, 3100, 20}, {9, 24, 2100}, {30, 20, 1030}, {9, 24, 5000}, {3, 40, 4500},  {730, 40, 20},  {64, 100, 128}};

TEST(gemm_matches_reference_every_path_and_transpose) {
    dc_rng r;
    dc_rng_seed(&r, 1);
    int paths[3], np = isa_paths(paths);
    const float ab[][2] = {{1, 0}, {0.5f, 1}, {-1.5f, 0.25f}, {2, -1}};
    for (int p = 0; p < np; p++) {
        CHECK(dc_gemm_set_isa(paths[p]) == paths[p]);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++) {
                bool ta = t & 1, tb = t & 2;
                int pad = (int)((s + (size_t)t) % 3) * 3; /* 0, 3 or 6 past the width */
                const float *a_b = ab[(s + (size_t)t) % 4];
                double w = run_case(&r, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2], pad,
                                    a_b[0], a_b[1], NULL);
                if (!(w <= 1))
                    test_fail(__FILE__, __LINE__,
                              "isa %d ta %d tb %d M %lld N %lld K %lld alpha %g beta %g: %.3g x tol",
                              paths[p], ta, tb, (long long)shapes[s][0], (long long)shapes[s][1],
                              (long long)shapes[s][2], a_b[0], a_b[1], w);
            }
    }
    dc_gemm_set_isa(-1);
}

TEST(gemm_epilogue_bias_and_activations) {
    dc_rng r;
    dc_rng_seed(&r, 2);
    int paths[3], np = isa_paths(paths);
    float bias[3100];
    fill(&r, bias, 3100);
    const int64_t eshape[][3] = {{17, 33, 9}, {32, 100, 300}, {3, 45, 1100}, {1, 1, 1}, {64, 24, 9}};
    for (int p = 0; p < np; p++) {
        dc_gemm_set_isa(paths[p]);
        for (int act = DC_EPI_NONE; act <= DC_EPI_TANH; act++)
            for (int wb = 0; wb < 2; wb++)
                for (size_t s = 0; s < sizeof eshape / sizeof eshape[0]; s++) {
                    dc_gemm_epilogue ep = {wb ? bias : NULL, (dc_epi_act)act};
                    bool ta = s & 1, tb = (s >> 1) & 1;
                    float beta = s % 2 ? 0.5f : 0.0f;
                    double w = run_case(&r, ta, tb, eshape[s][0], eshape[s][1], eshape[s][2],
                                        1, 0.75f, beta, &ep);
                    if (!(w <= 1))
                        test_fail(__FILE__, __LINE__, "isa %d act %d bias %d shape %zu: %.3g x tol",
                                  paths[p], act, wb, s, w);
                }
    }
    dc_gemm_set_isa(-1);
}

/* 33..36 columns, A and B not transposed, K % 4 == 0, alpha 1: the k-split
 * kernel (full and edge row tiles), with beta, bias and ReLU. */
TEST(gemm_k_split_columns_match_the_reference) {
    dc_rng r;
    dc_rng_seed(&r, 9);
    float bias[36];
    fill(&r, bias, 36);
    const int64_t sh[][3] = {{40, 36, 216}, {15, 34, 12}, {2, 33, 1024}, {100, 35, 4}};
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++)
        for (int v = 0; v < 3; v++) {
            dc_gemm_epilogue ep = {v ? bias : NULL, v == 2 ? DC_EPI_RELU : DC_EPI_NONE};
            double w = run_case(&r, false, false, sh[s][0], sh[s][1], sh[s][2], (int)s % 2 * 5,
                                1.0f, v == 1 ? 0.5f : 0.0f, v ? &ep : NULL);
            if (!(w <= 1)) test_fail(__FILE__, __LINE__, "shape %zu variant %d: %.3g x tol", s, v, w);
        }
}

/* Batch-1 inference must predict what the same input gets inside a batch: a
 * one-row product (its own kernel on AVX-512) equals that row of a 20-row
 * product bit for bit, with every epilogue, alpha/beta and A transposed. */
TEST(gemm_one_row_has_the_bits_of_the_same_row_in_a_batch) {
    dc_rng r;
    dc_rng_seed(&r, 5);
    enum { M = 20, ROW = 13 };
    const int64_t nk[][2] = {{1, 1}, {10, 128}, {17, 113}, {128, 1764}, {300, 250}, {36, 5}, {36, 12}};
    float bias[300];
    fill(&r, bias, 300);
    for (size_t s = 0; s < sizeof nk / sizeof nk[0]; s++)
        for (int v = 0; v < 2 * 4; v++) {
            const int64_t N = nk[s][0], K = nk[s][1];
            const bool ta = v & 1;
            const float alpha = v & 2 ? 0.75f : 1.0f, beta = v & 4 ? 0.5f : 0.0f;
            dc_gemm_epilogue ep = {bias, (dc_epi_act)(s % 4)};
            float *A = malloc(sizeof(float) * (size_t)(M * K)), *a = malloc(sizeof(float) * (size_t)K);
            float *B = malloc(sizeof(float) * (size_t)(K * N));
            float *C = malloc(sizeof(float) * (size_t)(M * N)), *c = malloc(sizeof(float) * (size_t)N);
            fill(&r, A, M * K);
            fill(&r, B, K * N);
            fill(&r, C, M * N);
            for (int64_t k = 0; k < K; k++) a[k] = ta ? A[k * M + ROW] : A[ROW * K + k];
            memcpy(c, C + ROW * N, sizeof(float) * (size_t)N);
            dc_gemm_ex(ta, false, M, N, K, alpha, A, ta ? M : K, B, N, beta, C, N, &ep);
            /* the row alone, A transposed too: a (K,1) with row stride M */
            float *at = ta ? A + ROW : a;
            dc_gemm_ex(ta, false, 1, N, K, alpha, at, ta ? M : K, B, N, beta, c, N, &ep);
            if (memcmp(c, C + ROW * N, sizeof(float) * (size_t)N))
                test_fail(__FILE__, __LINE__, "N %lld K %lld ta %d alpha %g beta %g act %d: bits differ",
                          (long long)N, (long long)K, ta, alpha, beta, (int)ep.act);
            free(A);
            free(a);
            free(B);
            free(C);
            free(c);
        }
}

TEST(gemm_degenerate_sizes) {
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 2, 3, 4, 5, 6};
    float C[4] = {1, 2, 3, 4};
    dc_gemm(false, false, 0, 2, 3, 1, A, 3, B, 2, 0, C, 2); /* M = 0: C untouched */
    CHECK(C[0] == 1 && C[3] == 4);
    dc_gemm(false, false, 2, 2, 0, 1, A, 3, B, 2, 2, C, 2); /* K = 0: C = beta C */
    CHECK(C[0] == 2 && C[3] == 8);
    C[1] = NAN;
    dc_gemm(false, false, 2, 2, 3, 0, A, 3, B, 2, 0, C, 2); /* alpha = beta = 0: zeros */
    CHECK(C[0] == 0 && C[1] == 0 && C[3] == 0);
    dc_gemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
    CHECK(C[0] == 22 && C[1] == 28 && C[2] == 49 && C[3] == 64);
}

TEST(gemm_set_isa_clamps_to_the_cpu) {
    int top = dc_gemm_set_isa(DC_ISA_AVX512);
    CHECK(top >= DC_ISA_PORTABLE && top <= DC_ISA_AVX512);
    CHECK(dc_gemm_set_isa(DC_ISA_PORTABLE) == DC_ISA_PORTABLE);
    CHECK(dc_gemm_set_isa(-1) == (int)dc_cpu_isa());
}

TEST(gemm_bit_identical_for_any_thread_count) {
    dc_rng r;
    dc_rng_seed(&r, 3);
    const int64_t sh[][3] = {{300, 200, 600}, {32, 784, 128}, {784, 128, 32}, {700, 50, 300}, {9, 24, 43264}};
    int saved = dc_get_num_threads();
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int64_t M = sh[s][0], N = sh[s][1], K = sh[s][2];
        float *A = malloc(sizeof(float) * (size_t)(M * K));
        float *B = malloc(sizeof(float) * (size_t)(K * N));
        float *C1 = malloc(sizeof(float) * (size_t)(M * N));
        float *C2 = malloc(sizeof(float) * (size_t)(M * N));
        float bias[784];
        fill(&r, A, M * K);
        fill(&r, B, K * N);
        fill(&r, bias, 784);
        dc_gemm_epilogue ep = {bias, DC_EPI_TANH};
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            dc_set_num_threads(1);
            dc_gemm_ex(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0, C1, N, &ep);
            dc_set_num_threads(2);
            dc_gemm_ex(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0, C2, N, &ep);
            CHECK(memcmp(C1, C2, sizeof(float) * (size_t)(M * N)) == 0);
        }
        free(A);
        free(B);
        free(C1);
        free(C2);
    }
    dc_set_num_threads(saved);
}

TEST(gemm_repeated_calls_allocate_nothing) {
    dc_rng r;
    dc_rng_seed(&r, 4);
    int64_t M = 400, N = 300, K = 520;
    float *A = malloc(sizeof(float) * (size_t)(M * K));
    float *B = malloc(sizeof(float) * (size_t)(K * N));
    float *C = malloc(sizeof(float) * (size_t)(M * N));
    fill(&r, A, M * K);
    fill(&r, B, K * N);
    uint64_t before = 0;
    for (int i = 0; i < 4; i++) { /* the first round (warm-up) grows the buffers */
        if (i == 1) before = dc_alloc_count();
        dc_gemm(false, false, M, N, K, 1, A, K, B, N, 0, C, N);
        dc_gemm(true, true, 32, 128, 300, 1, A, 32, B, 300, 1, C, 128);
        dc_gemm(false, true, 17, 33, 9, 1, A, 9, B, 9, 0, C, 33);
    }
    CHECK(dc_alloc_count() == before);
    free(A);
    free(B);
    free(C);
}

TEST(gemm_called_from_a_callers_parallel_region) {
    /* Each caller thread has its own workspace and runs alone: no shared buffer,
     * no worksharing construct that would bind to the caller's team. */
    enum { T = 2, M = 150, N = 70, K = 300 };
    static float A[T][M * K], B[T][K * N], C[T][M * N], R[T][M * N];
    dc_rng r;
    dc_rng_seed(&r, 6);
    for (int t = 0; t < T; t++) {
        fill(&r, A[t], M * K);
        fill(&r, B[t], K * N);
        dc_gemm_reference(false, t == 1, M, N, K, 1, A[t], K, B[t], t == 1 ? K : N, 0, R[t], N);
    }
    int ok[T] = {0};
#pragma omp parallel for num_threads(T)
    for (int t = 0; t < T; t++) {
        for (int rep = 0; rep < 3; rep++)
            dc_gemm(false, t == 1, M, N, K, 1, A[t], K, B[t], t == 1 ? K : N, 0, C[t], N);
        ok[t] = test_close_ratio(C[t], R[t], M * N, 1e-4, 1e-4) <= 1.0;
    }
    for (int t = 0; t < T; t++) CHECK(ok[t]);
}

/* Implicit GEMM: A~[i,g] (r, t*S+s) = A[i*lda_i + g*lda_g + r*lda + toff[t] + s],
 * against the triple loop on the gathered matrix, every path, epilogue and beta,
 * 1 and 2 threads bit for bit; rows between groups and images of C untouched.
 * N 33..36 with S % 4 == 0 takes the k-split kernel (full and edge tiles). */
TEST(gemm_taps_matches_the_gathered_product) {
    dc_rng r;
    dc_rng_seed(&r, 6);
    int paths[3], np = isa_paths(paths);
    /* M, N, S, taps, lda, G, I */
    const int64_t sh[][7] = {{1, 1, 1, 1, 1, 1, 1},     {33, 36, 24, 9, 24, 1, 1},
                             {14, 36, 24, 9, 24, 30, 1}, {17, 50, 9, 3, 12, 2, 3},
                             {100, 24, 36, 9, 40, 1, 2}, {40, 70, 50, 30, 50, 3, 1},
                             {400, 36, 24, 9, 24, 1, 1}, {14, 36, 24, 9, 24, 14, 4},
                             {5, 24, 8, 9, 8, 7, 5},     {9, 34, 12, 5, 16, 2, 2},
                             {6, 33, 4, 9, 8, 3, 1},     {20, 36, 10, 3, 12, 1, 2}};
    float bias[80];
    fill(&r, bias, 80);
    int saved = dc_get_num_threads();
    for (int p = 0; p < np; p++) {
        dc_gemm_set_isa(paths[p]);
        for (size_t c = 0; c < sizeof sh / sizeof sh[0]; c++) {
            const int64_t M = sh[c][0], N = sh[c][1], S = sh[c][2], T = sh[c][3], lda = sh[c][4];
            const int64_t G = sh[c][5], I = sh[c][6], lda_g = (M + 2) * lda, ldc_g = (M + 1) * N;
            const int64_t lda_i = G * lda_g + 7, ldc_i = G * ldc_g + 3, K = T * S;
            int64_t toff[30];
            for (int64_t t = 0; t < T; t++) toff[t] = (t * 7) % 5 * lda + t % 3; /* any order */
            const int64_t na = I * lda_i + 5 * lda + S + 3, nc = I * ldc_i;
            float *A = malloc(sizeof(float) * (size_t)na), *B = malloc(sizeof(float) * (size_t)(K * N));
            float *Gm = malloc(sizeof(float) * (size_t)(M * K));
            float *C = malloc(sizeof(float) * (size_t)nc), *C2 = malloc(sizeof(float) * (size_t)nc);
            float *R = malloc(sizeof(float) * (size_t)nc);
            fill(&r, A, na);
            fill(&r, B, K * N);
            fill(&r, R, nc);
            const float beta = c % 2 ? 0.5f : 0.0f;
            const dc_gemm_epilogue ep = {c % 3 ? bias : NULL, c % 2 ? DC_EPI_NONE : DC_EPI_RELU};
            memcpy(C, R, sizeof(float) * (size_t)nc);
            memcpy(C2, R, sizeof(float) * (size_t)nc);
            dc_set_num_threads(1);
            dc_gemm_taps(I, G, M, N, T, toff, S, A, lda, lda_g, lda_i, B, N, beta, C, N, ldc_g,
                         ldc_i, &ep);
            dc_set_num_threads(2);
            dc_gemm_taps(I, G, M, N, T, toff, S, A, lda, lda_g, lda_i, B, N, beta, C2, N, ldc_g,
                         ldc_i, &ep);
            CHECK(memcmp(C, C2, sizeof(float) * (size_t)nc) == 0);
            /* R becomes the expected C: the reference where C is written, else as it was */
            for (int64_t im = 0; im < I; im++)
                for (int64_t g = 0; g < G; g++) {
                    const float *Ag = A + im * lda_i + g * lda_g;
                    for (int64_t i = 0; i < M; i++)
                        for (int64_t t = 0; t < T; t++)
                            for (int64_t s = 0; s < S; s++)
                                Gm[i * K + t * S + s] = Ag[i * lda + toff[t] + s];
                    float *Rg = R + im * ldc_i + g * ldc_g;
                    dc_gemm_reference(false, false, M, N, K, 1.0f, Gm, K, B, N, beta, Rg, N);
                    for (int64_t i = 0; i < M * N; i++) {
                        if (ep.bias) Rg[i] += ep.bias[i % N];
                        if (ep.act == DC_EPI_RELU) Rg[i] = Rg[i] > 0 ? Rg[i] : 0;
                    }
                }
            double worst = 0;
            for (int64_t i = 0; i < nc; i++) {
                double d = fabs((double)C[i] - R[i]) / (2e-6 * (double)K + 1e-5);
                if (!(d <= worst)) worst = d;
            }
            if (!(worst <= 1))
                test_fail(__FILE__, __LINE__, "isa %d case %zu: %.3g x tol", paths[p], c, worst);
            free(A), free(B), free(Gm), free(C), free(C2), free(R);
        }
    }
    dc_set_num_threads(saved);
    dc_gemm_set_isa(-1);
}

/* dc_gemm_rows: row g*Mg + i of A~ at A + goff[g] + i*lda, against the triple
 * loop on the gathered rows, every path (N 33..36 with K % 4 == 0 takes the
 * k-split kernel, full and edge tiles; the rest the per-group products); and
 * dc_gemm_transpose on a ragged block. */
TEST(gemm_rows_and_transpose_match_the_reference) {
    dc_rng r;
    dc_rng_seed(&r, 8);
    int paths[3], np = isa_paths(paths);
    /* G, Mg, N, K, lda */
    const int64_t sh[][5] = {{9, 24, 36, 992, 1030}, {3, 5, 33, 12, 20}, {2, 7, 36, 10, 13},
                             {4, 3, 20, 16, 18}, {1, 1, 35, 4, 4}};
    for (int p = 0; p < np; p++) {
        dc_gemm_set_isa(paths[p]);
        for (size_t c = 0; c < sizeof sh / sizeof sh[0]; c++) {
            const int64_t G = sh[c][0], Mg = sh[c][1], N = sh[c][2], K = sh[c][3], lda = sh[c][4];
            const int64_t M = G * Mg, na = (Mg + G) * lda + K, ldc = N + 3;
            int64_t goff[9];
            for (int64_t g = 0; g < G; g++) goff[g] = (g * 5) % 7 + (g % 2) * lda; /* any order */
            float *A = malloc(sizeof(float) * (size_t)na), *B = malloc(sizeof(float) * (size_t)(K * N));
            float *Gm = malloc(sizeof(float) * (size_t)(M * K));
            float *C = malloc(sizeof(float) * (size_t)(M * ldc)), *R = malloc(sizeof(float) * (size_t)(M * ldc));
            fill(&r, A, na);
            fill(&r, B, K * N);
            fill(&r, C, M * ldc);
            memcpy(R, C, sizeof(float) * (size_t)(M * ldc)); /* the padding columns stay */
            for (int64_t g = 0; g < G; g++)
                for (int64_t i = 0; i < Mg; i++)
                    memcpy(Gm + (g * Mg + i) * K, A + goff[g] + i * lda, sizeof(float) * (size_t)K);
            dc_gemm_reference(false, false, M, N, K, 1.0f, Gm, K, B, N, 0.0f, R, ldc);
            dc_gemm_rows(G, Mg, N, K, goff, A, lda, B, N, C, ldc);
            double worst = 0;
            for (int64_t i = 0; i < M * ldc; i++) {
                double d = fabs((double)C[i] - R[i]) / (2e-6 * (double)K + 1e-5);
                if (!(d <= worst)) worst = d;
            }
            if (!(worst <= 1))
                test_fail(__FILE__, __LINE__, "isa %d case %zu: %.3g x tol", paths[p], c, worst);
            free(A), free(B), free(Gm), free(C), free(R);
        }
        /* src (19, 23) with row stride 25 -> dst (23, 19) with row stride 21 */
        float src[19 * 25], dst[23 * 21];
        fill(&r, src, 19 * 25);
        for (int i = 0; i < 23 * 21; i++) dst[i] = 7.0f;
        dc_gemm_transpose(src, 25, 19, 23, dst, 21);
        bool ok = true;
        for (int c = 0; c < 23; c++)
            for (int j = 0; j < 21; j++)
                ok = ok && dst[c * 21 + j] == (j < 19 ? src[j * 25 + c] : 7.0f);
        CHECK(ok);
    }
    dc_gemm_set_isa(-1);
}
