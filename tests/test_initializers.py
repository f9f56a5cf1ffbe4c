"""Initializers: shapes, dtypes, statistics, seeding, configs and lookup."""

import math

import numpy as np
import pytest

from fcnet import backend, initializers

ALL = ["Zeros", "Ones", "Constant", "Identity", "RandomNormal", "RandomUniform", "TruncatedNormal",
       "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
       "LecunUniform", "Orthogonal"]
RANDOM = [n for n in ALL if n not in ("Zeros", "Ones", "Constant", "Identity")]


@pytest.mark.parametrize("name", ALL)
def test_shape_and_default_dtype(name):
    w = getattr(initializers, name)()((6, 4))
    assert isinstance(w, backend.xp.ndarray)
    assert w.shape == (6, 4) and w.dtype == np.float32
    w64 = getattr(initializers, name)()((6, 4), dtype="float64")
    assert w64.dtype == np.float64


def test_floatx_is_the_default_dtype():
    backend.set_floatx("float64")
    try:
        assert initializers.GlorotUniform()((3, 2)).dtype == np.float64
    finally:
        backend.set_floatx("float32")


def test_glorot_uniform_dense_kernel_statistics():
    w = initializers.get("glorot_uniform")((784, 512))
    limit = math.sqrt(6 / (784 + 512))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit
    assert abs(float(w.mean())) < 1e-3
    assert float(w.std()) == pytest.approx(limit / math.sqrt(3), rel=0.01)


@pytest.mark.parametrize(
    "name, stddev, bound",
    [
        ("GlorotNormal", math.sqrt(2 / (400 + 300)), None),
        ("HeNormal", math.sqrt(2 / 400), None),
        ("LecunNormal", math.sqrt(1 / 400), None),
        ("HeUniform", math.sqrt(2 / 400), math.sqrt(6 / 400)),
        ("LecunUniform", math.sqrt(1 / 400), math.sqrt(3 / 400)),
    ],
)
def test_variance_scaling_presets(name, stddev, bound):
    w = getattr(initializers, name)()((400, 300))
    assert float(w.std()) == pytest.approx(stddev, rel=0.02)
    if bound is None:  # truncated at two (uncorrected) standard deviations
        assert np.abs(w).max() <= 2 * stddev / 0.87962566103423978 + 1e-7
    else:
        assert np.abs(w).max() <= bound


def test_variance_scaling_modes_and_distributions():
    w = initializers.VarianceScaling(scale=3.0, mode="fan_out", distribution="untruncated_normal")(
        (200, 500))
    assert float(w.std()) == pytest.approx(math.sqrt(3.0 / 500), rel=0.02)
    assert np.abs(w).max() > 3 * math.sqrt(3.0 / 500)  # not truncated
    w = initializers.VarianceScaling(mode="fan_avg", distribution="uniform")((300, 500))
    assert np.abs(w).max() <= math.sqrt(3.0 / 400)
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"


def test_compute_fans():
    assert initializers.compute_fans((7,)) == (7, 7)
    assert initializers.compute_fans((4, 10)) == (4, 10)
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert initializers.compute_fans(()) == (1, 1)
    assert initializers.compute_fans((2, 3, 5), input_axes=(0, 1), output_axes=(2,)) == (6, 5)


def test_conv_kernel_uses_receptive_field():
    w = initializers.GlorotUniform(seed=3)((3, 3, 16, 32))
    assert np.abs(w).max() <= math.sqrt(6 / (144 + 288))
    assert np.abs(w).max() > 0.95 * math.sqrt(6 / (144 + 288))


@pytest.mark.parametrize(
    "init, lo, hi, mean, std",
    [
        (initializers.RandomUniform(), -0.05, 0.05, 0.0, 0.1 / math.sqrt(12)),
        (initializers.RandomUniform(minval=1.0, maxval=3.0), 1.0, 3.0, 2.0, 2 / math.sqrt(12)),
        (initializers.RandomNormal(mean=1.0, stddev=0.5), -np.inf, np.inf, 1.0, 0.5),
        (initializers.TruncatedNormal(mean=-1.0, stddev=0.2), -1.4, -0.6, -1.0, 0.2 * 0.8796),
    ],
)
def test_random_distributions(init, lo, hi, mean, std):
    w = init((500, 400))
    assert float(w.min()) >= lo - 1e-6 and float(w.max()) <= hi + 1e-6
    assert float(w.mean()) == pytest.approx(mean, abs=0.01 * max(std, 0.1))
    assert float(w.std()) == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("name", RANDOM)
def test_seeded_initializer_repeats_itself(name):
    a = getattr(initializers, name)(seed=42)((5, 3))
    b = getattr(initializers, name)(seed=42)((5, 3))
    init = getattr(initializers, name)(seed=42)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(init((5, 3)), init((5, 3)))
    assert not np.array_equal(a, getattr(initializers, name)(seed=43)((5, 3)))


@pytest.mark.parametrize("name", RANDOM)
def test_unseeded_initializer_draws_fresh_values(name):
    init = getattr(initializers, name)()
    assert not np.array_equal(init((5, 3)), init((5, 3)))


def test_global_seed_makes_unseeded_draws_reproducible():
    backend.set_random_seed(7)
    a = initializers.GlorotUniform()((4, 4))
    backend.set_random_seed(7)
    np.testing.assert_array_equal(a, initializers.GlorotUniform()((4, 4)))


