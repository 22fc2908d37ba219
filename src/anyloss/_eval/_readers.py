"""Arrays in files, read in slices of rows without loading the rest.

:func:`open_source` opens ``FILE[:COLUMNS]`` as a :class:`Source`: a .npy file (memory-mapped
one chunk at a time), an .npz member (mapped in place when stored uncompressed, otherwise
read whole), a CSV file or a Parquet file (read forwards in batches).  Sources are sent to
Dask workers, so every class here is importable at module level and picklable.
"""

from __future__ import annotations

import csv
import os
import re
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

    def view(self, start: int, stop: int, axis: int = 0) -> np.ndarray:
        """What :meth:`read` returns, or a read-only view of the file's bytes where the file
        can be mapped as it is: valid while referenced, for reading only."""
        return self.read(start, stop, axis)

    def read_all(self) -> np.ndarray:
        if not self.shape:
            return self.read(0, 0, -1)
        return self.read(0, self.shape[0])

    # da.from_array protocol: lazy reads of any block.
    def __getitem__(self, index: Any) -> np.ndarray:
        return self.read_all()[index]


def _native(array: np.ndarray) -> np.ndarray:
    """The array in the machine's byte order: torch and JAX take no other."""
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


class ArraySource(Source):
    """An array already in memory (a compressed .npz member; a small file)."""

    def __init__(self, array: np.ndarray, name: str) -> None:
        array = _native(array)
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
        self.shape, self.fortran = tuple(shape), fortran
        # The file's byte order for reading; the machine's for the chunks read.
        self.stored_dtype, self.dtype = dtype, dtype.newbyteorder("=")

    def _map(self) -> np.ndarray:
        return np.memmap(
            self.path,
            dtype=self.stored_dtype,
            mode="r",
            offset=self.offset,
            shape=self.shape,
            order="F" if self.fortran else "C",
        )

    def read(self, start: int, stop: int, axis: int = 0) -> np.ndarray:
        if _xp.numel(self.shape) == 0:
            return np.zeros(self.shape, self.dtype)
        if not self.shape:  # a 0-D array: its one element
            return _native(
                np.fromfile(self.path, dtype=self.stored_dtype, count=1, offset=self.offset)
            ).reshape(())
        if axis < 0:
            start, stop, axis = 0, self.shape[0], 0
        if axis == 0 and not self.fortran:
            row = _xp.numel(self.shape[1:])
            rows = max(stop - start, 0)
            if rows == 0 or row == 0:
                return np.zeros((rows, *self.shape[1:]), self.dtype)
            view = np.memmap(
                self.path,
                dtype=self.stored_dtype,
                mode="r",
                offset=self.offset + start * row * self.dtype.itemsize,
                shape=(rows, *self.shape[1:]),
            )
            chunk = _native(np.array(view))
            del view
            return chunk
        index = (slice(None),) * axis + (slice(start, stop),)
        mapped = self._map()
        chunk = _native(np.array(mapped[index]))
        del mapped
        return chunk

    def view(self, start: int, stop: int, axis: int = 0) -> np.ndarray:
        # Rows of a C-order file in the machine's byte order: the mapped rows themselves,
        # unmapped when the last reference goes (no copy, no fresh memory to page in).
        rows = max(stop - start, 0)
        if (
            axis != 0
            or not self.shape
            or self.fortran
            or not self.stored_dtype.isnative
            or not rows
            or 0 in self.shape
        ):
            return self.read(start, stop, axis)
        row = _xp.numel(self.shape[1:])
        return np.memmap(
            self.path,
            dtype=self.stored_dtype,
            mode="r",
            offset=self.offset + start * row * self.dtype.itemsize,
            shape=(rows, *self.shape[1:]),
        ).view(np.ndarray)

    def __getitem__(self, index: Any) -> np.ndarray:
        if not isinstance(index, tuple):
            index = (index,)
        first = index[0] if index else slice(None)
        if isinstance(first, slice) and first.step in (None, 1) and self.shape and not self.fortran:
            start, stop, _ = first.indices(self.shape[0])
            return self.read(start, stop)[(slice(None), *index[1:])]
        mapped = self._map()
        chunk = _native(np.array(mapped[index]))
        del mapped
        return chunk

    def __reduce__(self) -> tuple[Any, ...]:
        return (NpySource, (self.path, self.name))


