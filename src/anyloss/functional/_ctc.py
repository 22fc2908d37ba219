"""Connectionist temporal classification: ctc_loss."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from .. import _checks, _reduction, _xp
from .._backends import Backend, backend_for, namespace_from_types
from .._dispatch import check_static_options, declined, dispatch
from .._registry import Streaming, loss_record

__all__ = ["ctc_loss"]

_WHERE = "while checking arguments for ctc_loss_allocate_outputs"
_NEG_INF = float("-inf")

# How many units in the last place each time step may add to the log-likelihood by
# rounding (the three-term log-sum-exp and the emission add): a negative loss smaller
# than this is rounding of a zero loss and is reported as 0.
_ROUNDING_ULPS_PER_STEP = 4.0


# --- arguments ------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return "Tensor" if _xp.is_array(value) else type(value).__name__


def _describe(value: Any) -> str:
    """An argument as torch's argument parser describes it ('list of [int, int]')."""
    if isinstance(value, list):
        return "list of [" + ", ".join(_type_name(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "tuple of (" + ", ".join(_type_name(v) for v in value) + ")"
    return _type_name(value)


def _invalid_combination(args: tuple[Any, ...]) -> TypeError:
    """torch's argument-parser error: no overload of torch.ctc_loss accepts ``args``."""
    got = ", ".join(_type_name(a) for a in args)

    def mark(text: str, ok: bool) -> str:
        return text if ok else f"!{text}!"

    def line(lengths_are_tensors: bool) -> str:
        parts = [mark(_describe(a), _xp.is_array(a)) for a in args[:2]]
        parts += [mark(_describe(a), lengths_are_tensors and _xp.is_array(a)) for a in args[2:4]]
        parts += [mark(_describe(a), False) for a in args[4:]]
        return (
            "      didn't match because some of the arguments have invalid types: (" + ", ".join(parts) + ")"
        )

    return TypeError(
        f"ctc_loss() received an invalid combination of arguments - got ({got}), but expected "
        "one of:\n"
        " * (Tensor log_probs, Tensor targets, tuple of ints input_lengths, tuple of ints "
        "target_lengths, int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity "
        "= False)\n" + line(False) + "\n"
        " * (Tensor log_probs, Tensor targets, Tensor input_lengths, Tensor target_lengths, "
        "int blank = 0, int reduction = at::Reduction::Mean, bool zero_infinity = False)\n"
        + line(True)
        + "\n"
    )


def _is_int(value: Any) -> bool:
    if type(value) is int:  # the usual blank, answered at once
        return True
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)
    except (TypeError, RuntimeError):  # torch's index of a uint64 tensor beyond int64 is a RuntimeError
        return False
    return True


def _looks_like_int_list(value: Any) -> bool:
    """torch's overload check for 'tuple of ints': a list or tuple whose first item is an int."""
    if not isinstance(value, (list, tuple)):
        return False
    return len(value) == 0 or _is_int(value[0]) or _is_integer_scalar_array(value[0])


def _is_integer_scalar_array(value: Any) -> bool:
    return _xp.is_array(value) and _xp.numel(value.shape) == 1 and "int" in _xp.dtype_name(value.dtype)


def _unpack_ints(name: str, value: Sequence[Any]) -> list[int]:
    """A 'tuple of ints' argument as Python ints, with torch's error for other items."""
    out = []
    for pos, item in enumerate(value, start=1):
        if isinstance(item, bool) or _is_int(item):
            out.append(int(operator.index(item)))
        elif _is_integer_scalar_array(item):
            out.append(int(item.reshape(()) if hasattr(item, "reshape") else item))
        else:
            raise TypeError(
                f"ctc_loss(): argument '{name}' failed to unpack the object at pos {pos} with "
                f'error "type must be tuple of ints,but got {_type_name(item)}"'
            )
    return out


def _scalars_ok(blank: Any, zero_infinity: Any) -> bool:
    """Both overloads of torch.ctc_loss take an int ``blank`` and a bool ``zero_infinity``."""
    return _is_int(blank) and isinstance(zero_infinity, bool)


def _parse_arguments(args: tuple[Any, ...]) -> bool:
    """Which overload of torch.ctc_loss the call takes: True for tensor lengths, False for lists."""
    _, _, input_lengths, target_lengths, blank, _, zero_infinity = args
    scalars_ok = _scalars_ok(blank, zero_infinity)
    if scalars_ok and _xp.is_array(input_lengths) and _xp.is_array(target_lengths):
        return True
    if scalars_ok and _looks_like_int_list(input_lengths) and _looks_like_int_list(target_lengths):
        return False
    raise _invalid_combination(args)


# --- value checks ---------------------------------------------------------------------


def _first(values: Any, bad: Any) -> int:
    """The first value (in batch order) flagged by ``bad``; ``values`` is concrete."""
    for i in range(values.shape[0]):
        if bool(bad[i]):
            return int(values[i])
    raise AssertionError("no flagged value")  # pragma: no cover


def _check_lengths(
    backend: Backend,
    input_lengths: Any,
    target_lengths: Any,
    targets_shape: tuple[int, ...],
    batch_size: int,
    max_input_length: int,
) -> int | None:
    """torch's value checks of the lengths, in torch's order; returns the longest target.

    Runs only on concrete lengths (Python lists always are).  On lazy arrays only the
    static shape check runs and None is returned (the padded width is used instead).
    """
    xp = backend.xp
    concrete = backend.is_concrete(target_lengths) and backend.is_concrete(input_lengths)
    if concrete and batch_size:
        # Concrete arrays closed over by a jax.jit trace still give traced results.
        concrete = backend.is_concrete(target_lengths < 0) and backend.is_concrete(input_lengths < 0)
    padded = len(targets_shape) == 2
    longest: int | None = None
    if concrete:
        if batch_size and bool(xp.any(target_lengths < 0)):
            value = _first(target_lengths, target_lengths < 0)
            raise RuntimeError(
                f"Expected target_lengths to have value at least 0, but got value {value} ({_WHERE})"
            )
        longest = int(xp.max(target_lengths)) if batch_size else 0
        if not padded:
            total = int(xp.sum(target_lengths)) if batch_size else 0
            _check_size(targets_shape, 0, total)
    if padded:
        _check_size(targets_shape, 0, batch_size)
        if longest is not None and targets_shape[1] < longest:
            raise RuntimeError(
                f"Expected tensor to have size at least {longest} at dimension 1, but got size "
                f"{targets_shape[1]} for argument #2 'targets' ({_WHERE})"
            )
    if concrete and batch_size:
        if bool(xp.any(input_lengths < 0)):
            value = _first(input_lengths, input_lengths < 0)
            raise RuntimeError(
                f"Expected input_lengths to have value at least 0, but got value {value} ({_WHERE})"
            )
        if bool(xp.any(input_lengths > max_input_length)):
            value = _first(input_lengths, input_lengths > max_input_length)
            raise RuntimeError(
                f"Expected input_lengths to have value at most {max_input_length}, but got value "
                f"{value} ({_WHERE})"
            )
    return longest


def _check_size(shape: tuple[int, ...], dim: int, size: int) -> None:
    if shape[dim] != size:
        raise RuntimeError(
            f"Expected tensor to have size {size} at dimension {dim}, but got size {shape[dim]} "
            f"for argument #2 'targets' ({_WHERE})"
        )


def _np_namespace() -> Any:
    import array_api_compat.numpy

    return array_api_compat.numpy


# --- the recursion --------------------------------------------------------------------


def _logsumexp(backend: Backend, *terms: Any) -> Any:
    """log(Σ exp(terms)) as torch's CTC kernel computes it, with NaN-free gradients.

    The shift is the (gradient-free) maximum, or 0 when every term is −inf; a sum of 0
    gives −inf without evaluating log(0), so that states no alignment reaches pass a zero
    gradient rather than 0·∞.
    """
    xp = backend.xp
    m = terms[0]
    for term in terms[1:]:
        m = xp.where(term > m, term, m)
    m = backend.stop_gradient(xp.where(m == _NEG_INF, xp.zeros_like(m), m))
    total = xp.exp(terms[0] - m)
    for term in terms[1:]:
        total = total + xp.exp(term - m)
    # NaN terms give NaN, as in torch (a NaN never wins the maximum but spoils the sum).
    unreached = total == 0
    safe = xp.where(unreached, xp.ones_like(total), total)
    return xp.where(unreached, xp.full_like(total, _NEG_INF), xp.log(safe) + m)


def _labels(xp: Any, targets: Any, target_lengths: Any, width: int, blank: int, num_labels: int) -> Any:
    """Each sequence's labels as an ``(N, width)`` index array, blank past its length.

    Concatenated targets are read at offsets ``cumsum(lengths) − lengths``.  Labels
    outside ``[0, C)`` (undefined behaviour in torch, which does not check them) are
    clipped so that the gather stays in bounds.
    """
    dev = _xp.device(targets)
    idx = _xp.index_dtype(xp, targets)
    batch = target_lengths.shape[0]
    fill = xp.full((batch, width), blank, dtype=idx, device=dev)
    if width == 0 or _xp.numel(targets.shape) == 0:
        return fill
    targets = _xp.astype(xp, targets, idx)
    j = xp.reshape(xp.arange(width, dtype=idx, device=dev), (1, width))
    valid = j < target_lengths[:, None]
    if targets.ndim == 2:
        labels = targets[:, :width]
    else:
        # offsets[n] = Σ_{m<n} lengths[m], as a masked sum (N is small; no cumsum needed).
        rows = xp.reshape(xp.arange(batch, dtype=idx, device=dev), (batch, 1))
        before = xp.reshape(xp.arange(batch, dtype=idx, device=dev), (1, batch)) < rows
        offsets = xp.sum(
            xp.where(before, target_lengths[None, :], xp.zeros_like(target_lengths[None, :])),
            axis=1,
        )
        position = offsets[:, None] + j
        last = targets.shape[0] - 1
        position = xp.where(valid & (position <= last), position, xp.zeros_like(position))
        labels = xp.reshape(xp.take(targets, xp.reshape(position, (-1,)), axis=0), (batch, width))
    labels = xp.where(valid, labels, fill)
    labels = xp.where(labels < 0, xp.zeros_like(labels), labels)
    return xp.where(labels >= num_labels, xp.full_like(labels, num_labels - 1), labels)


def _negative_log_likelihood(
    backend: Backend, log_probs: Any, labels: Any, input_lengths: Any, target_lengths: Any, blank: int
) -> Any:
    """−log p(target | input) per sequence: the forward recursion over 2S+1 extended labels.

    One vectorised step per time step, for every sequence and state at once; steps at
    ``t >= input_length`` leave α unchanged, so α after the last step is α at
    ``input_length − 1``.  Starting from α = [0, −∞, ...] "before" t = 0 gives torch's
    initialisation (α₀ = log_probs at blank and at the first label) through the same
    step.
    """
    xp = backend.xp
    T, N, C = log_probs.shape
    S = labels.shape[1]
    K = 2 * S + 1
    dev = _xp.device(log_probs)
    idx = labels.dtype
    state = xp.reshape(xp.arange(K, dtype=idx, device=dev), (1, K))
    odd = (state % 2) == 1
    if S == 0:
        extended = xp.full((N, K), blank, dtype=idx, device=dev)
    else:
        label_of_state = xp.where(odd, (state - 1) // 2, xp.zeros_like(state))
        extended = xp.take(labels, xp.reshape(label_of_state, (-1,)), axis=1)
        extended = xp.where(odd, extended, xp.full_like(extended, blank))
    # A state may be entered from two states back unless that holds the same label
    # (a blank is needed between repeats) or either is a blank.
    if K > 2:
        two_back = xp.concat([xp.full((N, 2), blank, dtype=idx, device=dev), extended[:, : K - 2]], axis=1)
        skip = odd & (state >= 2) & (extended != two_back)
        # Read from the state it leaves: state k - 2 passes its α on to state k where
        # skip[k].  Masked before the shift, XLA's CPU backend keeps the step's fusion
        # vectorised; a select of the shifted α took 5x the time (ctc at T=200, N=64, S=30).
        skip_from = skip[:, 2:]

    # Emissions of every state at every time: one gather from the flattened (N·C) axis.
    rows = xp.reshape(xp.arange(N, dtype=idx, device=dev), (N, 1)) * C
    flat = xp.reshape(rows + extended, (-1,))
    emissions = xp.reshape(xp.take(xp.reshape(log_probs, (T, N * C)), flat, axis=1), (T, N, K))

    neg_inf = xp.full((N, 1), _NEG_INF, dtype=log_probs.dtype, device=dev)
    alpha0 = xp.where(
        state == 0,
        xp.zeros((N, K), dtype=log_probs.dtype, device=dev),
        xp.full((N, K), _NEG_INF, dtype=log_probs.dtype, device=dev),
    )
    lengths = input_lengths[:, None]
    # torch starts the alignments in the first two states: at t = 0 no other state takes an
    # emission (an unreached state plus a +inf log-probability would be NaN there).
    first = state < 2

    def step(t: Any, alpha: Any) -> Any:
        one_back = xp.concat([neg_inf, alpha[:, : K - 1]], axis=1)
        if K > 2:
            source = alpha[:, : K - 2]
            source = xp.where(skip_from, source, xp.full_like(source, _NEG_INF))
            two_back = xp.concat([neg_inf, neg_inf, source], axis=1)
            reached = _logsumexp(backend, alpha, one_back, two_back)
        else:
            reached = _logsumexp(backend, alpha, one_back)
        emitted = reached + emissions[t, ...]
        emitted = xp.where(first | (t > 0), emitted, xp.full_like(emitted, _NEG_INF))
        return xp.where(t < lengths, emitted, alpha)

    alpha = backend.fori_loop(0, T, step, alpha0)

    # The likelihood is the sum over the last two states of each sequence (just the
    # final blank for an empty target).
    flat_alpha = xp.reshape(alpha, (-1,))
    base = xp.arange(N, dtype=idx, device=dev) * K
    tl = _xp.astype(xp, target_lengths, idx)
    last = xp.take(flat_alpha, base + 2 * tl, axis=0)
    has_label = tl > 0
    before_last_state = xp.where(has_label, 2 * tl - 1, xp.zeros_like(tl))
    before_last = xp.take(flat_alpha, base + before_last_state, axis=0)
    before_last = xp.where(has_label, before_last, xp.full_like(before_last, _NEG_INF))
    return -_logsumexp(backend, last, before_last)


def _torch_gradient_terms(
    backend: Backend, log_probs: Any, input_lengths: Any, infinite: Any, zero_infinity: bool
) -> Any:
    """Zero-valued per-sequence terms whose gradient is what torch adds to the true one.

    torch's backward returns ``exp(log_probs) − exp(log α + log β + nll − log_probs)``
    for ``t < input_length`` (pytorch#52241): the true gradient plus ``exp(log_probs)``,
    which a following log_softmax cancels.  For an infinite loss that formula is NaN at
    every ``t < input_length`` (exp(−∞ + ∞)); with ``zero_infinity`` torch zeroes the
    whole gradient, which the caller's ``where`` does.
    """
    xp = backend.xp
    T = log_probs.shape[0]
    dev = _xp.device(log_probs)
    time = xp.reshape(xp.arange(T, dtype=input_lengths.dtype, device=dev), (T, 1, 1))
    active = time < input_lengths[None, :, None]
    nan_rows = backend.stop_gradient(infinite)
    if zero_infinity:
        nan_rows = xp.zeros_like(nan_rows)

    def gradient(lp: Any, active: Any, nan_rows: Any) -> Any:
        g = xp.where(active, xp.exp(lp), xp.zeros_like(lp))
        return xp.where(active & nan_rows[None, :, None], xp.full_like(lp, float("nan")), g)

    return backend.zero_with_gradient(log_probs, gradient, (active, nan_rows), (0, 2))


def _sequence_losses(
    backend: Backend,
    blank: int,
    zero_infinity: bool,
    log_probs: Any,
    labels: Any,
    input_lengths: Any,
    target_lengths: Any,
) -> Any:
    """Each sequence's loss, with torch's gradient: arrays in, arrays out, options static."""
    xp = backend.xp
    dtype = log_probs.dtype
    nll = _negative_log_likelihood(backend, log_probs, labels, input_lengths, target_lengths, blank)
    infinite = nll == float("inf")
    loss = nll + _torch_gradient_terms(backend, log_probs, input_lengths, infinite, zero_infinity)
    if zero_infinity:
        loss = xp.where(infinite, xp.zeros_like(loss), loss)
    # float32 rounding can take a certain target's zero loss a few ulp below zero.
    steps = _xp.astype(xp, input_lengths, dtype) + 1.0
    tolerance = steps * (_ROUNDING_ULPS_PER_STEP * float(xp.finfo(dtype).eps))
    rounded_below_zero = (loss < 0) & (loss > -tolerance)
    return xp.where(rounded_below_zero, loss - backend.stop_gradient(loss), loss)


# --- the function ---------------------------------------------------------------------


@loss_record(
    cls="CTCLoss",
    family="ctc",
    mean="the batch size, after dividing each sequence's loss by its target length (at least 1)",
    streaming=Streaming(
        min_ndim=3, batch_arrays=frozenset({"targets", "input_lengths", "target_lengths"}), input_axis=1
    ),
    bench="ctc",
)
def ctc_loss(
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
    *,
    xp: Any = None,
) -> Any:
    r"""Connectionist temporal classification loss (Graves et al., 2006).

    The negative log-likelihood of each target sequence, summed over every alignment
    of it to the input frames (labels may repeat over frames; a ``blank`` separates
    repeated labels):

    .. math:: \ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_n)} \prod_{t < T_n}
        \exp(\text{log_probs}[t, n, \pi_t])

    computed by the forward recursion over the ``2S + 1`` extended labels, in log space.

    Parameters
    ----------
    log_probs : array
        ``(T, N, C)`` or unbatched ``(T, C)``, float32 or float64: log-probabilities
        of each of ``C`` classes (blank included) at each of ``T`` frames, usually the
        output of a log_softmax.  Used as given (not normalised).
    targets : array
        Padded ``(N, S)`` with ``S >= max(target_lengths)``, or 1-D: the targets
        concatenated, of length exactly ``sum(target_lengths)``.  Any numeric dtype
        (cast to integers, as torch).  Labels must not be ``blank`` and must lie in
        ``[0, C)``; like torch, anyloss does not check them.
    input_lengths : array or list of int
        ``(N,)`` frames used of each sequence (any integer dtype; ``()`` or ``(1,)``
        when unbatched), at most ``T``.  Either both lengths are arrays or both are
        lists/tuples of ints, as in torch.
    target_lengths : array or list of int
        ``(N,)`` length of each target.
    blank : int, default 0
        The blank class, in ``[0, C)``.
    reduction : {'none', 'mean', 'sum'}, default 'mean'
        'none': the ``(N,)`` losses (0-D unbatched); 'sum': their sum; 'mean': each
        loss divided by ``max(target_length, 1)``, then averaged over the batch.
    zero_infinity : bool, default False
        Replace infinite losses (impossible alignments) and their gradients by 0.
        They still count in the 'mean'.
    {xp}

    {returns}

    Notes
    -----
    Shape: log_probs ``(T, N, C)`` or ``(T, C)``; targets ``(N, S)`` or
    ``(sum(target_lengths),)``; lengths ``(N,)``; output ``()``, or ``(N,)`` (``()``
    unbatched) for 'none'.

    An alignment is impossible when the input is shorter than the target plus the
    blanks its repeats need; the loss is then ``inf`` (``input_length = 0`` gives
    ``inf`` unless the target is empty, which gives 0).

    Gradient: like torch, the gradient with respect to ``log_probs`` is the true one
    plus ``exp(log_probs)`` at ``t < input_length`` (pytorch#52241).  torch assumes the
    input came from a log_softmax, whose backward cancels that term, so gradients
    through a log_softmax are the true ones; gradients with respect to raw
    ``log_probs`` are torch's, not autodiff's.  An infinite loss has NaN gradients at
    ``t < input_length`` (torch's), or zeros with ``zero_infinity``.

    A loss that is exactly 0 (a certain target) never comes out below zero by
    rounding: a negative loss within a few units in the last place per frame of zero
    is reported as 0, with the unclamped gradient.  Genuinely negative losses of
    unnormalised inputs are returned as computed, as in torch.

    Value checks (negative lengths, ``input_lengths > T``, the length of concatenated
    targets, ``S >= max(target_lengths)``) run when the lengths are lists or concrete
    arrays.  On lazy backends (``jax.jit`` tracing, Dask) the lengths' values cannot be
    read: those checks are skipped, and the result for out-of-range lengths is
    unspecified.  Under ``jax.jit`` the time loop is a ``lax.fori_loop``, so
    compilation does not grow with ``T``; eager calls on JAX arrays compile the
    recursion once per shape and dtype and reuse it.  float16 and bfloat16 raise
    ``NotImplementedError``, as torch on CPU.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> log_probs = np.log(np.full((3, 1, 2), 0.5))
    >>> loss = al.ctc_loss(log_probs, np.array([[1]]), [3], [1], reduction="sum")
    >>> round(float(loss), 4)  # −log(6/8): six of the eight frame sequences read "1"
    0.2877
    """
    reduction = _reduction.check(reduction)
    # Four plain tensors, lengths included, with a well-typed blank and zero_infinity: the
    # tensor-lengths overload, known without parsing the arguments.
    if (
        input_lengths is not None
        and target_lengths is not None
        and _scalars_ok(blank, zero_infinity)
        and namespace_from_types(xp, log_probs, targets, input_lengths, target_lengths) is not None
    ):
        tensor_lengths = True
        backend, native, log_probs, targets, input_lengths, target_lengths = dispatch(
            "ctc_loss", xp, reduction, log_probs, targets, input_lengths, target_lengths
        )
    else:
        # Before the overload is chosen: torch's "invalid combination" would hide a
        # blank or zero_infinity traced by jax.jit.
        check_static_options("ctc_loss", locals())
        args = (log_probs, targets, input_lengths, target_lengths, blank, 0, zero_infinity)
        if not (_xp.is_array(log_probs) and _xp.is_array(targets)):
            raise _invalid_combination(args)
        tensor_lengths = _parse_arguments(args)
        if tensor_lengths:
            backend, native, log_probs, targets, input_lengths, target_lengths = dispatch(
                "ctc_loss", xp, reduction, log_probs, targets, input_lengths, target_lengths
            )
        else:
            backend, native, log_probs, targets, _, _ = dispatch(
                "ctc_loss", xp, reduction, log_probs, targets
            )
    if native is not None:
        out = native(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)
        if out is not NotImplemented:
            return out
        declined(backend, "ctc_loss")
    xp = backend.xp
    with backend.quiet_floating_point():
        return _ctc_loss(
            backend,
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            int(operator.index(blank)),
            reduction,
            zero_infinity,
            tensor_lengths,
        )


def _ctc_loss(
    backend: Backend,
    log_probs: Any,
    targets: Any,
    input_lengths: Any,
    target_lengths: Any,
    blank: int,
    reduction: str,
    zero_infinity: bool,
    tensor_lengths: bool,
) -> Any:
    xp = backend.xp
    dev = _xp.device(log_probs)
    if tensor_lengths:
        for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
            if not _xp.isdtype(xp, lengths.dtype, "integral"):
                raise RuntimeError(f"{name} must be integral")
    else:
        input_lengths = _unpack_ints("input_lengths", input_lengths)
        target_lengths = _unpack_ints("target_lengths", target_lengths)
    dtype = log_probs.dtype
    if not _xp.is_floating(xp, dtype) or _xp.is_half(dtype):
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for '{_checks.torch_dtype_name(dtype)}'")
    if _xp.numel(log_probs.shape) == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = xp.expand_dims(log_probs, axis=1)
    if log_probs.ndim != 3:
        raise RuntimeError(
            f"Expected 3-dimensional tensor, but got {log_probs.ndim}-dimensional tensor for "
            f"argument #1 'log_probs' ({_WHERE})"
        )
    if not 1 <= targets.ndim < 3:
        raise RuntimeError(
            f"Expected 1 to 2 dimensions, but got {targets.ndim}-dimensional tensor for "
            f"argument #2 'targets' ({_WHERE})"
        )
    T, N, C = log_probs.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    idx = _xp.index_dtype(xp, log_probs)
    if tensor_lengths:
        input_lengths = _xp.astype(xp, xp.reshape(input_lengths, (-1,)), idx)
        target_lengths = _xp.astype(xp, xp.reshape(target_lengths, (-1,)), idx)
        check, checked = backend, (input_lengths, target_lengths)
    else:
        # Lengths given as lists are static: they are checked on every backend, lazy or not.
        check = backend_for(_np_namespace())
        checked = (check.xp.asarray(input_lengths), check.xp.asarray(target_lengths))
        input_lengths = xp.asarray(input_lengths, dtype=idx, device=dev)
        target_lengths = xp.asarray(target_lengths, dtype=idx, device=dev)
    if input_lengths.shape[0] != N:
        raise RuntimeError("input_lengths must be of size batch_size")
    if target_lengths.shape[0] != N:
        raise RuntimeError("target_lengths must be of size batch_size")
    longest = _check_lengths(check, *checked, tuple(targets.shape), N, T)
    # The recursion needs as many label slots as the longest target: known from the
    # values when they can be read, else bounded by the targets' static shape.
    width = targets.shape[-1] if targets.ndim == 2 else targets.shape[0]
    if longest is not None:
        width = min(width, longest)
    labels = _labels(xp, targets, target_lengths, width, blank, C)
    # One compiled function per (blank, zero_infinity) where the backend compiles (eager
    # JAX would otherwise trace and compile the time loop again on every call).
    loss = backend.compiled(_sequence_losses, blank, zero_infinity)(
        log_probs, labels, input_lengths, target_lengths
    )
    if reduction == "none":
        return loss if batched else xp.reshape(loss, ())
    if reduction == "sum":
        return _xp.as_result(xp, xp.sum(loss), dtype)
    # torch's 'mean': each loss per target label (at least 1), then the batch mean.
    per_label = _xp.astype(xp, target_lengths, dtype)
    per_label = xp.where(per_label < 1, xp.ones_like(per_label), per_label)
    return _xp.as_result(xp, _reduction.divide(xp, xp.sum(loss / per_label), N, reduction), dtype)
