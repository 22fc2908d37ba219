"""Case table: margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss,
triplet_margin_loss, triplet_margin_with_distance_loss."""

from __future__ import annotations

import numpy as np

# anyloss's namespace lookup, which knows every bed's arrays (array-api-compat has no MindSpore).
from anyloss._xp import array_namespace
from support.make import FLOATS, HALVES, REDUCTIONS, array, cast, integers, normal, rng
from support.oracle import Case

MR, HINGE, COS = "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss"
TRIPLET, TWD = "triplet_margin_loss", "triplet_margin_with_distance_loss"
LEGACY = (MR, HINGE, COS, TRIPLET)  # triplet_margin_with_distance_loss has no size_average/reduce
INF = float("inf")


def signs(name: str, shape: tuple[int, ...], dtype: str = "float32"):
    """Targets of ±1."""
    return cast(np.where(rng(name).uniform(size=shape) < 0.5, -1.0, 1.0), dtype)


def cosine_distance(x, y):
    """1 − cos(x, y) over the last dimension, written against the array namespace."""
    xp = array_namespace(x, y)
    dot = xp.sum(x * y, axis=-1)
    return 1.0 - dot / xp.sqrt(xp.sum(x * x, axis=-1) * xp.sum(y * y, axis=-1))


def squared_distance_keepdims(x, y):
    xp = array_namespace(x, y)
    return xp.sum((x - y) ** 2, axis=-1, keepdims=True)


def l1_distance(x, y):
    return array_namespace(x, y).sum(abs(x - y), axis=-1)


CASES: list[Case] = []


def add(fn: str, name: str, *args, grad=(), raises=False, **kwargs) -> None:
    CASES.append(Case(fn, name, args, kwargs, grad=() if raises else grad, raises=raises))


# --- margin_ranking_loss -------------------------------------------------------------------

for reduction in REDUCTIONS:
    for dtype in (*FLOATS, *HALVES):
        for shape in [(), (7,), (4, 5)] if dtype in FLOATS else [(4, 5)]:
            tag = f"{reduction}{dtype}{shape}"
            add(
                MR,
                f"{reduction}-{dtype}-{shape}",
                normal(MR + tag + "a", shape, dtype),
                normal(MR + tag + "b", shape, dtype),
                signs(MR + tag, shape, dtype),
                reduction=reduction,
                grad=(0, 1, 2),
            )
    x1, x2 = normal(MR + "m1", (6,)), normal(MR + "m2", (6,))
    for margin in (0.5, -0.3, 2):
        add(
            MR,
            f"margin={margin}-{reduction}",
            x1,
            x2,
            signs(MR + "m", (6,)),
            margin=margin,
            reduction=reduction,
            grad=(0, 1, 2),
        )
    add(MR, f"empty-{reduction}", normal(MR, (0,)), normal(MR, (0,)), normal(MR, (0,)), reduction=reduction)
    add(
        MR,
        f"broadcast-{reduction}",
        normal(MR + "b1", (5, 1)),
        normal(MR + "b2", (1, 2)),
        signs(MR + "b", (5, 2)),
        reduction=reduction,
        grad=(0, 1, 2),
    )
    add(
        MR,
        f"int64-{reduction}",
        integers(MR + "i1", (5,), -4, 4),
        integers(MR + "i2", (5,), -4, 4),
        integers(MR + "it", (5,), -1, 2),
        reduction=reduction,
    )
# Targets other than ±1 are used as is.
add(
    MR,
    "other-targets",
    normal(MR + "o1", (6,)),
    normal(MR + "o2", (6,)),
    array([0.0, 2.0, -0.5, 1.0, -3.0, 0.25]),
    margin=0.1,
    reduction="none",
    grad=(0, 1, 2),
)
# Ties: −t·(x1 − x2) + margin exactly 0; the gradient passes as torch's clamp_min.
for dtype in FLOATS:
    add(
        MR,
        f"ties-{dtype}",
        array([1.0, 2.0, 0.5, -1.0], dtype),
        array([1.0, 1.5, 0.0, -1.5], dtype),
        array([1.0, 1.0, -1.0, 1.0], dtype),
        margin=0.5,
        reduction="none",
        grad=(0, 1, 2),
    )
    add(
        MR,
        f"ties-margin0-{dtype}",
        array([1.0, 2.0, -3.0], dtype),
        array([1.0, 2.0, -3.0], dtype),
        array([1.0, -1.0, 0.0], dtype),
        reduction="sum",
        grad=(0, 1, 2),
    )
