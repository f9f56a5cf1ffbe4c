"""Boston housing prices (506 suburbs, 13 features, the median value in k$), as
``keras.datasets.boston_housing``. The data set has an ethical problem (a feature built
on the assumption that racial self-segregation raised prices); prefer
``california_housing`` for new work."""

from __future__ import annotations

from fcnet.datasets import _cache


def load_data(path: str = "boston_housing.npz", test_split: float = 0.2, seed: int = 113):
    """Loads the Boston housing data from Keras's cache (``datasets/boston_housing.npz``),
    downloading it when missing.

    Args:
        path: the file's name in the cache folder.
        test_split: the fraction kept for testing, in ``[0, 1)``.
        seed: the shuffle's seed.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` float64 of shape ``(n, 13)``,
        ``y`` float64 of shape ``(n,)`` (the file's own dtypes).
    """
    _cache.check_test_split(test_split)
    path = _cache.fetch(path, origin_name="boston_housing.npz")
    x, y = _cache.require(_cache.load_npz(path), ("x", "y"), path)
    return _cache.split(x, y, test_split, seed)
