"""The weights of legacy HDF5 files (tf.keras 2's ``.h5``, which Keras 3 still reads).

Layout (what ``model.save("m.h5")`` writes under ``model_weights``, and
``save_weights("w.h5")`` at the file root)::

    <group>                attrs layer_names=[every layer of model.layers], backend,
                                 keras_version
    <group>/<layer name>   attr weight_names=['dense/kernel:0', 'dense/bias:0'] (tf.keras 2)
                                 or ['dense/kernel', 'dense/bias'] (Keras 3)
    <group>/<layer name>/<weight name>                    one dataset per weight
    <group>/top_level_model_weights                       the model's own weights (Keras 3)
    /optimizer_weights     attr weight_names; one dataset per optimizer variable

A layer's weights are listed trainable first, then non-trainable (the order of
tf.keras 2's ``layer.weights``). Loading follows Keras: by position among the layers
that have weights (``by_name=False``) or by layer name, and reads the datasets in
``weight_names`` order whatever they are called. Attributes longer than HDF5's object
header allows are split into ``layer_names0``, ``layer_names1``, ….

Only hard links are followed: a soft or external link in a file is refused, so loading
never reads another file. Every malformed file raises ValueError (or OSError when it is
not HDF5 at all) naming the file.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import numpy

from fcnet import backend

HDF5_OBJECT_HEADER_LIMIT = 64512
# The Keras version the written files claim: their layout is Keras 3's legacy writer's.
KERAS_VERSION = "3.0.0"


def malformed(filepath, problem: str) -> ValueError:
    """The error for a file that is not a legacy Keras HDF5 file as expected."""
    return ValueError(f"The file {filepath} is not a valid legacy Keras HDF5 file: {problem}")


# What a config that does not fit the classes it names can raise while being rebuilt.
CONFIG_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
                 OverflowError, ZeroDivisionError, NotImplementedError, MemoryError)
# What reading a damaged file can raise inside h5py and NumPy, besides ValueError/OSError.
_READ_ERRORS = (RuntimeError, KeyError, TypeError, IndexError, AttributeError, RecursionError,
                OverflowError, ZeroDivisionError, NotImplementedError, MemoryError,
                UnicodeDecodeError)


@contextlib.contextmanager
def naming_file(filepath):
    """Lets only ValueError and OSError out, each naming ``filepath``."""
    try:
        yield
    except (ValueError, OSError) as error:
        if str(filepath) in str(error):
            raise
        kind = OSError if isinstance(error, OSError) else ValueError
        raise kind(f"{filepath}: {error}") from error
    except _READ_ERRORS as error:
        raise malformed(filepath, f"{type(error).__name__}: {error}") from error


def open_h5(filepath, mode: str = "r"):
    """``h5py.File(filepath, mode)``; a missing or non-HDF5 file raises OSError naming it."""
    import h5py

    if mode == "r" and not os.path.isfile(filepath):
        raise FileNotFoundError(f"No such file: {filepath}")
    try:
        return h5py.File(filepath, mode)
    except OSError as error:
        raise OSError(f"Unable to open {filepath} as an HDF5 file: {error}") from error


def legacy_weights(layer) -> list:
    """A layer's weights in the legacy file order: trainable, then non-trainable."""
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def own_weights(model) -> list:
    """The weights a model holds itself, outside its layers (``top_level_model_weights``)."""
    return list(model._trainable_weights) + list(model._non_trainable_weights)


