"""``CSVLogger``: write each epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable

from fcnet.backend import parallel
from fcnet.callbacks.callback import Callback


class CSVLogger(Callback):
    """Streams epoch results to a CSV file, as Keras 3 writes it.

    The header is ``epoch`` followed by the first epoch's log keys, sorted; when
    those hold no ``val_`` key, a ``val_`` column is added for each (validation may
    start later, ``validation_freq``), filled with ``NA`` while missing. Rows use
    the ``excel`` dialect (``\\r\\n`` line ends) with ``separator`` between fields;
    a 1-D value is written as ``"[1, 2]"``. The file is flushed after every row and
    closed when training ends.

    Args:
        filename: path of the CSV file.
        separator: field separator (``","``).
        append: add to an existing file (no second header) instead of overwriting.

    Example:
        ```python
        model.fit(x, y, epochs=5, callbacks=[CSVLogger("training.log")])
        ```
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if not parallel.is_chief():  # data parallel: rank 0 writes the log
            return
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, newline="") as f:
                    self.append_header = not f.readline()
            mode = "a"
        else:
            mode = "w"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode, newline="")  # noqa: SIM115 (closed at train end)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        if self.csv_file is None:  # not this process's log to write
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys.extend(f"val_{k}" for k in list(self.keys))
        if self.writer is None:
            dialect = type("CustomDialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch"] + self.keys, dialect=dialect
            )
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, _cell(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _cell(value):
    if isinstance(value, str) or getattr(value, "ndim", None) == 0:
        return value
    if isinstance(value, Iterable):
        return f'"[{", ".join(map(str, value))}]"'
    return value
