/* fcnet._conv: the element-wise passes of convolutional networks that NumPy runs as many
 * strided ufunc calls, each as one plain loop (float32, channels-last arrays).
 *
 *   max_pool2d_forward   y = the max of each pooling window, and the offset of its first
 *                        maximum in row-major window order (the argmax);
 *   max_pool2d_backward  dx = dy scattered onto each window's argmax (added where windows
 *                        overlap);
 *   im2col2d             cols[(n, o), (g, j, c)] = x̃[n, o·s + j·d, (g, c)]: the patch matrix
 *                        in its row layout (a copy: one run of C or kw·C floats at a time)
 *                        or the transposed one of few channels;
 *   col2im2d             dx̃[n, o·s + j·d, c] += dcols[(n, o), (j, c)] (the adjoint of the
 *                        patch copy), for the row layout of the patch matrix and for the
 *                        transposed one of few channels;
 *   relu_backward_bias   dz = dy · [y > 0] and db[f] = Σ_rows dz[:, f] in one pass;
 *   relu_backward_conv   the same with a convolution's kernel gradient dW = colsᵀ · dz from
 *                        the transposed patch matrix colsᵀ (K, rows), K small, dz written
 *                        only when asked; relu_backward_conv_dx also the input gradient
 *                        Σ_f dz·W added into the padded input in the same pass (dz never
 *                        stored; the terms and their sums not the reference's order);
 *   bias_relu            z = max(z + b, 0) in place: a layer's bias and relu in one pass;
 *   conv_bias_relu       z = max(b + cols · W, 0) from a convolution's transposed patch
 *                        matrix colsᵀ (K, rows), K small: its product, bias and relu in one
 *                        pass (the products summed in float32 in K order, with fused
 *                        multiply-adds where the CPU has AVX2 and FMA: it may differ from
 *                        BLAS's product in the last bits).
 *
 * Each is the NumPy reference's arithmetic (fcnet/ops/pooling.py, fcnet/ops/conv.py,
 * fcnet/activations.py) in the same order, so the results are the reference's bits; the
 * exceptions are the sums over rows (the bias gradient, and relu_backward_conv's kernel
 * gradient), accumulated here in double and rounded once, so they may differ from the
 * reference (NumPy's float32 sum, BLAS's float32 product) in the last bits.
 *
 * Max pooling and the row-layout col2im run through AVX2 clones of the same loops where the
 * CPU has AVX2 (picked at run time; no fused multiply-add: the same bits).
 *
 * The caller (fcnet/ops/compiled.py) passes the shapes as integers; every buffer must be
 * C-contiguous, of the format named and of exactly the size the shapes give, and the
 * buffers written may not share memory with the others. Plain C, no OpenMP; each kernel
 * lets go of the GIL while it loops. Max pooling, col2im, and the relu forwards are cut
 * into parts by samples or rows on fcnet._pool's threads where those serve BLAS
 * (fcnet/_pool.h): each part writes its own outputs as the whole loop would.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "_pool.h"

#define MAX_BUFFERS 7

typedef struct {
    Py_buffer views[MAX_BUFFERS];
    int writes[MAX_BUFFERS]; /* whether the kernel writes the buffer */
    int count;
} Buffers;

static void release(Buffers *b)
{
    for (int i = 0; i < b->count; i++)
        PyBuffer_Release(&b->views[i]);
    b->count = 0;
}

/* The buffer's element format without a byte-order prefix of native order. */
static const char *format_of(const Py_buffer *view)
{
    const char *f = view->format ? view->format : "B";
    return (*f == '@' || *f == '=') ? f + 1 : f;
}

/* Acquires `obj` as a C-contiguous buffer of `n` elements of `format` ("f": float32,
 * "i": int32), writable when asked; a buffer written may share no memory with another.
 * Returns its data, or NULL with TypeError/ValueError set (and nothing held). */
static void *acquire(Buffers *b, PyObject *obj, const char *name, const char *format,
                     Py_ssize_t n, int writable)
{
    Py_buffer *view = &b->views[b->count];
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) {
        PyErr_Format(PyExc_TypeError, "`%s` must be a buffer. Received: %.100s",
                     name, Py_TYPE(obj)->tp_name);
        return NULL;
    }
    const char *f = format_of(view);
    int ok_format = view->itemsize == 4 && (strcmp(f, format) == 0
                    || (format[0] == 'i' && strcmp(f, "l") == 0 && sizeof(long) == 4));
    if (!ok_format) {
        PyErr_Format(PyExc_TypeError, "`%s` must be a %s buffer. Received: format '%s', "
                     "itemsize %zd", name, format[0] == 'f' ? "float32" : "int32",
                     f, view->itemsize);
        PyBuffer_Release(view);
        return NULL;
    }
    const char *problem = NULL;
    if (!PyBuffer_IsContiguous(view, 'C'))
        problem = "is not C-contiguous";
    else if (writable && view->readonly)
        problem = "is read-only";
    else if (view->len / 4 != n)
        problem = "has the wrong number of elements";
    if (problem) {
        PyErr_Format(PyExc_ValueError, "`%s` must be a C-contiguous%s buffer of %zd "
                     "elements. Received: one that %s (%zd elements)", name,
                     writable ? ", writable" : "", n, problem, view->len / 4);
        PyBuffer_Release(view);
        return NULL;
    }
    const char *lo = view->buf, *hi = lo + view->len;
    for (int i = 0; i < b->count; i++) {
        const char *olo = b->views[i].buf, *ohi = olo + b->views[i].len;
        if ((writable || b->writes[i]) && n > 0 && lo < ohi && olo < hi) {
            PyErr_Format(PyExc_ValueError, "`%s` overlaps another buffer of the call. "
                         "Received: buffers sharing memory", name);
            PyBuffer_Release(view);
            return NULL;
        }
    }
    b->writes[b->count++] = writable;
    return view->buf;
}

static int positive(const Py_ssize_t *values, int count)
{
    for (int i = 0; i < count; i++)
        if (values[i] <= 0) {
            PyErr_Format(PyExc_ValueError, "Every size, stride and dilation must be "
                         "positive. Received: %zd", values[i]);
            return 0;
        }
    return 1;
}

/* ---- max pooling ---------------------------------------------------------------------- */

/* Geometry of a 2-D pooling on an already padded input x (N, H, W, C) → y (N, OH, OW, C). */
typedef struct {
    Py_ssize_t n, h, w, c, oh, ow, ph, pw, sh, sw;
} Pool;

/* The loops below, run through their AVX2 clones where the CPU has AVX2 (see there). */
static void pool_forward(const float *restrict x, float *restrict y, int *restrict arg,
                         const Pool *p);
static int pool_backward(const float *restrict dy, const int *restrict arg,
                         float *restrict dx, const Pool *p);

static int parse_pool(PyObject *args, PyObject **a, PyObject **b, PyObject **c, Pool *p)
{
    if (!PyArg_ParseTuple(args, "OOOnnnnnnnnnn", a, b, c, &p->n, &p->h, &p->w, &p->c,
                          &p->oh, &p->ow, &p->ph, &p->pw, &p->sh, &p->sw))
        return 0;
    if (!positive(&p->n, 10))
        return 0;
    if ((p->oh - 1) * p->sh + p->ph > p->h || (p->ow - 1) * p->sw + p->pw > p->w) {
        PyErr_Format(PyExc_ValueError, "The windows must lie inside the (padded) input. "
                     "Received: input %zdx%zd, output %zdx%zd, pool %zdx%zd, strides %zdx%zd",
                     p->h, p->w, p->oh, p->ow, p->ph, p->pw, p->sh, p->sw);
        return 0;
    }
    return 1;
}

/* y, arg of each window, one window at a time: the first offset copied, then each later
 * offset in window order compared (strictly greater wins: the first maximum stays; a NaN
 * wins, as np.maximum propagates it), as the reference's np.maximum passes run; the
 * loop over channels is the vectorised one. */
