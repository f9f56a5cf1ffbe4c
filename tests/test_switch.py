"""``FCNET_FUSED`` as fcnet reads it (``fcnet.backend.switch``): against the rule in
Python, ``os.environ.get("FCNET_FUSED", "1").strip() != "0"``, for each way of setting it."""

import os

import pytest

from fcnet.backend import switch

VALUES = [None, "0", " 0 ", "\t0\n", "1", "00", "0x", "", " ", "false", "2"]


def python_rule() -> bool:
    return os.environ.get("FCNET_FUSED", "1").strip() != "0"


@pytest.mark.parametrize("value", VALUES)
def test_fused_wanted_follows_os_environ(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("FCNET_FUSED", raising=False)
    else:
        monkeypatch.setenv("FCNET_FUSED", value)
    assert switch.fused_wanted() is python_rule()


def test_a_change_is_seen_at_the_next_call(monkeypatch):
    monkeypatch.setenv("FCNET_FUSED", "0")
    assert switch.fused_wanted() is False
    del os.environ["FCNET_FUSED"]
    assert switch.fused_wanted() is True
    os.environ["FCNET_FUSED"] = "0"
    assert switch.fused_wanted() is False
    os.environ.update({"FCNET_FUSED": "1"})
    assert switch.fused_wanted() is True


def test_the_compiled_reader_is_in_use_where_built():
    pool = pytest.importorskip("fcnet._pool")
    if not hasattr(pool, "fused_wanted"):
        pytest.skip("Python without its GIL: os.environ is read")
    assert switch.fused_wanted is pool.fused_wanted
