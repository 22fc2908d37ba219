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
