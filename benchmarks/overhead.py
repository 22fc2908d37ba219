"""Per-call overhead of anyloss over torch.nn.functional on torch tensors, at the small size.

    python -m benchmarks.overhead [--losses a,b] [--samples N] [--calls K]

On torch tensors anyloss calls ``torch.nn.functional`` itself, so what it adds is Python
work per call.  The suite's small-size columns sample about a quarter of a millisecond at a
time, which for a 30 µs call is a handful of calls; here each sample is ``--calls`` calls
(a few milliseconds), anyloss and F alternate, and the medians are compared.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np

from . import cases as _cases


def _per_call(f: Any, calls: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        f()
    return (time.perf_counter_ns() - t0) / calls


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__.split("\n\n")[0])
    p.add_argument("--losses", default=",".join(_cases.LOSSES))
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--calls", type=int, default=200)
    a = p.parse_args(argv)

    import torch
    import torch.nn.functional as F

    import anyloss.functional as AF

    torch.set_num_threads(2)
    print(f"{'loss':34s} {'anyloss µs':>10s} {'F µs':>8s} {'overhead µs':>12s}")
    for loss in a.losses.split(","):
        case = _cases.build(loss, "small")
        args = [torch.from_numpy(x) if isinstance(x, np.ndarray) else x for x in case.args]
        kw = case.kwargs
        ours, native = getattr(AF, loss), getattr(F, loss)

        def fa(ours: Any = ours, args: list[Any] = args, kw: dict[str, Any] = kw) -> Any:
            return ours(*args, **kw)

        def fb(native: Any = native, args: list[Any] = args, kw: dict[str, Any] = kw) -> Any:
            return native(*args, **kw)

        for _ in range(a.calls * 5):  # warm-up
            fa()
            fb()
        ta: list[float] = []
        tb: list[float] = []
        for i in range(a.samples):
            pair = ((fa, ta), (fb, tb)) if i % 2 == 0 else ((fb, tb), (fa, ta))
            for f, out in pair:
                out.append(_per_call(f, a.calls))
        ma, mb = statistics.median(ta), statistics.median(tb)
        print(f"{loss:34s} {ma / 1e3:10.2f} {mb / 1e3:8.2f} {(ma - mb) / 1e3:+12.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
