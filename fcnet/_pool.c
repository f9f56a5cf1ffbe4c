/* fcnet._pool: the threads fcnet's compiled loops share their work over, and that
 * OpenBLAS runs its own threaded work on: one set of threads, which block when idle.
 *
 * OpenBLAS's threads wait for work by spinning, for about 0.1 s after each product, so a
 * loop that another thread of ours ran beside them would share its core with a spinner.
 * OpenBLAS 0.3.28 and later let the program run its threaded work instead (the public
 * `openblas_set_threads_callback_function`): once fcnet.backend.blas_pool hands it
 * `pool_blas_callback`, every multi-threaded BLAS call runs its jobs here, and OpenBLAS's
 * own threads go to sleep for good. These threads then serve both:
 *
 *   pool_blas_callback(…, dojob, n, size, data, arg)   dojob(i, data + i·size, arg) for
 *                          every i < n at once (OpenBLAS's jobs wait for each other, so
 *                          each has a thread of its own), returning when all are done;
 *   pool_run(fn, ctx, parts)                           fn(ctx, i, parts) for i < parts,
 *                          the caller taking parts too, returning when all are done.
 *
 * A thread that has finished waits for new work by spinning for at most WAIT_SPIN_NS
 * (a step's next product or loop finds it awake), then blocks on a condition variable,
 * giving its core away. Callers take turns (one dispatch at a time). After fork() the
 * child starts with no threads and makes them again on first use.
 *
 * The threads also share one kind of product themselves, `columns` (a few rows by a
 * large matrix, one block of its columns per thread: below, with its reasons). A threaded
 * BLAS call made inside a job (BLAS's thread count raised meanwhile by another thread)
 * runs on threads made for it, since the pool's are taken.
 *
 * `parts` is how many parts the kernels (fcnet._conv, fcnet._fused) cut their loops into:
 * 1 (plain loops) unless fcnet.backend.blas_pool has installed the callback and set it to
 * BLAS's thread count. They reach pool_run and the part count through the capsule
 * `fcnet._pool._API` (fcnet/_pool.h).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define FCNET_POOL_MODULE_OWNER
#include "_pool.h"

#include <stdint.h>
#include <string.h>

static int pool_parts = 1;
static Py_ssize_t pool_min_work = 32768;

#if defined(__unix__) || defined(__APPLE__)
#define FCNET_POOL 1
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define POOL_RELAX() _mm_pause()
#else
#define POOL_RELAX() ((void)0)
#endif

#define POOL_MAX_THREADS 1024 /* OpenBLAS's most; the ticket holds counts < 65536 */
#define WAIT_SPIN_NS 300000L /* 0.3 ms */

typedef void (*pool_dojob_fn)(int, void *, int);

/* A dispatch is announced by one 64-bit word, `ticket`: its generation (bits 32-63), its
 * number of jobs (16-31) and the next job to take (0-15). A thread takes job i by moving
 * the word from (g, n, i) to (g, n, i + 1) (compare-and-swap), so it can only take a job
 * of the dispatch it read, never one of the next dispatch, whose fields may be being
 * written. The dispatch's fields are written before the word (sequentially consistent
 * stores and loads throughout). */
#define TICKET(g, n, i) (((uint64_t)(uint32_t)(g) << 32) | ((uint64_t)(n) << 16) | (uint64_t)(i))
#define TICKET_GEN(t) ((uint32_t)((t) >> 32))
#define TICKET_COUNT(t) ((int)(((t) >> 16) & 0xffff))
#define TICKET_NEXT(t) ((int)((t) & 0xffff))

static struct {
    pthread_mutex_t lock;    /* guards the sleepers' condition variables */
    pthread_cond_t wake, done;
    pthread_mutex_t callers; /* one dispatch at a time */
    int threads;             /* workers started (the caller is not one) */
    _Atomic uint64_t ticket;
    atomic_int remaining, sleeping;
    /* the dispatch: either OpenBLAS's jobs or a kernel's parts */
    pool_dojob_fn dojob;
    char *data;
    size_t size;
    int arg;
    pool_part_fn fn;
    void *ctx;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_MUTEX_INITIALIZER};

static int64_t pool_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Set while this thread runs a job: a BLAS call made inside a job cannot be dispatched
 * to the pool, whose threads are taken (see pool_blas_callback). */
static _Thread_local int pool_inside = 0;

