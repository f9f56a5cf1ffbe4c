"""The main job: `fcnet demo` learns the digits to at least 95% test accuracy."""

import csv
import re
import subprocess
import sys

from fcnet.__main__ import main


def test_demo_reaches_95_percent_and_writes_its_history(tmp_path, capsys):
    history = tmp_path / "history.csv"
    saved = tmp_path / "demo.keras"
    assert main(["demo", "--history", str(history), "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert 'Model: "sequential"' in out and "Total params: 17,226" in out
    assert "Epoch 30/30" in out and "\b" not in out
    accuracy = float(re.search(r"test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy >= 0.95
    rows = list(csv.DictReader(history.open()))
    assert len(rows) == 30 and {"epoch", "loss", "accuracy", "val_loss"} <= set(rows[0])
    assert f"Trained model saved to {saved}" in out
    # the pictures beside the history: a diagram naming every layer, curves that decode
    import xml.etree.ElementTree as ElementTree

    diagram = tmp_path / "history-model.svg"
    assert f"Model diagram drawn to {diagram}" in out
    text = "".join(ElementTree.parse(diagram).getroot().itertext())
    assert 'Model: "sequential"' in out
    names = re.findall(r"^(dense\S*) \(Dense\)", out, re.MULTILINE)
    assert len(names) == 3 and all(name in text for name in names)
    assert all(shape in text for shape in ("(None, 64)", "(None, 128)", "(None, 10)"))
    matplotlib_image = __import__("pytest").importorskip("matplotlib.image")
    curves = matplotlib_image.imread(tmp_path / "history-curves.png")
    assert curves.shape[0] > 100 and len({tuple(p) for p in curves.reshape(-1, 4)[::97]}) > 2

    # the saved model answers from the shell: the classes of the test images
    import numpy

    import fcnet

    (_, _), (x_test, y_test) = fcnet.datasets.digits.load_data()
    numpy.save(tmp_path / "x.npy", x_test[:50])
    assert main(["predict", str(saved), str(tmp_path / "x.npy"), "--classes"]) == 0
    printed = numpy.array(capsys.readouterr().out.split(), dtype=int)
    expected = fcnet.models.load_model(saved).predict(x_test[:50], verbose=0).argmax(axis=1)
    numpy.testing.assert_array_equal(printed, expected)
    assert (printed == y_test[:50]).mean() >= 0.9
    assert main(["predict", str(tmp_path / "missing.keras"), str(tmp_path / "x.npy")]) == 2
    assert "missing.keras" in capsys.readouterr().err


def test_module_entry_point_and_options(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "fcnet", "demo", "--epochs", "2", "--hidden", "16",
         "--batch-size", "64", "--history", str(tmp_path / "h.csv"),
         "--save", str(tmp_path / "m.keras")],
        capture_output=True, text=True, timeout=120)
    assert "dense (Dense)                (None, 16)                1040      " in result.stdout
    assert "Epoch 2/2" in result.stdout and "test accuracy" in result.stdout
    assert result.returncode == 0  # two epochs learn less, and that is a result, not a failure


def test_min_accuracy_turns_a_low_accuracy_into_a_failure(tmp_path, capsys):
    args = ["demo", "--epochs", "1", "--hidden", "4", "--history", str(tmp_path / "h.csv"),
            "--save", str(tmp_path / "m.keras"), "--no-pictures", "--min-accuracy", "0.99"]
    assert main(args) == 1
    assert "is below --min-accuracy 0.99" in capsys.readouterr().out
    assert not (tmp_path / "h-model.svg").exists()
