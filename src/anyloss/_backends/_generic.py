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

    def softplus(self, x: Any) -> Any:
        """log(1 + exp(x)) without overflow, with derivative sigmoid(x) everywhere (½ at 0)."""
        xp = self.xp
        positive = x > 0
        # exp of -|x| written without abs: both branches stay finite, so do their gradients.
        e = xp.exp(xp.where(positive, -x, x))
        return xp.where(positive, x + xp.log1p(e), xp.log1p(e))

    def softplus_pair(self, x: Any) -> tuple[Any, Any]:
        """``(softplus(x), softplus(−x))``."""
        return self.softplus(x), self.softplus(-x)

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


class NumPyBackend(Backend):
    """NumPy: the generic capabilities, with ufuncs writing into the temporaries anyloss owns.

    On large arrays a fresh temporary costs more than the arithmetic (each one is paged in
    anew), so these keep to the fewest allocations.  Values are bit for bit the generic
    forms': max(x, 0) + log1p(exp(−|x|)) is ``x + log1p(exp(−x))`` for x > 0 and
    ``log1p(exp(x))`` otherwise.
    """

    def _log1p_exp_neg_abs(self, x: Any) -> Any:
        out = np.abs(x, out=np.empty_like(x))
        np.negative(out, out=out)
        np.exp(out, out=out)
        return np.log1p(out, out=out)

    def softplus(self, x: Any) -> Any:
        out = self._log1p_exp_neg_abs(x)
        out += np.maximum(x, 0)
        return out

    def softplus_pair(self, x: Any) -> tuple[Any, Any]:
        shared = self._log1p_exp_neg_abs(x)
        positive = np.maximum(x, 0)
        positive += shared
        negative = np.minimum(x, 0)
        np.subtract(shared, negative, out=negative)
        return positive, negative
