"""Case table: binary_cross_entropy, binary_cross_entropy_with_logits, soft_margin_loss."""

from __future__ import annotations

import numpy as np

from support.make import FLOATS, HALVES, REDUCTIONS, array, cast, integers, normal, uniform
from support.oracle import Case

BCE = "binary_cross_entropy"
LOGITS = "binary_cross_entropy_with_logits"
SOFT = "soft_margin_loss"
SHAPES = [(), (7,), (4, 5), (2, 3, 4)]
NAN, INF = float("nan"), float("inf")


def _probabilities(tag: str, shape, dtype="float32"):
    return uniform(tag + "x", shape, 0.02, 0.98, dtype), uniform(tag + "t", shape, 0.0, 1.0, dtype)


def _logits(tag: str, shape, dtype="float32", target_dtype=None):
    x = normal(tag + "x", shape, dtype, scale=2.0)
    t = cast(np.round(uniform(tag + "t", shape, 0.0, 1.0, "float64")), target_dtype or dtype)
    return x, t


def _signs(tag: str, shape, dtype="float32"):
    x = normal(tag + "x", shape, dtype, scale=2.0)
    t = cast(np.where(uniform(tag + "t", shape, 0.0, 1.0, "float64") < 0.5, -1.0, 1.0), dtype)
    return x, t


CASES: list[Case] = []

# Every reduction, dtype and shape (0-D and batched), with gradients w.r.t. input and target
# (soft_margin_loss: input only; torch does not differentiate its target).
for fn, make, grad in [(BCE, _probabilities, (0, 1)), (LOGITS, _logits, (0, 1)), (SOFT, _signs, (0,))]:
    for reduction in REDUCTIONS:
        for dtype in (*FLOATS, *HALVES):
            # Half precision on two shapes: 0-D and 3-D are the same code in every dtype.
            for shape in SHAPES if dtype in FLOATS else [(7,), (4, 5)]:
                x, t = make(f"{fn}{reduction}{dtype}{shape}", shape, dtype)
                CASES.append(
                    Case(fn, f"{reduction}-{dtype}-{shape}", (x, t), {"reduction": reduction}, grad=grad)
                )
        empty = np.zeros((0, 3), dtype="float32")
        CASES.append(Case(fn, f"empty-{reduction}", (empty, empty), {"reduction": reduction}))
    x, t = make(fn + "legacy", (3, 4))
    # Each legacy outcome ('sum', 'none', 'mean'), with None counting as True.
    for size_average, reduce in [(False, None), (None, False), (True, False), (False, True), (True, True)]:
        CASES.append(
            Case(
                fn,
                f"legacy-size_average={size_average}-reduce={reduce}",
                (x, t),
                {"size_average": size_average, "reduce": reduce, "reduction": "none"},
                grad=(0,),
            )
        )
    CASES.append(Case(fn, "elementwise_mean", (x, t), {"reduction": "elementwise_mean"}))
    CASES.append(Case(fn, "bad-reduction", (x, t), {"reduction": "avg"}, raises=True))
    # The reduction is validated before the shapes.
    CASES.append(Case(fn, "bad-reduction-and-shape", (x, t[:, :2].copy()), {"reduction": "avg"}, raises=True))
    CASES.append(Case(fn, "float32-float64", (x, t.astype("float64")), grad=(0,), raises=fn == BCE))
    CASES.append(Case(fn, "float64-float32", (x.astype("float64"), t), grad=(0,), raises=fn == BCE))
    CASES.append(Case(fn, "float16-float32", (x.astype("float16"), t), raises=fn == BCE))
    CASES.append(Case(fn, "float32-float16", (x, t.astype("float16")), raises=fn == BCE))
    CASES.append(Case(fn, "bfloat16-float16", (cast(x, "bfloat16"), t.astype("float16")), raises=fn == BCE))
    CASES.append(Case(fn, "int64-input", (integers(fn, (3, 4), 0, 2), t), raises=True))
    CASES.append(
        Case(fn, "int64-both", (integers(fn, (3, 4), 0, 2), integers(fn, (3, 4), 0, 2)), raises=True)
    )
    CASES.append(Case(fn, "bool-input", (x > 0.5, t), raises=True))

# --- binary_cross_entropy ------------------------------------------------------------------

