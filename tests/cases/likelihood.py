"""Case table: poisson_nll_loss, gaussian_nll_loss, kl_div."""

from __future__ import annotations

import numpy as np

from support.make import FLOATS, HALVES, REDUCTIONS, array, cast, integers, normal, uniform
from support.oracle import Case

INF, NAN = float("inf"), float("nan")
KL_REDUCTIONS = (*REDUCTIONS, "batchmean")
LEGACY = [
    (size_average, reduce)
    for size_average in (None, True, False)
    for reduce in (None, True, False)
    if (size_average, reduce) != (None, None)
]

CASES: list[Case] = []


def _counts(name: str, shape, dtype="float32", high: int = 6):
    """Poisson counts 0, 1, 2, ... as floats."""
    return cast(integers(name, shape, 0, high), dtype)


def _probabilities(name: str, shape, dtype="float32", log: bool = False):
    """Rows of a softmax over the last axis (log-probabilities with ``log``); 0-D gives one value."""
    z = normal(name, shape, "float64")
    if z.ndim == 0:
        p = np.asarray(0.3)
    else:
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        p = p / p.sum(axis=-1, keepdims=True)
    return cast(np.log(p) if log else p, dtype)


# --- poisson_nll_loss -----------------------------------------------------------------

P = "poisson_nll_loss"


def _poisson_input(name: str, shape, dtype: str, log_input: bool):
    if log_input:
        return normal(name, shape, dtype)
    return uniform(name, shape, 0.1, 5.0, dtype)


GRID = [
    *(("float32", shape) for shape in [(), (7,), (2, 3, 4)]),
    ("float64", (2, 3, 4)),
    *((dtype, (3, 4)) for dtype in HALVES),
]

