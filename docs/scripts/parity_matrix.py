"""The parity matrix: anyloss against torch 2.13 on every case of the test tables.

For each loss × backend × dtype, the largest relative error of the values, and of the
gradients where the backend differentiates, over every case of ``tests/cases`` that
torch does not reject.  The expected numbers are torch's (CPU), computed by the same
oracle the test suite uses; nothing here is typed in by hand.

Run as ``python docs/scripts/parity_matrix.py OUT.md`` (the docs build does this).  When
``ANYLOSS_PARITY_RECORD`` names the folder where the test run recorded its comparisons
(``make test`` does, ``tests/support/parity.py``), those made from the current sources are
read from there, and only the rest are computed here.
``DOCS_JOBS`` sets the number of processes (default 2); ``DOCS_PARITY_LOSSES=a,b`` limits
the matrix to those losses, for a quick look while writing the docs.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import anyloss  # noqa: E402
from cases import CASES, cases_with_gradients  # noqa: E402
from support import parity  # noqa: E402
from support.backends import ALL  # noqa: E402
from support.oracle import (  # noqa: E402
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
case_dtype = parity.case_dtype


def _convert(case, backend):
    args = tuple(backend.convert(a) for a in case.args)
    kwargs = {k: backend.convert(v) for k, v in case.kwargs.items()}
    return args, kwargs


def comparisons() -> set[tuple[str, str, str]]:
    """Every comparison the matrix is made of, as (case id, backend, 'value' | 'gradient'):
    the comparisons ``tests/test_against_torch.py`` makes on the matrix's backends."""
    only = set(filter(None, os.environ.get("DOCS_PARITY_LOSSES", "").split(",")))
    gradients = {b.name: {c.id for c in b.gradient_cases(cases_with_gradients())} for b in BACKENDS}
    wanted = set()
    for case in CASES:
        if case.raises or (only and case.fn not in only):
            continue
        for backend in BACKENDS:
            if not all(backend.supports(v) for v in case.values()):
                continue
            if not (case.value_error and backend.lazy):
                # A lazy backend builds this result without the value check torch makes, so
                # there is no value to compare.
                wanted.add((case.id, backend.name, "value"))
            if case.grad and backend.differentiable and case.id in gradients[backend.name]:
                wanted.add((case.id, backend.name, "gradient"))
    return wanted


def measure(wanted: list[tuple[str, str, str]]) -> list[dict]:
    """The comparisons ``wanted`` (as :func:`comparisons` names them), made here."""
    warnings.simplefilter("ignore")
    by_id = {c.id: c for c in CASES}
    by_name = {b.name: b for b in BACKENDS}
    lines = []
    for case_id, name, kind in wanted:
        case, backend = by_id[case_id], by_name[name]
        expected = torch_outcome(case)
        rtol, atol = tolerance(case, expected.dtype)
        fn = getattr(anyloss, case.fn)
        args, kwargs = _convert(case, backend)
        pairs = None
        with np.errstate(all="ignore"):
            try:
                if kind == "value":
                    got = record(lambda b=backend, f=fn, a=args, k=kwargs: b.call(f, a, k), backend.to_numpy)
                    if got.error is None:
                        pairs = [(got.value, expected.value)]
                else:
                    want = torch_gradients(case, expected.shape)
                    got_grads = backend.grad(fn, args, kwargs, case.grad, cotangent(expected.shape))
                    pairs = list(zip(got_grads, want, strict=True))
            except Exception:  # noqa: BLE001 - a failure is a cell of the matrix
                pairs = None
        lines.append(parity.measurement(case, name, kind, pairs, rtol, atol))
    return lines


