"""Optimizers: hand-worked steps, parity with real Keras 3, config, state, errors."""

import warnings

import numpy as np
import pytest

from fcnet import backend, optimizers

# keras.Variable.numpy() trips NumPy 2's __array__(copy=) deprecation inside Keras itself
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")


@pytest.fixture(autouse=True)
def both_update_paths(update_path):
    """Every test runs on both update paths: fcnet._fused's kernels and the NumPy rules."""
    return update_path

SHAPES = [(3, 2), (2,)]
SLICES = [(0, 6), (6, 8)]
NAMES = ["dense/kernel", "dense/bias"]


# ---- hand-worked steps ------------------------------------------------------------------


def test_sgd_first_steps_by_hand():
    params = np.array([1.0, -2.0], dtype=np.float32)
    opt = optimizers.SGD(learning_rate=0.1, momentum=0.9)
    opt.build(params, [(0, 2)])
    g = np.array([0.5, 0.25], dtype=np.float32)
    opt.apply(g.copy())
    # m = -0.1·g = [-0.05, -0.025]; θ = θ + m
    np.testing.assert_allclose(params, [0.95, -2.025], rtol=1e-6)
    opt.apply(g.copy())
    # m = 0.9·m - 0.1·g = [-0.095, -0.0475]
    np.testing.assert_allclose(params, [0.855, -2.0725], rtol=1e-6)
    np.testing.assert_allclose(opt.variables[2], [-0.095, -0.0475], rtol=1e-6)
    assert opt.iterations == 2


def test_plain_sgd_step_by_hand():
    params = np.array([1.0, -2.0], dtype=np.float32)
    opt = optimizers.SGD(learning_rate=0.1)
    opt.build(params, [(0, 2)])
    opt.apply(np.array([0.5, 0.25], dtype=np.float32))
    np.testing.assert_allclose(params, [0.95, -2.025], rtol=1e-6)
    assert len(opt.variables) == 2  # no momentum slot when momentum == 0


def test_adam_first_step_by_hand():
    # Step 1: m = 0.1·g, v = 0.001·g², θ ← θ − α·m / (sqrt(v) + 1e-7) with
    # α = lr·sqrt(1 − β2)/(1 − β1). Keras evaluates β^t with β cast to float32:
    # 1 − float32(0.999) = 0.000999987125, 1 − float32(0.9) = 0.100000024, so
    # α = 0.001 · 0.0316225655 / 0.100000024 = 0.000316225655, and
    #   g = 0.5:  α · 0.05 / (0.0158113887 + 1e-7) = 0.000999986991
    #   g = -2.0: α · 0.2  / (0.0632455547 + 1e-7) = 0.000999991734 (sign flipped)
    # (with exact betas it would be 0.000999993675 and 0.000999998419).
    params = np.zeros(2, dtype=np.float32)
    opt = optimizers.Adam()
    opt.build(params, [(0, 2)])
    opt.apply(np.array([0.5, -2.0], dtype=np.float32))
    np.testing.assert_allclose(params, [-0.000999986991, 0.000999991734], rtol=1e-6)
    it, lr, m, v = opt.variables
    assert it == 1 and lr == np.float32(0.001)
    np.testing.assert_allclose(m, [0.05, -0.2], rtol=1e-6)
    np.testing.assert_allclose(v, [0.00025, 0.004], rtol=1e-6)


# ---- parity with Keras 3 ----------------------------------------------------------------