for log_input in (True, False):
    for reduction in REDUCTIONS:
        for dtype, shape in GRID:
            tag = f"log_input={log_input}-{reduction}-{dtype}-{shape}"
            x = _poisson_input(P + tag, shape, dtype, log_input)
            # Half precision: counts up to 2, where neither form of the loss cancels
            # (torch rounds each intermediate to half, so cancellation would magnify
            # its rounding beyond the half-precision tolerance).
            t = _counts(P + tag + "t", shape, dtype, high=3 if dtype in HALVES else 6)
            CASES.append(Case(P, tag, (x, t), {"log_input": log_input, "reduction": reduction}, grad=(0, 1)))
    for reduction, dtype in [(r, "float32") for r in REDUCTIONS] + [("sum", "float64")]:
        # Stirling's term; targets kept above 0, where torch's target gradient is finite
        # (t = 1 sits exactly on the mask's edge).
        tag = f"full-log_input={log_input}-{reduction}-{dtype}"
        x = _poisson_input(P + tag, (4, 5), dtype, log_input)
        t = uniform(P + tag + "t", (4, 5), 0.2, 8.0, dtype)
        t[0, :3] = [1.0, 2.0, 0.5]
        CASES.append(
            Case(P, tag, (x, t), {"log_input": log_input, "full": True, "reduction": reduction}, grad=(0, 1))
        )
    for dtype in HALVES:
        tag = f"full-log_input={log_input}-{dtype}"
        x = _poisson_input(P + tag, (3, 4), dtype, log_input)
        t = uniform(P + tag + "t", (3, 4), 0.2, 2.0, dtype)
        CASES.append(Case(P, tag, (x, t), {"log_input": log_input, "full": True}, grad=(0, 1)))
    # Targets ≤ 1 (zero and negative included) take no Stirling term and give finite values.
    # torch's target gradient is NaN at t <= 0 there (anyloss's is finite: parity notes),
    # so only the input's gradient is compared.
    low = array([0.0, -1.0, 0.5, 1.0, 1.5, 3.0, NAN, INF])
    x = _poisson_input(P + "low", (8,), "float32", log_input)
    CASES.append(
        Case(
            P,
            f"full-low-targets-log_input={log_input}",
            (x, low),
            {"log_input": log_input, "full": True, "reduction": "none"},
            grad=(0,),
        )
    )
    for reduction in REDUCTIONS:
        # Broadcasting in either direction, silently.
        x = _poisson_input(P + "b", (4, 1), "float32", log_input)
        t = _counts(P + "bt", (3,))
        CASES.append(
            Case(
                P,
                f"broadcast-log_input={log_input}-{reduction}",
                (x, t),
                {"log_input": log_input, "reduction": reduction},
                grad=(0, 1),
            )
        )
        CASES.append(
            Case(
                P,
                f"broadcast-target-larger-log_input={log_input}-{reduction}",
                (x[:, 0].copy(), _counts(P + "bt2", (2, 4))),
                {"log_input": log_input, "reduction": reduction, "full": True},
                grad=(0,),
            )
        )
        if log_input:
            empty = normal(P, (0, 3))
            CASES.append(Case(P, f"empty-{reduction}", (empty, empty), {"reduction": reduction}))
    # Integer inputs are computed and returned in float32; mixed dtypes follow torch's steps.
    ints = integers(P + "i", (3, 4), 0, 5)
    CASES += [
        Case(P, f"int64-int64-log_input={log_input}", (ints, ints[::-1].copy()), {"log_input": log_input}),
        Case(
            P,
            f"int64-int64-full-log_input={log_input}",
            (ints + 1, ints[::-1] + 1),
            {"log_input": log_input, "full": True, "reduction": "none"},
        ),
        Case(
            P,
            f"int32-float32-log_input={log_input}",
            (ints.astype("int32") + 1, _counts(P + "if", (3, 4))),
            {"log_input": log_input, "full": True},
        ),
        Case(
            P,
            f"uint8-int8-log_input={log_input}",
            (ints.astype("uint8") + 1, ints.astype("int8")),
            {"log_input": log_input, "reduction": "sum"},
        ),
        # float64 result; torch evaluates exp(x) and log(x + eps) of the integers in
        # float32, so the inputs are chosen where those are exact (exp(0), log(1 + 1e-8)).
        Case(
            P,
            f"int64-float64-0d-log_input={log_input}",
            (ints * 0 + (0 if log_input else 1), array(3.0, "float64")),
            {"log_input": log_input, "full": True},
        ),
        Case(
            P,
            f"float32-float64-log_input={log_input}",
            (_poisson_input(P + "m", (3, 4), "float32", log_input), _counts(P + "m", (3, 4), "float64") + 1),
            {"log_input": log_input, "full": True},
            grad=(0, 1),
        ),
        Case(
            P,
            f"float64-0d-float32-log_input={log_input}",
            (array(1.5, "float64"), _counts(P + "m0", (5,)) + 1),
            {"log_input": log_input, "full": True},
            grad=(0, 1),
        ),
        Case(
            P,
            f"float32-float64-0d-log_input={log_input}",
            (_poisson_input(P + "m1", (5,), "float32", log_input), array(3.0, "float64")),
            {"log_input": log_input, "full": True},
            grad=(0, 1),
        ),
        Case(
            P,
            f"float16-float32-log_input={log_input}",
            (_poisson_input(P + "h", (5,), "float16", log_input), _counts(P + "h", (5,))),
            {"log_input": log_input},
        ),
        # Booleans: torch refuses to subtract a boolean tensor.
        Case(
            P,
            f"bool-float-log_input={log_input}",
            (ints > 2, _counts(P + "bf", (3, 4))),
            {"log_input": log_input},
            raises=not log_input,
        ),
        Case(
            P,
            f"float-bool-log_input={log_input}",
            (_poisson_input(P + "fb", (3, 4), "float32", log_input), ints > 2),
            {"log_input": log_input},
        ),
        Case(
            P, f"bool-bool-log_input={log_input}", (ints > 2, ints > 1), {"log_input": log_input}, raises=True
        ),
    ]
    # Non-finite values pass through.
    CASES.append(
        Case(
            P,
            f"nonfinite-log_input={log_input}",
            (array([INF, NAN, 1.0, -INF, 0.0]), array([1.0, 0.0, INF, 2.0, NAN])),
            {"log_input": log_input, "reduction": "none"},
        )
    )

