/* fcnet._fused: the optimizer updates over the flat parameter buffer, one pass each.
 *
 * NumPy runs an optimizer rule as a dozen whole-buffer ufunc calls, each reading and
 * writing the buffer once (DESIGN §3, §5); here each rule is one loop that reads every
 * parameter, gradient and slot once. The arithmetic is the NumPy reference's
 * (fcnet/optimizers/{adam,sgd,rmsprop}.py), operation for operation, in float32:
 * coefficients arrive as Python floats and are rounded to float32, as the reference's
 * 0-d float32 arrays are, and every intermediate is rounded to float32. Compiled without
 * -ffast-math and with -ffp-contract=off (no fused multiply-add), the results are the
 * reference's bits; the loops vectorise with IEEE SIMD instructions, which round alike.
 * One exception, on x86-64: subnormal numbers (below 1.2e-38) are flushed to zero (see
 * `finish`), where the reference keeps them, at 10-100 times the cost per operation.
 *
 * Weight decay (Keras's, decoupled: θ ← θ − θ·decay with decay = weight_decay·lr) runs
 * in the same pass, before the rule, on the entries the optimizer decays: `decay` is
 * None (no decay) or a float, and `decay_spans` None (every entry) or a sorted sequence
 * of disjoint (start, stop) pairs.
 *
 * Plain C, no OpenMP. Each kernel lets go of the GIL while it loops, so two Python
 * threads may update two buffers at once. Where fcnet._pool's threads serve BLAS, a
 * large buffer is cut into parts that they update at once (fcnet/_pool.h); each entry's
 * arithmetic is the same, so the results are too.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

#include "_pool.h"
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define FCNET_FLUSH_SUBNORMALS 1
#else
#define FCNET_FLUSH_SUBNORMALS 0
#endif

#define MAX_BUFFERS 6

/* The buffers of one call: acquired with the GIL held, released on every path. */
typedef struct {
    Py_buffer views[MAX_BUFFERS];
    int count;
    Py_ssize_t n; /* float32 elements in each */
} Buffers;

static void release(Buffers *b)
{
    for (int i = 0; i < b->count; i++)
        PyBuffer_Release(&b->views[i]);
    b->count = 0;
}

static int is_float32(const Py_buffer *view)
{
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=')
        f++;
    return view->itemsize == 4 && strcmp(f, "f") == 0;
}

/* Acquires `obj` as a C-contiguous float32 buffer of b->n elements (the first sets n).
 * Returns its data, or NULL with TypeError/ValueError set. */
static float *acquire(Buffers *b, PyObject *obj, const char *name, int writable)
{
    Py_buffer *view = &b->views[b->count];
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        PyErr_Format(PyExc_TypeError, "`%s` must be a float32 buffer. Received: %.100s",
                     name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    const char *problem = NULL;
    if (!is_float32(view))
        problem = "float32";
    else if (!PyBuffer_IsContiguous(view, 'C'))
        problem = "C-contiguous float32";
    else if (writable && view->readonly)
        problem = "writable float32";
    if (problem) {
        PyErr_Format(strcmp(problem, "float32") ? PyExc_ValueError : PyExc_TypeError,
                     "`%s` must be a %s buffer. Received: format '%s', "
                     "itemsize %zd, %s, %s", name, problem,
                     view->format ? view->format : "B", view->itemsize,
                     PyBuffer_IsContiguous(view, 'C') ? "C-contiguous" : "not C-contiguous",
                     view->readonly ? "read-only" : "writable");
        PyBuffer_Release(view);
        return NULL;
    }
    Py_ssize_t n = view->len / 4;
    if (b->count == 0) {
        b->n = n;
    } else if (n != b->n) {
        PyErr_Format(PyExc_ValueError, "`%s` must have %zd elements, as `p` has. "
                     "Received: %zd elements", name, b->n, n);
        PyBuffer_Release(view);
        return NULL;
    }
    /* The loops take their pointers as restrict: no two buffers may share memory. */
    const char *lo = view->buf, *hi = lo + view->len;
    for (int i = 0; i < b->count; i++) {
        const char *olo = b->views[i].buf, *ohi = olo + b->views[i].len;
        if (n > 0 && lo < ohi && olo < hi) {
            PyErr_Format(PyExc_ValueError, "`%s` overlaps another buffer of the call. "
                         "Received: buffers sharing memory", name);
            PyBuffer_Release(view);
            return NULL;
        }
    }
    b->count++;
    return (float *)view->buf;
}

/* The same, where None is allowed (an absent slot): NULL without an error. */
static int acquire_optional(Buffers *b, PyObject *obj, const char *name, float **out)
{
    *out = NULL;
    if (obj == Py_None)
        return 0;
    *out = acquire(b, obj, name, 1);
    return *out ? 0 : -1;
}

/* The decay: None, or a float rounded to float32; spans: None, or (start, stop) pairs. */
typedef struct {
    int on;
    float decay;
    Py_ssize_t *spans; /* 2 * count bounds, or NULL: every entry */
    Py_ssize_t count;
} Decay;

static int parse_decay(PyObject *decay, PyObject *spans, Py_ssize_t n, Decay *d)
{
    d->on = decay != Py_None;
    d->decay = 0.0f;
    d->spans = NULL;
    d->count = 0;
    if (!d->on)
        return 0;
    double value = PyFloat_AsDouble(decay);
    if (value == -1.0 && PyErr_Occurred())
        return -1;
    d->decay = (float)value;
    if (spans == Py_None)
        return 0;
    PyObject *seq = PySequence_Fast(spans, "`decay_spans` must be a sequence of pairs");
    if (!seq)
        return -1;
    d->count = PySequence_Fast_GET_SIZE(seq);
    d->spans = PyMem_New(Py_ssize_t, 2 * d->count + 1);
    if (!d->spans) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t last = 0;
    for (Py_ssize_t k = 0; k < d->count; k++) {
        Py_ssize_t start, stop;
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, k);
        if (!PyArg_Parse(pair, "(nn)", &start, &stop)
            || start < last || stop < start || stop > n) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_ValueError, "`decay_spans` must be sorted, disjoint "
                             "(start, stop) pairs within [0, %zd]. Received: item %zd", n, k);
            }
            Py_DECREF(seq);
            PyMem_Free(d->spans);
            d->spans = NULL;
            return -1;
        }
        d->spans[2 * k] = start;
        d->spans[2 * k + 1] = stop;
        last = stop;
    }
    Py_DECREF(seq);
    return 0;
}

