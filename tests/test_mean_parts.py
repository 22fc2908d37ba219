"""``anyloss.mean_parts``: the numerator and denominator of every loss's 'mean'.

Every case of the tables that reduces by a mean ('mean', kl_div's 'batchmean') is asked
for its parts on every backend.  Their ratio must be the loss's own 'mean' to the last bit
and torch's within the case's tolerance; split into uneven micro-batches along the loss's
batch axis, the summed parts must give torch's 'mean' of the whole batch, and the summed
gradients of the numerators over the summed denominators torch's gradient of that mean.

Every bed but eager JAX, whose body and parts are those the bed under ``jax.jit`` traces
(and which would cost a sixth of this file's time).
"""

from __future__ import annotations

import functools
import inspect
import warnings

import numpy as np
import pytest

import anyloss
from anyloss._registry import RECORDS
from cases import CASES
from support.backends import ALL, BFLOAT16
from support.oracle import Case, assert_close, cotangent, tolerance, torch_gradients, torch_outcome

_LEGACY = ("size_average", "reduce")
BEDS = [bed for bed in ALL if bed.name != "jax"]
on_beds = pytest.mark.parametrize("backend", BEDS, ids=[bed.name for bed in BEDS])


def _mean_of(case: Case) -> str | None:
    """The mean a case asks for, when mean_parts can take the case as it is written."""
    record = RECORDS[case.fn]
    names = [p.name for p in record.parameters]
    if any(case.kwargs.get(k) is not None for k in _LEGACY):
        return None
    if any(k in names and len(case.args) > names.index(k) for k in (*_LEGACY, "reduction")):
        return None
    reduction = case.kwargs.get("reduction", "mean")
    return reduction if reduction in record.means else None


MEAN_CASES = [c for c in CASES if not c.raises and _mean_of(c) is not None]


@functools.cache
def _reference(case_id: str):
    return torch_outcome(next(c for c in MEAN_CASES if c.id == case_id))


def _prepare(case: Case, backend) -> tuple[tuple, dict]:
    unsupported = [v for v in case.values() if not backend.supports(v)]
    if unsupported:
        pytest.skip(f"{backend.name} has no {unsupported[0].dtype} arrays")
    return tuple(backend.convert(a) for a in case.args), {
        k: backend.convert(v) for k, v in case.kwargs.items()
    }


def _parts(fn):
    return lambda *args, **kwargs: tuple(anyloss.mean_parts(fn, *args, **kwargs))


def _generic(fn):
    """``fn`` through its generic body, which mean_parts runs on every backend."""

    def call(*args, **kwargs):
        with anyloss.native_paths(False):
            return fn(*args, **kwargs)

    return call


def _ratio(numerator: np.ndarray, denominator: np.ndarray, dtype) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(numerator / denominator).astype(dtype)


@on_beds
@pytest.mark.parametrize("case", MEAN_CASES, ids=[c.id for c in MEAN_CASES])
def test_mean_parts_divide_to_the_loss_mean(case: Case, backend) -> None:
    expected = _reference(case.id)
    args, kwargs = _prepare(case, backend)
    fn = getattr(anyloss, case.fn)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the loss's own warnings are test_against_torch's
        numerator, denominator = backend.call(_parts(fn), args, kwargs)
        # Under jit the loss's own 'mean' is a second compilation; torch's value (which
        # test_against_torch holds that 'mean' to) stands in for it there.
        mean = expected.value if backend.name == "jax_jit" else backend.call(_generic(fn), args, kwargs)
    for side in (numerator, denominator):
        assert isinstance(side, backend.array_type)
        assert tuple(side.shape) == ()
    assert numerator.dtype == denominator.dtype
    mean = np.asarray(expected.value) if backend.name == "jax_jit" else backend.to_numpy(mean)
    if backend.to_numpy(denominator) == 0:
        # No terms: the parts add nothing to other batches' (torch's 'mean' of an empty batch,
        # NaN or the margin losses' 0, is test_against_torch's).
        assert backend.to_numpy(numerator) == 0
        return
    # The division in the parts' dtype, rounded once to the loss's output dtype (the test
    # bed reads half-precision results back as float32).
    rounded = BFLOAT16 if expected.dtype == "bfloat16" else np.dtype(expected.dtype)
    ratio = _ratio(backend.to_numpy(numerator), backend.to_numpy(denominator), rounded).astype(mean.dtype)
    rtol, atol = tolerance(case, expected.dtype)
    if backend.name == "jax_jit":
        # XLA compiles the two programs apart: it may sum in another order or multiply by
        # the reciprocal, so the ratio is the 'mean' within rounding, not to the bit.
        assert_close(ratio, mean, rtol, atol, "numerator / denominator under jit")
    else:
        # The loss's 'mean' is this very division: equal to the last bit, NaN where it is NaN.
        np.testing.assert_array_equal(ratio, mean, strict=True)
    assert_close(ratio, expected.value, rtol, atol, "numerator / denominator")


