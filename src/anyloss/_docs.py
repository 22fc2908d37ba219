"""Docstring pieces every loss shares, filled in by :func:`fill`.

A docstring decorated with :func:`fill` is a small template:

* ``{name}``, where ``name`` is a key of :data:`PIECES`, is replaced by that piece, its
  continuation lines indented like the line the marker is on.  The block pieces
  (parameter entries and sections) must stand alone on their line; ``{lazy}`` may sit
  inside a paragraph.
* An identifier in braces that is not a key is an error, raised when the function is
  decorated (that is, when anyloss is imported), so a misspelt or unknown marker cannot
  reach the published help.
* Every other brace is text: sets of values (``{'none', 'mean', 'sum'}``) and LaTeX
  groups (``\\text{margin}``, ``x_{t_i}``, ``\\frac{1}{C}``, ``\\begin{cases}``: an
  identifier in braces right after a letter, a backslash, ``_``, ``^`` or another brace
  is LaTeX, not a marker).
* ``{{text}}``, with no brace inside ``text``, is the literal ``{text}``: the way to write
  an identifier in braces in prose (``{{reduction}}`` gives ``{reduction}``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

PIECES = {
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

# The pieces that may share their line with text.
_INLINE = frozenset({"lazy"})

# An escaped literal ``{{text}}``, or a marker ``{name}`` not preceded by what makes it a
# LaTeX group (a command's letter, a backslash, a sub- or superscript, another group)
# and not itself inside doubled braces.
TOKEN = re.compile(r"\{\{(?P<literal>[^{}\n]*)\}\}|(?<![A-Za-z0-9_\\^{}])\{(?P<name>[A-Za-z_]\w*)\}(?!\})")


def render(doc: str, where: str = "docstring") -> str:
    """Fill the markers of ``doc`` and unescape its ``{{text}}``; raise ``ValueError`` on misuse."""

    def replace(match: re.Match[str]) -> str:
        if match["literal"] is not None:
            return "{" + match["literal"] + "}"
        name = match["name"]
        if name not in PIECES:
            raise ValueError(
                f"{where}: unknown docstring marker {{{name}}} (known: {', '.join(sorted(PIECES))}); "
                f"write {{{{{name}}}}} for the literal text"
            )
        line_start = doc.rfind("\n", 0, match.start()) + 1
        line_end = doc.find("\n", match.end())
        line = doc[line_start : len(doc) if line_end < 0 else line_end]
        indent = line[: len(line) - len(line.lstrip())]
        if name not in _INLINE and line.strip() != match[0]:
            raise ValueError(f"{where}: the docstring marker {{{name}}} must stand alone on its line")
        return PIECES[name].replace("\n", "\n" + indent)

    return TOKEN.sub(replace, doc)


def fill(func: F) -> F:
    """Fill the shared pieces (``{legacy}``, ``{reduction}``, ...) into ``func``'s docstring."""
    if func.__doc__:
        func.__doc__ = render(func.__doc__, f"{func.__module__}.{func.__qualname__}")
    return func
