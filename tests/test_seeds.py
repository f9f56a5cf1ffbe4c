"""The user's documents (seeds 000 and 001) run on fcnet and print what they print."""

import re
import runpy
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name, capsys):
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return capsys.readouterr().out


def test_seed_000(capsys):
    out = run_example("seed000_fully_connected.py", capsys)
    lines = out.splitlines()
    assert lines[0] == "(4, 512)"
    assert lines[1] == "((784, 512), (512,))"
    assert lines[2] == "'Dense' object has no attribute 'bias'"
    assert lines[3:5] == ["[]", "[]"]
    assert lines[5] == "((4, 10), (10,))"
    assert lines[6] == "((20, 10), (10,))"
    assert lines[7].startswith("<fcnet.Variable 'kernel:0' shape=(4, 10) dtype=float32, "
                               "numpy=array([[")
    values = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", out.split("numpy=")[1]
                                           .split("dtype")[0])]
    assert len(values) == 40 and max(abs(v) for v in values) <= np.sqrt(6 / 14)
    start = lines.index('Model: "sequential"')
    table = lines[start:start + 14]
    assert table[4] == "dense_2 (Dense)              (None, 2)                 8         "
    assert table[6] == "dense_3 (Dense)              (None, 2)                 6         "
    assert table[8] == "dense_4 (Dense)              (None, 2)                 6         "
    assert table[10:13] == ["Total params: 20", "Trainable params: 20",
                            "Non-trainable params: 0"]
    assert lines[start + 14:] == [
        "dense_2/kernel:0 (3, 2)", "dense_2/bias:0 (2,)", "dense_3/kernel:0 (2, 2)",
        "dense_3/bias:0 (2,)", "dense_4/kernel:0 (2, 2)", "dense_4/bias:0 (2,)"]


def test_seed_001(capsys):
    out = run_example("seed001_what_dense_does.py", capsys)
    assert "dense (Dense)                (None, 25600)             2560000   " in out
    assert "Total params: 2,560,000" in out
    assert "(100, 25600) 2560000" in out
    assert "dense_1 (Dense)              (None, 32)                544       " in out
    assert "dense_2 (Dense)              (None, 32)                1056      " in out
    assert "Total params: 1,600" in out
    assert "(5, 32)" in out and "(2, 3, 5)" in out


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("seed00[01]*.py")))
def test_examples_run_as_scripts(name, capsys):
    assert run_example(name, capsys)
