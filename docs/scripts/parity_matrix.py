"""The parity matrix: anyloss against torch 2.13 on every case of the test tables.

For each loss × backend × dtype, the largest relative error of the values, and of the
gradients where the backend differentiates, over every case of ``tests/cases`` that
torch does not reject.  The expected numbers are torch's (CPU), computed by the same
oracle the test suite uses; nothing here is typed in by hand.

Run as ``python docs/scripts/parity_matrix.py OUT.md`` (the docs build does this).
``DOCS_JOBS`` sets the number of processes (default 2); ``DOCS_PARITY_LOSSES=a,b`` limits
the matrix to those losses, for a quick look while writing the docs.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import anyloss  # noqa: E402
from cases import CASES  # noqa: E402
from support.backends import ALL  # noqa: E402
from support.oracle import (  # noqa: E402
    Outcome,
    cotangent,
    record,
    tolerance,
    torch_gradients,
    torch_outcome,
)

#: the backends of the matrix; array-api-strict without data-dependent shapes, and on its
#: second device, runs the same code as array-api-strict and is left out to keep the table
#: readable
BACKENDS = [b for b in ALL if b.name not in ("array_api_strict_no_dds", "array_api_strict_device1")]
_ORDER = ["bfloat16", "float16", "float32", "float64"]


def case_dtype(case) -> str:
    """The least precise floating dtype of a case's inputs ('int' when it has none)."""
    names = case.float_dtypes()
    return min(names, key=_ORDER.index) if names else "int"


def relative_error(got: np.ndarray, want: np.ndarray, floor: float) -> float:
    """max |got − want| / max(|want|, floor) over the elements.

    ``floor`` is the test's absolute tolerance for the dtype, so that elements whose torch
    value is (nearly) 0 are measured absolutely.  Elements where both are NaN, or both the
    same infinity, count as exact.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return math.inf
    if got.size == 0:
        return 0.0
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(all="ignore"):
        err = np.abs(got - want) / np.maximum(np.abs(want), floor if floor > 0 else 1.0)
    err = np.where(same, 0.0, err)
    err = np.where(np.isnan(err), math.inf, err)
    return float(np.max(err))


def within(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> bool:
    """The test suite's own criterion (numpy.testing.assert_allclose, NaN equal to NaN)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    return got.shape == want.shape and bool(
        np.all(np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
    )


def _convert(case, backend):
    args = tuple(backend.convert(a) for a in case.args)
    kwargs = {k: backend.convert(v) for k, v in case.kwargs.items()}
    return args, kwargs