/* One rule's loop over [lo, hi), decaying θ first where `decayed`. */
typedef void (*RangeFn)(const void *args, Py_ssize_t lo, Py_ssize_t hi, int decayed);

/* Runs `fn` over [lo, hi) of the buffer, the decayed spans with decay, the gaps without. */
static void run(RangeFn fn, const void *args, Py_ssize_t lo, Py_ssize_t hi, const Decay *d)
{
    if (!d->on || !d->spans) {
        fn(args, lo, hi, d->on);
        return;
    }
    Py_ssize_t pos = lo;
    for (Py_ssize_t k = 0; k < d->count; k++) {
        Py_ssize_t start = d->spans[2 * k], stop = d->spans[2 * k + 1];
        start = start < pos ? pos : start > hi ? hi : start;
        stop = stop < start ? start : stop > hi ? hi : stop;
        fn(args, pos, start, 0);
        fn(args, start, stop, 1);
        pos = stop;
    }
    fn(args, pos, hi, 0);
}

typedef struct {
    RangeFn fn;
    const void *args;
    Py_ssize_t n;
    const Decay *d;
} UpdateJob;

/* Part `part` of the buffer, in runs of 16 floats (64 bytes, so that two parts share at
 * most one cache line of each buffer). */
static void update_part(void *ctx, int part, int parts)
{
    const UpdateJob *job = ctx;
    const Py_ssize_t units = (job->n + 15) / 16;
    Py_ssize_t lo, hi;
    pool_range(units, part, parts, &lo, &hi);
    lo *= 16;
    hi = hi * 16 < job->n ? hi * 16 : job->n;
#if FCNET_FLUSH_SUBNORMALS
    /* Subnormal numbers (below 1.2e-38) flushed to zero, as XLA does on the CPU: a
     * slot that decays into that range (Adam's m for an unused weight, after about a
     * thousand steps) otherwise makes each operation on it 10-100 times slower. The
     * thread's own control register, restored before it returns. */
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8040);  /* FTZ (bit 15) and DAZ (bit 6) */
#endif
    if (lo < hi)
        run(job->fn, job->args, lo, hi, job->d);
#if FCNET_FLUSH_SUBNORMALS
    _mm_setcsr(csr);
#endif
}

static PyObject *finish(Buffers *b, Decay *d, RangeFn fn, const void *args)
{
    UpdateJob job = {.fn = fn, .args = args, .n = b->n, .d = d};
    int parts = pool_parts_for((b->n + 15) / 16, 16);
    Py_BEGIN_ALLOW_THREADS
    pool_run(update_part, &job, parts);
    Py_END_ALLOW_THREADS
    PyMem_Free(d->spans);
    release(b);
    Py_RETURN_NONE;
}

