"""Special floating point values in every float argument of every loss, against torch 2.13.

One element of one float array of each loss's representative case (see
``test_admission``) is replaced by +0, −0, +inf, −inf, NaN, the smallest subnormal or the
largest finite number of its dtype; the value, dtype and shape (or the exception type)
must be torch's on every backend.  Then Hypothesis searches the larger class: any float
case of the tables, one to three special values at any positions of any of its float
arrays, on the eager beds (NumPy, the generic body on torch tensors, JAX).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import CASES
from support.backends import JaxBed, NumpyBed, TorchBed
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


# -- the large class: any case, any positions, several special values at once (Hypothesis) ----
def _float_cases() -> list[tuple[Case, list[Key]]]:
    """Every table case that torch computes from float arrays, with those arrays' keys."""
    out = []
    for case in CASES:
        if case.raises or case.value_error or case.to_torch is not None:
            continue
        values = {**dict(enumerate(case.args)), **case.kwargs}
        keys = [k for k, v in values.items() if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size]
        if keys and all(values[k].dtype.itemsize >= 4 for k in keys):
            out.append((case, keys))
    return out


FLOAT_CASES = _float_cases()
SPECIALS = ["+0", "-0", "+inf", "-inf", "nan", "subnormal", "max"]
#: beds whose value checks run (eager): a special value may make torch raise
EAGER = [NumpyBed(), TorchBed(native=False), JaxBed(jit=False)]


@st.composite
def special_calls(draw) -> Case:
    """A table case with one to three elements of its float arrays replaced by special values."""
    case, keys = draw(st.sampled_from(FLOAT_CASES))
    args, kwargs = list(case.args), dict(case.kwargs)
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        holder = args if isinstance(key, int) else kwargs
        array = holder[key].copy()
        array.flat[draw(st.integers(0, array.size - 1))] = _specials(array.dtype)[
            draw(st.sampled_from(SPECIALS))
        ]
        holder[key] = array
    return dataclasses.replace(case, name=f"{case.name}-special", args=tuple(args), kwargs=kwargs)


@pytest.mark.filterwarnings("ignore")
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(special_calls())
def test_special_values_anywhere_match_torch(case: Case) -> None:
    expected = torch_outcome(case)
    for bed in EAGER:
        if (bed.name, case.fn) in {(b, f) for b, f, _, _ in KNOWN_GAPS}:
            continue
        if all(bed.supports(v) for v in case.values()):
            assert_as_torch(case, bed, expected)
