"""torch: the reference itself.  torch tensors take ``torch.nn.functional``'s kernels."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from . import _switches
from ._chunks import default_chunk_size
from ._generic import Backend, logit_blocks


class TorchBackend(Backend):
    differentiable = True
    options_may_be_traced = False

    def quiet_floating_point(self) -> contextlib.nullcontext[None]:
        # This framework never warns about floating point; a NumPy errstate here would
        # only cost time (and break torch.compile's graph).
        return contextlib.nullcontext()

    def native(self, name: str) -> Callable[..., Any] | None:
        # torch.nn.functional's kernel itself, or an adapter that puts anyloss's wider
        # admission to it (integer targets of every width) or declines the call
        # (NotImplemented) where the kernel would not give torch's semantics.
        adapter = _ADAPTERS.get(name)
        if adapter is not None or name in _OWN_KERNELS:
            return adapter
        return getattr(F, name, None)

    def checks_option_types(self) -> bool:
        # torch.compile cannot trace sys._getframe; the options it traces are the constants
        # of a call that ran eagerly first.
        return not _is_compiling()

    def native_enabled(self) -> bool:
        # torch.compile cannot trace the context variable; it traces (and guards on) the
        # thread's copy of the setting instead.
        if _is_compiling():
            return _switches.per_thread.native
        return _switches.native.get()

    def linear_cross_entropy_rows(
        self,
        input: Any,
        linear_weight: Any,
        target: Any,
        linear_bias: Any,
        class_weight: Any,
        *,
        ignore_index: int,
        label_smoothing: float,
        probabilities: bool,
        summed: bool,
        chunk_size: int,
        softcap: float | None = None,
        z_loss: float = 0.0,
        need_lse: bool = True,
    ) -> tuple[Any, Any]:
        """The rows' losses, by the first of these that applies:

        - logits that fit in one chunk, without the extensions: torch's cross_entropy of
          them (:func:`_cross_entropy_of_logits`), which torch differentiates;
        - target probabilities, or the class weights that weigh them, that need a gradient
          (the kernel computes none for them), and under torch.compile logits in one chunk
          with the extensions: the generic chunked body, which autograd differentiates (it
          keeps each chunk's logits for the backward pass) and the compiler fuses;
        - anyloss's chunked kernel: the autograd function :class:`_LinearCrossEntropy`, or
          under torch.compile the same passes as one custom operator.
        """
        if _needs_grad(class_weight) and not probabilities:
            # torch's reference path (nll_loss) refuses it
            raise RuntimeError(
                "The function 'nll_loss_forward' is not differentiable with respect to argument"
                " 'weight'. This input cannot have requires_grad True."
            )
        rows, classes = logit_blocks(input.shape[0], linear_weight.shape[0], chunk_size)
        one_block = rows >= input.shape[0] and classes == linear_weight.shape[0]
        extended = softcap is not None or z_loss != 0.0
        if one_block and not extended:
            return _cross_entropy_of_logits(
                input,
                linear_weight,
                target if probabilities else _widen(target),
                linear_bias,
                class_weight,
                ignore_index=ignore_index,
                label_smoothing=label_smoothing,
                reduction="sum" if summed else "none",
                need_lse=need_lse,
            )
        if (probabilities and (_needs_grad(class_weight) or _needs_grad(target))) or (
            # the custom operator runs eagerly; one chunk is better fused
            one_block and _is_compiling()
        ):
            return super().linear_cross_entropy_rows(
                input,
                linear_weight,
                target,
                linear_bias,
                class_weight,
                ignore_index=ignore_index,
                label_smoothing=label_smoothing,
                probabilities=probabilities,
                summed=summed,
                chunk_size=chunk_size,
                softcap=softcap,
                z_loss=z_loss,
            )
        settings = _LinearSettings(
            ignore_index,
            label_smoothing if label_smoothing > 0.0 else 0.0,
            probabilities,
            summed,
            max(1, int(chunk_size)),
            softcap,
            float(z_loss),
            # Not read under torch.compile (a thread-local; the operator never scales in place).
            _is_compiling() or _retain_graph.allowed,
        )
        if _is_compiling():
            return _compiled_linear_cross_entropy(
                input, linear_weight, linear_bias, target, class_weight, settings
            )
        return _LinearCrossEntropy.apply(input, linear_weight, linear_bias, target, class_weight, settings)  # type: ignore[no-any-return]

    def vector_norm(self, x: Any, p: float) -> Any:
        # torch's norm sums float32 squares in another order than torch.sum; for long
        # distances that is a unit in the last place, magnified in d⁺ − d⁻.
        return torch.linalg.vector_norm(x, ord=float(p), dim=-1)  # torch reads p as a double

    def stop_gradient(self, x: Any) -> Any:
        return x.detach()

    def retaining_gradients(self) -> contextlib.AbstractContextManager[None]:
        return _retaining()

    def device(self, x: Any) -> Any:
        # The attribute itself: array-api-compat's lookup is lru_cache-wrapped, which
        # torch.compile warns about when it traces it.
        return x.device

    def adopt(self, x: Any, like: Any) -> Any:
        x = np.asarray(x)
        # torch.as_tensor shares the NumPy array's memory when it can: a writable array of
        # native byte order with non-negative strides; otherwise it is copied into one.
        if not (x.flags.writeable and x.dtype.isnative and all(s >= 0 for s in x.strides)):
            x = np.array(x, dtype=x.dtype.newbyteorder("="), order="C")
        return torch.as_tensor(x, device=like.device)

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


def _linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any,
    weight: Any,
    reduction: Any,
    ignore_index: Any,
    label_smoothing: Any,
    options: Any,
    z_loss: Any,
    softcap: Any,
    return_lse: Any,
    chunk_size: Any,
) -> Any:
    """The usual call whose logits fit in one default chunk: ``(N, H)`` float features, a
    layer ``(C, H)`` (and bias ``(C,)``) and class weights ``(C,)`` of their dtype and
    device, int64 class indices ``(N,)``, none of the options beyond torch's: torch's
    cross_entropy of the logits, as the rows' kernel computes them (without the body's
    checks: torch's own functions raise torch's errors)."""
    if (
        options is not None
        or softcap is not None
        or chunk_size is not None
        or return_lse is not False
        or type(z_loss) not in (float, int)
        or z_loss != 0
        or type(label_smoothing) not in (float, int)
        or not 0.0 <= label_smoothing <= 1.0
        or not (ignore_index is None or (type(ignore_index) is int and -(2**63) <= ignore_index < 2**63))
        or type(reduction) is not str
        or reduction not in ("mean", "sum", "none")
        or type(input) is not _Tensor
        or type(linear_weight) is not _Tensor
        or type(target) is not _Tensor
        or target.dtype is not _INT64
    ):
        return NotImplemented
    dtype, device, shape, layer = input.dtype, input.device, input.shape, linear_weight.shape
    if (
        len(shape) != 2
        or not dtype.is_floating_point
        or len(layer) != 2
        or layer[0] == 0
        or layer[1] != shape[1]
        or linear_weight.dtype != dtype
        or linear_weight.device != device
        or target.shape != shape[:1]
        or target.device != device
    ):
        return NotImplemented
    for b in (linear_bias, weight):  # a loop, not all() of a generator: this runs per call
        if b is not None and (
            type(b) is not _Tensor or b.shape != layer[:1] or b.dtype != dtype or b.device != device
        ):
            return NotImplemented
    n, features = shape
    if default_chunk_size(n, features, layer[0]) < n:
        return NotImplemented  # more than one chunk: the kernel
    loss, _ = _cross_entropy_of_logits(
        input,
        linear_weight,
        target,
        linear_bias,
        weight if weight is None or input.dtype not in _HALF else weight.float(),
        ignore_index=-100 if ignore_index is None else ignore_index,
        label_smoothing=float(label_smoothing),
        reduction=reduction,
        need_lse=False,
    )
    return loss if loss.dtype == input.dtype else loss.to(input.dtype)


#: Losses whose kernel on torch tensors is anyloss's own (a backend capability), not the
#: torch.nn.functional function of that name.
_OWN_KERNELS = frozenset({"linear_cross_entropy"})

_ADAPTERS: dict[str, Callable[..., Any]] = {
    "multi_margin_loss": _margin(F.multi_margin_loss),
    "multilabel_margin_loss": _margin(F.multilabel_margin_loss),
    "nll_loss": _nll_loss,
    "cross_entropy": _cross_entropy,
    "cosine_embedding_loss": _cosine_embedding_loss,
    "gaussian_nll_loss": _gaussian_nll_loss,
    "linear_cross_entropy": _linear_cross_entropy,
}


# --- linear_cross_entropy: anyloss's chunked kernel ---------------------------------------


def _needs_grad(x: Any) -> bool:
    return x is not None and bool(x.requires_grad) and torch.is_grad_enabled()


class _RetainGraph(threading.local):
    """Whether the gradients precomputed by the summed kernel must survive a backward pass
    (torch's ``LinearCrossEntropyOptions.allow_retain_graph``), set by the caller around
    the call; per thread, so that concurrent calls do not see each other's setting."""

    allowed = False


_retain_graph = _RetainGraph()


@contextlib.contextmanager
def _retaining() -> Any:
    previous, _retain_graph.allowed = _retain_graph.allowed, True
    try:
        yield
    finally:
        _retain_graph.allowed = previous


class _LinearSettings(NamedTuple):
    ignore_index: int
    label_smoothing: float
    probabilities: bool
    summed: bool
    chunk_size: int
    softcap: float | None
    z_loss: float
    retain_graph: bool


def _compute_dtype(dtype: Any) -> Any:
    """float32 for float16 and bfloat16 (torch's opmath), the dtype itself otherwise."""
    return torch.float32 if dtype in _HALF else dtype


def _cross_entropy_of_logits(
    input: Any,
    weight: Any,
    target: Any,
    bias: Any,
    class_weight: Any,
    *,
    ignore_index: int,
    label_smoothing: float,
    reduction: str,
    need_lse: bool,
) -> tuple[Any, Any]:
    """torch's cross_entropy of logits that fit in one chunk (computed as the kernel's
    chunks are: half-precision logits taken to float32), differentiated by torch:
    ``(loss, lse)`` in the compute dtype, as the kernel gives them."""
    z = _chunk_logits(input, weight, bias, _compute_dtype(input.dtype))
    loss = _ce(z, target, class_weight, None, ignore_index, None, reduction, label_smoothing)
    if not need_lse:
        return loss, None
    # The kernel's log-normaliser is what log_softmax subtracts: NaN where it is infinite.
    lse = torch.logsumexp(z.detach(), 1)
    return loss, lse.masked_fill_(lse.isinf(), float("nan"))


def _chunk_logits(x: Any, weight: Any, bias: Any, work: Any) -> Any:
    """One chunk's logits, in the input's dtype as torch's linear computes them, then in
    the compute dtype."""
    # torch's linear itself: torch.matmul of a transposed view takes milliseconds at small
    # shapes in torch 2.13 on CPU
    z = torch.nn.functional.linear(x, weight, bias)
    return z if z.dtype == work else z.to(work)


def _chunk_logits_gradient(
    z: Any, lse: Any, target: Any, class_weight: Any, s: _LinearSettings, overwrite: bool = False
) -> Any:
    """d(Σ rows' losses)/d(logits) of one chunk (before soft-capping: ``z`` are the raw logits
    in the compute dtype): ``(Σ_c r_c + 2·z_loss·lse)·softmax − r`` where ``r`` is each
    class's share of the target (``w_t·(1 − ε)`` at the target plus ``w_c·ε/C``, or
    ``w_c·q̃_c``), zero on ignored rows.  With ``overwrite`` (and no soft-cap) it is
    computed in ``z``'s memory."""
    capped = z if s.softcap is None else s.softcap * torch.tanh(z / s.softcap)
    n_classes = z.shape[1]
    eps = s.label_smoothing
    if overwrite and s.softcap is None:
        grad = z.sub_(lse.unsqueeze(1)).exp_()
    else:
        grad = torch.exp(capped - lse.unsqueeze(1))
    if s.probabilities:
        share = _share(target, class_weight, slice(None), eps, n_classes)
        grad.mul_(_probability_scale(share.sum(1), lse, s).unsqueeze(1)).sub_(share)
    else:
        rows = _rows_of(target, class_weight, n_classes, s, z.dtype)
        grad.mul_(_index_scale(rows, class_weight, n_classes, lse, s).unsqueeze(1))
        at_target = -(1.0 - eps) * rows.w_t
        _subtract_index_share(grad, rows.safe.unsqueeze(1), at_target, rows.on, class_weight, eps, n_classes)
    if s.softcap is not None:
        grad.mul_(1.0 - (capped / s.softcap) ** 2)
    return grad


def _accumulate_gradients(
    grads: list[Any], dz: Any, x: Any, weight: Any, rows: slice, needs: tuple[bool, ...]
) -> None:
    """Add one chunk's logits gradient ``dz`` (compute dtype) to ``grads = [dX, dW, db]``:
    dX's rows are written, dW and db (in the compute dtype) accumulate."""
    if needs[0]:
        grads[0][rows] = torch.mm(dz.to(weight.dtype), weight)
    if needs[1]:
        grads[1].addmm_(dz.t(), x if x.dtype == dz.dtype else x.to(dz.dtype))
    if needs[2]:
        grads[2].add_(dz.sum(0))


def _gradient_buffers(input: Any, weight: Any, bias: Any, work: Any, needs: tuple[bool, ...]) -> list[Any]:
    return [
        torch.empty_like(input) if needs[0] else None,
        torch.zeros(weight.shape, dtype=work, device=weight.device) if needs[1] else None,
        torch.zeros(weight.shape[0], dtype=work, device=weight.device) if needs[2] else None,
    ]


def _capped(z: Any, s: _LinearSettings) -> Any:
    return z if s.softcap is None else s.softcap * torch.tanh(z / s.softcap)


class _Rows(NamedTuple):
    """One chunk of rows of class-index targets, as the loss and its gradient read them."""

    use: Any  # a target neither ignored nor out of range
    valid: Any  # a target not ignored
    in_range: Any
    safe: Any  # the target, 0 where not used
    on: Any  # valid, in the compute dtype
    w_t: Any  # the target's class weight (on, without class weights)


def _rows_of(target: Any, class_weight: Any, n_classes: int, s: _LinearSettings, work: Any) -> _Rows:
    valid = target != s.ignore_index
    in_range = (target >= 0) & (target < n_classes)
    use = valid & in_range
    safe = torch.where(use, target, 0)
    on = valid.to(work)
    w_t = on if class_weight is None else class_weight[safe] * on
    return _Rows(use, valid, in_range, safe, on, w_t)


def _index_scale(rows: _Rows, class_weight: Any, n_classes: int, lse: Any, s: _LinearSettings) -> Any:
    """Each row's factor of the softmax in ``d loss / d z`` for class indices: its shares of
    the target, ``(1 − ε)·w_t + ε/C·Σ w``, plus the z-loss's ``2·z_loss·lse`` (0 where
    ignored)."""
    eps = s.label_smoothing
    scale = (1.0 - eps) * rows.w_t
    if eps > 0.0:
        total = float(n_classes) if class_weight is None else class_weight.sum()
        scale = scale + (eps / n_classes) * total * rows.on
    if s.z_loss:
        scale = scale + 2.0 * s.z_loss * lse * rows.on
    return scale


def _probability_scale(share_sum: Any, lse: Any, s: _LinearSettings) -> Any:
    """Each row's factor of the softmax in ``d loss / d z`` for probabilities: the sum of its
    shares of the target plus the z-loss's ``2·z_loss·lse``."""
    return share_sum + 2.0 * s.z_loss * lse if s.z_loss else share_sum


def _subtract_index_share(
    dz: Any, column: Any, at_target: Any, on: Any, class_weight: Any, eps: float, n_classes: int
) -> None:
    """Take a class index's shares of the target out of a block of logits' gradient, in
    place: add ``at_target`` (``−(1 − ε)·w_t``, or 0 where the target is not in the block)
    at each row's ``column``, and subtract the smoothing's ``ε/C·w_c`` on rows not ignored
    (``on``); ``class_weight`` is the block's."""
    dz.scatter_add_(1, column, at_target.unsqueeze(1))
    if eps > 0.0:
        uniform = on.unsqueeze(1) * (eps / n_classes)
        dz.sub_(uniform if class_weight is None else uniform * class_weight)


def _tiled_lse(
    x: Any, weight: Any, bias: Any, work: Any, s: _LinearSettings, classes: int, classic: _Rows | None = None
) -> tuple[Any, Any]:
    """The rows' log-normalisers over blocks of ``classes`` classes (each block's
    logsumexp, added with logaddexp); NaN where a row's largest logit is infinite or NaN,
    as torch's log_softmax gives.  With the rows' class indices ``classic``, also each
    row's target logit, as :func:`_tiled_pass` reads it (else None)."""
    n_classes = weight.shape[0]
    lse = torch.full((x.shape[0],), -torch.inf, dtype=work, device=x.device)
    picked: Any = None if classic is None else torch.zeros_like(lse)
    for start in range(0, n_classes, classes):
        cols = slice(start, min(n_classes, start + classes))
        z = _capped(_chunk_logits(x, weight[cols], None if bias is None else bias[cols], work), s)
        if classic is not None:
            here, local = _in_block(classic, start, z.shape[1])
            picked = torch.where(here, z.gather(1, local).squeeze(1), picked)
        lse = torch.logaddexp(lse, _logsumexp_(z))
    return torch.where(torch.isfinite(lse) | torch.isnan(lse), lse, lse - lse), picked


def _in_block(classic: _Rows, start: int, width: int) -> tuple[Any, Any]:
    """``(here, local)``: which rows' targets lie in the block of ``width`` classes from
    ``start``, and each target's column in it (clamped into it, ``(rows, 1)``)."""
    local = classic.safe - start
    here = classic.use & (local >= 0) & (local < width)
    return here, local.clamp(0, width - 1).unsqueeze(1)


def _logsumexp_(z: Any) -> Any:
    """``torch.logsumexp(z, 1)`` as torch computes it (the rows' largest entries taken out,
    0 for those that are infinite), with ``z`` itself overwritten instead of a copy."""
    exponentials, shift = _shifted_exp_(z)
    return exponentials.sum(1).log_().add_(shift)


def _shifted_exp_(z: Any) -> tuple[Any, Any]:
    """``(exp(z − shift), shift)`` in ``z``'s memory, ``shift`` the rows' largest entries
    (0 where infinite), as torch's logsumexp takes them out."""
    largest = z.amax(1)
    shift = torch.where(largest.isinf(), 0.0, largest)
    return z.sub_(shift.unsqueeze(1)).exp_(), shift


def _tiled_pass(
    x: Any,
    weight: Any,
    bias: Any,
    target: Any,
    class_weight: Any,
    lse: Any,
    s: _LinearSettings,
    classes: int,
    grads: list[Any] | None,
    needs: tuple[bool, ...],
    rows: slice,
    row_scale: Any = None,
) -> Any:
    """Over blocks of ``classes`` classes of one chunk of rows whose log-normalisers are
    known: the rows' losses (torch's terms, as ``linear_cross_entropy_terms`` computes them
    from whole rows) and, with ``grads``, the gradients added to ``grads`` (each block's
    logits gradient times ``row_scale`` per row where given).  Returns the losses, or None
    with ``grads`` and no loss asked (``row_scale`` given: the backward pass)."""
    n_classes = weight.shape[0]
    work = lse.dtype
    eps = s.label_smoothing
    losses_wanted = row_scale is None
    classic = None if s.probabilities else _rows_of(target, class_weight, n_classes, s, work)
    picked = torch.zeros_like(lse)  # the target's logit
    spread = torch.zeros_like(lse)  # Σ_c w_c·(z_c − lse), or Σ_c q̃_c·w_c·(z_c − lse)
    if grads is not None:
        dx = torch.zeros(x.shape, dtype=work, device=x.device) if needs[0] else None
        x_work = x if x.dtype == work else x.to(work)
        if classic is not None:
            scale = _index_scale(classic, class_weight, n_classes, lse, s)
        else:
            share_sum = torch.zeros_like(lse)
            for start in range(0, n_classes, classes):
                cols = slice(start, min(n_classes, start + classes))
                share_sum = share_sum + _share(target[:, cols], class_weight, cols, eps, n_classes).sum(1)
            scale = _probability_scale(share_sum, lse, s)
    for start in range(0, n_classes, classes):
        cols = slice(start, min(n_classes, start + classes))
        width = cols.stop - start
        z = _capped(_chunk_logits(x, weight[cols], None if bias is None else bias[cols], work), s)
        cw = None if class_weight is None else class_weight[cols]
        if classic is not None:
            here, local = _in_block(classic, start, width)
            if losses_wanted:
                picked = torch.where(here, z.gather(1, local).squeeze(1), picked)
        else:
            share = _share(target[:, cols], class_weight, cols, eps, n_classes)
        # The soft-cap's derivative needs the capped logits, which are centred in place.
        capping = None if s.softcap is None or grads is None else 1.0 - (z / s.softcap) ** 2
        centred = z.sub_(lse.unsqueeze(1))
        if losses_wanted and classic is None:
            spread = spread + (centred * share).sum(1)
        elif losses_wanted and eps > 0.0:
            spread = spread + (centred if cw is None else centred * cw).sum(1)
        if grads is None:
            continue
        dz = centred.exp_().mul_(scale.unsqueeze(1))
        if classic is not None:
            at_target = torch.where(here, -(1.0 - eps) * classic.w_t, 0.0)
            _subtract_index_share(dz, local, at_target, classic.on, cw, eps, n_classes)
        else:
            dz.sub_(share)
        if capping is not None:
            dz.mul_(capping)
        if row_scale is not None:
            dz.mul_(row_scale.unsqueeze(1))
        w_block = weight[cols]
        if dx is not None:
            dx.addmm_(dz, w_block if w_block.dtype == work else w_block.to(work))
        if needs[1]:
            grads[1][cols].addmm_(dz.t(), x_work)
        if needs[2]:
            grads[2][cols].add_(dz.sum(0))
    if grads is not None and dx is not None:
        grads[0][rows] = dx.to(grads[0].dtype)
    if not losses_wanted:
        return None
    if classic is None:
        loss = -spread
        return loss + s.z_loss * (lse * lse) if s.z_loss else loss
    return _index_losses(classic, lse, picked, spread, class_weight, n_classes, s)


def _index_losses(
    rows: _Rows, lse: Any, picked: Any, spread: Any, class_weight: Any, n_classes: int, s: _LinearSettings
) -> Any:
    """The losses of rows of class indices from their log-normalisers ``lse``, the target's
    logit ``picked`` and, with label smoothing, ``spread`` (``Σ_c w_c·(z_c − lse)``):
    ``linear_cross_entropy_terms``' formula, operation for operation."""
    eps = s.label_smoothing
    nll = torch.where(rows.use, lse - picked, 0.0)
    if class_weight is not None:
        nll = nll * torch.where(rows.valid, class_weight[rows.safe], 0.0)
    if eps > 0.0:
        nll = (1.0 - eps) * nll + (eps / n_classes) * -spread
    loss = torch.where(rows.valid, torch.where(rows.in_range, nll, torch.nan), 0.0)
    if s.z_loss:
        loss = loss + torch.where(rows.valid, s.z_loss * (lse * lse), 0.0)
    return loss


def _index_rows_losses(
    z: Any, target: Any, class_weight: Any, s: _LinearSettings, gradient: bool
) -> tuple[Any, Any, Any]:
    """``(losses, lse, dz)`` of a chunk of whole rows of logits ``z`` (compute dtype, which
    it overwrites) for class indices without label smoothing or soft-cap: the target's logit
    read first, then the log-normalisers in place, with ``linear_cross_entropy_terms``'
    bits and none of its full-size temporaries; with ``gradient``, ``dz`` the logits'
    gradient (else None) from the same exponentials: ``exp(z − shift)·exp(shift − lse)``
    is the softmax (NaN on a row whose lse is, as torch's).  It equals
    :func:`_chunk_logits_gradient`'s to rounding."""
    n_classes = z.shape[1]
    rows = _rows_of(target, class_weight, n_classes, s, z.dtype)
    picked = z.gather(1, rows.safe.unsqueeze(1)).squeeze(1)
    exponentials, shift = _shifted_exp_(z)
    lse = exponentials.sum(1).log_().add_(shift)
    # NaN where a row's largest logit is infinite, as torch's log_softmax gives
    lse = torch.where(torch.isfinite(lse) | torch.isnan(lse), lse, lse - lse)
    loss = _index_losses(rows, lse, picked, None, class_weight, n_classes, s)
    if not gradient:
        return loss, lse, None
    factor = _index_scale(rows, class_weight, n_classes, lse, s) * torch.exp(shift - lse)
    dz = exponentials.mul_(factor.unsqueeze(1))
    _subtract_index_share(dz, rows.safe.unsqueeze(1), -rows.w_t, rows.on, class_weight, 0.0, n_classes)
    return loss, lse, dz


def _share(q: Any, class_weight: Any, cols: slice, eps: float, n_classes: int) -> Any:
    """Each class's share of a row's probability target in the classes ``cols``:
    ``w_c·((1 − ε)·q_c + ε/C)``."""
    if eps > 0.0:
        q = q * (1.0 - eps) + eps / n_classes
    return q if class_weight is None else q * class_weight[cols]


def _forward_pass(
    input: Any,
    weight: Any,
    bias: Any,
    target: Any,
    class_weight: Any,
    s: _LinearSettings,
    needs: tuple[bool, ...],
) -> tuple[Any, Any, list[Any]]:
    """The losses (summed, or per row) and every row's log-normaliser, chunk by chunk; when
    summed, also the gradients ``[dX, dW, db]`` of the sum that ``needs`` asks for."""
    work = _compute_dtype(input.dtype)
    n = input.shape[0]
    precompute = s.summed and any(needs)
    grads = _gradient_buffers(input, weight, bias, work, needs) if precompute else [None, None, None]
    lse_all = torch.empty(n, dtype=work, device=input.device)
    losses = torch.empty(0 if s.summed else n, dtype=work, device=input.device)
    total = torch.zeros((), dtype=work, device=input.device)
    chunk, classes = logit_blocks(n, weight.shape[0], s.chunk_size)
    for start in range(0, n, chunk):
        rows = slice(start, min(n, start + chunk))
        x = input[rows]
        if classes < weight.shape[0] and not precompute and not s.probabilities and s.label_smoothing == 0.0:
            # Blocks of rows and classes, losses only, of class indices without smoothing:
            # each block's logits give their share of the log-normalisers and the target's
            # logit, all these losses need (one product).
            classic = _rows_of(target[rows], class_weight, weight.shape[0], s, work)
            lse, picked = _tiled_lse(x, weight, bias, work, s, classes, classic)
            loss = _index_losses(classic, lse, picked, None, class_weight, weight.shape[0], s)
        elif classes < weight.shape[0]:
            # Blocks of rows and classes: the log-normalisers first, then the losses and
            # gradients from the blocks' logits computed again (four products).
            lse, _ = _tiled_lse(x, weight, bias, work, s, classes)
            loss = _tiled_pass(
                x,
                weight,
                bias,
                target[rows],
                class_weight,
                lse,
                s,
                classes,
                grads if precompute else None,
                needs,
                rows,
            )
        else:
            z = _chunk_logits(x, weight, bias, work)
            plain = not s.probabilities and s.label_smoothing == 0.0 and s.softcap is None
            dz = None
            if plain:
                loss, lse, dz = _index_rows_losses(z, target[rows], class_weight, s, gradient=precompute)
            else:
                loss, lse = _terms_backend().linear_cross_entropy_terms(
                    z,
                    target[rows],
                    class_weight,
                    ignore_index=s.ignore_index,
                    label_smoothing=s.label_smoothing,
                    probabilities=s.probabilities,
                    softcap=s.softcap,
                    z_loss=s.z_loss,
                )
            if precompute:
                if dz is None:
                    dz = _chunk_logits_gradient(z, lse, target[rows], class_weight, s, overwrite=True)
                _accumulate_gradients(grads, dz, x, weight, rows, needs)
        lse_all[rows] = lse
        if s.summed:
            total = total + loss.sum()
        else:
            losses[rows] = loss
    return (total if s.summed else losses), lse_all, grads


def _row_gradients(
    input: Any,
    weight: Any,
    bias: Any,
    target: Any,
    class_weight: Any,
    lse_all: Any,
    grad_loss: Any,
    s: _LinearSettings,
    needs: tuple[bool, ...],
) -> list[Any]:
    """The gradients ``[dX, dW, db]`` of the per-row losses against the incoming gradient
    ``grad_loss``, each chunk's logits computed again from the saved log-normalisers."""
    work = lse_all.dtype
    grads = _gradient_buffers(input, weight, bias, work, needs)
    chunk, classes = logit_blocks(input.shape[0], weight.shape[0], s.chunk_size)
    for start in range(0, input.shape[0], chunk):
        rows = slice(start, min(input.shape[0], start + chunk))
        x = input[rows]
        if classes < weight.shape[0]:
            _tiled_pass(
                x,
                weight,
                bias,
                target[rows],
                class_weight,
                lse_all[rows],
                s,
                classes,
                grads,
                needs,
                rows,
                row_scale=grad_loss[rows].to(work),
            )
            continue
        z = _chunk_logits(x, weight, bias, work)
        dz = _chunk_logits_gradient(z, lse_all[rows], target[rows], class_weight, s, overwrite=True)
        dz.mul_(grad_loss[rows].to(work).unsqueeze(1))
        _accumulate_gradients(grads, dz, x, weight, rows, needs)
    return grads


class _LinearCrossEntropy(torch.autograd.Function):
    """Cross-entropy of ``input @ weight.T + bias`` by chunks of rows, the logits never whole.

    Summed (a scalar loss, so a scalar incoming gradient): the forward pass computes the
    gradients with respect to input, weight and bias chunk by chunk (three matrix products
    in all) and the backward pass scales them, in place unless ``retain_graph`` is
    allowed (then a second backward pass finds them unscaled).  Per row: the backward
    pass recomputes each chunk's logits from the saved inputs and log-normalisers.
    First order only: the backward is not itself differentiable.  Under torch.compile the
    same passes run as one custom operator (:func:`_compiled_linear_cross_entropy`).
    """

    @staticmethod
    def forward(
        ctx: Any, input: Any, weight: Any, bias: Any, target: Any, class_weight: Any, s: _LinearSettings
    ):  # type: ignore[override]
        needs = tuple(ctx.needs_input_grad[:3])
        out, lse_all, grads = _forward_pass(input, weight, bias, target, class_weight, s, needs)
        ctx.settings, ctx.needs, ctx.dtype = s, needs, input.dtype
        if s.summed and any(needs):
            ctx.consumed = False
            ctx.save_for_backward(*(g for g in grads if g is not None))
        elif not s.summed:
            ctx.save_for_backward(input, weight, bias, target, class_weight, lse_all)
        ctx.mark_non_differentiable(lse_all)
        return out, lse_all

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_loss: Any, grad_lse: Any):  # type: ignore[override]
        if ctx.settings.summed:
            return (*_scaled_gradients(ctx, grad_loss), None, None, None)
        input, weight, bias, target, class_weight, lse_all = ctx.saved_tensors
        grads = _row_gradients(
            input, weight, bias, target, class_weight, lse_all, grad_loss, ctx.settings, ctx.needs
        )
        return (*_cast_gradients(grads, ctx.dtype), None, None, None)


