"""Multi-class and multi-label hinge losses: multi_margin_loss, multilabel_margin_loss."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend
from .._dispatch import declined, dispatch
from .._registry import ROWS, Streaming, loss_record
from ._cross_entropy import _index_target, _is_integer

__all__ = ["multi_margin_loss", "multilabel_margin_loss"]

_NAN = float("nan")
#: The most (row, slot, class) triples multilabel_margin_loss computes at once, eagerly;
#: above it, one target slot at a time.
BROADCAST_LIMIT = 1 << 15
#: Target slots one step of multilabel_margin_loss's compiled loop takes at once, in one
#: fused pass over their (N, SLOT_BLOCK, C) pairs: most data's few labels per row (the
#: benchmark's 4) in one step, which needs no loop at all.
SLOT_BLOCK = 4


# --- multi_margin_loss ------------------------------------------------------------------


def _check_margin_input(input: Any) -> None:
    ndim = input.ndim
    if not ((ndim == 2 and input.shape[1] != 0) or (ndim == 1 and input.shape[0] != 0) or ndim == 0):
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{_checks.list_str(input.shape)}"
        )


def _check_long_target(xp: Any, target: Any) -> None:
    if not _is_integer(xp, target.dtype):
        raise RuntimeError(f"expected scalar type Long but found {_checks.torch_dtype_name(target.dtype)}")


def _margin_mean(xp: Any, loss: Any, nframe: int, reduction: str) -> Any:
    """'mean' over the samples; 0 for an empty batch (torch: 0 or uninitialised memory)."""
    if reduction == "none":
        return loss
    total = xp.sum(loss)
    if reduction == "sum":
        return total
    return _reduction.divide_unless_empty(xp, total, nframe, reduction)


@loss_record(
    cls="MultiMarginLoss",
    family="classification",
    mean="the batch size",
    streaming=Streaming(min_ndim=2, batch_arrays=frozenset({"target"}), class_arrays=frozenset({"weight"})),
    bench="rows",
)
def multi_margin_loss(
    input: Any,
    target: Any,
    p: int = 1,
    margin: float = 1.0,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Multi-class hinge loss between scores and a class index per sample.

    .. math::
        \ell_i = \frac{1}{C} \sum_{j \ne t_i} w_{t_i} \max(0,\ \text{margin} - x_{i,t_i} + x_{i,j})^p

    Parameters
    ----------
    input : array
        Scores, shape ``(N, C)``, ``(C)`` or ``()``; float32 or float64.
    target : array
        Class indices of any integer dtype, shape ``(N)``, or ``()``/``(1,)`` for an
        unbatched input.
    p : {1, 2}, default 1
        The exponent (``2.0`` is accepted too); anything else raises ``ValueError``.
    margin : float, default 1.0
    weight : array, optional
        A ``(C,)`` weight, of ``input``'s dtype; the *target* class's weight scales a row.
    {legacy}
    {reduction}
        'mean' averages over the samples; an empty batch gives 0 for 'mean' and 'sum'.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(N, C)``, ``(C)`` or ``()``; target ``(N)``, ``()`` or ``(1,)``; output
    ``()``, or the target's shape for 'none'.

    The division is by ``C``, the target's own (zero) term included in the count.  A
    term exactly at the margin contributes no gradient (torch's strict ``>``).  float16
    and bfloat16 raise ``NotImplementedError``, as torch on CPU does.  Class indices of
    every integer dtype are accepted (torch: int64 only); see the parity notes, which
    also cover the empty batch.

    {lazy}  There, a sample whose class index is outside ``[0, C)`` has a NaN loss
    (eager backends raise torch's ``RuntimeError: target out of range``).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.array([[0.1, 0.2, 0.4, 0.8]])
    >>> al.multi_margin_loss(x, np.array([3])).round(4)
    np.float64(0.325)
    """
    backend, native, input, target, weight, _ = dispatch(
        "multi_margin_loss", xp, reduction, input, target, weight
    )
    if native is not None:
        out = native(input, target, p, margin, weight, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "multi_margin_loss")
    xp = backend.xp
    margin = _checks.scalar_option(margin, input.dtype)  # torch's kernel: a Scalar of input's dtype
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _check_margin_input(input)
    nframe = input.shape[0] if input.ndim == 2 else 1
    n_classes = input.shape[-1] if input.ndim > 0 else 1
    if target.ndim > 1 or _xp.numel(target.shape) != nframe:
        raise RuntimeError(
            "multi_margin_loss: target tensor should be 1-D with size equal to the number of "
            f"input samples (batch size). Expected target size [{nframe}], but got "
            f"{_checks.list_str(target.shape)}. Input has shape {_checks.list_str(input.shape)}."
        )
    if weight is not None and weight.shape[0] != n_classes:
        raise RuntimeError(
            f"inconsistent weight size, expected {n_classes} but got {_checks.list_str(weight.shape)}"
        )
    if not _xp.is_floating(xp, input.dtype) or _xp.is_half(input.dtype):
        raise NotImplementedError(
            f"\"multi_margin_loss_cpu_kernel\" not implemented for '{_checks.torch_dtype_name(input.dtype)}'"
        )
    _check_long_target(xp, target)
    _checks.check_weight_dtype(input.dtype, weight)
    with backend.quiet_floating_point():
        x = xp.reshape(input, (nframe, n_classes))
        t = xp.reshape(_index_target(xp, target), (nframe,))
        in_range = (t >= 0) & (t < n_classes)
        if nframe > 0 and backend.is_concrete(in_range) and not bool(xp.all(in_range)):
            raise RuntimeError("target out of range")
        safe_t = xp.where(in_range, t, xp.zeros_like(t))
        x_t = backend.gather_class(x, safe_t, axis=1)
        # torch's z = margin − x[y] + x_j, left to right: the first difference is per row.
        z = xp.expand_dims(margin - x_t, axis=1) + x
        # Strict >: a term exactly at the margin passes no gradient, as torch's kernel.
        h = backend.hinge_excluding(z, safe_t)
        if p == 2:
            h = h * h
        if weight is not None:
            w_t = backend.gather_class(
                xp.broadcast_to(xp.reshape(weight, (1, n_classes)), x.shape), safe_t, axis=1
            )
            # torch adds w·h for the terms h > 0 only: an infinite weight times 0 is no NaN.
            h = xp.where(h > 0, h * xp.expand_dims(w_t, axis=1), h)
        loss = xp.sum(h, axis=1) / n_classes
        loss = xp.where(in_range, loss, xp.full_like(loss, _NAN))
        loss = xp.reshape(loss, target.shape)
        return _xp.as_result(xp, _margin_mean(xp, loss, nframe, reduction), input.dtype)


