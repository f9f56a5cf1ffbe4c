"""Learning-rate schedules: values against Keras 3, config, and use inside an optimizer."""

import numpy as np
import pytest

from fcnet import optimizers
from fcnet.optimizers import schedules

# keras.Variable.numpy() trips NumPy 2's __array__(copy=) deprecation inside Keras itself
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

STEPS = [0, 1, 2, 5, 9, 10, 11, 37, 99, 100, 101, 250, 1000, 5000]

# One factory per case, given the schedules module of either library.
CASES = {
    "exponential": lambda s: s.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9),
    "exponential_staircase": lambda s: s.ExponentialDecay(
        0.1, decay_steps=10, decay_rate=0.5, staircase=True),
    "piecewise": lambda s: s.PiecewiseConstantDecay([10, 100], [1.0, 0.5, 0.1]),
    "polynomial": lambda s: s.PolynomialDecay(0.1, decay_steps=100),
    "polynomial_power_cycle": lambda s: s.PolynomialDecay(
        0.1, decay_steps=100, end_learning_rate=0.01, power=0.5, cycle=True),
    "inverse_time": lambda s: s.InverseTimeDecay(0.1, decay_steps=10, decay_rate=0.5),
    "inverse_time_staircase": lambda s: s.InverseTimeDecay(
        0.1, decay_steps=10, decay_rate=0.5, staircase=True),
    "cosine": lambda s: s.CosineDecay(0.1, decay_steps=100),
    "cosine_alpha": lambda s: s.CosineDecay(0.1, decay_steps=100, alpha=0.1),
    "cosine_warmup": lambda s: s.CosineDecay(
        0.0, decay_steps=100, warmup_target=0.2, warmup_steps=10),
    "cosine_warmup_from_nonzero": lambda s: s.CosineDecay(
        0.01, decay_steps=50, alpha=0.05, warmup_target=0.1, warmup_steps=20),
    "cosine_restarts": lambda s: s.CosineDecayRestarts(0.1, first_decay_steps=20),
    "cosine_restarts_mul": lambda s: s.CosineDecayRestarts(
        0.1, first_decay_steps=15, t_mul=1.0, m_mul=0.8, alpha=0.1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_match_keras(keras, case):
    k_schedule = CASES[case](keras.optimizers.schedules)
    f_schedule = CASES[case](schedules)
    # Keras computes in float32, so where a cosine nears zero its value carries a few
    # float32 ulps of the peak rate (fcnet's maths is float64, rounded at the end).
    for step in STEPS:
        expected = float(np.asarray(k_schedule(step)))
        np.testing.assert_allclose(f_schedule(step), expected, rtol=1e-6, atol=5e-8,
                                   err_msg=f"step {step}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_matches_keras(keras, case):
    k_schedule = CASES[case](keras.optimizers.schedules)
    f_schedule = CASES[case](schedules)
    assert f_schedule.get_config() == k_schedule.get_config()
    assert list(f_schedule.get_config()) == list(k_schedule.get_config())
    assert schedules.serialize(f_schedule) == keras.optimizers.schedules.serialize(k_schedule)


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(case):
    schedule = CASES[case](schedules)
    clone = schedules.deserialize(schedules.serialize(schedule))
    assert type(clone) is type(schedule)
    assert clone.get_config() == schedule.get_config()
    assert [clone(s) for s in STEPS] == [schedule(s) for s in STEPS]


def test_hand_values():
    s = schedules.ExponentialDecay(1.0, decay_steps=2, decay_rate=0.25)
    assert s(0) == 1.0 and s(2) == 0.25 and s(4) == 0.0625 and s(1) == 0.5
    p = schedules.PiecewiseConstantDecay([3, 6], [1.0, 0.5, 0.1])
    assert [p(i) for i in (0, 3, 4, 6, 7)] == [1.0, 1.0, 0.5, 0.5, np.float32(0.1)]
    c = schedules.CosineDecay(1.0, decay_steps=4, warmup_target=2.0, warmup_steps=2)
    assert [c(i) for i in (0, 1, 2, 4, 6, 9)] == [1.0, 1.5, 2.0, 1.0, 0.0, 0.0]


def test_array_of_steps():
    s = schedules.InverseTimeDecay(1.0, decay_steps=1, decay_rate=1.0)
    values = s(np.arange(4))
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, [1.0, 0.5, 1 / 3, 0.25], rtol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5])
    with pytest.raises(ValueError, match="Unknown learning rate schedule"):
        schedules.deserialize({"class_name": "Nope", "config": {}})


