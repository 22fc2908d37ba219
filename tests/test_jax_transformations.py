"""JAX's transformations of every loss: options traced by ``jax.jit``, and ``jax.vmap``.

Options choose the computation, so they are static: one traced by ``jax.jit`` raises
anyloss's ``TypeError`` naming the option and the two ways to keep it static, for every
float, int and bool option of every loss (string options cannot be traced: ``jax.jit``
refuses them itself).  ``jax.vmap`` over a batch of per-example calls equals torch's
``torch.func.vmap`` of its function (a loop of torch calls where ``torch.func`` refuses
the function), with the 'none' and 'mean' reductions.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import anyloss
from anyloss._registry import RECORDS
from cases import CASES
from support.backends import is_array
from support.oracle import Case, assert_close, tensor_to_numpy, tolerance, torch_call

_PLAIN = ("float32", "float64", "int64", "int32", "bool")
_LEGACY = ("size_average", "reduce")
#: A value for the options whose default is None.
_FOR_NONE = {"ignore_index": -100, "softcap": 30.0, "chunk_size": 2}


def _computes(case: Case) -> bool:
    return (
        not case.raises
        and not case.value_error
        and all(is_array(a) for a in case.args)
        and all(a.dtype.name in _PLAIN for a in case.values() if is_array(a))
        and not any(k in case.kwargs for k in _LEGACY)
    )


FIRST = {}
for _case in CASES:
    if _computes(_case):
        FIRST.setdefault(_case.fn, _case)


def _traceable_options() -> list[tuple[str, str, object]]:
    found = []
    for name, record in RECORDS.items():
        parameters = {p.name for p in record.parameters}
        options = {**record.options, **{k: True for k in _LEGACY if k in parameters}}
        for option, default in options.items():
            if isinstance(default, str):
                continue
            found.append((name, option, _FOR_NONE[option] if default is None else default))
    return found


OPTIONS = _traceable_options()


def _jax_call(case: Case) -> tuple[list, callable]:
    """The case's arrays as JAX arrays, and a function of them calling the loss."""
    keys = [i for i, a in enumerate(case.args) if is_array(a)]
    keys += [k for k, v in case.kwargs.items() if is_array(v)]
    values = [jnp.asarray(case.args[k] if isinstance(k, int) else case.kwargs[k]) for k in keys]
    fn = getattr(anyloss, case.fn)

    def call(arrays: list, **options):
        args, kwargs = list(case.args), {**case.kwargs, **options}
        for key, value in zip(keys, arrays, strict=True):
            (args if isinstance(key, int) else kwargs)[key] = value
        return fn(*args, **kwargs)

    return values, call


def test_every_loss_has_a_case_and_options() -> None:
    assert set(FIRST) == set(RECORDS)
    assert {name for name, _, _ in OPTIONS} == set(RECORDS)


@pytest.mark.parametrize(("loss", "option", "value"), OPTIONS, ids=[f"{n}-{o}" for n, o, _ in OPTIONS])
def test_traced_option_raises_options_are_static(loss: str, option: str, value: object) -> None:
    arrays, call = _jax_call(FIRST[loss])
    traced = jax.jit(lambda arrays, value: call(arrays, **{option: value}))
    message = f"anyloss.{loss}: the option '{option}' is a traced value .* options are static"
    with pytest.raises(TypeError, match=message) as caught:
        traced(arrays, jnp.asarray(value))
    assert "functools.partial" in str(caught.value) and "static_argnames" in str(caught.value)


def test_class_with_a_traced_option_raises() -> None:
    case = FIRST["cross_entropy"]
    x, target = jnp.asarray(case.args[0]), jnp.asarray(case.args[1])
    traced = jax.jit(lambda s: anyloss.CrossEntropyLoss(label_smoothing=s)(x, target))
    with pytest.raises(TypeError, match="'label_smoothing' is a traced value"):
        traced(0.1)


def test_option_traced_by_grad_or_vmap_raises() -> None:
    arrays, call = _jax_call(FIRST["margin_ranking_loss"])
    with pytest.raises(TypeError, match="'margin' is a traced value"):
        jax.grad(lambda margin: call(arrays, margin=margin))(0.5)
    with pytest.raises(TypeError, match="'margin' is a traced value"):
        jax.vmap(lambda margin: call(arrays, margin=margin))(jnp.asarray([0.0, 0.5]))


def test_static_options_under_jit_equal_the_eager_call() -> None:
    case = FIRST["cross_entropy"]
    x, target = jnp.asarray(case.args[0]), jnp.asarray(case.args[1])
    eager = anyloss.cross_entropy(x, target, label_smoothing=0.1)
    bound = jax.jit(functools.partial(anyloss.cross_entropy, label_smoothing=0.1))(x, target)
    named = jax.jit(anyloss.cross_entropy, static_argnames=("label_smoothing",))(
        x, target, label_smoothing=0.1
    )
    np.testing.assert_allclose(np.asarray(bound), np.asarray(eager), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(named), np.asarray(eager), rtol=1e-6)


# --- vmap ---------------------------------------------------------------------------

BATCH = 3


def _batched(case: Case, reduction: str) -> Case:
    """``BATCH`` examples of the case stacked on a new axis 0: the first array scaled by
    1, 0.9, 0.8 (so the examples differ), every other array repeated."""

    def stack(a, scaled: bool):
        if not is_array(a):
            return a
        copies = [a * a.dtype.type(1 - 0.1 * k) if scaled else a for k in range(BATCH)]
        return np.stack(copies)

    return dataclasses.replace(
        case,
        args=tuple(stack(a, i == 0) for i, a in enumerate(case.args)),
        kwargs={**{k: stack(v, False) for k, v in case.kwargs.items()}, "reduction": reduction},
    )


def _torch_vmap(batched: Case) -> np.ndarray:
    fn, args, kwargs = torch_call(batched)
    keys = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    keys += [k for k, v in kwargs.items() if isinstance(v, torch.Tensor)]

    def one(*arrays):
        a, kw = list(args), dict(kwargs)
        for key, value in zip(keys, arrays, strict=True):
            (a if isinstance(key, int) else kw)[key] = value
        return fn(*a, **kw)

    tensors = [args[k] if isinstance(k, int) else kwargs[k] for k in keys]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = torch.func.vmap(one)(*tensors)
        except (RuntimeError, NotImplementedError, ValueError):
            # torch.func refuses a data-dependent check (gaussian_nll_loss's of the
            # variance): the loop that vmap stands for.
            out = torch.stack([one(*(t[i] for t in tensors)) for i in range(BATCH)])
    return tensor_to_numpy(out)


VMAP_CASES = list(FIRST.values())


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("case", VMAP_CASES, ids=[c.fn for c in VMAP_CASES])
def test_vmap_equals_torch_func_vmap(case: Case, reduction: str) -> None:
    batched = _batched(case, reduction)
    want = _torch_vmap(batched)
    arrays, call = _jax_call(batched)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = jax.vmap(lambda *arrays: call(list(arrays)))(*arrays)
    assert got.shape == want.shape
    rtol, atol = tolerance(case, str(want.dtype))
    assert_close(np.asarray(got), want, rtol, atol, f"vmap, reduction={reduction!r}")
