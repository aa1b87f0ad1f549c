"""Tables read and written in batches, so a stage's memory is a batch's, not a window's.

A window is written as one Parquet file per day (`window.parquet/<YYYY-MM-DD>.parquet`: a
directory that DuckDB, polars and pyarrow read as one table), read back a batch of BATCH_ROWS at
a time; feature matrices are `.npy` files written and read in row chunks through plain file I/O
(not a memory map, whose touched pages would count as the process's memory).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from platform_core.storage import Location

BATCH_ROWS = 25_000
WINDOW = "window.parquet"


def day_file(directory: Location, day: date) -> Location:
    return directory / WINDOW / f"{day.isoformat()}.parquet"


def iter_batches(path: Location, columns: list[str] | None = None, rows: int | None = None) -> Iterator[pl.DataFrame]:
    with path.open("rb") as handle:
        for batch in pq.ParquetFile(handle).iter_batches(batch_size=rows or BATCH_ROWS, columns=columns):
            yield pl.from_arrow(batch)


def read_columns(path: Location, columns: list[str]) -> pl.DataFrame:
    with path.open("rb") as handle:
        return pl.from_arrow(pq.read_table(handle, columns=columns))


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame`'s rows in buffers of their own: a filtered polars frame keeps the string buffers of the batch it
    came from alive, so a few rows kept from each batch would hold every batch's texts."""
    return pl.from_arrow(frame.to_arrow(compat_level=pl.CompatLevel.oldest()))


def row_count(path: Location) -> int:
    with path.open("rb") as handle:
        return pq.ParquetFile(handle).metadata.num_rows


class MatrixWriter:
    """A float32 `.npy` of `rows` x `columns` written chunk by chunk (np.load reads it whole)."""

    def __init__(self, path, rows: int, columns: int):
        self.handle, self.rows, self.columns, self.written = open(path, "wb"), rows, columns, 0
        np.lib.format.write_array_header_2_0(self.handle, {"descr": "<f4", "fortran_order": False, "shape": (rows, columns)})

    def write(self, chunk: np.ndarray) -> None:
        self.handle.write(np.ascontiguousarray(chunk, dtype="<f4").tobytes())
        self.written += len(chunk)

    def close(self) -> None:
        self.handle.close()
        if self.written != self.rows:
            raise ValueError(f"{self.handle.name}: {self.written:,} rows written, {self.rows:,} announced")


def iter_matrix(path: Location, rows: int | None = None) -> Iterator[np.ndarray]:
    """A `.npy` matrix `rows` (default BATCH_ROWS) at a time."""
    rows = rows or BATCH_ROWS
    with path.open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = header(handle)
        for start in range(0, shape[0], rows):
            count = min(rows, shape[0] - start) * shape[1]
            yield np.frombuffer(handle.read(count * dtype.itemsize), dtype=dtype).reshape(-1, shape[1])
