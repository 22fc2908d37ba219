"""MindSpore's bed: MindSpore tensors in PyNative mode, gradients with ``mindspore.grad``.

Only ``pytest --mindspore`` (``make test-ms``, in MindSpore's own environment) imports it.
"""

from __future__ import annotations

from typing import Any

import mindspore as ms
import numpy as np

from .arrays import BFLOAT16
from .bed import Bed

ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")


class MindSporeBed(Bed):
    name = "mindspore"
    description = "MindSpore tensors in PyNative mode on CPU; gradients with `mindspore.grad`."
    differentiable = True
    array_type = ms.Tensor
    # The time budget of make test-ms: values, dtypes and errors for every case.
    gradient_cases_per_loss = 20

    def asarray(self, a: np.ndarray) -> Any:
        if a.dtype == BFLOAT16:
            return ms.Tensor(a.astype(np.float32)).astype(ms.bfloat16)
        return ms.Tensor(a.copy())

    def to_numpy(self, x: Any) -> np.ndarray:
        if x.dtype == ms.bfloat16:
            x = x.astype(ms.float32)
        return x.asnumpy()

    def device_of(self, x: Any) -> Any:
        return ms.get_context("device_target")

    def grad(self, fn, args, kwargs, wrt, cotangent):  # type: ignore[no-untyped-def]
        def objective(*leaves: Any) -> Any:
            a, kw = list(args), dict(kwargs)
            for key, leaf in zip(wrt, leaves, strict=True):
                (a if isinstance(key, int) else kw)[key] = leaf
            out = fn(*a, **kw)
            return (out * ms.Tensor(cotangent).astype(out.dtype)).sum()

        leaves = [args[k] if isinstance(k, int) else kwargs[k] for k in wrt]
        grads = ms.grad(objective, grad_position=tuple(range(len(leaves))))(*leaves)
        if len(leaves) == 1:
            grads = (grads,)
        return [self.to_numpy(g) for g in grads]

    # -- what MindSpore cannot do (docs/backends.md lists the same classes) ----------------
    def known_gap(self, case: Any, what: str) -> str | None:
        bf16 = "bfloat16" in case.float_dtypes()
        if bf16 and what == "gradient":
            return BFLOAT16_GRADIENTS
        if set(case.float_dtypes()) == {"bfloat16"} and case.fn in BFLOAT16_COMPARED:
            return BFLOAT16_COMPARISONS
        for reason, ids in GAPS.items():
            if (case.id, what) in ids:
                return reason
        return None

    def crashes(self, case: Any, what: str) -> bool:
        """Whether the gap is a crash of the process (the case is then not run)."""
        return self.known_gap(case, what) == BFLOAT16_GRADIENTS


BFLOAT16_GRADIENTS = (
    "MindSpore's CPU autograd has no bfloat16 reduce kernel (and some bfloat16 backward passes"
    " crash the process), so bfloat16 gradients are not available"
)
BFLOAT16_COMPARED = {"binary_cross_entropy", "gaussian_nll_loss", "hinge_embedding_loss"}
BFLOAT16_COMPARISONS = (
    "MindSpore's CPU kernels have no bfloat16 comparison (>=, <, ==), which this loss applies"
    " to its bfloat16 inputs"
)
_FLOAT32_OPERANDS = (
    "MindSpore rounds a Python float operand to float32 (x * 0.3 on a float64 tensor multiplies"
    " by float32(0.3)), so float64 results built with such constants match torch to ~1e-8 only"
)
_EMPTY_SLICE_GRAD = (
    "MindSpore's StridedSliceGrad fails on the empty slices of CTC's recursion with empty"
    " targets in float64 ('input memory out of bounds')"
)
_NAN_GRADIENT = "MindSpore's autograd gives 0 where torch's gradient at a non-finite input is NaN"


def _ids(fn: str, names: str, what: str) -> set[tuple[str, str]]:
    """``names``: case names split at spaces (``@`` stands for a space inside a name)."""
    return {(f"{fn}-{name.replace('@', ' ')}", what) for name in names.split()}


GAPS: dict[str, set[tuple[str, str]]] = {
    _FLOAT32_OPERANDS: (
        _ids(
            "poisson_nll_loss",
            "full-log_input=True-sum-float64 full-log_input=False-sum-float64"
            " int64-float64-0d-log_input=True",
            "value",
        )
        | _ids("linear_cross_entropy", "float64-none float64-mean float64-sum", "value")
        | _ids("linear_cross_entropy", "float64-none float64-mean float64-sum", "gradient")
        | _ids("triplet_margin_loss", "p=1.5-float64 p=3-float64", "value")
        | _ids("triplet_margin_loss", "p=1.5-float64 p=3-float64", "gradient")
    ),
    _EMPTY_SLICE_GRAD: _ids(
        "ctc_loss",
        " ".join(
            f"zero-targets-{form}-{r}-float64"
            for form in ("padded", "concatenated")
            for r in ("none", "mean", "sum")
        ),
        "gradient",
    ),
    _NAN_GRADIENT: (
        _ids("huber_loss", "nonfinite-none nonfinite-sum", "gradient")
        | _ids("smooth_l1_loss", "nonfinite-none nonfinite-sum", "gradient")
    ),
}
