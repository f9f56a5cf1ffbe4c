"""``Affine``: the tail shared by Dense and the convolutions, ``y = activation(z)`` with
``z`` an affine map of the input (``x · kernel + bias``, or the same on image patches).

A subclass writes the affine part only:

    _affine(x) -> (z, saved)            z, a fresh array (the bias added), and what the
                                        weight and input gradients need
    _affine_backward(ctx, dz, need_dx, overwrite) -> dx
                                        the weight gradients from dL/dz into the slots
                                        (``overwrite``: True → written with ``out=``;
                                        False → added; None → none, the layer is frozen);
                                        dL/dx when ``need_dx``

and gets here: the activation applied in place where its gradient needs only ``y``; its
backward ``dz = f'(z) ⊙ dy``; the engine's ``backward_step`` (activity penalty, first
write of the pass, ``dx`` only where needed, ``from_z``: start from dL/dz when the loss
fuses with a softmax/sigmoid output); ``output_activation``; and a user subclass's own
``backward``, which the engine then runs instead.

A subclass whose ``_affine_backward`` takes the keyword ``bias_written`` lets the tail
compute the bias gradient with the activation's backward: for plain ``relu`` on float32
NumPy arrays with a trainable bias, ``fcnet.ops.compiled`` writes ``dz = dy · [y > 0]``
and ``db = Σ dz`` in one pass (the sum in double, rounded once: it may differ from the
float32 reference sum in the last bits), and ``_affine_backward`` then runs with
``bias_written=True`` and leaves the bias alone.

A subclass may also write ``_relu_backward_fused(ctx, dy, overwrite, need_dz)``: for a relu
with a trainable bias it then gets the first try at the whole weight backward (``dz = dy ·
[y > 0]``, the bias and kernel gradients) in one compiled pass, returning ``(dz,)`` (``dz``
None when not ``need_dz``), ``(None, dx)`` when it computed the input gradient in that pass
too, or None to decline; after ``(dz,)`` the tail asks ``_affine_backward`` for ``dx``
alone (``overwrite`` None: no weight written). Conv1D/Conv2D use it for few input
channels (``fcnet.ops.compiled.relu_backward_conv``).

A subclass whose ``_affine`` takes ``add_bias`` may write ``_relu_forward_fused(x)``: for
a relu with a bias and the compiled kernels enabled it then gets the first try at the
whole forward (product, bias and relu in one pass), returning ``(y, saved)`` or None to
decline. Conv1D/Conv2D use it for few input channels and small kernels
(``fcnet.ops.compiled.conv_bias_relu``).

``ctx`` is ``(saved, z, y)``.
"""

from __future__ import annotations

import inspect

from fcnet import activations, constraints, initializers, regularizers
from fcnet.layers.arguments import serialize_or_none
from fcnet.layers.base import Layer
from fcnet.ops import compiled


