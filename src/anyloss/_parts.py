"""The two sides of every 'mean': what :func:`anyloss.mean_parts` returns, and how it asks."""

from __future__ import annotations

from typing import Any, NamedTuple


class MeanParts(NamedTuple):
    """The two sides of a loss's 'mean': ``numerator / denominator`` is ``reduction='mean'``.

    Both are 0-D arrays of the inputs' library, in the dtype the loss computes in (float32
    for half-precision inputs, whose 'mean' is this ratio rounded to the input's dtype).
    Numerators and denominators of several batches add up to those of their concatenation.

    Parameters
    ----------
    numerator : array
        The sum the loss's 'mean' divides: it carries the loss's gradient.
    denominator : array
        What the 'mean' divides by (the number of terms, the summed class weights of the
        targets that are not ignored, the batch size, ...).
    """

    numerator: Any
    denominator: Any


class MeanRequest(str):
    """A reduction ('mean', or kl_div's 'batchmean') asking a loss body for the two sides of its
    'mean' instead of their ratio.  It compares equal to the plain string, so a body takes its
    'mean' branch unchanged; :func:`divide` is where the two ways part."""


def mean_parts(loss: Any, /, *args: Any, reduction: str = "mean", **kwargs: Any) -> MeanParts:
    r"""The numerator and denominator of a loss's ``reduction='mean'``.

    ``loss(*args, reduction='mean', **kwargs)`` is ``numerator / denominator``, to the last
    bit (cast to the loss's output dtype).  Unlike means, numerators and denominators add
    up: summed over micro-batches, data-parallel ranks or file chunks they give the 'mean'
    of the whole batch, not a mean of means, also when the parts hold different numbers of
    terms, of targets that are not ``ignore_index`` or of class weight.

    Parameters
    ----------
    loss : function or str
        An anyloss loss function (``anyloss.cross_entropy``), or its name or class name.
    *args, **kwargs
        The loss's arguments, as the loss takes them (arrays positionally or by keyword).
        ``reduction`` is keyword-only here and must be one of the loss's means ('mean', and
        kl_div's 'batchmean'); the legacy ``size_average`` and ``reduce`` are refused.
    reduction : str, default 'mean'
        Which mean.

    Returns
    -------
    MeanParts
        A named tuple ``(numerator, denominator)`` of 0-D arrays of the inputs' library,
        in the dtype the loss computes in (float32 for half-precision inputs).  The
        numerator carries the loss's gradient; the denominator depends on the targets and
        weights only (it is the number of terms, the summed class weights of the targets
        that are not ignored, the batch size, ...: see each loss's record,
        ``anyloss info NAME``).

    Notes
    -----
    The parts are computed by the loss's own body, which divides them for 'mean'; on torch
    tensors that body runs instead of ``torch.nn.functional``'s kernel (the test suite
    checks that the two agree).  Under ``jax.jit``, ``torch.compile`` and on Dask the parts
    are traced or lazy like any result.

    Gradient accumulation: sum the numerators' gradients over the micro-batches and divide
    by the summed denominators, which equals the gradient of the whole batch's 'mean'.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> logits = np.array([[2.0, 0.5, 0.1], [0.2, 1.5, 0.3], [0.1, 0.2, 3.0]])
    >>> labels = np.array([0, -100, 2])
    >>> a = al.mean_parts(al.cross_entropy, logits[:2], labels[:2])
    >>> b = al.mean_parts(al.cross_entropy, logits[2:], labels[2:])
    >>> a.denominator, b.denominator
    (array(1.), array(1.))
    >>> bool((a.numerator + b.numerator) / (a.denominator + b.denominator)
    ...      == al.cross_entropy(logits, labels))
    True
    """
    from . import _registry

    record = _registry.find(loss)
    if reduction not in record.means:
        raise ValueError(
            f"mean_parts: {record.name}'s means are {', '.join(map(repr, record.means))}, not {reduction!r}"
        )
    names = [p.name for p in record.parameters]
    for legacy in ("size_average", "reduce", "reduction"):
        if legacy in names and len(args) > names.index(legacy):
            raise TypeError(
                f"mean_parts: pass {record.name}'s options after its arrays by keyword "
                f"(argument {names.index(legacy) + 1} is {legacy})"
            )
    for legacy in ("size_average", "reduce"):
        if kwargs.get(legacy) is not None:
            raise TypeError(f"mean_parts: {legacy} is not supported; the reduction is {reduction!r}")
    parts = record.function(*args, reduction=MeanRequest(reduction), **kwargs)
    if type(parts) is not MeanParts:
        raise RuntimeError(f"anyloss: {record.name}'s body did not divide through _reduction.divide")
    return parts
