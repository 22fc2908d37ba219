"""Array-API helpers shared by every loss body.

A helper that needs the namespace ``xp`` (from array-api-compat) takes it as its first
argument.  Where a helper needs a capability that the standard lacks (stop a
gradient, loop in a compiled graph) it asks the backend object; loss bodies never
branch on the backend themselves.  ``as_result`` wraps the NumPy scalars that NumPy's
reductions return.  The backend's own shortcuts (NumPy's summation and class gather) are
methods of the backend object, which the bodies receive from the dispatch.
"""

from __future__ import annotations

from typing import Any, TypeVar

import array_api_compat as aac
import numpy as np

from ._backends import backend_for, is_mindspore_type, namespace_for_type
from ._parts import MeanParts

T = TypeVar("T")

_SCALAR_TYPES = (bool, int, float, complex)
#: What is taken into another library's namespace when it meets its arrays.
_NUMPY_TYPES = (np.ndarray, np.generic)


def array_namespace(*arrays: Any, xp: Any = None) -> Any:
    """The array-API namespace of ``arrays`` (None and Python scalars are ignored).

    ``xp`` (any namespace: ``numpy``, ``jax.numpy``, ``torch``, a compat namespace)
    overrides the lookup.  The namespace of a single array type is cached: the lookup
    runs once per call of every loss, and must cost next to nothing.  NumPy arrays beside
    one framework's arrays give that framework's namespace (:func:`common_namespace`
    converts them); two frameworks raise ``TypeError``.
    """
    return common_namespace(arrays, xp)[0]


def common_namespace(arrays: tuple[Any, ...], xp: Any = None) -> tuple[Any, tuple[Any, ...]]:
    """The namespace of a call's arrays, and the arrays, all of that namespace.

    The usual call, every array of one type (None and Python scalars aside), is decided
    from the types alone and returns ``arrays`` itself.  NumPy arrays and NumPy scalars
    beside the arrays of one other library (torch, JAX, Dask, CuPy, array-api-strict, ...)
    are taken into it by its backend's ``adopt``: on the device of the call's first array of
    that library, keeping their dtype, sharing memory where the library can.  Python numbers
    are left as they are, as torch leaves them.  Arrays of two libraries other than NumPy
    raise ``TypeError`` naming both.
    """
    if xp is not None:
        return _wrapped_namespace(xp), arrays
    kind = type(arrays[0])
    ns = _by_type.get(kind)
    if ns is not None:
        # A loop, not all() of a generator (a third of the cost): this runs on every call
        # of linear_cross_entropy.
        for a in arrays:
            if type(a) is not kind and a is not None and type(a) not in _SCALAR_TYPES:
                break
        else:
            return ns, arrays
    # NumPy's float64 and complex128 scalars are Python numbers too, and taken as NumPy's.
    present = [a for a in arrays if not (a is None or type(a) in _SCALAR_TYPES)]
    if all(type(a) is kind for a in present):
        ns = namespace_for_type(kind) or aac.array_namespace(*present)
        _by_type[kind] = ns
        return ns, arrays
    foreign = [a for a in present if not isinstance(a, _NUMPY_TYPES)]
    if not foreign:  # NumPy arrays and NumPy scalars
        return aac.array_namespace(*present), arrays
    libraries: dict[str, Any] = {}
    for a in foreign:
        one = _type_namespace(a)
        libraries.setdefault(library_name(one), one)
    if len(libraries) > 1:
        first, second = list(libraries)[:2]
        raise TypeError(
            f"anyloss: arrays from two libraries, {first} and {second}, in one call; convert one "
            "(NumPy arrays, NumPy scalars and Python numbers are taken into the other library, "
            "two other libraries are not mixed)"
        )
    ns = next(iter(libraries.values()))
    like = foreign[0]
    backend = backend_for(ns)
    return ns, tuple(backend.adopt(a, like) if isinstance(a, _NUMPY_TYPES) else a for a in arrays)


def _type_namespace(x: Any) -> Any:
    kind = type(x)
    ns = _by_type.get(kind)
    if ns is None:
        ns = _by_type[kind] = namespace_for_type(kind) or aac.array_namespace(x)
    return ns


def library_name(xp: Any) -> str:
    """'torch', 'jax', 'dask', 'numpy', 'array_api_strict', ... for a namespace."""
    name = getattr(xp, "__name__", str(xp)).removeprefix("array_api_compat.")
    return name.split(".", 1)[0]


_by_type: dict[type, Any] = {}
_wrapped: dict[int, Any] = {}


def _wrapped_namespace(xp: Any) -> Any:
    ns = _wrapped.get(id(xp))
    if ns is None and getattr(xp, "__name__", "").split(".")[0] in ("mindspore", "anyloss"):
        # MindSpore (``mindspore``, ``mindspore.numpy`` or anyloss's adapter): the adapter.
        ns = _wrapped[id(xp)] = namespace_for_type(type(xp.Tensor(0.0)))
    if ns is None:
        ns = aac.array_namespace(xp.asarray(0.0))
        _wrapped[id(xp)] = ns
    return ns


def device(x: Any) -> Any:
    if is_mindspore_type(type(x)):
        return backend_for(namespace_for_type(type(x))).device(x)
    return aac.device(x)


def is_numpy_bool(x: Any) -> bool:
    """Whether ``x`` is a NumPy boolean scalar (``np.True_``), which is no ``numbers.Number``."""
    return isinstance(x, np.bool_)