# The −100 clamp (input exactly 0 or 1, and a float64 input so small its log is below −100)
# and torch's hand-written gradients there: ±1e12 w.r.t. input, ±inf w.r.t. target.
edges_x = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-7, 0.5, 1e-20]
edges_t = [0.0, 1.0, 1.0, 0.0, 0.3, 0.7, 1.0, 0.0, 0.5, 1.0]
for dtype in FLOATS:
    x, t = array(edges_x, dtype), array(edges_t, dtype)
    for reduction in REDUCTIONS:
        CASES.append(Case(BCE, f"clamp-{reduction}-{dtype}", (x, t), {"reduction": reduction}, grad=(0, 1)))
    CASES.append(
        Case(
            BCE,
            f"clamp-weight-{dtype}",
            (x, t),
            {"weight": uniform("cw" + dtype, (10,), 0.5, 2.0, dtype)},
            grad=(0, 1),
        )
    )
CASES.append(
    Case(
        BCE,
        "tiny-float64",
        (array([1e-50, 1 - 1e-17, 1e-300], "float64"), array([1.0, 0.0, 0.2], "float64")),
        {"reduction": "none"},
        grad=(0, 1),
    )
)
for dtype in HALVES:
    CASES.append(
        Case(
            BCE,
            f"clamp-{dtype}",
            (array([0.0, 1.0, 0.0, 0.5, 1e-3], dtype), array([0.0, 1.0, 1.0, 0.25, 1.0], dtype)),
            {"reduction": "none"},
            grad=(0,),
        )
    )

# weight: broadcast to the target's shape, never enlarging it; 'mean' is mean(w·ℓ).
for reduction in REDUCTIONS:
    for dtype in FLOATS:
        x, t = _probabilities(f"w{reduction}{dtype}", (3, 4), dtype)
        w = uniform(f"w{reduction}{dtype}w", (3, 4), 0.0, 2.0, dtype)
        CASES.append(
            Case(BCE, f"weight-{reduction}-{dtype}", (x, t, w), {"reduction": reduction}, grad=(0, 1))
        )
x, t = _probabilities("wb", (3, 4))
for tag, w in [
    ("row", uniform("wr", (4,), 0.0, 2.0)),
    ("column", uniform("wc", (3, 1), 0, 2)),
    ("0-D", array(1.5)),
    ("float64", uniform("w64", (4,), 0, 2, "float64")),
    ("int64", integers("wi", (3, 4), 0, 3)),
    ("bool", integers("wb", (4,), 0, 2) > 0),
    ("float16", uniform("w16", (4,), 0, 2, "float16")),
    ("nonfinite", array([NAN, INF, 0.0, 1.0])),
]:
    CASES.append(Case(BCE, f"weight-{tag}", (x, t), {"weight": w, "reduction": "none"}, grad=(0, 1)))
CASES.append(
    Case(
        BCE,
        "weight-float64-float16-input",
        _probabilities("w16i", (3, 4), "float16"),
        {"weight": uniform("w16w", (4,), 0, 2, "float64")},
    )
)
for tag, shape in [
    ("enlarges", (2, 3, 4)),
    ("enlarges-ones", (1, 1, 1)),
    ("mismatch", (5,)),
    ("mismatch-inner", (2, 4)),
    ("too-many-dims", (5, 3, 1)),
]:
    CASES.append(Case(BCE, f"weight-{tag}", (x, t), {"weight": uniform(tag, shape, 0, 1)}, raises=True))
# A weight that cannot broadcast is reported before the dtype mismatch.
CASES.append(
    Case(
        BCE,
        "weight-mismatch-and-dtype",
        (x, t.astype("float64")),
        {"weight": uniform("wm", (5,), 0, 1)},
        raises=True,
    )
)
CASES.append(
    Case(
        BCE,
        "weight-enlarges-and-dtype",
        (x, t.astype("float64")),
        {"weight": uniform("we", (2, 3, 4), 0, 1)},
        raises=True,
    )
)

# Shape and dtype rules.
CASES += [
    Case(BCE, "target-shape-differs", (x, t[:1].copy()), raises=True),
    Case(BCE, "target-broadcastable-shape", (x[:1].copy(), t), raises=True),
    Case(BCE, "target-0-D-input-1-D", (array([0.5]), array(0.5)), raises=True),
    Case(BCE, "float32-int64", (x, integers("ti", (3, 4), 0, 2)), raises=True),
    Case(BCE, "float16-bfloat16", (x.astype("float16"), cast(t, "bfloat16")), raises=True),
]

