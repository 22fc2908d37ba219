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

import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import _backends, _registry
from ._backends import Backend, backend_for, namespace_from_types
from ._checks import ADMITTED as _admitted
from ._checks import admit
from ._parts import MeanRequest
from ._xp import common_namespace

__all__ = ["check_static_options", "dispatch"]

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
    ``TypeError``).  Off the all-tensor path, the options of the
    calling loss function are checked to be static (:func:`check_static_options`).
    """
    ns = namespace_from_types(xp, first, second, third, fourth)
    if ns is None:
        ns, (first, second, third, fourth) = common_namespace((first, second, third, fourth), xp)
        admit(ns, name, (first, second, third, fourth))
        backend = _cache.get(id(ns)) or backend_for(ns)
        backend.check_shapes(first, second, third, fourth)
        if backend.options_may_be_traced and "jax" in sys.modules:  # nothing traces without JAX
            check_static_options(name, sys._getframe(1).f_locals)
    else:
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
    if type(reduction) is MeanRequest or not backend.native_enabled():
        return backend, None, first, second, third, fourth
    return backend, backend.native(name), first, second, third, fourth


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
