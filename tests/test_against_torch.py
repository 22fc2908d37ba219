"""Every case of every table, on every backend, against torch 2.13 on CPU.

Values, output dtype and shape, warnings and errors (type and wording) must be
torch's; gradients must be torch autograd's; the result must be on the inputs' device.
A case whose error depends on array values cannot raise on a lazy backend (traced JAX,
Dask): there the loss must be built without raising and without computing, as the
docstrings say.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest

import anyloss
from cases import CASES, cases_with_gradients
from support import parity
from support.oracle import (
    Case,
    Outcome,
    assert_close,
    cotangent,
    record,
    tolerance,
    torch_gradients,
    torch_outcome,
)


@functools.cache
def _reference(case_id: str) -> Outcome:
    case = next(c for c in CASES if c.id == case_id)
    return torch_outcome(case)


def _prepare(case: Case, backend) -> tuple[tuple, dict]:
    values = case.values()
    unsupported = [v for v in values if not backend.supports(v)]
    if unsupported:
        pytest.skip(f"{backend.name} has no {unsupported[0].dtype} arrays")
    args = tuple(backend.convert(a) for a in case.args)
    kwargs = {k: backend.convert(v) for k, v in case.kwargs.items()}
    return args, kwargs


def _mark_known_gap(case: Case, backend, what: str, request) -> None:
    reason = backend.known_gap(case, what)
    if reason is not None:
        if backend.crashes(case, what):
            pytest.xfail(f"not run: {reason}")  # a crash would take the test process with it
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def _assert_on_inputs_device(array, backend) -> None:
    """The result is on the device of the inputs (the backend puts every input on one)."""
    device = backend.device_of(array)
    assert device == backend.expected_device, f"result on {device}, inputs on {backend.expected_device}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_matches_torch(case: Case, backend, request) -> None:
    _mark_known_gap(case, backend, "value", request)
    expected = _reference(case.id)
    assert (expected.error is not None) == case.raises, (
        f"the table says raises={case.raises}, torch says {expected.error}"
    )
    args, kwargs = _prepare(case, backend)
    fn = getattr(anyloss, case.fn)
    result = {}

    def call():
        result["array"] = backend.call(fn, args, kwargs)
        return result["array"]

    if case.value_error and backend.lazy:
        # Value checks cannot run on traced or lazy arrays: the call builds the result.
        got = record(call, lambda x: x)
        assert got.error is None, f"lazy backend raised {got.error}"
        assert got.warnings == expected.warnings
        _assert_on_inputs_device(result["array"], backend)
        return

    got = record(call, backend.to_numpy)
    rtol, atol = tolerance(case, expected.dtype)
    if expected.error is None:
        pairs = None if got.error is not None else [(got.value, expected.value)]
        parity.record(parity.measurement(case, backend.name, "value", pairs, rtol, atol))
    assert got.warnings == expected.warnings
    assert got.error == expected.error
    if expected.error is not None:
        return
    assert isinstance(result["array"], backend.array_type)
    _assert_on_inputs_device(result["array"], backend)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    assert_close(got.value, expected.value, rtol, atol, "value")


GRADIENT_CASES = cases_with_gradients()


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=[c.id for c in GRADIENT_CASES])
def test_gradients_match_torch(case: Case, backend, request) -> None:
    if not backend.differentiable:
        pytest.skip(f"{backend.name} does not differentiate")
    _mark_known_gap(case, backend, "gradient", request)
    expected = _reference(case.id)
    args, kwargs = _prepare(case, backend)
    fn = getattr(anyloss, case.fn)
    want = torch_gradients(case, expected.shape)
    # Warnings are compared by test_matches_torch; here only the gradients are.
    rtol, atol = tolerance(case, expected.dtype)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            got = backend.grad(fn, args, kwargs, case.grad, cotangent(expected.shape))
        except Exception:
            parity.record(parity.measurement(case, backend.name, "gradient", None, rtol, atol))
            raise
    parity.record(
        parity.measurement(case, backend.name, "gradient", list(zip(got, want, strict=True)), rtol, atol)
    )
    for key, g, w in zip(case.grad, got, want, strict=True):
        assert_close(g, w, rtol, atol, f"gradient w.r.t. {key!r}")