# Each factory takes the optimizers module (keras.optimizers or fcnet.optimizers):
# the two APIs are the same, so one line builds both sides.
CASES = {
    "sgd": lambda o: o.SGD(),
    "sgd_lr": lambda o: o.SGD(learning_rate=0.1),
    "sgd_momentum": lambda o: o.SGD(learning_rate=0.1, momentum=0.9),
    "sgd_nesterov": lambda o: o.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "sgd_clipnorm": lambda o: o.SGD(learning_rate=0.1, clipnorm=0.5),
    "sgd_clipvalue": lambda o: o.SGD(learning_rate=0.1, clipvalue=0.3),
    "sgd_global_clipnorm": lambda o: o.SGD(learning_rate=0.1, global_clipnorm=0.7),
    "sgd_weight_decay": lambda o: o.SGD(learning_rate=0.1, momentum=0.5, weight_decay=0.2),
    "sgd_schedule": lambda o: o.SGD(
        learning_rate=o.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)),
    "rmsprop": lambda o: o.RMSprop(),
    "rmsprop_lr": lambda o: o.RMSprop(learning_rate=0.05, rho=0.8, epsilon=1e-3),
    "rmsprop_momentum": lambda o: o.RMSprop(learning_rate=0.05, momentum=0.5),
    "rmsprop_centered": lambda o: o.RMSprop(learning_rate=0.05, centered=True),
    "rmsprop_centered_momentum": lambda o: o.RMSprop(
        learning_rate=0.05, centered=True, momentum=0.7, clipnorm=1.0),
    "adagrad": lambda o: o.Adagrad(),
    "adagrad_lr": lambda o: o.Adagrad(learning_rate=0.1, initial_accumulator_value=0.5),
    "adam": lambda o: o.Adam(),
    "adam_lr": lambda o: o.Adam(learning_rate=0.1, beta_1=0.8, beta_2=0.99),
    "adam_amsgrad": lambda o: o.Adam(learning_rate=0.1, amsgrad=True),
    "adam_clipnorm": lambda o: o.Adam(learning_rate=0.1, clipnorm=1.0),
    "adam_global_clipnorm": lambda o: o.Adam(learning_rate=0.1, global_clipnorm=1.0),
    "adam_clipvalue": lambda o: o.Adam(learning_rate=0.1, clipvalue=0.5),
    "adam_weight_decay": lambda o: o.Adam(learning_rate=0.1, weight_decay=0.3),
    "adam_cosine_warmup": lambda o: o.Adam(learning_rate=o.schedules.CosineDecay(
        0.0, decay_steps=3, warmup_target=0.1, warmup_steps=2)),
    "adam_ema": lambda o: o.Adam(learning_rate=0.1, use_ema=True, ema_momentum=0.9,
                                 ema_overwrite_frequency=3),
    "adam_accumulation": lambda o: o.Adam(learning_rate=0.1, gradient_accumulation_steps=2),
    "adam_loss_scale": lambda o: o.Adam(learning_rate=0.1, loss_scale_factor=4.0),
    "adamw": lambda o: o.AdamW(),
    "adamw_lr": lambda o: o.AdamW(learning_rate=0.1, weight_decay=0.2),
    "adamw_amsgrad": lambda o: o.AdamW(learning_rate=0.1, amsgrad=True),
    "adamax": lambda o: o.Adamax(),
    "adamax_lr": lambda o: o.Adamax(learning_rate=0.1, beta_1=0.7, beta_2=0.9),
    "nadam": lambda o: o.Nadam(),
    "nadam_lr": lambda o: o.Nadam(learning_rate=0.1, beta_2=0.99),
    "nadam_accumulation": lambda o: o.Nadam(learning_rate=0.1, gradient_accumulation_steps=2),
}


def _data(steps=5, seed=0, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[rng.normal(size=s).astype(np.float32) for s in shapes] for _ in range(steps)]
    return init, grads


def _np(x):
    """A NumPy copy of an array, a keras.Variable (its .numpy()) or a backend tensor."""
    return np.array(x.numpy() if hasattr(x, "numpy") else x)


def _flat(arrays):
    return np.concatenate([_np(a).astype(np.float32).ravel() for a in arrays])


def _pair(keras, case, exclude=None):
    k_opt, f_opt = CASES[case](keras.optimizers), CASES[case](optimizers)
    if exclude:
        k_opt.exclude_from_weight_decay(var_names=exclude)
        f_opt.exclude_from_weight_decay(var_names=exclude)
    return k_opt, f_opt


def _run_both(keras, k_opt, f_opt, steps=5, shapes=SHAPES, slices=SLICES, names=NAMES):
    init, grad_seq = _data(steps, shapes=shapes)
    k_vars = [keras.Variable(x, name=n.split("/")[1]) for x, n in zip(init, names, strict=True)]
    params = _flat(init)
    f_opt.build(params, slices, names=names, shapes=shapes)
    for step, grads in enumerate(grad_seq):
        k_opt.apply_gradients(zip(grads, k_vars, strict=True))
        f_opt.apply(_flat(grads))
        np.testing.assert_allclose(params, _flat(k_vars), rtol=1e-5, atol=1e-6,
                                   err_msg=f"params after step {step + 1}")
        assert f_opt.iterations == int(_np(k_opt.iterations))
        np.testing.assert_allclose(f_opt.learning_rate, float(_np(k_opt.learning_rate)),
                                   rtol=1e-6)
    return params, k_vars


