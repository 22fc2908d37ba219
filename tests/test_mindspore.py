"""MindSpore tensors beyond the case tables: class forms, dtypes, devices, gradient rules, demo.

Collected only by ``pytest --mindspore`` (``make test-ms``, in MindSpore's environment);
every expected value comes from torch.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
from anyloss._cli import demo
from anyloss._examples import EXAMPLES
from cases import CASES
from support.arrays import dtype_name
from support.oracle import Case, tolerance, torch_outcome

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


# -- graph mode -------------------------------------------------------------------------------
def _first_case(loss: str) -> Case:
    """The first case of ``loss`` that torch computes from float32 inputs without a value check."""
    return next(
        c
        for c in CASES
        if c.fn == loss and not c.raises and not c.value_error and set(c.float_dtypes()) == {"float32"}
    )


def _jitted(case: Case, **jit_options):
    """``mindspore.jit`` of the loss as a function of the case's arrays (its options closed over)."""
    fn = getattr(anyloss, case.fn)
    positions = [i for i, a in enumerate(case.args) if isinstance(a, np.ndarray)]
    names = [k for k, v in case.kwargs.items() if isinstance(v, np.ndarray)]

    def objective(*arrays):
        args, kwargs = list(case.args), dict(case.kwargs)
        for key, array in zip(positions + names, arrays, strict=True):
            (args if isinstance(key, int) else kwargs)[key] = array
        return fn(*args, **kwargs)

    arrays = [ms.Tensor(case.args[i]) for i in positions] + [ms.Tensor(case.kwargs[k]) for k in names]
    return ms.jit(objective, **jit_options), arrays


@pytest.mark.parametrize("loss", sorted(anyloss.functional.__all__))
def test_bytecode_graph_mode_gives_torchs_value(loss: str) -> None:
    case = _first_case(loss)
    expected = torch_outcome(case)
    jitted, arrays = _jitted(case, capture_mode="bytecode")
    got = jitted(*arrays)
    assert dtype_name(got.dtype) == expected.dtype
    rtol, atol = tolerance(case, expected.dtype)
    np.testing.assert_allclose(got.asnumpy(), expected.value, rtol=rtol, atol=atol)


def test_bytecode_graph_mode_gives_torchs_gradient() -> None:
    target = np.array([2, 0], dtype=np.int64)
    xt = torch.from_numpy(X).requires_grad_(True)
    F.cross_entropy(xt, torch.from_numpy(target), label_smoothing=0.1).backward()
    jitted = ms.jit(lambda a, t: anyloss.cross_entropy(a, t, label_smoothing=0.1), capture_mode="bytecode")
    grad = ms.grad(jitted)(ms.Tensor(X), ms.Tensor(target))
    np.testing.assert_allclose(grad.asnumpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("loss", ["l1_loss", "cross_entropy", "binary_cross_entropy"])
def test_ast_graph_mode_refuses_the_bodies(loss: str) -> None:
    """MindSpore's default graph capture (``capture_mode='ast'``) parses a function's Python
    source into its own graph language, which anyloss's bodies (imports, branches on shapes and
    options) are not written in: it raises at compile time, never computes another number."""
    jitted, arrays = _jitted(_first_case(loss))
    with pytest.raises((RuntimeError, TypeError, UnboundLocalError, OSError, ValueError)):
        jitted(*arrays)


# -- the torch ↔ MindSpore page ------------------------------------------------------------------
def test_the_measured_mindspore_page_is_current(monkeypatch) -> None:
    """The record the torch ↔ MindSpore page is rendered from was made with this MindSpore and
    torch, over the case tables as they are: every case of every loss, for each form.  (Its
    counts are not recomputed here: where a MindSpore kernel fails, later calls in the same
    process can fail too, so they depend on what ran before.)"""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "docs" / "scripts"))
    import mindspore_table as table

    recorded = json.loads((table.HERE / "mindspore_measured.json").read_text())
    for name in ("mindspore", "torch"):
        assert recorded["versions"][name] == importlib.metadata.version(name), "run make mindspore-table"
    cases: dict[tuple[str, str], int] = {}
    for _, case, form, _ in table.comparisons(outcomes=False):
        cases[case.fn, form] = cases.get((case.fn, form), 0) + 1
    got = {
        (loss, form): entry["cases"]
        for loss, forms in recorded["losses"].items()
        for form, entry in forms.items()
    }
    assert got == cases, "run make mindspore-table"
