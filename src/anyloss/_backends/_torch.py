"""torch: the reference itself.  torch tensors take ``torch.nn.functional``'s kernels."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from . import _switches
from ._generic import Backend


class TorchBackend(Backend):
    differentiable = True

    def quiet_floating_point(self) -> contextlib.nullcontext[None]:
        # This framework never warns about floating point; a NumPy errstate here would
        # only cost time (and break torch.compile's graph).
        return contextlib.nullcontext()

    def native(self, name: str) -> Callable[..., Any] | None:
        # torch.nn.functional's kernel itself, or an adapter that puts anyloss's wider
        # admission to it (integer targets of every width) or declines the call
        # (NotImplemented) where the kernel would not give torch's semantics.
        return _ADAPTERS.get(name) or getattr(F, name, None)

    def native_enabled(self) -> bool:
        # torch.compile cannot trace the context variable; it traces (and guards on) the
        # thread's copy of the setting instead.
        if _is_compiling():
            return _switches.per_thread.native
        return _switches.native.get()

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


# --- adapters: torch-only adjustments around torch.nn.functional's kernels -----------------

_HALF = (torch.float16, torch.bfloat16)


def _widen(target: Any) -> Any:
    """torch's kernels read class indices as int64; anyloss accepts every integer dtype."""
    dtype = target.dtype
    if dtype is torch.int64 or dtype.is_floating_point or dtype.is_complex or dtype is torch.bool:
        return target
    return target.long()


# The kernels bound once, and explicit parameters rather than *args: these run on every
# call of their loss on torch tensors.
_nll = F.nll_loss
_ce = F.cross_entropy
_cosine = F.cosine_embedding_loss
_INT64 = torch.int64


def _nll_loss(
    input: Any, target: Any, weight: Any, size_average: Any, ignore_index: Any, reduce: Any, reduction: Any
) -> Any:
    if target.dtype is not _INT64:
        target = _widen(target)
    return _nll(input, target, weight, size_average, ignore_index, reduce, reduction)


def _cross_entropy(
    input: Any,
    target: Any,
    weight: Any,
    size_average: Any,
    ignore_index: Any,
    reduce: Any,
    reduction: Any,
    label_smoothing: Any,
) -> Any:
    # Probability targets have the input's shape (both torch.Size, compared as tuples).
    if target.dtype is not _INT64 and target.shape != input.shape:
        target = _widen(target)
    return _ce(input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing)


def _cosine_embedding_loss(
    input1: Any, input2: Any, target: Any, margin: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    # torch's float16 kernel loses the 1e-12 (zero vectors give NaN); the generic body
    # computes half precision in float32 on every backend, torch included.
    if input1.dtype in _HALF or input2.dtype in _HALF:
        return NotImplemented
    return _cosine(input1, input2, target, margin, size_average, reduce, reduction)


_gaussian = F.gaussian_nll_loss
_Tensor = torch.Tensor


def _gaussian_nll_loss(input: Any, target: Any, var: Any, full: Any, eps: Any, reduction: Any) -> Any:
    # torch's own function reads var's values (its negative check), which torch.compile
    # and torch.func transforms cannot do: there the generic body runs instead.
    if type(var) is not float and (
        _is_compiling() or (type(var) is not _Tensor and _is_fake(var)) or _is_functorch_wrapped(var)
    ):
        return NotImplemented
    return _gaussian(input, target, var, full, eps, reduction)


def _margin(kernel: Callable[..., Any]) -> Callable[..., Any]:
    def adapter(input: Any, target: Any, *args: Any) -> Any:
        # torch's kernel leaves an empty batch's reduction uninitialised: not taken for one.
        if input.ndim == 2 and input.shape[0] == 0:
            return NotImplemented
        return kernel(input, target if target.dtype is _INT64 else _widen(target), *args)

    return adapter


_ADAPTERS: dict[str, Callable[..., Any]] = {
    "multi_margin_loss": _margin(F.multi_margin_loss),
    "multilabel_margin_loss": _margin(F.multilabel_margin_loss),
    "nll_loss": _nll_loss,
    "cross_entropy": _cross_entropy,
    "cosine_embedding_loss": _cosine_embedding_loss,
    "gaussian_nll_loss": _gaussian_nll_loss,
}
