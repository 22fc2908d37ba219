"""Shape and dtype rules with torch's exception types and wording.

Messages are torch 2.13's, word for word (shapes printed the way torch prints them),
so that code and tests written against torch read the same errors here.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence
from typing import Any

from . import _xp
from ._registry import RECORDS

_TORCH_DTYPE_NAMES = {
    "float64": "Double",
    "float32": "Float",
    "float16": "Half",
    "bfloat16": "BFloat16",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "uint16": "UInt16",
    "uint32": "UInt32",
    "uint64": "UInt64",
    "bool": "Bool",
    "complex64": "ComplexFloat",
    "complex128": "ComplexDouble",
}


def torch_dtype_name(dtype: Any) -> str:
    """'Float', 'Long', ... : how torch's C++ messages name a dtype."""
    name = _xp.dtype_name(dtype)
    return _TORCH_DTYPE_NAMES.get(name, name)


def size_str(shape: Sequence[int | None]) -> str:
    """A shape as torch prints ``Tensor.size()``: ``torch.Size([2, 3])``."""
    return f"torch.Size({list(shape)})"


def list_str(shape: Sequence[int | None]) -> str:
    """A shape as torch's C++ messages print it: ``[2, 3]``."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


def broadcast_shapes(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """torch's ``infer_size``: the broadcast of two shapes, or torch's RuntimeError."""
    if a == b and type(a) is tuple:  # the usual call, answered without the loop
        return a
    ndim = max(len(a), len(b))
    out = []
    for i in range(ndim):
        offset = ndim - 1 - i
        size_a = a[len(a) - 1 - offset] if len(a) - 1 - offset >= 0 else 1
        size_b = b[len(b) - 1 - offset] if len(b) - 1 - offset >= 0 else 1
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise RuntimeError(
                f"The size of tensor a ({size_a}) must match the size of tensor b ({size_b}) "
                f"at non-singleton dimension {i}"
            )
        out.append(size_a if size_a != 1 else size_b)
    return tuple(out)


def check_inplace_broadcast(output: Sequence[int], other: Sequence[int]) -> None:
    """torch's rule for ``out op= other``: ``other`` may broadcast to ``output`` but not enlarge it."""
    full = broadcast_shapes(output, other)
    if full != tuple(output):
        raise RuntimeError(
            f"output with shape {list_str(output)} doesn't match the broadcast shape {list_str(full)}"
        )


def warn_if_target_size_differs(input: Any, target: Any) -> None:
    """The broadcasting warning of torch's l1/mse/smooth_l1/huber."""
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({size_str(target.shape)}) that is different to the input size "
            f"({size_str(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            UserWarning,
            stacklevel=3,
        )


_CATEGORIES = ("bool", "integral", "real floating", "complex floating")


def _category(xp: Any, dtype: Any) -> int:
    for rank, kind in enumerate(_CATEGORIES):
        if _xp.isdtype(xp, dtype, kind):
            return rank
    raise TypeError(f"unsupported dtype {dtype}")


_promoted: dict[tuple[Any, ...], Any] = {}


def _promote(xp: Any, dtypes: list[Any]) -> Any:
    if len(dtypes) == 1:
        return dtypes[0]
    key = (id(xp), *[(type(d), d) for d in dtypes])
    try:
        return _promoted[key]
    except KeyError:
        cacheable = True
    except TypeError:  # an unhashable dtype object
        cacheable = False
    top = max(_category(xp, d) for d in dtypes)
    dtypes = [d for d in dtypes if _category(xp, d) == top]
    result = dtypes[0] if len(dtypes) == 1 else xp.result_type(*dtypes)
    if cacheable:
        _promoted[key] = result
    return result


def promote(xp: Any, *dtypes: Any) -> Any:
    """torch's promotion of same-rank operands: the highest category wins, then result_type."""
    return _promote(xp, list(dtypes))


