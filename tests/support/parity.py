"""How far anyloss is from torch, measured once: by the test run, read by the parity matrix.

``tests/test_against_torch.py`` compares every case on every backend with torch.  When
``ANYLOSS_PARITY_RECORD`` names a folder, each of those comparisons also appends one line
(JSON) to a file of that folder: the case, the backend, whether it is the value or the
gradients, the largest relative error and whether the test suite's tolerance holds.  The docs'
parity matrix (``docs/scripts/parity_matrix.py``) is built from those lines instead of running
every case a second time; it measures itself only what the records lack, and ignores records
made from other sources than those it reads (:func:`fingerprint`).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ENV = "ANYLOSS_PARITY_RECORD"
#: the libraries whose versions a record depends on
_LIBRARIES = ("numpy", "torch", "jax", "dask", "array-api-strict", "array-api-compat", "ml_dtypes")
_ORDER = ["bfloat16", "float16", "float32", "float64"]


def case_dtype(case) -> str:
    """The least precise floating dtype of a case's inputs ('int' when it has none)."""
    names = case.float_dtypes()
    return min(names, key=_ORDER.index) if names else "int"


def scaled_error(got, want, rtol: float, atol: float) -> float:
    """The largest error as a fraction of the tolerance: max |got − want| / (atol + rtol·|want|)
    over the elements, at most 1 exactly when the test suite's criterion holds (:func:`within`).

    Elements where both are NaN, or both the same infinity, count as exact.
    """
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return math.inf
    if got.size == 0:
        return 0.0
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(all="ignore"):
        err = np.abs(got - want) / (atol + rtol * np.abs(want))
    err = np.where(same, 0.0, err)
    err = np.where(np.isnan(err), math.inf, err)
    return float(np.max(err))


def within(got, want, rtol: float, atol: float) -> bool:
    """The test suite's own criterion (numpy.testing.assert_allclose, NaN equal to NaN)."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    return got.shape == want.shape and bool(
        np.all(np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True))
    )


def fingerprint() -> str:
    """A digest of what the comparisons depend on: anyloss's sources, the case tables, the
    oracle and the versions of the array libraries."""
    digest = hashlib.sha256()
    for folder in ("src/anyloss", "tests/cases", "tests/support"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    for name in _LIBRARIES:
        try:
            digest.update(f"{name}={importlib.metadata.version(name)}".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name}=-".encode())
    return digest.hexdigest()


def measurement(case, backend: str, kind: str, pairs, rtol: float, atol: float) -> dict:
    """One comparison: ``pairs`` are (anyloss, torch) arrays, none when anyloss failed."""
    if pairs is None:
        error, ok = math.inf, False
    else:
        error = max((scaled_error(g, w, rtol, atol) for g, w in pairs), default=0.0)
        ok = all(within(g, w, rtol, atol) for g, w in pairs)
    return {"case": case.id, "backend": backend, "kind": kind, "error": error, "ok": ok, "rtol": rtol}


_FILES: dict = {}  # this process's record file for each folder, opened on first use


def record(line: dict) -> None:
    """Append a :func:`measurement` to this process's file in the folder that
    ``ANYLOSS_PARITY_RECORD`` names; nothing when it names none."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    if folder not in _FILES:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        name = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}.jsonl"
        stream = (path / name).open("a")
        stream.write(json.dumps({"fingerprint": fingerprint()}) + "\n")
        _FILES[folder] = stream
    # json writes an infinite error as Infinity, which json reads back
    _FILES[folder].write(json.dumps(line) + "\n")
    _FILES[folder].flush()


def load(folder: Path) -> list[dict]:
    """The comparisons recorded in ``folder`` from the current sources (others are ignored)."""
    current = fingerprint()
    lines: list[dict] = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        with path.open() as stream:
            head = stream.readline()
            if not head or json.loads(head).get("fingerprint") != current:
                continue
            lines += [json.loads(line) for line in stream if line.strip()]
    return lines
