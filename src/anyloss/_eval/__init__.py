"""``anyloss eval``: losses over arrays on disk, equal to the whole-array values.

``anyloss eval`` reads its arrays from .npy (memory-mapped), .npz, .csv and Parquet files
and streams them in chunks of rows along the batch axis.  Every chunk is put through the
loss with ``reduction='none'``; the reduction is then finished in float64 over the whole
array, so that the result equals the whole-array one:

* ``'sum'`` adds the chunk sums;
* ``'mean'`` is one global numerator over one global denominator, never a mean of chunk
  means.  The denominator is the loss's own (see :data:`SPECS`): the number of loss terms
  for elementwise losses, Σ weight[target] over the targets that are not ignored for
  cross_entropy and nll_loss, the batch size for kl_div's ``'batchmean'``, and so on.

With the Dask backend the files become chunked Dask arrays instead (the .npy ones read
lazily by the workers) and the loss itself builds one lazy global reduction, which runs on
the local scheduler or on a ``dask.distributed`` cluster.

The modules, by job:

* ``_readers``: the files, opened as :class:`Source` objects that read slices of rows;
* ``_specs``: what is known of each loss (:data:`SPECS`), its arrays and its options;
* ``_stream``: the chunked streaming and the float64 accumulation;
* ``_dask``: the Dask path;
* ``_progress``: the one progress bar (tqdm) of every run, streamed or on Dask;
* ``_common``: the user error (:class:`EvalError`) and what every module shares;
* this one: :func:`evaluate`, which checks its arguments, plans the chunks and hands them
  to the stream or to Dask, and what the command line prints (``list``, ``info``).

Optional libraries (pyarrow, tqdm, dask, distributed, torch, jax) are imported only when a
file format, the progress bar or a backend needs them.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import math
import time
from collections.abc import Mapping
from typing import Any

from ._common import BACKENDS as BACKENDS
from ._common import EvalError, installed
from ._common import one_line as one_line
from ._dask import _evaluate_dask
from ._readers import ArraySource as ArraySource
from ._readers import NpySource as NpySource
from ._readers import Source, check_disjoint, open_source
from ._specs import SPECS, loss_function, loss_name, loss_parameters, parse_options
from ._specs import available_losses as available_losses
from ._stream import _converter, _evaluate_stream, _plan

__all__ = [
    "SPECS",
    "EvalError",
    "Result",
    "Source",
    "evaluate",
    "installed_backends",
    "loss_name",
    "loss_parameters",
    "open_source",
    "parse_options",
]


def installed_backends() -> list[str]:
    """The backends ``anyloss eval`` can use here (NumPy always)."""
    names = {"numpy": "numpy", "torch": "torch", "jax": "jax", "dask": "dask"}
    return [name for name, module in names.items() if installed(module)]


@dataclasses.dataclass
class Result:
    loss: str
    value: float | int
    dtype: str
    options: dict[str, Any]
    elements: int
    backend: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The result for JSON: a non-finite value as the string "nan", "inf" or "-inf"
        (strict JSON has no such numbers)."""
        value: Any = self.value
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        return {
            "loss": self.loss,
            "value": value,
            "options": self.options,
            "elements": self.elements,
            "backend": self.backend,
            "seconds": self.seconds,
        }


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
    name = loss_name(name)
    fn = loss_function(name)
    record = SPECS[name]
    params = loss_parameters(name)
    unknown = [k for k in sources if k not in params.arrays]
    if unknown:
        raise EvalError(f"{name} has no array '{unknown[0]}' (arrays: {', '.join(params.arrays)})")
    missing = [k for k in params.required if k not in sources]
    if missing:
        raise EvalError(f"{name} needs {', '.join(missing)}")
    check_disjoint(dict(sources))
    if chunk_rows is not None and chunk_rows < 1:
        raise EvalError("--chunk-rows must be at least 1")
    if scheduler is not None and backend != "dask":
        raise EvalError("--scheduler needs --backend dask")
    options = dict(options)
    first = params.arrays[0]
    plan = _plan(record.streaming, sources, first, chunk_rows)
    began = time.perf_counter()
    if backend == "dask":
        value, dtype, elements = _evaluate_dask(fn, sources, options, plan, scheduler, progress)
    else:
        value, dtype, elements = _evaluate_stream(fn, sources, options, plan, _converter(backend), progress)
    return Result(name, value, dtype, options, elements, backend, round(time.perf_counter() - began, 6))


def describe_loss(name: str) -> str:
    """``anyloss info``: the loss's arrays, options and defaults, and its 'mean' rule."""
    name = loss_name(name)
    fn = loss_function(name)
    params = loss_parameters(name)
    record = SPECS[name]
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
    print(f"  'mean' divides the global sum by {record.mean}", file=out)
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
