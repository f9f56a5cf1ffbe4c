"""``get_file``: a file from a URL, kept in Keras's cache (``$KERAS_HOME`` or ``~/.keras``).

The cache is Keras's own: a file Keras has downloaded is found here under the same
name, and the other way round. A download goes to a temporary file beside the target,
is checked against ``file_hash`` there, and only then renamed over the target, so an
interrupted or corrupted download never leaves a file in the cache. Without a network
the error names the file to fetch by hand and the folder to put it in.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from fcnet.backend.files import atomic_write

_CHUNK = 1 << 16


def keras_home() -> str:
    """``$KERAS_HOME`` when set, else ``~/.keras`` (read at each call)."""
    return os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def resolve_hasher(algorithm: str = "auto", file_hash: str | None = None):
    """A hashlib object: sha256 for ``"sha256"`` or a 64-digit ``"auto"`` hash, else md5."""
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError("`hash_algorithm` must be one of 'auto', 'sha256', 'md5'. "
                         f"Received: hash_algorithm={algorithm!r}")
    if algorithm == "sha256" or (algorithm == "auto" and file_hash is not None
                                 and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()


def hash_file(fpath, algorithm="sha256", chunk_size: int = _CHUNK) -> str:
    """The hex digest of the file ``fpath`` (``algorithm``: a name or a hashlib object)."""
    hasher = resolve_hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash: str, algorithm: str = "auto",
                  chunk_size: int = _CHUNK) -> bool:
    """Whether the file's sha256 (or md5) digest equals ``file_hash``."""
    hasher = resolve_hasher(algorithm, file_hash)
    return hash_file(fpath, hasher, chunk_size) == str(file_hash).lower()


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False,
             archive_format="auto", cache_dir=None, force_download=False) -> str:
    """The local path of the file at ``origin``, downloaded into the cache if missing.

    The file lands at ``<cache_dir>/<cache_subdir>/<fname>`` (``cache_dir`` defaults to
    ``$KERAS_HOME`` or ``~/.keras``); with ``extract=True`` the archive is kept as
    ``<fname>_archive`` (or ``<fname>`` when the name has a suffix) and unpacked into
    the folder ``<fname>`` (``<stem>_extracted``), whose path is returned.

    Args:
        fname: the file's name in the cache; the last part of ``origin``'s path if None.
            A name, not a path.
        origin: the URL (``https://``, ``http://``, ``file://``).
        untar: deprecated form of ``extract=True`` for tar archives.
        md5_hash: deprecated form of ``file_hash`` with ``hash_algorithm="md5"``.
        file_hash: the expected sha256 or md5 hex digest. A download that does not match
            is refused and not kept; a cached file that does not match is fetched again.
        cache_subdir: folder under ``cache_dir``; an absolute path is used as it is.
        hash_algorithm: ``"auto"`` (sha256 for 64 hex digits, else md5), ``"sha256"``
            or ``"md5"``.
        extract: unpack the archive (tar, tar.gz, tar.bz2, zip).
        archive_format: ``"auto"`` (tar then zip), ``"tar"``, ``"zip"`` or None.
        cache_dir: the cache root.
        force_download: download even when the file is cached.

    Returns:
        The path of the file, or of the extraction folder when extracting.
    """
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to '
                         "download). Received: origin=None")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    resolve_hasher(hash_algorithm, file_hash)  # checks the name before any download
    base = os.path.expanduser(os.fspath(cache_dir)) if cache_dir is not None else keras_home()
    datadir = os.path.join(base, cache_subdir)
    provided = fname is not None
    fname = _file_name(fname, origin)
    if extract or untar:
        if provided and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[:fname.find('.')]}_extracted")
        else:
            target = os.path.join(datadir, f"{fname}_archive")
            extraction_dir = os.path.join(datadir, fname)
    else:
        target, extraction_dir = os.path.join(datadir, fname), None

    downloaded = False
    if force_download or not os.path.exists(target):
        if extraction_dir is not None and not force_download and _has_files(extraction_dir):
            return extraction_dir  # unpacked earlier, archive since removed: use it
        _download(origin, target, datadir, file_hash, hash_algorithm)
        downloaded = True
    elif file_hash is not None and not validate_file(target, file_hash, hash_algorithm):
        print(f"A local file was found, but it seems to be incomplete or outdated because "
              f"the {hash_algorithm} file hash does not match the original value of "
              f"{file_hash} so we will re-download the data.")
        try:
            _download(origin, target, datadir, file_hash, hash_algorithm)
        except BaseException:
            os.remove(target)  # the stale file is not kept either
            raise
        downloaded = True
    if extraction_dir is None:
        return target
    if downloaded or not _has_files(extraction_dir):
        extract_archive(target, extraction_dir, "tar" if untar else archive_format)
    return extraction_dir


