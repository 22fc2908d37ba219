"""What ``anyloss eval`` knows of each loss: how it is streamed, and its arrays and options.

:data:`SPECS` holds, per loss, which arrays are cut along the batch axis and how its
``'mean'`` is one global numerator over one global denominator (Σ over the chunks of
:attr:`Spec.numerator` over Σ of :attr:`Spec.denominator`).  :func:`loss_parameters`
reads the loss's arrays and options from its signature, and :func:`parse_options` turns
``NAME=VALUE`` strings into those options.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import anyloss

from .. import _xp
from ._common import EvalError

#: The parameters of a loss that are never options on the command line.
_NOT_OPTIONS = frozenset({"size_average", "reduce", "distance_function", "xp"})
#: Parameters with a default that are arrays (given as files, not as options).
_OPTIONAL_ARRAYS = frozenset({"weight", "pos_weight"})

Arrays = Mapping[str, Any]
Options = Mapping[str, Any]


def _float64(xp: Any, x: Any) -> Any:
    return xp.astype(x, xp.float64)


def _count(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """Elementwise losses: 'mean' divides by the number of loss terms."""
    return _xp.numel(tuple(none.shape))


def _weight_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """l1_loss and mse_loss with a weight: 'mean' is Σ w·ℓ / Σ w (torch 2.13)."""
    weight = arrays.get("weight")
    if weight is None:
        return _count(xp, arrays, options, none)
    return xp.sum(_float64(xp, xp.broadcast_to(weight, tuple(none.shape))))


def _class_weight_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """cross_entropy and nll_loss: Σ weight[target] over targets that are not ignored.

    Probability targets (floating, the input's shape) divide by the number of terms.
    """
    target = arrays["target"]
    if not _xp.is_integral(xp, target.dtype):
        return _count(xp, arrays, options, none)
    target = xp.reshape(target, (-1,))
    valid = target != options["ignore_index"]
    weight = arrays.get("weight")
    if weight is None:
        return xp.sum(_float64(xp, valid))
    index = xp.where(valid, target, xp.zeros_like(target))
    per_target = _float64(xp, xp.take(weight, xp.astype(index, xp.int64)))
    return xp.sum(xp.where(valid, per_target, xp.zeros_like(per_target)))


def _kl_div_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """kl_div: 'batchmean' divides by the batch size, 'mean' by the number of terms."""
    if options["reduction"] == "batchmean":
        return int(arrays["input"].shape[0])
    return _count(xp, arrays, options, none)


def _ctc_numerator(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    """ctc_loss 'mean': each sequence's loss over its target length (at least 1)."""
    if options["reduction"] != "mean":
        return xp.sum(_float64(xp, none))
    lengths = _float64(xp, xp.asarray(arrays["target_lengths"]))
    return xp.sum(_float64(xp, none) / xp.maximum(lengths, xp.ones_like(lengths)))


def _ctc_total(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    return _xp.numel(tuple(none.shape))


def _sum(xp: Any, arrays: Arrays, options: Options, none: Any) -> Any:
    return xp.sum(_float64(xp, none))


@dataclasses.dataclass(frozen=True)
class Spec:
    """How a loss is streamed.

    min_ndim:      the input's ndim from which its axis 0 is a batch axis (below it the
                   arrays are unbatched and go through the loss whole).
    batch_arrays:  arrays whose axis 0 is always the batch axis (class-index targets,
                   per-sample variances and lengths), whatever their ndim.
    class_arrays:  arrays indexed by class (never chunked).
    input_axis:    the batch axis of the first array (1 for ctc_loss's (T, N, C)).
    numerator, denominator: the global 'mean' as Σ numerator / Σ denominator over chunks.
    """

    min_ndim: int = 1
    batch_arrays: frozenset[str] = frozenset()
    class_arrays: frozenset[str] = frozenset()
    input_axis: int = 0
    numerator: Callable[..., Any] = _sum
    denominator: Callable[..., Any] = _count
    mean_rule: str = "the number of loss terms"


_ELEMENTWISE = Spec()
_ROWS = Spec(min_ndim=2, batch_arrays=frozenset({"target"}))
_CLASS_INDEX = Spec(
    min_ndim=2,
    batch_arrays=frozenset({"target"}),
    class_arrays=frozenset({"weight"}),
    denominator=_class_weight_total,
    mean_rule="Σ weight[target] over the targets that are not ignore_index "
    "(the number of terms for probability targets)",
)

#: Every loss anyloss eval knows; a loss whose function anyloss does not have is unknown.
SPECS: dict[str, Spec] = {
    "binary_cross_entropy": _ELEMENTWISE,
    "binary_cross_entropy_with_logits": _ELEMENTWISE,
    "cosine_embedding_loss": _ROWS,
    "cross_entropy": _CLASS_INDEX,
    "ctc_loss": Spec(
        min_ndim=3,
        batch_arrays=frozenset({"targets", "input_lengths", "target_lengths"}),
        input_axis=1,
        numerator=_ctc_numerator,
        denominator=_ctc_total,
        mean_rule="the batch size, after dividing each sequence's loss by its target length",
    ),
    "gaussian_nll_loss": Spec(batch_arrays=frozenset({"var"})),
    "hinge_embedding_loss": _ELEMENTWISE,
    "huber_loss": _ELEMENTWISE,
    "kl_div": Spec(
        denominator=_kl_div_total,
        mean_rule="the number of terms ('batchmean': the batch size)",
    ),
    "l1_loss": Spec(denominator=_weight_total, mean_rule="the number of terms (Σ weight with a weight)"),
    "margin_ranking_loss": _ELEMENTWISE,
    "mse_loss": Spec(denominator=_weight_total, mean_rule="the number of terms (Σ weight with a weight)"),
    "multi_margin_loss": Spec(
        min_ndim=2, batch_arrays=frozenset({"target"}), class_arrays=frozenset({"weight"})
    ),
    "multilabel_margin_loss": _ROWS,
    "multilabel_soft_margin_loss": Spec(min_ndim=2),
    "nll_loss": _CLASS_INDEX,
    "poisson_nll_loss": _ELEMENTWISE,
    "smooth_l1_loss": _ELEMENTWISE,
    "soft_margin_loss": _ELEMENTWISE,
    "triplet_margin_loss": Spec(min_ndim=2),
    "triplet_margin_with_distance_loss": Spec(min_ndim=2),
}


def available_losses() -> list[str]:
    """The losses of :data:`SPECS` that this anyloss has."""
    return sorted(name for name in SPECS if callable(getattr(anyloss, name, None)))


def loss_function(name: str) -> Callable[..., Any]:
    fn = getattr(anyloss, name, None) if name in SPECS else None
    if not callable(fn):
        known = ", ".join(available_losses())
        raise EvalError(f"unknown loss '{name}' (known: {known})")
    return fn


@dataclasses.dataclass(frozen=True)
class Parameters:
    arrays: tuple[str, ...]
    required: tuple[str, ...]
    options: dict[str, Any]


def loss_parameters(name: str) -> Parameters:
    """The loss's array parameters (required ones first) and its options with defaults."""
    signature = inspect.signature(loss_function(name))
    arrays, required, options = [], [], {}
    for p in signature.parameters.values():
        if p.name in _NOT_OPTIONS:
            continue
        if p.default is inspect.Parameter.empty:
            arrays.append(p.name)
            required.append(p.name)
        elif p.name in _OPTIONAL_ARRAYS:
            arrays.append(p.name)
        else:
            options[p.name] = p.default
    return Parameters(tuple(arrays), tuple(required), options)


def _parse_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, (int, float, str)) else text


def parse_options(name: str, items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings → the loss's options, every default filled in."""
    params = loss_parameters(name)
    options = dict(params.options)
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise EvalError(f"bad option '{item}': expected NAME=VALUE")
        if key not in params.options:
            valid = ", ".join(params.options) or "none"
            raise EvalError(f"unknown option '{key}' for {name} (options: {valid})")
        value, default = _parse_value(text), params.options[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise EvalError(f"bad value '{text}' for option {key}: expected true or false")
        if (
            isinstance(default, (int, float))
            and not isinstance(default, bool)
            and not (isinstance(value, (int, float)) and not isinstance(value, bool))
        ):
            raise EvalError(f"bad value '{text}' for option {key}: expected a number")
        if isinstance(default, str) and not isinstance(value, str):
            value = text
        options[key] = value
    if options.get("reduction") == "none":
        raise EvalError("reduction 'none' gives one value per term; anyloss eval reduces ('mean' or 'sum')")
    return options
