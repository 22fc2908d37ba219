"""Case table: linear_cross_entropy, against torch 2.13's reference path (``options=None``).

Every option (class weight, ignore_index, label smoothing, probability targets, bias, the
three reductions, K-dimensional weights, unbatched input) in a grid, in chunks of two rows
(``chunk_size``, anyloss's, which torch is not given) and in one chunk; the dtypes; and
torch's errors.  Gradients are compared for the input, the layer's weight and its bias.
"""

from __future__ import annotations

import itertools

import numpy as np

from support.make import HALVES, REDUCTIONS, cast, integers, normal, uniform
from support.oracle import Case

N, H, C = 5, 3, 4
FN = "linear_cross_entropy"


def without_chunk_size(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """torch has no chunk_size (its options chunk, anyloss's keyword is beyond torch)."""
    kwargs = {k: v for k, v in kwargs.items() if k != "chunk_size"}
    return args, kwargs


def widened(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """torch reads class indices as int64 only: anyloss accepts every integer dtype."""
    args, kwargs = without_chunk_size(args, kwargs)
    return (args[0], args[1], args[2].astype("int64")), kwargs


def _targets(tag: str, shape: tuple[int, ...], ignore: int | None) -> np.ndarray:
    t = integers(tag, shape, 0, C)
    if ignore is not None and t.size:
        flat = t.reshape(-1)
        flat[1::3] = ignore
        if ignore in range(C):
            flat[-1] = (ignore + 1) % C
    return t


def _probabilities(tag: str, shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    q = uniform(tag, shape, 0.0, 1.0, "float64")
    q = q / q.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    return cast(q, dtype)


CASES: list[Case] = []

# The option grid: layer form ((C, H) or K-dimensional (C, 2, 3, H)) × bias × class weight ×
# target kind (indices with -100 or a valid class ignored, probabilities) × smoothing ×
# reduction, in two-row chunks (one chunk for the K-dimensional forms).
FORMS = {"2d": (), "kdim": (2, 3)}
for form, extra in FORMS.items():
    x = normal(f"lce-x{form}", (N, H), scale=1.5)
    layer = normal(f"lce-w{form}", (C, *extra, H))
    bias = normal(f"lce-b{form}", (C, *extra))
    weight = uniform(f"lce-cw{form}", (C,), 0.3, 2.0)
    kinds = {
        "ignore=-100": (_targets(f"lce-t{form}", (N, *extra), -100), {}),
        "ignore=1": (_targets(f"lce-t1{form}", (N, *extra), 1), {"ignore_index": 1}),
        "probs": (_probabilities(f"lce-q{form}", (N, C, *extra)), {}),
    }
    grid = itertools.product((False, True), (False, True), kinds, (0.0, 0.2), REDUCTIONS)
    for biased, weighted, kind, ls, reduction in grid:
        if form == "kdim" and (biased != weighted or kind == "ignore=1"):
            continue
        target, kw = kinds[kind]
        kw = {**kw, "reduction": reduction, "label_smoothing": ls}
        grad: tuple = (0, 1)
        if biased:
            kw["linear_bias"] = bias
            grad = (0, 1, "linear_bias")
        if weighted:
            kw["weight"] = weight
        if form == "2d":
            kw["chunk_size"] = 2
        name = f"{form}-bias={biased}-w={weighted}-{kind}-ls={ls}-{reduction}"
        CASES.append(Case(FN, name, (x, layer, target), kw, grad=grad, to_torch=without_chunk_size))

# Unbatched input (H): a class index (0-D, or a (1,) array) or a (C) probability vector.
xu, wu = normal("lce-xu", (H,)), normal("lce-wu", (C, H))
for reduction in REDUCTIONS:
    for name, target in [
        ("index", np.array(2)),
        ("index-1", np.array([3])),
        ("probs", _probabilities("lce-qu", (C,))),
    ]:
        CASES.append(
            Case(
                FN,
                f"unbatched-{name}-{reduction}",
                (xu, wu, target),
                # torch's smoothing of a (1,) target with 'none' fails to broadcast: not smoothed.
                {
                    "reduction": reduction,
                    "linear_bias": normal("lce-bu", (C,)),
                    "label_smoothing": 0.0 if name == "index-1" else 0.1,
                },
                # torch's own backward of a (1,) target of an unbatched input fails.
                grad=() if name == "index-1" else (0, 1, "linear_bias"),
            )
        )

# dtypes: float64 (1e-12), and the half types (logits in the input dtype as torch's linear
# computes them, the rest in float32).
for dtype in ("float64", *HALVES):
    x = normal(f"lce-x{dtype}", (N, H), dtype, scale=1.5)
    layer = normal(f"lce-w{dtype}", (C, H), dtype)
    bias = normal(f"lce-b{dtype}", (C,), dtype)
    weight = uniform(f"lce-cw{dtype}", (C,), 0.3, 2.0, dtype)
    target = _targets(f"lce-t{dtype}", (N,), -100)
    for reduction in REDUCTIONS:
        CASES.append(
            Case(
                FN,
                f"{dtype}-{reduction}",
                (x, layer, target),
                {"linear_bias": bias, "weight": weight, "label_smoothing": 0.1, "reduction": reduction},
                grad=(0, 1, "linear_bias"),
            )
        )
    CASES.append(
        Case(
            FN,
            f"{dtype}-probs",
            (x, layer, _probabilities(f"lce-q{dtype}", (N, C), dtype)),
            {"chunk_size": 2},
            grad=(0, 1),
            to_torch=without_chunk_size,
        )
    )
# Probability targets promote: float32 features with float64 probabilities give float64.
CASES.append(
    Case(
        FN,
        "probs-float64-target",
        (normal("lce-xp", (N, H)), normal("lce-wp", (C, H)), _probabilities("lce-qp", (N, C), "float64")),
        grad=(0, 1),
    )
)

# Every integer dtype of class indices (torch: int64 and uint8 only), and the legacy mean.
xi, wi = normal("lce-xi", (N, H)), normal("lce-wi", (C, H))
for dtype in ("int32", "uint8"):
    CASES.append(
        Case(
            FN,
            f"target-{dtype}",
            (xi, wi, integers("lce-ti", (N,), 0, C, dtype)),
            grad=(0, 1),
            to_torch=widened,
        )
    )
CASES += [
    Case(FN, "elementwise_mean", (xi, wi, integers("lce-ti", (N,), 0, C)), {"reduction": "elementwise_mean"}),
    Case(FN, "all-ignored-mean", (xi, wi, np.full((N,), -100)), grad=(0, 1)),
    Case(FN, "empty-mean", (np.zeros((0, H), "float32"), wi, np.zeros((0,), "int64"))),
    Case(FN, "empty-sum", (np.zeros((0, H), "float32"), wi, np.zeros((0,), "int64")), {"reduction": "sum"}),
    Case(FN, "label-smoothing-negative", (xi, wi, integers("lce-ti", (N,), 0, C)), {"label_smoothing": -0.5}),
]

# torch's errors, word for word.
t = integers("lce-te", (N,), 0, C)
q = _probabilities("lce-qe", (N, C))
ERRORS = [
    ("3d-input", (normal("e3", (2, N, H)), wi, t), {}),
    ("0d-input", (np.array(1.0, "float32"), wi, t), {}),
    ("1d-weight", (xi, normal("e1", (H,)), t), {}),
    ("in-features", (xi, normal("e2", (C, H + 1)), t), {}),
    ("bias-shape", (xi, wi, t), {"linear_bias": normal("eb", (C + 1,))}),
    ("kdim-unbatched", (xu, normal("ek", (C, 2, H)), np.array([0, 1])), {}),
    ("probs-ignore_index", (xi, wi, q), {"ignore_index": -100}),
    ("dtype-input", (normal("ed", (N, H), "float64"), wi, t), {}),
    ("dtype-weight", (xi, normal("edw", (C, H), "float64"), t), {}),
    ("dtype-bias", (xi, wi, t), {"linear_bias": normal("edb", (C,), "float64")}),
    ("batchmean", (xi, wi, t), {"reduction": "batchmean"}),
    ("label-smoothing", (xi, wi, t), {"label_smoothing": 1.5}),
    ("label-smoothing-probs", (xi, wi, q), {"label_smoothing": 1.5}),
    ("weight-shape", (xi, wi, t), {"weight": np.ones(C + 1, "float32")}),
    ("weight-dtype", (xi, wi, t), {"weight": np.ones(C, "float64")}),
    ("weight-shape-probs", (xi, wi, q), {"weight": np.ones(C + 1, "float32")}),
    ("target-2d", (xi, wi, np.zeros((N, 2), "int64")), {}),
    ("target-batch", (xi, wi, t[:-1]), {}),
    ("target-float", (xi, wi, t.astype("float32")), {}),
    ("probs-integer", (xi, wi, np.ones((N, C), "int64")), {}),
    ("kdim-target", (xi, normal("ek2", (C, 2, H)), np.zeros((N, 3), "int64")), {}),
    ("integer-input", (np.ones((N, H), "int64"), np.ones((C, H), "int64"), t), {}),
]
for name, args, kw in ERRORS:
    CASES.append(Case(FN, f"error-{name}", args, kw, raises=True))
CASES.append(
    Case(FN, "error-target-out-of-bounds", (xi, wi, np.array([0, 1, 7, 2, 3])), raises=True, value_error=True)
)
