"""JAX: autodiff through ``jax.lax.stop_gradient``, compiled loops through ``lax.fori_loop``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import jax

from ._generic import Backend

T = TypeVar("T")


class JaxBackend(Backend):
    differentiable = True

    def quiet_floating_point(self) -> contextlib.nullcontext[None]:
        # This framework never warns about floating point; a NumPy errstate here would
        # only cost time (and break torch.compile's graph).
        return contextlib.nullcontext()

    def stop_gradient(self, x: Any) -> Any:
        return jax.lax.stop_gradient(x)

    def abs(self, x: Any) -> Any:
        # jax.grad of abs is 1 at 0; sign(x) has derivative 0, so x·sign(x) gives torch's 0.
        return x * jax.numpy.sign(x)

    def is_concrete(self, x: Any) -> bool:
        return not isinstance(x, jax.core.Tracer)

    def zero_with_gradient(
        self, x: Any, gradient: Callable[..., Any], aux: tuple[Any, ...], axes: tuple[int, ...]
    ) -> Any:
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)

        # A custom JVP: the forward pass is zeros; the gradient is computed only when
        # differentiating (and is dropped from forward-only jitted code).
        @jax.custom_jvp
        def zero(x: Any, *aux: Any) -> Any:
            return jax.numpy.zeros(shape, dtype=x.dtype)

        @zero.defjvp
        def zero_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
            x, *aux = primals
            g = jax.lax.stop_gradient(gradient(x, *aux))
            return zero(x, *aux), jax.numpy.sum(g * tangents[0], axis=axes)

        return zero(x, *aux)

    def fori_loop(self, lower: int, upper: int, body: Callable[[int, T], T], init: T) -> T:
        return jax.lax.fori_loop(lower, upper, body, init)
