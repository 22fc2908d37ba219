"""Classification losses: cross_entropy, nll_loss, multi_margin_loss,
multilabel_margin_loss, multilabel_soft_margin_loss."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .. import _checks, _reduction, _xp
from .._backends import backend_for, native_function, plain_namespace
from .._docs import fill

__all__ = [
    "cross_entropy",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
]

_NAN = float("nan")


# --- class-index targets ----------------------------------------------------------------


def _is_integer(xp: Any, dtype: Any) -> bool:
    """Integer dtypes, any width or signedness (bool is not a class index)."""
    return bool(_xp.isdtype(xp, dtype, "integral"))


def _widen_for_torch(xp: Any, target: Any) -> Any:
    """torch's kernels read class indices as int64; anyloss accepts every integer dtype."""
    dtype = target.dtype
    if dtype is xp.int64:  # the usual target, told by identity alone
        return target
    if _is_integer(xp, dtype) and dtype != xp.int64:
        return xp.astype(target, xp.int64)
    return target


def _first_value(xp: Any, values: Any, bad: Any) -> int:
    """The first entry of ``values`` (row-major) where ``bad`` holds; only for concrete arrays."""
    flat_bad = xp.reshape(bad, (-1,))
    position = int(xp.argmax(xp.astype(flat_bad, xp.int8)))
    return int(xp.reshape(values, (-1,))[position])


def _index_target(xp: Any, target: Any) -> Any:
    # Widened before any comparison: array-api-strict refuses to compare uint8 with -100.
    # The default device's indexing dtype: the same on every device of every library, and
    # asking without a device keeps torch.compile's graph whole.
    return _xp.astype(xp, target, xp.__array_namespace_info__().default_dtypes()["indexing"])


def _log_softmax_kernel_error(xp: Any, input: Any, class_dim: int) -> None:
    if not _xp.is_floating(xp, input.dtype):
        kernel = (
            "log_softmax_lastdim_kernel_impl" if class_dim == input.ndim - 1 else "log_softmax_kernel_impl"
        )
        _checks.require_floating(xp, input.dtype, kernel)


def _check_target_dtype(xp: Any, target: Any) -> None:
    if not _is_integer(xp, target.dtype):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_checks.torch_dtype_name(target.dtype)}"
        )


def _check_nll(xp: Any, input: Any, target: Any, weight: Any) -> None:
    """torch's nll_loss_nd checks, in torch's order, for ``input`` of log-probabilities."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    target_batch = target.shape[0] if target.ndim > 0 else 0
    if input.ndim != 1 and input.shape[0] != target_batch:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({target_batch})."
        )
    if input.ndim <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        _check_target_dtype(xp, target)
        if input.ndim == 1 and target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(
                f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}"
            )
        n_classes = input.shape[-1]
        if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
            raise RuntimeError(
                f"weight tensor should be defined either for all {n_classes} classes or no "
                f"classes but got weight tensor of shape: {_checks.list_str(weight.shape)}"
            )
        _checks.require_floating(xp, input.dtype, "nll_loss_out_frame")
    else:
        if input.ndim == 4:
            if target.ndim != 3:
                raise RuntimeError(
                    "only batches of spatial targets supported (3D tensors) but got targets of "
                    f"dimension: {target.ndim}"
                )
        elif tuple(target.shape[1:]) != tuple(input.shape[2:]):
            expected = (input.shape[0], *input.shape[2:])
            raise RuntimeError(
                f"Expected target size {_checks.list_str(expected)}, got {_checks.list_str(target.shape)}"
            )
        _check_target_dtype(xp, target)
        _checks.require_floating(xp, input.dtype, "nll_loss2d_forward_out_frame")
        if weight is not None and _xp.numel(weight.shape) != input.shape[1]:
            raise RuntimeError("weight tensor should be defined either for all or no classes")
        if input.ndim == 4 and tuple(target.shape) != (input.shape[0], *input.shape[2:]):
            raise RuntimeError(
                f"size mismatch (got input: {_checks.list_str(input.shape)} , target: "
                f"{_checks.list_str(target.shape)}"
            )
    _checks.check_weight_dtype(input.dtype, weight)


def _check_class_range(xp: Any, t: Any, valid: Any, n_classes: int) -> None:
    """torch's IndexError for a class index outside [0, C) that is not ignore_index."""
    if _xp.numel(t.shape) == 0:
        return
    if type(t) is np.ndarray and t.min() >= 0 and t.max() < n_classes:
        return  # two reductions decide the usual NumPy call, no mask needed
    bad = valid & ((t < 0) | (t >= n_classes))
    # The mask, not the target, is what must be concrete: under jax.jit a concrete
    # target still gives traced comparisons.
    if _xp.is_concrete(xp, bad) and bool(xp.any(bad)):
        raise IndexError(f"Target {_first_value(xp, t, bad)} is out of bounds.")


