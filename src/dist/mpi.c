/* mpi.c — the MPI backend of dc_dist (libdeepc_mpi.a, apart from libdeepc so
 * that the library needs no MPI): sums with MPI_Allreduce, or through a shared
 * window when all ranks run on one machine, and MPI started only when a
 * launcher (mpirun, a process manager) started this process. */
#include "../core/core.h"
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PENDING 64 /* sums started and not yet waited for */
#define SPIN_SECONDS 50e-6 /* a wait tests this long before it sleeps */
#define FIRST_SLEEP_NS 20000L
#define LAST_SLEEP_NS 200000L /* the most a rank sleeps between two tests */
#define SMALL_SUM 65536 /* bytes: a sum this small runs as one nonblocking call */
#define SHARED_MAX_RANKS 8 /* more on one machine: each rank reading every slot costs too much */
#define SHARED_HEAD 128   /* bytes before the slots: the barrier, aligned for any slot type */

typedef struct {
    dc_dist d;
    MPI_Comm comm;
    bool initialized_here; /* dc_dist_mpi_init called MPI_Init */
    MPI_Request pending[MAX_PENDING];
    int n_pending;
    /* all ranks on one machine: sums through a window they all map, a
     * process-shared barrier and two halves (used in turn) of a slot per
     * rank of cap bytes */
    MPI_Comm node;      /* MPI_COMM_NULL: the ranks span machines */
    int node_rank;
    MPI_Win win;        /* MPI_WIN_NULL until the first sum */
    pthread_barrier_t *meet;
    char *slots;
    int64_t cap;
    unsigned turn;      /* sums so far: which half is this one's */
} mpi_dist;

static dc_status mpi_error(const char *fn, int code) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS) len = 0;
    msg[len] = '\0';
    return dc_set_error(DC_ERR_IO, "%s: %s", fn, len ? msg : "MPI error");
}

/* Waits for n requests without holding a core: MPI's own waits poll
 * without pause, and a rank that is ahead then takes the CPU time that the
 * ranks it waits for need (when ranks share cores with each other or with
 * other work, each collective cost a whole spin). It tests for SPIN_SECONDS
 * (ranks that arrive together, the usual case on idle cores, lose no time),
 * then sleeps between tests, each sleep twice the last up to LAST_SLEEP_NS:
 * at most that much late after the last rank arrives. */
static int await(MPI_Request *r, int n) {
    const double t0 = MPI_Wtime();
    long sleep_ns = FIRST_SLEEP_NS;
    int done = 0, rc;
    while ((rc = MPI_Testall(n, r, &done, MPI_STATUSES_IGNORE)) == MPI_SUCCESS && !done) {
        if (MPI_Wtime() - t0 < SPIN_SECONDS) continue;
        nanosleep(&(struct timespec){.tv_nsec = sleep_ns}, NULL);
        sleep_ns = DC_MIN(2 * sleep_ns, LAST_SLEEP_NS);
    }
    return rc;
}

/* A barrier where an early rank sleeps (await), not spins: MPI_Barrier
 * would hold a core while, say, rank 0 alone writes the files at the end. */
static int meet(MPI_Comm comm) {
    MPI_Request r;
    int rc = MPI_Ibarrier(comm, &r);
    return rc == MPI_SUCCESS ? await(&r, 1) : rc;
}

/* In pieces of at most INT_MAX elements: MPI counts are ints. A small sum
 * is one MPI_Iallreduce waited for by await; a large one first waits there
 * for every rank to arrive (MPI_Ibarrier), then runs as MPI_Allreduce, whose
 * many steps need every rank inside MPI (a sleeping rank would delay each). */
