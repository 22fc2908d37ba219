"""linear_cross_entropy: cross_entropy of a linear layer's output, without the logits.

The body checks the call as torch 2.13's reference path (``cross_entropy(linear(...))``)
does, then hands rows of the input to the backend's ``linear_cross_entropy_rows`` kernel,
which never holds more than a chunk of the ``(N, C)`` logits.  'mean' is applied here, as
one numerator over one denominator (:func:`anyloss.mean_parts`).
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend, backend_for
from .._backends._chunks import default_chunk_size
from .._dispatch import check_option_types, check_static_options
from .._parts import MeanRequest
from .._registry import Streaming, loss_record
from ._cross_entropy import _check_class_range, _check_nll, _index_target, _log_softmax_kernel_error

__all__ = ["linear_cross_entropy"]

#: Rows are cut along the input's axis 0 with their targets; the layer and the class
#: weights are whole in every chunk.
LINEAR_ROWS = Streaming(
    min_ndim=2,
    batch_arrays=frozenset({"target"}),
    class_arrays=frozenset({"linear_weight", "linear_bias", "weight"}),
)

# How torch's C++ matmul names a dtype in its dtype-mismatch message.
_CPP_DTYPE_NAMES = {
    "float32": "float",
    "float64": "double",
    "float16": "c10::Half",
    "bfloat16": "c10::BFloat16",
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
}


class _Logits:
    """The shape and dtype of the logits torch's reference path would build (never built)."""

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.shape, self.ndim, self.dtype = shape, len(shape), dtype


def _check_linear(input: Any, linear_weight: Any, linear_bias: Any) -> tuple[int, tuple[int, ...]]:
    """torch's own checks of linear_cross_entropy, then its linear's dtype checks; returns
    the number of classes and the K extra dimensions of the weight."""
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}")
    if input.shape[-1] != linear_weight.shape[-1]:
        raise RuntimeError(
            "expected equal input and linear_weight last dimensions (in_features), "
            f"got {input.shape[-1]} and {linear_weight.shape[-1]}, respectively"
        )
    n_classes = int(linear_weight.shape[0])
    extra = tuple(int(d) for d in linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (n_classes, *extra):
        raise RuntimeError(
            f"expected linear_bias shape {(n_classes, *extra)}, got {tuple(linear_bias.shape)}"
        )
    if extra and input.ndim == 1:
        raise RuntimeError(
            f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires"
            f" batched input, (N, {input.shape[-1]}), got unbatched"
            f" input with shape {tuple(input.shape)}"
        )
    return n_classes, extra


def _check_linear_dtypes(input: Any, linear_weight: Any, linear_bias: Any) -> None:
    """torch's linear: one dtype for the input and the weight, and for the bias."""
    if input.dtype != linear_weight.dtype:
        names = [
            _CPP_DTYPE_NAMES.get(_xp.dtype_name(a.dtype), _xp.dtype_name(a.dtype))
            for a in (input, linear_weight)
        ]
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {names[0]} != {names[1]}")
    if linear_bias is not None and linear_bias.dtype != linear_weight.dtype:
        bias, weight = (_checks.torch_dtype_name(a.dtype) for a in (linear_bias, linear_weight))
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {bias} and {weight}")


def _check_cross_entropy(
    xp: Any, logits: _Logits, target: Any, weight: Any, label_smoothing: float, probabilities: bool
) -> None:
    """torch's cross_entropy checks, in its order, for logits of shape ``logits.shape``."""
    if probabilities:
        if not _xp.is_floating(xp, target.dtype):
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{_checks.torch_dtype_name(target.dtype)}"
            )
        n_classes = logits.shape[1 if logits.ndim > 1 else 0]
        if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
            raise RuntimeError(
                f"cross_entropy: weight tensor should be defined either for all {n_classes} "
                "classes or no classes but got weight tensor of shape: "
                f"{_checks.list_str(weight.shape)}"
            )
        _log_softmax_kernel_error(xp, logits, 1 if logits.ndim > 1 else 0)
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")
        return
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")
    _log_softmax_kernel_error(xp, logits, 1 if logits.ndim > 1 else 0)
    _check_nll(xp, logits, target, weight)