# --- multilabel_margin_loss -------------------------------------------------------------


def _positions(backend: Backend, like: Any) -> Any:
    """0, 1, ..., n − 1 along the last axis of ``like`` (an integer array), broadcast to its shape."""
    xp = backend.xp
    n = like.shape[-1]
    positions = xp.arange(n, dtype=like.dtype, device=backend.device(like))
    return xp.broadcast_to(positions, like.shape)


def _multilabel_hinge_by_slot(
    backend: Backend, x: Any, t: Any, positions: Any, counted: Any, slots: int
) -> Any:
    """Σ_j Σ_(k not a target) max(0, 1 − x[t_j] + x_k) per row, one target slot at a time.

    ``slots`` is the largest number of counted entries of any row: O(N·C) memory and
    O(N·C·slots) work, as torch's kernel.
    """
    xp = backend.xp
    if slots == 0:  # zeros that still depend on x, so the gradient is 0, not missing
        return xp.sum(xp.where(positions < 0, x, xp.zeros_like(x)), axis=1)
    counted = counted[:, :slots]
    safe = xp.where(counted, t[:, :slots], xp.zeros_like(t[:, :slots]))
    is_target = xp.zeros(t.shape, dtype=xp.bool, device=backend.device(t))
    for j in range(slots):
        is_target = is_target | ((positions == safe[:, j : j + 1]) & counted[:, j : j + 1])
    not_target = ~is_target
    zero = _xp.const(xp, 0.0, x)
    loss = 0.0
    for j in range(slots):
        picked = backend.gather_class(x, safe[:, j], axis=1)
        z = (1.0 - xp.expand_dims(picked, axis=1)) + x  # torch's z = 1 − x[t_j] + x_k
        # Strict >: a pair exactly at the margin passes no gradient, as torch's kernel.
        row = xp.sum(xp.where((z > 0) & not_target, z, zero), axis=1)
        loss = loss + xp.where(counted[:, j], row, xp.zeros_like(row))
    return loss


