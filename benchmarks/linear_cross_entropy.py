"""Benchmark of linear_cross_entropy: peak memory and time of one forward+backward step.

Run: ``python -m benchmarks.linear_cross_entropy [--sizes small,large] [--rounds R]``.
Float32, on CPU, with ``reduction='mean'`` over index targets:

- ``matmuls (torch)`` / ``matmuls (jax)``: the three matrix products alone (``z = x W^T``,
  ``z W``, ``z^T x``): the time floor, in the same run;
- ``blocked products (torch)``: the four products of anyloss's torch kernel alone, in its
  blocks of rows and classes (the logits once for the log-normalisers, then again for
  ``dX`` and ``dW``): the floor of an algorithm that never holds a row's logits whole;
- ``naive torch``: ``cross_entropy(linear(x, W), t)``;
- ``torch chunked``: ``torch.nn.functional.linear_cross_entropy`` with
  ``options=LinearCrossEntropyOptions()`` (torch's chunked custom op, ``'auto'`` chunks);
- ``anyloss torch``: ``anyloss.linear_cross_entropy`` on torch tensors (anyloss's chunked
  autograd kernel);
- ``anyloss jax``: ``anyloss.linear_cross_entropy`` on JAX arrays under
  ``jax.jit(jax.value_and_grad(...))`` (the JAX backend's ``custom_vjp`` kernel);
- with ``--chunk-sizes 64,256``: both anyloss contenders again with each ``chunk_size``
  (rows per chunk; the default is the memory floor's), the trade of memory for time.

Peak memory, each contender in a fresh process: torch on CPU: the growth of the process's
resident set during the step, read from ``VmHWM`` in ``/proc/self/status`` after resetting it
(``/proc/self/clear_refs``) once the inputs exist and a warm-up step has run, with glibc's
mmap threshold fixed at 1 MiB (large blocks go back to the system when freed), the highest of
three steps; JAX: XLA's compiled memory analysis of the jitted step (temporaries plus outputs,
the gradients included).  Both include the gradients ``dX + dW``, printed beside them as the floor.

Time: one fresh process per framework runs its contenders in turn, ``--rounds`` rounds after
one warm-up step each, every contender once per round (the order turned by one each round).
Each contender's time over that of its framework's three products in the same rounds gives
the ratio; the table gives the median step and the ratio's median with its spread (the lowest
and highest over five blocks of rounds, as in the suite's ``ratio_spread``), so that a drift
of the machine's speed moves both sides of a ratio alike and shows as spread rather than as
a different ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.run import ratio_spread

SIZES = {"small": (2048, 512, 32000), "large": (4096, 1024, 128256)}
CONTENDERS = [
    "matmuls (torch)",
    "blocked products (torch)",
    "naive torch",
    "torch chunked",
    "anyloss torch",
    "matmuls (jax)",
    "anyloss jax",
]
MIB = 2**20
SECTION = "## linear_cross_entropy: memory and time of a training step"


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _torch_inputs(n: int, h: int, v: int) -> tuple[Any, Any, Any]:
    import numpy as np
    import torch

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((n, h), dtype=np.float32)).requires_grad_()
    w = torch.from_numpy(rng.standard_normal((v, h), dtype=np.float32) * 0.02).requires_grad_()
    return x, w, torch.from_numpy(rng.integers(0, v, n))


def _torch_step(name: str, x: Any, w: Any, t: Any) -> Callable[[], None]:
    """One forward+backward step of a torch contender, its gradients cleared first."""
    import torch
    import torch.nn.functional as F

    if name == "matmuls (torch)":

        def step() -> None:
            with torch.no_grad():
                z = x @ w.T
                x.grad, w.grad = z @ w, z.T @ x

        return step
    if name == "blocked products (torch)":
        return _blocked_products(x, w)
    if name == "naive torch":

        def loss() -> Any:
            return F.cross_entropy(F.linear(x, w), t)
    elif name == "torch chunked":
        options = torch.nn.LinearCrossEntropyOptions()

        def loss() -> Any:
            return F.linear_cross_entropy(x, w, t, options=options)
    else:
        import anyloss

        rows = _chunk_size(name)

        def loss() -> Any:
            return anyloss.linear_cross_entropy(x, w, t, chunk_size=rows)

    def step() -> None:
        x.grad = w.grad = None
        loss().backward()

    return step


def _blocked_products(x: Any, w: Any) -> Callable[[], None]:
    import torch
    import torch.nn.functional as F

    from anyloss._backends._chunks import default_chunk_size
    from anyloss._backends._generic import logit_blocks

    (n, h), v = x.shape, w.shape[0]
    rows, classes = logit_blocks(n, v, default_chunk_size(n, h, v))
    blocks = [slice(c, min(v, c + classes)) for c in range(0, v, classes)]

    def step() -> None:
        with torch.no_grad():
            dx, dw = torch.empty_like(x), torch.zeros_like(w)
            for start in range(0, n, rows):
                xr = x[start : start + rows]
                for cols in blocks:
                    F.linear(xr, w[cols])
                for cols in blocks:
                    z = F.linear(xr, w[cols])
                    dx[start : start + rows].addmm_(z, w[cols], beta=0.0 if cols.start == 0 else 1.0)
                    dw[cols].addmm_(z.t(), xr)
            x.grad, w.grad = dx, dw

    return step


def _torch_peak(name: str, n: int, h: int, v: int) -> dict[str, Any]:
    x, w, t = _torch_inputs(n, h, v)
    step = _torch_step(name, x, w, t)
    step()
    peaks = []
    for _ in range(3):  # the highest of three steps: the resident set moves by a few MiB
        x.grad = w.grad = None  # the step's own gradients count in its peak
        baseline = _status("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        step()
        peaks.append(_status("VmHWM") - baseline)
    return {"peak": max(peaks), "memory": "RSS high-water mark"}


def _jax_inputs(n: int, h: int, v: int) -> tuple[Any, Any, Any]:
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((n, h), dtype=np.float32))
    w = jnp.asarray(rng.standard_normal((v, h), dtype=np.float32) * 0.02)
    return x, w, jnp.asarray(rng.integers(0, v, n).astype(np.int32))


def _jax_step(name: str, t: Any) -> Any:
    """The jitted step of a JAX contender, a function of ``(x, w)``."""
    import jax

    if name == "matmuls (jax)":

        def three(x: Any, w: Any) -> Any:
            z = x @ w.T
            return z @ w, z.T @ x

        return jax.jit(three)
    import anyloss

    rows = _chunk_size(name)

    def loss(x: Any, w: Any) -> Any:
        return anyloss.linear_cross_entropy(x, w, t, chunk_size=rows)

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def _jax_peak(name: str, n: int, h: int, v: int) -> dict[str, Any]:
    x, w, t = _jax_inputs(n, h, v)
    analysis = _jax_step(name, t).lower(x, w).compile().memory_analysis()
    peak = analysis.temp_size_in_bytes + analysis.output_size_in_bytes
    return {"peak": peak, "memory": "XLA memory analysis"}


def _rounds(names: list[str], size: str, rounds: int) -> dict[str, list[float]]:
    """Seconds of each step of ``names`` (one framework's contenders, in one process), over
    ``rounds`` rounds in which every contender runs once, the order turned by one each round,
    after one warm-up step each."""
    n, h, v = SIZES[size]
    steps: dict[str, Callable[[], Any]] = {}
    if "jax" in names[0]:
        import jax

        x, w, t = _jax_inputs(n, h, v)
        for name in names:
            jitted = _jax_step(name, t)
            steps[name] = lambda jitted=jitted: jax.block_until_ready(jitted(x, w))
    else:
        inputs = _torch_inputs(n, h, v)
        steps = {name: _torch_step(name, *inputs) for name in names}
    for step in steps.values():
        step()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            began = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - began)
    return times


def _chunk_size(name: str) -> int | None:
    """The rows per chunk a contender's name asks for ('anyloss torch, chunk_size=64'),
    else None: anyloss's default."""
    _, _, rows = name.partition("chunk_size=")
    return int(rows) if rows else None


def _worker(task: str, size: str, rounds: int) -> None:
    """In a fresh process: ``peak:<contender>``, or ``rounds:<contender>|<contender>|…``."""
    kind, _, names = task.partition(":")
    n, h, v = SIZES[size]
    try:
        if kind == "peak":
            result: dict[str, Any] = (_jax_peak if "jax" in names else _torch_peak)(names, n, h, v)
        else:
            result = {"times": _rounds(names.split("|"), size, rounds)}
    except Exception as e:  # reported as the contenders' rows, not a crash of the suite
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))