# ---------------------------------------------------------------------------- h5 access
def child(group, path: str, kind: str, filepath):
    """``group[path]`` if it is a ``kind`` ("group" or "dataset") reached through hard
    links only; anything else raises ValueError naming the file."""
    import h5py

    current = group
    for part in path.split("/"):
        if not part or part in (".", ".."):
            raise malformed(filepath, f"invalid path {path!r} in {group.name!r}.")
        if not isinstance(current, h5py.Group) or part not in current:
            raise malformed(filepath, f"{path!r} is missing from {group.name!r}.")
        link = current.get(part, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise malformed(filepath, f"{path!r} in {group.name!r} is a "
                                      f"{type(link).__name__}; only hard links are read.")
        current = current[part]
    wanted = h5py.Group if kind == "group" else h5py.Dataset
    if not isinstance(current, wanted):
        raise malformed(filepath, f"{path!r} in {group.name!r} is not a {kind}.")
    return current


def write_strings(group, name: str, values: list[str]) -> None:
    """Writes a list of strings as the attribute ``name`` (chunked past the header limit)."""
    data = [value.encode("utf8") for value in values]
    too_long = [value for value in data if len(value) > HDF5_OBJECT_HEADER_LIMIT]
    if too_long:
        raise ValueError(f"The following attributes cannot be saved to HDF5 file because they "
                         f"are larger than {HDF5_OBJECT_HEADER_LIMIT} bytes: {too_long}")
    array = numpy.asarray(data)  # an empty list stays float64, as Keras writes it
    chunks = 1
    parts = numpy.array_split(array, chunks)
    while any(part.nbytes > HDF5_OBJECT_HEADER_LIMIT for part in parts):
        chunks += 1
        parts = numpy.array_split(array, chunks)
    if chunks == 1:
        group.attrs[name] = array
    else:
        for k, part in enumerate(parts):
            group.attrs[f"{name}{k}"] = part


def read_strings(group, name: str, filepath) -> list[str]:
    """The string list attribute ``name`` (or its chunks ``name0``, ``name1``, …)."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = []
        while f"{name}{len(chunks)}" in group.attrs:
            chunks.append(group.attrs[f"{name}{len(chunks)}"])
    out = []
    for chunk in chunks:
        items = numpy.asarray(chunk)
        if items.ndim > 1 or (items.size and items.dtype.kind not in "SUO"):
            raise malformed(filepath, f"attribute {name!r} of {group.name!r} is not a list "
                                      f"of strings.")
        for item in items.reshape(-1):
            if isinstance(item, bytes):
                try:
                    item = item.decode("utf8")
                except UnicodeDecodeError as error:
                    raise malformed(filepath, f"attribute {name!r} of {group.name!r} is "
                                              "not UTF-8.") from error
            if not isinstance(item, str):
                raise malformed(filepath, f"attribute {name!r} of {group.name!r} holds "
                                          f"{type(item).__name__}, not strings.")
            out.append(item)
    return out


def read_text(attrs, name: str, filepath) -> str | None:
    """A string attribute (``model_config``), None when absent."""
    if name not in attrs:
        return None
    value = attrs[name]
    if isinstance(value, numpy.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        try:
            value = value.decode("utf8")
        except UnicodeDecodeError as error:
            raise malformed(filepath, f"attribute {name!r} is not UTF-8 text.") from error
    if not isinstance(value, str):
        raise malformed(filepath, f"attribute {name!r} is not text.")
    return value


def _datasets(group, filepath) -> list:
    """The numeric datasets a group lists in ``weight_names``, in that order (unread)."""
    datasets = []
    for name in read_strings(group, "weight_names", filepath):
        dataset = child(group, name, "dataset", filepath)
        if dataset.dtype.kind not in "biuf":
            raise malformed(filepath, f"dataset {dataset.name!r} holds {dataset.dtype}, "
                                      "not numbers.")
        datasets.append(dataset)
    return datasets


def _write_datasets(group, names: list[str], values: list) -> None:
    write_strings(group, "weight_names", names)
    for name, value in zip(names, values, strict=True):
        group.create_dataset(name, data=value)


def unique_names(names: list[str]) -> list[str]:
    """``names`` with repeats made unique (``kernel``, ``kernel_1``) for dataset names."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, k = name, 0
        while candidate in seen:
            k += 1
            candidate = f"{name}_{k}"
        seen.add(candidate)
        out.append(candidate)
    return out


# ---------------------------------------------------------------------------- writing
def save_weights_to_group(group, model) -> None:
    """Writes every layer's weights (and the model's own) into ``group``."""
    from fcnet import backend

    write_strings(group, "layer_names", [layer.name for layer in model.layers])
    group.attrs["backend"] = backend.backend().encode("utf8")
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    # Sorted by name, as Keras writes them, so that no group name is a prefix of a later one.
    for layer in sorted(model.layers, key=lambda layer: layer.name):
        _write_variables(group.create_group(layer.name), legacy_weights(layer))
    _write_variables(group.create_group("top_level_model_weights"), own_weights(model))


def _write_variables(group, variables: list) -> None:
    names = unique_names([str(variable.path) for variable in variables])
    _write_datasets(group, names, [variable.numpy() for variable in variables])


def save_optimizer_weights(h5file, optimizer) -> None:
    """Writes ``optimizer.variables`` into ``/optimizer_weights`` (a built optimizer only)."""
    if not getattr(optimizer, "built", False):
        return
    values = [numpy.asarray(backend.to_numpy(value)) for value in optimizer.variables]
    paths = getattr(optimizer, "variable_paths", None) or [
        f"{optimizer.name}/variable_{k}" for k in range(len(values))]
    _write_datasets(h5file.create_group("optimizer_weights"), unique_names(list(paths)),
                    values)


def read_optimizer_weights(h5file, filepath) -> list | None:
    """The arrays under ``/optimizer_weights`` in ``weight_names`` order; None if absent."""
    if "optimizer_weights" not in h5file:
        return None
    group = child(h5file, "optimizer_weights", "group", filepath)
    return [read_dataset(dataset, filepath) for dataset in _datasets(group, filepath)]


def read_dataset(dataset, filepath) -> numpy.ndarray:
    """A dataset's values; a damaged one raises ValueError naming the file."""
    try:
        return numpy.asarray(dataset[()])
    except (OSError, RuntimeError, TypeError, ValueError) as error:
        raise malformed(filepath, f"dataset {dataset.name!r} cannot be read ({error}).") \
            from error


# ---------------------------------------------------------------------------- loading
def load_weights_legacy_h5(model, filepath, skip_mismatch: bool = False,
                           by_name: bool = False) -> None:
    """Loads a legacy ``.h5`` file's weights into ``model`` (Keras 3's legacy rules).

    Args:
        model: a built model.
        filepath: a file written by ``save_weights("w.h5")`` (layer groups at the root)
            or ``model.save("m.h5")`` (layer groups under ``model_weights``).
        skip_mismatch: warn and skip weights whose shapes differ (and, by name, layers
            whose weight counts differ) instead of raising.
        by_name: match layers by name instead of by position among the layers that
            have weights.
    """
    filepath = os.fspath(filepath)
    with naming_file(filepath), open_h5(filepath) as h5file:
        group = h5file
        if "layer_names" not in h5file.attrs and "model_weights" in h5file:
            group = child(h5file, "model_weights", "group", filepath)
        if by_name:
            load_weights_by_name(group, model, skip_mismatch, filepath)
        else:
            load_weights_from_group(group, model, skip_mismatch, filepath)


def load_weights_from_group(group, model, skip_mismatch: bool, filepath) -> None:
    """Topological loading: the k-th layer with weights in the file goes to the k-th
    layer with weights in ``model.layers``."""
    layers = [layer for layer in model.layers if legacy_weights(layer)]
    saved = []
    for name in read_strings(group, "layer_names", filepath):
        datasets = _datasets(child(group, name, "group", filepath), filepath)
        if datasets:
            saved.append((name, datasets))
    if saved and not layers and not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Try building "
            f"the model first by calling it on inputs or by using `build()`. (File: {filepath})")
    if len(saved) != len(layers):
        raise ValueError(
            "Layer count mismatch when loading weights from file. Model expected "
            f"{len(layers)} layers, found {len(saved)} saved layers. (File: {filepath})")
    plan = []
    for k, (layer, (name, datasets)) in enumerate(zip(layers, saved, strict=True)):
        variables = legacy_weights(layer)
        if len(datasets) != len(variables):
            raise ValueError(
                f"Weight count mismatch for layer #{k} (named {layer.name} in the current "
                f"model, {name} in the save file). Layer expects {len(variables)} weight(s). "
                f"Received {len(datasets)} saved weight(s). (File: {filepath})")
        plan += _matched(variables, datasets, f"layer #{k} (named {layer.name})",
                         skip_mismatch, filepath)
    plan += _top_level(group, model, skip_mismatch, filepath, lenient=False)
    _assign(plan, filepath)


