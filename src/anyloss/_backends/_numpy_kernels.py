"""NumPy's native kernels: a loss's usual call, told apart in a few checks.

A loss body validates its arguments as torch does, one check at a time, which on a small
array costs several times the arithmetic.  Most calls have one signature that needs none
of those checks: non-empty NumPy arrays of the usual shapes (one shape for the elementwise
losses; scores and class indices; embeddings of one shape) and one float dtype, float32 or
float64, the reduction one of torch's three strings, the legacy flags and the optional
arrays left out, the options plain Python numbers and flags in their usual range.  For
that signature the kernels here compute the body's own formula, operation for operation
(so to the last bit), in ufuncs writing into the temporaries they own.  Any other call,
and every call whose values a check must read (a probability outside [0, 1], say), is
declined (``NotImplemented``) and runs the body, which then checks everything as it
always does.

Large inputs are computed by blocks, on several threads from the main thread
(:func:`_elementwise`, :func:`logsumexp`), with the bits of the one-piece computation.

``anyloss.native_paths(False)`` switches these off as it switches off torch's kernels;
``tests/test_native_path.py`` proves each equal to the body on every case of the tables,
``tests/test_threads.py`` the blocks equal to one piece.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _threads
from ._chunks import default_chunk_size

_FLOATS = frozenset({np.dtype(np.float32), np.dtype(np.float64)})
_REDUCTIONS = frozenset({"none", "mean", "sum"})
#: torch's floor under each log of binary_cross_entropy.
_LOG_FLOOR = -100.0
#: gaussian_nll_loss's constant with full=True.
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: cosine_embedding_loss's epsilon added to each squared norm (torch's C++ float 1e-12).
_COSINE_EPS = 9.999999960041972e-13


def _plain(input: Any, target: Any, reduction: Any, *absent: Any) -> bool:
    """The usual signature: two non-empty NumPy arrays of one shape (at least one axis: the
    ufuncs of a 0-D array return scalars, which cannot be written into) and one float dtype,
    one of the three reductions, and the arguments ``absent`` (the legacy flags, optional
    arrays) left out."""
    for a in absent:
        if a is not None:
            return False
    return (
        type(input) is np.ndarray
        and type(target) is np.ndarray
        and input.dtype in _FLOATS
        and target.dtype == input.dtype
        and input.shape == target.shape
        and input.ndim != 0
        and input.size != 0
        and type(reduction) is str
        and reduction in _REDUCTIONS
    )


def _like(a: Any, like: Any) -> bool:
    """A third array of the usual call: a NumPy array of ``like``'s dtype and shape."""
    return type(a) is np.ndarray and a.dtype == like.dtype and a.shape == like.shape


#: The options a kernel takes are plain Python numbers below this in magnitude: far inside
#: every float dtype the kernels compute in, so none of torch's conversion checks of a
#: Scalar (an overflow to float32, an int beyond int64) can apply.  Others go to the body.
_MODERATE = 1e30
#: Plain ints a Scalar holds: torch's conversion of a larger one raises OverflowError.
_SCALAR_INT = 2**63


def _moderate(value: Any) -> bool:
    """A plain Python number (not a bool), finite and below ``_MODERATE`` in magnitude (an
    int: within int64)."""
    if type(value) is int:
        return -_SCALAR_INT <= value < _SCALAR_INT
    return type(value) is float and -_MODERATE < value < _MODERATE


def _positive(value: Any) -> bool:
    """A moderate number above 0 (NaN is not)."""
    return _moderate(value) and value > 0


#: Inputs of at least this many elements are computed block by block (:func:`_elementwise`):
#: each block's temporaries stay in a core's cache rather than making one pass over memory
#: per operation.
BLOCKED_MIN = 1 << 16


def block_size(n: int) -> int:
    """The most elements of one block of an input of ``n``: an eighth of it, from 2^16 to
    2^18 (1 MiB of float32 per temporary).  Measured on the benchmark's sizes, smaller blocks
    lose more to the calls on each block than they gain in the cache."""
    return min(1 << 18, max(1 << 16, n >> 3))


#: Inputs of at least this many elements, from the main thread, are shared out among the
#: threads of :mod:`anyloss._threads` (handing over smaller ones cost up to a fifth of
#: their time where the second core was busy).
PARALLEL_MIN = 1 << 20


def _from_body(module: str, name: str) -> Any:
    """``name`` of a loss body's module (``anyloss.functional.<module>``): a constant or a
    function the kernel must share with the body (one definition).  Those modules import
    this one's package, so they are read when a kernel runs, not at import."""
    return getattr(importlib.import_module(f"anyloss.functional.{module}"), name)


def _reduced(loss: Any, reduction: str) -> Any:
    """The body's reduction of a float array of terms (``_reduction.apply``)."""
    if reduction == "none":
        return loss
    total = np.add.reduce(loss, axis=None)
    return np.asarray(total / loss.size if reduction == "mean" else total)


def _blocks(n: int, size: int) -> list[tuple[int, int]]:
    """The ``(start, stop)`` of each subtree of at most ``size`` elements in NumPy's pairwise
    summation of ``n`` contiguous elements, in order.

    NumPy sums a contiguous float array by halves: ``sum(a[:h]) + sum(a[h:])`` with ``h``
    half of ``n`` rounded down to a multiple of 8, down to blocks of 128.  Summing each of
    these blocks with NumPy and adding the block sums up the same tree
    (:func:`_tree_sum`) therefore gives NumPy's sum of the whole array, to the bit, whichever
    thread summed which block.
    """
    out: list[tuple[int, int]] = []
    stack = [(0, n)]
    while stack:
        start, count = stack.pop()
        if count <= size:
            out.append((start, start + count))
        else:
            half = count // 2
            half -= half % 8
            stack.append((start + half, count - half))
            stack.append((start, half))
    return out


def _tree_sum(sums: list[Any], n: int, size: int) -> Any:
    """The block sums of :func:`_blocks` added up NumPy's pairwise tree."""
    blocks = iter(sums)

    def walk(count: int) -> Any:
        if count <= size:
            return next(blocks)
        half = count // 2
        half -= half % 8
        return walk(half) + walk(count - half)

    return walk(n)


@functools.cache
def _sums_by_halves() -> bool:
    """Whether this NumPy sums by the halves :func:`_blocks` assumes (checked once, on an
    array whose tree has uneven halves; a NumPy that sums otherwise gets no blocks)."""
    x = np.linspace(-1.0, 1.0, 3001, dtype=np.float32) ** 3 * np.float32(1e4)
    blocks = [np.add.reduce(x[a:b]) for a, b in _blocks(x.size, 256)]
    return bool(_tree_sum(blocks, x.size, 256) == np.add.reduce(x))


