"""Case table: ctc_loss."""

from __future__ import annotations

import numpy as np

from support.make import FLOATS, HALVES, REDUCTIONS, cast, integers, normal, rng
from support.oracle import Case

FN = "ctc_loss"


def log_softmax(name: str, shape: tuple[int, ...], dtype: str = "float32", scale: float = 1.5):
    x = normal(name, shape, "float64", scale=scale)
    x = x - x.max(axis=-1, keepdims=True)
    return cast(x - np.log(np.exp(x).sum(axis=-1, keepdims=True)), dtype)


def labels(name: str, shape: tuple[int, ...], num_classes: int, blank: int = 0):
    """Random labels in [0, C) other than ``blank``."""
    values = rng(name).integers(0, num_classes - 1, size=shape)
    return np.where(values >= blank, values + 1, values).astype("int64")


def concatenate(padded: np.ndarray, lengths) -> np.ndarray:
    return np.concatenate([row[:n] for row, n in zip(padded, lengths, strict=True)])


def lengths(values, dtype: str = "int64") -> np.ndarray:
    return np.asarray(values, dtype=dtype)


T, N, C, S = 10, 4, 5, 4
IL = [10, 8, 10, 5]
TL = [4, 2, 3, 0]

CASES: list[Case] = []


def add(name: str, *args, grad=(0,), raises=False, value_error=False, **kwargs) -> None:
    # float32 gradients are compared in tests/test_ctc.py against torch's float64 ones:
    # torch's float32 backward (exp(lp) − exp(log αβ + nll − lp)) loses ~1e-6 absolute
    # to cancellation, more than the float32 tolerance, while the recursion's autodiff
    # stays well within it.
    if raises or (hasattr(args[0], "dtype") and args[0].dtype == np.float32):
        grad = ()
    CASES.append(Case(FN, name, args, kwargs, grad=grad, raises=raises, value_error=value_error))


# --- every reduction × dtype × zero_infinity, padded and concatenated targets ----------
for dtype in FLOATS:
    lp = log_softmax(f"lp{dtype}", (T, N, C), dtype)
    tg = labels(f"tg{dtype}", (N, S), C)
    for reduction in REDUCTIONS:
        for zero_infinity in (False, True):
            tag = f"{reduction}-{dtype}-zi={zero_infinity}"
            opts = {"reduction": reduction, "zero_infinity": zero_infinity}
            add(f"padded-{tag}", lp, tg, lengths(IL), lengths(TL), **opts)
            add(f"concatenated-{tag}", lp, concatenate(tg, TL), lengths(IL), lengths(TL), **opts)
        # Lengths as Python lists and tuples (static, also under jax.jit).
        add(f"lists-{reduction}-{dtype}", lp, tg, IL, TL, reduction=reduction)
        add(
            f"tuples-concatenated-{reduction}-{dtype}",
            lp,
            concatenate(tg, TL),
            tuple(IL),
            tuple(TL),
            reduction=reduction,
        )
        # Padding wider than the longest target, and padding values that are not labels.
        wide = np.full((N, S + 3), -1, dtype="int64")
        for i, n in enumerate(TL):
            wide[i, :n] = tg[i, :n]
        add(f"padded-wide-{reduction}-{dtype}", lp, wide, lengths(IL), lengths(TL), reduction=reduction)

# --- impossible alignments: inf, or 0 with zero_infinity (and their gradients) ---------
# Sequence 0 needs 4 frames (3 labels + the blank between the repeated 2s) but has 3;
# sequence 1 has more labels than frames; sequence 2 is possible.
imp_lp = log_softmax("impossible", (6, 3, 4))
imp_tg = np.array([[1, 2, 2], [3, 1, 2], [1, 3, 0]])
for dtype in FLOATS:
    for reduction in REDUCTIONS:
        for zero_infinity in (False, True):
            add(
                f"impossible-{reduction}-{dtype}-zi={zero_infinity}",
                cast(imp_lp, dtype),
                imp_tg,
                lengths([3, 2, 6]),
                lengths([3, 3, 2]),
                reduction=reduction,
                zero_infinity=zero_infinity,
            )
    # All sequences impossible: 'mean' of infinities, or of zeros.
    for zero_infinity in (False, True):
        add(
            f"all-impossible-{dtype}-zi={zero_infinity}",
            cast(imp_lp, dtype),
            imp_tg,
            lengths([3, 2, 1]),
            lengths([3, 3, 2]),
            zero_infinity=zero_infinity,
        )

