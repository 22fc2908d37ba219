"""Benchmark of anyloss.ctc_loss against torch.nn.functional.ctc_loss on CPU.

Run: ``.venv/bin/python benchmarks/ctc.py``.  Prints a markdown table of median times
(after warm-up) of the forward pass and of forward + backward, and the ratio
peer time / anyloss time (above 1: anyloss is faster) with torch's own kernel as the
peer.  anyloss runs on NumPy (forward only: NumPy does not differentiate), on JAX under
``jax.jit``, and on torch tensors both through its native path (which calls torch's
kernel) and through the generic array-API body (``anyloss.native_paths(False)``).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F

import anyloss

SIZES = [
    # (T, N, C, S, repeats)
    (200, 64, 50, 30, 7),
    (1000, 16, 5000, 100, 3),
]


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def inputs(T: int, N: int, C: int, S: int):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(T, N, C)).astype(np.float32)
    log_probs = torch.from_numpy(logits).log_softmax(-1).numpy()
    targets = rng.integers(1, C, size=(N, S)).astype(np.int64)
    input_lengths = rng.integers(T // 2, T + 1, size=N).astype(np.int64)
    input_lengths[0] = T
    target_lengths = rng.integers(S // 2, S + 1, size=N).astype(np.int64)
    target_lengths[0] = S
    return log_probs, targets, input_lengths, target_lengths


def torch_runner(args, generic: bool, backward: bool) -> Callable[[], object]:
    lp, tg, il, tl = (torch.from_numpy(a) for a in args)

    def run() -> object:
        x = lp.detach().requires_grad_(backward)
        with anyloss.native_paths(not generic):
            loss = anyloss.ctc_loss(x, tg, il, tl)
        if backward:
            loss.backward()
        return loss

    return run


def torch_peer(args, backward: bool) -> Callable[[], object]:
    lp, tg, il, tl = (torch.from_numpy(a) for a in args)

    def run() -> object:
        x = lp.detach().requires_grad_(backward)
        loss = F.ctc_loss(x, tg, il, tl)
        if backward:
            loss.backward()
        return loss

    return run


def numpy_runner(args) -> Callable[[], object]:
    return lambda: anyloss.ctc_loss(*args)


def jax_runner(args, backward: bool) -> Callable[[], object]:
    lp, tg, il, tl = (jnp.asarray(a) for a in args)

    def loss(x):
        return anyloss.ctc_loss(x, tg, il, tl)

    fn = jax.jit(jax.value_and_grad(loss) if backward else loss)
    return lambda: jax.block_until_ready(fn(lp))


def main() -> None:
    print(
        f"torch {torch.__version__} threads={torch.get_num_threads()}, jax {jax.__version__} "
        f"devices={jax.devices()} (XLA CPU threads: all {os.cpu_count()} cores), "
        f"numpy {np.__version__}, cpu_count={os.cpu_count()}"
    )
    rows = []
    for T, N, C, S, repeats in SIZES:
        args = inputs(T, N, C, S)
        size = f"T={T} N={N} C={C} S={S}"
        for backward in (False, True):
            mode = "fwd+bwd" if backward else "fwd"
            peer = median_time(torch_peer(args, backward), repeats)
            rows.append((size, mode, "torch.nn.functional.ctc_loss (peer)", peer, peer))
            candidates = [
                ("anyloss, torch native path", torch_runner(args, False, backward)),
                ("anyloss, torch generic body", torch_runner(args, True, backward)),
                ("anyloss, jax.jit", jax_runner(args, backward)),
            ]
            if not backward:
                candidates.insert(0, ("anyloss, numpy", numpy_runner(args)))
            for name, run in candidates:
                rows.append((size, mode, name, median_time(run, repeats), peer))
    print()
    print("| size | pass | implementation | median (ms) | ratio peer/anyloss |")
    print("|---|---|---|---:|---:|")
    for size, mode, name, t, peer in rows:
        print(f"| {size} | {mode} | {name} | {t * 1e3:.1f} | {peer / t:.2f} |")


if __name__ == "__main__":
    main()