def _slot_block(backend: Backend, t: Any, end: Any, b: Any) -> tuple[Any, Any]:
    """Block ``b`` of ``SLOT_BLOCK`` target slots of every row (``b`` a traced index, or
    the int 0): whether each counts (it lies before the row's ``end``), and its class, 0
    where it does not count; shape ``(N, SLOT_BLOCK)`` (columns past the last are read at
    the last, and do not count)."""
    xp = backend.xp
    if isinstance(b, int):  # block 0: a slice, which a compiler fuses, not a gather
        width = min(SLOT_BLOCK, t.shape[1])
        classes = t[:, b * SLOT_BLOCK : b * SLOT_BLOCK + width]
        columns = xp.arange(b * SLOT_BLOCK, b * SLOT_BLOCK + width, dtype=t.dtype, device=backend.device(t))
    else:
        offsets = xp.arange(SLOT_BLOCK, dtype=t.dtype, device=backend.device(t))
        columns = b * SLOT_BLOCK + offsets
        classes = xp.take(t, xp.minimum(columns, t.shape[1] - 1), axis=1)
    counts = xp.expand_dims(columns, axis=0) < end
    return counts, xp.where(counts, classes, xp.zeros_like(classes))


def _block_margins(backend: Backend, x: Any, open_x: Any, counts: Any, classes: Any) -> Any:
    """torch's z = 1 − x[t_j] + x_k for a block's slots j and every class k, shape
    ``(N, SLOT_BLOCK, C)``, read through ``open_x`` (``x`` with −inf at the row's targets)
    and with −inf for a slot that does not count: a pair that must not count is −inf or
    NaN, never above 0 (strict >, as torch's kernel: no gradient at the margin either)."""
    xp = backend.xp
    picked = xp.take_along_axis(x, classes, axis=1)
    u = xp.where(counts, 1.0 - picked, _xp.const(xp, -math.inf, x))
    return xp.expand_dims(u, axis=2) + xp.expand_dims(open_x, axis=1)


def _over_blocks(
    backend: Backend, blocks: Any, single: bool, step: Callable[[Any, Any], Any], identity: Any
) -> Any:
    """``step`` over the slot blocks ``0 … blocks − 1``, block 0 always (it adds nothing
    where no slot counts): with ``single``, block 0 alone; else the backend's loop over
    blocks 1 and on from ``identity``, then block 0 applied to its result, in straight-line
    code."""
    rest = identity if single else backend.fori_loop(1, blocks, step, identity)
    return step(0, rest)


def _add_at_columns(backend: Backend, a: Any, columns: Any, values: Any) -> Any:
    """``a`` (N, C) with ``values[n, j]`` added at ``a[n, columns[n, j]]`` for each ``j``
    of the ``(N, J)`` ``columns`` and ``values``: one elementwise pass that a compiler
    fuses (a scatter copies all of ``a`` at large sizes)."""
    xp = backend.xp
    positions = xp.arange(a.shape[1], dtype=columns.dtype, device=backend.device(a))
    zero = xp.zeros_like(a)
    for j in range(columns.shape[1]):
        a = a + xp.where(columns[:, j : j + 1] == positions, values[:, j : j + 1], zero)
    return a


def _open_x(backend: Backend, x: Any, t: Any, end: Any, blocks: Any, single: bool) -> Any:
    """``x`` with −inf at each row's targets (the classes of its counted slots)."""
    xp = backend.xp
    positions = _positions(backend, t)

    def mark(b: Any, targets: Any) -> Any:
        counts, classes = _slot_block(backend, t, end, b)
        hits = (xp.expand_dims(classes, axis=2) == xp.expand_dims(positions, axis=1)) & xp.expand_dims(
            counts, axis=2
        )
        return targets | xp.any(hits, axis=1)

    none = xp.zeros(x.shape, dtype=xp.bool, device=backend.device(x))
    targets = _over_blocks(backend, blocks, single, mark, none)
    return xp.where(targets, _xp.const(xp, -math.inf, x), x)


def _looped_sum(backend: Backend, single: bool, x: Any, t: Any, end: Any, blocks: Any) -> Any:
    """Σ_j Σ_(k not a target) max(0, 1 − x[t_j] + x_k) per row, by blocks of slots."""
    xp = backend.xp
    open_x = _open_x(backend, x, t, end, blocks, single)
    zero = _xp.const(xp, 0.0, x)

    def add_block(b: Any, loss: Any) -> Any:
        counts, classes = _slot_block(backend, t, end, b)
        z = _block_margins(backend, x, open_x, counts, classes)
        return loss + xp.sum(xp.where(z > 0, z, zero), axis=(1, 2))

    init = xp.zeros((x.shape[0],), dtype=x.dtype, device=backend.device(x))
    return _over_blocks(backend, blocks, single, add_block, init)