def _masked_scale(g: Any, scale: Any) -> Any:
    """``g·scale`` where ``g`` is not 0: an infinite scale (a 'mean' over no target: 1/0)
    meets gradients that are exactly 0, which torch's masked reference path keeps at 0,
    not 0·inf = NaN."""
    return torch.where(g == 0, torch.zeros_like(g), g * scale.to(g.dtype))


def _cast_gradients(grads: list[Any], dtype: Any) -> list[Any]:
    return [None if g is None else g.to(dtype) for g in grads]


def _terms_backend() -> TorchBackend:
    """The backend whose generic terms the kernel's forward pass computes, made once."""
    if not _TERMS:
        import array_api_compat.torch

        _TERMS.append(TorchBackend(array_api_compat.torch))
    return _TERMS[0]


_TERMS: list[TorchBackend] = []


def _scaled_gradients(ctx: Any, grad_loss: Any) -> list[Any]:
    """The precomputed gradients times the incoming scalar gradient."""
    if not any(ctx.needs):
        return [None, None, None]
    in_place = not ctx.settings.retain_graph
    if in_place and ctx.consumed:
        raise RuntimeError(
            "anyloss.linear_cross_entropy: backward through the 'sum' or 'mean' loss a second "
            "time; its gradients were computed in the forward pass and used by the first "
            "backward pass. Pass options=torch.nn.LinearCrossEntropyOptions("
            "allow_retain_graph=True) to allow retain_graph=True"
        )
    saved = iter(ctx.saved_tensors)
    grads = [next(saved) if need else None for need in ctx.needs]
    ctx.consumed = True
    scale = grad_loss
    masked = not bool(torch.isfinite(scale))
    out: list[Any] = []
    for g in grads:
        if g is None:
            out.append(None)
        elif masked:
            out.append(_masked_scale(g, scale))
        elif in_place:
            out.append(g.mul_(scale.to(g.dtype)))
        else:
            out.append(g * scale.to(g.dtype))
    return _cast_gradients(out, ctx.dtype)


