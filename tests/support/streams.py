"""Valid inputs for every loss, by parameter name, for the out-of-core and distributed tests.

Each maker returns NumPy arrays keyed by the loss's parameter names and the options of the
call; torch (the oracle) gets the same call on the whole arrays.  Axis 0 is the batch axis
(axis 1 of ctc_loss's log_probs), so the arrays can be cut into chunks of rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .make import integers, normal, rng, uniform

Maker = Callable[[int], tuple[dict[str, np.ndarray], dict[str, Any]]]


def _sign(name: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.where(rng(name).random(shape) < 0.5, -1.0, 1.0).astype(np.float32)


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=axis, keepdims=True))).astype(x.dtype)


def _class_targets(name: str, n: int, classes: int, ignore: int) -> np.ndarray:
    t = integers(name, (n,), 0, classes)
    t[::4] = ignore  # every fourth target is ignored
    return t


def _ctc(n: int, concatenated: bool) -> dict[str, np.ndarray]:
    # Short sequences: on Dask the graph grows with T × chunks.
    T, C, S = 6, 4, 3
    log_probs = _log_softmax(normal("ctc-x", (T, n, C)), axis=2)
    target_lengths = integers("ctc-tl", (n,), 1, S + 1)
    targets = integers("ctc-t", (n, S), 1, C)
    input_lengths = integers("ctc-il", (n,), 4, T + 1)
    if concatenated:
        targets = np.concatenate([targets[i, : target_lengths[i]] for i in range(n)])
    return {
        "log_probs": log_probs,
        "targets": targets,
        "input_lengths": input_lengths,
        "target_lengths": target_lengths,
    }


def _pair(tag: str, n: int, width: int = 4, dtype: str = "float32") -> dict[str, np.ndarray]:
    return {"input": normal(tag + "x", (n, width), dtype), "target": normal(tag + "t", (n, width), dtype)}


#: (loss, case name) → maker; a few calls per loss that exercise its 'mean' rule.
MAKERS: dict[tuple[str, str], Maker] = {
    ("l1_loss", "plain"): lambda n: (_pair("l1", n), {}),
    ("l1_loss", "weight"): lambda n: ({**_pair("l1w", n), "weight": uniform("l1ww", (n, 4), 0.1, 2.0)}, {}),
    ("mse_loss", "plain"): lambda n: (_pair("mse", n, dtype="float64"), {}),
    ("mse_loss", "weight-sum"): lambda n: (
        {**_pair("msew", n), "weight": uniform("mseww", (n, 4), 0.1, 2.0)},
        {"reduction": "sum"},
    ),
    ("mse_loss", "weight"): lambda n: (
        {**_pair("msew", n), "weight": uniform("mseww", (n, 4), 0.1, 2.0)},
        {},
    ),
    ("smooth_l1_loss", "beta"): lambda n: (_pair("sl1", n), {"beta": 0.5}),
    ("huber_loss", "weight"): lambda n: (
        {**_pair("hub", n), "weight": uniform("hubw", (n, 4), 0.1, 2.0)},
        {"delta": 0.7},
    ),
    ("binary_cross_entropy", "weight"): lambda n: (
        {
            "input": uniform("bce", (n, 4), 0.02, 0.98),
            "target": uniform("bcet", (n, 4), 0, 1),
            "weight": uniform("bcew", (n, 4), 0.1, 2.0),
        },
        {},
    ),
    ("binary_cross_entropy_with_logits", "pos_weight"): lambda n: (
        {
            "input": normal("bcel", (n, 4)),
            "target": uniform("bcelt", (n, 4), 0, 1),
            "weight": uniform("bcelw", (4,), 0.1, 2.0),
            "pos_weight": uniform("bcelp", (4,), 0.5, 3),
        },
        {},
    ),
    ("poisson_nll_loss", "full"): lambda n: (
        {"input": normal("poi", (n, 4)), "target": integers("poit", (n, 4), 0, 6, "float32")},
        {"full": True},
    ),
    ("gaussian_nll_loss", "var-column"): lambda n: (
        {**_pair("gau", n), "var": uniform("gauv", (n, 1), 0.2, 2.0)},
        {"full": True},
    ),
    ("kl_div", "batchmean"): lambda n: (
        {
            "input": _log_softmax(normal("kl", (n, 5)), 1),
            "target": np.exp(_log_softmax(normal("klt", (n, 5)), 1)),
        },
        {"reduction": "batchmean"},
    ),
    ("kl_div", "log-target-sum"): lambda n: (
        {"input": _log_softmax(normal("kl2", (n, 5)), 1), "target": _log_softmax(normal("kl2t", (n, 5)), 1)},
        {"reduction": "sum", "log_target": True},
    ),
    ("hinge_embedding_loss", "margin"): lambda n: (
        {"input": normal("hin", (n, 4)), "target": _sign("hint", (n, 4))},
        {"margin": 0.5},
    ),
    ("soft_margin_loss", "plain"): lambda n: (
        {"input": normal("sm", (n, 4)), "target": _sign("smt", (n, 4))},
        {},
    ),
    ("margin_ranking_loss", "margin"): lambda n: (
        {"input1": normal("mr1", (n,)), "input2": normal("mr2", (n,)), "target": _sign("mrt", (n,))},
        {"margin": 0.2},
    ),
    ("multilabel_soft_margin_loss", "weight"): lambda n: (
        {
            "input": normal("mlsm", (n, 5)),
            "target": integers("mlsmt", (n, 5), 0, 2, "float32"),
            "weight": uniform("mlsmw", (5,), 0.1, 2.0),
        },
        {},
    ),
    ("cosine_embedding_loss", "margin"): lambda n: (
        {"input1": normal("cos1", (n, 6)), "input2": normal("cos2", (n, 6)), "target": _sign("cost", (n,))},
        {"margin": 0.1},
    ),
    ("multi_margin_loss", "weight"): lambda n: (
        {
            "input": normal("mm", (n, 5)),
            "target": integers("mmt", (n,), 0, 5),
            "weight": uniform("mmw", (5,), 0.1, 2.0),
        },
        {"p": 2, "margin": 0.8},
    ),
    ("multilabel_margin_loss", "plain"): lambda n: (
        {
            "input": normal("mlm", (n, 5)),
            "target": np.where(np.arange(5) < 2, integers("mlmt", (n, 5), 0, 5), -1),
        },
        {},
    ),
    ("triplet_margin_loss", "swap"): lambda n: (
        {
            "anchor": normal("tr1", (n, 6)),
            "positive": normal("tr2", (n, 6)),
            "negative": normal("tr3", (n, 6)),
        },
        {"swap": True},
    ),
    ("triplet_margin_with_distance_loss", "plain"): lambda n: (
        {
            "anchor": normal("twd1", (n, 6)),
            "positive": normal("twd2", (n, 6)),
            "negative": normal("twd3", (n, 6)),
        },
        {"margin": 0.5},
    ),
    ("cross_entropy", "weight-ignore-smoothing"): lambda n: (
        {
            "input": normal("ce", (n, 5), scale=2.0),
            "target": _class_targets("cet", n, 5, -100),
            "weight": uniform("cew", (5,), 0.1, 2.0),
        },
        {"label_smoothing": 0.1},
    ),
    ("cross_entropy", "ignore-index-option"): lambda n: (
        {"input": normal("ce2", (n, 5)), "target": _class_targets("ce2t", n, 5, 3)},
        {"ignore_index": 3},
    ),
    ("cross_entropy", "spatial-weight"): lambda n: (
        {
            "input": normal("ce3", (n, 5, 3)),
            "target": np.stack([_class_targets(f"ce3t{i}", n, 5, -100) for i in range(3)], 1),
            "weight": uniform("ce3w", (5,), 0.1, 2.0),
        },
        {},
    ),
    ("cross_entropy", "probabilities"): lambda n: (
        {"input": normal("ce4", (n, 5)), "target": np.exp(_log_softmax(normal("ce4t", (n, 5)), 1))},
        {"label_smoothing": 0.2},
    ),
    ("linear_cross_entropy", "bias-weight-ignore-smoothing"): lambda n: (
        {
            "input": normal("lce", (n, 4)),
            "linear_weight": normal("lcew", (6, 4)),
            "target": _class_targets("lcet", n, 6, -100),
            "linear_bias": normal("lceb", (6,)),
            "weight": uniform("lcecw", (6,), 0.1, 2.0),
        },
        {"label_smoothing": 0.1},
    ),
    ("linear_cross_entropy", "probabilities"): lambda n: (
        {
            "input": normal("lce2", (n, 4)),
            "linear_weight": normal("lce2w", (5, 4)),
            "target": np.exp(_log_softmax(normal("lce2t", (n, 5)), 1)),
        },
        {},
    ),
    ("nll_loss", "weight-ignore"): lambda n: (
        {
            "input": _log_softmax(normal("nll", (n, 5)), 1),
            "target": _class_targets("nllt", n, 5, 1),
            "weight": uniform("nllw", (5,), 0.1, 2.0),
        },
        {"ignore_index": 1},
    ),
    ("ctc_loss", "padded"): lambda n: (_ctc(n, False), {}),
    ("ctc_loss", "concatenated-sum"): lambda n: (_ctc(n, True), {"reduction": "sum"}),
    ("ctc_loss", "padded-zero-infinity"): lambda n: (_ctc(n, False), {"zero_infinity": True}),
}


def torch_value(loss: str, arrays: dict[str, np.ndarray], options: dict[str, Any]) -> tuple[float, int]:
    """torch's value for the whole arrays, and the number of terms of its 'none' output."""
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
    fn = getattr(F, loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' notice
        value = fn(**tensors, **options)
        none = fn(**tensors, **{**options, "reduction": "none"})
    return float(value), int(none.numel())


def tolerance(arrays: dict[str, np.ndarray]) -> float:
    """Relative tolerance: float32 rounding of a sum of up to a few hundred terms."""
    floats = [v.dtype for v in arrays.values() if v.dtype.kind == "f"]
    return 1e-12 if floats and all(d == np.float64 for d in floats) else 2e-6
