"""The streaming engine: arrays in chunks of rows through the loss, reduced in float64.

:func:`_plan` decides which arrays are cut along which axis and how many rows a chunk
holds.  :func:`_evaluate_stream` reads each chunk, converts it to the backend's arrays,
adds the numerator and denominator of the loss's own 'mean' (:func:`anyloss.mean_parts`),
or its 'sum', in float64; the value is rounded once to the
loss's output dtype, as torch's whole-array value is.  A single chunk goes through the
loss's own reduction.  The helpers for calling the loss and rounding its value serve the
Dask path too.
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import itertools
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np

from .. import _threads, _xp
from .._parts import mean_parts
from .._registry import Streaming
from ._common import BACKENDS, EvalError, installed, one_line
from ._progress import Progress
from ._readers import Source

#: Bytes of the widest chunked input per chunk when ``chunk_rows`` is not given.
DEFAULT_CHUNK_BYTES = 32 * 2**20


@dataclasses.dataclass
class _Plan:
    """Which arrays are cut along which axis, over how many batch entries."""

    axes: dict[str, int | None]
    length: int
    chunk_rows: int


def _plan(streaming: Streaming, sources: Mapping[str, Source], first: str, chunk_rows: int | None) -> _Plan:
    try:
        axes, n = streaming.batch_axes(
            {k: s.shape for k, s in sources.items()}, first, {k: s.name for k, s in sources.items()}
        )
    except ValueError as exc:
        raise EvalError(str(exc)) from None
    if n == 0 and all(a is None for a in axes.values()):
        return _Plan(axes, 0, 0)
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


def _identity(a: np.ndarray) -> np.ndarray:
    return a


def _converter(backend: str) -> Callable[[np.ndarray], Any]:
    if backend == "numpy":
        return _identity
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
    views: bool = False,
) -> dict[str, np.ndarray]:
    """The chunk's arrays: rows ``start:stop`` of the chunked ones (read-only views of the
    files where ``views`` and the file allows), the others whole."""
    chunk = {}
    for key, src in sources.items():
        axis = plan.axes[key]
        if axis is not None:
            chunk[key] = src.view(start, stop, axis) if views else src.read(start, stop, axis)
        elif key == "targets" and offsets is not None:
            chunk[key] = src.read(int(offsets[start]), int(offsets[stop]))
        else:
            chunk[key] = whole[key]
    return chunk


def _in_order(compute: Callable[[Any], Any], inputs: Iterator[Any], workers: int) -> Iterator[Any]:
    """``compute(x)`` of each of ``inputs``, yielded in their order: on this thread, or on
    ``workers`` threads with at most ``workers`` inputs in memory at once.  The inputs are
    drawn on this thread only (the readers of CSV and Parquet files read in sequence)."""
    if workers == 1:
        yield from map(compute, inputs)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anyloss-eval") as pool:
        pending: collections.deque[Future[Any]] = collections.deque()

        def submit(count: int) -> None:
            # Each in a copy of the caller's context (``anyloss.native_paths``).
            for x in itertools.islice(inputs, count):
                pending.append(pool.submit(contextvars.copy_context().run, compute, x))

        try:
            submit(workers)
            while pending:
                done = pending.popleft().result()
                submit(1)
                yield done
        finally:
            for future in pending:
                future.cancel()


def _call(fn: Callable[..., Any], arrays: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
    try:
        return fn(**arrays, **options)
    except EvalError:
        raise
    except Exception as exc:  # noqa: BLE001 - the loss's own error, reported in one line
        raise EvalError(one_line(exc)) from None


def _final(value: float | int, dtype: np.dtype) -> float | int:
    """The accumulation rounded once to the loss's output dtype (torch's): floats are
    added in float64, integers as Python integers (exact beyond 2**53)."""
    if np.issubdtype(dtype, np.floating):
        rounded = np.asarray(value, dtype=np.float64).astype(dtype)
        return float(str(rounded)) if np.isfinite(rounded) else float(rounded)
    return int(value)


def _evaluate_stream(
    fn: Callable[..., Any],
    sources: Mapping[str, Source],
    options: dict[str, Any],
    plan: _Plan,
    convert: Callable[[np.ndarray], Any],
    progress: bool,
) -> tuple[float | int, str, int]:
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
        return _final(out.item(), out.dtype), out.dtype.name, _xp.numel(tuple(none.shape))
    # NumPy's chunks are computed on the threads of anyloss's pool, several at once (the
    # ufuncs release the GIL), and read as views of the files; torch and JAX use every core
    # within one chunk already, and want arrays they may write.
    views = convert is _identity
    workers = _threads.get_num_threads() if views else 1

    def arrays_of(start: int, stop: int) -> dict[str, Any]:
        chunk = _slice_arrays(sources, plan, start, stop, whole, offsets, views)
        return {k: convert(v) for k, v in chunk.items()}

    def parts_of(arrays: dict[str, Any]) -> tuple[float | int, float]:
        if reduction == "sum":
            return _to_numpy(_call(fn, arrays, options)).item(), 0.0
        # The loss's own numerator and denominator: their sums over the chunks are those
        # of the whole arrays.
        parts = _call(partial(mean_parts, fn), arrays, options)
        return float(_to_numpy(parts.numerator)), float(_to_numpy(parts.denominator))

    bar = Progress(progress, "rows", n)
    try:
        # The first chunk with the reduction asked for: torch's checks of the reduction,
        # dtypes and shapes, and its warnings, once.
        start, stop = bounds[0]
        arrays = arrays_of(start, stop)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dtype = _to_numpy(_call(fn, arrays, options)).dtype
            none = _call(fn, arrays, {**options, "reduction": "none"})
        _show_warnings(caught)
        terms_per_row = _xp.numel(tuple(none.shape)) // (stop - start)
        del arrays, none
        numerator: float | int = 0
        denominator = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Added in the order of the chunks, whatever the order they finish in.
            for (start, stop), (top, bottom) in zip(
                bounds, _in_order(parts_of, (arrays_of(*b) for b in bounds), workers), strict=True
            ):
                numerator += top
                denominator += bottom
                bar.update(stop - start)
    finally:
        bar.close()
    elements = terms_per_row * n
    value: float | int
    if reduction == "sum":
        value = numerator if dtype.kind in "iu" else float(numerator)
    else:
        with np.errstate(all="ignore"):
            value = float(np.float64(numerator) / np.float64(denominator))
    return _final(value, dtype), dtype.name, elements
