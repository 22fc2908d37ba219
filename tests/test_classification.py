"""Classification losses: what the case table cannot state.

Deliberate differences from torch (integer class indices of every dtype, empty margin
batches), what lazy backends give instead of value errors, the class forms and the
torch modules, and numerical properties checked without the oracle.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
import anyloss.torch as altorch
from cases import CASES
from support.backends import NumpyBed, TorchBed
from support.oracle import assert_close, cotangent, record, tolerance, torch_gradients, torch_outcome

X = np.array([[0.2, -1.0, 1.5, 0.3], [1.0, 0.5, -0.5, 2.0], [-0.3, 0.8, 0.1, 0.0]])
INDEX_LOSSES = [
    ("nll_loss", np.array([0, 3, 1]), {}),
    ("cross_entropy", np.array([0, 3, 1]), {"label_smoothing": 0.1}),
    ("multi_margin_loss", np.array([0, 3, 1]), {}),
    ("multilabel_margin_loss", np.array([[0, 3, -1, 1], [2, -1, 0, 0], [1, 2, 3, 0]]), {}),
]


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "uint16", "uint32"])
@pytest.mark.parametrize(("fn", "target", "kwargs"), INDEX_LOSSES, ids=[f for f, *_ in INDEX_LOSSES])
def test_integer_class_indices_of_every_dtype_are_accepted(fn, target, kwargs, dtype):
    if dtype.startswith("uint") and (target < 0).any():
        target = np.where(target < 0, 3, target)  # no padding value in an unsigned dtype
    narrow = target.astype(dtype)
    expected = getattr(F, fn)(torch.from_numpy(X), torch.from_numpy(target.astype("int64")), **kwargs).item()
    # torch itself rejects most of these dtypes: the difference is deliberate.
    if dtype != "uint8" or fn in ("multi_margin_loss", "multilabel_margin_loss"):
        with pytest.raises((RuntimeError, NotImplementedError)):
            getattr(F, fn)(torch.from_numpy(X), torch.from_numpy(narrow), **kwargs)
    for native in (True, False):
        with anyloss.native_paths(native):
            got = getattr(anyloss, fn)(torch.from_numpy(X), torch.from_numpy(narrow), **kwargs)
        assert got.item() == pytest.approx(expected, rel=1e-12)
    got = getattr(anyloss, fn)(X, narrow, **kwargs)
    assert float(got) == pytest.approx(expected, rel=1e-12)


def test_int32_indices_under_jax_without_x64_widths():
    got = anyloss.cross_entropy(jnp.asarray(X), jnp.asarray(np.array([0, 3, 1], "int32")))
    expected = F.cross_entropy(torch.from_numpy(X), torch.tensor([0, 3, 1])).item()
    assert float(got) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize(
    ("fn", "target"),
    [("multi_margin_loss", np.zeros((0,), "int64")), ("multilabel_margin_loss", np.zeros((0, 4), "int64"))],
)
def test_margin_losses_of_an_empty_batch_are_zero(fn, target, reduction, backend):
    # torch returns uninitialised memory here; anyloss returns 0 (parity notes).
    x = np.zeros((0, 4), dtype=np.float32)
    args = (backend.convert(x), backend.convert(target))
    result = backend.call(getattr(anyloss, fn), args, {"reduction": reduction})
    value = backend.to_numpy(result)
    assert value.shape == () and value.dtype == np.float32
    assert value == 0.0


#: The forms of multilabel_margin_loss under jit, each set by (BROADCAST_LIMIT, SLOT_BLOCK):
#: every slot at once (small inputs); one block of slots in straight-line code; blocks of 1
#: and of 3 slots (a last block past the row's end) in the loop.
JIT_FORMS = {"broadcast": (1 << 30, 4), "one block": (-1, 4), "blocks of 1": (-1, 1), "blocks of 3": (-1, 3)}


@pytest.fixture(params=list(JIT_FORMS))
def jit_form(request, monkeypatch):
    from anyloss.functional import _margin

    limit, block = JIT_FORMS[request.param]
    monkeypatch.setattr(_margin, "BROADCAST_LIMIT", limit)
    monkeypatch.setattr(_margin, "SLOT_BLOCK", block)
    return request.param


@pytest.mark.parametrize(
    ("fn", "target"),
    [
        ("nll_loss", np.array([0, 4, 1])),
        ("cross_entropy", np.array([0, -1, 1])),
        ("multi_margin_loss", np.array([0, 9, 1])),
        ("multilabel_margin_loss", np.array([[0, 3, -1, 1], [2, -1, 7, 0], [1, 2, 3, 0]])),
    ],
)
def test_out_of_range_class_index_is_nan_under_jit(fn, target):
    loss = getattr(anyloss, fn)
    run = jax.jit(lambda x, t: loss(x, t, reduction="none"))
    out = np.asarray(run(jnp.asarray(X), jnp.asarray(target)))
    assert np.isnan(out[1]) and np.isfinite(out[[0, 2]]).all()
    assert np.isnan(np.asarray(jax.jit(lambda x, t: loss(x, t))(jnp.asarray(X), jnp.asarray(target))))
    grad = jax.jit(jax.grad(lambda x, t: loss(x, t, reduction="sum")))(jnp.asarray(X), jnp.asarray(target))
    assert np.isfinite(np.asarray(grad)).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_multilabel_margin_with_traced_targets_matches_torch(reduction, dtype, jit_form):
    # Targets traced too, so the number of slots is not known when compiling: terms exactly
    # at the margin (no gradient), entries after −1, duplicates, a row without −1 and one
    # with nothing counted; in each form the compiled code can take.
    x = np.array(
        [
            [0.0, 1.0, 0.5, 2.0],
            [1.0, 0.0, 1.0, 0.0],
            [0.3, -1.2, 0.7, 0.1],
            [0.5, 0.2, -0.3, 1.1],
            [0.1, 0.2, 0.3, 0.4],
        ],
        dtype=dtype,
    )
    t = np.array([[1, -1, 0, 0], [0, 2, -1, 3], [2, 2, 0, -1], [1, 2, 3, 0], [-1, 1, 2, 3]])
    leaf = torch.tensor(x, requires_grad=True)
    expected = F.multilabel_margin_loss(leaf, torch.from_numpy(t), reduction=reduction)
    weights = np.arange(1, expected.numel() + 1, dtype=dtype).reshape(tuple(expected.shape))
    weighted = (expected * torch.from_numpy(weights)).sum()
    weighted.backward()
    want_grad = leaf.grad.numpy()
    tangent = np.linspace(-1.0, 1.0, x.size, dtype=dtype).reshape(x.shape)

    def objective(x, t):
        return jnp.sum(anyloss.multilabel_margin_loss(x, t, reduction=reduction) * weights)

    args = (jnp.asarray(x), jnp.asarray(t))
    out = jax.jit(lambda x, t: anyloss.multilabel_margin_loss(x, t, reduction=reduction))(*args)
    value, grad = jax.jit(jax.value_and_grad(objective))(*args)
    _, forward = jax.jit(lambda x, t, v: jax.jvp(lambda x: objective(x, t), (x,), (v,)))(*args, tangent)
    rtol = 1e-6 if dtype == "float32" else 1e-12
    assert out.dtype == grad.dtype == x.dtype
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(float(value), weighted.item(), rtol=rtol)
    np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(float(forward), float(np.sum(want_grad * tangent)), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("seed", range(3))
def test_multilabel_margin_under_jit_and_vmap_matches_torch_for_many_labels(seed, jit_form):
    """Rows of up to all 9 classes as labels (more than a block of slots), duplicates among
    them and entries after −1: the value under jit, the gradient of jit(grad) and the per
    row losses under vmap, in every form, against torch; then one row with an entry out of
    range: NaN there (torch raises), the other rows and the gradient unchanged."""
    rng = np.random.default_rng(seed)
    n, c = 6, 9
    x = rng.standard_normal((n, c)).round(1).astype(np.float32)  # some terms exactly at the margin
    t = rng.integers(-1, c, size=(n, c))
    t[0] = rng.permutation(c)  # every class a label, no −1
    t[1, 0] = -1  # nothing counted
    t[2, :6] = [4, 4, 1, 4, 0, 1]  # duplicates
    leaf = torch.tensor(x, requires_grad=True)
    expected = F.multilabel_margin_loss(leaf, torch.from_numpy(t), reduction="none")
    expected.sum().backward()
    args = (jnp.asarray(x), jnp.asarray(t))
    out = jax.jit(lambda x, t: anyloss.multilabel_margin_loss(x, t, reduction="none"))(*args)
    grad = jax.jit(jax.grad(lambda x, t: anyloss.multilabel_margin_loss(x, t, reduction="sum")))(*args)
    rows = jax.jit(jax.vmap(anyloss.multilabel_margin_loss))(*args)
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(rows), expected.detach().numpy(), rtol=1e-6)
    # A term taken or left at the margin would move an entry by 1/9.
    np.testing.assert_allclose(np.asarray(grad), leaf.grad.numpy(), rtol=1e-6, atol=1e-6)
    t[3, -1] = c
    bad = jax.jit(lambda x, t: anyloss.multilabel_margin_loss(x, t, reduction="none"))(
        args[0], jnp.asarray(t)
    )
    grad_bad = jax.jit(jax.grad(lambda x, t: anyloss.multilabel_margin_loss(x, t, reduction="sum")))(
        args[0], jnp.asarray(t)
    )
    assert np.isnan(bad[3]) and np.array_equal(np.delete(np.asarray(bad), 3), np.delete(np.asarray(out), 3))
    keep = np.arange(n) != 3
    np.testing.assert_array_equal(np.asarray(grad_bad)[keep], np.asarray(grad)[keep])
    assert not np.asarray(grad_bad)[3].any()


def test_cross_entropy_all_ignored_mean_is_nan_with_zero_gradient():
    x = jnp.asarray(X)
    t = jnp.full((3,), -100)
    value = anyloss.cross_entropy(x, t, label_smoothing=0.2, weight=jnp.ones(4))
    grad = jax.grad(lambda x: anyloss.cross_entropy(x, t, label_smoothing=0.2))(x)
    assert np.isnan(float(value))
    assert np.array_equal(np.asarray(grad), np.zeros_like(X))


def test_cross_entropy_logits_1e4_apart_are_exact_in_float32():
    x = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=np.float32)
    out = anyloss.cross_entropy(x, np.array([1, 0]), reduction="sum")
    assert out.dtype == np.float32 and float(out) == 40000.0


def test_multilabel_soft_margin_is_stable_for_huge_logits():
    x = np.array([[1e4, -1e4, 1e4]], dtype=np.float32)
    out = anyloss.multilabel_soft_margin_loss(
        x, np.array([[0.0, 1.0, 1.0]], dtype=np.float32), reduction="sum"
    )
    assert float(out) == pytest.approx(2e4 / 3, rel=1e-6)


def test_seed_examples_of_the_class_form():
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    assert round(float(anyloss.CrossEntropyLoss()(logits, np.array([2, 0]))), 4) == 1.4076
    x = np.array(
        [
            [1.624, -0.611, -0.528, -1.072, 0.865],
            [-2.301, 1.744, -0.761, 0.319, -0.249],
            [1.462, -2.060, -0.322, -0.384, 1.133],
        ]
    )
    assert round(float(anyloss.CrossEntropyLoss()(x, np.array([1, 0, 4]))), 3) == 2.764


def test_multi_margin_class_checks_p_and_weight_at_construction():
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        anyloss.MultiMarginLoss(p=3)
    message = "MultiMarginLoss: expected weight to be None or 1D tensor, got 2D instead"
    with pytest.raises(ValueError, match=message):
        anyloss.MultiMarginLoss(weight=np.ones((1, 4)))
    with pytest.raises(ValueError, match=message):
        altorch.MultiMarginLoss(weight=torch.ones(1, 4))
    with pytest.raises(ValueError, match=message):
        torch.nn.MultiMarginLoss(weight=torch.ones(1, 4))
    assert anyloss.MultiMarginLoss(p=2.0).p == 2.0


CLASSES = [
    ("CrossEntropyLoss", {"weight": True, "ignore_index": 1, "label_smoothing": 0.1}, np.array([0, 3, 1])),
    ("NLLLoss", {"weight": True, "reduction": "sum"}, np.array([0, 3, 1])),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": True}, np.array([0, 3, 1])),
    ("MultiLabelMarginLoss", {"reduction": "none"}, INDEX_LOSSES[3][1]),
    ("MultiLabelSoftMarginLoss", {"weight": True}, np.array([[0.0, 1, 1, 0]] * 3)),
]


@pytest.mark.parametrize(("name", "settings", "target"), CLASSES, ids=[c[0] for c in CLASSES])
def test_classes_and_torch_modules_equal_torchs_modules(name, settings, target):
    weight = np.array([0.5, 1.0, 2.0, 1.5])
    kwargs_np = {k: (weight if k == "weight" else v) for k, v in settings.items()}
    kwargs_t = {k: (torch.from_numpy(weight) if k == "weight" else v) for k, v in settings.items()}
    x_t, t_t = torch.from_numpy(X), torch.from_numpy(target)
    expected = getattr(torch.nn, name)(**kwargs_t)(x_t, t_t).numpy()
    np.testing.assert_allclose(getattr(anyloss, name)(**kwargs_np)(X, target), expected, rtol=1e-12)
    module = getattr(altorch, name)(**kwargs_t)
    if "weight" in settings:
        assert "weight" in dict(module.named_buffers())
        module = module.to(torch.float32)
        assert module.weight.dtype == torch.float32
        x_t = x_t.float()
        expected = getattr(torch.nn, name)(**kwargs_t).to(torch.float32)(x_t, t_t).numpy()
    with anyloss.native_paths(False):
        got = module(x_t, t_t)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-6)


def test_uint8_targets_compare_with_negative_ignore_index_on_array_api_strict():
    import array_api_strict as xps

    x = xps.asarray(X)
    t = xps.asarray(np.array([0, 255, 1], dtype=np.uint8))
    got = anyloss.nll_loss(x, t, ignore_index=255, reduction="sum")
    expected = F.nll_loss(
        torch.from_numpy(X), torch.tensor([0, 255, 1], dtype=torch.uint8), ignore_index=255, reduction="sum"
    ).item()
    assert float(got) == pytest.approx(expected, rel=1e-12)
    assert float(anyloss.nll_loss(x, xps.asarray(np.array([0, 2, 1], np.uint8)))) == pytest.approx(
        F.nll_loss(torch.from_numpy(X), torch.tensor([0, 2, 1])).item(), rel=1e-12
    )


MULTILABEL_CASES = [c for c in CASES if c.fn == "multilabel_margin_loss"]


@pytest.mark.parametrize("case", MULTILABEL_CASES, ids=[c.id for c in MULTILABEL_CASES])
@pytest.mark.parametrize("backend", [NumpyBed(), TorchBed(native=False)], ids=["numpy", "torch_generic"])
@pytest.mark.parametrize("by_slot", [False, True], ids=["broadcast", "by-slot"])
def test_multilabel_margin_both_eager_forms_match_torch(by_slot, backend, case, monkeypatch):
    """Eager backends compute small inputs in one broadcast pass and larger ones slot by slot
    (``BROADCAST_LIMIT``): every multilabel_margin_loss case of the tables, each way, against
    torch: value or exception type, and the gradient where the backend differentiates."""
    from anyloss.functional import _margin

    monkeypatch.setattr(_margin, "BROADCAST_LIMIT", -1 if by_slot else 1 << 30)
    if not all(backend.supports(v) for v in case.values()):
        pytest.skip(f"{backend.name} lacks a dtype of this case")
    expected = torch_outcome(case)
    args = tuple(backend.convert(a) for a in case.args)
    kwargs = {k: backend.convert(v) for k, v in case.kwargs.items()}
    fn = anyloss.multilabel_margin_loss
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        got = record(lambda: backend.call(fn, args, kwargs), backend.to_numpy)
        assert (got.error and got.error[0]) == (expected.error and expected.error[0])
        if expected.error is not None:
            return
        rtol, atol = tolerance(case, expected.dtype)
        assert_close(got.value, expected.value, rtol, atol, "value")
        if backend.differentiable and case.grad:
            grads = backend.grad(fn, args, kwargs, case.grad, cotangent(expected.shape))
            for g, w in zip(grads, torch_gradients(case, expected.shape), strict=True):
                assert_close(g, w, rtol, atol, "gradient")
