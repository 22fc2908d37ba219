"""Delegation, written once: from a loss call's arrays to its backend and native kernel.

Every public loss function starts with :func:`dispatch`: the namespace of its arrays (from
their types alone for the usual all-tensor call, else array-api-compat's lookup), the
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
from ._xp import array_namespace

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
) -> tuple[Backend, Callable[..., Any] | None]:
    """``(backend, native)`` for a call of loss ``name`` on the given arrays.

    ``xp`` is the call's explicit namespace (or None), ``reduction`` its reduction (a
    ``MeanRequest`` from :func:`anyloss.mean_parts` rules out the native kernel).  Up to four
    arrays; None stands for an optional array left out.  Four parameters rather than
    ``*arrays``: on torch tensors this runs on every call, where packing would cost as much
    as the rest.
    """
    ns = namespace_from_types(xp, first, second, third, fourth)
    if ns is None:
        ns = array_namespace(first, second, third, fourth, xp=xp)
        backend = _cache.get(id(ns)) or backend_for(ns)
        backend.check_shapes(first, second, third, fourth)
    else:
        # backend_for's cache read inline: this runs on every call of every loss.
        backend = _cache.get(id(ns)) or backend_for(ns)
    if type(reduction) is MeanRequest or not backend.native_enabled():
        return backend, None
    return backend, backend.native(name)
