"""The whole state of a training run in one file, so ``fit`` resumes exactly.

What decides the rest of a run, and so what the file holds:

- every model weight (trainable and not: BatchNormalization's moving statistics),
- the optimizer's variables (``iterations``, ``learning_rate``, the slots),
- the random state: the global generator (it draws each epoch's permutation) and every
  generator a layer owns (Dropout's masks, GaussianNoise's noise, ...),
- the position: the epoch, and the batches of it already done, with the epoch's
  permutation, its running loss means and the metrics' state,
- the state of the callbacks that keep one across epochs (``_get_state()``).

The file is a NumPy ``.npz`` archive of plain arrays; the scalars go in a JSON
document stored as one ``uint8`` array in it, so one atomic write replaces the whole
state and reading never unpickles anything (``allow_pickle=False``).
"""

from __future__ import annotations

import contextlib
import json
import warnings
import zipfile

import numpy

from fcnet import backend
from fcnet.backend import random as backend_random
from fcnet.backend.files import atomic_write

FORMAT = "fcnet.training_state"
VERSION = 1
_METADATA = "__metadata__"


def save(path: str, model) -> None:
    """Writes the state of the ``fit`` running on ``model`` to ``path`` (atomically)."""
    meta, arrays = _capture(model)
    text = numpy.frombuffer(json.dumps(meta).encode("utf-8"), dtype=numpy.uint8)
    with replacing(path) as f:
        numpy.savez(f, **{_METADATA: text}, **arrays)


@contextlib.contextmanager
def replacing(path: str):
    """Yields a binary file that replaces ``path`` whole once the block ends, or never
    (``fcnet.backend.files.atomic_write``): a killed process leaves the old file or the new."""
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        yield f


def load(path: str) -> TrainingState:
    """Reads a file ``save`` wrote; anything else raises ``ValueError`` naming ``path``."""
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        meta = json.loads(bytes(arrays.pop(_METADATA)).decode("utf-8"))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"The training state file {path} could not be read: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"The file {path} is not a training state written by "
                         f"BackupAndRestore. Received: format={meta.get('format')!r}"
                         if isinstance(meta, dict) else f"The file {path} is malformed.")
    if meta.get("version") != VERSION:
        raise ValueError(f"The training state file {path} has version "
                         f"{meta.get('version')!r}; this fcnet reads version {VERSION}.")
    return TrainingState(meta, arrays, path)


# ---------------------------------------------------------------- capture


def _capture(model):
    progress = model._fit_progress
    if progress is None:
        raise ValueError("The training state can only be saved while `fit` runs.")
    arrays = {}
    weights = model.get_weights()
    arrays.update({f"weight_{i}": numpy.asarray(w) for i, w in enumerate(weights)})
    variables = [backend.to_numpy(v) for v in model.optimizer.variables]
    arrays.update({f"optimizer_{i}": numpy.asarray(v) for i, v in enumerate(variables)})
    meta = {
        "format": FORMAT, "version": VERSION,
        "epoch": progress.epoch, "batch": progress.batch,
        "weights": len(weights), "optimizer": len(variables),
        "global_rng": _encode(backend_random.generator().bit_generator.state),
        "layer_rngs": [{"layer": i, "class": kind, "attribute": attr,
                        "state": _encode(rng.bit_generator.state)}
                       for i, kind, attr, rng in _layer_generators(model)],
        "callbacks": [],
    }
    if progress.batch:  # in the middle of an epoch
        order = getattr(progress.data, "order", None)
        if order is not None:
            arrays["order"] = numpy.asarray(order)
        meta["means"] = {"sums": list(progress.means.sums), "seen": progress.means.seen}
        states = [metric.state() for metric in model.metrics]
        meta["metrics"] = [len(s) for s in states]
        for i, state in enumerate(states):
            arrays.update({f"metric_{i}_{j}": a for j, a in enumerate(state)})
    for index, callback in enumerate(progress.callbacks):
        if hasattr(callback, "_get_state"):
            entry = {"index": index, "class": type(callback).__name__, "state": {},
                     "arrays": {}}
            for key, value in callback._get_state().items():
                if _is_array_list(value):
                    entry["arrays"][key] = len(value)
                    arrays.update({f"callback_{index}_{key}_{j}": numpy.asarray(a)
                                   for j, a in enumerate(value)})
                else:
                    entry["state"][key] = _plain(value)
            meta["callbacks"].append(entry)
    return meta, arrays


