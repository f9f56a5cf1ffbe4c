"""The thread team: products split into blocks give what one product gives, and errors
reach the caller (no timing is asserted; training with the team on and off is compared
in tests/test_blas_threads.py)."""

import numpy
import pytest

from fcnet.backend import thread_team


@pytest.fixture
def team(monkeypatch):
    made = thread_team.ThreadTeam(3)  # three threads, even on a two-core machine
    monkeypatch.setattr(thread_team, "_TEAM", made)
    return made


@pytest.mark.parametrize("shape", [(128, 784, 512), (784, 128, 512), (100, 300, 257),
                                   (33, 2048, 64)])
def test_products_split_into_blocks_equal_the_whole_product(team, shape):
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