/* Takes jobs of dispatch `gen` until none is left (or another dispatch has begun). */
static void pool_take(uint32_t gen)
{
    uint64_t t = atomic_load(&pool.ticket);
    for (;;) {
        if (TICKET_GEN(t) != gen || TICKET_NEXT(t) >= TICKET_COUNT(t))
            return;
        if (!atomic_compare_exchange_weak(&pool.ticket, &t, t + 1))
            continue; /* t now holds the word as it is */
        const int i = TICKET_NEXT(t), count = TICKET_COUNT(t);
        pool_inside = 1;
        if (pool.fn)
            pool.fn(pool.ctx, i, count);
        else
            pool.dojob(i, pool.data + (size_t)i * pool.size, pool.arg);
        pool_inside = 0;
        if (atomic_fetch_sub(&pool.remaining, 1) == 1) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_broadcast(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
        t = atomic_load(&pool.ticket);
    }
}

/* A worker: spins for a new dispatch for at most WAIT_SPIN_NS, then sleeps until one
 * comes. A sleeper counts itself in `sleeping` before it checks the generation, and the
 * dispatcher stores the ticket before it reads `sleeping`; both sequentially consistent,
 * so either the sleeper sees the new generation or the dispatcher sees the sleeper and
 * wakes it (under the lock the sleeper holds until it waits). */
static void *pool_worker(void *start)
{
    uint32_t seen = (uint32_t)(uintptr_t)start; /* the generation before its first */
    for (;;) {
        int64_t since = pool_now_ns();
        int spins = 0;
        while (TICKET_GEN(atomic_load(&pool.ticket)) == seen) {
            POOL_RELAX();
            if (!(++spins & 63) && pool_now_ns() - since > WAIT_SPIN_NS) {
                pthread_mutex_lock(&pool.lock);
                atomic_fetch_add(&pool.sleeping, 1);
                while (TICKET_GEN(atomic_load(&pool.ticket)) == seen)
                    pthread_cond_wait(&pool.wake, &pool.lock);
                atomic_fetch_sub(&pool.sleeping, 1);
                pthread_mutex_unlock(&pool.lock);
                break;
            }
        }
        seen = TICKET_GEN(atomic_load(&pool.ticket));
        pool_take(seen);
    }
    return NULL;
}

/* Runs the dispatch set in `pool` (callers lock held) as `count` jobs on the workers and
 * the caller; returns when every job is done. OpenBLAS's jobs wait for each other, so they
 * need a thread each: where the threads cannot be made (a process limit), the program
 * stops with a message rather than hang. A kernel's parts need none: the caller takes
 * whatever the workers leave. */
static void pool_dispatch(int count)
{
    const uint32_t gen = TICKET_GEN(atomic_load(&pool.ticket)) + 1;
    while (pool.threads < count - 1 && pool.threads < POOL_MAX_THREADS) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, pool_worker, (void *)(uintptr_t)(gen - 1)) != 0)
            break;
        pthread_detach(thread);
        pool.threads++;
    }
    if (!pool.fn && pool.threads < count - 1) {
        fprintf(stderr, "fcnet._pool: OpenBLAS asked for %d threads at once and only %d could "
                "be started; set FCNET_BLAS_POOL=0 (or fewer BLAS threads) and run again\n",
                count, pool.threads + 1);
        abort();
    }
    atomic_store(&pool.remaining, count);
    atomic_store(&pool.ticket, TICKET(gen, count, 0));
    if (atomic_load(&pool.sleeping)) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    pool_take(gen);
    int64_t since = pool_now_ns();
    int spins = 0;
    while (atomic_load(&pool.remaining) != 0) {
        POOL_RELAX();
        if (!(++spins & 63) && pool_now_ns() - since > WAIT_SPIN_NS) {
            pthread_mutex_lock(&pool.lock);
            while (atomic_load(&pool.remaining) != 0)
                pthread_cond_wait(&pool.done, &pool.lock);
            pthread_mutex_unlock(&pool.lock);
            break;
        }
    }
}

typedef struct {
    pool_dojob_fn dojob;
    int i, arg;
    void *data;
} NestedJob;

static void *pool_nested_job(void *job)
{
    NestedJob *j = job;
    j->dojob(j->i, j->data, j->arg);
    return NULL;
}

/* OpenBLAS's jobs asked for from inside a job of the pool (a threaded BLAS call within a
 * part): the pool's threads are taken, so they run on threads made for them. */