# eps enters only the log_input=False branch (x = 0 exactly, and eps = 0 giving log 0).
x0 = array([0.0, 0.0, 1e-9, 2.0, 0.5])
t0 = array([0.0, 1.0, 2.0, 3.0, 0.0])
for eps in (1e-8, 1e-3, 0.0):
    CASES.append(
        Case(
            P,
            f"eps={eps}-x-zero",
            (x0, t0),
            {"log_input": False, "eps": eps, "reduction": "none"},
            grad=(0,) if eps == 0.0 else (0, 1),
        )
    )
    CASES.append(
        Case(
            P,
            f"eps={eps}-log_input",
            (normal(P + "e", (4,)), _counts(P + "e", (4,))),
            {"eps": eps, "reduction": "sum"},
            grad=(0, 1),
        )
    )
x, t = normal(P + "leg", (3, 4)), _counts(P + "leg", (3, 4)) + 1
for size_average, reduce in LEGACY:
    CASES.append(
        Case(
            P,
            f"legacy-size_average={size_average}-reduce={reduce}",
            (x, t),
            {"size_average": size_average, "reduce": reduce, "reduction": "avg"},
            grad=(0, 1),
        )
    )
CASES += [
    Case(P, "elementwise_mean-rejected", (x, t), {"reduction": "elementwise_mean"}, raises=True),
    Case(P, "batchmean-rejected", (x, t), {"reduction": "batchmean"}, raises=True),
    Case(P, "bad-reduction", (x, t), {"reduction": "avg"}, raises=True),
    Case(
        P,
        "bad-reduction-and-shape",
        (normal(P, (2, 4)), normal(P, (2, 5))),
        {"reduction": "avg"},
        raises=True,
    ),
    Case(P, "not-broadcastable", (normal(P, (2, 4)), normal(P, (3, 1))), raises=True),
    Case(
        P,
        "not-broadcastable-log_input=False",
        (normal(P, (3,)), normal(P, (2,))),
        {"log_input": False},
        raises=True,
    ),
    Case(P, "positional-arguments", (x, t, False, True, None, 1e-4, None, "sum"), grad=(0, 1)),
]

# --- gaussian_nll_loss ----------------------------------------------------------------

G = "gaussian_nll_loss"


def _variance(name: str, shape, dtype: str):
    return uniform(name, shape, 0.2, 3.0, dtype)


VAR_SHAPES = {
    "same": (4, 3),
    "rows": (4,),  # input.shape[:-1]: unsqueezed
    "one-dim-1": (4, 1),
    "first-dim-1": (1, 3),
}
for reduction in REDUCTIONS:
    for dtype in (*FLOATS, *HALVES):
        x = normal(f"{G}{reduction}{dtype}x", (4, 3), dtype)
        t = normal(f"{G}{reduction}{dtype}t", (4, 3), dtype)
        for kind, vshape in VAR_SHAPES.items():
            if dtype != "float32" and kind != "same":
                continue
            v = _variance(f"{G}{reduction}{dtype}{kind}", vshape, dtype)
            CASES.append(
                Case(
                    G, f"var-{kind}-{reduction}-{dtype}", (x, t, v), {"reduction": reduction}, grad=(0, 1, 2)
                )
            )
        CASES.append(
            Case(G, f"var-float-{reduction}-{dtype}", (x, t, 0.7), {"reduction": reduction}, grad=(0, 1))
        )
    for full in (True, False):
        x, t = normal(G + "full", (2, 3, 4)), normal(G + "fullt", (2, 3, 4))
        CASES.append(
            Case(
                G,
                f"full={full}-{reduction}",
                (x, t, _variance(G, (2, 3), "float32")),
                {"full": full, "reduction": reduction},
                grad=(0, 1, 2),
            )
        )
    empty = normal(G, (0, 3))
    CASES.append(Case(G, f"empty-{reduction}", (empty, empty, empty), {"reduction": reduction}))
    CASES.append(
        Case(
            G,
            f"empty-rows-{reduction}",
            (normal(G, (2, 0)), normal(G, (2, 0)), _variance(G, (2,), "float32")),
            {"reduction": reduction},
        )
    )
    # Target and input broadcast freely; the target may be the larger.
    CASES.append(
        Case(
            G,
            f"target-larger-{reduction}",
            (normal(G + "tl", (3,)), normal(G + "tl2", (2, 3)), _variance(G + "tl", (3,), "float32")),
            {"reduction": reduction},
            grad=(0, 1, 2),
        )
    )
    CASES.append(
        Case(
            G,
            f"input-larger-{reduction}",
            (normal(G + "il", (2, 3)), normal(G + "il2", (3,)), _variance(G + "il", (2, 1), "float32")),
            {"reduction": reduction},
            grad=(0, 1, 2),
        )
    )

