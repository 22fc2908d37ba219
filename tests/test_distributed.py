"""Every loss on a real dask.distributed cluster: two worker processes, a small memory limit.

The arrays are chunked Dask arrays (along the batch axis, and along other axes where the
loss allows); the losses build lazy graphs without computing, the cluster computes them,
and the values are torch's on the whole arrays.  ``anyloss eval --scheduler ADDRESS`` runs
on the same cluster, the workers reading the .npy files themselves.  Run these alone with
``pytest -m distributed``.
"""

from __future__ import annotations

import json
import os

import dask
import dask.array as da
import numpy as np
import pytest

import anyloss
from anyloss import _cli
from support.backends import _forbid_compute
from support.streams import MAKERS, tolerance, torch_value

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.distributed

AVAILABLE = [key for key in MAKERS if hasattr(anyloss, key[0])]
# ctc_loss on Dask builds a graph that grows with T × chunks: two of its cases, two chunks.
ON_CLUSTER = [key for key in AVAILABLE if key != ("ctc_loss", "padded-zero-infinity")]
N = 23
WORKER_MEMORY = "256MB"


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=WORKER_MEMORY,
            dashboard_address=":0",
            silence_logs=50,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        # os.getpid, not a function of this module: the workers must not import the test
        # modules (and torch with them) into their small memory.
        pids = c.run(os.getpid)
        yield c
        # No worker was killed or restarted (for memory or anything else) during the module.
        assert c.run(os.getpid) == pids


def _chunked(loss: str, arrays: dict[str, np.ndarray], rows: int) -> dict[str, da.Array]:
    """Dask arrays cut along the batch axis into chunks of ``rows`` (ctc: axis 1)."""
    out = {}
    for key, value in arrays.items():
        axis = 1 if key == "log_probs" else 0
        batched = value.ndim > axis and value.shape[axis] == N and not (key == "targets" and value.ndim == 1)
        chunks = tuple(rows if (batched and i == axis) else s for i, s in enumerate(value.shape))
        out[key] = da.from_array(value, chunks=chunks)
    return out


@pytest.mark.parametrize("key", ON_CLUSTER, ids=["-".join(k) for k in ON_CLUSTER])
def test_every_loss_on_the_cluster(key, client) -> None:
    loss, _ = key
    arrays, options = MAKERS[key](N)
    expected, _ = torch_value(loss, arrays, options)
    lazy_arrays = _chunked(loss, arrays, rows=12 if loss == "ctc_loss" else 5)
    with (
        dask.config.set(scheduler=_forbid_compute),
        pytest.warns()
        if (loss == "kl_div" and options.get("reduction", "mean") == "mean")
        else _no_warning(),
    ):
        lazy = getattr(anyloss, loss)(**lazy_arrays, **options)
    assert isinstance(lazy, da.Array) and lazy.shape == ()
    got = float(client.compute(lazy).result())
    assert got == pytest.approx(expected, rel=tolerance(arrays), abs=1e-12)


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_elementwise_losses_chunked_along_every_axis(loss, client) -> None:
    arrays, options = MAKERS[
        (
            loss,
            "plain" if loss in ("mse_loss", "l1_loss") else "beta" if loss == "smooth_l1_loss" else "weight",
        )
    ](N)
    arrays = {k: v for k, v in arrays.items() if k != "weight"}
    expected, _ = torch_value(loss, arrays, options)
    lazy = getattr(anyloss, loss)(
        **{k: da.from_array(v, chunks=(6, 3)) for k, v in arrays.items()}, **options
    )
    got = float(client.compute(lazy).result())
    assert got == pytest.approx(expected, rel=tolerance(arrays))


def test_cross_entropy_mean_with_weights_and_ignore_index_is_global(client) -> None:
    if not hasattr(anyloss, "cross_entropy"):
        pytest.fail("cross_entropy is part of anyloss")
    rng = np.random.default_rng(7)
    n, classes = 6000, 40
    x = rng.normal(size=(n, classes)).astype(np.float32) * 3
    t = rng.integers(0, classes, n)
    t[: n // 2][rng.random(n // 2) < 0.8] = -1  # the first half is mostly ignored
    w = rng.uniform(0.1, 3.0, classes).astype(np.float32)
    options = {"ignore_index": -1, "label_smoothing": 0.05}
    expected, _ = torch_value("cross_entropy", {"input": x, "target": t, "weight": w}, options)
    lazy = anyloss.cross_entropy(
        da.from_array(x, chunks=(500, classes)),
        da.from_array(t, chunks=500),
        weight=da.from_array(w),
        **options,
    )
    got = float(client.compute(lazy).result())
    assert got == pytest.approx(expected, rel=1e-5)
    # A mean of chunk means would be visibly different here.
    chunk_means = np.mean(
        [
            torch_value(
                "cross_entropy", {"input": x[i : i + 500], "target": t[i : i + 500], "weight": w}, options
            )[0]
            for i in range(0, n, 500)
        ]
    )
    assert abs(chunk_means - expected) > 1e-3


def test_eval_on_the_cluster_reads_files_on_the_workers(client, tmp_path, capsys) -> None:
    loss = "cross_entropy" if hasattr(anyloss, "cross_entropy") else "mse_loss"
    key = next(k for k in AVAILABLE if k[0] == loss)
    arrays, options = MAKERS[key](N)
    for name, value in arrays.items():
        np.save(tmp_path / f"{name}.npy", value)
    argv = [
        "eval",
        loss,
        "--input",
        str(tmp_path / "input.npy"),
        "--target",
        str(tmp_path / "target.npy"),
        "--scheduler",
        client.scheduler.address,
        "--chunk-rows",
        "4",
        "--json",
    ]
    if "weight" in arrays:
        argv += ["--weight", str(tmp_path / "weight.npy")]
    argv += [f"--option={k}={v}" for k, v in options.items()]
    code = _cli.main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    record = json.loads(out)
    expected, terms = torch_value(loss, arrays, options)
    assert record["backend"] == "dask"
    assert record["elements"] == terms
    assert record["value"] == pytest.approx(expected, rel=2e-6)


def test_data_many_chunks_through_small_workers(client, tmp_path, capsys) -> None:
    # 24 MB of logits in 1 MB chunks through workers limited to 256 MB: the graph is a
    # tree reduction, so no worker holds more than a few chunks at a time.  (The run with
    # data several times the memory limit is benchmarks/distributed_out_of_core.py.)
    import torch

    loss = "cross_entropy" if hasattr(anyloss, "cross_entropy") else "mse_loss"
    n, classes = 6144, 1024
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, classes)).astype(np.float32)
    t = rng.integers(0, classes, n) if loss == "cross_entropy" else np.zeros_like(x)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    code = _cli.main(
        [
            "eval",
            loss,
            "--input",
            str(tmp_path / "x.npy"),
            "--target",
            str(tmp_path / "t.npy"),
            "--scheduler",
            client.scheduler.address,
            "--chunk-rows",
            "256",
            "--json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    # The in-memory value, computed piecewise by torch and added in float64.
    fn = getattr(torch.nn.functional, loss)
    xs, ts = torch.from_numpy(x), torch.from_numpy(t)
    total = sum(
        float(fn(xs[i : i + 512], ts[i : i + 512], reduction="sum").double()) for i in range(0, n, 512)
    )
    expected = total / (n if loss == "cross_entropy" else n * classes)
    assert json.loads(out)["value"] == pytest.approx(expected, rel=2e-6)
