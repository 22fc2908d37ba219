"""What the case table cannot say about poisson_nll_loss, gaussian_nll_loss and kl_div:
the deliberate differences from torch, lazy backends' value checks, and the class forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
import anyloss.torch as altorch
from support.oracle import assert_close

X = np.array([[0.3, -1.2, 2.0], [0.5, 0.0, -0.7]])
T = np.array([[0.0, -1.0, 2.5], [1.0, 0.2, -0.4]])


# --- gaussian_nll_loss: a Python int variance -------------------------------------------


def test_torch_rejects_a_python_int_variance() -> None:
    with pytest.raises(TypeError):
        F.gaussian_nll_loss(torch.from_numpy(X), torch.from_numpy(T), 2)


@pytest.mark.parametrize("var", [2, 0])
def test_gaussian_python_int_variance_is_the_float(backend, var: int) -> None:
    x, t = backend.convert(X), backend.convert(T)
    got = backend.to_numpy(backend.call(anyloss.gaussian_nll_loss, (x, t, var), {}))
    want = F.gaussian_nll_loss(torch.from_numpy(X), torch.from_numpy(T), float(var))
    assert_close(got, want.numpy(), 1e-12, 1e-13, "value")


def test_gaussian_negative_python_int_variance_raises() -> None:
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        anyloss.gaussian_nll_loss(X, T, -1)


# --- gaussian_nll_loss: the negative-variance value check ---------------------------------


def test_gaussian_negative_variance_is_checked_before_its_shape(backend) -> None:
    var = backend.convert(np.array([-1.0, 1.0, 1.0, 1.0]))  # negative, and of no valid shape
    args = (backend.convert(X), backend.convert(T), var)
    # Eager: torch's order (the value check first).  Lazy: values cannot be read, so the
    # shape check is the first to fail.
    message = "var is of incorrect size" if backend.lazy else "var has negative entry/entries"
    with pytest.raises(ValueError, match=message):
        backend.call(anyloss.gaussian_nll_loss, args, {})


def test_gaussian_negative_variance_on_a_lazy_backend_is_clamped_at_eps(backend) -> None:
    if not backend.lazy:
        pytest.skip("eager backends raise (the case table checks torch's error)")
    var = np.array([[0.5, -0.1, 1.0], [2.0, 1.0, -3.0]])
    args = (backend.convert(X), backend.convert(T), backend.convert(var))
    got = backend.to_numpy(backend.call(anyloss.gaussian_nll_loss, args, {"reduction": "none"}))
    want = anyloss.gaussian_nll_loss(X, T, np.maximum(var, 1e-6), reduction="none")
    assert np.all(np.isfinite(got))
    assert_close(got, want, 1e-12, 1e-13, "value")


# --- NaN-free gradients where torch's are NaN ---------------------------------------------


def _grad(backend, fn, args: tuple, kwargs: dict, wrt: tuple) -> list[np.ndarray]:
    if not backend.differentiable:
        pytest.skip(f"{backend.name} does not differentiate")
    args = tuple(backend.convert(a) for a in args)
    with np.errstate(all="ignore"):
        return backend.grad(fn, args, kwargs, wrt, np.ones(np.broadcast_shapes(X.shape, T.shape)))


def _torch_grad(fn, args: tuple, kwargs: dict) -> list[np.ndarray]:
    leaves = [torch.from_numpy(a).requires_grad_(True) for a in args]
    out = fn(*leaves, **kwargs)
    return [g.numpy() for g in torch.autograd.grad(out.sum(), leaves)]


@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_full_target_gradient_is_finite_where_torch_is_nan(backend, log_input) -> None:
    x = np.abs(X) + 0.1 if not log_input else X
    kwargs = {"log_input": log_input, "full": True, "reduction": "none"}
    _, torch_dt = _torch_grad(F.poisson_nll_loss, (x, T), kwargs)
    assert np.isnan(torch_dt[T <= 0]).all()
    _, dt = _grad(backend, anyloss.poisson_nll_loss, (x, T), kwargs, (0, 1))
    if backend.name == "torch":
        # Native path: torch's own kernel, NaN included.
        assert_close(dt, torch_dt, 1e-12, 1e-13, "target gradient")
        return
    assert np.isfinite(dt).all()
    # Below t = 1 only −t·x (or −t·log(x + eps)) depends on t.
    low = T <= 1
    expected = -x if log_input else -np.log(x + 1e-8)
    assert_close(dt[low], expected[low], 1e-12, 1e-13, "target gradient, t <= 1")
    assert_close(dt[~low], torch_dt[~low], 1e-12, 1e-13, "target gradient, t > 1")


def test_kl_div_target_gradient_at_zero_target_is_minus_input_where_torch_is_nan(
    backend,
) -> None:
    t = np.abs(T)  # zeros at [0, 0]; positive elsewhere
    kwargs = {"reduction": "none"}
    torch_dx, torch_dt = _torch_grad(F.kl_div, (X, t), kwargs)
    assert np.isnan(torch_dt[t == 0]).all()
    dx, dt = _grad(backend, anyloss.kl_div, (X, t), kwargs, (0, 1))
    if backend.name == "torch":
        # Native path: torch's own kernel, NaN included.
        assert np.isnan(dt[t == 0]).all()
    else:
        assert_close(dt[t == 0], -X[t == 0], 1e-12, 1e-13, "target gradient, t = 0")
    assert_close(dt[t > 0], torch_dt[t > 0], 1e-12, 1e-13, "target gradient")
    assert_close(dx, torch_dx, 1e-12, 1e-13, "input gradient")


# --- complex inputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda x: anyloss.poisson_nll_loss(x, x),
        lambda x: anyloss.gaussian_nll_loss(x, x, 1.0),
        lambda x: anyloss.gaussian_nll_loss(x.real, x.real, x * x),
    ],
    ids=["poisson", "gaussian", "gaussian-var"],
)
def test_complex_inputs_raise_type_error(call) -> None:
    with pytest.raises(TypeError, match="complex inputs are not supported"):
        call(X.astype(np.complex128))


# --- class forms ----------------------------------------------------------------------------


def test_classes_pass_their_settings_to_the_function() -> None:
    x, t = np.abs(X) + 0.1, np.abs(T)
    var = np.full(X.shape, 0.3)
    poisson = anyloss.PoissonNLLLoss(log_input=False, full=True, eps=1e-3, reduction="sum")
    assert poisson(x, t) == anyloss.poisson_nll_loss(
        x, t, log_input=False, full=True, eps=1e-3, reduction="sum"
    )
    gaussian = anyloss.GaussianNLLLoss(full=True, eps=0.5, reduction="none")
    np.testing.assert_array_equal(
        gaussian(x, t, var),
        anyloss.gaussian_nll_loss(x, t, var, full=True, eps=0.5, reduction="none"),
    )
    kl = anyloss.KLDivLoss(reduction="batchmean", log_target=True)
    assert kl(X, T) == anyloss.kl_div(X, T, reduction="batchmean", log_target=True)


def test_gaussian_nll_loss_class_settings_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        anyloss.GaussianNLLLoss(True)  # type: ignore[misc]


MODULES = [
    ("PoissonNLLLoss", {"log_input": False, "full": True, "eps": 1e-3}, 2),
    ("PoissonNLLLoss", {"size_average": False}, 2),
    ("GaussianNLLLoss", {"full": True, "reduction": "sum"}, 3),
    ("KLDivLoss", {"reduction": "batchmean"}, 2),
    ("KLDivLoss", {"log_target": True, "reduction": "none"}, 2),
    # Legacy arguments are converted at construction: the class has no 'batchmean' quirk.
    ("KLDivLoss", {"size_average": False, "reduction": "batchmean"}, 2),
]


@pytest.mark.parametrize(("name", "settings", "arity"), MODULES, ids=[f"{n}-{s}" for n, s, _ in MODULES])
def test_torch_module_matches_torchs_module(name: str, settings: dict, arity: int) -> None:
    inputs = [
        torch.from_numpy(np.abs(X) + 0.1),
        torch.from_numpy(np.abs(T)),
        torch.from_numpy(np.full(X.shape, 0.4)),
    ][:arity]
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        reference = getattr(torch.nn, name)(**settings)
        want = reference(*inputs)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        module = getattr(altorch, name)(**settings)
        got = module(*inputs)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert isinstance(module, torch.nn.Module)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert_close(got.numpy(), want.numpy(), 1e-12, 1e-13, "value")


def test_kl_div_seed_example_gives_its_quoted_value(backend) -> None:
    p = np.log(np.array([[0.4, 0.6], [0.3, 0.7]], dtype=np.float32))
    q = np.array([[0.5, 0.5], [0.4, 0.6]], dtype=np.float32)
    loss = anyloss.KLDivLoss(reduction="batchmean")
    value = backend.to_numpy(backend.call(loss, (backend.convert(p), backend.convert(q)), {}))
    assert value.dtype == np.float32
    assert round(float(value), 4) == 0.0215