# Unbatched and higher-rank shapes under the var rules.
GAUSSIAN_SHAPES = [
    ((), ()),
    ((5,), ()),  # input.shape[:-1] == (): var becomes (1,)
    ((5,), (5,)),
    ((5,), (1,)),
    ((2, 3, 4), (2, 3)),
    ((2, 3, 4), (2, 1, 4)),
    ((2, 3, 4), (1, 3, 4)),
    ((4, 1), (1, 1)),
    ((2, 3, 1), (2, 3)),
]
for ishape, vshape in GAUSSIAN_SHAPES:
    x, t = normal(G + str(ishape), ishape), normal(G + str(ishape) + "t", ishape)
    CASES.append(
        Case(
            G,
            f"shape-{ishape}-var-{vshape}",
            (x, t, _variance(G, vshape, "float32")),
            {"reduction": "none"},
            grad=(0, 1, 2),
        )
    )
    if len(ishape) == 3:
        CASES.append(
            Case(
                G,
                f"shape-{ishape}-var-{vshape}-mean",
                (x.astype("float64"), t.astype("float64"), _variance(G, vshape, "float64")),
                grad=(0, 1, 2),
            )
        )
x, t = normal(G + "bad", (4, 3)), normal(G + "badt", (4, 3))
for vshape in [(3,), (1, 1), (), (4, 2), (4, 0), (4, 3, 1)]:
    CASES.append(
        Case(G, f"var-incorrect-size-{vshape}", (x, t, _variance(G, vshape, "float32")), raises=True)
    )