# --- linear_cross_entropy under torch.compile: the same passes as one custom operator -------
#
# Dynamo would trace the kernel's Python loop over chunks and unroll it (compile time grows
# with the number of chunks). As a custom operator the whole chunked pass is one node of
# the graph, run eagerly; a fake implementation gives the outputs' shapes.

_SETTINGS_SCHEMA = (
    "int ignore_index, float label_smoothing, bool probabilities, bool summed, int chunk_size,"
    " float? softcap, float z_loss, bool[] needs"
)


def _op_settings(args: tuple[Any, ...]) -> tuple[_LinearSettings, tuple[bool, ...]]:
    *settings, needs = args
    # retain_graph: the operator's backward never scales the saved gradients in place.
    return _LinearSettings._make((*settings, True)), tuple(needs)


def _op_outputs(input: Any, grads: list[Any]) -> tuple[Any, ...]:
    # An operator returns tensors: an empty one stands for a gradient not asked for.
    return tuple(input.new_empty(0) if g is None else g for g in grads)


@torch.library.custom_op(
    "anyloss::linear_cross_entropy",
    mutates_args=(),
    schema="(Tensor input, Tensor weight, Tensor? bias, Tensor target, Tensor? class_weight, "
    + _SETTINGS_SCHEMA
    + ") -> (Tensor, Tensor, Tensor, Tensor, Tensor)",
)
def _lce_op(input: Any, weight: Any, bias: Any, target: Any, class_weight: Any, *args: Any) -> Any:
    s, needs = _op_settings(args)
    out, lse_all, grads = _forward_pass(input, weight, bias, target, class_weight, s, needs)
    return (out, lse_all, *_op_outputs(input, grads))