def _layer_generators(model):
    """``(layer index, layer class, attribute, numpy Generator)`` for each generator a
    layer of ``model`` owns, in a fixed order (names may differ between two builds of
    one model in a process, so the place identifies a layer)."""
    found = []
    for i, layer in enumerate(model._flatten_layers()):
        for attr, value in sorted(vars(layer).items()):
            if isinstance(value, backend_random.SeedGenerator):
                found.append((i, type(layer).__name__, attr, value.rng))
            elif isinstance(value, numpy.random.Generator):
                found.append((i, type(layer).__name__, attr, value))
    return found


def _is_array_list(value) -> bool:
    return (isinstance(value, (list, tuple)) and bool(value)
            and all(hasattr(a, "shape") for a in value))


def _plain(value):
    """A JSON value: NumPy scalars become Python numbers."""
    if isinstance(value, numpy.generic):
        return value.item()
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        return value.item()
    return value


def _encode(state):
    """A bit generator's state as JSON (big integers stay exact; arrays become lists)."""
    if isinstance(state, dict):
        return {key: _encode(value) for key, value in state.items()}
    if isinstance(state, numpy.ndarray):
        return {"__ndarray__": state.tolist(), "dtype": str(state.dtype)}
    return _plain(state)


def _decode(state):
    if isinstance(state, dict):
        if "__ndarray__" in state:
            return numpy.asarray(state["__ndarray__"], dtype=state["dtype"])
        return {key: _decode(value) for key, value in state.items()}
    return state


# ---------------------------------------------------------------- restore


class TrainingState:
    """A saved training state; ``fit`` resumes from it.

    Attributes:
        epoch: the epoch to resume (0-based).
        batch: the batches of that epoch already done.
        order: that epoch's permutation of the samples (None: not shuffled, or at 0).
        means_sums, means_seen: the epoch's running loss sums and sample count.
    """

    def __init__(self, meta: dict, arrays: dict, path: str = ""):
        self.meta, self.arrays, self.path = meta, arrays, path
        self.epoch = int(meta["epoch"])
        self.batch = int(meta["batch"])
        self.order = arrays.get("order")
        means = meta.get("means") or {"sums": [], "seen": 0}
        self.means_sums = [float(s) for s in means["sums"]]
        self.means_seen = int(means["seen"])

    def restore_model(self, model) -> None:
        """Weights, optimizer variables and random state, as saved."""
        meta, arrays = self.meta, self.arrays
        weights = [arrays[f"weight_{i}"] for i in range(meta["weights"])]
        if len(weights) != len(model.weights):
            raise ValueError(
                f"The training state in {self.path} holds {len(weights)} weights; the "
                f"model has {len(model.weights)}. Was it saved for another model?")
        model.set_weights(weights)
        model.optimizer.set_variables(
            [arrays[f"optimizer_{i}"] for i in range(meta["optimizer"])])
        backend_random.generator().bit_generator.state = _decode(meta["global_rng"])
        generators = {(i, attr): (kind, rng) for i, kind, attr, rng in _layer_generators(model)}
        if len(generators) != len(meta["layer_rngs"]):
            raise ValueError(
                f"The training state in {self.path} holds {len(meta['layer_rngs'])} layer "
                f"random generators; the model has {len(generators)}.")
        for entry in meta["layer_rngs"]:
            kind, rng = generators.get((entry["layer"], entry["attribute"]), (None, None))
            if kind != entry["class"]:
                raise ValueError(
                    f"The training state in {self.path} holds the random state of a "
                    f"{entry['class']} layer, which the model does not have at that place.")
            rng.bit_generator.state = _decode(entry["state"])

    def restore_metrics(self, model, ys, outputs) -> None:
        """The epoch's metric state, once the metrics exist (after the first step)."""
        counts = self.meta.get("metrics")
        if not counts:
            return
        model._compiled.build_metrics(ys, outputs)
        metrics = model.metrics
        if len(metrics) != len(counts):
            raise ValueError(f"The training state in {self.path} holds {len(counts)} "
                             f"metrics; the model has {len(metrics)}.")
        for i, (metric, count) in enumerate(zip(metrics, counts)):
            metric.set_state([self.arrays[f"metric_{i}_{j}"] for j in range(count)])

    def restore_callbacks(self, callbacks) -> None:
        """Each callback's saved state, matched by its place in the list and its class."""
        entries = {entry["index"]: entry for entry in self.meta["callbacks"]}
        for index, callback in enumerate(callbacks):
            if not hasattr(callback, "_set_state"):
                continue
            entry = entries.get(index)
            if entry is None or entry["class"] != type(callback).__name__:
                warnings.warn(
                    f"The training state in {self.path} holds no state for callback "
                    f"{type(callback).__name__} at position {index}; it starts afresh.",
                    stacklevel=2)
                continue
            state = dict(entry["state"])
            for key, count in entry["arrays"].items():
                state[key] = [self.arrays[f"callback_{index}_{key}_{j}"]
                              for j in range(count)]
            callback._set_state(state)