static void pool_blas_nested(pool_dojob_fn dojob, int numjobs, size_t size, char *data,
                             int arg)
{
    pthread_t *threads = malloc(sizeof(pthread_t) * (size_t)numjobs);
    NestedJob *jobs = malloc(sizeof(NestedJob) * (size_t)numjobs);
    int started = 1;
    if (threads && jobs) {
        for (int i = 0; i < numjobs; i++)
            jobs[i] = (NestedJob){dojob, i, arg, data + (size_t)i * size};
        for (; started < numjobs; started++)
            if (pthread_create(&threads[started], NULL, pool_nested_job, &jobs[started]))
                break;
    }
    if (!threads || !jobs || started < numjobs) {
        fprintf(stderr, "fcnet._pool: OpenBLAS asked for %d threads inside a job of the pool "
                "and they could not be started; set FCNET_BLAS_POOL=0 and run again\n",
                numjobs);
        abort();
    }
    dojob(0, data, arg);
    for (int i = 1; i < numjobs; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(jobs);
}

/* OpenBLAS's jobs: each at once on its own thread (they wait for each other). */
static void pool_blas_callback(int sync, pool_dojob_fn dojob, int numjobs, size_t size,
                               void *data, int arg)
{
    (void)sync; /* OpenBLAS asks for synchronous runs only */
    if (numjobs <= 0)
        return;
    if (pool_inside) {
        pool_blas_nested(dojob, numjobs, size, data, arg);
        return;
    }
    pthread_mutex_lock(&pool.callers);
    pool.fn = NULL;
    pool.dojob = dojob;
    pool.data = data;
    pool.size = size;
    pool.arg = arg;
    pool_dispatch(numjobs);
    pthread_mutex_unlock(&pool.callers);
}

/* One dispatch at a time: a caller holds this while its dispatch runs. */
static void pool_lock(void)
{
    pthread_mutex_lock(&pool.callers);
}

static void pool_unlock(void)
{
    pthread_mutex_unlock(&pool.callers);
}

/* pool_run, the callers' lock held (pool_lock). */
static void pool_run_locked(pool_part_fn fn, void *ctx, int parts)
{
    pool.fn = fn;
    pool.ctx = ctx;
    pool_dispatch(parts);
}

/* A kernel's loop cut into `parts`: fn(ctx, i, parts) for each i; any thread may take any
 * part (the caller alone, if the others are slow to come). */
static void pool_run(pool_part_fn fn, void *ctx, int parts)
{
    if (parts <= 1) {
        fn(ctx, 0, 1);
        return;
    }
    pool_lock();
    pool_run_locked(fn, ctx, parts);
    pool_unlock();
}

/* The child of a fork() has only the thread that forked: it starts again with none. */
static void pool_after_fork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL); /* a worker may have held it: it is gone */
    pthread_mutex_unlock(&pool.callers); /* locked by pool_before_fork, in this thread */
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.done, NULL);
    pool.threads = 0;
    atomic_store(&pool.sleeping, 0);
    atomic_store(&pool.remaining, 0);
}

/* A fork waits for the dispatch in flight (OpenBLAS's own fork handler, which runs after
 * this one, frees the jobs' buffers). Forking while another thread is inside a product
 * can still hang, as it does on OpenBLAS's own threads. */
static void pool_before_fork(void)
{
    pthread_mutex_lock(&pool.callers);
}

static void pool_after_fork_parent(void)
{
    pthread_mutex_unlock(&pool.callers);
}

static int pool_init(void)
{
    return pthread_atfork(pool_before_fork, pool_after_fork_parent, pool_after_fork_child);
}

#else /* no POSIX threads: plain loops, and no callback for BLAS */

static void pool_lock(void)
{
}

static void pool_unlock(void)
{
}

static void pool_run_locked(pool_part_fn fn, void *ctx, int parts)
{
    for (int i = 0; i < parts; i++)
        fn(ctx, i, parts);
}

static void pool_run(pool_part_fn fn, void *ctx, int parts)
{
    pool_run_locked(fn, ctx, parts);
}

static int pool_init(void)
{
    return 0;
}

#endif

/* The parts for a loop over `n` items of `work` floats each: one part per thread where
 * there is enough work to share (at least pool_min_work floats a part), else 1. */
