"""The handwritten digits that scikit-learn ships (1,797 images of 8×8 pixels).

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)`` as Keras's dataset
loaders do: pixels scaled to [0, 1] as float32 of shape ``(n, 64)``, integer labels
0–9. scikit-learn (the ``demo`` extra) supplies the data from its own package files.
"""

from __future__ import annotations

import numpy


def load_data(test_split: float = 0.2, seed: int = 113):
    """A shuffled train/test split of the digits: ``((x_train, y_train), (x_test, y_test))``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise ImportError("The digits dataset comes from scikit-learn: "
                          "pip install 'fcnet[demo]'") from error
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int64")
    order = numpy.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])