# Values outside [0, 1] raise on concrete arrays (NaN input included); a lazy backend
# builds the loss instead.
probe_t = array([0.5, 0.2, 1.0])
for tag, xv, tv in [
    ("input-above-1", [0.5, 1.5, 0.2], probe_t),
    ("input-negative", [0.5, -0.1, 0.2], probe_t),
    ("input-nan", [0.5, NAN, 0.2], probe_t),
    ("input-inf", [INF, 0.5, 0.2], probe_t),
    ("target-above-1", [0.5, 0.5, 0.2], [0.5, 1.5, 0.2]),
    ("target-negative", [0.5, 0.5, 0.2], [-1.0, 0.5, 0.2]),
    ("target-nan", [0.5, 0.5, 0.2], [0.5, NAN, 0.2]),
    ("target-inf", [0.5, 0.5, 0.2], [0.5, 0.2, -INF]),
    ("both", [0.5, 2.0, 0.2], [0.5, 0.2, 3.0]),
]:
    for dtype in FLOATS:
        CASES.append(
            Case(BCE, f"{tag}-{dtype}", (array(xv, dtype), array(tv, dtype)), raises=True, value_error=True)
        )
# Values are checked after the dtypes, before the weight's in-place broadcast.
CASES.append(Case(BCE, "input-above-1-and-dtype", (array([2.0]), array([0.5], "float64")), raises=True))
CASES.append(
    Case(
        BCE,
        "input-above-1-int-weight",
        (array([2.0]), array([0.5])),
        {"weight": integers("vw", (1,), 1, 2)},
        raises=True,
        value_error=True,
    )
)

# --- binary_cross_entropy_with_logits ------------------------------------------------------

CASES.append(Case(LOGITS, "seed-example", (array([0.5, -1.5, 2.0]), array([1.0, 0.0, 1.0]))))

