"""The backends every test runs on, behind one small interface.

A test never loops over backends: it takes the ``backend`` fixture, converts its
NumPy inputs with ``backend.asarray``, calls the loss with ``backend.call`` and reads
the result back with ``backend.to_numpy``.

The classes here are the test bed's ("beds"), not the library's backend classes in
``anyloss._backends``: a bed makes arrays of one library, a library backend computes on them.
Each bed has a ``name`` (the test id) and a one-line ``description``; the documentation's
list of tested backends is made from ``ALL``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import array_api_strict
import dask
import dask.array as da
import jax
import jax.numpy as jnp
import numpy as np
import torch

import anyloss

from .arrays import BFLOAT16, dtype_name, is_array
from .bed import Bed

jax.config.update("jax_enable_x64", True)

__all__ = ["ALL", "BFLOAT16", "Bed", "dtype_name", "is_array"]


class EarlyCompute(AssertionError):
    """A lazy backend computed something while the loss was being built."""


def _forbid_compute(*args: Any, **kwargs: Any) -> Any:
    raise EarlyCompute("dask computed while the loss graph was being built")


class NumpyBed(Bed):
    name = "numpy"
    description = "NumPy arrays (no bfloat16: NumPy has none)."
    unsupported = frozenset({"bfloat16"})
    array_type = np.ndarray

    def asarray(self, a: np.ndarray) -> Any:
        return a.copy()


class StrictBed(Bed):
    unsupported = frozenset({"float16", "bfloat16"})
    array_type = array_api_strict._array_object.Array

    def __init__(self, data_dependent_shapes: bool = True, device: str | None = None) -> None:
        self.data_dependent_shapes = data_dependent_shapes
        #: the strict namespace's device inputs are put on (None: its default device)
        self.device = None if device is None else array_api_strict.Device(device)
        self.name = "array_api_strict"
        self.description = "array-api-strict, the standard's reference namespace (no float16/bfloat16)."
        if not data_dependent_shapes:
            self.name += "_no_dds"
            self.description = "array-api-strict with data-dependent shapes and boolean indexing off."
        if device is not None:
            self.name += f"_{device}"
            self.description = (
                f"array-api-strict with every input on its second device, `{device}`: the result"
                " must be there too (an array made on the default device cannot mix with them)."
            )

    def asarray(self, a: np.ndarray) -> Any:
        return array_api_strict.asarray(a, device=self.device)

    def to_numpy(self, x: Any) -> np.ndarray:
        # Only arrays on the strict namespace's CPU device convert to NumPy.
        return np.asarray(x.to_device(array_api_strict.Device("CPU_DEVICE")))

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        if self.data_dependent_shapes:
            yield
            return
        array_api_strict.set_array_api_strict_flags(data_dependent_shapes=False, boolean_indexing=False)
        try:
            yield
        finally:
            array_api_strict.reset_array_api_strict_flags()


class DaskBed(Bed):
    name = "dask"
    description = "Dask arrays in two chunks; building the loss must not compute anything."
    lazy = True
    unsupported = frozenset({"bfloat16"})
    array_type = da.Array

    def asarray(self, a: np.ndarray) -> Any:
        # Two chunks along the batch axis, so chunk boundaries are exercised.
        chunks = tuple(max(1, (s + 1) // 2) if i == 0 else s for i, s in enumerate(a.shape))
        return da.from_array(a, chunks=chunks or ())

    def call(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        with dask.config.set(scheduler=_forbid_compute):
            return fn(*args, **kwargs)

    def to_numpy(self, x: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(x.compute(scheduler="sync"))


class TorchBed(Bed):
    differentiable = True
    array_type = torch.Tensor

    def __init__(self, native: bool) -> None:
        self.native = native
        self.name = "torch" if native else "torch_generic"
        self.description = (
            "torch tensors, through `torch.nn.functional`'s own kernel (the native fast path)."
            if native
            else "torch tensors through anyloss's generic body, which the tests prove equal to"
            " the fast path; its gradients are compared with torch autograd's."
        )

    def asarray(self, a: np.ndarray) -> Any:
        if a.dtype == BFLOAT16:
            return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
        return torch.from_numpy(a.copy())

    def to_numpy(self, x: Any) -> np.ndarray:
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        with anyloss.native_paths(self.native):
            yield

    def grad(self, fn, args, kwargs, wrt, cotangent):  # type: ignore[no-untyped-def]
        args, kwargs = list(args), dict(kwargs)
        leaves = []
        for key in wrt:
            holder = args if isinstance(key, int) else kwargs
            leaf = holder[key].detach().clone().requires_grad_(True)
            holder[key] = leaf
            leaves.append(leaf)
        with self.context():
            out = fn(*args, **kwargs)
        ct = torch.from_numpy(cotangent).to(out.dtype)
        grads = torch.autograd.grad((out * ct).sum(), leaves, allow_unused=True)
        return [
            np.zeros(leaf.shape) if g is None else self.to_numpy(g)
            for g, leaf in zip(grads, leaves, strict=True)
        ]


class JaxBed(Bed):
    differentiable = True
    array_type = jax.Array

    def __init__(self, jit: bool) -> None:
        self.jit = jit
        self.name = "jax_jit" if jit else "jax"
        self.description = (
            "JAX arrays under `jax.jit` (values traced); gradients with `jax.grad`."
            if jit
            else "JAX arrays, eagerly; gradients with `jax.grad` for the first 20 gradient cases of"
            " each loss (the bed under `jax.jit` differentiates the same body on every case)."
        )
        self.lazy = jit
        # Eager JAX compiles each operation for each new shape: its gradients cost a third of
        # the suite's time.  They come from the same body and jax.grad as under jax.jit, which
        # compares every case; here a representative subset.
        self.gradient_cases_per_loss = None if jit else 20

    def asarray(self, a: np.ndarray) -> Any:
        return jnp.asarray(a)

    def to_numpy(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        return x.astype(np.float32) if x.dtype == BFLOAT16 else x

    def _split(self, args: tuple, kwargs: dict) -> tuple[list, Callable[[list], tuple]]:
        """The array arguments (traced under jit) and a function rebuilding the full call."""
        keys = [i for i, a in enumerate(args) if isinstance(a, jax.Array)]
        keys += [k for k, v in kwargs.items() if isinstance(v, jax.Array)]

        def rebuild(values: list) -> tuple:
            a, kw = list(args), dict(kwargs)
            for key, value in zip(keys, values, strict=True):
                (a if isinstance(key, int) else kw)[key] = value
            return tuple(a), kw

        return [args[k] if isinstance(k, int) else kwargs[k] for k in keys], rebuild

    def call(self, fn, args, kwargs):  # type: ignore[no-untyped-def]
        if not self.jit:
            return fn(*args, **kwargs)
        values, rebuild = self._split(args, kwargs)

        def run(values: list) -> Any:
            a, kw = rebuild(values)
            return fn(*a, **kw)

        return jax.jit(run)(values)

    def grad(self, fn, args, kwargs, wrt, cotangent):  # type: ignore[no-untyped-def]
        def objective(leaves: list) -> Any:
            a, kw = list(args), dict(kwargs)
            for key, leaf in zip(wrt, leaves, strict=True):
                (a if isinstance(key, int) else kw)[key] = leaf
            out = fn(*a, **kw)
            return jnp.sum(out * jnp.asarray(cotangent, dtype=out.dtype))

        leaves = [args[k] if isinstance(k, int) else kwargs[k] for k in wrt]
        g = jax.grad(objective)
        if self.jit:
            g = jax.jit(g)
        return [self.to_numpy(x) for x in g(leaves)]


ALL = [
    NumpyBed(),
    TorchBed(native=True),
    TorchBed(native=False),
    JaxBed(jit=False),
    JaxBed(jit=True),
    DaskBed(),
    StrictBed(),
    StrictBed(data_dependent_shapes=False),
    StrictBed(device="device1"),
]
