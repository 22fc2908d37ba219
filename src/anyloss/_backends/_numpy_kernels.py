"""NumPy's native kernels: the elementwise losses' usual call, decided in a few type checks.

A loss body validates its arguments as torch does, one check at a time, which on a small
array costs several times the arithmetic.  Most calls have one signature that needs none
of those checks: two non-empty NumPy arrays of one shape (not 0-D) and one dtype, float32 or float64,
the reduction one of torch's three strings, the legacy flags and the optional arrays left
out, the options plain Python numbers and flags in their usual range.  For that signature
the kernels here compute the body's own formula, operation for operation (so to the last
bit), in ufuncs writing into the temporaries they own.  Any other call, and every call
whose values a check must read (a probability outside [0, 1], say), is declined
(``NotImplemented``) and runs the body, which then checks everything as it always does.

``anyloss.native_paths(False)`` switches these off as it switches off torch's kernels;
``tests/test_native_path.py`` proves each equal to the body on every case of the tables.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

_FLOATS = frozenset({np.dtype(np.float32), np.dtype(np.float64)})
_REDUCTIONS = frozenset({"none", "mean", "sum"})
#: torch's floor under each log of binary_cross_entropy.
_LOG_FLOOR = -100.0
#: gaussian_nll_loss's constant with full=True.
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _plain(input: Any, target: Any, reduction: Any, *absent: Any) -> bool:
    """The usual signature: two non-empty NumPy arrays of one shape (at least one axis: the
    ufuncs of a 0-D array return scalars, which cannot be written into) and one float dtype,
    one of the three reductions, and the arguments ``absent`` (the legacy flags, optional
    arrays) left out."""
    for a in absent:
        if a is not None:
            return False
    return (
        type(input) is np.ndarray
        and type(target) is np.ndarray
        and input.dtype in _FLOATS
        and target.dtype == input.dtype
        and input.shape == target.shape
        and input.ndim != 0
        and input.size != 0
        and type(reduction) is str
        and reduction in _REDUCTIONS
    )


def _like(a: Any, like: Any) -> bool:
    """A third array of the usual call: a NumPy array of ``like``'s dtype and shape."""
    return type(a) is np.ndarray and a.dtype == like.dtype and a.shape == like.shape


#: The options a kernel takes are plain Python numbers below this in magnitude: far inside
#: every float dtype the kernels compute in, so none of torch's conversion checks of a
#: Scalar (an overflow to float32, an int beyond int64) can apply.  Others go to the body.
_MODERATE = 1e30


def _moderate(value: Any) -> bool:
    """A plain Python number (not a bool), finite and below ``_MODERATE`` in magnitude."""
    return type(value) in (float, int) and -_MODERATE < value < _MODERATE


def _positive(value: Any) -> bool:
    """A moderate number above 0 (NaN is not)."""
    return _moderate(value) and value > 0


def _reduced(loss: Any, reduction: str) -> Any:
    """The body's reduction of a float array of terms (``_reduction.apply``)."""
    if reduction == "none":
        return loss
    total = np.add.reduce(loss, axis=None)
    return np.asarray(total / loss.size if reduction == "mean" else total)


def _abs_difference(input: Any, target: Any) -> Any:
    d = np.subtract(input, target)
    return np.abs(d, out=d)