CASES += [
    Case(
        G, "var-incorrect-size-0d-input", (array(1.0), array(2.0), _variance(G, (1,), "float32")), raises=True
    ),
    # Passes torch's shape rule (mismatching var sizes sum to 1) but does not broadcast.
    Case(G, "var-passes-rule-not-broadcastable", (x[:2], t[:2], np.ones((1, 0), "float32")), raises=True),
    Case(
        G,
        "var-incorrect-size-bad-reduction",
        (x, t, _variance(G, (3,), "float32")),
        {"reduction": "avg"},
        raises=True,
    ),
    Case(G, "bad-reduction", (x, t, 1.0), {"reduction": "avg"}, raises=True),
    Case(G, "elementwise_mean-rejected", (x, t, 1.0), {"reduction": "elementwise_mean"}, raises=True),
    Case(G, "batchmean-rejected", (x, t, 1.0), {"reduction": "batchmean"}, raises=True),
    Case(G, "target-not-broadcastable", (x, normal(G, (2, 3)), 1.0), raises=True),
    # Negative variances raise: a value check, which lazy backends cannot make.
    Case(G, "var-negative-float", (x, t, -0.5), raises=True),
    Case(
        G, "var-negative-array", (x, t, array([[0.5], [-0.1], [1.0], [2.0]])), raises=True, value_error=True
    ),
    Case(G, "var-negative-zero", (x, t, array([[0.5], [-0.0], [1.0], [2.0]])), {"reduction": "none"}),
    # The variance is clamped at eps with a straight-through gradient (var = 1e-9 gives
    # −4.5e10 as in torch), at eps exactly and at 0; NaN passes through.
    Case(
        G,
        "var-below-eps",
        (array([0.3, 1.0, -0.2, 0.0]), array([0.0, 0.0, 0.1, 0.0]), array([1e-9, 0.0, 1e-6, 0.5])),
        {"reduction": "sum"},
        grad=(0, 1, 2),
    ),
    Case(
        G,
        "var-below-eps-float64",
        (
            array([0.3, 1.0, -0.2, 0.0], "float64"),
            array([0.0, 0.0, 0.1, 0.0], "float64"),
            array([1e-9, 0.0, 1e-6, 0.5], "float64"),
        ),
        {"reduction": "none"},
        grad=(0, 1, 2),
    ),
    Case(
        G,
        "var-below-eps-large-eps",
        (array([0.3, 1.0, -0.2]), array([0.0, 0.0, 0.1]), array([1e-4, 0.05, 0.2])),
        {"eps": 0.1, "reduction": "none", "full": True},
        grad=(0, 1, 2),
    ),
    Case(
        G,
        "var-float-below-eps",
        (array([0.3, 1.0, -0.2]), array([0.0, 0.0, 0.1]), 1e-9),
        {"reduction": "none"},
        grad=(0, 1),
    ),
    Case(
        G,
        "var-float-zero",
        (array([0.3, 1.0, -0.2]), array([0.0, 0.0, 0.1]), 0.0),
        {"eps": 1e-3},
        grad=(0, 1),
    ),
    Case(G, "var-nan", (array([0.3, 1.0]), array([0.0, 0.0]), array([NAN, 1.0])), {"reduction": "none"}),
    Case(G, "var-float-nan", (array([0.3, 1.0]), array([0.0, 0.0]), NAN), {"reduction": "none"}),
    Case(
        G,
        "nonfinite",
        (array([INF, NAN, 1.0, -INF]), array([1.0, 0.0, INF, 2.0]), array([1.0, 1.0, INF, 2.0])),
        {"reduction": "none"},
    ),
    Case(
        G,
        "var-float16-float",
        (normal(G + "h", (5,), "float16"), normal(G + "ht", (5,), "float16"), 0.1),
        {"reduction": "none"},
    ),
    # A Python int variance: torch's own check fails on it (parity notes); it is the float.
    Case(
        G,
        "var-python-int",
        (x, t, 2),
        {"reduction": "none"},
        grad=(0, 1),
        to_torch=lambda a, k: ((a[0], a[1], float(a[2])), k),
    ),
    Case(G, "var-python-int-zero", (x, t, 0), to_torch=lambda a, k: ((a[0], a[1], 0.0), k)),
    # dtypes: promotion over input, target and var (0-D operands only across categories).
    Case(G, "float32-float64-target", (x, t.astype("float64"), 0.5), grad=(0, 1)),
    Case(G, "float32-float64-var", (x, t, _variance(G, (4, 1), "float64")), grad=(0, 1, 2)),
    Case(
        G,
        "float64-0d-input-float32-target",
        (array(1.0, "float64"), normal(G + "0", (3,)), array(0.5, "float64")),
        grad=(0, 1, 2),
    ),
    Case(
        G,
        "float32-input-float64-0d-var",
        (normal(G + "v0", (3,)), normal(G + "v0t", (3,)), array(0.5, "float64")),
        grad=(0, 1, 2),
    ),
    Case(
        G,
        "float16-float32-var",
        (
            normal(G + "hv", (4, 3), "float16"),
            normal(G + "hvt", (4, 3), "float16"),
            _variance(G, (4, 3), "float32"),
        ),
        grad=(0, 1, 2),
    ),
    Case(G, "int64-input-float-var", (integers(G, (4, 3), -3, 3), integers(G + "t", (4, 3), -3, 3), 0.5)),
    Case(
        G,
        "int32-input-float64-var",
        (
            integers(G, (4, 3), -3, 3, "int32"),
            integers(G + "t", (4, 3), -3, 3, "int32"),
            _variance(G, (4, 1), "float64"),
        ),
    ),
    Case(
        G,
        "int64-input-float16-var",
        (integers(G, (4, 3), -3, 3), normal(G, (4, 3)), _variance(G, (4, 3), "float16")),
    ),
    Case(G, "int64-var", (x, t, integers(G, (4, 3), 1, 3)), raises=True),
    Case(G, "int32-var", (x, t, integers(G, (4, 3), 1, 3, "int32")), raises=True),
    Case(G, "uint8-var", (x, t, integers(G, (4, 3), 1, 3, "uint8")), raises=True),
    Case(G, "bool-var", (x, t, x > 0), raises=True),
    Case(G, "bool-input", (x > 0, t, 1.0), raises=True),
    Case(G, "bool-input-target", (x > 0, t > 0, 1.0), raises=True),
    Case(G, "positional-arguments", (x, t, _variance(G, (4,), "float32"), True, 1e-3, "sum"), grad=(0, 1, 2)),
]

