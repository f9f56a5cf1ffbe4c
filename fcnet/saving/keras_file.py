"""The ``.keras`` file: a zip of ``metadata.json``, ``config.json`` and
``model.weights.h5``, stored uncompressed, as Keras 3 writes it.

The config uses the key set every Keras 3 release loads (keys added by later
releases are left out, dtype policies are plain names); reading accepts what any
Keras 3 release writes and ignores what it does not need. A file that is not a zip,
lacks a member, or declares members larger than a model could be, raises a
ValueError naming the file.
"""

from __future__ import annotations

import datetime
import io
import json
import lzma
import zipfile
import zlib

from fcnet.backend.files import atomic_write
from fcnet.saving import weights as weights_io
from fcnet.saving.serialization import deserialize_keras_object, serialize_keras_object

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
KERAS_VERSION = "3.0.0"  # the format version fcnet writes: every Keras 3 release reads it
_MAX_CONFIG_BYTES = 64 << 20
_MAX_WEIGHTS_BYTES = 1 << 36
_MAX_RATIO = 100  # a member inflating more than this is a zip bomb
# Keys later Keras releases added, which older readers reject when they hold defaults.
_NEWER_KEYS = {"optional": False, "ragged": False, "quantization_config": None,
               "input_axes": None, "output_axes": None, "lora_rank": None,
               "lora_alpha": None, "synchronized": False,
               "loss_scale_factor": None, "gradient_accumulation_steps": None,
               "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99}


# ---------------------------------------------------------------- writing
def portable(value):
    """A config every Keras 3 release reads: DTypePolicy records become their names,
    keys newer releases added are dropped where they hold their default."""
    if isinstance(value, list):
        return [portable(v) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy") and isinstance(
            value.get("config"), dict):
        return value["config"].get("name", "float32")
    out = {k: portable(v) for k, v in value.items()
           if not (k in _NEWER_KEYS and v == _NEWER_KEYS[k])}
    for key in ("input_layers", "output_layers"):
        if _is_tensor_address(out.get(key)):
            out[key] = [out[key]]  # one tensor as a list of one: Keras 3.0 reads only that
    return out


def _is_tensor_address(value) -> bool:
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)


def model_record(model, include_optimizer: bool = True) -> dict:
    """The model's ``config.json``: its record, build config and compile config."""
    record = serialize_keras_object(model)
    shape = getattr(model, "_build_input_shape", None)
    if shape is not None:
        record["build_config"] = {"input_shape": list(shape)}
    record["compile_config"] = compile_config(model) if include_optimizer else None
    return portable(record)


def compile_config(model) -> dict | None:
    args = getattr(model, "_compile_args", None)
    if not getattr(model, "compiled", False) or args is None:
        return None
    return serialize_keras_object(args)


def save(model, filepath) -> None:
    """Writes ``model`` to the ``.keras`` file ``filepath``, atomically."""
    import h5py

    config = json.dumps(model_record(model)).encode("utf-8")
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    if getattr(model, "compiled", False) and model.built:
        build_optimizer(model)
    weights = io.BytesIO()
    with h5py.File(weights, "w") as h5:
        weights_io.write(model, h5)
    with atomic_write(filepath) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(METADATA, metadata)
        zf.writestr(CONFIG, config)
        zf.writestr(WEIGHTS, weights.getvalue())


def build_optimizer(model) -> None:
    """Creates the optimizer's slots from the built model (no data needed)."""
    if model.optimizer is not None and model.trainable_variables:
        model._pack_parameters()


# ---------------------------------------------------------------- reading
def _open(filepath) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(filepath, "r")
    except zipfile.BadZipFile as error:
        raise ValueError(f"{filepath} is not a valid .keras file (not a zip archive: "
                         f"{error}).") from None
    except (OSError, EOFError, ValueError, OverflowError) as error:
        if isinstance(error, OSError) and str(filepath) in str(error):
            raise
        raise OSError(f"Unable to read the .keras file {filepath}: {error}") from None
    return archive


def _member(archive: zipfile.ZipFile, name: str, limit: int, filepath) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ValueError(f"{filepath} is not a valid .keras file: it has no {name}. "
                         f"Members: {archive.namelist()[:10]}") from None
    if info.file_size > limit or (info.compress_size and
                                  info.file_size > _MAX_RATIO * info.compress_size + (1 << 20)):
        raise ValueError(f"{filepath}: member {name} declares {info.file_size} bytes, more "
                         "than a model file holds (a corrupt or hostile archive).")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
            RuntimeError, zlib.error, lzma.LZMAError) as error:  # a member's data is corrupt
        raise ValueError(f"{filepath}: cannot read member {name}: {error}") from None
    if len(data) > limit:
        raise ValueError(f"{filepath}: member {name} is larger than a model file holds.")
    return data