def result_type_of(xp: Any, *operands: tuple[Any, int]) -> Any:
    """torch's type promotion of ``(dtype, ndim)`` operands: the highest category wins
    (an int64 never widens a float32), and 0-D operands count only when they are of a
    higher category than the others."""
    dimensioned = [dtype for dtype, ndim in operands if ndim > 0]
    zero_dim = [dtype for dtype, ndim in operands if ndim == 0]
    if not dimensioned:
        return _promote(xp, zero_dim)
    result = _promote(xp, dimensioned)
    if zero_dim:
        other = _promote(xp, zero_dim)
        if _category(xp, other) > _category(xp, result):
            return other
    return result


def result_type(xp: Any, *arrays: Any) -> Any:
    """torch's type promotion of arrays (None entries ignored); see :func:`result_type_of`."""
    return result_type_of(xp, *[(a.dtype, a.ndim) for a in arrays if a is not None])


def float_result_type(xp: Any, *arrays: Any) -> Any:
    """result_type for losses that compute integers as float32 (torch's default dtype)."""
    dtype = result_type(xp, *arrays)
    return dtype if _xp.is_floating(xp, dtype) else xp.float32


def require_floating(xp: Any, dtype: Any, kernel: str) -> None:
    """torch's dispatch error for a float-only kernel given integers."""
    if not _xp.is_floating(xp, dtype):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{torch_dtype_name(dtype)}'")


def check_weight_dtype(input_dtype: Any, weight: Any) -> None:
    """torch's error for a class ``weight`` (if any) whose dtype is not the input's."""
    if weight is not None and weight.dtype != input_dtype:
        raise RuntimeError(
            f"expected scalar type {torch_dtype_name(input_dtype)} but found {torch_dtype_name(weight.dtype)}"
        )


def check_subtraction(xp: Any, a: Any, b: Any) -> None:
    """torch's errors for ``a − b`` (dtypes ``a`` and ``b``) when either operand is boolean."""
    a_bool, b_bool = _xp.isdtype(xp, a, "bool"), _xp.isdtype(xp, b, "bool")
    if a_bool and b_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    if a_bool or b_bool:
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. "
            "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead."
        )


def real_option(value: Any) -> Any:
    """A real-valued option as the loss bodies compute with it: the Python float that torch's
    parser reads a ``double`` option as.  A boolean (Python's or NumPy's) is the number it
    stands for (True is 1.0), which arrays that refuse to meet booleans (array-api-strict's)
    take; an integer beyond int64 or a NumPy integer is the float torch compares; anything
    else is left for the body's own checks."""
    if isinstance(value, numbers.Real) or _xp.is_numpy_bool(value):
        return float(value)
    return value


#: The largest finite value of each float dtype a torch Scalar can be converted into, and
#: the name torch's message gives that dtype.
_SCALAR_LIMITS = {
    "float32": (3.4028234663852886e38, "float"),
    "float16": (65504.0, "c10::Half"),
    "bfloat16": (3.3895313892515355e38, "c10::BFloat16"),
}


def scalar_option(value: Any, dtype: Any = None, *, integer: bool = True) -> Any:
    """A real option as torch's ``Scalar`` of it: :func:`real_option`'s float, after torch's
    checks of the conversions.

    ``integer``: torch takes the option as a ``Scalar`` (not a ``double``), so a Python
    integer must fit int64 or uint64 (``OverflowError``) and a NumPy integer int64
    (``TypeError``).  ``dtype``: the float dtype torch's kernel converts the value into; a
    finite value beyond its range is torch's ``RuntimeError`` (infinities convert).
    """
    if integer and isinstance(value, int) and not isinstance(value, bool):
        if value >= 2**64:
            raise OverflowError("int too big to convert")
        if value < -(2**63):
            raise OverflowError("can't convert negative int to unsigned")
    elif integer and isinstance(value, numbers.Integral) and not -(2**63) <= int(value) < 2**63:
        raise TypeError(f"an integer is required (a {type(value).__name__} beyond int64)")
    value = real_option(value)
    limit = _SCALAR_LIMITS.get(_xp.dtype_name(dtype)) if dtype is not None else None
    if limit is not None and isinstance(value, float) and math.isfinite(value) and abs(value) > limit[0]:
        raise RuntimeError(f"value cannot be converted to type {limit[1]} without overflow")
    return value


def mean_dtype_error(dtype: Any) -> RuntimeError:
    return RuntimeError(
        "mean(): could not infer output dtype. Input dtype must be either a floating point or "
        f"complex dtype. Got: {torch_dtype_name(dtype)}"
    )


