"""Arrays in files, read in slices of rows without loading the rest.

:func:`open_source` opens ``FILE[:COLUMN]`` as a :class:`Source`: a .npy file (memory-mapped
one chunk at a time), an .npz member (mapped in place when stored uncompressed, otherwise
read whole), a CSV file or a Parquet file (read forwards in batches).  Sources are sent to
Dask workers, so every class here is importable at module level and picklable.
"""

from __future__ import annotations

import csv
import os
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import _xp
from ._common import EvalError, one_line


class Source:
    """An array in a file, read in slices along one axis without loading the rest."""

    shape: tuple[int, ...]
    dtype: np.dtype
    name: str

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        return _xp.numel(self.shape) * self.dtype.itemsize

    def read(self, start: int, stop: int, axis: int = 0) -> np.ndarray:
        raise NotImplementedError

    def read_all(self) -> np.ndarray:
        if not self.shape:
            return self.read(0, 0, -1)
        return self.read(0, self.shape[0])

    # da.from_array protocol: lazy reads of any block.
    def __getitem__(self, index: Any) -> np.ndarray:
        return self.read_all()[index]


class ArraySource(Source):
    """An array already in memory (a compressed .npz member; a small file)."""

    def __init__(self, array: np.ndarray, name: str) -> None:
        self.array, self.name = array, name
        self.shape, self.dtype = tuple(array.shape), array.dtype

    def read(self, start: int, stop: int, axis: int = 0) -> np.ndarray:
        if axis < 0:
            return np.array(self.array)
        index = (slice(None),) * axis + (slice(start, stop),)
        return np.array(self.array[index])

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self.array[index])


class NpySource(Source):
    """A .npy file, memory-mapped one chunk at a time.

    Each read maps only the rows it needs and unmaps them when copied, so the pages of
    the file never pile up in the process's resident memory.  Picklable (path, offset,
    shape, dtype): Dask workers open the file themselves.
    """

    def __init__(self, path: str, name: str, start: int = 0, size: int | None = None) -> None:
        self.path, self.name = path, name
        with open(path, "rb") as f:
            f.seek(start)
            version = np.lib.format.read_magic(f)
            reader = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version)
            if reader is None:
                raise EvalError(f"{name}: unsupported .npy version {version}")
            shape, fortran, dtype = reader(f)
            self.offset = f.tell()
        if dtype.hasobject:
            raise EvalError(f"{name}: object arrays are not supported")
        end = os.path.getsize(path) if size is None else start + size
        if end < self.offset + _xp.numel(shape) * dtype.itemsize:
            raise EvalError(f"{name}: the file is truncated")
        self.shape, self.dtype, self.fortran = tuple(shape), dtype, fortran

    def _map(self) -> np.ndarray:
        return np.memmap(
            self.path,
            dtype=self.dtype,
            mode="r",
            offset=self.offset,
            shape=self.shape,
            order="F" if self.fortran else "C",
        )

    def read(self, start: int, stop: int, axis: int = 0) -> np.ndarray:
        if _xp.numel(self.shape) == 0:
            return np.zeros(self.shape, self.dtype)
        if not self.shape:  # a 0-D array: its one element
            return np.fromfile(self.path, dtype=self.dtype, count=1, offset=self.offset).reshape(())
        if axis < 0:
            start, stop, axis = 0, self.shape[0], 0
        if axis == 0 and not self.fortran:
            row = _xp.numel(self.shape[1:])
            rows = max(stop - start, 0)
            if rows == 0 or row == 0:
                return np.zeros((rows, *self.shape[1:]), self.dtype)
            view = np.memmap(
                self.path,
                dtype=self.dtype,
                mode="r",
                offset=self.offset + start * row * self.dtype.itemsize,
                shape=(rows, *self.shape[1:]),
            )
            chunk = np.array(view)
            del view
            return chunk
        index = (slice(None),) * axis + (slice(start, stop),)
        mapped = self._map()
        chunk = np.array(mapped[index])
        del mapped
        return chunk

    def __getitem__(self, index: Any) -> np.ndarray:
        if not isinstance(index, tuple):
            index = (index,)
        first = index[0] if index else slice(None)
        if isinstance(first, slice) and first.step in (None, 1) and self.shape and not self.fortran:
            start, stop, _ = first.indices(self.shape[0])
            return self.read(start, stop)[(slice(None), *index[1:])]
        mapped = self._map()
        chunk = np.array(mapped[index])
        del mapped
        return chunk

    def __reduce__(self) -> tuple[Any, ...]:
        return (NpySource, (self.path, self.name))


