"""Benchmark driver: anyloss against each backend's native peer, measured in the same run.

    python -m benchmarks [--quick] [--losses a,b] [--sizes small,medium,large]
                         [--backends numpy,torch,torch.compile,jax] [--out DIR]

The parent process measures the machine's read bandwidth, then runs one worker process
per library (NumPy, torch, JAX) over all the losses, so each framework is imported and
warmed up once.  A loss that crashes its worker or runs past ``--timeout`` seconds costs
only its own rows: the parent restarts the worker on the losses after it.  Workers write
JSON lines; the parent writes ``results/benchmarks.json``, ``results/benchmarks.md``,
``results/ratios.png`` and, for a full run, ``docs/benchmarks.md``.

Timing: ``time.perf_counter_ns``; warm-up calls (which also compile under
``torch.compile`` / ``jax.jit``) before any sample; the call count per sample is calibrated
so a sample lasts about a quarter of a millisecond (short
samples dodge the scheduler's preemptions on a busy machine); anyloss and its peer are sampled alternately, so
both see the same machine load; the reported time is the median per call.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import cases as _cases
from . import peers as _peers
from .report import TARGETS

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("numpy", "torch", "torch.compile", "jax")
GROUPS = {"numpy": "numpy", "torch": "torch", "torch.compile": "torch", "jax": "jax"}
THREADS = 2


# --- timing ---------------------------------------------------------------------------


class Settings:
    def __init__(self, quick: bool) -> None:
        self.quick = quick

    def budget(self, size: str) -> float:
        """Seconds of samples per (anyloss, peer) pair, beyond the minimum rounds."""
        if self.quick:
            return 0.05
        return {"small": 0.15, "medium": 0.15, "large": 0.2}[size]

    def min_rounds(self, call_s: float) -> int:
        """Rounds at the least, for calls of ``call_s`` seconds: 5 for a fast call; for a
        call of 50 ms or more, which fills a sample alone and has its calibration call as a
        sample too, one (so a 1-second call costs 3 calls, its check included)."""
        if self.quick:
            return 3
        return 5 if call_s < 0.05 else 1


def _sample(f: Callable[[], Any], k: int) -> float:
    t0 = time.perf_counter_ns()
    for _ in range(k):
        f()
    return (time.perf_counter_ns() - t0) / k


def _calibrate(f: Callable[[], Any], target_ns: float = 2.5e5) -> tuple[int, float | None]:
    """Calls per sample, and the first sample when one call alone lasts a sample."""
    one = _sample(f, 1)
    if one >= target_ns:
        return 1, one
    k = max(1, int(target_ns / max(_sample(f, 3), 1.0)))
    return min(k, 20_000), None


def time_pair(
    fa: Callable[[], Any] | None,
    fb: Callable[[], Any] | None,
    budget: float,
    min_rounds: Callable[[float], int],
    warm: bool = False,
) -> dict[str, Any]:
    """Median (and best) ns per call of ``fa`` (anyloss) and ``fb`` (its peer); None skips one.

    ``warm``: both were just called (by the value check), so no warm-up call is made.
    """
    named = [(name, f) for name, f in (("anyloss", fa), ("peer", fb)) if f is not None]
    if not warm:  # compiled functions were already called once
        for _, f in named:
            f()
    ks: list[int] = []
    samples: list[list[float]] = []
    for _, f in named:
        k, first = _calibrate(f)
        ks.append(k)
        samples.append([] if first is None else [first])
    least = min(min_rounds(_slowest_s(ks, samples)), 2000)
    start = time.perf_counter()
    rounds = 0
    while rounds < least or (time.perf_counter() - start < budget and rounds < 2000):
        order = range(len(named)) if rounds % 2 == 0 else reversed(range(len(named)))
        for i in order:
            samples[i].append(_sample(named[i][1], ks[i]))
        rounds += 1
    result: dict[str, Any] = {"rounds": rounds, "anyloss_ns": None, "peer_ns": None}
    for (name, _), ss in zip(named, samples, strict=True):
        result[f"{name}_ns"] = statistics.median(ss)
        result[f"{name}_min_ns"] = min(ss)
    if len(named) == 2:
        result.update(ratio_spread(samples[0][-rounds:], samples[1][-rounds:]))
    return result


#: The rounds of a cell are cut into this many consecutive blocks for its spread.
SPREAD_BLOCKS = 5


def ratio_spread(anyloss_ns: list[float], peer_ns: list[float]) -> dict[str, float]:
    """The smallest, median and largest ratio peer / anyloss over :data:`SPREAD_BLOCKS`
    consecutive blocks of rounds, each block's ratio that of its median times (each round
    times both back to back, so a block's two medians share the machine's load, and one
    interrupted sample does not make a block)."""
    rounds = min(len(anyloss_ns), len(peer_ns))
    blocks = min(SPREAD_BLOCKS, rounds)
    if blocks == 0:
        return {}
    ratios = []
    for b in range(blocks):
        part = slice(b * rounds // blocks, (b + 1) * rounds // blocks)
        mine, theirs = statistics.median(anyloss_ns[part]), statistics.median(peer_ns[part])
        if mine > 0:
            ratios.append(theirs / mine)
    if not ratios:
        return {}
    ratios.sort()
    return {"ratio_min": ratios[0], "ratio_median": statistics.median(ratios), "ratio_max": ratios[-1]}


def crosses(timed: dict[str, Any], target: float) -> bool:
    """Whether a cell's spread of per-round ratios holds its target between its ends: then
    one measurement cannot tell a miss from the machine's noise, and the cell is timed again."""
    low, high = timed.get("ratio_min"), timed.get("ratio_max")
    return low is not None and high is not None and low < target <= high