static dc_status sum(void *ctx, void *x, int64_t n, MPI_Datatype type, size_t elem,
                     const char *fn) {
    MPI_Comm comm = ((mpi_dist *)ctx)->comm;
    for (int64_t at = 0; at < n; at += INT_MAX) {
        int count = (int)DC_MIN((int64_t)INT_MAX, n - at), rc;
        void *piece = (char *)x + (size_t)at * elem;
        if ((size_t)count * elem <= SMALL_SUM) {
            MPI_Request r;
            rc = MPI_Iallreduce(MPI_IN_PLACE, piece, count, type, MPI_SUM, comm, &r);
            if (rc == MPI_SUCCESS) rc = await(&r, 1);
        } else {
            rc = meet(comm);
            if (rc == MPI_SUCCESS) rc = MPI_Allreduce(MPI_IN_PLACE, piece, count, type, MPI_SUM, comm);
        }
        if (rc != MPI_SUCCESS) return mpi_error(fn, rc);
    }
    return DC_OK;
}

static void free_window(mpi_dist *m) {
    if (m->win == MPI_WIN_NULL) return;
    meet(m->node); /* no rank waits at the barrier any more */
    if (m->node_rank == 0) pthread_barrier_destroy(m->meet);
    MPI_Win_unlock_all(m->win);
    MPI_Win_free(&m->win);
    m->cap = 0;
}

/* The window, grown (collectively: every rank asks for the same size) to
 * slots of at least `bytes`, held open for loads and stores; its barrier
 * made by node rank 0 before any rank uses it. */
static int grow_window(mpi_dist *m, int64_t bytes) {
    /* the ranks meet first where an early one sleeps: the window's calls
     * spin, and the first sum follows each rank's own loading of the data */
    if (m->win == MPI_WIN_NULL) meet(m->node);
    else free_window(m);
    int unit = 0;
    MPI_Aint all = m->node_rank == 0 ? (MPI_Aint)(SHARED_HEAD + 2 * m->d.size * bytes) : 0;
    char *base = NULL;
    int rc = MPI_Win_allocate_shared(all, 1, MPI_INFO_NULL, m->node, &base, &m->win);
    if (rc == MPI_SUCCESS) rc = MPI_Win_shared_query(m->win, 0, &all, &unit, &base);
    if (rc == MPI_SUCCESS) rc = MPI_Win_lock_all(MPI_MODE_NOCHECK, m->win);
    if (rc != MPI_SUCCESS) return rc;
    m->meet = (pthread_barrier_t *)base;
    m->slots = base + SHARED_HEAD;
    int made = 1;
    if (m->node_rank == 0) {
        pthread_barrierattr_t a;
        made = !pthread_barrierattr_init(&a) &&
               !pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED) &&
               !pthread_barrier_init(m->meet, &a, (unsigned)m->d.size);
        pthread_barrierattr_destroy(&a);
    }
    MPI_Win_sync(m->win);
    if ((rc = MPI_Allreduce(MPI_IN_PLACE, &made, 1, MPI_INT, MPI_MIN, m->node)) != MPI_SUCCESS)
        return rc;
    if (!made) return MPI_ERR_OTHER;
    m->cap = bytes;
    return MPI_SUCCESS;
}

/* y = the sum of the `size` slots of a half, in rank order (omp simd: at
 * -O2 GCC leaves these loops scalar, and they run over the whole gradient
 * every step). */
#define DEFINE_ADD_SLOTS(name, T)                                                       \
    static void name(T *y, const char *half, int64_t cap, int size, int64_t n) {        \
        const T *s0 = (const T *)half, *s1 = (const T *)(half + cap);                   \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = s0[i] + s1[i];       \
        for (int k = 2; k < size; k++) {                                                \
            const T *sk = (const T *)(half + k * cap);                                  \
            _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] += sk[i];          \
        }                                                                               \
    }
DEFINE_ADD_SLOTS(add_float_slots, float)
DEFINE_ADD_SLOTS(add_double_slots, double)

/* y = s * x: a rank's part scaled on its way into its slot, which spares
 * fit a pass over the gradient (scaling it in place) before the copy. */
