"""MindSpore: an adapter namespace for the generic bodies, and MindSpore's backend object.

MindSpore does not implement the Array API standard and array-api-compat has no namespace
for it, so this module is that namespace: it provides exactly the functions, dtypes and
helpers the generic bodies call, each written with ``mindspore.ops`` (whose kernels exist on
CPU; many of ``mindspore.mint``'s do not).  It is imported on the first call that hands
anyloss a MindSpore tensor, never by ``import anyloss``.

Results are MindSpore tensors of torch's dtypes.  Gradients are MindSpore's own autograd
(``mindspore.grad`` / ``mindspore.value_and_grad``): torch's hand-written backward rules
(BCE's clamp, the Gaussian variance clamp, CTC) reach it through ``ops.stop_gradient``, as
the generic capabilities write them.  MindSpore's reductions of a tensor with no elements
return uninitialised memory, so the reductions here give the empty sum (0) themselves.
"""

from __future__ import annotations

import builtins
import contextlib
import math
from typing import Any, NamedTuple

import mindspore as ms
import numpy as np
from mindspore import ops

from ._generic import Backend

Tensor = ms.Tensor

bool = ms.bool_  # noqa: A001 - the namespace's dtype names are the standard's
int8, int16, int32, int64, uint8 = ms.int8, ms.int16, ms.int32, ms.int64, ms.uint8
float16, bfloat16, float32, float64 = ms.float16, ms.bfloat16, ms.float32, ms.float64
complex64, complex128 = ms.complex64, ms.complex128

_NAMES = {
    ms.bool_: "bool",
    ms.int8: "int8",
    ms.int16: "int16",
    ms.int32: "int32",
    ms.int64: "int64",
    ms.uint8: "uint8",
    ms.float16: "float16",
    ms.bfloat16: "bfloat16",
    ms.float32: "float32",
    ms.float64: "float64",
    ms.complex64: "complex64",
    ms.complex128: "complex128",
}
_BY_NAME = {name: dtype for dtype, name in _NAMES.items()}
_KINDS = {
    "bool": ("bool",),
    "signed integer": ("int8", "int16", "int32", "int64"),
    "unsigned integer": ("uint8",),
    "integral": ("int8", "int16", "int32", "int64", "uint8"),
    "real floating": ("float16", "bfloat16", "float32", "float64"),
    "complex floating": ("complex64", "complex128"),
    "numeric": ("int8", "int16", "int32", "int64", "uint8", "float16", "bfloat16", "float32", "float64"),
}


def dtype_name(dtype: Any) -> str:
    return _NAMES[dtype]


def is_tensor(x: Any) -> builtins.bool:
    return isinstance(x, Tensor)


def isdtype(dtype: Any, kind: Any) -> builtins.bool:
    if isinstance(kind, tuple):
        return builtins.any(isdtype(dtype, k) for k in kind)
    if isinstance(kind, str):
        return _NAMES.get(dtype) in _KINDS[kind]
    return dtype == kind  # type: ignore[no-any-return]


def result_type(*dtypes: Any) -> Any:
    """Promotion within one category, as torch promotes (float16 with bfloat16 is float32)."""
    names = {_NAMES[d] for d in dtypes}
    if "bfloat16" in names and len(names) > 1:
        names.discard("bfloat16")
        names.add("float32" if names == {"float16"} else "float16")
    return _BY_NAME[str(np.result_type(*sorted(names)))]


class _Finfo(NamedTuple):
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: Any


def finfo(dtype: Any) -> _Finfo:
    if dtype == ms.bfloat16:  # 8 exponent bits and 7 fraction bits
        big = (2 - 2.0**-7) * 2.0**127
        return _Finfo(16, 2.0**-7, big, -big, 2.0**-126, dtype)
    info = np.finfo(_NAMES[dtype])
    return _Finfo(info.bits, float(info.eps), float(info.max), float(info.min), float(info.tiny), dtype)


class _Info:
    """What ``__array_namespace_info__()`` gives the bodies: the default dtypes."""

    def default_dtypes(self, device: Any = None) -> dict[str, Any]:
        return {"real floating": ms.float32, "integral": ms.int64, "indexing": ms.int64}

    def default_device(self) -> Any:
        return device_of(None)


def __array_namespace_info__() -> _Info:
    return _Info()


def device_of(x: Any) -> str:
    return str(ms.get_context("device_target"))


# --- creation --------------------------------------------------------------------------


builtins_bool = builtins.bool


def _python_dtype(value: Any) -> Any:
    if isinstance(value, builtins_bool):
        return ms.bool_
    if isinstance(value, int):
        return ms.int64
    return ms.float32


def asarray(value: Any, dtype: Any = None, device: Any = None, copy: Any = None) -> Any:
    if isinstance(value, Tensor):
        return value if dtype is None or value.dtype == dtype else ops.cast(value, dtype)
    if isinstance(value, np.ndarray | np.generic):
        if dtype is None:
            return Tensor(np.asarray(value))
        return ops.cast(Tensor(np.asarray(value)), dtype)
    return Tensor(value, dtype=_python_dtype(value) if dtype is None else dtype)


