"""Differential fuzzing against torch: random shapes, values and options (Hypothesis).

Each strategy draws a complete call (arrays and options); the value, dtype and
shape of anyloss on NumPy, on JAX and through the generic body on torch tensors
must be torch's.
"""

from __future__ import annotations

import functools
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import anyloss
from support.backends import JaxBed, NumpyBed, TorchBed
from support.oracle import Case, assert_close, record, tolerance, torch_outcome

BACKENDS = [NumpyBed(), TorchBed(native=False), JaxBed(jit=False)]
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

dtypes = st.sampled_from(["float32", "float64"])
reductions = st.sampled_from(["none", "mean", "sum"])


@st.composite
def arrays(draw, shape, dtype, low=-10.0, high=10.0):
    return draw(
        hnp.arrays(
            dtype,
            shape,
            elements=st.floats(low, high, allow_nan=False, width=32 if dtype == "float32" else 64),
        )
    )


@st.composite
def pair(draw, low=-10.0, high=10.0):
    """Two broadcast-compatible arrays of one dtype."""
    dtype = draw(dtypes)
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
    a, b = shapes.input_shapes
    return draw(arrays(a, dtype, low, high)), draw(arrays(b, dtype, low, high))


@st.composite
def regression_call(draw):
    fn = draw(st.sampled_from(["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"]))
    x, t = draw(pair())
    kwargs = {"reduction": draw(reductions)}
    if fn == "smooth_l1_loss":
        kwargs["beta"] = draw(st.sampled_from([0.0, 0.5, 1.0, 3.0]))
    if fn == "huber_loss":
        kwargs["delta"] = draw(st.sampled_from([0.5, 1.0, 3.0]))
    return Case(fn, "fuzz", (x, t), kwargs)


def _check(case: Case) -> None:
    expected = torch_outcome(case)
    for backend in BACKENDS:
        args = tuple(backend.convert(a) for a in case.args)
        kwargs = {k: backend.convert(v) for k, v in case.kwargs.items()}
        got = record(
            functools.partial(backend.call, getattr(anyloss, case.fn), args, kwargs),
            backend.to_numpy,
        )
        assert got.error == expected.error, backend.name
        assert got.warnings == expected.warnings, backend.name
        if expected.error is None:
            assert (got.dtype, got.shape) == (expected.dtype, expected.shape), backend.name
            rtol, atol = tolerance(case, expected.dtype)
            assert_close(got.value, expected.value, rtol, atol, backend.name)


STRATEGIES = {"regression": regression_call()}


@pytest.mark.parametrize("family", sorted(STRATEGIES))
def test_fuzz_against_torch(family: str) -> None:
    @FUZZ
    @given(STRATEGIES[family])
    def check(case: Case) -> None:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("error")
            _check(case)

    check()