def _slowest_s(ks: list[int], samples: list[list[float]]) -> float:
    """Seconds of the slowest call seen while calibrating (0 for a call fast enough that
    a sample holds several)."""
    return max((ss[0] * 1e-9 for k, ss in zip(ks, samples, strict=True) if k == 1 and ss), default=0.0)


def _close(a: Any, b: Any, what: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    atol = 1e-6 + 2e-3 * scale
    # One pass in the arrays' own dtype decides the usual case (NaN fails it: the full
    # comparison below, in float64, then decides and says where).
    if a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + 2e-3 * np.abs(b))):
        return
    a, b = a.astype(np.float64), b.astype(np.float64)
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=atol, err_msg=what)


# --- workers: one loss, one library -----------------------------------------------------


#: Where a worker keeps the large cases it built, for the workers after it (``--cache``).
_CASE_CACHE: Path | None = None


def _build_case(loss: str, size: str) -> _cases.Case:
    """The case, built once per run at the large size: drawing a few hundred million random
    numbers costs more than reading them back, and each library's worker needs them."""
    if size != "large" or _CASE_CACHE is None:
        return _cases.build(loss, size)
    path = _CASE_CACHE / f"{loss}.{size}.pickle"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    case = _cases.build(loss, size)
    partial_path = path.with_suffix(".partial")
    with open(partial_path, "wb") as f:
        pickle.dump(case, f, protocol=pickle.HIGHEST_PROTOCOL)
    partial_path.rename(path)  # complete files only, should this worker be killed
    return case


def _anyloss_function(loss: str) -> Callable[..., Any] | None:
    import anyloss.functional

    return getattr(anyloss.functional, loss, None)