/* ---- Adam (and AMSGrad) ------------------------------------------------------------ */

typedef struct {
    float *p, *m, *v, *v_hat;
    const float *g;
    float k1, k2, k_eps, k_alpha, decay;
} AdamArgs;

static void adam_range(const void *args, Py_ssize_t lo, Py_ssize_t hi, int decayed)
{
    const AdamArgs *a = args;
    float *restrict p = a->p, *restrict m = a->m, *restrict v = a->v;
    float *restrict v_hat = a->v_hat;
    const float *restrict g = a->g;
    const float k1 = a->k1, k2 = a->k2, k_eps = a->k_eps, k_alpha = a->k_alpha;
    const float decay = a->decay;
    for (Py_ssize_t i = lo; i < hi; i++) {
        float pi = p[i], gi = g[i];
        if (decayed)
            pi = pi - pi * decay;                     /* θ − θ·decay */
        float mi = m[i] + (gi - m[i]) * k1;           /* m + (g − m)(1 − β1) */
        float vi = v[i] + (gi * gi - v[i]) * k2;      /* v + (g² − v)(1 − β2) */
        m[i] = mi;
        v[i] = vi;
        if (v_hat) {                                  /* numpy.maximum: NaN wins */
            float vh = v_hat[i];
            vi = (vh >= vi || vh != vh) ? vh : vi;
            v_hat[i] = vi;
        }
        p[i] = pi - mi / (sqrtf(vi) + k_eps) * k_alpha; /* θ − α·m / (√v + ε) */
    }
}

PyDoc_STRVAR(adam_doc,
"adam(p, g, m, v, v_hat, k1, k2, k_eps, k_alpha, decay, decay_spans)\n--\n\n"
"One Adam step in place: m ← m + (g − m)·k1, v ← v + (g² − v)·k2,\n"
"v̂ ← max(v̂, v) and v̂ replaces v (when v_hat is not None),\n"
"θ ← θ − m / (√v + k_eps)·k_alpha; θ ← θ − θ·decay first on the decayed entries.");

static PyObject *adam(PyObject *self, PyObject *args)
{
    PyObject *po, *go, *mo, *vo, *ho, *decay, *spans;
    AdamArgs a;
    Buffers b = {.count = 0};
    Decay d;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOffffOO:adam", &po, &go, &mo, &vo, &ho, &a.k1, &a.k2,
                          &a.k_eps, &a.k_alpha, &decay, &spans))
        return NULL;
    if (!(a.p = acquire(&b, po, "p", 1)) || !(a.g = acquire(&b, go, "g", 0))
        || !(a.m = acquire(&b, mo, "m", 1)) || !(a.v = acquire(&b, vo, "v", 1))
        || acquire_optional(&b, ho, "v_hat", &a.v_hat) < 0
        || parse_decay(decay, spans, b.n, &d) < 0) {
        release(&b);
        return NULL;
    }
    a.decay = d.decay;
    return finish(&b, &d, adam_range, &a);
}

/* ---- SGD, with momentum and Nesterov momentum --------------------------------------- */

typedef struct {
    float *p, *m;
    const float *g;
    float k_lr, k_mu, decay;
    int nesterov;
} SgdArgs;

static void sgd_range(const void *args, Py_ssize_t lo, Py_ssize_t hi, int decayed)
{
    const SgdArgs *a = args;
    float *restrict p = a->p, *restrict m = a->m;
    const float *restrict g = a->g;
    const float k_lr = a->k_lr, k_mu = a->k_mu, decay = a->decay;
    const int nesterov = a->nesterov;
    for (Py_ssize_t i = lo; i < hi; i++) {
        float pi = p[i];
        if (decayed)
            pi = pi - pi * decay;
        float step = g[i] * k_lr;                     /* lr·g */
        if (!m) {
            p[i] = pi - step;                         /* θ − lr·g */
            continue;
        }
        float mi = m[i] * k_mu - step;                /* m ← μ·m − lr·g */
        m[i] = mi;
        p[i] = nesterov ? pi + (mi * k_mu - step) : pi + mi;
    }
}

PyDoc_STRVAR(sgd_doc,
"sgd(p, g, m, k_lr, k_mu, nesterov, decay, decay_spans)\n--\n\n"
"One SGD step in place: θ ← θ − lr·g when m is None; else m ← μ·m − lr·g and\n"
"θ ← θ + m, or θ ← θ + (μ·m − lr·g) with nesterov; θ ← θ − θ·decay first.");