static int pool_parts_for(Py_ssize_t n, Py_ssize_t work)
{
    int parts = pool_parts < POOL_MAX_PARTS ? pool_parts : POOL_MAX_PARTS;
    if (parts > n)
        parts = (int)n;
    while (parts > 1 && n * work / parts < pool_min_work)
        parts--;
    return parts < 1 ? 1 : parts;
}

static const PoolAPI api = {pool_run, pool_parts_for};

/* ---- columns: a product of a few rows, its columns shared over the threads ----------
 *
 * y = a · b for a of a few rows (M, K) and a large b (K, N); y row-major, a and b
 * row-major or column-major (BLAS's transposed operand: then a block of b's columns is
 * a block of its rows in memory). One matrix–vector product per row, bound by how fast
 * b can be read: one core reads a b larger than its L2 cache from farther away at each
 * call, while each of the threads reads only its block of b (784×512 and 512×512
 * float32, 2.6 MB: 111 µs on one core, 40 µs per half on two). OpenBLAS runs such
 * products on one thread, so here each part is a call of BLAS's own gemm on a block of
 * b's columns (whole cache lines of y), with BLAS held at one thread meanwhile (a
 * threaded BLAS call inside a part would wait for these very threads). Each entry of y
 * is BLAS's own sum over K. */
typedef void (*sgemm_fn)(int, int, int, int64_t, int64_t, int64_t, float, const void *,
                         int64_t, const void *, int64_t, float, void *, int64_t);
typedef void (*dgemm_fn)(int, int, int, int64_t, int64_t, int64_t, double, const void *,
                         int64_t, const void *, int64_t, double, void *, int64_t);

typedef struct {
    void *gemm;
    int is_double, transa, transb;
    int64_t m, n, k, lda, ldb, ldy, itemsize, block;
    const char *a, *b;
    char *y;
} Columns;

static void columns_part(void *ctx, int part, int parts)
{
    const Columns *c = ctx;
    const int64_t blocks = (c->n + c->block - 1) / c->block;
    const int64_t lo = blocks * part / parts * c->block;
    int64_t hi = blocks * (part + 1) / parts * c->block;
    if (hi > c->n)
        hi = c->n;
    if (hi <= lo)
        return;
    const void *b = c->b + lo * (c->transb ? c->ldb : 1) * c->itemsize;
    void *y = c->y + lo * c->itemsize;
    const int ta = c->transa ? 112 : 111, tb = c->transb ? 112 : 111;
    if (c->is_double)
        ((dgemm_fn)c->gemm)(101, ta, tb, c->m, hi - lo, c->k, 1.0, c->a, c->lda, b, c->ldb,
                            0.0, y, c->ldy);
    else
        ((sgemm_fn)c->gemm)(101, ta, tb, c->m, hi - lo, c->k, 1.0f, c->a, c->lda, b,
                            c->ldb, 0.0f, y, c->ldy);
}

/* While a `columns` call holds BLAS at one thread, `columns_seq` is odd and
 * `columns_saved` holds the count it will restore: another thread asking meanwhile
 * (`blas_threads`) is told that count, as a sequence lock (aligned int stores and loads,
 * kept in order by `volatile` and by x86's store order; elsewhere a thread may rarely
 * see the 1, and then runs its product whole: the same product to float rounding). */
static volatile unsigned columns_seq = 0;
static volatile int columns_saved = 0;

/* Runs the product in one part per BLAS thread, if there are two or more (and as many
 * blocks of columns); returns whether it ran. BLAS's thread count is read and held at
 * one under the callers' lock, so no other caller's product is dispatched meanwhile. */
static int columns_run(Columns *c, int (*get_threads)(void), void (*set_threads)(int))
{
    const int64_t blocks = (c->n + c->block - 1) / c->block;
    pool_lock();
    const int threads = get_threads();
    int parts = threads < POOL_MAX_PARTS ? threads : POOL_MAX_PARTS;
    if (parts > blocks)
        parts = (int)blocks;
    const int run = parts > 1 && c->m > 0 && c->k > 0;
    if (run) {
        columns_saved = threads;
        columns_seq++;
        set_threads(1);
        pool_run_locked(columns_part, c, parts);
        set_threads(threads);
        columns_seq++;
    }
    pool_unlock();
    return run;
}

/* A 2-D float32/float64 buffer's data, rows and columns, and leading dimension in
 * elements (its row step; where `trans` is given and the buffer is column-major, its
 * column step, *trans set): 1; 0 (the view released) where BLAS cannot take it as it
 * is (steps both ways, rows that overlap); -1 with ValueError set where it is not such
 * a buffer. */
