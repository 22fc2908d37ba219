"""NumPy arrays beside another library's arrays, as a data loader hands them to a model.

NumPy arrays and NumPy scalars in a call whose first array is of another library (torch,
JAX, Dask, array-api-strict) are taken into that library: the value is the one of the call
made with that library's arrays only, to the last bit, and torch's; the result is that
library's array, on the first array's device; gradients reach the first array.  Arrays of
two libraries other than NumPy raise anyloss's own ``TypeError`` naming both.
"""

from __future__ import annotations

import functools
import inspect
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import anyloss
from anyloss import _xp
from anyloss._registry import RECORDS
from cases import CASES
from support.backends import ALL, Bed, is_array
from support.oracle import Case, assert_close, cotangent, to_tensor, tolerance, torch_gradients, torch_outcome

#: The beds whose arrays take NumPy arrays in (NumPy's own is no mix; torch_generic runs the
#: generic body on the converted tensors; jax_jit closes the NumPy arrays over in its trace;
#: array_api_strict_device1 checks that they land on the first array's device).
BEDS = [
    bed
    for bed in ALL
    if bed.name
    in ("torch", "torch_generic", "jax", "jax_jit", "dask", "array_api_strict", "array_api_strict_device1")
]

_PLAIN = ("float32", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")


def _mixable(case: Case) -> bool:
    """A call that computes, whose first argument is an array and some other argument too."""
    arrays = [v for v in case.values() if is_array(v)]
    return (
        not case.raises
        and not case.value_error
        and is_array(case.args[0])
        and len(arrays) >= 2
        and all(a.dtype.name in _PLAIN for a in arrays)
    )


def _pick(cases: list[Case]) -> list[Case]:
    """The case with the most arrays (weights, variances...), and one whose gradient
    with respect to the first array torch gives."""
    most = max(cases, key=lambda c: sum(is_array(v) for v in c.values()))
    graded = next((c for c in cases if 0 in c.grad and c is not most), None)
    return [most] if graded is None else [most, graded]


def _selected() -> list[Case]:
    by_loss: dict[str, list[Case]] = {}
    for case in CASES:
        if _mixable(case):
            by_loss.setdefault(case.fn, []).append(case)
    return [case for loss in by_loss for case in _pick(by_loss[loss])]


SELECTED = _selected()


@functools.cache
def _reference(case_id: str):
    return torch_outcome(next(c for c in SELECTED if c.id == case_id))


def _mixed(case: Case, bed: Bed) -> tuple[tuple, dict]:
    """The first array converted to ``bed``'s library, every other array left NumPy."""
    return (bed.convert(case.args[0]), *case.args[1:]), dict(case.kwargs)


def _alone(case: Case, bed: Bed):
    """The call with every array of ``bed``'s library, made as the mixed call is made: under
    jit, the other arrays closed over as constants (XLA folds constants, so traced arguments
    may round differently); on Dask, in the chunks that the conversion gives them."""
    first = bed.convert(case.args[0])

    def convert(a):
        if not is_array(a):
            return a
        if bed.name == "dask":
            import dask.array as da

            return da.from_array(a, chunks=first.chunks if a.shape == first.shape else a.shape)
        return bed.convert(a)

    rest = tuple(convert(a) for a in case.args[1:])
    kwargs = {k: convert(v) for k, v in case.kwargs.items()}
    fn = getattr(anyloss, case.fn)
    if bed.name == "jax_jit":
        return jax.jit(lambda x: fn(x, *rest, **kwargs))(first)
    return bed.call(fn, (first, *rest), kwargs)


def test_every_loss_has_mixed_cases() -> None:
    assert {case.fn for case in SELECTED} == set(RECORDS)


@pytest.mark.parametrize("bed", BEDS, ids=[b.name for b in BEDS])
@pytest.mark.parametrize("case", SELECTED, ids=[c.id for c in SELECTED])
def test_numpy_arrays_are_taken_into_the_first_arrays_library(case: Case, bed: Bed) -> None:
    if not all(bed.supports(v) for v in case.values()):
        pytest.skip(f"{bed.name} lacks a dtype of this case")
    expected = _reference(case.id)
    fn = getattr(anyloss, case.fn)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = bed.call(fn, *_mixed(case, bed))
        alone = _alone(case, bed)
    assert isinstance(mixed, bed.array_type)
    assert bed.device_of(mixed) == bed.expected_device
    got = bed.to_numpy(mixed)
    np.testing.assert_array_equal(got, bed.to_numpy(alone))
    assert str(got.dtype) == expected.dtype or bed.name.startswith("array_api_strict")
    rtol, atol = tolerance(case, expected.dtype)
    assert_close(got, expected.value, rtol, atol, "value")


GRADIENT_CASES = [case for case in SELECTED if 0 in case.grad]
DIFFERENTIABLE = [bed for bed in BEDS if bed.differentiable]


@pytest.mark.parametrize("bed", DIFFERENTIABLE, ids=[b.name for b in DIFFERENTIABLE])
@pytest.mark.parametrize("case", GRADIENT_CASES, ids=[c.id for c in GRADIENT_CASES])
def test_gradients_reach_the_first_array(case: Case, bed: Bed) -> None:
    expected = _reference(case.id)
    want = torch_gradients(case, expected.shape)[case.grad.index(0)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (got,) = bed.grad(getattr(anyloss, case.fn), *_mixed(case, bed), (0,), cotangent(expected.shape))
    rtol, atol = tolerance(case, expected.dtype)
    assert_close(got, want, rtol, atol, "gradient w.r.t. the first array")


def test_torch_backward_sets_grad_with_numpy_targets() -> None:
    x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], requires_grad=True)
    target, weight = np.array([2, 0]), np.float32([1.0, 2.0, 0.5])
    anyloss.cross_entropy(x, target, weight).backward()
    reference = x.detach().clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(
        reference, torch.from_numpy(target), torch.from_numpy(weight)
    ).backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, reference.grad, rtol=0, atol=0)


