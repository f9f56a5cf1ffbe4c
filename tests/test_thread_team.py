"""The thread team: products split by rows and kernels split by samples give what one
call gives, errors reach the caller, and training is the same with the team on or off
(no timing is asserted)."""

import numpy
import pytest

import fcnet
from fcnet.backend import thread_team
from fcnet.ops import compiled
from fcnet.ops.conv import Geometry, col2im, empty_cols, im2col, pad
from fcnet.ops.pooling import max_pool_backward, max_pool_forward


@pytest.fixture
def team(monkeypatch):
    made = thread_team.ThreadTeam(3)  # three threads, even on a two-core machine
    monkeypatch.setattr(thread_team, "_TEAM", made)
    return made


@pytest.mark.parametrize("shape", [(128, 784, 512), (784, 128, 512), (100, 300, 257),
                                   (33, 2048, 64)])
def test_products_split_by_rows_equal_the_whole_product(team, shape):
    m, k, n = shape
    rng = numpy.random.default_rng(0)
    a = rng.normal(size=(m, k)).astype(numpy.float32)
    b = rng.normal(size=(k, n)).astype(numpy.float32)
    team.active = True
    assert len(team.bounds(m)) > 1
    # float32 rounding: BLAS may take another kernel for a block of a few rows
    bound = 16 * numpy.finfo(numpy.float32).eps * (numpy.abs(a) @ numpy.abs(b))
    for left, right in [(a, b), (numpy.ascontiguousarray(a.T).T, b),
                        (a, numpy.ascontiguousarray(b.T).T)]:
        whole = left @ right
        assert numpy.all(numpy.abs(thread_team.matmul(left, right) - whole) <= bound)
        out = numpy.empty_like(whole)
        assert thread_team.matmul(left, right, out=out) is out
        assert numpy.all(numpy.abs(out - whole) <= bound)


def test_row_blocks_cover_the_output_once(team):
    for rows in (1, 15, 16, 31, 32, 100, 128, 784, 4097):
        bounds = team.bounds(rows)
        assert bounds[0][0] == 0 and bounds[-1][1] == rows
        assert all(a < b and b == c for (a, b), (c, _) in zip(bounds, bounds[1:]))
        assert len(bounds) <= thread_team.BLOCKS_PER_THREAD * team.threads
        sizes = [b - a for a, b in bounds]
        assert max(sizes) - min(sizes) <= 1
        assert len(bounds) == 1 or min(sizes) >= thread_team.MIN_ROWS


def test_an_error_in_a_task_reaches_the_caller(team):
    def fails():
        raise ValueError("a task failed")

    done = []
    with pytest.raises(ValueError, match="a task failed"):
        team.run([lambda: done.append(1), fails, lambda: done.append(2)])
    assert sorted(done) == [1, 2]  # the other tasks still ran
    team.run([lambda: done.append(3)] * 4)  # and the team still works
    assert done.count(3) == 4


def test_by_samples_covers_every_sample_once(team):
    seen = []
    team.share = True
    team.by_samples(10, lambda a, b: seen.append((a, b)), work=1 << 20)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]
    seen.clear()
    team.by_samples(10, lambda a, b: seen.append((a, b)), work=10)  # too small to share
    assert seen == [(0, 10)]
    team.share = False
    seen.clear()
    team.by_samples(10, lambda a, b: seen.append((a, b)), work=1 << 20)
    assert seen == [(0, 10)]


@pytest.mark.skipif(not compiled.enabled(), reason="the compiled kernels are not built")
@pytest.mark.parametrize("channels", [16, 1])  # the rows layout (split) and the transposed
def test_kernels_shared_by_samples_give_the_same_bits(team, channels):
    rng = numpy.random.default_rng(1)
    x = rng.normal(size=(80, 30, 30, channels)).astype(numpy.float32)
    geometry = Geometry.of_conv((30, 30), (3, 3), (1, 1), (1, 1), "same")
    dcols = empty_cols(geometry, 80, channels, numpy.float32)
    dcols[...] = rng.normal(size=dcols.shape)
    results = []
    for share in (False, True):
        team.share = share
        y, ctx = max_pool_forward(x, (2, 2), (2, 2))
        results.append((im2col(pad(x, geometry), geometry), col2im(dcols, geometry, 80,
                        channels), y, max_pool_backward(ctx, numpy.ones_like(y))))
    assert x.size >= thread_team.MIN_SHARED_WORK  # large enough to be shared
    for off, on in zip(*results):
        numpy.testing.assert_array_equal(on, off)


def test_a_cnn_trains_to_the_same_weights_with_kernels_shared(team, monkeypatch):
    monkeypatch.setenv("FCNET_BLAS_GOVERNOR", "0")  # the test sets the team's sharing
    monkeypatch.setattr(fcnet.backend.blas_threads, "_SHARED", None)
    shared_calls = []  # the number of tasks of each shared call
    original = thread_team.ThreadTeam.run

    def run(self, tasks):
        shared_calls.append(len(tasks))
        return original(self, tasks)

    monkeypatch.setattr(thread_team.ThreadTeam, "run", run)

    def fit(share):
        team.share = share
        fcnet.utils.set_random_seed(5)
        model = fcnet.Sequential([
            fcnet.Input((16, 16, 3)), fcnet.layers.Conv2D(16, 3, activation="relu"),
            fcnet.layers.MaxPooling2D(2), fcnet.layers.Conv2D(8, 3, activation="relu"),
            fcnet.layers.Flatten(), fcnet.layers.Dense(3)])
        model.compile("adam", fcnet.losses.SparseCategoricalCrossentropy(from_logits=True))
        rng = numpy.random.default_rng(2)
        x = rng.normal(size=(128, 16, 16, 3)).astype(numpy.float32)
        model.fit(x, rng.integers(0, 3, 128), batch_size=64, epochs=2, verbose=0)
        return model.get_weights()

    plain = fit(False)
    assert not shared_calls
    shared = fit(True)
    if compiled.enabled():
        assert len(shared_calls) >= 4 * 3  # 4 steps: pooling both ways, im2col, col2im
    for a, b in zip(plain, shared):
        numpy.testing.assert_array_equal(a, b)
