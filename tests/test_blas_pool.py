"""fcnet._pool: the threads the compiled loops are cut over and OpenBLAS runs on.

A loop cut into parts gives the one-part loop's bits (sums over rows too); BLAS's
products on the pool give OpenBLAS's own; the pool survives many dispatches from two
Python threads, waits long enough for its threads to sleep, and a fork; training gives
the same weights with the pool and without it. No timing is asserted."""

import os
import subprocess
import sys
import textwrap

import numpy
import pytest

from fcnet.ops import compiled

pool = pytest.importorskip("fcnet._pool", reason="fcnet._pool is not built")
needs_kernels = pytest.mark.skipif(
    compiled.kernels is None or not compiled.enabled(),
    reason="fcnet._conv / fcnet._fused are not built (no C compiler at install)")


@pytest.fixture
def parts():
    """Sets the part count for a test (every loop cut, however small), then restores it."""
    old = pool.set_parts(1)

    def set_parts(count):
        pool.set_parts(count, 1)

    yield set_parts
    pool.set_parts(old)


def _in_parts(parts, run):
    """``run()``'s results in 1, 2 and 3 parts (fresh outputs each time)."""
    found = []
    for count in (1, 2, 3):
        parts(count)
        found.append(run())
    return found


def _assert_same(found):
    for other in found[1:]:
        for a, b in zip(found[0], other):
            numpy.testing.assert_array_equal(a, b)


@needs_kernels
def test_pooling_col2im_and_relu_forwards_in_parts_are_the_one_part_bits(parts):
    from fcnet.ops import conv

    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((7, 10, 10, 5), dtype=numpy.float32)
    _assert_same(_in_parts(parts, lambda: compiled.max_pool_forward(x, (5, 5), (2, 2),
                                                                    (2, 2))))
    y, arg = compiled.max_pool_forward(x, (5, 5), (2, 2), (2, 2))
    dy = rng.standard_normal(y.shape, dtype=numpy.float32)
    _assert_same(_in_parts(parts, lambda: (compiled.max_pool_backward(
        dy, arg, x.shape, (2, 2), (2, 2)),)))
    geometry = conv.Geometry.of_conv((10, 10), (3, 3), (1, 1), (1, 1), "valid")
    dcols = rng.standard_normal((1, 7 * 64, 9 * 5), dtype=numpy.float32)
    _assert_same(_in_parts(parts, lambda: (compiled.col2im(dcols, geometry, 7, 5),)))
    z = rng.standard_normal((37, 24), dtype=numpy.float32)
    bias = rng.standard_normal(24, dtype=numpy.float32)
    _assert_same(_in_parts(parts, lambda: (compiled.bias_relu(z.copy(), bias),)))
    cols_t = rng.standard_normal((9, 301), dtype=numpy.float32)
    kernel = rng.standard_normal((3, 3, 1, 16), dtype=numpy.float32)
    _assert_same(_in_parts(parts, lambda: (compiled.conv_bias_relu(cols_t, kernel,
                                                                   bias[:16]),)))


@needs_kernels
@pytest.mark.parametrize("rows", [5, 300, 5000])
def test_relu_backward_sums_in_parts_are_the_one_part_bits(parts, rows):
    """The bias and kernel gradients are summed in blocks of rows fixed by the shapes
    alone, so any number of threads gives the same bits; and they agree with a sum in
    double by NumPy to float32 rounding."""
    rng = numpy.random.default_rng(2)
    dy = rng.standard_normal((rows, 24), dtype=numpy.float32)
    y = numpy.maximum(rng.standard_normal((rows, 24), dtype=numpy.float32), 0)
    cols_t = rng.standard_normal((9, rows), dtype=numpy.float32)

    def bias():
        db = numpy.zeros(24, numpy.float32)
        return compiled.relu_backward_bias(dy, y, db, False), db

    def conv_sums(need_dz):
        def run():
            dkernel, db = numpy.zeros((9, 24), numpy.float32), numpy.zeros(24, numpy.float32)
            dz, = compiled.relu_backward_conv(dy, y, cols_t, dkernel, db, False, need_dz)
            return (dkernel, db) + ((dz,) if need_dz else ())
        return run

    found = _in_parts(parts, bias)
    _assert_same(found)
    dz = dy * (y > 0)
    numpy.testing.assert_array_equal(found[0][0], dz)
    numpy.testing.assert_allclose(found[0][1], dz.astype(numpy.float64).sum(0), rtol=1e-6,
                                  atol=1e-6)
    for need_dz in (True, False):
        found = _in_parts(parts, conv_sums(need_dz))
        _assert_same(found)
        numpy.testing.assert_allclose(found[0][0], cols_t.astype(numpy.float64) @ dz,
                                      rtol=1e-5, atol=1e-5)


@needs_kernels
@pytest.mark.parametrize("name", ["adam", "amsgrad", "sgd", "rmsprop"])
def test_optimizer_updates_in_parts_are_the_one_part_bits(parts, name):
    """Every rule, with weight decay on two spans that the parts cut through."""
    import fcnet

    make = {"adam": lambda: fcnet.optimizers.Adam(0.01, weight_decay=0.1),
            "amsgrad": lambda: fcnet.optimizers.Adam(0.01, amsgrad=True, weight_decay=0.1),
            "sgd": lambda: fcnet.optimizers.SGD(0.01, momentum=0.9, weight_decay=0.1),
            "rmsprop": lambda: fcnet.optimizers.RMSprop(0.01, momentum=0.5,
                                                        weight_decay=0.1)}[name]

    def run():
        model = fcnet.Sequential([fcnet.Input((37,)), fcnet.layers.Dense(29),
                                  fcnet.layers.Dense(3)])
        model.compile(optimizer=make(), loss="mse")
        rng = numpy.random.default_rng(1)
        model.set_weights([rng.standard_normal(w.shape).astype(numpy.float32)
                           for w in model.get_weights()])
        x = rng.standard_normal((64, 37), dtype=numpy.float32)
        y = rng.standard_normal((64, 3), dtype=numpy.float32)
        for _ in range(3):
            model.train_on_batch(x, y)
        return model.get_weights()

    _assert_same(_in_parts(parts, run))


