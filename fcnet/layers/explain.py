"""``layer.explain()``: what a built layer computes, written with its actual shapes.

For one layer the text holds the forward formula (``y[4, 512] = relu(x[4, 784] ·
kernel[784, 512] + bias[512])``), the backward equations (``dkernel[784, 512] = xᵀ ·
dz``), the parameter count as the product it is (``784 × 512 + 512 = 401,920``), the
FLOPs of one sample's forward pass and the bytes of its output per sample.

Conventions (said in the text too):

- a multiply-add counts as 2 FLOPs; one add, multiply, compare or divide as 1;
- an element-wise activation costs 1 FLOP per value (exp, tanh and the like count as
  one, as most FLOP counters count them), softmax 3 (exp, sum, divide), linear 0;
- FLOPs are those of the forward pass at inference, per sample (the batch axis left
  out); the backward pass of a layer with weights costs about twice its forward;
- activation bytes are the layer's output per sample, at its dtype (float32: 4 bytes).

A layer writes what is its own in ``_explain(self, e)``, next to its math: ``e``
(``Shapes``) formats tensors with the shapes of this call, and the hook returns a
``Formula``. A layer without the hook (a user's layer) gets a generic explanation.
"""

from __future__ import annotations

import numpy

from fcnet.layers.calling import is_shape, output_shape_of

CONVENTIONS = ["FLOPs: the forward pass at inference, per sample; a multiply-add = 2 FLOPs,",
               "an add, multiply, compare or divide = 1, an activation = 1 per value (softmax 3,",
               "linear 0). Activations: the output values per sample, at the layer's dtype."]


class Term:
    """One part of a FLOP count: ``factors`` multiplied, with what they count."""

    def __init__(self, label: str, *factors):
        self.label = label
        self.factors = list(factors) or [1]
        self.value = None if any(f is None for f in factors) else int(numpy.prod(
            [int(f) for f in factors], dtype=numpy.int64))

    @property
    def text(self) -> str:
        return " × ".join("?" if f is None else f"{f:,}" for f in self.factors)


class Formula:
    """What a layer computes: a one-line description, the forward and backward lines
    (written with ``Shapes``) and the FLOP terms of one sample's forward pass."""

    def __init__(self, about: str, forward, backward, flops=()):
        self.about = about
        self.forward = list(forward)
        self.backward = list(backward)
        self.flops = [t for t in flops if t.value != 0]


class Shapes:
    """The shapes of one call of a layer, with the batch axis as it will be shown.

    Attributes:
        inputs / outputs: the shapes, batch first (an int, or None when unknown).
        x_shape / y_shape: the first input's and output's shape.
        x / y: those two written as ``x[4, 784]`` / ``y[4, 512]``.
        xs: every input written as ``x1[…]``, ``x2[…]``, … (merges).
    """

    def __init__(self, inputs: list, outputs: list):
        self.inputs, self.outputs = inputs, outputs
        self.x_shape, self.y_shape = inputs[0], outputs[0]
        self.x, self.y = self.t("x", self.x_shape), self.t("y", self.y_shape)
        self.xs = [self.t(f"x{i + 1}", s) for i, s in enumerate(inputs)]

    @staticmethod
    def t(name: str, shape) -> str:
        """``name[d0, d1, …]``; an unknown batch shows as ``batch``, other unknowns as None."""
        dims = ["batch" if i == 0 and d is None else str(d) for i, d in enumerate(shape)]
        return f"{name}[{', '.join(dims)}]"

    @staticmethod
    def w(variable) -> str:
        """A weight written with its shape: ``kernel[784, 512]``."""
        return f"{variable._short_name}[{', '.join(str(d) for d in variable.shape)}]"

    @staticmethod
    def size(shape):
        """Values per sample (every axis but the batch); None when one is unknown."""
        dims = tuple(shape)[1:]
        return None if any(d is None for d in dims) else int(numpy.prod(dims, dtype=numpy.int64))

    def sum_axes(self, shape=None) -> str:
        """``Σ_batch`` for a rank-2 tensor, else ``Σ_{batch, 1, 2}`` over the leading axes."""
        rank = len(self.y_shape if shape is None else shape)
        return "Σ_batch" if rank <= 2 else "Σ_{batch, " + ", ".join(
            f"axis {i}" for i in range(1, rank - 1)) + "}"