class _SequentialSource(Source):
    """Rows of a text or columnar file, read forwards in batches (CSV, Parquet)."""

    path: str
    columns: list[int]  # the selected columns, by number
    column_names: list[str]  # every column of the file

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


# Numbers as NumPy and CSV writers spell them: no digit separators ('2_5'), no
# non-ASCII digits, no hexadecimal, which Python's int() and float() would accept.
_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
_FLOAT = re.compile(
    r"\s*[+-]?(?:[0-9]+\.?[0-9]*(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?|nan|inf|infinity)\s*",
    re.IGNORECASE,
)


def _is_int(text: str) -> bool:
    return _INT.fullmatch(text) is not None


def _is_float(text: str) -> bool:
    return _FLOAT.fullmatch(text) is not None


def select_columns(
    spec: str | None, names: list[str] | None, width: int, where: str
) -> tuple[list[int], bool]:
    """The columns ``FILE:COLUMNS`` names, and whether they make a matrix.

    ``COLUMNS`` is one column by name or number (a vector), or a matrix: a list ``a,b,3``,
    ranges ``a..d`` and ``2..5`` (both ends included; ``a..`` to the last), or all but
    some: ``^id,label``.  No spec is every column (a vector when there is one).
    """
    if spec is None:
        return list(range(width)), width != 1
    known = ", ".join(names) if names else f"0 to {width - 1}"

    def index(text: str) -> int:
        if names is not None and text in names:
            return names.index(text)
        if _is_int(text) and 0 <= int(text) < width:
            return int(text)
        raise EvalError(f"{where}: no column '{text}' (columns: {known})")

    if names is not None and spec in names or not any(c in spec for c in ",^") and ".." not in spec:
        return [index(spec.strip())], False
    exclude = spec.startswith("^")
    chosen: list[int] = []
    for item in (spec[1:] if exclude else spec).split(","):
        item = item.strip()
        if not item:
            raise EvalError(f"{where}: an empty column name in '{spec}'")
        lo, dots, hi = item.partition("..")
        if dots and not (names is not None and item in names):
            first = index(lo.strip()) if lo.strip() else 0
            last = index(hi.strip()) if hi.strip() else width - 1
            if last < first:
                raise EvalError(f"{where}: the range '{item}' is empty")
            picked = list(range(first, last + 1))
        else:
            picked = [index(item)]
        for i in picked:
            if i in chosen:
                raise EvalError(f"{where}: column '{names[i] if names else i}' is named twice in '{spec}'")
            chosen.append(i)
    if exclude:
        chosen = [i for i in range(width) if i not in chosen]
        if not chosen:
            raise EvalError(f"{where}: '{spec}' leaves no column")
    return chosen, True


def check_disjoint(sources: dict[str, Source]) -> None:
    """Refuse two arrays read from the same columns of one table (a label column taken
    as logits too, say): the result would be a wrong number, not an error."""
    seen: dict[str, tuple[str, set[int]]] = {}
    for key, src in sources.items():
        if not isinstance(src, _SequentialSource):
            continue
        path = os.path.realpath(src.path)
        if path in seen:
            other, columns = seen[path]
            shared = sorted(columns & set(src.columns))
            if shared:
                names = ", ".join(src.column_names[i] for i in shared)
                hint = f"{_label(other)} {src.path}:^{src.column_names[shared[0]]}"
                raise EvalError(
                    f"{_label(other)} and {_label(key)} read the same column of {src.path} ({names}); "
                    f"select each one's columns, e.g. {hint}"
                )
            columns |= set(src.columns)
        else:
            seen[path] = (key, set(src.columns))