# --- what the conversion keeps ------------------------------------------------------


def test_torch_takes_numpy_arrays_without_a_copy_keeping_int64() -> None:
    x = torch.zeros(3, 4)
    target = np.array([0, 1, 2])
    _, (_, converted) = _xp.common_namespace((x, target))
    assert converted.dtype == torch.int64
    assert np.shares_memory(converted.numpy(), target)


@pytest.mark.parametrize(
    "numpy_array",
    [
        np.arange(4.0)[::-1],  # negative stride
        np.arange(4.0).astype(">f8"),  # non-native byte order
        np.frombuffer(np.arange(4.0).tobytes()),  # read-only
    ],
    ids=["reversed", "big-endian", "read-only"],
)
def test_torch_copies_numpy_arrays_it_cannot_share(numpy_array: np.ndarray) -> None:
    x = torch.zeros(4, dtype=torch.float64)
    _, (_, converted) = _xp.common_namespace((x, numpy_array))
    assert converted.dtype == torch.float64
    np.testing.assert_array_equal(converted.numpy(), numpy_array)
    assert not np.shares_memory(converted.numpy(), numpy_array)


def test_numpy_scalars_are_taken_in_with_their_dtype() -> None:
    x = torch.tensor(-0.5, dtype=torch.float64)
    got = anyloss.mse_loss(x, np.float64(0.25))
    want = torch.nn.functional.mse_loss(x, torch.tensor(0.25, dtype=torch.float64))
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_dask_takes_numpy_arrays_in_the_first_arrays_chunks() -> None:
    import dask.array as da

    x = da.from_array(np.zeros((6, 3)), chunks=(2, 3))
    target, weight = np.ones((6, 3)), np.ones(3)
    _, (_, same, other) = _xp.common_namespace((x, target, weight))
    assert same.chunks == x.chunks
    assert other.chunks == ((3,),)


