"""Write the suite's results: JSON, a markdown table, a PNG of the ratios (and docs/benchmarks.md)."""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path
from typing import Any

from .cases import LOSSES, SIZES, shape_of

COLUMNS = (
    ("numpy", "fwd"),
    ("torch", "fwd"),
    ("torch", "fwd+bwd"),
    ("torch.compile", "fwd"),
    ("torch.compile", "fwd+bwd"),
    ("jax", "fwd"),
    ("jax", "fwd+bwd"),
)
HEADERS = ("NumPy", "torch", "torch f+b", "compile", "compile f+b", "jax.jit", "jax.jit f+b")
#: The minimum ratio (peer time / anyloss time) each backend must reach.
TARGETS = {"numpy": 1.0, "torch": 0.95, "torch.compile": 0.95, "jax": 0.95}
#: Extra time per call anyloss may add to torch eager at the small size.
OVERHEAD_TARGET_US = 2.0


def fmt_time(ns: float | None) -> str:
    if ns is None:
        return "—"
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.1f} ms"
    return f"{ns / 1e9:.2f} s"


def _index(records: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    return {
        (r["loss"], r["size"], r["backend"], r["pass"]): r
        for r in records
        if "backend" in r and "kind" not in r
    }


def _cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return ""
    status = r.get("status", "")
    if status == "not available":
        return f"n/a (peer {fmt_time(r.get('peer_ns'))})"
    if status.startswith("too slow"):
        estimate = status.split("about ", 1)[1].split(" per call", 1)[0]
        return f"too slow (~{estimate}/call; peer {fmt_time(r.get('peer_ns'))})"
    if status != "ok":
        return status.split(":", 1)[0]
    ratio = r["ratio"]
    if ratio is None:
        return f"peer too slow ({fmt_time(r.get('anyloss_ns'))})"
    target = TARGETS[r["backend"]]
    mark = "" if ratio >= target else (" ✗" if real_miss(r) else " ~")
    digits = 3 if ratio < target <= round(ratio, 2) else 2
    spread = f", {r['ratio_min']:.2f}–{r['ratio_max']:.2f}" if r.get("ratio_min") is not None else ""
    return f"{ratio:.{digits}f}×{mark} ({fmt_time(r['anyloss_ns'])}{spread})"


def real_miss(r: dict[str, Any]) -> bool:
    """A cell below its target in every block of rounds (its best block's ratio too), as opposed to
    one whose spread reaches the target (the machine's noise may be the whole miss).  Cells
    measured without a spread count as real."""
    high = r.get("ratio_max")
    return high is None or high < TARGETS[r["backend"]]


def _bandwidth(r: dict[str, Any], ns_key: str, read_gbps: float) -> float | None:
    ns = r.get(ns_key)
    if not ns:
        return None
    return (r["bytes"] / ns) / read_gbps


def _worker_errors(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("kind") == "worker_error"]


def _overhead_us(r: dict[str, Any]) -> float:
    """anyloss's extra time per call, from the best samples (a busy machine inflates medians)."""
    if r.get("anyloss_min_ns") and r.get("peer_min_ns"):
        return (r["anyloss_min_ns"] - r["peer_min_ns"]) / 1e3
    return (r["anyloss_ns"] - r["peer_ns"]) / 1e3


def _fullgraph(check: dict[str, Any]) -> bool:
    if "fullgraph" in check:
        return bool(check["fullgraph"])
    return check.get("graph_breaks") == 0 and "error" not in check


def _compile_warnings(records: list[dict[str, Any]], loss: str) -> set[str]:
    return {
        w[:120]
        for r in records
        if r.get("backend") == "torch.compile" and r.get("loss") == loss
        for w in (r.get("compile_warnings") or {}).get("anyloss", [])
    }


def targets_summary(info: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    rows = _index(records)
    measured = [r for r in rows.values() if r.get("status") == "ok"]
    lines = []
    for backend, target in TARGETS.items():
        mine = [r for r in measured if r["backend"] == backend]
        misses = sorted((r for r in mine if r["ratio"] < target), key=lambda r: r["ratio"])
        real = [r for r in misses if real_miss(r)]
        line = f"- **{backend}** (target ≥ {target:.2f}×): {len(mine) - len(misses)} of {len(mine)} met"
        if real:
            worst = ", ".join(f"{r['loss']} {r['size']} {r['pass']} {r['ratio']:.2f}×" for r in real[:6])
            line += f"; below in every block of rounds: {worst}" + (" …" if len(real) > 6 else "")
        if len(misses) > len(real):
            line += (
                f"; {len(misses) - len(real)} more below at the median only (their best block meets it, ~)"
            )
        lines.append(line)
    overheads = [
        (r["loss"], _overhead_us(r))
        for r in measured
        if r["backend"] == "torch" and r["size"] == "small" and r["pass"] == "fwd"
    ]
    if overheads:
        worst = max(o for _, o in overheads)
        over = [f"{n} {o:+.2f} µs" for n, o in overheads if o > OVERHEAD_TARGET_US]
        lines.append(
            f"- **torch eager overhead at 8×10** (target ≤ {OVERHEAD_TARGET_US:.0f} µs): worst "
            f"{worst:+.2f} µs" + (f"; over: {', '.join(over)}" if over else "; met for all")
        )
    checks = [r for r in records if r.get("kind") == "compile_check" and r.get("anyloss")]
    broken = []
    for r in checks:
        mine, peer = r["anyloss"], r.get("peer") or {}
        reasons = []
        if not _fullgraph(mine):
            reasons.append("graph break" + (" (as F's own)" if not _fullgraph(peer) else ""))
        if mine.get("warnings") or _compile_warnings(records, r["loss"]):
            reasons.append("warnings")
        if reasons:
            broken.append(f"{r['loss']} ({', '.join(reasons)})")
    if checks:
        lines.append(
            f"- **torch.compile graph breaks / warnings**: {len(checks) - len(broken)} of {len(checks)} "
            "losses clean" + (f"; not clean: {', '.join(broken)}" if broken else "")
        )
    available = sorted({r["loss"] for r in rows.values() if r.get("status") != "not available"})
    missing = [x for x in info["losses"] if x not in available]
    lines.append(
        f"- **losses measured**: {len(available)} of {len(info['losses'])}"
        + (f"; not available in anyloss yet: {', '.join(missing)}" if missing else "")
    )
    return lines


def markdown(
    info: dict[str, Any], records: list[dict[str, Any]], *, detail: bool, image: str | None = None
) -> str:
    rows = _index(records)
    bw = info["bandwidth"]
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    env = info["environment"] or {}
    alloc = {k: v for k, v in env.items() if k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    out = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m benchmarks`; see `benchmarks/README.md`) on "
        f"{info['date']}; the run took {info['elapsed_s']:.0f} s."
        + (" **Partial results: the run is still going or was cut short.**" if info.get("partial") else ""),
        "",
        f"- Command: `{info['command'].strip()}`",
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; {info['platform']}",
        f"- Read bandwidth (sum over a 1 GiB float32 array, measured in this run): "
        f"{bw['read_gbps']} GB/s (" + ", ".join(f"{k} {v} GB/s" for k, v in bw["gbps"].items()) + ")",
        f"- Threads: torch.set_num_threads({info['threads']}); worker environment "
        + ", ".join(f"{k}={v}" for k, v in info["worker_environment"].items()),
        "- Allocator settings: "
        + (", ".join(f"{k}={v}" for k, v in alloc.items()) or "glibc defaults (no MALLOC_* set)"),
        f"- Load average at start: {', '.join(f'{x:.2f}' for x in info.get('load_average_at_start') or ())}",
        f"- Versions: {versions}",
        "",
        "Each cell is the **speed ratio** peer time / anyloss time (above 1: anyloss is faster) and "
        "anyloss's median time per call, float32, after warm-up, anyloss and peer sampled "
        "alternately in the same process.  Peers: `torch.nn.functional` (eager, and under "
        "`torch.compile(dynamic=True)` for the compile columns: one graph per pass for every size); "
        "for JAX the optax function where one computes the same value, else the plain `jax.numpy` "
        "formula, both under `jax.jit`; for NumPy "
        "the plain NumPy formula (`benchmarks/peers.py`).  Every peer's value (and JAX/torch gradients) "
        "is checked against anyloss's before timing.  After the time, the smallest and largest "
        "ratio over five consecutive blocks of rounds (each round times both back to back; a "
        "block's ratio is that of its medians); a cell whose range holds "
        "its target is timed once more, for twice as long, and shows that second measurement.  "
        "✗ marks a cell below its target (torch, compile, JAX ≥ 0.95×, NumPy ≥ 1.0×) in every "
        "block, ~ one below it at the median whose best block meets it (the miss may be the "
        "machine's noise); `n/a` a loss not yet in anyloss (the peer's time in brackets).",
        "",
        "## Targets",
        "",
        *targets_summary(info, records),
        "",
    ]
    if image:
        out += [f"![Speed ratios, peer time / anyloss time]({image})", ""]
    for size in info["sizes"]:
        out += [f"## {size.capitalize()}", ""]
        if size == "large":
            out += [
                "Elementwise losses 1e7 elements (10000×1000), classification and embedding losses "
                "65536×1000, CTC T=200 N=64 C=50 S=30.",
                "",
            ]
        out += ["| loss | shape | " + " | ".join(HEADERS) + " |", "|---|---|" + "---|" * len(HEADERS)]
        for loss in info["losses"]:
            cells = [_cell(rows.get((loss, size, b, p))) for b, p in COLUMNS]
            out.append(f"| {loss} | {shape_of(loss, size)} | " + " | ".join(cells) + " |")
        out.append("")
    out += _overhead_section(info, rows)
    out += _compile_section(info, records)
    if "large" in info["sizes"]:
        out += _bandwidth_section(info, rows)
    errors = _worker_errors(records)
    if errors:
        out += ["## Worker failures", ""]
        out += [f"- {r['loss']} ({r['group']}): `{' '.join(r['error'].split())[-300:]}`" for r in errors]
        out.append("")
    statuses = [r for r in rows.values() if r.get("status") not in ("ok", "not available")]
    if statuses:
        out += ["## Checks that failed (not timed)", ""]
        out += [f"- {r['loss']} {r['size']} {r['backend']} {r['pass']}: {r['status']}" for r in statuses]
        out.append("")
    if detail:
        out += [
            "## All measurements",
            "",
            "| loss | size | backend | pass | anyloss | peer | peer time | ratio | ratio of bests "
            "| anyloss BW | status |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for loss in info["losses"]:
            for size in SIZES:
                for b, p in COLUMNS:
                    r = rows.get((loss, size, b, p))
                    if r is None:
                        continue
                    frac = _bandwidth(r, "anyloss_ns", bw["read_gbps"]) if p == "fwd" else None
                    out.append(
                        f"| {loss} | {size} | {b} | {p} | {fmt_time(r.get('anyloss_ns'))} "
                        f"| {r.get('peer', '')} "
                        f"| {fmt_time(r.get('peer_ns'))} | "
                        + (f"{r['ratio']:.2f}" if r.get("ratio") else "—")
                        + " | "
                        + (
                            f"{r['peer_min_ns'] / r['anyloss_min_ns']:.2f}"
                            if r.get("peer_min_ns") and r.get("anyloss_min_ns")
                            else "—"
                        )
                        + f" | {'' if frac is None else f'{100 * frac:.0f}%'} | {r.get('status', '')} |"
                    )
        out.append("")
    return "\n".join(out)


def _overhead_section(info: dict[str, Any], rows: dict) -> list[str]:
    if "small" not in info["sizes"] or "torch" not in info["backends"]:
        return []
    out = [
        "## torch eager: overhead per call at 8×10",
        "",
        f"anyloss's time minus `torch.nn.functional`'s, same tensors, best samples (target ≤ "
        f"{OVERHEAD_TARGET_US:.0f} µs); the F and anyloss columns are medians.",
        "",
        "| loss | F fwd | anyloss fwd | overhead fwd | F f+b | anyloss f+b | overhead f+b |",
        "|---|---|---|---|---|---|---|",
    ]
    for loss in info["losses"]:
        f = rows.get((loss, "small", "torch", "fwd"))
        b = rows.get((loss, "small", "torch", "fwd+bwd"))
        if not f or f.get("status") != "ok":
            continue

        def over(r: dict | None) -> str:
            if not r or r.get("status") != "ok":
                return "—"
            return f"{_overhead_us(r):+.2f} µs"

        out.append(
            f"| {loss} | {fmt_time(f['peer_ns'])} | {fmt_time(f['anyloss_ns'])} | {over(f)} | "
            f"{fmt_time(b and b.get('peer_ns'))} | {fmt_time(b and b.get('anyloss_ns'))} | {over(b)} |"
        )
    out.append("")
    return out


def _compile_section(info: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    checks = {r["loss"]: r for r in records if r.get("kind") == "compile_check"}
    if not checks:
        return []
    out = [
        "## torch.compile: graph breaks and warnings",
        "",
        "At 8×10: `torch.compile(fullgraph=True)` (✓: one graph, no break; else the first break), "
        "the graph count from `torch._dynamo.explain`, and the warnings raised while compiling each "
        "measured case (forward and forward+backward, every size).",
        "",
        "| loss | anyloss fullgraph | anyloss warnings | F fullgraph "
        "| compile time anyloss / F (8×10 f+b: compile and first call) |",
        "|---|---|---|---|---|",
    ]
    comp = {
        r["loss"]: r
        for r in records
        if r.get("backend") == "torch.compile" and r.get("size") == "small" and r.get("pass") == "fwd+bwd"
    }
    for loss in info["losses"]:
        c = checks.get(loss)
        if c is None:
            continue

        def gb(x: dict | None) -> str:
            if x is None:
                return "n/a"
            if _fullgraph(x):
                return f"✓ ({x.get('graphs', '?')} graph)"
            reason = x.get("fullgraph_error") or "; ".join(x.get("break_reasons") or []) or x.get("error", "")
            return "✗ " + " ".join(reason.split())[:140].replace("|", "/")

        ws = sorted(
            {w[:120] for w in (c.get("anyloss") or {}).get("warnings") or []}
            | _compile_warnings(records, loss)
        )
        r = comp.get(loss, {})
        ct = f"{r.get('anyloss_compile_s', '—')} s / {r.get('peer_compile_s', '—')} s" if r else "—"
        warned = "; ".join(w[:100] for w in ws).replace("|", "/") or "none"
        out.append(f"| {loss} | {gb(c.get('anyloss'))} | {warned} | {gb(c.get('peer'))} | {ct} |")
    out.append("")
    return out


def _bandwidth_section(info: dict[str, Any], rows: dict) -> list[str]:
    read = info["bandwidth"]["read_gbps"]
    out = [
        "## Large inputs: effective bandwidth",
        "",
        f"Bytes of the inputs (each read once) per second of the forward pass, as a fraction of the "
        f"read bandwidth measured in this run ({read} GB/s).",
        "",
        "| loss | input bytes | NumPy anyloss | NumPy peer | torch anyloss | torch F | compile anyloss "
        "| jax anyloss | jax peer |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for loss in info["losses"]:
        cells = []
        nbytes = None
        for b, key in (
            ("numpy", "anyloss_ns"),
            ("numpy", "peer_ns"),
            ("torch", "anyloss_ns"),
            ("torch", "peer_ns"),
            ("torch.compile", "anyloss_ns"),
            ("jax", "anyloss_ns"),
            ("jax", "peer_ns"),
        ):
            r = rows.get((loss, "large", b, "fwd"))
            frac = _bandwidth(r, key, read) if r else None
            nbytes = nbytes or (r and r.get("bytes"))
            cells.append("—" if frac is None else f"{100 * frac:.0f}%")
        if nbytes:
            out.append(f"| {loss} | {nbytes / 1e6:.0f} MB | " + " | ".join(cells) + " |")
    out.append("")
    return out


def plot(info: dict[str, Any], records: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = _index(records)
    sizes = info["sizes"]
    # One heatmap per size, stacked, each as wide as a documentation page shows a figure
    # (about 9 inches at 110 dpi), so its numbers read at normal zoom.
    fig, axes = plt.subplots(
        len(sizes), 1, figsize=(9, (0.3 * len(info["losses"]) + 1.6) * len(sizes)), squeeze=False
    )
    for ax, size in zip(axes[:, 0], sizes, strict=True):
        grid = np.full((len(info["losses"]), len(COLUMNS)), np.nan)
        for i, loss in enumerate(info["losses"]):
            for j, (b, p) in enumerate(COLUMNS):
                r = rows.get((loss, size, b, p))
                if r and r.get("status") == "ok" and r.get("ratio"):
                    grid[i, j] = math.log2(r["ratio"])
        cmap = matplotlib.colormaps["RdYlGn"].copy()
        cmap.set_bad("#dddddd")
        ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=-2, vmax=2, aspect="auto")
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{2 ** grid[i, j]:.2f}", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(HEADERS)), HEADERS, rotation=30, ha="right", fontsize=10)
        ax.set_yticks(range(len(info["losses"])), info["losses"], fontsize=10)
        ax.set_title(f"{size}: peer time / anyloss time", fontsize=11)
    fig.suptitle("anyloss speed relative to the native peer (green: faster, grey: not measured)", fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_figheight()))  # room for the title
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(
    info: dict[str, Any],
    records: list[dict[str, Any]],
    out_dir: Path,
    docs: Path | None,
    *,
    with_plot: bool = True,
) -> None:
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    (out_dir / "benchmarks.json").write_text(json.dumps({"machine": info, "records": records}, indent=1))
    image = None
    try:
        if with_plot:
            plot(info, records, out_dir / "ratios.png")
            image = "ratios.png"
    except ImportError as exc:  # matplotlib is in the bench extra; the tables do not need it
        print(f"no plot: {exc}")
        image = None
    (out_dir / "benchmarks.md").write_text(markdown(info, records, detail=True, image=image))
    if docs is not None:
        docs_image = None
        if image:
            docs_image = docs.with_suffix(".png")
            docs_image.write_bytes((out_dir / image).read_bytes())
        docs.write_text(markdown(info, records, detail=False, image=docs_image and docs_image.name))


__all__ = ["LOSSES", "markdown", "plot", "write_all"]
