"""Regression losses: l1_loss, mse_loss, smooth_l1_loss, huber_loss."""

from __future__ import annotations

from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend
from .._dispatch import declined, dispatch
from .._registry import loss_record

__all__ = ["huber_loss", "l1_loss", "mse_loss", "smooth_l1_loss"]


def _difference(xp: Any, input: Any, target: Any) -> tuple[Any, Any]:
    """Broadcast as torch.broadcast_tensors and subtract in the compute dtype.

    Returns ``input − target`` (float32 for half precision, as torch's opmath) and
    the promoted dtype the result is returned in.
    """
    shape = _checks.broadcast_shapes(input.shape, target.shape)
    dtype = _checks.promote(xp, input.dtype, target.dtype)
    work = _xp.compute_dtype(xp, dtype)
    d = _xp.astype(xp, input, work) - _xp.astype(xp, target, work)
    if d.shape != shape:
        d = xp.broadcast_to(d, shape)
    return d, dtype


def _check_integer_reduction(xp: Any, dtype: Any, reduction: str, kernel: str | None) -> None:
    """torch's errors for integer inputs: float-only kernels raise, and so does 'mean'."""
    if _xp.is_floating(xp, dtype):
        return
    if kernel is not None:
        _checks.require_floating(xp, dtype, kernel)
    if reduction == "mean":
        raise _checks.mean_dtype_error(dtype)


def _weight_and_reduce(
    backend: Backend,
    loss: Any,
    input: Any,
    weight: Any,
    reduction: str,
    dtype: Any,
    *,
    normalise: bool,
) -> Any:
    """Weight (if given) and reduce an elementwise loss; return it in torch's output dtype.

    The weighted path is torch 2.13's: ``weight`` has exactly ``input``'s shape, and 'mean'
    is Σw·ℓ / Σw for l1 and mse (``normalise``) but plain mean(w·ℓ) for huber.
    """
    xp = backend.xp
    if weight is None:
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    dtype = _checks.result_type_of(xp, (dtype, loss.ndim), (weight.dtype, weight.ndim))
    work = _xp.compute_dtype(xp, dtype)
    w = _xp.astype(xp, weight, work)
    loss = _xp.astype(xp, loss, work) * w
    if reduction == "none":
        pass
    elif reduction == "sum":
        loss = xp.sum(loss)
    elif reduction == "mean":
        if normalise:
            loss = _reduction.divide(xp, xp.sum(loss), xp.sum(w), reduction)
        else:
            loss = _reduction.mean(backend, loss, reduction)
    else:
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'.")
    return _xp.as_result(xp, loss, dtype)


@loss_record(
    cls="L1Loss", family="regression", mean="the number of terms (with a weight, the sum of the weights)"
)
def l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
    *,
    xp: Any = None,
) -> Any:
    r"""Mean absolute error: the elementwise ``|input − target|``, reduced.

    .. math:: \ell_i = w_i \, |x_i - t_i|

    Parameters
    ----------
    input : array
        Predictions, any shape.
    target : array
        Targets, broadcastable with ``input`` (a ``UserWarning`` is emitted when the
        shapes differ, as in torch).
    {legacy}
    {reduction}
        With ``weight``, 'mean' is ``sum(w·|x − t|) / sum(w)``.
    weight : array, optional
        Elementwise weights of exactly ``input``'s shape (new in torch 2.13).
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)``; output ``()``, or the broadcast shape for 'none'.

    The gradient at ``input == target`` is 0, as torch's.  Integer inputs work with
    'sum' and 'none' (the result stays integer) and raise for 'mean', as in torch.
    Complex inputs, which torch accepts, raise ``TypeError`` (parity notes).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.l1_loss(np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0]))
    array(0.5)
    """
    backend, native, input, target, weight, _ = dispatch("l1_loss", xp, reduction, input, target, weight)
    xp = backend.xp
    if native is not None:
        out = native(input, target, size_average, reduce, reduction, weight)
        if out is not NotImplemented:
            return out
        declined(backend, "l1_loss")
    _checks.warn_if_target_size_differs(input, target)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    # torch's l1_loss subtracts the two as they are (mse_loss and the others convert first).
    _checks.check_subtraction(xp, input.dtype, target.dtype)
    with backend.quiet_floating_point():
        d, dtype = _difference(xp, input, target)
        if weight is None:
            reduction = _reduction.check(reduction)
            _check_integer_reduction(xp, dtype, reduction, None)
        loss = backend.abs(d)
        return _weight_and_reduce(backend, loss, input, weight, reduction, dtype, normalise=True)


