"""California housing prices (20,640 block groups, 8 features, the median house value
in $), as ``keras.datasets.california_housing``."""

from __future__ import annotations

from fcnet.datasets import _cache


def load_data(version: str = "large", path: str = "california_housing.npz",
              test_split: float = 0.2, seed: int = 113):
    """Loads the California housing data from Keras's cache
    (``datasets/california_housing.npz``), downloading it when missing.

    Args:
        version: ``"large"`` (all 20,640 rows) or ``"small"`` (the first 600).
        path: the file's name in the cache folder.
        test_split: the fraction kept for testing, in ``[0, 1)``.
        seed: the shuffle's seed.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` of shape ``(n, 8)``, ``y`` of
        shape ``(n,)``, in the file's dtypes.
    """
    _cache.check_test_split(test_split)
    if version not in ("small", "large"):
        raise ValueError("Argument `version` must be one of 'small', 'large'. "
                         f"Received: version={version}")
    path = _cache.fetch(path, origin_name="california_housing.npz")
    x, y = _cache.require(_cache.load_npz(path), ("x", "y"), path)
    if version == "small":
        x, y = x[:600], y[:600]
    return _cache.split(x, y, test_split, seed)