def measure(part: int = 0, parts: int = 1) -> dict:
    """{(loss, backend, dtype): [value error, gradient error, cases, all within the test
    suite's tolerance, the largest relative tolerance of its cases]}.

    Only the ``part``-th of ``parts`` consecutive blocks of cases, so that processes can
    share the work (neighbouring cases share shapes, and so JAX's compiled kernels).
    """
    warnings.simplefilter("ignore")
    table: dict = {}
    size = -(-len(CASES) // parts)
    only = set(filter(None, os.environ.get("DOCS_PARITY_LOSSES", "").split(",")))
    for case in CASES[part * size : (part + 1) * size]:
        if case.raises or (only and case.fn not in only):
            continue
        expected = torch_outcome(case)
        if expected.error is not None:
            continue
        dtype = case_dtype(case)
        rtol, atol = tolerance(case, expected.dtype)
        want_grads = torch_gradients(case, expected.shape) if case.grad else None
        fn = getattr(anyloss, case.fn)
        for backend in BACKENDS:
            if not all(backend.supports(v) for v in case.values()):
                continue
            if case.value_error and backend.lazy:
                # As in the tests: a lazy backend builds this result without the value check
                # torch makes, so there is no value to compare.
                continue
            args, kwargs = _convert(case, backend)
            try:
                got = record(lambda b=backend, f=fn, a=args, k=kwargs: b.call(f, a, k), backend.to_numpy)
            except Exception:  # noqa: BLE001 - computing a lazy result failed: a cell too
                got = Outcome(error=("compute", ""))
            entry = table.setdefault((case.fn, backend.name, dtype), [0.0, None, 0, True, 0.0])
            entry[2] += 1
            entry[4] = max(entry[4], rtol)
            if got.error is not None:
                entry[0], entry[3] = math.inf, False
                continue
            entry[0] = max(entry[0], relative_error(got.value, expected.value, atol))
            entry[3] &= within(got.value, expected.value, rtol, atol)
            if want_grads is not None and backend.differentiable:
                with np.errstate(all="ignore"):
                    try:
                        grads = backend.grad(fn, args, kwargs, case.grad, cotangent(expected.shape))
                    except Exception:  # noqa: BLE001 - a failure is a cell of the matrix
                        entry[1], entry[3] = math.inf, False
                        continue
                for g, w in zip(grads, want_grads, strict=True):
                    err = relative_error(g, w, atol)
                    entry[1] = err if entry[1] is None else max(entry[1], err)
                    entry[3] &= within(g, w, rtol, atol)
    return table


def _merge(tables: list[dict]) -> dict:
    merged: dict = {}
    for table in tables:
        for key, (value, grad, count, ok, rtol) in table.items():
            entry = merged.setdefault(key, [0.0, None, 0, True, 0.0])
            entry[4] = max(entry[4], rtol)
            entry[0] = max(entry[0], value)
            if grad is not None:
                entry[1] = grad if entry[1] is None else max(entry[1], grad)
            entry[2] += count
            entry[3] &= ok
    return merged


def measure_all(jobs: int) -> dict:
    """The whole matrix, the cases shared among ``jobs`` fresh processes."""
    if jobs <= 1:
        return measure()
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        return _merge(list(pool.map(measure, range(jobs), [jobs] * jobs)))


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    if x == 0:
        return "0"
    if math.isinf(x):
        return "fails"
    return f"{x:.1e}"


def meets(entry: list) -> bool:
    """Whether a cell is within the tolerance the README states: the relative error of its
    values and of its gradients at most the relative tolerance of its dtype."""
    value, grad, rtol = entry[0], entry[1], entry[4]
    return value <= rtol and (grad is None or grad <= rtol)


def _cell(entry: list) -> str:
    text = f"{_fmt(entry[0])} / {_fmt(entry[1])}"
    return f"{text} ✓" if meets(entry) else f"{text} ✗"


def summary(table: dict) -> list[str]:
    """The matrix in a few lines: how many cells meet the tolerance, and which do not."""
    cells = len(table)
    exact = sum(1 for e in table.values() if e[0] == 0 and not e[1])
    outside = sorted(key for key, e in table.items() if not meets(e))
    lines = [
        f"**{cells - len(outside)} of {cells} cells** (loss × backend × dtype) are within the"
        " tolerance the README states — relative error at most 1e-12 for float64, 2e-6 for"
        " float32, 2e-3 for float16 and 1.6e-2 for bfloat16 (computed in float32, rounded"
        f" where torch rounds), for the values and the gradients; {exact} of them are"
        " bit-for-bit equal to torch.",
        "",
    ]
    if outside:
        lines.append("Outside it (marked ✗ below):")
        lines.append("")
        lines += [
            f"- `{loss}` on `{backend}`, {dtype}: {_cell(table[(loss, backend, dtype)])}"
            for loss, backend, dtype in outside
        ]
    else:
        lines.append("No cell is outside it.")
    lines.append("")
    return lines


def deliberate_differences() -> list[tuple[str, str]]:
    """The cases the tables put to torch differently, as (loss, case name)."""
    return sorted({(c.fn, c.name) for c in CASES if c.to_torch is not None})


def render(table: dict, seconds: float) -> str:
    import torch

    backends = [b.name for b in BACKENDS]
    losses = sorted({k[0] for k in table})
    lines = [
        "<!-- generated by docs/scripts/parity_matrix.py; do not edit -->",
        "",
        f"Measured against torch {torch.__version__} (CPU) on {sum(1 for c in CASES if not c.raises)}"
        f" cases of the test tables, in {seconds:.0f} s when these docs were built.",
        "",
        *summary(table),
        "Each cell is the largest relative error of the **values** / of the **gradients**"
        " (– where the backend does not differentiate or the cases have no gradient);"
        " 0 means bit-for-bit equal to torch.  The error of an element is"
        " |anyloss − torch| / max(|torch|, atol), with the test suite's absolute tolerance"
        " atol of the dtype (float64 1e-13, float32 1e-6, float16 1e-3, bfloat16 1e-2), so"
        " that elements where torch gives (nearly) 0 are measured absolutely.  The dtype is"
        " the least precise floating dtype among a case's inputs.  ✓ marks a cell whose errors"
        " are within the tolerance above (the relative tolerance of the dtype), ✗ one"
        " outside it; an empty cell means the backend has no arrays of that dtype.",
        "",
    ]
    header = "| loss | dtype | " + " | ".join(f"`{b}`" for b in backends) + " |"
    lines += [header, "|" + " --- |" * (len(backends) + 2)]
    for loss in losses:
        dtypes = sorted({k[2] for k in table if k[0] == loss}, key=lambda d: (_ORDER + ["int"]).index(d))
        for dtype in dtypes:
            cells = []
            for b in backends:
                entry = table.get((loss, b, dtype))
                if entry is None:
                    cells.append("")
                else:
                    cells.append(_cell(entry))
            lines.append(f"| [`{loss}`](_generated/api/{loss}.md) | {dtype} | " + " | ".join(cells) + " |")
    lines.append("")
    diffs = deliberate_differences()
    lines += ["## Cases put to torch differently", ""]
    if diffs:
        lines.append(
            "These cases are deliberate differences from torch: torch rejects the call as"
            " anyloss makes it, so the oracle is asked the nearest call torch accepts (the"
            " reasons are in the parity notes)."
        )
        lines.append("")
        lines += ["| loss | case |", "| --- | --- |"]
        lines += [f"| `{fn}` | `{name}` |" for fn, name in diffs]
    else:
        lines.append("None: every case is put to torch exactly as anyloss receives it.")
    lines.append("")
    return "\n".join(lines)


def rows_for(table_md: str, loss: str) -> str:
    """The header and the rows of one loss, for that loss's own page."""
    lines = table_md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| loss |"))
    head = lines[start : start + 2]
    rows = [line for line in lines if line.startswith(f"| [`{loss}`]")]
    return "\n".join([*head, *rows]).replace(f"](_generated/api/{loss}.md)", f"]({loss}.md)")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else None
    start = time.perf_counter()
    with warnings.catch_warnings():
        table = measure_all(int(os.environ.get("DOCS_JOBS", "2")))
    text = render(table, time.perf_counter() - start)
    if out is None:
        print(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