def _looped_gradient(backend: Backend, single: bool, x: Any, t: Any, end: Any, blocks: Any) -> Any:
    """d loss_n / d x[n, k] of the slot sum: +1 for each active pair (j, k), and minus the
    number of slot j's active pairs at column t_j (torch's kernel, before the 1/C)."""
    xp = backend.xp
    open_x = _open_x(backend, x, t, end, blocks, single)
    one, zero = _xp.const(xp, 1.0, x), _xp.const(xp, 0.0, x)

    def add_block(b: Any, g: Any) -> Any:
        counts, classes = _slot_block(backend, t, end, b)
        z = _block_margins(backend, x, open_x, counts, classes)
        rows = []
        for j in range(z.shape[1]):
            hits = xp.where(z[:, j, :] > 0, one, zero)
            g = g + hits
            rows.append(xp.sum(hits, axis=1))
        return _add_at_columns(backend, g, classes, -xp.stack(rows, axis=1))

    return _over_blocks(backend, blocks, single, add_block, xp.zeros_like(x))


def _by_blocks(backend: Backend, form: Callable[..., Any], x: Any, t: Any, end: Any) -> Any:
    """``form`` (:func:`_looped_sum` or :func:`_looped_gradient`) of ``stop_gradient(x)``:
    straight-line code where no row has more than ``SLOT_BLOCK`` counted slots (one pass
    that a compiler fuses whole), the backend's loop over the blocks otherwise."""
    blocks = (backend.xp.max(end) + (SLOT_BLOCK - 1)) // SLOT_BLOCK
    x = backend.stop_gradient(x)
    return backend.cond(
        blocks <= 1,
        functools.partial(form, backend, True),
        functools.partial(form, backend, False),
        x,
        t,
        end,
        blocks,
    )


def _multilabel_gradient(backend: Backend, x: Any, t: Any, end: Any) -> Any:
    """The gradient of the slot sum (:func:`_looped_gradient`).

    Piecewise constant in ``x``: its derivative (the loss's second) is 0, taken here by
    reading ``x`` through ``stop_gradient`` rather than by differentiating the loop.
    """
    return _by_blocks(backend, _looped_gradient, x, t, end)


def _multilabel_hinge_looped(backend: Backend, x: Any, t: Any, end: Any) -> Any:
    """The slot sum with a slot count that is not known yet (compiled code), by blocks of
    ``SLOT_BLOCK`` slots, each block's ``(N, SLOT_BLOCK, C)`` pairs one fused pass: O(N·C)
    memory and O(N·C·slots) work, as torch's kernel.

    Such a loop is not reverse-differentiable: the value is taken from ``stop_gradient(x)``
    and torch's derivative attached by ``zero_with_gradient``.
    """
    loss = _by_blocks(backend, _looped_sum, x, t, end)
    gradient = functools.partial(_multilabel_gradient, backend)
    return loss + backend.zero_with_gradient(x, gradient, (t, end), axes=(1,))


def _multilabel_hinge_broadcast(backend: Backend, x: Any, t: Any, positions: Any, counted: Any) -> Any:
    """The same sum with every (row, slot, class) triple at once: no loop for a compiler to
    unroll and no value read, at O(N·C·slots) memory (the form for Dask, for compiled code
    whose loops need a known trip count, and for small inputs).  ``t`` and ``counted`` hold
    the slots, ``(N, slots)``; ``positions`` is ``(N, C)``."""
    xp = backend.xp
    # one_hot[n, j, c]: entry j of row n names class c and counts.
    one_hot = (xp.expand_dims(t, axis=2) == xp.expand_dims(positions, axis=1)) & xp.expand_dims(
        counted, axis=2
    )
    is_target = xp.any(one_hot, axis=1)  # (N, c)
    x_rows = xp.expand_dims(x, axis=1)  # (N, 1, c)
    x_j = xp.sum(xp.where(one_hot, x_rows, xp.zeros_like(x_rows)), axis=2)  # (N, j)
    z = (1.0 - xp.expand_dims(x_j, axis=2)) + x_rows  # (N, j, k)
    # Strict >: a pair exactly at the margin passes no gradient, as torch's kernel.
    active = (z > 0) & xp.expand_dims(counted, axis=2) & xp.expand_dims(~is_target, axis=1)
    h = xp.where(active, z, xp.zeros_like(z))
    return xp.sum(xp.sum(h, axis=2), axis=1)