# --- repeated labels: exactly enough frames, one frame short, and plenty -----------------
rep_lp = log_softmax("repeats", (7, 3, 4), "float64")
rep_tg = np.array([[1, 1, 2, 2], [2, 2, 2, 0], [3, 1, 1, 3]])
for reduction in REDUCTIONS:
    # Needs: 4 labels + 2 blanks = 6; 3 labels + 2 blanks = 5; 4 labels + 1 blank = 5.
    add(
        f"repeats-exact-{reduction}",
        rep_lp,
        rep_tg,
        lengths([6, 5, 5]),
        lengths([4, 3, 4]),
        reduction=reduction,
    )
    add(
        f"repeats-short-{reduction}",
        rep_lp,
        rep_tg,
        lengths([5, 4, 4]),
        lengths([4, 3, 4]),
        reduction=reduction,
    )
    add(
        f"repeats-long-{reduction}",
        rep_lp,
        rep_tg,
        lengths([7, 7, 7]),
        lengths([4, 3, 4]),
        reduction=reduction,
        zero_infinity=True,
    )

# --- blank not 0 -------------------------------------------------------------------------
for blank, dtypes in ((2, FLOATS), (C - 1, ("float64",))):
    for dtype in dtypes:
        lp = log_softmax(f"blank{blank}{dtype}", (T, N, C), dtype)
        tg = labels(f"blanktg{blank}", (N, S), C, blank=blank)
        for reduction in REDUCTIONS:
            add(
                f"blank={blank}-{reduction}-{dtype}",
                lp,
                tg,
                lengths(IL),
                lengths(TL),
                blank=blank,
                reduction=reduction,
            )
        add(f"blank={blank}-concatenated-{dtype}", lp, concatenate(tg, TL), IL, TL, blank=blank)
        add(
            f"blank={blank}-repeats-{dtype}",
            lp,
            tg[:, [0, 0, 1, 1]],
            lengths(IL),
            lengths([4, 4, 2, 2]),
            blank=blank,
            reduction="none",
        )

# --- zero-length inputs and targets ----------------------------------------------------
for reduction in REDUCTIONS:
    for dtype in FLOATS:
        lp = log_softmax(f"zero{dtype}", (5, 4, 3), dtype)
        tg = labels("zerotg", (4, 2), 3)
        # Empty input with empty target → 0; empty input with a label → inf.
        add(
            f"zero-input-{reduction}-{dtype}",
            lp,
            tg,
            lengths([0, 0, 5, 3]),
            lengths([0, 1, 0, 2]),
            reduction=reduction,
        )
        add(
            f"zero-input-zi-{reduction}-{dtype}",
            lp,
            tg,
            lengths([0, 0, 5, 3]),
            lengths([0, 1, 0, 2]),
            reduction=reduction,
            zero_infinity=True,
        )
        # Every target empty: the all-blank path; padded of width 0, or concatenated empty.
        add(
            f"zero-targets-padded-{reduction}-{dtype}",
            lp,
            np.zeros((4, 0), "int64"),
            lengths([5, 4, 1, 0]),
            lengths([0, 0, 0, 0]),
            reduction=reduction,
        )
        add(
            f"zero-targets-concatenated-{reduction}-{dtype}",
            lp,
            np.zeros((0,), "int64"),
            [5, 4, 1, 0],
            [0, 0, 0, 0],
            reduction=reduction,
        )