def zeros(shape: Any, dtype: Any = None, device: Any = None) -> Any:
    return ops.zeros(tuple(shape), ms.float32 if dtype is None else dtype)


def ones(shape: Any, dtype: Any = None, device: Any = None) -> Any:
    return ops.ones(tuple(shape), ms.float32 if dtype is None else dtype)


def _fill(dtype: Any, shape: Any, value: Any) -> Any:
    """``ops.fill``; bfloat16 filled in float32 and cast (MindSpore's CPU FillV2 has no bfloat16)."""
    if dtype == ms.bfloat16:
        return ops.cast(ops.fill(ms.float32, tuple(shape), value), ms.bfloat16)
    return ops.fill(dtype, tuple(shape), value)


def full(shape: Any, fill_value: Any, dtype: Any = None, device: Any = None) -> Any:
    dtype = _python_dtype(fill_value) if dtype is None else dtype
    return _fill(dtype, shape, fill_value)


def zeros_like(x: Any, dtype: Any = None, device: Any = None) -> Any:
    return ops.zeros(x.shape, x.dtype if dtype is None else dtype)


def ones_like(x: Any, dtype: Any = None, device: Any = None) -> Any:
    return ops.ones(x.shape, x.dtype if dtype is None else dtype)


def full_like(x: Any, fill_value: Any, dtype: Any = None, device: Any = None) -> Any:
    return _fill(x.dtype if dtype is None else dtype, x.shape, fill_value)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None, device: Any = None) -> Any:
    if stop is None:
        start, stop = 0, start
    values = np.arange(start, stop, step)
    return asarray(values, dtype=ms.int64 if dtype is None and values.dtype.kind == "i" else dtype)


# --- elementwise ------------------------------------------------------------------------


def _operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Python scalars become 0-D tensors of the other operand's dtype."""
    if not isinstance(a, Tensor):
        a = Tensor(a, dtype=b.dtype)
    if not isinstance(b, Tensor):
        b = Tensor(b, dtype=a.dtype)
    return a, b


def where(condition: Any, x1: Any, x2: Any) -> Any:
    x1, x2 = _operands(x1, x2)
    if x1.dtype != x2.dtype:
        common = result_type(x1.dtype, x2.dtype)
        x1, x2 = astype(x1, common), astype(x2, common)
    if x1.dtype == ms.bfloat16:  # MindSpore's CPU Select has no bfloat16 kernel; exact in float32
        return ops.cast(ops.where(condition, ops.cast(x1, ms.float32), ops.cast(x2, ms.float32)), ms.bfloat16)
    return ops.where(condition, x1, x2)


def astype(x: Any, dtype: Any, copy: Any = True) -> Any:
    return x if x.dtype == dtype else ops.cast(x, dtype)


def minimum(x1: Any, x2: Any) -> Any:
    return ops.minimum(*_operands(x1, x2))


def maximum(x1: Any, x2: Any) -> Any:
    return ops.maximum(*_operands(x1, x2))


def pow(x1: Any, x2: Any) -> Any:  # noqa: A001
    return ops.pow(x1, x2)


abs = ops.abs  # noqa: A001


_WIDER = {ms.float32: ms.float64, ms.bfloat16: ms.float32}


def _rounded_from_wider(op: Any) -> Any:
    """``op`` computed one precision up and rounded once.  float32: MindSpore's CPU float32
    ``exp``/``log`` are off by several ulps (and differ with the data's alignment), which a
    loss's cancellation takes beyond torch's float32 results.  bfloat16: MindSpore's CPU has
    no bfloat16 kernel; torch's computes in float32 and rounds."""

    def apply(x: Any) -> Any:
        wider = _WIDER.get(x.dtype)
        if wider is not None:
            return ops.cast(op(ops.cast(x, wider)), x.dtype)
        return op(x)

    apply.__name__ = op.__name__
    return apply


exp = _rounded_from_wider(ops.exp)
log = _rounded_from_wider(ops.log)
log1p = _rounded_from_wider(ops.log1p)
sqrt = ops.sqrt
tanh = ops.tanh


def isfinite(x: Any) -> Any:
    return ops.isfinite(ops.cast(x, ms.float32) if x.dtype == ms.bfloat16 else x)


def isnan(x: Any) -> Any:
    # MindSpore's CPU IsFinite and IsNan have no bfloat16 kernel; float32 holds every value.
    return ops.isnan(ops.cast(x, ms.float32) if x.dtype == ms.bfloat16 else x)


logical_not = ops.logical_not


# --- shapes -----------------------------------------------------------------------------


def reshape(x: Any, shape: Any, copy: Any = None) -> Any:
    return ops.reshape(x, tuple(shape))


