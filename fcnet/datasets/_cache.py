"""What the dataset loaders share: Keras's file names, origins and hashes, reading
``.npz`` files and Python pickles without running code, and Keras's shuffled split.

Some of Keras's dataset files are pickles (the CIFAR batches) or hold object arrays
(IMDB and Reuters sequences). A pickle can name any Python callable to run while it
loads; these files need only NumPy's array reconstruction, so the unpickler here
resolves exactly those few names and refuses every other one before anything runs.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# sha256 (64 digits) or md5 (32) of the files as Keras publishes them.
FILE_HASHES = {
    "mnist.npz": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    "imdb.npz": "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
    "imdb_word_index.json": "bfafd718b763782e994055a2d397834f",
    "reuters.npz": "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
    "reuters_word_index.json": "4d44cc38712099c9e383dc6e5f11a921",
    "boston_housing.npz": "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
    "california_housing.npz":
        "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f",
    "cifar-10-python.tar.gz":
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "cifar-100-python.tar.gz":
        "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
}

# The globals an array pickle names: the reconstructor, the class, its dtype, scalars.
_ALLOWED = frozenset((module, name) for module in ("numpy.core.multiarray",
                                                   "numpy._core.multiarray")
                     for name in ("_reconstruct", "scalar")) | {
    ("numpy", "ndarray"), ("numpy", "dtype")}


def fetch(fname, origin_name=None, origin=None, **kwargs) -> str:
    """``get_file`` for one of Keras's dataset files (``origin_name`` under Keras's
    dataset bucket unless ``origin`` is given), checked against its known hash."""
    from fcnet.utils.file_utils import get_file

    origin = origin or ORIGIN + (origin_name or fname)
    key = origin.rsplit("/", 1)[-1]
    return get_file(fname, origin=origin, file_hash=FILE_HASHES.get(key), **kwargs)


class RefusingUnpickler(pickle.Unpickler):
    """An unpickler that resolves only NumPy's array reconstruction names.

    Any other global (``os.system``, ``builtins.eval``, a class of some package) raises
    ``pickle.UnpicklingError`` before it is imported or called.
    """

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if (module, name) == ("_codecs", "encode"):
            return _latin1  # how Python 3 writes bytes in a protocol-2 pickle
        raise pickle.UnpicklingError(
            f"Refusing to load `{module}.{name}`: a dataset file holds only arrays, "
            "numbers, strings and lists. The file is corrupt or hostile.")


def _latin1(text, encoding="latin1"):
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"Refusing to load `_codecs.encode` with encoding "
                                     f"{encoding!r}: only latin1 text makes bytes.")
    return text.encode("latin1")


def unpickle(path, **kwargs):
    """The object pickled in the file ``path``, refusing any global but NumPy's arrays."""
    with open(path, "rb") as f:
        try:
            return RefusingUnpickler(f, **kwargs).load()
        except pickle.UnpicklingError as error:
            raise ValueError(f"Cannot read {path}: {error}") from None
        except (EOFError, ValueError, TypeError, AttributeError, IndexError,
                KeyError) as error:
            raise ValueError(f"Cannot read {path}: not a valid pickle "
                             f"({type(error).__name__}: {error}).") from None


def _read_member(raw: bytes, path, member: str):
    """One ``.npy`` member: plain arrays by NumPy without pickles, object arrays
    through the refusing unpickler."""
    buffer = io.BytesIO(raw)
    try:
        version = numpy.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, fortran, dtype = numpy.lib.format.read_array_header_1_0(buffer)
        else:
            shape, fortran, dtype = numpy.lib.format.read_array_header_2_0(buffer)
    except ValueError as error:
        raise ValueError(f"{path}: member {member} is not a .npy array ({error}).") from None
    if not dtype.hasobject:
        buffer.seek(0)
        return numpy.lib.format.read_array(buffer, allow_pickle=False)
    try:
        array = RefusingUnpickler(buffer).load()
    except pickle.UnpicklingError as error:
        raise ValueError(f"Cannot read {path} ({member}): {error}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise ValueError(f"Cannot read {path} ({member}): {error}") from None
    if not isinstance(array, numpy.ndarray) or array.shape != tuple(shape):
        raise ValueError(f"{path}: member {member} does not hold the array of shape "
                         f"{tuple(shape)} its header declares.")
    return array


def load_npz(path) -> dict:
    """The arrays of a ``.npz`` file by name; object arrays are read without running code."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ValueError(f"{path} is not a .npz file (not a zip archive).") from None
    arrays = {}
    with archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                arrays[member[:-4]] = _read_member(archive.read(member), path, member)
    return arrays


def require(arrays: dict, keys, path) -> list:
    """``arrays[key]`` for each key, or a ValueError naming the file and what it lacks."""
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise ValueError(f"{path} lacks the arrays {missing}; it holds {sorted(arrays)}.")
    return [arrays[key] for key in keys]


def check_test_split(test_split) -> None:
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between "
                         f"0 and 1 (exclusive of 1). Received: test_split={test_split}")


def shuffle(seed, *arrays):
    """The arrays in one order drawn by ``numpy.random.RandomState(seed)``, as Keras does."""
    order = numpy.arange(len(arrays[0]))
    numpy.random.RandomState(seed).shuffle(order)
    return [a[order] for a in arrays]


def split(x, y, test_split: float, seed: int):
    """Keras's housing split: shuffle, then the first ``1 - test_split`` for training."""
    x, y = shuffle(seed, x, y)
    cut = int(len(x) * (1 - test_split))
    return (numpy.array(x[:cut]), numpy.array(y[:cut])), (numpy.array(x[cut:]),
                                                           numpy.array(y[cut:]))
