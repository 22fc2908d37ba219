"""Large NumPy inputs: computed in blocks, on several threads, with the bits of one call.

The elementwise NumPy kernels cut a large input into the subtrees of NumPy's pairwise
summation and add the block sums up the same tree.  Here, for every such kernel, every
reduction and both float dtypes: one thread, two, three (more than the cores) and the
generic body give the same bits; the thread count follows ``set_num_threads`` and the
environment; only the main thread fans out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import anyloss
from anyloss import _threads
from anyloss._backends import _numpy_kernels as kernels

#: The kernels computed by ``_elementwise`` (the row losses' kernels work by rows).
ELEMENTWISE = sorted(kernel.__name__ for kernel in kernels.ELEMENTWISE_KERNELS)


@pytest.fixture
def threads(monkeypatch):
    """Set the thread count for one test, then restore it; inputs from 2^17 elements on
    fan out (the tests' inputs stay small)."""
    monkeypatch.setattr(kernels, "PARALLEL_MIN", 1 << 17)
    before = anyloss.get_num_threads()
    yield anyloss.set_num_threads
    anyloss.set_num_threads(before)


def _arrays(name: str, shape: tuple[int, ...], dtype: type, rng: np.random.Generator) -> tuple:
    def unit():
        return rng.uniform(0.02, 0.98, shape).astype(dtype)

    def normal():
        return (rng.standard_normal(shape) * 2).astype(dtype)

    if name == "binary_cross_entropy":
        return unit(), unit()
    if name == "gaussian_nll_loss":
        return normal(), normal(), unit()
    if name == "margin_ranking_loss":
        return normal(), normal(), np.sign(normal())
    if name == "hinge_embedding_loss":
        return np.abs(normal()), np.sign(normal())
    if name == "kl_div":
        target = unit()
        target[::97] = 0  # 0·log(0)
        return normal(), target
    return normal(), normal()


def _reductions(name: str) -> tuple[str, ...]:
    return ("none", "sum", "batchmean") if name == "kl_div" else ("none", "mean", "sum")


@pytest.mark.parametrize("sizes", [[128, 136, 1000, 3001, 2**14 + 9, 1_000_003]], ids=["sizes"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_sums_added_up_the_tree_are_numpys_sum(sizes, dtype) -> None:
    rng = np.random.default_rng(0)
    for n in sizes:
        x = (rng.standard_normal(n) * 1e3).astype(dtype)
        for size in (128, 1000, kernels.block_size(n)):
            blocks = kernels._blocks(n, size)
            assert blocks[0][0] == 0 and blocks[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
            sums = [np.add.reduce(x[a:b]) for a, b in blocks]
            assert kernels._tree_sum(sums, n, size) == np.add.reduce(x), (n, size)
        # A C-contiguous matrix is summed as its flat elements.
        if n % 8 == 0:
            assert np.add.reduce(x.reshape(8, -1), axis=None) == np.add.reduce(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_large_inputs_have_the_bits_of_one_thread_and_of_the_body(name, dtype, threads) -> None:
    rng = np.random.default_rng(len(name))
    loss = getattr(anyloss, name)
    for shape in [(300, 1001), (kernels.PARALLEL_MIN + 17,)]:
        arrays = _arrays(name, shape, dtype, rng)
        for reduction in _reductions(name):
            with anyloss.native_paths(False), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # kl_div's batchmean advice is not asked here
                body = loss(*arrays, reduction=reduction)
            for count in (1, 2, 3):
                threads(count)
                out = loss(*arrays, reduction=reduction)
                assert (out.dtype, out.shape) == (body.dtype, body.shape)
                assert np.array_equal(out, body, equal_nan=True), (shape, reduction, count)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_multilabel_margin_by_blocks_of_rows_has_the_bits_of_one_thread_and_of_the_body(
    dtype, threads
) -> None:
    """multilabel_margin_loss's kernel shares its blocks of rows among the threads: one
    thread, two, three and the body give the same bits."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((300, 1001)) * 2).astype(dtype)
    target = np.full(x.shape, -1)
    target[:, :5] = rng.integers(0, 1001, (300, 5))
    target[::7, 3] = -1  # fewer labels in some rows
    for reduction in ("none", "mean", "sum"):
        with anyloss.native_paths(False):
            body = anyloss.multilabel_margin_loss(x, target, reduction=reduction)
        for count in (1, 2, 3):
            threads(count)
            out = anyloss.multilabel_margin_loss(x, target, reduction=reduction)
            assert (out.dtype, out.shape) == (body.dtype, body.shape)
            assert np.array_equal(out, body), (reduction, count)


def test_a_large_input_is_shared_among_the_threads(threads, monkeypatch) -> None:
    parts = []
    run = _threads.run

    def counting(task, n):
        parts.append(n)
        return run(task, n)

    monkeypatch.setattr(_threads, "run", counting)
    x = np.linspace(-3, 3, kernels.PARALLEL_MIN, dtype=np.float32)
    threads(2)
    anyloss.l1_loss(x, x[::-1].copy())
    assert parts == [2]
    # Below PARALLEL_MIN, with one thread, or from a thread other than the main one: no fan-out.
    anyloss.l1_loss(x[: kernels.PARALLEL_MIN - 1], x[1:])
    threads(1)
    anyloss.l1_loss(x, x[::-1].copy())
    threads(2)
    worker = threading.Thread(target=lambda: anyloss.l1_loss(x, x[::-1].copy()))
    worker.start()
    worker.join()
    assert parts == [2]


def test_non_contiguous_and_overflowing_large_inputs(threads) -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((700, 400)) * 200).astype(np.float32)  # exp overflows
    t = rng.standard_normal((400, 700)).astype(np.float32).T  # not C-contiguous
    threads(2)
    for reduction in ("none", "mean"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no warning from any thread
            out = anyloss.soft_margin_loss(x, np.ascontiguousarray(t), reduction=reduction)
            strided = anyloss.soft_margin_loss(x, t, reduction=reduction)
        with anyloss.native_paths(False):
            body = anyloss.soft_margin_loss(x, t, reduction=reduction)
        assert np.array_equal(out, body) and np.array_equal(strided, body)
    assert np.isinf(anyloss.soft_margin_loss(x, np.ascontiguousarray(t)))


def test_set_num_threads_checks_its_argument(threads) -> None:
    threads(3)
    assert anyloss.get_num_threads() == 3
    with pytest.raises(TypeError, match="expects an int"):
        anyloss.set_num_threads(2.0)
    with pytest.raises(TypeError, match="expects an int"):
        anyloss.set_num_threads(True)
    with pytest.raises(ValueError, match="positive number of threads, got 0"):
        anyloss.set_num_threads(0)
    assert anyloss.get_num_threads() == 3


def test_an_exception_in_a_part_is_raised_in_the_caller(threads) -> None:
    threads(2)

    def task(k: int) -> int:
        if k == 1:
            raise ZeroDivisionError("part 1")
        return k

    with pytest.raises(ZeroDivisionError, match="part 1"):
        _threads.run(task, 2)
    assert _threads.run(lambda k: k * 10, 3) == [0, 10, 20]
    assert [list(r) for r in _threads.split(10, 3)] == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"ANYLOSS_NUM_THREADS": "3", "OMP_NUM_THREADS": "5"}, 3),
        ({"OMP_NUM_THREADS": "5"}, 5),
        ({"ANYLOSS_NUM_THREADS": "zero", "OMP_NUM_THREADS": "0"}, None),
    ],
    ids=["anyloss", "omp", "invalid"],
)
def test_the_default_thread_count_comes_from_the_environment(environment, expected) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _threads.ENVIRONMENT}
    env.update(environment)
    code = (
        "import anyloss, os, json; "
        "print(json.dumps([anyloss.get_num_threads(), len(os.sched_getaffinity(0))]))"
    )
    count, cores = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
    )
    assert count == (cores if expected is None else expected)


def test_a_forked_child_starts_its_own_threads(threads) -> None:
    threads(2)
    x = np.linspace(-3, 3, kernels.PARALLEL_MIN * 2)
    expected = anyloss.mse_loss(x, x[::-1].copy())  # the parent's pool now exists
    read, write = os.pipe()
    with warnings.catch_warnings():
        # fork() of a threaded process warns (Python itself, and JAX once it is imported)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
        pid = os.fork()
    if pid == 0:  # the child
        try:
            value = anyloss.mse_loss(x, x[::-1].copy())
            os.write(write, value.tobytes())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        got = np.frombuffer(pipe.read(), dtype=np.float64)
    os.waitpid(pid, 0)
    assert got.tolist() == [expected.item()]


def _whole_logsumexp(x, axis, keepdims):
    """The log-sum-exp of the loss bodies on NumPy in one piece: NumPy's formula."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, np.zeros_like(m))
    out = np.log(np.sum(np.exp(np.subtract(x, m)), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_by_blocks_of_rows_has_the_bits_of_one_piece(dtype, threads) -> None:
    rng = np.random.default_rng(2)
    shapes = [(40, 3000), (3, 70_001), (kernels.PARALLEL_MIN // 7 + 1, 7), (5, 20, 1000), (1000, 1000)]
    for shape in shapes:
        x = (rng.standard_normal(shape) * 30).astype(dtype)
        rows = x.reshape(-1, shape[-1])
        rows[1, 0], rows[2, :] = np.inf, -np.inf  # a row with +inf, a row of -inf
        rows[0, 5] = np.nan
        for axis in (-1, len(shape) - 1, 0):
            for keepdims in (True, False):
                with np.errstate(all="ignore"):
                    expected = _whole_logsumexp(x, axis, keepdims)
                    for count in (1, 2, 3):
                        threads(count)
                        got = kernels.logsumexp(x, axis, keepdims)
                        assert got.shape == expected.shape and got.dtype == expected.dtype
                        assert np.array_equal(got, expected, equal_nan=True), (shape, axis, count)


def test_large_cross_entropy_has_the_bits_of_one_thread(threads) -> None:
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((300, 2000)) * 3).astype(np.float32)
    t = rng.integers(0, 2000, 300)
    t[::7] = -100
    w = rng.uniform(0.5, 2, 2000).astype(np.float32)
    results = []
    for count in (1, 2):
        threads(count)
        for reduction in ("none", "mean", "sum"):
            results.append(anyloss.cross_entropy(x, t, weight=w, reduction=reduction))
        results.append(anyloss.mean_parts(anyloss.cross_entropy, x, t, weight=w).numerator)
    half = len(results) // 2
    for one, two in zip(results[:half], results[half:], strict=True):
        assert np.array_equal(one, two)
