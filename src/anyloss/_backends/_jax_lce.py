"""JAX kernel of ``linear_cross_entropy``: the logits one chunk of rows at a time, never ``(N, C)``.

A ``jax.custom_vjp`` over a ``lax.scan`` of row chunks.  Per row ``n`` (``z = x_n W^T + b``,
optionally soft-capped ``z <- s·tanh(z/s)``, ``lse = logsumexp(z)``, ``w`` the class weight or
ones, ``eps`` the label smoothing, ``C`` classes):

- class index ``t`` (not ignored): ``(1-eps)·w_t·(lse - z_t) + eps/C·Σ_c w_c·(lse - z_c)``;
- class probabilities ``p``: ``Σ_c w_c·q_c·(lse - z_c)`` with ``q = (1-eps)·p + eps/C``;

plus ``z_loss·lse²`` on both (ignored rows give 0).  These are torch's
``cross_entropy(linear(x, W, b), target, reduction='none')`` elements.

Summed, the forward rule computes ``dX``, ``dW`` and ``db`` beside the loss (three matrix
products in all, the logits of a chunk used once) and the backward rule scales them by the
scalar cotangent.  Row by row, the backward rule recomputes each chunk's logits from the
saved log-normalisers.  The rules are told which inputs are differentiated
(``symbolic_zeros``): a gradient nobody asked for is not computed.

A chunk of fewer than ``TILE_ROWS`` rows of a larger batch becomes a block of as many
logits in more rows and fewer classes (:func:`anyloss._backends._generic.logit_blocks`):
the log-normalisers over the blocks of classes first (``logaddexp`` of each block's
log-sum-exp), then each block's logits again for the losses and gradients, four products
of many rows instead of three of a few (the latter run far below the machine's speed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

from ._generic import logit_blocks

# torch's CPU products are full float32 (and its CUDA ones unless TF32 is switched on).
_PRECISION = lax.Precision.HIGHEST


class _Options(NamedTuple):
    ignore_index: int
    label_smoothing: float
    probabilities: bool
    softcap: float | None
    z_loss: float
    chunk_size: int  # rows per chunk
    classes: int  # classes per block of a chunk's logits (all of them: whole rows)


def linear_cross_entropy_rows(
    input: Any,
    linear_weight: Any,
    target: Any,
    linear_bias: Any,
    class_weight: Any,
    *,
    ignore_index: int,
    label_smoothing: float,
    probabilities: bool,
    summed: bool,
    chunk_size: int,
    softcap: float | None = None,
    z_loss: float = 0.0,
    need_lse: bool = True,
) -> tuple[Any, Any]:
    """``(loss, lse)``: the per-row losses ``(N,)`` (their sum, 0-d, when ``summed``) and the
    per-row log-normalisers ``(N,)`` (no gradient flows through them; computed whatever
    ``need_lse`` says, since the backward rule reads them)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    rows, classes = logit_blocks(input.shape[0], linear_weight.shape[0], int(chunk_size))
    options = _Options(
        int(ignore_index),
        float(label_smoothing),
        bool(probabilities),
        None if softcap is None else float(softcap),
        float(z_loss),
        rows,
        classes,
    )
    kernel = _summed if summed else _rows
    loss, lse = kernel(options, input, linear_weight, target, linear_bias, class_weight)
    return loss, lax.stop_gradient(lse)


def _compute_dtype(dtype: Any) -> Any:
    # Half precision: products accumulate and the softmax runs in float32, as torch's CPU and
    # CUDA kernels do; the logits are rounded to the input's dtype first, as torch's linear
    # returns them, and each gradient is rounded once at the end.
    return jnp.float32 if jnp.dtype(dtype).itemsize < 4 else dtype


class _Chunks(NamedTuple):
    """The rows, padded to whole chunks and split ``(chunks, rows, ...)``, with their masks."""

    x: Any
    target: Any
    valid: Any
    exists: Any  # None where no row is padding
    n_rows: int
    size: int