def _elementwise(formula: Callable[..., Any], arrays: tuple[Any, ...], reduction: str) -> Any:
    """``formula(out, *arrays)`` reduced as the body reduces it.

    ``formula`` writes the loss terms of its arrays into ``out`` (or into an array of its
    own for ``out=None``) and returns them.  A small input is one call on the whole
    arrays.  A large C-contiguous one is computed block by block (:func:`_blocks`), on
    several threads from the main thread: every block runs the same operations on its own
    elements and the block sums are added in NumPy's order, so the result has the bits of
    the one call whatever the thread count.
    """
    first = arrays[0]
    n = first.size
    if n < BLOCKED_MIN or not all(a.flags.c_contiguous for a in arrays) or not _sums_by_halves():
        return _reduced(formula(None, *arrays), reduction)
    flat = [a.reshape(-1) for a in arrays]
    size = block_size(n)
    blocks = _blocks(n, size)
    out = np.empty(first.shape, first.dtype) if reduction == "none" else None
    written = None if out is None else out.reshape(-1)

    def compute(part: range) -> list[Any]:
        sums = []
        scratch = np.empty(size, first.dtype) if written is None else None
        for i in part:
            start, stop = blocks[i]
            into = scratch[: stop - start] if written is None else written[start:stop]  # type: ignore[index]
            terms = formula(into, *(a[start:stop] for a in flat))
            if written is None:
                sums.append(np.add.reduce(terms))
        return sums

    sums = [s for part in _shared(compute, len(blocks), n) for s in part]
    if out is not None:
        return out
    total = _tree_sum(sums, n, size)
    return np.asarray(total / n if reduction == "mean" else total)


def _shared(compute: Callable[[range], Any], blocks: int, n: int) -> list[Any]:
    """``compute`` of the blocks ``range(blocks)``, of ``n`` elements in all: on the calling
    thread, or for a large input from the main thread, cut into contiguous parts computed on
    several threads (:mod:`anyloss._threads`), under the caller's NumPy error state (NumPy
    keeps one per thread).  One result per part, in order."""
    workers = min(_threads.workers(), blocks) if n >= PARALLEL_MIN else 1
    if workers == 1:
        return [compute(range(blocks))]
    parts = _threads.split(blocks, workers)
    errors = np.geterr()

    def part(k: int) -> Any:
        with np.errstate(**errors):
            return compute(parts[k])

    return _threads.run(part, workers)


