"""The functional examples run and learn: the residual MLP and the two-input, two-output
model of examples/."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name):
    return runpy.run_path(str(EXAMPLES / name))


def test_residual_mlp_learns_the_digits(capsys):
    pytest.importorskip("sklearn")
    accuracy = load("residual_mlp.py")["main"](epochs=8)
    out = capsys.readouterr().out
    assert "add (Add)" in out and "Connected to" in out  # the skips are graph edges
    assert accuracy >= 0.93


def test_two_inputs_two_outputs_trains_both_heads(capsys):
    history = load("two_inputs_two_outputs.py")["main"](epochs=8)
    assert set(history) == {
        "loss", "kind_loss", "price_loss", "kind_accuracy", "price_mae",
        "val_loss", "val_kind_loss", "val_price_loss", "val_kind_accuracy", "val_price_mae"}
    for key in ("kind_loss", "price_loss"):
        assert history[key][-1] < 0.7 * history[key][0]  # both heads learn
    for total, kind, price in zip(history["loss"], history["kind_loss"], history["price_loss"]):
        assert total == pytest.approx(kind + 0.5 * price, rel=1e-5)
    assert "{'kind': (3, 3), 'price': (3, 1)}" in capsys.readouterr().out
