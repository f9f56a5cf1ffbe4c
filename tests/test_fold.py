"""Plain SGD's step folded into Dense's kernel-gradient product (fcnet/ops/fold.py):
BLAS's accumulating product against NumPy by hand, and training with the fold against the
NumPy reference path (``FCNET_FUSED=0``, which never folds), where it folds and where it
must not (a layer called twice, a regularized kernel, momentum, several threads)."""

import numpy as np
import pytest

import fcnet
from fcnet.backend import blas, blas_threads, thread_team
from fcnet.ops import fold as fold_module
from fcnet.optimizers import fused

needs_blas = pytest.mark.skipif(not blas.available("float32"),
                                reason="NumPy's BLAS exports no ILP64 cblas gemm here")
needs_fold = pytest.mark.skipif(
    fused.kernels is None or not blas.available("float32"),
    reason="the fold needs fcnet._fused and NumPy's BLAS gemm")


def _reference(c, a, b, alpha):
    return (c.astype(np.float64) + alpha * (a.astype(np.float64).T @ b.astype(np.float64)))


@pytest.fixture
def team(monkeypatch):
    made = thread_team.ThreadTeam(3)  # three threads, even on a two-core machine
    monkeypatch.setattr(thread_team, "_TEAM", made)
    return made


# ---- the accumulating product ---------------------------------------------------------

