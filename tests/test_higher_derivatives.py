"""JAX transformations of every loss against torch.func and torch's double backward.

For every case of the tables with gradients (float32 and float64), on JAX:

* the Hessian-vector product of ``sum(loss · cotangent)``, forward over reverse
  (``jax.jvp`` of ``jax.grad``, what ``jax.hessian`` and ``jacfwd`` compute) and reverse
  over reverse, equals torch's double backward (``create_graph=True``);
* the forward-mode derivative (``jax.jvp``) equals ``torch.func.jvp``;
* ``jax.vmap`` over a batch of two calls equals torch's value for each.

Where torch has no second derivative (the margin kernels' and CTC's backward are not
differentiable in torch) anyloss's second derivative is the derivative of its own first
derivative, checked here against central differences of ``jax.grad``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import anyloss
from cases import cases_with_gradients
from support.oracle import (
    Case,
    assert_close,
    cotangent,
    tensor_to_numpy,
    tolerance,
    torch_call,
    torch_outcome,
)


def _selection(per_loss: int = 3) -> list[Case]:
    """Up to ``per_loss`` float64 cases of each loss (float32 ones where it has too few):
    each case costs several compilations, and the tables repeat shapes across dtypes."""
    chosen: dict[str, list[Case]] = {}
    for dtype in ("float64", "float32"):
        for case in cases_with_gradients():
            picked = chosen.setdefault(case.fn, [])
            if set(case.float_dtypes()) == {dtype} and len(picked) < per_loss:
                picked.append(case)
    return [case for picked in chosen.values() for case in picked]


CASES = _selection()

# How torch says it has no derivative of a backward (or no forward mode for it).
_TORCH_CANNOT = ("not implemented", "not been implemented", "not differentiable")

# A second derivative is a further quotient of rounded terms: a few more units in the last
# place than a value (torch's formulas and the autodiff of anyloss's agree to rounding).
SECOND_ORDER_SLACK = 8.0


def _direction(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A fixed direction with mixed signs and sizes, so no entry of the Hessian hides."""
    n = int(np.prod(shape)) if shape else 1
    values = np.cos(np.arange(n) * 1.7 + seed) * np.linspace(0.5, 1.5, n)
    return values.reshape(shape)


def _leaves(case: Case) -> list[np.ndarray]:
    return [case.args[k] if isinstance(k, int) else case.kwargs[k] for k in case.grad]


def _read(h: Any) -> np.ndarray:
    """A derivative as NumPy: torch answers an identically zero one with a ZeroTensor, which
    cannot be read; added to real zeros it becomes an ordinary tensor."""
    return tensor_to_numpy(torch.zeros(h.shape, dtype=h.dtype) + h)


def _torch_second(case: Case, shape: tuple[int, ...], directions: list[np.ndarray]) -> dict[str, Any]:
    """torch's gradient, its two Hessian-vector products and its JVP (None where torch cannot).

    A hand-written double backward need not be symmetric (binary_cross_entropy's mixed
    derivatives differ at 0 and 1), so reverse over reverse (``Σ_j ∂g_j/∂x · v_j``) and
    forward over reverse (``Σ_j ∂g/∂x_j · v_j``) are compared separately.
    """
    fn, args, kwargs = torch_call(case)
    args, kwargs = list(args), dict(kwargs)
    primals = [args[k] if isinstance(k, int) else kwargs[k] for k in case.grad]
    ct = torch.from_numpy(cotangent(shape))
    vs = [torch.from_numpy(v).to(p.dtype) for v, p in zip(directions, primals, strict=True)]

    def objective(*values: Any) -> Any:
        a, kw = list(args), dict(kwargs)
        for key, value in zip(case.grad, values, strict=True):
            (a if isinstance(key, int) else kw)[key] = value
        out = fn(*a, **kw)
        return (out * ct.to(out.dtype)).sum()

    def attempt(compute: Callable[[], Any]) -> Any:
        try:
            return compute()
        except (RuntimeError, NotImplementedError) as exc:
            assert any(words in str(exc) for words in _TORCH_CANNOT), exc
            return None

    def reverse_over_reverse() -> list[np.ndarray]:
        leaves = [p.detach().clone().requires_grad_(True) for p in primals]
        grads = torch.autograd.grad(objective(*leaves), leaves, create_graph=True, allow_unused=True)
        inner = [(g * v).sum() for g, v in zip(grads, vs, strict=True) if g is not None and g.requires_grad]
        # torch's gradient constant in every argument: its derivative is 0.
        hvp = torch.autograd.grad(sum(inner), leaves, allow_unused=True) if inner else (None,) * len(leaves)
        return [
            np.zeros(tuple(p.shape)) if h is None else _read(h) for h, p in zip(hvp, primals, strict=True)
        ]

    def gradient(*values: Any) -> Any:
        return torch.func.grad(objective, argnums=tuple(range(len(values))))(*values)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "reverse_over_reverse": attempt(reverse_over_reverse),
            "forward_over_reverse": attempt(
                lambda: [_read(h) for h in torch.func.jvp(gradient, tuple(primals), tuple(vs))[1]]
            ),
            "jvp": attempt(lambda: tensor_to_numpy(torch.func.jvp(objective, tuple(primals), tuple(vs))[1])),
        }


def _jax_objective(case: Case, shape: tuple[int, ...]):
    fn = getattr(anyloss, case.fn)
    args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in case.args]
    kwargs = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}

    def objective(leaves):
        a, kw = list(args), dict(kwargs)
        for key, leaf in zip(case.grad, leaves, strict=True):
            (a if isinstance(key, int) else kw)[key] = leaf
        out = fn(*a, **kw)
        return jnp.sum(out * jnp.asarray(cotangent(shape), dtype=out.dtype))

    return objective