# ---------------------------------------------------------------------- activations
_ACTIVATIONS = {  # name: (what it computes, its derivative in words)
    "relu": ("relu(z) = max(z, 0)", "relu'(z) = 1 where z > 0, else 0"),
    "sigmoid": ("sigmoid(z) = 1 / (1 + e^(−z))", "sigmoid'(z) = y ⊙ (1 − y)"),
    "tanh": ("tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))", "tanh'(z) = 1 − y²"),
    "softmax": ("softmax(z)_i = e^(z_i) / Σ_j e^(z_j), over the last axis",
                "dz = y ⊙ (dy − Σ_j dy_j · y_j)"),
    "elu": ("elu(z) = z where z > 0, else e^z − 1", "elu'(z) = 1 where z > 0, else y + 1"),
    "leaky_relu": ("leaky_relu(z) = z where z > 0, else 0.2 · z",
                   "leaky_relu'(z) = 1 where z > 0, else 0.2"),
    "softplus": ("softplus(z) = log(1 + e^z)", "softplus'(z) = sigmoid(z)"),
    "exponential": ("exponential(z) = e^z", "exponential'(z) = y"),
}


def activation_name(fn) -> str:
    """The name of an activation function (``linear`` for None)."""
    if fn is None:
        return "linear"
    return getattr(fn, "__name__", type(fn).__name__)


def activation_flops(name: str) -> int:
    """FLOPs per value of an activation (the module's convention)."""
    return {"linear": 0, "softmax": 3}.get(name, 1)


def activation_lines(name: str, z: str, y: str, var: str = "z"):
    """``(forward_note, dz_line)`` for ``y = name(z)``, the input called ``var``; both
    None for linear."""
    if name == "linear":
        return None, None
    what, derivative = (text.replace("z", var) for text in _ACTIVATIONS.get(
        name, (f"{name} applied to every value", f"{name}'(z) its derivative")))
    if name == "softmax":
        return what, f"d{z} = {y[0]} ⊙ (dy − Σ_last (dy ⊙ {y[0]}))   (softmax's Jacobian)"
    return what, f"d{z} = dy ⊙ {name}'({var})   ({derivative})"


def elementwise_formula(e: Shapes, name: str, arguments: str = "") -> Formula:
    """An activation applied to every value of x (softmax: along an axis)."""
    note, dx_line = activation_lines(name, e.x, e.y, "x")
    forward = [f"{e.y} = {name}({e.x}{arguments})"] + ([note] if note else [])
    cost = activation_flops(name)
    about = ("turns each row of the last axis into probabilities that sum to 1"
             if name == "softmax" else f"applies {name} to every value")
    return Formula(about + " (no weights)", forward,
                   [dx_line or f"d{e.x} = dy"],
                   [Term(name, *((cost,) if cost > 1 else ()), *e.y_shape[1:])] if cost else [])


def affine_formula(layer, e: Shapes, about: str, product: str, flops, dweights,
                   dx: str, pre_text: str, sums: str | None = None) -> Formula:
    """Dense and the convolutions: ``y = activation(product + bias)``.

    Args:
        product: the weight part of z written with shapes, e.g. ``x[4, 784] ·
            kernel[784, 512]``.
        flops: the FLOP terms of the product (bias and activation terms are added here).
        dweights: the kernel gradient line(s).
        dx: the input gradient line.
        pre_text: ``z = …`` without shapes, naming the pre-activation.
        sums: the axes the bias gradient sums over (default ``Shapes.sum_axes``).
    """
    name = activation_name(getattr(layer, "activation", None))
    bias = layer.bias if getattr(layer, "use_bias", False) else None
    z = product + (f" + {e.w(bias)}" if bias is not None else "")
    forward = [f"{e.y} = {z}" if name == "linear" else f"{e.y} = {name}({z})"]
    note, dz_line = activation_lines(name, e.t("z", e.y_shape), e.y)
    if note:
        forward.append(f"with {pre_text} (the pre-activation) and {note}")
    backward = [f"{e.t('dz', e.y_shape)} = dy   (no activation: y = z)" if dz_line is None
                else dz_line]
    backward += list(dweights)
    if bias is not None:
        backward.append(f"d{e.w(bias)} = {sums or e.sum_axes()} dz")
    backward.append(dx)
    terms = list(flops)
    if bias is not None:
        terms.append(Term("bias", *e.y_shape[1:]))
    cost = activation_flops(name)
    terms.append(Term(name, *((cost,) if cost > 1 else ()), *e.y_shape[1:]) if cost else
                 Term(name, 0))
    return Formula(about, forward, backward, terms)