def test_seed_generator_continues_its_stream():
    init = initializers.RandomNormal(seed=backend.SeedGenerator(5))
    a, b = init((3,)), init((3,))
    assert not np.array_equal(a, b)
    again = initializers.RandomNormal(seed=backend.SeedGenerator(5))
    np.testing.assert_array_equal(a, again((3,)))
    config = init.get_config()
    assert config["seed"]["class_name"] == "SeedGenerator"
    assert config["seed"]["config"]["seed"] == 5
    np.testing.assert_array_equal(initializers.RandomNormal.from_config(config)((3,)), a)


@pytest.mark.parametrize("shape", [(30, 20), (20, 30), (3, 3, 4, 8), (16, 16)])
def test_orthogonal_is_orthogonal(shape):
    w = initializers.Orthogonal(seed=0)(shape, dtype="float64").reshape(-1, shape[-1])
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=1e-12)
    w = initializers.Orthogonal(gain=2.0, seed=0)((10, 10))
    np.testing.assert_allclose(w.T @ w, 4 * np.eye(10), atol=1e-5)


def test_constant_identity_zeros_ones_values():
    np.testing.assert_array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.Ones()(4), np.ones(4))
    np.testing.assert_array_equal(initializers.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(initializers.Constant([1.0, 2.0])((2, 2)), [[1, 2], [1, 2]])
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)),
                                  [[3, 0, 0], [0, 3, 0]])


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: initializers.Orthogonal()((5,)), "at least two-dimensional"),
        (lambda: initializers.Identity()((2, 2, 2)), "only be used for 2D"),
        (lambda: initializers.VarianceScaling(scale=0.0), "must be positive"),
        (lambda: initializers.VarianceScaling(mode="fan_max"), "Invalid `mode`"),
        (lambda: initializers.VarianceScaling(distribution="cauchy"), "Invalid `distribution`"),
        (lambda: initializers.RandomNormal(seed="abc"), "`seed` argument"),
        (lambda: initializers.RandomNormal()((2,), dtype="int32"), "float dtype"),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("name", ALL)
def test_config_round_trip(name):
    cls = getattr(initializers, name)
    config = cls().get_config()
    assert cls.from_config(config).get_config() == config
    record = initializers.serialize(cls())
    assert record == {"module": "keras.initializers", "class_name": name, "config": config,
                      "registered_name": None}
    assert type(initializers.get(record)) is cls


def test_keras_3_15_config_keys():
    assert initializers.GlorotUniform().get_config() == {
        "seed": None, "input_axes": None, "output_axes": None}
    assert list(initializers.VarianceScaling().get_config()) == [
        "seed", "scale", "mode", "distribution", "input_axes", "output_axes"]
    assert initializers.RandomNormal(seed=3).get_config() == {"seed": 3, "mean": 0.0,
                                                              "stddev": 0.05}
    assert initializers.Orthogonal().get_config() == {"seed": None, "gain": 1.0}
    assert initializers.Identity().get_config() == {}
    assert initializers.Identity(gain=2.0).get_config() == {"gain": 2.0}


def test_get_accepts_names_dicts_objects_and_callables():
    names = {"zeros": "Zeros", "ones": "Ones", "zero": "Zeros", "one": "Ones",
             "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
             "he_normal": "HeNormal", "he_uniform": "HeUniform", "lecun_normal": "LecunNormal",
             "lecun_uniform": "LecunUniform", "random_normal": "RandomNormal",
             "normal": "RandomNormal", "uniform": "RandomUniform",
             "truncated_normal": "TruncatedNormal", "orthogonal": "Orthogonal",
             "identity": "Identity", "variance_scaling": "VarianceScaling",
             "constant": "Constant", "GlorotUniform": "GlorotUniform"}
    for alias, cls_name in names.items():
        assert type(initializers.get(alias)).__name__ == cls_name
    assert initializers.get(None) is None
    k2 = initializers.get({"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_in",
                                      "distribution": "untruncated_normal", "seed": 9}})
    assert (k2.scale, k2.distribution, k2.seed) == (2.0, "untruncated_normal", 9)
    obj = initializers.HeNormal(seed=1)
    assert initializers.get(obj) is obj
    assert type(initializers.get(initializers.Ones)) is initializers.Ones

    def fn(shape, dtype=None):
        return np.full(shape, 7.0, dtype=dtype)

    assert initializers.get(fn) is fn
    direct = initializers.get(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(direct((2, 3)), np.arange(6.0).reshape(2, 3))
    assert direct((2, 3)).dtype == np.float32
    with pytest.raises(ValueError, match="Expected `shape`"):
        direct((3, 2))


@pytest.mark.parametrize("bad", ["nonsense", {"class_name": "Nonsense", "config": {}}, 3])
def test_unknown_identifier_lists_known_names(bad):
    with pytest.raises(ValueError, match="Could not interpret initializer identifier") as e:
        initializers.get(bad)
    assert "Known: " in str(e.value) and "glorot_uniform" in str(e.value)


@pytest.mark.parametrize("name", ALL)
def test_config_matches_keras(keras, name):
    if tuple(int(p) for p in keras.__version__.split(".")[:2]) < (3, 15):
        pytest.skip("configs gained input_axes/output_axes in Keras 3.15")
    theirs = keras.initializers.serialize(getattr(keras.initializers, name)())
    ours = initializers.serialize(getattr(initializers, name)())
    assert ours == theirs and list(ours["config"]) == list(theirs["config"])
    # and a Keras config builds our object
    assert type(initializers.get(theirs)).__name__ == name