def _file_name(fname, origin) -> str:
    if fname is None:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname or fname in (os.curdir, os.pardir):
            raise ValueError("Can't parse the file name from the origin provided: "
                             f"'{origin}'. Please specify the `fname` argument.")
        return fname
    fname = os.fspath(fname)
    if os.sep in fname or (os.altsep and os.altsep in fname) or fname in ("", ".", ".."):
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify "
                         "the file's parent directory, use the `cache_dir` argument. "
                         f"Received: fname={fname}")
    return fname


def _has_files(folder) -> bool:
    return os.path.isdir(folder) and bool(os.listdir(folder))


def _download(origin, target, datadir, file_hash, hash_algorithm) -> None:
    """Streams ``origin`` into a temporary file beside ``target``, checks its hash and
    renames it over ``target``; on any failure nothing is left behind."""
    try:
        os.makedirs(datadir, exist_ok=True)
    except OSError as error:
        raise OSError(f"Cannot create the cache folder {datadir}: {error}. Pass a writable "
                      "`cache_dir` (or set KERAS_HOME).") from None
    print(f"Downloading data from {origin}")
    try:
        with atomic_write(target) as tmp:
            _fetch(origin, tmp)
            if file_hash is not None and not validate_file(tmp, file_hash, hash_algorithm):
                raise ValueError(
                    f"Incomplete or corrupted file detected: the {hash_algorithm} file hash "
                    f"of the file downloaded from {origin} does not match the provided value "
                    f"of {file_hash}. The file was not kept.")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise OSError(
            f"URL fetch failure on {origin}: {reason}. Without a network connection, "
            f"download that file by hand and save it as {os.path.basename(target)!r} in "
            f"the folder {datadir} (full path: {target}).") from None


def _fetch(origin, path) -> None:
    """Copies the bytes at ``origin`` into ``path``, with a progress bar on stdout."""
    from fcnet.callbacks.progbar import Progbar

    with urllib.request.urlopen(origin, timeout=60) as response, open(path, "wb") as out:
        length = response.headers.get("Content-Length") if response.headers else None
        total = int(length) if length and length.isdigit() else None
        bar = Progbar(total, unit_name="byte")
        done = 0
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            out.write(chunk)
            done += len(chunk)
            bar.update(done)
        bar.update(done, finalize=True)
        sys.stdout.flush()


def extract_archive(file_path, path=".", archive_format="auto") -> bool:
    """Unpacks a tar (plain, gz, bz2, xz) or zip archive into the folder ``path``.

    Members are written only inside ``path``: absolute names, ``..`` parts, links and
    device files are refused. The archive is unpacked into a temporary folder that is
    renamed to ``path`` at the end, so an interrupted run leaves no half folder.

    Returns:
        True when an archive of a requested format was found and unpacked.
    """
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    file_path, path = os.fspath(file_path), os.fspath(path)
    for kind in formats:
        if kind not in ("tar", "zip"):
            raise ValueError("`archive_format` must be 'auto', 'tar', 'zip' or None. "
                             f"Received: archive_format={kind!r}")
        if not (tarfile.is_tarfile(file_path) if kind == "tar" else
                zipfile.is_zipfile(file_path)):
            continue
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
        try:
            (_untar if kind == "tar" else _unzip)(file_path, staging)
            if os.path.isdir(path):
                shutil.rmtree(path)
            os.replace(staging, path)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return True
    return False


def _safe_name(name: str, archive) -> str:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ".." in parts or os.path.splitdrive(name)[0]:
        raise ValueError(f"{archive}: member {name!r} would be written outside the "
                         "extraction folder; the archive is refused.")
    return os.path.join(*[p for p in parts if p not in ("", ".")] or ["."])


def _untar(file_path, dest) -> None:
    with tarfile.open(file_path) as archive:
        members = []
        for member in archive.getmembers():
            _safe_name(member.name, file_path)
            if member.isfile() or member.isdir():
                members.append(member)  # links and devices are skipped
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(dest, members=members, **kwargs)


def _unzip(file_path, dest) -> None:
    with zipfile.ZipFile(file_path) as archive:
        for info in archive.infolist():
            relative = _safe_name(info.filename, file_path)
            out = os.path.join(dest, relative)
            if info.is_dir():
                os.makedirs(out, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with archive.open(info) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, _CHUNK)
