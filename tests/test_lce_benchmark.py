"""The linear_cross_entropy benchmark's contenders compute what they claim, at a tiny size."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from benchmarks import linear_cross_entropy as bench  # noqa: E402

from anyloss._backends._chunks import default_chunk_size  # noqa: E402
from anyloss._backends._generic import logit_blocks  # noqa: E402

N, H, V = 64, 16, 9001  # a default chunk of 16 rows: blocks of 64 rows and 2250 classes


def test_the_blocked_products_are_the_three_products_in_blocks() -> None:
    rows, classes = logit_blocks(N, V, default_chunk_size(N, H, V))
    assert classes < V and V % classes  # blocks of classes, the last one shorter
    x, w, t = bench._torch_inputs(N, H, V)
    bench._torch_step("matmuls (torch)", x, w, t)()
    three = x.grad, w.grad
    bench._torch_step("blocked products (torch)", x, w, t)()
    torch.testing.assert_close(x.grad, three[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(w.grad, three[1], rtol=1e-5, atol=1e-5)


def test_each_torch_step_gives_the_gradients_of_its_loss() -> None:
    x, w, t = bench._torch_inputs(N, H, V)
    grads = {}
    for name in ("naive torch", "torch chunked", "anyloss torch"):
        bench._torch_step(name, x, w, t)()
        grads[name] = x.grad, w.grad
    for name in ("torch chunked", "anyloss torch"):
        for mine, naive in zip(grads[name], grads["naive torch"], strict=True):
            torch.testing.assert_close(mine, naive, rtol=1e-4, atol=1e-6)


def test_rounds_time_every_contender_in_every_round(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(bench.SIZES, "tiny", (N, H, V))
    names = ["matmuls (torch)", "blocked products (torch)", "anyloss torch"]
    times = bench._rounds(names, "tiny", 3)
    assert list(times) == names
    assert all(len(t) == 3 and min(t) > 0 for t in times.values())
    row = bench._row("anyloss torch", {"peak": 2**20, "memory": "m"}, times, 2**20)
    assert row.startswith("| anyloss torch | 1.0 | 1.00 | ") and row.endswith(" | m |")
    floor = bench._row("matmuls (torch)", {"error": "e"}, times, 2**20)
    assert "1.00 (1.00–1.00)" in floor and floor.endswith(" | e |")


def test_rounds_run_the_jitted_jax_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jax")
    monkeypatch.setitem(bench.SIZES, "tiny", (N, H, V))
    times = bench._rounds(["matmuls (jax)", "anyloss jax"], "tiny", 2)
    assert all(len(t) == 2 and min(t) > 0 for t in times.values())
    assert bench._jax_peak("anyloss jax", N, H, V)["peak"] >= (N + V) * H * 4