static PyObject *sgd(PyObject *self, PyObject *args)
{
    PyObject *po, *go, *mo, *decay, *spans;
    SgdArgs a;
    Buffers b = {.count = 0};
    Decay d;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOffpOO:sgd", &po, &go, &mo, &a.k_lr, &a.k_mu,
                          &a.nesterov, &decay, &spans))
        return NULL;
    if (!(a.p = acquire(&b, po, "p", 1)) || !(a.g = acquire(&b, go, "g", 0))
        || acquire_optional(&b, mo, "m", &a.m) < 0
        || parse_decay(decay, spans, b.n, &d) < 0) {
        release(&b);
        return NULL;
    }
    a.decay = d.decay;
    return finish(&b, &d, sgd_range, &a);
}

/* ---- RMSprop, plain, centered, with momentum ---------------------------------------- */

typedef struct {
    float *p, *s, *mom, *avg;
    const float *g;
    float k_rho, k_1mrho, k_eps, k_lr, k_mu, decay;
} RmsArgs;

static void rmsprop_range(const void *args, Py_ssize_t lo, Py_ssize_t hi, int decayed)
{
    const RmsArgs *a = args;
    float *restrict p = a->p, *restrict s = a->s, *restrict mom = a->mom;
    float *restrict avg = a->avg;
    const float *restrict g = a->g;
    const float k_rho = a->k_rho, k_1mrho = a->k_1mrho, k_eps = a->k_eps;
    const float k_lr = a->k_lr, k_mu = a->k_mu, decay = a->decay;
    for (Py_ssize_t i = lo; i < hi; i++) {
        float pi = p[i], gi = g[i], root;
        if (decayed)
            pi = pi - pi * decay;
        float si = s[i] * k_rho + gi * gi * k_1mrho;  /* s ← ρ·s + (1 − ρ)·g² */
        s[i] = si;
        if (avg) {                                    /* ḡ ← ρ·ḡ + (1 − ρ)·g */
            float ai = avg[i] * k_rho + gi * k_1mrho;
            avg[i] = ai;
            root = sqrtf(si - ai * ai + k_eps);       /* √(s − ḡ² + ε) */
        } else {
            root = sqrtf(si + k_eps);                 /* √(s + ε) */
        }
        float delta = gi * k_lr / root;               /* Δ = lr·g / root */
        if (mom) {
            float mo = mom[i] * k_mu + delta;         /* mom ← μ·mom + Δ */
            mom[i] = mo;
            p[i] = pi - mo;
        } else {
            p[i] = pi - delta;
        }
    }
}

PyDoc_STRVAR(rmsprop_doc,
"rmsprop(p, g, s, mom, avg, k_rho, k_1mrho, k_eps, k_lr, k_mu, decay, decay_spans)\n--\n\n"
"One RMSprop step in place: s ← ρ·s + (1 − ρ)·g²; with avg (centered)\n"
"ḡ ← ρ·ḡ + (1 − ρ)·g and the root is √(s − ḡ² + ε), else √(s + ε);\n"
"Δ = lr·g / root; with mom: mom ← μ·mom + Δ, θ ← θ − mom; else θ ← θ − Δ.");

static PyObject *rmsprop(PyObject *self, PyObject *args)
{
    PyObject *po, *go, *so, *mo, *ao, *decay, *spans;
    RmsArgs a;
    Buffers b = {.count = 0};
    Decay d;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOfffffOO:rmsprop", &po, &go, &so, &mo, &ao, &a.k_rho,
                          &a.k_1mrho, &a.k_eps, &a.k_lr, &a.k_mu, &decay, &spans))
        return NULL;
    if (!(a.p = acquire(&b, po, "p", 1)) || !(a.g = acquire(&b, go, "g", 0))
        || !(a.s = acquire(&b, so, "s", 1)) || acquire_optional(&b, mo, "mom", &a.mom) < 0
        || acquire_optional(&b, ao, "avg", &a.avg) < 0
        || parse_decay(decay, spans, b.n, &d) < 0) {
        release(&b);
        return NULL;
    }
    a.decay = d.decay;
    return finish(&b, &d, rmsprop_range, &a);
}

/* ---- the module ---------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"adam", adam, METH_VARARGS, adam_doc},
    {"sgd", sgd, METH_VARARGS, sgd_doc},
    {"rmsprop", rmsprop, METH_VARARGS, rmsprop_doc},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module)
{
    (void)module;
    pool_import();
    return 0;
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fcnet._fused",
    .m_doc = "Optimizer updates over fcnet's flat parameter buffer, one fused pass each "
             "(float32; the same arithmetic as the NumPy reference).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__fused(void)
{
    return PyModuleDef_Init(&module);
}