class _SequentialSource(Source):
    """Rows of a text or columnar file, read forwards in batches (CSV, Parquet)."""

    def _batches(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def _restart(self) -> None:
        self._buffer: list[np.ndarray] = []
        self._iter, self._position = self._batches(), 0

    def read(self, start: int, stop: int, axis: int = 0) -> np.ndarray:
        if axis != 0:
            return ArraySource(self.read_all(), self.name).read(start, stop, axis)
        if not hasattr(self, "_iter") or start < self._position:
            self._restart()
        parts, need_from = [], start
        while self._position < stop:
            if not self._buffer:
                try:
                    self._buffer = [next(self._iter)]
                except StopIteration:
                    break
            batch = self._buffer.pop(0)
            begin, end = self._position, self._position + len(batch)
            if end > need_from:
                lo, hi = max(need_from - begin, 0), min(stop - begin, len(batch))
                parts.append(batch[lo:hi])
                if hi < len(batch):
                    self._buffer.insert(0, batch[hi:])
                    end = begin + hi
            self._position = end
        if not parts:
            return np.zeros((0, *self.shape[1:]), self.dtype)
        return np.concatenate(parts) if len(parts) > 1 else np.array(parts[0])

    def read_all(self) -> np.ndarray:
        return self.read(0, self.shape[0])


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class CsvSource(_SequentialSource):
    """A CSV file: all columns (2-D, or 1-D for one column) or one named/numbered column.

    A first line with a non-numeric field is a header.  A column whose fields are all
    integers is int64 (class indices), otherwise float64.
    """

    batch_rows = 65536

    def __init__(self, path: str, column: str | None, name: str) -> None:
        self.path, self.name = path, name
        header: list[str] | None = None
        rows, width = 0, None
        is_int: list[bool] = []
        with open(path, newline="") as f:
            for fields in csv.reader(f):
                if not fields or all(not x.strip() for x in fields):
                    continue
                if header is None and rows == 0 and not all(_is_float(x) for x in fields):
                    header = [x.strip() for x in fields]
                    continue
                if width is None:
                    width = len(fields)
                    is_int = [True] * width
                if len(fields) != width:
                    raise EvalError(f"{name}: row {rows + 1} has {len(fields)} fields, expected {width}")
                for i, x in enumerate(fields):
                    if is_int[i] and not _is_int(x):
                        if not _is_float(x):
                            raise EvalError(f"{name}: row {rows + 1}: '{x}' is not a number")
                        is_int[i] = False
                rows += 1
        width = width if width is not None else len(header or [])
        is_int = is_int or [False] * width
        if column is None:
            self.columns = list(range(width))
        else:
            self.columns = [self._column_index(column, header, width)]
        self.header = header
        dtypes = {bool(is_int[i]) for i in self.columns}
        self.dtype = np.dtype(np.int64 if dtypes == {True} else np.float64)
        self.shape = (rows,) if len(self.columns) == 1 else (rows, len(self.columns))

    def _column_index(self, column: str, header: list[str] | None, width: int) -> int:
        if header is not None and column in header:
            return header.index(column)
        if _is_int(column) and 0 <= int(column) < width:
            return int(column)
        names = ", ".join(header) if header else f"0 to {width - 1}"
        raise EvalError(f"{self.name}: no column '{column}' (columns: {names})")

    def _batches(self) -> Iterator[np.ndarray]:
        with open(self.path, newline="") as f:
            reader = csv.reader(f)
            batch: list[list[str]] = []
            skipped_header = self.header is None
            for fields in reader:
                if not fields or all(not x.strip() for x in fields):
                    continue
                if not skipped_header:
                    skipped_header = True
                    continue
                batch.append([fields[i] for i in self.columns])
                if len(batch) == self.batch_rows:
                    yield self._convert(batch)
                    batch = []
            if batch:
                yield self._convert(batch)

    def _convert(self, batch: list[list[str]]) -> np.ndarray:
        out = np.array(batch, dtype=np.float64 if self.dtype.kind == "f" else np.int64)
        return out[:, 0] if len(self.columns) == 1 else out


class ParquetSource(_SequentialSource):
    """A Parquet file (pyarrow): one column, or every column as the columns of a matrix.

    A column of fixed-length lists (e.g. one row of logits per sample) is a 2-D array.
    """

    batch_rows = 65536

    def __init__(self, path: str, column: str | None, name: str) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise EvalError(
                f"{name}: reading Parquet needs pyarrow (pip install 'anyloss[parquet]')"
            ) from None
        self.path, self.name = path, name
        try:
            file = pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow's errors vary by version
            raise EvalError(f"{name}: not a readable Parquet file ({one_line(exc)})") from None
        names = file.schema_arrow.names
        if column is not None and column not in names:
            raise EvalError(f"{name}: no column '{column}' (columns: {', '.join(names)})")
        self.columns = [column] if column is not None else names
        rows = file.metadata.num_rows
        first = next(file.iter_batches(batch_size=1, columns=self.columns), None)
        sample = self._convert(first) if first is not None else None
        if sample is None:
            import pyarrow as pa

            types = [file.schema_arrow.field(c).type for c in self.columns]
            dtype = (
                np.dtype(types[0].to_pandas_dtype())
                if pa.types.is_primitive(types[0])
                else np.dtype(np.float64)
            )
            self.dtype = dtype
            self.shape = (0,) if len(self.columns) == 1 else (0, len(self.columns))
        else:
            self.dtype, self.shape = sample.dtype, (rows, *sample.shape[1:])

    def _convert(self, batch: Any) -> np.ndarray:
        import pyarrow as pa

        arrays = []
        for i in range(batch.num_columns):
            col = batch.column(i)
            if (
                pa.types.is_fixed_size_list(col.type)
                or pa.types.is_list(col.type)
                or pa.types.is_large_list(col.type)
            ):
                values = col.flatten().to_numpy(zero_copy_only=False)
                n = len(col)
                if n and values.size % n:
                    raise EvalError(f"{self.name}: lists of different lengths")
                arrays.append(values.reshape(n, values.size // n if n else 0))
            else:
                if col.null_count:
                    raise EvalError(f"{self.name}: column '{batch.schema.names[i]}' has nulls")
                arrays.append(col.to_numpy(zero_copy_only=False))
        if len(arrays) == 1:
            return arrays[0]
        if any(a.ndim != 1 for a in arrays):
            raise EvalError(f"{self.name}: name one column (FILE:COLUMN)")
        return np.stack(arrays, axis=1)

    def _batches(self) -> Iterator[np.ndarray]:
        import pyarrow.parquet as pq

        file = pq.ParquetFile(self.path)
        for batch in file.iter_batches(batch_size=self.batch_rows, columns=self.columns):
            yield self._convert(batch)


def _split(spec: str) -> tuple[str, str | None]:
    """``FILE[:COLUMN]``: a path that exists is taken whole (it may contain ':')."""
    if os.path.exists(spec) or ":" not in spec:
        return spec, None
    path, _, column = spec.rpartition(":")
    return path, column or None


def _stored_member(path: str, member: str) -> tuple[int, int] | None:
    """(offset, size) of an uncompressed zip member's bytes, which can be memory-mapped;
    None for a compressed one."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with open(path, "rb") as f:
            f.seek(info.header_offset)
            local = f.read(30)  # the local file header; its name and extra field follow
        name_length = int.from_bytes(local[26:28], "little")
        extra_length = int.from_bytes(local[28:30], "little")
        return info.header_offset + 30 + name_length + extra_length, info.file_size


def open_source(spec: str, name: str = "input") -> Source:
    """The array named by ``FILE[:COLUMN]`` (.npy, .npz, .csv, .parquet/.pq)."""
    path, column = _split(spec)
    label = f"--{name}" if name in ("input", "target", "weight") else name
    where = f"{label} {path}"
    if not os.path.exists(path):
        raise EvalError(f"{where}: no such file")
    if os.path.isdir(path):
        raise EvalError(f"{where}: is a directory")
    if not os.access(path, os.R_OK):
        raise EvalError(f"{where}: permission denied")
    suffix = os.path.splitext(path)[1].lower()
    try:
        if suffix == ".npy":
            if column is not None:
                raise EvalError(f"{where}: a .npy file has no columns")
            return NpySource(path, where)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as members:
                keys = list(members.keys())
                if column is None:
                    if len(keys) != 1:
                        raise EvalError(f"{where}: name one array (FILE:NAME) of {', '.join(keys)}")
                    column = keys[0]
                if column not in keys:
                    raise EvalError(f"{where}: no array '{column}' (arrays: {', '.join(keys)})")
                stored = _stored_member(path, column + ".npy")
                if stored is not None:  # np.savez: the member's bytes are a .npy in place
                    return NpySource(path, where, *stored)
                return ArraySource(members[column], where)  # np.savez_compressed
        if suffix in (".csv", ".txt"):
            return CsvSource(path, column, where)
        if suffix in (".parquet", ".pq"):
            return ParquetSource(path, column, where)
    except EvalError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as exc:
        raise EvalError(f"{where}: cannot read ({one_line(exc)})") from None
    raise EvalError(f"{where}: unknown file type '{suffix}' (.npy, .npz, .csv, .parquet)")
