"""``save_model``, ``load_model``, ``save_weights`` and ``load_weights``: the file kinds
by extension, Keras's errors for the others, and overwrite confirmation."""

from __future__ import annotations

import os

from fcnet.backend.files import atomic_write


def _path(filepath) -> str:
    if hasattr(filepath, "__fspath__") or isinstance(filepath, str):
        return os.fspath(filepath)
    raise TypeError(f"Expected a file path (str or os.PathLike). Received: filepath={filepath!r}")


def _confirm_overwrite(filepath: str, overwrite: bool) -> bool:
    """Keras asks before replacing a file when ``overwrite=False``."""
    if overwrite or not os.path.exists(filepath):
        return True
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    return answer == "y"


def _is_legacy_h5(filepath: str) -> bool:
    return filepath.endswith((".h5", ".hdf5")) and not filepath.endswith(".weights.h5")


def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """Writes ``model`` to ``filepath``: a ``.keras`` zip, or a legacy ``.h5`` file."""
    filepath = _path(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {sorted(kwargs)}")
    if not (filepath.endswith(".keras") or _is_legacy_h5(filepath)):
        raise ValueError(
            "Invalid filepath extension for saving. Please add either a `.keras` extension "
            "for the native Keras format (recommended) or a `.h5` extension. Use "
            "`model.export(filepath)` if you want to export a SavedModel for use with "
            f"TFLite/TFServing/etc. Received: filepath={filepath}.")
    if not _confirm_overwrite(filepath, overwrite):
        return
    if _is_legacy_h5(filepath):
        from fcnet.saving import legacy_h5

        legacy_h5.save_legacy_h5(model, filepath, include_optimizer=include_optimizer)
        return
    from fcnet.saving import keras_file

    if not include_optimizer:
        raise ValueError("`include_optimizer=False` applies to legacy `.h5` files only; a "
                         ".keras file always holds the compile config.")
    keras_file.save(model, filepath)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """The model in a ``.keras`` file (or a legacy tf.keras ``.h5`` file).

    Args:
        filepath: the file.
        custom_objects: the user's classes and functions by the names the file uses.
        compile: whether to compile the model (and restore its optimizer state) from the
            saved compile config.
        safe_mode: kept for Keras's signature: fcnet never runs code from a file, so
            lambdas are refused in either mode.
    """
    filepath = _path(filepath)
    if _is_legacy_h5(filepath):
        from fcnet.saving import legacy_h5

        return legacy_h5.load_legacy_h5(filepath, custom_objects=custom_objects,
                                        compile=compile, safe_mode=safe_mode)
    if not filepath.endswith(".keras"):
        raise ValueError("File format not supported: filepath="
                         f"{filepath}. Keras 3 only supports V3 `.keras` files and legacy H5 "
                         "format files (`.h5` extension).")
    from fcnet.saving import keras_file
    from fcnet.saving.object_registration import custom_object_scope

    with custom_object_scope(custom_objects or {}):
        return keras_file.load(filepath, custom_objects, compile, safe_mode)


def save_weights(model, filepath, overwrite: bool = True, max_shard_size=None) -> None:
    """Writes the model's weights to a ``.weights.h5`` file (Keras 3's layout)."""
    import h5py

    from fcnet.saving import weights as weights_io

    filepath = _path(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError("The filename must end in `.weights.h5`. "
                         f"Received: filepath={filepath}")
    if max_shard_size is not None:
        raise ValueError("Sharded weights files (`max_shard_size`) are not supported. "
                         f"Received: max_shard_size={max_shard_size}")
    if not model.built:
        raise ValueError(f"You are saving weights of model '{model.name}' that has not yet "
                         "been built. Build it (e.g. by calling it on some data) first.")
    if not _confirm_overwrite(filepath, overwrite):
        return
    from fcnet.saving.keras_file import build_optimizer

    if getattr(model, "compiled", False):
        build_optimizer(model)
    with atomic_write(filepath) as tmp, h5py.File(tmp, "w") as h5:
        weights_io.write(model, h5)


def load_weights(model, filepath, skip_mismatch: bool = False, **kwargs) -> None:
    """Reads weights into a built model from a ``.weights.h5``, ``.keras`` or legacy
    ``.h5`` file; ``skip_mismatch`` turns mismatches into warnings."""
    filepath = _path(filepath)
    unknown = set(kwargs) - {"by_name"}
    if unknown or (kwargs.get("by_name") and not _is_legacy_h5(filepath)):
        raise ValueError(f"Invalid keyword arguments: {kwargs}. `by_name` applies to legacy "
                         f"`.h5` files only. Received: filepath={filepath}")
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Try building "
            "it (including by calling it on data) before loading the weights. Received: "
            f"filepath={filepath}")
    if filepath.endswith(".keras"):
        from fcnet.saving import keras_file

        keras_file.read_weights(model, filepath, skip_mismatch)
    elif filepath.endswith(".weights.h5"):
        _load_weights_h5(model, filepath, skip_mismatch)
    elif _is_legacy_h5(filepath):
        from fcnet.saving import legacy_h5

        legacy_h5.load_weights_legacy_h5(model, filepath, skip_mismatch=skip_mismatch,
                                         by_name=kwargs.pop("by_name", False))
    else:
        raise ValueError(
            f"File format not supported: filepath={filepath}. Keras 3 only supports V3 "
            "`.keras` and `.weights.h5` files, or legacy V1/V2 `.h5` files.")


def _load_weights_h5(model, filepath: str, skip_mismatch: bool) -> None:
    import h5py

    from fcnet.saving import keras_file

    try:
        h5 = h5py.File(filepath, "r")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as error:
        raise ValueError(f"{filepath} is not a valid weights file (HDF5): {error}") from None
    with h5:
        keras_file.read_h5(model, h5, filepath, skip_mismatch)
