"""Embedding and ranking losses: margin_ranking_loss, hinge_embedding_loss,
cosine_embedding_loss, triplet_margin_loss, triplet_margin_with_distance_loss."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend, backend_for
from .._dispatch import declined, dispatch
from .._registry import ROWS, Streaming, loss_record

__all__ = [
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

# torch's cosine_embedding_loss adds EPSILON = 1e-12 to each squared norm; that constant
# is a C++ float, so float64 inputs see float32's nearest value to 1e-12.
_COSINE_EPS = 9.999999960041972e-13


# --- margin_ranking_loss ---------------------------------------------------------------


@loss_record(cls="MarginRankingLoss", family="embedding", mean="the number of terms")
def margin_ranking_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Margin ranking loss: how far ``input1`` fails to rank above ``input2`` by ``margin``.

    .. math:: \ell_i = \max(0, -t_i\,(x_{1,i} - x_{2,i}) + \text{margin})

    Parameters
    ----------
    input1, input2 : array
        Scores, any shape.
    target : array
        ``1`` where ``input1`` should rank higher, ``-1`` where ``input2`` should.  Any
        other value is used as is, as in torch.  ``input1``, ``input2`` and ``target``
        must have the same number of dimensions (``RuntimeError`` otherwise); they then
        broadcast.
    margin : float, default 0
    {legacy}
    {reduction}
    {xp}

    {returns}

    Notes
    -----
    Shape: input1 ``(*)``, input2 ``(*)``, target ``(*)`` (same ndim); output ``()``, or
    the broadcast shape for 'none'.

    The result dtype is the promotion of the three arrays; integer arrays alone give
    float32, as in torch.  At exactly ``−t·(x1 − x2) + margin = 0`` the gradient
    passes, as torch's ``clamp_min`` does.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.margin_ranking_loss(np.array([1.0, 2.0]), np.array([2.0, 0.5]), np.array([1.0, 1.0]))
    array(0.5)
    """
    backend, native, input1, input2, target, _ = dispatch(
        "margin_ranking_loss", xp, reduction, input1, input2, target
    )
    xp = backend.xp
    if native is not None:
        out = native(input1, input2, target, margin, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "margin_ranking_loss")
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {_checks.size_str(input1.shape)}, input2: {_checks.size_str(input2.shape)}, "
            f"target: {_checks.size_str(target.shape)} "
        )
    _checks.broadcast_shapes(target.shape, _checks.broadcast_shapes(input1.shape, input2.shape))
    _checks.check_subtraction(xp, input1.dtype, input2.dtype)
    if _xp.isdtype(xp, target.dtype, "bool"):
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    dtype = _checks.float_result_type(xp, input1, input2, target)
    work = _xp.compute_dtype(xp, dtype)
    with backend.quiet_floating_point():
        x1 = _xp.astype(xp, input1, work)
        x2 = _xp.astype(xp, input2, work)
        if _xp.is_floating(xp, target.dtype):
            t = _xp.astype(xp, target, work)
            # m − t·(x1 − x2) is torch's −t·(x1 − x2) + m to the bit, one pass shorter.
            loss = backend.clamp_min(float(margin) - t * (x1 - x2), 0)
        else:
            # torch negates an integer target in its own dtype (in uint8, −1 is 255).
            loss = backend.clamp_min(_xp.astype(xp, -target, work) * (x1 - x2) + float(margin), 0)
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


# --- hinge_embedding_loss --------------------------------------------------------------


