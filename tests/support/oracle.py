"""Cases, and torch 2.13 on CPU as the oracle for them.

A :class:`Case` is one call of a loss: NumPy inputs and Python options.  The oracle
runs the same call through ``torch.nn.functional`` and records what torch does: the
value, its dtype and shape, the warnings, the exception, and the gradients.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .arrays import BFLOAT16, dtype_name, is_array

Key = int | str


@dataclasses.dataclass(frozen=True)
class Case:
    """One call of loss ``fn`` with ``args`` and ``kwargs`` (NumPy arrays and Python values).

    grad:        arguments (positions or keyword names) whose gradients are compared.
    raises:      torch raises for this call (checked: the table must say so).
    value_error: the error depends on array values, so lazy backends cannot raise it;
                 they must build the result without raising instead.
    to_torch:    how the call is put to torch when anyloss deliberately differs
                 (parity notes), e.g. widening int32 targets torch rejects.
    """

    fn: str
    name: str
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    grad: tuple[Key, ...] = ()
    raises: bool = False
    value_error: bool = False
    to_torch: Callable[[tuple, dict], tuple[tuple, dict]] | None = None

    @property
    def id(self) -> str:
        return f"{self.fn}-{self.name}"

    def values(self) -> list[Any]:
        return [*self.args, *self.kwargs.values()]

    def float_dtypes(self) -> list[str]:
        return [
            dtype_name(v.dtype)
            for v in self.values()
            if is_array(v) and (np.issubdtype(v.dtype, np.floating) or v.dtype == BFLOAT16)
        ]


@dataclasses.dataclass
class Outcome:
    """What one implementation did with a case."""

    value: np.ndarray | None = None
    dtype: str | None = None
    shape: tuple[int, ...] | None = None
    warnings: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    error: tuple[str, str] | None = None


def to_tensor(value: Any) -> Any:
    if not is_array(value):
        return value
    if value.dtype == BFLOAT16:
        return torch.from_numpy(value.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(value.copy())


def tensor_to_numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def torch_call(case: Case) -> tuple[Callable[..., Any], tuple, dict]:
    args, kwargs = case.args, case.kwargs
    if case.to_torch is not None:
        args, kwargs = case.to_torch(args, kwargs)
    return (
        getattr(F, case.fn),
        tuple(to_tensor(a) for a in args),
        {k: to_tensor(v) for k, v in kwargs.items()},
    )


def record(call: Callable[[], Any], to_numpy: Callable[[Any], np.ndarray]) -> Outcome:
    """Run ``call``, recording its warnings and its result or exception."""
    outcome = Outcome()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as exc:  # noqa: BLE001 - the exception is the observation
            outcome.error = (type(exc).__name__, str(exc))
        else:
            outcome.value = to_numpy(result)
            outcome.dtype = dtype_name(result.dtype)
            outcome.shape = tuple(int(s) for s in result.shape)
    outcome.warnings = [(w.category.__name__, str(w.message)) for w in caught]
    return outcome


def torch_outcome(case: Case) -> Outcome:
    fn, args, kwargs = torch_call(case)
    return record(lambda: fn(*args, **kwargs), tensor_to_numpy)


def cotangent(shape: tuple[int, ...]) -> np.ndarray:
    """A fixed, non-uniform cotangent so that gradients of 'none' outputs are all exercised."""
    n = int(np.prod(shape)) if shape else 1
    return np.linspace(0.5, 1.5, n).reshape(shape)


def torch_gradients(case: Case, shape: tuple[int, ...]) -> list[np.ndarray]:
    fn, args, kwargs = torch_call(case)
    args, kwargs = list(args), dict(kwargs)
    leaves = []
    for key in case.grad:
        holder = args if isinstance(key, int) else kwargs
        holder[key] = holder[key].detach().clone().requires_grad_(True)
        leaves.append(holder[key])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*args, **kwargs)
    ct = torch.from_numpy(cotangent(shape)).to(out.dtype)
    grads = torch.autograd.grad((out * ct).sum(), leaves, allow_unused=True)
    return [
        np.zeros(tuple(leaf.shape)) if g is None else tensor_to_numpy(g)
        for g, leaf in zip(grads, leaves, strict=True)
    ]


# Relative and absolute tolerance by the least precise floating dtype of a case: exact
# within a few units in the last place, never "roughly".
TOLERANCE = {
    "float64": (1e-12, 1e-13),
    "float32": (2e-6, 1e-6),
    "float16": (2e-3, 1e-3),
    "bfloat16": (1.6e-2, 1e-2),
}
_ORDER = ["bfloat16", "float16", "float32", "float64"]


def tolerance(case: Case, output_dtype: str | None) -> tuple[float, float]:
    names = [*case.float_dtypes(), *([output_dtype] if output_dtype in TOLERANCE else [])]
    if not names:
        return 0.0, 0.0  # integer results are exact
    least = min(names, key=_ORDER.index)
    return TOLERANCE[least]


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, atol: float, what: str):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
