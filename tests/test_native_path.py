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
CLASS_INDEX_TARGETS = frozenset({"multi_margin_loss", "nll_loss", "cross_entropy"})
#: The kernels whose usual target is 1 or −1 in the input's dtype: of the input's shape, or
#: one per row.
SIGN_TARGETS = frozenset({"hinge_embedding_loss"})
ROW_SIGN_TARGETS = frozenset({"cosine_embedding_loss"})
#: The kernels whose usual target is class indices of the input's shape, padded with −1.
PADDED_INDEX_TARGETS = frozenset({"multilabel_margin_loss"})


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
            if name in PADDED_INDEX_TARGETS:
                arrays["target"] = np.array([[3, 0, -1, 1], [2, -1, -1, -1], [1, 2, 3, 0]])
            if name == "ctc_loss":
                arrays = _ctc_arrays(rng, dtype, steps=5, batch=3, classes=4, width=2)
            if name == "linear_cross_entropy":
                arrays["target"] = rng.integers(0, 4, 3)  # (3, 4) features, 3 classes of 4
                arrays["linear_weight"] = arrays["linear_weight"][:3]
                arrays["target"] = arrays["target"] % 3
            for reduction in ("none", "sum", "batchmean" if name == "kl_div" else "mean"):
                out = _call_kernel(body, kernel, arrays, reduction=reduction)
                assert out is not NotImplemented, (name, dtype, reduction)
                with anyloss.native_paths(False):
                    assert np.array_equal(out, body(**arrays, reduction=reduction))
            if "reduce" in inspect.signature(kernel).parameters:
                assert _call_kernel(body, kernel, arrays, reduction="mean", reduce=True) is NotImplemented


def _ctc_arrays(rng, dtype, steps: int, batch: int, classes: int, width: int) -> dict:
    """ctc_loss's usual call: log-probabilities (T, N, C), padded labels (N, S) that are not
    the blank 0, and int64 lengths in range."""
    x = rng.normal(size=(steps, batch, classes))
    return {
        "log_probs": (x - np.log(np.exp(x).sum(axis=2, keepdims=True))).astype(dtype),
        "targets": rng.integers(1, classes, (batch, width)),
        "input_lengths": rng.integers(max(1, steps - 2), steps + 1, batch),
        "target_lengths": rng.integers(0, width + 1, batch),
    }


def _call_kernel(body, kernel, arrays, **given):
    """The kernel called as its loss body calls it: the body's defaults, ``arrays`` and ``given``."""
    defaults = {
        k: p.default for k, p in inspect.signature(body).parameters.items() if p.default is not p.empty
    }
    values = {**defaults, **arrays, **given}
    parameters = inspect.signature(kernel).parameters.values()
    positional = [values[p.name] for p in parameters if p.kind != p.KEYWORD_ONLY]
    return kernel(*positional, **{p.name: values[p.name] for p in parameters if p.kind == p.KEYWORD_ONLY})


#: The class-index options each cross-entropy kernel takes: a weight, ignored targets
#: (-100, or a valid class), label smoothing.
CLASS_INDEX_OPTIONS = [
    {},
    {"weight": True},
    {"ignored": -100},
    {"ignored": -100, "weight": True},
    {"ignored": 3},
    {"ignored": 3, "weight": True},
    {"every_target_ignored": True},
    {"every_target_ignored": True, "weight": True},
    {"label_smoothing": 0.1},
    {"label_smoothing": 0.1, "weight": True, "ignored": -100},
]

#: Score shapes ((C,), (N, C), (N, C, d1, d2)) and layouts: C-contiguous, and for (N, C)
#: also Fortran order and every other column of a wider array.  (128, 1000) is large enough
#: for the log-sum-exp by blocks of rows (``_numpy_kernels.BLOCKED_MIN``).
SCORE_LAYOUTS = [
    ((7,), "C"),
    ((5, 7), "C"),
    ((64, 1000), "C"),
    ((128, 1000), "C"),
    ((6, 5, 4, 3), "C"),
    ((5, 7), "F"),
    ((5, 7), "strided"),
    ((128, 1000), "F"),
]


