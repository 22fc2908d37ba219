"""The native peers anyloss is timed against, one per loss and library.

* NumPy: the plain NumPy formula a user would write (float32 stays float32).
* JAX: the optax function where one computes the same value, otherwise the same plain
  formula in ``jax.numpy``; both run under ``jax.jit`` in the suite.
* torch: ``torch.nn.functional`` itself (see run.py), so there is nothing here for it.

The formulas are for the benchmark's inputs and arguments (``cases.py``: 'mean' reduction,
default parameters, ``kl_div`` with 'batchmean', ±1 targets where torch tests ``t == 1``),
short enough to check by eye.  The suite asserts every peer's value against anyloss's (and
``--check-peers`` against torch's) before timing, so the comparison is of equal work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .cases import MULTILABEL_K

Peer = Callable[..., Any]


# --- formulas written once for NumPy and jax.numpy ---------------------------------------


def _softplus(xp: Any, x: Any) -> Any:
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _logsumexp(xp: Any, x: Any, axis: int) -> Any:
    m = xp.max(x, axis=axis, keepdims=True)
    return xp.squeeze(m, axis=axis) + xp.log(xp.sum(xp.exp(x - m), axis=axis))


def l1_loss(xp: Any, x: Any, t: Any) -> Any:
    return xp.mean(xp.abs(x - t))


def mse_loss(xp: Any, x: Any, t: Any) -> Any:
    d = x - t
    return xp.mean(d * d)


def smooth_l1_loss(xp: Any, x: Any, t: Any) -> Any:
    z = xp.abs(x - t)
    return xp.mean(xp.where(z < 1.0, 0.5 * z * z, z - 0.5))


def huber_loss(xp: Any, x: Any, t: Any) -> Any:
    return smooth_l1_loss(xp, x, t)  # delta = beta = 1


def binary_cross_entropy(xp: Any, x: Any, t: Any) -> Any:
    log_x = xp.maximum(xp.log(x), -100.0)
    log_1mx = xp.maximum(xp.log1p(-x), -100.0)
    return -xp.mean(t * log_x + (1 - t) * log_1mx)


def binary_cross_entropy_with_logits(xp: Any, x: Any, t: Any) -> Any:
    return xp.mean(_softplus(xp, x) - x * t)


def poisson_nll_loss(xp: Any, x: Any, t: Any) -> Any:
    return xp.mean(xp.exp(x) - t * x)


def gaussian_nll_loss(xp: Any, x: Any, t: Any, var: Any) -> Any:
    v = xp.maximum(var, 1e-6)
    d = x - t
    return xp.mean(0.5 * (xp.log(v) + d * d / v))


def kl_div(xp: Any, x: Any, t: Any, reduction: str = "batchmean") -> Any:
    assert reduction == "batchmean"
    pointwise = xp.where(t > 0, t * xp.log(xp.where(t > 0, t, 1)), 0) - t * x
    return xp.sum(pointwise) / x.shape[0]


def margin_ranking_loss(xp: Any, x1: Any, x2: Any, y: Any) -> Any:
    return xp.mean(xp.maximum(-y * (x1 - x2), 0))


def hinge_embedding_loss(xp: Any, x: Any, t: Any) -> Any:
    return xp.mean(xp.where(t == 1, x, xp.maximum(1 - x, 0)))


def soft_margin_loss(xp: Any, x: Any, t: Any) -> Any:
    return xp.mean(xp.log1p(xp.exp(-t * x)))


def cross_entropy(xp: Any, x: Any, t: Any) -> Any:
    picked = xp.take_along_axis(x, t[:, None], axis=1)[:, 0]
    return xp.mean(_logsumexp(xp, x, axis=1) - picked)


def linear_cross_entropy(xp: Any, x: Any, layer: Any, t: Any) -> Any:
    return cross_entropy(xp, x @ layer.T, t)


def nll_loss(xp: Any, x: Any, t: Any) -> Any:
    return -xp.mean(xp.take_along_axis(x, t[:, None], axis=1))


def multi_margin_loss(xp: Any, x: Any, t: Any) -> Any:
    picked = xp.take_along_axis(x, t[:, None], axis=1)
    # The j == y term is max(0, 1) = 1: subtract it instead of masking it.
    per_row = xp.sum(xp.maximum(1 - picked + x, 0), axis=1) - 1
    return xp.mean(per_row / x.shape[1])


def multilabel_margin_loss(xp: Any, x: Any, t: Any) -> Any:
    # The benchmark's targets hold exactly k labels per row, then -1 padding.
    k = min(MULTILABEL_K, x.shape[1] - 1)
    labels = t[:, :k]
    picked = xp.take_along_axis(x, labels, axis=1)
    is_target = xp.any(labels[:, :, None] == xp.arange(x.shape[1])[None, None, :], axis=1)
    hinge = xp.maximum(1 - picked[:, :, None] + x[:, None, :], 0)
    per_row = xp.sum(xp.where(is_target[:, None, :], 0, hinge), axis=(1, 2))
    return xp.mean(per_row / x.shape[1])


def multilabel_soft_margin_loss(xp: Any, x: Any, t: Any) -> Any:
    return binary_cross_entropy_with_logits(xp, x, t)  # mean over C, then N, is the overall mean


def cosine_embedding_loss(xp: Any, x1: Any, x2: Any, y: Any) -> Any:
    eps = 1e-12
    cos = xp.sum(x1 * x2, axis=1) / xp.sqrt((xp.sum(x1 * x1, axis=1) + eps) * (xp.sum(x2 * x2, axis=1) + eps))
    return xp.mean(xp.where(y == 1, 1 - cos, xp.maximum(cos, 0)))


def triplet_margin_loss(xp: Any, a: Any, p: Any, n: Any) -> Any:
    eps = 1e-6
    dp = xp.sqrt(xp.sum((a - p + eps) ** 2, axis=-1))
    dn = xp.sqrt(xp.sum((a - n + eps) ** 2, axis=-1))
    return xp.mean(xp.maximum(1 + dp - dn, 0))


def triplet_margin_with_distance_loss(xp: Any, a: Any, p: Any, n: Any) -> Any:
    return triplet_margin_loss(xp, a, p, n)  # default distance: pairwise_distance, p=2, eps=1e-6


def ctc_loss_numpy(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
    """CTC's forward (α) recursion in log space, vectorised over the batch and states."""
    t_max, n, _ = log_probs.shape
    s = targets.shape[1]
    ext = np.zeros((n, 2 * s + 1), dtype=np.int64)  # blank = 0 between and around labels
    ext[:, 1::2] = targets
    skip = np.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != 0) & (ext[:, 2:] != ext[:, :-2])
    neg_inf = np.float32(-np.inf)
    alpha = np.full(ext.shape, neg_inf, dtype=log_probs.dtype)
    emit = np.take_along_axis(log_probs[0], ext, axis=1)
    alpha[:, :2] = emit[:, :2]
    for step in range(1, t_max):
        emit = np.take_along_axis(log_probs[step], ext, axis=1)
        a1 = np.concatenate([np.full((n, 1), neg_inf, alpha.dtype), alpha[:, :-1]], axis=1)
        a2 = np.concatenate([np.full((n, 2), neg_inf, alpha.dtype), alpha[:, :-2]], axis=1)
        a2 = np.where(skip, a2, neg_inf)
        new = np.logaddexp(np.logaddexp(alpha, a1), a2) + emit
        alpha = np.where((step < input_lengths)[:, None], new, alpha)
    rows = np.arange(n)
    end = np.logaddexp(alpha[rows, 2 * target_lengths], alpha[rows, 2 * target_lengths - 1])
    return np.mean(-end / np.maximum(target_lengths, 1).astype(log_probs.dtype))


