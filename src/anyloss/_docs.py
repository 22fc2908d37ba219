"""Docstring pieces every loss shares, filled in by :func:`fill`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

_PIECES = {
    "legacy": """size_average, reduce : bool or None, optional
    Deprecated (as in torch).  When either is given it overrides ``reduction``
    (None counts as True: ``reduce=False`` gives 'none', else ``size_average=False``
    gives 'sum', else 'mean') and a ``UserWarning`` is emitted.""",
    "reduction": """reduction : {'none', 'mean', 'sum'}, default 'mean'
    'none': the elementwise loss; 'sum': its sum; 'mean': its mean (NaN for an empty input).""",
    "xp": """xp : array namespace, optional
    The array namespace to use (``numpy``, ``jax.numpy``, ``torch``, a compat namespace);
    looked up from the arrays when omitted.""",
    "returns": """Returns
-------
array
    An array of the inputs' library, on their device: 0-D when reduced, the broadcast
    shape for 'none'.""",
    "lazy": """On lazy backends (``jax.jit`` tracing, Dask) values cannot be inspected when the
function is called, so value checks are skipped there; shape, dtype and argument
errors still raise at call time.""",
}


def fill(func: F) -> F:
    """Replace ``{legacy}``, ``{reduction}``, ``{xp}``, ``{returns}`` and ``{lazy}`` in a docstring."""
    if func.__doc__:
        doc = func.__doc__
        for key, text in _PIECES.items():
            marker = "{" + key + "}"
            if marker not in doc:
                continue
            # Indent continuation lines to the marker's own indentation.
            line_start = doc.rfind("\n", 0, doc.index(marker)) + 1
            indent = doc[line_start : doc.index(marker)]
            doc = doc.replace(marker, text.replace("\n", "\n" + indent))
        func.__doc__ = doc
    return func
