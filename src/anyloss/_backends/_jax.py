"""JAX: autodiff through ``jax.lax.stop_gradient``, compiled loops through ``lax.fori_loop``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import jax

from ._generic import Backend

T = TypeVar("T")

_compiled: dict[tuple[Any, Callable[..., Any], tuple[Any, ...]], Callable[..., Any]] = {}


class JaxBackend(Backend):
    differentiable = True
    second_derivatives = True
    traced_loops = True
    # XLA:CPU hands a full sum to a fusion that cannot take a select: where + sum runs
    # about twice as long as the same terms written with minimum.
    branch_free_sums = True

    def quiet_floating_point(self) -> contextlib.nullcontext[None]:
        # JAX never warns about floating point; a NumPy errstate here would only cost time.
        return contextlib.nullcontext()

    def stop_gradient(self, x: Any) -> Any:
        return jax.lax.stop_gradient(x)

    def abs(self, x: Any) -> Any:
        """``jnp.abs`` with the derivative ``sign(x)``: 0 at 0, as torch's (jax.grad's is 1)."""
        return _abs(x)

    def is_concrete(self, x: Any) -> bool:
        return not isinstance(x, jax.core.Tracer)

    def with_gradient(self, value: Any, x: Any, grad: Any) -> Any:
        """A custom JVP ``grad · dx``: forward-only code computes ``value`` alone.

        ``grad`` is not a constant of the rule: its own derivatives (autodiff, or a rule
        attached by a further ``with_gradient``) are the second derivatives of ``value``.
        """
        # ``grad`` is dead code without differentiation; with it, a cotangent meets ±inf
        # and NaN in ``grad`` exactly as torch's backward multiplies them.
        return _with_gradient(value, x, grad)

    def clamp_min(self, z: Any, floor: float) -> Any:
        """``maximum(z, floor)`` with a custom JVP: torch's gradient, fused by XLA."""
        # ``maximum`` fuses into the surrounding XLA loop where the generic ``where`` form
        # does not (4× slower on a large BCE); the custom JVP restores torch's gradient:
        # all of it at exactly ``floor``, none below it or at NaN.
        return _clamp_min(z, floor)

    def zero_with_gradient(
        self, x: Any, gradient: Callable[..., Any], aux: tuple[Any, ...], axes: tuple[int, ...]
    ) -> Any:
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)

        # A custom JVP: the forward pass is zeros; the gradient is computed only when
        # differentiating (and is dropped from forward-only jitted code).  The gradient is
        # differentiated in turn: its derivative is the second derivative.
        @jax.custom_jvp
        def zero(x: Any, *aux: Any) -> Any:
            return jax.numpy.zeros(shape, dtype=x.dtype)

        @zero.defjvp
        def zero_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
            x, *aux = primals
            g = gradient(x, *aux)
            return zero(x, *aux), jax.numpy.sum(g * tangents[0], axis=axes)

        return zero(x, *aux)

    def compiled(self, fn: Callable[..., Any], *static: Any) -> Callable[..., Any]:
        # jax.jit keeps one trace per argument shapes and dtypes; the jitted function is
        # kept per (fn, static), so an eager call compiles only the first time it meets a
        # shape.  Under an enclosing jit or grad it is inlined as any jitted function.
        key = (self, fn, static)
        jitted = _compiled.get(key)
        if jitted is None:
            jitted = _compiled[key] = jax.jit(partial(fn, self, *static))
        return jitted

    def cond(self, pred: Any, if_true: Callable[..., T], if_false: Callable[..., T], *operands: Any) -> T:
        return jax.lax.cond(pred, if_true, if_false, *operands)

    def fori_loop(self, lower: int, upper: int, body: Callable[[int, T], T], init: T) -> T:
        return jax.lax.fori_loop(lower, upper, body, init)

    def straight_through(self, x: Any, replacement: Any) -> Any:
        """``replacement``'s value, ``x``'s tangent: a rule rather than the generic
        ``sg(replacement) + (x − sg(x))``, whose select for infinite ``x`` XLA's CPU
        backend does not fuse with a reduction that follows (gaussian_nll_loss at 10^7
        elements: 3× the time of the formula)."""
        return _straight_through(x, replacement)

    def linear_cross_entropy_rows(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """:meth:`Backend.linear_cross_entropy_rows` (same arguments), never holding the
        ``(N, C)`` logits: a ``custom_vjp`` over a ``lax.scan`` of row chunks."""
        from ._jax_lce import linear_cross_entropy_rows

        return linear_cross_entropy_rows(*args, **kwargs)


@jax.custom_jvp
def _with_gradient(value: Any, x: Any, grad: Any) -> Any:
    return value


@_with_gradient.defjvp
def _with_gradient_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    value, x, grad = primals
    d_value, d_x, _ = tangents
    # The primal output is the function again, not ``value``: an outer differentiation of
    # this rule then meets the rule once more (a second derivative through ``grad``).
    return _with_gradient(value, x, grad), d_value + grad * d_x


@jax.custom_jvp
def _straight_through(x: Any, replacement: Any) -> Any:
    return replacement


@_straight_through.defjvp
def _straight_through_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    x, replacement = primals
    # The primal output is the rule again, so that an outer derivative meets it once more.
    return _straight_through(x, replacement), tangents[0]


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _clamp_min(z: Any, floor: float) -> Any:
    return jax.numpy.maximum(z, jax.numpy.asarray(floor, dtype=z.dtype))  # NaN stays NaN


@_clamp_min.defjvp
def _clamp_min_jvp(floor: float, primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (z,), (dz,) = primals, tangents
    # The value as a select, not a maximum: XLA's CPU backend then fuses the value, its
    # reduction and the tangent's select (a training step of margin_ranking_loss at 10^7
    # elements: 1.7× faster).  The same value (NaN stays NaN), and an outer derivative of it
    # differs from this rule only at NaN, where everything downstream is NaN.
    return jax.numpy.where(z < floor, floor, z), jax.numpy.where(z >= floor, dz, 0.0)


@jax.custom_jvp
def _abs(x: Any) -> Any:
    return jax.numpy.abs(x)


@_abs.defjvp
def _abs_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    (x,), (dx,) = primals, tangents
    return _abs(x), jax.numpy.sign(x) * dx
