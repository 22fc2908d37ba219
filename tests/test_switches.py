"""Switches are context-local, and no cache lets the order of calls change a result.

``anyloss.native_paths`` holds for its own thread or asyncio task only; blocks nest and
overlap; code compiled by torch.compile (``fullgraph``) follows the block it runs in.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

import anyloss
from anyloss._dispatch import dispatch

_X = torch.tensor([0.5, -1.0, 2.0])
_T = torch.tensor([0.0, 1.0, 2.5])


def _takes_native_path() -> bool:
    """Whether an l1_loss call here would take torch's own kernel."""
    return dispatch("l1_loss", None, "mean", _X, _T)[1] is not None


def test_native_paths_nest_and_restore() -> None:
    seen = [_takes_native_path()]
    with anyloss.native_paths(False):
        seen.append(_takes_native_path())
        with anyloss.native_paths(True):
            seen.append(_takes_native_path())
        seen.append(_takes_native_path())
    seen.append(_takes_native_path())
    assert seen == [True, False, True, False, True]


def test_native_paths_restore_after_an_exception() -> None:
    with pytest.raises(KeyError), anyloss.native_paths(False):
        raise KeyError("inside")
    assert _takes_native_path()


def test_native_paths_hold_for_their_own_thread_in_overlapping_blocks() -> None:
    # Thread a enters first and leaves last; thread b enters and leaves inside a's block.
    a_entered, b_entered, b_left = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, list[bool]] = {"a": [], "b": [], "main": []}

    def a() -> None:
        with anyloss.native_paths(False):
            a_entered.set()
            b_entered.wait(10)
            seen["a"].append(_takes_native_path())
            b_left.wait(10)
            seen["a"].append(_takes_native_path())
        seen["a"].append(_takes_native_path())

    def b() -> None:
        a_entered.wait(10)
        seen["b"].append(_takes_native_path())
        with anyloss.native_paths(True):
            b_entered.set()
            seen["b"].append(_takes_native_path())
        b_left.set()
        seen["b"].append(_takes_native_path())

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    a_entered.wait(10)
    seen["main"].append(_takes_native_path())
    for t in threads:
        t.join(10)
    seen["main"].append(_takes_native_path())
    assert seen == {"a": [False, False, True], "b": [True, True, True], "main": [True, True]}


def test_native_paths_hold_for_their_own_asyncio_task() -> None:
    async def task(enabled: bool, entered: asyncio.Event, other: asyncio.Event) -> list[bool]:
        with anyloss.native_paths(enabled):
            entered.set()
            await other.wait()  # the other task runs inside this block
            await asyncio.sleep(0)
            return [_takes_native_path()]

    async def main() -> tuple[list[bool], list[bool], bool]:
        first, second = asyncio.Event(), asyncio.Event()
        off = asyncio.create_task(task(False, first, second))
        on = asyncio.create_task(task(True, second, first))
        return await off, await on, _takes_native_path()

    assert asyncio.run(main()) == ([False], [True], True)


def _compiled_paths(enabled_per_call: list[bool]) -> list[str]:
    """Which graph each call of a fullgraph-compiled l1_loss ran: torch's kernel
    ('native') or the generic body ('generic'), and whether it was traced for the call."""
    traced: list[str] = []
    ran: list[str] = []

    def recording_backend(gm, example_inputs):  # type: ignore[no-untyped-def]
        kind = "native" if "l1_loss" in str(gm.graph) else "generic"
        traced.append(kind)

        def run(*args):  # type: ignore[no-untyped-def]
            ran.append(kind)
            return gm.forward(*args)

        return run

    torch._dynamo.reset()
    compiled = torch.compile(anyloss.l1_loss, fullgraph=True, backend=recording_backend)
    calls = []
    for enabled in enabled_per_call:
        before = len(traced)
        with anyloss.native_paths(enabled):
            expected = anyloss.l1_loss(_X, _T)
            assert torch.equal(compiled(_X, _T), expected)
        calls.append(ran[-1] if len(traced) > before else f"reused {ran[-1]}")
    return calls


def test_compiled_code_follows_the_block_it_runs_in() -> None:
    assert _compiled_paths([True, False, True, False]) == [
        "native",
        "generic",
        "reused native",
        "reused generic",
    ]


def test_compiled_code_follows_the_block_of_its_own_thread() -> None:
    with anyloss.native_paths(False):
        result: list[list[str]] = []
        thread = threading.Thread(target=lambda: result.append(_compiled_paths([True])))
        thread.start()
        thread.join(60)
        assert result == [["native"]]


_ORDER_SCRIPT = r"""
import json, sys, warnings
import numpy as np, ml_dtypes
sys.path.insert(0, sys.argv[2])
import anyloss
from cases import CASES
from support.backends import BFLOAT16

def bf16(value):
    if isinstance(value, np.ndarray) and value.dtype == np.float32:
        return value.astype(BFLOAT16)
    return value

def outcome(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            getattr(anyloss, case.fn)(*map(bf16, case.args), **{k: bf16(v) for k, v in case.kwargs.items()})
        except Exception as exc:
            return [type(exc).__name__, str(exc)]
    return "computed"

chosen, seen = [], set()
for c in CASES:  # the first float32 call of each loss that torch computes
    first = c.args[0]
    if c.raises or c.fn in seen or not (isinstance(first, np.ndarray) and first.dtype == np.float32):
        continue
    seen.add(c.fn)
    chosen.append(c)
if sys.argv[1] == "jax-first":
    import jax.numpy as jnp
    for case in chosen:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            args = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in map(bf16, case.args)]
            kwargs = {k: jnp.asarray(v) if isinstance(v, np.ndarray) else v for k, v in case.kwargs.items()}
            try:
                getattr(anyloss, case.fn)(*args, **{k: bf16(v) for k, v in kwargs.items()})
            except Exception:
                pass
print(json.dumps({case.id: outcome(case) for case in chosen}))
"""


def _outcomes_in_a_fresh_process(order: str) -> dict[str, object]:
    tests = Path(__file__).parent
    src = tests.parent / "src"
    done = subprocess.run(
        [sys.executable, "-c", _ORDER_SCRIPT, order, str(tests)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PYTHONPATH": str(src), "JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_numpy_bfloat16_raises_the_same_whichever_library_came_first() -> None:
    fresh = _outcomes_in_a_fresh_process("fresh")
    after_jax = _outcomes_in_a_fresh_process("jax-first")
    assert fresh == after_jax
    assert set(case_id.split("-")[0] for case_id in fresh) == set(anyloss.functional.__all__)
    for case_id, outcome in fresh.items():
        assert isinstance(outcome, list) and outcome[0] == "TypeError", (case_id, outcome)
        assert "bfloat16" in outcome[1] and "NumPy" in outcome[1], (case_id, outcome)


def test_retaining_gradients_is_per_thread() -> None:
    from anyloss._backends import _torch

    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with _torch._retaining():
            entered.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert entered.wait(10)
        assert not _torch._retain_graph.allowed
    finally:
        release.set()
        worker.join()