def _record(out: Any, **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


def _measure(
    out: Any,
    base: dict[str, Any],
    fa: Callable[[], Any] | None,
    fb: Callable[[], Any] | None,
    check: Callable[[], None] | None,
    settings: Settings,
    status: str,
    extra: dict[str, Any],
) -> None:
    """Check anyloss against its peer, then time both (the peer alone if anyloss is absent).

    The check is the first call of each (under a compiler: the compile); it may add its
    figures to ``extra``, which is recorded with the times.
    """
    size = base["size"]
    warm = False
    if fa is not None and fb is not None and check is not None:
        try:
            check()  # which also warms both up
            warm = True
        except Exception as exc:  # a wrong value or a failure: the timing would mean nothing
            status = _describe(exc, "mismatch" if isinstance(exc, AssertionError) else "error")
            fa = None
    if fa is None and fb is None:
        _record(out, **base, status=status, anyloss_ns=None, peer_ns=None, ratio=None, **extra)
        return
    try:
        timed = time_pair(fa, fb, settings.budget(size), settings.min_rounds, warm=warm)
        if crosses(timed, TARGETS[base["backend"]]):
            # once more, with twice the time: the figures recorded are the second run's
            timed = time_pair(fa, fb, 2 * settings.budget(size), settings.min_rounds, warm=True)
            timed["retimed"] = True
    except Exception as exc:
        _record(out, **base, status=_describe(exc, "error"), **extra)
        return
    ta, tb = timed["anyloss_ns"], timed["peer_ns"]
    _record(out, **base, status=status, ratio=(tb / ta) if ta and tb else None, **timed, **extra)
    best = (timed.get("anyloss_min_ns"), timed.get("peer_min_ns"), base["bytes"])
    _HISTORY[(base["loss"], base["backend"], base["pass_"], size)] = best


#: Times per call already measured in this worker, to foresee a call too slow to time.
_HISTORY: dict[tuple[str, str, str, str], tuple[float | None, float | None, int]] = {}
#: A call estimated slower than this (seconds) at the large size is not run.
MAX_CALL_S = 20.0


def _too_slow(loss: str, backend: str, pass_: str, size: str, nbytes: int) -> tuple[str | None, str | None]:
    """Reasons to skip anyloss and the peer at ``size``, from their time at the size before it.

    A loss whose time grows faster than its input (an O(C²) algorithm, say) would take
    minutes per call at the large size; its estimate is reported instead.
    """
    if size != "large":
        return None, None
    previous = _HISTORY.get((loss, backend, pass_, "medium"))
    if previous is None:
        return None, None
    reasons: list[str | None] = []
    for ns in previous[:2]:
        estimate = (ns or 0) * 1e-9 * nbytes / previous[2]
        reasons.append(
            f"too slow: about {estimate:.0f} s per call (medium time × input size), not run"
            if estimate > MAX_CALL_S
            else None
        )
    return reasons[0], reasons[1]


def _describe(exc: BaseException, kind: str) -> str:
    text = " ".join(str(exc).split())
    return f"{kind}: {type(exc).__name__}: {text[:300]}"


def _availability(fn: Any) -> str:
    return "ok" if fn is not None else "not available"


def worker_numpy(loss: str, sizes: list[str], settings: Settings, out: Any) -> None:
    fn = _anyloss_function(loss)
    peer_name, peer = _peers.numpy_peer(loss)
    for size in sizes:
        case = _build_case(loss, size)
        base = dict(
            loss=loss,
            size=size,
            shape=case.shape,
            backend="numpy",
            pass_="fwd",
            bytes=case.nbytes,
            peer=peer_name,
        )
        a, kw = case.args, case.kwargs
        skip_a, skip_p = _too_slow(loss, "numpy", "fwd", size, case.nbytes)
        fa = partial(fn, *a, **kw) if fn is not None and not skip_a else None
        fb = partial(peer, *a, **kw) if not skip_p else None
        check = partial(_check_numpy, fn, peer, a, kw)
        status = skip_a or _availability(fn)
        _measure(out, base, fa, fb, check, settings, status, _skipped(skip_p))


def _skipped(peer_reason: str | None) -> dict[str, Any]:
    return {"peer_status": peer_reason} if peer_reason else {}


def _check_numpy(fn: Any, peer: Any, a: list[Any], kw: dict[str, Any]) -> None:
    value = fn(*a, **kw)
    if np.asarray(value).dtype != np.float32:
        raise AssertionError(f"anyloss returned {np.asarray(value).dtype}, not float32")
    _close(value, peer(*a, **kw), "numpy value")


def _torch_setup() -> dict[str, Any]:
    import torch

    torch.set_num_threads(THREADS)
    # Each loss compiles anyloss's function and F's, at three sizes and two passes; past the
    # recompile limit a function would run eagerly without a word: raise instead.
    torch._dynamo.config.recompile_limit = 16
    torch._dynamo.config.fail_on_recompile_limit_hit = True
    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "dynamo_recompile_limit": torch._dynamo.config.recompile_limit,
    }


