"""fcnet.backend.workspace: the arrays one batch of ``predict`` hands on to the next.

The workspace itself (which array each request gets), the products that write into it,
and ``predict`` over several batches: its outputs against a forward pass in NumPy by
hand, bit for bit against ``predict_on_batch`` (the same products, new arrays), and the
outputs a callback keeps, which must not change when later batches reuse the arrays."""

import threading

import numpy
import pytest

import fcnet
from fcnet.backend import parallel, workspace
from fcnet.ops import dense


def test_each_position_gets_the_last_batch_s_array_again():
    arrays = workspace.Workspace()
    with arrays.batch():
        first = [arrays.empty((4, 3), numpy.float32), arrays.empty((4, 5), numpy.float32)]
    with arrays.batch():
        second = [arrays.empty((4, 3), numpy.float32), arrays.empty((4, 5), numpy.float32),
                  arrays.empty((2, 2), numpy.float32)]
    assert second[0] is first[0] and second[1] is first[1]
    assert second[2] is not first[0] and second[2] is not first[1]
    assert first[0] is not first[1]


def test_another_shape_or_dtype_takes_a_new_array_and_keeps_it():
    arrays = workspace.Workspace()
    with arrays.batch():
        a = arrays.empty((4, 3), numpy.float32)
    with arrays.batch():
        b = arrays.empty((2, 3), numpy.float32)  # the last batch, fewer rows
    with arrays.batch():
        c = arrays.empty((2, 3), numpy.float64)
    with arrays.batch():
        d = arrays.empty((2, 3), numpy.float64)
    assert b is not a and b.shape == (2, 3)
    assert c is not b and c.dtype == numpy.float64
    assert d is c


def test_holds_sees_views_of_its_arrays_only():
    arrays = workspace.Workspace()
    with arrays.batch():
        own = arrays.empty((4, 3), numpy.float32)
    assert arrays.holds(own) and arrays.holds(own[1:, :2]) and arrays.holds(own.T)
    assert not arrays.holds(numpy.empty((4, 3), numpy.float32))
    assert not arrays.holds([1.0, 2.0])


def _operands(m, k, n):
    return numpy.ones((m, k), numpy.float32), numpy.ones((k, n), numpy.float32)


