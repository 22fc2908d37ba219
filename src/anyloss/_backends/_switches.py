"""The switches a caller may flip around a block of code, kept per context.

``native`` is a :class:`contextvars.ContextVar`: a ``with anyloss.native_paths(...)``
block changes the calls of its own thread or asyncio task only, and blocks nest and
overlap freely.  torch.compile cannot trace ``ContextVar.get`` (the graph would break), so
every block also records its setting in ``per_thread``, a thread-local that compiled code
reads instead and that torch.compile guards on: a graph traced with native paths on is
not reused in a block that turns them off.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar

native: ContextVar[bool] = ContextVar("anyloss_native_paths", default=True)


class _PerThread(threading.local):
    #: the setting of the innermost native_paths block entered in this thread
    native = True


per_thread = _PerThread()