# -- micro-batches ------------------------------------------------------------------------------


def _shape(value) -> tuple[int, ...] | None:
    if hasattr(value, "shape"):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)):
        return (len(value),)
    return None


def _named(case: Case) -> dict:
    names = [p.name for p in RECORDS[case.fn].parameters]
    return {**dict(zip(names, case.args, strict=False)), **case.kwargs}


def _cut(case: Case) -> tuple[dict, list[tuple[int, int]], dict] | None:
    """The case's arrays by name, uneven row ranges covering its batch, and the cut axes."""
    record = RECORDS[case.fn]
    named = _named(case)
    shapes = {k: s for k, v in named.items() if k in record.arrays and (s := _shape(v)) is not None}
    try:
        axes, n = record.streaming.batch_axes(shapes, record.required[0])
    except ValueError:  # arrays torch takes in other layouts (2-D CTC lengths): not cut here
        return None
    if n < 2:
        return None
    return named, [(0, 1), (1, n)], axes


def _piece(case: Case, named: dict, axes: dict, start: int, stop: int) -> Case:
    values = dict(named)
    for key, axis in axes.items():
        value = values[key]
        if axis is not None:
            index = (slice(None),) * axis + (slice(start, stop),)
            values[key] = value[index] if hasattr(value, "shape") else type(value)(value[start:stop])
        elif key == "targets" and len(_shape(value)) == 1 and start < stop:
            # Concatenated CTC targets: cut by the target lengths.
            offsets = np.concatenate([[0], np.cumsum(np.asarray(named["target_lengths"]))])
            values[key] = value[offsets[start] : offsets[stop]]
    record = RECORDS[case.fn]
    order = [p.name for p in record.parameters]
    positional = [values.pop(k) for k in order[: len(case.args)]]
    return Case(case.fn, f"{case.name}[{start}:{stop}]", tuple(positional), values, grad=case.grad)


def _split_cases() -> list[Case]:
    """The cases cut into micro-batches: every float64 one (exact arithmetic shows any
    denominator that does not add up), and each loss's first other case where it has none.
    How each dtype rounds the 'mean' is test_mean_parts_divide_to_the_loss_mean's."""
    cut = [c for c in MEAN_CASES if _cut(c) is not None]
    chosen = [c for c in cut if set(c.float_dtypes()) <= {"float64"}]
    covered = {c.fn for c in chosen}
    for case in cut:
        if case.fn not in covered:
            chosen.append(case)
            covered.add(case.fn)
    return chosen


SPLIT_CASES = _split_cases()


@on_beds
@pytest.mark.parametrize("case", SPLIT_CASES, ids=[c.id for c in SPLIT_CASES])
def test_mean_parts_add_up_across_uneven_micro_batches(case: Case, backend) -> None:
    expected = _reference(case.id)
    named, ranges, axes = _cut(case)
    pieces = [_piece(case, named, axes, start, stop) for start, stop in ranges]
    fn = getattr(anyloss, case.fn)
    numerator = denominator = 0.0
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for piece in pieces:
            args, kwargs = _prepare(piece, backend)
            n, d = backend.call(_parts(fn), args, kwargs)
            numerator = numerator + backend.to_numpy(n).astype(np.float64)
            denominator = denominator + backend.to_numpy(d).astype(np.float64)
    rtol, atol = tolerance(case, expected.dtype)
    assert_close(_ratio(numerator, denominator, np.float64), expected.value, rtol, atol, "summed parts")

    # Gradient accumulation: Σ ∂numerator / Σ denominator is ∂'mean' of the whole batch, for
    # every array cut into micro-batches that the denominator does not depend on (weights
    # are summed into the denominators of l1, mse, cross_entropy and nll).
    keys = [k for k in case.grad if _name_of(case, k) != "weight" and axes.get(_name_of(case, k)) is not None]
    if not backend.differentiable or not keys:
        return
    want = dict(zip(case.grad, torch_gradients(case, ()), strict=True))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        grads = []
        for piece in pieces:
            args, kwargs = _prepare(piece, backend)
            numerator_of = lambda *a, _fn=fn, **k: anyloss.mean_parts(_fn, *a, **k).numerator  # noqa: E731
            grads.append(backend.grad(numerator_of, args, kwargs, tuple(keys), cotangent(())))
    for i, key in enumerate(keys):
        axis = axes[_name_of(case, key)]
        got = np.concatenate([g[i] for g in grads], axis=axis)
        # With no terms at all (every target ignored) the numerators' gradients are 0, and so
        # is torch's gradient of its NaN 'mean'.
        got = got / denominator if denominator else got
        assert_close(got, want[key], rtol, atol, f"accumulated gradient w.r.t. {key!r}")


