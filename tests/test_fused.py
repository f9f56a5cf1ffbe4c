"""fcnet._fused: the compiled updates give the NumPy rules' bits; hyperparameters changed
during ``fit`` take effect on both paths; fits in two threads do not disturb each other."""

import math
import threading

import numpy as np
import pytest

import fcnet
from fcnet import optimizers
from fcnet.optimizers import fused

needs_fused = pytest.mark.skipif(
    fused.kernels is None,
    reason="fcnet._fused is not built (no C compiler or Python headers at install)")



# ---- the compiled kernels against the NumPy rules -----------------------------------------

SIZE = 1031  # not a multiple of the SIMD width: the loops' scalar tails run too
SLICES = [(0, 700), (700, 720), (720, 1020), (1020, 1031)]
NAMES = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]

CASES = {
    "adam": lambda: optimizers.Adam(learning_rate=0.01),
    "adam_amsgrad": lambda: optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "adam_weight_decay": lambda: optimizers.Adam(learning_rate=0.01, weight_decay=0.1),
    "adam_amsgrad_weight_decay": lambda: optimizers.Adam(
        learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-3, amsgrad=True,
        weight_decay=0.1),
    "adamw": lambda: optimizers.AdamW(learning_rate=0.01, weight_decay=0.05),
    "adam_clipnorm_ema": lambda: optimizers.Adam(learning_rate=0.01, clipnorm=0.5,
                                                 use_ema=True, weight_decay=0.1),
    "sgd": lambda: optimizers.SGD(learning_rate=0.1),
    "sgd_weight_decay": lambda: optimizers.SGD(learning_rate=0.1, weight_decay=0.05),
    "sgd_momentum": lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True,
                                           weight_decay=0.01),
    "rmsprop": lambda: optimizers.RMSprop(learning_rate=0.01),
    "rmsprop_centered": lambda: optimizers.RMSprop(learning_rate=0.01, rho=0.8, centered=True),
    "rmsprop_momentum": lambda: optimizers.RMSprop(learning_rate=0.01, momentum=0.5,
                                                   weight_decay=0.02),
    "rmsprop_centered_momentum": lambda: optimizers.RMSprop(
        learning_rate=0.01, centered=True, momentum=0.7, epsilon=1e-4),
}


def _retune(opt):
    """What a callback might do between two steps: new rate, betas, decay, momentum."""
    opt.learning_rate = opt.learning_rate / 2
    if opt.weight_decay is not None:
        opt.weight_decay = opt.weight_decay * 3
    for name in ("beta_1", "beta_2", "rho", "epsilon"):
        if hasattr(opt, name):
            setattr(opt, name, getattr(opt, name) * 0.9)
    if getattr(opt, "momentum", 0):
        opt.momentum = opt.momentum / 2


def _steps(opt, exclude, steps=7, size=SIZE, slices=SLICES, names=NAMES):
    rng = np.random.default_rng(0)
    params = rng.standard_normal(size).astype(np.float32)
    if exclude:
        opt.exclude_from_weight_decay(var_names=exclude)
    opt.build(params, slices, names=names[:len(slices)])
    for step in range(steps):
        grads = (rng.standard_normal(size) * 10.0 ** rng.integers(-5, 2)).astype(np.float32)
        grads[::97] = 0  # zero gradients: m/(√v + ε) with v → 0
        if step == 4:
            _retune(opt)
        opt.apply(grads)
    return params, [np.array(v) for v in opt.variables]


def _must_not_run(*args):
    raise AssertionError("the NumPy rule ran where the compiled kernel should have")


