/* rng.c — PCG32 with portable transforms: the same seed gives the same numbers
 * on every platform, so the normal transform avoids libm (whose log may differ). */
#include "core.h"

#define PCG_MULT 6364136223846793005ULL

void dc_rng_seed(dc_rng *r, uint64_t seed) {
    r->state = 0;
    r->inc = (seed << 1u) | 1u;
    r->has_spare = 0;
    r->spare = 0;
    dc_rng_u32(r);
    r->state += 0x853c49e6748fea9bULL ^ seed;
    dc_rng_u32(r);
}

uint32_t dc_rng_u32(dc_rng *r) {
    uint64_t old = r->state;
    r->state = old * PCG_MULT + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

/* The state after n steps of state = a state + c is A state + C with
 * A = a^n and C = c (a^(n-1) + ... + 1), built from the bits of n by
 * composing the step with itself (squaring). */
void dc_rng_advance(dc_rng *r, uint64_t n) {
    uint64_t a = PCG_MULT, c = r->inc, A = 1, C = 0;
    for (; n; n >>= 1) {
        if (n & 1) {
            A *= a;
            C = C * a + c;
        }
        c *= a + 1;
        a *= a;
    }
    r->state = A * r->state + C;
}

uint32_t dc_rng_below(dc_rng *r, uint32_t n) {
    if (n == 0) return 0;
    uint32_t threshold = (uint32_t)(-n) % n; /* rejects the biased low values */
    for (;;) {
        uint32_t x = dc_rng_u32(r);
        if (x >= threshold) return x % n;
    }
}

double dc_rng_uniform(dc_rng *r) {
    uint64_t hi = dc_rng_u32(r) >> 5, lo = dc_rng_u32(r) >> 6; /* 53 bits */
    return (double)(hi * 67108864.0 + lo) * (1.0 / 9007199254740992.0);
}

/* Natural log from +, *, / only (IEEE-exact operations): x = m * 2^e with
 * m in [sqrt(1/2), sqrt(2)), then log m = 2 atanh((m-1)/(m+1)) as a series. */
static double portable_log(double x) {
    int e = 0;
    while (x >= 1.4142135623730951) { x *= 0.5; e++; }
    while (x < 0.7071067811865476) { x *= 2.0; e--; }
    double s = (x - 1.0) / (x + 1.0), s2 = s * s, term = s, sum = 0;
    for (int k = 1; k < 60; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return 2.0 * sum + e * 0.6931471805599453;
}

/* Marsaglia's polar method: needs only log and sqrt (sqrt is IEEE-exact). */
double dc_rng_normal(dc_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * dc_rng_uniform(r) - 1.0;
        v = 2.0 * dc_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = __builtin_sqrt(-2.0 * portable_log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

void dc_rng_shuffle(dc_rng *r, int64_t *idx, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(dc_rng_uniform(r) * (double)(i + 1));
        if (j > i) j = i;
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
