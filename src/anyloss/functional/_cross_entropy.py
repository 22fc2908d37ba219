"""Cross-entropy losses: nll_loss, and cross_entropy (class-index or class-probability
targets).

Also the helpers for class-index targets that the margin losses share (``_is_integer``,
``_index_target``).
"""

from __future__ import annotations

from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend
from .._dispatch import declined, dispatch
from .._registry import CLASS_INDEX, loss_record

__all__ = ["cross_entropy", "nll_loss"]

_NAN = float("nan")


# --- class-index targets (shared with the margin losses) --------------------------------


def _is_integer(xp: Any, dtype: Any) -> bool:
    """Integer dtypes, any width or signedness (bool is not a class index)."""
    return bool(_xp.isdtype(xp, dtype, "integral"))


def _index_target(xp: Any, target: Any) -> Any:
    # Widened before any comparison: array-api-strict refuses to compare uint8 with -100.
    # The default device's indexing dtype: the same on every device of every library, and
    # asking without a device keeps torch.compile's graph whole.
    return _xp.astype(xp, target, xp.__array_namespace_info__().default_dtypes()["indexing"])


# --- checks and terms of nll_loss and cross_entropy -------------------------------------


def _first_value(xp: Any, values: Any, bad: Any) -> int:
    """The first entry of ``values`` (row-major) where ``bad`` holds; only for concrete arrays."""
    flat_bad = xp.reshape(bad, (-1,))
    position = int(xp.argmax(xp.astype(flat_bad, xp.int8)))
    return int(xp.reshape(values, (-1,))[position])


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


def _check_class_range(backend: Backend, t: Any, valid: Any, n_classes: int) -> None:
    """torch's IndexError for a class index outside [0, C) that is not ignore_index."""
    xp = backend.xp
    if _xp.numel(t.shape) == 0:
        return
    if backend.known_within(t, 0, n_classes):
        return
    bad = valid & ((t < 0) | (t >= n_classes))
    # The mask, not the target, is what must be concrete: under jax.jit a concrete
    # target still gives traced comparisons.
    if backend.is_concrete(bad) and bool(xp.any(bad)):
        raise IndexError(f"Target {_first_value(xp, t, bad)} is out of bounds.")


def _log_softmax(backend: Backend, x: Any, axis: int) -> Any:
    if _xp.numel(x.shape) == 0:
        # Nothing to normalise; Dask cannot even infer the maximum of an empty array.
        return x
    return backend.log_softmax(x, axis=axis)


def _class_dim(input: Any) -> int:
    return 0 if input.ndim == 1 else 1


def _class_shape(ndim: int, class_dim: int, size: int) -> tuple[int, ...]:
    """The shape that puts a (C,) vector on the class axis of an ``ndim``-D array."""
    shape = [1] * ndim
    shape[class_dim] = size
    return tuple(shape)