class Affine(Layer):
    """Base class of the layers computing ``y = activation(affine(x))`` (Dense, Conv*).

    Subclasses set ``self.activation`` (an activation function or None), ``self.use_bias``
    and write ``_affine`` and ``_affine_backward``.
    """

    # Whether a subclass wrote its own ``backward``, which the engine must then run.
    _own_backward = False
    # Whether ``_affine_backward`` takes the step's ``Fold`` as ``overwrite`` (Dense).
    _folds = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._own_backward = cls.backward is not Affine.backward
        cls._bias_in_tail = "bias_written" in inspect.signature(
            cls._affine_backward).parameters
        cls._bias_in_affine = "add_bias" in inspect.signature(cls._affine).parameters
        cls._relu_fused = cls._relu_backward_fused is not Affine._relu_backward_fused
        cls._relu_forward = (cls._bias_in_affine
                             and cls._relu_forward_fused is not Affine._relu_forward_fused)

    def _set_affine_args(self, activation, use_bias, kernel_initializer, bias_initializer,
                         kernel_regularizer, bias_regularizer, activity_regularizer,
                         kernel_constraint, bias_constraint) -> None:
        """The constructor arguments every affine layer takes (Keras's names), resolved."""
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)

    def _affine_config(self) -> dict:
        """Those arguments as Keras writes them in a config (``activity_regularizer``
        apart: Dense writes it only when set)."""
        return {
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": serialize_or_none(regularizers, self.kernel_regularizer),
            "bias_regularizer": serialize_or_none(regularizers, self.bias_regularizer),
            "kernel_constraint": serialize_or_none(constraints, self.kernel_constraint),
            "bias_constraint": serialize_or_none(constraints, self.bias_constraint),
        }

    def forward(self, x, training=False):
        f = self.activation
        if (f is activations.relu and self._bias_in_affine and self.use_bias
                and compiled.enabled()):  # bias and relu in one compiled pass over z
            if self._relu_forward:  # the product too, where the subclass can
                done = self._relu_forward_fused(x)
                if done is not None:
                    y, saved = done
                    return y, (saved, y, y)
            z, saved = self._affine(x, add_bias=False)
            if compiled.bias_relu(z, self.bias.value) is None:
                z += self.bias.value
                activations.in_place(activations.relu)(z)
            return z, (saved, z, z)
        z, saved = self._affine(x)
        if f is None or f is activations.linear:
            y = z
        else:  # in place where the gradient needs only y (z is then y)
            y = (activations.in_place(f) or f)(z)
        return y, (saved, z, y)

    @property
    def output_activation(self):
        return None if self._own_backward else self.activation

    def backward(self, ctx, dy):
        """dL/dx from dL/dy; adds the weight gradients into the variables' ``grad``."""
        return self._affine_backward(ctx, self.activation_backward(ctx, dy), True, False)

    def backward_step(self, ctx, dy, step, need_dx=True, from_z=False):
        """The engine's backward: the weight gradients written straight into the gradient
        slots on the layer's first write of the pass (added after), none when frozen;
        ``dx`` only when ``need_dx``; ``from_z``: ``dy`` is already dL/dz."""
        if self._own_backward:
            return super().backward_step(ctx, dy, step, need_dx, from_z)
        if self.activity_regularizer is not None:
            ctx, dy = self._activity_backward(ctx, dy)
        overwrite = step.first_write(self) if self._trainable else None
        if overwrite and self._folds and step.fold is not None:
            overwrite = step.fold  # an overwrite, where SGD may fold its step into it
        if (self.activation is activations.relu and not from_z and overwrite is not None
                and self._bias_in_tail):
            if self._relu_fused:  # every weight gradient in one pass; then dx alone
                done = self._relu_backward_fused(ctx, dy, overwrite, need_dx)
                if done is not None:
                    if not need_dx:
                        return None
                    if len(done) == 2:  # dx computed in the same pass
                        return done[1]
                    return self._affine_backward(ctx, done[0], True, None, bias_written=True)
            dz = self._relu_backward_with_bias(ctx, dy, overwrite)
            if dz is not None:
                return self._affine_backward(ctx, dz, need_dx, overwrite, bias_written=True)
        dz = dy if from_z else self.activation_backward(ctx, dy)
        return self._affine_backward(ctx, dz, need_dx, overwrite)

    def _relu_backward_with_bias(self, ctx, dy, overwrite):
        """``dz`` of a relu with the bias gradient written (``overwrite``) or added into its
        slot, in one compiled pass; None where it may not run (no trainable bias, not
        float32 NumPy arrays, ``FCNET_FUSED=0``, no compiled module)."""
        if not self.use_bias:
            return None
        bias = self.bias
        if bias is None or not bias.trainable:
            return None
        return compiled.relu_backward_bias(dy, ctx[2], bias.grad, add=not overwrite)

    def _relu_backward_fused(self, ctx, dy, overwrite, need_dz):
        """A relu's ``dz = dy · [y > 0]`` with every weight gradient (kernel and bias) written
        (``overwrite``) or added into its slot in one pass: ``(dz,)`` (``dz`` None when not
        ``need_dz``), ``(None, dx)`` (the input gradient from the same pass, when
        ``need_dz``), or None where it may not run. Only subclasses that override it are
        asked."""
        return None

    def _relu_forward_fused(self, x):
        """A relu layer's whole forward ``y = max(affine(x), 0)`` (the bias added) in one
        compiled pass: ``(y, saved)`` as ``_affine`` saves, or None where it may not run.
        Only subclasses that override it (and whose ``_affine`` takes ``add_bias``) are
        asked, for relu with a bias and the compiled kernels enabled."""
        return None

    def activation_backward(self, ctx, dy):
        """dL/dz from dL/dy through the activation: ``dz = f'(z) · dy``."""
        _, z, y = ctx
        f = self.activation
        if f is None or f is activations.linear:
            return dy
        gradient = activations.gradient_of(f)
        if gradient is None:
            raise NotImplementedError(
                f"Layer '{self.name}': activation {f!r} has no `gradient`, so the layer "
                "cannot be trained. Give the function a `gradient(dy, x, y)` attribute.")
        return gradient(dy, z, y)

    def _affine(self, x):
        raise NotImplementedError

    def _affine_backward(self, ctx, dz, need_dx, overwrite):
        raise NotImplementedError


def write_gradient(variable, overwrite, compute) -> None:
    """Puts a weight gradient into ``variable.grad``: ``compute(out)`` writes it into
    ``out`` (``overwrite`` True) or returns it to be added (``overwrite`` False, ``out``
    None); nothing when ``overwrite`` is None (a frozen layer) or the variable is frozen."""
    if overwrite is None or variable is None or not variable.trainable:
        return
    if overwrite:
        compute(variable.grad)
    else:
        variable.grad += compute(None)