@pytest.mark.parametrize("case", sorted(CASES))
def test_parity_with_keras(keras, case):
    k_opt, f_opt = _pair(keras, case)
    _run_both(keras, k_opt, f_opt)
    k_values = [_np(v) for v in k_opt.variables]
    f_values = f_opt.variables
    assert len(f_values) == len(k_values)
    for i, (f, k) in enumerate(zip(f_values, k_values, strict=True)):
        assert f.shape == k.shape, f"variable {i}"
        np.testing.assert_allclose(f, k, rtol=1e-5, atol=1e-6, err_msg=f"variable {i}")
    k_paths = [v.path.split("/", 1)[-1] for v in k_opt.variables]
    f_paths = [p.split("/", 1)[-1] for p in f_opt.variable_paths]
    # Keras names slots after its variables' paths ("bias_momentum" here), fcnet after
    # the build names ("dense_bias_momentum"); the slot suffixes and order agree.
    if case.startswith("nadam"):  # Keras leaves u_product unnamed ("variable")
        f_paths, k_paths = f_paths[:-1], k_paths[:-1]
    for f, k in zip(f_paths, k_paths, strict=True):
        assert f.endswith(k.split("/")[-1])


@pytest.mark.parametrize("case", [
    "sgd_nesterov", "rmsprop_centered_momentum", "adagrad_lr", "adam_amsgrad", "adam_clipnorm",
    "adam_global_clipnorm", "adam_ema", "adam_accumulation", "adamw_lr", "adamax_lr", "nadam_lr",
])
def test_one_parameter_parity_with_keras(keras, case):
    # A 1-parameter model steps on padded working buffers (NumPy's in-place ufuncs
    # are slow on 1-element arrays): the results and the variables must not show it.
    k_opt, f_opt = _pair(keras, case)
    _run_both(keras, k_opt, f_opt, steps=7, shapes=[(1, 1)], slices=[(0, 1)],
              names=["dense/kernel"])
    for f, k in zip(f_opt.variables, k_opt.variables, strict=True):
        assert f.shape == _np(k).shape
        np.testing.assert_allclose(f, _np(k), rtol=1e-5, atol=1e-6)