def _nll_terms(
    backend: Backend, logp: Any, target: Any, weight: Any, ignore_index: int, lse: Any = None
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
    xp = backend.xp
    class_dim = _class_dim(logp)
    n_classes = logp.shape[class_dim]
    t = _index_target(xp, target)
    if logp.ndim == 1:
        t = xp.reshape(t, ())
    valid = t != ignore_index
    _check_class_range(backend, t, valid, n_classes)
    if weight is None and backend.is_concrete(valid) and bool(xp.all(valid)):
        # Eager, nothing ignored, every class in range (checked above): nothing to mask, and
        # the 'mean' denominator is the count (``w_t`` None).
        picked = backend.gather_class(logp, t, axis=class_dim)
        if lse is not None:
            picked = picked - xp.squeeze(lse, axis=class_dim)
        return -picked, None, valid, t
    in_range = (t >= 0) & (t < n_classes)
    use = valid & in_range
    safe_t = xp.where(use, t, xp.zeros_like(t))
    picked = backend.gather_class(logp, safe_t, axis=class_dim)
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
        w_t = xp.where(valid, backend.gather_class(full, safe_t, axis=class_dim), zero)
        loss = -(picked * w_t)
    loss = xp.where(valid, xp.where(in_range, loss, xp.full_like(loss, _NAN)), zero)
    return loss, w_t, valid, safe_t


def _reduce_nll(backend: Backend, loss: Any, w_t: Any, reduction: str) -> Any:
    xp = backend.xp
    if reduction == "none":
        return loss
    if reduction == "sum":
        return xp.sum(loss)
    # Weighted mean over the non-ignored targets; 0/0 when all are ignored is torch's NaN,
    # and its gradient is 0 because every ignored position is masked out by where.
    if w_t is None:
        return _reduction.mean(backend, loss, reduction)
    return _reduction.divide(xp, xp.sum(loss), xp.sum(w_t), reduction)


def _weight_in(xp: Any, weight: Any, work: Any) -> Any:
    return None if weight is None else _xp.astype(xp, xp.reshape(weight, (-1,)), work)


# --- nll_loss ---------------------------------------------------------------------------


@loss_record(
    cls="NLLLoss",
    family="classification",
    mean="the sum of weight[target] over the targets that are not ignore_index "
    "(without a weight, their number)",
    streaming=CLASS_INDEX,
    bench="rows",
)
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

    .. math:: \ell_i = -w_{t_i}\, x_{i, t_i} \cdot [t_i \ne \text{ignore_index}]

    'mean' is :math:`\sum_i \ell_i / \sum_i w_{t_i} [t_i \ne \text{ignore_index}]`.

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
    backend, native, input, target, weight, _ = dispatch("nll_loss", xp, reduction, input, target, weight)
    xp = backend.xp
    if native is not None:
        out = native(input, target, weight, size_average, ignore_index, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "nll_loss")
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    _check_nll(xp, input, target, weight)
    with backend.quiet_floating_point():
        work = _xp.compute_dtype(xp, input.dtype)
        logp = _xp.astype(xp, input, work)
        loss, w_t, _, _ = _nll_terms(backend, logp, target, _weight_in(xp, weight, work), ignore_index)
        return _xp.as_result(xp, _reduce_nll(backend, loss, w_t, reduction), input.dtype)


# --- cross_entropy ----------------------------------------------------------------------


def _probability_targets(
    backend: Backend, input: Any, target: Any, weight: Any, reduction: str, label_smoothing: float
) -> Any:
    """torch's cross_entropy_loss_prob_target: ``−Σ_c w_c·q_c·log_softmax(x)_c``."""
    xp = backend.xp
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
    # torch multiplies log_softmax(x)·q in their own dtype, then by a wider weight: float32
    # terms overflow to −inf there even beside a float64 weight.
    pair = _xp.compute_dtype(xp, _checks.result_type(xp, input, target))
    logp = _log_softmax(backend, _xp.astype(xp, input, pair), axis=class_dim)
    q = _xp.astype(xp, target, pair)
    if label_smoothing > 0.0:
        q = q * (1.0 - label_smoothing) + label_smoothing / n_classes
    # A product, as torch's: a −inf logit with zero probability gives NaN there too.
    terms = _xp.astype(xp, logp * q, work)
    if weight is not None:
        w = _xp.astype(xp, weight, work)
        if input.ndim > 1:
            w = xp.reshape(w, _class_shape(input.ndim, class_dim, n_classes))
        terms = terms * w
    if reduction == "none":
        loss = -xp.sum(terms, axis=class_dim)
    elif reduction == "sum":
        loss = -xp.sum(terms)
    else:
        # torch divides by the number of output elements, whatever the weights.
        loss = _reduction.divide_by_count(
            xp, -xp.sum(terms), _xp.numel(input.shape) // max(n_classes, 1), reduction
        )
    return _xp.as_result(xp, loss, dtype)


@loss_record(
    cls="CrossEntropyLoss",
    family="classification",
    mean="the sum of weight[target] over the targets that are not ignore_index "
    "(without a weight, their number; for probability targets, the number of samples)",
    streaming=CLASS_INDEX,
    bench="rows",
)
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
    :math:`v_i = [t_i \ne \text{ignore_index}]`:

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
    backend, native, input, target, weight, _ = dispatch(
        "cross_entropy", xp, reduction, input, target, weight
    )
    xp = backend.xp
    if native is not None:
        out = native(input, target, weight, size_average, ignore_index, reduce, reduction, label_smoothing)
        if out is not NotImplemented:
            return out
        declined(backend, "cross_entropy")
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    with backend.quiet_floating_point():
        if tuple(target.shape) == tuple(input.shape):
            if not _xp.is_floating(xp, target.dtype):
                raise RuntimeError(
                    "Expected floating point type for target with class probabilities, got "
                    f"{_checks.torch_dtype_name(target.dtype)}"
                )
            if ignore_index >= 0:
                raise RuntimeError("ignore_index is not supported for floating point target")
            return _probability_targets(backend, input, target, weight, reduction, label_smoothing)
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
            lse = backend.log_softmax_normaliser(x, axis=class_dim)
            loss, w_t, _, _ = _nll_terms(backend, x, target, w, ignore_index, lse=lse)
            return _xp.as_result(xp, _reduce_nll(backend, loss, w_t, reduction), input.dtype)
        logp = _log_softmax(backend, x, axis=class_dim)
        loss, w_t, valid, _ = _nll_terms(backend, logp, target, w, ignore_index)
        if not smoothing:
            return _xp.as_result(xp, _reduce_nll(backend, loss, w_t, reduction), input.dtype)
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
            nll_part, smooth_part = xp.sum(loss), xp.sum(smooth)
        out = (1.0 - label_smoothing) * nll_part + smooth_part * (label_smoothing / logp.shape[class_dim])
        if reduction == "mean":
            # torch divides each part by the denominator, then mixes them; the mix is divided
            # once here, equal to rounding, so that the 'mean' is one numerator over one
            # denominator (mean_parts).
            total = _xp.numel(loss.shape) if w_t is None else xp.sum(w_t)
            out = _reduction.divide(xp, out, total, reduction)
        return _xp.as_result(xp, out, input.dtype)