static inline __attribute__((always_inline)) void pool_forward_body(
    const float *restrict x, float *restrict y, int *restrict arg, const Pool *p)
{
    const Py_ssize_t C = p->c;
    for (Py_ssize_t n = 0; n < p->n; n++)
        for (Py_ssize_t oh = 0; oh < p->oh; oh++)
            for (Py_ssize_t ow = 0; ow < p->ow; ow++) {
                const Py_ssize_t o = ((n * p->oh + oh) * p->ow + ow) * C;
                float *restrict ys = y + o;
                int *restrict as = arg + o;
                const float *restrict corner =
                    x + ((n * p->h + oh * p->sh) * p->w + ow * p->sw) * C;
                for (Py_ssize_t c = 0; c < C; c++) {
                    ys[c] = corner[c];
                    as[c] = 0;
                }
                for (Py_ssize_t i = 0; i < p->ph; i++)
                    for (Py_ssize_t j = (i == 0); j < p->pw; j++) {
                        const int k = (int)(i * p->pw + j);
                        const float *restrict xs = corner + (i * p->w + j) * C;
                        for (Py_ssize_t c = 0; c < C; c++) {
                            float v = xs[c], m = ys[c];
                            int take = (v > m) | (v != v);
                            ys[c] = take ? v : m;
                            as[c] = take ? k : as[c];
                        }
                    }
            }
}

/* A range of samples of max pooling, forward or backward (each sample's windows are its
 * own). */
typedef struct {
    const float *x; /* x (forward) or dy (backward) */
    float *y;       /* y (forward) or dx (backward) */
    int *arg;
    const Pool *p;
    int backward;
    int status[POOL_MAX_PARTS];
} PoolJob;

static void pool_part(void *ctx, int part, int parts)
{
    PoolJob *job = ctx;
    Py_ssize_t lo, hi;
    pool_range(job->p->n, part, parts, &lo, &hi);
    Pool q = *job->p;
    q.n = hi - lo;
    const Py_ssize_t in = q.h * q.w * q.c, out = q.oh * q.ow * q.c;
    job->status[part] = 0;
    if (q.n <= 0)
        return;
    if (job->backward)
        job->status[part] = pool_backward(job->x + lo * out, job->arg + lo * out,
                                          job->y + lo * in, &q);
    else
        pool_forward(job->x + lo * in, job->y + lo * out, job->arg + lo * out, &q);
}

PyDoc_STRVAR(max_pool2d_forward_doc,
"max_pool2d_forward(x, y, arg, n, h, w, c, oh, ow, ph, pw, sh, sw)\n--\n\n"
"y[n, o, c] = max of x over window o (ph x pw, strides sh x sw) of the padded input\n"
"x (n, h, w, c); arg[n, o, c] = the row-major offset (i * pw + j) of its first maximum.\n"
"x, y float32; arg int32; all C-contiguous.");

