"""Backend modules: the only code in anyloss that imports a framework.

Each backend is a small object found from the array namespace.  Frameworks are
imported lazily, on the first call that hands anyloss one of their arrays, so
``import anyloss`` imports nothing but NumPy and array-api-compat.

A loss body never asks which backend it runs on; it asks its backend for a
capability ("stop this gradient", "loop over time", "the native kernel").
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import array_api_compat as aac

from ._generic import Backend

__all__ = ["Backend", "backend_for", "native_paths", "native_function"]

_native_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "anyloss_native_paths", default=True
)
_cache: dict[int, Backend] = {}


def backend_for(xp: Any) -> Backend:
    """The backend object for an array-API namespace (cached per namespace)."""
    backend = _cache.get(id(xp))
    if backend is None:
        backend = _make_backend(xp)
        _cache[id(xp)] = backend
    return backend


def _make_backend(xp: Any) -> Backend:
    if aac.is_torch_namespace(xp):
        from ._torch import TorchBackend

        return TorchBackend(xp)
    if aac.is_jax_namespace(xp):
        from ._jax import JaxBackend

        return JaxBackend(xp)
    return Backend(xp)


@contextlib.contextmanager
def native_paths(enabled: bool) -> Iterator[None]:
    """Switch the native fast paths (``torch.nn.functional`` for torch tensors) on or off.

    With ``enabled=False`` every call runs the generic array-API body, whatever the
    backend; the test suite uses this to prove that a fast path equals the body.
    """
    token = _native_enabled.set(enabled)
    try:
        yield
    finally:
        _native_enabled.reset(token)


def native_function(xp: Any, name: str) -> Callable[..., Any] | None:
    """The backend's native implementation of loss ``name``, or None to run the generic body."""
    if not _native_enabled.get():
        return None
    return backend_for(xp).native(name)