def _laid_out(x, layout):
    """``x``'s values in ``layout``: "C", "F", or "strided" (every other column of a wider array)."""
    if layout == "F":
        return np.asfortranarray(x)
    if layout == "strided":
        wide = np.zeros((x.shape[0], 2 * x.shape[1]), dtype=x.dtype)
        wide[:, ::2] = x
        return wide[:, ::2]
    return np.ascontiguousarray(x)


def _assert_same_bits(out, body, arrays, given) -> None:
    assert out is not NotImplemented
    with anyloss.native_paths(False), warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = body(**arrays, **given)
    assert type(out) is np.ndarray and (out.dtype, out.shape) == (expected.dtype, expected.shape)
    assert out.tobytes() == expected.tobytes(), "not the same bits"


@pytest.mark.parametrize(
    "shape,layout", SCORE_LAYOUTS, ids=["x".join(map(str, s)) + "-" + o for s, o in SCORE_LAYOUTS]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize(
    "name,options",
    [
        (name, options)
        for name in ("nll_loss", "cross_entropy")
        for options in CLASS_INDEX_OPTIONS
        if name == "cross_entropy" or "label_smoothing" not in options
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={v[k]}" for k in v) or "plain",
)
def test_class_index_kernels_take_their_options(name, options, reduction, dtype, shape, layout) -> None:
    """nll_loss's and cross_entropy's kernels compute (not decline) the usual call of class
    indices with a weight, ignored targets (all of them too: 'mean' is NaN), label
    smoothing, each reduction and float dtype, (C,), (N, C) (in any layout) or spatial
    scores, to the body's bits."""
    rng = np.random.default_rng(sum(shape))
    class_axis = 1 if len(shape) > 1 else 0
    n_classes = shape[class_axis]
    x = rng.normal(0.0, 3.0, shape).astype(dtype)
    if name == "nll_loss":
        x = x - np.log(np.sum(np.exp(x), axis=class_axis, keepdims=True))
    x = _laid_out(x, layout)
    target_shape = shape[:class_axis] + shape[class_axis + 1 :]
    target = rng.integers(0, n_classes, target_shape)
    given = {"reduction": reduction}
    if options.get("weight"):
        given["weight"] = rng.uniform(0.5, 2.0, n_classes).astype(dtype)
    if "ignored" in options:
        given["ignore_index"] = options["ignored"]
        target.reshape(-1)[::3] = options["ignored"]
    if options.get("every_target_ignored"):
        target[...] = -100
    if "label_smoothing" in options:
        given["label_smoothing"] = options["label_smoothing"]
    arrays = {"input": x, "target": target}
    assert x.flags.f_contiguous if layout == "F" else x.flags.c_contiguous == (layout == "C")
    body = getattr(anyloss, name)
    out = _call_kernel(body, KERNELS[name], arrays, **given)
    _assert_same_bits(out, body, arrays, given)
    if options.get("every_target_ignored") and reduction == "mean":
        assert np.isnan(out)


@pytest.mark.parametrize(
    "change",
    [
        {"target": np.array([0, 1, 7])},
        {"target": np.array([0, -1, 2])},
        {"target": np.array([0, 1, 2], dtype=np.int32)},
        {"weight": np.ones(4)},
        {"weight": np.ones(3, dtype=np.float32)},
        {"input": np.zeros((3, 4, 2), dtype=np.float32), "target": np.zeros((3, 3), dtype=np.int64)},
        {"input": np.zeros((3, 4), dtype=np.float16)},
        {"input": np.zeros((0, 4), dtype=np.float32), "target": np.zeros(0, dtype=np.int64)},
        {"ignore_index": True},
        {"ignore_index": 2**64},
        {"size_average": False},
        {"reduction": "elementwise_mean"},
    ],
    ids=lambda c: "-".join(c),
)
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_class_index_kernels_decline_what_the_body_must_check(name, change) -> None:
    """A class index out of range (ignored or not), another target dtype, a weight of
    another dtype or shape, a spatial target of another shape, half or empty scores,
    options of other types or ranges: the body runs and checks them."""
    arrays = {
        "input": np.zeros((3, 4), dtype=np.float32),
        "target": np.array([0, 1, 2]),
        "weight": np.ones(4, dtype=np.float32),
    }
    assert _call_kernel(getattr(anyloss, name), KERNELS[name], {**arrays, **change}) is NotImplemented


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_class_index_kernels_decline_spatial_arrays_not_c_contiguous(name) -> None:
    """Spatial scores or targets in another layout: their sums would add in another order."""
    x = np.zeros((3, 4, 2), dtype=np.float32)
    t = np.zeros((3, 2), dtype=np.int64)
    kernel, body = KERNELS[name], getattr(anyloss, name)
    assert _call_kernel(body, kernel, {"input": x, "target": t}) is not NotImplemented
    assert _call_kernel(body, kernel, {"input": np.asfortranarray(x), "target": t}) is NotImplemented
    assert _call_kernel(body, kernel, {"input": x, "target": np.asfortranarray(t)}) is NotImplemented


@pytest.mark.parametrize("smoothing", [1.5, float("nan"), "0.1"])
def test_cross_entropy_kernel_declines_unusual_smoothing(smoothing) -> None:
    arrays = {"input": np.zeros((3, 4)), "target": np.array([0, 1, 2])}
    kernel = KERNELS["cross_entropy"]
    assert _call_kernel(anyloss.cross_entropy, kernel, arrays, label_smoothing=smoothing) is NotImplemented


@pytest.mark.parametrize(
    "shape,layout", SCORE_LAYOUTS, ids=["x".join(map(str, s)) + "-" + o for s, o in SCORE_LAYOUTS]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
def test_cross_entropy_kernel_takes_probability_targets(
    label_smoothing, weighted, reduction, dtype, shape, layout
) -> None:
    """cross_entropy's kernel computes (not declines) class probabilities of the scores'
    shape and dtype (in C order whatever the scores' layout), with a weight and label
    smoothing, to the body's bits."""
    rng = np.random.default_rng(sum(shape))
    class_axis = 1 if len(shape) > 1 else 0
    q = rng.uniform(0.0, 1.0, shape).astype(dtype)
    arrays = {
        "input": _laid_out(rng.normal(0.0, 3.0, shape).astype(dtype), layout),
        "target": q / np.sum(q, axis=class_axis, keepdims=True),
    }
    given = {"reduction": reduction, "label_smoothing": label_smoothing}
    if weighted:
        given["weight"] = rng.uniform(0.5, 2.0, shape[class_axis]).astype(dtype)
    out = _call_kernel(anyloss.cross_entropy, KERNELS["cross_entropy"], arrays, **given)
    _assert_same_bits(out, anyloss.cross_entropy, arrays, given)


@pytest.mark.parametrize(
    "change",
    [
        {"target": np.full((3, 4), 0.25)},
        {"weight": np.ones(3, dtype=np.float32)},
        {"ignore_index": 0},
        {"input": np.zeros((0, 4), dtype=np.float32), "target": np.zeros((0, 4), dtype=np.float32)},
        {
            "input": np.zeros((3, 4, 2), dtype=np.float32),
            "target": np.asfortranarray(np.zeros((3, 4, 2), dtype=np.float32)),
        },
        # A (1,) target of a (1,) input is a probability by its shape: an int64 one raises.
        {"input": np.zeros(1, dtype=np.float32), "target": np.zeros(1, dtype=np.int64), "weight": None},
    ],
    ids=lambda c: "-".join(c),
)
def test_cross_entropy_kernel_declines_unusual_probability_targets(change) -> None:
    """Probabilities of another dtype, a weight of another shape, a class ignore_index,
    empty scores, spatial probabilities not C-contiguous, an integer target of the scores'
    shape: the body checks them."""
    arrays = {
        "input": np.zeros((3, 4), dtype=np.float32),
        "target": np.full((3, 4), 0.25, dtype=np.float32),
        "weight": np.ones(4, dtype=np.float32),
    }
    kernel = KERNELS["cross_entropy"]
    assert _call_kernel(anyloss.cross_entropy, kernel, {**arrays, **change}) is NotImplemented


@pytest.mark.parametrize("shape", [(6, 5), (128, 1000)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("probabilities", [False, True], ids=["indices", "probabilities"])
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_cross_entropy_kernel_takes_non_finite_logits(shape, probabilities, reduction) -> None:
    """Rows whose maximum is +inf, −inf (every logit) or NaN, and a −inf logit, small and
    large (the log-sum-exp by blocks): the body's bits, NaN where torch has NaN."""
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 3.0, shape).astype(np.float32)
    x[0, 1] = np.inf
    x[1] = -np.inf
    x[2, 3] = np.nan
    x[3, 0] = -np.inf
    target = (
        rng.uniform(0.0, 1.0, shape).astype(np.float32)
        if probabilities
        else rng.integers(1, shape[1], shape[0])
    )
    arrays = {"input": x, "target": target}
    out = _call_kernel(anyloss.cross_entropy, KERNELS["cross_entropy"], arrays, reduction=reduction)
    _assert_same_bits(out, anyloss.cross_entropy, arrays, {"reduction": reduction})
    if reduction == "none":
        # A −inf logit of a probability above 0 costs inf; off an index target, nothing.
        assert np.isnan(out[:3]).all() and (np.isinf(out[3]) if probabilities else np.isfinite(out[3:]).all())


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
    ("triplet_margin_with_distance_loss", {}),
    ("triplet_margin_with_distance_loss", {"swap": True}),
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
        ("triplet_margin_with_distance_loss", True),
    ],
)
def test_numpy_embedding_kernels_of_mixed_memory_orders(name, taken, dtype) -> None:
    """A ufunc's result takes the memory order of its operands, which decides the order of a
    sum: the row kernels compute each product as the body does, in an array of its own; the
    elementwise ones, which compute in place, leave such a call to the body."""
    for second in (np.asfortranarray, lambda a: np.repeat(a, 2, axis=0)[::2]):
        args, kwargs = _embedding_call(name, dtype, (300, 37), np.random.default_rng(2))
        args = (args[0], second(args[1]), *args[2:])
        kwargs = {**kwargs, "swap": True} if name.startswith("triplet_margin") else kwargs
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


def _multilabel_targets(rng, n: int, classes: int, most: int) -> np.ndarray:
    """Up to ``most`` labels per row (duplicates among them), then −1 and anything in
    [−1, C) after it; some rows with none before it, and for C ≤ 64 some without −1 (C
    labels: as many slots)."""
    target = rng.integers(-1, classes, (n, classes))
    for row in range(n):
        labels = row % (most + 1)  # 0 .. most labels
        target[row, :labels] = rng.integers(0, classes, labels)
        if row % 7 == 3 and classes <= 64:
            target[row] = rng.integers(0, classes, classes)
        else:
            target[row, labels] = -1
    target[0, :3] = [1, 1, -1]  # a duplicate counts twice
    return target


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# Each (row, slot, class) at once; one slot at a time in blocks of rows; and on several
# threads (at least 2**20 elements).
@pytest.mark.parametrize("shape", [(8, 10), (300, 37), (1100, 1000)], ids=["8x10", "300x37", "1100x1000"])
def test_numpy_multilabel_margin_kernel_has_the_bodys_bits(shape, dtype, reduction) -> None:
    """The multilabel_margin_loss kernel computes the usual call (int64 labels padded with
    −1, every entry in [−1, C)) in both of the body's forms, with non-finite scores and
    pairs exactly at the margin, to the body's bits."""
    rng = np.random.default_rng(shape[0])
    x = rng.normal(size=shape).astype(dtype)
    x[1, :3] = [np.inf, -np.inf, np.nan]
    x[2, :2] = [0.5, -0.5]  # 1 − x[t] + x_k = 0 for t = 0, k = 1
    target = _multilabel_targets(rng, *shape, most=4 if shape[1] < 100 else 6)
    target[2, :2] = [0, -1]
    arrays = {"input": x, "target": target}
    kernel = KERNELS["multilabel_margin_loss"]
    out = _call_kernel(anyloss.multilabel_margin_loss, kernel, arrays, reduction=reduction)
    _assert_same_bits(out, anyloss.multilabel_margin_loss, arrays, {"reduction": reduction})
    # No labels at all: zeros, as the body's
    arrays = {"input": x, "target": np.full(shape, -1)}
    out = _call_kernel(anyloss.multilabel_margin_loss, kernel, arrays, reduction=reduction)
    _assert_same_bits(out, anyloss.multilabel_margin_loss, arrays, {"reduction": reduction})


@pytest.mark.parametrize(
    "change",
    ["out of range", "below -1", "int32 labels", "Fortran order", "1-D", "float16", "legacy flag"],
)
def test_numpy_multilabel_margin_kernel_declines_what_the_body_must_see(change) -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 9))
    target = _multilabel_targets(rng, 6, 9, most=3)
    given: dict = {}
    if change == "out of range":
        target[4, 0] = 9
    elif change == "below -1":
        target[4, 0] = -2
    elif change == "int32 labels":
        target = target.astype(np.int32)
    elif change == "Fortran order":
        x = np.asfortranarray(x)
    elif change == "1-D":
        x, target = x[0], target[0]
    elif change == "float16":
        x = x.astype(np.float16)
    else:
        given = {"reduce": False}
    arrays = {"input": x, "target": target}
    out = _call_kernel(anyloss.multilabel_margin_loss, KERNELS["multilabel_margin_loss"], arrays, **given)
    assert out is NotImplemented


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("blank", [0, 2])
def test_numpy_ctc_kernel_has_the_bodys_bits(blank, zero_infinity, dtype, reduction) -> None:
    """The ctc_loss kernel computes the usual call to the body's bits, with repeated labels,
    labels equal to the blank or outside the classes, empty targets, sequences that end
    early (or at once), impossible alignments (an infinite loss) and NaN."""
    rng = np.random.default_rng(blank)
    arrays = _ctc_arrays(rng, dtype, steps=30, batch=12, classes=6, width=5)
    targets, lengths = arrays["targets"], arrays["input_lengths"]
    targets[0, :3] = [3, 3, 3]  # repeats need blanks between them
    targets[1, :2] = [blank, 7]  # the blank itself, and a label past the classes
    targets[2, :2] = [-1, 5]
    targets[8, 0] = 2
    lengths[4:7] = [0, 1, 2]  # nothing in no frame; 2 labels in 1 frame, 3 in 2: impossible
    arrays["target_lengths"][:9] = [3, 2, 2, 0, 0, 2, 3, 3, 2]
    arrays["log_probs"][:, 7, 1:] = -np.inf  # only class 0: impossible for 3 labels
    arrays["log_probs"][5, 8, 2] = np.nan  # read by every alignment of sequence 8
    given = {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}
    out = _call_kernel(anyloss.ctc_loss, KERNELS["ctc_loss"], arrays, **given)
    _assert_same_bits(out, anyloss.ctc_loss, arrays, given)
    losses = anyloss.ctc_loss(**arrays, blank=blank, reduction="none", zero_infinity=zero_infinity)
    assert losses[4] == 0 and np.isnan(losses[8])
    assert ((losses[5:8] == 0) if zero_infinity else np.isinf(losses[5:8])).all()