def generic_formula(layer, e: Shapes) -> Formula:
    """For a layer that does not explain itself: its call as a function, its backward."""
    cls = type(layer).__name__
    x = e.x if len(e.inputs) == 1 else "[" + ", ".join(e.xs) + "]"
    return Formula(f"a {cls} layer (no formula of its own: FLOPs not counted)",
                   [f"{e.y} = {cls}({x})"],
                   [f"d{e.x} = the layer's backward(ctx, dy)"])


# ---------------------------------------------------------------------- the text
def _fmt(n) -> str:
    return "?" if n is None else f"{n:,}"


def params_text(layer) -> tuple[str, int]:
    """``"784 × 512 + 512 = 401,920 (kernel + bias)"`` and the count."""
    weights = layer.weights
    total = layer.count_params()
    if not weights:
        return "0 (no weights)", 0
    parts = [" × ".join(str(d) for d in v.shape) or "1" for v in weights]
    names = " + ".join(v._short_name for v in weights)
    expression = " + ".join(parts)
    text = f"{_fmt(total)} ({names})" if expression == str(total) else \
        f"{expression} = {_fmt(total)} ({names})"
    trained = {id(v) for v in layer.trainable_weights}
    frozen = sum(int(numpy.prod(v.shape, dtype=numpy.int64)) for v in weights
                 if id(v) not in trained)
    if frozen:
        text += f"; {_fmt(frozen)} of them not trained"
    return text, total


def itemsize(layer) -> int:
    try:
        dtype = numpy.dtype(layer.dtype)
    except TypeError:
        return 4
    return dtype.itemsize if dtype.kind in "fiub" else 4


def shown_shapes(layer, input_shape, batch_size):
    """``(inputs, outputs)`` lists of shapes, the batch axis set to ``batch_size``."""
    def with_batch(shape):
        shape = tuple(shape)
        return shape if batch_size is None or not shape else (batch_size,) + shape[1:]

    if is_shape(input_shape):
        given = with_batch(input_shape)
        out = output_shape_of(layer, given)
        inputs = [given]
    else:
        flat = list(input_shape.values()) if isinstance(input_shape, dict) else input_shape
        inputs = [with_batch(s) for s in flat]
        out = output_shape_of(layer, input_shape if isinstance(input_shape, dict)
                              else inputs)
    outputs = [tuple(out)] if is_shape(out) else [tuple(o) for o in out]
    return inputs, outputs


class Section:
    """One layer call explained: its lines and its counts."""

    def __init__(self, layer, lines, params: int, flops, act_bytes):
        self.layer, self.lines, self.params = layer, lines, params
        self.flops, self.act_bytes = flops, act_bytes


