"""torch: the reference itself.  torch tensors take ``torch.nn.functional``'s kernels."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ._generic import Backend


class TorchBackend(Backend):
    differentiable = True

    def quiet_floating_point(self) -> contextlib.nullcontext[None]:
        # This framework never warns about floating point; a NumPy errstate here would
        # only cost time (and break torch.compile's graph).
        return contextlib.nullcontext()

    def native(self, name: str) -> Callable[..., Any] | None:
        return getattr(F, name, None)

    def stop_gradient(self, x: Any) -> Any:
        return x.detach()

    def device(self, x: Any) -> Any:
        # The attribute itself: array-api-compat's lookup is lru_cache-wrapped, which
        # torch.compile warns about when it traces it.
        return x.device

    def zero_with_gradient(
        self, x: Any, gradient: Callable[..., Any], aux: tuple[Any, ...], axes: tuple[int, ...]
    ) -> Any:
        return _ZeroWithGradient.apply(x, gradient, axes, *aux)

    def is_concrete(self, x: Any) -> bool:
        # Under torch.compile, and for torch.func's wrapped tensors (vmap, grad), values
        # cannot be read without breaking the graph or the transform.
        if _is_compiling():
            return False
        # Fake tensors are a subclass: a plain Tensor is never one (and this check is cheap).
        if type(x) is not torch.Tensor and _is_fake(x):
            return False
        return not _is_functorch_wrapped(x)


# Bound once: the native path of gaussian_nll_loss asks is_concrete on every call.  The
# very function objects, which torch.compile still recognises (is_compiling is True there).
_is_compiling = torch.compiler.is_compiling
_is_functorch_wrapped = torch._C._functorch.is_functorch_wrapped_tensor


def _is_fake(x: Any) -> bool:
    from torch._subclasses.fake_tensor import is_fake

    return bool(is_fake(x))


class _ZeroWithGradient(torch.autograd.Function):
    """Zeros whose gradient is ``gradient(x, *aux)``, evaluated only by the backward pass."""

    @staticmethod
    def forward(ctx: Any, x: Any, gradient: Callable[..., Any], axes: tuple[int, ...], *aux: Any):  # type: ignore[override]
        ctx.save_for_backward(x, *aux)
        ctx.gradient, ctx.axes = gradient, axes
        shape = [s for i, s in enumerate(x.shape) if i not in axes]
        return x.new_zeros(shape)

    @staticmethod
    def backward(ctx: Any, grad_output: Any):  # type: ignore[override]
        x, *aux = ctx.saved_tensors
        for axis in sorted(ctx.axes):
            grad_output = grad_output.unsqueeze(axis)
        return (ctx.gradient(x, *aux) * grad_output, None, None, *([None] * len(aux)))