def _compare(case, exclude, monkeypatch, **kwargs):
    compiled = CASES[case]()
    compiled._update = _must_not_run  # the fused pass must do the whole step
    p_compiled, vars_compiled = _steps(compiled, exclude, **kwargs)
    assert compiled._kernels is fused.kernels
    monkeypatch.setenv("FCNET_FUSED", "0")
    reference = CASES[case]()
    p_numpy, vars_numpy = _steps(reference, exclude, **kwargs)
    assert reference._kernels is None
    np.testing.assert_array_equal(p_compiled, p_numpy)
    assert len(vars_compiled) == len(vars_numpy)
    for i, (a, b) in enumerate(zip(vars_compiled, vars_numpy, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"variable {i}")


@needs_fused
@pytest.mark.parametrize("exclude", [None, ["bias"], ["dense"]], ids=["all", "nobias", "none"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_update_gives_the_numpy_bits(case, exclude, monkeypatch):
    # Same float32 operations in the same order: the same bits, decay ranges included,
    # and hyperparameters changed after step 4 are read by both paths.
    _compare(case, exclude, monkeypatch)


@needs_fused
@pytest.mark.parametrize("case", ["adam_amsgrad_weight_decay", "sgd_nesterov",
                                  "rmsprop_centered_momentum"])
def test_compiled_update_on_a_one_parameter_model(case, monkeypatch):
    _compare(case, None, monkeypatch, size=1, slices=[(0, 1)])  # the padded working copies


def test_which_rules_are_compiled(update_path):
    class OwnRule(optimizers.Adam):  # a user's rule is never replaced by Adam's kernel
        def _update(self, g, lr, t):
            super()._update(g, lr, t)

    expected = fused.kernels if update_path == "compiled" else None
    for opt, has_kernel in [(optimizers.Adam(), True), (optimizers.AdamW(), True),
                            (optimizers.SGD(), True), (optimizers.RMSprop(), True),
                            (optimizers.Nadam(), False), (optimizers.Adagrad(), False),
                            (optimizers.Adamax(), False), (OwnRule(), False)]:
        opt.build(np.zeros(4, np.float32), [(0, 4)])
        assert opt._kernels is (expected if has_kernel else None), type(opt).__name__
        opt.build(np.zeros(4, np.float64), [(0, 4)])
        assert opt._kernels is None  # float64 buffers step on NumPy


def test_fcnet_fused_0_selects_numpy_with_keras_numbers(monkeypatch):
    # The hand-worked, Keras-checked first Adam step (tests/test_optimizers.py), on NumPy.
    monkeypatch.setenv("FCNET_FUSED", "0")
    params = np.zeros(2, dtype=np.float32)
    opt = optimizers.Adam()
    opt.build(params, [(0, 2)])
    assert opt._kernels is None
    calls = []
    opt._update = lambda *args: calls.append(1) or optimizers.Adam._update(opt, *args)
    opt.apply(np.array([0.5, -2.0], dtype=np.float32))
    assert calls == [1]
    np.testing.assert_allclose(params, [-0.000999986991, 0.000999991734], rtol=1e-6)


@needs_fused
def test_kernels_check_their_buffers():
    adam = fused.kernels.adam
    p, g, m, v = (np.zeros(8, np.float32) for _ in range(4))
    k = (0.1, 0.001, 1e-7, 0.001)
    adam(p, g, m, v, None, *k, None, None)
    with pytest.raises(TypeError, match="`g` must be a float32"):
        adam(p, g.astype(np.float64), m, v, None, *k, None, None)
    with pytest.raises(TypeError, match="`p` must be a float32 buffer. Received: list"):
        adam([0.0] * 8, g, m, v, None, *k, None, None)
    with pytest.raises(ValueError, match="`m` must have 8 elements"):
        adam(p, g, np.zeros(9, np.float32), v, None, *k, None, None)
    with pytest.raises(ValueError, match="C-contiguous"):
        adam(p, np.zeros(16, np.float32)[::2], m, v, None, *k, None, None)
    read_only = np.zeros(8, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="`v_hat` must be a writable"):
        adam(p, g, m, v, read_only, *k, None, None)
    adam(p, read_only, m, v, None, *k, None, None)  # the gradient is only read
    with pytest.raises(ValueError, match="`m` overlaps"):
        adam(p, g, p, v, None, *k, None, None)
    for spans in ([(4, 8), (0, 2)], [(0, 9)], [(3, 2)], [(0,)], 5):
        with pytest.raises((ValueError, TypeError), match="decay_spans"):
            adam(p, g, m, v, None, *k, 0.1, spans)
    with pytest.raises(TypeError):
        fused.kernels.sgd(p, g, None, "fast", 0.0, False, None, None)


@needs_fused
def test_kernels_in_two_threads_at_once():
    # No global state: two threads stepping two buffers give the sequential results.
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(50_000).astype(np.float32) for _ in range(2)]

    def run(i, out):
        p, m, v, v_hat = (np.zeros(50_000, np.float32) for _ in range(4))
        for t in range(1, 41):
            fused.kernels.adam(p, grads[i], m, v, v_hat, 0.1, 0.001, 1e-7, 0.01 / t,
                               0.004, [(0, 20_000)])
        out[i] = p

    alone, together = {}, {}
    for i in range(2):
        run(i, alone)
    threads = [threading.Thread(target=run, args=(i, together)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(2):
        np.testing.assert_array_equal(together[i], alone[i])


# ---- hyperparameters changed by a callback during fit ----------------------------------


class Retune(fcnet.callbacks.Callback):
    """Sets the optimizer's attributes from ``plan(epoch, step)`` as training goes."""

    def __init__(self, plan):
        super().__init__()
        self.plan, self.epoch, self.step = plan, 0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.model.optimizer.learning_rate = self.plan(epoch, self.step)["learning_rate"]

    def on_train_batch_begin(self, batch, logs=None):
        for name, value in self.plan(self.epoch, self.step).items():
            if name != "learning_rate":
                setattr(self.model.optimizer, name, value)
        self.step += 1


def _plan(epoch, step):
    return {"learning_rate": 0.01 if epoch == 0 else 0.003,
            "beta_1": 0.9 if step < 4 else 0.5,
            "momentum": 0.9 if step < 4 else 0.3,
            "weight_decay": None if step < 5 else 0.05}


def _unchanged(epoch, step):
    return _plan(0, 0)


def _f32(x):
    return float(np.float32(x))


def _pow32(base, t):
    return _f32(_f32(base) ** t)


def _by_hand(kind, p, grads, plan, steps_per_epoch):
    """The update rules written out in NumPy, with ``plan``'s values at each step."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    for step, g in enumerate(grads):
        c = plan(step // steps_per_epoch, step)
        lr = _f32(c["learning_rate"])
        if c["weight_decay"] is not None:
            p = p - p * np.float32(c["weight_decay"] * lr)
        if kind == "adam":
            t = step + 1
            m = m + (g - m) * np.float32(1 - c["beta_1"])
            v = v + (g * g - v) * np.float32(1 - 0.999)
            alpha = lr * math.sqrt(1 - _pow32(0.999, t)) / (1 - _pow32(c["beta_1"], t))
            p = p - m / (np.sqrt(v) + np.float32(1e-7)) * np.float32(alpha)
        else:
            mu, lr_g = np.float32(c["momentum"]), g * np.float32(lr)
            m = m * mu - lr_g
            p = p + (m * mu - lr_g if kind == "nesterov" else m)
    return p


def _recording(cls):
    """``cls`` whose ``apply`` keeps a copy of every gradient buffer it is given."""
    def apply(self, grads):
        self.seen.append(np.array(grads))
        cls.apply(self, grads)
    return type(f"Recording{cls.__name__}", (cls,), {"seen": None, "apply": apply})


def _flat(arrays):
    return np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays])


@pytest.mark.parametrize("kind", ["adam", "sgd", "nesterov"])
def test_a_callback_retunes_the_optimizer_mid_training(kind, update_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((48, 6)).astype(np.float32)
    y = rng.integers(0, 3, 48)
    if kind == "adam":
        opt = _recording(optimizers.Adam)(learning_rate=0.01)
    else:
        opt = _recording(optimizers.SGD)(learning_rate=0.01, momentum=0.9,
                                         nesterov=kind == "nesterov")
    opt.seen = []
    model = fcnet.Sequential([fcnet.Input(shape=(6,)),
                              fcnet.layers.Dense(8, activation="tanh"),
                              fcnet.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
    start = _flat(model.get_weights())
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
              callbacks=[Retune(_plan)])
    assert model.optimizer._kernels is (fused.kernels if update_path == "compiled" else None)
    assert len(opt.seen) == 9
    expected = _by_hand(kind, start, opt.seen, _plan, steps_per_epoch=3)
    np.testing.assert_allclose(_flat(model.get_weights()), expected, rtol=1e-6, atol=1e-7)
    ignored = _by_hand(kind, start, opt.seen, _unchanged, steps_per_epoch=3)
    assert not np.allclose(expected, ignored, rtol=1e-4, atol=1e-6)  # the changes matter


# ---- two fits in two threads -------------------------------------------------------------


def _mlp(optimizer):
    model = fcnet.Sequential([fcnet.Input(shape=(784,)),
                              fcnet.layers.Dense(512, activation="relu"),
                              fcnet.layers.Dense(512, activation="relu"),
                              fcnet.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def test_two_fits_in_two_threads_give_the_sequential_weights(update_path):
    rng = np.random.default_rng(5)
    data = [(rng.random((64, 784), dtype=np.float32), rng.integers(0, 10, 64))
            for _ in range(2)]
    makers = [lambda: optimizers.Adam(learning_rate=0.001, amsgrad=True),
              lambda: optimizers.AdamW(learning_rate=0.002, weight_decay=0.01)]
    first = [_mlp(make()) for make in makers]
    start = [model.get_weights() for model in first]

    def fit(model, i):
        model.fit(*data[i], batch_size=16, epochs=2, shuffle=False, verbose=0)

    for i, model in enumerate(first):  # one after the other
        fit(model, i)
    second = [_mlp(make()) for make in makers]
    for model, weights in zip(second, start, strict=True):
        model.set_weights(weights)
    barrier, errors = threading.Barrier(2), []

    def fit_in_thread(i):
        try:
            barrier.wait()
            fit(second[i], i)
        except BaseException as error:  # noqa: BLE001 -- reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=fit_in_thread, args=(i,), daemon=True)
               for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a fit hung"
    assert errors == []
    for a, b in zip(first, second, strict=True):
        assert a.optimizer._kernels is b.optimizer._kernels
        for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_array_equal(wa, wb)


@needs_fused
@pytest.mark.skipif(__import__("platform").machine() not in ("x86_64", "AMD64"),
                    reason="the kernels flush subnormal numbers on x86-64 only")
def test_subnormal_slots_are_flushed_to_zero():
    """Adam's m for a weight whose gradient stays 0 decays by β₁ per step into subnormal
    numbers after about a thousand steps, where each operation costs 10-100 times more
    (a model's second epoch ran 7x slower). The kernel flushes them to zero, as XLA
    does; a normal number is updated as the NumPy rule updates it."""
    tiny = np.float32(1e-39)  # subnormal: below float32's smallest normal, 1.18e-38
    assert 0 < tiny < np.finfo(np.float32).tiny
    opt = optimizers.Adam(learning_rate=0.001)
    params = np.ones(4, np.float32)
    opt.build(params, [(0, 4)])
    assert opt._kernels is fused.kernels
    opt._slots["momentum"][:] = [tiny, 1e-3, tiny, 0]
    opt._slots["velocity"][:] = [tiny, 1e-6, 0, tiny]
    opt.apply(np.zeros(4, np.float32))
    m, v = opt._slots["momentum"], opt._slots["velocity"]
    assert m[0] == 0 and m[2] == 0 and v[0] == 0 and v[3] == 0
    assert m[1] == np.float32(np.float32(1e-3) + (np.float32(0) - np.float32(1e-3))
                              * np.float32(0.1))