def layer_section(layer, input_shape, batch_size=None, indent: str = "") -> Section:
    """The explanation of one call of ``layer`` on ``input_shape``."""
    inputs, outputs = shown_shapes(layer, input_shape, batch_size)
    e = Shapes(inputs, outputs)
    hook = getattr(layer, "_explain", None)
    formula = hook(e) if hook is not None else generic_formula(layer, e)
    p_text, params = params_text(layer)
    known = hook is not None and all(t.value is not None for t in formula.flops)
    flops = sum(t.value for t in formula.flops) if known else None
    if hook is None:
        f_text = "not counted (no formula for this layer)"
    elif not formula.flops:
        f_text = "0 (it moves or selects values, with no arithmetic)"
    else:
        parts = " + ".join(f"{t.text} ({t.label})" for t in formula.flops)
        f_text = parts if len(formula.flops) == 1 and len(formula.flops[0].factors) == 1 \
            else f"{parts} = {_fmt(flops)}"
        if flops is None:
            f_text += " (not known until every input size is fixed)"
    sizes = [e.size(s) for s in outputs]
    values = None if any(s is None for s in sizes) else sum(sizes)
    size, nbytes = itemsize(layer), None if values is None else values * itemsize(layer)
    out_names = " + ".join(_fmt(s) for s in sizes)
    a_text = (f"{out_names} values × {size} bytes ({layer.dtype}) = {_fmt(nbytes)} bytes"
              if nbytes is not None else "not known until every output size is fixed")
    lines = [f"{layer.name} ({type(layer).__name__}): {formula.about}",
             "  Output shape: " + ", ".join(str(tuple(s)) for s in outputs),
             "  Forward:"]
    lines += [f"    {line}" for line in formula.forward]
    lines.append("  Backward (dy = ∂loss/∂y, the gradient arriving from above, shaped as y):")
    lines += [f"    {line}" for line in formula.backward]
    lines += [f"  Parameters: {p_text}", f"  FLOPs per sample: {f_text}",
              f"  Activations per sample: {a_text}"]
    return Section(layer, [indent + line for line in lines], params, flops, nbytes)


def check_arguments(layer, input_shape, batch_size, print_fn) -> None:
    """Raises for an unbuilt layer and for arguments of the wrong kind."""
    if not layer.built:
        raise ValueError(
            f"Layer '{layer.name}' ({type(layer).__name__}) is not built yet, so its weights "
            "and shapes are not known. Build it first with `layer.build(input_shape)` or by "
            "calling it on data. Received: a layer with built=False")
    if batch_size is not None and (not isinstance(batch_size, (int, numpy.integer))
                                   or isinstance(batch_size, bool) or batch_size <= 0):
        raise ValueError("Argument `batch_size` must be a positive integer or None. "
                         f"Received: batch_size={batch_size!r}")
    if print_fn is not None and not callable(print_fn):
        raise TypeError("Argument `print_fn` must be a function taking one string, or None. "
                        f"Received: print_fn={print_fn!r}")
    if input_shape is not None and not (is_shape(input_shape) or (
            isinstance(input_shape, (list, tuple, dict)) and all(
                is_shape(s) for s in (input_shape.values() if isinstance(input_shape, dict)
                                      else input_shape)))):
        raise ValueError("Argument `input_shape` must be a shape with the batch axis first "
                         "(e.g. (None, 784)), a list of shapes, or None. "
                         f"Received: input_shape={input_shape!r}")


def spec_shape(layer):
    """The input shape the layer's ``input_spec`` pins down (a layer built by calling
    ``build`` directly records none): the rank and the fixed axes, None elsewhere."""
    spec = layer.input_spec
    rank = spec and (spec.ndim or spec.min_ndim)
    if not rank:
        return None
    shape = [None] * rank
    for axis, size in spec.axes.items():
        if -rank <= axis < rank:
            shape[axis] = size
    return tuple(shape)


class Explanation(str):
    """The text ``explain()`` printed; shown in a REPL by its first line only, since the
    whole text was printed already."""

    def __repr__(self) -> str:
        first = self.split("\n", 1)[0]
        return f"<explanation: {first[:60]}…>"


def emit(lines, print_fn) -> Explanation:
    """Prints ``lines`` through ``print_fn`` (default ``print``), returns them joined."""
    print_fn = print_fn or print
    for line in lines:
        print_fn(line)
    return Explanation("\n".join(lines))


def explain_layer(layer, input_shape=None, batch_size=None, print_fn=None) -> Explanation:
    """``layer.explain(...)``: see the module docstring."""
    check_arguments(layer, input_shape, batch_size, print_fn)
    if input_shape is None:
        input_shape = (layer._build_shapes or getattr(layer, "batch_shape", None)
                       or spec_shape(layer))
    if input_shape is None:
        raise ValueError(f"Layer '{layer.name}' was built without a recorded input shape. "
                         "Pass `input_shape=` (batch axis first). Received: input_shape=None")
    section = layer_section(layer, input_shape, batch_size)
    return emit(section.lines + ["  " + line for line in CONVENTIONS], print_fn)
