"""Likelihood losses: poisson_nll_loss, gaussian_nll_loss, kl_div."""

from __future__ import annotations

import math
import warnings
from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend
from .._dispatch import declined, dispatch
from .._registry import Streaming, loss_record

__all__ = ["gaussian_nll_loss", "kl_div", "poisson_nll_loss"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)

# The C++ type torch names when an integer ``var`` cannot hold the clamped (float) value.
_CPP_TYPE_NAMES = {
    "int64": "long int",
    "int32": "int",
    "int16": "short int",
    "int8": "signed char",
    "uint8": "unsigned char",
    "bool": "bool",
}


def _float_of(xp: Any, dtype: Any) -> Any:
    """The dtype of a float function (exp, log, true division) of ``dtype``: ints give float32."""
    return dtype if _xp.is_floating(xp, dtype) else _xp.default_float(xp)


# --- poisson_nll_loss -----------------------------------------------------------------


def _poisson_dtype(xp: Any, input: Any, target: Any, log_input: bool) -> Any:
    """torch's result dtype, following its kernel op by op (0-D operands promote only across
    categories, integers become float32)."""
    nx, nt = input.ndim, target.ndim
    fx = _float_of(xp, input.dtype)
    if log_input:
        # exp(x) − t·x
        product = _checks.result_type_of(xp, (target.dtype, nt), (input.dtype, nx))
        return _checks.result_type_of(xp, (fx, nx), (product, max(nt, nx)))
    # x − t·log(x + eps)
    product = _checks.result_type_of(xp, (target.dtype, nt), (fx, nx))
    return _float_of(xp, _checks.result_type_of(xp, (input.dtype, nx), (product, max(nt, nx))))


def _stirling(xp: Any, t: Any) -> Any:
    """t·log t − t + ½·log(2πt) where t > 1, else 0 (torch masks ``t <= 1``).

    The masked-out targets are replaced by 2 before the logarithms, so that neither the
    value nor the gradient picks up log(0) or log of a negative number.
    """
    keep = xp.logical_not(t <= 1)
    safe = xp.where(keep, t, xp.full_like(t, 2.0))
    term = safe * xp.log(safe) - safe + 0.5 * xp.log((2.0 * math.pi) * safe)
    return xp.where(keep, term, xp.zeros_like(term))