static PyObject *max_pool2d_forward(PyObject *self, PyObject *args)
{
    PyObject *xo, *yo, *ao;
    Pool p;
    Buffers b = {.count = 0};
    if (!parse_pool(args, &xo, &yo, &ao, &p))
        return NULL;
    if ((Py_ssize_t)p.ph * p.pw > 0x7fffffff) {
        PyErr_SetString(PyExc_ValueError, "The pool window is too large.");
        return NULL;
    }
    const float *x = acquire(&b, xo, "x", "f", p.n * p.h * p.w * p.c, 0);
    float *y = x ? acquire(&b, yo, "y", "f", p.n * p.oh * p.ow * p.c, 1) : NULL;
    int *arg = y ? acquire(&b, ao, "arg", "i", p.n * p.oh * p.ow * p.c, 1) : NULL;
    if (!arg) {
        release(&b);
        return NULL;
    }
    PoolJob job = {.x = x, .y = y, .arg = arg, .p = &p};
    int parts = pool_parts_for(p.n, p.h * p.w * p.c);
    Py_BEGIN_ALLOW_THREADS
    pool_run(pool_part, &job, parts);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

/* dx = dy routed to each argmax (zeroed first where windows overlap or leave gaps). Where
 * windows overlap, offsets are visited one at a time over all windows of a sample, in
 * window order, as the reference adds them: the same sums, in the same order. Returns 0,
 * or -1 on an argmax outside the window. */
static inline __attribute__((always_inline)) int pool_backward_body(
    const float *restrict dy, const int *restrict arg, float *restrict dx, const Pool *p)
{
    const Py_ssize_t C = p->c, K = p->ph * p->pw;
    const Py_ssize_t out = p->oh * p->ow * C;
    int bad = 0;
    for (Py_ssize_t i = 0; i < out * p->n; i++)
        bad |= (unsigned)arg[i] >= (unsigned)K;
    if (bad)
        return -1;
    const int disjoint = p->sh >= p->ph && p->sw >= p->pw;
    /* Windows that tile the input exactly leave no entry unwritten: no zeroing needed. */
    if (!(disjoint && p->sh == p->ph && p->sw == p->pw && p->oh * p->sh == p->h
          && p->ow * p->sw == p->w))
        memset(dx, 0, sizeof(float) * (size_t)(p->n * p->h * p->w * C));
    if (disjoint) {
        /* Windows that do not overlap: each dx entry gets at most one term, so the
         * windows may be visited one at a time, each entry they cover written once. */
        for (Py_ssize_t n = 0; n < p->n; n++)
            for (Py_ssize_t oh = 0; oh < p->oh; oh++)
                for (Py_ssize_t ow = 0; ow < p->ow; ow++) {
                    Py_ssize_t o = ((n * p->oh + oh) * p->ow + ow) * C;
                    const float *restrict d = dy + o;
                    const int *restrict a = arg + o;
                    float *restrict corner = dx + ((n * p->h + oh * p->sh) * p->w
                                                   + ow * p->sw) * C;
                    for (Py_ssize_t i = 0; i < p->ph; i++)
                        for (Py_ssize_t j = 0; j < p->pw; j++) {
                            const int k = (int)(i * p->pw + j);
                            float *restrict t = corner + (i * p->w + j) * C;
                            for (Py_ssize_t c = 0; c < C; c++) {
                                float hit = a[c] == k ? 1.0f : 0.0f;
                                t[c] = 0.0f + d[c] * hit; /* dy · hit, a zero as +0 */
                            }
                        }
                }
        return 0;
    }
    for (Py_ssize_t n = 0; n < p->n; n++)
        for (Py_ssize_t i = 0; i < p->ph; i++)
            for (Py_ssize_t j = 0; j < p->pw; j++) {
                const int k = (int)(i * p->pw + j);
                for (Py_ssize_t oh = 0; oh < p->oh; oh++)
                    for (Py_ssize_t ow = 0; ow < p->ow; ow++) {
                        Py_ssize_t o = n * out + (oh * p->ow + ow) * C;
                        const float *restrict d = dy + o;
                        const int *restrict a = arg + o;
                        float *restrict t = dx + ((n * p->h + oh * p->sh + i) * p->w
                                                  + ow * p->sw + j) * C;
                        for (Py_ssize_t c = 0; c < C; c++) {
                            float hit = a[c] == k ? 1.0f : 0.0f;
                            t[c] += d[c] * hit; /* the reference's dy · hit */
                        }
                    }
            }
    return 0;
}

PyDoc_STRVAR(max_pool2d_backward_doc,
"max_pool2d_backward(dy, arg, dx, n, h, w, c, oh, ow, ph, pw, sh, sw)\n--\n\n"
"dx (n, h, w, c), the padded input's gradient, set to dy routed to each window's argmax\n"
"(the arg max_pool2d_forward wrote); added where windows overlap.");

static PyObject *max_pool2d_backward(PyObject *self, PyObject *args)
{
    PyObject *dyo, *ao, *dxo;
    Pool p;
    Buffers b = {.count = 0};
    if (!parse_pool(args, &dyo, &ao, &dxo, &p))
        return NULL;
    const float *dy = acquire(&b, dyo, "dy", "f", p.n * p.oh * p.ow * p.c, 0);
    const int *arg = dy ? acquire(&b, ao, "arg", "i", p.n * p.oh * p.ow * p.c, 0) : NULL;
    float *dx = arg ? acquire(&b, dxo, "dx", "f", p.n * p.h * p.w * p.c, 1) : NULL;
    if (!dx) {
        release(&b);
        return NULL;
    }
    PoolJob job = {.x = dy, .y = dx, .arg = (int *)arg, .p = &p, .backward = 1};
    int parts = pool_parts_for(p.n, p.h * p.w * p.c), status = 0;
    Py_BEGIN_ALLOW_THREADS
    pool_run(pool_part, &job, parts);
    Py_END_ALLOW_THREADS
    for (int i = 0; i < parts; i++)
        status |= job.status[i];
    release(&b);
    if (status < 0) {
        PyErr_Format(PyExc_ValueError, "`arg` must hold window offsets in [0, %zd). "
                     "Received: an offset outside", p.ph * p.pw);
        return NULL;
    }
    Py_RETURN_NONE;
}

typedef struct {
    Py_ssize_t n, h, w, c, g, oh, ow, kh, kw, sh, sw, dh, dw;
} Cols;

/* ---- im2col, row layout ------------------------------------------------------------------ */

/* cols (n, oh, ow, g, kh, kw, cg) = x (n, h, w, g·cg) read at (o·s + j·d, (g, c)): a copy.
 * With one group and unit column dilation, a kernel row (kw pixels of all C channels) is
 * one contiguous run of kw·C floats; otherwise each (g, i, j) is a run of cg floats. */
static void im2col(const float *restrict x, float *restrict cols, const Cols *q)
{
    const Py_ssize_t C = q->c, cg = q->c / q->g;
    const int whole_rows = q->g == 1 && q->dw == 1;
    const size_t run = (size_t)(whole_rows ? q->kw * C : cg) * sizeof(float);
    float *restrict out = cols;
    for (Py_ssize_t n = 0; n < q->n; n++)
        for (Py_ssize_t oh = 0; oh < q->oh; oh++)
            for (Py_ssize_t ow = 0; ow < q->ow; ow++) {
                const float *corner = x + ((n * q->h + oh * q->sh) * q->w + ow * q->sw) * C;
                if (whole_rows) {
                    for (Py_ssize_t i = 0; i < q->kh; i++) {
                        memcpy(out, corner + i * q->dh * q->w * C, run);
                        out += q->kw * C;
                    }
                    continue;
                }
                for (Py_ssize_t g = 0; g < q->g; g++)
                    for (Py_ssize_t i = 0; i < q->kh; i++)
                        for (Py_ssize_t j = 0; j < q->kw; j++) {
                            memcpy(out, corner + (i * q->dh * q->w + j * q->dw) * C + g * cg,
                                   run);
                            out += cg;
                        }
            }
}

/* The transposed (few-channel) layout: cols_t (g, kh, kw, cg, n, oh, ow), one row per
 * (g, i, j, c) of the patch entries of every output position, read with a stride of sw·C
 * floats (one contiguous run of ow floats for one channel and unit strides). */
static void im2col_t(const float *restrict x, float *restrict cols, const Cols *q)
{
    const Py_ssize_t C = q->c, cg = q->c / q->g, step = q->sw * C;
    float *restrict out = cols;
    for (Py_ssize_t g = 0; g < q->g; g++)
        for (Py_ssize_t i = 0; i < q->kh; i++)
            for (Py_ssize_t j = 0; j < q->kw; j++)
                for (Py_ssize_t c = 0; c < cg; c++)
                    for (Py_ssize_t n = 0; n < q->n; n++)
                        for (Py_ssize_t oh = 0; oh < q->oh; oh++) {
                            const float *restrict s = x + ((n * q->h + oh * q->sh + i * q->dh)
                                                           * q->w + j * q->dw) * C + g * cg + c;
                            if (step == 1)
                                memcpy(out, s, sizeof(float) * (size_t)q->ow);
                            else
                                for (Py_ssize_t ow = 0; ow < q->ow; ow++)
                                    out[ow] = s[ow * step];
                            out += q->ow;
                        }
}

/* The arguments im2col2d and col2im2d share: two arrays, then the geometry (and the
 * optional layout flag), checked: positive sizes, patches inside the padded input,
 * groups that divide the channels. Returns 0 with an exception set on bad arguments. */
static int parse_cols(PyObject *args, PyObject **a, PyObject **b, Cols *q, int *transposed)
{
    if (!PyArg_ParseTuple(args, "OOnnnnnnnnnnnnn|p", a, b, &q->n, &q->h, &q->w, &q->c, &q->g,
                          &q->oh, &q->ow, &q->kh, &q->kw, &q->sh, &q->sw, &q->dh, &q->dw,
                          transposed))
        return 0;
    if (!positive(&q->n, 13))
        return 0;
    if (q->c % q->g || (q->oh - 1) * q->sh + (q->kh - 1) * q->dh >= q->h
        || (q->ow - 1) * q->sw + (q->kw - 1) * q->dw >= q->w) {
        PyErr_Format(PyExc_ValueError, "The patches must lie inside the (padded) input and "
                     "the groups divide the channels. Received: input %zdx%zdx%zd, output "
                     "%zdx%zd, kernel %zdx%zd, strides %zdx%zd, dilation %zdx%zd, groups %zd",
                     q->h, q->w, q->c, q->oh, q->ow, q->kh, q->kw, q->sh, q->sw, q->dh,
                     q->dw, q->g);
        return 0;
    }
    return 1;
}

/* A range of samples of im2col or col2im in the row layout (each sample's rows of the
 * patch matrix and its pixels are its own): x is read by im2col, written by col2im. */
typedef struct {
    float *x;
    float *cols;
    const Cols *q;
    int backward; /* col2im */
} ColsJob;

static void col2im(const float *restrict dcols, float *restrict dx, const Cols *q);

static void cols_part(void *ctx, int part, int parts)
{
    const ColsJob *job = ctx;
    Py_ssize_t lo, hi;
    pool_range(job->q->n, part, parts, &lo, &hi);
    Cols q = *job->q;
    q.n = hi - lo;
    if (q.n <= 0)
        return;
    float *x = job->x + lo * q.h * q.w * q.c;
    float *cols = job->cols + lo * q.oh * q.ow * q.kh * q.kw * q.c;
    if (job->backward)
        col2im(cols, x, &q);
    else
        im2col(x, cols, &q);
}

PyDoc_STRVAR(im2col2d_doc,
"im2col2d(x, cols, n, h, w, c, g, oh, ow, kh, kw, sh, sw, dh, dw, transposed=False)\n--\n\n"
"cols (n, oh, ow, g, kh, kw, c/g), the patch matrix in its row layout, set to\n"
"x[n, o*s + j*d, (g, c)] of the padded input x (n, h, w, c): a copy; or, transposed,\n"
"cols (g, kh, kw, c/g, n, oh, ow) (the few-channel layout).");

static PyObject *im2col2d(PyObject *self, PyObject *args)
{
    PyObject *xo, *co;
    Cols q;
    Buffers b = {.count = 0};
    int transposed = 0;
    if (!parse_cols(args, &xo, &co, &q, &transposed))
        return NULL;
    const float *x = acquire(&b, xo, "x", "f", q.n * q.h * q.w * q.c, 0);
    float *cols = x ? acquire(&b, co, "cols", "f", q.n * q.oh * q.ow * q.kh * q.kw * q.c, 1)
                    : NULL;
    if (!cols) {
        release(&b);
        return NULL;
    }
    ColsJob job = {.x = (float *)x, .cols = cols, .q = &q};
    Py_BEGIN_ALLOW_THREADS
    if (transposed)
        im2col_t(x, cols, &q);
    else
        pool_run(cols_part, &job, pool_parts_for(q.n, q.oh * q.ow * q.kh * q.kw * q.c));
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

/* ---- col2im ----------------------------------------------------------------------------- */


static inline __attribute__((always_inline)) void col2im_body(
    const float *restrict dcols, float *restrict dx, const Cols *q)
{
    const Py_ssize_t C = q->c, cg = q->c / q->g, K = q->kh * q->kw * cg;
    const Py_ssize_t row = q->g * K; /* one patch row: (g, kh, kw, c/g) */
    memset(dx, 0, sizeof(float) * (size_t)(q->n * q->h * q->w * C));
    for (Py_ssize_t n = 0; n < q->n; n++)
        for (Py_ssize_t i = 0; i < q->kh; i++)
            for (Py_ssize_t j = 0; j < q->kw; j++)  /* offsets in the reference's order */
                for (Py_ssize_t oh = 0; oh < q->oh; oh++)
                    for (Py_ssize_t ow = 0; ow < q->ow; ow++) {
                        const float *src = dcols + ((n * q->oh + oh) * q->ow + ow) * row
                                           + (i * q->kw + j) * cg;
                        float *dst = dx + ((n * q->h + oh * q->sh + i * q->dh) * q->w
                                           + ow * q->sw + j * q->dw) * C;
                        for (Py_ssize_t g = 0; g < q->g; g++) {
                            const float *restrict s = src + g * K;
                            float *restrict t = dst + g * cg;
                            for (Py_ssize_t c = 0; c < cg; c++)
                                t[c] += s[c];
                        }
                    }
}

static void col2im_t(const float *restrict dcols, float *restrict dx, const Cols *q);

/* ---- AVX2 clones ------------------------------------------------------------------------ */

/* Max pooling and col2im are copies, compares, selects, one product by 0 or 1 and adds, each
 * the reference's operation on each element: compiled once more for AVX2 (eight floats a
 * vector instead of SSE2's four; no fused multiply-add: the arithmetic and the results are
 * the same bits), picked at run time where the CPU has AVX2. */
#if defined(__GNUC__) && defined(__x86_64__)
#define FCNET_AVX2_CLONES 1
__attribute__((target("avx2")))
static void pool_forward_avx2(const float *restrict x, float *restrict y, int *restrict arg,
                              const Pool *p)
{
    pool_forward_body(x, y, arg, p);
}

__attribute__((target("avx2")))
static int pool_backward_avx2(const float *restrict dy, const int *restrict arg,
                              float *restrict dx, const Pool *p)
{
    return pool_backward_body(dy, arg, dx, p);
}

__attribute__((target("avx2")))
static void col2im_avx2(const float *restrict dcols, float *restrict dx, const Cols *q)
{
    col2im_body(dcols, dx, q);
}
#endif

static int have_avx2(void)
{
#ifdef FCNET_AVX2_CLONES
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

static void pool_forward(const float *restrict x, float *restrict y, int *restrict arg,
                         const Pool *p)
{
#ifdef FCNET_AVX2_CLONES
    if (have_avx2()) {
        pool_forward_avx2(x, y, arg, p);
        return;
    }
#endif
    pool_forward_body(x, y, arg, p);
}

static int pool_backward(const float *restrict dy, const int *restrict arg,
                         float *restrict dx, const Pool *p)
{
#ifdef FCNET_AVX2_CLONES
    if (have_avx2())
        return pool_backward_avx2(dy, arg, dx, p);
#endif
    return pool_backward_body(dy, arg, dx, p);
}

static void col2im(const float *restrict dcols, float *restrict dx, const Cols *q)
{
#ifdef FCNET_AVX2_CLONES
    if (have_avx2()) {
        col2im_avx2(dcols, dx, q);
        return;
    }
#endif
    col2im_body(dcols, dx, q);
}

PyDoc_STRVAR(col2im2d_doc,
"col2im2d(dcols, dx, n, h, w, c, g, oh, ow, kh, kw, sh, sw, dh, dw, transposed=False)\n--\n\n"
"dx (n, h, w, c), the padded input's gradient, set to the sum over patches:\n"
"dx[n, o*s + j*d, (g, c)] += dcols[n, o, g, j, c] for dcols (n, oh, ow, g, kh, kw, c/g),\n"
"or, transposed, dcols (g, kh, kw, c/g, n, oh, ow) (the few-channel layout).");

static PyObject *col2im2d(PyObject *self, PyObject *args)
{
    PyObject *dco, *dxo;
    Cols q;
    Buffers b = {.count = 0};
    int transposed = 0;
    if (!parse_cols(args, &dco, &dxo, &q, &transposed))
        return NULL;
    const float *dcols = acquire(&b, dco, "dcols", "f", q.n * q.oh * q.ow * q.kh * q.kw * q.c,
                                 0);
    float *dx = dcols ? acquire(&b, dxo, "dx", "f", q.n * q.h * q.w * q.c, 1) : NULL;
    if (!dx) {
        release(&b);
        return NULL;
    }
    ColsJob job = {.x = dx, .cols = (float *)dcols, .q = &q, .backward = 1};
    Py_BEGIN_ALLOW_THREADS
    if (transposed)
        col2im_t(dcols, dx, &q);
    else
        pool_run(cols_part, &job, pool_parts_for(q.n, q.h * q.w * q.c));
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

/* ---- relu backward with the bias gradient ------------------------------------------------ */

/* The row sums of the relu backward kernels are cut into blocks of rows by the number of
 * rows and columns alone, never by the threads: each block sums its rows in double, and
 * the blocks' sums are added in block order, so the bits are the same on any number of
 * threads. One block up to SUM_BLOCK_WORK floats, at most SUM_BLOCKS. */
#define SUM_BLOCKS 8
#define SUM_BLOCK_WORK 32768

static int sum_blocks(Py_ssize_t rows, Py_ssize_t f)
{
    Py_ssize_t blocks = rows * f / SUM_BLOCK_WORK;
    blocks = blocks < SUM_BLOCKS ? blocks : SUM_BLOCKS;
    blocks = blocks < rows ? blocks : rows;
    return blocks < 1 ? 1 : (int)blocks;
}

/* sums[i] = Σ over blocks of acc[block · stride + i] (in block order), i < count. */
static void add_blocks(double *restrict acc, Py_ssize_t count, Py_ssize_t stride, int blocks)
{
    for (int block = 1; block < blocks; block++)
        for (Py_ssize_t i = 0; i < count; i++)
            acc[i] += acc[block * stride + i];
}

/* dz = dy · [y > 0] over rows [r0, r1), and acc[k] = Σ of those rows of dz[:, k]. */
static void relu_bias(const float *restrict dy, const float *restrict y, float *restrict dz,
                      double *restrict acc, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t f)
{
    for (Py_ssize_t k = 0; k < f; k++)
        acc[k] = 0.0;
    for (Py_ssize_t r = r0; r < r1; r++) {
        const float *restrict dyr = dy + r * f, *restrict yr = y + r * f;
        float *restrict dzr = dz + r * f;
        for (Py_ssize_t k = 0; k < f; k++) {
            float positive = yr[k] > 0.0f ? 1.0f : 0.0f;
            float v = dyr[k] * positive; /* the reference's dy * (y > 0) */
            dzr[k] = v;
            acc[k] += (double)v;
        }
    }
}

typedef struct {
    const float *dy, *y, *cols;
    float *dz, *scratch;
    double *acc;
    Py_ssize_t rows, f, k;
    int blocks;
} SumJob;

static void relu_bias_part(void *ctx, int part, int parts)
{
    const SumJob *job = ctx;
    Py_ssize_t lo, hi;
    pool_range(job->blocks, part, parts, &lo, &hi);
    for (Py_ssize_t block = lo; block < hi; block++) {
        Py_ssize_t r0, r1;
        pool_range(job->rows, (int)block, job->blocks, &r0, &r1);
        relu_bias(job->dy, job->y, job->dz, job->acc + block * job->f, r0, r1, job->f);
    }
}

PyDoc_STRVAR(relu_backward_bias_doc,
"relu_backward_bias(dy, y, dz, db, rows, f, add)\n--\n\n"
"dz = dy * (y > 0) for (rows, f) arrays, and db (f,) = the column sums of dz (summed in\n"
"double, rounded once), written (add false) or added (add true).");

static PyObject *relu_backward_bias(PyObject *self, PyObject *args)
{
    PyObject *dyo, *yo, *dzo, *dbo;
    Py_ssize_t rows, f;
    int add;
    Buffers b = {.count = 0};
    if (!PyArg_ParseTuple(args, "OOOOnnp", &dyo, &yo, &dzo, &dbo, &rows, &f, &add))
        return NULL;
    if (rows < 0 || f <= 0) {
        PyErr_Format(PyExc_ValueError, "`rows` must be >= 0 and `f` > 0. Received: rows=%zd, "
                     "f=%zd", rows, f);
        return NULL;
    }
    const float *dy = acquire(&b, dyo, "dy", "f", rows * f, 0);
    const float *y = dy ? acquire(&b, yo, "y", "f", rows * f, 0) : NULL;
    float *dz = y ? acquire(&b, dzo, "dz", "f", rows * f, 1) : NULL;
    float *db = dz ? acquire(&b, dbo, "db", "f", f, 1) : NULL;
    const int blocks = sum_blocks(rows, f);
    double *acc = db ? PyMem_New(double, (size_t)(blocks * f)) : NULL;
    if (!acc) {
        if (db)
            PyErr_NoMemory();
        release(&b);
        return NULL;
    }
    SumJob job = {.dy = dy, .y = y, .dz = dz, .acc = acc, .rows = rows, .f = f,
                  .blocks = blocks};
    Py_BEGIN_ALLOW_THREADS
    pool_run(relu_bias_part, &job, pool_parts_for(blocks, rows / blocks * f));
    add_blocks(acc, f, f, blocks);
    for (Py_ssize_t k = 0; k < f; k++)
        db[k] = add ? db[k] + (float)acc[k] : (float)acc[k];
    Py_END_ALLOW_THREADS
    PyMem_Free(acc);
    release(&b);
    Py_RETURN_NONE;
}

/* ---- relu backward with the bias and kernel gradients of a convolution -------------------- */

#define CONV_TILE 128 /* rows per tile: dz of a tile stays in L1 for the K passes over it */
#define CONV_MAX_K 16

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FCNET_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define FCNET_CLONES
#endif

/* dW[kk, j] += Σ_{r < nr} c[r] · t[r, j] for one tile, j in [j0, j0 + 32): the tile's sum in
 * float32 in row order (32 independent lanes kept in registers), added to the double acc. */
static inline void tile_products32(const float *restrict c, const float *restrict t,
                                   double *restrict acc, Py_ssize_t nr, Py_ssize_t f)
{
    float s[32] = {0};
    for (Py_ssize_t r = 0; r < nr; r++) {
        const float cr = c[r];
        const float *restrict tr = t + r * f;
        for (int q = 0; q < 32; q++)
            s[q] += cr * tr[q];
    }
    for (int q = 0; q < 32; q++)
        acc[q] += (double)s[q];
}

static inline void tile_products(const float *restrict c, const float *restrict t,
                                 double *restrict acc, Py_ssize_t nr, Py_ssize_t f,
                                 Py_ssize_t width)
{
    float s[32] = {0};
    for (Py_ssize_t r = 0; r < nr; r++) {
        const float cr = c[r];
        const float *restrict tr = t + r * f;
        for (Py_ssize_t q = 0; q < width; q++)
            s[q] += cr * tr[q];
    }
    for (Py_ssize_t q = 0; q < width; q++)
        acc[q] += (double)s[q];
}

/* The input-gradient terms of one tile inside the fused pass (relu_conv with dx):
 * d[r, kk] = Σ_j dz[r, j] · W[kk, j] for the tile's rows r < nr (dz row-major, t), kk < k,
 * d (nr, 16) row-major, from wt (f, 16) = Wᵀ padded with zero columns. Portable loop: each
 * sum in float32 in j order, the 16 columns one vector of lanes. */
static void tile_terms_plain(const float *restrict t, const float *restrict wt,
                             float *restrict d, Py_ssize_t nr, Py_ssize_t f)
{
    for (Py_ssize_t r = 0; r < nr; r++) {
        float s[16] = {0};
        const float *restrict tr = t + r * f;
        for (Py_ssize_t j = 0; j < f; j++) {
            const float v = tr[j];
            for (int l = 0; l < 16; l++)
                s[l] += v * wt[j * 16 + l];
        }
        for (int l = 0; l < 16; l++)
            d[r * 16 + l] = s[l];
    }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define FCNET_TERMS_AVX2 1

static inline __attribute__((target("avx2,fma"), always_inline)) float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The same terms with AVX2 and FMA (f a multiple of 8): columns kk < 8 as one vector of
 * lanes, eight rows at a time, each sum in j order with fused multiply-adds; columns 8 to
 * k − 1 each as one row's dot product, eight j lanes then summed across. */
__attribute__((target("avx2,fma")))
static void tile_terms_avx2(const float *restrict t, const float *restrict wt,
                            const float *restrict w, float *restrict d, Py_ssize_t nr,
                            Py_ssize_t f, Py_ssize_t k)
{
    Py_ssize_t r = 0;
    for (; r + 8 <= nr; r += 8) {
        const float *tr = t + r * f;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
               a6 = a0, a7 = a0;
        for (Py_ssize_t j = 0; j < f; j++) {
            const __m256 wv = _mm256_loadu_ps(wt + j * 16);
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + j), wv, a0);
            a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + f + j), wv, a1);
            a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + 2 * f + j), wv, a2);
            a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + 3 * f + j), wv, a3);
            a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + 4 * f + j), wv, a4);
            a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + 5 * f + j), wv, a5);
            a6 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + 6 * f + j), wv, a6);
            a7 = _mm256_fmadd_ps(_mm256_broadcast_ss(tr + 7 * f + j), wv, a7);
        }
        float *dr = d + r * 16;
        _mm256_storeu_ps(dr, a0);
        _mm256_storeu_ps(dr + 16, a1);
        _mm256_storeu_ps(dr + 32, a2);
        _mm256_storeu_ps(dr + 48, a3);
        _mm256_storeu_ps(dr + 64, a4);
        _mm256_storeu_ps(dr + 80, a5);
        _mm256_storeu_ps(dr + 96, a6);
        _mm256_storeu_ps(dr + 112, a7);
    }
    for (; r < nr; r++) {
        __m256 a0 = _mm256_setzero_ps();
        for (Py_ssize_t j = 0; j < f; j++)
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(t + r * f + j),
                                 _mm256_loadu_ps(wt + j * 16), a0);
        _mm256_storeu_ps(d + r * 16, a0);
    }
    for (Py_ssize_t kk = 8; kk < k; kk++) {
        const float *wk = w + kk * f;
        for (r = 0; r < nr; r++) {
            const float *tr = t + r * f;
            __m256 p = _mm256_mul_ps(_mm256_loadu_ps(tr), _mm256_loadu_ps(wk));
            for (Py_ssize_t j = 8; j < f; j += 8)
                p = _mm256_fmadd_ps(_mm256_loadu_ps(tr + j), _mm256_loadu_ps(wk + j), p);
            d[r * 16 + kk] = hsum8(p);
        }
    }
}
#endif

