"""Losses over arrays on disk: file readers, chunked streaming and exact accumulation.

``anyloss eval`` reads its arrays from .npy (memory-mapped), .npz, .csv and Parquet files
and streams them in chunks of rows along the batch axis.  Every chunk is put through the
loss with ``reduction='none'``; the reduction is then finished here, in float64, over the
whole array, so that the result equals the whole-array one:

* ``'sum'`` adds the chunk sums;
* ``'mean'`` is one global numerator over one global denominator, never a mean of chunk
  means.  The denominator is the loss's own (see :data:`SPECS`): the number of loss terms
  for elementwise losses, Σ weight[target] over the targets that are not ignored for
  cross_entropy and nll_loss, the batch size for kl_div's ``'batchmean'``, and so on.

With the Dask backend the files become chunked Dask arrays instead (the .npy ones read
lazily by the workers) and the loss itself builds one lazy global reduction, which runs on
the local scheduler or on a ``dask.distributed`` cluster.

Optional libraries (pyarrow, tqdm, dask, distributed, torch, jax) are imported only when a
file format, the progress bar or a backend needs them.
"""

from __future__ import annotations

import ast
import contextlib
import csv
import dataclasses
import importlib.util
import inspect
import io
import os
import shutil
import sys
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

import anyloss

from . import _xp

__all__ = [
    "SPECS",
    "EvalError",
    "Result",
    "Source",
    "evaluate",
    "installed_backends",
    "loss_parameters",
    "open_source",
    "parse_options",
]

#: Bytes of the widest chunked input per chunk when ``chunk_rows`` is not given.
DEFAULT_CHUNK_BYTES = 32 * 2**20

#: The parameters of a loss that are never options on the command line.
_NOT_OPTIONS = frozenset({"size_average", "reduce", "distance_function", "xp"})
#: Parameters with a default that are arrays (given as files, not as options).
_OPTIONAL_ARRAYS = frozenset({"weight", "pos_weight"})

BACKENDS = ("numpy", "torch", "jax", "dask")
_DASK_SCHEDULERS = frozenset(
    {"threads", "threading", "processes", "multiprocessing", "sync", "synchronous", "single-threaded"}
)


class EvalError(Exception):
    """A user error: reported as one line on stderr, never as a traceback."""


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type (unless it is ours) and its message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, EvalError) else f"{type(exc).__name__}: {text}"


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def installed_backends() -> list[str]:
    """The backends ``anyloss eval`` can use here (NumPy always)."""
    names = {"numpy": "numpy", "torch": "torch", "jax": "jax", "dask": "dask"}
    return [name for name, module in names.items() if installed(module)]


# --- the per-loss knowledge ------------------------------------------------------------

Arrays = Mapping[str, Any]
Options = Mapping[str, Any]


def _float64(xp: Any, x: Any) -> Any:
    return xp.astype(x, xp.float64)