def _python(code, env=None, timeout=180):
    """Runs ``code`` in a fresh interpreter with the pool installed (skips where it may
    not be: not OpenBLAS 0.3.28+, or one core); its stdout."""
    prelude = textwrap.dedent("""
        import sys
        from fcnet.backend import blas_pool, blas_threads
        if blas_threads.governor().threads < 2 or not blas_pool.install():
            print("SKIP"); sys.exit(0)
        blas_pool.set_threads(2)
    """)
    done = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-2000:]
    if done.stdout.startswith("SKIP"):
        pytest.skip("BLAS cannot run on fcnet's threads here")
    return done.stdout


@needs_kernels
def test_many_dispatches_from_two_threads_with_pauses_finish_and_agree():
    """Two Python threads share the pool: products (OpenBLAS's jobs on it) and cut loops,
    with pauses longer than the threads' spin, so they block and are woken again; every
    product equals OpenBLAS's own (computed before the pool was installed)."""
    out = _python("""
        import threading, time
        import numpy
        from fcnet import _pool
        from fcnet.ops import compiled
        rng = numpy.random.default_rng(0)
        a = rng.standard_normal((96, 300), dtype=numpy.float32)
        b = rng.standard_normal((300, 200), dtype=numpy.float32)
        x = rng.standard_normal((8, 6, 6, 3), dtype=numpy.float32)
        blas_pool._installed = None  # products before the pool, on OpenBLAS's threads
        expected = a @ b
        assert blas_pool.install()
        _pool.set_parts(2, 1)
        pooled = compiled.max_pool_forward(x, (3, 3), (2, 2), (2, 2))[0]
        failures = []

        def work(pauses):
            for i in range(3000):
                if not numpy.array_equal(a @ b, expected):
                    failures.append("product")
                y = compiled.max_pool_forward(x, (3, 3), (2, 2), (2, 2))[0]
                if not numpy.array_equal(y, pooled):
                    failures.append("pool")
                if pauses and i % 100 == 0:
                    time.sleep(0.002)

        threads = [threading.Thread(target=work, args=(p,)) for p in (False, True)]
        for t in threads: t.start()
        for t in threads: t.join()
        print("failures", len(failures))
    """)
    assert out.split() == ["failures", "0"]


@needs_kernels
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_makes_its_own_threads():
    """A child forked after the pool ran makes threads of its own and gets OpenBLAS's
    products. (Forking while another thread is inside a product hangs OpenBLAS on its own
    threads too, so that is not asked of the pool.)"""
    out = _python("""
        import os
        import numpy
        a = numpy.ones((200, 300), numpy.float32)
        before = a @ a.T  # the pool's threads exist now
        codes = []
        for _ in range(5):
            pid = os.fork()
            if pid == 0:
                ok = all(numpy.array_equal(a @ a.T, before) for _ in range(5))
                os._exit(0 if ok else 3)
            codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        print("children", *sorted(set(codes)))
    """, timeout=60)
    assert out.split() == ["children", "0"]


TRAIN = """
import sys
import numpy, fcnet
from fcnet.backend import blas_pool
fcnet.utils.set_random_seed(0)
model = fcnet.Sequential([
    fcnet.Input((14, 14, 1)),
    fcnet.layers.Conv2D(16, 3, activation="relu"), fcnet.layers.MaxPooling2D(2),
    fcnet.layers.Conv2D(24, 3, activation="relu"), fcnet.layers.Flatten(),
    fcnet.layers.Dense(64, activation="relu"), fcnet.layers.Dense(10)])
model.compile(optimizer="adam",
              loss=fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
rng = numpy.random.default_rng(0)
x = rng.random((256, 14, 14, 1), dtype=numpy.float32)
y = rng.integers(0, 10, 256)
model.fit(x, y, batch_size=64, epochs=2, verbose=0, shuffle=False)
numpy.savez(sys.argv[1], *model.get_weights())
print("pool" if blas_pool.installed() else "own")
"""


@needs_kernels
def test_training_gives_the_same_weights_with_and_without_the_pool(tmp_path):
    """The same CNN trained with BLAS and the loops on the pool (fit installs it), and on
    OpenBLAS's own threads with the loops whole (``FCNET_BLAS_POOL=0``): the same bits."""
    weights, modes = {}, {}
    for flag in ("1", "0"):
        out = tmp_path / f"pool{flag}.npz"
        done = subprocess.run([sys.executable, "-c", TRAIN, str(out)], capture_output=True,
                              text=True, timeout=180,
                              env={**os.environ, "FCNET_BLAS_POOL": flag})
        assert done.returncode == 0, done.stderr[-2000:]
        weights[flag], modes[flag] = numpy.load(out), done.stdout.split()[-1]
    assert modes["0"] == "own"
    if modes["1"] != "pool":
        pytest.skip("BLAS cannot run on fcnet's threads here")
    for key in weights["0"].files:
        numpy.testing.assert_array_equal(weights["1"][key], weights["0"][key])