@loss_record(
    cls="MSELoss", family="regression", mean="the number of terms (with a weight, the sum of the weights)"
)
def mse_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
    *,
    xp: Any = None,
) -> Any:
    r"""Mean squared error: the elementwise ``(input − target)²``, reduced.

    .. math:: \ell_i = w_i \, (x_i - t_i)^2

    Parameters
    ----------
    input : array
        Predictions, any floating shape.
    target : array
        Targets, broadcastable with ``input`` (a ``UserWarning`` when the shapes differ).
    {legacy}
    {reduction}
        With ``weight``, 'mean' is ``sum(w·(x − t)²) / sum(w)``.
    weight : array, optional
        Elementwise weights of exactly ``input``'s shape (new in torch 2.13).
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)``; output ``()``, or the broadcast shape for 'none'.
    Integer inputs raise ``NotImplementedError`` as in torch.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.mse_loss(np.array([2.0, 3.0, 4.0]), np.array([2.5, 3.5, 4.5]))
    array(0.25)
    """
    backend, native, input, target, weight, _ = dispatch("mse_loss", xp, reduction, input, target, weight)
    xp = backend.xp
    if native is not None:
        out = native(input, target, size_average, reduce, reduction, weight)
        if out is not NotImplemented:
            return out
        declined(backend, "mse_loss")
    _checks.warn_if_target_size_differs(input, target)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    if weight is not None:
        # torch's weighted form subtracts the two as they are.
        _checks.check_subtraction(xp, input.dtype, target.dtype)
    with backend.quiet_floating_point():
        d, dtype = _difference(xp, input, target)
        if weight is None:
            reduction = _reduction.check(reduction)
        _check_integer_reduction(xp, dtype, reduction, "mse_cpu")
        return _weight_and_reduce(backend, d * d, input, weight, reduction, dtype, normalise=True)


def _quadratic_then_linear(
    backend: Backend, d: Any, bound: float, quadratic: float, slope: float, reduction: str
) -> Any:
    """``quadratic·z²`` for ``z = |d| < bound``, else ``slope·(z − bound/2)``: the terms of
    smooth_l1 (``quadratic = 0.5/beta``, ``slope = 1``) and huber (0.5, ``delta``).

    ``z == bound`` takes the linear branch, whose gradient is torch's there.  A loss that is
    only summed may be written without the select where the backend sums faster so
    (``branch_free_sums``): with ``m = min(z, bound)``, ``quadratic·m² + slope·(z − m)``,
    which is the same function (to the last bit or two) with the same gradient, also at the
    tie, where ``minimum`` splits its derivative evenly.  At ``z = ±inf`` the gradient is
    ``±slope``, as torch's.
    """
    xp = backend.xp
    z = backend.abs(d)
    ceiling = xp.asarray(bound, dtype=z.dtype, device=backend.device(z))
    if reduction != "none" and backend.branch_free_sums:
        m = xp.minimum(z, ceiling)
        linear = z - m
        return quadratic * (m * m) + (linear if slope == 1.0 else slope * linear)
    # Where z is infinite the quadratic branch is not taken, yet its gradient, 0·2z, would be
    # NaN: that branch squares min(z, bound) instead, equal to z wherever it is taken.
    q = xp.minimum(z, ceiling) if backend.differentiable else z
    linear = z - 0.5 * bound
    return xp.where(z < bound, quadratic * (q * q), linear if slope == 1.0 else slope * linear)


