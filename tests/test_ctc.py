"""ctc_loss behaviours a case table cannot state: gradients through a log_softmax,
no negative loss by rounding, compilation that does not grow with T, the class forms."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
import anyloss.torch as altorch
from anyloss import _xp
from anyloss._backends import backend_for
from cases.ctc import labels
from support.make import normal
from support.oracle import assert_close, cotangent


def _through_log_softmax(logits, targets, input_lengths, target_lengths, **kwargs):
    log_probs = backend_for(_xp.array_namespace(logits)).log_softmax(logits, axis=-1)
    return anyloss.ctc_loss(log_probs, targets, input_lengths, target_lengths, **kwargs)


def _torch_gradient(logits, targets, input_lengths, target_lengths, ct, **kwargs):
    """torch's value, and its gradient computed in float64.

    torch's float32 backward loses about 1e-6 absolute to the cancellation in
    exp(lp) − exp(log αβ + nll − lp); float32 results are held to the float32 tolerance
    against the float64 gradient of the same inputs, which they meet.
    """
    value = F.ctc_loss(
        torch.from_numpy(logits).log_softmax(-1),
        torch.from_numpy(targets),
        torch.from_numpy(input_lengths),
        torch.from_numpy(target_lengths),
        **kwargs,
    )
    x = torch.from_numpy(logits.astype(np.float64)).requires_grad_(True)
    out = F.ctc_loss(
        x.log_softmax(-1),
        torch.from_numpy(targets),
        torch.from_numpy(input_lengths),
        torch.from_numpy(target_lengths),
        **kwargs,
    )
    (out * torch.from_numpy(ct).to(out.dtype)).sum().backward()
    return value.numpy(), x.grad.numpy()


GRADIENT_SETTINGS = [
    pytest.param("float64", "mean", False, id="float64-mean"),
    pytest.param("float64", "none", True, id="float64-none-zero_infinity"),
    pytest.param("float32", "sum", True, id="float32-sum-zero_infinity"),
    pytest.param("float32", "none", False, id="float32-none"),
]


@pytest.mark.parametrize(("dtype", "reduction", "zero_infinity"), GRADIENT_SETTINGS)
def test_ctc_gradient_through_log_softmax_matches_torch(backend, dtype, reduction, zero_infinity) -> None:
    if not backend.differentiable:
        pytest.skip(f"{backend.name} does not differentiate")
    logits = normal(f"lsm{dtype}", (9, 4, 6), dtype, scale=2.0)
    targets = labels("lsmtg", (4, 4), 6)
    targets[0, 1] = targets[0, 0]  # a repeated label
    # The last sequence is impossible (4 labels in 3 frames): inf, or 0 with zero_infinity.
    input_lengths = np.array([9, 7, 9, 3])
    target_lengths = np.array([4, 2, 0, 4])
    kwargs = {"reduction": reduction, "zero_infinity": zero_infinity}
    if not zero_infinity:
        input_lengths[3] = 9
    expected, want = _torch_gradient(
        logits,
        targets,
        input_lengths,
        target_lengths,
        cotangent((4,) if reduction == "none" else ()),
        **kwargs,
    )
    args = tuple(backend.convert(a) for a in (logits, targets, input_lengths, target_lengths))
    got = backend.grad(_through_log_softmax, args, kwargs, (0,), cotangent(expected.shape))[0]
    rtol, atol = (1e-12, 1e-13) if dtype == "float64" else (2e-6, 1e-6)
    assert_close(got, want, rtol, atol, "gradient through log_softmax")
    value = backend.to_numpy(backend.call(_through_log_softmax, args, kwargs))
    assert_close(value, expected, rtol, atol, "value")


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_ctc_float32_gradient_wrt_raw_log_probs_is_torchs(backend, reduction) -> None:
    """torch's gradient (with its exp(log_probs) term) in float32, against float64 torch."""
    if not backend.differentiable:
        pytest.skip(f"{backend.name} does not differentiate")
    raw = normal("raw32", (10, 4, 5), "float32")
    targets = labels("raw32tg", (4, 4), 5)
    input_lengths, target_lengths = np.array([10, 8, 10, 5]), np.array([4, 2, 3, 0])
    ct = cotangent((4,) if reduction == "none" else ())
    x = torch.from_numpy(raw.astype(np.float64)).requires_grad_(True)
    out = F.ctc_loss(
        x,
        torch.from_numpy(targets),
        torch.from_numpy(input_lengths),
        torch.from_numpy(target_lengths),
        reduction=reduction,
    )
    (out * torch.from_numpy(ct)).sum().backward()
    args = tuple(backend.convert(a) for a in (raw, targets, input_lengths, target_lengths))
    got = backend.grad(anyloss.ctc_loss, args, {"reduction": reduction}, (0,), ct)[0]
    assert_close(got, x.grad.numpy(), 2e-6, 1e-6, "float32 gradient")


def _near_certain_inputs() -> tuple[np.ndarray, np.ndarray]:
    """float32 log-probabilities under which the target is almost certain.

    Two classes, label 1 with probability 1 − p at every frame: the loss is about p² > 0,
    far below float32 resolution, so a log-sum-exp can round the log-likelihood above 0.
    """
    p = np.geomspace(1e-5, 3e-3, 64)
    frames = 3
    probs = np.stack([p, 1.0 - p], axis=-1)
    log_probs = np.broadcast_to(np.log(probs), (frames, p.size, 2)).astype(np.float32)
    return np.ascontiguousarray(log_probs), np.ones((p.size, 1), dtype=np.int64)