def worker_torch(loss: str, sizes: list[str], backends: list[str], settings: Settings, out: Any) -> None:
    import torch
    import torch.nn.functional as F

    _record(out, kind="threads", loss=loss, **_torch_setup())
    fn = _anyloss_function(loss)
    native = getattr(F, loss)
    if "torch.compile" in backends:
        _compile_check(loss, fn, native, out)
    for size in sizes:
        case = _build_case(loss, size)
        tensors = [torch.from_numpy(x) if isinstance(x, np.ndarray) else x for x in case.args]
        kw = case.kwargs
        for backend in backends:
            for pass_ in ("fwd", "fwd+bwd"):
                base = dict(
                    loss=loss,
                    size=size,
                    shape=case.shape,
                    backend=backend,
                    pass_=pass_,
                    bytes=case.nbytes,
                    peer="F." + loss + (" (compiled)" if backend == "torch.compile" else ""),
                )
                args = list(tensors)
                leaves = []
                if pass_ == "fwd+bwd":
                    for i in case.diff:
                        args[i] = tensors[i].clone().requires_grad_()
                        leaves.append(args[i])
                skip_a, skip_p = _too_slow(loss, backend, pass_, size, case.nbytes)
                a_call, p_call = _torch_callables(backend, None if skip_a else fn, native, kw)
                if skip_p:
                    p_call = None
                extra = _skipped(skip_p)
                compiled = extra if backend == "torch.compile" else None
                fa = partial(_torch_step, a_call, args, leaves) if a_call is not None else None
                fb = partial(_torch_step, p_call, args, leaves) if p_call is not None else None
                check = partial(
                    _check_torch, a_call, p_call, args, leaves, f"torch {backend} {pass_}", compiled
                )
                status = skip_a or _availability(fn)
                _measure(out, base, fa, fb, check, settings, status, extra)


def _first_call(who: str, f: Callable[[], Any], compiled: dict[str, Any] | None) -> Any:
    """``f()``; for a compiled ``f`` (its first call compiles) its time and its warnings are
    added to ``compiled``."""
    if compiled is None:
        return f()
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return f()
        finally:
            compiled[f"{who}_compile_s"] = round(time.perf_counter() - t0, 3)
            compiled.setdefault("compile_warnings", {})[who] = [str(w.message)[:200] for w in caught]


def _check_torch(
    a_call: Any,
    p_call: Any,
    args: list[Any],
    leaves: list[Any],
    what: str,
    compiled: dict[str, Any] | None,
) -> None:
    va = _first_call("anyloss", partial(_torch_values, a_call, args, leaves), compiled)
    vb = _first_call("peer", partial(_torch_values, p_call, args, leaves), compiled)
    for x, y in zip(va, vb, strict=True):
        _close(x, y, what)


def _torch_callables(backend: str, fn: Any, native: Any, kw: dict[str, Any]) -> tuple[Any, Any]:
    """Both functions with the case's keywords bound; under torch.compile compiled with
    dynamic shapes, so that one graph per pass serves every size.

    ``partial`` (not a wrapping lambda): Dynamo keeps its compiled graphs on the code object
    of the first Python frame, so a lambda shared by every loss would reach the recompile
    limit within the first loss, and every later call would silently run eagerly.
    """
    import torch

    a = partial(fn, **kw) if fn is not None else None
    b = partial(native, **kw)
    if backend == "torch":
        return a, b
    return (torch.compile(a, dynamic=True) if a is not None else None), torch.compile(b, dynamic=True)


def _torch_step(c: Any, args: list[Any], leaves: list[Any]) -> Any:
    """One call; with ``leaves``, forward and the gradients with respect to them."""
    import torch

    value = c(*args)
    if leaves:
        return torch.autograd.grad(value, leaves)
    return value


def _torch_values(c: Any, args: list[Any], leaves: list[Any]) -> list[Any]:
    import torch

    value = c(*args)
    out = [value.detach().numpy()]
    if leaves:
        out += [g.numpy() for g in torch.autograd.grad(value, leaves)]
    return out


def _compile_check(loss: str, fn: Any, native: Any, out: Any) -> None:
    """Graph breaks and warnings of anyloss (and of F, for reference) under torch.compile."""
    import torch

    case = _cases.build(loss, "small")
    tensors = [torch.from_numpy(x) if isinstance(x, np.ndarray) else x for x in case.args]
    result: dict[str, Any] = {"kind": "compile_check", "loss": loss}
    for who, f in (("anyloss", fn), ("peer", native)):
        if f is None:
            result[who] = None
            continue
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                explained = torch._dynamo.explain(lambda *a, f=f: f(*a, **case.kwargs))(*tensors)
            result[who] = {
                "graph_breaks": explained.graph_break_count,
                "graphs": explained.graph_count,
                "break_reasons": [str(r.reason)[:200] for r in explained.break_reasons][:3],
                "warnings": [str(w.message)[:200] for w in caught][:3],
            }
        except Exception as exc:
            result[who] = {"error": _describe(exc, "error")}
        # explain() reports no graph at all for some of torch's own functions; compiling with
        # fullgraph=True is the decisive test: it raises at the first graph break.
        torch._dynamo.reset()
        try:
            with warnings.catch_warnings(record=True):
                warnings.simplefilter("always")
                compiled = torch.compile(partial(f, **case.kwargs), backend="eager", fullgraph=True)
                compiled(*tensors)
            result[who]["fullgraph"] = True
        except Exception as exc:
            result[who]["fullgraph"] = False
            result[who]["fullgraph_error"] = _describe(exc, "break")[:300]
        torch._dynamo.reset()
    _record(out, **result)


