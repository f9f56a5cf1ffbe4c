"""Layers for continuous features: ``Normalization`` (standard scores from adapted
statistics) and ``Discretization`` (bins from adapted quantiles)."""

from __future__ import annotations

import numpy

from fcnet import backend
from fcnet.layers.base import Layer
from fcnet.layers.explain import Formula, Term
from fcnet.layers.input_spec import InputSpec
from fcnet.layers.preprocessing_encoding import (
    ENCODING_MODES,
    NoGradient,
    check_output_mode,
    data_batches,
    encode_categories,
    encoded_shape,
)


class Normalization(Layer):
    """Shifts and scales features to mean 0 and standard deviation 1.

    ``y = (x - mean) / max(sqrt(variance), 1e-7)``; with ``invert=True``
    ``y = mean + x · max(sqrt(variance), 1e-7)``. ``mean`` and ``variance`` come from
    ``adapt(data)`` or from the constructor.

    Args:
        axis: the axis (or tuple of axes) with a separate mean and variance per index;
            ``-1`` (per feature, the default); ``None``: one scalar mean and variance.
        mean, variance: fixed statistics (broadcast to the kept axes), instead of adapt.
        invert: apply the inverse transformation (turn standard scores back into data).

    Input shape:
        any, e.g. ``(batch_size, features)``. Output shape: the same.

    Weights (only without a fixed ``mean``/``variance``, all non-trainable, Keras's):
        mean (kept-axes shape, zeros until adapted), variance (ones until adapted), count
        (a scalar int32 Keras keeps at 0).

    Math: dx = dy / max(sqrt(variance), 1e-7) (inverse: dx = dy · max(...)).

    Example:
        >>> layer = Normalization()
        >>> layer.adapt(numpy.array([[0., 7.], [2., 9.]]))
        >>> layer(numpy.array([[0., 7.]]))
        array([[-1., -1.]], dtype=float32)
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        self.axis = () if axis is None else (axis,) if isinstance(axis, int) else tuple(axis)
        self.input_mean, self.input_variance = mean, variance
        self.invert = bool(invert)
        self._fixed = None
        if (mean is not None) != (variance is not None):
            raise ValueError("When setting values directly, both `mean` and `variance` must "
                             f"be set. Received: mean={mean} and variance={variance}")
        if mean is not None:
            if numpy.shape(mean) != numpy.shape(variance):
                raise ValueError(
                    "When setting values directly, `mean` and `variance` must have the same "
                    f"shape. Received: mean shape {numpy.shape(mean)} and variance shape "
                    f"{numpy.shape(variance)}")
            if numpy.ndim(mean) > len(self.axis):
                raise ValueError(
                    f"The rank of `mean` must be less than or equal to the number of axes "
                    f"({len(self.axis)}). Received: mean shape {numpy.shape(mean)} for axis "
                    f"{self.axis}")

    def build(self, input_shape) -> None:
        ndim = len(input_shape)
        if any(a < -ndim or a >= ndim for a in self.axis):
            raise ValueError("All `axis` values must be in the range [-ndim, ndim). Received "
                             f"inputs with ndim={ndim}, while axis={self.axis}")
        keep = tuple(sorted(a % ndim for a in self.axis))
        for d in keep:
            if input_shape[d] is None:
                raise ValueError(
                    f"All `axis` values to be kept must have a known shape. Received "
                    f"axis={self.axis}, inputs.shape={tuple(input_shape)}, with unknown axis "
                    f"at index {d}")
        self._keep = keep
        self._reduce = tuple(d for d in range(ndim) if d not in keep)
        self._broadcast = tuple(input_shape[d] if d in keep else 1 for d in range(ndim))
        shape = tuple(input_shape[d] for d in keep)
        if self.input_mean is None:
            self.adapt_mean = self.add_weight("mean", shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", shape, "ones", trainable=False)
            self.count = self.add_weight("count", (), "zeros", dtype="int32", trainable=False)
        else:  # the given values, broadcast to the kept axes (Keras aligns them on the right)
            expanded = [1] * ndim
            for i, size in enumerate(reversed(numpy.shape(self.input_mean))):
                expanded[keep[-1 - i]] = size
            self._fixed = tuple(
                numpy.broadcast_to(numpy.reshape(numpy.asarray(v, "float64"), expanded),
                                   self._broadcast)
                for v in (self.input_mean, self.input_variance))
        self.input_spec = InputSpec(axes={d - ndim: input_shape[d] for d in keep})
        self.built = True

    def _statistics(self, dtype):
        """``(mean, max(sqrt(variance), eps))`` in the broadcast shape, of ``dtype``."""
        if not self.built:
            raise ValueError("You must call `.build(input_shape)` on the layer before using "
                             "it.")
        xp = backend.xp
        if self._fixed is not None:
            mean, variance = (xp.asarray(v, dtype) for v in self._fixed)
        else:
            mean = self.adapt_mean.value.reshape(self._broadcast).astype(dtype, copy=False)
            variance = self.adapt_variance.value.reshape(self._broadcast).astype(
                dtype, copy=False)
        return mean, xp.maximum(xp.sqrt(variance), dtype.type(backend.epsilon()))

    def forward(self, x, training=False):
        mean, scale = self._statistics(x.dtype)
        y = x * scale + mean if self.invert else (x - mean) / scale
        return y, scale

    def backward(self, ctx, dy):
        return dy * ctx if self.invert else dy / ctx

    def adapt(self, data, steps=None) -> None:
        """Sets ``mean`` and ``variance`` to the data's, per index of the kept axes.

        ``data``: a NumPy array (or anything ``numpy.asarray`` takes: a list, a pandas
        DataFrame), or an iterable of batches (a generator, a ``PyDataset``, a list of
        arrays), whose statistics are combined exactly."""
        if self.input_mean is not None:
            raise ValueError(f"Layer '{self.name}' was given `mean` and `variance`; it has "
                             "nothing to adapt.")
        batches = [b.astype("float64") for b in data_batches(data, steps)]
        shape = batches[0].shape
        if not self.built:
            self._build_in_scope((None,) + tuple(shape[1:]))
        total, mean, m2 = 0, 0.0, 0.0
        for batch in batches:
            if batch.ndim != len(self._broadcast) or any(
                    batch.shape[d] != self._broadcast[d] for d in self._keep):
                raise ValueError(f"The layer was built with input_shape={self._build_shapes}, "
                                 "but adapt() is being called with data with an incompatible "
                                 f"shape, data.shape={batch.shape}")
            n = int(numpy.prod([batch.shape[d] for d in self._reduce], dtype=int))
            batch_mean = batch.mean(axis=self._reduce)
            batch_m2 = batch.var(axis=self._reduce) * n
            delta = batch_mean - mean  # Chan et al.: pooled mean and sum of squares
            mean = mean + delta * n / (total + n)
            m2 = m2 + batch_m2 + delta ** 2 * total * n / (total + n)
            total += n
        self.adapt_mean.assign(numpy.asarray(mean).reshape(self.adapt_mean.shape))
        self.adapt_variance.assign(numpy.asarray(m2 / total).reshape(self.adapt_mean.shape))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "axis": self.axis, "invert": self.invert,
            "mean": numpy.array(self.input_mean).tolist(),
            "variance": numpy.array(self.input_variance).tolist(),
        })
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if isinstance(config.get("axis"), list):
            config["axis"] = tuple(config["axis"])
        return cls(**config)

    def _explain(self, e):
        """``y = (x − mean) / √variance``, the statistics fixed or adapted."""
        if self.invert:
            forward = [f"{e.y} = {e.x} · √variance + mean"]
            backward = [f"d{e.x} = dy · √variance"]
        else:
            forward = [f"{e.y} = ({e.x} − mean) / √variance   (mean and variance per "
                       "feature, from adapt() or the arguments)"]
            backward = [f"d{e.x} = dy / √variance"]
        return Formula("standardises each feature with a fixed mean and variance", forward,
                       backward, [Term("subtract and divide", 2, *e.y_shape[1:])])


class Discretization(NoGradient, Layer):
    """Buckets continuous values into bins: ``y = #{boundaries b : b <= x}``.

    ``bin_boundaries=[0., 1., 2.]`` makes the bins ``(-inf, 0)``, ``[0, 1)``, ``[1, 2)``,
    ``[2, inf)``, numbered 0 to 3; ``adapt(data)`` with ``num_bins`` finds boundaries at
    the data's approximate quantiles (Keras's summary: error within ``epsilon``).

    Args:
        bin_boundaries: the sorted boundaries (or None with ``num_bins``).
        num_bins: the number of bins ``adapt`` makes.
        epsilon: the quantile approximation error of ``adapt`` (0.01).
        output_mode: ``"int"`` (bin indices, int32), ``"one_hot"``, ``"multi_hot"``,
            ``"count"`` (float32 vectors of length ``len(bin_boundaries) + 1``).
        sparse: must be False.

    Input shape: any. Output shape: the same for ``"int"``; see ``CategoryEncoding``.

    Math: the output is piecewise constant in x: dx = 0. No weights.

    Example:
        >>> Discretization(bin_boundaries=[0., 1., 2.5])(numpy.array([[-1., 0.5, 3.]]))
        array([[0, 1, 3]], dtype=int32)
    """

    _accepts_any_dtype = False  # floats, as Keras converts them

    def __init__(self, bin_boundaries=None, num_bins=None, epsilon=0.01, output_mode="int",
                 sparse=False, dtype=None, name=None, **kwargs):
        kwargs.pop("trainable", None)
        super().__init__(name=name, dtype=dtype, **kwargs)
        check_output_mode("Discretization", output_mode, ("int",) + ENCODING_MODES)
        if sparse:
            raise ValueError("Discretization: `sparse=True` is not supported by fcnet. "
                             "Received: sparse=True")
        if num_bins is not None and num_bins < 0:
            raise ValueError("`num_bins` must be greater than or equal to 0. Received: "
                             f"`num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError("Both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries = None if bin_boundaries is None else list(bin_boundaries)
        self.num_bins, self.epsilon = num_bins, epsilon
        self.output_mode, self.sparse = output_mode, False

    def adapt(self, data, steps=None) -> None:
        """Sets ``bin_boundaries`` to ``num_bins - 1`` approximate quantiles of the data."""
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized "
                             "with `bin_boundaries`, use `num_bins` instead.")
        summary = numpy.zeros((2, 0), "float32")
        for batch in data_batches(data, steps):
            summary = _merge(_summarize(batch.astype("float32"), self.epsilon), summary,
                             self.epsilon)
        self.bin_boundaries = _compress(summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def call(self, inputs):
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at "
                             "construction time or call `adapt(dataset)` before you can start "
                             "using the `Discretization` layer.")
        xp = backend.xp
        bins = xp.digitize(inputs, xp.asarray(self.bin_boundaries, inputs.dtype))
        if self.output_mode == "int":
            return bins.astype("int32")
        return encode_categories(bins, self.output_mode, len(self.bin_boundaries) + 1,
                                 backend.floatx(), layer_name=self.name)

    def forward(self, x, training=False):
        return self.call(x), tuple(x.shape)

    def compute_output_shape(self, input_shape):
        if self.output_mode == "int":
            return tuple(input_shape)
        depth = (len(self.bin_boundaries) + 1 if self.bin_boundaries is not None
                 else self.num_bins)
        return encoded_shape(input_shape, self.output_mode, depth)

    def get_config(self) -> dict:
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins,
                "epsilon": self.epsilon, "output_mode": self.output_mode, "sparse": False,
                "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        boundaries = config.pop("bin_boundaries", None)
        if boundaries is not None and config.get("num_bins") is not None:
            layer = cls(**config)  # an adapted layer: its boundaries come back as they were
            layer.bin_boundaries = list(boundaries)
            return layer
        return cls(bin_boundaries=boundaries, **config)


# Keras's quantile summary: ``(2, k)`` rows of (value, weight); a batch contributes
# every ``step``-th sorted value with weight ``step``; summaries merge by sorting and
# shrink to ``1 / epsilon`` points placed at even steps of cumulative weight.

    def _explain(self, e):
        """``y`` = the bin each value falls in."""
        bins = "adapted" if self.bin_boundaries is None else len(self.bin_boundaries) + 1
        return Formula(f"puts each value into one of {bins} bins (output_mode="
                       f"{self.output_mode!r})",
                       [f"{e.y} = the bin of each value of {e.x}   (bin i: boundary[i − 1] ≤ x"
                        " < boundary[i])"],
                       ["no gradient: the layer prepares data and is not trained through"])


def _summarize(values, epsilon):
    values = numpy.sort(values.reshape(-1))
    step = max(values.size * epsilon, 1)
    points = values[int(step - 1)::int(step)]
    return numpy.stack([points, numpy.full_like(points, step)])


def _merge(summary, previous, epsilon):
    merged = numpy.concatenate((summary, previous), axis=1)
    return _compress(merged[:, numpy.argsort(merged[0])], epsilon)


def _compress(summary, epsilon):
    if summary.shape[1] * epsilon < 1:
        return summary
    targets = epsilon + numpy.arange(0.0, 1.0, epsilon)
    cumulative = summary[1].cumsum()
    fractions = cumulative / cumulative[-1]
    points = numpy.interp(targets, fractions, summary[0])
    at = numpy.interp(targets, fractions, cumulative)
    return numpy.stack((points, numpy.diff(at, prepend=0.0))).astype("float32")
