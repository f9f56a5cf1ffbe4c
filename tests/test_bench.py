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


def test_the_import_row_reads_a_bytecode_cache_brought_up_to_date(monkeypatch, tmp_path):
    """E says "bytecode cached": where the machine sets PYTHONDONTWRITEBYTECODE, a module
    edited since its last cached import was compiled at every one of E's runs (E read
    204-229 ms against 108 with the cache)."""
    import import_time  # bench/import_time.py

    seen = []
    monkeypatch.setattr(import_time, "measure", lambda runs, env: seen.append(env) or (0, 0))
    monkeypatch.setattr(run, "BENCH_ENV", dict(run.BENCH_ENV, PYTHONDONTWRITEBYTECODE="1",
                                               PYTHONPYCACHEPREFIX=str(tmp_path)))
    run.import_and_size()
    assert "PYTHONDONTWRITEBYTECODE" not in seen[0]
    assert seen[0]["PYTHONPYCACHEPREFIX"] == str(tmp_path)
    assert list(tmp_path.rglob("data_adapter.*.pyc"))  # written by the import before