def test_custom_schedule_subclass():
    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 1.0 / 2**step

    opt = optimizers.SGD(learning_rate=Halving())
    params = np.zeros(1, dtype=np.float32)
    opt.build(params, [(0, 1)])
    for _ in range(3):
        opt.apply(np.ones(1, dtype=np.float32))
    np.testing.assert_allclose(params, [-(1 + 0.5 + 0.25)])
    with pytest.raises(NotImplementedError):
        schedules.LearningRateSchedule().get_config()


def test_optimizer_follows_the_schedule():
    # SGD with g = 1 moves θ by exactly lr each step: the rate used at step k is
    # schedule(k), evaluated before `iterations` is incremented (Keras 3).
    schedule = schedules.PiecewiseConstantDecay([1, 3], [0.5, 0.25, 0.125])
    opt = optimizers.SGD(learning_rate=schedule)
    params = np.zeros(1, dtype=np.float32)
    opt.build(params, [(0, 1)])
    seen = []
    for k in range(5):
        assert opt.learning_rate == schedule(k)
        before = params[0]
        opt.apply(np.ones(1, dtype=np.float32))
        seen.append(float(before - params[0]))
    assert seen == [0.5, 0.5, 0.25, 0.25, 0.125]
    assert len(opt.variables) == 1  # a schedule leaves no learning_rate variable, as Keras


def test_optimizer_schedule_matches_keras(keras):
    rng = np.random.default_rng(7)
    x0 = rng.normal(size=(4,)).astype(np.float32)
    k_var = keras.Variable(x0)
    k_opt = keras.optimizers.Adam(
        learning_rate=keras.optimizers.schedules.CosineDecay(0.05, 4, warmup_target=0.2,
                                                             warmup_steps=3))
    f_opt = optimizers.Adam(learning_rate=schedules.CosineDecay(0.05, 4, warmup_target=0.2,
                                                                warmup_steps=3))
    params = x0.copy()
    f_opt.build(params, [(0, 4)])
    for _ in range(9):
        g = rng.normal(size=(4,)).astype(np.float32)
        k_opt.apply_gradients([(g, k_var)])
        f_opt.apply(g.copy())
        np.testing.assert_allclose(params, k_var.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(f_opt.learning_rate, float(np.asarray(k_opt.learning_rate)),
                                   rtol=1e-6)


# ---- learning rate ----------------------------------------------------------------------


def test_learning_rate_is_settable_and_float32():
    opt = optimizers.SGD(learning_rate=0.1)
    params = np.zeros(1, dtype=np.float32)
    opt.build(params, [(0, 1)])
    opt.learning_rate = 0.5  # what ReduceLROnPlateau / LearningRateScheduler do
    assert opt.learning_rate == 0.5
    opt.apply(np.ones(1, dtype=np.float32))
    np.testing.assert_allclose(params, [-0.5])
    opt.learning_rate = 0.001
    assert opt.learning_rate == 0.0010000000474974513
    assert opt.get_config()["learning_rate"] == 0.0010000000474974513
    assert float(opt.variables[1]) == np.float32(0.001)


def test_learning_rate_with_schedule_is_not_settable():
    opt = optimizers.Adam(learning_rate=optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.1


def test_callable_learning_rate():
    opt = optimizers.SGD(learning_rate=lambda: 0.25)
    params = np.zeros(1, dtype=np.float32)
    opt.build(params, [(0, 1)])
    opt.apply(np.ones(1, dtype=np.float32))
    np.testing.assert_allclose(params, [-0.25])
    assert len(opt.variables) == 1 + 0  # iterations only: no learning_rate variable


def test_tf_keras2_lr_alias_warns():
    with pytest.warns(UserWarning, match="lr"):
        opt = optimizers.SGD(lr=0.3)
    assert opt.learning_rate == np.float32(0.3)