def _split(options: _Options, x: Any, target: Any) -> _Chunks:
    n = x.shape[0]
    size = max(1, min(options.chunk_size, n))
    count = -(-n // size)
    pad = count * size - n
    x = jnp.pad(x, ((0, pad), (0, 0)))
    row_exists = jnp.arange(count * size) < n
    if options.probabilities:
        target = jnp.pad(target, ((0, pad), (0, 0)))
        valid = row_exists
    else:
        target = jnp.pad(target, (0, pad))
        valid = row_exists & (target != options.ignore_index)
    return _Chunks(
        x.reshape(count, size, x.shape[1]),
        target.reshape(count, size, *target.shape[1:]),
        valid.reshape(count, size),
        row_exists.reshape(count, size) if pad else None,
        n,
        size,
    )


def _real_rows(a: Any, exists: Any) -> Any:
    """``a`` with the rows of padding zeroed: their logits may be NaN (``0·inf``), and their
    share of a sum over rows must be 0 (an ignored row's NaN stays, as in torch)."""
    return a if exists is None else jnp.where(exists[:, None], a, jnp.zeros_like(a))


def _unsplit(rows: Any, n: int) -> Any:
    return rows.reshape(rows.shape[0] * rows.shape[1], *rows.shape[2:])[:n]


def _logits(options: _Options, x: Any, w: Any, b: Any) -> tuple[Any, Any]:
    """The chunk's logits in the compute dtype, and ``tanh`` of the soft cap's argument."""
    acc = _compute_dtype(x.dtype)
    z = lax.dot_general(x, w, (((1,), (1,)), ((), ())), precision=_PRECISION, preferred_element_type=acc)
    if b is not None:
        z = z + b.astype(acc)
    z = z.astype(x.dtype).astype(acc)
    if options.softcap is None:
        return z, None
    tanh = jnp.tanh(z / options.softcap)
    return options.softcap * tanh, tanh


def _logsumexp(z: Any) -> Any:
    """Each row's log-sum-exp; NaN where its largest logit is +inf, as torch's log_softmax
    gives (it subtracts the maximum first)."""
    top = lax.stop_gradient(jnp.max(z, axis=1, keepdims=True))
    lse = jnp.log(jnp.sum(jnp.exp(z - jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))), axis=1))
    lse = lse + jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))[:, 0]
    return jnp.where(top[:, 0] == jnp.inf, jnp.full_like(lse, jnp.nan), lse)


class _Weights(NamedTuple):
    """The class weight in the compute dtype (None: ones), its sum and the target's weight."""

    w: Any
    total: Any
    w_t: Any
    t: Any


def _weights(options: _Options, z: Any, target: Any, valid: Any, class_weight: Any) -> _Weights:
    n_classes = z.shape[1]
    w = None if class_weight is None else class_weight.astype(z.dtype)
    total = n_classes if w is None else jnp.sum(w)
    if options.probabilities:
        return _Weights(w, total, None, None)
    index = _index_target(target, valid, w, n_classes, z.dtype)
    return _Weights(w, total, index.w_t, index.t)


def _smoothed(options: _Options, target: Any, n_classes: int, dtype: Any) -> Any:
    """A probability target with label smoothing: ``(1 − ε)·q + ε/C``."""
    q = target.astype(dtype)
    eps = options.label_smoothing
    return q * (1 - eps) + eps / n_classes if eps else q


def _index_scale(options: _Options, lse: Any, n_classes: int, total: Any, w_t: Any) -> Any:
    """Each row's factor of the softmax in ``d loss / d z`` for a class index: its share of
    the target, ``(1 − ε)·w_t + ε/C·Σ w``, plus the z-loss's ``2·z_loss·lse``."""
    eps = options.label_smoothing
    return _plus_z_loss(options, (1 - eps) * w_t + eps / n_classes * total, lse)


