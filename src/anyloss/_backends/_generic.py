"""The default backend: pure array-API, no autodiff, eager Python loops."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import array_api_compat as aac
import numpy as np

T = TypeVar("T")


class Backend:
    """Capabilities a loss body may ask for.  Subclasses override what their framework does differently."""

    #: True when the framework tracks gradients through array operations.
    differentiable = False

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def native(self, name: str) -> Callable[..., Any] | None:
        """A native kernel with the reference semantics, or None."""
        return None

    def stop_gradient(self, x: Any) -> Any:
        return x

    def is_concrete(self, x: Any) -> bool:
        """True when the values of ``x`` can be read now (not traced, not a lazy graph)."""
        return not aac.is_lazy_array(x)

    def device(self, x: Any) -> Any:
        """The device of ``x``, for creating arrays next to it."""
        return aac.device(x)

    def zero_with_gradient(
        self, x: Any, gradient: Callable[..., Any], aux: tuple[Any, ...], axes: tuple[int, ...]
    ) -> Any:
        """Zeros of ``x``'s shape without ``axes``, whose derivative with respect to ``x`` is
        ``gradient(x, *aux)`` (elementwise, summed over ``axes``; first order only).

        Frameworks override this so that ``gradient`` is evaluated only by the backward pass.
        """
        xp = self.xp
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
        zeros = xp.zeros(shape, dtype=x.dtype, device=aac.device(x))
        if not self.differentiable:
            return zeros
        g = self.stop_gradient(gradient(x, *aux))
        return zeros + xp.sum(x * g - self.stop_gradient(x * g), axis=axes)

    def abs(self, x: Any) -> Any:
        """|x| with derivative 0 at 0 (torch's convention); no autodiff here, so plain abs."""
        return self.xp.abs(x)

    def fori_loop(self, lower: int, upper: int, body: Callable[[int, T], T], init: T) -> T:
        value = init
        for i in range(lower, upper):
            value = body(i, value)
        return value

    def quiet_floating_point(self) -> AbstractContextManager[Any]:
        """Silence floating-point warnings (overflow to inf, log of 0) the way torch is silent.

        Array libraries built on NumPy (array-api-strict, Dask's chunks) warn through NumPy.
        """
        return np.errstate(all="ignore")