def test_weight_decay_exclusion_matches_keras(keras):
    k_opt, f_opt = _pair(keras, "adamw_lr", exclude=["bias"])
    params, _ = _run_both(keras, k_opt, f_opt)
    assert f_opt._decay_ranges == [(0, 6)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_get_config_matches_keras(keras, case):
    k_config = CASES[case](keras.optimizers).get_config()
    f_config = CASES[case](optimizers).get_config()
    k_config.pop("name"), f_config.pop("name")
    assert list(f_config) == list(k_config)
    assert f_config == k_config


def test_default_config_values():
    config = optimizers.Adam().get_config()
    assert config["learning_rate"] == 0.0010000000474974513
    assert config["epsilon"] == 1e-7 and config["amsgrad"] is False
    assert optimizers.SGD().get_config()["learning_rate"] == 0.009999999776482582
    assert optimizers.AdamW().get_config()["weight_decay"] == 0.004
    assert optimizers.Adagrad().get_config()["initial_accumulator_value"] == 0.1


def test_names_follow_keras():
    backend.clear_session()
    assert optimizers.Adam().name == "adam"
    assert optimizers.Adam().name == "adam_1"
    assert optimizers.RMSprop().name == "rm_sprop"
    assert optimizers.AdamW().name == "adam_w"
    assert optimizers.SGD(name="mine").name == "mine"


def test_from_config_round_trip_with_schedule():
    schedule = optimizers.schedules.InverseTimeDecay(0.5, decay_steps=3, decay_rate=0.1)
    opt = optimizers.RMSprop(learning_rate=schedule, centered=True, momentum=0.2, name="r")
    clone = optimizers.RMSprop.from_config(opt.get_config())
    assert clone.get_config() == opt.get_config()
    assert isinstance(clone._schedule, optimizers.schedules.InverseTimeDecay)
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is optimizers.RMSprop and again.get_config() == opt.get_config()


# ---- get / serialize --------------------------------------------------------------------


@pytest.mark.parametrize("alias,cls", [
    ("sgd", "SGD"), ("adam", "Adam"), ("rmsprop", "RMSprop"), ("adagrad", "Adagrad"),
    ("adamw", "AdamW"), ("adamax", "Adamax"), ("nadam", "Nadam"), ("Adam", "Adam"),
    ("RMSprop", "RMSprop"), ("SGD", "SGD"), ("AdamW", "AdamW"),
])
def test_get_aliases(alias, cls):
    opt = optimizers.get(alias)
    assert type(opt) is getattr(optimizers, cls)
    assert opt.get_config() == {**getattr(optimizers, cls)().get_config(), "name": opt.name}


def test_get_passes_through_and_builds_from_dicts():
    opt = optimizers.Adam(learning_rate=0.5)
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    built = optimizers.get({"class_name": "Adam", "config": {"learning_rate": 0.5}})
    assert built.learning_rate == 0.5 and type(built) is optimizers.Adam
    assert type(optimizers.get(optimizers.Nadam)) is optimizers.Nadam


def test_get_unknown_lists_known():
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier: nonsense") as e:
        optimizers.get("nonsense")
    for name in ("adam", "sgd", "rmsprop", "adagrad", "adamw", "adamax", "nadam"):
        assert name in str(e.value)
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier"):
        optimizers.get(42)


def test_serialize_matches_keras_format(keras):
    k = keras.optimizers.serialize(keras.optimizers.SGD(momentum=0.5, name="s"))
    f = optimizers.serialize(optimizers.SGD(momentum=0.5, name="s"))
    assert f == k


# ---- state: variables, restore, rebuild -------------------------------------------------


def test_set_variables_restores_the_run():
    init, grad_seq = _data(6, seed=3)
    a_params, b_params = _flat(init), _flat(init)
    a = optimizers.Nadam(learning_rate=0.05)
    a.build(a_params, SLICES, shapes=SHAPES)
    for grads in grad_seq[:3]:
        a.apply(_flat(grads))
    store = {}
    a.save_own_variables(store)
    b = optimizers.Nadam(learning_rate=0.05)
    b_params[:] = a_params
    b.build(b_params, SLICES, shapes=SHAPES)
    b.load_own_variables(store)
    assert b.iterations == 3
    for grads in grad_seq[3:]:
        a.apply(_flat(grads))
        b.apply(_flat(grads))
    np.testing.assert_array_equal(a_params, b_params)


def test_load_own_variables_count_mismatch_warns_and_skips():
    opt = optimizers.Adam()
    opt.build(np.zeros(8, dtype=np.float32), SLICES)
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        opt.load_own_variables({"0": np.array(7), "1": np.array(0.1)})
    assert opt.iterations == 0


def test_set_variables_wrong_count_raises():
    opt = optimizers.SGD(momentum=0.5)
    opt.build(np.zeros(8, dtype=np.float32), SLICES)
    with pytest.raises(ValueError, match="has 4 variables"):
        opt.set_variables([np.array(0)])


def test_slots_are_views_into_flat_buffers():
    opt = optimizers.Adam()
    opt.build(np.zeros(8, dtype=np.float32), SLICES, shapes=SHAPES)
    m_kernel = opt.variables[2]
    assert m_kernel.shape == (3, 2)
    opt.apply(np.ones(8, dtype=np.float32))
    np.testing.assert_allclose(m_kernel, 0.1)


def test_rebuild_recreates_state():
    opt = optimizers.Adagrad(learning_rate=0.1)
    params = np.zeros(4, dtype=np.float32)
    opt.build(params, [(0, 4)])
    opt.apply(np.ones(4, dtype=np.float32))
    bigger = np.zeros(6, dtype=np.float32)
    opt.build(bigger, [(0, 4), (4, 6)])
    np.testing.assert_allclose(opt.variables[2], 0.1)  # fresh accumulator
    opt.apply(np.ones(6, dtype=np.float32))
    assert np.all(bigger < 0)


def test_ema_finalize_writes_the_average():
    opt = optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    params = np.zeros(1, dtype=np.float32)
    opt.build(params, [(0, 1)])
    opt.apply(np.ones(1, dtype=np.float32))  # θ = -1, average = θ on the first step
    opt.apply(np.ones(1, dtype=np.float32))  # θ = -2, average = 0.5·-1 + 0.5·-2
    opt.finalize_variable_values()
    np.testing.assert_allclose(params, [-1.5])


# ---- standalone variables ---------------------------------------------------------------


class _Box:
    """A stand-in for a variable: an object with a ``.value`` array."""

    def __init__(self, value, name):
        self.value = np.array(value, dtype=np.float32)
        self.path = name


def test_apply_gradients_on_standalone_arrays_matches_flat_path():
    init, grad_seq = _data(4, seed=5)
    boxes = [_Box(init[0], "kernel"), _Box(init[1], "bias")]
    plain = [init[0].copy(), init[1].copy()]
    flat = _flat(init)
    a, b, c = (optimizers.RMSprop(learning_rate=0.05, momentum=0.3) for _ in range(3))
    c.build(flat, SLICES)
    for grads in grad_seq:
        a.apply_gradients(zip(grads, boxes, strict=True))
        assert b.apply_gradients(zip(grads, plain, strict=True)) == b.iterations
        c.apply(_flat(grads))
    np.testing.assert_array_equal(_flat([x.value for x in boxes]), flat)
    np.testing.assert_array_equal(_flat(plain), flat)
    assert boxes[0].value.shape == (3, 2) and a.iterations == 4


def test_apply_gradients_sees_outside_changes_and_skips_none():
    var = np.array([1.0, 2.0], dtype=np.float32)
    other = np.array([5.0], dtype=np.float32)
    opt = optimizers.SGD(learning_rate=0.5)
    opt.apply_gradients([(np.ones(2), var), (None, other)])
    np.testing.assert_allclose(var, [0.5, 1.5])
    var[:] = 10.0  # changed by the user between steps
    opt.apply_gradients([(np.ones(2), var)])
    np.testing.assert_allclose(var, [9.5, 9.5])
    np.testing.assert_allclose(other, [5.0])
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply_gradients([(None, var)])


def test_apply_gradients_excludes_variables_from_weight_decay():
    kernel, bias = _Box(np.ones((2, 2)), "k"), _Box(np.ones(2), "b")
    opt = optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[bias])
    opt.apply_gradients([(np.zeros((2, 2)), kernel), (np.zeros(2), bias)])
    np.testing.assert_allclose(kernel.value, 0.95)  # θ − θ·0.5·0.1
    np.testing.assert_allclose(bias.value, 1.0)