def _count(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """Elementwise losses: 'mean' divides by the number of loss terms."""
    return _xp.numel(tuple(none.shape))


def _weight_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """l1_loss and mse_loss with a weight: 'mean' is Σ w·ℓ / Σ w (torch 2.13)."""
    weight = arrays.get("weight")
    if weight is None:
        return _count(xp, arrays, options, none)
    return xp.sum(_float64(xp, xp.broadcast_to(weight, tuple(none.shape))))


def _class_weight_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """cross_entropy and nll_loss: Σ weight[target] over targets that are not ignored.

    Probability targets (floating, the input's shape) divide by the number of terms.
    """
    target = arrays["target"]
    if not _xp.is_integral(xp, target.dtype):
        return _count(xp, arrays, options, none)
    target = xp.reshape(target, (-1,))
    valid = target != options["ignore_index"]
    weight = arrays.get("weight")
    if weight is None:
        return xp.sum(_float64(xp, valid))
    index = xp.where(valid, target, xp.zeros_like(target))
    per_target = _float64(xp, xp.take(weight, xp.astype(index, xp.int64)))
    return xp.sum(xp.where(valid, per_target, xp.zeros_like(per_target)))


def _kl_div_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """kl_div: 'batchmean' divides by the batch size, 'mean' by the number of terms."""
    if options["reduction"] == "batchmean":
        return int(arrays["input"].shape[0])
    return _count(xp, arrays, options, none)


def _ctc_numerator(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """ctc_loss 'mean': each sequence's loss over its target length (at least 1)."""
    if options["reduction"] != "mean":
        return xp.sum(_float64(xp, none))
    lengths = _float64(xp, xp.asarray(arrays["target_lengths"]))
    return xp.sum(_float64(xp, none) / xp.maximum(lengths, xp.ones_like(lengths)))


def _ctc_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    return _xp.numel(tuple(none.shape))


def _sum(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    return xp.sum(_float64(xp, none))


@dataclasses.dataclass(frozen=True)
class Spec:
    """How a loss is streamed.

    min_ndim:      the input's ndim from which its axis 0 is a batch axis (below it the
                   arrays are unbatched and go through the loss whole).
    batch_arrays:  arrays whose axis 0 is always the batch axis (class-index targets,
                   per-sample variances and lengths), whatever their ndim.
    class_arrays:  arrays indexed by class (never chunked).
    input_axis:    the batch axis of the first array (1 for ctc_loss's (T, N, C)).
    numerator, denominator: the global 'mean' as Σ numerator / Σ denominator over chunks.
    """

    min_ndim: int = 1
    batch_arrays: frozenset[str] = frozenset()
    class_arrays: frozenset[str] = frozenset()
    input_axis: int = 0
    numerator: Callable[..., Any] = _sum
    denominator: Callable[..., Any] = _count
    mean_rule: str = "the number of loss terms"


_ELEMENTWISE = Spec()
_ROWS = Spec(min_ndim=2, batch_arrays=frozenset({"target"}))
_CLASS_INDEX = Spec(
    min_ndim=2,
    batch_arrays=frozenset({"target"}),
    class_arrays=frozenset({"weight"}),
    denominator=_class_weight_total,
    mean_rule="Σ weight[target] over the targets that are not ignore_index "
    "(the number of terms for probability targets)",
)

#: Every loss anyloss eval knows; a loss whose function anyloss does not have is unknown.
SPECS: dict[str, Spec] = {
    "binary_cross_entropy": _ELEMENTWISE,
    "binary_cross_entropy_with_logits": _ELEMENTWISE,
    "cosine_embedding_loss": _ROWS,
    "cross_entropy": _CLASS_INDEX,
    "ctc_loss": Spec(
        min_ndim=3,
        batch_arrays=frozenset({"targets", "input_lengths", "target_lengths"}),
        input_axis=1,
        numerator=_ctc_numerator,
        denominator=_ctc_total,
        mean_rule="the batch size, after dividing each sequence's loss by its target length",
    ),
    "gaussian_nll_loss": Spec(batch_arrays=frozenset({"var"})),
    "hinge_embedding_loss": _ELEMENTWISE,
    "huber_loss": _ELEMENTWISE,
    "kl_div": Spec(
        denominator=_kl_div_total,
        mean_rule="the number of terms ('batchmean': the batch size)",
    ),
    "l1_loss": Spec(denominator=_weight_total, mean_rule="the number of terms (Σ weight with a weight)"),
    "margin_ranking_loss": _ELEMENTWISE,
    "mse_loss": Spec(denominator=_weight_total, mean_rule="the number of terms (Σ weight with a weight)"),
    "multi_margin_loss": Spec(
        min_ndim=2, batch_arrays=frozenset({"target"}), class_arrays=frozenset({"weight"})
    ),
    "multilabel_margin_loss": _ROWS,
    "multilabel_soft_margin_loss": Spec(min_ndim=2),
    "nll_loss": _CLASS_INDEX,
    "poisson_nll_loss": _ELEMENTWISE,
    "smooth_l1_loss": _ELEMENTWISE,
    "soft_margin_loss": _ELEMENTWISE,
    "triplet_margin_loss": Spec(min_ndim=2),
    "triplet_margin_with_distance_loss": Spec(min_ndim=2),
}


def available_losses() -> list[str]:
    """The losses of :data:`SPECS` that this anyloss has."""
    return sorted(name for name in SPECS if callable(getattr(anyloss, name, None)))


def loss_function(name: str) -> Callable[..., Any]:
    fn = getattr(anyloss, name, None) if name in SPECS else None
    if not callable(fn):
        known = ", ".join(available_losses())
        raise EvalError(f"unknown loss '{name}' (known: {known})")
    return fn


@dataclasses.dataclass(frozen=True)
class Parameters:
    arrays: tuple[str, ...]
    required: tuple[str, ...]
    options: dict[str, Any]


def loss_parameters(name: str) -> Parameters:
    """The loss's array parameters (required ones first) and its options with defaults."""
    signature = inspect.signature(loss_function(name))
    arrays, required, options = [], [], {}
    for p in signature.parameters.values():
        if p.name in _NOT_OPTIONS:
            continue
        if p.default is inspect.Parameter.empty:
            arrays.append(p.name)
            required.append(p.name)
        elif p.name in _OPTIONAL_ARRAYS:
            arrays.append(p.name)
        else:
            options[p.name] = p.default
    return Parameters(tuple(arrays), tuple(required), options)


def _parse_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, (int, float, str)) else text


def parse_options(name: str, items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings → the loss's options, every default filled in."""
    params = loss_parameters(name)
    options = dict(params.options)
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise EvalError(f"bad option '{item}': expected NAME=VALUE")
        if key not in params.options:
            valid = ", ".join(params.options) or "none"
            raise EvalError(f"unknown option '{key}' for {name} (options: {valid})")
        value, default = _parse_value(text), params.options[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise EvalError(f"bad value '{text}' for option {key}: expected true or false")
        if (
            isinstance(default, (int, float))
            and not isinstance(default, bool)
            and not (isinstance(value, (int, float)) and not isinstance(value, bool))
        ):
            raise EvalError(f"bad value '{text}' for option {key}: expected a number")
        if isinstance(default, str) and not isinstance(value, str):
            value = text
        options[key] = value
    if options.get("reduction") == "none":
        raise EvalError("reduction 'none' gives one value per term; anyloss eval reduces ('mean' or 'sum')")
    return options


# --- sources: arrays in files, read by rows -------------------------------------------


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


# --- evaluation ------------------------------------------------------------------------


@dataclasses.dataclass
class Result:
    loss: str
    value: float
    dtype: str
    options: dict[str, Any]
    elements: int
    backend: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "value": self.value,
            "options": self.options,
            "elements": self.elements,
            "backend": self.backend,
            "seconds": self.seconds,
        }


@dataclasses.dataclass
class _Plan:
    """Which arrays are cut along which axis, over how many batch entries."""

    axes: dict[str, int | None]
    length: int
    chunk_rows: int


def _plan(spec: Spec, sources: Mapping[str, Source], first: str, chunk_rows: int | None) -> _Plan:
    lead = sources[first]
    axes: dict[str, int | None] = dict.fromkeys(sources)
    if lead.ndim < spec.min_ndim or lead.ndim <= spec.input_axis:
        return _Plan(axes, 0, 0)
    n = lead.shape[spec.input_axis]
    axes[first] = spec.input_axis
    for key, src in sources.items():
        if key == first or key in spec.class_arrays or src.ndim == 0:
            continue
        if key in spec.batch_arrays:
            if key == "targets" and src.ndim == 1:
                axes[key] = None  # concatenated CTC targets: cut by the lengths
                continue
            if src.shape[0] != n:
                raise EvalError(
                    f"mismatched shapes: {lead.name} has {n} entries along axis "
                    f"{spec.input_axis}, {src.name} has {src.shape[0]}"
                )
            axes[key] = 0
        elif src.ndim == lead.ndim and spec.input_axis == 0:
            if src.shape[0] == n:
                axes[key] = 0
            elif src.shape[0] != 1:
                raise EvalError(
                    f"mismatched shapes: {lead.name} has shape {list(lead.shape)}, "
                    f"{src.name} has shape {list(src.shape)}"
                )
    widest = max((sources[k].nbytes // max(n, 1)) for k, a in axes.items() if a is not None)
    rows = chunk_rows if chunk_rows is not None else max(1, DEFAULT_CHUNK_BYTES // max(widest, 1))
    return _Plan(axes, n, rows)


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "compute"):
        x = x.compute()
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
    if hasattr(x, "get") and not isinstance(x, np.ndarray):
        x = x.get()
    return np.asarray(x)


def _converter(backend: str) -> Callable[[np.ndarray], Any]:
    if backend == "numpy":
        return lambda a: a
    if backend == "torch":
        if not installed("torch"):
            raise EvalError("the torch backend needs torch (pip install 'anyloss[torch]')")
        import torch

        return torch.from_numpy
    if backend == "jax":
        if not installed("jax"):
            raise EvalError("the jax backend needs jax (pip install 'anyloss[jax]')")
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 files stay float64
        import jax.numpy as jnp

        return jnp.asarray
    raise EvalError(f"unknown backend '{backend}' (backends: {', '.join(BACKENDS)})")


class _Progress:
    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = None
        if enabled and total > 0 and installed("tqdm"):
            from tqdm import tqdm

            # A terminal that reports no size (0×0, as a bare pseudo-terminal does) would
            # hide tqdm's bar: it gets 80×24 instead.
            size = shutil.get_terminal_size((80, 24))
            self.bar = tqdm(
                total=total,
                unit="rows",
                unit_scale=True,
                file=sys.stderr,
                leave=False,
                ncols=size.columns,
                nrows=max(size.lines, 2),
            )

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _show_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen = set()
    for w in caught:
        text = " ".join(str(w.message).split())
        if text not in seen:
            seen.add(text)
            print(f"anyloss: warning: {text}", file=sys.stderr)


def _slice_arrays(
    sources: Mapping[str, Source],
    plan: _Plan,
    start: int,
    stop: int,
    whole: Mapping[str, np.ndarray],
    offsets: np.ndarray | None,
) -> dict[str, np.ndarray]:
    chunk = {}
    for key, src in sources.items():
        axis = plan.axes[key]
        if axis is not None:
            chunk[key] = src.read(start, stop, axis)
        elif key == "targets" and offsets is not None:
            chunk[key] = src.read(int(offsets[start]), int(offsets[stop]))
        else:
            chunk[key] = whole[key]
    return chunk


def evaluate(
    name: str,
    sources: Mapping[str, Source],
    options: Mapping[str, Any],
    *,
    backend: str = "numpy",
    chunk_rows: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
) -> Result:
    """The loss over arrays in files, exactly as over the whole arrays in memory."""
    fn = loss_function(name)
    spec = SPECS[name]
    params = loss_parameters(name)
    unknown = [k for k in sources if k not in params.arrays]
    if unknown:
        raise EvalError(f"{name} has no array '{unknown[0]}' (arrays: {', '.join(params.arrays)})")
    missing = [k for k in params.required if k not in sources]
    if missing:
        raise EvalError(f"{name} needs {', '.join(missing)}")
    if chunk_rows is not None and chunk_rows < 1:
        raise EvalError("--chunk-rows must be at least 1")
    if scheduler is not None and backend != "dask":
        raise EvalError("--scheduler needs --backend dask")
    options = dict(options)
    first = params.arrays[0]
    plan = _plan(spec, sources, first, chunk_rows)
    began = time.perf_counter()
    if backend == "dask":
        value, dtype, elements = _evaluate_dask(fn, spec, sources, options, plan, scheduler, progress)
    else:
        value, dtype, elements = _evaluate_stream(
            fn, spec, sources, options, plan, _converter(backend), progress
        )
    return Result(name, value, dtype, options, elements, backend, round(time.perf_counter() - began, 6))


def _call(fn: Callable[..., Any], arrays: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
    try:
        return fn(**arrays, **options)
    except EvalError:
        raise
    except Exception as exc:  # noqa: BLE001 - the loss's own error, reported in one line
        raise EvalError(one_line(exc)) from None


def _final(value: float, dtype: np.dtype) -> float:
    """The float64 accumulation rounded once to the loss's output dtype (torch's)."""
    if np.issubdtype(dtype, np.floating):
        rounded = np.asarray(value, dtype=np.float64).astype(dtype)
        return float(str(rounded)) if np.isfinite(rounded) else float(rounded)
    return float(np.asarray(value).astype(dtype)) if np.isfinite(value) else value


def _evaluate_stream(
    fn: Callable[..., Any],
    spec: Spec,
    sources: Mapping[str, Source],
    options: dict[str, Any],
    plan: _Plan,
    convert: Callable[[np.ndarray], Any],
    progress: bool,
) -> tuple[float, str, int]:
    whole = {k: s.read_all() for k, s in sources.items() if plan.axes[k] is None}
    offsets = None
    if "targets" in whole and plan.axes.get("target_lengths") is not None and whole["targets"].ndim == 1:
        del whole["targets"]
        lengths = sources["target_lengths"].read_all()
        offsets = np.concatenate([[0], np.cumsum(lengths.astype(np.int64))])
    n, rows = plan.length, plan.chunk_rows
    bounds = [(s, min(s + rows, n)) for s in range(0, n, rows)] if rows else []
    reduction = options["reduction"]
    if len(bounds) <= 1:
        # One chunk: the loss's own reduction, exactly torch's number.
        arrays = {k: convert(v) for k, v in _slice_arrays(sources, plan, 0, n, whole, offsets).items()}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = _to_numpy(_call(fn, arrays, options))
            none = _call(fn, arrays, {**options, "reduction": "none"})
        _show_warnings(caught)
        return _final(float(out), out.dtype), out.dtype.name, _xp.numel(tuple(none.shape))
    bar = _Progress(n, progress)
    numerator = denominator = 0.0
    elements = 0
    dtype = None
    try:
        for start, stop in bounds:
            arrays = {
                k: convert(v) for k, v in _slice_arrays(sources, plan, start, stop, whole, offsets).items()
            }
            if dtype is None:
                # The first chunk with the reduction asked for: torch's checks of the
                # reduction, dtypes and shapes, and its warnings, once.
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    dtype = _to_numpy(_call(fn, arrays, options)).dtype
                _show_warnings(caught)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                none = _call(fn, arrays, {**options, "reduction": "none"})
                xp = _xp.array_namespace(none)
                numerator += float(_to_numpy(spec.numerator(xp, arrays, options, none)))
                if reduction != "sum":
                    denominator += float(_to_numpy(spec.denominator(xp, arrays, options, none)))
            elements += _xp.numel(tuple(none.shape))
            bar.update(stop - start)
    finally:
        bar.close()
    if reduction == "sum":
        value = numerator
    else:
        with np.errstate(all="ignore"):
            value = float(np.float64(numerator) / np.float64(denominator))
    assert dtype is not None
    return _final(value, dtype), dtype.name, elements


def _dask_array(src: Source, axis: int | None, rows: int) -> Any:
    import dask.array as da

    if axis is None or rows == 0:
        chunks: Any = src.shape
    else:
        chunks = tuple(rows if i == axis else s for i, s in enumerate(src.shape))
    if isinstance(src, NpySource):
        return da.from_array(
            src,
            chunks=chunks or (),
            lock=False,
            asarray=False,
            meta=np.empty((0,) * src.ndim, src.dtype),
            name=None,
        )
    return da.from_array(src.read_all(), chunks=chunks or ())


def _evaluate_dask(
    fn: Callable[..., Any],
    spec: Spec,
    sources: Mapping[str, Source],
    options: dict[str, Any],
    plan: _Plan,
    scheduler: str | None,
    progress: bool,
) -> tuple[float, str, int]:
    if not installed("dask"):
        raise EvalError("the dask backend needs dask (pip install 'anyloss[dask]')")
    import dask

    arrays = {}
    for key, src in sources.items():
        axis = plan.axes[key]
        if key == "targets" and src.ndim == 1:
            axis = None
        arrays[key] = _dask_array(src, axis, plan.chunk_rows)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lazy = _call(fn, arrays, options)
    _show_warnings(caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        elements = _xp.numel(tuple(_call(fn, arrays, {**options, "reduction": "none"}).shape))
    client = None
    try:
        if scheduler is None or scheduler in _DASK_SCHEDULERS:
            with dask.config.set(scheduler=scheduler or "threads"):
                if progress:
                    from dask.diagnostics import ProgressBar

                    with ProgressBar(out=sys.stderr):
                        out = _computed(lazy)
                else:
                    out = _computed(lazy)
        else:
            client = _client(scheduler)
            future = client.compute(lazy)
            if progress:
                from distributed import progress as show

                with contextlib.redirect_stdout(sys.stderr):  # the bar, like tqdm's, on stderr
                    show(future)
            out = _computed(future)
    finally:
        if client is not None:
            client.close()
    return _final(float(out), out.dtype), out.dtype.name, elements


def _computed(lazy: Any) -> np.ndarray:
    try:
        result = lazy.result() if hasattr(lazy, "result") else lazy.compute()
    except EvalError:
        raise
    except Exception as exc:  # noqa: BLE001 - a worker's error, reported in one line
        raise EvalError(one_line(exc)) from None
    return np.asarray(_to_numpy(result))


def _client(address: str) -> Any:
    if not installed("distributed"):
        raise EvalError("--scheduler ADDRESS needs dask.distributed (pip install 'anyloss[distributed]')")
    from distributed import Client

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Client(address, timeout="10s", set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - connection errors vary
        raise EvalError(f"cannot connect to the scheduler at {address} ({one_line(exc)})") from None


def describe_loss(name: str) -> str:
    """``anyloss info``: the loss's arrays, options and defaults, and its 'mean' rule."""
    fn = loss_function(name)
    params = loss_parameters(name)
    spec = SPECS[name]
    doc = (inspect.getdoc(fn) or "").strip().splitlines()
    out = io.StringIO()
    print(f"{name}: {doc[0] if doc else ''}", file=out)
    signature = inspect.signature(fn)
    signature = signature.replace(
        parameters=[p.replace(annotation=inspect.Parameter.empty) for p in signature.parameters.values()],
        return_annotation=inspect.Signature.empty,
    )
    print(f"  signature: {name}{signature}", file=out)
    arrays = ", ".join(a if a in params.required else f"{a} (optional)" for a in params.arrays)
    print(f"  arrays:    {arrays}", file=out)
    print("  options:", file=out)
    for key, default in params.options.items():
        print(f"    {key} = {default!r}", file=out)
    print(f"  'mean' divides the global sum by {spec.mean_rule}", file=out)
    print(f"  backends:  {', '.join(installed_backends())}", file=out)
    return out.getvalue().rstrip("\n")


def array_for_flag(name: str, flag: str) -> str:
    """The array parameter --input, --target or --weight names for this loss."""
    params = loss_parameters(name)
    if flag == "input":
        return params.arrays[0]
    if flag == "target":
        for candidate in ("target", "targets"):
            if candidate in params.arrays:
                return candidate
        return params.required[1] if len(params.required) > 1 else "target"
    return flag