def logsumexp(x: Any, axis: int, keepdims: bool) -> Any:
    """NumPy's log-sum-exp of the loss bodies (``NumPyBackend.logsumexp``): the maximum
    (0 where it is not finite) subtracted, exponentiated, summed, logged, added back.

    Along the last axis of a large C-contiguous float array, the subtraction, exponential
    and sum run block by block of rows, each block in a temporary that stays in the
    cache, on several threads from the main thread: every row's sum is NumPy's pairwise
    sum of that row either way, so the bits are those of the whole-array form below.
    """
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, np.zeros_like(m))
    classes = x.shape[axis] if x.ndim else 1
    if (
        x.size < BLOCKED_MIN
        or axis not in (-1, x.ndim - 1)
        or type(x) is not np.ndarray
        or x.dtype not in _FLOATS
        or not x.flags.c_contiguous
        or m.dtype != x.dtype
    ):
        shifted = np.subtract(x, m)  # the one full-size temporary, exponentiated in place
        np.exp(shifted, out=shifted)
        total = np.sum(shifted, axis=axis, keepdims=True)
    else:
        rows, maxima = x.reshape(-1, classes), m.reshape(-1, 1)
        per_block = max(1, block_size(x.size) // classes)  # rows are never cut
        total = np.empty(m.shape, x.dtype)
        sums = total.reshape(-1)

        def compute(part: range) -> None:
            scratch = np.empty((per_block, classes), x.dtype)
            for i in part:
                start, stop = i * per_block, min((i + 1) * per_block, rows.shape[0])
                block = np.subtract(rows[start:stop], maxima[start:stop], out=scratch[: stop - start])
                np.exp(block, out=block)
                np.sum(block, axis=1, out=sums[start:stop])

        _shared(compute, -(-rows.shape[0] // per_block), x.size)
    out = np.log(total) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _abs_difference(out: Any, input: Any, target: Any) -> Any:
    d = np.subtract(input, target, out=out)
    return np.abs(d, out=d)


def _squared_difference(out: Any, input: Any, target: Any) -> Any:
    d = np.subtract(input, target, out=out)
    return np.multiply(d, d, out=d)


def l1_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, weight: Any) -> Any:
    if not _plain(input, target, reduction, weight, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        return _elementwise(_abs_difference, (input, target), reduction)


def mse_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, weight: Any) -> Any:
    if not _plain(input, target, reduction, weight, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        return _elementwise(_squared_difference, (input, target), reduction)


#: The integers of each float dtype's width, whose bits :func:`_copy_where` moves.
_BITS = {np.dtype(np.float32): np.dtype(np.int32), np.dtype(np.float64): np.dtype(np.int64)}
#: From this many elements a masked copy goes through the bits (:func:`_copy_where`):
#: ``np.copyto(where=)`` branches on each element and costs three times as much there.
_BITWISE_SELECT_MIN = 1024


def _copy_where(target: Any, source: Any, where: Any) -> None:
    """``np.copyto(target, source, where=where)`` for a contiguous ``source`` it may overwrite:
    the bits of ``target`` become ``t ^ ((t ^ s) & mask)``, mask all ones where ``where``."""
    if target.size < _BITWISE_SELECT_MIN:
        np.copyto(target, source, where=where)
        return
    ints = _BITS[target.dtype]
    mask = where.view(np.int8).astype(ints)
    np.negative(mask, out=mask)  # 1 → all ones
    t, s = target.view(ints), source.view(ints)
    np.bitwise_xor(s, t, out=s)
    np.bitwise_and(s, mask, out=s)
    np.bitwise_xor(t, s, out=t)


def _quadratic_then_linear(out: Any, z: Any, bound: float, quadratic: float, slope: float) -> Any:
    """The body's ``where(z < bound, quadratic·(z·z), slope·(z − bound/2))``."""
    square = np.multiply(z, z)
    square *= quadratic
    linear = np.subtract(z, 0.5 * bound, out=out)
    if slope != 1.0:
        linear *= slope
    _copy_where(linear, square, z < bound)
    return linear


def smooth_l1_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, beta: Any) -> Any:
    if not _positive(beta) or not _plain(input, target, reduction, size_average, reduce):
        return NotImplemented

    def formula(out: Any, input: Any, target: Any) -> Any:
        return _quadratic_then_linear(out, _abs_difference(None, input, target), beta, 0.5 / beta, 1.0)

    with np.errstate(all="ignore"):
        return _elementwise(formula, (input, target), reduction)


def huber_loss(input: Any, target: Any, reduction: Any, delta: Any, weight: Any) -> Any:
    if not _positive(delta) or not _plain(input, target, reduction, weight):
        return NotImplemented

    def formula(out: Any, input: Any, target: Any) -> Any:
        return _quadratic_then_linear(out, _abs_difference(None, input, target), delta, 0.5, delta)

    with np.errstate(all="ignore"):
        return _elementwise(formula, (input, target), reduction)


def _soft_margin(out: Any, input: Any, target: Any) -> Any:
    z = np.multiply(input, target, out=out)
    np.negative(z, out=z)
    np.exp(z, out=z)
    return np.log1p(z, out=z)


def soft_margin_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any) -> Any:
    if not _plain(input, target, reduction, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        return _elementwise(_soft_margin, (input, target), reduction)


def _in_unit_interval(x: Any) -> bool:
    """Every value in [0, 1] (NaN is not): the body's check, which raises otherwise."""
    return bool(np.minimum.reduce(x, axis=None) >= 0) and bool(np.maximum.reduce(x, axis=None) <= 1)


def _binary_cross_entropy(out: Any, input: Any, target: Any) -> Any:
    # (t − 1)·max(log1p(−x), −100) − t·max(log(x), −100)
    below = np.negative(input, out=out)
    np.log1p(below, out=below)
    np.maximum(below, _LOG_FLOOR, out=below)
    below *= np.subtract(target, 1.0)
    above = np.log(input)
    np.maximum(above, _LOG_FLOOR, out=above)
    above *= target
    below -= above
    return below


def binary_cross_entropy(
    input: Any, target: Any, weight: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    if not _plain(input, target, reduction, weight, size_average, reduce) or not _in_unit_interval(target):
        return NotImplemented
    with np.errstate(all="ignore"):
        out = _elementwise(_binary_cross_entropy, (input, target), reduction)
    # An input outside [0, 1], or NaN, makes its term NaN (a log of a negative number) and
    # so the sum: a sum that is not NaN had none, and needs no pass of its own to check.
    if (reduction == "none" or np.isnan(out)) and not _in_unit_interval(input):
        return NotImplemented
    return out


def _binary_cross_entropy_with_logits(out: Any, input: Any, target: Any) -> Any:
    # (1 − t)·x + softplus(−x), softplus(v) = log1p(exp(−|v|)) + max(v, 0)
    softplus = np.abs(input)
    np.negative(softplus, out=softplus)
    np.exp(softplus, out=softplus)
    np.log1p(softplus, out=softplus)
    softplus += np.maximum(np.negative(input), 0)
    loss = np.subtract(1.0, target, out=out)
    loss *= input
    loss += softplus
    return loss


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any,
    size_average: Any,
    reduce: Any,
    reduction: Any,
    pos_weight: Any,
) -> Any:
    if not _plain(input, target, reduction, weight, pos_weight, size_average, reduce):
        return NotImplemented
    with np.errstate(all="ignore"):
        return _elementwise(_binary_cross_entropy_with_logits, (input, target), reduction)


def _poisson_of_log(out: Any, input: Any, target: Any) -> Any:
    # exp(x) − t·x
    loss = np.exp(input, out=out)
    loss -= np.multiply(target, input)
    return loss


def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: Any,
    full: Any,
    size_average: Any,
    eps: Any,
    reduce: Any,
    reduction: Any,
) -> Any:
    if (
        full is not False
        or type(log_input) is not bool
        or type(eps) is not float
        or not _moderate(eps)
        or not _plain(input, target, reduction, size_average, reduce)
    ):
        return NotImplemented

    def of_rate(out: Any, input: Any, target: Any) -> Any:
        # x − t·log(x + eps)
        log = np.add(input, eps)
        np.log(log, out=log)
        log *= target
        return np.subtract(input, log, out=out)

    with np.errstate(all="ignore"):
        return _elementwise(_poisson_of_log if log_input else of_rate, (input, target), reduction)


def _kl_div_of_log(out: Any, input: Any, target: Any) -> Any:
    # exp(t)·(t − x)
    loss = np.exp(target, out=out)
    loss *= np.subtract(target, input)
    return loss


def _kl_div(out: Any, input: Any, target: Any) -> Any:
    # xlogy(t, t) − t·x, with 0·log(0) = 0
    zero = target == 0
    loss = np.log(np.where(zero, 1.0, target), out=out)
    loss *= target
    np.copyto(loss, 0.0, where=zero)
    loss -= np.multiply(target, input)
    return loss


def kl_div(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any, log_target: Any) -> Any:
    # 'mean' warns on every call (torch's advice to use 'batchmean'): the body says it.
    batchmean = reduction == "batchmean"
    if (
        type(log_target) is not bool
        or reduction == "mean"
        or not _plain(input, target, "sum" if batchmean else reduction, size_average, reduce)
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        formula = _kl_div_of_log if log_target else _kl_div
        if batchmean:
            total = _elementwise(formula, (input, target), "sum")[()]
            return np.asarray(total / (input.shape[0] if input.ndim else 1))
        return _elementwise(formula, (input, target), reduction)


def gaussian_nll_loss(input: Any, target: Any, var: Any, full: Any, eps: Any, reduction: Any) -> Any:
    if (
        type(full) is not bool
        or type(eps) is not float
        or not _moderate(eps)
        or not _plain(input, target, reduction)
        or not _like(var, input)
        or not np.minimum.reduce(var, axis=None) >= 0  # the body raises for a negative var
    ):
        return NotImplemented
    floor = np.asarray(eps, dtype=var.dtype)

    def formula(out: Any, input: Any, target: Any, var: Any) -> Any:
        # 0.5·(log(v) + (x − t)²/v) (+ log(2π)/2), v = max(var, eps)
        v = np.maximum(var, floor)
        d = np.subtract(input, target)
        np.multiply(d, d, out=d)
        np.divide(d, v, out=d)
        loss = np.log(v, out=v if out is None else out)
        loss += d
        loss *= 0.5
        if full:
            loss += _HALF_LOG_2PI
        return loss

    with np.errstate(all="ignore"):
        return _elementwise(formula, (input, target, var), reduction)


def margin_ranking_loss(
    input1: Any, input2: Any, target: Any, margin: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    if (
        not _moderate(margin)
        or not _plain(input1, input2, reduction, size_average, reduce)
        or not _like(target, input1)
    ):
        return NotImplemented

    def formula(out: Any, input1: Any, input2: Any, target: Any) -> Any:
        # max(m − t·(x1 − x2), 0)
        loss = np.subtract(input1, input2, out=out)
        loss *= target
        np.subtract(float(margin), loss, out=loss)
        return np.maximum(loss, 0, out=loss)

    with np.errstate(all="ignore"):
        return _elementwise(formula, (input1, input2, target), reduction)


def multi_margin_loss(
    input: Any,
    target: Any,
    p: Any,
    margin: Any,
    weight: Any,
    size_average: Any,
    reduce: Any,
    reduction: Any,
) -> Any:
    if (
        weight is not None
        or size_average is not None
        or reduce is not None
        or type(p) is not int
        or p not in (1, 2)
        or not _moderate(margin)
        or type(input) is not np.ndarray
        or input.ndim != 2
        or input.dtype not in _FLOATS
        or 0 in input.shape
        or type(target) is not np.ndarray
        or target.dtype != np.int64
        or target.shape != input.shape[:1]
        or type(reduction) is not str
        or reduction not in _REDUCTIONS
        or not (np.minimum.reduce(target) >= 0 and np.maximum.reduce(target) < input.shape[1])
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        # Σ_j≠t max(0, margin − x_t + x_j)^p / C, the target's own column zeroed
        rows = np.arange(input.shape[0])
        hinge = np.subtract(margin, input[rows, target])[:, None] + input
        np.fmax(hinge, 0, out=hinge)  # NaN gives 0, as torch's ``if (z > 0)``
        hinge[rows, target] = 0
        if p == 2:
            np.multiply(hinge, hinge, out=hinge)
        loss = np.add.reduce(hinge, axis=1)
        loss /= input.shape[1]
        return _reduced_rows(loss, reduction)


def multilabel_margin_loss(input: Any, target: Any, size_average: Any, reduce: Any, reduction: Any) -> Any:
    if (
        not _loss_options(reduction, size_average, reduce)
        or not _rows(input)
        or not input.flags.c_contiguous  # the rows' sums are then the body's
        or type(target) is not np.ndarray
        or target.dtype != np.int64
        or target.shape != input.shape
    ):
        return NotImplemented
    n, classes = input.shape
    if not (np.minimum.reduce(target, axis=None) >= -1 and np.maximum.reduce(target, axis=None) < classes):
        return NotImplemented  # the body raises
    # The entries before each row's first −1 count (all of a row without one).
    positions = np.arange(classes)
    end = np.minimum.reduce(np.where(target == -1, positions, classes), axis=1)
    slots = int(np.maximum.reduce(end))
    counted = positions[:slots] < end[:, None]  # (N, slots)
    safe = np.where(counted, target[:, :slots], 0)
    with np.errstate(all="ignore"):
        if slots == 0:
            loss = np.zeros(n, input.dtype)
        elif n * slots * classes <= _from_body("_margin", "BROADCAST_LIMIT"):
            loss = _multilabel_broadcast(input, safe, counted)
        else:
            loss = _multilabel_by_slot(input, safe, counted)
        loss /= classes
        return _reduced_rows(loss, reduction)


def _multilabel_broadcast(x: Any, safe: Any, counted: Any) -> Any:
    """The body's ``_multilabel_hinge_broadcast``: Σ_j Σ_k [z > 0, k not a target] z with
    torch's z = 1 − x[t_j] + x_k, for every (row, slot, class) triple at once, each term
    as in :func:`_multilabel_by_slot`."""
    rows = np.arange(x.shape[0])[:, None]
    z = np.subtract(1.0, x[rows, safe], dtype=x.dtype)[:, :, None] + x[:, None, :]
    np.fmax(z, 0, out=z)  # NaN: 0, as torch's ``if (z > 0)``
    row, slot = np.nonzero(counted)
    z[row, :, safe[row, slot]] = 0  # the targets' columns, in every slot
    slot_sums = np.add.reduce(z, axis=2)
    np.copyto(slot_sums, 0, where=~counted)
    return np.add.reduce(slot_sums, axis=1)


def _multilabel_by_slot(x: Any, safe: Any, counted: Any) -> Any:
    """The body's ``_multilabel_hinge_by_slot`` (one slot at a time, the rows' sums added
    over the slots in order), by blocks of rows whose temporaries stay in the cache.

    Each term is the body's ``where(z > 0 and k not a target, z, 0)`` as ``fmax(z, 0)``
    with the targets' columns then set to 0: the same bits, as z is never −0 (a sum of
    two floats is −0 only when both are, and ``1 − x[t_j]`` never is), and each row's
    terms are summed as the body sums them.
    """
    n, classes = x.shape
    slots = safe.shape[1]
    loss = np.zeros(n, x.dtype)
    per_block = max(1, block_size(x.size) // classes)  # rows are never cut
    shifts = np.subtract(1.0, x[np.arange(n)[:, None], safe], dtype=x.dtype)  # 1 − x[t_j]
    # Each counted target's place in a block of rows, flattened: those terms are 0.
    rows = np.arange(n)[:, None]
    flat = (rows % per_block) * classes + safe
    skipped = ~counted

    def compute(part: range) -> None:
        z = np.empty(per_block * classes, x.dtype)
        row = np.empty(per_block, x.dtype)
        for i in part:
            start, stop = i * per_block, min((i + 1) * per_block, n)
            block, size = x[start:stop], stop - start
            targets = flat[start:stop][counted[start:stop]]
            terms = z[: size * classes].reshape(size, classes)
            for j in range(slots):
                np.add(shifts[start:stop, j : j + 1], block, out=terms)
                np.fmax(terms, 0, out=terms)  # NaN: 0, as torch's ``if (z > 0)``
                z[targets] = 0
                total = np.add.reduce(terms, axis=1, out=row[:size])
                np.copyto(total, 0, where=skipped[start:stop, j])
                loss[start:stop] += total

    _shared(compute, -(-n // per_block), x.size)
    return loss


def _reduced_rows(loss: Any, reduction: str) -> Any:
    """The margin losses' reduction of one term per row (non-empty)."""
    if reduction == "none":
        return loss
    total = np.add.reduce(loss)
    return np.asarray(total / loss.shape[0] if reduction == "mean" else total)


# --- nll_loss and cross_entropy ----------------------------------------------------------
#
# The usual call: float32/float64 scores (N, C, d1, ..., dK), or (C,) with one target; int64
# class indices (N, d1, ..., dK), every one in [0, C) or ignore_index (cross_entropy: or class
# probabilities of the scores' shape and dtype); an optional (C,) weight of the scores' dtype.
# The kernels follow ``functional/_cross_entropy.py`` (``_nll_terms``, ``_reduce_nll``, the
# label-smoothing mix, ``_probability_targets``) and NumPyBackend's log-softmax normaliser,
# operation for operation.  A reduction over all elements (axis=None) adds them in their
# order in memory, so spatial arrays (K ≥ 1) are taken C-contiguous only: every temporary is
# then laid out as the body's.

#: ignore_index is compared with int64 targets: a plain int of that range.
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _class_scores(input: Any, weight: Any, size_average: Any, reduce: Any, reduction: Any) -> bool:
    """The scores and options of the usual call: ``input`` a non-empty float NumPy array
    (C,), (N, C) or C-contiguous (N, C, d1, ..., dK); ``weight`` None or (C,) of its dtype;
    one of the three reductions; the legacy flags left out."""
    if (
        size_average is not None
        or reduce is not None
        or type(reduction) is not str
        or reduction not in _REDUCTIONS
        or type(input) is not np.ndarray
        or input.dtype not in _FLOATS
        or input.ndim == 0
        or input.size == 0
        or (input.ndim > 2 and not input.flags.c_contiguous)
    ):
        return False
    return weight is None or (
        type(weight) is np.ndarray
        and weight.dtype == input.dtype
        and weight.shape == (input.shape[1] if input.ndim > 1 else input.shape[0],)
    )


def _class_indices(input: Any, target: Any) -> bool:
    """An int64 NumPy array of class indices for ``input``: (N, d1, ..., dK) (C-contiguous
    when K ≥ 1), ``()`` or ``(1,)`` for a (C,) input."""
    if type(target) is not np.ndarray or target.dtype != np.int64:
        return False
    if input.ndim == 1:
        return target.shape in ((), (1,))
    return target.shape == input.shape[:1] + input.shape[2:] and (
        input.ndim == 2 or target.flags.c_contiguous
    )


def _counted(t: Any, n_classes: int, ignore_index: int) -> Any:
    """``(valid, safe)``: the mask of the targets that count (None when all do) and the
    targets with 0 in place of the ignored ones; NotImplemented when a counted target lies
    outside [0, C) (the body raises torch's IndexError).  One reduction for the usual call:
    seen as unsigned, a negative index is above every class."""
    if np.maximum.reduce(t.view(np.uint64), axis=None) < n_classes and not 0 <= ignore_index < n_classes:
        return None, t
    valid = np.not_equal(t, ignore_index)
    safe = np.where(valid, t, 0)
    if not np.maximum.reduce(safe.view(np.uint64), axis=None) < n_classes:
        return NotImplemented
    if np.logical_and.reduce(valid, axis=None):
        return None, t
    return valid, safe


def _normaliser(x: Any) -> Any:
    """What the body's log_softmax subtracts from ``x`` along the class axis 1, kept: the
    max-shifted log-sum-exp (:func:`logsumexp`), NaN where the maximum is infinite."""
    if x.size >= BLOCKED_MIN:
        # The body's own, by blocks of rows on several threads.
        lse = logsumexp(x, 1, True)
        every_finite = math.isfinite(np.add.reduce(lse, axis=None))
    else:
        # logsumexp's whole-array form, in ufunc calls (np.max and np.sum cost several
        # times the arithmetic of a small array).
        m = np.maximum.reduce(x, axis=1, keepdims=True)
        every_finite = math.isfinite(np.add.reduce(m, axis=None))
        if not every_finite:
            m = np.where(np.isfinite(m), m, np.zeros_like(m))
        shifted = np.subtract(x, m)  # the one full-size temporary, exponentiated in place
        np.exp(shifted, out=shifted)
        lse = np.log(np.add.reduce(shifted, axis=1, keepdims=True))
        lse += m
    # The normaliser is infinite only where a maximum is: with every maximum finite (their
    # sum finite; one overflowing to inf takes the long way), no NaN is summed and one
    # exponential is 1, so the sum lies in [1, C] and the body's where changes nothing.
    if not every_finite:
        lse = np.where(np.isfinite(lse) | np.isnan(lse), lse, lse - lse)
    return lse


def _gathered(x: Any, index: Any) -> Any:
    """``x`` at class ``index`` along axis 1, a new array (the body's gather_class)."""
    if x.ndim == 2:
        return x[np.arange(x.shape[0]), index]
    return np.take_along_axis(x, np.expand_dims(index, 1), axis=1)[:, 0]


def _class_axis(weight: Any, ndim: int) -> Any:
    """The (C,) ``weight`` along the class axis 1 of an ``ndim``-D array."""
    return weight.reshape((-1,) + (1,) * (ndim - 2))


def _nll_terms(picked: Any, weight: Any, valid: Any, safe: Any) -> tuple[Any, Any]:
    """``(loss, w_t)``: ``−w[t]·picked`` (0 where ignored) and the weights ``w[t]`` (0 where
    ignored; None without weight), ``picked`` owned and overwritten."""
    w_t = None
    if weight is not None:
        w_t = weight[safe]
        if valid is not None:
            w_t = np.where(valid, w_t, np.zeros_like(w_t))
        picked *= w_t
    np.negative(picked, out=picked)
    if valid is not None:
        picked = np.where(valid, picked, np.zeros_like(picked))
    return picked, w_t


def _nll_denominator(loss: Any, w_t: Any, valid: Any) -> Any:
    """The 'mean' denominator: the summed weights of the counted targets, or their number
    (a Python int when all count, the sum of a 0/1 array otherwise)."""
    if w_t is not None:
        return np.add.reduce(w_t, axis=None)
    if valid is None:
        return loss.size
    return np.add.reduce(valid.astype(loss.dtype), axis=None)


def _class_call(
    input: Any, target: Any, weight: Any, size_average: Any, ignore_index: Any, reduce: Any, reduction: Any
) -> Any:
    """``(x, valid, safe, unbatched)`` for the usual call of class indices (``x`` the scores
    with a batch axis, ``valid`` and ``safe`` those of :func:`_counted`), else None."""
    if (
        type(ignore_index) is not int
        or not _INT64_MIN <= ignore_index <= _INT64_MAX
        or not _class_scores(input, weight, size_average, reduce, reduction)
        or not _class_indices(input, target)
    ):
        return None
    unbatched = input.ndim == 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1)
    counted = _counted(target, input.shape[1], ignore_index)
    if counted is NotImplemented:
        return None
    return input, *counted, unbatched


def _class_result(out: Any, unbatched: bool) -> Any:
    """The result as an array: 0-D for a reduction, and for a (C,) input's 'none'."""
    out = np.asarray(out)
    return out.reshape(()) if unbatched else out


def _nll_reduced(loss: Any, w_t: Any, valid: Any, reduction: str, unbatched: bool) -> Any:
    """The body's ``_reduce_nll``: 'mean' over the weights of the counted targets."""
    if reduction != "none":
        total = np.add.reduce(loss, axis=None)
        loss = total if reduction == "sum" else total / _nll_denominator(loss, w_t, valid)
    return _class_result(loss, unbatched)


def nll_loss(
    input: Any, target: Any, weight: Any, size_average: Any, ignore_index: Any, reduce: Any, reduction: Any
) -> Any:
    call = _class_call(input, target, weight, size_average, ignore_index, reduce, reduction)
    if call is None:
        return NotImplemented
    x, valid, safe, unbatched = call
    with np.errstate(all="ignore"):
        loss, w_t = _nll_terms(_gathered(x, safe), weight, valid, safe)
        return _nll_reduced(loss, w_t, valid, reduction, unbatched)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any,
    size_average: Any,
    ignore_index: Any,
    reduce: Any,
    reduction: Any,
    label_smoothing: Any,
) -> Any:
    if type(label_smoothing) not in (float, int) or not -_MODERATE < label_smoothing <= 1.0:
        return NotImplemented
    if type(input) is np.ndarray and type(target) is np.ndarray and target.shape == input.shape:
        # Told apart by the shape alone, as the body does (a (1,) target of a (1,) input too).
        if not _class_scores(input, weight, size_average, reduce, reduction):
            return NotImplemented
        return _probability_targets(input, target, weight, ignore_index, reduction, label_smoothing)
    call = _class_call(input, target, weight, size_average, ignore_index, reduce, reduction)
    if call is None:
        return NotImplemented
    x, valid, safe, unbatched = call
    with np.errstate(all="ignore"):
        lse = _normaliser(x)
        if not label_smoothing > 0.0:  # a negative smoothing counts as none, as in torch
            # Only the target's log-probability: logits[t] − logsumexp.
            picked = _gathered(x, safe)
            picked -= lse[:, 0]
            loss, w_t = _nll_terms(picked, weight, valid, safe)
            return _nll_reduced(loss, w_t, valid, reduction, unbatched)
        logp = np.subtract(x, lse)
        loss, w_t = _nll_terms(_gathered(logp, safe), weight, valid, safe)
        # The uniform part −Σ_c w_c·logp_c, zero where the target is ignored.
        if weight is not None:
            logp *= _class_axis(weight, logp.ndim)
        smooth = np.add.reduce(logp, axis=1)
        np.negative(smooth, out=smooth)
        if valid is not None:
            smooth = np.where(valid, smooth, np.zeros_like(smooth))
        if reduction == "none":
            nll_part, smooth_part = loss, smooth
        else:
            nll_part, smooth_part = np.add.reduce(loss, axis=None), np.add.reduce(smooth, axis=None)
        out = (1.0 - label_smoothing) * nll_part + smooth_part * (label_smoothing / x.shape[1])
        if reduction == "mean":
            out = out / _nll_denominator(loss, w_t, valid)
        return _class_result(out, unbatched)


def _probability_targets(
    input: Any, target: Any, weight: Any, ignore_index: Any, reduction: str, label_smoothing: float
) -> Any:
    """cross_entropy of class probabilities (a ``target`` of ``input``'s shape and dtype):
    the body's ``_probability_targets``, ``−Σ_c w_c·q_c·logp_c``."""
    if (
        type(ignore_index) is not int
        or ignore_index >= 0  # the body raises: ignore_index is for class indices
        or target.dtype != input.dtype
        or (input.ndim > 2 and not target.flags.c_contiguous)
    ):
        return NotImplemented
    unbatched = input.ndim == 1
    if unbatched:
        input, target = input.reshape(1, -1), target.reshape(1, -1)
    n_classes = input.shape[1]
    with np.errstate(all="ignore"):
        logp = np.subtract(input, _normaliser(input))
        q = target
        if label_smoothing > 0.0:
            q = q * (1.0 - label_smoothing) + label_smoothing / n_classes
        # A product, as the body's: a −inf logit of zero probability gives NaN there too.
        # In place where both lie alike, so the terms are laid out as the body's product.
        terms = np.multiply(logp, q, out=logp if q.strides == logp.strides else None)
        if weight is not None:
            terms *= _class_axis(weight, terms.ndim)
        if reduction == "none":
            loss = np.add.reduce(terms, axis=1)
            return _class_result(np.negative(loss, out=loss), unbatched)
        total = -np.add.reduce(terms, axis=None)
        return _class_result(total / (terms.size // n_classes) if reduction == "mean" else total, unbatched)


def linear_cross_entropy(
    input: Any,
    linear_weight: Any,
    target: Any,
    *,
    linear_bias: Any,
    weight: Any,
    reduction: Any,
    ignore_index: Any,
    label_smoothing: Any,
    options: Any,
    z_loss: Any,
    softcap: Any,
    return_lse: Any,
    chunk_size: Any,
) -> Any:
    """The usual call: float features ``(N, H)``, a layer ``(C, H)`` (and bias ``(C,)``) of
    their dtype, int64 class indices ``(N,)``, each a class or ``ignore_index``; none of the
    options beyond torch's.  ``linear_cross_entropy_rows`` and ``linear_cross_entropy_terms``
    of the generic backend, operation for operation, over the same chunks of rows."""
    if (
        weight is not None
        or options is not None
        or softcap is not None
        or chunk_size is not None
        or return_lse is not False
        or type(z_loss) not in (float, int)
        or z_loss != 0
        or type(label_smoothing) not in (float, int)
        or label_smoothing != 0
        or not (
            ignore_index is None or (type(ignore_index) is int and _INT64_MIN <= ignore_index <= _INT64_MAX)
        )
        or not _loss_options(reduction)
        or not _rows(input)
        or type(linear_weight) is not np.ndarray
        or linear_weight.dtype != input.dtype
        or linear_weight.shape[1:] != input.shape[1:]
        or linear_weight.shape[0] == 0
        or not (
            linear_bias is None
            or (
                type(linear_bias) is np.ndarray
                and linear_bias.dtype == input.dtype
                and linear_bias.shape == linear_weight.shape[:1]
            )
        )
        or type(target) is not np.ndarray
        or target.dtype != np.int64
        or target.shape != input.shape[:1]
    ):
        return NotImplemented
    n, features = input.shape
    classes = linear_weight.shape[0]
    valid = target != (-100 if ignore_index is None else ignore_index)
    in_range = np.minimum.reduce(target) >= 0 and np.maximum.reduce(target) < classes
    if not in_range and not np.logical_and.reduce((target >= 0) & (target < classes) | ~valid):
        return NotImplemented  # the body raises
    step = default_chunk_size(n, features, classes)
    safe = np.where(valid, target, 0)
    weight_t = linear_weight.T
    losses = []
    with np.errstate(all="ignore"):
        for start in range(0, n, step):
            stop = min(n, start + step)
            logits = np.matmul(input[start:stop], weight_t)
            if linear_bias is not None:
                logits += linear_bias
            lse = logsumexp(logits, 1, True)
            # NaN where a row's largest logit is infinite, as torch's log_softmax gives: the
            # terms' where(isfinite(lse) | isnan(lse), lse, lse − lse), as lse + (lse − lse)
            # (x + 0 is x for every x but −0, which a log plus a shift never is)
            lse += lse - lse
            nll = lse[:, 0] - logits[np.arange(stop - start), safe[start:stop]]
            # every target counted is in range: the terms' other selects keep these values
            loss = np.where(valid[start:stop], nll, 0.0)
            losses.append(loss if reduction == "none" else np.add.reduce(loss))
        if reduction == "none":
            return losses[0] if len(losses) == 1 else np.concatenate(losses)
        total = losses[0]
        for part in losses[1:]:
            total = total + part
        if reduction == "mean":
            total = total / np.add.reduce(valid.astype(input.dtype))
        return np.asarray(total)


# --- embedding and multi-label losses ---------------------------------------------------


def _plain_contiguous(input: Any, target: Any, reduction: Any, *absent: Any) -> bool:
    """:func:`_plain`, both arrays C-contiguous: then every temporary of the body is too
    (a ufunc's result takes its operands' memory order, which decides a sum's order), and
    the kernel may compute in place."""
    return (
        _plain(input, target, reduction, *absent) and input.flags.c_contiguous and target.flags.c_contiguous
    )


def hinge_embedding_products(x: Any, hinge: Any, target: Any, out: Any = None) -> Any:
    """``hinge·[t ≠ 1] + x·[t ≠ −1]``, torch's two selects as products by their masks: the
    selects' values where every term is finite (a −0 for a 0 aside), several times faster
    than ``where`` with a random mask (``NumPyBackend.hinge_embedding_terms``)."""
    out = np.multiply(hinge, target != 1, out=out, dtype=hinge.dtype)
    out += np.multiply(x, target != -1, dtype=x.dtype)
    return out


def hinge_embedding_loss(
    input: Any, target: Any, margin: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    # Every target value is legal (neither 1 nor −1 gives both terms): nothing to read.
    if not _moderate(margin) or not _plain_contiguous(input, target, reduction, size_average, reduce):
        return NotImplemented
    floor = np.asarray(0, dtype=input.dtype)

    def hinge(out: Any, input: Any) -> Any:
        # max(m − x, 0)
        h = np.subtract(float(margin), input, out=out)
        return np.maximum(h, floor, out=h)

    def terms(out: Any, input: Any, target: Any) -> Any:
        h = hinge(out, input)
        return hinge_embedding_products(input, h, target, out=h)

    with np.errstate(all="ignore"):
        # The body's choice between the products and the selects reads the sums of both
        # terms, each NumPy's sum of the whole array (the hinge's block by block for a
        # large input, which then computes it twice rather than hold it in memory).
        small = input.size < BLOCKED_MIN
        h: Any = hinge(None, input) if small else None
        total = np.add.reduce(h, axis=None) if small else _elementwise(hinge, (input,), "sum")[()]
        if math.isfinite(total) and math.isfinite(np.add.reduce(input, axis=None)):
            if small:
                return _reduced(hinge_embedding_products(input, h, target, out=h), reduction)
            return _elementwise(terms, (input, target), reduction)
        h = hinge(None, input) if h is None else h
        return _reduced(np.where(target == 1, input, np.where(target == -1, h, h + input)), reduction)


def log1p_exp_neg_abs(x: Any, out: Any = None) -> Any:
    """``log1p(exp(−|x|))`` of a NumPy float array, into ``out`` (else a new array)."""
    out = np.abs(x, out=np.empty_like(x) if out is None else out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    return np.log1p(out, out=out)


def softplus_pair(x: Any, out: Any = None) -> tuple[Any, Any]:
    """``(softplus(x), softplus(−x))`` of a NumPy float array from one shared exp and log1p:
    ``max(±x, 0) + log1p(exp(−|x|))`` (``NumPyBackend.softplus_pair``).  ``out``: an array
    of ``x``'s shape the shared term may be computed in."""
    shared = log1p_exp_neg_abs(x, out)
    positive = np.maximum(x, 0)
    positive += shared
    negative = np.minimum(x, 0)
    np.subtract(shared, negative, out=negative)
    return positive, negative


def _multilabel_soft_margin(out: Any, input: Any, target: Any) -> Any:
    # t·softplus(−x) + (1 − t)·softplus(x)
    positive, negative = softplus_pair(input, out)
    negative *= target
    loss = np.subtract(1.0, target, out=out)  # the shared term is no longer needed
    loss *= positive
    loss += negative
    return loss


def multilabel_soft_margin_loss(
    input: Any, target: Any, weight: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    if not _plain_contiguous(input, target, reduction, weight, size_average, reduce):
        return NotImplemented
    classes = input.shape[-1]
    with np.errstate(all="ignore"):
        if reduction == "none":
            terms = _multilabel_soft_margin(None, input, target)
            return np.asarray(np.add.reduce(terms, axis=-1) / classes)
        # The body's 'sum' is the sum of every term over the classes; its 'mean' is that sum
        # over every term (the class means' batch mean at once).
        total = _elementwise(_multilabel_soft_margin, (input, target), "sum")[()]
        return np.asarray(total / (classes if reduction == "sum" else input.size))


def _rows(a: Any) -> bool:
    """An array of the embedding losses' usual call: a non-empty 2-D NumPy float32 or
    float64 array."""
    return type(a) is np.ndarray and a.ndim == 2 and a.dtype in _FLOATS and a.size != 0


def _loss_options(reduction: Any, *absent: Any) -> bool:
    """One of the three reductions, and the legacy flags ``absent`` left out."""
    for a in absent:
        if a is not None:
            return False
    return type(reduction) is str and reduction in _REDUCTIONS


def cosine_embedding_loss(
    input1: Any, input2: Any, target: Any, margin: Any, size_average: Any, reduce: Any, reduction: Any
) -> Any:
    # Every target value is legal (neither 1 nor −1 gives 0): nothing to read.
    if (
        not _moderate(margin)
        or not _loss_options(reduction, size_average, reduce)
        or not _rows(input1)
        or not _like(input2, input1)
        or type(target) is not np.ndarray
        or target.dtype.kind not in "fi"
        or target.shape != input1.shape[:1]
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        # Σx1·x2 / sqrt((Σx1² + ε)(Σx2² + ε)), each sum NumPy's along the last axis.  Each
        # product in an array of its own, as the body's: its memory order (that of its
        # factors) decides the order of the sum.
        dot = np.add.reduce(np.multiply(input1, input2), axis=-1)
        squares1 = np.add.reduce(np.multiply(input1, input1), axis=-1)
        squares1 += _COSINE_EPS
        squares2 = np.add.reduce(np.multiply(input2, input2), axis=-1)
        squares2 += _COSINE_EPS
        squares1 *= squares2
        cos = np.divide(dot, np.sqrt(squares1, out=squares1), out=dot)
        zero = np.zeros_like(cos)
        dissimilar = np.maximum(np.subtract(cos, float(margin)), np.asarray(0, dtype=cos.dtype))
        loss = np.where(target == 1, np.subtract(1.0, cos), zero)
        loss += np.where(target == -1, dissimilar, zero)
        return _reduced_rows(loss, reduction)


def _pairwise_norm(x1: Any, x2: Any, p: float, eps: float) -> Any:
    """``‖x1 − x2 + eps‖_p`` of each row for a finite order ``p`` other than 0, as the body's
    ``_vector_norm``."""
    diff = np.subtract(x1, x2)
    diff += eps
    if p == 2:
        np.multiply(diff, diff, out=diff)
        total = np.add.reduce(diff, axis=-1)
        # The body's where(total == 0, 0, sqrt(where(total == 0, 1, total))), for its
        # gradient at 0: a sum of squares is never −0, and sqrt(+0) is +0, so the same bits.
        return np.sqrt(total, out=total)
    np.abs(diff, out=diff)
    if p == 1:
        return np.add.reduce(diff, axis=-1)
    total = np.add.reduce(np.power(diff, float(p), out=diff), axis=-1)
    zero = total == 0
    root = np.power(np.where(zero, np.ones_like(total), total), 1.0 / float(p))
    return np.where(zero, np.zeros_like(total), root)


def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: Any,
    p: Any,
    eps: Any,
    swap: Any,
    size_average: Any,
    reduce: Any,
    reduction: Any,
) -> Any:
    if (
        not _positive(margin)  # the body raises for a margin ≤ 0
        or not _moderate(p)
        or p == 0  # the body counts the non-zeros
        or not _moderate(eps)
        or type(swap) is not bool
        or not _loss_options(reduction, size_average, reduce)
        or not _rows(anchor)
        or not _like(positive, anchor)
        or not _like(negative, anchor)
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        d_pos = _pairwise_norm(anchor, positive, p, float(eps))
        d_neg = _pairwise_norm(anchor, negative, p, float(eps))
        if swap:
            np.minimum(d_neg, _pairwise_norm(positive, negative, p, float(eps)), out=d_neg)
        # max(margin + d(a, p) − d(a, n), 0)
        loss = np.add(float(margin), d_pos, out=d_pos)
        loss -= d_neg
        np.maximum(loss, np.asarray(0, dtype=loss.dtype), out=loss)
        return _reduced_rows(loss, reduction)


def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Any,
    margin: Any,
    swap: Any,
    reduction: Any,
) -> Any:
    # The default distance, torch's pairwise_distance: triplet_margin_loss's with p = 2 and
    # eps = 1e-6, computed as that body computes it.
    if distance_function is not None:
        return NotImplemented
    return triplet_margin_loss(anchor, positive, negative, margin, 2.0, 1e-6, swap, None, None, reduction)


# --- ctc_loss ------------------------------------------------------------------------
#
# The usual call: float32/float64 log-probabilities (T, N, C), C-contiguous; padded int64
# targets (N, S); int64 lengths (N,), every one in range; an int blank of the classes.
# The kernel follows ``functional/_ctc.py`` (``_labels``, ``_negative_log_likelihood``,
# ``_sequence_losses``, the reductions of ``_ctc_loss``) operation for operation.


def ctc_loss(
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: Any,
    reduction: Any,
    zero_infinity: Any,
) -> Any:
    if (
        type(log_probs) is not np.ndarray
        or log_probs.ndim != 3
        or log_probs.dtype not in _FLOATS
        or log_probs.size == 0
        or not log_probs.flags.c_contiguous
        or type(blank) is not int
        or not 0 <= blank < log_probs.shape[2]
        or type(zero_infinity) is not bool
        or not _loss_options(reduction)
    ):
        return NotImplemented
    steps, n, classes = log_probs.shape
    for a in (targets, input_lengths, target_lengths):
        if type(a) is not np.ndarray or a.dtype != np.int64 or a.shape[:1] != (n,):
            return NotImplemented
    if targets.ndim != 2 or input_lengths.ndim != 1 or target_lengths.ndim != 1:
        return NotImplemented
    # The body's value checks, which raise: every length in range.
    longest = int(np.maximum.reduce(target_lengths))
    if not (
        np.minimum.reduce(target_lengths) >= 0
        and longest <= targets.shape[1]
        and np.minimum.reduce(input_lengths) >= 0
        and np.maximum.reduce(input_lengths) <= steps
    ):
        return NotImplemented
    with np.errstate(all="ignore"):
        labels = np.where(np.arange(longest) < target_lengths[:, None], targets[:, :longest], blank)
        np.clip(labels, 0, classes - 1, out=labels)  # torch does not check them
        nll = _ctc_nll(log_probs, labels, input_lengths, target_lengths, blank)
        loss = nll + 0.0  # the body's zero-valued gradient terms
        infinite = nll == np.inf
        if zero_infinity:
            loss = np.where(infinite, 0.0, loss)
        # float rounding can take a certain target's zero loss a few ulp below zero
        dtype = log_probs.dtype
        tolerance = input_lengths.astype(dtype) + 1.0
        tolerance *= _from_body("_ctc", "_ROUNDING_ULPS_PER_STEP") * float(np.finfo(dtype).eps)
        np.copyto(loss, loss - loss, where=(loss < 0) & (loss > -tolerance))
        if reduction == "none":
            return loss
        if reduction == "sum":
            return np.asarray(np.add.reduce(loss))
        # torch's 'mean': each loss per target label (at least 1), then the batch mean
        per_label = target_lengths.astype(dtype)
        np.copyto(per_label, 1.0, where=per_label < 1)
        return np.asarray(np.add.reduce(loss / per_label) / n)


def _ctc_nll(log_probs: Any, labels: Any, input_lengths: Any, target_lengths: Any, blank: int) -> Any:
    """``_negative_log_likelihood``: the forward recursion over the 2S + 1 extended labels,
    α kept after two columns of −∞ (one and two states back are views of it), each step
    written into a second such array."""
    steps, n, classes = log_probs.shape
    width = labels.shape[1]
    k = 2 * width + 1
    dtype = log_probs.dtype
    state = np.arange(k)
    odd = state % 2 == 1
    extended = np.full((n, k), blank, np.int64)
    extended[:, odd] = labels
    # A state may be entered from two states back unless that holds the same label (a
    # blank is needed between repeats) or either is a blank.
    skip = np.zeros((n, k), np.bool_)
    if k > 2:
        skip[:, 2:] = odd[2:] & (extended[:, 2:] != extended[:, :-2])
    emissions = log_probs.reshape(steps, n * classes)[
        :, (np.arange(n)[:, None] * classes + extended).reshape(-1)
    ]
    emissions = emissions.reshape(steps, n, k)
    padded = np.full((n, k + 2), -np.inf, dtype)
    padded[:, 2] = 0.0  # α "before" t = 0: the first step gives torch's initialisation
    following = np.full((n, k + 2), -np.inf, dtype)
    m, total, term = np.empty((n, k), dtype), np.empty((n, k), dtype), np.empty((n, k), dtype)
    not_first = state >= 2  # at t = 0 only the first two states take an emission
    every_row = int(np.minimum.reduce(input_lengths))  # steps before any sequence ends
    for t in range(steps):
        alpha, one_back = padded[:, 2:], padded[:, 1:-1]
        two_back = np.where(skip, padded[:, :-2], -np.inf) if k > 2 else None
        # log(Σ exp(terms)) as torch's kernel: the largest term (0 if −inf) taken out.  The
        # body's maximum, a chain of ``where(term > m, term, m)``, keeps the first of a NaN
        # where ``maximum`` gives NaN: either way the sum is NaN.
        np.maximum(alpha, one_back, out=m)
        if two_back is not None:
            np.maximum(m, two_back, out=m)
        np.copyto(m, 0.0, where=m == -np.inf)
        np.exp(np.subtract(alpha, m, out=total), out=total)
        total += np.exp(np.subtract(one_back, m, out=term), out=term)
        if two_back is not None:
            total += np.exp(np.subtract(two_back, m, out=term), out=term)
        # A sum of 0 (every term −inf, m = 0) gives log(0) + 0 = −inf, the body's value for
        # it: its select there only keeps a gradient finite.
        np.log(total, out=total)
        total += m
        if 0 < t < every_row:
            np.add(total, emissions[t], out=following[:, 2:])
        else:
            total += emissions[t]
            if t == 0:
                np.copyto(total, -np.inf, where=not_first)
            np.copyto(following[:, 2:], alpha)
            np.copyto(following[:, 2:], total, where=t < input_lengths[:, None])
        padded, following = following, padded
    # The likelihood sums the last two states of each sequence (the final blank alone for
    # an empty target).
    rows = np.arange(n)
    alpha = padded[:, 2:]
    last = alpha[rows, 2 * target_lengths]
    before_last = np.where(target_lengths > 0, alpha[rows, np.maximum(2 * target_lengths - 1, 0)], -np.inf)
    top = np.where(before_last > last, before_last, last)
    np.copyto(top, 0.0, where=top == -np.inf)
    total = np.exp(last - top) + np.exp(before_last - top)
    unreached = total == 0
    return -np.where(unreached, -np.inf, np.log(np.where(unreached, 1.0, total)) + top)


#: The kernels of arrays of one shape, reduced by :func:`_elementwise` in blocks on the
#: thread pool, with the bits of one thread.
ELEMENTWISE_KERNELS = (
    l1_loss,
    mse_loss,
    smooth_l1_loss,
    huber_loss,
    soft_margin_loss,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    poisson_nll_loss,
    gaussian_nll_loss,
    kl_div,
    margin_ranking_loss,
    hinge_embedding_loss,
    multilabel_soft_margin_loss,
)

#: The kernels that work by rows (their own blocks, where they have any).
ROW_KERNELS = (
    linear_cross_entropy,
    multi_margin_loss,
    multilabel_margin_loss,
    nll_loss,
    cross_entropy,
    ctc_loss,
    cosine_embedding_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)

KERNELS: dict[str, Callable[..., Any]] = {
    kernel.__name__: kernel for kernel in (*ELEMENTWISE_KERNELS, *ROW_KERNELS)
}