/* The input gradient of one tile: d[r, kk] (tile_terms_*) added into the padded input
 * gradient at the pixel patch column kk of row r reads, x̃[n, oh·sh + i·dh, ow·sw + j·dw,
 * c] for kk = (i, j, c) and r0 + r = (n, oh, ow): the tile's rows cut into runs of one
 * (n, oh), one strided add per run and patch column. */
static inline __attribute__((always_inline)) void tile_input_gradient(
    const float *restrict t, const float *restrict wt, const float *restrict w,
    float *restrict d, float *restrict dx, const Cols *q, Py_ssize_t r0, Py_ssize_t nr,
    Py_ssize_t f, Py_ssize_t k, int fast)
{
#ifdef FCNET_TERMS_AVX2
    if (fast)
        tile_terms_avx2(t, wt, w, d, nr, f, k);
    else
#endif
        tile_terms_plain(t, wt, d, nr, f);
    const Py_ssize_t C = q->c, per = q->oh * q->ow, step = q->sw * C;
    Py_ssize_t n = r0 / per, oh = r0 % per / q->ow, ow = r0 % q->ow;
    for (Py_ssize_t r = 0; r < nr;) {
        const Py_ssize_t len = q->ow - ow < nr - r ? q->ow - ow : nr - r;
        for (Py_ssize_t kk = 0; kk < k; kk++) {
            const Py_ssize_t i = kk / (q->kw * C), j = kk / C % q->kw, c = kk % C;
            float *restrict out = dx + ((n * q->h + oh * q->sh + i * q->dh) * q->w
                                        + ow * q->sw + j * q->dw) * C + c;
            const float *restrict src = d + r * 16 + kk;
            for (Py_ssize_t l = 0; l < len; l++)
                out[l * step] += src[l * 16];
        }
        r += len;
        ow = 0;
        if (++oh == q->oh) {
            oh = 0;
            n++;
        }
    }
}

