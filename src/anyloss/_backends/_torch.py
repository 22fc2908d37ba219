"""torch: the reference itself.  torch tensors take ``torch.nn.functional``'s kernels."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ._generic import Backend


class TorchBackend(Backend):
    differentiable = True

    def quiet_floating_point(self) -> contextlib.nullcontext[None]:
        # This framework never warns about floating point; a NumPy errstate here would
        # only cost time (and break torch.compile's graph).
        return contextlib.nullcontext()

    def native(self, name: str) -> Callable[..., Any] | None:
        return getattr(F, name, None)

    def stop_gradient(self, x: Any) -> Any:
        return x.detach()

    def is_concrete(self, x: Any) -> bool:
        # Under torch.compile, and for torch.func's wrapped tensors (vmap, grad), values
        # cannot be read without breaking the graph or the transform.
        if torch.compiler.is_compiling() or _is_fake(x):
            return False
        return not torch._C._functorch.is_functorch_wrapped_tensor(x)


def _is_fake(x: Any) -> bool:
    from torch._subclasses.fake_tensor import is_fake

    return bool(is_fake(x))