@torch.library.custom_op(
    "anyloss::linear_cross_entropy_backward",
    mutates_args=(),
    schema="(Tensor input, Tensor weight, Tensor? bias, Tensor target, Tensor? class_weight, "
    "Tensor lse, Tensor grad_loss, " + _SETTINGS_SCHEMA + ") -> (Tensor, Tensor, Tensor)",
)
def _lce_backward_op(
    input: Any, weight: Any, bias: Any, target: Any, class_weight: Any, lse: Any, grad_loss: Any, *args: Any
) -> Any:
    s, needs = _op_settings(args)
    grads = _row_gradients(input, weight, bias, target, class_weight, lse, grad_loss, s, needs)
    return _op_outputs(input, grads)


def _fake_gradients(input: Any, weight: Any, needs: tuple[bool, ...]) -> tuple[Any, ...]:
    work = _compute_dtype(input.dtype)
    shapes = (input.shape, weight.shape, weight.shape[:1])
    dtypes = (input.dtype, work, work)
    return tuple(
        input.new_empty(shape if need else (0,), dtype=dtype if need else input.dtype)
        for shape, dtype, need in zip(shapes, dtypes, needs, strict=True)
    )


@_lce_op.register_fake
def _(input: Any, weight: Any, bias: Any, target: Any, class_weight: Any, *args: Any) -> Any:
    s, needs = _op_settings(args)
    work = _compute_dtype(input.dtype)
    n = input.shape[0]
    out = input.new_empty(() if s.summed else (n,), dtype=work)
    precompute = s.summed and any(needs)
    return (
        out,
        input.new_empty((n,), dtype=work),
        *_fake_gradients(input, weight, needs if precompute else (False,) * 3),
    )


