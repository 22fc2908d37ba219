"""The default backend (pure array API, no autodiff, eager Python loops) and NumPy's."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import Any, TypeVar

import array_api_compat as aac
import numpy as np

from . import _numpy_kernels, _switches

T = TypeVar("T")


class Backend:
    """Capabilities a loss body may ask for.  Subclasses override what their framework does differently."""

    #: True when the framework tracks gradients through array operations.
    differentiable = False
    #: True when ``with_gradient`` differentiates the gradient it is given (a custom-derivative
    #: hook): a body then gives that gradient derivatives of its own, torch's second derivatives.
    second_derivatives = False
    #: True when ``fori_loop`` takes a trip count that is a traced (not yet known) value.
    traced_loops = False
    #: True when a compiler fuses a sum faster without a select (``where``) in front of it:
    #: a loss that is only summed then takes a branch-free form of its terms (equal to the
    #: last bit or two, and with the same gradient).
    branch_free_sums = False
    #: True when a loss's options may arrive as values traced by ``jax.jit`` (checked, to
    #: raise a clear error).  Off for torch, whose calls never meet a JAX trace.
    options_may_be_traced = True

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def native(self, name: str) -> Callable[..., Any] | None:
        """A native kernel with the reference semantics, or None."""
        return None

    def check_shapes(self, *arrays: Any) -> None:
        """Raise where a loss cannot be computed from these arrays' shapes (None: left out)."""

    def native_enabled(self) -> bool:
        """Whether native kernels may be used here (:func:`anyloss.native_paths`)."""
        return _switches.native.get()

    def checks_option_types(self) -> bool:
        """Whether the dispatch checks the types of a call's options from the calling frame
        (not where a compiler traces the call: it cannot trace frame inspection)."""
        return True

    def stop_gradient(self, x: Any) -> Any:
        return x

    def known_within(self, x: Any, low: int, high: int) -> bool:
        """True when every value of ``x`` is known, now and cheaply, to lie in ``[low, high)``;
        False says nothing (the caller checks with masks)."""
        return False

    def is_concrete(self, x: Any) -> bool:
        """True when the values of ``x`` can be read now (not traced, not a lazy graph)."""
        return not aac.is_lazy_array(x)

    def device(self, x: Any) -> Any:
        """The device of ``x``, for creating arrays next to it."""
        return aac.device(x)

    def adopt(self, x: Any, like: Any) -> Any:
        """The NumPy array or NumPy scalar ``x`` as an array of this library, on ``like``'s
        device, with its dtype (what the library's ``asarray`` makes of it)."""
        return self.xp.asarray(x, device=self.device(like))

    def zero_with_gradient(
        self, x: Any, gradient: Callable[..., Any], aux: tuple[Any, ...], axes: tuple[int, ...]
    ) -> Any:
        """Zeros of ``x``'s shape without ``axes``, whose derivative with respect to ``x`` is
        ``gradient(x, *aux)`` (elementwise, summed over ``axes``).

        Frameworks override this so that ``gradient`` is evaluated only by the backward pass;
        where ``second_derivatives`` is set, the derivative of ``gradient`` is the second
        derivative (here, first order only).
        """
        xp = self.xp
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
        zeros = xp.zeros(shape, dtype=x.dtype, device=aac.device(x))
        if not self.differentiable:
            return zeros
        # Through with_gradient, whose added terms are 0 in value also where ``gradient`` is
        # infinite or NaN (``x·g − x·g`` would be NaN there).
        g = self.stop_gradient(gradient(x, *aux))
        return zeros + xp.sum(self.with_gradient(xp.zeros_like(x), x, g), axis=axes)

    def with_gradient(self, value: Any, x: Any, grad: Any) -> Any:
        """``value`` whose derivative with respect to ``x`` is ``grad``, elementwise.

        Written with array operations only, for frameworks without a custom-derivative
        hook.  Adding ``x·g − x·g`` alone would make the value NaN once ``g`` or ``x`` is
        infinite.  Here every added term is exactly 0 in value: the finite part of ``grad``
        multiplies ``x − x`` (taken as 0 where ``x`` itself is infinite); an infinite entry
        gets the derivative ``±B·B`` (B the largest float, so the product overflows for any
        cotangent that is not tiny); a NaN entry gets that of ``sqrt(u·u)`` at ``u = 0``,
        NaN.  Each kind sits in its own branch of a ``where``, so that the zero cotangent of
        the branches not taken meets no infinity.
        """
        if not self.differentiable:
            return value
        xp, sg = self.xp, self.stop_gradient
        zero = xp.zeros_like(grad)
        moving = xp.where(xp.isfinite(sg(x)), x - sg(x), xp.zeros_like(x))
        finite, nan = xp.isfinite(grad), xp.isnan(grad)
        # B as an array of grad's dtype: a Python float operand is not exact on every
        # framework (MindSpore rounds it to float32, where B is infinite).
        big = xp.full_like(grad, float(xp.finfo(grad.dtype).max))
        up = sg(xp.where(grad == float("inf"), big, zero))
        down = sg(xp.where(grad == -float("inf"), big, zero))
        at_nan = xp.where(nan, moving, xp.ones_like(moving))
        delta = xp.where(
            finite,
            moving * sg(xp.where(finite, grad, zero)),
            xp.where(
                nan,
                xp.sqrt(at_nan * at_nan),
                (moving * big) * up - (moving * big) * down,
            ),
        )
        return value + delta

    def straight_through(self, x: Any, replacement: Any) -> Any:
        """``replacement``'s value with the gradient flowing to ``x`` as if unchanged.

        Spelt ``sg(replacement) + (x − sg(x))`` rather than ``x + sg(replacement − x)``, so the
        value is ``replacement`` exactly even when ``x`` is far from it.
        """
        if not self.differentiable:
            return replacement
        xp = self.xp
        # x − sg(x) is 0 with x's gradient; for an infinite x it would be inf − inf = NaN.
        passing = x - self.stop_gradient(x)
        passing = xp.where(xp.isfinite(x), passing, xp.zeros_like(passing))
        return self.stop_gradient(replacement) + passing

    def log_softmax(self, x: Any, axis: int) -> Any:
        return x - self.log_softmax_normaliser(x, axis)

    def log_softmax_normaliser(self, x: Any, axis: int) -> Any:
        """What torch's log_softmax subtracts along ``axis`` (kept): the log-sum-exp, but NaN
        where the maximum is infinite, since torch subtracts the maximum first."""
        xp = self.xp
        lse = self.logsumexp(x, axis, True)
        # Infinite only where the maximum is: +inf (inf − inf in torch), or −inf for a row
        # of −inf (−inf − (−inf) in torch).  Through the namespace's tests, which every
        # backend has for every float dtype (MindSpore's CPU has no bfloat16 ==).
        return xp.where(xp.isfinite(lse) | xp.isnan(lse), lse, lse - lse)

    def sum_all(self, x: Any) -> Any:
        """The sum of every element."""
        return self.xp.sum(x)

    def gather_class(self, x: Any, index: Any, axis: int) -> Any:
        """``x`` at class ``index`` along ``axis`` (``index`` has ``x``'s shape without ``axis``)."""
        xp = self.xp
        axis = axis % x.ndim
        index = xp.expand_dims(index, axis=axis)
        if hasattr(xp, "take_along_axis"):
            return xp.squeeze(xp.take_along_axis(x, index, axis=axis), axis=axis)
        classes = xp.arange(x.shape[axis], dtype=index.dtype, device=aac.device(x))
        classes = xp.reshape(classes, (-1,) + (1,) * (x.ndim - axis - 1))
        return xp.sum(xp.where(classes == index, x, xp.zeros_like(x)), axis=axis)

    def abs(self, x: Any) -> Any:
        """|x| with derivative 0 at 0 (torch's convention); no autodiff here, so plain abs."""
        return self.xp.abs(x)

    def vector_norm(self, x: Any, p: float) -> Any:
        """torch's own ``linalg.vector_norm(x, p, dim=-1)`` where this library is torch, else
        None: the body computes the norm."""
        return None

    def softplus(self, x: Any) -> Any:
        """log(1 + exp(x)) without overflow, with derivative sigmoid(x) everywhere (½ at 0)."""
        xp = self.xp
        positive = x > 0
        # exp of -|x| written without abs: both branches stay finite, so do their gradients.
        e = xp.exp(xp.where(positive, -x, x))
        return xp.where(positive, x + xp.log1p(e), xp.log1p(e))

    def softplus_pair(self, x: Any) -> tuple[Any, Any]:
        """``(softplus(x), softplus(−x))``."""
        return self.softplus(x), self.softplus(-x)

    def logsumexp(self, x: Any, axis: int, keepdims: bool) -> Any:
        """log(sum(exp(x))) along ``axis``, shifted by the maximum (exact for logits 1e4 apart)."""
        xp = self.xp
        m = xp.max(x, axis=axis, keepdims=True)
        m = self.stop_gradient(xp.where(xp.isfinite(m), m, xp.zeros_like(m)))
        out = xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m
        return out if keepdims else xp.squeeze(out, axis=axis)

    def clamp_min(self, z: Any, floor: float) -> Any:
        """torch's ``clamp_min(z, floor)``: the gradient passes at exactly ``floor``, and NaN
        stays NaN.

        ``maximum(z, floor)`` would split the gradient at the tie and
        ``where(z >= floor, z, floor)`` would turn NaN into ``floor``.
        """
        xp = self.xp
        fill = xp.asarray(floor, dtype=z.dtype, device=self.device(z))
        if floor != floor:
            return xp.where(z < floor, z, fill)  # a NaN floor is NaN everywhere, as torch's
        return xp.where(z < floor, fill, z)

    def hinge_embedding_terms(self, x: Any, hinge: Any, target: Any) -> Any:
        """torch's ``where(target != 1, hinge, 0) + where(target != −1, x, 0)`` as one nested
        select: ``x`` where the target is 1, ``hinge`` where it is −1, ``hinge + x`` elsewhere
        (exact also for ±inf and NaN; a compiler fuses it with the sum that follows)."""
        xp = self.xp
        return xp.where(target == 1, x, xp.where(target == -1, hinge, hinge + x))

    def hinge_excluding(self, z: Any, index: Any) -> Any:
        """``z`` where ``z > 0`` (strictly: no gradient at 0; NaN gives 0), and 0 in column
        ``index[n]`` of each row ``n`` of the 2-D ``z``: the terms of torch's margin kernels."""
        xp = self.xp
        columns = xp.arange(z.shape[1], dtype=index.dtype, device=self.device(index))
        keep = (z > 0) & (xp.expand_dims(index, axis=1) != columns)
        return xp.where(keep, z, xp.asarray(0, dtype=z.dtype, device=self.device(z)))

    def compiled(self, fn: Callable[..., Any], *static: Any) -> Callable[..., Any]:
        """``fn(self, *static, *arrays)`` as a function of the arrays alone, compiled once per
        ``(fn, static)`` where the framework compiles (then traced once per shape and dtype)."""
        return partial(fn, self, *static)

    def retaining_gradients(self) -> AbstractContextManager[Any]:
        """Within it, gradients a kernel computes in its forward pass stay valid for a second
        backward pass (``retain_graph``); frameworks that consume them in place override it."""
        return contextlib.nullcontext()

    def linear_cross_entropy_rows(
        self,
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
        """Cross-entropy of the rows of ``input @ linear_weight.T + linear_bias``, chunk by chunk.

        ``input`` is ``(N, H)``, ``linear_weight`` ``(C, H)``, ``linear_bias`` ``(C,)`` or None,
        ``target`` ``(N,)`` class indices or, with ``probabilities``, ``(N, C)`` class
        probabilities in the compute dtype; ``class_weight`` ``(C,)`` in the compute dtype or
        None.  Returns ``(loss, lse)``: the per-row losses ``(N,)`` (their sum, 0-D, when
        ``summed``) and the per-row log-normaliser ``(N,)`` without gradient, both in the
        compute dtype (a backend may give None for the log-normalisers without
        ``need_lse``).  The terms are :meth:`linear_cross_entropy_terms`'; the ``(N, C)``
        logits never exist, only ``chunk_size`` rows of them at a time.

        Here a Python loop over the chunks (autodiff frameworks differentiate through it);
        frameworks override it with kernels that also chunk the backward pass.
        """
        xp = self.xp
        n = input.shape[0]
        work = _compute_dtype(xp, input.dtype)
        if n == 0:
            empty = xp.zeros((0,), dtype=work, device=self.device(input))
            return (xp.sum(empty) if summed else empty), empty
        step = max(1, int(chunk_size))
        # Half-precision logits as torch's linear computes them: products and bias summed in
        # float32, rounded once to the input's dtype (then taken back to float32).  Through
        # autodiff, the gradients' products are then float32 sums too.
        half = work != input.dtype
        features = xp.astype(input, work) if half else input
        weight_t = xp.matrix_transpose(xp.astype(linear_weight, work) if half else linear_weight)
        bias = None if linear_bias is None else (xp.astype(linear_bias, work) if half else linear_bias)
        losses, lses = [], []
        for start in range(0, n, step):
            stop = min(n, start + step)
            logits = xp.matmul(features[start:stop, ...], weight_t)
            if bias is not None:
                logits = logits + bias
            loss, lse = self.linear_cross_entropy_terms(
                xp.astype(xp.astype(logits, input.dtype), work) if half else logits,
                target[start:stop, ...],
                class_weight,
                ignore_index=ignore_index,
                label_smoothing=label_smoothing,
                probabilities=probabilities,
                softcap=softcap,
                z_loss=z_loss,
            )
            losses.append(xp.sum(loss) if summed else loss)
            lses.append(lse)
        lse = self.stop_gradient(lses[0] if len(lses) == 1 else xp.concat(lses))
        if summed:
            total = losses[0]
            for part in losses[1:]:
                total = total + part
            return total, lse
        return (losses[0] if len(losses) == 1 else xp.concat(losses)), lse

    def linear_cross_entropy_terms(
        self,
        logits: Any,
        target: Any,
        class_weight: Any,
        *,
        ignore_index: int,
        label_smoothing: float,
        probabilities: bool,
        softcap: float | None,
        z_loss: float,
    ) -> tuple[Any, Any]:
        """The per-row losses and log-normalisers of one chunk of ``(rows, C)`` logits.

        torch's per-element terms of ``cross_entropy(logits, target, reduction='none')``,
        with ``lse`` the row's logsumexp and ``w`` the class weights (ones without):
        class indices ``(1 − ε)·w_t·(lse − z_t) + ε/C·Σ_c w_c·(lse − z_c)`` (0 where the
        target is ``ignore_index``); probabilities ``Σ_c w_c·q̃_c·(lse − z_c)``,
        ``q̃ = (1 − ε)·q + ε/C``.  Beyond torch: ``softcap`` first maps the logits to
        ``softcap·tanh(z/softcap)``, and ``z_loss`` adds ``z_loss·lse²`` (not to ignored rows).
        """
        xp = self.xp
        if softcap is not None:
            logits = softcap * xp.tanh(logits / softcap)
        n_classes = logits.shape[1]
        # NaN where a row's largest logit is +inf, as torch's log_softmax gives
        lse = self.log_softmax_normaliser(logits, axis=1)
        eps = label_smoothing if label_smoothing > 0.0 else 0.0
        valid = None
        if probabilities:
            q = target
            if eps > 0.0:
                q = q * (1.0 - eps) + eps / n_classes
            if class_weight is not None:
                q = q * class_weight
            # A product, as torch's: a -inf logit with zero probability gives NaN there too.
            loss = -xp.sum((logits - lse) * q, axis=1)
        else:
            valid = target != ignore_index
            in_range = (target >= 0) & (target < n_classes)
            use = valid & in_range
            safe = xp.where(use, target, xp.zeros_like(target))
            nll = xp.squeeze(lse, axis=1) - self.gather_class(logits, safe, axis=1)
            zero = xp.zeros_like(nll)
            # Sanitised before the product: an ignored row may have picked a -inf logit.
            nll = xp.where(use, nll, zero)
            if class_weight is not None:
                full = xp.broadcast_to(xp.reshape(class_weight, (1, -1)), logits.shape)
                nll = nll * xp.where(valid, self.gather_class(full, safe, axis=1), zero)
            if eps > 0.0:
                weighted = logits - lse
                if class_weight is not None:
                    weighted = weighted * xp.reshape(class_weight, (1, -1))
                nll = (1.0 - eps) * nll + (eps / n_classes) * -xp.sum(weighted, axis=1)
            # A class index out of range that is not ignored (lazy backends only; eager ones
            # raised already) is never gathered: its loss is NaN.
            loss = xp.where(valid, xp.where(in_range, nll, xp.full_like(nll, float("nan"))), zero)
        lse = xp.squeeze(lse, axis=1)
        if z_loss:
            penalty = z_loss * (lse * lse)
            if valid is not None:
                penalty = xp.where(valid, penalty, xp.zeros_like(penalty))
            loss = loss + penalty
        return loss, lse

    def cond(self, pred: Any, if_true: Callable[..., T], if_false: Callable[..., T], *operands: Any) -> T:
        """``if_true(*operands)`` where the scalar ``pred`` holds, else ``if_false(*operands)``:
        only the one taken runs (compiled code: a conditional of the compiler's)."""
        return if_true(*operands) if bool(pred) else if_false(*operands)

    def fori_loop(self, lower: int, upper: int, body: Callable[[int, T], T], init: T) -> T:
        value = init
        for i in range(lower, upper):
            value = body(i, value)
        return value

    def quiet_floating_point(self) -> AbstractContextManager[Any]:
        """Silence floating-point warnings (overflow to inf, log of 0) the way torch is silent.

        Array libraries built on NumPy (array-api-strict, Dask's chunks) warn through NumPy.
        """
        return np.errstate(all="ignore")


class NumPyBackend(Backend):
    """NumPy: the generic capabilities, with ufuncs writing into the temporaries anyloss owns.

    On large arrays a fresh temporary costs more than the arithmetic (each one is paged in
    anew), so these keep to the fewest allocations.  Values are bit for bit the generic
    forms': max(x, 0) + log1p(exp(−|x|)) is ``x + log1p(exp(−x))`` for x > 0 and
    ``log1p(exp(x))`` otherwise.
    """

    def native(self, name: str) -> Callable[..., Any] | None:
        # A loss's usual call (elementwise or of class scores), the body's formula without its checks
        # (anyloss._backends._numpy_kernels), or None.
        return _numpy_kernels.KERNELS.get(name)

    def known_within(self, x: Any, low: int, high: int) -> bool:
        # Two reductions decide the usual call (every class index in range), no mask needed.
        return bool(x.size) and type(x) is np.ndarray and x.min() >= low and x.max() < high

    def sum_all(self, x: Any) -> Any:
        """A floating array goes straight to ``add.reduce``: the very sum ``np.sum`` computes,
        without its Python layers (a third of a small loss's time)."""
        if type(x) is np.ndarray and x.dtype.kind == "f":
            return np.add.reduce(x, axis=None)
        return self.xp.sum(x)

    def gather_class(self, x: Any, index: Any, axis: int) -> Any:
        """Rows and their classes by fancy indexing: take_along_axis's Python layers cost more
        than the gather at a few hundred rows."""
        if type(x) is np.ndarray and x.ndim == 2 and axis % 2 == 1:
            return x[np.arange(x.shape[0]), index]
        return super().gather_class(x, index, axis)

    def softplus(self, x: Any) -> Any:
        """max(x, 0) + log1p(exp(−|x|)) into one owned temporary (two allocations)."""
        out = _numpy_kernels.log1p_exp_neg_abs(x)
        out += np.maximum(x, 0)
        return out

    def softplus_pair(self, x: Any) -> tuple[Any, Any]:
        """Both softplus values from one shared exp and log1p (``_numpy_kernels.softplus_pair``)."""
        return _numpy_kernels.softplus_pair(x)

    def clamp_min(self, z: Any, floor: float) -> Any:
        """``maximum(z, floor)``: keeps NaN as clamp_min does; a masked where is several times slower."""
        return np.maximum(z, np.asarray(floor, dtype=z.dtype))

    def hinge_embedding_terms(self, x: Any, hinge: Any, target: Any) -> Any:
        """The two terms as products by their masks when both are all finite (their sums
        are: one fast pass each), else the selects.

        The product is exact for finite terms (a −0 in place of 0 aside) and several times
        faster than ``where`` with a random mask.
        """
        if x.ndim and np.isfinite(np.sum(hinge)) and np.isfinite(np.sum(x)):
            return _numpy_kernels.hinge_embedding_products(x, hinge, target)
        return super().hinge_embedding_terms(x, hinge, target)

    def hinge_excluding(self, z: Any, index: Any) -> Any:
        """``fmax(z, 0)`` (NaN gives 0, as torch's ``if (z > 0)``), the excluded column zeroed in place."""
        out = np.fmax(z, 0)
        if out.size:
            np.put_along_axis(out, np.expand_dims(index, axis=1), 0, axis=1)
        return out

    def logsumexp(self, x: Any, axis: int, keepdims: bool) -> Any:
        """The shifted sum with at most one full-size temporary, exponentiated in place; in
        blocks of rows for a large input (``_numpy_kernels.logsumexp``)."""
        return _numpy_kernels.logsumexp(x, axis, keepdims)


class DaskBackend(Backend):
    """Dask: lazy arrays, whose sizes may be unknown (NaN) after boolean indexing."""

    def adopt(self, x: Any, like: Any) -> Any:
        import dask.array as da

        # Wrapping the NumPy array itself: in ``like``'s chunks where it has its shape, else
        # one chunk (the operations with ``like`` rechunk it).
        x = np.asarray(x)
        return da.from_array(x, chunks=like.chunks if x.shape == like.shape else x.shape)

    def check_shapes(self, *arrays: Any) -> None:
        # Every loss checks shapes and broadcasts at call time, which unknown sizes make
        # meaningless (torch's shape checks would compare NaN): ask for them instead.
        for position, x in enumerate(arrays):
            shape = getattr(x, "shape", ())
            if any(s != s for s in shape):
                raise ValueError(
                    f"array {position + 1} of this loss call has unknown (NaN) chunk sizes, shape "
                    f"{tuple(shape)}, as Dask arrays have after boolean indexing; anyloss checks "
                    "and broadcasts shapes when the loss is built, so call "
                    "`x.compute_chunk_sizes()` on it first"
                )


#: Rows of one block of logits where ``chunk_size`` rows would be fewer (see
#: :func:`logit_blocks`).
TILE_ROWS = 512


def logit_blocks(n: int, n_classes: int, chunk_size: int) -> tuple[int, int]:
    """``(rows, classes)`` of one block of ``linear_cross_entropy``'s logits in the torch and
    JAX kernels: ``chunk_size`` rows of every class, or, where that is fewer than
    :data:`TILE_ROWS` rows of a larger batch, as many logits as ``chunk_size`` rows hold, in
    up to ``TILE_ROWS`` rows of fewer classes.  Matrix products of a few rows run far below
    the machine's speed (at 16 rows of N=2048, H=512, V=32000 the step took 3× the three
    products alone), while the logits held stay the same."""
    if chunk_size >= min(n, TILE_ROWS):
        return chunk_size, n_classes
    rows = min(n, TILE_ROWS)
    classes = max(1, chunk_size * n_classes // rows)
    return (rows, classes) if classes < n_classes else (chunk_size, n_classes)


def _compute_dtype(xp: Any, dtype: Any) -> Any:
    """float32 for float16 and bfloat16 (torch's opmath), the dtype itself otherwise."""
    return xp.float32 if str(dtype).rsplit(".", 1)[-1] in ("float16", "bfloat16") else dtype