def torch_broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """``torch.broadcast_shapes`` (the Python function, whose message differs from ``infer_size``).

    The message names the first mismatching dimension (negative index), the argument's
    ``torch.Size`` and the common shape as built up to that point, as torch prints it.
    """
    common = [1] * max((len(s) for s in shapes), default=0)
    for position, shape in enumerate(shapes):
        for idx in range(-1, -1 - len(shape), -1):
            if shape[idx] == common[idx]:
                continue
            if common[idx] == 1:
                common[idx] = shape[idx]
            if shape[idx] != 1 and common[idx] != shape[idx]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {shape[idx]} at {idx}! "
                    f"Mismatching argument at index {position} had {size_str(shape)}; but "
                    f"expected shape should be broadcastable to {common}"
                )
    return tuple(common)


# --- admission: what every loss takes as an array -----------------------------------------

#: The array parameters that take a Python number where torch does: gaussian_nll_loss
#: broadcasts a number as its target or variance, multilabel_soft_margin_loss as its target
#: or its weight.
#: Every other array parameter needs an array (torch: a tensor).
NUMBER_PARAMETERS: dict[str, frozenset[str]] = {
    "gaussian_nll_loss": frozenset({"target", "var"}),
    "multilabel_soft_margin_loss": frozenset({"target", "weight"}),
}
_NUMBERS = (bool, int, float)
#: The dtypes already judged, by (namespace, dtype's type, dtype): None admits, else the
#: reason a dtype is refused.
_verdicts: dict[tuple[int, type, Any], str | None] = {}
#: The admitted dtypes of each namespace (by its id): the all-tensor call of
#: :func:`anyloss._dispatch.dispatch` asks only whether its dtypes are among them.
ADMITTED: dict[int, set[Any]] = {}


def admit(xp: Any, name: str, arrays: Sequence[Any]) -> None:
    """The one admission rule of every loss's array arguments (None: an optional array left out).

    An array of booleans, integers or real floating point numbers is admitted (each loss
    then refuses, as torch does, the dtypes its computation cannot take).  Complex arrays
    raise ``TypeError``: no loss is defined for them, and none is silently made real.
    Arrays of strings, objects or other non-numeric dtypes, and objects that are not
    arrays, raise ``TypeError``.  A Python number stands for an array only where torch
    takes one (:data:`NUMBER_PARAMETERS`).  The dtype verdicts are remembered: this runs
    on every call.
    """
    for position, a in enumerate(arrays):
        if a is None:
            continue
        kind = type(a)
        if kind in _NUMBERS and _parameter(name, position) in NUMBER_PARAMETERS.get(name, ()):
            continue
        dtype = getattr(a, "dtype", None)
        if dtype is None or kind in _NUMBERS or kind is complex:
            raise TypeError(
                f"anyloss.{name}: {_parameter(name, position)!r} must be an array, not {kind.__name__}"
            )
        key = (id(xp), type(dtype), dtype)
        try:
            verdict = _verdicts[key]
        except KeyError:
            verdict = _verdicts[key] = _judge(xp, dtype)
            if verdict is None:
                ADMITTED.setdefault(id(xp), set()).add(dtype)
        except TypeError:  # an unhashable dtype object
            verdict = _judge(xp, dtype)
        if verdict is not None:
            raise TypeError(f"anyloss.{name}: {_parameter(name, position)!r} {verdict}")


def _judge(xp: Any, dtype: Any) -> str | None:
    if _xp.isdtype(xp, dtype, ("bool", "integral", "real floating")):
        return None
    name = _xp.dtype_name(dtype)
    if _xp.isdtype(xp, dtype, "complex floating"):
        return f"is complex ({name}): complex inputs are not supported by any loss"
    return (
        f"has dtype {name}, which is not a number: losses take arrays of booleans, "
        "integers or floating point numbers"
    )


def _parameter(name: str, position: int) -> str:
    """The name of a loss's array parameter at ``position`` (the order of its record's arrays)."""
    arrays = RECORDS[name].arrays
    return arrays[position] if position < len(arrays) else f"array {position}"
