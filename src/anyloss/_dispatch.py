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

from collections.abc import Callable
from typing import Any

from . import _backends
from ._backends import Backend, backend_for, namespace_from_types
from ._parts import MeanRequest
from ._xp import common_namespace

__all__ = ["dispatch"]

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
    (:func:`anyloss._xp.common_namespace`).
    """
    ns = namespace_from_types(xp, first, second, third, fourth)
    if ns is None:
        ns, (first, second, third, fourth) = common_namespace((first, second, third, fourth), xp)
        backend = _cache.get(id(ns)) or backend_for(ns)
        backend.check_shapes(first, second, third, fourth)
    else:
        # backend_for's cache read inline: this runs on every call of every loss.
        backend = _cache.get(id(ns)) or backend_for(ns)
    if type(reduction) is MeanRequest or not backend.native_enabled():
        return backend, None, first, second, third, fourth
    return backend, backend.native(name), first, second, third, fourth