@_lce_backward_op.register_fake
def _(
    input: Any, weight: Any, bias: Any, target: Any, class_weight: Any, lse: Any, grad_loss: Any, *args: Any
) -> Any:
    _, needs = _op_settings(args)
    return _fake_gradients(input, weight, needs)


def _lce_setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Any, ...]) -> None:
    input, weight, bias, target, class_weight, *args = inputs
    s, needs = _op_settings(tuple(args))
    _, lse_all, *grads = output
    ctx.mark_non_differentiable(lse_all, *grads)
    ctx.settings, ctx.needs, ctx.dtype, ctx.args = s, needs, input.dtype, tuple(args)
    if s.summed:
        ctx.save_for_backward(*grads)
    else:
        ctx.save_for_backward(input, weight, bias, target, class_weight, lse_all)


def _lce_op_backward(ctx: Any, grad_loss: Any, *unused: Any) -> tuple[Any, ...]:
    needs = ctx.needs
    if ctx.settings.summed:
        grads = [
            _masked_scale(g, grad_loss) if need else None
            for g, need in zip(ctx.saved_tensors, needs, strict=True)
        ]
    else:
        computed = torch.ops.anyloss.linear_cross_entropy_backward(*ctx.saved_tensors, grad_loss, *ctx.args)
        grads = [g if need else None for g, need in zip(computed, needs, strict=True)]
    return (*_cast_gradients(grads, ctx.dtype), *([None] * (2 + len(ctx.args))))


_lce_op.register_autograd(_lce_op_backward, setup_context=_lce_setup_context)


def _compiled_linear_cross_entropy(
    input: Any, weight: Any, bias: Any, target: Any, class_weight: Any, s: _LinearSettings
) -> tuple[Any, Any]:
    needs = [_needs_grad(input), _needs_grad(weight), _needs_grad(bias)]
    out, lse_all, *_ = torch.ops.anyloss.linear_cross_entropy(
        input, weight, bias, target, class_weight, *s[:-1], needs
    )
    return out, lse_all