def load_weights_by_name(group, model, skip_mismatch: bool, filepath) -> None:
    """Loading by layer name: layers of the file that the model lacks are ignored."""
    index: dict = {}
    for layer in model.layers:
        index.setdefault(layer.name, []).append(layer)
    plan = []
    for k, name in enumerate(read_strings(group, "layer_names", filepath)):
        datasets = _datasets(child(group, name, "group", filepath), filepath)
        for layer in index.get(name, []):
            variables = legacy_weights(layer)
            if len(datasets) != len(variables):
                message = (f"layer #{k} (named {layer.name}). Layer expects {len(variables)} "
                           f"weight(s). Received {len(datasets)} saved weight(s)")
                if skip_mismatch:
                    warnings.warn(f"Skipping loading of weights for {message} due to "
                                  "mismatch in number of weights.", stacklevel=3)
                    continue
                raise ValueError(f"Weight count mismatch for {message}. (File: {filepath})")
            plan += _matched(variables, datasets, f"layer #{k} (named {layer.name})",
                             skip_mismatch, filepath)
    plan += _top_level(group, model, skip_mismatch, filepath, lenient=skip_mismatch)
    _assign(plan, filepath)


def _top_level(group, model, skip_mismatch: bool, filepath, lenient: bool) -> list:
    if "top_level_model_weights" not in group:
        return []
    variables = own_weights(model)
    datasets = _datasets(child(group, "top_level_model_weights", "group", filepath), filepath)
    if len(datasets) != len(variables):
        message = (f"Model expects {len(variables)} top-level weight(s). Received "
                   f"{len(datasets)} saved top-level weight(s)")
        if lenient:
            warnings.warn("Skipping loading top-level weights for model due to mismatch in "
                          f"number of weights. {message}", stacklevel=4)
            return []
        raise ValueError("Weight count mismatch for top-level weights when loading weights "
                         f"from file. {message}. (File: {filepath})")
    return _matched(variables, datasets, "top-level model", skip_mismatch, filepath)


def _matched(variables, datasets, where: str, skip_mismatch: bool, filepath) -> list:
    """``(variable, dataset)`` pairs whose shapes agree; a disagreement raises, or warns
    and drops the pair with ``skip_mismatch``. Nothing is read or assigned yet."""
    pairs = []
    for variable, dataset in zip(variables, datasets, strict=True):
        expected, received = tuple(variable.shape), tuple(dataset.shape)
        if expected != received:
            message = (f"{where} for weight {variable.path}. Weight expects shape {expected}. "
                       f"Received saved weight with shape {received}")
            if skip_mismatch:
                warnings.warn(f"Skipping loading weights for {message}", stacklevel=4)
                continue
            raise ValueError(f"Shape mismatch in {message}. (File: {filepath})")
        pairs.append((variable, dataset))
    return pairs


def _assign(plan: list, filepath) -> None:
    """Reads every dataset first, then assigns: a file that fails to read changes nothing."""
    values = [read_dataset(dataset, filepath) for _, dataset in plan]
    for (variable, _), value in zip(plan, values, strict=True):
        variable.assign(value)