class CsvSource(_SequentialSource):
    """A CSV file: every column (a matrix, or a vector for one column) or the columns
    ``FILE:COLUMNS`` selects (:func:`select_columns`).

    A first line with a non-numeric field is a header.  A byte-order mark (Excel's "CSV
    UTF-8") is skipped.  A column whose fields are all integers is int64 (class indices),
    otherwise float64.
    """

    batch_rows = 65536

    def __init__(self, path: str, column: str | None, name: str) -> None:
        self.path, self.name = path, name
        header: list[str] | None = None
        rows, width = 0, None
        is_int: list[bool] = []
        for fields in self._rows():
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
        if rows == 0:
            raise EvalError(f"{name}: no rows of numbers")
        assert width is not None
        if header is not None and len(header) != width:
            raise EvalError(f"{name}: the header has {len(header)} fields, the rows {width}")
        self.header = header
        self.column_names = header or [str(i) for i in range(width)]
        self.columns, matrix = select_columns(column, header, width, name)
        dtypes = {bool(is_int[i]) for i in self.columns}
        self.dtype = np.dtype(np.int64 if dtypes == {True} else np.float64)
        self.matrix = matrix
        self.shape = (rows, len(self.columns)) if matrix else (rows,)

    def _rows(self) -> Iterator[list[str]]:
        with open(self.path, newline="", encoding="utf-8-sig") as f:
            for fields in csv.reader(f):
                if fields and any(x.strip() for x in fields):
                    yield fields

    def _batches(self) -> Iterator[np.ndarray]:
        rows = self._rows()
        if self.header is not None:
            next(rows)
        batch: list[list[str]] = []
        for fields in rows:
            batch.append([fields[i] for i in self.columns])
            if len(batch) == self.batch_rows:
                yield self._convert(batch)
                batch = []
        if batch:
            yield self._convert(batch)

    def _convert(self, batch: list[list[str]]) -> np.ndarray:
        try:
            out = np.array(batch).astype(self.dtype)
        except OverflowError:
            raise EvalError(f"{self.name}: an integer beyond int64") from None
        return out if self.matrix else out[:, 0]


class ParquetSource(_SequentialSource):
    """A Parquet file (pyarrow): every column, or the columns ``FILE:COLUMNS`` selects
    (:func:`select_columns`), as the columns of a matrix, or one column as a vector.

    A column of lists (e.g. one row of logits per sample) is a matrix; its lists must all
    have the same length and hold no nulls.
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
        self.column_names = list(file.schema_arrow.names)
        self.columns, self.matrix = select_columns(column, self.column_names, len(self.column_names), name)
        rows = file.metadata.num_rows
        if rows == 0:
            raise EvalError(f"{name}: no rows")
        self.width: int | None = None
        first = next(file.iter_batches(batch_size=1, columns=self._selected()), None)
        assert first is not None
        sample = self._convert(first)
        self.dtype, self.shape = sample.dtype, (rows, *sample.shape[1:])

    def _selected(self) -> list[str]:
        return [self.column_names[i] for i in self.columns]

    def _convert(self, batch: Any) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        arrays = []
        for i in range(batch.num_columns):
            col, label = batch.column(i), batch.schema.names[i]
            if (
                pa.types.is_fixed_size_list(col.type)
                or pa.types.is_list(col.type)
                or pa.types.is_large_list(col.type)
            ):
                if col.null_count:
                    raise EvalError(f"{self.name}: column '{label}' has null lists")
                lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False)
                width = int(lengths[0]) if len(lengths) else 0
                if self.width is None:
                    self.width = width
                seen = sorted({self.width, *(int(n) for n in np.unique(lengths))})
                if len(seen) > 1:
                    raise EvalError(
                        f"{self.name}: column '{label}' holds lists of different lengths "
                        f"({', '.join(map(str, seen))})"
                    )
                values = col.flatten()
                if values.null_count:
                    raise EvalError(f"{self.name}: column '{label}' has nulls inside its lists")
                arrays.append(values.to_numpy(zero_copy_only=False).reshape(len(col), self.width))
            else:
                if col.null_count:
                    raise EvalError(f"{self.name}: column '{label}' has nulls")
                arrays.append(col.to_numpy(zero_copy_only=False))
        if len(arrays) == 1 and (arrays[0].ndim == 2 or not self.matrix):
            return arrays[0]
        if any(a.ndim != 1 for a in arrays):
            raise EvalError(f"{self.name}: a column of lists is read alone (FILE:COLUMN)")
        return np.stack(arrays, axis=1)

    def _batches(self) -> Iterator[np.ndarray]:
        import pyarrow.parquet as pq

        file = pq.ParquetFile(self.path)
        for batch in file.iter_batches(batch_size=self.batch_rows, columns=self._selected()):
            yield self._convert(batch)


def _split(spec: str) -> tuple[str, str | None]:
    """``FILE[:COLUMNS]``: a path that exists is taken whole (it may contain ':')."""
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


def _label(name: str) -> str:
    return f"--{name}" if name in ("input", "target", "weight") else name


def open_source(spec: str, name: str = "input") -> Source:
    """The array named by ``FILE[:COLUMNS]`` (.npy, .npz, .csv, .parquet/.pq)."""
    path, column = _split(spec)
    where = f"{_label(name)} {path}"
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