def test_python_numbers_are_left_as_they_are() -> None:
    x = jnp.zeros(3)
    _, (_, number) = _xp.common_namespace((x, 0.5))
    assert type(number) is float


# --- two libraries ------------------------------------------------------------------


def _array(library: str, values: np.ndarray):
    if library == "torch":
        return torch.from_numpy(values)
    if library == "jax":
        return jnp.asarray(values)
    if library == "dask":
        import dask.array as da

        return da.from_array(values)
    import array_api_strict

    return array_api_strict.asarray(values)


PAIRS = [("torch", "jax"), ("jax", "torch"), ("torch", "dask"), ("jax", "array_api_strict"), ("dask", "jax")]
FIRST_CASES = list({case.fn: case for case in reversed(SELECTED)}.values())


@pytest.mark.parametrize("pair", PAIRS, ids=["-".join(p) for p in PAIRS])
@pytest.mark.parametrize("case", FIRST_CASES, ids=[c.fn for c in FIRST_CASES])
def test_two_libraries_raise_naming_both(case: Case, pair: tuple[str, str]) -> None:
    first, other = pair
    args = (_array(first, case.args[0]), *(_array(other, a) if is_array(a) else a for a in case.args[1:]))
    kwargs = {k: _array(other, v) if is_array(v) else v for k, v in case.kwargs.items()}
    with pytest.raises(TypeError, match=f"anyloss: arrays from two libraries, {first} and {other}"):
        getattr(anyloss, case.fn)(*args, **kwargs)


# --- classes built with NumPy weights ----------------------------------------------


def _class_takes(case: Case) -> bool:
    """The loss's class takes the case's options and weights (torch's classes of the
    elementwise losses have no ``weight``)."""
    parameters = inspect.signature(getattr(anyloss, RECORDS[case.fn].cls)).parameters
    return all(k in parameters for k in case.kwargs)


WEIGHTED = [
    case
    for case in CASES
    if _mixable(case)
    and _class_takes(case)
    and any(k in ("weight", "pos_weight") and is_array(v) for k, v in case.kwargs.items())
]
WEIGHTED = list({case.fn: case for case in reversed(WEIGHTED)}.values())
CLASS_BEDS = [bed for bed in BEDS if bed.name in ("torch", "jax", "dask")]


@pytest.mark.parametrize("bed", CLASS_BEDS, ids=[b.name for b in CLASS_BEDS])
@pytest.mark.parametrize("case", WEIGHTED, ids=[c.id for c in WEIGHTED])
def test_class_with_numpy_weights_called_on_framework_arrays(case: Case, bed: Bed) -> None:
    cls = getattr(anyloss, RECORDS[case.fn].cls)
    loss = cls(**case.kwargs)  # the weights stay NumPy arrays
    expected = torch_outcome(case)
    got = bed.to_numpy(bed.call(loss, tuple(bed.convert(a) for a in case.args), {}))
    rtol, atol = tolerance(case, expected.dtype)
    assert_close(got, expected.value, rtol, atol, "value")


# --- jax.jit ------------------------------------------------------------------------


def test_jit_with_a_numpy_target_closed_over_or_passed() -> None:
    logits = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [0.0, 3.0, 1.0]])
    target, weight = np.array([2, 0, 1]), np.array([1.0, 2.0, 0.5])
    want = torch.nn.functional.cross_entropy(to_tensor(logits), to_tensor(target), to_tensor(weight)).numpy()
    x = jnp.asarray(logits)
    closed = jax.jit(lambda x: anyloss.cross_entropy(x, target, weight))(x)
    passed = jax.jit(anyloss.cross_entropy)(x, target, weight)
    gradient = jax.jit(jax.grad(lambda x: anyloss.cross_entropy(x, target, weight)))(x)
    reference = to_tensor(logits).requires_grad_(True)
    torch.nn.functional.cross_entropy(reference, to_tensor(target), to_tensor(weight)).backward()
    for got in (closed, passed):
        assert isinstance(got, jax.Array)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gradient), reference.grad.numpy(), rtol=1e-12, atol=1e-14)
