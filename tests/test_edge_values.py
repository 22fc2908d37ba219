"""Special floating point values in every float argument of every loss, against torch 2.13.

One element of one float array of each loss's representative case (see
``test_admission``) is replaced by +0, −0, +inf, −inf, NaN, the smallest subnormal or the
largest finite number of its dtype; the value, dtype and shape (or the exception type)
must be torch's on every backend.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest

from support.oracle import Case, Outcome, torch_outcome
from test_admission import COVERING, Key, assert_as_torch


def _specials(dtype: np.dtype) -> dict[str, float]:
    info = np.finfo(dtype)
    return {
        "+0": 0.0,
        "-0": -0.0,
        "+inf": np.inf,
        "-inf": -np.inf,
        "nan": np.nan,
        "subnormal": float(info.smallest_subnormal),
        "max": float(info.max),
    }


def _with(case: Case, key: Key, value: float) -> Case:
    args, kwargs = list(case.args), dict(case.kwargs)
    holder = args if isinstance(key, int) else kwargs
    array = holder[key].copy()
    array.flat[0] = value
    holder[key] = array
    return dataclasses.replace(case, args=tuple(args), kwargs=kwargs)


def _float_arrays(case: Case, keys: list[Key]) -> list[Key]:
    values = {**dict(enumerate(case.args)), **case.kwargs}
    return [key for key in keys if values[key].dtype.kind == "f"]


EDGES = [
    (_with(case, key, value), key, tag)
    for case, keys in COVERING
    for key in _float_arrays(case, keys)
    for tag, value in _specials((case.args[key] if isinstance(key, int) else case.kwargs[key]).dtype).items()
]


@functools.cache
def _torch(index: int) -> Outcome:
    return torch_outcome(EDGES[index][0])


def _edge_id(case: Case, key: Key, tag: str) -> str:
    return f"{case.id}-{key}-{tag}"


#: Known gaps: (bed, loss, argument, value) -> why.
KNOWN_GAPS = {
    ("jax_jit", "poisson_nll_loss", 0, tag): (
        "XLA fuses exp(x) − t·x under jax.jit into a form that gives −inf where exp(x) "
        "overflows (torch: inf − inf = NaN); eager JAX gives NaN"
    )
    for tag in ("+inf", "max")
}


@pytest.mark.parametrize("index", range(len(EDGES)), ids=[_edge_id(*edge) for edge in EDGES])
def test_edge_values_match_torch(index: int, backend, request) -> None:
    case, key, tag = EDGES[index]
    gap = KNOWN_GAPS.get((backend.name, case.fn, key, tag))
    if gap is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=gap))
    expected = _torch(index)
    if expected.error is not None and backend.lazy:
        pytest.skip("an error that depends on values cannot be raised on traced or lazy arrays")
    assert_as_torch(case, backend, expected)
