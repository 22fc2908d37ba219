"""Benchmark of linear_cross_entropy: peak memory and time of one forward+backward step.

Run: ``python -m benchmarks.linear_cross_entropy [--sizes small,large] [--repeats R]``.
Each contender runs in a fresh process, float32, on CPU, with ``reduction='mean'`` over
index targets:

- ``matmuls (torch)`` / ``matmuls (jax)``: the three matrix products alone (``z = x W^T``,
  ``z W``, ``z^T x``): the time floor, in the same run;
- ``naive torch``: ``cross_entropy(linear(x, W), t)``;
- ``torch chunked``: ``torch.nn.functional.linear_cross_entropy`` with
  ``options=LinearCrossEntropyOptions()`` (torch's chunked custom op, ``'auto'`` chunks);
- ``anyloss torch``: ``anyloss.linear_cross_entropy`` on torch tensors (anyloss's chunked
  autograd kernel);
- ``anyloss jax``: ``anyloss.linear_cross_entropy`` on JAX arrays under
  ``jax.jit(jax.value_and_grad(...))`` (the JAX backend's ``custom_vjp`` kernel);
- with ``--chunk-sizes 64,256``: both anyloss contenders again with each ``chunk_size``
  (rows per chunk; the default is the memory floor's), the trade of memory for time.

Peak memory: torch on CPU: the growth of the process's resident set during the step, read
from ``VmHWM`` in ``/proc/self/status`` after resetting it (``/proc/self/clear_refs``) once
the inputs exist and a warm-up step has run; JAX: XLA's compiled memory analysis of the
jitted step (temporaries plus outputs, the gradients included).  Both include the gradients
``dX + dW``, printed beside them as the floor.  Time: the median of ``--repeats`` steps after
one warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIZES = {"small": (2048, 512, 32000), "large": (4096, 1024, 128256)}
CONTENDERS = [
    "matmuls (torch)",
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


def _timed(step: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _torch_worker(name: str, n: int, h: int, v: int, repeats: int) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((n, h), dtype=np.float32)).requires_grad_()
    w = torch.from_numpy(rng.standard_normal((v, h), dtype=np.float32) * 0.02).requires_grad_()
    t = torch.from_numpy(rng.integers(0, v, n))
    if name == "matmuls (torch)":

        def step() -> None:
            with torch.no_grad():
                z = x @ w.T
                x.grad, w.grad = z @ w, z.T @ x
    else:
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
            loss().backward()

    step()
    x.grad = w.grad = None
    baseline = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    peak = _status("VmHWM") - baseline

    def timed_step() -> None:
        x.grad = w.grad = None
        step()

    return {"peak": peak, "time": _timed(timed_step, repeats), "memory": "RSS high-water mark"}


def _jax_worker(name: str, n: int, h: int, v: int, repeats: int) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((n, h), dtype=np.float32))
    w = jnp.asarray(rng.standard_normal((v, h), dtype=np.float32) * 0.02)
    t = jnp.asarray(rng.integers(0, v, n).astype(np.int32))
    if name == "matmuls (jax)":

        def three(x: Any, w: Any) -> Any:
            z = x @ w.T
            return z @ w, z.T @ x

        step = jax.jit(three)
    else:
        import anyloss

        rows = _chunk_size(name)

        def loss(x: Any, w: Any) -> Any:
            return anyloss.linear_cross_entropy(x, w, t, chunk_size=rows)

        step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    analysis = step.lower(x, w).compile().memory_analysis()
    peak = analysis.temp_size_in_bytes + analysis.output_size_in_bytes
    jax.block_until_ready(step(x, w))
    seconds = _timed(lambda: jax.block_until_ready(step(x, w)), repeats)
    return {"peak": peak, "time": seconds, "memory": "XLA memory analysis"}


def _chunk_size(name: str) -> int | None:
    """The rows per chunk a contender's name asks for ('anyloss torch, chunk_size=64'),
    else None: anyloss's default."""
    _, _, rows = name.partition("chunk_size=")
    return int(rows) if rows else None


def _worker(name: str, size: str, repeats: int) -> None:
    n, h, v = SIZES[size]
    run = _jax_worker if "jax" in name else _torch_worker
    try:
        result = run(name, n, h, v, repeats)
    except Exception as e:  # reported as the contender's row, not a crash of the suite
        result = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result))


def _measure(name: str, size: str, repeats: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.linear_cross_entropy", "--worker", name, "--sizes", size]
    done = subprocess.run([*command, "--repeats", str(repeats)], capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
    return dict(json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small", help="comma-separated: small, large")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--docs", action="store_true", help="also write the section of docs/benchmarks.md")
    parser.add_argument(
        "--chunk-sizes",
        default="",
        help="comma-separated rows per chunk: anyloss's contenders again with each (the time/memory trade)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.worker, args.sizes, args.repeats)
        return 0
    lines = [
        SECTION,
        "",
        f"Generated by `python -m benchmarks.linear_cross_entropy --sizes {args.sizes}"
        + (f" --chunk-sizes {args.chunk_sizes}`" if args.chunk_sizes else "`")
        + " on"
        f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (see the module's docstring for what is"
        " measured and how).",
    ]
    for size in args.sizes.split(","):
        n, h, v = SIZES[size]
        gradients = (n + v) * h * 4
        lines += ["", f"### N={n}, H={h}, V={v}, float32, forward+backward", ""]
        lines += [f"Gradients dX + dW: {gradients / MIB:.1f} MiB (the memory floor).", ""]
        lines += ["| contender | peak MiB | × gradients | time s | × matmuls | memory from |"]
        lines += ["|---|---:|---:|---:|---:|---|"]
        extra = [
            f"anyloss {lib}, chunk_size={rows}"
            for lib in ("torch", "jax")
            for rows in filter(None, args.chunk_sizes.split(","))
        ]
        results = {name: _measure(name, size, args.repeats) for name in CONTENDERS + extra}
        for name, r in results.items():
            if "error" in r:
                lines.append(f"| {name} | | | | | {r['error']} |")
                continue
            floor = results["matmuls (jax)" if "jax" in name else "matmuls (torch)"].get("time")
            ratio = f"{r['time'] / floor:.2f}" if floor else ""
            memory = r["memory"]
            peak = f"{r['peak'] / MIB:.1f} | {r['peak'] / gradients:.2f}"
            lines.append(f"| {name} | {peak} | {r['time']:.3f} | {ratio} | {memory} |")
    print("\n".join(lines))
    if args.docs:
        _write_section(Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md", lines)
    return 0


def _write_section(path: Path, lines: list[str]) -> None:
    """Replace (or append) this benchmark's section of the benchmarks page: the suite
    rewrites the page, so ``make bench`` runs this after it."""
    text = path.read_text() if path.exists() else ""
    head = text.split(SECTION)[0].rstrip("\n")
    path.write_text((head + "\n\n" if head else "") + "\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
