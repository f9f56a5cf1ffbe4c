"""Console output shared by the progress bar and the callbacks' messages.

Everything is written to ``sys.stdout`` as it is at the moment of writing, so
``contextlib.redirect_stdout`` and pytest's ``capsys`` capture it, and every
write is flushed so a live bar shows at once.
"""

from __future__ import annotations

import sys

from fcnet.backend import parallel


def print_msg(message: str, line_break: bool = True) -> None:
    """Writes ``message`` (plus a newline unless ``line_break=False``) to stdout; in a
    data-parallel job only rank 0 writes."""
    if not parallel.is_chief():
        return
    stream = sys.stdout
    stream.write(f"{message}\n" if line_break else message)
    stream.flush()


def is_dynamic_display(stream=None) -> bool:
    """Whether ``stream`` (default: the current stdout) can redraw a line in place.

    True for a terminal (``isatty()``) and for the output stream of an IPython kernel
    (Jupyter, Colab). Keras also answers True whenever ``"posix"`` is in
    ``sys.modules`` -- always, on Linux and macOS -- which fills log files with
    backspaces (keras-team/keras#5906, #7523, #8414); fcnet asks the stream itself.
    """
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except (ValueError, OSError):  # a closed or detached stream
        return False
    if "ipykernel" not in sys.modules:
        return False
    return any(cls.__module__.startswith("ipykernel") for cls in type(stream).__mro__)
