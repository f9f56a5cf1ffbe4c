"""fcnet.distribution in one process: the API, the pieces of data-parallel training that
need no MPI, and that nothing changes without a job of several processes."""

import subprocess
import sys

import numpy
import pytest

import fcnet
from fcnet import distribution
from fcnet.backend import parallel
from fcnet.backend import random as backend_random
from fcnet.models import sharded


@pytest.fixture(autouse=True)
def no_distribution():
    token = parallel.suspend()
    yield
    parallel.resume(token)


def test_importing_fcnet_and_its_distribution_does_not_import_mpi4py():
    code = ("import sys, fcnet, fcnet.distribution as d; "
            "print(d.world_size(), d.rank(), d.is_chief(), 'mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["1", "0", "True", "False"]


def test_data_parallel_in_one_process_trains_exactly_as_without_it():
    def train():
        fcnet.utils.set_random_seed(5)
        x = numpy.random.default_rng(0).normal(size=(30, 3)).astype("float32")
        y = (x[:, :1] > 0).astype("float32")
        model = fcnet.Sequential([fcnet.layers.Input((3,)), fcnet.layers.Dense(4, "relu"),
                                  fcnet.layers.Dropout(0.5), fcnet.layers.Dense(1, "sigmoid")])
        model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0).history
        return model.get_weights(), history

    plain = train()
    dp = distribution.DataParallel()
    assert (dp.world_size, dp.rank, dp.is_chief) == (1, 0, True)
    with dp.scope():
        assert distribution.distribution() is dp
        inside = train()
    assert distribution.distribution() is None
    for a, b in zip(plain[0], inside[0]):
        numpy.testing.assert_array_equal(a, b)
    assert plain[1] == inside[1]


@pytest.mark.parametrize("argument", ["devices", "device_mesh"])
def test_data_parallel_refuses_devices(argument):
    with pytest.raises(ValueError, match=rf"`{argument}` must be None.*Received: {argument}="):
        distribution.DataParallel(**{argument: ["cpu:0", "cpu:1"]})
    with pytest.raises(ValueError, match="Received: auto_shard_dataset=False"):
        distribution.DataParallel(auto_shard_dataset=False)
    with pytest.raises(TypeError, match="Received: value='data_parallel'"):
        distribution.set_distribution("data_parallel")


@pytest.mark.parametrize("total, world", [(10, 2), (7, 2), (1, 2), (13, 4)])
def test_shards_cover_the_batch_in_rank_order(total, world):
    pieces = [sharded.shard(total, r, world) for r in range(world)]
    assert pieces[0][0] == 0 and pieces[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:]))
    sizes = [stop - start for start, stop in pieces]
    assert max(sizes) - min(sizes) <= 1


def _split_loss(loss, y, p, sw):
    """Σ_r S_r / Σ_r D_r over two halves, as the processes of a job merge it."""
    sums = divisors = 0.0
    for rows in (slice(0, 5), slice(5, None)):
        w = None if sw is None else sw[rows]
        part = float(loss(y[rows], p[rows], sample_weight=w))
        d = sharded.loss_divisor(loss, y[rows], p[rows], w)
        sums += part * (1.0 if d is None else d)
        divisors += 1.0 if d is None else d
    return sums if loss.reduction == "sum" else sums / divisors


@pytest.mark.parametrize("make", [
    lambda: fcnet.losses.SparseCategoricalCrossentropy(ignore_class=-1),
    lambda: fcnet.losses.SparseCategoricalCrossentropy(reduction="sum"),
    lambda: fcnet.losses.SparseCategoricalCrossentropy(ignore_class=-1,
                                                       reduction="mean_with_sample_weight"),
    lambda: fcnet.losses.MeanSquaredError(),
])
@pytest.mark.parametrize("weighted", [False, True])
def test_two_halves_merge_to_the_whole_batch_loss(make, weighted):
    rng = numpy.random.default_rng(2)
    logits = rng.normal(size=(12, 3)).astype("float32")
    p = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    loss = make()
    if isinstance(loss, fcnet.losses.MeanSquaredError):
        y = rng.normal(size=(12, 3)).astype("float32")
    else:
        y = numpy.array([0, 1, -1, 2, -1, -1, 1, 0, 2, 2, -1, 1])  # uneven ignored labels
        if getattr(loss, "ignore_class", None) is None:
            y = numpy.abs(y)
    sw = rng.uniform(0.1, 2.0, size=12).astype("float32") if weighted else None
    whole = float(loss(y, p, sample_weight=sw))
    assert _split_loss(loss, y, p, sw) == pytest.approx(whole, rel=1e-6)


def test_batch_draw_keeps_this_process_rows_of_the_global_draw():
    full = numpy.random.default_rng(9).random((8, 3))
    rng = numpy.random.default_rng(9)
    with parallel.batch_rows((2, 5, 8)):
        part = backend_random.batch_draw(rng.random, (3, 3))
    numpy.testing.assert_array_equal(part, full[2:5])
    assert rng.random() == _next_after(9, (8, 3))  # moved on by the whole global draw
    plain = numpy.random.default_rng(9)
    numpy.testing.assert_array_equal(backend_random.batch_draw(plain.random, (3, 3)),
                                     numpy.random.default_rng(9).random((3, 3)))


def _next_after(seed, shape):
    rng = numpy.random.default_rng(seed)
    rng.random(shape)
    return rng.random()


@pytest.mark.parametrize("layer", [
    lambda: fcnet.layers.Dropout(0.5, seed=3),
    lambda: fcnet.layers.GaussianNoise(0.5, seed=3),
    lambda: fcnet.layers.GaussianDropout(0.4, seed=3),
])
def test_random_layers_draw_the_global_batch_rows(layer):
    x = numpy.arange(1, 33, dtype="float32").reshape(8, 4)
    whole = layer().forward(x, training=True)[0]
    with parallel.batch_rows((5, 8, 8)):
        mine = layer().forward(x[5:], training=True)[0]
    numpy.testing.assert_array_equal(mine, whole[5:])


def test_activity_penalty_is_scaled_by_the_global_batch():
    from fcnet.layers.regularization import activity_value

    y = numpy.ones((3, 2), "float32")
    l1 = fcnet.regularizers.L1(0.5)
    assert activity_value(l1, y) == pytest.approx(0.5 * 6 / 3)
    with parallel.batch_rows((0, 3, 12)):
        assert activity_value(l1, y) == pytest.approx(0.5 * 6 / 12)


def test_a_failing_process_waits_until_its_report_is_read_out_of_the_pipe(tmp_path):
    """The launcher ends the job on MPI_Abort without reading what is left in its pipes,
    so ``abort`` first waits until the report has been read (or gives up)."""
    import os
    import threading
    import time

    from fcnet.distribution.communicator import wait_until_read

    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        stream.write("process rank 1 of 2 failed\n")
        stream.flush()
        started = time.monotonic()
        assert wait_until_read(stream, timeout=0.2) is False  # nobody reads: gives up
        assert 0.2 <= time.monotonic() - started < 1.0

        got = []
        reader = threading.Timer(0.3, lambda: got.append(os.read(read, 100)))
        reader.start()
        started = time.monotonic()
        assert wait_until_read(stream, timeout=5.0) is True
        assert time.monotonic() - started >= 0.25 and got == [b"process rank 1 of 2 failed\n"]
        reader.join()
    os.close(read)
    with open(tmp_path / "log", "w") as stream:  # a file: nothing to wait for
        stream.write("x")
        assert wait_until_read(stream, timeout=5.0) is True
