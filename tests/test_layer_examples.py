"""The convolution and tabular examples run and learn: seed 003's CNN (its summary is
the tutorial's table), the small ResNet with batch normalisation, and the two-input
model on scikit-learn's diabetes table."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

# The tutorial's table (seed 003), as tf.keras 2 prints it (trailing blanks cut).
SEED003_SUMMARY = """\
_________________________________________________________________
Layer (type)                 Output Shape              Param #
=================================================================
conv2d (Conv2D)              (None, 26, 26, 32)        320
_________________________________________________________________
max_pooling2d (MaxPooling2D) (None, 13, 13, 32)        0
_________________________________________________________________
conv2d_1 (Conv2D)            (None, 11, 11, 64)        18496
_________________________________________________________________
max_pooling2d_1 (MaxPooling2 (None, 5, 5, 64)          0
_________________________________________________________________
conv2d_2 (Conv2D)            (None, 3, 3, 64)          36928
_________________________________________________________________
flatten (Flatten)            (None, 576)               0
_________________________________________________________________
dense (Dense)                (None, 64)                36928
_________________________________________________________________
dense_1 (Dense)              (None, 10)                650
=================================================================
Total params: 93,322
Trainable params: 93,322
Non-trainable params: 0
_________________________________________________________________
"""


def load(name):
    return runpy.run_path(str(EXAMPLES / name))


def test_seed003_cnn_prints_the_tutorial_summary_and_learns_the_digits(capsys):
    pytest.importorskip("sklearn")
    accuracy = load("seed003_cnn.py")["main"](["--epochs", "2"])
    out = capsys.readouterr().out
    assert SEED003_SUMMARY in "\n".join(line.rstrip() for line in out.splitlines())
    assert accuracy >= 0.85


def test_small_resnet_with_batch_normalization_learns(capsys):
    pytest.importorskip("sklearn")
    accuracy = load("resnet_cnn.py")["main"](["--epochs", "3"])
    out = capsys.readouterr().out
    assert "batch_normalization (BatchNor" in out and "add (Add)" in out
    assert "Non-trainable params: 288" in out  # the moving means and variances
    assert accuracy >= 0.85


def test_tabular_two_inputs_beats_predicting_the_mean(capsys):
    pytest.importorskip("sklearn")
    ratio = load("tabular_two_inputs.py")["main"](["--epochs", "60"])
    out = capsys.readouterr().out
    assert "scale (Normalization)" in out and "embedding (Embedding)" in out
    assert ratio < 0.85  # test error well below the mean's