FCNET_CLONES
/* Rows [lo, hi) of the relu backward: acc (k + 1, f) = their sums of colsᵀ·dz (k rows)
 * and of dz (the last row), dz written where given (else a tile at a time in scratch),
 * dx added into where given. */
static void relu_conv(const float *restrict dy, const float *restrict y,
                      const float *restrict cols, float *restrict dz, double *restrict acc,
                      float *restrict scratch, Py_ssize_t rows, Py_ssize_t f, Py_ssize_t k,
                      Py_ssize_t lo, Py_ssize_t hi, const float *restrict w,
                      float *restrict dx, const Cols *q, const float *restrict wt,
                      float *restrict d, int fast)
{
    double *restrict accw = acc, *restrict accb = acc + k * f;
    for (Py_ssize_t i = 0; i < (k + 1) * f; i++)
        acc[i] = 0.0;
    for (Py_ssize_t r0 = lo; r0 < hi; r0 += CONV_TILE) {
        const Py_ssize_t nr = hi - r0 < CONV_TILE ? hi - r0 : CONV_TILE;
        float *restrict t = dz ? dz + r0 * f : scratch;
        for (Py_ssize_t r = 0; r < nr; r++) {
            const float *restrict dyr = dy + (r0 + r) * f, *restrict yr = y + (r0 + r) * f;
            float *restrict tr = t + r * f;
            for (Py_ssize_t j = 0; j < f; j++) {
                float positive = yr[j] > 0.0f ? 1.0f : 0.0f;
                float v = dyr[j] * positive; /* the reference's dy * (y > 0) */
                tr[j] = v;
                accb[j] += (double)v;
            }
        }
        for (Py_ssize_t kk = 0; kk < k; kk++) {
            const float *restrict c = cols + kk * rows + r0;
            for (Py_ssize_t j0 = 0; j0 < f; j0 += 32) {
                if (f - j0 >= 32)
                    tile_products32(c, t + j0, accw + kk * f + j0, nr, f);
                else
                    tile_products(c, t + j0, accw + kk * f + j0, nr, f, f - j0);
            }
        }
        if (dx)
            tile_input_gradient(t, wt, w, d, dx, q, r0, nr, f, k, fast);
    }
}

