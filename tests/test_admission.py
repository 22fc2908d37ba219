"""What every loss admits as an array, against torch 2.13 on CPU, on every backend.

One representative case per loss (the table's case with the most array arguments, joined by
a case for any array parameter it lacks, so that every array parameter the tables give is
swept) has one array argument at a time replaced by booleans, complex numbers, strings, objects,
unsigned bytes (negative values wrap, as in torch: −1 is 255) or a Python number.  Where
torch computes, the value, dtype and shape must be torch's; where torch raises, the
exception type must be torch's.  The deliberate differences are those of the parity
notes: complex arrays raise ``TypeError`` in every loss (torch computes some), a Python
number where torch needs a tensor raises ``TypeError`` (torch raises ``AttributeError`` in
some losses), and class indices of every integer dtype are taken as torch takes them
in int64.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import warnings

import numpy as np
import pytest
import torch

import anyloss
from anyloss._registry import RECORDS
from cases import CASES
from support.oracle import Case, Outcome, assert_close, record, tolerance, torch_outcome

Key = int | str


def _arrays(case: Case) -> list[Key]:
    keys: list[Key] = [i for i, a in enumerate(case.args) if isinstance(a, np.ndarray)]
    return keys + [k for k, v in case.kwargs.items() if isinstance(v, np.ndarray)]


def _eligible(case: Case) -> bool:
    values = [v for v in case.values() if isinstance(v, np.ndarray)]
    return (
        not case.raises
        and not case.value_error
        and case.to_torch is None
        and all(v.size and v.dtype.kind in "biuf" and v.dtype.itemsize >= 4 for v in values)
        and any(v.ndim for v in values)
    )


def _representatives() -> list[Case]:
    chosen: dict[str, Case] = {}
    for case in CASES:
        if not _eligible(case):
            continue
        best = chosen.get(case.fn)
        if best is None or len(_arrays(case)) > len(_arrays(best)):
            chosen[case.fn] = case
    return list(chosen.values())


REPRESENTATIVES = _representatives()


def _parameter(case: Case, key: Key) -> str:
    """The parameter an argument of ``case`` fills (positions named by the loss's record)."""
    return RECORDS[case.fn].arrays[key] if isinstance(key, int) else key


def _covering() -> list[tuple[Case, list[Key]]]:
    """The cases and the arguments of each that the sweeps replace: every array argument of
    each representative, then, for each array parameter that some table case of the loss
    gives and its representative does not (``pos_weight``, a class ``weight``), the first
    such case with the parameters it adds."""
    swept = {case.fn: {_parameter(case, k) for k in _arrays(case)} for case in REPRESENTATIVES}
    plan = [(case, _arrays(case)) for case in REPRESENTATIVES]
    for case in CASES:
        if case.fn not in swept or not _eligible(case):
            continue
        new = [k for k in _arrays(case) if _parameter(case, k) not in swept[case.fn]]
        if new:
            swept[case.fn].update(_parameter(case, k) for k in new)
            plan.append((case, new))
    return plan


COVERING = _covering()


def _uint8(v: np.ndarray) -> np.ndarray:
    """Integers as torch's uint8, negatives wrapped (−1 is 255); floating point values
    rounded from their magnitudes (wrapped, they would only be large numbers)."""
    if v.dtype.kind == "f":
        v = np.round(np.abs(v))
    return np.asarray(v).astype(np.int64).astype(np.uint8)


VARIANTS = {
    "bool": lambda v: np.asarray(v != 0),
    "complex64": lambda v: np.asarray(v.astype(np.complex64)),
    "str": lambda v: np.asarray(v.astype(str)),
    "object": lambda v: np.asarray(v.astype(object)),
    "uint8": _uint8,
    "number": lambda v: v.flat[0].item(),
}
#: Variants no library but NumPy has: passed as NumPy arrays beside the bed's arrays.
NUMPY_ONLY = ("str", "object")


def _replace(case: Case, key: Key, value) -> Case:
    args, kwargs = list(case.args), dict(case.kwargs)
    (args if isinstance(key, int) else kwargs)[key] = value
    return dataclasses.replace(case, name=f"{case.name}-{key}", args=tuple(args), kwargs=kwargs)


SWEEP = [
    (
        _replace(case, key, VARIANTS[variant](case.args[key] if isinstance(key, int) else case.kwargs[key])),
        variant,
    )
    for case, keys in COVERING
    for key in keys
    for variant in VARIANTS
]


@functools.cache
def _torch(index: int) -> Outcome:
    case, _ = SWEEP[index]
    try:
        return torch_outcome(case)
    except TypeError as exc:  # torch cannot make a tensor of strings or objects
        return Outcome(error=("TypeError", str(exc)))


def _widened(case: Case) -> Case:
    """The case with its uint8 arrays as int64: how torch reads class indices of every dtype."""

    def widen(v):
        return v.astype(np.int64) if isinstance(v, np.ndarray) and v.dtype == np.uint8 else v

    return dataclasses.replace(
        case, args=tuple(widen(a) for a in case.args), kwargs={k: widen(v) for k, v in case.kwargs.items()}
    )


def _expected(index: int) -> tuple[str | None, Outcome]:
    """The exception type anyloss must raise (None: it computes), and torch's outcome."""
    case, variant = SWEEP[index]
    outcome = _torch(index)
    if variant == "complex64":
        return "TypeError", outcome  # complex raises in every loss (parity notes)
    if outcome.error is None:
        return None, outcome
    kind = outcome.error[0]
    if variant == "number" and kind == "AttributeError":
        return "TypeError", outcome  # torch's crash on a number, a clear TypeError here
    if variant == "uint8" and _reads_as_int64(outcome):
        widened = torch_outcome(_widened(case))
        return (None if widened.error is None else widened.error[0]), widened
    return kind, outcome


def _reads_as_int64(outcome: Outcome) -> bool:
    """Whether anyloss takes a uint8 call as torch takes its int64 form: torch refuses uint8
    class indices in the margin losses (anyloss takes indices of every integer dtype), and
    its 'none' path of nll_loss garbles the message of a uint8 index out of range (a
    ``UnicodeDecodeError``; anyloss raises torch's ``IndexError``)."""
    return outcome.error is not None and (
        "found Byte" in outcome.error[1] or outcome.error[0] == "UnicodeDecodeError"
    )


def _value_error(index: int) -> bool:
    """Whether torch's error comes from the values of the replaced array: the call computes
    with those values made 0 (uint8 indices that wrap out of range)."""
    case, variant = SWEEP[index]
    if variant != "uint8":
        return False
    zeroed = dataclasses.replace(
        case,
        args=tuple(_zero_bytes(a) for a in case.args),
        kwargs={k: _zero_bytes(v) for k, v in case.kwargs.items()},
    )
    return torch_outcome(_widened(zeroed)).error is None


def _zero_bytes(v):
    return np.zeros_like(v) if isinstance(v, np.ndarray) and v.dtype == np.uint8 else v


def test_the_sweep_covers_every_loss_and_every_array_parameter() -> None:
    assert {case.fn for case in REPRESENTATIVES} == set(anyloss.__all__) & {c.fn for c in CASES}
    assert len({case.fn for case in REPRESENTATIVES}) == 22
    given = {(c.fn, _parameter(c, k)) for c in CASES if _eligible(c) for k in _arrays(c)}
    swept = {(c.fn, _parameter(c, k)) for c, keys in COVERING for k in keys}
    assert swept == given
    assert ("binary_cross_entropy_with_logits", "pos_weight") in swept


@pytest.mark.parametrize("index", range(len(SWEEP)), ids=[f"{c.fn}-{c.name}-{v}" for c, v in SWEEP])
def test_admission_matches_torch(index: int, backend) -> None:
    case, variant = SWEEP[index]
    error, expected = _expected(index)

    def convert(v):
        if variant in NUMPY_ONLY and isinstance(v, np.ndarray) and v.dtype.kind in "OU":
            return v
        return backend.convert(v)

    if not all(backend.supports(v) for v in case.values()):
        pytest.skip(f"{backend.name} lacks a dtype of this case")
    args = tuple(convert(a) for a in case.args)
    kwargs = {k: convert(v) for k, v in case.kwargs.items()}
    fn = getattr(anyloss, case.fn)
    result = {}

    def call():
        result["array"] = backend.call(fn, args, kwargs)
        return result["array"]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = record(call, backend.to_numpy if error is None or not backend.lazy else lambda x: x)
    if error is not None and backend.lazy and _value_error(index):
        # Values (wrapped indices out of range) cannot be checked on traced or lazy arrays.
        assert got.error is None, f"a lazy backend raised {got.error}"
        return
    if error is not None:
        assert got.error is not None, f"torch raises {expected.error}, anyloss gives {got.dtype} {got.shape}"
        assert got.error[0] == error, f"torch raises {error}, anyloss {got.error}"
        if variant == "complex64":
            assert "complex" in got.error[1]
        return
    assert got.error is None, f"torch computes, anyloss raises {got.error}"
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    rtol, atol = tolerance(case, expected.dtype)
    assert_close(got.value, expected.value, rtol, atol, "value")


# --- unsigned class indices: 255 is not −1 to a class index, but is to an ignore_index ------

UNSIGNED_TARGETS = [
    Case(
        fn,
        f"uint8-255-ignore={ignore}",
        (np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(4, 3), np.array([0, 255, 2, 1], np.uint8)),
        {"ignore_index": ignore, "reduction": "none"},
    )
    for fn in ("nll_loss", "cross_entropy")
    for ignore in (-100, 255, -1)
]


@pytest.mark.parametrize("case", UNSIGNED_TARGETS, ids=[c.id for c in UNSIGNED_TARGETS])
def test_unsigned_class_indices_match_torch(case: Case, backend) -> None:
    expected = torch_outcome(case)
    if _reads_as_int64(expected):
        expected = torch_outcome(_widened(case))
    if expected.error is not None and backend.lazy:
        pytest.skip("an index out of range is a value error, which lazy arrays cannot raise")
    args = tuple(backend.convert(a) for a in case.args)
    got = record(lambda: backend.call(getattr(anyloss, case.fn), args, case.kwargs), backend.to_numpy)
    assert (got.error and got.error[0]) == (expected.error and expected.error[0])
    if expected.error is None:
        assert got.dtype == expected.dtype
        assert_close(got.value, expected.value, *tolerance(case, expected.dtype), "value")


def test_torch_reads_uint8_255_as_an_out_of_range_class() -> None:
    """The premise of the cases above, asked of torch: 255 is never the ignore_index −1."""
    x = torch.zeros(2, 3)
    with pytest.raises(IndexError, match="Target 255 is out of bounds"):
        torch.nn.functional.nll_loss(x, torch.tensor([0, 255], dtype=torch.uint8), ignore_index=-1)


# --- options: checked as torch checks them -------------------------------------------------

OPTION_VALUES = {"None": None, "str": "a", "float": 1.5, "bool": True}


def _torch_options(fn: str) -> set[str]:
    return set(inspect.signature(getattr(torch.nn.functional, fn)).parameters)


OPTION_SWEEP = [
    (
        dataclasses.replace(case, name=f"{case.name}-{option}={tag}", kwargs={**case.kwargs, option: value}),
        tag,
    )
    for case in REPRESENTATIVES
    for option in RECORDS[case.fn].options
    if option in _torch_options(case.fn)
    for tag, value in OPTION_VALUES.items()
]


@functools.cache
def _torch_option_outcome(index: int) -> Outcome:
    return torch_outcome(OPTION_SWEEP[index][0])


@pytest.mark.parametrize("index", range(len(OPTION_SWEEP)), ids=[c.id for c, _ in OPTION_SWEEP])
def test_option_types_match_torch(index: int, backend) -> None:
    case, _ = OPTION_SWEEP[index]
    expected = _torch_option_outcome(index)
    if not all(backend.supports(v) for v in case.values()):
        pytest.skip(f"{backend.name} lacks a dtype of this case")
    assert_as_torch(case, backend, expected)


def assert_as_torch(case: Case, backend, expected: Outcome) -> None:
    """Call ``case`` on ``backend``: torch's exception type, or torch's value, dtype and shape."""
    args = tuple(backend.convert(a) for a in case.args)
    kwargs = {k: backend.convert(v) for k, v in case.kwargs.items()}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        got = record(lambda: backend.call(getattr(anyloss, case.fn), args, kwargs), backend.to_numpy)
    assert (got.error and got.error[0]) == (expected.error and expected.error[0]), (
        f"torch: {expected.error}, anyloss: {got.error}"
    )
    if expected.error is None:
        assert got.dtype == expected.dtype
        assert got.shape == expected.shape
        assert_close(got.value, expected.value, *tolerance(case, expected.dtype), "value")