# --- kl_div ---------------------------------------------------------------------------

K = "kl_div"


def _kl_pair(tag: str, shape, dtype="float32", log_target=False, target_shape=None):
    x = _probabilities(K + tag + "x", shape, dtype, log=True)
    t = _probabilities(K + tag + "t", target_shape or shape, dtype, log=log_target)
    return x, t


for log_target in (False, True):
    for reduction in KL_REDUCTIONS:
        for dtype, shape in [
            *(("float32", shape) for shape in [(), (5,), (2, 3, 4)]),
            ("float64", (3, 4)),
            *((dtype, (3, 4)) for dtype in HALVES),
        ]:
            tag = f"log_target={log_target}-{reduction}-{dtype}-{shape}"
            x, t = _kl_pair(tag, shape, dtype, log_target)
            # In half precision torch's target gradient log(t) + 1 − x is rounded term by
            # term and cancels: only the input's gradient (−t) is compared there.
            grad = (0,) if dtype in HALVES and not log_target else (0, 1)
            CASES.append(Case(K, tag, (x, t), {"reduction": reduction, "log_target": log_target}, grad=grad))
        # Broadcasting; 'batchmean' divides by input.shape[0], not the broadcast batch.
        x, t = _kl_pair(f"b{reduction}", (4, 1), log_target=log_target, target_shape=(3,))
        CASES.append(
            Case(
                K,
                f"broadcast-log_target={log_target}-{reduction}",
                (x, t),
                {"reduction": reduction, "log_target": log_target},
                grad=(0, 1),
            )
        )
        x, t = _kl_pair(f"bt{reduction}", (3,), log_target=log_target, target_shape=(2, 3))
        if reduction in ("none", "batchmean"):
            CASES.append(
                Case(
                    K,
                    f"broadcast-target-larger-log_target={log_target}-{reduction}",
                    (x, t),
                    {"reduction": reduction, "log_target": log_target},
                    grad=(0, 1),
                )
            )
        empty_shapes = [(0, 3), (3, 0), (0,)] if reduction == "batchmean" else [(0, 3)]
        for shape in empty_shapes if not log_target else []:
            empty = normal(K, shape)
            CASES.append(
                Case(
                    K,
                    f"empty-{shape}-log_target={log_target}-{reduction}",
                    (empty, empty),
                    {"reduction": reduction, "log_target": log_target},
                )
            )
    # Mixed dtypes promote as torch (0-D operands only across categories).
    x32, t64 = _kl_pair("m", (3, 4), log_target=log_target)
    CASES += [
        Case(
            K,
            f"float32-float64-log_target={log_target}",
            (x32, t64.astype("float64")),
            {"reduction": "sum", "log_target": log_target},
            grad=(0, 1),
        ),
        Case(
            K,
            f"float64-float32-log_target={log_target}",
            (x32.astype("float64"), t64),
            {"reduction": "batchmean", "log_target": log_target},
            grad=(0, 1),
        ),
        Case(
            K,
            f"float64-0d-float32-log_target={log_target}",
            (array(-1.2, "float64"), t64),
            {"reduction": "sum", "log_target": log_target},
            grad=(0, 1),
        ),
        Case(
            K,
            f"float32-float64-0d-log_target={log_target}",
            (x32, array(-0.7 if log_target else 0.4, "float64")),
            {"reduction": "none", "log_target": log_target},
            grad=(0, 1),
        ),
        Case(
            K,
            f"float16-float32-log_target={log_target}",
            (x32.astype("float16"), t64),
            {"reduction": "none", "log_target": log_target},
        ),
    ]

