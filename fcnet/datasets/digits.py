"""The handwritten digits that scikit-learn ships (1,797 images of 8×8 pixels).

``load_data()`` returns ``(x_train, y_train), (x_test, y_test)`` as Keras's dataset
loaders do: pixels scaled to [0, 1] as float32 of shape ``(n, 64)``, integer labels
0–9. With ``image_size=s`` the images come as ``(n, s, s, 1)`` (channels last, as a
CNN takes them), resized bilinearly: MNIST-sized digits with ``image_size=28``.
scikit-learn (the ``demo`` extra) supplies the data from its own package files.
"""

from __future__ import annotations

import numpy


def load_data(test_split: float = 0.2, seed: int = 113, image_size: int | None = None):
    """A shuffled train/test split of the digits: ``((x_train, y_train), (x_test, y_test))``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise ImportError("The digits dataset comes from scikit-learn: "
                          "pip install 'fcnet[demo]'") from error
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    if image_size is not None:
        x = resize_images(x.reshape(-1, 8, 8), image_size)[..., None]
    y = data.target.astype("int64")
    order = numpy.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])


def resize_images(images, size: int):
    """``(n, h, w) -> (n, size, size)`` by bilinear interpolation (pixel centres aligned,
    edges clamped): ``out = A_h · image · A_wᵀ`` with one interpolation matrix per axis."""
    rows = _interpolation_matrix(images.shape[1], size)
    cols = _interpolation_matrix(images.shape[2], size)
    return numpy.einsum("ih,nhw,jw->nij", rows, images, cols).astype(images.dtype)


def _interpolation_matrix(n: int, size: int):
    """``A (size, n)``: row i mixes the two source pixels around ``(i + ½)·n/size − ½``."""
    source = numpy.clip((numpy.arange(size) + 0.5) * n / size - 0.5, 0, n - 1)
    low = numpy.floor(source).astype(int)
    high = numpy.minimum(low + 1, n - 1)
    frac = source - low
    matrix = numpy.zeros((size, n))
    matrix[numpy.arange(size), low] += 1 - frac
    matrix[numpy.arange(size), high] += frac
    return matrix
