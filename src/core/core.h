/* core.h — internal services shared by every module: errors, logging, the
 * counting allocator, the arena and small helpers. Not part of the public API. */
#ifndef DC_CORE_H
#define DC_CORE_H

#include "deepc.h"
#include <stdarg.h>

/* Records status and a printf-style message for dc_last_error(); returns status. */
dc_status dc_set_error(dc_status s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void dc_log_message(dc_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* fopen(path, "rb") for a loader fn, or NULL with the error set: "fn: path is
 * NULL" or "fn: cannot open PATH: <strerror>". */
FILE *dc_fopen_read(const char *fn, const char *path);

/* The counting allocator: every allocation of the library goes through these. */
void *dc_malloc(size_t n);
void *dc_calloc(size_t count, size_t size);
void *dc_realloc(void *p, size_t n);
void dc_free(void *p);
/* 64-byte aligned; freed with dc_free_aligned. */
void *dc_malloc_aligned(size_t n);
void dc_free_aligned(void *p);
/* a * b, or false if it overflows size_t. */
bool dc_mul_overflows(size_t a, size_t b, size_t *out);
/* Testing only: the k-th dc_malloc from now (k >= 1) returns NULL, once, as
 * if memory ran out; 0 disarms. dc_alloc_fail_pending tells whether the
 * armed failure has not happened yet (the run made fewer than k allocations). */
void dc_alloc_fail_after(uint64_t k);
bool dc_alloc_fail_pending(void);

/* Moves r on by n dc_rng_u32 draws in O(log n) steps, as if they were drawn
 * and dropped (a rank's random layers skip the other ranks' samples). */
void dc_rng_advance(dc_rng *r, uint64_t n);

/* A bump allocator made of chunks. Reset keeps the chunks and rewinds, so a
 * loop whose steps make the same requests allocates only during step 1. */
typedef struct dc_arena_chunk dc_arena_chunk;
typedef struct {
    dc_arena_chunk *first, *cur; /* chunk list, and the one being filled */
    size_t used_total;     /* bytes handed out since reset, across chunks */
    size_t peak;           /* the largest used_total seen */
    size_t initial;
} dc_arena;
void dc_arena_init(dc_arena *a, size_t initial_bytes);
void dc_arena_release(dc_arena *a);
/* 64-byte aligned, uninitialized; NULL when out of memory. */
void *dc_arena_alloc(dc_arena *a, size_t bytes);
void *dc_arena_calloc(dc_arena *a, size_t bytes);
void dc_arena_reset(dc_arena *a);

/* Tensor flags (dc_tensor.flags). */
enum {
    DC_TF_REQUIRES_GRAD = 1u << 0, /* gradient wanted (parameter or watched) */
    DC_TF_OWNS_DATA = 1u << 1,     /* data freed with the tensor */
    DC_TF_OWNS_GRAD = 1u << 2,     /* grad freed with the tensor */
    DC_TF_IN_ARENA = 1u << 3,      /* header lives in a tape arena */
    /* an output of a recurrent op: its final states (and their gradients) follow
     * its data (op_rnn.c); CELL: there are two, h and c */
    DC_TF_RNN_OUT = 1u << 4,
    DC_TF_RNN_CELL = 1u << 5
};

/* Element count of a shape, or -1 if a dim is < 0 or it overflows. */
int64_t dc_shape_numel(int ndim, const int64_t *shape);
/* Checks ndim in [0, DC_MAX_DIMS] and dims >= 0; sets an error naming fn. */
dc_status dc_shape_check(const char *fn, int ndim, const int64_t *shape);

#define DC_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DC_MAX(a, b) ((a) > (b) ? (a) : (b))


/* Files written whole or not at all (atomic.c): bytes go to "path.tmp" (a
 * leftover one is removed first), which commit fsyncs, renames over path and
 * whose folder it fsyncs; any failure removes the tmp and keeps the old file.
 * Writers that take a file name (PLplot, libpng) write to a->tmp after begin. */
typedef struct {
    const char *fn, *path;
    char *tmp;
    FILE *f;            /* after dc_atomic_open */
    uint64_t written;   /* bytes through dc_atomic_write */
    int failed;         /* errno of a failed write */
} dc_atomic_file;
dc_status dc_atomic_begin(dc_atomic_file *a, const char *fn, const char *path);
dc_status dc_atomic_open(dc_atomic_file *a, const char *fn, const char *path);
dc_status dc_atomic_write(dc_atomic_file *a, const void *p, size_t n);
dc_status dc_atomic_commit(dc_atomic_file *a);
void dc_atomic_abort(dc_atomic_file *a);
/* Tests only: called before opening, before each chunk dc_atomic_write
 * writes, before the rename and after it; a non-zero errno makes that step
 * fail as if the system had (the last one is only a point to stop at). */
enum { DC_IO_STAGE_OPEN, DC_IO_STAGE_WRITE, DC_IO_STAGE_COMMIT, DC_IO_STAGE_RENAMED };
typedef int (*dc_io_hook_fn)(int stage, const char *tmp, uint64_t offset, size_t n);
extern dc_io_hook_fn dc_io_test_hook;

#endif
