"""torch tensors take torch.nn.functional's kernels; the generic body must give the same.

The backend matrix already compares both with torch; this states the equivalence
directly, values and gradients, for every case of every table.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import anyloss
from cases import CASES
from support.oracle import assert_close, cotangent, to_tensor, tolerance

RUNNABLE = [c for c in CASES if not c.raises]


def _run(case, native: bool):
    args = [to_tensor(a) for a in case.args]
    kwargs = {k: to_tensor(v) for k, v in case.kwargs.items()}
    leaves = []
    for key in case.grad:
        holder = args if isinstance(key, int) else kwargs
        holder[key] = holder[key].detach().clone().requires_grad_(True)
        leaves.append(holder[key])
    with anyloss.native_paths(native), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(anyloss, case.fn)(*args, **kwargs)
    grads = []
    if leaves:
        ct = torch.from_numpy(cotangent(tuple(out.shape))).to(out.dtype)
        grads = torch.autograd.grad((out * ct).sum(), leaves, allow_unused=True)
    return out, grads


@pytest.mark.parametrize("case", RUNNABLE, ids=[c.id for c in RUNNABLE])
def test_native_path_equals_generic_body(case) -> None:
    native, native_grads = _run(case, native=True)
    generic, generic_grads = _run(case, native=False)
    assert native.dtype == generic.dtype and native.shape == generic.shape
    rtol, atol = tolerance(case, str(native.dtype).rsplit(".", 1)[-1])

    def as_np(t):
        return np.zeros(0) if t is None else t.detach().double().numpy()

    assert_close(as_np(generic), as_np(native), rtol, atol, "value")
    for g, n in zip(generic_grads, native_grads, strict=True):
        assert_close(as_np(g), as_np(n), rtol, atol, "gradient")
