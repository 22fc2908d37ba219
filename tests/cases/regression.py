"""Case table: l1_loss, mse_loss, smooth_l1_loss, huber_loss."""

from __future__ import annotations

from support.make import FLOATS, HALVES, REDUCTIONS, array, integers, normal
from support.oracle import Case

LOSSES = ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss")
LEGACY = ("l1_loss", "mse_loss", "smooth_l1_loss")  # huber has no size_average/reduce
WEIGHTED = ("l1_loss", "mse_loss", "huber_loss")


def _pair(fn: str, tag: str, shape, dtype="float32", target_shape=None):
    x = normal(f"{fn}{tag}x", shape, dtype, scale=2.0)
    t = normal(f"{fn}{tag}t", target_shape or shape, dtype, scale=2.0)
    return x, t


CASES: list[Case] = []

for fn in LOSSES:
    for reduction in REDUCTIONS:
        for dtype in (*FLOATS, *HALVES):
            for shape in [(), (7,), (4, 5), (2, 3, 4)]:
                x, t = _pair(fn, f"{reduction}{dtype}{shape}", shape, dtype)
                CASES.append(
                    Case(fn, f"{reduction}-{dtype}-{shape}", (x, t), {"reduction": reduction}, grad=(0, 1))
                )
    for reduction in REDUCTIONS:
        # Broadcasting warns (torch's size-mismatch warning) and still works both ways.
        x, t = _pair(fn, "bcast", (4, 1), target_shape=(3,))
        CASES.append(Case(fn, f"broadcast-{reduction}", (x, t), {"reduction": reduction}, grad=(0, 1)))
        empty = normal(fn, (0, 3))
        CASES.append(Case(fn, f"empty-{reduction}", (empty, empty), {"reduction": reduction}))
    # Ties: |x − t| exactly 0 and exactly 1 (the beta/delta boundary); gradients as torch's.
    x = array([0.0, 1.0, -1.0, 2.5, 3.0, -2.0])
    t = array([0.0, 0.0, 0.0, 1.5, 3.0, -2.5])
    CASES.append(Case(fn, "ties", (x, t), {"reduction": "none"}, grad=(0, 1)))
    CASES.append(
        Case(
            fn, "ties-float64", (x.astype("float64"), t.astype("float64")), {"reduction": "sum"}, grad=(0, 1)
        )
    )
    # Mixed precision promotes (huber keeps the input's dtype).
    x32, t64 = normal(fn + "m", (3, 4)), normal(fn + "m2", (3, 4), "float64")
    # torch's own huber backward fails for mixed dtypes ("Found dtype Double but expected
    # Float"), so there is no reference gradient to compare with there.
    mixed_grad = () if fn == "huber_loss" else (0, 1)
    CASES.append(Case(fn, "float32-float64", (x32, t64), grad=mixed_grad))
    CASES.append(Case(fn, "float64-float32", (t64, x32), grad=mixed_grad))
    CASES.append(Case(fn, "float16-float32", (normal(fn, (5,), "float16"), normal(fn, (5,)))))
    # Non-finite values pass through as in torch.
    CASES.append(
        Case(
            fn,
            "nonfinite",
            (array([float("inf"), float("nan"), 1.0, -float("inf")]), array([1.0, 0.0, float("inf"), 2.0])),
            {"reduction": "none"},
        )
    )
    # Errors.
    CASES.append(Case(fn, "not-broadcastable", (normal(fn, (2, 4)), normal(fn, (2, 5))), raises=True))
    CASES.append(Case(fn, "bad-reduction", (x, t), {"reduction": "avg"}, raises=True))
    CASES.append(
        Case(
            fn,
            "bad-reduction-and-shape",
            (normal(fn, (2, 4)), normal(fn, (2, 5))),
            {"reduction": "avg"},
            raises=True,
        )
    )
    CASES.append(Case(fn, "elementwise_mean", (x, t), {"reduction": "elementwise_mean"}))

for fn in LEGACY:
    x, t = _pair(fn, "legacy", (3, 4))
    for size_average in (None, True, False):
        for reduce in (None, True, False):
            if size_average is None and reduce is None:
                continue
            CASES.append(
                Case(
                    fn,
                    f"legacy-size_average={size_average}-reduce={reduce}",
                    (x, t),
                    {"size_average": size_average, "reduce": reduce, "reduction": "sum"},
                    grad=(0,),
                )
            )