def _measure(task: str, size: str, rounds: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.linear_cross_entropy", "--worker", task, "--sizes", size]
    # A fixed mmap threshold: every large block comes from the system and goes back to it when
    # freed, so that the resident set follows what the step holds, not what glibc kept from
    # the warm-up (its threshold otherwise grows with the blocks freed).
    env = os.environ | ({"MALLOC_MMAP_THRESHOLD_": str(2**20)} if task.startswith("peak:") else {})
    done = subprocess.run([*command, "--rounds", str(rounds)], capture_output=True, text=True, env=env)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    return dict(json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small", help="comma-separated: small, large")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--docs", action="store_true", help="also write the section of docs/benchmarks.md")
    parser.add_argument(
        "--chunk-sizes",
        default="",
        help="comma-separated rows per chunk: anyloss's contenders again with each (the time/memory trade)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.sizes, args.rounds)
        return 0
    lines = [
        SECTION,
        "",
        f"Generated by `python -m benchmarks.linear_cross_entropy --sizes {args.sizes}"
        + f" --rounds {args.rounds}"
        + (f" --chunk-sizes {args.chunk_sizes}`" if args.chunk_sizes else "`")
        + " on"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (see the module's docstring for what is"
        " measured and how).",
        "",
        "A step that never holds a row's logits whole computes them twice: once for the rows'"
        " log-normalisers, once more for the gradients, which need them.  That is four matrix"
        " products where the naive step has three, so by count its floor is 4/3 of the"
        " `matmuls` row; the `blocked products` row measures it (blocks of 512 rows run the"
        " products at about the speed of whole ones).  The rest of anyloss's time is the"
        " exponentials and the few elementwise passes over each block.",
    ]
    for size in args.sizes.split(","):
        n, h, v = SIZES[size]
        gradients = (n + v) * h * 4
        lines += ["", f"### N={n}, H={h}, V={v}, float32, forward+backward", ""]
        lines += [f"Gradients dX + dW: {gradients / MIB:.1f} MiB (the memory floor).", ""]
        lines += ["| contender | peak MiB | × gradients | time s | × matmuls (spread) | memory from |"]
        lines += ["|---|---:|---:|---:|---:|---|"]
        extra = [
            f"anyloss {lib}, chunk_size={rows}"
            for lib in ("torch", "jax")
            for rows in filter(None, args.chunk_sizes.split(","))
        ]
        names = CONTENDERS + extra
        peaks = {name: _measure(f"peak:{name}", size, args.rounds) for name in names}
        times: dict[str, Any] = {}
        for framework in ("torch", "jax"):
            mine = [name for name in names if framework in name]
            measured = _measure("rounds:" + "|".join(mine), size, args.rounds)
            times |= measured.get("times", dict.fromkeys(mine, measured.get("error")))
        for name in names:
            lines.append(_row(name, peaks[name], times, gradients))
    print("\n".join(lines))
    if args.docs:
        _write_section(Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md", lines)
    return 0


def _row(name: str, peak: dict[str, Any], times: dict[str, Any], gradients: int) -> str:
    """A contender's row: its peak memory, median step and ratio to the three products."""
    own = times[name]
    floor = times["matmuls (jax)" if "jax" in name else "matmuls (torch)"]
    if isinstance(own, list) and isinstance(floor, list):
        r = ratio_spread(floor, own)  # the suite's spread over blocks of rounds: own / floor
        spread = f"{r['ratio_median']:.2f} ({r['ratio_min']:.2f}–{r['ratio_max']:.2f})"
        time_s = f"{statistics.median(own):.3f}"
    else:
        time_s, spread = "", str(own if not isinstance(own, list) else floor)
    if "error" in peak:
        return f"| {name} | | | {time_s} | {spread} | {peak['error']} |"
    memory = f"{peak['peak'] / MIB:.1f} | {peak['peak'] / gradients:.2f}"
    return f"| {name} | {memory} | {time_s} | {spread} | {peak['memory']} |"


def _write_section(path: Path, lines: list[str]) -> None:
    """Replace (or append) this benchmark's section of the benchmarks page: the suite
    rewrites the page, so ``make bench`` runs this after it."""
    text = path.read_text() if path.exists() else ""
    head = text.split(SECTION)[0].rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
