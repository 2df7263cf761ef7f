/* alloc.c — the counting allocator every module allocates through, and the
 * arena built on it. Counters are atomic so threads may allocate too. */
#include "core.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Each block is prefixed by its size so frees can update bytes_live. */
#define DC_HDR 16

static atomic_uint_fast64_t n_allocs, n_frees, live_bytes, peak_bytes;
/* Failure injection (tests): allocations left before the one that fails; 0 off. */
static atomic_uint_fast64_t fail_countdown;

static void note_alloc(size_t n) {
    atomic_fetch_add(&n_allocs, 1);
    uint64_t live = atomic_fetch_add(&live_bytes, n) + n;
    uint64_t peak = atomic_load(&peak_bytes);
    while (live > peak && !atomic_compare_exchange_weak(&peak_bytes, &peak, live)) {
    }
}

bool dc_mul_overflows(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return true;
    *out = a * b;
    return false;
}

void dc_alloc_fail_after(uint64_t k) { atomic_store(&fail_countdown, k); }
bool dc_alloc_fail_pending(void) { return atomic_load(&fail_countdown) != 0; }

/* True for the one allocation chosen by dc_alloc_fail_after. */
static bool injected_failure(void) {
    uint64_t left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    while (left != 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &left, left - 1)) return left == 1;
    }
    return false;
}

void *dc_malloc(size_t n) {
    if (n > SIZE_MAX - DC_HDR) return NULL;
    if (injected_failure()) return NULL;
    unsigned char *p = malloc(n + DC_HDR);
    if (!p) return NULL;
    memcpy(p, &n, sizeof n);
    note_alloc(n);
    return p + DC_HDR;
}

void *dc_calloc(size_t count, size_t size) {
    size_t n;
    if (dc_mul_overflows(count, size, &n)) return NULL;
    void *p = dc_malloc(n);
    if (p) memset(p, 0, n);
    return p;
}

void dc_free(void *p) {
    if (!p) return;
    unsigned char *base = (unsigned char *)p - DC_HDR;
    size_t n;
    memcpy(&n, base, sizeof n);
    atomic_fetch_add(&n_frees, 1);
    atomic_fetch_sub(&live_bytes, n);
    free(base);
}

void *dc_realloc(void *p, size_t n) {
    if (!p) return dc_malloc(n);
    unsigned char *base = (unsigned char *)p - DC_HDR;
    size_t old;
    memcpy(&old, base, sizeof old);
    if (n <= old) return p; /* shrinking keeps the block: no allocation */
    void *q = dc_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, old);
    dc_free(p);
    return q;
}

void *dc_malloc_aligned(size_t n) {
    /* Over-allocate and keep the offset just before the aligned address. */
    if (n > SIZE_MAX - 128) return NULL;
    unsigned char *raw = dc_malloc(n + 128);
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + 64 + 63) & ~(uintptr_t)63;
    unsigned char *p = (unsigned char *)a;
    size_t off = (size_t)(p - raw);
    memcpy(p - sizeof off, &off, sizeof off);
    return p;
}

void dc_free_aligned(void *p) {
    if (!p) return;
    size_t off;
    memcpy(&off, (unsigned char *)p - sizeof off, sizeof off);
    dc_free((unsigned char *)p - off);
}

void dc_alloc_get_stats(dc_alloc_stats *out) {
    if (!out) return;
    out->allocs = atomic_load(&n_allocs);
    out->frees = atomic_load(&n_frees);
    out->bytes_live = atomic_load(&live_bytes);
    out->bytes_peak = atomic_load(&peak_bytes);
}

uint64_t dc_alloc_count(void) { return atomic_load(&n_allocs); }

/* ---- arena ---- */

struct dc_arena_chunk {
    dc_arena_chunk *next;
    size_t cap, used;
    unsigned char *mem; /* 64-byte aligned */
};

static dc_arena_chunk *chunk_new(size_t cap) {
    dc_arena_chunk *c = dc_malloc(sizeof *c);
    if (!c) return NULL;
    c->mem = dc_malloc_aligned(cap);
    if (!c->mem) {
        dc_free(c);
        return NULL;
    }
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

void dc_arena_init(dc_arena *a, size_t initial_bytes) {
    a->first = a->cur = NULL;
    a->used_total = 0;
    a->peak = 0;
    a->initial = initial_bytes ? initial_bytes : (size_t)1 << 20;
}

void dc_arena_release(dc_arena *a) {
    dc_arena_chunk *c = a->first;
    while (c) {
        dc_arena_chunk *n = c->next;
        dc_free_aligned(c->mem);
        dc_free(c);
        c = n;
    }
    a->first = a->cur = NULL;
    a->used_total = 0;
}

/* Chunks are kept across resets and reused in order, so a step that repeats the
 * previous step's requests finds every chunk it needs already there. */
void *dc_arena_alloc(dc_arena *a, size_t bytes) {
    size_t need = (bytes + 63) & ~(size_t)63;
    if (need < bytes) return NULL;
    dc_arena_chunk *c = a->cur;
    if (c && c->cap - c->used < need && c->next && c->next->cap >= need) c = a->cur = c->next;
    if (!c || c->cap - c->used < need) {
        size_t cap = a->initial;
        if (c && c->cap * 2 > cap) cap = c->cap * 2;
        if (cap < need) cap = need;
        dc_arena_chunk *n = chunk_new(cap);
        if (!n) return NULL;
        if (c) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = a->first;
            a->first = n;
        }
        a->cur = c = n;
    }
    void *p = c->mem + c->used;
    c->used += need;
    a->used_total += need;
    if (a->used_total > a->peak) a->peak = a->used_total;
    return p;
}

void *dc_arena_calloc(dc_arena *a, size_t bytes) {
    void *p = dc_arena_alloc(a, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void dc_arena_reset(dc_arena *a) {
    for (dc_arena_chunk *c = a->first; c; c = c->next) c->used = 0;
    a->cur = a->first;
    a->used_total = 0;
}