static int columns_matrix(PyObject *obj, Py_buffer *view, int writable, const char *name,
                          int64_t *rows, int64_t *cols, int64_t *ld, int *trans)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT |
                           (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1; /* not a buffer, or y read-only: the error as set */
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=')
        f++;
    const Py_ssize_t item = view->itemsize;
    if (view->ndim != 2 || !((item == 4 && !strcmp(f, "f")) || (item == 8 && !strcmp(f, "d")))) {
        PyErr_Format(PyExc_ValueError, "columns: `%s` must be a 2-D float32 or float64 "
                     "array. Received: format '%s', %d dimensions", name,
                     view->format ? view->format : "B", view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    *rows = view->shape[0];
    *cols = view->shape[1];
    if (trans)
        *trans = 0;
    if (*rows <= 1) {
        *ld = *cols > 1 ? *cols : 1;
    } else if (view->strides[0] % item == 0 && view->strides[0] / item >= *cols) {
        *ld = view->strides[0] / item;
    } else {
        *ld = 0;
    }
    if (*ld != 0 && (*cols <= 1 || view->strides[1] == item))
        return 1;
    /* column-major (a transposed view): BLAS takes it transposed, its ld the column step */
    if (trans && *rows > 1 && *cols > 1 && view->strides[0] == item
        && view->strides[1] % item == 0 && view->strides[1] / item >= *rows) {
        *ld = view->strides[1] / item;
        *trans = 1;
        return 1;
    }
    PyBuffer_Release(view);
    return 0;
}

PyDoc_STRVAR(columns_doc,
"columns(gemm, set_threads, get_threads, a, b, y)\n--\n\n"
"y = a · b for 2-D arrays of one float type (a (M, K), b (K, N), y (M, N)) by BLAS's\n"
"cblas ?gemm with 64-bit integers (address gemm), b's columns cut into one block per\n"
"BLAS thread (get_threads(), an address), BLAS held at one thread by set_threads\n"
"meanwhile. a and b may be row-major or column-major (a transposed view, which BLAS\n"
"takes transposed); y is row-major. Returns False, computing nothing, where BLAS runs\n"
"one thread, b has too few columns to cut, or BLAS cannot take an array as it is (steps\n"
"both ways, overlapping rows): the caller then runs the product whole.");

static PyObject *columns(PyObject *self, PyObject *args)
{
    unsigned long long gemm, set_threads, get_threads;
    PyObject *objects[3];
    Py_buffer views[3];
    int64_t rows[3], cols[3], ld[3];
    int trans[3];
    const char *names[3] = {"a", "b", "y"};
    int held = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "KKKOOO", &gemm, &set_threads, &get_threads, &objects[0],
                          &objects[1], &objects[2]))
        return NULL;
    for (; held < 3; held++) {
        const int taken = columns_matrix(objects[held], &views[held], held == 2, names[held],
                                         &rows[held], &cols[held], &ld[held],
                                         held == 2 ? NULL : &trans[held]);
        if (taken < 0)
            goto fail;
        if (taken == 0) { /* BLAS cannot take it: the caller runs the product */
            while (held-- > 0)
                PyBuffer_Release(&views[held]);
            Py_RETURN_FALSE;
        }
    }
    if (views[0].itemsize != views[1].itemsize || views[1].itemsize != views[2].itemsize
        || cols[0] != rows[1] || rows[2] != rows[0] || cols[2] != cols[1]) {
        PyErr_Format(PyExc_ValueError, "columns: expected a (M, K), b (K, N), y (M, N) of "
                     "one float type. Received: a float%d (%lld, %lld), b float%d "
                     "(%lld, %lld), y float%d (%lld, %lld)",
                     (int)views[0].itemsize * 8, (long long)rows[0], (long long)cols[0],
                     (int)views[1].itemsize * 8, (long long)rows[1], (long long)cols[1],
                     (int)views[2].itemsize * 8, (long long)rows[2], (long long)cols[2]);
        goto fail;
    }
    const int is_double = views[0].itemsize == 8;
    Columns c = {(void *)(uintptr_t)gemm, is_double, trans[0], trans[1], rows[0], cols[1],
                 cols[0], ld[0], ld[1], ld[2], views[0].itemsize, is_double ? 8 : 16,
                 views[0].buf, views[1].buf, views[2].buf};
    int run;
    Py_BEGIN_ALLOW_THREADS
    run = columns_run(&c, (int (*)(void))(uintptr_t)get_threads,
                      (void (*)(int))(uintptr_t)set_threads);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < 3; i++)
        PyBuffer_Release(&views[i]);
    return PyBool_FromLong(run);