# --- unbatched (T, C) ------------------------------------------------------------------
for dtype in FLOATS:
    lp = log_softmax(f"unbatched{dtype}", (8, 5), dtype)
    tg = labels(f"unbatchedtg{dtype}", (3,), 5)
    for reduction in REDUCTIONS:
        add(f"unbatched-0d-lengths-{reduction}-{dtype}", lp, tg, lengths(8), lengths(3), reduction=reduction)
        add(
            f"unbatched-1d-lengths-{reduction}-{dtype}",
            lp,
            tg[:2],
            lengths([7]),
            lengths([2]),
            reduction=reduction,
        )
        add(f"unbatched-lists-{reduction}-{dtype}", lp, tg, [8], [3], reduction=reduction)
        add(
            f"unbatched-2d-targets-{reduction}-{dtype}",
            lp,
            tg[None, :],
            lengths(6),
            lengths(3),
            reduction=reduction,
        )
    add(f"unbatched-impossible-{dtype}", lp, tg, lengths(2), lengths(3), reduction="none")
    add(
        f"unbatched-impossible-zi-{dtype}",
        lp,
        tg,
        lengths(2),
        lengths(3),
        reduction="none",
        zero_infinity=True,
    )

# --- gradients w.r.t. raw log_probs: torch's extra exp(log_probs) term -----------------
for dtype in FLOATS:
    raw = normal(f"raw{dtype}", (T, N, C), dtype)
    tg = labels("rawtg", (N, S), C)
    for reduction in REDUCTIONS:
        add(f"raw-log-probs-{reduction}-{dtype}", raw, tg, lengths(IL), lengths(TL), reduction=reduction)
    # Unnormalised zeros: every alignment has probability 1, the loss is negative.
    add(
        f"zeros-log-probs-{dtype}",
        cast(np.zeros((4, 2, 3)), dtype),
        np.array([[1, 2], [2, 0]]),
        lengths([4, 3]),
        lengths([2, 1]),
        reduction="none",
    )
    add(
        f"raw-impossible-{dtype}",
        cast(imp_lp, dtype) * 0.7,
        imp_tg,
        lengths([3, 2, 6]),
        lengths([3, 3, 2]),
        reduction="sum",
        zero_infinity=True,
    )

# --- length, target and label dtypes ----------------------------------------------------
lp = log_softmax("dtypes", (T, N, C), "float64")
tg = labels("dtypestg", (N, S), C)
for dtype in ("int8", "int16", "int32", "uint8"):
    add(f"lengths-{dtype}", lp, tg, lengths(IL, dtype), lengths(TL, dtype), reduction="none")
add("lengths-mixed-int-dtypes", lp, tg, lengths(IL, "int32"), lengths(TL, "uint8"))
add("lengths-2d", lp, tg, lengths([IL]), lengths(TL))
for dtype in ("int32", "int16", "uint8", "float32", "float64"):
    add(f"targets-{dtype}", lp, tg.astype(dtype), lengths(IL), lengths(TL), reduction="none")
add("targets-concatenated-int32", lp, concatenate(tg, TL).astype("int32"), IL, TL)
# Non-finite log-probabilities pass through.
nonfinite = lp.copy()
nonfinite[0, 0, 3] = -np.inf
nonfinite[5, 1, 0] = np.nan
add("nonfinite", nonfinite, tg, lengths(IL), lengths(TL), reduction="none", grad=())

# --- errors, in torch's order ------------------------------------------------------------
lp = log_softmax("errors", (6, 3, 4))
tg = np.array([[1, 2, 3], [1, 1, 0], [2, 0, 0]])
il, tl = [6, 5, 6], [3, 2, 1]


def error(name: str, *args, value_error=False, **kwargs) -> None:
    add(name, *args, raises=True, value_error=value_error, **kwargs)


for dtype in HALVES:
    error(f"dtype-{dtype}", cast(lp, dtype), tg, lengths(il), lengths(tl))
