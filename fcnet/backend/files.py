"""Crash-safe writes: a file is replaced whole or not at all.

``with atomic_write(path) as tmp:`` hands out a temporary path in the same folder;
when the block ends without an exception the temporary file is flushed to disk
(fsync), renamed over ``path`` (an atomic step on POSIX and Windows) and the folder
entry is synced too. On an exception the temporary file is removed and ``path`` is
left as it was, so a process killed at any moment leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def _fsync_path(path: str, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # some systems cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path):
    """Yields a temporary file path beside ``path``; renames it over ``path`` on success."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=folder)
    except OSError as error:  # name the file the user asked for, not the temporary one
        raise type(error)(error.errno, error.strerror, path) from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # the mode a plain open() would give, not mkstemp's 0600
    try:
        yield tmp
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_path(folder, directory=True)