add(
    MR,
    "nonfinite",
    array([INF, float("nan"), 1.0, -INF]),
    array([1.0, 0.0, INF, 2.0]),
    array([1.0, -1.0, 1.0, -1.0]),
    reduction="none",
)
add(
    MR,
    "int64-float64-target",
    integers(MR + "j1", (4,), -3, 3),
    integers(MR + "j2", (4,), -3, 3),
    signs(MR + "j", (4,), "float64"),
    grad=(2,),
)
add(
    MR,
    "float32-float64",
    normal(MR + "f1", (4,)),
    normal(MR + "f2", (4,), "float64"),
    signs(MR + "f", (4,)),
    grad=(0, 1, 2),
)
add(
    MR,
    "float16-float32-target",
    normal(MR + "h1", (4,), "float16"),
    normal(MR + "h2", (4,), "float16"),
    signs(MR + "h", (4,)),
    reduction="none",
)
add(
    MR,
    "int64-target",
    normal(MR + "k1", (4,)),
    normal(MR + "k2", (4,)),
    integers(MR + "k", (4,), -1, 2),
    grad=(0, 1),
)
add(MR, "ndim-mismatch", normal(MR, (3,)), normal(MR, (3,)), normal(MR, (1, 3)), raises=True)
add(
    MR,
    "ndim-mismatch-bad-reduction",
    normal(MR, (3,)),
    normal(MR, (3,)),
    normal(MR, (1, 3)),
    reduction="avg",
    raises=True,
)
add(MR, "not-broadcastable", normal(MR, (3,)), normal(MR, (4,)), normal(MR, (3,)), raises=True)
add(MR, "target-not-broadcastable", normal(MR, (3,)), normal(MR, (3,)), normal(MR, (2,)), raises=True)
add(MR, "bad-reduction", normal(MR, (3,)), normal(MR, (3,)), normal(MR, (3,)), reduction="avg", raises=True)
add(MR, "bool-target", normal(MR, (3,)), normal(MR, (3,)), np.array([True, False, True]), raises=True)
add(
    MR,
    "elementwise_mean",
    normal(MR, (3,)),
    normal(MR + "e", (3,)),
    signs(MR, (3,)),
    reduction="elementwise_mean",
)

# --- hinge_embedding_loss ------------------------------------------------------------------

for reduction in REDUCTIONS:
    for dtype in (*FLOATS, *HALVES):
        for shape in [(), (7,), (4, 5)] if dtype in FLOATS else [(4, 5)]:
            tag = f"{reduction}{dtype}{shape}"
            add(
                HINGE,
                f"{reduction}-{dtype}-{shape}",
                normal(HINGE + tag, shape, dtype, 1.5),
                signs(HINGE + tag, shape, dtype),
                reduction=reduction,
                grad=(0,),
            )
    x = normal(HINGE + "m", (8,), scale=2.0)
    for margin in (0.5, 2.0, -1.0, 0):
        add(
            HINGE,
            f"margin={margin}-{reduction}",
            x,
            signs(HINGE + "m", (8,)),
            margin=margin,
            reduction=reduction,
            grad=(0,),
        )
    add(HINGE, f"empty-{reduction}", normal(HINGE, (0, 3)), normal(HINGE, (0, 3)), reduction=reduction)
    add(
        HINGE,
        f"broadcast-{reduction}",
        normal(HINGE + "b", (3, 1)),
        signs(HINGE + "b", (4,)),
        reduction=reduction,
        grad=(0,),
    )
    add(
        HINGE,
        f"broadcast-target-larger-{reduction}",
        normal(HINGE + "c", (4,)),
        signs(HINGE + "c", (2, 4)),
        reduction=reduction,
        grad=(0,),
    )
    add(
        HINGE,
        f"int64-{reduction}",
        integers(HINGE + "i", (6,), -3, 4),
        signs(HINGE + "i", (6,)),
        reduction=reduction,
        raises=reduction == "mean",
    )