def worker_jax(loss: str, sizes: list[str], settings: Settings, out: Any) -> None:
    import jax
    import jax.numpy as jnp

    _record(
        out,
        kind="threads",
        loss=loss,
        jax_devices=[str(d) for d in jax.devices()],
        jax_version=jax.__version__,
    )
    fn = _anyloss_function(loss)
    peer_name, peer = _peers.jax_peer(loss)
    for size in sizes:
        case = _build_case(loss, size)
        args = [jnp.asarray(x) if isinstance(x, np.ndarray) else x for x in case.args]
        kw = case.kwargs
        for pass_ in ("fwd", "fwd+bwd"):
            base = dict(
                loss=loss,
                size=size,
                shape=case.shape,
                backend="jax",
                pass_=pass_,
                bytes=case.nbytes,
                peer=peer_name,
            )

            skip_a, skip_p = _too_slow(loss, "jax", pass_, size, case.nbytes)
            a_jit = _jax_compiled(fn, kw, pass_, case.diff) if fn is not None and not skip_a else None
            p_jit = _jax_compiled(peer, kw, pass_, case.diff) if not skip_p else None
            extra = _skipped(skip_p)
            fa = partial(_jax_step, a_jit, args) if a_jit is not None else None
            fb = partial(_jax_step, p_jit, args) if p_jit is not None else None
            check = partial(_check_jax, a_jit, p_jit, args, f"jax {pass_}", extra)
            status = skip_a or _availability(fn)
            _measure(out, base, fa, fb, check, settings, status, extra)


def _jax_compiled(f: Any, kw: dict[str, Any], pass_: str, diff: tuple[int, ...]) -> Any:
    import jax

    def scalar(*a: Any) -> Any:
        return f(*a, **kw)

    if pass_ == "fwd":
        return jax.jit(scalar)
    return jax.jit(jax.value_and_grad(scalar, argnums=diff))


def _jax_step(c: Any, args: list[Any]) -> Any:
    import jax

    return jax.block_until_ready(c(*args))


def _check_jax(a_jit: Any, p_jit: Any, args: list[Any], what: str, compiled: dict[str, Any]) -> None:
    import jax

    leaves_a = jax.tree_util.tree_leaves(_first_call("anyloss", partial(_jax_step, a_jit, args), compiled))
    leaves_b = jax.tree_util.tree_leaves(_first_call("peer", partial(_jax_step, p_jit, args), compiled))
    for x, y in zip(leaves_a, leaves_b, strict=True):
        if x.dtype != y.dtype:
            raise AssertionError(f"dtype {x.dtype} vs {y.dtype}")
        _close(x, y, what)