static void copy_scaled(float *y, const float *x, int64_t n, float s) {
    if (s == 1.0f) {
        memcpy(y, x, (size_t)n * sizeof(float));
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = s * x[i];
}

/* Each rank copies x (times scale, floats) into its slot, meets the others once at a barrier in
 * the window (a rank that is ahead sleeps in the kernel until the last one
 * comes: no core held, no polling) and adds up every slot itself, in rank
 * order (the same bits everywhere): no step after the meeting waits for
 * another rank, so a rank that the system stops for a while delays only
 * itself. The halves take turns: a rank writes a half again two sums later,
 * when every rank has met it at the sum between, so is done reading it. */
static int shared_sum(mpi_dist *m, void *x, int64_t n, bool dbl, float scale) {
    const size_t elem = dbl ? sizeof(double) : sizeof(float);
    const int64_t bytes = (n * (int64_t)elem + 63) / 64 * 64;
    int rc = bytes > m->cap ? grow_window(m, bytes) : MPI_SUCCESS;
    if (rc != MPI_SUCCESS) return rc;
    const int size = m->d.size;
    char *half = m->slots + (int64_t)(m->turn++ & 1u) * size * m->cap;
    char *mine = half + m->node_rank * m->cap;
    if (dbl) memcpy(mine, x, (size_t)n * elem);
    else copy_scaled((float *)mine, x, n, scale);
    MPI_Win_sync(m->win);
    pthread_barrier_wait(m->meet);
    MPI_Win_sync(m->win);
    if (dbl) add_double_slots(x, half, m->cap, size, n);
    else add_float_slots(x, half, m->cap, size, n);
    return MPI_SUCCESS;
}

/* Through the window on one machine, else (floats scaled in place first)
 * through MPI. */
static dc_status sum_any(mpi_dist *m, void *x, int64_t n, bool dbl, float scale, const char *fn) {
    if (m->node == MPI_COMM_NULL) {
        if (!dbl && scale != 1.0f) copy_scaled(x, x, n, scale);
        return sum(m, x, n, dbl ? MPI_DOUBLE : MPI_FLOAT, dbl ? sizeof(double) : sizeof(float), fn);
    }
    int rc = shared_sum(m, x, n, dbl, scale);
    return rc == MPI_SUCCESS ? DC_OK : mpi_error(fn, rc);
}

static dc_status sum_floats(void *ctx, float *x, int64_t n) {
    return sum_any(ctx, x, n, false, 1.0f, "dc_dist (MPI) sum_floats");
}

static dc_status sum_scaled_floats(void *ctx, float *x, int64_t n, float scale) {
    return sum_any(ctx, x, n, false, scale, "dc_dist (MPI) sum_scaled_floats");
}

static dc_status sum_doubles(void *ctx, double *x, int64_t n) {
    return sum_any(ctx, x, n, true, 1.0f, "dc_dist (MPI) sum_doubles");
}

static dc_status wait_sums(void *ctx) {
    mpi_dist *m = ctx;
    int rc = await(m->pending, m->n_pending);
    m->n_pending = 0;
    return rc == MPI_SUCCESS ? DC_OK : mpi_error("dc_dist (MPI) wait_sums", rc);
}

/* Open MPI moves a started sum on only inside MPI calls: testing the ones
 * pending lets them progress while backward runs between two starts. */
static dc_status start_sum_floats(void *ctx, float *x, int64_t n) {
    mpi_dist *m = ctx;
    for (int64_t at = 0; at < n; at += INT_MAX) {
        if (m->n_pending == MAX_PENDING && wait_sums(m) != DC_OK) return dc_last_status();
        int count = (int)DC_MIN((int64_t)INT_MAX, n - at);
        int rc = MPI_Iallreduce(MPI_IN_PLACE, x + at, count, MPI_FLOAT, MPI_SUM, m->comm,
                                &m->pending[m->n_pending++]);
        if (rc != MPI_SUCCESS) return mpi_error("dc_dist (MPI) start_sum_floats", rc);
    }
    int done = 0;
    MPI_Testall(m->n_pending, m->pending, &done, MPI_STATUSES_IGNORE);
    return DC_OK;
}

/* Errors come back as codes (then the caller aborts the job with a message)
 * rather than MPI's default of ending every rank at once. */
static dc_dist *wrap(MPI_Comm comm, bool initialized_here) {
    mpi_dist *m = dc_calloc(1, sizeof *m);
    if (!m) {
        dc_set_error(DC_ERR_NOMEM, "dc_dist_mpi_new: out of memory");
        return NULL;
    }
    m->comm = comm;
    m->initialized_here = initialized_here;
    m->node = MPI_COMM_NULL;
    m->win = MPI_WIN_NULL;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm, &m->d.rank);
    MPI_Comm_size(comm, &m->d.size);
    /* the ranks that share this machine's memory: when that is all of them
     * (and a few), large sums go through a shared window; ranks in the
     * same order as in comm (key 0: ties keep it) */
    int node_size = 0;
    if (m->d.size > 1 && m->d.size <= SHARED_MAX_RANKS &&
        MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &m->node) == MPI_SUCCESS &&
        (MPI_Comm_size(m->node, &node_size), node_size != m->d.size))
        MPI_Comm_free(&m->node);
    if (m->node != MPI_COMM_NULL) {
        MPI_Comm_set_errhandler(m->node, MPI_ERRORS_RETURN);
        MPI_Comm_rank(m->node, &m->node_rank);
    }
    m->d.ctx = m;
    m->d.sum_floats = sum_floats;
    m->d.sum_doubles = sum_doubles;
    m->d.sum_scaled_floats = sum_scaled_floats;
    const char *overlap = getenv("DEEPC_DIST_OVERLAP");
    if (overlap && !strcmp(overlap, "1")) {
        m->d.start_sum_floats = start_sum_floats;
        m->d.wait_sums = wait_sums;
    }
    return &m->d;
}