# Targets neither 1 nor −1 get both terms: x + max(0, margin − x).
add(
    HINGE,
    "other-targets",
    array([0.3, -0.2, 1.5, 0.7, 2.0, -1.0]),
    array([0.0, 2.0, 0.5, 1.0, -1.0, -0.5]),
    reduction="none",
    grad=(0,),
)
add(
    HINGE,
    "int64-targets",
    normal(HINGE + "it", (6,)),
    integers(HINGE + "it", (6,), -2, 3),
    reduction="none",
    grad=(0,),
)
# x == margin with target −1: the hinge's gradient passes (−1), as torch's clamp_min.
for dtype in FLOATS:
    add(
        HINGE,
        f"ties-{dtype}",
        array([1.0, 0.5, 2.0, 1.0, 1.0], dtype),
        array([-1.0, -1.0, -1.0, 0.0, 1.0], dtype),
        reduction="none",
        grad=(0,),
    )
    add(
        HINGE,
        f"ties-margin=0.5-{dtype}",
        array([0.5, 0.5, 0.0], dtype),
        array([-1.0, 3.0, -1.0], dtype),
        margin=0.5,
        reduction="sum",
        grad=(0,),
    )
add(
    HINGE,
    "nonfinite",
    array([float("nan"), INF, -INF, float("nan")]),
    array([-1.0, -1.0, -1.0, 1.0]),
    reduction="none",
)
# An infinite x in the term its target leaves out: that term is 0, not inf·0.
add(HINGE, "nonfinite-left-out", array([-INF, INF, 0.5, INF]), array([1.0, -1.0, 1.0, 0.0]), reduction="none")
ints = np.array([-3, 0, 1, 2])
add(HINGE, "int64-margin=1.5", ints, np.array([-1, -1, -1, 0]), margin=1.5, reduction="none")
add(HINGE, "int64-margin=-1.5", ints, np.array([-1, -1, -1, 0]), margin=-1.5, reduction="none")
add(HINGE, "int64-float-target", ints, array([1.0, -1.0, 0.5, -1.0]), reduction="none")
add(HINGE, "int32-sum", ints.astype("int32"), np.array([-1, -1, 1, 0]), margin=2.7, reduction="sum")
add(HINGE, "int32-none", ints.astype("int32"), np.array([-1, -1, 1, 0]), reduction="none")
add(
    HINGE, "float32-float64-target", normal(HINGE + "f", (5,)), signs(HINGE + "f", (5,), "float64"), grad=(0,)
)
add(
    HINGE,
    "float16-float32-target",
    normal(HINGE + "h", (5,), "float16"),
    signs(HINGE + "h", (5,)),
    reduction="none",
)
add(HINGE, "bool-input", np.array([True, False]), array([1.0, -1.0]), raises=True)
add(HINGE, "not-broadcastable", normal(HINGE, (2, 4)), normal(HINGE, (2, 5)), raises=True)
add(HINGE, "bad-reduction", normal(HINGE, (3,)), signs(HINGE, (3,)), reduction="avg", raises=True)
add(HINGE, "elementwise_mean", normal(HINGE, (3,)), signs(HINGE, (3,)), reduction="elementwise_mean")

# --- cosine_embedding_loss -----------------------------------------------------------------

for reduction in REDUCTIONS:
    for dtype in (*FLOATS, *HALVES):
        for batch in [(4,), ()] if dtype in FLOATS else [(4,)]:
            tag = f"{reduction}{dtype}{batch}"
            add(
                COS,
                f"{reduction}-{dtype}-{batch}",
                normal(COS + tag + "a", (*batch, 5), dtype),
                normal(COS + tag + "b", (*batch, 5), dtype),
                signs(COS + tag, batch, "int64"),
                reduction=reduction,
                grad=(0, 1),
            )
    x1, x2 = normal(COS + "m1", (6, 3)), normal(COS + "m2", (6, 3))
    for margin in (0.5, -0.5):
        add(
            COS,
            f"margin={margin}-{reduction}",
            x1,
            x2,
            signs(COS + "m", (6,)),
            margin=margin,
            reduction=reduction,
            grad=(0, 1),
        )
    add(
        COS,
        f"empty-{reduction}",
        normal(COS, (0, 3)),
        normal(COS, (0, 3)),
        normal(COS, (0,)),
        reduction=reduction,
    )
    add(
        COS,
        f"empty-features-{reduction}",
        normal(COS, (2, 0)),
        normal(COS, (2, 0)),
        signs(COS + "e", (2,)),
        reduction=reduction,
        grad=(0, 1),
    )
    add(
        COS,
        f"broadcast-input2-{reduction}",
        normal(COS + "b1", (4, 3)),
        normal(COS + "b2", (1, 3)),
        signs(COS + "b", (4,)),
        reduction=reduction,
        grad=(0, 1),
    )