def _positions(xp: Any, like: Any) -> Any:
    """0, 1, ..., n − 1 along the last axis of ``like`` (an integer array), broadcast to its shape."""
    n = like.shape[-1]
    positions = xp.arange(n, dtype=like.dtype, device=backend_for(xp).device(like))
    return xp.broadcast_to(positions, like.shape)


def _log_softmax(xp: Any, x: Any, axis: int) -> Any:
    if _xp.numel(x.shape) == 0:
        # Nothing to normalise; Dask cannot even infer the maximum of an empty array.
        return x
    return _xp.log_softmax(xp, x, axis=axis)


def _class_dim(input: Any) -> int:
    return 0 if input.ndim == 1 else 1


def _class_shape(ndim: int, class_dim: int, size: int) -> tuple[int, ...]:
    """The shape that puts a (C,) vector on the class axis of an ``ndim``-D array."""
    shape = [1] * ndim
    shape[class_dim] = size
    return tuple(shape)


def _nll_terms(
    xp: Any, logp: Any, target: Any, weight: Any, ignore_index: int, lse: Any = None
) -> tuple[Any, Any, Any, Any]:
    """The per-element NLL ``−w[t]·logp[t]`` (0 where ignored) and the weights ``w[t]``.

    With ``lse`` (the log-sum-exp along the class axis, kept), ``logp`` holds logits and
    ``logp[t]`` is ``logits[t] − lse``: the same numbers, without a full log_softmax.

    ``logp`` is in the compute dtype; ``weight`` (if any) is a (C,) array in that dtype.
    Returns the loss, the weights of the non-ignored targets (the 'mean' denominator's
    terms; None when every target counts with weight 1), the validity mask and the safe
    class index (0 where ignored or out of range).
    An out-of-range index that is not ignored gives NaN: eager backends raised already,
    lazy ones must not gather out of bounds.
    """
    class_dim = _class_dim(logp)
    n_classes = logp.shape[class_dim]
    t = _index_target(xp, target)
    if logp.ndim == 1:
        t = xp.reshape(t, ())
    valid = t != ignore_index
    _check_class_range(xp, t, valid, n_classes)
    if weight is None and _xp.is_concrete(xp, valid) and bool(xp.all(valid)):
        # Eager, nothing ignored, every class in range (checked above): nothing to mask, and
        # the 'mean' denominator is the count (``w_t`` None).
        picked = _xp.gather_class(xp, logp, t, axis=class_dim)
        if lse is not None:
            picked = picked - xp.squeeze(lse, axis=class_dim)
        return -picked, None, valid, t
    in_range = (t >= 0) & (t < n_classes)
    use = valid & in_range
    safe_t = xp.where(use, t, xp.zeros_like(t))
    picked = _xp.gather_class(xp, logp, safe_t, axis=class_dim)
    if lse is not None:
        picked = picked - xp.squeeze(lse, axis=class_dim)
    zero = xp.zeros_like(picked)
    # Sanitised before the product: an ignored position may have picked a −inf log-probability.
    picked = xp.where(use, picked, zero)
    if weight is None:
        w_t = xp.where(valid, xp.ones_like(picked), zero)
        loss = -picked
    else:
        full = xp.broadcast_to(xp.reshape(weight, _class_shape(logp.ndim, class_dim, -1)), logp.shape)
        w_t = xp.where(valid, _xp.gather_class(xp, full, safe_t, axis=class_dim), zero)
        loss = -(picked * w_t)
    loss = xp.where(valid, xp.where(in_range, loss, xp.full_like(loss, _NAN)), zero)
    return loss, w_t, valid, safe_t


def _reduce_nll(xp: Any, loss: Any, w_t: Any, reduction: str) -> Any:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return xp.sum(loss)
    # Weighted mean over the non-ignored targets; 0/0 when all are ignored is torch's NaN,
    # and its gradient is 0 because every ignored position is masked out by where.
    if w_t is None:
        return _reduction.mean(xp, loss)
    return xp.sum(loss) / xp.sum(w_t)


def _weight_in(xp: Any, weight: Any, work: Any) -> Any:
    return None if weight is None else _xp.astype(xp, xp.reshape(weight, (-1,)), work)


# --- nll_loss ---------------------------------------------------------------------------


