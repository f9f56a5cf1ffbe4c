"""fcnet.backend.few_rows: a product of a few rows whose columns the pool's threads share.

Checked against ``numpy.matmul`` (the reference: every entry one BLAS sum over K, so the
two agree to float32 rounding), on the shapes that cut unevenly (columns not a multiple
of the 16-column blocks, a block per thread, fewer columns than threads), on strided
rows, in float64, on 2, 3 and 5 BLAS threads (more threads than cores included, so the
blocks are cut on any machine), and on the paths that decline. No timing is asserted."""

import threading

import numpy
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fcnet
from fcnet.backend import blas, few_rows

pool = pytest.importorskip("fcnet._pool", reason="fcnet._pool is not built")
pytestmark = pytest.mark.skipif(not few_rows.ready(),
                                reason="NumPy's BLAS is not an OpenBLAS the pool serves")


def _pair(rows, k, n, dtype="float32", seed=0):
    rng = numpy.random.default_rng(seed)
    return (rng.normal(size=(rows, k)).astype(dtype),
            rng.normal(size=(k, n)).astype(dtype))


def _close(y, a, b):
    """Equal to the exact product up to the rounding of any order of BLAS's sums over K:
    |y − a·b| ≤ K · eps · |a|·|b| entry by entry (the classical bound)."""
    a64, b64 = a.astype("float64"), b.astype("float64")
    bound = a.shape[1] * numpy.finfo(y.dtype).eps * (numpy.abs(a64) @ numpy.abs(b64))
    return bool(numpy.all(numpy.abs(y - a64 @ b64) <= bound))


@pytest.mark.parametrize("threads", [2, 3, 5])
@pytest.mark.parametrize("rows,k,n", [(1, 784, 512), (3, 300, 250), (32, 512, 129),
                                      (2, 2048, 40), (1, 8192, 17)])
def test_blocks_of_columns_give_matmul(threads, rows, k, n):
    a, b = _pair(rows, k, n)
    with threadpool_limits(threads, user_api="blas"):
        y = few_rows.matmul(a, b)
        assert blas.addresses("f") is not None
    assert y is not None and y.dtype == numpy.float32 and y.shape == (rows, n)
    assert _close(y, a, b) and _close(a @ b, a, b)
    assert not numpy.array_equal(y, numpy.zeros_like(y))


def test_strided_rows_and_float64():
    a, b = _pair(4, 400, 600, "float64", seed=1)
    with threadpool_limits(2, user_api="blas"):
        y = few_rows.matmul(a[:, :300], b[100:, 50:550])  # rows of a and b with steps
    assert y is not None and y.dtype == numpy.float64
    expected = a[:, :300] @ b[100:, 50:550]
    numpy.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rows", [1, 32])
def test_a_transposed_kernel_is_taken_as_blas_takes_it(rows):
    """dx = dz · kernelᵀ, the input gradient of a fit at a small batch: the kernel's
    transposed view goes to BLAS as it is, marked transposed."""
    dz, kernel = _pair(rows, 512, 784, seed=2)[0], _pair(784, 512, 1, seed=3)[0]
    with threadpool_limits(2, user_api="blas"):
        dx = few_rows.matmul(dz, kernel.T)
    assert dx is not None and dx.shape == (rows, 784)
    assert _close(dx, dz, kernel.T)


def test_declines_where_it_does_not_apply(monkeypatch):
    a, b = _pair(1, 784, 512)
    with threadpool_limits(2, user_api="blas"):
        assert few_rows.matmul(a[:, ::2], b[::2]) is None  # steps between columns
        a2 = numpy.repeat(a, 2, axis=0)
        assert few_rows.matmul(numpy.asfortranarray(a2), b) is None  # a column-major
        assert few_rows.matmul(a[:, :392], b[::2, ::2]) is None  # steps both ways in b
        assert few_rows.matmul(numpy.broadcast_to(a, (3, 784)), b) is None  # one row, thrice
        assert few_rows.matmul(numpy.repeat(a, 33, axis=0), b) is None  # too many rows
        assert few_rows.matmul(a[:, :100], b[:100, :100]) is None  # b fits one cache
        assert few_rows.matmul(a, b.astype("float64")) is None  # two dtypes
        assert few_rows.matmul(a.astype("float16"), b.astype("float16")) is None
        assert few_rows.matmul(*_pair(1, 8192, 16)) is None  # one block: nothing to cut
        monkeypatch.setenv("FCNET_FUSED", "0")
        assert few_rows.matmul(a, b) is None
        monkeypatch.delenv("FCNET_FUSED")
        assert few_rows.matmul(a, b) is not None
    with threadpool_limits(1, user_api="blas"):  # the governor's crowded-machine mode
        assert few_rows.matmul(a, b) is None