def test_model_build_replaces_standalone_packing():
    var = np.array([1.0, 2.0], dtype=np.float32)
    opt = optimizers.SGD(learning_rate=0.5)
    opt.apply_gradients([(np.ones(2), var)])
    params = np.zeros(3, dtype=np.float32)
    opt.build(params, [(0, 3)])
    opt.apply(np.ones(3, dtype=np.float32))
    np.testing.assert_allclose(params, -0.5)
    np.testing.assert_allclose(var, [0.5, 1.5])  # no longer written


class _OtherXp:
    """NumPy under another name: drives the code path CuPy takes (no NumPy-only tricks)."""

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("case", ["sgd_nesterov", "rmsprop_centered_momentum", "adam_clipnorm",
                                  "adamw_lr", "nadam_lr", "adamax_lr", "adagrad_lr"])
def test_other_array_namespace_gives_the_same_steps(case, monkeypatch):
    init, grad_seq = _data(4, seed=11)
    results = []
    for xp in (np, _OtherXp()):
        monkeypatch.setattr(backend, "xp", xp)
        opt = CASES[case](optimizers)
        params = _flat(init)
        opt.build(params, SLICES, shapes=SHAPES)
        assert (opt._ks is None) == (xp is not np)
        for grads in grad_seq:
            opt.apply(_flat(grads))
        results.append(params)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-6, atol=1e-7)


# ---- errors -----------------------------------------------------------------------------


def test_apply_before_build_raises():
    with pytest.raises(ValueError, match="not built"):
        optimizers.Adam().apply(np.ones(3, dtype=np.float32))


def test_wrong_gradient_size_raises():
    opt = optimizers.Adam()
    opt.build(np.zeros(3, dtype=np.float32), [(0, 3)])
    with pytest.raises(ValueError, match="size 3"):
        opt.apply(np.ones(4, dtype=np.float32))


def test_constructor_errors():
    with pytest.raises(ValueError, match="Only one of `clipnorm`"):
        optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="weight_decay=None"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="not recognized"):
        optimizers.Adam(betta_1=0.9)
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        optimizers.SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate="fast")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="decay"):
            optimizers.SGD(decay=0.1)


def test_grads_stay_unchanged_without_clipping():
    # Only clipping, loss scaling and accumulation write into the gradient buffer.
    opt = optimizers.Adam(amsgrad=True)
    opt.build(np.zeros(8, dtype=np.float32), SLICES)
    g = np.linspace(-1, 1, 8, dtype=np.float32)
    before = g.copy()
    opt.apply(g)
    np.testing.assert_array_equal(g, before)