@loss_record(cls="PoissonNLLLoss", family="likelihood", mean="the number of terms")
def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-08,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Negative log-likelihood of a Poisson distribution with rate ``input``.

    .. math::
        \ell_i = \begin{cases} e^{x_i} - t_i\,x_i & \text{log_input} \\
        x_i - t_i \log(x_i + \varepsilon) & \text{otherwise} \end{cases}
        \; + \; [\text{full} \wedge t_i > 1]\,
        \left(t_i \log t_i - t_i + \tfrac12 \log(2\pi t_i)\right)

    Parameters
    ----------
    input : array
        The rate: its logarithm when ``log_input`` is True, the rate itself otherwise.
    target : array
        Observed counts, broadcastable with ``input``.
    log_input : bool, default True
        Whether ``input`` is the log of the rate.
    full : bool, default False
        Add Stirling's approximation of ``log(t!)``, only where ``t > 1`` (as torch).
    {legacy}
    eps : float, default 1e-8
        Added to ``input`` before its logarithm; used only when ``log_input`` is False.
    {reduction}
        'elementwise_mean' is rejected (torch checks the string itself here).
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)``; output ``()``, or the broadcast shape for 'none'.

    Integer (and mixed integer) inputs are computed and returned in float32, as torch's
    default dtype; float16 and bfloat16 are computed in float32 and rounded once.
    With ``full``, the Stirling term is evaluated on a sanitised target, so values and
    gradients are finite wherever ``t <= 1``; torch's own gradient with respect to the
    target is NaN at ``t <= 0`` there (parity notes; on torch tensors the native kernel,
    and so torch's gradient, is used).  Complex inputs raise ``TypeError``.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.log(np.array([1.0, 2.0, 4.0]))
    >>> t = np.array([0.0, 2.0, 5.0])
    >>> al.poisson_nll_loss(x, t, reduction="none").round(4)
    array([ 1.    ,  0.6137, -2.9315])
    >>> round(float(al.poisson_nll_loss(x, t, full=True)), 4)
    1.3683
    """
    backend, native, input, target, _, _ = dispatch("poisson_nll_loss", xp, reduction, input, target)
    xp = backend.xp
    if native is not None:
        out = native(input, target, log_input, full, size_average, eps, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "poisson_nll_loss")
    reduction = _reduction.resolve(size_average, reduce, reduction)
    reduction = _reduction.check_strict(reduction, "{} is not a valid value for reduction")
    _checks.broadcast_shapes(target.shape, input.shape)
    if log_input:
        if _xp.isdtype(xp, target.dtype, "bool") and _xp.isdtype(xp, input.dtype, "bool"):
            _checks.check_subtraction(xp, xp.float32, xp.bool)
    else:
        _checks.check_subtraction(xp, input.dtype, xp.float32)
    dtype = _poisson_dtype(xp, input, target, log_input)
    work = _xp.compute_dtype(xp, dtype)
    with backend.quiet_floating_point():
        x = _xp.astype(xp, input, work)
        t = _xp.astype(xp, target, work)
        # exp(x), log(x + eps) and the Stirling term are evaluated in their operand's own
        # float dtype, as torch does, even when the other operand promotes the result.
        x_own = _xp.astype(xp, input, _xp.compute_dtype(xp, _float_of(xp, input.dtype)))
        if log_input:
            loss = _xp.astype(xp, xp.exp(x_own), work) - t * x
        else:
            loss = x - t * _xp.astype(xp, xp.log(x_own + eps), work)
        if full:
            t_own = _xp.astype(xp, target, _xp.compute_dtype(xp, _float_of(xp, target.dtype)))
            loss = loss + _xp.astype(xp, _stirling(xp, t_own), work)
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


# --- gaussian_nll_loss ----------------------------------------------------------------


def _check_negative_var(backend: Backend, var: Any) -> None:
    """torch's value check: a negative variance raises (only where values can be read)."""
    xp = backend.xp
    if _xp.isdtype(xp, var.dtype, "bool") or not backend.is_concrete(var):
        return
    zero = 0.0 if _xp.is_floating(xp, var.dtype) else 0
    negative = xp.any(var < zero)
    # Asked of the condition itself: under jax.jit a constant closed over by the traced
    # function still gives a traced comparison.
    if backend.is_concrete(negative) and bool(negative):
        raise ValueError("var has negative entry/entries")


def _var_shape(input_shape: tuple[int, ...], var_shape: tuple[int, ...]) -> bool:
    """torch's var shape rules; True when ``var`` gets a trailing unit dimension."""
    if var_shape == input_shape:
        return False
    if input_shape[:-1] == var_shape:
        return True
    # Same rank and the var sizes at the mismatching dimensions sum to 1: exactly one
    # dimension differs and var is 1 there (a broadcastable (1, 1) against (4, 3) fails).
    if len(input_shape) == len(var_shape) and (
        sum(v for i, v in zip(input_shape, var_shape, strict=True) if i != v) == 1
    ):
        return False
    raise ValueError("var is of incorrect size")


@loss_record(
    cls="GaussianNLLLoss",
    family="likelihood",
    mean="the number of terms",
    streaming=Streaming(batch_arrays=frozenset({"var"})),
)
def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-06,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Negative log-likelihood of a Gaussian with mean ``input`` and variance ``var``.

    .. math::
        \ell_i = \tfrac12 \left(\log v_i + \frac{(x_i - t_i)^2}{v_i}\right)
        \; + \; [\text{full}]\,\tfrac12 \log 2\pi, \qquad v_i = \max(\text{var}_i, \varepsilon)

    Parameters
    ----------
    input : array
        Predicted means, any floating (or integer) shape.
    target : array
        Observations, broadcastable with ``input`` (either may be the larger).
    var : array or float
        Non-negative variances: ``input``'s shape; ``input``'s shape without its last
        dimension (one variance per row); ``input``'s rank with exactly one dimension of
        size 1 where ``input``'s differs; or a Python number used for every element.
        Anything else raises ``ValueError('var is of incorrect size')``, even when it
        would broadcast.  A Python ``int`` is accepted (torch raises a ``TypeError``).
    full : bool, default False
        Add the constant ``½·log(2π)``.
    eps : float, default 1e-6
        The variance is clamped from below at ``eps``.  As in torch the clamp does not
        stop the gradient: it flows to ``var`` as if unclamped, evaluated at the clamped
        value.
    reduction : {'none', 'mean', 'sum'}, default 'mean'
        'mean' averages over every element of the broadcast loss.  Checked after ``var``
        (an unknown string raises ``ValueError``, e.g. ``'avg is not valid'``).
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(N, *)`` or ``(*)``, target like input or broadcastable with it, var
    like input, like input without its last dimension, or with one dimension of size 1;
    output ``()``, or the broadcast shape for 'none'.

    A negative entry of ``var`` raises ``ValueError('var has negative entry/entries')``
    before any shape check.  {lazy}  There a negative variance is clamped to ``eps`` like
    any other small one, and the loss is finite.

    Integer ``input``/``target`` with a floating (or Python number) ``var`` give float32,
    as in torch; an integer ``var`` array raises torch's ``RuntimeError``.  float16 and
    bfloat16 are computed in float32 and rounded once.  Complex inputs raise ``TypeError``.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> t = np.array([[1.5, 2.0], [2.0, 4.5]])
    >>> al.gaussian_nll_loss(x, t, np.array([0.5, 2.0]))
    array(0.140625)
    >>> al.gaussian_nll_loss(x, t, 1, reduction="sum")
    array(0.75)
    """
    if isinstance(var, int) and not isinstance(var, bool):
        # torch's own check fails on a Python int (parity notes); it means the same float.
        var = float(var)
    backend, native, input, target, var, _ = dispatch("gaussian_nll_loss", xp, reduction, input, target, var)
    if native is not None:
        out = native(input, target, var, full, eps, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "gaussian_nll_loss")
    xp = backend.xp
    target = _xp.number_as_array(xp, target, input)
    scalar_var = isinstance(var, float)
    if scalar_var:
        if var < 0:
            raise ValueError("var has negative entry/entries")
        # torch fills a var array like input, in input's dtype (float32 for integers).
        var_dtype, var_ndim = _float_of(xp, input.dtype), input.ndim
        var_shape: tuple[int, ...] = tuple(input.shape)
    elif hasattr(var, "dtype") and hasattr(var, "shape"):
        _check_negative_var(backend, var)
        var_dtype, var_shape = var.dtype, tuple(var.shape)
        if _var_shape(tuple(input.shape), var_shape):
            var = xp.expand_dims(var, axis=-1)
            var_shape = tuple(var.shape)
        var_ndim = var.ndim
    else:
        raise TypeError(f"var must be an array or a number, got {type(var).__name__}")
    reduction = _reduction.check_strict(reduction)
    if not _xp.is_floating(xp, var_dtype):
        raise RuntimeError(
            "result type Float can't be cast to the desired output type "
            + _CPP_TYPE_NAMES.get(_xp.dtype_name(var_dtype), _xp.dtype_name(var_dtype))
        )
    _checks.check_subtraction(xp, input.dtype, target.dtype)
    diff_shape = _checks.broadcast_shapes(input.shape, target.shape)
    _checks.broadcast_shapes(diff_shape, var_shape)
    diff_dtype = _checks.result_type_of(xp, (input.dtype, input.ndim), (target.dtype, target.ndim))
    quotient = _float_of(xp, _checks.result_type_of(xp, (diff_dtype, len(diff_shape)), (var_dtype, var_ndim)))
    dtype = _checks.result_type_of(xp, (var_dtype, var_ndim), (quotient, max(len(diff_shape), var_ndim)))
    work = _xp.compute_dtype(xp, dtype)
    eps = _checks.scalar_option(eps, var_dtype)  # torch clamps var with min=eps: a Scalar of var's dtype
    with backend.quiet_floating_point():
        d = _xp.astype(xp, input, work) - _xp.astype(xp, target, work)
        if scalar_var:
            # torch's var array: filled like input in var's dtype, clamped there.
            v = xp.full_like(input, var, dtype=var_dtype)
            v = _xp.astype(xp, backend.clamp_min(v, eps), work)
        else:
            clamped = _xp.astype(xp, backend.clamp_min(var, eps), work)
            v = _xp.astype(xp, var, work)
            # torch clamps under no_grad, so the gradient reaches var unchanged.
            v = backend.straight_through(v, clamped)
        loss = 0.5 * (xp.log(v) + (d * d) / v)
        if full:
            loss = loss + _HALF_LOG_2PI
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


# --- kl_div ---------------------------------------------------------------------------


@loss_record(
    cls="KLDivLoss",
    family="likelihood",
    mean="the number of terms ('batchmean': the batch size)",
    means=("mean", "batchmean"),
)
def kl_div(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
    *,
    xp: Any = None,
) -> Any:
    r"""Kullback-Leibler divergence of ``target`` from the log-probabilities ``input``.

    .. math::
        \ell_i = \begin{cases} t_i \log t_i - t_i\,x_i & \text{not log_target} \\
        e^{t_i} (t_i - x_i) & \text{log_target} \end{cases}

    with ``0·log 0 = 0``.

    Parameters
    ----------
    input : array
        Log-probabilities, any floating shape.
    target : array
        Probabilities (log-probabilities with ``log_target``), broadcastable with ``input``.
    {legacy}
        Quirk kept from torch: with a legacy argument *and* ``reduction='batchmean'``
        the legacy reduction is applied and the result is still divided by
        ``input.shape[0]``.
    reduction : {'none', 'batchmean', 'sum', 'mean'}, default 'mean'
        'batchmean' divides the sum by ``input.shape[0]`` (a 1-D input by its length, a
        0-D input not at all): the true KL divergence per sample.  'mean' divides by the
        number of elements and emits torch's ``UserWarning`` recommending 'batchmean'.
    log_target : bool, default False
        Whether ``target`` holds log-probabilities.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)``; output ``()``, or the broadcast shape for 'none'.

    A negative target gives NaN, and ``t = 0`` with ``x = −∞`` gives NaN, as in torch.
    Integer (and boolean) inputs raise ``RuntimeError('kl_div: Integral inputs not
    supported.')``.  Where ``t = 0`` the gradient with respect to the target is ``−input``
    (the ``0·log 0`` term contributes nothing); torch's is NaN there (parity notes; on
    torch tensors the native kernel, and so torch's gradient, is used).  float16 and
    bfloat16 are computed in float32 and rounded once.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> p = np.log(np.array([[0.4, 0.6], [0.3, 0.7]], dtype=np.float32))
    >>> q = np.array([[0.5, 0.5], [0.4, 0.6]], dtype=np.float32)
    >>> loss = al.kl_div(p, q, reduction="batchmean")  # torch prints tensor(0.0215)
    >>> loss.dtype, round(float(loss), 4)
    (dtype('float32'), 0.0215)
    """
    backend, native, input, target, _, _ = dispatch("kl_div", xp, reduction, input, target)
    xp = backend.xp
    if native is not None:
        out = native(input, target, size_average, reduce, reduction, log_target)
        if out is not NotImplemented:
            return out
        declined(backend, "kl_div")
    if size_average is not None or reduce is not None:
        applied = _reduction.resolve(size_average, reduce, reduction)
    else:
        if reduction == "mean":
            warnings.warn(_KL_MEAN_WARNING, UserWarning, stacklevel=2)
        applied = "sum" if reduction == "batchmean" else _reduction.check(reduction)
    if _xp.is_integral(xp, input.dtype) or _xp.is_integral(xp, target.dtype):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    _checks.broadcast_shapes(target.shape, input.shape)
    dtype = _checks.result_type(xp, target, input)
    work = _xp.compute_dtype(xp, dtype)
    with backend.quiet_floating_point():
        x = _xp.astype(xp, input, work)
        t = _xp.astype(xp, target, work)
        if log_target:
            loss = xp.exp(t) * (t - x)
        else:
            loss = _xp.xlogy(xp, t, t) - t * x
        loss = _reduction.apply(backend, loss, applied)
        if reduction == "batchmean":
            # A 0-D input has no batch: its 'batchmean' is the sum itself.
            loss = _reduction.divide(xp, loss, input.shape[0] if input.ndim else 1, reduction)
        return _xp.as_result(xp, loss, dtype)