def read_config(filepath) -> dict:
    """The parsed ``config.json`` of a ``.keras`` file."""
    with _open(filepath) as archive:
        raw = _member(archive, CONFIG, _MAX_CONFIG_BYTES, filepath)
    try:
        config = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{filepath}: config.json is not valid JSON ({error}).") from None
    if not isinstance(config, dict):
        raise ValueError(f"{filepath}: config.json must hold an object. Received: "
                         f"{type(config).__name__}")
    return config


def read_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Loads the weights (and optimizer state) stored in a ``.keras`` file into ``model``."""
    with _open(filepath) as archive:
        raw = _member(archive, WEIGHTS, _MAX_WEIGHTS_BYTES, filepath)
    read_h5_bytes(model, raw, filepath, skip_mismatch)


def read_h5_bytes(model, raw: bytes, source, skip_mismatch: bool = False) -> None:
    import h5py

    try:
        h5 = h5py.File(io.BytesIO(raw), "r")
    except (OSError, ValueError) as error:
        raise ValueError(f"{source}: model.weights.h5 is not a valid HDF5 file "
                         f"({error}).") from None
    with h5:
        read_h5(model, h5, source, skip_mismatch)


def read_h5(model, h5, source, skip_mismatch: bool = False) -> None:
    """Reads Keras 3's weight layout, building the optimizer first so its state loads."""
    if getattr(model, "compiled", False) and model.built:
        build_optimizer(model)
    try:
        weights_io.read(model, h5, str(source), skip_mismatch)
    except (OSError, RuntimeError, KeyError, TypeError) as error:
        raise ValueError(f"{source}: cannot read the weights ({error}).") from None


def load(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """The model stored in the ``.keras`` file ``filepath``, compiled from its compile
    config (with its optimizer state) unless ``compile=False``."""
    config = read_config(filepath)
    compile_args = config.pop("compile_config", None)
    try:
        model = deserialize_keras_object(config, custom_objects, safe_mode)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
            OverflowError, ZeroDivisionError, NotImplementedError,
            MemoryError) as error:  # MemoryError: a config asking for absurd layer sizes
        raise ValueError(f"{filepath}: the model in config.json cannot be rebuilt: "
                         f"{error}") from error
    from fcnet.layers import Layer

    if not isinstance(model, Layer):
        raise ValueError(f"{filepath}: config.json describes a {type(model).__name__}, "
                         "not a model.")
    if compile and compile_args:
        compile_from_config(model, compile_args, custom_objects, filepath)
    read_weights(model, filepath)
    read_assets(model, filepath)
    return model


def read_assets(model, filepath) -> None:
    """Hands each object with ``load_assets`` (an adapted lookup's vocabulary) the files
    Keras stored for it under ``assets/<its path>/``, copied into a temporary folder
    (plain relative names only, sizes capped)."""
    import os
    import tempfile

    targets = [(path, obj) for path, obj in weights_io.saveables(model)
               if hasattr(obj, "load_assets")]
    if not targets:
        return
    with _open(filepath) as archive, tempfile.TemporaryDirectory() as folder:
        for path, obj in targets:
            prefix = f"assets/{path}/"
            names = [n for n in archive.namelist() if n.startswith(prefix)
                     and not n.endswith("/")]
            if not names:
                continue
            here = os.path.join(folder, path.replace("/", "_") or "model")
            os.makedirs(here)
            for name in names:
                relative = name[len(prefix):]
                if "/" in relative or relative in ("", ".", ".."):
                    continue  # only the object's own files, no folders or climbing out
                with open(os.path.join(here, relative), "wb") as f:
                    f.write(_member(archive, name, _MAX_CONFIG_BYTES, filepath))
            try:
                obj.load_assets(here)
            except (ValueError, TypeError, OSError, UnicodeDecodeError) as error:
                raise ValueError(f"{filepath}: the assets of {path} cannot be used: "
                                 f"{error}") from None


def compile_from_config(model, config: dict, custom_objects, source) -> None:
    """Compiles ``model`` from a saved compile config (Keras's keys)."""
    if not isinstance(config, dict):
        raise ValueError(f"{source}: compile_config must be an object. Received: "
                         f"{type(config).__name__}")
    try:
        args = {k: deserialize_keras_object(config.get(k), custom_objects)
                for k in ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics")}
        model.compile(**{k: v for k, v in args.items() if v is not None})
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise ValueError(f"{source}: the saved compile config cannot be used: "
                         f"{error}") from error