@loss_record(cls="HingeEmbeddingLoss", family="embedding", mean="the number of terms")
def hinge_embedding_loss(
    input: Any,
    target: Any,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Hinge embedding loss: ``x`` for similar pairs, ``max(0, margin − x)`` for dissimilar ones.

    .. math::
        \ell_i = [t_i \ne 1]\,\max(0, \text{margin} - x_i) + [t_i \ne -1]\,x_i

    Parameters
    ----------
    input : array
        Distances (or any scores), any shape.
    target : array
        ``1`` or ``-1``, broadcastable with ``input``.  A target that is neither gets
        both terms, ``x + max(0, margin − x)``, as in torch.
    margin : float, default 1.0
    {legacy}
    {reduction}
    {xp}

    {returns}

    Notes
    -----
    Shape: input ``(*)``, target ``(*)``; output ``()``, or the broadcast shape for 'none'.

    The result has ``input``'s dtype (the target's dtype does not promote it).  Integer
    inputs stay integer as in torch: the margin is truncated to an integer, 'sum' gives
    int64 and 'mean' raises ``RuntimeError``.  At exactly ``x = margin`` the gradient of
    the hinge passes (−1), as torch's ``clamp_min`` does.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.hinge_embedding_loss(np.array([0.3, 0.2, 1.5]), np.array([1.0, -1.0, -1.0]),
    ...                         reduction="none")
    array([0.3, 0.8, 0. ])
    """
    backend, native, input, target, _, _ = dispatch("hinge_embedding_loss", xp, reduction, input, target)
    xp = backend.xp
    if native is not None:
        out = native(input, target, margin, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "hinge_embedding_loss")
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    dtype = input.dtype
    if _xp.isdtype(xp, dtype, "bool"):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    # torch's first broadcast is where(target != 1, ...): the target is tensor a.
    _checks.broadcast_shapes(target.shape, input.shape)
    integral = not _xp.is_floating(xp, dtype)
    if integral and reduction == "mean":
        raise _checks.mean_dtype_error(dtype)
    work = _xp.compute_dtype(xp, dtype)
    with backend.quiet_floating_point():
        x = _xp.astype(xp, input, work)
        # torch's kernel converts the margin to the input's dtype: integers truncate it.
        m = int(margin) if integral else _checks.scalar_option(margin, dtype, integer=False)
        hinge = backend.clamp_min(m - x, 0)
        loss = backend.hinge_embedding_terms(x, hinge, _xp.as_signed(xp, target))
        loss = _reduction.apply(backend, loss, reduction)
        if integral and reduction == "sum":
            # torch sums every integer dtype into int64.
            dtype = _xp.index_dtype(xp, loss)
        return _xp.as_result(xp, loss, dtype)


# --- cosine_embedding_loss -------------------------------------------------------------


@loss_record(
    cls="CosineEmbeddingLoss", family="embedding", mean="the batch size", streaming=ROWS, bench="rows"
)
def cosine_embedding_loss(
    input1: Any,
    input2: Any,
    target: Any,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Cosine embedding loss: ``1 − cos`` for similar pairs, ``max(0, cos − margin)`` for dissimilar.

    .. math::
        \cos_i = \frac{\sum_d x_{1,id}\,x_{2,id}}
        {\sqrt{(\sum_d x_{1,id}^2 + \epsilon)(\sum_d x_{2,id}^2 + \epsilon)}}, \quad
        \ell_i = \begin{cases} 1 - \cos_i & t_i = 1 \\ \max(0, \cos_i - \text{margin}) & t_i = -1
        \\ 0 & \text{otherwise} \end{cases}

    with :math:`\epsilon = 10^{-12}`, torch's constant.

    Parameters
    ----------
    input1, input2 : array
        Embeddings ``(N, D)`` (broadcastable with each other), or ``(D,)`` unbatched.
    target : array
        ``(N,)`` (broadcastable with the batch) or ``()`` unbatched: ``1`` or ``-1``;
        any other value gives a loss of 0, as in torch.
    margin : float, default 0
    {legacy}
    {reduction}
    {xp}

    {returns}

    Notes
    -----
    Shape: input1 ``(N, D)`` or ``(D,)``, input2 the same, target ``(N,)`` or ``()``;
    output ``()``, or ``(N,)`` (``()`` unbatched) for 'none'.

    The result dtype is the promotion of ``input1`` and ``input2`` (integers give
    float32); the target's dtype does not take part, as in torch.  Zero vectors give
    ``cos = 0`` and finite gradients.  At exactly ``cos = margin`` the gradient of the
    dissimilar branch passes, as torch's ``clamp_min`` does.  float16 inputs are computed
    in float32: zero vectors give ``cos = 0`` where torch's float16 arithmetic loses the
    ``1e-12`` and returns NaN (parity notes).

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> al.cosine_embedding_loss(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), np.array([1]))
    array(1.)
    """
    backend, native, input1, input2, target, _ = dispatch(
        "cosine_embedding_loss", xp, reduction, input1, input2, target
    )
    if native is not None:
        out = native(input1, input2, target, margin, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "cosine_embedding_loss")
    xp = backend.xp
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    if target.ndim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    sizes = f"{_checks.list_str(input1.shape)} and {_checks.list_str(input2.shape)}."
    if target.ndim == 1 and not (input1.ndim == 2 and input2.ndim == 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes {sizes}")
    if target.ndim == 0 and not (input1.ndim == 1 and input2.ndim == 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes {sizes}")
    pair_shape = _checks.broadcast_shapes(input1.shape, input2.shape)
    _checks.broadcast_shapes(target.shape, pair_shape[:-1])
    dtype = _checks.float_result_type(xp, input1, input2)
    work = _xp.compute_dtype(xp, dtype)
    with backend.quiet_floating_point():
        dot = _sum_of_products(xp, input1, input2, work)
        # The epsilon keeps the denominator positive: zero vectors give cos = 0/1e-12 = 0,
        # with finite gradients, and no guard is needed.
        squares1 = _sum_of_products(xp, input1, input1, work) + _COSINE_EPS
        squares2 = _sum_of_products(xp, input2, input2, work) + _COSINE_EPS
        cos = dot / xp.sqrt(squares1 * squares2)
        zero = xp.zeros_like(cos)
        dissimilar = backend.clamp_min(cos - float(margin), 0)
        target = _xp.as_signed(xp, target)  # torch compares an unsigned target with −1 as 255
        loss = xp.where(target == 1, 1.0 - cos, zero) + xp.where(target == -1, dissimilar, zero)
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


def _sum_of_products(xp: Any, a: Any, b: Any, work: Any) -> Any:
    """``sum(a·b)`` over the last axis, in ``work``, as torch computes it: integers are
    multiplied in their own dtype (uint8 products wrap) and summed in int64."""
    pair = _checks.result_type(xp, a, b)
    if _xp.isdtype(xp, pair, "integral"):
        a, b = _xp.astype(xp, a, pair), _xp.astype(xp, b, pair)
        return _xp.astype(xp, xp.sum(a * b, axis=-1, dtype=_xp.index_dtype(xp, a)), work)
    return xp.sum(_xp.astype(xp, a, work) * _xp.astype(xp, b, work), axis=-1)


# --- triplet losses --------------------------------------------------------------------


def _format_order(p: float) -> str:
    """A norm order as torch's C++ prints a double: -1, 0.5, inf."""
    if math.isfinite(p) and float(p).is_integer():
        return str(int(p))
    return repr(float(p))


def _vector_norm(backend: Backend, x: Any, p: float) -> Any:
    """torch's ``linalg.vector_norm(x, p, dim=-1)`` with torch's gradients.

    Every order torch accepts: 0 counts the non-zeros, ±inf take max/min of |x|,
    negative orders are ``(Σ|x|^p)^(1/p)``.  The gradient is 0 where the norm is 0
    (torch masks it there), via a double ``where`` around the root.
    """
    xp = backend.xp
    if 0 in x.shape:
        # Empty: a norm of nothing is 0 (the orders without an identity raised already),
        # and some libraries cannot take max/min over an empty batch.
        return xp.zeros(x.shape[:-1], dtype=x.dtype, device=_xp.device(x))
    if p == 0:
        # x − x keeps the count on the gradient tape with the zero gradient torch gives.
        return xp.sum(xp.where(x != 0, xp.ones_like(x), x - x), axis=-1)
    if p == 2:
        total = xp.sum(x * x, axis=-1)
        zero = total == 0
        return xp.where(zero, xp.zeros_like(total), xp.sqrt(xp.where(zero, xp.ones_like(total), total)))
    magnitude = backend.abs(x)
    if p == math.inf:
        return xp.max(magnitude, axis=-1)
    if p == -math.inf:
        return xp.min(magnitude, axis=-1)
    if p == 1:
        return xp.sum(magnitude, axis=-1)
    total = xp.sum(xp.pow(magnitude, float(p)), axis=-1)
    zero = total == 0
    safe = xp.where(zero, xp.ones_like(total), total)
    root = xp.pow(safe, 1.0 / float(p))
    return xp.where(zero, xp.zeros_like(total), root)


def _distance(backend: Backend, x1: Any, x2: Any, p: float, eps: float) -> Any:
    """torch's ``pairwise_distance``: ``‖x1 − x2 + eps‖_p`` over the last dimension.

    The epsilon is added to the difference (not to the norm), so identical vectors are
    ``eps·D^(1/p)`` apart and their gradient is ``D^(-1/p)`` per component, as torch's.
    Computed in the pair's own dtype (integers: float32, half: float32), as torch
    computes each distance before promoting with the others.
    """
    xp = backend.xp
    _checks.check_subtraction(xp, x1.dtype, x2.dtype)
    work = _xp.compute_dtype(xp, _checks.float_result_type(xp, x1, x2))
    shape = _checks.broadcast_shapes(x1.shape, x2.shape)
    if shape and shape[-1] == 0 and (p < 0 or p == math.inf):
        raise RuntimeError(
            f"linalg.vector_norm cannot compute the {_format_order(p)} norm on the dimension "
            f"{len(shape) - 1}because this dimension is empty and the operation does not have "
            "an identity"
        )
    diff = _xp.astype(xp, x1, work) - _xp.astype(xp, x2, work) + float(eps)
    if diff.ndim == 0:
        # torch takes the norm of a 0-D difference over "dimension -1" of the scalar.
        diff = xp.reshape(diff, (1,))
    norm = backend.vector_norm(diff, p)
    return _vector_norm(backend, diff, p) if norm is None else norm


def _pairwise_distance(x1: Any, x2: Any) -> Any:
    """``torch.pairwise_distance(x1, x2)`` (p = 2, eps = 1e-6) for any array library.

    The default distance of :func:`triplet_margin_with_distance_loss`.
    """
    xp = _xp.array_namespace(x1, x2)
    dtype = _checks.float_result_type(xp, x1, x2)
    backend = backend_for(xp)
    with backend.quiet_floating_point():
        d = _distance(backend, x1, x2, 2.0, 1e-6)
        return _xp.as_result(xp, d, dtype)


def _check_same_ndim(anchor: Any, positive: Any, negative: Any) -> None:
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {anchor.ndim}D, positive {positive.ndim}D, and "
            f"negative {negative.ndim}D inputs"
        )


def _minimum(xp: Any, a: Any, b: Any) -> Any:
    """torch's ``minimum``: at a tie each side gets half the gradient (as ``xp.minimum``)."""
    _checks.broadcast_shapes(a.shape, b.shape)
    return xp.minimum(a, b)


def _triplet(backend: Backend, d_pos: Any, d_neg: Any, margin: float) -> Any:
    _checks.broadcast_shapes(d_pos.shape, d_neg.shape)
    return backend.clamp_min(float(margin) + d_pos - d_neg, 0)


@loss_record(
    cls="TripletMarginLoss",
    family="embedding",
    mean="the batch size",
    streaming=Streaming(min_ndim=2),
    bench="rows",
)
def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    xp: Any = None,
) -> Any:
    r"""Triplet margin loss: the anchor should be nearer the positive than the negative by ``margin``.

    .. math::
        \ell_i = \max(0, \text{margin} + d(a_i, p_i) - d(a_i, n_i)), \qquad
        d(x, y) = \lVert x - y + \epsilon \rVert_p

    Parameters
    ----------
    anchor, positive, negative : array
        Embeddings ``(N, D)`` or ``(D,)``; the three must have the same number of
        dimensions (``RuntimeError`` otherwise) and then broadcast.  The distance is
        taken over the last dimension.
    margin : float, default 1.0
        Must be positive (``ValueError``, as torch's function and class).
    p : float, default 2
        The norm order, with ``torch.linalg.vector_norm``'s meaning: any real order,
        ``0`` (count of non-zeros), ``inf`` and ``-inf``.
    eps : float, default 1e-6
        Added to the difference inside the norm, as torch does.
    swap : bool, default False
        Use ``min(d(a, n), d(p, n))`` as the negative distance.
    {legacy}
    {reduction}
    {xp}

    {returns}

    Notes
    -----
    Shape: anchor, positive, negative ``(N, D)`` or ``(D,)``; output ``()``, or ``(N,)``
    (``()`` unbatched) for 'none'.

    The result dtype is the promotion of the three arrays; integer arrays alone give
    float32, as in torch.  Gradients are torch's: identical vectors give
    ``D^(-1/p)`` per component (eps is added to the difference), and at exactly
    ``margin + d(a, p) = d(a, n)`` the gradient passes.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> a, pos, neg = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[0.0, 5.5]])
    >>> print(np.round(al.triplet_margin_loss(a, pos, neg), 6))
    0.5
    """
    backend, native, anchor, positive, negative, _ = dispatch(
        "triplet_margin_loss", xp, reduction, anchor, positive, negative
    )
    xp = backend.xp
    if native is not None:
        out = native(anchor, positive, negative, margin, p, eps, swap, size_average, reduce, reduction)
        if out is not NotImplemented:
            return out
        declined(backend, "triplet_margin_loss")
    reduction = _reduction.resolve_checked(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_same_ndim(anchor, positive, negative)
    dtype = _checks.float_result_type(xp, anchor, positive, negative)
    work = _xp.compute_dtype(xp, dtype)
    with backend.quiet_floating_point():
        d_pos = _xp.astype(xp, _distance(backend, anchor, positive, p, eps), work)
        d_neg = _xp.astype(xp, _distance(backend, anchor, negative, p, eps), work)
        if swap:
            d_swap = _xp.astype(xp, _distance(backend, positive, negative, p, eps), work)
            d_neg = _minimum(xp, d_neg, d_swap)
        loss = _triplet(backend, d_pos, d_neg, margin)
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)


