/* What fcnet's compiled modules (fcnet._conv, fcnet._fused) use of fcnet._pool's threads
 * (fcnet/_pool.c): a loop cut into parts, each part a disjoint piece of the output,
 * computed as the one-part loop computes it, so results never depend on the count.
 *
 *   pool_import()            at module start: takes the capsule `fcnet._pool._API`
 *                            (without fcnet._pool, every loop runs in one part);
 *   pool_parts_for(n, work)  how many parts a loop over n items of `work` floats each
 *                            is cut into now (1 unless the threads serve BLAS);
 *   pool_run(fn, ctx, parts) fn(ctx, i, parts) for every i < parts, returning when all
 *                            are done;
 *   pool_range(n, i, parts)  part i's items [lo, hi).
 */
#ifndef FCNET_POOL_H
#define FCNET_POOL_H

#define POOL_MAX_PARTS 64

typedef void (*pool_part_fn)(void *ctx, int part, int parts);

typedef struct {
    void (*run)(pool_part_fn fn, void *ctx, int parts);
    int (*parts_for)(Py_ssize_t n, Py_ssize_t work);
} PoolAPI;

#ifndef FCNET_POOL_MODULE_OWNER
static const PoolAPI *pool_api = NULL;

static void pool_import(void)
{
    PyObject *module = PyImport_ImportModule("fcnet._pool"); /* the capsule's parent */
    const PoolAPI *api = module ? PyCapsule_Import("fcnet._pool._API", 0) : NULL;
    Py_XDECREF(module);
    if (api)
        pool_api = api;
    else
        PyErr_Clear(); /* not built (or not in this interpreter): plain loops */
}

static inline int pool_parts_for(Py_ssize_t n, Py_ssize_t work)
{
    return pool_api ? pool_api->parts_for(n, work) : 1;
}

static inline void pool_run(pool_part_fn fn, void *ctx, int parts)
{
    if (parts > 1 && pool_api) {
        pool_api->run(fn, ctx, parts);
        return;
    }
    for (int i = 0; i < parts; i++)
        fn(ctx, i, parts);
}
#endif

/* [lo, hi) of part `part` of `parts` over `n` items. */
static inline void pool_range(Py_ssize_t n, int part, int parts, Py_ssize_t *lo,
                              Py_ssize_t *hi)
{
    *lo = n * part / parts;
    *hi = n * (part + 1) / parts;
}

#endif