@pytest.mark.parametrize(
    "change",
    [
        "1-D targets",
        "int32 lengths",
        "list lengths",
        "target too long",
        "input too long",
        "negative length",
        "blank out of range",
        "float16",
        "not C-contiguous",
    ],
)
def test_numpy_ctc_kernel_declines_what_the_body_must_see(change) -> None:
    rng = np.random.default_rng(3)
    arrays = _ctc_arrays(rng, np.float64, steps=6, batch=3, classes=5, width=3)
    given: dict = {}
    if change == "1-D targets":
        arrays["targets"] = arrays["targets"].reshape(-1)
    elif change == "int32 lengths":
        arrays["input_lengths"] = arrays["input_lengths"].astype(np.int32)
    elif change == "list lengths":
        arrays["target_lengths"] = arrays["target_lengths"].tolist()
    elif change == "target too long":
        arrays["target_lengths"][1] = 4
    elif change == "input too long":
        arrays["input_lengths"][1] = 7
    elif change == "negative length":
        arrays["input_lengths"][2] = -1
    elif change == "blank out of range":
        given = {"blank": 5}
    elif change == "float16":
        arrays["log_probs"] = arrays["log_probs"].astype(np.float16)
    else:
        arrays["log_probs"] = np.asfortranarray(arrays["log_probs"])
    assert _call_kernel(anyloss.ctc_loss, KERNELS["ctc_loss"], arrays, **given) is NotImplemented


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "ignored", ["none", "-100", "a class", "every target"], ids=lambda v: f"ignored={v}".replace(" ", "-")
)
@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
# One row; one chunk; three chunks of rows (at least 2**18 logits each by default).
@pytest.mark.parametrize(
    "shape", [(1, 3, 5), (9, 4, 7), (600, 16, 1000)], ids=["1x3x5", "9x4x7", "600x16x1000"]
)
def test_numpy_linear_cross_entropy_kernel_has_the_bodys_bits(shape, bias, ignored, dtype, reduction) -> None:
    """The linear_cross_entropy kernel computes the usual call (class indices, each a class
    or ignore_index; a bias or none) over the body's chunks, to the body's bits, with
    infinite and NaN features."""
    n, features, classes = shape
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, features)).astype(dtype)
    if n > 2:
        x[1, 0], x[2, 1] = np.inf, np.nan
    layer = (rng.normal(size=(classes, features)) / np.sqrt(features)).astype(dtype)
    target = rng.integers(0, classes, n)
    given: dict = {"reduction": reduction}
    if ignored == "-100":
        target[::3] = -100
    elif ignored == "a class":
        given["ignore_index"] = 2
    elif ignored == "every target":
        target[:] = -100
    arrays = {"input": x, "linear_weight": layer, "target": target}
    if bias:
        arrays["linear_bias"] = rng.normal(size=classes).astype(dtype)
    out = _call_kernel(anyloss.linear_cross_entropy, KERNELS["linear_cross_entropy"], arrays, **given)
    _assert_same_bits(out, anyloss.linear_cross_entropy, arrays, given)