def _probability_scale(options: _Options, lse: Any, wq: Any) -> Any:
    """Each row's factor of the softmax in ``d loss / d z`` for probabilities: ``Σ w·q̃``,
    plus the z-loss's ``2·z_loss·lse``."""
    return _plus_z_loss(options, jnp.sum(wq, axis=1), lse)


def _plus_z_loss(options: _Options, share: Any, lse: Any) -> Any:
    return share + 2 * options.z_loss * lse if options.z_loss else share


def _row_loss(options: _Options, z: Any, lse: Any, target: Any, valid: Any, weights: _Weights) -> Any:
    eps, n_classes = options.label_smoothing, z.shape[1]
    minus_log_p = lse[:, None] - z
    if options.probabilities:
        q = _smoothed(options, target, n_classes, z.dtype)
        wq = q if weights.w is None else weights.w * q
        loss = jnp.sum(wq * minus_log_p, axis=1)
    else:
        z_t = jnp.take_along_axis(minus_log_p, weights.t[:, None], axis=1)[:, 0]
        loss = weights.w_t * z_t
        if eps:
            smooth = jnp.sum(minus_log_p if weights.w is None else weights.w * minus_log_p, axis=1)
            loss = (1 - eps) * loss + eps / n_classes * smooth
    if options.z_loss:
        loss = loss + options.z_loss * lse * lse
    return jnp.where(valid, loss, jnp.zeros_like(loss))


def _logit_gradient(
    options: _Options, z: Any, tanh: Any, lse: Any, target: Any, valid: Any, weights: _Weights, g: Any
) -> Any:
    """``d loss / d (x W^T + b)`` for the chunk, each row scaled by its cotangent ``g``."""
    eps, n_classes = options.label_smoothing, z.shape[1]
    p = jnp.exp(z - lse[:, None])
    g = jnp.where(valid, g, jnp.zeros_like(g))
    if options.probabilities:
        q = _smoothed(options, target, n_classes, z.dtype)
        wq = q if weights.w is None else weights.w * q
        dz = p * _probability_scale(options, lse, wq)[:, None] - wq
    else:
        hit = (1 - eps) * weights.w_t
        dz = p * _index_scale(options, lse, n_classes, weights.total, weights.w_t)[:, None]
        if eps:
            dz = dz - eps / n_classes * (1.0 if weights.w is None else weights.w)
        classes = lax.broadcasted_iota(weights.t.dtype, z.shape, 1)
        dz = dz - jnp.where(classes == weights.t[:, None], hit[:, None], jnp.zeros_like(dz))
    dz = dz * g[:, None]
    if tanh is not None:
        dz = dz * (1 - tanh * tanh)
    return dz


def _minus_log_p_weighted(options: _Options, z: Any, lse: Any, g: Any, valid: Any) -> Any:
    """``g·(lse - z)`` for probability targets: the chunk's share of their and the weight's
    gradients (rows of padding give 0)."""
    g = jnp.where(valid, g, jnp.zeros_like(g))
    return g[:, None] * (lse[:, None] - z)


def _grads_of_chunk(
    options: _Options,
    need: tuple[bool, bool, bool, bool, bool],
    chunk: tuple[Any, Any, Any, Any],
    w: Any,
    b: Any,
    class_weight: Any,
    g: Any,
    lse: Any | None,
) -> tuple[Any, Any, Any, Any, Any, Any, Any]:
    """Loss rows, lse, dX rows, the logits' gradient (in the input's dtype, for dW), db share,
    d target rows, d class weight share."""
    x, target, valid, exists = chunk
    need_x, need_w, need_b, need_target, need_class_weight = need
    acc = _compute_dtype(x.dtype)
    z, tanh = _logits(options, x, w, b)
    if lse is None:
        lse = _logsumexp(z)
    weights = _weights(options, z, target, valid, class_weight)
    loss = _row_loss(options, z, lse, target, valid, weights)
    dz = _real_rows(_logit_gradient(options, z, tanh, lse, target, valid, weights, g), exists)
    dz_in = dz.astype(x.dtype)
    dx = db = d_target = d_class_weight = None
    if need_x:
        dx = lax.dot_general(
            dz_in, w, (((1,), (0,)), ((), ())), precision=_PRECISION, preferred_element_type=acc
        )
        dx = dx.astype(x.dtype)
    if need_b:
        db = jnp.sum(dz, axis=0)
    if need_target or need_class_weight:
        # Probability targets only: torch differentiates -Σ w·q·log_softmax in both.
        share = _real_rows(_minus_log_p_weighted(options, z, lse, g, valid), exists)
        if need_target:
            d_target = (1 - options.label_smoothing) * (share if weights.w is None else share * weights.w)
            d_target = d_target.astype(target.dtype)
        if need_class_weight:
            d_class_weight = jnp.sum(share * _smoothed(options, target, z.shape[1], z.dtype), axis=0)
    return loss, lse, dx, dz_in, db, d_target, d_class_weight


