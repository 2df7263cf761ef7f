/* avx512_lanes.h — the mask of the first n of a vector's 16 float lanes, for
 * the ragged tails of the AVX-512 kernels (include after <immintrin.h>). */
#ifndef DC_KERNELS_AVX512_LANES_H
#define DC_KERNELS_AVX512_LANES_H
#include <stdint.h>

/* n <= 0: no lane; n >= 16: all of them */
static inline __mmask16 dc_lanes16(int64_t n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}
#endif