@pytest.mark.parametrize(
    "change",
    [
        "a class weight",
        "label smoothing",
        "z-loss",
        "soft-cap",
        "return_lse",
        "chunk_size",
        "probabilities",
        "target out of range",
        "int32 target",
        "float64 layer",
        "1-D input",
        "float16",
    ],
)
def test_numpy_linear_cross_entropy_kernel_declines_what_the_body_must_see(change) -> None:
    rng = np.random.default_rng(4)
    arrays = {"input": rng.normal(size=(6, 3)).astype(np.float32), "target": rng.integers(0, 5, 6)}
    arrays["linear_weight"] = rng.normal(size=(5, 3)).astype(np.float32)
    options = {
        "a class weight": {"weight": np.ones(5, np.float32)},
        "label smoothing": {"label_smoothing": 0.1},
        "z-loss": {"z_loss": 1e-4},
        "soft-cap": {"softcap": 30.0},
        "return_lse": {"return_lse": True},
        "chunk_size": {"chunk_size": 2},
    }
    given = options.get(change, {})
    if change == "probabilities":
        arrays["target"] = rng.uniform(size=(6, 5)).astype(np.float32)
    elif change == "target out of range":
        arrays["target"][3] = 5
    elif change == "int32 target":
        arrays["target"] = arrays["target"].astype(np.int32)
    elif change == "float64 layer":
        arrays["linear_weight"] = arrays["linear_weight"].astype(np.float64)
    elif change == "1-D input":
        arrays["input"], arrays["target"] = arrays["input"][0], arrays["target"][0]
    elif change == "float16":
        arrays["input"] = arrays["input"].astype(np.float16)
        arrays["linear_weight"] = arrays["linear_weight"].astype(np.float16)
    kernel = KERNELS["linear_cross_entropy"]
    assert _call_kernel(anyloss.linear_cross_entropy, kernel, arrays, **given) is NotImplemented