FORMULAS: dict[str, Peer] = {
    f.__name__: f
    for f in (
        l1_loss,
        mse_loss,
        smooth_l1_loss,
        huber_loss,
        binary_cross_entropy,
        binary_cross_entropy_with_logits,
        poisson_nll_loss,
        gaussian_nll_loss,
        kl_div,
        margin_ranking_loss,
        hinge_embedding_loss,
        soft_margin_loss,
        cross_entropy,
        linear_cross_entropy,
        nll_loss,
        multi_margin_loss,
        multilabel_margin_loss,
        multilabel_soft_margin_loss,
        cosine_embedding_loss,
        triplet_margin_loss,
        triplet_margin_with_distance_loss,
    )
}


def numpy_peer(loss: str) -> tuple[str, Peer]:
    """(description, function of the case's args/kwargs) for the plain NumPy version."""
    if loss == "ctc_loss":
        return "numpy α-recursion", lambda *a, **k: ctc_loss_numpy(*a)
    formula = FORMULAS[loss]
    return "numpy formula", lambda *a, **k: formula(np, *a, **k)


def jax_peer(loss: str) -> tuple[str, Peer]:
    """(description, function) for JAX: optax where it computes the same value, else jax.numpy."""
    import jax.numpy as jnp
    import optax

    if loss == "mse_loss":
        return "optax.squared_error", lambda x, t: jnp.mean(optax.losses.squared_error(x, t))
    if loss in ("huber_loss", "smooth_l1_loss"):
        return "optax.huber_loss", lambda x, t: jnp.mean(optax.losses.huber_loss(x, t, delta=1.0))
    if loss in ("binary_cross_entropy_with_logits", "multilabel_soft_margin_loss"):
        return "optax.sigmoid_binary_cross_entropy", lambda x, t: jnp.mean(
            optax.losses.sigmoid_binary_cross_entropy(x, t)
        )
    if loss == "kl_div":
        return (
            "optax.kl_divergence",
            lambda x, t, reduction="batchmean": jnp.sum(optax.losses.kl_divergence(x, t)) / x.shape[0],
        )
    if loss == "cross_entropy":
        return "optax.softmax_cross_entropy_with_integer_labels", lambda x, t: jnp.mean(
            optax.losses.softmax_cross_entropy_with_integer_labels(x, t)
        )
    if loss == "linear_cross_entropy":
        return "optax.softmax_cross_entropy_with_integer_labels of x @ W.T", lambda x, w, t: jnp.mean(
            optax.losses.softmax_cross_entropy_with_integer_labels(x @ w.T, t)
        )
    if loss in ("triplet_margin_loss", "triplet_margin_with_distance_loss"):
        return "optax.triplet_margin_loss", lambda a, p, n: jnp.mean(
            optax.losses.triplet_margin_loss(a, p, n, norm_degree=2, margin=1.0, eps=1e-6)
        )
    if loss == "ctc_loss":

        def ctc(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
            t_max, n, _ = log_probs.shape
            logit_paddings = (jnp.arange(t_max)[None, :] >= input_lengths[:, None]).astype(log_probs.dtype)
            label_paddings = (jnp.arange(targets.shape[1])[None, :] >= target_lengths[:, None]).astype(
                log_probs.dtype
            )
            # optax applies log_softmax, which leaves log-probabilities unchanged.
            per_seq = optax.losses.ctc_loss(
                jnp.transpose(log_probs, (1, 0, 2)), logit_paddings, targets, label_paddings, blank_id=0
            )
            return jnp.mean(per_seq / jnp.maximum(target_lengths, 1))

        return "optax.ctc_loss", ctc
    formula = FORMULAS[loss]
    return "jnp formula", lambda *a, **k: formula(jnp, *a, **k)
