"""Delegation, written once: from a loss call's arrays to its backend and native kernel.

Every public loss function starts with :func:`dispatch`: the namespace of its arrays (from
their types alone for the usual all-tensor call, else array-api-compat's lookup, which also
takes NumPy arrays beside another library's arrays into that library), the
backend object of that namespace, which the body then asks for every capability, and the
backend's native kernel of the loss, unless native paths are switched off or the caller
asks for the two sides of a 'mean' (:func:`anyloss.mean_parts`), which only the generic
body has.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import _backends, _registry
from ._backends import Backend, backend_for, namespace_from_types
from ._checks import ADMITTED as _admitted
from ._checks import admit
from ._parts import MeanRequest
from ._xp import common_namespace, is_array, is_numpy_bool

__all__ = ["check_option_types", "check_static_options", "declined", "dispatch"]

_cache = _backends._cache  # the very dict backend_for fills


def dispatch(
    name: str,
    xp: Any,
    reduction: Any,
    first: Any,
    second: Any = None,
    third: Any = None,
    fourth: Any = None,
) -> tuple[Backend, Callable[..., Any] | None, Any, Any, Any, Any]:
    """``(backend, native, first, second, third, fourth)`` for a call of loss ``name``.

    ``xp`` is the call's explicit namespace (or None), ``reduction`` its reduction (a
    ``MeanRequest`` from :func:`anyloss.mean_parts` rules out the native kernel).  Up to four
    arrays; None stands for an optional array left out.  Four parameters rather than
    ``*arrays``: on torch tensors this runs on every call, where packing would cost as much
    as the rest.  The arrays come back as given, except NumPy arrays and scalars beside
    another library's arrays, which come back as arrays of that library
    (:func:`anyloss._xp.common_namespace`).  Every array is admitted by the one rule of
    :func:`anyloss._checks.admit` (complex, non-numeric and non-array arguments raise
    ``TypeError``).  Unless a native kernel takes the call, the options of the calling loss
    function are checked to be static (:func:`check_static_options`) and of torch's types
    (:func:`check_option_types`); a body whose kernel declines the call checks them
    (:func:`declined`).
    """
    ns = namespace_from_types(xp, first, second, third, fourth)
    if ns is None:
        ns, (first, second, third, fourth) = common_namespace((first, second, third, fourth), xp)
        admit(ns, name, (first, second, third, fourth))
        backend = _cache.get(id(ns)) or backend_for(ns)
        backend.check_shapes(first, second, third, fourth)
        if backend.options_may_be_traced and "jax" in sys.modules:  # nothing traces without JAX
            check_static_options(name, sys._getframe(1).f_locals)
        options_unchecked = False
    else:
        options_unchecked = True
        # The admission rule, answered from the admitted dtypes of the namespace: this runs
        # on every call of every loss.
        admitted = _admitted.get(id(ns))
        if (
            admitted is None
            or first.dtype not in admitted
            or second.dtype not in admitted
            or (third is not None and third.dtype not in admitted)
            or (fourth is not None and fourth.dtype not in admitted)
        ):
            admit(ns, name, (first, second, third, fourth))
        # backend_for's cache read inline: this runs on every call of every loss.
        backend = _cache.get(id(ns)) or backend_for(ns)
    native = None if type(reduction) is MeanRequest or not backend.native_enabled() else backend.native(name)
    # A native kernel checks its options itself (torch's), or declines a call whose options
    # are not the plain ones it takes (NumPy's), and the body then checks them: see declined.
    if native is None:
        if options_unchecked and backend.options_may_be_traced and "jax" in sys.modules:
            check_static_options(name, sys._getframe(1).f_locals)
        if backend.checks_option_types():
            check_option_types(name, sys._getframe(1).f_locals)
    return backend, native, first, second, third, fourth


def declined(backend: Backend, name: str) -> None:
    """The checks :func:`dispatch` leaves to a native kernel, made by the loss body when its
    kernel declined the call (returned ``NotImplemented``): the options static and of
    torch's types.  Reads the loss function's arguments from its frame, as dispatch does."""
    static = backend.options_may_be_traced and "jax" in sys.modules
    typed = backend.checks_option_types()  # not under torch.compile, which cannot read frames
    if static or typed:
        values = sys._getframe(1).f_locals
        if static:
            check_static_options(name, values)
        if typed:
            check_option_types(name, values)


#: The legacy reduction flags: options too, though not listed as such.
_LEGACY = ("size_average", "reduce")
_option_names: dict[str, tuple[str, ...]] = {}


def check_static_options(name: str, values: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` when an option of loss ``name`` in ``values`` (the loss function's
    arguments) is a value traced by ``jax.jit``.

    Options choose the computation (a branch, a shape, a constant torch checks), so they
    must be known when the loss is traced; a traced one would fail deep inside a body.
    """
    jax = sys.modules.get("jax")
    if jax is None:
        return  # nothing can be traced
    names = _option_names.get(name)
    if names is None:
        record = _registry.RECORDS[name]
        parameters = {p.name for p in record.parameters}
        names = _option_names[name] = (*record.options, *(n for n in _LEGACY if n in parameters))
    for option in names:
        if isinstance(values.get(option), jax.core.Tracer):
            raise TypeError(
                f"anyloss.{name}: the option {option!r} is a traced value (an argument of a "
                "function under jax.jit or another JAX transformation), but options are "
                "static, fixed when the loss is traced: bind it with "
                f"functools.partial(anyloss.{name}, {option}=...) or mark it static, "
                f"jax.jit(f, static_argnames=({option!r},))"
            )


