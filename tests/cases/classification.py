"""Case table: cross_entropy, nll_loss, multi_margin_loss, multilabel_margin_loss,
multilabel_soft_margin_loss."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from support.make import HALVES, REDUCTIONS, array, cast, integers, normal, uniform
from support.oracle import Case

C, N, D = 4, 3, 2
INF = float("inf")


def widen_target(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """torch reads class indices as int64 only: anyloss accepts every integer dtype."""
    return (args[0], args[1].astype("int64"), *args[2:]), kwargs


def _targets(tag: str, shape, ignore: int | None, dtype: str = "int64") -> np.ndarray:
    """Class indices in [0, C) with the ignored value at a fixed position or two."""
    t = integers(tag, shape, 0, C)
    if ignore is not None:
        flat = t.reshape(-1)
        flat[:: max(2, flat.size // 2)] = ignore
        if ignore in range(C):
            flat[-1] = (ignore + 1) % C
    return t.astype(dtype)


CASES: list[Case] = []

# --- cross_entropy and nll_loss: the combination grid ----------------------------------
# weight × ignore_index (the default −100 present in the targets, or a valid class) ×
# label_smoothing × target kind × reduction × input form ((C), (N, C), (N, C, d)).
SHAPES = {"C": (C,), "NC": (N, C), "NCd": (N, C, D)}
for form, shape in SHAPES.items():
    target_shape = () if form == "C" else (shape[0], *shape[2:])
    x = normal(f"ce{form}", shape, scale=2.0)
    w = uniform(f"w{form}", (C,), 0.2, 2.0)
    # An unbatched target is a single index: ignoring it is covered by the all-ignored cases.
    ignores = (-100,) if form == "C" else (-100, 1)
    for weighted, ignore, reduction in itertools.product((False, True), ignores, REDUCTIONS):
        t = _targets(f"t{form}{ignore}", target_shape, ignore if form != "C" else None)
        kw = {"reduction": reduction, "ignore_index": ignore}
        grad = (0,)
        if weighted:
            kw["weight"] = w
            grad = (0, "weight")
        name = f"{form}-w={weighted}-ignore={ignore}-{reduction}"
        CASES.append(Case("nll_loss", name, (x, t), kw, grad=grad))
        for ls in (0.0, 0.2):
            CASES.append(
                Case("cross_entropy", f"{name}-ls={ls}", (x, t), {**kw, "label_smoothing": ls}, grad=grad)
            )
    grid = itertools.product((False, True), (0.0, 0.3), REDUCTIONS)
    if form == "C":
        grid = [(True, 0.3, reduction) for reduction in REDUCTIONS]
    for weighted, ls, reduction in grid:
        q = uniform(f"q{form}", shape, 0.0, 1.0)
        q = q / q.sum(axis=0 if form == "C" else 1, keepdims=True)
        kw = {"reduction": reduction, "label_smoothing": ls}
        grad = (0, 1)
        if weighted:
            kw["weight"] = w
            grad = (0, 1, "weight")
        CASES.append(
            Case("cross_entropy", f"probs-{form}-w={weighted}-ls={ls}-{reduction}", (x, q), kw, grad=grad)
        )

# Spatial inputs with two extra dims (torch's 4-D path) and three (its reshaped path).
for shape, reductions in [((2, C, 2, 3), ("none", "mean")), ((2, C, 1, 2, 2), ("sum",))]:
    x = normal(f"ce{shape}", shape)
    t = _targets(f"t{shape}", (shape[0], *shape[2:]), -100)
    w = uniform(f"w{shape}", (C,), 0.2, 2.0)
    for reduction in reductions:
        CASES.append(
            Case(
                "nll_loss",
                f"{len(shape)}d-w-{reduction}",
                (x, t),
                {"weight": w, "reduction": reduction},
                grad=(0, "weight"),
            )
        )
        CASES.append(
            Case(
                "cross_entropy",
                f"{len(shape)}d-w-ls-{reduction}",
                (x, t),
                {"weight": w, "reduction": reduction, "label_smoothing": 0.1},
                grad=(0, "weight"),
            )
        )
    CASES.append(Case("cross_entropy", f"{len(shape)}d-probs", (x, uniform("q", shape, 0, 1)), grad=(0, 1)))

# dtypes: float64 and the half types (computed in float32, rounded once).
for dtype in ("float64", *HALVES):
    for form in ("NCd",) if dtype == "float64" else ("NC", "NCd"):
        shape = SHAPES[form]
        x = normal(f"ce{form}{dtype}", shape, dtype, scale=2.0)
        t = _targets(f"t{form}{dtype}", (shape[0], *shape[2:]), -100)
        w = uniform(f"w{dtype}", (C,), 0.2, 2.0, dtype)
        CASES.append(Case("nll_loss", f"{form}-{dtype}-mean", (x, t), {"weight": w}, grad=(0, "weight")))
        CASES.append(
            Case(
                "cross_entropy",
                f"{form}-{dtype}-ls-none",
                (x, t),
                {"weight": w, "reduction": "none", "label_smoothing": 0.25},
                grad=(0, "weight"),
            )
        )
        CASES.append(
            Case(
                "cross_entropy",
                f"{form}-{dtype}-ls-sum",
                (x, t),
                {"reduction": "sum", "label_smoothing": 0.25},
                grad=(0,),
            )
        )
        if form == "NC":
            CASES.append(
                Case(
                    "cross_entropy",
                    f"probs-{form}-{dtype}",
                    (x, uniform(f"q{dtype}", shape, 0, 1, dtype)),
                    {"weight": w},
                    grad=(0, 1),
                )
            )
# Probability targets promote: float32 logits with float64 targets (or weight) give float64.
x32 = normal("mix", (N, C))
CASES += [
    Case("cross_entropy", "probs-float32-float64", (x32, uniform("q", (N, C), 0, 1, "float64")), grad=(0, 1)),
    Case(
        "cross_entropy",
        "probs-float32-weight-float64",
        (x32, uniform("q", (N, C), 0, 1)),
        {"weight": uniform("w", (C,), 0.5, 1.5, "float64")},
        grad=(0, 1, "weight"),
    ),
    # log_softmax(x)·q overflows in float32 before the float64 weight widens it, as torch's.
    Case(
        "cross_entropy",
        "probs-float32-weight-float64-overflow",
        (x32, array([[0.5, 3.4028235e38, 0.25, 0.25]] + [[0.25] * 4] * (N - 1), "float32")),
        {"weight": uniform("w", (C,), 0.5, 1.5, "float64"), "reduction": "none"},
        grad=(0, 1, "weight"),
    ),
    Case(
        "cross_entropy",
        "probs-float16-float32",
        (normal("mixh", (N, C), "float16"), uniform("q", (N, C), 0, 1)),
    ),
    Case(
        "cross_entropy",
        "probs-unnormalised-negative",
        (x32, array([[2.0, 0, 0, -1]] * N)),
        {"reduction": "none"},
        grad=(0, 1),
    ),
    Case(
        "cross_entropy",
        "probs-ignore_index-negative",
        (x32, uniform("q", (N, C), 0, 1)),
        {"ignore_index": -1},
    ),
]

# The worked examples.
CASES += [
    Case("cross_entropy", "seed-1.4076", (array([[1, 2, 3], [1, 2, 3]]), np.array([2, 0])), grad=(0,)),
    Case(
        "cross_entropy",
        "seed-3x5-float64",
        (
            np.array(
                [
                    [1.624, -0.611, -0.528, -1.072, 0.865],
                    [-2.301, 1.744, -0.761, 0.319, -0.249],
                    [1.462, -2.060, -0.322, -0.384, 1.133],
                ]
            ),
            np.array([1, 0, 4]),
        ),
        grad=(0,),
    ),
]

# All targets ignored: 'mean' is NaN with a zero gradient; zero total weight is NaN too.
for fn in ("nll_loss", "cross_entropy"):
    x = normal(fn + "ign", (N, C))
    ignored = np.full((N,), -100)
    for reduction in REDUCTIONS:
        CASES.append(Case(fn, f"all-ignored-{reduction}", (x, ignored), {"reduction": reduction}, grad=(0,)))
    CASES.append(
        Case(
            fn,
            "all-ignored-weighted-mean",
            (x, ignored),
            {"weight": uniform("w", (C,), 0.5, 1.5)},
            grad=(0, "weight"),
        )
    )
    CASES.append(
        Case(fn, "zero-total-weight-mean", (x, np.array([0, 0, 0])), {"weight": array([0.0, 1, 1, 1])})
    )
    CASES.append(
        Case(
            fn,
            "ignore_index-is-a-valid-class",
            (x, np.array([0, 1, 1])),
            {"ignore_index": 1, "reduction": "none"},
            grad=(0,),
        )
    )
    CASES.append(
        Case(
            fn,
            "negative-weights",
            (x, np.array([0, 1, 3])),
            {"weight": array([1.0, -1.0, 2.0, 0.5])},
            grad=(0, "weight"),
        )
    )
    # torch's own backward fails for this form ("size mismatch"): values only.
    CASES.append(Case(fn, "unbatched-target-(1,)", (normal(fn, (C,)), np.array([2])), {"reduction": "none"}))
    CASES.append(Case(fn, "empty-batch-mean", (normal(fn, (0, C)), np.zeros(0, "int64"))))
    CASES.append(
        Case(fn, "empty-batch-sum", (normal(fn, (0, C)), np.zeros(0, "int64")), {"reduction": "sum"})
    )
    CASES.append(
        Case(fn, "empty-batch-none", (normal(fn, (0, C)), np.zeros(0, "int64")), {"reduction": "none"})
    )
CASES.append(
    Case(
        "cross_entropy",
        "all-ignored-ls-mean",
        (normal("ls", (N, C)), np.full((N,), -100)),
        {"label_smoothing": 0.2},
        grad=(0,),
    )
)
CASES.append(Case("cross_entropy", "probs-empty-mean", (normal("pe", (0, C)), normal("pe", (0, C)))))

# Numerics: −inf logits off the target, logits 1e4 apart in float32.
neg_inf = array([[-INF, 0.0, 1.0], [2.0, -INF, 0.5]])
CASES += [
    Case(
        "cross_entropy", "minus-inf-off-target", (neg_inf, np.array([2, 0])), {"reduction": "none"}, grad=(0,)
    ),
    Case(
        "cross_entropy",
        "minus-inf-off-target-weighted",
        (neg_inf, np.array([2, 0])),
        {"weight": array([0.0, 1.0, 1.0])},
        grad=(0,),
    ),
    Case("cross_entropy", "minus-inf-ls", (neg_inf, np.array([2, 0])), {"label_smoothing": 0.1}),
    Case(
        "cross_entropy",
        "minus-inf-ls-zero-weight",
        (neg_inf, np.array([2, 0])),
        {"label_smoothing": 0.1, "weight": array([0.0, 1.0, 1.0])},
    ),
    Case(
        "cross_entropy", "minus-inf-probs", (neg_inf, array([[0.0, 0, 1], [1, 0, 0]])), {"reduction": "none"}
    ),
    Case(
        "cross_entropy",
        "minus-inf-ignored",
        (neg_inf, np.array([-100, 0])),
        {"weight": array([1.0, 1.0, 1.0])},
        grad=(0, "weight"),
    ),
    Case(
        "cross_entropy",
        "logits-1e4-apart-float32",
        (array([[1e4, -1e4], [0.0, 1e4]]), np.array([1, 0])),
        {"reduction": "sum"},
        grad=(0,),
    ),
    Case(
        "nll_loss",
        "minus-inf-log-prob-ignored",
        (array([[-INF, 0.0], [-1.0, -2.0]]), np.array([-100, 1])),
        grad=(0,),
    ),
]

# label_smoothing outside [0, 1], and its edges.
x, t = normal("lsx", (N, C)), np.array([0, 3, 1])
q = uniform("lsq", (N, C), 0, 1)
CASES += [
    Case("cross_entropy", "label_smoothing=1", (x, t), {"label_smoothing": 1.0}, grad=(0,)),
    Case("cross_entropy", "label_smoothing-negative-is-0", (x, t), {"label_smoothing": -0.5}, grad=(0,)),
    Case("cross_entropy", "label_smoothing-above-1", (x, t), {"label_smoothing": 1.5}, raises=True),
    Case("cross_entropy", "label_smoothing-above-1-probs", (x, q), {"label_smoothing": 1.5}, raises=True),
    Case("cross_entropy", "probs-label_smoothing-negative", (x, q), {"label_smoothing": -0.3}),
]

# Integer target dtypes: every one is accepted (torch: int64 and, mostly, uint8 only).
for fn in ("nll_loss", "cross_entropy"):
    x = normal(fn + "int", (N, C))
    for dtype in ("int32", "int16", "int8"):
        CASES.append(
            Case(
                fn,
                f"target-{dtype}",
                (x, np.array([0, -100, 3], dtype=dtype)),
                {"reduction": "none"},
                grad=(0,),
                to_torch=widen_target,
            )
        )
    CASES.append(
        Case(
            fn,
            "target-int32-spatial",
            (normal(fn, (2, C, 3)), _targets("i32", (2, 3), -100, "int32")),
            grad=(0,),
            to_torch=widen_target,
        )
    )
    CASES.append(
        Case(
            fn,
            "target-uint8-spatial",
            (normal(fn, (2, C, 3)), _targets("u8", (2, 3), None, "uint8")),
            to_torch=widen_target,
        )
    )
    CASES.append(Case(fn, "target-uint8", (x, np.array([0, 2, 3], dtype="uint8")), grad=(0,)))
    CASES.append(
        Case(
            fn,
            "target-uint8-ignore-255",
            (x, np.array([0, 255, 3], dtype="uint8")),
            {"ignore_index": 255},
            grad=(0,),
        )
    )
    CASES.append(
        Case(
            fn,
            "target-uint8-255-not-ignored",
            (x, np.array([0, 255, 3], "uint8")),
            raises=True,
            value_error=True,
        )
    )
    CASES.append(
        Case(
            fn,
            "target-int32-out-of-range",
            (x, np.array([0, 4, 3], "int32")),
            raises=True,
            value_error=True,
            to_torch=widen_target,
        )
    )

# Errors of nll_loss and cross_entropy, in torch's order and wording.
x, t = normal("err", (N, C)), np.array([0, 1, 3])
x3 = normal("err3", (2, C, 3))
x4 = normal("err4", (2, C, 3, 2))
for fn in ("nll_loss", "cross_entropy"):
    CASES += [
        Case(fn, "out-of-range", (x, np.array([0, 4, 3])), raises=True, value_error=True),
        Case(fn, "out-of-range-negative", (x, np.array([0, -1, 3])), raises=True, value_error=True),
        Case(
            fn, "out-of-range-spatial", (x3, np.array([[0, 1, 2], [3, 9, 0]])), raises=True, value_error=True
        ),
        Case(fn, "out-of-range-first-reported", (x, np.array([5, -100, 6])), raises=True, value_error=True),
        Case(fn, "batch-mismatch", (x, np.array([0, 1])), raises=True),
        Case(fn, "batch-mismatch-0d-target", (x, np.array(1)), raises=True),
        Case(fn, "multi-target", (x, np.zeros((N, 2), "int64")), raises=True),
        Case(fn, "float-target", (x, t.astype("float32")), raises=True),
        Case(fn, "bool-target", (x, np.array([True, False, True])), raises=True),
        Case(fn, "1d-input-target-size-2", (normal("1d", (C,)), np.array([0, 1])), raises=True),
        Case(fn, "3d-target-size", (x3, np.zeros((2, 4), "int64")), raises=True),
        Case(fn, "3d-target-1d", (x3, np.zeros((2,), "int64")), raises=True),
        Case(fn, "4d-target-size", (x4, np.zeros((2, 3, 3), "int64")), raises=True),
        Case(fn, "4d-target-ndim", (x4, np.zeros((2, 3), "int64")), raises=True),
        Case(fn, "weight-size", (x, t), {"weight": array([1.0, 2.0, 3.0])}, raises=True),
        Case(fn, "weight-2d", (x, t), {"weight": array([[1.0, 2.0, 3.0, 4.0]])}, raises=True),
        Case(fn, "weight-size-3d", (x3, np.zeros((2, 3), "int64")), {"weight": array([1.0])}, raises=True),
        Case(
            fn,
            "weight-2d-3d-input",
            (x3, np.zeros((2, 3), "int64")),
            {"weight": array([[1.0, 2.0, 3.0, 4.0]])},
            grad=(0, "weight"),
        ),
        Case(
            fn, "weight-float64-input-float32", (x, t), {"weight": array([1.0] * C, "float64")}, raises=True
        ),
        Case(
            fn,
            "weight-float32-input-float16",
            (x.astype("float16"), t),
            {"weight": array([1.0] * C)},
            raises=True,
        ),
        Case(
            fn,
            "weight-dtype-3d",
            (x3, np.zeros((2, 3), "int64")),
            {"weight": array([1.0] * C, "float64")},
            raises=True,
        ),
        Case(fn, "int-input", (integers("ii", (N, C), 0, 3), t), raises=True),
        Case(fn, "int-input-3d", (integers("ii", (2, C, 3), 0, 3), np.zeros((2, 3), "int64")), raises=True),
        Case(
            fn,
            "int-input-weight-size",
            (integers("ii", (N, C), 0, 3), t),
            {"weight": array([1.0])},
            raises=True,
        ),
        Case(fn, "0d-input", (array(1.0), np.array([0])), raises=True),
    ]
CASES += [
    Case(
        "cross_entropy",
        "out-of-range-ls",
        (x, np.array([0, 4, -100])),
        {"label_smoothing": 0.1},
        raises=True,
        value_error=True,
    ),
    Case("nll_loss", "0d-input-0d-target", (array(1.0), np.array(0)), raises=True),
    Case("cross_entropy", "0d-input-0d-target", (array(1.0), np.array(0)), raises=True),
    Case("cross_entropy", "0d-input-0d-float-target", (array(1.0), array(1.0)), raises=True),
    Case("cross_entropy", "0d-input-ls", (array(1.0), np.array([0])), {"label_smoothing": 0.1}, raises=True),
    Case("cross_entropy", "probs-int-target", (x, np.ones((N, C), "int64")), raises=True),
    Case("cross_entropy", "probs-bool-target", (x, np.ones((N, C), bool)), raises=True),
    Case(
        "cross_entropy",
        "probs-ignore_index-nonnegative",
        (x, uniform("q", (N, C), 0, 1)),
        {"ignore_index": 0},
        raises=True,
    ),
    Case(
        "cross_entropy",
        "probs-weight-size",
        (x, uniform("q", (N, C), 0, 1)),
        {"weight": array([1.0, 2.0])},
        raises=True,
    ),
    Case(
        "cross_entropy",
        "probs-weight-2d-3d",
        (x3, uniform("q", (2, C, 3), 0, 1)),
        {"weight": array([[1.0] * C])},
        raises=True,
    ),
    Case(
        "cross_entropy",
        "probs-int-input",
        (integers("ii", (N, C), 0, 3), uniform("q", (N, C), 0, 1)),
        raises=True,
    ),
    Case("cross_entropy", "probs-shape-mismatch", (x, uniform("q", (N, C + 1), 0, 1)), raises=True),
    Case(
        "cross_entropy",
        "ls-weight-2d-3d-input",
        (x3, np.zeros((2, 3), "int64")),
        {"weight": array([[1.0] * C]), "label_smoothing": 0.1},
        raises=True,
    ),
    Case(
        "cross_entropy",
        "ls-above-1-and-bad-weight",
        (x, t),
        {"weight": array([1.0]), "label_smoothing": 2.0},
        raises=True,
    ),
]

# --- multi_margin_loss ------------------------------------------------------------------
x, t = normal("mm", (5, C), scale=1.5), np.array([0, 3, 1, 1, 2])
w = uniform("mmw", (C,), 0.2, 2.0)
for p, weighted, reduction in itertools.product((1, 2), (False, True), REDUCTIONS):
    kw = {"p": p, "reduction": reduction}
    grad = (0,)
    if weighted:
        kw["weight"] = w
        grad = (0, "weight")
    CASES.append(Case("multi_margin_loss", f"p={p}-w={weighted}-{reduction}", (x, t), kw, grad=grad))
x64 = normal("mm64", (5, C), "float64")
for margin in (0.0, 0.5, 2.5):
    CASES.append(
        Case(
            "multi_margin_loss",
            f"margin={margin}-float64",
            (x64, t),
            {"margin": margin, "p": 2, "weight": w.astype("float64")},
            grad=(0, "weight"),
        )
    )
# Ties exactly at the margin: no gradient passes (torch's strict >).
tie = array([[0.0, 1.0, 0.5, 1.0], [2.0, 1.0, 1.0, 0.0]])
CASES += [
    Case("multi_margin_loss", "ties-p=1", (tie, np.array([1, 0])), {"reduction": "none"}, grad=(0,)),
    Case("multi_margin_loss", "ties-p=2", (tie, np.array([1, 0])), {"p": 2, "reduction": "sum"}, grad=(0,)),
    Case("multi_margin_loss", "p=2.0", (x, t), {"p": 2.0}, grad=(0,)),
    Case(
        "multi_margin_loss",
        "unbatched-0d-target",
        (normal("u", (C,)), np.array(2)),
        {"reduction": "none"},
        grad=(0,),
    ),
    Case(
        "multi_margin_loss",
        "unbatched-(1,)-target",
        (normal("u", (C,)), np.array([2])),
        {"reduction": "none"},
        grad=(0,),
    ),
    Case("multi_margin_loss", "0d-input", (array(1.5), np.array(0)), {"reduction": "none"}, grad=(0,)),
    Case("multi_margin_loss", "0d-input-mean", (array(1.5), np.array(0))),
    Case(
        "multi_margin_loss",
        "batch-of-1-0d-target",
        (normal("b1", (1, C)), np.array(1)),
        {"reduction": "none"},
        grad=(0,),
    ),
    Case(
        "multi_margin_loss", "empty-none", (normal("e", (0, C)), np.zeros(0, "int64")), {"reduction": "none"}
    ),
    Case("multi_margin_loss", "target-int32", (x, t.astype("int32")), grad=(0,), to_torch=widen_target),
    Case("multi_margin_loss", "target-uint8", (x, t.astype("uint8")), grad=(0,), to_torch=widen_target),
    Case("multi_margin_loss", "p=3", (x, t), {"p": 3}, raises=True),
    Case("multi_margin_loss", "p=3-bad-reduction", (x, t), {"p": 3, "reduction": "avg"}, raises=True),
    Case("multi_margin_loss", "weight-2d", (x, t), {"weight": array([[1.0] * C])}, raises=True),
    Case("multi_margin_loss", "weight-size", (x, t), {"weight": array([1.0] * 5)}, raises=True),
    Case("multi_margin_loss", "weight-float64", (x, t), {"weight": array([1.0] * C, "float64")}, raises=True),
    Case("multi_margin_loss", "float-target", (x, t.astype("float32")), raises=True),
    Case("multi_margin_loss", "target-2d", (x, np.zeros((5, C), "int64")), raises=True),
    Case("multi_margin_loss", "target-size", (x, np.array([0, 1])), raises=True),
    Case("multi_margin_loss", "target-0d-batched", (x, np.array(1)), raises=True),
    Case(
        "multi_margin_loss",
        "target-size-and-weight-size",
        (x, np.array([0, 1])),
        {"weight": array([1.0] * 5)},
        raises=True,
    ),
    Case("multi_margin_loss", "no-classes", (normal("nc", (5, 0)), np.zeros(5, "int64")), raises=True),
    Case("multi_margin_loss", "3d-input", (normal("3d", (2, 3, C)), np.zeros(2, "int64")), raises=True),
    Case("multi_margin_loss", "float16", (x.astype("float16"), t), raises=True),
    Case("multi_margin_loss", "bfloat16", (cast(x, "bfloat16"), t), raises=True),
    Case("multi_margin_loss", "int-input", (integers("mi", (5, C), 0, 3), t), raises=True),
    Case("multi_margin_loss", "out-of-range", (x, np.array([0, 3, 4, 1, 2])), raises=True, value_error=True),
    Case(
        "multi_margin_loss",
        "out-of-range-negative",
        (x, np.array([0, 3, -1, 1, 2])),
        raises=True,
        value_error=True,
    ),
    Case(
        "multi_margin_loss", "0d-input-out-of-range", (array(1.5), np.array(1)), raises=True, value_error=True
    ),
]

# --- multilabel_margin_loss -------------------------------------------------------------
x = normal("ml", (4, C), scale=1.5)
t = np.array(
    [
        [0, 3, -1, 1],  # entries after the first −1 do not count
        [2, 2, 0, -1],  # duplicates count twice
        [1, 2, 3, 0],  # no −1: every entry counts
        [-1, 1, 2, 3],
    ]
)  # nothing counts
for reduction in REDUCTIONS:
    CASES.append(Case("multilabel_margin_loss", f"{reduction}", (x, t), {"reduction": reduction}, grad=(0,)))
    CASES.append(
        Case(
            "multilabel_margin_loss",
            f"{reduction}-float64",
            (x.astype("float64"), t),
            {"reduction": reduction},
            grad=(0,),
        )
    )
    CASES.append(
        Case(
            "multilabel_margin_loss",
            f"unbatched-{reduction}",
            (normal("mlu", (C,)), np.array([3, 1, -1, 0])),
            {"reduction": reduction},
            grad=(0,),
        )
    )
CASES += [
    Case(
        "multilabel_margin_loss",
        "ties",
        (array([[0.0, 1.0, 0.5, 2.0], [1.0, 0.0, 1.0, 0.0]]), np.array([[1, -1, 0, 0], [0, 2, -1, 3]])),
        {"reduction": "none"},
        grad=(0,),
    ),
    Case("multilabel_margin_loss", "0d", (array(1.5), np.array(0)), {"reduction": "none"}, grad=(0,)),
    Case("multilabel_margin_loss", "0d-padding", (array(1.5), np.array(-1)), grad=(0,)),
    Case("multilabel_margin_loss", "0d-input-(1,)-target", (array(1.5), np.array([0]))),
    Case(
        "multilabel_margin_loss",
        "(1,)-input-0d-target",
        (normal("o", (1,)), np.array(0)),
        {"reduction": "none"},
    ),
    Case(
        "multilabel_margin_loss",
        "empty-none",
        (normal("e", (0, C)), np.zeros((0, C), "int64")),
        {"reduction": "none"},
    ),
    Case("multilabel_margin_loss", "target-int32", (x, t.astype("int32")), grad=(0,), to_torch=widen_target),
    Case("multilabel_margin_loss", "target-int8", (x, t.astype("int8")), grad=(0,), to_torch=widen_target),
    Case(
        "multilabel_margin_loss",
        "out-of-range",
        (x, np.array([[0, 4, -1, 1]] * 4)),
        raises=True,
        value_error=True,
    ),
    Case(
        "multilabel_margin_loss",
        "out-of-range-after-padding",
        (x, np.array([[0, -1, 7, 1]] * 4)),
        raises=True,
        value_error=True,
    ),
    Case(
        "multilabel_margin_loss",
        "out-of-range-minus-2",
        (x, np.array([[0, -2, -1, 1]] * 4)),
        raises=True,
        value_error=True,
    ),
    Case(
        "multilabel_margin_loss", "0d-out-of-range", (array(1.5), np.array(1)), raises=True, value_error=True
    ),
    Case("multilabel_margin_loss", "target-1d", (x, np.zeros(C, "int64")), raises=True),
    Case("multilabel_margin_loss", "target-size", (x, np.zeros((4, 3), "int64")), raises=True),
    Case("multilabel_margin_loss", "target-0d-for-1d", (normal("m", (C,)), np.array(0)), raises=True),
    Case(
        "multilabel_margin_loss", "no-classes", (normal("nc", (5, 0)), np.zeros((5, 0), "int64")), raises=True
    ),
    Case(
        "multilabel_margin_loss",
        "3d-input",
        (normal("3d", (2, 3, C)), np.zeros((2, 3, C), "int64")),
        raises=True,
    ),
    Case("multilabel_margin_loss", "float16", (x.astype("float16"), t), raises=True),
    Case("multilabel_margin_loss", "bfloat16", (cast(x, "bfloat16"), t), raises=True),
    Case("multilabel_margin_loss", "int-input", (integers("mi", (4, C), 0, 3), t), raises=True),
    Case("multilabel_margin_loss", "float-target", (x, t.astype("float32")), raises=True),
]

# --- multilabel_soft_margin_loss --------------------------------------------------------
for shape in [(N, C), (C,), (2, N, C)]:
    x = normal(f"ms{shape}", shape, scale=2.0)
    t = uniform(f"mst{shape}", shape, 0, 1)
    weights = (None, (C,), (*shape[:-1], 1)) if shape == (N, C) else ((C,),)
    for weight, reduction in itertools.product(weights, REDUCTIONS):
        kw = {"reduction": reduction}
        grad: tuple = (0, 1)
        if weight is not None:
            kw["weight"] = uniform(f"msw{weight}", weight, 0.2, 2.0)
            grad = (0, 1, "weight")
        CASES.append(
            Case("multilabel_soft_margin_loss", f"{shape}-w={weight}-{reduction}", (x, t), kw, grad=grad)
        )
for dtype in ("float64", *HALVES):
    for reduction in ("none", "mean"):
        CASES.append(
            Case(
                "multilabel_soft_margin_loss",
                f"{dtype}-{reduction}",
                (normal("msd", (N, C), dtype), uniform("msd", (N, C), 0, 1, dtype)),
                {"reduction": reduction},
                grad=(0, 1),
            )
        )
x, t = normal("msx", (N, C)), uniform("mst", (N, C), 0, 1)
CASES += [
    Case("multilabel_soft_margin_loss", "int-target", (x, integers("mi", (N, C), 0, 2)), grad=(0,)),
    Case("multilabel_soft_margin_loss", "float64-target", (x, t.astype("float64")), grad=(0, 1)),
    Case(
        "multilabel_soft_margin_loss",
        "float64-weight",
        (x, t),
        {"weight": uniform("w", (C,), 0, 1, "float64")},
        grad=(0, 1, "weight"),
    ),
    Case(
        "multilabel_soft_margin_loss",
        "0d-weight-float64",
        (x, t),
        {"weight": array(0.5, "float64")},
        grad=(0, 1),
    ),
    Case(
        "multilabel_soft_margin_loss",
        "target-broadcast",
        (x, uniform("b", (C,), 0, 1)),
        {"reduction": "none"},
        grad=(0, 1),
    ),
    Case(
        "multilabel_soft_margin_loss",
        "weight-enlarges",
        (x, t),
        {"weight": uniform("we", (2, N, C), 0, 1), "reduction": "none"},
        grad=(0, 1, "weight"),
    ),
    Case(
        "multilabel_soft_margin_loss",
        "weight-enlarges-1d-input",
        (normal("e1", (C,)), uniform("e1", (C,), 0, 1)),
        {"weight": uniform("we1", (N, C), 0, 1), "reduction": "none"},
        grad=(0, "weight"),
    ),
    Case(
        "multilabel_soft_margin_loss",
        "huge-logits",
        (array([[1e4, -1e4, 50.0, -50.0]]), array([[0.0, 1.0, 1.0, 0.0]])),
        {"reduction": "none"},
        grad=(0, 1),
    ),
    Case(
        "multilabel_soft_margin_loss", "zero-logits", (array([[0.0, 0.0]]), array([[0.5, 1.0]])), grad=(0, 1)
    ),
    Case("multilabel_soft_margin_loss", "empty-mean", (normal("e", (0, C)), normal("e", (0, C)))),
    Case(
        "multilabel_soft_margin_loss",
        "empty-none",
        (normal("e", (0, C)), normal("e", (0, C))),
        {"reduction": "none"},
    ),
    Case("multilabel_soft_margin_loss", "0d-input", (array(1.0), array(1.0)), raises=True),
    Case("multilabel_soft_margin_loss", "int-input", (integers("mi", (N, C), 0, 2), t), raises=True),
    Case("multilabel_soft_margin_loss", "bool-target", (x, np.ones((N, C), bool)), raises=True),
    Case("multilabel_soft_margin_loss", "not-broadcastable", (x, uniform("nb", (C + 1,), 0, 1)), raises=True),
    Case(
        "multilabel_soft_margin_loss",
        "not-broadcastable-and-bad-reduction",
        (x, uniform("nb", (C + 1,), 0, 1)),
        {"reduction": "avg"},
        raises=True,
    ),
    Case(
        "multilabel_soft_margin_loss",
        "weight-not-broadcastable",
        (x, t),
        {"weight": uniform("nb", (C + 1,), 0, 1)},
        raises=True,
    ),
]

# Legacy arguments and the deprecated 'elementwise_mean'.
for fn in (
    "nll_loss",
    "cross_entropy",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
):
    x = normal(fn + "legacy", (N, C))
    if fn in ("nll_loss", "cross_entropy", "multi_margin_loss"):
        t = np.array([0, 3, 1])
    elif fn == "multilabel_margin_loss":
        t = np.array([[0, 3, -1, 1], [2, -1, 0, 0], [1, 2, 3, 0]])
    else:
        t = uniform("mlsm", (N, C), 0, 1)
    for size_average, reduce in [(False, None), (None, False)]:
        CASES.append(
            Case(
                fn,
                f"legacy-size_average={size_average}-reduce={reduce}",
                (x, t),
                {"size_average": size_average, "reduce": reduce, "reduction": "sum"},
                grad=(0,),
            )
        )
    CASES.append(
        Case(
            fn,
            "elementwise_mean",
            (x, t),
            {"reduction": "elementwise_mean"},
            raises=fn == "multilabel_soft_margin_loss",
        )
    )
    CASES.append(Case(fn, "bad-reduction", (x, t), {"reduction": "avg"}, raises=True))


def _without_weight_gradient(case: Case) -> Case:
    """torch's nll and multi-margin kernels are not differentiable with respect to weight."""
    index_target = case.fn != "cross_entropy" or case.args[1].shape != case.args[0].shape
    if "weight" in case.grad and case.fn != "multilabel_soft_margin_loss" and index_target:
        return dataclasses.replace(case, grad=tuple(k for k in case.grad if k != "weight"))
    return case


CASES = [_without_weight_gradient(case) for case in CASES]
