"""cross_entropy over logits several times larger than the Dask workers' memory.

    python benchmarks/distributed_out_of_core.py [--gib 2] [--worker-memory 256MB]

Writes about ``--gib`` GiB of float32 logits (.npy) and int64 targets (every seventh one
ignored, class weights given), starts a ``dask.distributed`` LocalCluster of two worker
processes (one thread each) with ``--worker-memory`` each, and runs

    anyloss eval cross_entropy --input logits.npy --target targets.npy --weight w.npy \\
        --option label_smoothing=0.1 --scheduler <the cluster> --chunk-rows N --json

The workers read their chunks of the .npy file themselves.  The script checks that no worker
was killed or restarted (same worker processes before and after) and compares the value with
the in-memory one computed piecewise by torch (Σ numerators / Σ denominators in float64).
Not a test: the small version runs in tests/test_distributed.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def make_files(directory: Path, gib: float, classes: int) -> dict[str, Path]:
    rows = int(gib * 2**30) // (classes * 4)
    paths = {
        "input": directory / f"logits-{rows}x{classes}.npy",
        "target": directory / f"targets-{rows}.npy",
        "weight": directory / f"w-{classes}.npy",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    out = np.lib.format.open_memmap(paths["input"], mode="w+", dtype=np.float32, shape=(rows, classes))
    block = max(1, (64 * 2**20) // (classes * 4))
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        out[start:stop] = rng.standard_normal((stop - start, classes), dtype=np.float32) * 2
    out.flush()
    del out
    t = rng.integers(0, classes, rows)
    t[::7] = -100
    np.save(paths["target"], t)
    np.save(paths["weight"], rng.uniform(0.5, 2.0, classes).astype(np.float32))
    return paths


def piecewise_torch(paths: dict[str, Path], label_smoothing: float) -> float:
    import torch
    import torch.nn.functional as F

    x = np.load(paths["input"], mmap_mode="r")
    t = torch.from_numpy(np.load(paths["target"]))
    w = torch.from_numpy(np.load(paths["weight"]))
    numerator = denominator = 0.0
    step = max(1, (64 * 2**20) // (x.shape[1] * 4))
    for start in range(0, x.shape[0], step):
        xs = torch.from_numpy(np.array(x[start : start + step]))
        ts = t[start : start + step]
        numerator += float(
            F.cross_entropy(xs, ts, weight=w, label_smoothing=label_smoothing, reduction="sum").double()
        )
        valid = ts != -100
        denominator += float(w[ts.clamp(min=0)][valid].double().sum())
    return numerator / denominator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--classes", type=int, default=32768)
    parser.add_argument("--worker-memory", default="256MB")
    parser.add_argument("--chunk-rows", type=int, default=64)
    parser.add_argument("--dir", default="/tmp/anyloss-bench-distributed")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from anyloss import _cli

    paths = make_files(Path(args.dir), args.gib, args.classes)
    size = paths["input"].stat().st_size
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.worker_memory,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        began = time.perf_counter()
        argv = [
            "eval",
            "cross_entropy",
            "--input",
            str(paths["input"]),
            "--target",
            str(paths["target"]),
            "--weight",
            str(paths["weight"]),
            "--option",
            "label_smoothing=0.1",
            "--scheduler",
            cluster.scheduler_address,
            "--chunk-rows",
            str(args.chunk_rows),
            "--json",
            "--no-progress",
        ]
        from io import StringIO

        out = StringIO()
        stdout, sys.stdout = sys.stdout, out
        try:
            code = _cli.main(argv)
        finally:
            sys.stdout = stdout
        wall = time.perf_counter() - began
        survived = client.run(os.getpid) == pids
    record = json.loads(out.getvalue()) if code == 0 else None
    expected = piecewise_torch(paths, 0.1)
    value = record["value"] if record else None
    print(
        json.dumps(
            {
                "command": "anyloss " + " ".join(argv),
                "file_bytes": size,
                "worker_memory": args.worker_memory,
                "file_over_worker_memory": size / (int(args.worker_memory.rstrip("MB")) * 1e6),
                "rc": code,
                "eval": record,
                "wall_s": wall,
                "gb_per_s": size / 1e9 / wall,
                "no_worker_killed": survived,
                "expected_piecewise_torch": expected,
                "relative_difference": abs(value - expected) / abs(expected) if value else None,
            },
            indent=2,
        )
    )
    return 0 if code == 0 and survived and abs(value - expected) <= 1e-5 * abs(expected) else 1


if __name__ == "__main__":
    raise SystemExit(main())
