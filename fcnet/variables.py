"""``Variable``: a named array that a layer owns, with a slot for its gradient.

A variable's ``value`` may be its own array or a view into a model's flat
parameter buffer (DESIGN §3); ``assign`` always writes in place, so the view
stays valid. ``grad`` is the gradient slot that a layer's ``backward`` adds into.

A training step clears every slot in O(1) (``clear_grad``): the slot then reads as
zeros, and the first writer of the step may overwrite it (``grad_to_write``), so a
layer can write ``dkernel`` with ``out=`` instead of allocating it and adding.
"""

from __future__ import annotations

import numpy

from fcnet import backend


class Variable:
    """A trainable or non-trainable array with tf.keras 2 names and Keras 3 paths.

    Args:
        value: the initial array (cast to ``dtype``).
        name: the short name (``kernel``); ``.name`` adds the scope and ``:0``.
        trainable: whether optimizers update it.
        dtype: defaults to ``backend.floatx()``.
        regularizer: a callable penalty with a ``gradient`` method, or None.
        constraint: a projection applied after each optimizer step, or None.
        scope: the layer name whose scope it was created in (tf.keras 2 name prefix).
        path: the Keras 3 path, e.g. ``sequential/dense/kernel``.
    """

    def __init__(self, value, name="variable", trainable=True, dtype=None, regularizer=None,
                 constraint=None, scope=None, path=None):
        dtype = dtype or backend.floatx()
        self.value = backend.xp.asarray(value, dtype=dtype)
        self._short_name = name
        self.name = f"{scope}/{name}:0" if scope else f"{name}:0"
        self.path = path or name
        self.trainable = trainable
        self.regularizer = regularizer
        self.constraint = constraint
        self._grad = None
        self._grad_clear = False

    @property
    def grad(self):
        """The gradient slot (None until allocated); zeros after ``clear_grad``."""
        self.settle_grad()
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        self._grad = value
        self._grad_clear = False

    def clear_grad(self) -> None:
        """Marks the slot as holding no gradient yet: it is zero-filled only if read."""
        self._grad_clear = self._grad is not None

    def settle_grad(self) -> None:
        """Zero-fills a slot still cleared, before the flat buffer is read as a whole."""
        if self._grad_clear:
            self._grad.fill(0)
            self._grad_clear = False

    def grad_to_write(self):
        """The slot, if it holds no gradient yet this step (the caller overwrites it); else None."""
        if self._grad_clear:
            self._grad_clear = False
            return self._grad
        return None

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> str:
        return str(self.value.dtype)

    @property
    def ndim(self) -> int:
        return self.value.ndim

    def numpy(self) -> numpy.ndarray:
        """A NumPy copy of the value."""
        return numpy.array(backend.to_numpy(self.value))

    def assign(self, value) -> Variable:
        """Writes ``value`` in place (a shape mismatch raises ValueError)."""
        value = backend.xp.asarray(value, dtype=self.value.dtype)
        if value.shape != self.value.shape:
            raise ValueError(
                f"Cannot assign to variable '{self.path}': expected shape {self.shape}, "
                f"received shape {tuple(value.shape)}."
            )
        self.value[...] = value
        return self

    def assign_add(self, delta) -> Variable:
        self.value += backend.xp.asarray(delta, dtype=self.value.dtype)
        return self

    def assign_sub(self, delta) -> Variable:
        self.value -= backend.xp.asarray(delta, dtype=self.value.dtype)
        return self

    def zero_grad(self) -> None:
        """Clears the gradient slot (allocating it on first use)."""
        if self.grad is None or self.grad.shape != self.value.shape:
            self.grad = backend.xp.zeros_like(self.value)
        else:
            self.grad.fill(0)

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __len__(self):
        return len(self.value)

    def __getitem__(self, index):
        return self.value[index]

    # Arithmetic reads the value, as a tf.Variable does in eager code.
    def __add__(self, other):
        return self.value + other

    def __radd__(self, other):
        return other + self.value

    def __sub__(self, other):
        return self.value - other

    def __rsub__(self, other):
        return other - self.value

    def __mul__(self, other):
        return self.value * other

    def __rmul__(self, other):
        return other * self.value

    def __matmul__(self, other):
        return self.value @ other

    def __rmatmul__(self, other):
        return other @ self.value

    def __neg__(self):
        return -self.value

    def __repr__(self) -> str:
        # The tf.Variable layout that the user's notebooks show.
        return (f"<fcnet.Variable '{self.name}' shape={self.shape} dtype={self.dtype}, "
                f"numpy={self.numpy()!r}>")
