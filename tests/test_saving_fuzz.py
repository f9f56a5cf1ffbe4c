"""The loader against damaged files: it loads them or raises ValueError / OSError naming
the file; nothing else escapes and nothing hangs.

fcnet saves a small MLP and a small CNN (``.keras`` and ``.weights.h5``); a seeded RNG
then damages copies of them: byte flips, truncations, empty and foreign files, zips with
members missing, duplicated, compressed with an unknown method, encrypted or declaring
huge sizes, garbage JSON, wrong types anywhere in the config, HDF5 datasets with wrong
shapes, dtypes, links or missing entirely. The cases run in a child process (a crash of
a native library fails this test instead of ending the test session), each under an
alarm that turns a hang into a failure; the child prints how many cases ran and how
they ended.
"""

import copy
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
import traceback
import zipfile

import numpy as np

SEED = 20261127
CASE_LIMIT_S = 20  # a case still running after this long is counted as a hang


def _mlp(fcnet):
    model = fcnet.Sequential([fcnet.Input(shape=(4,)), fcnet.layers.Dense(8, activation="relu"),
                              fcnet.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _trained_mlp(fcnet):
    """The MLP after one step: its files carry the optimizer's state too."""
    model = _mlp(fcnet)
    x = np.linspace(-1, 1, 32, dtype="float32").reshape(8, 4)
    model.fit(x, np.arange(8) % 3, epochs=1, batch_size=8, verbose=0)
    return model


def _cnn(fcnet):
    layers = fcnet.layers
    return fcnet.Sequential([fcnet.Input(shape=(6, 6, 1)), layers.Conv2D(2, 3, activation="relu"),
                             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(2)])


# ---------------------------------------------------------------- damage to any file
def _flips(data: bytes, rng) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def _bytes_cases(name, data, rng):
    for i in range(30):
        yield f"{name}: byte flips #{i}", _flips(data, rng)
    for i in range(15):
        yield f"{name}: truncated #{i}", data[:rng.randrange(len(data))]
    yield f"{name}: empty", b""
    yield f"{name}: random bytes", rng.randbytes(4096)
    yield f"{name}: text", b"this is not a model\n" * 10
    yield f"{name}: header only", data[:512]


# ------------------------------------------------------------------ zip structure
def _members(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def _zip(members, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, value in members:
            z.writestr(name, value)
    return buffer.getvalue()


def _patch_headers(data: bytes, member: str, **fields) -> bytes:
    """Rewrites fields of ``member``'s local and central headers (sizes, method, flags)."""
    out = bytearray(data)
    name = member.encode()
    offsets = {"flags": (6, 8, "<H"), "method": (8, 10, "<H"), "size": (22, 26, "<I")}
    central = {"flags": (8, 10, "<H"), "method": (10, 12, "<H"), "size": (24, 28, "<I")}
    for signature, table, name_at in ((b"PK\x03\x04", offsets, 30), (b"PK\x01\x02", central, 46)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            if out[start + name_at:start + name_at + len(name)] == name:
                for key, value in fields.items():
                    lo, hi, fmt = table[key]
                    out[start + lo:start + hi] = struct.pack(fmt, value)
            start += 4
    return bytes(out)


def _zip_cases(name, data, rng):
    members = _members(data)
    items = list(members.items())
    for missing in ("config.json", "model.weights.h5", "metadata.json"):
        yield f"{name}: no {missing}", _zip([(k, v) for k, v in items if k != missing])
    yield f"{name}: only metadata", _zip([("metadata.json", members["metadata.json"])])
    yield f"{name}: empty zip", _zip([])
    yield f"{name}: config twice", _zip(items + [("config.json", b"{}")])
    yield f"{name}: config is a folder", _zip(
        [("config.json/", b"")] + [(k, v) for k, v in items if k != "config.json"])
    yield f"{name}: path traversal member", _zip(items + [("../../escaped.txt", b"x")])
    yield f"{name}: extra assets", _zip(items + [("assets/a.txt", b"x")])
    yield f"{name}: deflated", _zip(items, zipfile.ZIP_DEFLATED)
    yield f"{name}: nested zip", _zip([("model.keras", data)])
    for member in ("config.json", "model.weights.h5"):
        yield f"{name}: {member} declares 4 GiB", _patch_headers(data, member, size=0xFFFFFFFF)
        yield f"{name}: {member} declares 0 bytes", _patch_headers(data, member, size=0)
        yield f"{name}: {member} unknown method", _patch_headers(data, member, method=99)
        for method, label in ((8, "deflate"), (12, "bzip2"), (14, "lzma")):
            yield f"{name}: {member} claims {label}", _patch_headers(data, member, method=method)
        yield f"{name}: {member} encrypted", _patch_headers(data, member, flags=1)
    padded = b" " * (64 << 20) + members["config.json"]  # 64 MiB that deflate to ~64 KiB
    yield f"{name}: config of 64 MiB whitespace", _zip(
        [(k, padded if k == "config.json" else v) for k, v in items], zipfile.ZIP_DEFLATED)


# ------------------------------------------------------------------------- JSON
GARBAGE_JSON = [b"", b"{", b"[]", b"null", b'"Sequential"', b"NaN", b"\xff\xfe\x00{",
                b'{"class_name": 5}', b'{"module": "keras", "class_name": "Sequential"}',
                b'{"class_name": "Sequential", "config": {"layers": "dense"}}',
                b"[" * 100000 + b"]" * 100000, b'{"a": ' * 5000 + b"1" + b"}" * 5000]
WRONG_VALUES = [None, "garbage", "os.system", -1, 0, 2 ** 62, 10 ** 30, 1.5, float("nan"),
                [], {}, [1, "a"], True, {"class_name": "Nope", "config": {}}, [[None]]]


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _mutate(config, rng):
    config = copy.deepcopy(config)
    path = rng.choice([p for p in _paths(config) if p])
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    action = rng.random()
    if action < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
        return config, f"deleted {path}"
    value = rng.choice(WRONG_VALUES)
    parent[path[-1]] = value
    return config, f"{path} = {value!r}"


def _json_cases(name, data, rng):
    members = _members(data)
    config = json.loads(members["config.json"])

    def with_config(raw):
        return _zip([(k, raw if k == "config.json" else v) for k, v in members.items()])

    for i, raw in enumerate(GARBAGE_JSON):
        yield f"{name}: garbage JSON #{i}", with_config(raw)
    for key in ("units", "filters"):  # a layer of 2**36 units asks for a TiB or more
        huge = copy.deepcopy(config)
        for layer in huge["config"]["layers"]:
            if key in layer["config"]:
                layer["config"][key] = 2 ** 36
        yield f"{name}: every {key} = 2**36", with_config(json.dumps(huge).encode())
    for _ in range(40):
        mutated, what = _mutate(config, rng)
        yield f"{name}: config {what}", with_config(json.dumps(mutated).encode())


# ------------------------------------------------------------------------- HDF5
def _h5_edit(data: bytes, edit) -> bytes:
    import h5py

    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as f:
        edit(f)
    return buffer.getvalue()


def _datasets(f):
    import h5py

    found = []
    f.visititems(lambda key, obj: found.append(key) if isinstance(obj, h5py.Dataset) else None)
    return found


def _h5_edits(rng):
    import h5py

    def replace(f, key, **kwargs):
        del f[key]
        f.create_dataset(key, **kwargs)

    def pick(f):
        keys = [k for k in _datasets(f) if k.startswith("layers/")]
        return rng.choice(keys)

    yield "a dataset deleted", lambda f: f.__delitem__(pick(f))
    yield "transposed", lambda f: (lambda k: replace(f, k, data=np.asarray(f[k]).T.copy()
                                                     if f[k].ndim > 1 else
                                                     np.asarray(f[k])[:, None]))(pick(f))
    yield "one element more", lambda f: (lambda k: replace(
        f, k, data=np.zeros((f[k].shape[0] + 1,) + f[k].shape[1:], "float32")
        if f[k].ndim else np.zeros(2, "float32")))(pick(f))
    yield "empty", lambda f: replace(f, pick(f), data=np.zeros((0,), "float32"))
    yield "scalar", lambda f: replace(f, pick(f), data=np.float32(1.0))
    yield "huge declared shape", lambda f: replace(
        f, pick(f), shape=(2 ** 31, 2 ** 31), dtype="float32", chunks=(1, 1))
    for dtype in ("int32", "float64", "complex64", "bool", "float16"):
        yield f"as {dtype}", lambda f, dtype=dtype: (lambda k: replace(
            f, k, data=np.ones(f[k].shape, dtype)))(pick(f))
    yield "strings", lambda f: replace(f, pick(f), data=np.array([b"a", b"b"]))
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros(2, "f4"), np.zeros(3, "f4")
    yield "vlen", lambda f: replace(f, pick(f), data=ragged,
                                    dtype=h5py.vlen_dtype(np.dtype("f4")))
    yield "compound", lambda f: replace(f, pick(f), data=np.zeros(3, [("a", "f4"), ("b", "i4")]))
    yield "group instead", lambda f: (lambda k: (f.__delitem__(k), f.create_group(k)))(pick(f))
    yield "dangling soft link", lambda f: (lambda k: (f.__delitem__(k), f.__setitem__(
        k, h5py.SoftLink("/nowhere"))))(pick(f))
    yield "external link", lambda f: (lambda k: (f.__delitem__(k), f.__setitem__(
        k, h5py.ExternalLink("/etc/passwd", "/x"))))(pick(f))
    yield "no layers group", lambda f: f.__delitem__("layers")
    yield "extra dataset", lambda f: f[os.path.dirname(pick(f))].create_dataset(
        "99", data=np.zeros(2, "f4"))
    yield "extra layer", lambda f: f.create_dataset("layers/surplus/vars/0", data=[1.0])
    yield "layer group is a dataset", lambda f: (lambda g: (f.__delitem__(g), f.create_dataset(
        g, data=[1.0])))(os.path.dirname(os.path.dirname(pick(f))))
    def pick_slot(f):
        keys = [k for k in _datasets(f) if k.startswith("optimizer/")]
        return rng.choice(keys) if keys else pick(f)

    yield "optimizer slot transposed", lambda f: (lambda k: replace(
        f, k, data=np.zeros(f[k].shape[::-1] + (2,), "float32")))(pick_slot(f))
    yield "optimizer slot deleted", lambda f: f.__delitem__(pick_slot(f))
    yield "optimizer iterations as text", lambda f: replace(
        f, "optimizer/vars/0", data=np.array([b"many"])) if "optimizer" in f else None
    yield "NaN values", lambda f: (lambda k: replace(
        f, k, data=np.full(f[k].shape, np.nan, "float32")))(pick(f))


def _h5_cases(name, data, rng, in_zip):
    members = _members(data) if in_zip else None
    h5 = members["model.weights.h5"] if in_zip else data
    for what, edit in _h5_edits(rng):
        edited = _h5_edit(h5, edit)
        if in_zip:
            edited = _zip([(k, edited if k == "model.weights.h5" else v)
                           for k, v in members.items()])
        yield f"{name}: h5 {what}", edited


# ------------------------------------------------------------------------- runner
class _Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Hang()


def run_cases(folder: str) -> dict:
    """Saves the base files into ``folder``, runs every case; returns the tallies."""
    import fcnet

    rng = random.Random(SEED)
    builders = {"mlp": _mlp, "cnn": _cnn}
    files = {}
    for key, build in builders.items():
        model = _trained_mlp(fcnet) if key == "mlp" else build(fcnet)
        model.save(os.path.join(folder, f"{key}.keras"))
        model.save_weights(os.path.join(folder, f"{key}.weights.h5"))
        for ext in ("keras", "weights.h5"):
            with open(os.path.join(folder, f"{key}.{ext}"), "rb") as f:
                files[f"{key}.{ext}"] = f.read()

    cases = []
    for name, data in files.items():
        is_zip = name.endswith(".keras")
        cases += [(name, label, raw) for label, raw in _bytes_cases(name, data, rng)]
        cases += [(name, label, raw) for label, raw in _h5_cases(name, data, rng, is_zip)]
        if is_zip:
            cases += [(name, label, raw) for label, raw in _zip_cases(name, data, rng)]
            cases += [(name, label, raw) for label, raw in _json_cases(name, data, rng)]
        else:
            other = files[name.replace("weights.h5", "keras")]
            cases.append((name, f"{name}: a .keras zip under this name", other))

    # A .keras file is read twice: whole (load_model) and into a model (load_weights).
    runs = [(name, label, raw, how) for name, label, raw in cases
            for how in (("load_model", "load_weights") if name.endswith(".keras")
                        else ("load_weights",))]
    counts = {"loaded": 0, "ValueError": 0, "OSError": 0}
    failures, loaded = [], []
    signal.signal(signal.SIGALRM, _on_alarm)
    for i, (name, label, raw, how) in enumerate(runs):
        label = f"{label} [{how}]"
        path = os.path.join(folder, f"case{i}.{name.split('.', 1)[1]}")
        with open(path, "wb") as f:
            f.write(raw)
        print(label, file=sys.stderr, flush=True)  # the last line names a crashing case
        signal.alarm(CASE_LIMIT_S)
        try:
            if how == "load_model":
                fcnet.models.load_model(path)
            else:
                builders[name.split(".")[0]](fcnet).load_weights(path)
            outcome = "loaded"
            loaded.append(label)
        except _Hang:
            failures.append(f"{label}: still running after {CASE_LIMIT_S} s")
            continue
        except (ValueError, OSError) as error:
            outcome = "OSError" if isinstance(error, OSError) else "ValueError"
            if path not in str(error):
                failures.append(f"{label}: {type(error).__name__} without the path: {error}")
        except BaseException as error:  # noqa: BLE001 - what must not escape
            outcome = type(error).__name__
            failures.append(f"{label}: {type(error).__name__}: {error}\n"
                            + "".join(traceback.format_tb(error.__traceback__)[-3:]))
        finally:
            signal.alarm(0)
        counts[outcome] = counts.get(outcome, 0) + 1
        os.remove(path)
    escaped = [p for p in (os.path.join(folder, *[".."] * up, "escaped.txt")
                           for up in range(3)) if os.path.exists(p)]
    return {"cases": len(runs), "counts": counts, "failures": failures, "escaped": escaped,
            "loaded": loaded}


def test_damaged_files_load_or_raise_value_or_os_errors(tmp_path):
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    child = subprocess.run(
        [sys.executable, os.path.abspath(__file__), str(work)], capture_output=True,
        text=True, timeout=600, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert child.returncode == 0, (f"the fuzzing process died ({child.returncode}) in case: "
                                   f"{child.stderr.strip().splitlines()[-5:]}")
    report = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"\nfuzz: {report['cases']} cases, outcomes {report['counts']}")
    assert report["cases"] >= 300
    assert not report["escaped"]
    assert not report["failures"], "\n".join(report["failures"][:20])
    # A weight missing, surplus or of another shape or kind is an error, as in Keras;
    # only a castable dtype, NaN values and a group no layer reads may load.
    must_fail = ("deleted", "transposed", "one element more", "empty", "scalar", "huge",
                 "strings", "vlen", "compound", "group instead", "link", "no layers",
                 "extra dataset", "is a dataset", "no model.weights.h5", "no config.json")
    wrongly = [label for label in report["loaded"] if any(
        f"h5 {what}" in label or f": {what}" in label for what in must_fail)
        and not label.endswith("no config.json [load_weights]")]  # weights need no config
    assert not wrongly, wrongly


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(json.dumps(run_cases(sys.argv[1])))