/* dw (k, f) and db (f,) from the sums of relu_conv, written or (add) added. */
static void write_conv_sums(const double *restrict acc, float *restrict dw,
                            float *restrict db, Py_ssize_t f, Py_ssize_t k, int add)
{
    for (Py_ssize_t i = 0; i < k * f; i++)
        dw[i] = add ? dw[i] + (float)acc[i] : (float)acc[i];
    for (Py_ssize_t j = 0; j < f; j++)
        db[j] = add ? db[j] + (float)acc[k * f + j] : (float)acc[k * f + j];
}

static void relu_conv_part(void *ctx, int part, int parts)
{
    const SumJob *job = ctx;
    const Py_ssize_t f = job->f, k = job->k;
    Py_ssize_t lo, hi;
    pool_range(job->blocks, part, parts, &lo, &hi);
    for (Py_ssize_t block = lo; block < hi; block++) {
        Py_ssize_t r0, r1;
        pool_range(job->rows, (int)block, job->blocks, &r0, &r1);
        relu_conv(job->dy, job->y, job->cols, job->dz, job->acc + block * (k + 1) * f,
                  job->scratch ? job->scratch + block * CONV_TILE * f : NULL, job->rows, f,
                  k, r0, r1, NULL, NULL, NULL, NULL, NULL, 0);
    }
}

PyDoc_STRVAR(relu_backward_conv_doc,
"relu_backward_conv(dy, y, cols_t, dz, dw, db, rows, f, k, add)\n--\n\n"
"A convolution's relu backward in one pass: dz = dy * (y > 0) for (rows, f) arrays,\n"
"written into dz unless it is None; db (f,) = the column sums of dz; dw (k, f) =\n"
"cols_t · dz with cols_t (k, rows), k <= 16. Each row sum runs in float32 over tiles of\n"
"128 rows in row order, the tiles' sums added in double, rounded once; db and dw written\n"
"(add false) or added (add true).");