def is_array(x: Any) -> bool:
    if is_mindspore_type(type(x)):
        return True
    return aac.is_array_api_obj(x) and not isinstance(x, _SCALAR_TYPES)


# Keyed by the namespace, then the dtype's type: the same dtype object can belong to two
# namespaces that classify it differently (ml_dtypes' bfloat16 is a floating dtype of
# jax.numpy and unknown to NumPy), and tuples compare item by item, so dtypes of
# different libraries are never compared with each other (array-api-strict warns when
# they are).
_isdtype_cache: dict[tuple[int, type, Any, Any], bool] = {}
_name_cache: dict[tuple[type, Any], str] = {}


def isdtype(xp: Any, dtype: Any, kind: Any) -> bool:
    """``xp.isdtype``, remembered per (namespace, dtype, kind): every loss asks it several times a call.

    A dtype the namespace does not know (a NumPy array of ml_dtypes' bfloat16) raises
    ``TypeError`` naming it, whatever was computed before.
    """
    key = (id(xp), type(dtype), dtype, kind)
    try:
        return _isdtype_cache[key]
    except KeyError:
        answer = _isdtype_cache[key] = _classify(xp, dtype, kind)
        return answer
    except TypeError:  # an unhashable dtype object
        return _classify(xp, dtype, kind)


def _classify(xp: Any, dtype: Any, kind: Any) -> bool:
    try:
        return bool(xp.isdtype(dtype, kind))
    except TypeError as error:
        raise TypeError(
            f"anyloss does not support arrays of dtype {dtype_name(dtype)} in "
            f"{getattr(xp, '__name__', xp)}, whose array API does not know that dtype "
            "(NumPy has no bfloat16: convert to float32, or use a library that has it, "
            "such as JAX or torch)"
        ) from error


def is_floating(xp: Any, dtype: Any) -> bool:
    return isdtype(xp, dtype, "real floating")


def is_integral(xp: Any, dtype: Any) -> bool:
    return isdtype(xp, dtype, ("integral", "bool"))


def dtype_name(dtype: Any) -> str:
    """'float32', 'int64', ... for any library's dtype object (MindSpore's print as 'Float32')."""
    key = (type(dtype), dtype)
    try:
        return _name_cache[key]
    except KeyError:
        name = _name_cache[key] = str(dtype).rsplit(".", 1)[-1].lower()
        return name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1].lower()


def is_half(dtype: Any) -> bool:
    return dtype_name(dtype) in ("float16", "bfloat16")


def default_float(xp: Any) -> Any:
    """float32: torch's default dtype, which torch uses for integer inputs to float losses."""
    return xp.float32


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """The dtype to compute in: float16 and bfloat16 go through float32, as torch's opmath does."""
    return xp.float32 if is_half(dtype) else dtype


def astype(xp: Any, x: Any, dtype: Any) -> Any:
    return x if x.dtype == dtype else xp.astype(x, dtype)


def as_result(xp: Any, loss: Any, dtype: Any) -> Any:
    """The result as an array of ``dtype`` (NumPy reductions return scalars; wrap them).

    The two sides of a 'mean' asked for by :func:`anyloss.mean_parts` stay in the dtype
    they were computed in."""
    if type(loss) is MeanParts:
        return loss
    if isinstance(loss, np.generic):
        loss = np.asarray(loss)  # only NumPy's reductions give NumPy scalars
    return astype(xp, loss, dtype)


def const(xp: Any, value: float, like: Any) -> Any:
    """A 0-D array holding ``value`` with the dtype and device of ``like``."""
    return xp.asarray(value, dtype=like.dtype, device=backend_for(xp).device(like))


_SIGNED = {"uint8": "int8", "uint16": "int16", "uint32": "int32", "uint64": "int64", "bool": "int8"}


def as_signed(xp: Any, x: Any) -> Any:
    """An array of labels as torch compares it with 1 and −1: unsigned integers as the signed
    integers of their width (torch converts −1 to the array's dtype, so 255 in uint8 is −1),
    booleans as 0 and 1 (which the array API does not compare with integers).  Other arrays
    are returned as they are."""
    signed = _SIGNED.get(dtype_name(x.dtype))
    return x if signed is None else xp.astype(x, getattr(xp, signed))


def number_as_array(xp: Any, value: Any, like: Any) -> Any:
    """A Python number standing for an array (where torch takes one) as a 0-D array on
    ``like``'s device; an array is returned as it is.  A 0-D array never widens the
    dimensioned arrays of its category, as torch's wrapped numbers do not."""
    if type(value) in (bool, int, float):
        return xp.asarray(value, device=device(like))
    return value


def numel(shape: tuple[int | None, ...]) -> int:
    n = 1
    for s in shape:
        n *= int(s)  # type: ignore[arg-type]
    return n


# --- gradients ---------------------------------------------------------------------


def xlogy(xp: Any, x: Any, y: Any) -> Any:
    """x·log(y) with 0·log(anything) = 0, and NaN-free gradients at x = 0."""
    zero = x == 0
    safe_y = xp.where(zero, xp.ones_like(y), y)
    return xp.where(zero, xp.zeros_like(x), x * xp.log(safe_y))


# --- indexing ------------------------------------------------------------------------


def index_dtype(xp: Any, like: Any) -> Any:
    return xp.__array_namespace_info__().default_dtypes(device=device(like))["indexing"]


# --- control flow --------------------------------------------------------------------