# The seed example: orthogonal vectors, target 1, give exactly 1.
add(COS, "seed-example", array([[1.0, 0.0]]), array([[0.0, 1.0]]), np.array([1]))
# Targets other than ±1 give 0.
add(
    COS,
    "other-targets",
    normal(COS + "o1", (5, 3)),
    normal(COS + "o2", (5, 3)),
    array([1.0, -1.0, 0.0, 2.0, -0.5]),
    reduction="none",
    grad=(0, 1),
)
# Zero vectors: cos = 0 (the 1e-12 keeps the denominator positive), finite gradients.
zeros_and_ones = array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, -1.0], [0.0, 0.0, 0.0]])
others = array([[0.0, 0.0, 0.0], [0.5, -1.0, 2.0], [0.0, 0.0, 0.0], [3.0, 1.0, 0.0]])
for dtype in FLOATS:
    for target in ([1, 1, 1, 1], [-1, -1, -1, -1]):
        add(
            COS,
            f"zero-vectors-{target[0]}-{dtype}",
            cast(zeros_and_ones, dtype),
            cast(others, dtype),
            np.array(target),
            reduction="none",
            grad=(0, 1),
        )
    add(
        COS,
        f"zero-vectors-margin-{dtype}",
        cast(zeros_and_ones, dtype),
        cast(others, dtype),
        np.array([-1, -1, -1, -1]),
        margin=-0.5,
        reduction="sum",
        grad=(0, 1),
    )
    # cos == margin exactly (orthogonal vectors, margin 0): the gradient passes.
    add(
        COS,
        f"ties-{dtype}",
        array([[1.0, 0.0], [0.0, 2.0]], dtype),
        array([[0.0, 3.0], [-1.0, 0.0]], dtype),
        np.array([-1, -1]),
        reduction="none",
        grad=(0, 1),
    )
add(
    COS,
    "zero-vectors-bfloat16",
    cast(zeros_and_ones, "bfloat16"),
    cast(others, "bfloat16"),
    np.array([1, -1, 1, -1]),
    reduction="none",
)
add(
    COS,
    "target-broadcast",
    normal(COS + "t1", (3, 4)),
    normal(COS + "t2", (3, 4)),
    np.array([-1]),
    reduction="none",
    grad=(0, 1),
)
add(
    COS,
    "target-larger",
    normal(COS + "u1", (1, 4)),
    normal(COS + "u2", (1, 4)),
    np.array([1, -1, 1]),
    reduction="none",
    grad=(0, 1),
)
add(
    COS,
    "float32-float64-target",
    normal(COS + "f1", (3, 4)),
    normal(COS + "f2", (3, 4)),
    signs(COS + "f", (3,), "float64"),
    grad=(0, 1),
)
add(
    COS,
    "float32-float64",
    normal(COS + "g1", (3, 4)),
    normal(COS + "g2", (3, 4), "float64"),
    signs(COS + "g", (3,), "int64"),
    grad=(0, 1),
)
add(
    COS,
    "int64",
    integers(COS + "i1", (3, 4), -3, 4),
    integers(COS + "i2", (3, 4), -3, 4),
    signs(COS + "i", (3,), "int64"),
)
add(
    COS,
    "int64-float64",
    integers(COS + "j1", (3, 4), -3, 4),
    normal(COS + "j2", (3, 4), "float64"),
    signs(COS + "j", (3,), "int64"),
    grad=(1,),
)
add(
    COS,
    "float16-float32",
    normal(COS + "h1", (3, 4), "float16"),
    normal(COS + "h2", (3, 4)),
    signs(COS + "h", (3,), "int64"),
)
add(COS, "target-2d", normal(COS, (2, 3)), normal(COS, (2, 3)), normal(COS, (2, 1)), raises=True)
add(COS, "target-1d-inputs-1d", normal(COS, (2,)), normal(COS, (2,)), normal(COS, (2,)), raises=True)
add(COS, "target-0d-inputs-2d", normal(COS, (3, 2)), normal(COS, (3, 2)), array(1.0), raises=True)
add(
    COS, "target-1d-inputs-3d", normal(COS, (3, 2, 2)), normal(COS, (3, 2, 2)), normal(COS, (3,)), raises=True
)
add(COS, "features-mismatch", normal(COS, (3, 2)), normal(COS, (3, 4)), signs(COS, (3,)), raises=True)
add(COS, "batch-mismatch", normal(COS, (2, 3)), normal(COS, (3, 3)), signs(COS, (3,)), raises=True)
add(COS, "target-mismatch", normal(COS, (2, 3)), normal(COS, (2, 3)), signs(COS, (3,)), raises=True)
add(
    COS,
    "bad-reduction-and-shape",
    normal(COS, (3, 2)),
    normal(COS, (3, 2)),
    array(1.0),
    reduction="avg",
    raises=True,
)
add(
    COS,
    "elementwise_mean",
    normal(COS, (3, 2)),
    normal(COS + "e", (3, 2)),
    signs(COS, (3,)),
    reduction="elementwise_mean",
)