@loss_record(cls="SmoothL1Loss", family="regression", mean="the number of terms")
def smooth_l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
    *,
    xp: Any = None,
) -> Any:
    r"""Smooth L1 loss: quadratic below ``beta``, linear above.

    .. math::
        \ell_i = \begin{cases} 0.5\,z_i^2/\beta & z_i < \beta \\ z_i - 0.5\,\beta & \text{otherwise}
        \end{cases}, \qquad z_i = |x_i - t_i|

    Parameters
    ----------
    input : array
        Predictions, any floating shape.
    target : array
        Targets, broadcastable with ``input`` (a ``UserWarning`` when the shapes differ).
    {legacy}
    {reduction}
    beta : float, default 1.0
        The threshold between the two branches; ``beta = 0`` is exactly :func:`l1_loss`
        (no 0/0), a negative or NaN ``beta`` raises ``RuntimeError``.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)``; output ``()``, or the broadcast shape for 'none'.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.smooth_l1_loss(np.array([2.0, 3.0, 4.0]), np.array([2.5, 3.5, 4.5]))
    array(0.125)
    """
    backend, native, input, target, _, _ = dispatch("smooth_l1_loss", xp, reduction, input, target)
    xp = backend.xp
    if native is not None:
        out = native(input, target, size_average, reduce, reduction, beta)
        if out is not NotImplemented:
            return out
        declined(backend, "smooth_l1_loss")
    beta = _checks.real_option(beta)
    _checks.warn_if_target_size_differs(input, target)
    reduction = _reduction.resolve(size_average, reduce, reduction)
    with backend.quiet_floating_point():
        d, dtype = _difference(xp, input, target)
        if beta == 0.0:
            # torch dispatches beta == 0 to l1_loss.
            reduction = _reduction.check(reduction)
            _check_integer_reduction(xp, dtype, reduction, None)
            return _weight_and_reduce(backend, backend.abs(d), input, None, reduction, dtype, normalise=True)
        reduction = _reduction.check(reduction)
        if not beta >= 0:  # torch's check: a NaN beta fails it too
            raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
        _checks.require_floating(xp, dtype, "smooth_l1_cpu")
        loss = _quadratic_then_linear(backend, d, beta, 0.5 / beta, 1.0, reduction)
        return _weight_and_reduce(backend, loss, input, None, reduction, dtype, normalise=True)


@loss_record(
    cls="HuberLoss", family="regression", mean="the number of terms (with a weight too: torch's mean(w·ℓ))"
)
def huber_loss(
    input: Any,
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Any = None,
    *,
    xp: Any = None,
) -> Any:
    r"""Huber loss: quadratic below ``delta``, ``delta``-scaled linear above.

    .. math::
        \ell_i = w_i \begin{cases} 0.5\,z_i^2 & z_i < \delta \\ \delta\,(z_i - 0.5\,\delta) &
        \text{otherwise} \end{cases}, \qquad z_i = |x_i - t_i|

    Parameters
    ----------
    input : array
        Predictions, any floating shape.  The result has ``input``'s dtype (torch does
        not promote here: float32 input with float64 target gives float32).
    target : array
        Targets, broadcastable with ``input`` (a ``UserWarning`` when the shapes differ).
    {reduction}
        With ``weight``, 'mean' is ``mean(w·ℓ)`` (not divided by ``sum(w)``: torch's rule).
    delta : float, default 1.0
        The threshold; must be positive (``RuntimeError`` otherwise, NaN too).
    weight : array, optional
        Elementwise weights of exactly ``input``'s shape (new in torch 2.13).
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)``; output ``()``, or the broadcast shape for 'none'.
    Equal to ``delta * smooth_l1_loss(..., beta=delta)``.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.huber_loss(np.array([0.0, 3.0]), np.array([0.5, 0.0]), delta=2.0)
    array(2.0625)
    """
    backend, native, input, target, weight, _ = dispatch("huber_loss", xp, reduction, input, target, weight)
    xp = backend.xp
    if native is not None:
        out = native(input, target, reduction, delta, weight)
        if out is not NotImplemented:
            return out
        declined(backend, "huber_loss")
    delta = _checks.real_option(delta)
    _checks.warn_if_target_size_differs(input, target)
    with backend.quiet_floating_point():
        d, _ = _difference(xp, input, target)
        dtype = input.dtype
        if weight is None:
            reduction = _reduction.check(reduction)
        elif tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        if not delta > 0:  # torch's check: a NaN delta fails it too
            raise RuntimeError("huber_loss does not support non-positive values for delta.")
        _check_huber_dtype(xp, input, target)
        loss = _quadratic_then_linear(backend, d, delta, 0.5, delta, reduction)
        return _weight_and_reduce(backend, loss, input, weight, reduction, dtype, normalise=False)


def _check_huber_dtype(xp: Any, input: Any, target: Any) -> None:
    """huber's output has the input's dtype; torch refuses to narrow a float result to integers."""
    promoted = _checks.promote(xp, input.dtype, target.dtype)
    if not _xp.is_floating(xp, input.dtype):
        if _xp.is_floating(xp, promoted):
            raise RuntimeError(
                f"result type {_checks.torch_dtype_name(promoted)} can't be cast to the desired "
                f"output type {_checks.torch_dtype_name(input.dtype)}"
            )
        _checks.require_floating(xp, promoted, "huber_cpu")