# Stability: exact at ±100 and ±1000 in every dtype; gradient at logit 0 is ½ − t.
extreme_x = [-1000.0, -100.0, -20.0, -1e-3, 0.0, 0.0, 0.0, 20.0, 100.0, 1000.0, -1000.0, 1000.0]
extreme_t = [1.0, 1.0, 0.0, 1.0, 0.0, 0.5, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
for dtype in (*FLOATS, *HALVES):
    x, t = array(extreme_x, dtype), array(extreme_t, dtype)
    CASES.append(Case(LOGITS, f"extremes-{dtype}", (x, t), {"reduction": "none"}, grad=(0, 1)))
    CASES.append(
        Case(
            LOGITS,
            f"extremes-pos_weight-{dtype}",
            (x, t),
            {"reduction": "none", "pos_weight": array(3.0, dtype)},
            grad=(0, 1),
        )
    )
    CASES.append(Case(LOGITS, f"extremes-sum-{dtype}", (x, t), {"reduction": "sum"}, grad=(0, 1)))

# Soft targets and targets outside [0, 1] (no check).
for dtype in FLOATS:
    x = normal("soft" + dtype, (4, 3), dtype, scale=3.0)
    CASES.append(
        Case(
            LOGITS,
            f"soft-targets-{dtype}",
            (x, uniform("st" + dtype, (4, 3), 0, 1, dtype)),
            {"reduction": "none"},
            grad=(0, 1),
        )
    )
    CASES.append(
        Case(
            LOGITS,
            f"targets-outside-0-1-{dtype}",
            (x, uniform("so" + dtype, (4, 3), -2.0, 3.0, dtype)),
            grad=(0, 1),
        )
    )

# pos_weight (one per class, broadcast) and weight, alone and together.
for reduction in REDUCTIONS:
    for dtype in FLOATS:
        x, t = _logits(f"pw{reduction}{dtype}", (4, 3), dtype)
        pw = uniform(f"pw{reduction}{dtype}", (3,), 0.5, 4.0, dtype)
        w = uniform(f"pww{reduction}{dtype}", (4, 3), 0.0, 2.0, dtype)
        CASES.append(
            Case(
                LOGITS,
                f"pos_weight-{reduction}-{dtype}",
                (x, t),
                {"reduction": reduction, "pos_weight": pw},
                grad=(0, 1),
            )
        )
        CASES.append(
            Case(LOGITS, f"weight-{reduction}-{dtype}", (x, t, w), {"reduction": reduction}, grad=(0, 1))
        )
        CASES.append(
            Case(
                LOGITS,
                f"weight-and-pos_weight-{reduction}-{dtype}",
                (x, t),
                {"reduction": reduction, "weight": w[:1].copy(), "pos_weight": pw},
                grad=(0, 1),
            )
        )
x, t = _logits("lb", (2, 3, 4))
for tag, key, value in [
    ("pos_weight-0-D", "pos_weight", array(2.5)),
    ("pos_weight-column", "pos_weight", uniform("pc", (3, 1), 0.5, 3)),
    ("pos_weight-full", "pos_weight", uniform("pf", (2, 3, 4), 0.5, 3)),
    ("pos_weight-float64", "pos_weight", uniform("p64", (4,), 0.5, 3, "float64")),
    ("pos_weight-int64", "pos_weight", integers("pi", (4,), 1, 4)),
    ("pos_weight-zero", "pos_weight", array([0.0, 1.0, 0.0, 2.0])),
    ("weight-0-D", "weight", array(0.5)),
    ("weight-column", "weight", uniform("wc", (3, 1), 0, 2)),
    ("weight-float64", "weight", uniform("w64", (4,), 0, 2, "float64")),
    ("weight-int64", "weight", integers("wi", (4,), 0, 3)),
    ("weight-bool", "weight", integers("wb", (4,), 0, 2) > 0),
]:
    CASES.append(Case(LOGITS, tag, (x, t), {key: value, "reduction": "none"}, grad=(0, 1)))
CASES.append(
    Case(
        LOGITS,
        "pos_weight-float64-float16",
        _logits("ph", (2, 4), "float16"),
        {"pos_weight": uniform("ph", (4,), 0.5, 3, "float64")},
    )
)
CASES.append(
    Case(
        LOGITS,
        "float64-input-float32-target-float64-weights",
        _logits("mix", (2, 4)),
        {
            "pos_weight": uniform("mp", (4,), 0.5, 3, "float64"),
            "weight": uniform("mw", (4,), 0, 2, "float64"),
            "reduction": "none",
        },
    )
)
for tag, key, shape in [
    ("pos_weight-enlarges", "pos_weight", (2, 2, 3, 4)),
    ("pos_weight-mismatch", "pos_weight", (5,)),
    ("weight-enlarges", "weight", (2, 2, 3, 4)),
    ("weight-mismatch", "weight", (5,)),
    ("weight-enlarges-ones", "weight", (1, 1, 1, 1)),
]:
    CASES.append(Case(LOGITS, tag, (x, t), {key: uniform(tag, shape, 0, 1)}, raises=True))
CASES += [
    Case(
        LOGITS,
        "0-D-pos_weight-enlarges",
        (array(0.3), array(1.0)),
        {"pos_weight": array([1.0, 2.0, 3.0])},
        raises=True,
    ),
    Case(LOGITS, "0-D-weight-enlarges", (array(0.3), array(1.0)), {"weight": array([1.0])}, raises=True),
    Case(LOGITS, "pos_weight-bool", (x, t), {"pos_weight": integers("pb", (4,), 0, 2) > 0}, raises=True),
    Case(LOGITS, "target-shape-differs", (array([0.1, 0.2, 0.3]), array([1.0])), raises=True),
    Case(LOGITS, "target-broadcastable-shape", (x, t[:1].copy()), raises=True),
    Case(LOGITS, "int64-target", (x, integers("it", (2, 3, 4), 0, 2)), raises=True),
    Case(LOGITS, "int32-target", (x, integers("it", (2, 3, 4), 0, 2, "int32")), raises=True),
    Case(LOGITS, "bool-target", (x, integers("bt", (2, 3, 4), 0, 2) > 0), raises=True),
    Case(
        LOGITS,
        "int64-target-float64-input",
        (x.astype("float64"), integers("it", (2, 3, 4), 0, 2)),
        raises=True,
    ),
    # The pos_weight shape is checked before the target's dtype, the input's dtype first.
    Case(
        LOGITS,
        "int64-target-pos_weight-mismatch",
        (x, integers("it", (2, 3, 4), 0, 2)),
        {"pos_weight": uniform("pm", (5,), 0, 1)},
        raises=True,
    ),
    Case(
        LOGITS,
        "int32-both-pos_weight-mismatch",
        (integers("ii", (2, 3, 4), 0, 2, "int32"), integers("it", (2, 3, 4), 0, 2, "int32")),
        {"pos_weight": uniform("pm", (5,), 0, 1)},
        raises=True,
    ),
]
for dtype in FLOATS:
    xm, tm = _logits("mixed" + dtype, (3, 4), dtype, "float32" if dtype == "float64" else "float64")
    CASES.append(
        Case(
            LOGITS,
            f"mixed-pos_weight-{dtype}-input",
            (xm, tm),
            {"pos_weight": uniform("mpw", (4,), 0.5, 2, dtype), "reduction": "none"},
        )
    )

# --- soft_margin_loss ----------------------------------------------------------------------

# log1p(exp(−t·x)) as torch computes it: inf once exp overflows in the input's dtype.
for dtype, xs in [
    ("float32", [-89.0, -88.0, 100.0, -800.0, 3.0, 0.0]),
    ("float64", [-710.0, -709.0, 800.0, -3.0, 30.0, 0.0]),
    ("float16", [-10.0, -11.0, -12.0, 12.0, -3.0, 0.0]),
    ("bfloat16", [-10.0, -12.0, -80.0, 89.0, -3.0, 0.0]),
]:
    t = array([1.0, 1.0, -1.0, 1.0, -1.0, 1.0], dtype)
    CASES.append(Case(SOFT, f"overflow-{dtype}", (array(xs, dtype), t), {"reduction": "none"}, grad=(0,)))
    CASES.append(Case(SOFT, f"overflow-sum-{dtype}", (array(xs, dtype), t), {"reduction": "sum"}, grad=(0,)))
for dtype in FLOATS:
    x = normal("sr" + dtype, (6,), dtype, scale=2.0)
    CASES.append(
        Case(
            SOFT,
            f"real-targets-{dtype}",
            (x, array([0.0, 0.5, -2.0, 3.0, -0.25, 1.0], dtype)),
            {"reduction": "none"},
            grad=(0,),
        )
    )
x, t = _signs("sb", (4, 3))
for tag, target in [
    ("row", t[0].copy()),
    ("one", t[:1, :1].copy()),
    ("0-D", array(-1.0)),
    ("column", t[:, :1].copy()),
    ("int64", integers("si", (4, 3), -1, 2)),
    ("bool", integers("sb", (3,), 0, 2) > 0),
    ("float64", t.astype("float64")),
]:
    # torch's own backward fails for a bool target (it negates it).
    CASES.append(
        Case(SOFT, f"target-{tag}", (x, target), {"reduction": "none"}, grad=() if tag == "bool" else (0,))
    )
CASES += [
    Case(
        SOFT,
        "mixed-overflow-float32-float64",
        (array([-100.0, 2.0]), array([1.0, 1.0], "float64")),
        {"reduction": "none"},
        grad=(0,),
    ),
    Case(
        SOFT,
        "float16-input-float64-target",
        (normal("h64", (5,), "float16"), _signs("h64", (5,), "float64")[1]),
    ),
    Case(
        SOFT,
        "nonfinite",
        (array([INF, -INF, NAN, 1.0, 2.0]), array([1.0, 1.0, 1.0, INF, NAN])),
        {"reduction": "none"},
    ),
    Case(SOFT, "target-enlarges", (x[0].copy(), t[:, :1].copy()), raises=True),
    Case(SOFT, "target-enlarges-rows", (x[:, :1].copy(), t[0].copy()), raises=True),
    Case(SOFT, "target-enlarges-0-D-input", (array(1.0), array([1.0, -1.0])), raises=True),
    Case(SOFT, "target-mismatch", (x, t[:, :2].copy()), raises=True),
    Case(
        SOFT,
        "int32-input-int64-target",
        (integers("s", (3,), -1, 2, "int32"), integers("s", (3,), -1, 2)),
        raises=True,
    ),
    Case(
        SOFT,
        "int32-input-float64-target",
        (integers("s", (3,), -1, 2, "int32"), normal("s", (3,), "float64")),
        raises=True,
    ),
    Case(SOFT, "bool-input-and-mismatch", (integers("s", (3,), 0, 2) > 0, normal("s", (4,))), raises=True),
]
