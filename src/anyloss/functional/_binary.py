"""Binary losses: binary_cross_entropy, binary_cross_entropy_with_logits, soft_margin_loss,
and multilabel_soft_margin_loss (a class mean of binary logistic terms)."""

from __future__ import annotations

from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend
from .._dispatch import declined, dispatch
from .._registry import Streaming, loss_record

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
]

# torch's clamp of each log term of binary_cross_entropy, and the floor of x(1 − x) in its
# hand-written backward (aten/src/ATen/native/Loss.cpp): a float constant, 1e-12 rounded to
# float32, which float64 gradients show.
_LOG_FLOOR = -100.0
_EPSILON = 9.999999960041972e-13


def _rounded(xp: Any, a: Any, dtype: Any) -> Any:
    """``a`` rounded to ``dtype`` and back: a half-precision intermediate that torch stores."""
    if a.dtype == dtype:
        return a
    return xp.astype(xp.astype(a, dtype), a.dtype)


@loss_record(cls="BCELoss", family="binary", mean="the number of terms")
def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Binary cross-entropy between probabilities and targets in [0, 1].

    .. math::
        \ell_i = -w_i \left[ t_i \max(\log x_i, -100) + (1 - t_i) \max(\log(1 - x_i), -100) \right]

    Parameters
    ----------
    input : array
        Probabilities in [0, 1], any floating shape.
    target : array
        Targets in [0, 1] of exactly ``input``'s shape and dtype.
    weight : array, optional
        Weights, broadcast to ``target``'s shape (they may not enlarge it).
    {legacy}
    {reduction}
        'mean' is ``mean(w·ℓ)``, not divided by ``sum(w)``.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)`` (the same); output ``()``, or ``(*)`` for 'none'.

    Each log is clamped at −100, so every element of the loss is at most ``100·w`` and an
    input of exactly 0 or 1 is fine.  The gradient with respect to ``input`` is torch's
    hand-written ``(x − t) / max(x(1 − x), 1e-12)`` (±1e12 at 0 and 1, not the derivative
    of the clamp); with respect to ``target`` it is ``log(1 − x) − log(x)`` without the
    clamps (±inf at 0 and 1).  torch does not differentiate with respect to ``weight``.

    A different shape of ``input`` and ``target`` raises ``ValueError``, different dtypes
    ``RuntimeError`` ('Found dtype Double but expected Float'), integer inputs
    ``NotImplementedError``.  Values outside [0, 1] (NaN included) in ``input`` or
    ``target`` raise ``RuntimeError``, as in torch.
    {lazy}
    There, out-of-range values are not reported: the loss is computed by the same formula
    (an input outside [0, 1] gives NaN where its log is taken, a NaN input gives NaN, a
    target outside [0, 1] is used as is), and the −100 clamp still bounds each log.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> p = np.array([0.9, 0.2, 0.6], dtype=np.float32)
    >>> al.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0], dtype=np.float32))
    array(0.2797...
    >>> al.binary_cross_entropy(np.array([0.0, 1.0]), np.array([1.0, 0.0]), reduction="none")
    array([100., 100.])
    """
    backend, native, input, target, weight, _ = dispatch(
        "binary_cross_entropy", xp, reduction, input, target, weight
    )
    xp = backend.xp
    if native is not None:
        out = native(input, target, weight, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "binary_cross_entropy")
    reduction = _reduction.check(_reduction.resolve(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({_checks.size_str(target.shape)}) that is different to the "
            f"input size ({_checks.size_str(input.shape)}) is deprecated. "
            "Please ensure they have the same size."
        )
    if weight is not None:
        weight_shape = _checks.torch_broadcast_shapes(target.shape, weight.shape)
    dtype = input.dtype
    if target.dtype != dtype:
        raise RuntimeError(
            f"Found dtype {_checks.torch_dtype_name(target.dtype)} but expected "
            f"{_checks.torch_dtype_name(dtype)}"
        )
    _checks.require_floating(xp, dtype, "binary_cross_entropy")
    # Whether a condition can be read is asked of the condition itself: under jax.jit even
    # a constant closed over by the traced function gives a traced comparison.
    for name, values in (("input", input), ("target", target)):
        if backend.is_concrete(values):
            inside = xp.all((values >= 0) & (values <= 1))
            if backend.is_concrete(inside) and not bool(inside):
                raise RuntimeError(f"all elements of {name} should be between 0 and 1")
    if weight is not None:
        _checks.check_inplace_broadcast(input.shape, weight_shape)
    with backend.quiet_floating_point():
        work = _xp.compute_dtype(xp, dtype)
        x, t = _xp.astype(xp, input, work), _xp.astype(xp, target, work)
        xs, ts = backend.stop_gradient(x), backend.stop_gradient(t)
        # std::max(log(v), -100): a NaN log stays NaN, as in torch's kernel.
        loss = (ts - 1.0) * backend.clamp_min(xp.log1p(-xs), _LOG_FLOOR) - ts * backend.clamp_min(
            xp.log(xs), _LOG_FLOOR
        )
        if backend.differentiable:
            # torch's backward is written by hand: neither gradient is the clamp's.
            # The floor is taken in the input's dtype: 0 in float16, so 0/0 is NaN there.
            p = (1.0 - xs) * xs
            eps = _rounded(xp, xp.full_like(p, _EPSILON), dtype)
            grad_input = (xs - ts) / xp.where(p < eps, eps, p)
            grad_target = -xp.log(xs / (1.0 - xs))
            if backend.second_derivatives:
                grad_input, grad_target = _bce_second_derivatives(backend, x, t, grad_input, grad_target)
            loss = backend.with_gradient(loss, x, grad_input)
            loss = backend.with_gradient(loss, t, grad_target)
        if weight is not None:
            loss = loss * _xp.astype(xp, weight, work)
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


def _bce_second_derivatives(
    backend: Backend, x: Any, t: Any, grad_input: Any, grad_target: Any
) -> tuple[Any, Any]:
    """The two first derivatives of binary_cross_entropy carrying torch's derivatives of them.

    torch differentiates its hand-written backward by hand again
    (``binary_cross_entropy_double_backward``): with respect to the input
    ``(x² − 2xt + t) / ((x + ε)² (1 − x + ε)²)``, with respect to the target
    ``−1 / max(x(1 − x), ε)`` (ε = 1e-12); the target's derivative ``−logit(x)`` is
    differentiated as ``logit``, ``−1 / (x(1 − x))``.  These are written on the live
    ``x`` and ``t``, so that a third derivative is their autodiff, as torch's.
    """
    xp = backend.xp
    eps = 1e-12
    d_input_x = (x * x - 2.0 * x * t + t) / ((x + eps) ** 2 * (1.0 - x + eps) ** 2)
    p = (1.0 - x) * x
    floored = backend.straight_through(p, xp.where(p < eps, xp.full_like(p, eps), p))
    grad_input = backend.with_gradient(grad_input, x, d_input_x)
    grad_input = backend.with_gradient(grad_input, t, -1.0 / floored)
    grad_target = backend.with_gradient(grad_target, x, -1.0 / p)
    return grad_input, grad_target


@loss_record(cls="BCEWithLogitsLoss", family="binary", mean="the number of terms")
def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
    *,
    xp: Any = None,
) -> Any:
    r"""Binary cross-entropy of logits: a sigmoid and :func:`binary_cross_entropy` in one, stably.

    .. math::
        \ell_i = w_i \left[ (1 - t_i)\, x_i + \bigl(1 + (p_i - 1)\, t_i\bigr)
        \log\bigl(1 + e^{-x_i}\bigr) \right]

    with ``p`` the ``pos_weight``; equal to
    ``−w·[p·t·log σ(x) + (1 − t)·log(1 − σ(x))]``.

    Parameters
    ----------
    input : array
        Logits, any floating shape.
    target : array
        Targets of exactly ``input``'s shape, floating.  Values outside [0, 1] are used
        as given (no check, as in torch).  The result has the target's dtype.
    weight : array, optional
        Weights, broadcast against the loss (they may not enlarge it).
    {legacy}
    {reduction}
        'mean' is ``mean(w·ℓ)``, not divided by ``sum(w)``.
    pos_weight : array, optional
        Weights of the positive term, broadcast against ``target`` (typically one per class,
        the last dimension); the result may not be larger than ``input``.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)`` (the same); output ``()``, or ``(*)`` for 'none'.

    The softplus is computed without overflow: the loss at ``x = −100, t = 1`` is exactly
    100 and at ``x = 1000, t = 1`` exactly 0, in float16 and bfloat16 too.  Its gradient
    with respect to ``input`` is ``(1 − t) − (1 + (p − 1)t)·σ(−x)`` everywhere (``½ − t``
    at ``x = 0``, as torch's).  torch does not differentiate with respect to ``weight`` or
    ``pos_weight``.

    The output dtype is the target's (float64 input with float32 target gives float32);
    an integer target raises ``RuntimeError`` and an integer input ``NotImplementedError``,
    as in torch.  There are no value checks.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> logits = np.array([0.5, -1.5, 2.0], dtype=np.float32)
    >>> labels = np.array([1.0, 0.0, 1.0], dtype=np.float32)
    >>> print(f"{al.binary_cross_entropy_with_logits(logits, labels):.4f}")
    0.2675
    >>> al.binary_cross_entropy_with_logits(
    ...     np.array([-100.0, 1000.0]), np.array([1.0, 1.0]), reduction="none")
    array([100.,   0.])
    """
    backend, native, input, target, weight, pos_weight = dispatch(
        "binary_cross_entropy_with_logits", xp, reduction, input, target, weight, pos_weight
    )
    xp = backend.xp
    if native is not None:
        out = native(input, target, weight, size_average, reduce, reduction, pos_weight)
        if out is not NotImplemented:
            return out
        declined(backend, "binary_cross_entropy_with_logits")
    reduction = _reduction.check(_reduction.resolve(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({_checks.size_str(target.shape)}) must be the same as input size "
            f"({_checks.size_str(input.shape)})"
        )
    _checks.require_floating(xp, input.dtype, "log_sigmoid_cpu")
    if pos_weight is not None:
        if _xp.isdtype(xp, pos_weight.dtype, "bool"):
            raise RuntimeError(
                "Subtraction, the `-` operator, with a bool tensor is not supported. If you "
                "are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        log_weight_shape = _checks.broadcast_shapes(pos_weight.shape, target.shape)
        _checks.check_inplace_broadcast(input.shape, log_weight_shape)
    if _xp.isdtype(xp, target.dtype, "bool"):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    dtype = target.dtype
    if not _xp.is_floating(xp, dtype):
        # torch computes (1 − target)·input into a tensor of the target's dtype.
        raise RuntimeError(
            f"result type {_checks.torch_dtype_name(input.dtype)} can't be cast to the "
            f"desired output type {_checks.torch_dtype_name(dtype)}"
        )
    if weight is not None:
        _checks.check_inplace_broadcast(target.shape, weight.shape)
    with backend.quiet_floating_point():
        work = _xp.compute_dtype(xp, _checks.promote(xp, input.dtype, dtype))
        x, t = _xp.astype(xp, input, work), _xp.astype(xp, target, work)
        # (1 − t)·x + L·softplus(−x) with a smooth softplus: exact at ±1000 and with
        # torch's gradient (1 − t) − L·σ(−x) at x = 0, where a max(−x, 0) form has a kink.
        # torch stores softplus(−x) in the input's dtype and (1 − t)·x in the target's;
        # for half precision those roundings decide the result where the terms cancel.
        softplus = _rounded(xp, backend.softplus(-x), input.dtype)
        if pos_weight is not None:
            # torch's log_weight = 1 + (p − 1)·t, and its product with the softplus, are
            # tensors of p's and t's promoted dtype (wider than the input's when p is):
            # a float64 p keeps a float32 t near its largest value finite there.
            weight_dtype = _checks.promote(xp, pos_weight.dtype, dtype)
            wide = _xp.compute_dtype(xp, weight_dtype)
            log_weight = 1.0 + (_xp.astype(xp, pos_weight, wide) - 1.0) * _xp.astype(xp, t, wide)
            softplus = _rounded(xp, log_weight * _xp.astype(xp, softplus, wide), weight_dtype)
        linear = _rounded(xp, _rounded(xp, 1.0 - t, dtype) * x, dtype)
        loss = linear + softplus
        if weight is not None:
            loss = _rounded(xp, loss, dtype) * _xp.astype(xp, weight, work)
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


@loss_record(cls="SoftMarginLoss", family="binary", mean="the number of terms")
def soft_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Two-class logistic loss of a score and a ±1 target.

    .. math:: \ell_i = \log\bigl(1 + e^{-t_i x_i}\bigr)

    Parameters
    ----------
    input : array
        Scores, any floating shape; the result has ``input``'s dtype.
    target : array
        Targets, usually ±1 (any real value is used as is: ``t = 0`` gives ``log 2``),
        broadcastable to ``input``'s shape (the result may not be larger than ``input``).
    {legacy}
    {reduction}
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target broadcastable to ``(*)``; output ``()``, or ``(*)`` for
    'none'.

    Computed as torch computes it, ``log1p(exp(−t·x))``, not as a stable softplus: the
    exponential overflows to ``inf`` (and the loss with it) for ``−t·x`` above about 88.7
    in float32, 709 in float64, and 11.1 in float16, where torch stores ``exp(−t·x)`` in
    the input's dtype; the gradient there is NaN, as torch's
    ``−t·e/(1 + e)``.  torch does not differentiate with respect to ``target``.
    Integer and bool inputs raise ``RuntimeError`` as in torch; complex inputs, which
    torch accepts, raise ``TypeError`` (parity notes).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.soft_margin_loss(np.array([2.0, -1.0, 0.0]), np.array([1.0, 1.0, -1.0]),
    ...                     reduction="none")
    array([0.12692801, 1.31326169, 0.69314718])
    """
    backend, native, input, target, _, _ = dispatch("soft_margin_loss", xp, reduction, input, target)
    xp = backend.xp
    if native is not None:
        out = native(input, target, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "soft_margin_loss")
    reduction = _reduction.check(_reduction.resolve(size_average, reduce, reduction))
    dtype = input.dtype
    if _xp.isdtype(xp, dtype, "bool"):
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    # torch writes −x·t into a tensor of the input's shape and dtype.
    _checks.check_inplace_broadcast(input.shape, target.shape)
    if not _xp.is_floating(xp, dtype):
        # −x·t promotes; with an integer target it is exp that gives float32.
        promoted = _checks.promote(xp, dtype, target.dtype)
        result = _checks.torch_dtype_name(promoted) if _xp.is_floating(xp, promoted) else "Float"
        raise RuntimeError(
            f"result type {result} can't be cast to the desired output type {_checks.torch_dtype_name(dtype)}"
        )
    with backend.quiet_floating_point():
        work = _xp.compute_dtype(xp, dtype)
        product = _checks.promote(xp, dtype, target.dtype)
        product_work = _xp.compute_dtype(xp, product)
        x = _xp.astype(xp, input, work)
        t = _xp.astype(xp, target, product_work)
        xs = _xp.astype(xp, backend.stop_gradient(x), product_work)
        # torch stores −t·x and exp(−t·x) in the input's dtype: a float16 exp overflows
        # to inf above 11.1, as torch's.
        z = _xp.astype(xp, _xp.astype(xp, -(xs * t), dtype), work)
        e = _rounded(xp, xp.exp(z), dtype)
        loss = xp.log1p(e)
        if backend.differentiable:
            # torch's backward, −t·e/(1 + e), takes exp(−t·x) in the promoted dtype and
            # stores t·e in the input's: NaN or ±inf where the exponential overflows.
            e_grad = _rounded(xp, xp.exp(_rounded(xp, -(xs * t), product)), product)
            grad = -_rounded(xp, t * e_grad, dtype) / (1.0 + e_grad)
            if backend.second_derivatives:
                # torch's soft_margin_loss_double_backward: t² z / (1 + z)², z = exp(−t·x).
                z = xp.exp(_xp.astype(xp, x, product_work) * -t)
                second = _xp.astype(xp, t * t * z / ((z + 1.0) * (z + 1.0)), product_work)
                grad = backend.with_gradient(grad, _xp.astype(xp, x, product_work), second)
            loss = backend.with_gradient(loss, x, _xp.astype(xp, grad, work))
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


# --- multilabel_soft_margin_loss --------------------------------------------------------


@loss_record(
    cls="MultiLabelSoftMarginLoss",
    family="classification",
    mean="the number of terms (batch size × classes, the class mean of each row then the batch mean)",
    streaming=Streaming(min_ndim=2),
    bench="rows",
)
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
    backend, native, input, target, weight, _ = dispatch(
        "multilabel_soft_margin_loss", xp, reduction, input, target, weight
    )
    xp = backend.xp
    if native is not None:
        out = native(input, target, weight, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "multilabel_soft_margin_loss")
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_reduction(size_average, reduce)
    _checks.require_floating(xp, input.dtype, "log_sigmoid_cpu")
    target = _xp.number_as_array(xp, target, input)
    weight = _xp.number_as_array(xp, weight, input)
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
    with backend.quiet_floating_point():
        work = _xp.compute_dtype(xp, dtype)
        x = _xp.astype(xp, input, work)
        t = _xp.astype(xp, target, work)
        # torch's −(t·logσ(x) + (1 − t)·logσ(−x)), with logσ(±x) = −softplus(∓x).
        softplus_x, softplus_neg_x = backend.softplus_pair(x)
        loss = t * softplus_neg_x + (1.0 - t) * softplus_x
        if weight is not None:
            loss = loss * _xp.astype(xp, weight, work)
        if loss.shape != shape:
            loss = xp.broadcast_to(loss, shape)
        rows = _xp.numel(loss.shape[:-1])
        if reduction in ("mean", "sum") and loss.ndim == input.ndim and rows and loss.shape[-1]:
            # The class means reduced at once: one sum over every element (XLA fuses it with
            # the terms: 25% faster than the row sums then their mean; equal to rounding).
            total = backend.sum_all(loss)
            if reduction == "sum":
                return _xp.as_result(xp, total / input.shape[-1], dtype)
            return _xp.as_result(xp, _reduction.divide(xp, total, input.shape[-1] * rows, reduction), dtype)
        # torch sums over axis input.ndim − 1 of the broadcast loss, which may have more axes.
        loss = xp.sum(loss, axis=input.ndim - 1) / input.shape[-1]
        if reduction == "none":
            out = loss
        elif reduction == "mean":
            out = _reduction.mean(backend, loss, reduction)
        elif reduction == "sum":
            out = xp.sum(loss)
        else:
            raise ValueError(f"{reduction} is not valid")
        return _xp.as_result(xp, out, dtype)
