"""Batches over arrays: every row once per epoch, rows of x, y and weights kept together."""

import numpy as np
import pytest

import fcnet
from fcnet.models.data_adapter import ArrayBatches, check_finite


def _epoch_rows(batches):
    """Each batch as ``(x, y, sample_weight)`` copies (one target, one weight)."""
    return [(x.copy(), ys[0].copy(), None if sws is None else sws[0].copy())
            for x, ys, sws in batches.epoch()]


def test_shuffled_batches_cover_every_row_once_and_keep_rows_together():
    n = 23
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y, sw = np.arange(n) * 10, np.arange(n, dtype=np.float32) / 2
    batches = ArrayBatches((x, [y], [sw]), 5, shuffle=True, rng=np.random.default_rng(0))
    epochs = [_epoch_rows(batches) for _ in range(2)]
    for epoch in epochs:
        assert [len(b[0]) for b in epoch] == [5, 5, 5, 5, 3]
        rows = np.concatenate([b[0][:, 0] for b in epoch]) / 2
        assert sorted(rows.astype(int)) == list(range(n))
        for bx, by, bsw in epoch:  # the same rows of x, y and sample_weight
            np.testing.assert_array_equal(by, bx[:, 0] / 2 * 10)
            np.testing.assert_array_equal(bsw, bx[:, 0] / 4)
    first, second = (np.concatenate([b[1] for b in e]) for e in epochs)
    assert not np.array_equal(first, second)  # reshuffled each epoch


def test_unshuffled_batches_are_contiguous_and_sample_weight_may_be_absent():
    x = np.arange(7, dtype=np.float32).reshape(7, 1)
    batches = ArrayBatches((x, [x[:, 0]], None), 3)
    epoch = list(batches.epoch())
    assert [b[0][:, 0].tolist() for b in epoch] == [[0, 1, 2], [3, 4, 5], [6]]
    assert all(b[2] is None for b in epoch)


def test_inputs_given_as_a_dict_are_batched_together():
    a = np.arange(6, dtype=np.float32).reshape(6, 1)
    batches = ArrayBatches(({"a": a, "b": a * 10}, [a[:, 0]], None), 4, shuffle=True,
                           rng=np.random.default_rng(1))
    for x, (y,), _ in batches.epoch():
        np.testing.assert_array_equal(x["b"], x["a"] * 10)
        np.testing.assert_array_equal(y, x["a"][:, 0])


def test_shuffled_fit_is_reproducible_with_a_seed():
    rng = np.random.default_rng(0)
    x, y = rng.random((50, 3), dtype=np.float32), rng.random((50, 1), dtype=np.float32)

    def run():
        fcnet.utils.set_random_seed(5)
        model = fcnet.Sequential([fcnet.Input(shape=(3,)), fcnet.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        return model.fit(x, y, batch_size=8, epochs=3, verbose=0).history["loss"]

    assert run() == run()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_finds_every_kind_of_non_finite_entry(dtype, bad):
    rng = np.random.default_rng(0)
    for x in (rng.standard_normal((300, 7)).astype(dtype),  # contiguous
              rng.standard_normal((7, 300)).astype(dtype).T,  # strided
              np.full((300, 7), np.finfo(dtype).max / 2, dtype)):  # its Σ x² overflows
        check_finite(x, "x")  # finite: no error
        for i in (0, 1000, x.size - 1):  # first, middle, last entry
            y = x.copy()
            y.flat[i] = bad
            with pytest.raises(ValueError, match="`x` contains 1 non-finite"):
                check_finite(y, "x")
        y = x.copy()
        y[:, 2] = bad
        with pytest.raises(ValueError, match="`x` contains 300 non-finite"):
            check_finite(y, "x")