@fill
def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Negative log-likelihood of class indices, given log-probabilities.

    .. math:: \ell_i = -w_{t_i}\, x_{i, t_i} \cdot [t_i \ne \text{ignore\_index}]

    'mean' is :math:`\sum_i \ell_i / \sum_i w_{t_i} [t_i \ne \text{ignore\_index}]`.

    Parameters
    ----------
    input : array
        Log-probabilities (not normalised here), shape ``(C)``, ``(N, C)`` or
        ``(N, C, d1, ..., dK)``; floating.
    target : array
        Class indices of any integer dtype, shape ``()`` (or ``(1,)``), ``(N)`` or
        ``(N, d1, ..., dK)``.
    weight : array, optional
        A ``(C,)`` rescaling weight per class, of ``input``'s dtype.
    {legacy}
    ignore_index : int, default -100
        Targets equal to it contribute nothing, to the loss or to the 'mean' denominator
        (it may also be a valid class, which is then skipped).
    {reduction}
        'mean' divides by the summed weight of the non-ignored targets; when every target
        is ignored it is NaN, with a zero gradient.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``; target ``()``, ``(N)`` or
    ``(N, d1, ..., dK)``; output ``()``, or the target's shape for 'none' (``()`` for a
    ``(C)`` input).

    Class indices of every integer dtype are accepted (torch accepts only int64 and
    uint8); see the parity notes.  float16 and bfloat16 are computed in float32.

    {lazy}  There, a non-ignored class index outside ``[0, C)`` is never gathered:
    its element of the 'none' output is NaN, so 'sum' and 'mean' are NaN (eager backends
    raise torch's ``IndexError: Target 3 is out of bounds.``).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]]))
    >>> al.nll_loss(logp, np.array([0, 2]), reduction="none").round(4)
    array([0.6931, 0.3567])
    """
    xp = plain_namespace(xp, input, target, weight) or _xp.array_namespace(input, target, weight, xp=xp)
    native = native_function(xp, "nll_loss")
    if native is not None:
        target = _widen_for_torch(xp, target)
        return native(input, target, weight, size_average, ignore_index, reduce, reduction)
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    _check_nll(xp, input, target, weight)
    with backend_for(xp).quiet_floating_point():
        work = _xp.compute_dtype(xp, input.dtype)
        logp = _xp.astype(xp, input, work)
        loss, w_t, _, _ = _nll_terms(xp, logp, target, _weight_in(xp, weight, work), ignore_index)
        return _xp.finish(xp, _reduce_nll(xp, loss, w_t, reduction), input.dtype)


# --- cross_entropy ----------------------------------------------------------------------


def _probability_targets(
    xp: Any, input: Any, target: Any, weight: Any, reduction: str, label_smoothing: float
) -> Any:
    """torch's cross_entropy_loss_prob_target: ``−Σ_c w_c·q_c·log_softmax(x)_c``."""
    if input.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    class_dim = _class_dim(input)
    n_classes = input.shape[class_dim]
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != n_classes):
        raise RuntimeError(
            f"cross_entropy: weight tensor should be defined either for all {n_classes} "
            "classes or no classes but got weight tensor of shape: "
            f"{_checks.list_str(weight.shape)}"
        )
    _log_softmax_kernel_error(xp, input, class_dim)
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")
    dtype = _checks.result_type(xp, input, target, weight)
    work = _xp.compute_dtype(xp, dtype)
    logp = _log_softmax(xp, _xp.astype(xp, input, work), axis=class_dim)
    q = _xp.astype(xp, target, work)
    if label_smoothing > 0.0:
        q = q * (1.0 - label_smoothing) + label_smoothing / n_classes
    # A product, as torch's: a −inf logit with zero probability gives NaN there too.
    terms = logp * q
    if weight is not None:
        w = _xp.astype(xp, weight, work)
        if input.ndim > 1:
            w = xp.reshape(w, _class_shape(input.ndim, class_dim, n_classes))
        terms = terms * w
    if reduction == "none":
        loss = -xp.sum(terms, axis=class_dim)
    elif reduction == "sum":
        loss = -xp.sum(terms)
    elif _xp.numel(input.shape) == 0:
        loss = xp.full((), _NAN, dtype=work, device=backend_for(xp).device(input))
    else:
        # torch divides by the number of output elements, whatever the weights.
        loss = -xp.sum(terms) / (_xp.numel(input.shape) // n_classes)
    return _xp.finish(xp, loss, dtype)


@fill
def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    xp: Any = None,
) -> Any:
    r"""Cross-entropy between logits and class indices or class probabilities.

    With class indices :math:`t` and smoothing :math:`\varepsilon` (``label_smoothing``),
    :math:`p = \log\operatorname{softmax}(x)` over the class axis and
    :math:`v_i = [t_i \ne \text{ignore\_index}]`:

    .. math::
        \ell_i = (1 - \varepsilon)\,(-w_{t_i} p_{i, t_i}) v_i
                 + \frac{\varepsilon}{C} \Big(-\sum_c w_c\, p_{i, c}\Big) v_i

    and 'mean' divides the sum by :math:`\sum_i w_{t_i} v_i` (both terms share it).
    With class probabilities :math:`q` (a target of ``input``'s shape),
    :math:`\ell_i = -\sum_c w_c\, \tilde q_{i,c}\, p_{i,c}` with
    :math:`\tilde q = (1 - \varepsilon) q + \varepsilon / C`, and 'mean' divides by the
    number of output elements.

    Parameters
    ----------
    input : array
        Unnormalised logits, shape ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``.
    target : array
        Class indices (any integer dtype) of shape ``()``, ``(N)`` or ``(N, d1, ..., dK)``;
        or class probabilities (floating) of exactly ``input``'s shape.  Which one is
        decided by the shape, as in torch.
    weight : array, optional
        A ``(C,)`` rescaling weight per class, of ``input``'s dtype for index targets.
    {legacy}
    ignore_index : int, default -100
        Index targets equal to it contribute nothing; with probability targets only a
        negative value is allowed (it is unused).
    {reduction}
    label_smoothing : float, default 0.0
        In ``[0, 1]``; above 1 raises ``RuntimeError``, below 0 counts as 0 (as in torch).
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(C)``, ``(N, C)`` or ``(N, C, d1, ..., dK)``; target ``()``, ``(N)``
    or ``(N, d1, ..., dK)`` (indices) or the input's shape (probabilities); output ``()``,
    or the target's shape without the class axis for 'none'.

    The log-softmax is max-shifted, so logits 1e4 apart are exact in float32 and ``−inf``
    logits off the target give a finite loss.  When every target is ignored, 'mean' is
    NaN with a zero gradient.  Probability targets are neither range-checked nor
    renormalised; the result has the promoted dtype of input, target and weight.  Class
    indices of every integer dtype are accepted (parity notes).

    {lazy}  There, a non-ignored class index outside ``[0, C)`` is never gathered: its
    element of the 'none' output is NaN, so 'sum' and 'mean' are NaN (eager backends
    raise torch's ``IndexError: Target 3 is out of bounds.``).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> logits = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    >>> al.cross_entropy(logits, np.array([2, 0])).round(4)
    np.float32(1.4076)
    >>> x = np.array([[1.624, -0.611, -0.528, -1.072, 0.865],
    ...               [-2.301, 1.744, -0.761, 0.319, -0.249],
    ...               [1.462, -2.060, -0.322, -0.384, 1.133]])
    >>> al.cross_entropy(x, np.array([1, 0, 4])).round(3)
    np.float64(2.764)
    """
    xp = plain_namespace(xp, input, target, weight) or _xp.array_namespace(input, target, weight, xp=xp)
    native = native_function(xp, "cross_entropy")
    if native is not None:
        # Native means torch: both shapes are torch.Size, compared as the tuples they are.
        if target.shape != input.shape:
            target = _widen_for_torch(xp, target)
        return native(input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing)
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    with backend_for(xp).quiet_floating_point():
        if tuple(target.shape) == tuple(input.shape):
            if not _xp.is_floating(xp, target.dtype):
                raise RuntimeError(
                    "Expected floating point type for target with class probabilities, got "
                    f"{_checks.torch_dtype_name(target.dtype)}"
                )
            if ignore_index >= 0:
                raise RuntimeError("ignore_index is not supported for floating point target")
            return _probability_targets(xp, input, target, weight, reduction, label_smoothing)
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing:g}")
        if input.ndim == 0:
            raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
        class_dim = _class_dim(input)
        _log_softmax_kernel_error(xp, input, class_dim)
        _check_nll(xp, input, target, weight)
        smoothing = label_smoothing > 0.0
        if smoothing and weight is not None and weight.ndim != 1:
            shape = _class_shape(input.ndim, class_dim, weight.shape[0])
            raise RuntimeError(
                f"shape '{_checks.list_str(shape)}' is invalid for input of size {_xp.numel(weight.shape)}"
            )
        work = _xp.compute_dtype(xp, input.dtype)
        w = _weight_in(xp, weight, work)
        x = _xp.astype(xp, input, work)
        if not smoothing and _xp.numel(x.shape) > 0:
            # Only the target's log-probability is needed: logits[t] − logsumexp.
            lse = _xp.logsumexp(xp, x, axis=class_dim, keepdims=True)
            loss, w_t, _, _ = _nll_terms(xp, x, target, w, ignore_index, lse=lse)
            return _xp.finish(xp, _reduce_nll(xp, loss, w_t, reduction), input.dtype)
        logp = _log_softmax(xp, x, axis=class_dim)
        loss, w_t, valid, _ = _nll_terms(xp, logp, target, w, ignore_index)
        if not smoothing:
            return _xp.finish(xp, _reduce_nll(xp, loss, w_t, reduction), input.dtype)
        # torch's cross_entropy_loss_label_smoothing: the uniform part −Σ_c w_c·logp_c,
        # zero where the target is ignored, over the same denominator as the NLL part.
        weighted = logp if w is None else logp * xp.reshape(w, _class_shape(logp.ndim, class_dim, -1))
        smooth = -xp.sum(weighted, axis=class_dim)
        smooth = xp.where(valid, smooth, xp.zeros_like(smooth))
        if reduction == "none":
            nll_part, smooth_part = loss, smooth
        elif reduction == "sum":
            nll_part, smooth_part = xp.sum(loss), xp.sum(smooth)
        else:
            total = _xp.numel(loss.shape) if w_t is None else xp.sum(w_t)
            nll_part, smooth_part = xp.sum(loss) / total, xp.sum(smooth) / total
        out = (1.0 - label_smoothing) * nll_part + smooth_part * (label_smoothing / logp.shape[class_dim])
        return _xp.finish(xp, out, input.dtype)


