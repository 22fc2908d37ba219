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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

# torch's CPU products are full float32 (and its CUDA ones unless TF32 is switched on).
_PRECISION = lax.Precision.HIGHEST


class _Options(NamedTuple):
    ignore_index: int
    label_smoothing: float
    probabilities: bool
    softcap: float | None
    z_loss: float
    chunk_size: int


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
) -> tuple[Any, Any]:
    """``(loss, lse)``: the per-row losses ``(N,)`` (their sum, 0-d, when ``summed``) and the
    per-row log-normalisers ``(N,)`` (no gradient flows through them)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}")
    options = _Options(
        int(ignore_index),
        float(label_smoothing),
        bool(probabilities),
        None if softcap is None else float(softcap),
        float(z_loss),
        int(chunk_size),
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
    """The rows, padded to whole chunks and split ``(chunks, rows, ...)``, with their mask."""

    x: Any
    target: Any
    valid: Any
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
        n,
        size,
    )


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
    t = jnp.where(valid, target, jnp.zeros_like(target))
    w_t = jnp.ones(t.shape, z.dtype) if w is None else w[t]
    return _Weights(w, total, w_t, t)


def _row_loss(options: _Options, z: Any, lse: Any, target: Any, valid: Any, weights: _Weights) -> Any:
    eps, n_classes = options.label_smoothing, z.shape[1]
    minus_log_p = lse[:, None] - z
    if options.probabilities:
        q = target.astype(z.dtype)
        if eps:
            q = q * (1 - eps) + eps / n_classes
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
    scale = 2 * options.z_loss * lse if options.z_loss else 0.0
    if options.probabilities:
        q = target.astype(z.dtype)
        if eps:
            q = q * (1 - eps) + eps / n_classes
        wq = q if weights.w is None else weights.w * q
        dz = p * (jnp.sum(wq, axis=1) + scale)[:, None] - wq
    else:
        hit = (1 - eps) * weights.w_t
        dz = p * (hit + eps / n_classes * weights.total + scale)[:, None]
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
    chunk: tuple[Any, Any, Any],
    w: Any,
    b: Any,
    class_weight: Any,
    g: Any,
    lse: Any | None,
) -> tuple[Any, Any, Any, Any, Any, Any, Any]:
    """Loss rows, lse, dX rows, the logits' gradient (in the input's dtype, for dW), db share,
    d target rows, d class weight share."""
    x, target, valid = chunk
    need_x, need_w, need_b, need_target, need_class_weight = need
    acc = _compute_dtype(x.dtype)
    z, tanh = _logits(options, x, w, b)
    if lse is None:
        lse = _logsumexp(z)
    weights = _weights(options, z, target, valid, class_weight)
    loss = _row_loss(options, z, lse, target, valid, weights)
    dz = _logit_gradient(options, z, tanh, lse, target, valid, weights, g)
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
        share = _minus_log_p_weighted(options, z, lse, g, valid)
        if need_target:
            d_target = (1 - options.label_smoothing) * (share if weights.w is None else share * weights.w)
            d_target = d_target.astype(target.dtype)
        if need_class_weight:
            q = target.astype(z.dtype)
            if options.label_smoothing:
                q = q * (1 - options.label_smoothing) + options.label_smoothing / z.shape[1]
            d_class_weight = jnp.sum(share * q, axis=0)
    return loss, lse, dx, dz_in, db, d_target, d_class_weight


def _add_weight_gradient(dw_sum: Any, dz: Any, x: Any) -> Any:
    """``dw_sum + dz^T x``, written into ``dw_sum`` a tile of classes at a time.

    XLA does not add a product into a loop-carried buffer in place: ``dw_sum + dz^T x`` whole
    would hold a second ``(C, H)`` array, doubling the gradient's memory.  Tiles of ``C/16``
    classes updated in place keep the extra to one tile.
    """
    n_classes = dw_sum.shape[0]
    tile = max(1, n_classes // 16)
    full = n_classes // tile

    def product(dz_tile: Any) -> Any:
        return lax.dot_general(
            dz_tile, x, (((0,), (0,)), ((), ())), precision=_PRECISION, preferred_element_type=dw_sum.dtype
        )

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


def _forward(options: _Options, x: Any, w: Any, target: Any, b: Any, class_weight: Any) -> tuple[Any, Any]:
    """Loss rows ``(N,)`` and lse ``(N,)`` in the compute dtype: one product per chunk."""
    chunks = _split(options, x, target)

    def step(carry: None, chunk: tuple[Any, Any, Any]) -> tuple[None, tuple[Any, Any]]:
        xc, tc, vc = chunk
        z, _ = _logits(options, xc, w, b)
        lse = _logsumexp(z)
        weights = _weights(options, z, tc, vc, class_weight)
        return None, (_row_loss(options, z, lse, tc, vc, weights), lse)

    _, (loss, lse) = lax.scan(step, None, (chunks.x, chunks.target, chunks.valid))
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
    carry0 = (
        jnp.zeros(w.shape, acc) if need_w else None,
        jnp.zeros((n_classes,), acc) if need_b else None,
        jnp.zeros((n_classes,), acc) if need_class_weight else None,
    )

    def step(
        carry: tuple[Any, Any, Any], chunk: tuple[Any, ...]
    ) -> tuple[tuple[Any, Any, Any], tuple[Any, ...]]:
        dw_sum, db_sum, dcw_sum = carry
        xc, tc, vc, gc, lc = chunk
        loss, lse_c, dx, dz, db, d_target, d_class_weight = _grads_of_chunk(
            options, need, (xc, tc, vc), w, b, class_weight, gc, lc
        )
        carry = (
            _add_weight_gradient(dw_sum, dz, xc) if need_w else None,
            None if db is None else db_sum + db,
            None if d_class_weight is None else dcw_sum + d_class_weight,
        )
        return carry, (loss, lse_c, dx, d_target)

    (dw, db, dcw), (loss, lse_out, dx, d_target) = lax.scan(
        step, carry0, (chunks.x, chunks.target, chunks.valid, g, lse)
    )
    n = chunks.n_rows
    return (
        _unsplit(loss, n),
        _unsplit(lse_out, n),
        None if dx is None else _unsplit(dx, n),
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