@loss_record(
    cls="MultiLabelMarginLoss", family="classification", mean="the batch size", streaming=ROWS, bench="rows"
)
def multilabel_margin_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Multi-label hinge loss between scores and the indices of the positive classes.

    .. math::
        \ell_i = \frac{1}{C} \sum_{j \in T_i} \sum_{k \notin T_i} \max(0,\ 1 - (x_{i,j} - x_{i,k}))

    :math:`T_i` holds the entries of ``target[i]`` before its first ``−1`` (duplicates
    count twice in the outer sum).

    Parameters
    ----------
    input : array
        Scores, shape ``(N, C)``, ``(C)`` or ``()``; float32 or float64.
    target : array
        Class indices of any integer dtype, padded with ``−1``, of ``input``'s shape.
        Every entry, also after the first ``−1``, must be in ``[−1, C)``.
    {legacy}
    {reduction}
        'mean' averages over the samples; an empty batch gives 0 for 'mean' and 'sum'.
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(N, C)``, ``(C)`` or ``()``; target the same; output ``()``, or
    ``(N)`` for 'none' with a batched input.

    No data-dependent shapes: the first ``−1`` of each row is found with a minimum over
    positions, and the targets form a mask.  A term exactly at the margin contributes no
    gradient (torch's strict ``>``).  float16 and bfloat16 raise ``NotImplementedError``
    as torch on CPU.  Class indices of every integer dtype are accepted (torch: int64
    only); see the parity notes, which also cover the empty batch.

    {lazy}  There, a sample with any target entry outside ``[−1, C)`` has a NaN loss
    (eager backends raise torch's ``RuntimeError: argument #2 'target' is out of range``).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> x = np.array([[0.1, 0.2, 0.4, 0.8]])
    >>> al.multilabel_margin_loss(x, np.array([[3, 0, -1, 1]])).round(4)
    np.float64(0.85)
    """
    backend, native, input, target, _, _ = dispatch("multilabel_margin_loss", xp, reduction, input, target)
    if native is not None:
        out = native(input, target, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "multilabel_margin_loss")
    xp = backend.xp
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    _check_margin_input(input)
    if input.ndim <= 1:
        nframe, n_classes = 1, (1 if input.ndim == 0 else input.shape[0])
        target_ok = target.ndim <= 1 and _xp.numel(target.shape) == n_classes
    else:
        nframe, n_classes = input.shape
        target_ok = tuple(target.shape) == tuple(input.shape)
    if not target_ok:
        raise RuntimeError(
            f"inconsistent target size: {_checks.list_str(target.shape)} for input of size: "
            f"{_checks.list_str(input.shape)}"
        )
    if not _xp.is_floating(xp, input.dtype) or _xp.is_half(input.dtype):
        raise NotImplementedError(
            '"multilabel_margin_loss_forward_out_frame" not implemented for '
            f"'{_checks.torch_dtype_name(input.dtype)}'"
        )
    _check_long_target(xp, target)
    with backend.quiet_floating_point():
        x = xp.reshape(input, (nframe, n_classes))
        t = xp.reshape(_index_target(xp, target), (nframe, n_classes))
        in_range = (t >= -1) & (t < n_classes)
        if nframe == 0:
            # Nothing to compare (and Dask cannot take the minimum of an empty axis).
            return _xp.as_result(xp, _margin_mean(xp, xp.sum(x, axis=1), nframe, reduction), input.dtype)
        if backend.is_concrete(in_range) and not bool(xp.all(in_range)):
            raise RuntimeError("argument #2 'target' is out of range")
        positions = _positions(backend, t)  # (N, C): positions[n, c] = c
        # Entries before the first −1 of each row count; a row without −1 counts whole.  A
        # row with an entry out of range gets −1 (no entry counts; its loss is NaN below),
        # so that compiled code checks the targets in the same pass over them.
        first = xp.where(t == -1, positions, xp.full_like(t, n_classes))
        end = xp.min(xp.where(in_range, first, xp.full_like(t, -1)), axis=1, keepdims=True)
        counted = positions < end  # (N, j)
        if backend.is_concrete(end):
            slots = int(xp.max(end))
            if nframe * slots * n_classes <= BROADCAST_LIMIT:
                # Few enough triples: one pass over all of them costs less than a loop.
                loss = _multilabel_hinge_broadcast(backend, x, t[:, :slots], positions, counted[:, :slots])
            else:
                loss = _multilabel_hinge_by_slot(backend, x, t, positions, counted, slots)
        elif backend.traced_loops and nframe * n_classes * n_classes > BROADCAST_LIMIT:
            loss = _multilabel_hinge_looped(backend, x, t, end)
        else:  # lazy arrays, or compiled code where every slot at once is few triples
            loss = _multilabel_hinge_broadcast(backend, x, t, positions, counted)
        loss = loss / n_classes
        loss = xp.where(end[:, 0] >= 0, loss, xp.full_like(loss, _NAN))
        if input.ndim <= 1:
            loss = xp.reshape(loss, ())
        return _xp.as_result(xp, _margin_mean(xp, loss, nframe, reduction), input.dtype)
