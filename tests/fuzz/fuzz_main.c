/* fuzz_main.c — a libFuzzer binary for one target of targets.c, chosen with
 * -DFUZZ_TARGET=name; idx and model/checkpoint get structure-aware mutators. */
#include "targets.c"
#include <zlib.h>

#define FUZZ_CAT2(a, b) a##b
#define FUZZ_CAT(a, b) FUZZ_CAT2(a, b)

/* The library logs to a callback only, and none is set: nothing is printed. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return FUZZ_CAT(fuzz_, FUZZ_TARGET)(data, size);
}

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
#define FUZZ_IS_idx 1
#define FUZZ_IS_model 2
#define FUZZ_IS_checkpoint 2
#ifdef FUZZ_NO_MUTATOR /* for comparing coverage with libFuzzer's byte mutations alone */
#define FUZZ_KIND 0
#else
#define FUZZ_KIND FUZZ_CAT(FUZZ_IS_, FUZZ_TARGET)
#endif

static uint32_t fuzz_rand(unsigned int *seed) { return (uint32_t)rand_r(seed); }

#if FUZZ_KIND == 1
/* IDX: the byte mutator rarely keeps magic, dims and length consistent, and
 * never rewrites gzip, so coverage stalled at the header checks. This one
 * works on the plain payload (gunzipped when the input is gzip): it sets a
 * magic of 1 or 3 dims, small dims, and a data length equal to their product
 * (or off by a little), mutates the data bytes, and gzips half the results. */
static size_t idx_gunzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) return 0;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    inflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    inflateEnd(&z);
    return got;
}

static size_t idx_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int r = deflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return r == Z_STREAM_END ? got : 0;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    if (fuzz_rand(&seed) % 4 == 0) return LLVMFuzzerMutate(data, size, max_size);
    enum { CAP = 1 << 16 };
    static uint8_t plain[CAP], packed[CAP + 1024];
    size_t n;
    bool was_gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (was_gz) n = idx_gunzip(data, size, plain, CAP);
    else {
        n = size < CAP ? size : CAP;
        memcpy(plain, data, n);
    }
    int ndim = fuzz_rand(&seed) % 2 ? 3 : 1;
    if (n >= 4 && plain[3] == 1) ndim = fuzz_rand(&seed) % 4 ? 1 : 3;
    else if (n >= 4 && plain[3] == 3) ndim = fuzz_rand(&seed) % 4 ? 3 : 1;
    size_t head = 4 + 4 * (size_t)ndim;
    if (n < head) {
        memset(plain + n, 0, head - n);
        n = head;
    }
    plain[0] = plain[1] = 0;
    plain[2] = 8;
    plain[3] = (uint8_t)ndim;
    uint32_t dims[3];
    uint64_t total = 1;
    for (int i = 0; i < ndim; i++) {
        dims[i] = be32(plain + 4 + 4 * i);
        if (dims[i] > 64 || fuzz_rand(&seed) % 3 == 0) dims[i] = fuzz_rand(&seed) % 9;
        if (fuzz_rand(&seed) % 50 == 0) dims[i] = fuzz_rand(&seed); /* now and then absurd */
        put_be32(plain + 4 + 4 * i, dims[i]);
        total *= dims[i];
    }
    uint64_t want = total;
    int skew = (int)(fuzz_rand(&seed) % 8);
    if (skew == 1 && want > 0) want--;
    else if (skew == 2) want++;
    if (head + want > CAP) want = CAP - head;
    if (n < head + want) memset(plain + n, 0, head + want - n);
    n = head + (size_t)want;
    if (want > 0) n = head + LLVMFuzzerMutate(plain + head, want, want);
    bool gz = fuzz_rand(&seed) % 2;
    if (gz) {
        size_t g = idx_gzip(plain, n, packed, sizeof packed);
        if (g && fuzz_rand(&seed) % 8 == 0 && g > 1) g -= 1 + fuzz_rand(&seed) % (g / 2 + 1);
        if (g && g <= max_size) {
            memcpy(data, packed, g);
            return g;
        }
    }
    if (n > max_size) n = max_size;
    memcpy(data, plain, n);
    return n;
}
#elif FUZZ_KIND == 2
/* safetensors: keeps the 8-byte length in step with the JSON header it
 * mutates (as text), so mutations reach the metadata and tensor checks
 * instead of failing the length check; sometimes the data or the length. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    if (size < 8 || fuzz_rand(&seed) % 5 == 0) return LLVMFuzzerMutate(data, size, max_size);
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++) hl |= (uint64_t)data[i] << (8 * i);
    if (hl > size - 8) return LLVMFuzzerMutate(data, size, max_size);
    size_t body = size - 8 - (size_t)hl;
    uint8_t *copy = malloc(size);
    if (!copy) return size;
    memcpy(copy, data, size);
    size_t room = max_size - 8 - body;
    size_t new_hl = (size_t)hl;
    uint32_t what = fuzz_rand(&seed) % 8;
    if (what < 6) {
        /* mutate the JSON, then move the data after it */
        new_hl = LLVMFuzzerMutate(data + 8, (size_t)hl, room);
        memcpy(data + 8 + new_hl, copy + 8 + hl, body);
    } else if (what == 6 && body > 0) {
        LLVMFuzzerMutate(data + 8 + hl, body, body);
    } else {
        new_hl = (size_t)hl + (fuzz_rand(&seed) % 3) - 1; /* length off by one */
    }
    for (int i = 0; i < 8; i++) data[i] = (uint8_t)((uint64_t)new_hl >> (8 * i));
    free(copy);
    return what == 7 ? size : 8 + new_hl + body;
}
#endif