# Losses whose JAX kernel is a custom_vjp (the chunked linear_cross_entropy, which never holds
# the logits): JAX has no forward mode for the loss itself (jax.jvp and jacfwd raise JAX's
# TypeError); its gradient is ordinary JAX, so second derivatives, forward-over-reverse
# included, are checked against torch.
NO_FORWARD_MODE = {"linear_cross_entropy"}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_second_derivatives_and_jvp_match_torch(case: Case) -> None:
    expected = torch_outcome(case)
    shape = expected.shape
    leaves = [jnp.asarray(v) for v in _leaves(case)]
    directions = [_direction(tuple(v.shape), i) for i, v in enumerate(leaves)]
    want = _torch_second(case, shape, directions)
    objective = _jax_objective(case, shape)
    tangents = [jnp.asarray(d, dtype=v.dtype) for d, v in zip(directions, leaves, strict=True)]
    rtol, atol = tolerance(case, expected.dtype)
    rtol, atol = rtol * SECOND_ORDER_SLACK, atol * SECOND_ORDER_SLACK
    modes = ("forward_over_reverse", "reverse_over_reverse")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grad = jax.grad(objective)
        got = {
            "forward_over_reverse": jax.jvp(grad, (leaves,), (tangents,))[1],
            "reverse_over_reverse": jax.grad(
                lambda ls: sum(jnp.sum(g * v) for g, v in zip(grad(ls), tangents, strict=True))
            )(leaves),
        }
        if case.fn in NO_FORWARD_MODE:
            with pytest.raises(TypeError, match="forward-mode"):
                jax.jvp(objective, (leaves,), (tangents,))
        else:
            got["jvp"] = jax.jvp(objective, (leaves,), (tangents,))[1]
            if want["jvp"] is None:  # torch has no forward mode here: the gradient along the direction
                want["jvp"] = sum(
                    np.sum(np.asarray(g, dtype=np.float64) * d)
                    for g, d in zip(grad(leaves), directions, strict=True)
                )
        differences = None
        for key in modes:
            if want[key] is None:  # torch cannot: the derivative of anyloss's own gradient
                differences = differences or _central_differences(grad, leaves, tangents)
                want[key] = differences
    if "jvp" in got:
        assert_close(np.asarray(got["jvp"]), np.asarray(want["jvp"]), rtol, atol, "jvp")
    for key in modes:
        # A difference quotient is good to about h² (and a float32 Hessian to its rounding).
        tol = (max(rtol, 1e-5), max(atol, 1e-5)) if want[key] is differences else (rtol, atol)
        for g, w in zip(got[key], want[key], strict=True):
            assert_close(np.asarray(g), w, *tol, key)


def _central_differences(grad, leaves, tangents) -> list[np.ndarray]:
    """(∇f(x + h·v) − ∇f(x − h·v)) / 2h in float64: the derivative of anyloss's own gradient."""
    h = 1e-5
    wide = [jnp.asarray(leaf, dtype=jnp.float64) for leaf in leaves]
    up = grad([leaf + h * v for leaf, v in zip(wide, tangents, strict=True)])
    down = grad([leaf - h * v for leaf, v in zip(wide, tangents, strict=True)])
    return [
        (np.asarray(u, dtype=np.float64) - np.asarray(d, dtype=np.float64)) / (2 * h)
        for u, d in zip(up, down, strict=True)
    ]


def _t(values: list[float]) -> Any:
    return torch.tensor(values, dtype=torch.float64)


CLOSED_OVER = {
    # The checked arrays (probabilities and targets, variances) are constants of the traced function.
    "binary_cross_entropy": lambda x: anyloss.binary_cross_entropy(x, jnp.asarray([0.0, 1.0, 0.5])),
    "gaussian_nll_loss": lambda x: anyloss.gaussian_nll_loss(
        x, jnp.asarray([0.0, 1.0, 0.5]), jnp.asarray([1.0, 2.0, 0.5])
    ),
    "gaussian_nll_loss-traced-var": lambda v: anyloss.gaussian_nll_loss(
        jnp.asarray([0.2, 0.7, 0.4]), jnp.asarray([0.0, 1.0, 0.5]), v
    ),
}


@pytest.mark.parametrize("transform", [jax.jit, jax.checkpoint], ids=["jit", "checkpoint"])
@pytest.mark.parametrize("name", sorted(CLOSED_OVER))
def test_value_checks_survive_closed_over_constants(name: str, transform: Callable[..., Any]) -> None:
    fn = CLOSED_OVER[name]
    x = jnp.asarray([0.2, 0.7, 0.4])
    torch_fn = getattr(torch.nn.functional, name.split("-")[0])
    if name == "binary_cross_entropy":
        want = torch_fn(_t([0.2, 0.7, 0.4]), _t([0.0, 1.0, 0.5]))
    elif name == "gaussian_nll_loss":
        want = torch_fn(_t([0.2, 0.7, 0.4]), _t([0.0, 1.0, 0.5]), _t([1.0, 2.0, 0.5]))
    else:
        x = jnp.asarray([1.0, 2.0, 0.5])
        want = torch_fn(_t([0.2, 0.7, 0.4]), _t([0.0, 1.0, 0.5]), _t([1.0, 2.0, 0.5]))
    assert_close(np.asarray(transform(fn)(x)), want.numpy(), 1e-12, 1e-13, name)
    assert_close(
        np.asarray(jax.grad(transform(fn))(x)), np.asarray(jax.grad(fn)(x)), 1e-12, 1e-13, "gradient"
    )
