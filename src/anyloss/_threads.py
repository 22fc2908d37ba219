"""How many threads anyloss's NumPy kernels use, and the pool they share.

NumPy's ufuncs release the GIL, so the kernels of the elementwise losses
(:mod:`anyloss._backends._numpy_kernels`) split a large input into blocks and compute them
on several threads at once.  The thread count is, by priority:

1. the last :func:`set_num_threads`;
2. the environment variable ``ANYLOSS_NUM_THREADS``, else ``OMP_NUM_THREADS`` (read once,
   the first time a count is needed; a value that is not a positive integer is ignored);
3. the cores this process may run on.

Only a call from the interpreter's main thread fans out.  A call from any other thread (a
Dask worker, a user's thread pool, one of anyloss's own workers) runs on its own thread
alone, so an outer pool is never oversubscribed: its threads already use the cores.
Small inputs stay on one thread too (see the kernels' ``PARALLEL_MIN``).

The results do not depend on the thread count: each block computes the same operations on
its own elements, and the blocks' sums are added in the order of one thread's summation
(the kernels' docstring says how).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["get_num_threads", "set_num_threads"]

#: The environment variables read for the default count, first found first.
ENVIRONMENT = ("ANYLOSS_NUM_THREADS", "OMP_NUM_THREADS")

_lock = threading.Lock()
_count: int | None = None
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _default_count() -> int:
    for name in ENVIRONMENT:
        value = os.environ.get(name, "").strip()
        if value.isdecimal() and int(value) > 0:
            return int(value)
    return _available_cores()


def get_num_threads() -> int:
    """The number of threads anyloss's NumPy kernels use for a large input.

    Returns
    -------
    int
        The last :func:`set_num_threads`, else ``ANYLOSS_NUM_THREADS``, else
        ``OMP_NUM_THREADS``, else the cores this process may run on.

    Examples
    --------
    >>> import anyloss as al
    >>> al.get_num_threads() >= 1
    True
    """
    global _count
    if _count is None:
        _count = _default_count()
    return _count


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for large inputs from now on.

    Like ``torch.set_num_threads``, it holds for the whole process.  The results do not
    depend on it.

    Parameters
    ----------
    n : int
        A positive number of threads; 1 computes every call on the calling thread.

    Returns
    -------
    None

    Raises
    ------
    TypeError
        ``n`` is not an int.
    ValueError
        ``n`` is below 1.
    """
    global _count, _pool
    if type(n) is not int:
        raise TypeError(f"set_num_threads() expects an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads() expects a positive number of threads, got {n}")
    with _lock:
        _count = n
        if _pool is not None and _pool_size != n:
            _pool.shutdown(wait=False)
            _pool = None


def workers() -> int:
    """How many threads the calling thread may use now: 1 off the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return 1
    return get_num_threads()


def run(task: Callable[[int], Any], parts: int) -> list[Any]:
    """``[task(0), …, task(parts − 1)]``, ``task(0)`` on the calling thread and the others
    on the pool's threads at the same time; an exception in any part is raised here."""
    global _pool, _pool_size
    with _lock:
        if _pool is None:
            _pool_size = get_num_threads()
            _pool = ThreadPoolExecutor(max_workers=_pool_size, thread_name_prefix="anyloss")
        pool = _pool
    futures = [pool.submit(task, i) for i in range(1, parts)]
    try:
        first = task(0)
    finally:
        rest = [f.result() for f in futures]
    return [first, *rest]


def split(n: int, parts: int) -> Sequence[range]:
    """``range(n)`` cut into ``parts`` contiguous, nearly equal ranges."""
    step, extra = divmod(n, parts)
    bounds = [i * step + min(i, extra) for i in range(parts + 1)]
    return [range(bounds[i], bounds[i + 1]) for i in range(parts)]


def _forget_pool_after_fork() -> None:
    # A forked child has none of the parent's threads: it starts its own pool if it needs one.
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)
