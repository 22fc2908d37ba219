"""MindSpore tensors beyond the case tables: class forms, dtypes, devices, gradient rules, demo.

Collected only by ``pytest --mindspore`` (``make test-ms``, in MindSpore's environment);
every expected value comes from torch.
"""

from __future__ import annotations

import io

import mindspore as ms
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
from anyloss._cli import demo
from anyloss._examples import EXAMPLES

ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")

X = np.array([[0.2, -1.3, 0.7], [1.1, 0.4, -0.5]], dtype=np.float32)
Y = np.array([[0.5, -1.0, 0.0], [1.0, 1.0, -2.0]], dtype=np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_functional_and_class_forms_give_torchs_value_in_torchs_dtype(dtype) -> None:
    x, y = X.astype(dtype), Y.astype(dtype)
    want = F.smooth_l1_loss(torch.from_numpy(x), torch.from_numpy(y), beta=0.5)
    for got in (
        anyloss.smooth_l1_loss(ms.Tensor(x), ms.Tensor(y), beta=0.5),
        anyloss.SmoothL1Loss(beta=0.5)(ms.Tensor(x), ms.Tensor(y)),
    ):
        assert isinstance(got, ms.Tensor)
        assert str(got.dtype).lower() == str(want.dtype).split(".")[-1]
        np.testing.assert_allclose(got.asnumpy(), want.numpy(), rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_explicit_namespace_mindspore_module_is_accepted() -> None:
    got = anyloss.l1_loss(ms.Tensor(X), ms.Tensor(Y), xp=ms)
    want = F.l1_loss(torch.from_numpy(X), torch.from_numpy(Y))
    np.testing.assert_allclose(got.asnumpy(), want.numpy(), rtol=1e-6)


def test_errors_are_torchs() -> None:
    with pytest.raises(ValueError) as want:
        F.mse_loss(torch.from_numpy(X), torch.from_numpy(Y), reduction="bad")
    with pytest.raises(ValueError) as got:
        anyloss.mse_loss(ms.Tensor(X), ms.Tensor(Y), reduction="bad")
    assert str(got.value) == str(want.value)


def test_the_sum_of_an_empty_batch_is_torchs() -> None:
    # MindSpore's own reduction of an empty tensor reads uninitialised memory.
    empty = np.zeros((0, 3), dtype=np.float32)
    for reduction in ("sum", "mean"):
        want = F.mse_loss(torch.from_numpy(empty), torch.from_numpy(empty), reduction=reduction)
        got = anyloss.mse_loss(ms.Tensor(empty), ms.Tensor(empty), reduction=reduction)
        np.testing.assert_array_equal(got.asnumpy(), want.numpy())


def test_bce_gradient_follows_torchs_clamp() -> None:
    x = np.array([0.0, 1.0, 0.3, 1.0], dtype=np.float32)
    y = np.array([0.5, 0.0, 1.0, 1.0], dtype=np.float32)
    xt = torch.from_numpy(x).requires_grad_(True)
    F.binary_cross_entropy(xt, torch.from_numpy(y)).backward()
    got = ms.grad(lambda a: anyloss.binary_cross_entropy(a, ms.Tensor(y)))(ms.Tensor(x))
    np.testing.assert_allclose(got.asnumpy(), xt.grad.numpy(), rtol=1e-6)


def test_gaussian_gradient_follows_torchs_variance_clamp() -> None:
    x, y = X[0], Y[0]
    var = np.array([1e-9, 0.5, 2.0], dtype=np.float32)
    vt = torch.from_numpy(var).requires_grad_(True)
    F.gaussian_nll_loss(torch.from_numpy(x), torch.from_numpy(y), vt, eps=1e-3).backward()
    got = ms.grad(
        lambda v: anyloss.gaussian_nll_loss(ms.Tensor(x), ms.Tensor(y), v, eps=1e-3), grad_position=0
    )(ms.Tensor(var))
    np.testing.assert_allclose(got.asnumpy(), vt.grad.numpy(), rtol=1e-6)


def test_value_and_grad_gives_torchs_value_and_gradient() -> None:
    target = np.array([2, 0], dtype=np.int64)
    xt = torch.from_numpy(X).requires_grad_(True)
    want = F.cross_entropy(xt, torch.from_numpy(target), label_smoothing=0.1)
    want.backward()
    value, grad = ms.value_and_grad(
        lambda a: anyloss.cross_entropy(a, ms.Tensor(target), label_smoothing=0.1)
    )(ms.Tensor(X))
    np.testing.assert_allclose(value.asnumpy(), want.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(grad.asnumpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_demo_has_a_mindspore_column_and_every_example_matches() -> None:
    out = io.StringIO()
    assert demo(out) == 0
    text = out.getvalue()
    header = next(line for line in text.splitlines() if line.startswith("example"))
    assert "mindspore" in header
    for example in EXAMPLES:
        assert example.title in text