static PyObject *relu_backward_conv(PyObject *self, PyObject *args)
{
    PyObject *dyo, *yo, *colso, *dzo, *dwo, *dbo;
    Py_ssize_t rows, f, k;
    int add;
    Buffers b = {.count = 0};
    if (!PyArg_ParseTuple(args, "OOOOOOnnnp", &dyo, &yo, &colso, &dzo, &dwo, &dbo, &rows,
                          &f, &k, &add))
        return NULL;
    if (rows < 0 || f <= 0 || k <= 0 || k > CONV_MAX_K) {
        PyErr_Format(PyExc_ValueError, "`rows` must be >= 0, `f` > 0 and `k` in [1, %d]. "
                     "Received: rows=%zd, f=%zd, k=%zd", CONV_MAX_K, rows, f, k);
        return NULL;
    }
    const float *dy = acquire(&b, dyo, "dy", "f", rows * f, 0);
    const float *y = dy ? acquire(&b, yo, "y", "f", rows * f, 0) : NULL;
    const float *cols = y ? acquire(&b, colso, "cols_t", "f", k * rows, 0) : NULL;
    float *dz = NULL;
    int ok = cols != NULL;
    if (ok && dzo != Py_None)
        ok = (dz = acquire(&b, dzo, "dz", "f", rows * f, 1)) != NULL;
    float *dw = ok ? acquire(&b, dwo, "dw", "f", k * f, 1) : NULL;
    float *db = dw ? acquire(&b, dbo, "db", "f", f, 1) : NULL;
    const int blocks = sum_blocks(rows, f);
    double *acc = db ? PyMem_New(double, (size_t)(blocks * (k + 1) * f)) : NULL;
    float *scratch = acc && !dz ? PyMem_New(float, (size_t)(blocks * CONV_TILE * f)) : NULL;
    if (!acc || (!dz && !scratch)) {
        if (db)
            PyErr_NoMemory();
        PyMem_Free(acc);
        release(&b);
        return NULL;
    }
    SumJob job = {.dy = dy, .y = y, .cols = cols, .dz = dz, .scratch = scratch, .acc = acc,
                  .rows = rows, .f = f, .k = k, .blocks = blocks};
    Py_BEGIN_ALLOW_THREADS
    pool_run(relu_conv_part, &job, pool_parts_for(blocks, rows / blocks * f * (k + 1)));
    add_blocks(acc, (k + 1) * f, (k + 1) * f, blocks);
    write_conv_sums(acc, dw, db, f, k, add);
    Py_END_ALLOW_THREADS
    PyMem_Free(scratch);
    PyMem_Free(acc);
    release(&b);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(relu_backward_conv_dx_doc,
"relu_backward_conv_dx(dy, y, cols_t, w, dw, db, dx, f, n, h, w_, c, oh, ow, kh, kw, sh, sw,\n"
"dh, dw_, add)\n--\n\n"
"relu_backward_conv's pass (dz never stored) that also writes dx (n, h, w_, c), the padded\n"
"input's gradient: dx[n, o*s + j*d, c] = the sum over the patches reading it of\n"
"sum_f dz[(n, o), f] * w[(j, c), f], w (kh*kw*c, f) the kernel (one group, k =\n"
"kh*kw*c <= 16). Each term's sum over f in float32 (in f order, with fused multiply-adds\n"
"where the CPU has AVX2 and FMA and f is a multiple of 8; patch columns from 8 on then in\n"
"eight lanes summed across); each dx entry's terms added from 0 tile by tile (128 rows),\n"
"within a tile by patch column, then row: not the reference's order (BLAS's products,\n"
"then per kernel offset).");

static PyObject *relu_backward_conv_dx(PyObject *self, PyObject *args)
{
    PyObject *dyo, *yo, *colso, *wo, *dwo, *dbo, *dxo;
    Py_ssize_t f;
    Cols q;
    int add;
    Buffers b = {.count = 0};
    q.g = 1;
    if (!PyArg_ParseTuple(args, "OOOOOOOnnnnnnnnnnnnnp", &dyo, &yo, &colso, &wo, &dwo, &dbo,
                          &dxo, &f, &q.n, &q.h, &q.w, &q.c, &q.oh, &q.ow, &q.kh, &q.kw,
                          &q.sh, &q.sw, &q.dh, &q.dw, &add))
        return NULL;
    if (f <= 0) {
        PyErr_Format(PyExc_ValueError, "`f` must be > 0. Received: f=%zd", f);
        return NULL;
    }
    if (!positive(&q.n, 13))
        return NULL;
    const Py_ssize_t k = q.kh * q.kw * q.c, rows = q.n * q.oh * q.ow;
    if (k > CONV_MAX_K || (q.oh - 1) * q.sh + (q.kh - 1) * q.dh >= q.h
        || (q.ow - 1) * q.sw + (q.kw - 1) * q.dw >= q.w) {
        PyErr_Format(PyExc_ValueError, "The patches must lie inside the (padded) input and "
                     "have at most %d columns. Received: input %zdx%zdx%zd, output %zdx%zd, "
                     "kernel %zdx%zd, strides %zdx%zd, dilation %zdx%zd", CONV_MAX_K, q.h,
                     q.w, q.c, q.oh, q.ow, q.kh, q.kw, q.sh, q.sw, q.dh, q.dw);
        return NULL;
    }
    const float *dy = acquire(&b, dyo, "dy", "f", rows * f, 0);
    const float *y = dy ? acquire(&b, yo, "y", "f", rows * f, 0) : NULL;
    const float *cols = y ? acquire(&b, colso, "cols_t", "f", k * rows, 0) : NULL;
    const float *w = cols ? acquire(&b, wo, "w", "f", k * f, 0) : NULL;
    float *dw = w ? acquire(&b, dwo, "dw", "f", k * f, 1) : NULL;
    float *db = dw ? acquire(&b, dbo, "db", "f", f, 1) : NULL;
    float *dx = db ? acquire(&b, dxo, "dx", "f", q.n * q.h * q.w * q.c, 1) : NULL;
    double *acc = dx ? PyMem_New(double, (size_t)((k + 1) * f)) : NULL;
    /* the tile's dz (CONV_TILE, f), its input-gradient terms (CONV_TILE, 16) and Wᵀ padded
     * with zero columns (f, 16) */
    float *scratch = acc ? PyMem_Calloc((size_t)(CONV_TILE * (f + 16) + 16 * f),
                                        sizeof(float)) : NULL;
    if (!scratch) {
        if (dx)
            PyErr_NoMemory();
        PyMem_Free(acc);
        release(&b);
        return NULL;
    }
    float *d = scratch + CONV_TILE * f, *wt = d + CONV_TILE * 16;
    for (Py_ssize_t kk = 0; kk < k; kk++)
        for (Py_ssize_t j = 0; j < f; j++)
            wt[j * 16 + kk] = w[kk * f + j];
    int fast = 0;
#ifdef FCNET_TERMS_AVX2
    fast = f % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    Py_BEGIN_ALLOW_THREADS
    memset(dx, 0, sizeof(float) * (size_t)(q.n * q.h * q.w * q.c));
    relu_conv(dy, y, cols, NULL, acc, scratch, rows, f, k, 0, rows, w, dx, &q, wt, d,
              fast);
    write_conv_sums(acc, dw, db, f, k, add);
    Py_END_ALLOW_THREADS
    PyMem_Free(scratch);
    PyMem_Free(acc);
    release(&b);
    Py_RETURN_NONE;
}

/* ---- a convolution's small-K product with its bias and relu, forward ---------------------- */

/* z[r, j] = max(b[j] + Σ_kk c[kk, r] · w[kk, j], 0), one row r at a time: the products
 * summed in float32 in kk order from the kk = 0 product, then the bias added, then the
 * relu (NaN stays NaN, as maximum keeps it). Portable loop; conv_relu_avx2 below is the
 * same sums in the same order, eight columns a vector, with fused multiply-adds. */
static void conv_relu_plain(const float *restrict cols, const float *restrict w,
                            const float *restrict b, float *restrict z, Py_ssize_t rows,
                            Py_ssize_t f, Py_ssize_t k, Py_ssize_t r0, Py_ssize_t r1)
{
    for (Py_ssize_t r = r0; r < r1; r++) {
        float *restrict zr = z + r * f;
        const float c0 = cols[r];
        for (Py_ssize_t j = 0; j < f; j++)
            zr[j] = c0 * w[j];
        for (Py_ssize_t kk = 1; kk < k; kk++) {
            const float ck = cols[kk * rows + r];
            const float *restrict wk = w + kk * f;
            for (Py_ssize_t j = 0; j < f; j++)
                zr[j] += ck * wk[j];
        }
        for (Py_ssize_t j = 0; j < f; j++) {
            float v = zr[j] + b[j];
            zr[j] = v < 0.0f ? 0.0f : v;
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#include <immintrin.h>
#define FCNET_SMALL_K_AVX2 1

/* The same sums in the same kk order, each step a fused multiply-add (one rounding per
 * step, not two: the only place in this module that contracts, as this kernel is not the
 * reference's bits anyway); max(0, v) keeps v where v is NaN (the second operand), as
 * the plain loop does. f a multiple of 8; run where the CPU has AVX2 and FMA. */
__attribute__((target("avx2,fma")))
static void conv_relu_avx2(const float *restrict cols, const float *restrict w,
                           const float *restrict b, float *restrict z, Py_ssize_t rows,
                           Py_ssize_t f, Py_ssize_t k, Py_ssize_t r0, Py_ssize_t r1)
{
    const __m256 zero = _mm256_setzero_ps();
    for (Py_ssize_t r = r0; r < r1; r++) {
        float *zr = z + r * f;
        Py_ssize_t j0 = 0;
        for (; j0 + 32 <= f; j0 += 32) {
            __m256 c = _mm256_set1_ps(cols[r]);
            __m256 s0 = _mm256_mul_ps(c, _mm256_loadu_ps(w + j0));
            __m256 s1 = _mm256_mul_ps(c, _mm256_loadu_ps(w + j0 + 8));
            __m256 s2 = _mm256_mul_ps(c, _mm256_loadu_ps(w + j0 + 16));
            __m256 s3 = _mm256_mul_ps(c, _mm256_loadu_ps(w + j0 + 24));
            for (Py_ssize_t kk = 1; kk < k; kk++) {
                const float *wk = w + kk * f + j0;
                c = _mm256_set1_ps(cols[kk * rows + r]);
                s0 = _mm256_fmadd_ps(c, _mm256_loadu_ps(wk), s0);
                s1 = _mm256_fmadd_ps(c, _mm256_loadu_ps(wk + 8), s1);
                s2 = _mm256_fmadd_ps(c, _mm256_loadu_ps(wk + 16), s2);
                s3 = _mm256_fmadd_ps(c, _mm256_loadu_ps(wk + 24), s3);
            }
            _mm256_storeu_ps(zr + j0, _mm256_max_ps(zero, _mm256_add_ps(
                s0, _mm256_loadu_ps(b + j0))));
            _mm256_storeu_ps(zr + j0 + 8, _mm256_max_ps(zero, _mm256_add_ps(
                s1, _mm256_loadu_ps(b + j0 + 8))));
            _mm256_storeu_ps(zr + j0 + 16, _mm256_max_ps(zero, _mm256_add_ps(
                s2, _mm256_loadu_ps(b + j0 + 16))));
            _mm256_storeu_ps(zr + j0 + 24, _mm256_max_ps(zero, _mm256_add_ps(
                s3, _mm256_loadu_ps(b + j0 + 24))));
        }
        for (; j0 < f; j0 += 8) {
            __m256 s0 = _mm256_mul_ps(_mm256_set1_ps(cols[r]), _mm256_loadu_ps(w + j0));
            for (Py_ssize_t kk = 1; kk < k; kk++)
                s0 = _mm256_fmadd_ps(_mm256_set1_ps(cols[kk * rows + r]),
                                     _mm256_loadu_ps(w + kk * f + j0), s0);
            _mm256_storeu_ps(zr + j0, _mm256_max_ps(zero, _mm256_add_ps(
                s0, _mm256_loadu_ps(b + j0))));
        }
    }
}
#endif

/* Rows [r0, r1) of z (rows, f) from cols_t (k, rows). */
static void conv_relu(const float *restrict cols, const float *restrict w,
                      const float *restrict b, float *restrict z, Py_ssize_t rows,
                      Py_ssize_t f, Py_ssize_t k, Py_ssize_t r0, Py_ssize_t r1)
{
#ifdef FCNET_SMALL_K_AVX2
    if (f % 8 == 0 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        conv_relu_avx2(cols, w, b, z, rows, f, k, r0, r1);
        return;
    }
#endif
    conv_relu_plain(cols, w, b, z, rows, f, k, r0, r1);
}

typedef struct {
    const float *cols, *w, *b;
    float *z;
    Py_ssize_t rows, f, k;
} ConvReluJob;

static void conv_relu_part(void *ctx, int part, int parts)
{
    const ConvReluJob *job = ctx;
    Py_ssize_t lo, hi;
    pool_range(job->rows, part, parts, &lo, &hi);
    conv_relu(job->cols, job->w, job->b, job->z, job->rows, job->f, job->k, lo, hi);
}

PyDoc_STRVAR(conv_bias_relu_doc,
"conv_bias_relu(cols_t, w, b, z, rows, f, k)\n--\n\n"
"A convolution's forward for a small patch width k <= 16: z (rows, f) = max(b + cols_t^T\n"
"· w, 0) with cols_t (k, rows), w (k, f), b (f,); each entry's products summed in float32\n"
"in k order (fused multiply-adds where the CPU has AVX2 and FMA), then the bias added,\n"
"then the relu.");

static PyObject *conv_bias_relu(PyObject *self, PyObject *args)
{
    PyObject *colso, *wo, *bo, *zo;
    Py_ssize_t rows, f, k;
    Buffers b = {.count = 0};
    if (!PyArg_ParseTuple(args, "OOOOnnn", &colso, &wo, &bo, &zo, &rows, &f, &k))
        return NULL;
    if (rows < 0 || f <= 0 || k <= 0 || k > CONV_MAX_K) {
        PyErr_Format(PyExc_ValueError, "`rows` must be >= 0, `f` > 0 and `k` in [1, %d]. "
                     "Received: rows=%zd, f=%zd, k=%zd", CONV_MAX_K, rows, f, k);
        return NULL;
    }
    const float *cols = acquire(&b, colso, "cols_t", "f", k * rows, 0);
    const float *w = cols ? acquire(&b, wo, "w", "f", k * f, 0) : NULL;
    const float *bias = w ? acquire(&b, bo, "b", "f", f, 0) : NULL;
    float *z = bias ? acquire(&b, zo, "z", "f", rows * f, 1) : NULL;
    if (!z) {
        release(&b);
        return NULL;
    }
    ConvReluJob job = {.cols = cols, .w = w, .b = bias, .z = z, .rows = rows, .f = f, .k = k};
    int parts = pool_parts_for(rows, f * k);
    Py_BEGIN_ALLOW_THREADS
    pool_run(conv_relu_part, &job, parts);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

/* ---- col2im, few-channel layout ---------------------------------------------------------- */

/* dx (n, h, w, g·cg), zeroed here, += the patch gradients stored one row per (g, i, j, c)
 * (the transposed layout: dcols_t (g, kh, kw, cg, n·oh·ow)). Per sample, kernel offsets in
 * the reference's (row-major) order: each dx entry gets its terms in the same order, so
 * the same sums. */
static void col2im_t(const float *restrict dcols, float *restrict dx, const Cols *q)
{
    const Py_ssize_t C = q->c, cg = q->c / q->g, M = q->n * q->oh * q->ow;
    const Py_ssize_t per = q->oh * q->ow, step = q->sw * C;
    memset(dx, 0, sizeof(float) * (size_t)(q->n * q->h * q->w * C));
    for (Py_ssize_t n = 0; n < q->n; n++)
        for (Py_ssize_t i = 0; i < q->kh; i++)
            for (Py_ssize_t j = 0; j < q->kw; j++)
                for (Py_ssize_t g = 0; g < q->g; g++)
                    for (Py_ssize_t c = 0; c < cg; c++) {
                        const float *restrict s = dcols
                            + (((g * q->kh + i) * q->kw + j) * cg + c) * M + n * per;
                        float *restrict t = dx + ((n * q->h + i * q->dh) * q->w + j * q->dw)
                                            * C + g * cg + c;
                        for (Py_ssize_t oh = 0; oh < q->oh; oh++) {
                            const float *restrict so = s + oh * q->ow;
                            float *restrict to = t + oh * q->sh * q->w * C;
                            if (step == 1) /* one channel, unit stride: a vector loop */
                                for (Py_ssize_t ow = 0; ow < q->ow; ow++)
                                    to[ow] += so[ow];
                            else
                                for (Py_ssize_t ow = 0; ow < q->ow; ow++)
                                    to[ow * step] += so[ow];
                        }
                    }
}

/* ---- bias and relu, forward ------------------------------------------------------------ */

static void bias_relu(float *restrict z, const float *restrict b, Py_ssize_t rows, Py_ssize_t f)
{
    for (Py_ssize_t r = 0; r < rows; r++) {
        float *restrict zr = z + r * f;
        for (Py_ssize_t k = 0; k < f; k++) {
            float v = zr[k] + b[k]; /* the reference's z += b, then maximum(z, 0) */
            zr[k] = v < 0.0f ? 0.0f : v; /* NaN stays NaN, as maximum keeps it */
        }
    }
}

typedef struct {
    float *z;
    const float *b;
    Py_ssize_t rows, f;
} BiasReluJob;

static void bias_relu_part(void *ctx, int part, int parts)
{
    const BiasReluJob *job = ctx;
    Py_ssize_t lo, hi;
    pool_range(job->rows, part, parts, &lo, &hi);
    bias_relu(job->z + lo * job->f, job->b, hi - lo, job->f);
}

PyDoc_STRVAR(bias_relu_doc,
"bias_relu(z, b, rows, f)\n--\n\n"
"z (rows, f) = max(z + b, 0) in place, b (f,): a layer's bias and relu in one pass.");

static PyObject *bias_relu_forward(PyObject *self, PyObject *args)
{
    PyObject *zo, *bo;
    Py_ssize_t rows, f;
    Buffers b = {.count = 0};
    if (!PyArg_ParseTuple(args, "OOnn", &zo, &bo, &rows, &f))
        return NULL;
    if (rows < 0 || f <= 0) {
        PyErr_Format(PyExc_ValueError, "`rows` must be >= 0 and `f` > 0. Received: rows=%zd, "
                     "f=%zd", rows, f);
        return NULL;
    }
    float *z = acquire(&b, zo, "z", "f", rows * f, 1);
    const float *bias = z ? acquire(&b, bo, "b", "f", f, 0) : NULL;
    if (!bias) {
        release(&b);
        return NULL;
    }
    BiasReluJob job = {.z = z, .b = bias, .rows = rows, .f = f};
    int parts = pool_parts_for(rows, f);
    Py_BEGIN_ALLOW_THREADS
    pool_run(bias_relu_part, &job, parts);
    Py_END_ALLOW_THREADS
    release(&b);
    Py_RETURN_NONE;
}

/* ---- the module ---------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"max_pool2d_forward", max_pool2d_forward, METH_VARARGS, max_pool2d_forward_doc},
    {"max_pool2d_backward", max_pool2d_backward, METH_VARARGS, max_pool2d_backward_doc},
    {"im2col2d", im2col2d, METH_VARARGS, im2col2d_doc},
    {"col2im2d", col2im2d, METH_VARARGS, col2im2d_doc},
    {"relu_backward_bias", relu_backward_bias, METH_VARARGS, relu_backward_bias_doc},
    {"relu_backward_conv", relu_backward_conv, METH_VARARGS, relu_backward_conv_doc},
    {"relu_backward_conv_dx", relu_backward_conv_dx, METH_VARARGS,
     relu_backward_conv_dx_doc},
    {"bias_relu", bias_relu_forward, METH_VARARGS, bias_relu_doc},
    {"conv_bias_relu", conv_bias_relu, METH_VARARGS, conv_bias_relu_doc},
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
    .m_name = "fcnet._conv",
    .m_doc = "The element-wise passes of convolutional networks (max pooling, im2col and "
             "col2im, bias and relu forward and backward, the few-channel convolution's "
             "fused passes), one loop each, float32, channels-last.",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__conv(void)
{
    return PyModuleDef_Init(&module);
}
