"""NumPy on every core: anyloss's threads against one thread and against plain NumPy.

    python -m benchmarks.threads [--losses l1_loss,soft_margin_loss,...] [--size large]

For each loss, on the benchmark case of ``--size`` (float32, ``benchmarks/cases.py``), in
one process, sampled alternately round after round (each round times every variant once,
back to back; the result is the median over the rounds):

* ``numpy``: the plain NumPy formula (``benchmarks/peers.py``);
* ``1 thread``: anyloss with ``set_num_threads(1)``;
* ``N threads``: anyloss with ``set_num_threads(N)``, N the cores (``--threads``).

First, what the machine gives NumPy's threads at the moment (n threads of ``np.log1p`` at
once against one after another: a shared virtual machine may give less than n×).  Then, to
show that an outer pool is not oversubscribed: N calls at once from a
``ThreadPoolExecutor`` of N threads (each call stays on its own thread) against the same
N calls one after another on N threads, and, for cross_entropy, a Dask array of row chunks
computed with Dask's threaded scheduler against its synchronous one.

Prints one line per measurement and, with ``--json FILE``, writes them.  Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

import anyloss
from benchmarks.cases import build
from benchmarks.peers import numpy_peer

DEFAULT_LOSSES = (
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "binary_cross_entropy_with_logits",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "kl_div",
    "cross_entropy",
)


def alternate(variants: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each variant, timed in turn in every round."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for f in variants.values():  # warm-up
        f()
    for _ in range(rounds):
        for name, f in variants.items():
            began = time.perf_counter()
            f()
            samples[name].append(time.perf_counter() - began)
    return {name: statistics.median(times) for name, times in samples.items()}


def report(measure: str, times: dict[str, float]) -> dict[str, Any]:
    """One printed row: the times of a parallel variant and of its sequential twin, and
    the speed-up (the second's time over the first's)."""
    parallel, sequential = times
    row = {
        "measure": measure,
        **{f"{k} ms": round(v * 1e3, 2) for k, v in times.items()},
        f"{sequential} / {parallel}": round(times[sequential] / times[parallel], 2),
    }
    print(json.dumps(row))
    return row


def with_threads(count: int, f: Callable[[], Any]) -> Callable[[], Any]:
    def call() -> Any:
        anyloss.set_num_threads(count)
        return f()

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", default=",".join(DEFAULT_LOSSES))
    parser.add_argument("--size", default="large")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    n = args.threads
    results: list[dict[str, Any]] = []
    print(f"{n} threads, size {args.size}, median of {args.rounds} alternated rounds")
    # What the machine gives NumPy's threads now: n threads each running one ufunc over its
    # own array at once, against the same calls one after another (n× on n free cores; a
    # virtual machine whose cores are shared with others gives less).
    arrays = [np.linspace(0.0, 1.0, 1 << 22, dtype=np.float32) + k for k in range(n)]
    outs = [np.empty_like(a) for a in arrays]
    calibration = ThreadPoolExecutor(max_workers=n)
    times = alternate(
        {
            "at once": lambda: list(calibration.map(lambda k: np.log1p(arrays[k], out=outs[k]), range(n))),
            "in sequence": lambda: [np.log1p(a, out=o) for a, o in zip(arrays, outs, strict=True)],
        },
        max(3, args.rounds // 3),
    )
    calibration.shutdown()
    results.append(report(f"the machine: {n} threads of np.log1p at once vs one after another", times))
    for loss in args.losses.split(","):
        case = build(loss, args.size)
        fn = getattr(anyloss, loss)
        _, peer = numpy_peer(loss)

        def call(fn: Any = fn, case: Any = case) -> Any:
            return fn(*case.args, **case.kwargs)

        times = alternate(
            {
                "numpy": lambda peer=peer, case=case: peer(*case.args, **case.kwargs),
                "1 thread": with_threads(1, call),
                f"{n} threads": with_threads(n, call),
            },
            args.rounds,
        )
        row = {
            "loss": loss,
            "shape": case.shape,
            **{f"{k} ms": round(v * 1e3, 2) for k, v in times.items()},
            "threads / 1 thread": round(times["1 thread"] / times[f"{n} threads"], 2),
            "numpy / threads": round(times["numpy"] / times[f"{n} threads"], 2),
            "numpy / 1 thread": round(times["numpy"] / times["1 thread"], 2),
        }
        results.append(row)
        print(json.dumps(row))

    # An outer pool: N calls at once, each on its own thread, against N calls in sequence
    # on N threads each.  Without oversubscription both keep the cores busy alike.
    case = build("soft_margin_loss", args.size)
    anyloss.set_num_threads(n)

    def one() -> Any:
        return anyloss.soft_margin_loss(*case.args)

    pool = ThreadPoolExecutor(max_workers=n)

    def outer() -> None:
        list(pool.map(lambda _: one(), range(n)))

    def inner() -> None:
        for _ in range(n):
            one()

    times = alternate({"outer pool": outer, "in sequence": inner}, max(3, args.rounds // 3))
    pool.shutdown()
    measure = f"soft_margin_loss ×{n}: a pool of {n} threads calling at once vs one call after another"
    results.append(report(measure, times))

    try:
        import dask
        import dask.array as da
    except ImportError:
        pass
    else:
        x, t = build("cross_entropy", args.size).args[:2]
        rows = max(1, x.shape[0] // (4 * n))
        dx, dt = da.from_array(x, chunks=(rows, -1)), da.from_array(t, chunks=rows)
        lazy = anyloss.cross_entropy(dx, dt)
        times = alternate(
            {
                "threads": lambda: lazy.compute(scheduler="threads", num_workers=n),
                "synchronous": lambda: lazy.compute(scheduler="synchronous"),
            },
            max(3, args.rounds // 3),
        )
        measure = f"cross_entropy on Dask, {x.shape[0] // rows} chunks of rows, dask {dask.__version__}"
        results.append(report(measure, times))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