def test_output_only_within_a_batch_and_for_large_arrays():
    a, b = _operands(256, 3, 256)
    assert workspace.output(a, b) is None
    arrays = workspace.Workspace()
    with arrays.batch():
        assert workspace.output(*_operands(1, 3, workspace.MIN_ENTRIES - 1)) is None
        big = workspace.output(*_operands(2, 3, workspace.MIN_ENTRIES // 2))
        assert big.shape == (2, workspace.MIN_ENTRIES // 2) and big.flags.c_contiguous
        assert big.dtype == numpy.float32
        assert workspace.output(a, b.astype(numpy.float64)).dtype == numpy.float64
    assert workspace.output(a, b) is None


def test_a_read_only_array_is_not_handed_out_again():
    """A subclassed model's recorded outputs are made read-only: the next batch gets a
    new array there, which it can write."""
    arrays = workspace.Workspace()
    with arrays.batch():
        first = arrays.empty((4, 3), numpy.float32)
    first.flags.writeable = False
    with arrays.batch():
        second = arrays.empty((4, 3), numpy.float32)
    assert second is not first and second.flags.writeable


def test_kept_copies_only_what_the_workspace_holds():
    arrays = workspace.Workspace()
    mine = numpy.ones((4, 3), numpy.float32)
    with arrays.batch():
        own = arrays.empty((4, 3), numpy.float32)
        assert workspace.kept(mine) is mine
        copy = workspace.kept(own[1:])
        assert copy is not own and not numpy.may_share_memory(copy, own)
    assert workspace.kept(own) is own  # outside a batch: nothing to copy from


def test_a_batch_within_a_batch_gives_the_outer_one_back():
    outer, inner = workspace.Workspace(), workspace.Workspace()
    a, b = _operands(256, 3, 256)
    with outer.batch():
        first = workspace.output(a, b)
        with inner.batch():
            second = workspace.output(a, b)
        third = workspace.output(a, b)
    assert outer.holds(first) and outer.holds(third) and inner.holds(second)
    assert not outer.holds(second)
    assert first is not third  # the outer batch went on counting after the inner one


def test_another_thread_does_not_see_this_thread_s_workspace():
    seen = []
    arrays = workspace.Workspace()
    a, b = _operands(256, 3, 256)
    with arrays.batch():
        thread = threading.Thread(target=lambda: seen.append(workspace.output(a, b)))
        thread.start()
        thread.join()
    assert seen == [None]


@pytest.mark.parametrize("shapes", [((300, 200), (200, 150)),    # numpy.matmul
                                    ((8, 256), (256, 4096)),     # a few rows (blocks)
                                    ((300, 1), (1, 200)),        # an outer product
                                    ((6, 50, 128), (128, 128))])  # a stack of rows
def test_a_product_within_a_batch_writes_into_the_workspace(shapes):
    rng = numpy.random.default_rng(0)
    a, b = (rng.normal(size=s).astype(numpy.float32) for s in shapes)
    arrays = workspace.Workspace()
    with arrays.batch():
        y = dense.matmul(a, b)
    with arrays.batch():
        again = dense.matmul(a, b)
    assert arrays.holds(y) and again is y
    expected = numpy.einsum("...k,kn->...n", a.astype(numpy.float64), b.astype(numpy.float64))
    bound = a.shape[-1] * numpy.finfo(numpy.float32).eps * numpy.einsum(
        "...k,kn->...n", numpy.abs(a.astype(numpy.float64)), numpy.abs(b.astype(numpy.float64)))
    assert numpy.all(numpy.abs(y - expected) <= bound)


def _mlp(units, output_activation=None, seed=0):
    fcnet.utils.set_random_seed(seed)
    model = fcnet.Sequential([fcnet.Input((20,)), fcnet.layers.Dense(units, activation="relu"),
                              fcnet.layers.Dense(units, activation="relu"),
                              fcnet.layers.Dense(units, activation=output_activation)])
    return model


def _by_hand(model, x):
    """The forward pass in NumPy by hand, float64."""
    h = x.astype(numpy.float64)
    for i, layer in enumerate(model.layers):
        kernel, bias = (numpy.asarray(w, numpy.float64) for w in layer.get_weights())
        h = h @ kernel + bias
        if i < len(model.layers) - 1:
            h = numpy.maximum(h, 0)
    return h


def test_predict_in_batches_keeps_each_batch_s_outputs(monkeypatch):
    """The output layer is linear: its output is its product's array, which the next
    batch writes again, so ``predict`` must copy it out (every batch from the workspace)."""
    monkeypatch.setattr(workspace, "MIN_ENTRIES", 1)
    model = _mlp(16)
    x = numpy.random.default_rng(1).normal(size=(70, 20)).astype(numpy.float32)
    y = model.predict(x, batch_size=16, verbose=0)
    assert y.shape == (70, 16)
    numpy.testing.assert_allclose(y, _by_hand(model, x), rtol=1e-5, atol=1e-5)


def test_a_callback_keeps_the_outputs_it_was_given(monkeypatch):
    monkeypatch.setattr(workspace, "MIN_ENTRIES", 1)

    class Keep(fcnet.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.kept = []

        def on_predict_batch_end(self, batch, logs=None):
            self.kept.append(logs["outputs"])

    model, keep = _mlp(16), Keep()
    x = numpy.random.default_rng(2).normal(size=(48, 20)).astype(numpy.float32)
    model.predict(x, batch_size=16, verbose=0, callbacks=[keep])
    assert len(keep.kept) == 3
    numpy.testing.assert_allclose(numpy.concatenate(keep.kept), _by_hand(model, x),
                                  rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("output_activation", [None, "relu", "softmax"])
def test_predict_gives_predict_on_batch_s_bits(output_activation):
    """Products of 128 rows by 256 columns (32,768 entries: from the workspace at its
    real threshold), the last batch shorter; the same products into new arrays."""
    model = _mlp(256, output_activation)
    x = numpy.random.default_rng(3).normal(size=(300, 20)).astype(numpy.float32)
    y = model.predict(x, batch_size=128, verbose=0)
    expected = numpy.concatenate([model.predict_on_batch(x[s:s + 128])
                                  for s in range(0, 300, 128)])
    assert y.dtype == numpy.float32
    numpy.testing.assert_array_equal(y, expected)


def test_predict_s_products_reuse_their_arrays(monkeypatch):
    """Five batches of a three-layer network: three arrays in all, not fifteen."""
    monkeypatch.setattr(workspace, "MIN_ENTRIES", 1)
    handed = []
    empty = workspace.Workspace.empty

    def spy(self, shape, dtype):
        array = empty(self, shape, dtype)
        handed.append(id(array))
        return array

    monkeypatch.setattr(workspace.Workspace, "empty", spy)
    model = _mlp(16)
    x = numpy.random.default_rng(4).normal(size=(80, 20)).astype(numpy.float32)
    model.predict(x, batch_size=16, verbose=0)
    assert len(handed) == 15 and len(set(handed)) == 3
    assert workspace.output(*_operands(256, 3, 256)) is None  # no workspace left behind


def _fit_gives_train_on_batch_s_weights(fitted, stepped, x, y, batch_size):
    """Two epochs of ``fit`` against ``train_on_batch`` on the same batches: the same
    steps, bit for bit."""
    fitted.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0)
    for _ in range(2):
        for start in range(0, len(x), batch_size):
            stepped.train_on_batch(x[start:start + batch_size], y[start:start + batch_size])
    for a, b in zip(fitted.get_weights(), stepped.get_weights()):
        numpy.testing.assert_array_equal(a, b)


def test_fit_gives_train_on_batch_s_weights(monkeypatch):
    """``fit`` (its steps' products in the workspace) and ``train_on_batch`` on the same
    batches (new arrays) take the same steps, bit for bit."""
    monkeypatch.setattr(workspace, "MIN_ENTRIES", 1)
    rng = numpy.random.default_rng(5)
    x = rng.normal(size=(64, 20)).astype(numpy.float32)
    y = rng.integers(0, 16, 64)
    models = [_mlp(16) for _ in range(2)]
    for model in models:
        model.compile(optimizer="adam", loss=fcnet.losses.SparseCategoricalCrossentropy(
            from_logits=True))
    _fit_gives_train_on_batch_s_weights(*models, x, y, 16)


class _Keep(fcnet.metrics.Metric):
    """A metric that keeps every ``y_pred`` it is given."""

    def __init__(self):
        super().__init__(name="keep")
        self.kept = []

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.kept.append(y_pred)

    def result(self):
        return 0.0

    def reset_state(self):
        pass


class _Net(fcnet.Model):
    def __init__(self):
        super().__init__()
        self.hidden = fcnet.layers.Dense(256, activation="relu")
        self.out = fcnet.layers.Dense(256)

    def call(self, x):
        return self.out(self.hidden(x))


def test_a_subclassed_model_fits_as_train_on_batch_does():
    """Its recorded outputs are made read-only during a step: the next step must not
    write its products into them (products of 128 × 256: the workspace's threshold)."""
    rng = numpy.random.default_rng(7)
    x = rng.normal(size=(256, 5)).astype(numpy.float32)
    y = rng.normal(size=(256, 256)).astype(numpy.float32)
    models = []
    for _ in range(2):
        fcnet.utils.set_random_seed(0)
        model = _Net()
        model(x[:1])  # built here, from the seed
        model.compile(optimizer="sgd", loss="mse")
        models.append(model)
    _fit_gives_train_on_batch_s_weights(*models, x, y, 128)


class _Twin:
    """A two-process job whose other process is this one's twin (same rows)."""
    rank, world_size, is_chief = 0, 2, True

    def allreduce(self, a):
        a *= 2
        return a

    def broadcast(self, value):
        return value

    def allgather(self, value):
        return [value, value]

    def barrier(self):
        pass

    def abort(self, error=None, code=1):
        raise error


@pytest.mark.parametrize("data_parallel", [False, True])
def test_a_metric_keeps_the_outputs_it_was_given(monkeypatch, data_parallel):
    """A metric that keeps each step's ``y_pred``: with a learning rate of 0 the weights
    never move, so each kept batch must equal the network's outputs by hand. A
    data-parallel step updates the metrics inside the step, before its products are done
    with (this process's rows: the first half of each batch)."""
    monkeypatch.setattr(workspace, "MIN_ENTRIES", 1)
    rng = numpy.random.default_rng(6)
    x = rng.normal(size=(48, 20)).astype(numpy.float32)
    y = rng.normal(size=(48, 16)).astype(numpy.float32)
    model, keep = _mlp(16), _Keep()
    model.compile(optimizer=fcnet.optimizers.SGD(learning_rate=0.0), loss="mse",
                  metrics=[keep])
    parallel.set_active(_Twin() if data_parallel else None)
    try:
        model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    finally:
        parallel.set_active(None)
    rows = numpy.concatenate([x[s:s + 8] for s in range(0, 48, 16)]) if data_parallel else x
    assert len(keep.kept) == 3
    numpy.testing.assert_allclose(numpy.concatenate(keep.kept), _by_hand(model, rows),
                                  rtol=1e-5, atol=1e-5)