def l1_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, weight: Any) -> Any:
    if not _plain(input, target, reduction, weight, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        return _reduced(_abs_difference(input, target), reduction)


def mse_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, weight: Any) -> Any:
    if not _plain(input, target, reduction, weight, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        d = np.subtract(input, target)
        return _reduced(np.multiply(d, d, out=d), reduction)


def _quadratic_then_linear(z: Any, bound: float, quadratic: float, slope: float) -> Any:
    """The body's ``where(z < bound, quadratic·(z·z), slope·(z − bound/2))``."""
    square = np.multiply(z, z)
    square *= quadratic
    linear = np.subtract(z, 0.5 * bound)
    if slope != 1.0:
        linear *= slope
    np.copyto(linear, square, where=z < bound)
    return linear


def smooth_l1_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, beta: Any) -> Any:
    if not _positive(beta) or not _plain(input, target, reduction, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        z = _abs_difference(input, target)
        return _reduced(_quadratic_then_linear(z, beta, 0.5 / beta, 1.0), reduction)


def huber_loss(input: Any, target: Any, reduction: Any, delta: Any, weight: Any) -> Any:
    if not _positive(delta) or not _plain(input, target, reduction, weight):
        return NotImplemented
    with np.errstate(all="ignore"):
        z = _abs_difference(input, target)
        return _reduced(_quadratic_then_linear(z, delta, 0.5, delta), reduction)


def soft_margin_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any) -> Any:
    if not _plain(input, target, reduction, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        z = np.multiply(input, target)
        np.negative(z, out=z)
        np.exp(z, out=z)
        return _reduced(np.log1p(z, out=z), reduction)


def _in_unit_interval(x: Any) -> bool:
    """Every value in [0, 1] (NaN is not): the body's check, which raises otherwise."""
    return bool(np.minimum.reduce(x, axis=None) >= 0) and bool(np.maximum.reduce(x, axis=None) <= 1)


def binary_cross_entropy(
    input: Any, target: Any, weight: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    if (
        not _plain(input, target, reduction, weight, size_average, reduce)
        or not _in_unit_interval(input)
        or not _in_unit_interval(target)
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        # (t − 1)·max(log1p(−x), −100) − t·max(log(x), −100)
        below = np.negative(input)
        np.log1p(below, out=below)
        np.maximum(below, _LOG_FLOOR, out=below)
        below *= np.subtract(target, 1.0)
        above = np.log(input)
        np.maximum(above, _LOG_FLOOR, out=above)
        above *= target
        below -= above
        return _reduced(below, reduction)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any,
    size_average: Any,
    reduce: Any,
    reduction: Any,
    pos_weight: Any,
) -> Any:
    if not _plain(input, target, reduction, weight, pos_weight, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        # (1 − t)·x + softplus(−x), softplus(v) = log1p(exp(−|v|)) + max(v, 0)
        softplus = np.abs(input)
        np.negative(softplus, out=softplus)
        np.exp(softplus, out=softplus)
        np.log1p(softplus, out=softplus)
        softplus += np.maximum(np.negative(input), 0)
        loss = np.subtract(1.0, target)
        loss *= input
        loss += softplus
        return _reduced(loss, reduction)


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: Any,
    full: Any,
    size_average: Any,
    eps: Any,
    reduce: Any,
    reduction: Any,
) -> Any:
    if (
        full is not False
        or type(log_input) is not bool
        or type(eps) is not float
        or not _moderate(eps)
        or not _plain(input, target, reduction, size_average, reduce)
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        if log_input:  # exp(x) − t·x
            loss = np.exp(input)
            loss -= np.multiply(target, input)
        else:  # x − t·log(x + eps)
            log = np.add(input, eps)
            np.log(log, out=log)
            log *= target
            loss = np.subtract(input, log)
        return _reduced(loss, reduction)


def kl_div(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, log_target: Any) -> Any:
    # 'mean' warns on every call (torch's advice to use 'batchmean'): the body says it.
    batchmean = reduction == "batchmean"
    if (
        type(log_target) is not bool
        or reduction == "mean"
        or not _plain(input, target, "sum" if batchmean else reduction, size_average, reduce)
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        if log_target:  # exp(t)·(t − x)
            loss = np.exp(target)
            loss *= np.subtract(target, input)
        else:  # xlogy(t, t) − t·x, with 0·log(0) = 0
            zero = target == 0
            loss = np.log(np.where(zero, 1.0, target))
            loss *= target
            np.copyto(loss, 0.0, where=zero)
            loss -= np.multiply(target, input)
        if batchmean:
            total = np.add.reduce(loss, axis=None)
            return np.asarray(total / (input.shape[0] if input.ndim else 1))
        return _reduced(loss, reduction)


def gaussian_nll_loss(input: Any, target: Any, var: Any, full: Any, eps: Any, reduction: Any) -> Any:
    if (
        type(full) is not bool
        or type(eps) is not float
        or not _moderate(eps)
        or not _plain(input, target, reduction)
        or not _like(var, input)
        or not np.minimum.reduce(var, axis=None) >= 0  # the body raises for a negative var
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        # 0.5·(log(v) + (x − t)²/v) (+ log(2π)/2), v = max(var, eps)
        v = np.maximum(var, np.asarray(eps, dtype=var.dtype))
        d = np.subtract(input, target)
        np.multiply(d, d, out=d)
        np.divide(d, v, out=d)
        loss = np.log(v, out=v)
        loss += d
        loss *= 0.5
        if full:
            loss += _HALF_LOG_2PI
        return _reduced(loss, reduction)


def margin_ranking_loss(
    input1: Any, input2: Any, target: Any, margin: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    if (
        not _moderate(margin)
        or not _plain(input1, input2, reduction, size_average, reduce)
        or not _like(target, input1)
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        # max(m − t·(x1 − x2), 0)
        loss = np.subtract(input1, input2)
        loss *= target
        np.subtract(float(margin), loss, out=loss)
        return _reduced(np.maximum(loss, 0, out=loss), reduction)


def multi_margin_loss(
    input: Any,
    target: Any,
    p: Any,
    margin: Any,
    weight: Any,
    size_average: Any,
    reduce: Any,
    reduction: Any,
) -> Any:
    if (
        weight is not None
        or size_average is not None
        or reduce is not None
        or type(p) is not int
        or p not in (1, 2)
        or not _moderate(margin)
        or type(input) is not np.ndarray
        or input.ndim != 2
        or input.dtype not in _FLOATS
        or 0 in input.shape
        or type(target) is not np.ndarray
        or target.dtype != np.int64
        or target.shape != input.shape[:1]
        or type(reduction) is not str
        or reduction not in _REDUCTIONS
        or not (np.minimum.reduce(target) >= 0 and np.maximum.reduce(target) < input.shape[1])
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        # Σ_j≠t max(0, margin − x_t + x_j)^p / C, the target's own column zeroed
        rows = np.arange(input.shape[0])
        hinge = np.subtract(margin, input[rows, target])[:, None] + input
        np.fmax(hinge, 0, out=hinge)  # NaN gives 0, as torch's ``if (z > 0)``
        hinge[rows, target] = 0
        if p == 2:
            np.multiply(hinge, hinge, out=hinge)
        loss = np.add.reduce(hinge, axis=1)
        loss /= input.shape[1]
        return _reduced_rows(loss, reduction)


def _reduced_rows(loss: Any, reduction: str) -> Any:
    """The margin losses' reduction of one term per row (non-empty)."""
    if reduction == "none":
        return loss
    total = np.add.reduce(loss)
    return np.asarray(total / loss.shape[0] if reduction == "mean" else total)


KERNELS: dict[str, Callable[..., Any]] = {
    kernel.__name__: kernel
    for kernel in (
        l1_loss,
        mse_loss,
        smooth_l1_loss,
        huber_loss,
        soft_margin_loss,
        binary_cross_entropy,
        binary_cross_entropy_with_logits,
        poisson_nll_loss,
        gaussian_nll_loss,
        kl_div,
        margin_ranking_loss,
        multi_margin_loss,
    )
}