def test_arrays_blas_cannot_take_are_declined_and_wrong_ones_refused():
    a, b = _pair(1, 300, 400)
    y = numpy.empty((1, 400), "float32")
    functions = blas.addresses("f")
    with threadpool_limits(2, user_api="blas"):
        assert pool.columns(*functions, a, b.repeat(2, 0)[::2, ::2], y[:, :200]) is False
        a2, y2 = numpy.repeat(a, 2, axis=0), numpy.empty((2, 400), "float32")
        assert pool.columns(*functions, a2, b, numpy.asfortranarray(y2)) is False
        assert pool.columns(*functions, a, b, y) is True
        for a_, b_ in [(a2, numpy.asfortranarray(b)), (numpy.asfortranarray(a2), b),
                       (numpy.asfortranarray(a2), numpy.asfortranarray(b))]:
            y2.fill(0)
            assert pool.columns(*functions, a_, b_, y2) is True  # column-major: transposed
            assert _close(y2, a2, b)
    with pytest.raises(ValueError, match=r"a float32 \(1, 300\), b float32 \(300, 400\), "
                                         r"y float32 \(1, 399\)"):
        pool.columns(*functions, a, b, y[:, :399])
    with pytest.raises(ValueError, match=r"y float64 \(1, 400\)"):
        pool.columns(*functions, a, b, y.astype("float64"))
    with pytest.raises(ValueError, match=r"`b` must be a 2-D float32 or float64 array. "
                                         r"Received: format 'i', 2 dimensions"):
        pool.columns(*functions, a, b.astype("int32"), y)
    y.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        pool.columns(*functions, a, b, y)


def test_blas_threads_are_given_back_and_two_callers_share_the_pool():
    a, b = _pair(2, 784, 512)
    with threadpool_limits(2, user_api="blas"):
        results = []

        def predict_many():
            for _ in range(200):
                results.append(few_rows.matmul(a, b))

        callers = [threading.Thread(target=predict_many) for _ in range(2)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join()
        assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"][0] == 2
    # each caller saw BLAS's two threads, never the one another caller held it at
    assert len(results) == 400 and all(y is not None for y in results)
    assert all(numpy.array_equal(y, results[-1]) for y in results)
    assert _close(results[-1], a, b)


def test_one_sample_through_predict_agrees_with_the_batch():
    fcnet.utils.set_random_seed(3)
    model = fcnet.Sequential([fcnet.layers.Input((784,)),
                              fcnet.layers.Dense(512, activation="relu"),
                              fcnet.layers.Dense(512, activation="relu"),
                              fcnet.layers.Dense(10, activation="softmax")])
    x = numpy.random.default_rng(0).random((40, 784), dtype=numpy.float32)
    with threadpool_limits(2, user_api="blas"):
        one = numpy.concatenate([model.predict(x[i:i + 1], verbose=0) for i in range(40)])
        batch = model.predict(x, verbose=0)
    numpy.testing.assert_allclose(one, batch, rtol=1e-5, atol=1e-7)


def test_a_threaded_blas_call_inside_a_part_runs_on_threads_of_its_own():
    """Were BLAS left at two threads inside the parts (another thread of the program
    setting it meanwhile), its threaded products would wait for the pool's threads, which
    are taken: they run on threads made for them instead (in a child process, so that a
    hang fails the test rather than the run)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import ctypes, numpy
        from threadpoolctl import threadpool_info, threadpool_limits
        from fcnet import _pool
        from fcnet.backend import blas, few_rows
        assert few_rows.ready()
        keep = ctypes.CFUNCTYPE(None, ctypes.c_int)(lambda threads: None)  # sets nothing
        gemm, _, get = blas.addresses("f")
        rng = numpy.random.default_rng(0)
        a, b = rng.normal(size=(16, 1024)), rng.normal(size=(1024, 1024))
        a, b = a.astype("float32"), b.astype("float32")
        y = numpy.empty((16, 1024), "float32")
        with threadpool_limits(2, user_api="blas"):
            for _ in range(20):
                assert _pool.columns(gemm, ctypes.cast(keep, ctypes.c_void_p).value, get,
                                     a, b, y)
        print(float(numpy.abs(y - a @ b).max()))
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert float(done.stdout) < 1e-3
