"""The benchmark scripts' own plumbing (no timing is asserted): a worker that fails is
reported, not dropped; every peer's workload builds and runs on a sliver of its data."""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (bench/run.py)
import workloads  # noqa: E402  (bench/workloads.py)


def test_a_failed_worker_is_reported_with_its_error(capsys):
    found = run.result(run.worker("C", "no-such-framework", 0.01))
    assert found is None
    err = capsys.readouterr().err
    assert "worker C no-such-framework failed" in err
    assert "Unknown framework 'no-such-framework'" in err


@pytest.mark.parametrize("workload", ["B", "C"])
def test_the_scikit_learn_workloads_run(workload):
    pytest.importorskip("sklearn")
    x, y = workloads.data(workload, 0.025)
    step, units = workloads.sklearn_run(workload, x[:256], y[:256])
    step()  # scikit-learn 1.9's MLPRegressor takes `loss` first: a positional size failed
    assert units == (1 if workload == "C" else 2)  # steps of batch 256 and 128
