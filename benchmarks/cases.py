"""Benchmark inputs: one builder per loss, at three sizes, as NumPy arrays.

Every case is float32 (class indices int64), deterministic (a seeded generator), and
built in torch's argument order so the same ``args``/``kwargs`` call anyloss,
``torch.nn.functional`` and the peers.  ``diff`` names the positional arguments that
forward+backward differentiates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anyloss._registry import RECORDS

SIZES = ("small", "medium", "large")

#: Every loss, in the order of the loss records.
LOSSES = tuple(RECORDS)

#: Elementwise losses: small 8×10, medium 256×1000, large 1e7 elements (10000×1000).
ELEMENTWISE_SHAPES = {"small": (8, 10), "medium": (256, 1000), "large": (10_000, 1000)}
#: Row (classification / embedding) losses: N×C, large 65536×1000.
ROW_SHAPES = {"small": (8, 10), "medium": (256, 1000), "large": (65_536, 1000)}
#: CTC: (T, N, C, S).
CTC_SHAPES = {"small": (10, 8, 10, 4), "medium": (50, 32, 30, 15), "large": (200, 64, 50, 30)}
#: Features of linear_cross_entropy's input (its N×C are the row shapes).
LINEAR_FEATURES = 64
#: Labels per row of the multilabel_margin_loss targets (then -1 padding).
MULTILABEL_K = 4


@dataclass
class Case:
    loss: str
    size: str
    shape: str
    args: list[Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    diff: tuple[int, ...] = (0,)

    @property
    def nbytes(self) -> int:
        """Bytes of the array inputs, each read once."""
        return int(sum(a.nbytes for a in self.args if isinstance(a, np.ndarray)))


def _f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def _randn(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float32 values, drawn in float32 (twice as fast as drawing float64)."""
    return rng.standard_normal(shape, dtype=np.float32)


def _uniform(rng: np.random.Generator, low: float, high: float, shape: tuple[int, ...]) -> np.ndarray:
    out = rng.random(shape, dtype=np.float32)
    out *= high - low
    out += low
    return out


def _pm1(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return _f32(rng.integers(0, 2, size=shape) * 2 - 1)


def _elementwise(loss: str, shape: tuple[int, ...], rng: np.random.Generator) -> Case:
    def randn() -> np.ndarray:
        return _randn(rng, shape)

    if loss in ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"):
        return Case(loss, "", "", [randn(), randn()])
    if loss == "binary_cross_entropy":
        return Case(loss, "", "", [_uniform(rng, 0.01, 0.99, shape), _uniform(rng, 0, 1, shape)])
    if loss == "binary_cross_entropy_with_logits":
        return Case(loss, "", "", [randn(), _uniform(rng, 0, 1, shape)])
    if loss == "poisson_nll_loss":
        return Case(loss, "", "", [0.5 * _randn(rng, shape), _f32(rng.poisson(2.0, shape))])
    if loss == "gaussian_nll_loss":
        return Case(loss, "", "", [randn(), randn(), _uniform(rng, 0.5, 2.0, shape)], diff=(0, 2))
    if loss == "kl_div":
        # 'batchmean' is the reduction people use: 'mean' warns on every call in torch.
        x = _log_softmax(_randn(rng, shape), axis=-1)
        t = np.exp(_log_softmax(_randn(rng, shape), axis=-1))
        return Case(loss, "", "", [x, t], {"reduction": "batchmean"})
    if loss == "margin_ranking_loss":
        return Case(loss, "", "", [randn(), randn(), _pm1(rng, shape)], diff=(0, 1))
    if loss in ("hinge_embedding_loss", "soft_margin_loss"):
        return Case(loss, "", "", [randn(), _pm1(rng, shape)])
    raise KeyError(loss)


def _rows(loss: str, shape: tuple[int, int], rng: np.random.Generator) -> Case:
    n, c = shape

    def randn() -> np.ndarray:
        return _randn(rng, shape)

    def classes() -> np.ndarray:
        return rng.integers(0, c, size=n, dtype=np.int64)

    if loss == "cross_entropy":
        return Case(loss, "", "", [randn(), classes()])
    if loss == "linear_cross_entropy":
        # The layer's rows are the classes: features of LINEAR_FEATURES, the logits never built.
        x = _randn(rng, (n, LINEAR_FEATURES))
        layer = _f32(_randn(rng, (c, LINEAR_FEATURES)) / np.sqrt(LINEAR_FEATURES))
        return Case(loss, "", "", [x, layer, classes()], diff=(0, 1))
    if loss == "nll_loss":
        return Case(loss, "", "", [_log_softmax(_randn(rng, shape), axis=1), classes()])
    if loss == "multi_margin_loss":
        return Case(loss, "", "", [randn(), classes()])
    if loss == "multilabel_margin_loss":
        k = min(MULTILABEL_K, c - 1)
        target = np.full(shape, -1, dtype=np.int64)
        # k distinct labels per row: a random offset plus a fixed stride never repeats.
        start = rng.integers(0, c, size=(n, 1))
        target[:, :k] = (start + np.arange(k) * (c // k)) % c
        return Case(loss, "", "", [randn(), target])
    if loss == "multilabel_soft_margin_loss":
        return Case(loss, "", "", [randn(), _f32(rng.integers(0, 2, size=shape))])
    if loss == "cosine_embedding_loss":
        return Case(loss, "", "", [randn(), randn(), _pm1(rng, (n,))], diff=(0, 1))
    if loss in ("triplet_margin_loss", "triplet_margin_with_distance_loss"):
        return Case(loss, "", "", [randn(), randn(), randn()], diff=(0, 1, 2))
    raise KeyError(loss)


def _ctc(shape: tuple[int, int, int, int], rng: np.random.Generator) -> Case:
    t, n, c, s = shape
    log_probs = _log_softmax(_randn(rng, (t, n, c)), axis=2)
    targets = rng.integers(1, c, size=(n, s), dtype=np.int64)
    input_lengths = np.full(n, t, dtype=np.int64)
    target_lengths = rng.integers(max(1, s // 2), s + 1, size=n, dtype=np.int64)
    return Case("ctc_loss", "", "", [log_probs, targets, input_lengths, target_lengths])


#: The losses whose case is built by ``_rows`` (the rest by ``_elementwise``, ctc_loss by ``_ctc``).
ROW_LOSSES = frozenset(name for name, record in RECORDS.items() if record.bench == "rows")


def shape_of(loss: str, size: str) -> str:
    bench = RECORDS[loss].bench
    if bench == "ctc":
        t, n, c, s = CTC_SHAPES[size]
        return f"T={t} N={n} C={c} S={s}"
    shape = (ROW_SHAPES if bench == "rows" else ELEMENTWISE_SHAPES)[size]
    return "×".join(str(d) for d in shape)


def build(loss: str, size: str, seed: int = 0) -> Case:
    """The benchmark case of ``loss`` at ``size`` ('small', 'medium', 'large')."""
    bench = RECORDS[loss].bench
    rng = np.random.default_rng(seed)
    if bench == "ctc":
        case = _ctc(CTC_SHAPES[size], rng)
    elif bench == "rows":
        case = _rows(loss, ROW_SHAPES[size], rng)
    else:
        case = _elementwise(loss, ELEMENTWISE_SHAPES[size], rng)
    case.size = size
    case.shape = shape_of(loss, size)
    return case