# --- triplet_margin_loss -------------------------------------------------------------------


def triple(tag: str, shape, dtype="float32", others=None):
    others = others or (shape, shape)
    return (
        normal(tag + "a", shape, dtype),
        normal(tag + "p", others[0], dtype),
        normal(tag + "n", others[1], dtype),
    )


for reduction in REDUCTIONS:
    for dtype in (*FLOATS, *HALVES):
        for shape in [(4, 5), (5,)] if dtype in FLOATS else [(4, 5)]:
            tag = f"{TRIPLET}{reduction}{dtype}{shape}"
            add(
                TRIPLET,
                f"{reduction}-{dtype}-{shape}",
                *triple(tag, shape, dtype),
                reduction=reduction,
                grad=(0, 1, 2),
            )
    add(
        TRIPLET,
        f"swap-{reduction}",
        *triple(TRIPLET + "s", (6, 3)),
        swap=True,
        reduction=reduction,
        grad=(0, 1, 2),
    )
    add(TRIPLET, f"empty-{reduction}", *triple(TRIPLET + "e", (0, 4)), reduction=reduction)
    add(
        TRIPLET,
        f"broadcast-{reduction}",
        *triple(TRIPLET + "b", (3, 4), others=((1, 4), (3, 1))),
        reduction=reduction,
        grad=(0, 1, 2),
    )
# Every norm order vector_norm accepts.  p = 0 counts non-zeros: torch's native kernel
# leaves the inputs off the gradient tape (None), the generic body gives zeros, so its
# gradient is checked in tests/test_embedding.py instead.
for p in (0, 1, 2, 3, INF, -INF, -1, 0.5, 1.5, 2.0):
    grad = () if p == 0 else (0, 1, 2)
    for dtype in ("float64",):
        add(
            TRIPLET,
            f"p={p}-{dtype}",
            *triple(TRIPLET + f"p{p}", (4, 3), dtype),
            p=p,
            margin=2.0,
            reduction="none",
            grad=grad,
        )
    add(TRIPLET, f"p={p}-swap", *triple(TRIPLET + f"ps{p}", (4, 3)), p=p, swap=True, margin=2.0, grad=grad)
for eps in (0.0, 0.1):
    add(
        TRIPLET,
        f"eps={eps}",
        *triple(TRIPLET + f"eps{eps}", (4, 3)),
        eps=eps,
        reduction="none",
        grad=(0, 1, 2),
    )
for margin in (0.5, 3):
    add(
        TRIPLET,
        f"margin={margin}",
        *triple(TRIPLET + f"m{margin}", (4, 3)),
        margin=margin,
        reduction="none",
        grad=(0, 1, 2),
    )
# Identical anchor and positive: ‖eps·1‖ with gradient 1/√2 per component (D = 2).
for dtype in FLOATS:
    a = array([[1.0, 2.0], [0.5, -1.0]], dtype)
    add(
        TRIPLET,
        f"identical-{dtype}",
        a,
        a.copy(),
        array([[5.0, 5.0], [3.0, 1.0]], dtype),
        margin=10.0,
        reduction="none",
        grad=(0, 1, 2),
    )
    # margin + d(a, p) − d(a, n) exactly 0 (eps = 0: distances 5 and 6); the gradient passes.
    add(
        TRIPLET,
        f"ties-{dtype}",
        array([[0.0, 0.0]], dtype),
        array([[3.0, 4.0]], dtype),
        array([[0.0, 6.0]], dtype),
        eps=0.0,
        reduction="sum",
        grad=(0, 1, 2),
    )
    # d(a, n) == d(p, n) with swap: each side gets half the gradient, as torch's minimum.
    add(
        TRIPLET,
        f"swap-ties-{dtype}",
        array([[0.0, 0.0]], dtype),
        array([[6.0, 0.0]], dtype),
        array([[3.0, 4.0]], dtype),
        eps=0.0,
        margin=8.0,
        swap=True,
        reduction="sum",
        grad=(0, 1, 2),
    )