fail:
    while (held-- > 0)
        PyBuffer_Release(&views[held]);
    return NULL;
}

PyDoc_STRVAR(blas_threads_doc,
"blas_threads(get_threads)\n--\n\n"
"BLAS's thread count (get_threads(), an address), or the count a `columns` call in\n"
"another thread holds aside while it runs BLAS at one thread.");

static PyObject *blas_threads(PyObject *self, PyObject *args)
{
    unsigned long long get_threads;
    (void)self;
    if (!PyArg_ParseTuple(args, "K", &get_threads))
        return NULL;
    const unsigned before = columns_seq;
    const int threads = ((int (*)(void))(uintptr_t)get_threads)();
    const int held = (before & 1) || before != columns_seq;
    return PyLong_FromLong(held ? columns_saved : threads);
}

PyDoc_STRVAR(callback_doc,
"callback()\n--\n\n"
"The address of the function OpenBLAS may run its threads' work through\n"
"(openblas_set_threads_callback_function), or None where this build has no threads.");

static PyObject *callback(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
#ifdef FCNET_POOL
    return PyLong_FromVoidPtr((void *)pool_blas_callback);
#else
    Py_RETURN_NONE;
#endif
}

#ifndef Py_GIL_DISABLED /* getenv beside another thread's setenv needs the GIL held */
PyDoc_STRVAR(fused_wanted_doc,
"fused_wanted()\n--\n\n"
"Whether the environment variable FCNET_FUSED is anything but \"0\" (surrounding\n"
"whitespace ignored; unset counts as wanted), read from the process environment that\n"
"assignments to os.environ update (as does os.putenv, which os.environ does not see).");

static PyObject *fused_wanted(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    const char *value = getenv("FCNET_FUSED");
    if (value) {
        while (*value == ' ' || (*value >= '\t' && *value <= '\r'))
            value++;
        if (*value == '0') {
            value++;
            while (*value == ' ' || (*value >= '\t' && *value <= '\r'))
                value++;
            if (!*value)
                Py_RETURN_FALSE;
        }
    }
    Py_RETURN_TRUE;
}
#endif

PyDoc_STRVAR(set_parts_doc,
"set_parts(parts, min_work=32768)\n--\n\n"
"How many parts the kernels cut their loops into (1: plain loops), each part at least\n"
"min_work floats of work (a loop with less runs in fewer parts); returns the old parts.");

static PyObject *set_parts(PyObject *self, PyObject *args)
{
    int parts, old = pool_parts;
    Py_ssize_t min_work = 32768;
    (void)self;
    if (!PyArg_ParseTuple(args, "i|n", &parts, &min_work))
        return NULL;
    pool_parts = parts < 1 ? 1 : parts > POOL_MAX_PARTS ? POOL_MAX_PARTS : parts;
    pool_min_work = min_work < 1 ? 1 : min_work;
    return PyLong_FromLong(old);
}

static PyMethodDef methods[] = {
    {"callback", callback, METH_NOARGS, callback_doc},
    {"set_parts", set_parts, METH_VARARGS, set_parts_doc},
    {"columns", columns, METH_VARARGS, columns_doc},
    {"blas_threads", blas_threads, METH_VARARGS, blas_threads_doc},
#ifndef Py_GIL_DISABLED
    {"fused_wanted", fused_wanted, METH_NOARGS, fused_wanted_doc},
#endif
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module)
{
    static int started = 0;
    if (!started && pool_init() != 0) {
        PyErr_SetString(PyExc_RuntimeError, "fcnet._pool: pthread_atfork failed");
        return -1;
    }
    started = 1;
    PyObject *capsule = PyCapsule_New((void *)&api, "fcnet._pool._API", NULL);
    if (!capsule || PyModule_AddObject(module, "_API", capsule) < 0) {
        Py_XDECREF(capsule);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fcnet._pool",
    .m_doc = "The threads fcnet's compiled loops and OpenBLAS share (see fcnet/_pool.c).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__pool(void)
{
    return PyModuleDef_Init(&module);
}