#: The type torch's argument parser requires of each option it checks ('float' takes any
#: real number, 'int' any integer but a boolean, 'bool' only a boolean); the other options are checked
#: by the loss bodies, as torch's Python code checks them.
_OPTION_TYPES: dict[str, dict[str, str]] = {
    "nll_loss": {"ignore_index": "int"},
    "cross_entropy": {"ignore_index": "int", "label_smoothing": "float"},
    "linear_cross_entropy": {"ignore_index": "int or None", "label_smoothing": "float"},
    "ctc_loss": {"blank": "int", "zero_infinity": "bool"},
    "margin_ranking_loss": {"margin": "float"},
    "hinge_embedding_loss": {"margin": "float"},
    "cosine_embedding_loss": {"margin": "float"},
    "triplet_margin_loss": {"margin": "float", "p": "float", "eps": "float", "swap": "bool"},
    "poisson_nll_loss": {"log_input": "bool", "full": "bool", "eps": "float"},
    "gaussian_nll_loss": {"eps": "float"},
    "kl_div": {"log_target": "bool"},
    "multi_margin_loss": {"margin": "float"},
}
#: The losses whose torch code raises TypeError (not ValueError) for a reduction that is not
#: a string: it adds the reduction to a string before checking it.
_REDUCTION_TYPE_ERRORS = frozenset({"poisson_nll_loss", "gaussian_nll_loss", "multilabel_soft_margin_loss"})
_ACCEPTS: dict[str, Callable[[Any], bool]] = {
    # torch's parser reads a NumPy boolean as the number it stands for, as a Python one.
    "float": lambda v: isinstance(v, numbers.Real) or is_numpy_bool(v),
    "int": lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "int or None": lambda v: v is None or (isinstance(v, numbers.Integral) and not isinstance(v, bool)),
    "bool": lambda v: isinstance(v, bool),  # torch refuses a NumPy boolean here
}
#: The options torch reads only for their truth (``if full:``), whatever their type.
_TRUTH_FLAGS = {"gaussian_nll_loss": ("full",), "triplet_margin_with_distance_loss": ("swap",)}
#: The range of the int64 that torch's parser unpacks an integer option into.
_INT64 = (-(2**63), 2**63)


#: The options of each loss that are numbers (not its reduction, not a flag read for its truth).
_numeric_options: dict[str, tuple[str, ...]] = {}
#: The types of the usual option values, which no check of the numeric options refuses.
_PLAIN = frozenset({bool, int, float, str, type(None)})


def _check_numeric_options(name: str, values: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` for a numeric option of loss ``name`` that is complex or an array.

    torch makes a NumPy complex scalar real by dropping its imaginary part (a silent wrong
    answer), and reads the value of a 0-d tensor, which a lazy or traced array does not have
    when the loss is built; both are refused in every loss (parity notes).  The reduction and
    the flags torch reads for their truth are not numbers, and are left to torch's rules.
    """
    names = _numeric_options.get(name)
    if names is None:
        flags = _TRUTH_FLAGS.get(name, ())
        options = _registry.RECORDS[name].options
        names = _numeric_options[name] = tuple(o for o in options if o != "reduction" and o not in flags)
    for option in names:
        value = values.get(option)
        if type(value) in _PLAIN:  # this runs on every call that no native kernel takes
            continue
        if is_array(value) and not isinstance(value, numbers.Number) and not is_numpy_bool(value):
            raise TypeError(
                f"anyloss.{name}: the option {option!r} must be a Python or NumPy number, not an "
                f"array ({type(value).__name__}): options are fixed when the loss is built"
            )
        if isinstance(value, numbers.Complex) and not isinstance(value, numbers.Real):
            raise TypeError(f"anyloss.{name}: the option {option!r} must be real, not {type(value).__name__}")


def check_option_types(name: str, values: Mapping[str, Any]) -> None:
    """Raise ``TypeError`` where torch's argument parser refuses an option of loss ``name``
    for its type (a float ``ignore_index``, a string ``margin``, a ``None`` flag), and for a
    reduction that is not a string where torch's code does.  ``values``: the loss
    function's arguments.  A complex or array option raises ``TypeError`` in every loss, and
    an integer option beyond int64 torch's ``ValueError``."""
    _check_numeric_options(name, values)
    for option, kind in _OPTION_TYPES.get(name, {}).items():
        value = values.get(option)
        if value is None and name == "gaussian_nll_loss":
            # torch clamps the variance with min=eps: no bound at all is its RuntimeError.
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        if not _ACCEPTS[kind](value):
            raise TypeError(
                f"anyloss.{name}: the option {option!r} must be {kind}, not {type(value).__name__}"
            )
        if kind.startswith("int") and value is not None and not _INT64[0] <= int(value) < _INT64[1]:
            raise ValueError(
                f"anyloss.{name}: the option {option!r} is beyond int64: Overflow when unpacking long long"
            )
    if (
        name in _REDUCTION_TYPE_ERRORS
        and not isinstance(values.get("reduction"), str)
        and values.get("size_average") is None
        and values.get("reduce") is None
    ):
        raise TypeError(
            f"anyloss.{name}: the option 'reduction' must be a string, "
            f"not {type(values.get('reduction')).__name__}"
        )