add(
    TRIPLET,
    "swap-nearer",
    array([[0.0, 0.0], [1.0, 1.0]]),
    array([[0.5, 0.0], [1.0, 2.0]]),
    array([[1.0, 0.0], [1.0, 2.5]]),
    swap=True,
    reduction="none",
    grad=(0, 1, 2),
)
add(TRIPLET, "3d", *triple(TRIPLET + "3d", (2, 3, 4)), reduction="none", grad=(0, 1, 2))
add(TRIPLET, "0d", *triple(TRIPLET + "0d", ()), reduction="none", grad=(0, 1, 2))
add(
    TRIPLET,
    "int64",
    integers(TRIPLET + "i1", (3, 2), -3, 4),
    integers(TRIPLET + "i2", (3, 2), -3, 4),
    integers(TRIPLET + "i3", (3, 2), -3, 4),
    reduction="none",
)
# Each distance is computed in its pair's dtype: the two int64 arrays' in float32 (eps = 0.5
# keeps float32's sum of squares exact, so only the square root's rounding tells).
add(
    TRIPLET,
    "int64-float64",
    integers(TRIPLET + "j1", (3, 2), -3, 4),
    normal(TRIPLET + "j2", (3, 2), "float64"),
    integers(TRIPLET + "j3", (3, 2), -3, 4),
    eps=0.5,
    grad=(1,),
)
add(
    TRIPLET,
    "float32-float64",
    normal(TRIPLET + "f1", (3, 2)),
    normal(TRIPLET + "f2", (3, 2)),
    normal(TRIPLET + "f3", (3, 2), "float64"),
    grad=(0, 1, 2),
)
add(TRIPLET, "empty-features", *triple(TRIPLET + "ef", (2, 0)), reduction="none")
add(TRIPLET, "empty-features-p=-1", *triple(TRIPLET + "ef", (2, 0)), p=-1, raises=True)
add(TRIPLET, "empty-features-p=inf", *triple(TRIPLET + "ef", (2, 0)), p=INF, raises=True)
add(TRIPLET, "empty-features-p=-0.5-1d", *triple(TRIPLET + "ef", (0,)), p=-0.5, raises=True)
add(TRIPLET, "empty-batch-p=inf", *triple(TRIPLET + "eb", (0, 3)), p=INF, reduction="none")
add(
    TRIPLET,
    "nonfinite",
    array([[INF, 0.0], [float("nan"), 1.0]]),
    normal(TRIPLET, (2, 2)),
    normal(TRIPLET + "nf", (2, 2)),
    reduction="none",
)
for margin in (0.0, -1, 0):
    add(TRIPLET, f"margin={margin!r}", *triple(TRIPLET, (2, 3)), margin=margin, raises=True)
add(TRIPLET, "margin=0-bad-reduction", *triple(TRIPLET, (2, 3)), margin=0.0, reduction="avg", raises=True)
add(
    TRIPLET,
    "margin=0-ndim-mismatch",
    *triple(TRIPLET, (2, 3), others=((3,), (2, 3))),
    margin=0.0,
    raises=True,
)
add(TRIPLET, "ndim-mismatch", *triple(TRIPLET, (2, 3), others=((3,), (2, 3))), raises=True)
add(TRIPLET, "features-mismatch", *triple(TRIPLET, (3, 4), others=((3, 4), (3, 5))), raises=True)
add(TRIPLET, "distances-mismatch", *triple(TRIPLET, (1, 4), others=((3, 4), (2, 4))), raises=True)
add(
    TRIPLET,
    "distances-mismatch-swap",
    *triple(TRIPLET, (1, 4), others=((3, 4), (2, 4))),
    swap=True,
    raises=True,
)
add(TRIPLET, "bad-reduction", *triple(TRIPLET, (2, 3)), reduction="avg", raises=True)
add(TRIPLET, "elementwise_mean", *triple(TRIPLET, (2, 3)), reduction="elementwise_mean")

# --- triplet_margin_with_distance_loss -----------------------------------------------------

