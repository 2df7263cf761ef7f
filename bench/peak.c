/* peak.c (bench) — which CPU `make bench` ran on (model, vendor family: Zen 4, Zen 5, Intel) and its
 * FMA peak, measured by a loop of independent FMAs (the clock, from a chain of dependent adds, names the FMA units). */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 20 /* best of: a round that another process interrupts is discarded */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Cycles per second: each add waits for the one before it, one cycle apiece on
 * every x86 core, while the loop's own counter runs beside the chain. */
#define ADD4 "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
static double clock_hz(void) {
    const int64_t iters = 50000; /* 32 adds each: ~0.5 ms at 3 GHz */
    double best = 1e30;
    uint64_t x = 0;
    for (int r = 0; r < 10 * ROUNDS; r++) {
        double t0 = now();
        for (int64_t i = 0; i < iters; i++)
            __asm__ __volatile__(ADD4 ADD4 ADD4 ADD4 ADD4 ADD4 ADD4 ADD4 : "+r"(x));
        double t = now() - t0;
        if (t < best) best = t;
    }
    return x ? 32.0 * (double)iters / best : 0;
}

/* FLOP/s of one core running independent FMAs: twelve chains, enough to cover
 * a 4-5 cycle latency on two FMA pipes, few enough for AVX2's 16 registers. */
#define FMA_LOOP(T, FMA, SET1, ADD)                                                              \
    T a0 = SET1(1.0f), a1 = SET1(1.1f), a2 = SET1(1.2f), a3 = SET1(1.3f), a4 = SET1(1.4f);      \
    T a5 = SET1(1.5f), a6 = SET1(1.6f), a7 = SET1(1.7f), a8 = SET1(1.8f), a9 = SET1(1.9f);      \
    T a10 = SET1(2.0f), a11 = SET1(2.1f);                                                         \
    const T m = SET1(0.999999f), c = SET1(1e-7f);                                                 \
    for (int64_t i = 0; i < iters; i++) {                                                         \
        a0 = FMA(a0, m, c), a1 = FMA(a1, m, c), a2 = FMA(a2, m, c), a3 = FMA(a3, m, c);           \
        a4 = FMA(a4, m, c), a5 = FMA(a5, m, c), a6 = FMA(a6, m, c), a7 = FMA(a7, m, c);           \
        a8 = FMA(a8, m, c), a9 = FMA(a9, m, c), a10 = FMA(a10, m, c), a11 = FMA(a11, m, c);       \
    }                                                                                             \
    T s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                      \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));

__attribute__((target("avx512f"))) static float fma_avx512(int64_t iters) {
    FMA_LOOP(__m512, _mm512_fmadd_ps, _mm512_set1_ps, _mm512_add_ps)
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(int64_t iters) {
    FMA_LOOP(__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_add_ps)
    float out[8];
    _mm256_storeu_ps(out, s);
    return out[0];
}

static double fma_flops(int lanes) {
    const int64_t iters = 100000; /* 12 FMAs each: 0.2-0.6 ms */
    double best = 1e30;
    float sink = 0;
    for (int r = 0; r < 5 * ROUNDS; r++) {
        double t0 = now();
        sink += lanes == 16 ? fma_avx512(iters) : fma_avx2(iters);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return sink != 0 ? 2.0 * 12 * lanes * (double)iters / best : 0;
}

/* The value of "key" in /proc/cpuinfo's first processor, or "?". */
static void cpuinfo(const char *key, char *out, size_t n) {
    snprintf(out, n, "?");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, key, kl) || !colon || (line[kl] != ' ' && line[kl] != '\t')) continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = 0;
        snprintf(out, n, "%s", colon);
        break;
    }
    fclose(f);
}

/* The core design from vendor and family: AMD's family 25 is Zen 3 and Zen 4 (only Zen 4
 * has AVX-512), 26 is Zen 5. */
static const char *core_name(const char *vendor, int family, int avx512) {
    if (!strcmp(vendor, "GenuineIntel")) return "Intel";
    if (strcmp(vendor, "AuthenticAMD")) return "other";
    if (family == 26) return "Zen 5";
    if (family == 25) return avx512 ? "Zen 4" : "Zen 3";
    if (family == 23) return "Zen 1/2";
    return "AMD, older than Zen";
}

int main(void) {
    char model[256], vendor[64], family[16], modelno[16];
    cpuinfo("model name", model, sizeof model);
    cpuinfo("vendor_id", vendor, sizeof vendor);
    cpuinfo("cpu family", family, sizeof family);
    cpuinfo("model", modelno, sizeof modelno);
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f"), fma = __builtin_cpu_supports("fma");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int lanes = avx512 ? 16 : fma ? 8 : 0;
    printf("cpu: %s | %s family %s model %s: %s | %ld CPUs | widest FMA: %s\n", model, vendor,
           family, modelno, core_name(vendor, atoi(family), avx512), cpus,
           avx512 ? "AVX-512" : fma ? "AVX2" : "none");
    if (!lanes) {
        printf("fma peak: n/a (no FMA instructions)\npeak_gflops=0\n");
        return 0;
    }
    /* The FMA loop's rate is the peak: a core may clock lower while it runs
     * wide FMAs than while it adds integers (Intel's AVX-512 frequencies). */
    double flops = fma_flops(lanes), hz = clock_hz();
    /* One or two FMA units (no x86 core has more): two, when the loop beat
     * what one could do at the integer clock by a margin that Intel's AVX-512
     * clock drop (to 0.7-0.8 of it) leaves and noise does not reach. */
    int units = flops / hz / (2.0 * lanes) > 1.25 ? 2 : 1;
    double fma_ghz = flops / (units * lanes * 2) * 1e-9;
    printf("fma peak: %d FMA/cycle x %d lanes (%d-bit) x 2 at %.2f GHz = %.1f GFLOP/s per core "
           "(an FMA loop, measured; integer clock %.2f GHz); %ld cores: %.1f GFLOP/s\n",
           units, lanes, lanes * 32, fma_ghz, flops * 1e-9, hz * 1e-9, cpus,
           flops * (double)cpus * 1e-9);
    printf("peak_gflops=%.1f\n", flops * (double)cpus * 1e-9);
    return 0;
}
