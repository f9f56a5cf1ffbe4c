"""``Variable``: a named array that a layer owns, with a slot for its gradient.

A variable's ``value`` may be its own array or a view into a model's flat
parameter buffer (DESIGN §3); ``assign`` always writes in place, so the view
stays valid. ``grad`` is the gradient slot a layer's ``backward`` adds into: once
the model packs its parameters, a view into the flat gradient buffer, which is what
the optimizer and the gradient checker read. It cannot be replaced, only written in
place (``w.grad += dw``); which write of a pass overwrites and which adds is the
engine's business (``fcnet.layers.Step``).
"""

from __future__ import annotations

import numpy

from fcnet import backend

_generation = [0]


def bump_generation() -> None:
    """Marks that what some model trains changed (a variable or layer frozen or thawed,
    weights made anew): models remake their plan of which backward passes a step needs."""
    _generation[0] += 1


def generation() -> int:
    return _generation[0]


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
        self._trainable = bool(trainable)
        self.regularizer = regularizer
        self.constraint = constraint
        self._grad = None

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        bump_generation()

    @property
    def grad(self):
        """The gradient slot: a view into the model's flat gradient buffer once packed,
        before that an array of the variable's own (zeros when first read)."""
        if self._grad is None or self._grad.shape != self.value.shape:
            self._grad = backend.xp.zeros_like(self.value)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not self._grad:  # ``w.grad += dw`` hands back the same array: fine
            raise AttributeError(
                f"Variable '{self.path}': `.grad` is the slot the optimizer reads and cannot "
                "be replaced. Add the gradient into it in place: `w.grad += dw` (a layer "
                "called twice in one pass adds both of its gradients).")

    def _bind(self, value, grad) -> None:
        """Makes ``value`` and ``grad`` the variable's arrays (views into flat buffers)."""
        self.value = value
        self._grad = grad

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
        """Fills the gradient slot with zeros."""
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