def _chunk_size(options: Any, chunk_size: int | None, n: int, in_features: int, n_classes: int) -> int:
    """The rows per chunk: ``chunk_size``, else torch's ``LinearCrossEntropyOptions``'
    ``batch_chunk_size`` or ``chunking_method``, else :func:`default_chunk_size`."""
    if chunk_size is not None:
        if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive int or None, got {chunk_size!r}")
        return min(chunk_size, max(n, 1))
    if options is None:
        return default_chunk_size(n, in_features, n_classes)
    size = getattr(options, "batch_chunk_size", None)
    method = getattr(options, "chunking_method", "auto")
    if method == "auto":
        # torch's 'auto' is a speed heuristic; anyloss's default is the memory floor.
        return default_chunk_size(n, in_features, n_classes) if size is None else min(size, max(n, 1))
    if method is None:
        return max(1, n if size is None else min(size, n))
    name, _, factor = str(method).partition(":")
    # torch's aspect_ratio: a chunk of logits as large as the input.
    target = -(-n // -(-n_classes // max(in_features, 1)))
    rows = min((1 << (target - 1).bit_length()) // int(factor or 1), n)
    if size is not None and size != rows:
        raise ValueError(
            f"batch_chunk_size (={size}) and chunking_method ('{method}') give different "
            f"chunk sizes ({size} vs {rows}); pass only one."
        )
    return max(1, rows)


def _denominator(backend: Backend, target: Any, weight: Any, ignore_index: int, work: Any) -> Any:
    """torch's 'mean' denominator for class indices: the summed weight of the targets that
    are not ignored (their number without a weight).  Read from the targets alone."""
    xp = backend.xp
    t = xp.reshape(target, (-1,))
    valid = t != ignore_index
    if weight is None:
        return xp.sum(_xp.astype(xp, valid, work))
    in_range = (t >= 0) & (t < weight.shape[0])
    safe = xp.where(valid & in_range, t, xp.zeros_like(t))
    picked = xp.take(weight, safe, axis=0)
    return xp.sum(xp.where(valid, picked, xp.zeros_like(picked)))


@loss_record(
    cls="LinearCrossEntropyLoss",
    family="classification",
    mean="the sum of weight[target] over the targets that are not ignore_index "
    "(without a weight, their number; for probability targets, the number of samples "
    "times the positions d1...dK)",
    streaming=LINEAR_ROWS,
    bench="rows",
)
def linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any = None,
    weight: Any = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options: Any = None,
    z_loss: float = 0.0,
    softcap: float | None = None,
    return_lse: bool = False,
    chunk_size: int | None = None,
    xp: Any = None,
) -> Any:
    r"""Cross-entropy of ``input @ linear_weight.T + linear_bias``, without the logits.

    Equal to ``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``
    (torch's reference path, ``options=None``), computed over chunks of rows so that the
    ``(N, C)`` logits never exist, in the forward pass or the backward pass.  With
    :math:`z = x W^\top + b`, :math:`\ell_{\text{se}} = \log\sum_c e^{z_c}` per row and
    the terms of :func:`anyloss.cross_entropy`:

    .. math::
        \ell_i = (1 - \varepsilon)\, w_{t_i} (\ell_{\text{se},i} - z_{i,t_i})
                 + \frac{\varepsilon}{C} \sum_c w_c (\ell_{\text{se},i} - z_{i,c})

    (0 where :math:`t_i` is ``ignore_index``); class probabilities :math:`q` give
    :math:`\ell_i = \sum_c w_c \tilde q_{i,c} (\ell_{\text{se},i} - z_{i,c})` with
    :math:`\tilde q = (1 - \varepsilon) q + \varepsilon / C`.

    Parameters
    ----------
    input : array
        Features, shape ``(H)`` or ``(N, H)`` (3-D raises, as in torch); floating.
    linear_weight : array
        The layer's weight, ``(C, H)``, or ``(C, d1, ..., dK, H)`` for a K-dimensional
        loss (then ``input`` must be batched); of ``input``'s dtype.
    target : array
        Class indices (any integer dtype) of shape ``()``, ``(N)`` or ``(N, d1, ..., dK)``;
        or class probabilities (floating) of the logits' shape ``(C)``, ``(N, C)`` or
        ``(N, C, d1, ..., dK)``.
    linear_bias : array, optional
        The layer's bias, ``(C)`` or ``(C, d1, ..., dK)``; of ``input``'s dtype.
    weight : array, optional
        A ``(C,)`` rescaling weight per class.
    {reduction}
        'mean' divides by the summed class weight of the targets that are not ignored
        (their number without ``weight``), or by the number of rows (times the positions
        of a K-dimensional loss) for probabilities.
    ignore_index : int, optional
        Class-index targets equal to it contribute nothing; None means -100.  Giving it
        with probability targets raises, as in torch.
    label_smoothing : float, default 0.0
        In ``[0, 1]``; above 1 raises ``RuntimeError``, below 0 counts as 0 (as in torch).
    options : torch.nn.LinearCrossEntropyOptions, optional
        torch's chunking options, honoured: ``batch_chunk_size`` and ``chunking_method``
        set the rows per chunk ('auto' is anyloss's memory-floor default), and
        ``allow_retain_graph`` lets the gradients of 'sum' and 'mean' be used by a second
        backward pass on torch.  The values are torch's reference path's whatever the
        options (anyloss never falls back to the full logits).
    z_loss : float, default 0.0
        Beyond torch: adds ``z_loss · lse²`` per row that is not ignored (PaLM's z-loss,
        Liger's ``lse_square_scale``).
    softcap : float, optional
        Beyond torch: logits are soft-capped to ``softcap · tanh(z / softcap)`` before the
        softmax (Gemma 2).
    return_lse : bool, default False
        Beyond torch: return ``(loss, lse)``, ``lse`` the per-row log-normaliser of the
        target's shape (``()``, ``(N)`` or ``(N, d1, ..., dK)``) in the compute dtype
        (float32 for half-precision inputs), without gradient.
    chunk_size : int, optional
        Beyond torch: rows per chunk (overrides ``options``); by default a power of two
        chosen so that a chunk of logits stays small beside the gradients (a 64th of their
        numbers), but holds at least 2**18 logits (1 MiB in float32) where the batch has
        as many: a batch of fewer logits is computed whole.  On torch
        tensors and JAX arrays a chunk of fewer than 512 rows of a larger batch is held as
        a block of the same number of logits in 512 rows and fewer classes (see below).
    {xp}

    Returns
    -------
    array or tuple of arrays
        The loss, of the inputs' library and on their device: 0-D when reduced, the
        target's shape (class indices) for 'none'; with ``return_lse``, ``(loss, lse)``.

    Notes
    -----
    Shape: input ``(H)`` or ``(N, H)``; linear_weight ``(C, H)`` or ``(C, d1, ..., dK, H)``;
    target ``()``, ``(N)``, ``(N, d1, ..., dK)`` (indices) or the logits' shape
    (probabilities); output ``()``, or ``(N)`` / ``(N, d1, ..., dK)`` for 'none'.

    The logits of a chunk are computed in the input's dtype, as torch's ``linear`` does;
    float16 and bfloat16 logits are then taken to float32, and the losses summed in
    float32 and rounded once.  So a float16 'sum' or 'mean' over many rows is finite where
    torch's reference path overflows to ``inf`` (parity notes).

    On torch tensors, logits that fit in one chunk are torch's own ``cross_entropy`` of
    them, which torch differentiates (twice, too).  More chunks take anyloss's own autograd
    function: for 'sum' and 'mean' the forward pass computes the gradients too and the
    backward pass scales them in place, so a second backward pass raises unless
    ``options`` allows ``retain_graph``; for 'none' the backward pass recomputes each
    chunk.  Double backward raises there.  Under ``torch.compile`` the kernel is one custom
    operator of the graph, so compile time does not grow with the number of chunks, and its
    precomputed gradients are scaled out of place (a second backward pass works; see the
    parity notes).  On JAX arrays the
    kernel is a ``jax.custom_vjp`` over a ``lax.scan`` of chunks, with the same split of
    work between its two rules (safe under ``jit``, ``grad`` and ``vmap``).  A chunk of
    every class costs three matrix products in all; but products of a few rows run far
    below the machine's speed, so on both, where the chunk has fewer than 512 rows, the
    kernel works on blocks of up to 512 rows and fewer classes instead (as many logits),
    first the rows' log-normalisers over the blocks, then the losses and gradients from the
    blocks' logits computed again: four products, each at full speed.  Losses without
    gradients of class indices without label smoothing need the blocks' logits once, for
    the log-normalisers and the target's logit together: one product.

    {lazy}  There, a non-ignored class index outside ``[0, C)`` gives NaN.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.array([[1.0, 0.5], [-0.5, 2.0], [0.0, 1.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
    >>> al.linear_cross_entropy(x, w, np.array([2, 1, -100])).round(4)
    np.float64(0.7815)
    """
    if xp is None:
        xp, (input, linear_weight, target, linear_bias, weight) = _xp.common_namespace(
            (input, linear_weight, target, linear_bias, weight)
        )
    backend = backend_for(xp)
    # A native kernel takes the usual call (NumPy's: anyloss's own, of the same terms), or
    # declines it; torch's own op is not one (anyloss's kernel runs on torch tensors).
    native = backend.native("linear_cross_entropy") if backend.native_enabled() else None
    if native is not None and type(reduction) is not MeanRequest:
        out = native(
            input,
            linear_weight,
            target,
            linear_bias=linear_bias,
            weight=weight,
            reduction=reduction,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
            options=options,
            z_loss=z_loss,
            softcap=softcap,
            return_lse=return_lse,
            chunk_size=chunk_size,
        )
        if out is not NotImplemented:
            return out
    _checks.admit(backend.xp, "linear_cross_entropy", (input, linear_weight, target, linear_bias, weight))
    if backend.options_may_be_traced:
        check_static_options("linear_cross_entropy", locals())
    check_option_types("linear_cross_entropy", locals())
    xp = backend.xp
    backend.check_shapes(input, linear_weight, target, linear_bias, weight)
    n_classes, extra = _check_linear(input, linear_weight, linear_bias)
    logits = _Logits((*input.shape[:-1], n_classes, *extra), input.dtype)
    probabilities = tuple(target.shape) == logits.shape
    if probabilities and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore = -100 if ignore_index is None else ignore_index
    _check_linear_dtypes(input, linear_weight, linear_bias)
    reduction = _reduction.check(reduction)
    _check_cross_entropy(xp, logits, target, weight, label_smoothing, probabilities)
    if not probabilities:
        _checks.check_weight_dtype(input.dtype, weight)
    with backend.quiet_floating_point():
        dtype = _checks.result_type(xp, input, target, weight) if probabilities else input.dtype
        work = _xp.compute_dtype(xp, dtype)
        n = int(input.shape[0]) if input.ndim == 2 else 1
        positions = math.prod(extra)
        x = xp.reshape(input, (n, input.shape[-1]))
        if probabilities:
            t = xp.reshape(_xp.astype(xp, target, work), (n, n_classes, positions))
        else:
            t = xp.reshape(_index_target(xp, target), (n, positions))
            _check_class_range(backend, t, t != ignore, n_classes)
        w_layer = xp.reshape(linear_weight, (n_classes, positions, input.shape[-1]))
        b_layer = None if linear_bias is None else xp.reshape(linear_bias, (n_classes, positions))
        w_class = None if weight is None else _xp.astype(xp, xp.reshape(weight, (-1,)), work)
        rows = _chunk_size(options, chunk_size, n, int(input.shape[-1]), n_classes)
        summed = reduction != "none"
        losses, lses = [], []
        retain = getattr(options, "allow_retain_graph", False)
        with backend.retaining_gradients() if retain else contextlib.nullcontext():
            for p in range(positions):
                loss, lse = backend.linear_cross_entropy_rows(
                    x,
                    w_layer[:, p, :] if positions > 1 else xp.reshape(w_layer, (n_classes, -1)),
                    t[:, :, p] if probabilities else t[:, p],
                    None
                    if b_layer is None
                    else (b_layer[:, p] if positions > 1 else xp.reshape(b_layer, (-1,))),
                    w_class,
                    ignore_index=ignore,
                    # torch smooths only for label_smoothing > 0 (a negative one is none).
                    label_smoothing=max(float(label_smoothing), 0.0),
                    probabilities=probabilities,
                    summed=summed,
                    chunk_size=rows,
                    softcap=softcap,
                    z_loss=z_loss,
                    need_lse=return_lse,
                )
                losses.append(loss)
                lses.append(lse)
        out_shape = tuple(target.shape[:1]) + extra if input.ndim == 2 else ()
        if summed:
            total = losses[0]
            for part in losses[1:]:
                total = total + part
            if reduction == "mean":
                if probabilities:
                    total = _reduction.divide_by_count(xp, total, n * positions, reduction)
                else:
                    total = _reduction.divide(
                        xp, total, _denominator(backend, t, w_class, ignore, work), reduction
                    )
            out = total
        else:
            out = losses[0] if positions == 1 else xp.stack(losses, axis=1)
            out = xp.reshape(out, out_shape)
        out = _xp.as_result(xp, out, dtype)
        if not return_lse:
            return out
        lse = lses[0] if positions == 1 else xp.stack(lses, axis=1)
        return out, xp.reshape(lse, out_shape)
