"""Backend modules: the only code in anyloss that imports a framework.

Each backend is a small object found from the array namespace.  Frameworks are
imported lazily, on the first call that hands anyloss one of their arrays, so
``import anyloss`` imports nothing but NumPy and array-api-compat.

A loss body never asks which backend it runs on; it asks its backend for a
capability ("stop this gradient", "loop over time", "the native kernel").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import _switches
from ._generic import Backend, DaskBackend, NumPyBackend

__all__ = [
    "Backend",
    "backend_for",
    "namespace_for_type",
    "native_paths",
    "namespace_from_types",
]

_cache: dict[int, Backend] = {}


def backend_for(xp: Any) -> Backend:
    """The backend object for an array-API namespace (cached per namespace)."""
    backend = _cache.get(id(xp))
    if backend is None:
        backend = _make_backend(xp)
        _cache[id(xp)] = backend
    return backend


def _make_backend(xp: Any) -> Backend:
    # Namespaces are told apart by module name, not by array-api-compat's is_*_namespace:
    # those are lru_cache-wrapped, which torch.compile warns about when it traces them.
    name = getattr(xp, "__name__", "")
    if name in ("torch", "array_api_compat.torch"):
        from ._torch import TorchBackend

        return TorchBackend(xp)
    if name in ("jax.numpy", "array_api_compat.jax"):
        from ._jax import JaxBackend

        return JaxBackend(xp)
    if name in ("numpy", "array_api_compat.numpy"):
        return NumPyBackend(xp)
    if name in ("dask.array", "array_api_compat.dask.array"):
        return DaskBackend(xp)
    if name == MINDSPORE_NAMESPACE:
        return xp.MindSporeBackend(xp)
    return Backend(xp)


#: The module that is MindSpore's namespace (MindSpore has none of its own).
MINDSPORE_NAMESPACE = "anyloss._backends._mindspore"


def is_mindspore_type(kind: type) -> bool:
    """True for MindSpore's tensor types (told by module, so MindSpore is not imported)."""
    return kind.__module__.startswith("mindspore.") and issubclass_by_name(kind, "Tensor")


def issubclass_by_name(kind: type, name: str) -> bool:
    return any(base.__name__ == name for base in kind.__mro__)


def namespace_for_type(kind: type) -> Any:
    """The namespace of an array type array-api-compat would pick, for types known here.

    Saves the general lookup (and its lru_cache, which torch.compile warns about) for
    NumPy arrays and torch tensors, whose namespace is the first thing every call needs.
    """
    if kind is np.ndarray:
        import array_api_compat.numpy

        return array_api_compat.numpy
    if kind.__module__ == "torch" and kind.__name__ in ("Tensor", "Parameter"):
        import array_api_compat.torch

        return array_api_compat.torch
    if is_mindspore_type(kind):
        from . import _mindspore

        return _mindspore
    return None


# The namespace of each exact array type seen by namespace_from_types: None for a type whose
# namespace namespace_for_type does not know.
_plain: dict[type, Any] = {}


def namespace_from_types(xp: Any, first: Any, second: Any, third: Any = None, fourth: Any = None) -> Any:
    """The namespace of a call's arrays when their types alone tell it; None otherwise.

    The common call on NumPy arrays or torch tensors, decided in a few type checks: ``xp``
    not given, ``first`` and ``second`` of one exact type that :func:`namespace_for_type`
    knows (``numpy.ndarray``, ``torch.Tensor``), ``third`` and ``fourth`` of that type too or None (optional
    arrays left out).  For any other call the caller asks ``common_namespace``, which
    gives the same namespace wherever this one gives one.  Four parameters rather than
    ``*arrays``: packing the arguments would cost as much as the checks.
    """
    if xp is not None:
        return None
    kind = type(first)
    ns = _plain.get(kind)
    if ns is None:
        if kind in _plain:
            return None
        ns = _plain[kind] = namespace_for_type(kind)
        if ns is None:
            return None
    if (
        type(second) is not kind
        or (third is not None and type(third) is not kind)
        or (fourth is not None and type(fourth) is not kind)
    ):
        return None
    return ns


@contextlib.contextmanager
def native_paths(enabled: bool) -> Iterator[None]:
    """Switch the native fast paths (``torch.nn.functional`` for torch tensors, anyloss's
    kernels of the elementwise losses' usual call for NumPy arrays) on or off.

    With ``enabled=False`` every call runs the generic array-API body, whatever the
    backend; the test suite uses this to prove that a fast path equals the body.

    The switch holds for the calls of the current thread or asyncio task only (a context
    variable); blocks nest, and blocks in other threads or tasks do not affect it.  Code
    compiled by ``torch.compile`` reads the setting of the innermost block entered in its
    thread, and is traced again when that setting changes.

    Parameters
    ----------
    enabled : bool
        Whether calls inside the block may take the native kernels.

    Returns
    -------
    contextlib.AbstractContextManager
        Used in a ``with`` statement; the previous setting is restored when the block
        ends, also by an exception.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x, t = np.array([0.5, 2.0]), np.array([1.0, 1.0])
    >>> with al.native_paths(False):
    ...     generic = al.l1_loss(x, t)
    >>> bool(generic == al.l1_loss(x, t))
    True
    """
    token = _switches.native.set(bool(enabled))
    previous, _switches.per_thread.native = _switches.per_thread.native, bool(enabled)
    try:
        yield
    finally:
        _switches.per_thread.native = previous
        _switches.native.reset(token)
