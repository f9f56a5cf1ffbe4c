"""compile / fit / evaluate / predict: Keras's behaviour, errors before any step."""

import numpy as np
import pytest

import fcnet as keras
from fcnet.layers import Dense, Input


def small_model(out=1, activation=None, width=3):
    return keras.Sequential([Input(shape=(width,)), Dense(4, activation="relu"),
                             Dense(out, activation=activation)])


def data(n=64, width=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, width)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_fit_reduces_loss_and_returns_history():
    model = small_model()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, y = data()
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history is model.history
    assert list(history.history) == ["loss", "mae"] and history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 4}
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_parameters_live_in_one_flat_buffer():
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    buffer = model._parameters.params
    assert buffer.dtype == np.float32 and buffer.size == model.count_params()
    assert all(v.value.base is buffer for v in model.trainable_variables)
    before = buffer.copy()
    model.train_on_batch(x[:8], y[:8])
    assert not np.array_equal(before, buffer)  # the step wrote into the same buffer


def test_evaluate_returns_float_list_or_dict():
    model = small_model()
    x, y = data()
    model.compile(optimizer="sgd", loss="mse")
    loss = model.evaluate(x, y, verbose=0)
    assert isinstance(loss, float)
    expected = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert loss == pytest.approx(expected, rel=1e-5)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert len(model.evaluate(x, y, verbose=0)) == 2
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "mae"}


def test_one_dimensional_inputs_are_expanded():
    model = keras.Sequential([Dense(1, use_bias=False, input_shape=(1,))])
    prediction = model.predict(np.array([2.5]), verbose=0)
    assert prediction.shape == (1, 1) and prediction.dtype == np.float32
    np.testing.assert_allclose(prediction, 2.5 * model.get_weights()[0], rtol=1e-6)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = data(n=50)
    a, b = small_model(), small_model()
    b.set_weights(a.get_weights())
    for model in (a, b):
        model.compile(optimizer="sgd", loss="mse")
    split = a.fit(x, y, epochs=2, validation_split=0.2, shuffle=False, verbose=0)
    explicit = b.fit(x[:40], y[:40], epochs=2, validation_data=(x[40:], y[40:]),
                     shuffle=False, verbose=0)
    np.testing.assert_allclose(split.history["val_loss"], explicit.history["val_loss"],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="not sufficient to split"):
        a.fit(x[:1], y[:1], validation_split=0.5, verbose=0)


def test_generators_and_py_dataset():
    x, y = data(n=32)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return x[i * 8:(i + 1) * 8], y[i * 8:(i + 1) * 8]

    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(Batches(), epochs=2, verbose=0)
    assert history.params["steps"] == 4 and len(history.history["loss"]) == 2

    def endless():
        while True:
            yield x[:8], y[:8]

    history = model.fit(endless(), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_initial_epoch_and_progress_output(capsys):
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    model.fit(x, y, epochs=3, initial_epoch=1)
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Epoch 2/3"
    assert "\b" not in out and "\r" not in out
    lines = out.splitlines()
    assert lines[1].startswith("2/2 [==============================] - ")
    assert " - loss: " in lines[1] and len(lines) == 4
    model.fit(x, y, epochs=1)
    assert not capsys.readouterr().out.startswith("Epoch")


def test_fit_before_compile():
    with pytest.raises(ValueError, match=r"You must call `compile\(\)`"):
        small_model().fit(*data())


def test_mismatched_lengths_name_both_counts():
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    with pytest.raises(ValueError, match="x sizes: 64, y sizes: 60"):
        model.fit(x, y[:60])


def test_strings_are_rejected():
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="numeric"):
        model.fit(np.array([["a", "b", "c"]]), np.array([1.0]))


@pytest.mark.parametrize("kwargs, kind", [({"optimizer": "nonsense"}, "optimizer"),
                                           ({"loss": "nonsense"}, "loss"),
                                           ({"metrics": ["nonsense"]}, "metric")])
def test_unknown_names_list_the_known(kwargs, kind):
    model = small_model()
    settings = {"optimizer": "sgd", "loss": "mse", **kwargs}
    with pytest.raises(ValueError, match="nonsense") as info:
        model.compile(**settings)
    assert ("adam" if kind == "optimizer" else "mean_squared_error") in str(info.value).lower()


