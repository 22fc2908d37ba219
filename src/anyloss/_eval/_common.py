"""What every module of ``anyloss._eval`` shares.

The user error and its one-line form, the backends, and whether an optional library is
installed.
"""

from __future__ import annotations

import importlib.util

BACKENDS = ("numpy", "torch", "jax", "dask")


class EvalError(Exception):
    """A user error: reported as one line on stderr, never as a traceback."""


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type (unless it is ours) and its message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, EvalError) else f"{type(exc).__name__}: {text}"


def installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
