"""Binary losses: what the case table cannot state (classes, exactness, lazy values, differences)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
import anyloss.torch as altorch

LOGITS = np.array([0.5, -1.5, 2.0], dtype=np.float32)
LABELS = np.array([1.0, 0.0, 1.0], dtype=np.float32)


def test_bce_with_logits_class_gives_the_seed_value(backend) -> None:
    loss = anyloss.BCEWithLogitsLoss()
    value = backend.call(loss, (backend.convert(LOGITS), backend.convert(LABELS)), {})
    assert round(float(backend.to_numpy(value)), 4) == 0.2675


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("BCELoss", {"weight": np.array([0.5, 2.0, 1.0], dtype=np.float32)}),
        ("BCELoss", {"reduction": "sum"}),
        ("BCEWithLogitsLoss", {"pos_weight": np.array([3.0, 1.0, 0.5], dtype=np.float32)}),
        ("BCEWithLogitsLoss", {"weight": np.array([0.5, 2.0, 1.0], dtype=np.float32), "reduction": "none"}),
        ("SoftMarginLoss", {"reduction": "sum"}),
    ],
)
def test_classes_and_modules_equal_torchs_modules(name: str, kwargs: dict) -> None:
    x = np.array([0.25, 0.5, 0.875], dtype=np.float32)
    t = np.array([1.0, 0.0, 1.0], dtype=np.float32) if name != "SoftMarginLoss" else LABELS * 2 - 1
    tensors = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    want = getattr(torch.nn, name)(**tensors)(torch.from_numpy(x), torch.from_numpy(t)).numpy()
    got = getattr(anyloss, name)(**kwargs)(x, t)
    np.testing.assert_allclose(got, want, rtol=2e-6)
    module = getattr(altorch, name)(**tensors)
    assert isinstance(module, torch.nn.Module)
    with anyloss.native_paths(False):
        generic = module(torch.from_numpy(x), torch.from_numpy(t))
    np.testing.assert_allclose(generic.numpy(), want, rtol=2e-6)


def test_bce_with_logits_module_moves_weight_and_pos_weight_as_buffers() -> None:
    module = altorch.BCEWithLogitsLoss(weight=torch.ones(3), pos_weight=torch.full((3,), 2.0))
    assert set(module.state_dict()) == {"weight", "pos_weight"}
    module.to(torch.float64)
    assert module.weight.dtype == module.pos_weight.dtype == torch.float64
    x, t = torch.tensor(LOGITS, dtype=torch.float64), torch.tensor(LABELS, dtype=torch.float64)
    want = F.binary_cross_entropy_with_logits(
        x, t, torch.ones(3, dtype=torch.float64), pos_weight=torch.full((3,), 2.0, dtype=torch.float64)
    )
    assert torch.equal(module(x, t), want)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_bce_with_logits_is_exact_at_extreme_logits(dtype: str) -> None:
    x = jnp.asarray([-100.0, 1000.0, -1000.0, 1000.0], dtype=dtype)
    t = jnp.asarray([1.0, 1.0, 0.0, 0.0], dtype=dtype)
    for fn in (
        lambda a, b: anyloss.binary_cross_entropy_with_logits(a, b, reduction="none"),
        jax.jit(lambda a, b: anyloss.binary_cross_entropy_with_logits(a, b, reduction="none")),
    ):
        loss = np.asarray(fn(x, t).astype(jnp.float32))
        assert loss.tolist() == [100.0, 0.0, 0.0, 1000.0]
    grad = jax.grad(lambda a: anyloss.binary_cross_entropy_with_logits(a, t, reduction="sum"))(x)
    assert np.asarray(grad.astype(jnp.float32)).tolist() == [-1.0, 0.0, 0.0, 1.0]


def test_bce_with_logits_gradient_at_logit_zero_is_half_minus_target() -> None:
    t = jnp.asarray([0.0, 0.5, 1.0])
    grad = jax.grad(lambda x: anyloss.binary_cross_entropy_with_logits(x, t, reduction="sum"))(jnp.zeros(3))
    assert np.asarray(grad).tolist() == [0.5, 0.0, -0.5]


def test_bce_at_zero_and_one_is_clamped_with_torchs_gradient() -> None:
    x, t = jnp.asarray([0.0, 1.0, 0.0]), jnp.asarray([1.0, 0.0, 0.0])
    loss = anyloss.binary_cross_entropy(x, t, reduction="none")
    assert np.asarray(loss).tolist() == [100.0, 100.0, 0.0]
    gx = jax.grad(lambda a: anyloss.binary_cross_entropy(a, t, reduction="sum"))(x)
    np.testing.assert_allclose(np.asarray(gx), [-1e12, 1e12, 0.0], rtol=1e-8)


@pytest.mark.parametrize("jit", [False, True])
def test_infinite_target_gradient_of_bce(jit: bool) -> None:
    x, t, ct = [0.0, 1.0, 0.0, 0.5], [0.0, 1.0, 0.5, 0.5], [1.0, 1e-3, 0.0, 1.0]

    def loss(b: jax.Array) -> jax.Array:
        per_element = anyloss.binary_cross_entropy(jnp.asarray(x), b, reduction="none")
        return jnp.sum(per_element * jnp.asarray(ct))

    grad = (jax.jit(jax.grad(loss)) if jit else jax.grad(loss))(jnp.asarray(t))
    # torch: −logit(x)·ct, so ±inf, and NaN where a zero cotangent meets inf (0·inf).
    tt = torch.tensor(t, dtype=torch.float64, requires_grad=True)
    torch.sum(
        F.binary_cross_entropy(torch.tensor(x, dtype=torch.float64), tt, reduction="none")
        * torch.tensor(ct, dtype=torch.float64)
    ).backward()
    expected = tt.grad.numpy()
    assert np.isnan(expected[2])
    np.testing.assert_array_equal(np.asarray(grad), expected)


def test_gradients_torch_does_not_define_are_the_formulas() -> None:
    x = jnp.asarray([0.25, 0.5, 0.875])
    t = jnp.asarray([1.0, 0.0, 1.0])
    w = jnp.asarray([0.5, 2.0, 1.0])
    per_element = anyloss.binary_cross_entropy(x, t, reduction="none")
    gw = jax.grad(lambda a: anyloss.binary_cross_entropy(x, t, a, reduction="sum"))(w)
    np.testing.assert_allclose(np.asarray(gw), np.asarray(per_element), rtol=1e-13)

    logits = jnp.asarray([0.5, -1.5, 2.0])
    gpw = jax.grad(
        lambda p: anyloss.binary_cross_entropy_with_logits(logits, t, reduction="sum", pos_weight=p)
    )(w)
    np.testing.assert_allclose(np.asarray(gpw), np.asarray(t * jax.nn.softplus(-logits)), rtol=1e-13)
    gt = jax.grad(lambda b: anyloss.soft_margin_loss(logits, b, reduction="sum"))(t)
    np.testing.assert_allclose(np.asarray(gt), np.asarray(-logits * jax.nn.sigmoid(-t * logits)), rtol=1e-13)
    # On torch tensors the native path keeps torch's refusal.
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        anyloss.binary_cross_entropy(
            torch.tensor([0.5]), torch.tensor([1.0]), torch.ones(1, requires_grad=True)
        )


def test_soft_margin_loss_rejects_complex_inputs() -> None:
    x = np.array([1.0 + 1.0j, 2.0], dtype=np.complex64)
    with pytest.raises(TypeError, match="complex inputs are not supported"):
        anyloss.soft_margin_loss(x, np.ones(2, dtype=np.float32))


@pytest.mark.parametrize(
    ("x", "t", "nan_at"),
    [
        ([0.5, 1.5, 0.0], [1.0, 1.0, 0.0], [False, True, False]),
        ([0.5, -0.1, 0.0], [1.0, 0.0, 0.0], [False, True, False]),
        ([0.5, np.nan, 0.0], [1.0, 0.5, 0.0], [False, True, False]),
    ],
)
def test_bce_out_of_range_values_on_lazy_backends(x, t, nan_at) -> None:
    x, t = np.asarray(x), np.asarray(t)
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        anyloss.binary_cross_entropy(x, t)
    loss = jax.jit(lambda a, b: anyloss.binary_cross_entropy(a, b, reduction="none"))(x, t)
    assert np.isnan(np.asarray(loss)).tolist() == nan_at


@pytest.mark.parametrize("size", [12, 1 << 17], ids=["small", "blocked"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("bad", [1.5, -0.25, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["input", "target"])
def test_bce_value_outside_0_1_raises_as_torch_for_every_reduction_and_size(
    where, bad, reduction, size
) -> None:
    """NumPy's kernel finds an input outside [0, 1] from the NaN it makes of the sum (and
    checks the target before): one bad value anywhere, in a small and in a blocked input,
    raises torch's error, in every reduction."""
    rng = np.random.default_rng(0)
    arrays = {"input": rng.uniform(size=size), "target": rng.uniform(size=size)}
    arrays[where][size // 3] = bad
    with pytest.raises(RuntimeError, match=f"all elements of {where} should be between 0 and 1"):
        F.binary_cross_entropy(
            *(torch.from_numpy(arrays[k]) for k in ("input", "target")), reduction=reduction
        )
    with pytest.raises(RuntimeError, match=f"all elements of {where} should be between 0 and 1"):
        anyloss.binary_cross_entropy(arrays["input"], arrays["target"], reduction=reduction)


def test_bce_target_outside_0_1_is_used_as_given_on_lazy_backends() -> None:
    import dask.array as da

    x, t = np.array([0.25, 0.5]), np.array([1.5, -1.0])
    loss = anyloss.binary_cross_entropy(da.from_array(x), da.from_array(t), reduction="none")
    want = -(t * np.log(x) + (1 - t) * np.log1p(-x))
    np.testing.assert_allclose(loss.compute(), want, rtol=1e-13)
