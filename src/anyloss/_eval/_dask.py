"""The Dask path: the files as chunked Dask arrays and one lazy global reduction.

The .npy sources are read lazily by the workers (they are pickled to them and open the
file themselves); the loss builds the reduction, which runs on a local scheduler or on a
``dask.distributed`` cluster.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import _xp
from ._common import EvalError, installed, one_line
from ._progress import Progress, dask_local_callback, follow_on_cluster
from ._readers import NpySource, Source
from ._stream import _call, _final, _Plan, _show_warnings, _to_numpy

_DASK_SCHEDULERS = frozenset(
    {"threads", "threading", "processes", "multiprocessing", "sync", "synchronous", "single-threaded"}
)


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
    sources: Mapping[str, Source],
    options: dict[str, Any],
    plan: _Plan,
    scheduler: str | None,
    progress: bool,
) -> tuple[float | int, str, int]:
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
        with Progress(progress, "tasks") as bar:
            if scheduler is None or scheduler in _DASK_SCHEDULERS:
                with dask.config.set(scheduler=scheduler or "threads"), dask_local_callback(bar):
                    out = _computed(lazy)
            else:
                client = _client(scheduler)
                future = client.compute(lazy)
                if bar.bar is not None:
                    follow_on_cluster(client, future, bar)
                out = _computed(future)
    finally:
        if client is not None:
            client.close()
    return _final(out.item(), out.dtype), out.dtype.name, elements


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
