"""Native kernels must give what the generic body gives.

torch tensors take torch.nn.functional's kernels: the same values and gradients as the body
(to the tolerance), for every case of every table.  NumPy arrays take anyloss's own kernels
of the elementwise losses (``anyloss._backends._numpy_kernels``), which compute the body's
formula without its checks for the usual call and decline every other: for every case of
those losses, the same values to the last bit, dtype, shape, warnings and exception type.
The backend matrix already compares both paths with torch; this states the equivalence
directly.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch

import anyloss
from anyloss._backends._numpy_kernels import KERNELS
from cases import CASES
from support.oracle import assert_close, cotangent, record, to_tensor, tolerance

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


NUMPY_KERNEL_CASES = [c for c in CASES if c.fn in KERNELS]


def _numpy_outcome(case, native: bool):
    with anyloss.native_paths(native), np.errstate(all="ignore"):
        return record(lambda: getattr(anyloss, case.fn)(*case.args, **case.kwargs), np.asarray)


@pytest.mark.parametrize("case", NUMPY_KERNEL_CASES, ids=[c.id for c in NUMPY_KERNEL_CASES])
def test_numpy_kernel_equals_generic_body(case) -> None:
    native = _numpy_outcome(case, native=True)
    generic = _numpy_outcome(case, native=False)
    assert native.error == generic.error
    assert native.warnings == generic.warnings
    if generic.error is None:
        assert (native.dtype, native.shape) == (generic.dtype, generic.shape)
        assert np.array_equal(native.value, generic.value, equal_nan=True), "not the same bits"


#: The kernels whose usual target is one class index per row.
CLASS_INDEX_TARGETS = frozenset({"multi_margin_loss"})
#: The kernels whose usual target is 1 or −1 in the input's dtype: of the input's shape, or
#: one per row.
SIGN_TARGETS = frozenset({"hinge_embedding_loss"})
ROW_SIGN_TARGETS = frozenset({"cosine_embedding_loss"})


def test_numpy_kernels_take_the_usual_call() -> None:
    """Each kernel computes (not declines) the plain float32 and float64 call of its loss,
    its required arrays of one shape with values in (0, 1) (class indices in range for a
    class-index target, 1 or −1 for a sign target), for every reduction, and declines a call
    its checks must see (the legacy flags)."""
    rng = np.random.default_rng(0)
    for name, kernel in KERNELS.items():
        body = getattr(anyloss, name)
        required = [k for k, p in inspect.signature(body).parameters.items() if p.default is p.empty]
        for dtype in (np.float32, np.float64):
            arrays = {k: rng.uniform(0.1, 0.9, (3, 4)).astype(dtype) for k in required}
            if name in CLASS_INDEX_TARGETS:
                arrays["target"] = rng.integers(0, 4, 3)
            if name in SIGN_TARGETS:
                arrays["target"] = rng.choice([-1.0, 1.0], (3, 4)).astype(dtype)
            if name in ROW_SIGN_TARGETS:
                arrays["target"] = rng.choice([-1.0, 1.0], 3).astype(dtype)
            for reduction in ("none", "sum", "batchmean" if name == "kl_div" else "mean"):
                out = _call_kernel(body, kernel, arrays, reduction=reduction)
                assert out is not NotImplemented, (name, dtype, reduction)
                with anyloss.native_paths(False):
                    assert np.array_equal(out, body(**arrays, reduction=reduction))
            if "reduce" in inspect.signature(kernel).parameters:
                assert _call_kernel(body, kernel, arrays, reduction="mean", reduce=True) is NotImplemented


def _call_kernel(body, kernel, arrays, **given):
    """The kernel called as its loss body calls it: the body's defaults, ``arrays`` and ``given``."""
    defaults = {
        k: p.default for k, p in inspect.signature(body).parameters.items() if p.default is not p.empty
    }
    values = {**defaults, **arrays, **given}
    return kernel(*(values[k] for k in inspect.signature(kernel).parameters))