/* What Open MPI's mpirun, MPICH's Hydra and PMIx-based launchers (srun) set. */
static bool launched(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return true;
    return false;
}

dc_dist *dc_dist_mpi_init(void) {
    if (!launched()) return NULL;
    /* Open MPI's waits inside a collective then yield the core to a rank
     * that needs it (the user's setting, when there is one, stays) */
    setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0);
    int rc = MPI_Init(NULL, NULL);
    if (rc != MPI_SUCCESS) {
        mpi_error("dc_dist_mpi_init: MPI_Init", rc);
        return NULL;
    }
    return wrap(MPI_COMM_WORLD, true);
}

dc_dist *dc_dist_mpi_new(const void *comm) {
    int init = 0;
    MPI_Initialized(&init);
    if (!comm || !init) {
        dc_set_error(DC_ERR_STATE, "dc_dist_mpi_new: %s", comm ? "MPI is not initialized"
                                                               : "comm is NULL");
        return NULL;
    }
    return wrap(*(const MPI_Comm *)comm, false);
}

void dc_dist_mpi_free(dc_dist *d) {
    if (!d) return;
    mpi_dist *m = d->ctx;
    free_window(m);
    if (m->node != MPI_COMM_NULL) MPI_Comm_free(&m->node);
    dc_free(m);
}

void dc_dist_mpi_finalize(dc_dist *d) {
    if (!d) return;
    mpi_dist *m = d->ctx;
    bool fin = m->initialized_here;
    if (fin) meet(m->comm); /* MPI_Finalize's own wait for the others spins */
    dc_dist_mpi_free(d);
    if (fin) MPI_Finalize();
}

void dc_dist_mpi_abort(dc_dist *d, int code) {
    MPI_Abort(d ? ((mpi_dist *)d->ctx)->comm : MPI_COMM_WORLD, code);
}
