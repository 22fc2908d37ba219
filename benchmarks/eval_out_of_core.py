"""`anyloss eval cross_entropy` over a large .npy of logits, against loading it whole.

    python benchmarks/eval_out_of_core.py [--gib 4] [--classes 32768] [--dir /tmp/anyloss-bench]

Writes float32 logits of about ``--gib`` GiB and int64 class targets (every tenth one
ignored), then runs, each in a fresh process measured by GNU time -v (peak resident memory,
wall time):

* streamed:  ``anyloss eval cross_entropy --input logits.npy --target targets.npy --json``
* in memory: ``np.load`` of both files, then one ``anyloss.cross_entropy`` call (NumPy),
  under a virtual-memory limit (``--limit-gib``) so that it fails cleanly rather than
  pressing the machine into swap or the OOM killer.

Throughput is the logits' size over the command's wall time (imports included, the same for
both).  Each command runs ``--repeat`` times after one warm-up that puts the file in the
page cache; the best time and the largest peak are reported.  Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

IN_MEMORY = """
import sys, time, numpy as np, anyloss
began = time.perf_counter()
x = np.load(sys.argv[1])
t = np.load(sys.argv[2])
value = anyloss.cross_entropy(x, t, ignore_index=-100)
print(float(value), time.perf_counter() - began)
"""


def make_files(directory: Path, gib: float, classes: int) -> tuple[Path, Path]:
    rows = int(gib * 2**30) // (classes * 4)
    logits, targets = directory / f"logits-{rows}x{classes}.npy", directory / f"targets-{rows}.npy"
    if logits.exists() and targets.exists():
        return logits, targets
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = np.lib.format.open_memmap(logits, mode="w+", dtype=np.float32, shape=(rows, classes))
    block = max(1, (64 * 2**20) // (classes * 4))
    for start in range(0, rows, block):
        stop = min(start + block, rows)
        out[start:stop] = rng.standard_normal((stop - start, classes), dtype=np.float32) * 3
    out.flush()
    del out
    t = rng.integers(0, classes, rows)
    t[::10] = -100
    np.save(targets, t)
    return logits, targets


def timed(command: list[str], limit_gib: float | None = None) -> dict[str, object]:
    prefix = ["/usr/bin/time", "-v"]
    if limit_gib is not None:
        prefix = ["prlimit", f"--as={int(limit_gib * 2**30)}", *prefix]
    proc = subprocess.run([*prefix, *command], capture_output=True, text=True)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr)
    seconds = 0.0
    if wall:
        for part in wall.group(1).split(":"):
            seconds = seconds * 60 + float(part)
    return {
        "rc": proc.returncode,
        "stdout": proc.stdout.strip(),
        "peak_bytes": int(peak.group(1)) * 1024 if peak else None,
        "wall_s": seconds,
        "stderr_tail": [line for line in proc.stderr.splitlines() if "Error" in line][-1:]
        if proc.returncode
        else [],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0)
    parser.add_argument("--classes", type=int, default=32768)
    parser.add_argument("--dir", default="/tmp/anyloss-bench")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--limit-gib", type=float, default=14.0)
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--skip-in-memory", action="store_true")
    args = parser.parse_args()
    logits, targets = make_files(Path(args.dir), args.gib, args.classes)
    size = logits.stat().st_size
    anyloss_cli = [sys.executable, "-m", "anyloss"]
    streamed = [
        *anyloss_cli,
        "eval",
        "cross_entropy",
        "--input",
        str(logits),
        "--target",
        str(targets),
        "--json",
    ]
    if args.chunk_rows:
        streamed += ["--chunk-rows", str(args.chunk_rows)]
    in_memory = [sys.executable, "-c", IN_MEMORY, str(logits), str(targets)]
    report: dict[str, object] = {"file_bytes": size, "file": str(logits), "cpus": os.cpu_count()}
    runs = [("streamed", streamed, None)]
    if not args.skip_in_memory:
        runs.append(("in_memory", in_memory, args.limit_gib))
    for name, command, limit in runs:
        results = [timed(command, limit) for _ in range(args.repeat + 1)][1:]
        ok = [r for r in results if r["rc"] == 0]
        best = min(ok, key=lambda r: r["wall_s"]) if ok else results[-1]
        peak = max((r["peak_bytes"] or 0) for r in results)
        report[name] = {
            "command": " ".join(command if name == "streamed" else command[:2] + ["<script>"] + command[3:]),
            "rc": best["rc"],
            "output": best["stdout"],
            "wall_s": best["wall_s"],
            "gb_per_s": size / 1e9 / best["wall_s"] if best["wall_s"] else None,
            "peak_bytes": peak,
            "peak_fraction_of_file": peak / size,
            "errors": best["stderr_tail"],
        }
    if "in_memory" in report and report["in_memory"]["rc"] == 0:  # type: ignore[index]
        report["throughput_ratio"] = (
            report["in_memory"]["wall_s"]  # type: ignore[index]
            / report["streamed"]["wall_s"]
        )  # type: ignore[index]
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