def _name_of(case: Case, key) -> str:
    return key if isinstance(key, str) else [p.name for p in RECORDS[case.fn].parameters][key]


def test_mean_parts_refuses_what_is_not_a_mean() -> None:
    x = np.array([0.5, 1.5])
    with pytest.raises(ValueError, match="means are 'mean'"):
        anyloss.mean_parts(anyloss.mse_loss, x, x, reduction="sum")
    with pytest.raises(TypeError, match="size_average"):
        anyloss.mean_parts(anyloss.mse_loss, x, x, size_average=False)
    with pytest.raises(TypeError, match="by keyword"):
        anyloss.mean_parts(anyloss.mse_loss, x, x, None, None, "mean")
    with pytest.raises(ValueError, match="not one of anyloss's losses"):
        anyloss.mean_parts(np.mean, x)


def test_mean_parts_take_a_name_or_a_class_name() -> None:
    x, t = np.array([0.5, 1.5, 3.0]), np.array([1.0, 1.0, 1.0])
    by_function = anyloss.mean_parts(anyloss.l1_loss, x, t)
    assert anyloss.mean_parts("l1_loss", x, t) == by_function
    assert anyloss.mean_parts("L1Loss", x, t) == by_function
    assert (
        inspect.signature(anyloss.mean_parts).parameters["reduction"].kind is inspect.Parameter.KEYWORD_ONLY
    )


# -- the documented gradient-accumulation examples (docs/examples/) ------------------------------


def _example(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batch(rng):
    x = rng.normal(size=(7, 5))
    t = np.array([0, 2, -100, 1, -100, -100, 3])  # uneven: 2, 0 and 2 non-ignored targets
    w = rng.normal(size=(5, 4))
    b = rng.normal(size=4)
    return x, t, w, b, [(0, 3), (3, 6), (6, 7)]


_OPTIONS = [{}, {"label_smoothing": 0.1}, {"weight": np.array([0.5, 2.0, 1.0, 3.0])}]


@pytest.mark.parametrize("options", _OPTIONS, ids=["plain", "label_smoothing", "weight"])
def test_gradient_accumulation_example_on_torch(options) -> None:
    import torch
    import torch.nn.functional as F

    x, t, w, b, ranges = _batch(np.random.default_rng(1))
    kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    model = torch.nn.Linear(5, 4).double()
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w.T))
        model.bias.copy_(torch.from_numpy(b))
    X, T = torch.from_numpy(x), torch.from_numpy(t)
    model.zero_grad()
    F.cross_entropy(model(X), T, **kwargs).backward()
    want = [p.grad.clone() for p in model.parameters()]
    _example("accumulate_torch").accumulate(model, [(X[i:j], T[i:j]) for i, j in ranges], **kwargs)
    for p, g in zip(model.parameters(), want, strict=True):
        torch.testing.assert_close(p.grad, g, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("options", _OPTIONS, ids=["plain", "label_smoothing", "weight"])
def test_gradient_accumulation_example_on_jax(options) -> None:
    import jax.numpy as jnp
    import torch
    import torch.nn.functional as F

    x, t, w, b, ranges = _batch(np.random.default_rng(2))
    W = torch.from_numpy(w).requires_grad_(True)
    B = torch.from_numpy(b).requires_grad_(True)
    kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    F.cross_entropy(torch.from_numpy(x) @ W + B, torch.from_numpy(t), **kwargs).backward()
    jax_options = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    params = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
    batches = [(jnp.asarray(x[i:j]), jnp.asarray(t[i:j])) for i, j in ranges]
    grads = _example("accumulate_jax").accumulate(params, batches, **jax_options)
    np.testing.assert_allclose(np.asarray(grads["w"]), W.grad.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(np.asarray(grads["b"]), B.grad.numpy(), rtol=1e-12, atol=1e-13)