for reduction in REDUCTIONS:
    for dtype in (*FLOATS, *HALVES):
        tag = f"{TWD}{reduction}{dtype}"
        add(TWD, f"{reduction}-{dtype}", *triple(tag, (4, 5), dtype), reduction=reduction, grad=(0, 1, 2))
    add(TWD, f"unbatched-{reduction}", *triple(TWD + "u", (5,)), reduction=reduction, grad=(0, 1, 2))
    add(TWD, f"swap-{reduction}", *triple(TWD + "s", (6, 3)), swap=True, reduction=reduction, grad=(0, 1, 2))
    add(TWD, f"empty-{reduction}", *triple(TWD + "e", (0, 4)), reduction=reduction)
    for dtype in FLOATS if reduction == "none" else ("float32",):
        add(
            TWD,
            f"cosine-{reduction}-{dtype}",
            *triple(TWD + "c" + reduction, (5, 4), dtype),
            distance_function=cosine_distance,
            margin=0.5,
            reduction=reduction,
            grad=(0, 1, 2),
        )
    add(
        TWD,
        f"cosine-swap-{reduction}",
        *triple(TWD + "cs", (5, 4)),
        distance_function=cosine_distance,
        swap=True,
        reduction=reduction,
        grad=(0, 1, 2),
    )
    add(
        TWD,
        f"lambda-keepdims-{reduction}",
        *triple(TWD + "k", (4, 3)),
        distance_function=lambda x, y: squared_distance_keepdims(x, y),
        reduction=reduction,
        grad=(0, 1, 2),
    )
add(
    TWD,
    "lambda-l1",
    *triple(TWD + "l1", (4, 3)),
    distance_function=lambda x, y: l1_distance(x, y),
    margin=2.0,
    reduction="none",
    grad=(0, 1, 2),
)
add(TWD, "margin=0.25", *triple(TWD + "m", (4, 3)), margin=0.25, reduction="none", grad=(0, 1, 2))
for dtype in FLOATS:
    a = array([[1.0, 2.0], [0.5, -1.0]], dtype)
    add(
        TWD,
        f"identical-{dtype}",
        a,
        a.copy(),
        array([[5.0, 5.0], [3.0, 1.0]], dtype),
        margin=10.0,
        reduction="none",
        grad=(0, 1, 2),
    )
add(
    TWD,
    "int64",
    integers(TWD + "i1", (3, 2), -3, 4),
    integers(TWD + "i2", (3, 2), -3, 4),
    integers(TWD + "i3", (3, 2), -3, 4),
    reduction="none",
)
add(
    TWD,
    "float32-float64",
    normal(TWD + "f1", (3, 2)),
    normal(TWD + "f2", (3, 2), "float64"),
    normal(TWD + "f3", (3, 2)),
    grad=(0, 1, 2),
)
add(TWD, "elementwise_mean", *triple(TWD, (2, 3)), reduction="elementwise_mean", raises=True)
add(
    TWD,
    "bad-reduction-margin=0-ndim",
    *triple(TWD, (2, 3), others=((3,), (2, 3))),
    margin=0,
    reduction="avg",
    raises=True,
)
add(TWD, "margin=0-ndim", *triple(TWD, (2, 3), others=((3,), (2, 3))), margin=0, raises=True)
add(TWD, "margin=-1.0", *triple(TWD, (2, 3)), margin=-1.0, raises=True)
add(TWD, "ndim-mismatch", *triple(TWD, (2, 3), others=((3,), (2, 3))), raises=True)
add(TWD, "features-mismatch", *triple(TWD, (3, 4), others=((3, 4), (3, 5))), raises=True)

# --- legacy size_average / reduce ----------------------------------------------------------

for fn in LEGACY:
    if fn == HINGE:
        args = (normal(fn + "legacy", (3, 4)), signs(fn + "legacy", (3, 4)))
    elif fn == COS:
        args = (normal(fn + "l1", (3, 4)), normal(fn + "l2", (3, 4)), signs(fn, (3,)))
    elif fn == MR:
        args = (normal(fn + "l1", (5,)), normal(fn + "l2", (5,)), signs(fn, (5,)))
    else:
        args = triple(fn + "legacy", (3, 4))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            add(
                fn,
                f"legacy-size_average={size_average}-reduce={reduce}",
                *args,
                size_average=size_average,
                reduce=reduce,
                reduction="sum",
                grad=(0,),
            )