for fn in WEIGHTED:
    for reduction in (*REDUCTIONS, "elementwise_mean", "avg"):
        for dtype in FLOATS:
            x, t = _pair(fn, f"w{reduction}{dtype}", (3, 4), dtype)
            w = normal(fn + reduction + dtype, (3, 4), dtype) ** 2
            CASES.append(
                Case(
                    fn,
                    f"weight-{reduction}-{dtype}",
                    (x, t),
                    {"reduction": reduction, "weight": w},
                    grad=(0, 1, "weight"),
                    raises=reduction in ("elementwise_mean", "avg"),
                )
            )
    x, t = _pair(fn, "wb", (3, 1), target_shape=(4,))
    CASES.append(
        Case(fn, "weight-broadcast-target", (x, t), {"weight": normal(fn, (3, 1)) ** 2}, grad=(0, "weight"))
    )
    CASES.append(Case(fn, "weight-wrong-shape", (x, t), {"weight": normal(fn, (3,))}, raises=True))
    CASES.append(
        Case(
            fn,
            "weight-float64-input-float32",
            (x, t),
            {"weight": normal(fn, (3, 1), "float64") ** 2},
            grad=(0, "weight"),
        )
    )
    zeros = normal(fn, (2, 2)) * 0
    CASES.append(
        Case(fn, "weight-all-zero-mean", (normal(fn, (2, 2)), normal(fn + "z", (2, 2))), {"weight": zeros})
    )

for fn in ("l1_loss", "mse_loss", "smooth_l1_loss"):
    for reduction in REDUCTIONS:
        ints = integers(fn + reduction, (3, 4), -5, 5)
        CASES.append(
            Case(
                fn,
                f"int64-{reduction}",
                (ints, ints[::-1].copy()),
                {"reduction": reduction},
                raises=fn != "l1_loss" or reduction == "mean",
            )
        )
    CASES.append(Case(fn, "int64-float32", (integers(fn, (3,), -5, 5), normal(fn, (3,)))))

for reduction in REDUCTIONS:
    for beta in (0.0, 0.5, 2.0):
        x, t = _pair("smooth_l1_loss", f"beta{beta}{reduction}", (4, 3))
        CASES.append(
            Case(
                "smooth_l1_loss",
                f"beta={beta}-{reduction}",
                (x, t),
                {"reduction": reduction, "beta": beta},
                grad=(0, 1),
            )
        )
    for delta in (0.5, 3.0):
        x, t = _pair("huber_loss", f"delta{delta}{reduction}", (4, 3))
        CASES.append(
            Case(
                "huber_loss",
                f"delta={delta}-{reduction}",
                (x, t),
                {"reduction": reduction, "delta": delta},
                grad=(0, 1),
            )
        )
x, t = _pair("smooth_l1_loss", "beta-ties", (6,))
CASES += [
    Case(
        "smooth_l1_loss",
        "beta=0-ties",
        (array([0.0, 1.0, -1.0]), array([0.0, 0.0, 0.0])),
        {"beta": 0.0, "reduction": "none"},
        grad=(0, 1),
    ),
    Case("smooth_l1_loss", "beta-negative", (x, t), {"beta": -1.0}, raises=True),
    Case(
        "smooth_l1_loss",
        "beta-negative-bad-reduction",
        (x, t),
        {"beta": -1.0, "reduction": "avg"},
        raises=True,
    ),
    Case(
        "smooth_l1_loss",
        "beta=0-int64",
        (integers("b", (3,), 0, 4), integers("c", (3,), 0, 4)),
        {"beta": 0.0, "reduction": "sum"},
    ),
    Case("huber_loss", "delta-zero", (x, t), {"delta": 0.0}, raises=True),
    Case("huber_loss", "delta-negative", (x, t), {"delta": -2.0}, raises=True),
    Case("huber_loss", "delta-zero-bad-reduction", (x, t), {"delta": 0.0, "reduction": "avg"}, raises=True),
    Case(
        "huber_loss",
        "delta-ties",
        (array([0.0, 2.0, -2.0, 2.0]), array([0.0, 0.0, 0.0, 4.0])),
        {"delta": 2.0, "reduction": "none"},
        grad=(0, 1),
    ),
    # Summed, the terms may take a branch-free form (minimum): same gradient at the ties.
    Case(
        "huber_loss",
        "delta-ties-sum",
        (array([0.0, 2.0, -2.0, 2.0, 3.0]), array([0.0, 0.0, 0.0, 4.0, 0.5])),
        {"delta": 2.0, "reduction": "sum"},
        grad=(0, 1),
    ),
    Case(
        "smooth_l1_loss",
        "beta-ties-mean",
        (array([0.0, 0.5, -0.5, 2.0, -3.0]), array([0.0, 0.0, 0.0, 1.5, 0.0])),
        {"beta": 0.5, "reduction": "mean"},
        grad=(0, 1),
    ),
    # An infinite difference: the linear branch's gradient ±1, not the quadratic one's 0·∞.
    *(
        Case(
            fn,
            f"nonfinite-{reduction}",
            (array([float("inf"), -float("inf"), float("nan"), 1.0]), array([0.0, 0.0, 0.0, 0.25])),
            {"reduction": reduction},
            grad=(0, 1),
        )
        for fn in ("smooth_l1_loss", "huber_loss")
        for reduction in ("none", "sum")
    ),
    Case(
        "huber_loss", "int64-float64", (integers("h", (3,), 0, 4), normal("h", (3,), "float64")), raises=True
    ),
    Case("huber_loss", "int64-int64", (integers("h", (3,), 0, 4), integers("i", (3,), 0, 4)), raises=True),
]
