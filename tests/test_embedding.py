"""Embedding losses: what the case table cannot express (classes, the default distance,
a deliberate difference in float16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
import anyloss.torch as altorch
from anyloss.functional._embedding import _pairwise_distance
from support.make import normal


def _run(backend, fn, *args, **kwargs):
    for a in args:
        if not backend.supports(a):
            pytest.skip(f"{backend.name} has no {a.dtype} arrays")
    arrays = tuple(backend.asarray(a) for a in args)
    return backend.to_numpy(backend.call(fn, arrays, kwargs))


def test_cosine_embedding_loss_class_gives_the_seed_value(backend) -> None:
    loss = anyloss.CosineEmbeddingLoss()
    got = _run(backend, loss, np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([1]))
    assert got.shape == () and got == 1.0


def test_default_distance_is_torchs_pairwise_distance(backend) -> None:
    x, y = normal("pd-x", (4, 5)), normal("pd-y", (1, 5))
    got = _run(backend, _pairwise_distance, x, y)
    want = F.pairwise_distance(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_cosine_embedding_loss_float16_zero_vectors_give_cos_zero_not_nan(backend) -> None:
    # Deliberate difference: torch's float16 arithmetic rounds the 1e-12 to 0 and gives
    # 0/0 = NaN; anyloss computes in float32, where the zero vectors have cos = 0.
    zeros = np.zeros((2, 3), dtype=np.float16)
    target = np.array([1, -1])
    got = _run(backend, anyloss.cosine_embedding_loss, zeros, zeros, target, reduction="none")
    torch_half = F.cosine_embedding_loss(
        torch.from_numpy(zeros),
        torch.from_numpy(zeros),
        torch.from_numpy(target),
        reduction="none",
    )
    assert torch.isnan(torch_half).all()
    torch_float = F.cosine_embedding_loss(
        torch.from_numpy(zeros).float(),
        torch.from_numpy(zeros).float(),
        torch.from_numpy(target),
        reduction="none",
    )
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, torch_float.half().numpy())
    np.testing.assert_array_equal(got, [1.0, 0.0])


def test_triplet_margin_with_distance_loss_class_default_distance(backend) -> None:
    a, p, n = (normal(f"twd-class-{k}", (3, 4)) for k in "apn")
    loss = anyloss.TripletMarginWithDistanceLoss(margin=0.5, swap=True)
    assert loss.distance_function is _pairwise_distance
    got = _run(backend, loss, a, p, n)
    want = torch.nn.TripletMarginWithDistanceLoss(margin=0.5, swap=True)(
        *(torch.from_numpy(v) for v in (a, p, n))
    )
    np.testing.assert_allclose(got, want.numpy(), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "args", "kwargs"),
    [
        ("MarginRankingLoss", 3, {"margin": 0.2}),
        ("HingeEmbeddingLoss", 2, {"margin": 0.7}),
        ("CosineEmbeddingLoss", 3, {"margin": 0.1}),
        ("TripletMarginLoss", 3, {"margin": 0.5, "p": 1.0, "eps": 1e-3, "swap": True}),
        ("TripletMarginWithDistanceLoss", 3, {"margin": 0.5, "swap": True}),
    ],
)
@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_classes_and_torch_modules_match_torchs_modules(name, args, kwargs, reduction) -> None:
    shapes = {"CosineEmbeddingLoss": [(4, 3), (4, 3), (4,)]}.get(name, [(4, 3)] * args)
    values = [normal(f"{name}{i}", s) for i, s in enumerate(shapes)]
    if name in ("MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss"):
        values[-1] = np.sign(values[-1])
    tensors = [torch.from_numpy(v) for v in values]
    want = getattr(torch.nn, name)(reduction=reduction, **kwargs)(*tensors)
    ours = getattr(anyloss, name)(reduction=reduction, **kwargs)(*values)
    module = getattr(altorch, name)(reduction=reduction, **kwargs)
    assert isinstance(module, torch.nn.Module)
    with anyloss.native_paths(False):
        generic = module(*tensors)
    np.testing.assert_allclose(ours, want.numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(generic.numpy(), want.numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(module(*tensors).numpy(), want.numpy(), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("margin", [0.0, -1, 0])
@pytest.mark.parametrize("name", ["TripletMarginLoss", "TripletMarginWithDistanceLoss"])
def test_triplet_classes_reject_a_non_positive_margin_at_construction(name, margin) -> None:
    with pytest.raises(ValueError) as want:
        getattr(torch.nn, name)(margin=margin)
    for cls in (getattr(anyloss, name), getattr(altorch, name)):
        with pytest.raises(ValueError) as got:
            cls(margin=margin)
        assert str(got.value) == str(want.value)


@pytest.mark.parametrize(
    "name", ["MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss", "TripletMarginLoss"]
)
def test_legacy_arguments_in_constructors_set_the_reduction(name) -> None:
    with pytest.warns(UserWarning, match="reduction='none'"):
        loss = getattr(anyloss, name)(reduce=False)
    assert loss.reduction == "none"


def test_triplet_with_distance_keyword_only() -> None:
    a = np.zeros((2, 3))
    with pytest.raises(TypeError):
        anyloss.triplet_margin_with_distance_loss(a, a, a, None)  # type: ignore[misc]
    with pytest.raises(TypeError):
        anyloss.TripletMarginWithDistanceLoss(None)  # type: ignore[misc]


@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_loss_p0_gradient_is_zero_as_torchs(backend, swap) -> None:
    # torch's kernel gives no gradient to the inputs for p = 0 (a count of non-zeros).
    if not backend.differentiable:
        pytest.skip(f"{backend.name} does not differentiate")
    a, p, n = (normal(f"p0-{k}", (4, 3), "float64") for k in "apn")
    leaves = [torch.from_numpy(v).requires_grad_(True) for v in (a, p, n)]
    out = F.triplet_margin_loss(*leaves, p=0, margin=2.0, swap=swap, reduction="none")
    want = torch.autograd.grad(out.sum(), leaves, allow_unused=True)
    assert all(g is None or not g.any() for g in want)
    args = tuple(backend.asarray(v) for v in (a, p, n))
    kwargs = {"p": 0, "margin": 2.0, "swap": swap, "reduction": "none"}
    got = backend.grad(anyloss.triplet_margin_loss, args, kwargs, (0, 1, 2), np.ones(4))
    for g in got:
        np.testing.assert_array_equal(g, np.zeros((4, 3)))