def expand_dims(x: Any, axis: int = 0) -> Any:
    return ops.expand_dims(x, axis)


def squeeze(x: Any, axis: Any) -> Any:
    return ops.squeeze(x, axis)


def broadcast_to(x: Any, shape: Any) -> Any:
    return ops.broadcast_to(x, tuple(shape))


def concat(arrays: Any, axis: int = 0) -> Any:
    return ops.concat(tuple(arrays), axis)


def stack(arrays: Any, axis: int = 0) -> Any:
    return ops.stack(tuple(arrays), axis)


def matrix_transpose(x: Any) -> Any:
    return ops.swapaxes(x, -1, -2)


def matmul(x1: Any, x2: Any) -> Any:
    """bfloat16 products summed in float32 and rounded once, as torch's CPU matmul (MindSpore's
    CPU MatMul has no bfloat16 kernel)."""
    if x1.dtype == ms.bfloat16 and x2.dtype == ms.bfloat16:
        return ops.cast(ops.matmul(ops.cast(x1, ms.float32), ops.cast(x2, ms.float32)), ms.bfloat16)
    return ops.matmul(x1, x2)


def take(x: Any, indices: Any, axis: Any = None) -> Any:
    if axis is None:
        x, axis = ops.reshape(x, (-1,)), 0
    return ops.gather(x, indices, axis)


def take_along_axis(x: Any, indices: Any, axis: int = -1) -> Any:
    if x.dtype == ms.bfloat16:  # MindSpore's CPU GatherD has no bfloat16 kernel; exact in float32
        return ops.cast(ops.gather_elements(ops.cast(x, ms.float32), axis % x.ndim, indices), x.dtype)
    return ops.gather_elements(x, axis % x.ndim, indices)


# --- reductions ---------------------------------------------------------------------------


def _axes(x: Any, axis: Any) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    return tuple(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def _empty_result(x: Any, axis: Any, keepdims: builtins.bool, value: Any, dtype: Any) -> Any:
    axes = _axes(x, axis)
    shape = tuple((1 if i in axes else s) for i, s in enumerate(x.shape) if keepdims or i not in axes)
    return _fill(dtype, shape, value)


def _sum_dtype(dtype: Any) -> Any:
    return ms.int64 if isdtype(dtype, ("bool", "integral")) else dtype


def _in_float32(reduce: Any, x: Any, *args: Any) -> Any:
    """A bfloat16 reduction as torch's CPU kernels do it: in float32, rounded once at the end."""
    if x.dtype != ms.bfloat16:
        return reduce(x, *args)
    return ops.cast(reduce(ops.cast(x, ms.float32), *args), ms.bfloat16)


def sum(x: Any, axis: Any = None, dtype: Any = None, keepdims: builtins_bool = False) -> Any:  # noqa: A001
    out_dtype = _sum_dtype(x.dtype) if dtype is None else dtype
    if 0 in x.shape:
        return _empty_result(x, axis, keepdims, 0, out_dtype)
    if x.dtype != out_dtype:
        x = ops.cast(x, out_dtype)
    return _in_float32(ops.sum, x, _axes(x, axis), keepdims)


def max(x: Any, axis: Any = None, keepdims: builtins_bool = False) -> Any:  # noqa: A001
    return _in_float32(ops.amax, x, _axes(x, axis), keepdims)


def min(x: Any, axis: Any = None, keepdims: builtins_bool = False) -> Any:  # noqa: A001
    return _in_float32(ops.amin, x, _axes(x, axis), keepdims)


def any(x: Any, axis: Any = None, keepdims: builtins_bool = False) -> Any:  # noqa: A001
    if 0 in x.shape:
        return _empty_result(x, axis, keepdims, False, ms.bool_)
    return ops.any(astype(x, ms.bool_), _axes(x, axis), keepdims)


def all(x: Any, axis: Any = None, keepdims: builtins_bool = False) -> Any:  # noqa: A001
    if 0 in x.shape:
        return _empty_result(x, axis, keepdims, True, ms.bool_)
    return ops.all(astype(x, ms.bool_), _axes(x, axis), keepdims)


def argmax(x: Any, axis: Any = None, keepdims: builtins_bool = False) -> Any:
    if axis is None:
        x, axis = ops.reshape(x, (-1,)), 0
    return ops.argmax(x, axis, keepdims)


# --- the backend ---------------------------------------------------------------------------


class MindSporeBackend(Backend):
    """MindSpore tensors in PyNative mode: autodiff through ``ops.stop_gradient``."""

    differentiable = True

    def stop_gradient(self, x: Any) -> Any:
        return ops.stop_gradient(x)

    def device(self, x: Any) -> Any:
        return device_of(x)

    def is_concrete(self, x: Any) -> builtins_bool:
        return True

    def quiet_floating_point(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


inf, nan, e, pi = math.inf, math.nan, math.e, math.pi