@loss_record(
    cls="TripletMarginWithDistanceLoss",
    family="embedding",
    mean="the batch size",
    streaming=Streaming(min_ndim=2),
    bench="rows",
)
def triplet_margin_with_distance_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    *,
    distance_function: Callable[[Any, Any], Any] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
    xp: Any = None,
) -> Any:
    r"""Triplet margin loss with any distance function.

    .. math::
        \ell_i = \max(0, \text{margin} + d(a_i, p_i) - d(a_i, n_i))

    Parameters
    ----------
    anchor, positive, negative : array
        Embeddings of the same number of dimensions (``RuntimeError`` otherwise).
    distance_function : callable, optional
        ``d(x, y)`` taking and returning arrays of the caller's library (write it against
        the array namespace to make it work on every backend).  Its output shape is used
        as is.  Default: torch's ``pairwise_distance`` (``‖x − y + 1e-6‖₂`` over the last
        dimension), written for every array library.
    margin : float, default 1.0
        Must be positive (``ValueError``).
    swap : bool, default False
        Use ``min(d(a, n), d(p, n))`` as the negative distance.
    reduction : {'none', 'mean', 'sum'}, default 'mean'
        As torch, 'elementwise_mean' is not accepted here.  'mean' of an empty input is NaN.
    {xp}

    {returns}

    Notes
    -----
    Shape: anchor, positive, negative ``(N, *)`` or ``(*)`` (same ndim); output ``()``,
    or the distance's shape for 'none'.

    Checks run in torch's order: the reduction, the margin, then the dimensions.  The
    result dtype is the distance's.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> a, pos, neg = np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), np.array([[0.0, 5.5]])
    >>> l1 = lambda x, y: np.sum(np.abs(x - y), axis=-1)
    >>> al.triplet_margin_with_distance_loss(a, pos, neg, distance_function=l1)
    array(2.5)
    """
    backend, native, anchor, positive, negative, _ = dispatch(
        "triplet_margin_with_distance_loss", xp, reduction, anchor, positive, negative
    )
    xp = backend.xp
    if native is not None:
        if distance_function is _pairwise_distance:
            distance_function = None
        out = native(
            anchor,
            positive,
            negative,
            distance_function=distance_function,
            margin=margin,
            swap=swap,
            reduction=reduction,
        )
        if out is not NotImplemented:
            return out
        declined(backend, "triplet_margin_with_distance_loss")
    _reduction.check_strict(reduction, "{} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    margin = _checks.scalar_option(margin)  # torch adds it to a tensor: a Scalar
    _check_same_ndim(anchor, positive, negative)
    distance = _pairwise_distance if distance_function is None else distance_function
    d_pos = distance(anchor, positive)
    d_neg = distance(anchor, negative)
    with backend.quiet_floating_point():
        if swap:
            d_neg = _minimum(xp, d_neg, distance(positive, negative))
        dtype = _checks.promote(xp, d_pos.dtype, d_neg.dtype)
        work = _xp.compute_dtype(xp, dtype)
        _checks.broadcast_shapes(d_pos.shape, d_neg.shape)
        # torch's code here is three tensor operations on the distances, each rounded to
        # their dtype: for half-precision distances, ``margin + d_pos`` is rounded too.
        shifted = _xp.astype(xp, float(margin) + _xp.astype(xp, d_pos, work), dtype)
        d_neg = _xp.astype(xp, d_neg, work)
        loss = backend.clamp_min(_xp.astype(xp, shifted, work) - d_neg, 0)
        return _xp.as_result(xp, _reduction.apply(backend, loss, reduction), dtype)