def _embedding_call(name: str, dtype, shape, rng) -> tuple[tuple, dict]:
    """The usual call of an embedding or multi-label loss on a batch of ``shape``: normal
    embeddings and logits, targets 1 or −1 (0 or 1 for the multi-label loss)."""

    def normal(*size):
        return rng.normal(size=size).astype(dtype)

    def signs(*size):
        return rng.choice([-1.0, 1.0], size).astype(dtype)

    if name.startswith("hinge_embedding_loss"):
        distances = np.abs(normal(*shape))
        if name.endswith("of an infinite distance"):
            distances[1, 2] = np.inf  # the body's selects rather than its products
        if name.endswith("of targets -1, 0 and 1"):
            return (distances, rng.integers(-1, 2, shape).astype(dtype)), {"margin": 1.5}
        return (distances, signs(*shape)), {"margin": 1.5}
    if name == "multilabel_soft_margin_loss":
        return (3 * normal(*shape), rng.integers(0, 2, shape).astype(dtype)), {}
    if name.startswith("cosine_embedding_loss"):
        target = signs(shape[0])
        if name.endswith("of int64 targets"):
            target = target.astype(np.int64)
        return (normal(*shape), normal(*shape), target), {"margin": 0.25}
    return (normal(*shape), normal(*shape), normal(*shape)), {"margin": 0.75}


EMBEDDING_CALLS = [
    ("hinge_embedding_loss", {}),
    ("hinge_embedding_loss of an infinite distance", {}),
    ("hinge_embedding_loss of targets -1, 0 and 1", {}),
    ("multilabel_soft_margin_loss", {}),
    ("cosine_embedding_loss", {}),
    ("cosine_embedding_loss of int64 targets", {}),
    ("triplet_margin_loss", {}),
    ("triplet_margin_loss", {"swap": True}),
    ("triplet_margin_loss", {"p": 1.0, "eps": 1e-3}),
    ("triplet_margin_loss", {"p": 3}),
    ("triplet_margin_loss", {"p": 0.5, "swap": True}),
    ("triplet_margin_loss", {"p": -1.5}),
]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# The second shape is computed in blocks on several threads by the elementwise kernels.
@pytest.mark.parametrize("shape", [(300, 37), (1100, 120)], ids=["300x37", "1100x120"])
@pytest.mark.parametrize(("call", "options"), EMBEDDING_CALLS)
def test_numpy_embedding_kernels_take_the_usual_call_with_the_bodys_bits(
    call, options, shape, dtype, reduction
) -> None:
    args, kwargs = _embedding_call(call, dtype, shape, np.random.default_rng(1))
    kwargs = {**kwargs, **options, "reduction": reduction}
    name = call.split()[0]
    body = getattr(anyloss, name)
    values = {**dict(zip(inspect.signature(body).parameters, args, strict=False)), **kwargs}
    out = _call_kernel(body, KERNELS[name], values)
    assert out is not NotImplemented
    with anyloss.native_paths(False):
        want = body(*args, **kwargs)
    assert type(out) is np.ndarray and (out.dtype, out.shape) == (want.dtype, want.shape)
    assert out.tobytes() == want.tobytes(), "not the same bits"
    assert out.tobytes() == body(*args, **kwargs).tobytes()  # and the public function gives them


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("name", "taken"),
    [
        ("hinge_embedding_loss", False),
        ("multilabel_soft_margin_loss", False),
        ("cosine_embedding_loss", True),
        ("triplet_margin_loss", True),
    ],
)
def test_numpy_embedding_kernels_of_mixed_memory_orders(name, taken, dtype) -> None:
    """A ufunc's result takes the memory order of its operands, which decides the order of a
    sum: the row kernels compute each product as the body does, in an array of its own; the
    elementwise ones, which compute in place, leave such a call to the body."""
    for second in (np.asfortranarray, lambda a: np.repeat(a, 2, axis=0)[::2]):
        args, kwargs = _embedding_call(name, dtype, (300, 37), np.random.default_rng(2))
        args = (args[0], second(args[1]), *args[2:])
        kwargs = {**kwargs, "swap": True} if name == "triplet_margin_loss" else kwargs
        body = getattr(anyloss, name)
        for reduction in ("none", "sum"):
            values = {**dict(zip(inspect.signature(body).parameters, args, strict=False)), **kwargs}
            out = _call_kernel(body, KERNELS[name], {**values, "reduction": reduction})
            assert (out is not NotImplemented) == taken
            with anyloss.native_paths(False):
                want = body(*args, **kwargs, reduction=reduction)
            if taken:
                assert out.tobytes() == want.tobytes(), "not the same bits"
            assert body(*args, **kwargs, reduction=reduction).tobytes() == want.tobytes()
