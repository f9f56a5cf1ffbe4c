"""Weights in Keras 3's HDF5 layout (``model.weights.h5`` and ``.weights.h5`` files).

Keras keys each object's variables by where it sits, not by its name: a model's
layers are ``layers/<snake_case class name>`` with ``_1``, ``_2`` … for repeats in
that list (``layers/dense``, ``layers/dense_1``), its optimizer is ``optimizer``, its
own variables ``vars``; each object's variables are the datasets ``<path>/vars/0``,
``/1`` … in its own order. A subclassed model's layers sit under the attribute names
that hold them, visited in sorted order (private ones last), each object once.
"""

from __future__ import annotations

import warnings

import numpy

from fcnet.backend import snake_case

_MAX_DATASET_BYTES = 1 << 34  # 16 GiB: a dataset above this is a corrupt or hostile file
# Attributes fcnet's own models and layers set; a user's subclass adds its own beside them.
_FCNET_ATTRIBUTES = frozenset((
    "name", "dtype", "built", "input_spec", "activity_regularizer", "trainable", "optimizer",
    "loss", "loss_weights", "history", "compiled", "stop_training", "seed"))


# ---------------------------------------------------------------- which object where
def saveables(model) -> list[tuple[str, object]]:
    """``(path, object)`` for the model and everything inside it that has variables of
    its own, in Keras's visiting order (``""`` is the model itself)."""
    found, visited = [], set()
    _visit(model, "", found, visited)
    return found


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _is_saveable(obj) -> bool:
    from fcnet.layers import Layer
    from fcnet.optimizers import Optimizer

    return isinstance(obj, (Layer, Optimizer))


def _visit(obj, path: str, found: list, visited: set) -> None:
    if id(obj) in visited:
        return
    visited.add(id(obj))
    found.append((path, obj))
    for attr, child in _children(obj):
        if _is_saveable(child):
            _visit(child, _join(path, attr), found, visited)
        elif isinstance(child, (list, tuple, dict)):
            _visit_container(child, _join(path, attr), found, visited)


def _visit_container(container, path: str, found: list, visited: set) -> None:
    used: dict[str, int] = {}
    items = list(container.values()) if isinstance(container, dict) else list(container)
    for item in items:
        if _is_saveable(item):
            _visit(item, _join(path, _unique(snake_case(type(item).__name__), used)),
                   found, visited)
        elif isinstance(item, (list, tuple, dict)):
            _visit_container(item, _join(path, _unique("container", used)), found, visited)


def _unique(name: str, used: dict) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _children(obj):
    """``(attribute, value)`` pairs Keras walks: a graph model's ``layers`` first, then
    attributes by name (public before private); for a subclassed model ``layers`` is
    one of them. Only the attributes a user's class adds are walked, beside
    ``optimizer``."""
    from fcnet.layers import Layer
    from fcnet.models import Model, Sequential
    from fcnet.models.functional import Functional

    is_graph = isinstance(obj, (Sequential, Functional))
    if is_graph:
        yield "layers", obj.layers
    names = {"optimizer"} if isinstance(obj, Model) else set()
    if isinstance(obj, Model) and not is_graph:
        names.add("layers")
    if isinstance(obj, Layer) and not type(obj).__module__.startswith("fcnet."):
        base = _fcnet_attributes()
        names.update(k for k in vars(obj) if k not in base and not k.startswith("__"))
    for name in sorted(names, key=lambda n: "~" + n if n.startswith("_") else n):
        value = getattr(obj, name, None)
        if value is not None:
            yield name, value


_BASE: set | None = None


def _fcnet_attributes() -> set:
    """The instance attributes fcnet's Layer and Model set themselves."""
    global _BASE
    if _BASE is None:
        from fcnet.layers import Layer

        _BASE = set(vars(Layer(name="attribute_probe"))) | set(_FCNET_ATTRIBUTES) | {
            "_compiled", "_parameters", "_step", "_compile_args", "_stack", "_input_layer",
            "_output_shapes", "_build_input_shape", "_stack_tape", "_layers", "_nodes",
            "_tape", "_inputs_struct", "_outputs_struct", "_resolved", "_metrics"}
    return _BASE


