"""Reductions, written once: torch's reduction strings and the legacy size_average/reduce."""

from __future__ import annotations

import warnings
from typing import Any, Literal

from . import _xp

Reduction = Literal["none", "mean", "sum"]

_VALID = ("none", "mean", "sum")


def legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """torch's ``_Reduction.legacy_get_string``: None counts as True, and a warning names the result."""
    if size_average is None:
        size_average = True
    if reduce is None:
        reduce = True
    if size_average and reduce:
        reduction = "mean"
    elif reduce:
        reduction = "sum"
    else:
        reduction = "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
        UserWarning,
        stacklevel=4,
    )
    return reduction


def resolve(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """The reduction in force: the legacy arguments override ``reduction`` when either is given."""
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    return reduction


def check(reduction: str, *, allowed: tuple[str, ...] = _VALID) -> str:
    """torch's ``_Reduction.get_enum``: validates, and maps the deprecated 'elementwise_mean'."""
    if reduction in allowed:
        return reduction
    if reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            UserWarning,
            stacklevel=3,
        )
        return "mean"
    raise ValueError(f"{reduction} is not a valid value for reduction")


def resolve_checked(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """:func:`resolve` then :func:`check`: the reduction in force, validated."""
    return check(resolve(size_average, reduce, reduction))


def check_strict(reduction: str, message: str = "{} is not valid") -> str:
    """Validation of losses whose torch code compares strings itself (no 'elementwise_mean')."""
    if reduction not in _VALID:
        raise ValueError(message.format(reduction))
    return reduction


def mean(xp: Any, loss: Any) -> Any:
    """The mean of every element; NaN for an empty array, as torch (0/0), without NumPy's warning."""
    n = _xp.numel(loss.shape)
    if n == 0:
        return xp.full((), float("nan"), dtype=loss.dtype, device=_xp.device(loss))
    return _xp.sum_all(xp, loss) / n


def apply(xp: Any, loss: Any, reduction: str) -> Any:
    """Reduce an elementwise loss by 'none', 'mean' or 'sum'."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _xp.sum_all(xp, loss)
    return mean(xp, loss)
