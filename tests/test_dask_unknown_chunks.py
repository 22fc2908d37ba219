"""Dask arrays of unknown (NaN) chunk sizes: a clear error naming the fix, for every loss.

After boolean indexing a Dask array's sizes are NaN until ``compute_chunk_sizes()``;
anyloss checks shapes when a loss is built, so it asks for them, and once they are
known the loss gives torch's value.
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pytest

import anyloss
from cases import CASES
from support.backends import DaskBed
from support.oracle import assert_close, tolerance, torch_outcome


def _first_case_of_each_loss():
    chosen: dict[str, object] = {}
    for case in CASES:
        if case.raises or case.value_error or case.fn in chosen:
            continue
        arrays = [v for v in case.values() if isinstance(v, np.ndarray)]
        if "bfloat16" in case.float_dtypes() or not any(a.ndim and a.shape[0] for a in arrays):
            continue
        chosen[case.fn] = case
    return list(chosen.values())


CHOSEN = _first_case_of_each_loss()


def _unknown_chunks(value):
    """A Dask array of ``value`` whose first axis has unknown sizes (boolean indexing)."""
    if not isinstance(value, np.ndarray):
        return value
    array = DaskBed().asarray(value)
    if value.ndim == 0 or value.shape[0] == 0:
        return array
    return array[da.from_array(np.ones(value.shape[0], dtype=bool), chunks=array.chunks[0])]


def test_every_loss_is_covered() -> None:
    assert {case.fn for case in CHOSEN} == set(anyloss.functional.__all__)


@pytest.mark.parametrize("case", CHOSEN, ids=[c.id for c in CHOSEN])
def test_unknown_chunk_sizes_raise_naming_the_fix_then_give_torchs_value(case) -> None:
    args = [_unknown_chunks(a) for a in case.args]
    kwargs = {k: _unknown_chunks(v) for k, v in case.kwargs.items()}
    fn = getattr(anyloss, case.fn)
    assert any(isinstance(v, da.Array) and np.isnan(v.shape[0]) for v in [*args, *kwargs.values()])
    with pytest.raises(ValueError, match=r"unknown \(NaN\) chunk sizes.*compute_chunk_sizes\(\)"):
        fn(*args, **kwargs)

    def known(v):  # type: ignore[no-untyped-def]
        return v.compute_chunk_sizes() if isinstance(v, da.Array) else v

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fn(*[known(a) for a in args], **{k: known(v) for k, v in kwargs.items()})
        expected = torch_outcome(case)
    rtol, atol = tolerance(case, expected.dtype)
    assert_close(np.asarray(result.compute()), expected.value, rtol, atol, "value")