# ---------------------------------------------------------------- stores
class _WriteStore(dict):
    """What ``save_own_variables`` fills: ``store["0"] = array``."""


class _Dataset:
    """One stored variable, read only when its value is needed (shape checked first)."""

    def __init__(self, dataset, source: str):
        self.dataset, self.source = dataset, source
        kind = getattr(dataset.dtype, "kind", "")
        if kind not in "biuf" or not kind:
            raise ValueError(f"Weights file {source}: dataset {dataset.name} holds "
                             f"{dataset.dtype} values; expected numbers.")
        if dataset.size * dataset.dtype.itemsize > _MAX_DATASET_BYTES:
            raise ValueError(f"Weights file {source}: dataset {dataset.name} declares "
                             f"shape {dataset.shape}, larger than any model fcnet loads.")
        self.shape, self.dtype = tuple(dataset.shape), dataset.dtype
        self.size, self.ndim = int(dataset.size), len(self.shape)

    def __array__(self, dtype=None, copy=None):
        value = numpy.asarray(self.dataset[()])
        return value if dtype is None else value.astype(dtype, copy=False)


class _ReadStore:
    """What ``load_own_variables`` reads: ``store.keys()`` and ``store["0"]``."""

    def __init__(self, group, source: str):
        self.group, self.source = group, source

    def keys(self) -> list[str]:
        return [] if self.group is None else list(self.group.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __getitem__(self, key: str):
        if self.group is None or key not in self.group:
            raise KeyError(f"Weights file {self.source}: no dataset {key!r} in "
                           f"{getattr(self.group, 'name', 'a missing group')}")
        dataset = self.group[key]
        if not hasattr(dataset, "dtype"):
            raise ValueError(f"Weights file {self.source}: {dataset.name} is a group; "
                             "expected a dataset.")
        return _Dataset(dataset, self.source)


# ---------------------------------------------------------------- writing and reading
def write(model, h5) -> None:
    """Writes every object's variables into the open ``h5py.File`` ``h5``."""
    if "vars" not in h5:
        h5.create_group("vars")  # the model's own group: Keras 3.3 reads it unconditionally
    for path, obj in saveables(model):
        if not hasattr(obj, "save_own_variables"):
            continue
        store = _WriteStore()
        obj.save_own_variables(store)
        group = h5.require_group(_join(path, "vars"))
        group.attrs["name"] = str(obj.name)
        for key, value in store.items():
            group.create_dataset(key, data=numpy.asarray(value))


def read(model, h5, source: str, skip_mismatch: bool = False) -> None:
    """Reads every object's variables from ``h5``; like Keras, layers must match in
    count and shape (all failures are reported together), an optimizer whose variable
    count differs is skipped with a warning."""
    failures = []
    for path, obj in saveables(model):
        if not hasattr(obj, "load_own_variables"):
            continue
        group = h5.get(_join(path, "vars"))
        if group is not None and not hasattr(group, "keys"):
            failures.append((obj, ValueError(f"{group.name} is not a group")))
            continue
        try:
            obj.load_own_variables(_ReadStore(group, source))
        except (ValueError, KeyError, TypeError, OSError) as error:
            failures.append((obj, error))
    if not failures:
        return
    if skip_mismatch:
        for obj, error in failures:
            warnings.warn(f"Skipping loading weights for {obj!r} from {source}: {error}",
                          stacklevel=3)
        return
    obj, error = failures[0]
    raise ValueError(
        f"A total of {len(failures)} objects could not be loaded from {source}. Example "
        f"error message for object {obj!r}:\n\n{error}\n\nList of objects that could not "
        f"be loaded:\n{[o for o, _ in failures]}")
