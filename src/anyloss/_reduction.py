"""Reductions, written once: torch's reduction strings, the legacy size_average/reduce, and
every 'mean' as one numerator over one denominator (:func:`divide`)."""

from __future__ import annotations

import warnings
from typing import Any

from . import _xp
from ._backends import Backend, backend_for
from ._parts import MeanParts, MeanRequest

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


def divide(xp: Any, numerator: Any, denominator: Any, reduction: str) -> Any:
    """A loss's 'mean': ``numerator / denominator``, or both as :class:`MeanParts` when the
    caller asked for them (:func:`anyloss.mean_parts`).

    Every 'mean' of every loss comes through here, so the ratio of the parts is the loss's
    'mean' to the last bit: the very division, of the very arrays.
    """
    if type(reduction) is MeanRequest:
        numerator = _xp.as_result(xp, numerator, numerator.dtype)
        # A count is a Python int; asked by type, not by array-api-compat's is_array_api_obj,
        # whose lru_cache torch.compile warns about.
        if isinstance(denominator, (int, float)):
            device = backend_for(xp).device(numerator)
            denominator = xp.asarray(denominator, dtype=numerator.dtype, device=device)
        else:
            denominator = _xp.as_result(xp, denominator, numerator.dtype)
        return MeanParts(numerator, denominator)
    return numerator / denominator


def divide_by_count(xp: Any, numerator: Any, count: int, reduction: str) -> Any:
    """:func:`divide` by a number of terms; NaN when there are none, as torch's 0/0, without
    NumPy's warning (the parts of no terms are 0 and 0)."""
    if count == 0 and type(reduction) is not MeanRequest:
        return xp.full((), float("nan"), dtype=numerator.dtype, device=_xp.device(numerator))
    return divide(xp, numerator, count, reduction)


def divide_unless_empty(xp: Any, total: Any, count: int, reduction: str) -> Any:
    """:func:`divide` by a number of terms, but the total itself when there are none (the
    margin losses' 'mean' of an empty batch is torch's 0; its parts are 0 and 0)."""
    if count == 0 and type(reduction) is not MeanRequest:
        return total
    return divide(xp, total, count, reduction)


def mean(backend: Backend, loss: Any, reduction: str = "mean") -> Any:
    """The mean of every element; NaN for an empty array, as torch (0/0)."""
    return divide_by_count(backend.xp, backend.sum_all(loss), _xp.numel(loss.shape), reduction)


def apply(backend: Backend, loss: Any, reduction: str) -> Any:
    """Reduce an elementwise loss by 'none', 'mean' or 'sum'."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return backend.sum_all(loss)
    return mean(backend, loss, reduction)