# log_target=False: t = 0 contributes 0, t < 0 gives NaN, x = −∞ with t = 0 gives NaN.
# torch's target gradient is NaN at t = 0 (anyloss's is 0: parity notes), so only the
# input's is compared where a target is 0.
xs = array([0.5, -1.0, 2.0, -INF, 1.0, -INF, NAN, 0.3])
ts = array([0.0, 0.5, -0.5, 0.0, 1.0, 1.0, 0.2, NAN])
CASES += [
    Case(K, "special-values", (xs, ts), {"reduction": "none"}, grad=(0,)),
    Case(K, "special-values-log_target", (xs, ts), {"reduction": "none", "log_target": True}, grad=(0,)),
    Case(K, "zero-targets-sum", (xs[:3].copy(), array([0.0, 0.0, 1.0])), {"reduction": "sum"}, grad=(0,)),
    Case(
        K,
        "log_target-minus-inf",
        (array([-INF, 1.0, -2.0]), array([-INF, -INF, -1.0])),
        {"reduction": "none", "log_target": True},
        grad=(0,),
    ),
]

# 'mean' (the default) warns; legacy arguments override the reduction and do not.
x, t = _kl_pair("leg", (3, 4))
CASES += [
    Case(K, "default-mean-warns", (x, t), grad=(0, 1)),
    Case(K, "elementwise_mean", (x, t), {"reduction": "elementwise_mean"}, grad=(0, 1)),
    Case(K, "bad-reduction", (x, t), {"reduction": "avg"}, raises=True),
    Case(K, "bad-reduction-and-shape", (x, normal(K, (5,))), {"reduction": "avg"}, raises=True),
    Case(K, "not-broadcastable", (x, normal(K, (5,))), {"reduction": "sum"}, raises=True),
    Case(K, "not-broadcastable-mean-warns", (x, normal(K, (2, 1, 5))), raises=True),
    Case(K, "positional-arguments", (x, t, None, None, "batchmean", False), grad=(0, 1)),
]
for size_average, reduce in LEGACY:
    for reduction in (
        ("mean", "batchmean", "avg") if (size_average, reduce) == (False, None) else ("batchmean",)
    ):
        # torch's quirk: with 'batchmean' the legacy reduction is applied and the result
        # (reduced or not) is still divided by the batch size.
        CASES.append(
            Case(
                K,
                f"legacy-size_average={size_average}-reduce={reduce}-{reduction}",
                (x, t),
                {"size_average": size_average, "reduce": reduce, "reduction": reduction},
                grad=(0, 1),
            )
        )
x0d, t0d = _kl_pair("0d", ())
CASES.append(
    Case(
        K,
        "legacy-0d-batchmean-not-divided",
        (x0d, t0d),
        {"reduce": False, "reduction": "batchmean"},
        grad=(0, 1),
    )
)

# Integer and boolean inputs raise (after the 'mean' warning, after the reduction check); complex
# inputs are refused by the admission rule of every loss (tests/test_admission.py).
ints = integers(K, (3, 4), 0, 3)
CASES += [
    Case(K, "int64-input", (ints, t), {"reduction": "sum"}, raises=True),
    Case(K, "int64-target", (x, ints), {"reduction": "sum"}, raises=True),
    Case(K, "int32-both", (ints.astype("int32"), ints.astype("int32")), {"reduction": "none"}, raises=True),
    Case(K, "bool-target", (x, ints > 0), {"reduction": "batchmean"}, raises=True),
    Case(K, "int64-input-mean-warns", (ints, t), raises=True),
    Case(K, "int64-input-bad-reduction", (ints, t), {"reduction": "avg"}, raises=True),
]