def test_wrong_input_width_names_the_layer():
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data(width=5)
    with pytest.raises(ValueError, match=r'layer "dense".*expected axis -1 of input shape '
                                         r"to have value 3"):
        model.fit(x, y)


def test_sparse_labels_out_of_range_fail_before_any_step():
    model = small_model(out=3, activation="softmax")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    x, _ = data(n=16)
    labels = np.array([0, 1, 2, 3] * 4)
    with pytest.raises(ValueError, match="3"):
        model.fit(x, labels, verbose=0)
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_nan_loss_with_terminate_on_nan_stops_after_that_batch(capsys):
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data(n=64)
    x[20] = 3e38  # finite, but its squared error overflows: the second batch's loss is inf
    seen = []
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False,
                        callbacks=[keras.callbacks.TerminateOnNaN(),
                                   keras.callbacks.LambdaCallback(
                                       on_train_batch_end=lambda b, logs: seen.append(b))])
    assert seen == [0, 1]
    assert len(history.history["loss"]) == 1 and not np.isfinite(history.history["loss"][0])
    assert "Invalid loss" in capsys.readouterr().out


def test_non_finite_inputs_are_rejected():
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    x[3, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite"):
        model.fit(x, y, verbose=0)


@pytest.mark.parametrize("where", ["y", "sample_weight"])
def test_non_finite_targets_and_weights_are_rejected_like_inputs(where):
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    sw = np.ones(len(x), np.float32)
    (y if where == "y" else sw)[5] = np.nan
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=f"`{where}` contains 1 non-finite"):
        model.fit(x, y, sample_weight=sw, verbose=0)
    with pytest.raises(ValueError, match=f"`{where}` contains 1 non-finite"):
        model.evaluate(x, y, sample_weight=sw, verbose=0)
    for b, a in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # no step was taken


def test_empty_data_is_refused_by_fit_evaluate_and_predict():
    model = small_model()
    model.compile(optimizer="sgd", loss="mse")
    x, y = data()
    empty_x, empty_y = x[:0], y[:0]
    for call in (lambda: model.fit(empty_x, empty_y, verbose=0),
                 lambda: model.evaluate(empty_x, empty_y, verbose=0),
                 lambda: model.predict(empty_x, verbose=0)):
        with pytest.raises(ValueError, match=r"`x` to hold at least one sample.*\(0, "):
            call()


def test_early_stopping_restores_best_weights():
    model = small_model()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.3), loss="mse")
    x, y = data()
    snapshots = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append((logs["loss"], model.get_weights())))
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=3, restore_best_weights=True)
    model.fit(x, y, epochs=30, batch_size=64, verbose=0, callbacks=[record, stop])
    losses = [loss for loss, _ in snapshots]
    best = int(np.argmin(losses))
    assert best < len(losses) - 1  # the run went past its best epoch
    for restored, kept in zip(model.get_weights(), snapshots[best][1]):
        np.testing.assert_array_equal(restored, kept)


def test_rebuilt_layer_is_repacked():
    model = small_model()
    model.compile(optimizer="adam", loss="mse")
    x, y = data()
    model.fit(x, y, epochs=1, verbose=0)
    first = model._parameters
    model.layers[1].build((None, 4))  # new variables: the next fit packs them anew
    model.fit(x, y, epochs=1, verbose=0)
    assert model._parameters is not first
    assert all(v.value.base is model._parameters.params for v in model.trainable_variables)


def test_layer_without_backward_is_named_before_training():
    class Square(keras.layers.Layer):
        def call(self, x, training=False):
            return x * x

        def compute_output_shape(self, shape):
            return shape

    model = keras.Sequential([Input(shape=(3,)), Dense(2), Square(name="square")])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(NotImplementedError, match="square"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)


def test_predict_of_one_quiet_batch_returns_arrays_of_its_own():
    """One batch with verbose=0 skips the callback machinery; what it returns must not be
    the model's reused output buffer, or a second predict would overwrite the first."""
    model = keras.Sequential([Input((3,)), Dense(2, activation="relu"),
                              Dense(2, activation="softmax")])
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    first = model.predict(x, verbose=0)
    kept = first.copy()
    second = model.predict(-x, verbose=0)
    np.testing.assert_array_equal(first, kept)
    assert not np.shares_memory(first, second)
    np.testing.assert_allclose(first, model.predict(x, batch_size=1, verbose=0), rtol=1e-6)