def run_worker(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("losses")
    p.add_argument("group", choices=("numpy", "torch", "jax"))
    p.add_argument("--sizes", required=True)
    p.add_argument("--backends", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", required=True)
    p.add_argument("--cache", type=Path, default=None)
    a = p.parse_args(argv)
    global _CASE_CACHE
    _CASE_CACHE = a.cache
    settings = Settings(a.quick)
    sizes = a.sizes.split(",")
    if a.group == "torch":
        _torch_setup()
    with open(a.out, "a") as out:
        for loss in a.losses.split(","):
            _record(out, kind="start", loss=loss, group=a.group, at=time.time())
            try:
                if a.group == "numpy":
                    worker_numpy(loss, sizes, settings, out)
                elif a.group == "torch":
                    worker_torch(loss, sizes, a.backends.split(","), settings, out)
                else:
                    worker_jax(loss, sizes, settings, out)
            except Exception:
                _record(
                    out, kind="worker_error", loss=loss, group=a.group, error=traceback.format_exc()[-2000:]
                )
            _record(out, kind="done", loss=loss, group=a.group, at=time.time())


# --- the machine ----------------------------------------------------------------------


def measure_bandwidth() -> dict[str, Any]:
    """Read bandwidth: a sum over a 1 GiB float32 array (NumPy, one thread; torch, two)."""
    code = r"""
import json, statistics, time, numpy as np
a = np.ones(1 << 28, dtype=np.float32)
def best(f, n=7):
    f(); ts = []
    for _ in range(n):
        t0 = time.perf_counter_ns(); f(); ts.append(time.perf_counter_ns() - t0)
    return statistics.median(ts)
res = {"bytes": a.nbytes, "numpy_sum_ns": best(lambda: a.sum())}
try:
    import torch
    torch.set_num_threads(THREADS)
    t = torch.from_numpy(a)
    res["torch_sum_ns"] = best(lambda: t.sum())
except ImportError:
    pass
print(json.dumps(res))
""".replace("THREADS", str(THREADS))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    res = json.loads(proc.stdout)
    rates = {k[:-7]: res["bytes"] / res[k] for k in res if k.endswith("_sum_ns")}  # bytes/ns = GB/s
    res["gbps"] = {k: round(v, 2) for k, v in rates.items()}
    res["read_gbps"] = round(max(rates.values()), 2)
    return res


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    versions: dict[str, str] = {"python": platform.python_version()}
    for mod in ("numpy", "torch", "jax", "optax", "anyloss", "array_api_compat"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:
            versions[mod] = "not installed"
    env_keys = ("MALLOC_", "OMP_", "MKL_", "OPENBLAS_", "XLA_", "TORCHINDUCTOR_", "JAX_", "GLIBC_TUNABLES")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "platform": platform.platform(),
        "versions": versions,
        "environment": {k: v for k, v in sorted(os.environ.items()) if k.startswith(env_keys)},
        "threads": THREADS,
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


# --- the parent ---------------------------------------------------------------------------


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # One thread count for every library: torch sets its own below, XLA and NumPy's BLAS
    # read these.  Inductor compiles in-process (a pool of compile workers would compete
    # with the measurement for the two cores).
    env.setdefault("OMP_NUM_THREADS", str(THREADS))
    env.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    env.setdefault("JAX_PLATFORMS", "cpu")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _run_group(
    group: str,
    members: list[str],
    losses: list[str],
    sizes: list[str],
    quick: bool,
    timeout: float,
    env: dict[str, str],
    tmp: Path,
    progress: Callable[[list[dict[str, Any]]], None],
) -> list[dict[str, Any]]:
    """Run every loss of one library in one worker process, restarting it after a loss that
    crashes or runs past ``timeout`` seconds (that loss is reported as a worker failure)."""
    records: list[dict[str, Any]] = []
    todo = list(losses)
    attempt = 0
    while todo:
        attempt += 1
        path = tmp / f"{group}.{attempt}.jsonl"
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--worker",
            ",".join(todo),
            group,
            "--sizes",
            ",".join(sizes),
            "--backends",
            ",".join(members),
            "--out",
            str(path),
            "--cache",
            str(tmp),
        ]
        if quick:
            cmd.append("--quick")
        with open(tmp / f"{group}.{attempt}.stderr", "w+") as err:
            proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=err, stderr=subprocess.STDOUT)
            seen = 0
            current, since, started = None, time.perf_counter(), time.time()
            failure = None
            while True:
                finished = proc.poll() is not None
                lines = path.read_text().splitlines() if path.exists() else []
                for line in lines[seen:]:
                    r = json.loads(line)
                    if r.get("kind") == "start":
                        current, since, started = r["loss"], time.perf_counter(), r["at"]
                    elif r.get("kind") == "done":
                        print(f"  {r['loss']:36s} {group:6s} {r['at'] - started:6.1f} s", flush=True)
                        progress(records)
                        todo.remove(r["loss"])
                        current = None
                    else:
                        r["pass"] = r.pop("pass_", r.get("pass"))
                        records.append(r)
                seen = len(lines)
                if finished:
                    if proc.returncode != 0:
                        err.seek(0)
                        failure = f"worker exited {proc.returncode}: " + " ".join(err.read().split()[-40:])
                    break
                if current is not None and time.perf_counter() - since > timeout:
                    proc.kill()
                    proc.wait()
                    failure = f"timeout after {timeout:.0f} s"
                    break
                time.sleep(0.2)
        if failure is not None or todo:
            # The loss in progress failed; the losses after it run in a fresh worker.
            failed = current if current is not None else (todo[0] if todo else None)
            if failed is None:
                break
            records.append(
                {"kind": "worker_error", "loss": failed, "group": group, "error": failure or "worker stopped"}
            )
            print(f"  {failed:36s} {group:6s} FAILED: {(failure or '')[:150]}", flush=True)
            todo.remove(failed)
    return records


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        run_worker(argv[1:])
        return 0
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--losses", default=",".join(_cases.LOSSES), help="comma-separated loss names")
    p.add_argument("--sizes", default=",".join(_cases.SIZES), help="small,medium,large")
    p.add_argument("--backends", default=",".join(BACKENDS), help="numpy,torch,torch.compile,jax")
    p.add_argument("--quick", action="store_true", help="small and medium sizes, short budgets")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="output directory")
    p.add_argument(
        "--timeout", type=float, default=300.0, help="seconds one loss may run in one library's worker"
    )
    p.add_argument(
        "--docs",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write docs/benchmarks.md (default: for a full run only)",
    )
    p.add_argument(
        "--check-peers",
        action="store_true",
        help="check every NumPy and JAX peer against torch.nn.functional, then exit",
    )
    p.add_argument(
        "--render", metavar="JSON", help="rewrite the tables and plot from a results JSON, then exit"
    )
    a = p.parse_args(argv)
    if a.render:
        from . import report

        saved = json.loads(Path(a.render).read_text())
        Path(a.out).mkdir(parents=True, exist_ok=True)
        docs_path = ROOT / "docs" / "benchmarks.md"
        if a.docs is None:
            a.docs = not saved["machine"].get("quick") and set(saved["machine"]["losses"]) == set(
                _cases.LOSSES
            )
        report.write_all(saved["machine"], saved["records"], Path(a.out), docs=docs_path if a.docs else None)
        return 0
    if a.check_peers:
        from .check import check_peers

        return check_peers()
    losses = [x for x in a.losses.split(",") if x]
    unknown = sorted(set(losses) - set(_cases.LOSSES))
    if unknown:
        p.error(f"unknown losses: {', '.join(unknown)}")
    sizes = [x for x in a.sizes.split(",") if x]
    if a.quick and a.sizes == p.get_default("sizes"):
        sizes = ["small", "medium"]
    backends = [x for x in a.backends.split(",") if x]
    bad = sorted(set(backends) - set(BACKENDS)) + sorted(set(sizes) - set(_cases.SIZES))
    if bad:
        p.error(f"unknown sizes/backends: {', '.join(bad)}")
    full = (
        not a.quick
        and set(losses) == set(_cases.LOSSES)
        and set(sizes) == set(_cases.SIZES)
        and set(backends) == set(BACKENDS)
    )
    write_docs = full if a.docs is None else a.docs

    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    info = machine_info()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}", flush=True)
    info["bandwidth"] = measure_bandwidth()
    print(f"read bandwidth: {info['bandwidth']['gbps']} GB/s", flush=True)
    env = _worker_env()
    info["worker_environment"] = {
        k: env[k] for k in ("OMP_NUM_THREADS", "TORCHINDUCTOR_COMPILE_THREADS", "JAX_PLATFORMS")
    }
    command = "python -m benchmarks " + " ".join(argv)
    info.update(command=command, quick=a.quick, sizes=sizes, losses=losses, backends=backends)
    from . import report

    records: list[dict[str, Any]] = []
    groups = []
    for g in ("numpy", "torch", "jax"):
        members = [b for b in backends if GROUPS[b] == g]
        if members:
            groups.append((g, members))
    with tempfile.TemporaryDirectory() as tmp:
        for group, members in groups:

            def progress(done: list[dict[str, Any]], group_records: list[dict[str, Any]] = records) -> None:
                # Results so far, rewritten after every loss, so a run cut short still reports.
                interim = dict(info, elapsed_s=round(time.time() - started, 1), command=command, partial=True)
                report.write_all(interim, group_records + done, out_dir, docs=None, with_plot=False)

            records += _run_group(group, members, losses, sizes, a.quick, a.timeout, env, Path(tmp), progress)
    info["elapsed_s"] = round(time.time() - started, 1)
    report.write_all(info, records, out_dir, docs=ROOT / "docs" / "benchmarks.md" if write_docs else None)
    print(f"done in {info['elapsed_s']} s; results in {out_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