def measure_all(wanted: list[tuple[str, str, str]], jobs: int) -> list[dict]:
    """:func:`measure`, the comparisons shared among ``jobs`` fresh processes in consecutive
    blocks (neighbouring cases share shapes, and so JAX's compiled kernels)."""
    if jobs <= 1 or len(wanted) < 2 * jobs:
        return measure(wanted)
    import concurrent.futures
    import multiprocessing

    size = -(-len(wanted) // jobs)
    blocks = [wanted[i : i + size] for i in range(0, len(wanted), size)]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        return [line for block in pool.map(measure, blocks) for line in block]


def tabulate(lines: list[dict]) -> dict:
    """{(loss, backend, dtype): [value error, gradient error, cases, all within the test
    suite's tolerance, the largest relative tolerance of its cases]} from the comparisons."""
    by_id = {c.id: c for c in CASES}
    table: dict = {}
    for line in lines:
        case = by_id[line["case"]]
        entry = table.setdefault((case.fn, line["backend"], case_dtype(case)), [0.0, None, 0, True, 0.0])
        entry[4] = max(entry[4], line["rtol"])
        entry[3] &= line["ok"]
        if line["kind"] == "value":
            entry[2] += 1
            entry[0] = max(entry[0], line["error"])
        else:
            entry[1] = line["error"] if entry[1] is None else max(entry[1], line["error"])
    return table


def gather(folder: Path | None, jobs: int) -> tuple[list[dict], int]:
    """Every comparison of the matrix: those the test run recorded in ``folder`` (from the
    current sources), and the rest measured here; with the number measured here."""
    wanted = comparisons()
    lines = []
    if folder is not None and folder.is_dir():
        lines = [
            line for line in parity.load(folder) if (line["case"], line["backend"], line["kind"]) in wanted
        ]
        # a comparison recorded twice (a test re-run) counts once, the latest
        lines = list({(x["case"], x["backend"], x["kind"]): x for x in lines}.values())
    done = {(x["case"], x["backend"], x["kind"]) for x in lines}
    order = {c.id: i for i, c in enumerate(CASES)}
    missing = sorted(wanted - done, key=lambda k: (order[k[0]], k[1], k[2]))
    return lines + measure_all(missing, jobs), len(missing)


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    if x == 0:
        return "0"
    if math.isinf(x):
        return "fails"
    return f"{x:.1e}"


def meets(entry: list) -> bool:
    """Whether a cell is within the tolerance the README states: every element of its values
    and of its gradients (the test suite's criterion, numpy.testing.assert_allclose's)."""
    return bool(entry[3])


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
        " tolerance the README states, for the values and the gradients:"
        " |anyloss − torch| ≤ atol + rtol·|torch| for every element, with (rtol, atol)"
        " (1e-12, 1e-13) for float64, (2e-6, 1e-6) for float32, (2e-3, 1e-3) for float16 and"
        " (1.6e-2, 1e-2) for bfloat16 (computed in float32, rounded where torch rounds);"
        f" {exact} of them are bit-for-bit equal to torch.",
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


def render(table: dict, measured: int, recorded: int) -> str:
    import torch

    backends = [b.name for b in BACKENDS]
    losses = sorted({k[0] for k in table})
    lines = [
        "<!-- generated by docs/scripts/parity_matrix.py; do not edit -->",
        "",
        f"Measured against torch {torch.__version__} (CPU) on {sum(1 for c in CASES if not c.raises)}"
        f" cases of the test tables: {measured + recorded} comparisons of a value or of"
        f" gradients, {recorded} of them made by the test suite's run of these sources"
        f" (``tests/test_against_torch.py``) and {measured} when these docs were built.",
        "",
        *summary(table),
        "Each cell is the largest error of the **values** / of the **gradients** over its"
        " cases (– where the backend does not differentiate or the cases have no gradient;"
        " eager `jax` compares the gradients of the first 20 gradient cases of each loss,"
        " the bed under `jax.jit` those of every case),"
        " as a fraction of that tolerance: |anyloss − torch| / (atol + rtol·|torch|) for an"
        " element, with the (rtol, atol) of the least precise floating dtype among the case's"
        " inputs and output.  0 means bit-for-bit equal to"
        " torch; ✓ marks a cell whose errors are at most 1 (within the tolerance), ✗ one"
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
    folder = os.environ.get(parity.ENV)
    with warnings.catch_warnings():
        lines, measured = gather(Path(folder) if folder else None, int(os.environ.get("DOCS_JOBS", "2")))
    text = render(tabulate(lines), measured, len(lines) - measured)
    if out is None:
        print(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
