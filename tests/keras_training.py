"""What the Keras-parity test modules share: real Keras 3 on a backend that trains, one
fit of the same model in both packages from the same starting weights, and the
comparison of the two fits (histories, weights, evaluate, predict) at float32 tolerance."""

import copy
import os

import numpy as np
import pytest

LOSS_TOL = dict(rtol=1e-4, atol=1e-6)
WEIGHT_TOL = dict(rtol=1e-4, atol=1e-5)
# Full batches of 8 keep JAX's per-shape compilations few.
FIT = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)


def training_keras():
    """Keras 3 on JAX (or the backend KERAS_BACKEND names); skips the calling module
    where it is missing or its backend (NumPy's) cannot train."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    if os.environ["KERAS_BACKEND"] == "jax":
        pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() not in ("jax", "tensorflow", "torch"):
        pytest.skip("Keras's numpy backend cannot train", allow_module_level=True)
    return keras


def assert_same_fit(fc: dict, ke: dict) -> None:
    """fcnet's ``{"history", "weights", "evaluate"}`` equal Keras's, key by key."""
    assert sorted(fc["history"]) == sorted(ke["history"])
    for key, values in ke["history"].items():
        np.testing.assert_allclose(fc["history"][key], values, err_msg=f"history[{key!r}]",
                                   **LOSS_TOL)
    assert len(fc["weights"]) == len(ke["weights"])
    for i, (a, b) in enumerate(zip(fc["weights"], ke["weights"])):
        assert a.dtype == np.float32 or a.dtype.kind in "iu", a.dtype  # a count may be int
        np.testing.assert_allclose(a, b, err_msg=f"weight {i}", **WEIGHT_TOL)
    assert sorted(fc["evaluate"]) == sorted(ke["evaluate"])
    for key, value in ke["evaluate"].items():
        np.testing.assert_allclose(fc["evaluate"][key], value, err_msg=f"evaluate[{key!r}]",
                                   **LOSS_TOL)


def compiler(optimizer, **kwargs):
    """compile()'s kwargs for one package: a fresh ``(name, config)`` optimizer each time."""
    def compile_kwargs(mod):
        return dict(optimizer=getattr(mod.optimizers, optimizer[0])(**optimizer[1]),
                    **copy.deepcopy(kwargs))
    return compile_kwargs


def _as_numpy(out):
    """predict's result with arrays as NumPy, its container kept (array, list or dict)."""
    if isinstance(out, dict):
        return {key: np.asarray(value) for key, value in out.items()}
    if isinstance(out, (list, tuple)):
        return type(out)(np.asarray(value) for value in out)
    return np.asarray(out)


def _train(model, mod, compile_kwargs, x, y, fit, keras):
    """compile + fit + evaluate + predict; the numbers to compare."""
    # Keras runs eagerly: the same arithmetic, without seconds of XLA compilation per case.
    eager = {"run_eagerly": True} if mod is keras else {}
    model.compile(**compile_kwargs(mod), **eager)
    history = model.fit(x, y, **fit)
    batch = fit.get("batch_size", 32)
    evaluation = model.evaluate(x, y, batch_size=batch, verbose=0, return_dict=True)
    return {
        "history": {k: list(map(float, v)) for k, v in history.history.items()},
        "weights": [np.asarray(w) for w in model.get_weights()],
        "evaluate": {k: float(v) for k, v in evaluation.items()},
        "predict": _as_numpy(model.predict(x, batch_size=batch, verbose=0)),
    }


def fit_both(keras, build, compile_kwargs, x, y, call_on=None, fit=FIT, prepare=None):
    """fcnet's and Keras's results, Keras starting from fcnet's initial weights.

    ``build(mod)`` makes the model in either package; ``call_on``: a batch to call a
    subclassed model on first, which creates its weights; ``prepare(model)``: run on
    both models before the weights are copied (``adapt`` of a preprocessing layer)."""
    import fcnet

    model = build(fcnet)
    keras.backend.clear_session()  # Keras's name counters start at 0, as fcnet's do
    keras.utils.set_random_seed(7)
    reference = build(keras)
    for made in (model, reference):
        if call_on is not None:
            made(call_on)
        if prepare is not None:
            prepare(made)
    # Same layers in the same order: get_weights() follows it, set_weights() relies on it.
    assert [layer.name for layer in model.layers] == [layer.name for layer in reference.layers]
    assert model.count_params() == reference.count_params()
    assert ([tuple(w.shape) for w in model.get_weights()]
            == [tuple(w.shape) for w in reference.get_weights()])
    # Biases start away from 0 so that they matter from the first step (state such as
    # moving or adapted statistics is left as it is).
    trainable = {id(v) for v in model.trainable_weights}
    initial = [v.numpy() + np.float32(0.1) * (v.ndim == 1 and id(v) in trainable)
               for v in model.weights]
    model.set_weights(initial)
    reference.set_weights(initial)
    for layer in reference._flatten_layers():  # Keras's Normalization caches its statistics
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
    fc = _train(model, fcnet, compile_kwargs, x, y, fit, keras)
    ke = _train(reference, keras, compile_kwargs, x, y, fit, keras)
    # Not a vacuous pass: training moved the weights well beyond the tolerance.
    assert max(np.abs(a - b).max() for a, b in zip(initial, fc["weights"])) > 1e-3
    assert_same_fit(fc, ke)
    assert_same_outputs(fc["predict"], ke["predict"])
    return fc, ke


def assert_same_outputs(got, want):
    """predict's arrays (alone, in a list or in a dict) equal, float32, same shapes."""
    if isinstance(want, dict):
        assert isinstance(got, dict)
        assert sorted(got) == sorted(want)
        pairs = [(got[key], want[key], key) for key in want]
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, type(want)), type(got)
        assert len(got) == len(want)
        pairs = [(g, w, i) for i, (g, w) in enumerate(zip(got, want))]
    else:
        assert isinstance(got, np.ndarray)
        pairs = [(got, want, 0)]
    for g, w, key in pairs:
        assert g.dtype == np.float32, key
        assert g.shape == w.shape, key
        np.testing.assert_allclose(g, w, err_msg=f"predict[{key!r}]", **WEIGHT_TOL)