def test_ctc_loss_of_an_almost_certain_target_is_not_negative(backend) -> None:
    log_probs, targets = _near_certain_inputs()
    n = targets.shape[0]
    args = (
        backend.convert(log_probs),
        backend.convert(targets),
        backend.convert(np.full(n, log_probs.shape[0])),
        backend.convert(np.ones(n, dtype=np.int64)),
    )
    got = backend.to_numpy(backend.call(anyloss.ctc_loss, args, {"reduction": "none"}))
    assert (got >= 0).all(), got.min()
    reference = F.ctc_loss(
        torch.from_numpy(log_probs.astype(np.float64)),
        torch.from_numpy(targets),
        [log_probs.shape[0]] * n,
        [1] * n,
        reduction="none",
    ).numpy()
    assert_close(got, reference, 2e-6, 1e-6, "value")


def test_ctc_loss_rounding_clamp_keeps_the_gradient() -> None:
    """A loss rounded below zero is reported as 0, and its gradient is still torch's."""
    log_probs, targets = _near_certain_inputs()
    n = targets.shape[0]
    lengths = np.full(n, log_probs.shape[0]), np.ones(n, dtype=np.int64)
    x = torch.from_numpy(log_probs).requires_grad_(True)
    F.ctc_loss(x, torch.from_numpy(targets), *map(torch.from_numpy, lengths), reduction="sum").backward()
    g = jax.grad(
        lambda lp: anyloss.ctc_loss(lp, jnp.asarray(targets), *map(jnp.asarray, lengths), reduction="sum")
    )(jnp.asarray(log_probs))
    assert_close(np.asarray(g), x.grad.numpy(), 2e-6, 1e-6, "gradient")


def _jitted_ctc(T: int):
    N, C, S = 2, 5, 3
    lp = jnp.zeros((T, N, C), dtype=jnp.float32)
    args = (lp, jnp.ones((N, S), jnp.int32), jnp.full((N,), T, jnp.int32), jnp.full((N,), S, jnp.int32))

    def loss(lp, tg, il, tl):
        return anyloss.ctc_loss(lp, tg, il, tl)

    return loss, args


def test_ctc_jit_graph_does_not_grow_with_time_steps() -> None:
    sizes = {}
    for T in (10, 1000):
        loss, args = _jitted_ctc(T)
        forward = str(jax.make_jaxpr(loss)(*args))
        backward = str(jax.make_jaxpr(jax.grad(loss))(*args))
        sizes[T] = (len(forward), len(backward))
    # Only the printed sizes of the time axis differ (10 vs 1000: a few characters each).
    assert abs(sizes[1000][0] - sizes[10][0]) < 200, sizes
    assert abs(sizes[1000][1] - sizes[10][1]) < 400, sizes


def test_ctc_jit_compiles_for_a_thousand_time_steps() -> None:
    loss, args = _jitted_ctc(1000)
    start = time.perf_counter()
    compiled = jax.jit(jax.value_and_grad(loss)).lower(*args).compile()
    elapsed = time.perf_counter() - start
    value, grad = compiled(*args)
    assert np.isfinite(float(value)) and grad.shape == args[0].shape
    print(f"jit lower+compile of ctc_loss value_and_grad at T=1000: {elapsed:.2f} s")


def test_ctc_class_calls_the_function() -> None:
    lp = np.log(np.full((4, 2, 3), 1 / 3))
    tg, il, tl = np.array([[1, 2], [2, 0]]), [4, 3], [2, 1]
    loss = anyloss.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    assert (loss.blank, loss.reduction, loss.zero_infinity) == (0, "sum", True)
    expected = anyloss.ctc_loss(lp, tg, il, tl, reduction="sum", zero_infinity=True)
    assert loss(lp, tg, il, tl) == expected
    module = altorch.CTCLoss(reduction="none")
    reference = torch.nn.CTCLoss(reduction="none")
    args = (torch.from_numpy(lp), torch.from_numpy(tg), il, tl)
    assert isinstance(module, torch.nn.Module)
    torch.testing.assert_close(module(*args), reference(*args))
    with anyloss.native_paths(False):
        torch.testing.assert_close(module(*args), reference(*args))


def test_ctc_eager_jax_traces_its_recursion_once_per_shape(monkeypatch) -> None:
    from anyloss.functional import _ctc

    traces = []
    original = _ctc._sequence_losses

    def counted(*args):  # type: ignore[no-untyped-def]
        traces.append(args[3].shape)
        return original(*args)

    monkeypatch.setattr(_ctc, "_sequence_losses", counted)
    rng = np.random.default_rng(3)
    log_probs = jax.nn.log_softmax(jnp.asarray(rng.standard_normal((16, 4, 5))), axis=-1)
    targets = jnp.asarray(labels("retrace", (4, 3), 5))
    lengths = (jnp.full((4,), 16), jnp.full((4,), 3))

    def loss(x):  # type: ignore[no-untyped-def]
        return anyloss.ctc_loss(x, targets, *lengths, blank=0)

    values = [loss(log_probs), loss(log_probs), jax.value_and_grad(loss)(log_probs)[0]]
    jax.value_and_grad(loss)(log_probs)
    assert len(traces) == 1
    expected = F.ctc_loss(
        torch.from_numpy(np.array(log_probs)), *(torch.from_numpy(np.array(a)) for a in (targets, *lengths))
    )
    for value in values:
        assert_close(np.asarray(value), expected.numpy(), 1e-12, 1e-13, "value")
    anyloss.ctc_loss(log_probs[:8], targets, jnp.full((4,), 8), lengths[1])  # a new shape: traced once more
    assert len(traces) == 2