error("dtype-int64", integers("int-lp", (6, 3, 4), -3, 0), tg, il, tl)
error("empty-batch", lp[:, :0], tg[:0], lengths([]), lengths([]))
error("empty-batch-lists", lp[:, :0], tg[:0], [], [])
error("empty-time", lp[:0], tg, [0, 0, 0], [0, 0, 0])
error("empty-classes", lp[:, :, :0], tg, il, tl)
error("empty-before-dims", lp[:, :0, None], tg, il, tl)
error("half-before-empty", cast(lp[:, :0], "float16"), tg, il, tl)
error("log-probs-4d", lp[None], tg, il, tl)
error("log-probs-1d", lp[:, 0, 0], tg[0], lengths(6), lengths(3))
error("targets-3d", lp, tg[None], il, tl)
error("targets-0d", lp, np.array(1), il, tl)
error("targets-3d-before-blank", lp, tg[None], il, tl, blank=9)
error("blank-too-large", lp, tg, il, tl, blank=4)
error("blank-negative", lp, tg, il, tl, blank=-1)
error("input-lengths-size", lp, tg, lengths([6, 6]), lengths(tl))
error("target-lengths-size", lp, tg, il, [3, 2, 1, 1])
error("unbatched-lengths-size", lp[:, 0], tg[0], lengths([6, 6]), lengths([3]))
error("padded-batch-size", lp, tg[:2], lengths(il), lengths(tl))
error("float-input-lengths", lp, tg, lengths(il, "float32"), lengths(tl))
error("float-target-lengths", lp, tg, lengths(il), lengths(tl, "float64"))
error("bool-input-lengths", lp, tg, np.ones(3, bool), lengths(tl))
error("int-lengths", lp[:, 0], tg[0], 6, 3)
error("float-lengths", lp[:, 0], tg[0], 6.0, 3.0)
error("list-of-floats", lp, tg, [6.0, 5.0, 6.0], tl)
error("list-with-a-float", lp, tg, il, [3, 2.5, 1])
error("list-with-a-string", lp, tg, [6, "5", 6], tl)
error("list-starting-with-bool", lp, tg, [True, 5, 6], tl)
error("tuple-of-floats", lp, tg, (6.0, 5.0, 6.0), (3.0, 2, 1))
error("array-and-list", lp, tg, lengths(il), tl)
error("list-and-array", lp, tg, il, lengths(tl))
error("none-lengths", lp, tg, None, tl)
error("zero-infinity-int", lp, tg, il, tl, zero_infinity=1)
error("blank-float", lp, tg, il, tl, blank=1.0)
error("blank-bool", lp, tg, il, tl, blank=True)
error("blank-float-array-lengths", lp, tg, lengths(il), lengths(tl), blank=1.0)
error("bad-reduction", lp, tg, il, tl, reduction="avg")
error("bad-reduction-before-types", lp, tg, 6, 3, reduction="avg")
add("elementwise-mean", lp, tg, il, tl, reduction="elementwise_mean")
add("list-with-bool-after-int", lp, tg, [6, True, 6], [3, 1, 1], reduction="none")
# Value-dependent: raise with list lengths everywhere, with array lengths on eager backends.
for form, wrap, lazy in (("list", list, False), ("array", lengths, True)):
    error(f"negative-target-length-{form}", lp, tg, wrap(il), wrap([3, -1, -2]), value_error=lazy)
    error(f"negative-input-length-{form}", lp, tg, wrap([6, -1, 7]), wrap(tl), value_error=lazy)
    error(f"input-length-too-long-{form}", lp, tg, wrap([6, 7, 8]), wrap(tl), value_error=lazy)
    error(f"target-wider-than-padding-{form}", lp, tg, wrap(il), wrap([4, 2, 1]), value_error=lazy)
    error(
        f"concatenated-too-short-{form}", lp, concatenate(tg, tl)[:-1], wrap(il), wrap(tl), value_error=lazy
    )
    error(
        f"concatenated-too-long-{form}",
        lp,
        np.concatenate([concatenate(tg, tl), [1]]),
        wrap(il),
        wrap(tl),
        value_error=lazy,
    )
    error(f"negative-target-before-input-{form}", lp, tg, wrap([6, 9, 6]), wrap([3, -1, 1]), value_error=lazy)
