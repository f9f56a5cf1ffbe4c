"""The main job: `fcnet demo` learns the digits to at least 95% test accuracy."""

import csv
import re
import subprocess
import sys

from fcnet.__main__ import main


def test_demo_reaches_95_percent_and_writes_its_history(tmp_path, capsys):
    history = tmp_path / "history.csv"
    assert main(["demo", "--history", str(history)]) == 0
    out = capsys.readouterr().out
    assert 'Model: "sequential"' in out and "Total params: 17,226" in out
    assert "Epoch 30/30" in out and "\b" not in out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95
    rows = list(csv.DictReader(history.open()))
    assert len(rows) == 30 and {"epoch", "loss", "accuracy", "val_loss"} <= set(rows[0])


def test_module_entry_point_and_options(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fcnet", "demo", "--epochs", "2", "--hidden", "16",
         "--batch-size", "64", "--history", str(tmp_path / "h.csv")],
        capture_output=True, text=True, timeout=120)
    assert "dense (Dense)                (None, 16)                1040      " in result.stdout
    assert "Epoch 2/2" in result.stdout and "test accuracy" in result.stdout
