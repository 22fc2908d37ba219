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

    def is_concrete(self, x: Any) -> bool:
        return not isinstance(x, jax.core.Tracer)

    def fori_loop(self, lower: int, upper: int, body: Callable[[int, T], T], init: T) -> T:
        return jax.lax.fori_loop(lower, upper, body, init)