def _add_weight_gradient(dw_sum: Any, dz: Any, x: Any, acc: Any) -> Any:
    """``dw_sum + dz^T x``, written into ``dw_sum`` a tile of classes at a time (``dw_sum``
    None: the product alone, for a batch of one chunk).

    XLA does not add a product into a loop-carried buffer in place: ``dw_sum + dz^T x`` whole
    would hold a second ``(C, H)`` array, doubling the gradient's memory.  Tiles of ``C/16``
    classes updated in place keep the extra to one tile.
    """

    def product(dz_tile: Any) -> Any:
        return lax.dot_general(
            dz_tile, x, (((0,), (0,)), ((), ())), precision=_PRECISION, preferred_element_type=acc
        )

    if dw_sum is None:
        return product(dz)
    n_classes = dw_sum.shape[0]
    tile = max(1, n_classes // 16)
    full = n_classes // tile

    def add_tile(j: Any, dw_sum: Any) -> Any:
        start = j * tile
        current = lax.dynamic_slice_in_dim(dw_sum, start, tile, 0)
        dz_tile = lax.dynamic_slice_in_dim(dz, start, tile, 1)
        return lax.dynamic_update_slice_in_dim(dw_sum, current + product(dz_tile), start, 0)

    dw_sum = lax.fori_loop(0, full, add_tile, dw_sum)
    if full * tile < n_classes:
        start = full * tile
        rest = dw_sum[start:] + product(dz[:, start:])
        dw_sum = lax.dynamic_update_slice_in_dim(dw_sum, rest, start, 0)
    return dw_sum


def _scan(step: Any, carry: Any, chunks: tuple[Any, ...]) -> tuple[Any, Any]:
    """``lax.scan(step, carry, chunks)``; a single chunk is the step itself, in straight-line
    code, which XLA fuses with what comes before and after (a loop's body it compiles apart:
    at N=256, H=64, C=1000 the loop of one took 1.2× the time of its body)."""
    if jax.tree.leaves(chunks)[0].shape[0] != 1:
        return lax.scan(step, carry, chunks)
    carry, out = step(carry, jax.tree.map(lambda a: a[0], chunks))
    return carry, jax.tree.map(lambda a: a[None], out)


def _over_classes(n_classes: int, size: int, body: Any, carry: Any) -> Any:
    """``body(start, size, carry)`` over the blocks of ``size`` classes, in order: the whole
    blocks in a ``fori_loop``, the shorter last one apart (its own static size)."""
    full = n_classes // size
    if full:
        carry = lax.fori_loop(0, full, lambda j, c: body(j * size, size, c), carry)
    if full * size < n_classes:
        carry = body(full * size, n_classes - full * size, carry)
    return carry


def _columns(a: Any, start: Any, size: int, axis: int = 0) -> Any:
    return None if a is None else lax.dynamic_slice_in_dim(a, start, size, axis)


def _add_columns(total: Any, start: Any, size: int, value: Any, axis: int = 0) -> Any:
    """``total`` with ``value`` added to its ``size`` entries from ``start`` along ``axis``
    (in place: ``total`` is a loop's carry)."""
    current = lax.dynamic_slice_in_dim(total, start, size, axis)
    return lax.dynamic_update_slice_in_dim(total, current + value, start, axis)


class _Target(NamedTuple):
    """A block of rows' class-index targets as the tiled kernel reads them."""

    t: Any  # the target, 0 where ignored
    in_range: Any
    w_t: Any  # the target's class weight (1 without class weights)


def _index_target(target: Any, valid: Any, w: Any, n_classes: int, acc: Any) -> _Target:
    """The target's rows; ``w`` is the class weight already in the compute dtype ``acc``."""
    t = jnp.where(valid, target, jnp.zeros_like(target))
    in_range = (t >= 0) & (t < n_classes)
    if w is None:
        w_t = jnp.ones(t.shape, acc)
    else:
        w_t = w[jnp.clip(t, 0, n_classes - 1)]
    return _Target(t, in_range, w_t)


def _tiled_lse(options: _Options, x: Any, w: Any, b: Any, index: _Target | None) -> tuple[Any, Any]:
    """A block of rows' log-normalisers over blocks of classes (each block's log-sum-exp,
    added with ``logaddexp``) and, for class indices, the target's logit (NaN where the
    target is out of range)."""
    acc = _compute_dtype(x.dtype)
    rows = x.shape[0]

    def body(start: Any, size: int, carry: tuple[Any, Any]) -> tuple[Any, Any]:
        lse, picked = carry
        z, _ = _logits(options, x, _columns(w, start, size), _columns(b, start, size))
        lse = jnp.logaddexp(lse, _logsumexp(z))
        if index is not None:
            local = index.t - start
            here = (local >= 0) & (local < size)
            z_t = jnp.take_along_axis(z, jnp.clip(local, 0, size - 1)[:, None], axis=1)[:, 0]
            picked = jnp.where(here, z_t, picked)
        return lse, picked

    init = (jnp.full((rows,), -jnp.inf, acc), jnp.full((rows,), jnp.nan, acc))
    return _over_classes(w.shape[0], options.classes, body, init)


def _tiled_chunk(
    options: _Options,
    need: tuple[bool, bool, bool, bool, bool],
    chunk: tuple[Any, Any, Any, Any],
    w: Any,
    b: Any,
    class_weight: Any,
    g: Any,
    lse: Any | None,
    sums: tuple[Any, Any, Any],
) -> tuple[tuple[Any, Any, Any], tuple[Any, ...]]:
    """:func:`_grads_of_chunk` over blocks of ``options.classes`` classes of a chunk's
    logits: their log-normalisers first (unless given: then no loss is computed), then the
    losses and the gradients from each block's logits computed again.  ``sums`` are the
    running ``dW``, ``db`` and class weight gradient, returned with the block's shares
    added; then the loss, lse, dX and target gradient rows."""
    x, target, valid, exists = chunk
    need_x, need_w, need_b, need_target, need_class_weight = need
    acc = _compute_dtype(x.dtype)
    n_classes, eps = w.shape[0], options.label_smoothing
    cw = None if class_weight is None else class_weight.astype(acc)
    index = None if options.probabilities else _index_target(target, valid, cw, n_classes, acc)
    want_loss = lse is None
    picked = None
    if lse is None:
        lse, picked = _tiled_lse(options, x, w, b, index)
    g = jnp.where(valid, g, jnp.zeros_like(g))
    total = n_classes if cw is None else jnp.sum(cw)
    if index is None:
        q = _smoothed(options, target, n_classes, acc)
        wq = q if cw is None else cw * q
        scale = _probability_scale(options, lse, wq)
    else:
        hit = (1 - eps) * index.w_t
        scale = _index_scale(options, lse, n_classes, total, index.w_t)
    logit_grads = need_x or need_w or need_b
    spreads = want_loss and (index is None or eps > 0)

    def body(start: Any, size: int, carry: tuple[Any, ...]) -> tuple[Any, ...]:
        dx, dw, db, dcw, spread, d_target = carry
        w_block = _columns(w, start, size)
        z, tanh = _logits(options, x, w_block, _columns(b, start, size))
        centred = z - lse[:, None]
        cw_block = _columns(cw, start, size)
        wq_block: Any = None if index is not None else _columns(wq, start, size, 1)
        if spreads:
            share = wq_block if index is None else cw_block
            spread = spread + jnp.sum(centred if share is None else centred * share, axis=1)
        if logit_grads:
            dz = jnp.exp(centred) * scale[:, None]
            if index is None:
                dz = dz - wq_block
            else:
                if eps:
                    dz = dz - eps / n_classes * (1.0 if cw_block is None else cw_block)
                classes = lax.broadcasted_iota(index.t.dtype, z.shape, 1) + start
                dz = dz - jnp.where(classes == index.t[:, None], hit[:, None], jnp.zeros_like(dz))
            dz = dz * g[:, None]
            if tanh is not None:
                dz = dz * (1 - tanh * tanh)
            dz = _real_rows(dz, exists)
            dz_in = dz.astype(x.dtype)
            if need_x:
                dx = dx + lax.dot_general(
                    dz_in, w_block, (((1,), (0,)), ((), ())), precision=_PRECISION, preferred_element_type=acc
                )
            if need_w:
                dw_block = lax.dot_general(
                    dz_in, x, (((0,), (0,)), ((), ())), precision=_PRECISION, preferred_element_type=acc
                )
                dw = _add_columns(dw, start, size, dw_block)
            if need_b:
                db = _add_columns(db, start, size, jnp.sum(dz, axis=0))
        if need_target or need_class_weight:
            # Probability targets only: torch differentiates -Σ w·q·log_softmax in both.
            share = _real_rows(-g[:, None] * centred, exists)
            if need_target:
                d = (1 - eps) * (share if cw_block is None else share * cw_block)
                d_target = lax.dynamic_update_slice_in_dim(d_target, d.astype(d_target.dtype), start, 1)
            if need_class_weight:
                q_block = _smoothed(options, _columns(target, start, size, 1), n_classes, acc)
                dcw = _add_columns(dcw, start, size, jnp.sum(share * q_block, axis=0))
        return dx, dw, db, dcw, spread, d_target

    dw, db, dcw = sums
    init: tuple[Any, ...] = (
        jnp.zeros(x.shape, acc) if need_x else None,
        dw,
        db,
        dcw,
        jnp.zeros(lse.shape, acc) if spreads else None,
        jnp.zeros(target.shape, target.dtype) if need_target else None,
    )
    if logit_grads or spreads or need_target or need_class_weight:
        init = _over_classes(n_classes, options.classes, body, init)
    dx, dw, db, dcw, spread, d_target = init
    loss = None
    if want_loss:
        if index is None:
            loss = -spread
        else:
            loss = index.w_t * jnp.where(index.in_range, lse - picked, jnp.nan)
            if eps:
                loss = (1 - eps) * loss - eps / n_classes * spread
        if options.z_loss:
            loss = loss + options.z_loss * lse * lse
        loss = jnp.where(valid, loss, jnp.zeros_like(loss))
    return (dw, db, dcw), (loss, lse, None if dx is None else dx.astype(x.dtype), d_target)


def _forward(options: _Options, x: Any, w: Any, target: Any, b: Any, class_weight: Any) -> tuple[Any, Any]:
    """Loss rows ``(N,)`` and lse ``(N,)`` in the compute dtype: one product per chunk (two
    over blocks of classes with label smoothing or probability targets)."""
    chunks = _split(options, x, target)
    blocks = options.classes < w.shape[0]

    def step(carry: None, chunk: tuple[Any, Any, Any]) -> tuple[None, tuple[Any, Any]]:
        xc, tc, vc = chunk
        if blocks:
            ones = jnp.ones(vc.shape, _compute_dtype(xc.dtype))
            _, (loss, lse, _, _) = _tiled_chunk(
                options, (False,) * 5, (xc, tc, vc, None), w, b, class_weight, ones, None, (None, None, None)
            )
            return None, (loss, lse)
        z, _ = _logits(options, xc, w, b)
        lse = _logsumexp(z)
        weights = _weights(options, z, tc, vc, class_weight)
        return None, (_row_loss(options, z, lse, tc, vc, weights), lse)

    _, (loss, lse) = _scan(step, None, (chunks.x, chunks.target, chunks.valid))
    return _unsplit(loss, chunks.n_rows), _unsplit(lse, chunks.n_rows)


def _gradients(
    options: _Options,
    need: tuple[bool, bool, bool, bool, bool],
    x: Any,
    w: Any,
    target: Any,
    b: Any,
    class_weight: Any,
    g_rows: Any | None,
    lse_rows: Any | None,
) -> tuple[Any, ...]:
    """One pass over the chunks: loss rows, lse rows and the gradients asked for in ``need``
    (``g_rows`` None: each row's cotangent is 1; ``lse_rows`` None: computed here)."""
    chunks = _split(options, x, target)
    acc = _compute_dtype(x.dtype)
    count, size = chunks.x.shape[0], chunks.size
    pad = count * size - chunks.n_rows
    g = (
        jnp.ones((count, size), acc)
        if g_rows is None
        else jnp.pad(g_rows.astype(acc), (0, pad)).reshape(count, size)
    )
    lse = None if lse_rows is None else jnp.pad(lse_rows, (0, pad)).reshape(count, size)
    need_x, need_w, need_b, need_target, need_class_weight = need
    n_classes = w.shape[0]
    tiled = options.classes < n_classes
    carry0 = (
        # One chunk of whole rows: dW is its product alone, with no running sum to add to.
        jnp.zeros(w.shape, acc) if need_w and (count != 1 or tiled) else None,
        jnp.zeros((n_classes,), acc) if need_b else None,
        jnp.zeros((n_classes,), acc) if need_class_weight else None,
        # dX written in place, a chunk of rows at a time: stacked as the scan's output, its
        # (chunks, rows, H) shape would keep XLA from scaling it in place in the backward rule,
        # holding it twice.
        jnp.zeros((count * size, x.shape[1]), x.dtype) if need_x else None,
    )

    def chunk_step(sums: tuple[Any, Any, Any], chunk: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...]]:
        xc, tc, vc, ec, gc, lc = chunk
        if tiled:
            return _tiled_chunk(options, need, (xc, tc, vc, ec), w, b, class_weight, gc, lc, sums)
        dw_sum, db_sum, dcw_sum = sums
        loss, lse_c, dx, dz, db, d_target, d_class_weight = _grads_of_chunk(
            options, need, (xc, tc, vc, ec), w, b, class_weight, gc, lc
        )
        sums = (
            _add_weight_gradient(dw_sum, dz, xc, acc) if need_w else None,
            None if db is None else db_sum + db,
            None if d_class_weight is None else dcw_sum + d_class_weight,
        )
        return sums, (loss, lse_c, dx, d_target)

    def step(carry: tuple[Any, ...], chunk: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        *sums, dx_all = carry
        sums, (loss, lse_c, dx, d_target) = chunk_step(tuple(sums), chunk[1:])
        if dx is not None:
            dx_all = lax.dynamic_update_slice_in_dim(dx_all, dx, chunk[0] * size, 0)
        return (*sums, dx_all), (loss, lse_c, d_target)

    (dw, db, dcw, dx), (loss, lse_out, d_target) = _scan(
        step, carry0, (jnp.arange(count), chunks.x, chunks.target, chunks.valid, chunks.exists, g, lse)
    )
    n = chunks.n_rows
    return (
        None if loss is None else _unsplit(loss, n),
        _unsplit(lse_out, n),
        dx if dx is None or pad == 0 else dx[:n],
        None if dw is None else dw.astype(w.dtype),
        None if db is None else db.astype(b.dtype),
        None if d_target is None else _unsplit(d_target, n),
        None if dcw is None else dcw.astype(class_weight.dtype),
    )


def _perturbed(options: _Options, *args: Any) -> tuple[bool, bool, bool, bool, bool]:
    x, w, target, b, class_weight = (getattr(a, "perturbed", False) for a in args)
    # Class indices and (for index targets) the class weight have no gradient in torch.
    return x, w, b, target and options.probabilities, class_weight and options.probabilities


@jax.tree_util.register_static
@dataclass(frozen=True)
class _Need:
    """Which inputs the backward rule differentiates: known when tracing, kept out of the
    arrays saved for it."""

    need: tuple[bool, bool, bool, bool, bool]


def _values(*args: Any) -> tuple[Any, ...]:
    return tuple(None if a is None else a.value for a in args)


def _summed_fwd(options: _Options, *primals: Any) -> tuple[tuple[Any, Any], tuple[Any, ...]]:
    need = _perturbed(options, *primals)
    x, w, target, b, class_weight = _values(*primals)
    loss, lse, dx, dw, db, d_target, dcw = _gradients(
        options, need, x, w, target, b, class_weight, None, None
    )
    # The sum stays in the compute dtype (float32 for half inputs): 'mean' divides it there
    # and rounds once, as the other backends do.
    return (jnp.sum(loss), lse), (dx, dw, db, d_target, dcw)


def _summed_bwd(options: _Options, saved: tuple[Any, ...], cotangents: tuple[Any, Any]) -> tuple[Any, ...]:
    g = cotangents[0]
    if isinstance(g, SymbolicZero):
        return (None,) * 5
    dx, dw, db, d_target, dcw = saved

    def scale(d: Any) -> Any:
        # A gradient that is exactly 0 (ignored rows only: torch's kernel never visits them)
        # stays 0 when the cotangent is not finite ('mean' over no targets divides by 0).
        if d is None:
            return None
        return jnp.where(d == 0, jnp.zeros_like(d), d * g.astype(d.dtype)).astype(d.dtype)

    return scale(dx), scale(dw), scale(d_target), scale(db), scale(dcw)


def _rows_fwd(options: _Options, *primals: Any) -> tuple[tuple[Any, Any], tuple[Any, ...]]:
    need = _perturbed(options, *primals)
    x, w, target, b, class_weight = _values(*primals)
    loss, lse = _forward(options, x, w, target, b, class_weight)
    return (loss.astype(x.dtype), lse), (_Need(need), x, w, target, b, class_weight, lse)


def _rows_bwd(options: _Options, saved: tuple[Any, ...], cotangents: tuple[Any, Any]) -> tuple[Any, ...]:
    g = cotangents[0]
    flags, x, w, target, b, class_weight, lse = saved
    need = flags.need
    if isinstance(g, SymbolicZero) or not any(need):
        return (None,) * 5
    _, _, dx, dw, db, d_target, dcw = _gradients(options, need, x, w, target, b, class_weight, g, lse)
    return dx, dw, d_target, db, dcw


def _make(fwd: Any, bwd: Any, primal: Any) -> Any:
    f = jax.custom_vjp(primal, nondiff_argnums=(0,))
    f.defvjp(fwd, bwd, symbolic_zeros=True)
    return f


def _rows_primal(
    options: _Options, x: Any, w: Any, target: Any, b: Any, class_weight: Any
) -> tuple[Any, Any]:
    loss, lse = _forward(options, x, w, target, b, class_weight)
    return loss.astype(x.dtype), lse


def _summed_primal(
    options: _Options, x: Any, w: Any, target: Any, b: Any, class_weight: Any
) -> tuple[Any, Any]:
    loss, lse = _forward(options, x, w, target, b, class_weight)
    return jnp.sum(loss), lse


_rows = _make(_rows_fwd, _rows_bwd, _rows_primal)
_summed = _make(_summed_fwd, _summed_bwd, _summed_primal)