# --- multi_margin_loss ------------------------------------------------------------------


def _check_margin_input(input: Any) -> None:
    ndim = input.ndim
    if not ((ndim == 2 and input.shape[1] != 0) or (ndim == 1 and input.shape[0] != 0) or ndim == 0):
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{_checks.list_str(input.shape)}"
        )


def _check_long_target(xp: Any, target: Any) -> None:
    if not _is_integer(xp, target.dtype):
        raise RuntimeError(f"expected scalar type Long but found {_checks.torch_dtype_name(target.dtype)}")


def _empty_batch(input: Any) -> bool:
    return input.ndim == 2 and input.shape[0] == 0


def _margin_mean(xp: Any, loss: Any, nframe: int, reduction: str) -> Any:
    """'mean' over the samples; 0 for an empty batch (torch: 0 or uninitialised memory)."""
    if reduction == "none":
        return loss
    total = xp.sum(loss)
    if reduction == "sum" or nframe == 0:
        return total
    return total / nframe


@fill
def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Multi-class hinge loss between scores and a class index per sample.

    .. math::
        \ell_i = \frac{1}{C} \sum_{j \ne t_i} w_{t_i} \max(0,\ \text{margin} - x_{i,t_i} + x_{i,j})^p

    Parameters
    ----------
    input : array
        Scores, shape ``(N, C)``, ``(C)`` or ``()``; float32 or float64.
    target : array
        Class indices of any integer dtype, shape ``(N)``, or ``()``/``(1,)`` for an
        unbatched input.
    p : {1, 2}, default 1
        The exponent (``2.0`` is accepted too); anything else raises ``ValueError``.
    margin : float, default 1.0
    weight : array, optional
        A ``(C,)`` weight, of ``input``'s dtype; the *target* class's weight scales a row.
    {legacy}
    {reduction}
        'mean' averages over the samples; an empty batch gives 0 for 'mean' and 'sum'.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(N, C)``, ``(C)`` or ``()``; target ``(N)``, ``()`` or ``(1,)``; output
    ``()``, or the target's shape for 'none'.

    The division is by ``C``, the target's own (zero) term included in the count.  A
    term exactly at the margin contributes no gradient (torch's strict ``>``).  float16
    and bfloat16 raise ``NotImplementedError``, as torch on CPU does.  Class indices of
    every integer dtype are accepted (torch: int64 only); see the parity notes, which
    also cover the empty batch.

    {lazy}  There, a sample whose class index is outside ``[0, C)`` has a NaN loss
    (eager backends raise torch's ``RuntimeError: target out of range``).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.array([[0.1, 0.2, 0.4, 0.8]])
    >>> al.multi_margin_loss(x, np.array([3])).round(4)
    np.float64(0.325)
    """
    xp = _xp.array_namespace(input, target, weight, xp=xp)
    native = native_function(xp, "multi_margin_loss")
    # torch's kernel leaves an empty batch's reduction uninitialised: not taken for one.
    if native is not None and not _empty_batch(input):
        target = _widen_for_torch(xp, target)
        return native(input, target, p, margin, weight, size_average, reduce, reduction)
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _check_margin_input(input)
    nframe = input.shape[0] if input.ndim == 2 else 1
    n_classes = input.shape[-1] if input.ndim > 0 else 1
    if target.ndim > 1 or _xp.numel(target.shape) != nframe:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{nframe}], but got "
            f"{_checks.list_str(target.shape)}. Input has shape {_checks.list_str(input.shape)}."
        )
    if weight is not None and weight.shape[0] != n_classes:
        raise RuntimeError(
            f"inconsistent weight size, expected {n_classes} but got {_checks.list_str(weight.shape)}"
        )
    if not _xp.is_floating(xp, input.dtype) or _xp.is_half(input.dtype):
        raise NotImplementedError(
            f"\"multi_margin_loss_cpu_kernel\" not implemented for '{_checks.torch_dtype_name(input.dtype)}'"
        )
    _check_long_target(xp, target)
    _checks.check_weight_dtype(input.dtype, weight)
    with backend_for(xp).quiet_floating_point():
        x = xp.reshape(input, (nframe, n_classes))
        t = xp.reshape(_index_target(xp, target), (nframe,))
        in_range = (t >= 0) & (t < n_classes)
        if nframe > 0 and _xp.is_concrete(xp, in_range) and not bool(xp.all(in_range)):
            raise RuntimeError("target out of range")
        safe_t = xp.where(in_range, t, xp.zeros_like(t))
        x_t = _xp.gather_class(xp, x, safe_t, axis=1)
        # torch's z = margin − x[y] + x_j, left to right: the first difference is per row.
        z = xp.expand_dims(margin - x_t, axis=1) + x
        # Strict >: a term exactly at the margin passes no gradient, as torch's kernel.
        h = backend_for(xp).hinge_excluding(z, safe_t)
        if p == 2:
            h = h * h
        if weight is not None:
            w_t = _xp.gather_class(
                xp, xp.broadcast_to(xp.reshape(weight, (1, n_classes)), x.shape), safe_t, axis=1
            )
            h = h * xp.expand_dims(w_t, axis=1)
        loss = xp.sum(h, axis=1) / n_classes
        loss = xp.where(in_range, loss, xp.full_like(loss, _NAN))
        loss = xp.reshape(loss, target.shape)
        return _xp.finish(xp, _margin_mean(xp, loss, nframe, reduction), input.dtype)


# --- multilabel_margin_loss -------------------------------------------------------------


def _multilabel_hinge_by_slot(xp: Any, x: Any, t: Any, positions: Any, counted: Any, slots: int) -> Any:
    """Σ_j Σ_(k not a target) max(0, 1 − x[t_j] + x_k) per row, one target slot at a time.

    ``slots`` is the largest number of counted entries of any row: O(N·C) memory and
    O(N·C·slots) work, as torch's kernel.
    """
    if slots == 0:  # zeros that still depend on x, so the gradient is 0, not missing
        return xp.sum(xp.where(positions < 0, x, xp.zeros_like(x)), axis=1)
    counted = counted[:, :slots]
    safe = xp.where(counted, t[:, :slots], xp.zeros_like(t[:, :slots]))
    is_target = xp.zeros(t.shape, dtype=xp.bool, device=backend_for(xp).device(t))
    for j in range(slots):
        is_target = is_target | ((positions == safe[:, j : j + 1]) & counted[:, j : j + 1])
    not_target = ~is_target
    zero = _xp.const(xp, 0.0, x)
    loss = 0.0
    for j in range(slots):
        picked = _xp.gather_class(xp, x, safe[:, j], axis=1)
        z = (1.0 - xp.expand_dims(picked, axis=1)) + x  # torch's z = 1 − x[t_j] + x_k
        # Strict >: a pair exactly at the margin passes no gradient, as torch's kernel.
        row = xp.sum(xp.where((z > 0) & not_target, z, zero), axis=1)
        loss = loss + xp.where(counted[:, j], row, xp.zeros_like(row))
    return loss


def _multilabel_slot(
    xp: Any, x: Any, safe: Any, counted: Any, not_target: Any, j: Any
) -> tuple[Any, Any, Any]:
    """Slot ``j`` (a traced index) of every row: torch's z = 1 − x[t_j] + x_k, the pairs
    that pass it (strict >: no gradient at the margin; non-target k of a counted slot
    only), and the slot's targets, shape (N, 1)."""
    column = xp.reshape(j, (1,))
    t_j = xp.take(safe, column, axis=1)
    picked = _xp.gather_class(xp, x, t_j[:, 0], axis=1)
    z = (1.0 - xp.expand_dims(picked, axis=1)) + x
    return z, (z > 0) & not_target & xp.take(counted, column, axis=1), t_j


def _multilabel_gradient(xp: Any, x: Any, safe: Any, counted: Any, not_target: Any, slots: Any) -> Any:
    """d loss_n / d x[n, k] of the slot sum: +1 for each active pair (j, k), and minus the
    number of slot j's active pairs at column t_j (torch's kernel, before the 1/C)."""
    positions = _positions(xp, safe)
    one, zero = _xp.const(xp, 1.0, x), _xp.const(xp, 0.0, x)

    def add_slot(j: Any, carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
        # Each slot subtracts the previous slot's count: its own (a row sum) goes to the
        # next, so that the update of g does not wait for it and stays one pass.
        g, count, t_previous = carry
        _, active, t_j = _multilabel_slot(xp, x, safe, counted, not_target, j)
        hits = xp.where(active, one, zero)
        g = (g + hits) - xp.where(positions == t_previous, count, zero)
        return g, xp.sum(hits, axis=1, keepdims=True), t_j

    rows = (x.shape[0], 1)
    dev = backend_for(xp).device(x)
    init = (
        xp.zeros_like(x),
        xp.zeros(rows, dtype=x.dtype, device=dev),
        xp.zeros(rows, dtype=safe.dtype, device=dev),
    )
    g, count, t_last = _xp.fori_loop(xp, 0, slots, add_slot, init)
    return g - xp.where(positions == t_last, count, zero)


def _multilabel_hinge_looped(xp: Any, x: Any, t: Any, positions: Any, counted: Any, end: Any) -> Any:
    """The by-slot sum with a slot count that is not known yet (compiled code), in the
    backend's loop: O(N·C) memory and O(N·C·slots) work.

    Such a loop is not reverse-differentiable: the value is taken from ``stop_gradient(x)``
    and torch's derivative attached by ``zero_with_gradient``.
    """
    slots = xp.max(end)
    safe = xp.where(counted, t, xp.zeros_like(t))

    def mark(j: Any, is_target: Any) -> Any:
        column = xp.reshape(j, (1,))
        return is_target | ((positions == xp.take(safe, column, axis=1)) & xp.take(counted, column, axis=1))

    none = xp.zeros(t.shape, dtype=xp.bool, device=backend_for(xp).device(t))
    not_target = ~_xp.fori_loop(xp, 0, slots, mark, none)
    x_value = _xp.stop_gradient(xp, x)
    zero = _xp.const(xp, 0.0, x)

    def add_slot(j: Any, loss: Any) -> Any:
        z, active, _ = _multilabel_slot(xp, x_value, safe, counted, not_target, j)
        return loss + xp.sum(xp.where(active, z, zero), axis=1)

    init = xp.zeros((x.shape[0],), dtype=x.dtype, device=backend_for(xp).device(x))
    loss = _xp.fori_loop(xp, 0, slots, add_slot, init)
    gradient = functools.partial(_multilabel_gradient, xp)
    return loss + _xp.zero_with_gradient(xp, x, gradient, (safe, counted, not_target, slots), axes=(1,))


def _multilabel_hinge_broadcast(xp: Any, x: Any, t: Any, positions: Any, counted: Any) -> Any:
    """The same sum with every (row, slot, class) triple at once: no loop for a compiler to
    unroll and no value read, at O(N·C²) memory (the form for Dask, and for compiled code
    whose loops need a known trip count)."""
    # one_hot[n, j, c]: entry j of row n names class c and counts.
    one_hot = (xp.expand_dims(t, axis=2) == xp.expand_dims(positions, axis=1)) & xp.expand_dims(
        counted, axis=2
    )
    is_target = xp.any(one_hot, axis=1)  # (N, c)
    x_rows = xp.expand_dims(x, axis=1)  # (N, 1, c)
    x_j = xp.sum(xp.where(one_hot, x_rows, xp.zeros_like(x_rows)), axis=2)  # (N, j)
    z = (1.0 - xp.expand_dims(x_j, axis=2)) + x_rows  # (N, j, k)
    # Strict >: a pair exactly at the margin passes no gradient, as torch's kernel.
    active = (z > 0) & xp.expand_dims(counted, axis=2) & xp.expand_dims(~is_target, axis=1)
    h = xp.where(active, z, xp.zeros_like(z))
    return xp.sum(xp.sum(h, axis=2), axis=1)


@fill
def multilabel_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Multi-label hinge loss between scores and the indices of the positive classes.

    .. math::
        \ell_i = \frac{1}{C} \sum_{j \in T_i} \sum_{k \notin T_i} \max(0,\ 1 - (x_{i,j} - x_{i,k}))

    :math:`T_i` holds the entries of ``target[i]`` before its first ``−1`` (duplicates
    count twice in the outer sum).

    Parameters
    ----------
    input : array
        Scores, shape ``(N, C)``, ``(C)`` or ``()``; float32 or float64.
    target : array
        Class indices of any integer dtype, padded with ``−1``, of ``input``'s shape.
        Every entry, also after the first ``−1``, must be in ``[−1, C)``.
    {legacy}
    {reduction}
        'mean' averages over the samples; an empty batch gives 0 for 'mean' and 'sum'.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(N, C)``, ``(C)`` or ``()``; target the same; output ``()``, or
    ``(N)`` for 'none' with a batched input.

    No data-dependent shapes: the first ``−1`` of each row is found with a minimum over
    positions, and the targets form a mask.  A term exactly at the margin contributes no
    gradient (torch's strict ``>``).  float16 and bfloat16 raise ``NotImplementedError``
    as torch on CPU.  Class indices of every integer dtype are accepted (torch: int64
    only); see the parity notes, which also cover the empty batch.

    {lazy}  There, a sample with any target entry outside ``[−1, C)`` has a NaN loss
    (eager backends raise torch's ``RuntimeError: argument #2 'target' is out of range``).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.array([[0.1, 0.2, 0.4, 0.8]])
    >>> al.multilabel_margin_loss(x, np.array([[3, 0, -1, 1]])).round(4)
    np.float64(0.85)
    """
    xp = _xp.array_namespace(input, target, xp=xp)
    native = native_function(xp, "multilabel_margin_loss")
    # torch's kernel leaves an empty batch's reduction uninitialised: not taken for one.
    if native is not None and not _empty_batch(input):
        target = _widen_for_torch(xp, target)
        return native(input, target, size_average, reduce, reduction)
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    _check_margin_input(input)
    if input.ndim <= 1:
        nframe, n_classes = 1, (1 if input.ndim == 0 else input.shape[0])
        target_ok = target.ndim <= 1 and _xp.numel(target.shape) == n_classes
    else:
        nframe, n_classes = input.shape
        target_ok = tuple(target.shape) == tuple(input.shape)
    if not target_ok:
        raise RuntimeError(
            f"inconsistent target size: {_checks.list_str(target.shape)} for input of size: "
            f"{_checks.list_str(input.shape)}"
        )
    if not _xp.is_floating(xp, input.dtype) or _xp.is_half(input.dtype):
        raise NotImplementedError(
            '"multilabel_margin_loss_forward_out_frame" not implemented for '
            f"'{_checks.torch_dtype_name(input.dtype)}'"
        )
    _check_long_target(xp, target)
    with backend_for(xp).quiet_floating_point():
        x = xp.reshape(input, (nframe, n_classes))
        t = xp.reshape(_index_target(xp, target), (nframe, n_classes))
        in_range = (t >= -1) & (t < n_classes)
        if nframe == 0:
            # Nothing to compare (and Dask cannot take the minimum of an empty axis).
            return _xp.finish(xp, _margin_mean(xp, xp.sum(x, axis=1), nframe, reduction), input.dtype)
        if _xp.is_concrete(xp, in_range) and not bool(xp.all(in_range)):
            raise RuntimeError("argument #2 'target' is out of range")
        positions = _positions(xp, t)  # (N, C): positions[n, c] = c
        # Entries before the first −1 of each row count; a row without −1 counts whole.
        end = xp.min(xp.where(t == -1, positions, xp.full_like(t, n_classes)), axis=1, keepdims=True)
        counted = positions < end  # (N, j)
        if _xp.is_concrete(xp, end):
            loss = _multilabel_hinge_by_slot(xp, x, t, positions, counted, int(xp.max(end)))
        elif backend_for(xp).traced_loops:
            loss = _multilabel_hinge_looped(xp, x, t, positions, counted, end)
        else:
            loss = _multilabel_hinge_broadcast(xp, x, t, positions, counted)
        loss = loss / n_classes
        row_ok = xp.all(in_range, axis=1)
        loss = xp.where(row_ok, loss, xp.full_like(loss, _NAN))
        if input.ndim <= 1:
            loss = xp.reshape(loss, ())
        return _xp.finish(xp, _margin_mean(xp, loss, nframe, reduction), input.dtype)


# --- multilabel_soft_margin_loss --------------------------------------------------------


@fill
def multilabel_soft_margin_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Multi-label one-versus-all logistic loss, averaged over the classes (last axis).

    .. math::
        \ell_i = -\frac{1}{C} \sum_c w_c \big(t_{i,c} \log\sigma(x_{i,c})
                 + (1 - t_{i,c}) \log\sigma(-x_{i,c})\big)

    Parameters
    ----------
    input : array
        Logits, shape ``(*, C)`` (the class axis is the last one); floating.
    target : array
        Targets broadcastable with ``input`` (floating or integer, not bool).
    weight : array, optional
        Weights of any shape that broadcasts with the elementwise loss.
    {legacy}
    reduction : {{'none', 'mean', 'sum'}}, default 'mean'
        Applied to the per-sample losses; an invalid value raises
        ``ValueError: {{reduction}} is not valid`` (after the loss is computed, as torch).
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*, C)``; target broadcastable; output ``()``, or the broadcast shape
    without its axis ``input.ndim − 1`` for 'none'.

    Computed with a log-sigmoid that never overflows: logits of ±1e4 give exact losses.
    The result has the promoted dtype of input, target and weight; float16 and bfloat16
    are computed in float32.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.array([[2.0, -1.0, 0.0]])
    >>> al.multilabel_soft_margin_loss(x, np.array([[1.0, 0.0, 1.0]])).round(4)
    np.float64(0.3778)
    """
    xp = _xp.array_namespace(input, target, weight, xp=xp)
    native = native_function(xp, "multilabel_soft_margin_loss")
    if native is not None:
        return native(input, target, weight, size_average, reduce, reduction)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_reduction(size_average, reduce)
    _checks.require_floating(xp, input.dtype, "log_sigmoid_cpu")
    shape = _checks.broadcast_shapes(target.shape, input.shape)
    if target.dtype == xp.bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
            "trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    if weight is not None:
        shape = _checks.broadcast_shapes(shape, weight.shape)
    if input.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    dtype = _checks.result_type(xp, input, target, weight)
    with backend_for(xp).quiet_floating_point():
        work = _xp.compute_dtype(xp, dtype)
        x = _xp.astype(xp, input, work)
        t = _xp.astype(xp, target, work)
        # torch's −(t·logσ(x) + (1 − t)·logσ(−x)), with logσ(±x) = −softplus(∓x).
        softplus_x, softplus_neg_x = _xp.softplus_pair(xp, x)
        loss = t * softplus_neg_x + (1.0 - t) * softplus_x
        if weight is not None:
            loss = loss * _xp.astype(xp, weight, work)
        if loss.shape != shape:
            loss = xp.broadcast_to(loss, shape)
        rows = _xp.numel(loss.shape[:-1])
        if reduction in ("mean", "sum") and loss.ndim == input.ndim and rows and loss.shape[-1]:
            # The class means reduced at once: one sum over every element (XLA fuses it with
            # the terms: 25% faster than the row sums then their mean; equal to rounding).
            n = input.shape[-1] * (rows if reduction == "mean" else 1)
            return _xp.finish(xp, _xp.sum_all(xp, loss) / n, dtype)
        # torch sums over axis input.ndim − 1 of the broadcast loss, which may have more axes.
        loss = xp.sum(loss, axis=input.ndim - 1) / input.shape[-1]
        if reduction == "none":
            out = loss
        elif reduction == "mean":
            out = _reduction.mean(xp, loss)
        elif reduction == "sum":
            out = xp.sum(loss)
        else:
            raise ValueError(f"{reduction} is not valid")
        return _xp.finish(xp, out, dtype)