@needs_blas
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_accumulate_adds_the_product_into_c(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((37, 23)).astype(dtype)
    b = rng.standard_normal((37, 19)).astype(dtype)
    c = rng.standard_normal((23, 19)).astype(dtype)
    expected = _reference(c, a, b, -0.25)
    blas.accumulate(c, a, b, -0.25)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(c, expected, rtol=tol, atol=tol)


@needs_blas
def test_accumulate_on_views_touches_only_its_block():
    """Column slices (rows apart by more than their length), a transposed operand (copied)
    and a block of a larger output, which keeps everything outside the block."""
    rng = np.random.default_rng(1)
    wide_a = rng.standard_normal((16, 40)).astype(np.float32)
    a = wide_a[:, 5:25]  # (16, 20), row step 40
    b = np.asfortranarray(rng.standard_normal((16, 7)).astype(np.float32))  # no unit row step
    big = rng.standard_normal((30, 12)).astype(np.float32)
    before = big.copy()
    block = big[4:24, 2:9]
    expected = _reference(block, a, b, 0.5)
    blas.accumulate(block, a, b, 0.5)
    np.testing.assert_allclose(block, expected, rtol=1e-5, atol=1e-5)
    outside = np.ones(big.shape, bool)
    outside[4:24, 2:9] = False
    np.testing.assert_array_equal(big[outside], before[outside])


@needs_blas
def test_accumulate_with_an_empty_batch_leaves_c():
    c = np.ones((3, 4), np.float32)
    blas.accumulate(c, np.zeros((0, 3), np.float32), np.zeros((0, 4), np.float32), -1.0)
    np.testing.assert_array_equal(c, 1.0)


@needs_blas
@pytest.mark.parametrize("shape", [(64, 300, 200), (64, 100, 700)])  # (K, M, N): rows, columns
def test_accumulate_shared_by_the_team_gives_the_whole_product(team, shape):
    k, m, n = shape
    rng = np.random.default_rng(2)
    a = rng.standard_normal((k, m)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = rng.standard_normal((m, n)).astype(np.float32)
    expected = _reference(c, a, b, -0.1)
    whole = c.copy()
    blas.accumulate(whole, a, b, -0.1)
    team.active = True
    assert len(team.bounds(max(m, n))) > 1
    blas.accumulate(c, a, b, -0.1)
    np.testing.assert_allclose(c, whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(c, expected, rtol=1e-5, atol=1e-5)


def test_accumulate_refuses_mismatched_arrays():
    with pytest.raises(ValueError, match=r"c \(M, N\).*float32\(3, 4\).*float64"):
        blas.accumulate(np.zeros((3, 4), np.float32), np.zeros((2, 3), np.float64),
                        np.zeros((2, 4), np.float32), 1.0)


# ---- the optimizer's part -----------------------------------------------------------------

@needs_fold
def test_apply_folded_steps_only_outside_the_stepped_ranges():
    rng = np.random.default_rng(3)
    params = rng.standard_normal(10).astype(np.float32)
    grads = rng.standard_normal(10).astype(np.float32)
    opt = fcnet.optimizers.SGD(learning_rate=0.1)
    opt.build(params, [(0, 4), (4, 6), (6, 10)])
    before = params.copy()
    assert opt.fold_rate() == pytest.approx(0.1)
    opt.apply_folded(grads, [(0, 4), (6, 10)])
    np.testing.assert_array_equal(params[4:6], before[4:6] - grads[4:6] * np.float32(0.1))
    np.testing.assert_array_equal(params[:4], before[:4])
    np.testing.assert_array_equal(params[6:], before[6:])
    assert opt.iterations == 1


# ---- training with the fold ---------------------------------------------------------------

def _fit(monkeypatch, path, build, optimizer, epochs=3):
    """Weights after a fit on ``path`` ("fold": the compiled path; "numpy": the reference),
    and the number of kernel steps taken inside a product."""
    if path == "numpy":
        monkeypatch.setenv("FCNET_FUSED", "0")
    else:
        monkeypatch.delenv("FCNET_FUSED", raising=False)
    folded = []
    original = fold_module.Fold.step

    def step(self, kernel, x, dz):
        folded.append(kernel.path)
        return original(self, kernel, x, dz)

    monkeypatch.setattr(fold_module.Fold, "step", step)
    fcnet.backend.clear_session()
    fcnet.utils.set_random_seed(5)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 12)).astype(np.float32)
    y = rng.standard_normal((96, 3)).astype(np.float32)
    model = build()
    model.compile(optimizer(), "mse")
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model.get_weights(), history.history["loss"], folded


def _mlp():
    return fcnet.Sequential([fcnet.Input((12,)), fcnet.layers.Dense(20, activation="relu"),
                             fcnet.layers.Dense(16, activation="tanh"), fcnet.layers.Dense(3)])


def _assert_same_training(a, b):
    for wa, wb in zip(a[0], b[0]):
        np.testing.assert_allclose(wa, wb, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(a[1], b[1], rtol=2e-5)


@needs_fold
@pytest.mark.parametrize("rate", [0.05, "schedule"])
def test_sgd_folded_into_the_products_trains_as_the_reference(monkeypatch, rate):
    def optimizer():
        lr = rate if rate != "schedule" else fcnet.optimizers.schedules.ExponentialDecay(
            0.1, decay_steps=4, decay_rate=0.5)
        return fcnet.optimizers.SGD(learning_rate=lr)

    folded = _fit(monkeypatch, "fold", _mlp, optimizer)
    reference = _fit(monkeypatch, "numpy", _mlp, optimizer)
    assert reference[2] == []
    assert len(folded[2]) == 3 * 6 * 3  # every kernel, every step (6 a epoch), 3 epochs
    _assert_same_training(folded, reference)


@needs_fold
def test_a_dense_on_sequences_folds_over_every_leading_axis(monkeypatch):
    def build():
        return fcnet.Sequential([fcnet.Input((12,)), fcnet.layers.Reshape((3, 4)),
                                 fcnet.layers.Dense(6, activation="relu"),
                                 fcnet.layers.Flatten(), fcnet.layers.Dense(3)])

    folded = _fit(monkeypatch, "fold", build, lambda: fcnet.optimizers.SGD(0.05))
    reference = _fit(monkeypatch, "numpy", build, lambda: fcnet.optimizers.SGD(0.05))
    assert len(folded[2]) == 2 * 6 * 3
    _assert_same_training(folded, reference)


@needs_fold
def test_a_layer_called_twice_and_a_regularized_kernel_do_not_fold(monkeypatch):
    def build():
        inputs = fcnet.Input((12,))
        shared = fcnet.layers.Dense(12, activation="relu", name="shared")
        h = shared(shared(inputs))  # its kernel is read by both calls' backward
        h = fcnet.layers.Dense(8, kernel_regularizer="l2", name="penalised")(h)
        outputs = fcnet.layers.Dense(3, name="last")(h)
        return fcnet.Model(inputs, outputs)

    folded = _fit(monkeypatch, "fold", build, lambda: fcnet.optimizers.SGD(0.05))
    reference = _fit(monkeypatch, "numpy", build, lambda: fcnet.optimizers.SGD(0.05))
    assert set(folded[2]) == {"last/kernel"}
    _assert_same_training(folded, reference)


@needs_fold
@pytest.mark.parametrize("options", [{"momentum": 0.9}, {"weight_decay": 0.01},
                                     {"clipnorm": 1.0}, {"use_ema": True}])
def test_sgd_with_more_than_its_plain_step_does_not_fold(monkeypatch, options):
    folded = _fit(monkeypatch, "fold", _mlp,
                  lambda: fcnet.optimizers.SGD(0.05, **options), epochs=1)
    assert folded[2] == []


@needs_fold
def test_the_fold_shared_by_the_team_trains_as_the_reference(monkeypatch):
    class Off(blas_threads.ThreadGovernor):
        def __init__(self):
            super().__init__()
            self.active = False

    monkeypatch.setattr(blas_threads, "_SHARED", Off())
    team = thread_team.ThreadTeam(2)
    monkeypatch.setattr(thread_team, "_TEAM", team)
    monkeypatch.setattr(thread_team, "MIN_WORK", 1)  # the small products split too
    monkeypatch.setattr(thread_team, "MIN_ROWS", 4)
    calls = []
    original = team.run
    monkeypatch.setattr(team, "run", lambda tasks: (calls.append(len(tasks)), original(tasks)))
    team.active = True
    folded = _fit(monkeypatch, "fold", _mlp, lambda: fcnet.optimizers.SGD(0.05))
    team.active = False
    reference = _fit(monkeypatch, "numpy", _mlp, lambda: fcnet.optimizers.SGD(0.05))
    assert len(folded[2]) == 54 and max(calls) > 1  # folded, and the team split products
    _assert_same_training(folded, reference)
