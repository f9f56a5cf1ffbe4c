"""The embedded digits: the split, and the bilinear resize to CNN-sized images."""

import numpy as np

from fcnet.datasets import digits


def test_resize_is_bilinear_with_pixel_centres_aligned():
    # Two pixels [0, 1] to four: centres at -0.25, 0.25, 0.75, 1.25 in source pixels,
    # clamped to [0, 1] -> 0, 0.25, 0.75, 1 (worked by hand).
    image = np.array([[[0.0, 1.0], [0.0, 1.0]]], "float32")
    out = digits.resize_images(image, 4)
    np.testing.assert_allclose(out[0, 0], [0, 0.25, 0.75, 1])
    np.testing.assert_allclose(out[0], np.tile([0, 0.25, 0.75, 1], (4, 1)))
    assert out.dtype == np.float32


def test_load_data_as_images():
    (x, y), (x_test, y_test) = digits.load_data(image_size=28)
    (flat, flat_y), _ = digits.load_data()
    assert x.shape == (1437, 28, 28, 1) and x_test.shape == (360, 28, 28, 1)
    assert x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    np.testing.assert_array_equal(y, flat_y)  # the same shuffle and split
    # Resizing back to 8x8 averages neighbours: close to, not equal to, the original.
    back = digits.resize_images(x[..., 0], 8).reshape(len(x), 64)
    assert np.abs(back - flat).mean() < 0.1
