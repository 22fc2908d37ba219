"""One progress bar (tqdm, on stderr) for every way ``anyloss eval`` runs.

The streamed run counts rows; a Dask run counts the tasks of its graph, on a local
scheduler (a :class:`dask.callbacks.Callback`) or on a ``dask.distributed`` cluster (the
scheduler's own progress feed, through the run's client: ``distributed.progress`` looks
for a default client, which the command never installs, and fails with "No clients
found").  The bar is cleared when the run ends, so the terminal shows the result alone.
"""

from __future__ import annotations

import shutil
import sys
from typing import Any

from ._common import installed

#: Shown once on stderr when a bar was wanted (a terminal) but tqdm is not installed.
MISSING_TQDM = "anyloss: no progress bar: it needs tqdm (pip install 'anyloss[progress]')"


class Progress:
    """A tqdm bar on stderr, or nothing when it is not wanted or tqdm is missing."""

    def __init__(self, enabled: bool, unit: str, total: int = 0) -> None:
        self.bar: Any = None
        if not enabled:
            return
        if not installed("tqdm"):
            print(MISSING_TQDM, file=sys.stderr)
            return
        from tqdm import tqdm

        # A terminal that reports no size (0×0, as a bare pseudo-terminal does) would hide
        # tqdm's bar: it gets 80×24 instead.
        size = shutil.get_terminal_size((80, 24))
        self.bar = tqdm(
            total=total,
            unit=unit,
            unit_scale=True,
            file=sys.stderr,
            leave=False,
            dynamic_ncols=False,
            ncols=size.columns or 80,
            nrows=max(size.lines, 2),
        )

    def set(self, done: int, total: int) -> None:
        if self.bar is not None:
            if self.bar.total != total:
                self.bar.total = total
            self.bar.update(done - self.bar.n)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dask_local_callback(progress: Progress) -> Any:
    """A Dask callback that moves the bar as the local scheduler finishes tasks."""
    from dask.callbacks import Callback

    class _TaskBar(Callback):
        def _start_state(self, dsk: Any, state: Any) -> None:
            self.total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
            self.done = len(state["finished"])
            progress.set(self.done, self.total)

        def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            self.done += 1
            progress.set(self.done, self.total)

    return _TaskBar()


def follow_on_cluster(client: Any, future: Any, progress: Progress) -> None:
    """Move the bar with the scheduler's count of the future's tasks until it finishes
    or fails (the failure itself is raised by ``future.result()``)."""
    from distributed.diagnostics.progressbar import ProgressBar

    class _TaskBar(ProgressBar):
        def _draw_bar(self, remaining: int, all: int, **kwargs: Any) -> None:
            progress.set(all - remaining, all)

    bar = _TaskBar([future], scheduler=client.scheduler.address, interval="100ms")
    client.sync(bar.listen)
