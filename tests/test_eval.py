"""`anyloss eval`, `list` and `info`: files in, the whole-array value out, errors as one line.

Every loss anyloss has is streamed in chunks of a few rows and compared with torch on the
whole arrays (and with the loss's own in-memory result); every file format gives the same
value; errors are one line on stderr with a non-zero exit, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import anyloss
from anyloss import _cli, _eval
from support.streams import MAKERS, tolerance, torch_value

AVAILABLE = [key for key in MAKERS if hasattr(anyloss, key[0])]
N = 23  # rows; chunks of 5 leave a short last chunk
ANYLOSS = [sys.executable, "-m", "anyloss"]


def _save(tmp_path: Path, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    paths = {}
    for key, value in arrays.items():
        path = tmp_path / f"{key}.npy"
        np.save(path, value)
        paths[key] = str(path)
    return paths


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = _cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_every_loss_has_a_stream_case() -> None:
    assert {name for name, _ in MAKERS} == set(_eval.SPECS)


def test_spec_table_names_torchs_losses() -> None:
    import torch.nn.functional as F

    assert all(callable(getattr(F, name)) for name in _eval.SPECS)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("key", AVAILABLE, ids=["-".join(k) for k in AVAILABLE])
def test_chunked_equals_whole_equals_torch(key, backend, tmp_path) -> None:
    loss, _ = key
    arrays, options = MAKERS[key](N)
    expected, terms = torch_value(loss, arrays, options)
    sources = {k: _eval.open_source(p, k) for k, p in _save(tmp_path, arrays).items()}
    full = _eval.parse_options(loss, [f"{k}={v}" for k, v in options.items()])
    chunked = _eval.evaluate(loss, sources, full, backend=backend, chunk_rows=5)
    whole = _eval.evaluate(loss, sources, full, backend=backend, chunk_rows=N)
    rtol = tolerance(arrays)
    assert chunked.value == pytest.approx(expected, rel=rtol, abs=1e-12)
    assert whole.value == pytest.approx(expected, rel=rtol, abs=1e-12)
    assert chunked.elements == whole.elements == terms


@pytest.fixture
def threads():
    before = anyloss.get_num_threads()
    yield anyloss.set_num_threads
    anyloss.set_num_threads(before)


@pytest.mark.parametrize("key", AVAILABLE, ids=["-".join(k) for k in AVAILABLE])
def test_chunks_on_several_threads_give_the_value_of_one(key, threads, tmp_path) -> None:
    # NumPy's chunks are computed on several threads at once and added in their order.
    loss, _ = key
    arrays, options = MAKERS[key](N)
    sources = {k: _eval.open_source(p, k) for k, p in _save(tmp_path, arrays).items()}
    full = _eval.parse_options(loss, [f"{k}={v}" for k, v in options.items()])
    results = []
    for count in (1, 3):
        threads(count)
        results.append(_eval.evaluate(loss, sources, full, chunk_rows=2))
    assert [(r.value, r.elements, r.dtype) for r in results[1:]] == [
        (r.value, r.elements, r.dtype) for r in results[:1]
    ]


def test_an_error_in_a_later_chunk_on_several_threads_is_the_same_one_line(threads, tmp_path, capsys) -> None:
    x = np.linspace(-1, 1, 5 * 40).reshape(40, 5)
    t = np.arange(40) % 5
    t[33] = 7  # out of bounds in the ninth chunk of 4 rows
    paths = _save(tmp_path, {"input": x, "target": t})
    argv = [
        "eval",
        "cross_entropy",
        "--input",
        paths["input"],
        "--target",
        paths["target"],
        "--chunk-rows",
        "4",
    ]
    seen = []
    for count in (1, 2, 4):
        threads(count)
        seen.append(run(argv, capsys))
    assert seen[0][0] == 1 and "Target 7 is out of bounds" in seen[0][2]
    assert seen[1:] == seen[:1] * 2


@pytest.mark.parametrize(
    "key",
    [k for k in AVAILABLE if k[0] in ("mse_loss", "cross_entropy", "ctc_loss", "kl_div")],
    ids=lambda k: "-".join(k),
)
def test_dask_backend_equals_torch(key, tmp_path) -> None:
    loss, _ = key
    arrays, options = MAKERS[key](N)
    expected, terms = torch_value(loss, arrays, options)
    sources = {k: _eval.open_source(p, k) for k, p in _save(tmp_path, arrays).items()}
    full = _eval.parse_options(loss, [f"{k}={v}" for k, v in options.items()])
    result = _eval.evaluate(loss, sources, full, backend="dask", chunk_rows=5, scheduler="synchronous")
    assert result.value == pytest.approx(expected, rel=tolerance(arrays), abs=1e-12)
    assert result.elements == terms


def test_mean_is_one_global_ratio_not_a_mean_of_chunk_means(tmp_path) -> None:
    # Chunks with very different numbers of non-ignored targets: a mean of chunk means
    # would be far from torch's value.
    if not hasattr(anyloss, "cross_entropy"):
        loss, arrays = "mse_loss", {"input": np.arange(12.0).reshape(6, 2), "target": np.zeros((6, 2))}
        arrays["weight"] = np.array([[100.0, 100.0]] + [[1.0, 1.0]] * 5)
        options: dict = {}
    else:
        loss = "cross_entropy"
        x = np.linspace(-3, 3, 40, dtype=np.float64).reshape(8, 5)
        t = np.array([0, -100, -100, -100, 1, 2, 3, 4])
        arrays, options = {"input": x, "target": t}, {}
    expected, _ = torch_value(loss, arrays, options)
    paths = _save(tmp_path, arrays)
    sources = {k: _eval.open_source(p, k) for k, p in paths.items()}
    got = _eval.evaluate(loss, sources, _eval.parse_options(loss, []), chunk_rows=4)
    assert got.value == pytest.approx(expected, rel=1e-12)


# --- the command line --------------------------------------------------------------------


@pytest.fixture
def mse_files(tmp_path):
    arrays, _ = MAKERS[("l1_loss", "weight")](N)
    return arrays, _save(tmp_path, arrays)


def test_eval_prints_the_value(mse_files, capsys) -> None:
    arrays, paths = mse_files
    code, out, err = run(
        ["eval", "mse_loss", "--input", paths["input"], "--target", paths["target"], "--chunk-rows", "4"],
        capsys,
    )
    expected, _ = torch_value("mse_loss", {k: arrays[k] for k in ("input", "target")}, {})
    assert code == 0 and err == ""
    assert float(out) == pytest.approx(expected, rel=2e-6)
    assert out.count("\n") == 1


def test_eval_json_keys(mse_files, capsys) -> None:
    arrays, paths = mse_files
    code, out, err = run(
        [
            "eval",
            "l1_loss",
            "--input",
            paths["input"],
            "--target",
            paths["target"],
            "--weight",
            paths["weight"],
            "--option",
            "reduction=sum",
            "--json",
            "--chunk-rows",
            "7",
        ],
        capsys,
    )
    assert code == 0 and err == ""
    assert out.count("\n") == 1
    record = json.loads(out)
    assert set(record) == {"loss", "value", "options", "elements", "backend", "seconds"}
    assert record["loss"] == "l1_loss"
    assert record["options"] == {"reduction": "sum"}
    assert record["elements"] == N * 4
    assert record["backend"] == "numpy"
    assert record["seconds"] >= 0
    expected, _ = torch_value("l1_loss", arrays, {"reduction": "sum"})
    assert record["value"] == pytest.approx(expected, rel=2e-6)


def test_eval_extra_arrays_and_options(tmp_path, capsys) -> None:
    if not hasattr(anyloss, "gaussian_nll_loss"):
        pytest.fail("gaussian_nll_loss is part of anyloss")
    arrays, options = MAKERS[("gaussian_nll_loss", "var-column")](N)
    paths = _save(tmp_path, arrays)
    code, out, err = run(
        [
            "eval",
            "gaussian_nll_loss",
            "--input",
            paths["input"],
            "--target",
            paths["target"],
            "--array",
            f"var={paths['var']}",
            "--option",
            "full=true",
            "--json",
            "--chunk-rows",
            "6",
        ],
        capsys,
    )
    assert code == 0, err
    expected, _ = torch_value("gaussian_nll_loss", arrays, options)
    assert json.loads(out)["value"] == pytest.approx(expected, rel=2e-6)
    assert json.loads(out)["options"] == {"full": True, "eps": 1e-06, "reduction": "mean"}


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "dask"])
def test_eval_backends(mse_files, backend, capsys) -> None:
    arrays, paths = mse_files
    code, out, err = run(
        [
            "eval",
            "mse_loss",
            "--input",
            paths["input"],
            "--target",
            paths["target"],
            "--backend",
            backend,
            "--json",
            "--chunk-rows",
            "5",
        ],
        capsys,
    )
    assert code == 0, err
    expected, _ = torch_value("mse_loss", {k: arrays[k] for k in ("input", "target")}, {})
    record = json.loads(out)
    assert record["backend"] == backend
    assert record["value"] == pytest.approx(expected, rel=2e-6)


def _write_formats(tmp_path: Path, x: np.ndarray, t: np.ndarray) -> dict[str, tuple[str, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    np.savez(tmp_path / "both.npz", logits=x, labels=t)
    np.savez_compressed(tmp_path / "zipped.npz", logits=x, labels=t)
    with open(tmp_path / "x.csv", "w") as f:
        f.write(",".join(f"c{i}" for i in range(x.shape[1])) + "\n")
        for row in x:
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    with open(tmp_path / "t.csv", "w") as f:
        f.write("id,label\n")
        for i, v in enumerate(t):
            f.write(f"{i},{v}\n")
    logits = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), x.shape[1])
    pq.write_table(
        pa.table({"logits": logits, "label": pa.array(t)}), tmp_path / "d.parquet", row_group_size=7
    )
    pq.write_table(
        pa.table({f"c{i}": pa.array(x[:, i]) for i in range(x.shape[1])}), tmp_path / "wide.parquet"
    )
    d = str(tmp_path)
    return {
        "npy": (f"{d}/x.npy", f"{d}/t.npy"),
        "npz": (f"{d}/both.npz:logits", f"{d}/both.npz:labels"),
        "npz-compressed": (f"{d}/zipped.npz:logits", f"{d}/zipped.npz:labels"),
        "csv": (f"{d}/x.csv", f"{d}/t.csv:label"),
        "csv-column-number": (f"{d}/x.csv", f"{d}/t.csv:1"),
        "parquet": (f"{d}/d.parquet:logits", f"{d}/d.parquet:label"),
        "parquet-columns": (f"{d}/wide.parquet", f"{d}/d.parquet:label"),
    }


FORMATS = ["npy", "npz", "npz-compressed", "csv", "csv-column-number", "parquet", "parquet-columns"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_file_format(fmt, tmp_path, capsys) -> None:
    # Logits in float64 (CSV text is read as float64) and class targets, in every format.
    loss = "cross_entropy" if hasattr(anyloss, "cross_entropy") else "multi_margin_loss"
    if not hasattr(anyloss, loss):
        loss = "mse_loss"
    x = np.random.default_rng(1).normal(size=(N, 4))
    t = np.random.default_rng(2).integers(0, 4, N)
    if loss == "mse_loss":
        t = np.random.default_rng(2).normal(size=N)
        x = x[:, 0]
    files = _write_formats(tmp_path, x, t)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    inp, tgt = files[fmt]
    if loss == "mse_loss":
        inp = inp.replace("wide.parquet", "wide.parquet:c0")
    code, out, err = run(
        ["eval", loss, "--input", inp, "--target", tgt, "--json", "--chunk-rows", "4"], capsys
    )
    assert code == 0, err
    expected, _ = torch_value(loss, {"input": x, "target": t}, {})
    assert json.loads(out)["value"] == pytest.approx(expected, rel=1e-12)
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}
    assert after == before  # nothing is written over


@pytest.mark.parametrize("shape", [(37, 5), (9,), ()])
def test_npz_members_stored_uncompressed_are_memory_mapped(shape, tmp_path) -> None:
    # np.savez stores members as they are: each is a .npy inside the zip, mapped in place;
    # np.savez_compressed members must be inflated, and are read whole.
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    padding = np.arange(11)
    np.savez(tmp_path / "plain.npz", first=padding, x=x)
    np.savez_compressed(tmp_path / "zipped.npz", first=padding, x=x)
    stored = _eval.open_source(f"{tmp_path}/plain.npz:x")
    assert isinstance(stored, _eval.NpySource)
    assert isinstance(_eval.open_source(f"{tmp_path}/plain.npz:first"), _eval.NpySource)
    assert isinstance(_eval.open_source(f"{tmp_path}/zipped.npz:x"), _eval.ArraySource)
    assert stored.shape == x.shape and stored.dtype == x.dtype
    np.testing.assert_array_equal(stored.read_all(), x)
    if shape:
        np.testing.assert_array_equal(stored.read(3, 8), x[3:8])


def test_list_and_info(capsys) -> None:
    code, out, err = run(["list"], capsys)
    assert code == 0 and err == ""
    for name in _eval.SPECS:
        assert (name in out) == hasattr(anyloss, name)
    assert "backends installed: numpy" in out
    assert "mse_loss" in out and "reduction='mean'" in out
    code, out, err = run(["info", "mse_loss"], capsys)
    assert code == 0 and err == ""
    assert "reduction = 'mean'" in out and "weight (optional)" in out and "backends:" in out


def test_loss_without_a_record_is_unknown(monkeypatch, capsys, mse_files) -> None:
    monkeypatch.delitem(anyloss._registry.RECORDS, "mse_loss")
    _, paths = mse_files
    code, out, err = run(["list"], capsys)
    assert code == 0 and "mse_loss" not in out
    code, out, err = run(["eval", "mse_loss", "--input", paths["input"], "--target", paths["target"]], capsys)
    assert code == 1 and out == ""
    assert err.startswith("anyloss eval: error: unknown loss 'mse_loss'")


def _errors(paths: dict[str, str], tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not an array at all")
    short = tmp_path / "short.npy"
    np.save(short, np.zeros((N - 1, 4), np.float32))
    text = tmp_path / "words.csv"
    text.write_text("a,b\n1,x\n")
    x, t = paths["input"], paths["target"]
    return {
        "missing-file": (
            ["eval", "mse_loss", "--input", str(tmp_path / "nope.npy"), "--target", t],
            "no such file",
        ),
        "directory": (["eval", "mse_loss", "--input", str(tmp_path), "--target", t], "is a directory"),
        "unreadable": (["eval", "mse_loss", "--input", str(garbage), "--target", t], "cannot read"),
        "unknown-format": (
            ["eval", "mse_loss", "--input", str(tmp_path / "words.csv") + "x", "--target", t],
            "no such file",
        ),
        "bad-csv": (["eval", "mse_loss", "--input", str(text), "--target", t], "is not a number"),
        "mismatched-shapes": (
            ["eval", "mse_loss", "--input", x, "--target", str(short), "--chunk-rows", "5"],
            "mismatched shapes",
        ),
        "mismatched-whole": (
            ["eval", "mse_loss", "--input", x, "--target", str(short), "--chunk-rows", "100"],
            "mismatched shapes",
        ),
        "unknown-loss": (["eval", "mse", "--input", x, "--target", t], "unknown loss 'mse'"),
        "unknown-option": (
            ["eval", "mse_loss", "--input", x, "--target", t, "--option", "beta=1"],
            "unknown option 'beta'",
        ),
        "option-syntax": (
            ["eval", "mse_loss", "--input", x, "--target", t, "--option", "beta"],
            "expected NAME=VALUE",
        ),
        "bad-value": (
            ["eval", "smooth_l1_loss", "--input", x, "--target", t, "--option", "beta=wide"],
            "bad value 'wide' for option beta",
        ),
        "bad-value-from-the-loss": (
            [
                "eval",
                "smooth_l1_loss",
                "--input",
                x,
                "--target",
                t,
                "--option",
                "beta=-1",
                "--chunk-rows",
                "5",
            ],
            "RuntimeError: smooth_l1_loss does not support negative",
        ),
        "bad-reduction": (
            [
                "eval",
                "mse_loss",
                "--input",
                x,
                "--target",
                t,
                "--option",
                "reduction=avg",
                "--chunk-rows",
                "5",
            ],
            "ValueError: avg is not a valid value for reduction",
        ),
        "reduction-none": (
            ["eval", "mse_loss", "--input", x, "--target", t, "--option", "reduction=none"],
            "reduction 'none'",
        ),
        "missing-target": (["eval", "mse_loss", "--input", x], "mse_loss needs --target"),
        "unknown-array": (
            ["eval", "mse_loss", "--input", x, "--target", t, "--array", f"var={x}"],
            "mse_loss has no array 'var'",
        ),
        "npy-column": (
            ["eval", "mse_loss", "--input", x + ":a", "--target", t],
            "a .npy file has no columns",
        ),
        "npz-member": (
            ["eval", "mse_loss", "--input", str(tmp_path / "m.npz") + ":zz", "--target", t],
            "no array 'zz'",
        ),
        "chunk-rows": (
            ["eval", "mse_loss", "--input", x, "--target", t, "--chunk-rows", "0"],
            "--chunk-rows must be at least 1",
        ),
        "scheduler-unreachable": (
            ["eval", "mse_loss", "--input", x, "--target", t, "--scheduler", "tcp://127.0.0.1:9"],
            "cannot connect to the scheduler",
        ),
        "scheduler-without-dask": (
            ["eval", "mse_loss", "--input", x, "--target", t, "--backend", "torch", "--scheduler", "threads"],
            "--scheduler needs --backend dask",
        ),
        "info-unknown": (["info", "nope"], "unknown loss 'nope'"),
    }


ERRORS = [
    "missing-file",
    "directory",
    "unreadable",
    "unknown-format",
    "bad-csv",
    "mismatched-shapes",
    "mismatched-whole",
    "unknown-loss",
    "unknown-option",
    "option-syntax",
    "bad-value",
    "bad-value-from-the-loss",
    "bad-reduction",
    "reduction-none",
    "missing-target",
    "unknown-array",
    "npy-column",
    "npz-member",
    "chunk-rows",
    "scheduler-unreachable",
    "scheduler-without-dask",
    "info-unknown",
]


@pytest.mark.parametrize("case", ERRORS)
def test_errors_are_one_line_and_a_nonzero_exit(case, mse_files, tmp_path, capsys) -> None:
    _, paths = mse_files
    np.savez(tmp_path / "m.npz", a=np.zeros(3))
    argv, message = _errors(paths, tmp_path)[case]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code, out, err = run(argv, capsys)
    assert code != 0
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"anyloss {argv[0]}: error: "), err
    assert message in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_errors_in_a_real_process_have_no_traceback(mse_files) -> None:
    _, paths = mse_files
    proc = subprocess.run(
        [*ANYLOSS, "eval", "mse_loss", "--input", paths["input"] + "zz", "--target", paths["target"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = subprocess.run([*ANYLOSS, "eval", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--chunk-rows" in proc.stdout


@pytest.mark.parametrize("command", ["eval", "list", "info", "demo"])
def test_every_command_has_help(command, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        _cli.main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: anyloss " + command in capsys.readouterr().out


def test_no_progress_bar_when_piped(mse_files) -> None:
    _, paths = mse_files
    proc = subprocess.run(
        [
            *ANYLOSS,
            "eval",
            "mse_loss",
            "--input",
            paths["input"],
            "--target",
            paths["target"],
            "--chunk-rows",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert proc.stderr == ""
    assert proc.stdout.count("\n") == 1


def _run_in_terminal(argv: list[str]) -> str:
    """Run with stdout and stderr on a pseudo-terminal; everything the terminal shows."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        argv, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "100"}
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize(("backend", "unit"), [("numpy", "rows"), ("torch", "rows"), ("dask", "tasks")])
def test_progress_bar_on_a_terminal_is_tqdms_and_cleared(backend, unit, tmp_path) -> None:
    x = np.zeros((4000, 3), np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", x + 1)
    argv = [
        *ANYLOSS,
        "eval",
        "mse_loss",
        "--input",
        str(tmp_path / "x.npy"),
        "--target",
        str(tmp_path / "t.npy"),
        "--chunk-rows",
        "100",
        "--backend",
        backend,
    ]
    shown = _run_in_terminal(argv)
    assert unit in shown and "%|" in shown, shown  # tqdm's bar
    # Cleared when done: the last thing on the terminal is the value.
    assert [line for line in shown.replace("\r", "\n").split("\n") if line.strip()][-1] == "1.0"
    quiet = _run_in_terminal([*argv, "--no-progress"])
    assert quiet.strip() == "1.0"


def test_a_missing_tqdm_is_named_once_instead_of_the_bar(monkeypatch, capsys) -> None:
    from anyloss._eval import _progress

    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if not installed
    with _progress.Progress(True, "rows", 10) as bar:
        bar.update(5)
        assert bar.bar is None
    assert capsys.readouterr().err == _progress.MISSING_TQDM + "\n"
    with _progress.Progress(False, "rows", 10):
        pass
    assert capsys.readouterr().err == ""


def test_memory_is_bounded_by_the_chunk(tmp_path) -> None:
    # 64 MB of float32 in chunks of 1 MB: the process's peak resident memory grows by far
    # less than the file (memory-mapped reads are unmapped chunk by chunk).
    n, width = 4096, 4096
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(n, width))
    x[:] = 0.5
    x.flush()
    del x
    np.save(tmp_path / "t.npy", np.zeros((1, width), np.float32))
    script = (
        "import resource, sys\n"
        "from anyloss import _cli\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "code = _cli.main(sys.argv[1:])\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print((peak - before) * 1024, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "eval",
            "mse_loss",
            "--input",
            str(tmp_path / "x.npy"),
            "--target",
            str(tmp_path / "t.npy"),
            "--chunk-rows",
            "64",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout) == 0.25
    grown = int(proc.stderr.strip().splitlines()[-1])
    assert grown < 24 * 2**20, f"peak memory grew by {grown / 2**20:.1f} MiB for a 64 MiB file"


def test_progress_bar_on_a_terminal_with_a_distributed_scheduler(tmp_path) -> None:
    # The cluster workflow as a person types it: a terminal, so the bar is drawn, and a
    # scheduler reached over tcp by a separate process.
    distributed = pytest.importorskip("distributed")
    x = np.random.default_rng(5).normal(size=(400, 3))
    t = np.random.default_rng(6).normal(size=(400, 3))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    expected, _ = torch_value("mse_loss", {"input": x, "target": t}, {})
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        dashboard_address=":0",
        silence_logs=50,
    ) as cluster:
        shown = _run_in_terminal(
            [
                *ANYLOSS,
                "eval",
                "mse_loss",
                "--input",
                str(tmp_path / "x.npy"),
                "--target",
                str(tmp_path / "t.npy"),
                "--scheduler",
                cluster.scheduler_address,
                "--chunk-rows",
                "10",
            ]
        )
    assert cluster.scheduler_address.startswith("tcp://")
    assert "Traceback" not in shown and "error" not in shown, shown
    assert "tasks" in shown and "%|" in shown  # tqdm's bar, counting the graph's tasks
    # The bar is cleared: the last thing on the terminal is the value.
    last = [line for line in shown.replace("\r", "\n").split("\n") if line.strip()][-1]
    assert float(last) == pytest.approx(expected, rel=1e-12), repr(shown[-300:])


# --- the files users have: tables with several kinds of columns, odd encodings -----------


def _table(tmp_path: Path, fmt: str, x: np.ndarray, t: np.ndarray) -> str:
    """A predictions table: id, c0..c3 (logits), label; the path of its file."""
    if fmt == "csv":
        path = tmp_path / "preds.csv"
        lines = ["id," + ",".join(f"c{i}" for i in range(x.shape[1])) + ",label"]
        lines += [f"{i}," + ",".join(repr(float(v)) for v in row) + f",{t[i]}" for i, row in enumerate(x)]
        path.write_text("\n".join(lines) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = tmp_path / "preds.parquet"
        columns = {"id": pa.array(np.arange(len(t)))}
        columns |= {f"c{i}": pa.array(x[:, i]) for i in range(x.shape[1])}
        pq.write_table(pa.table({**columns, "label": pa.array(t)}), path, row_group_size=7)
    return str(path)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("columns", ["c0..c3", "1..4", "^id,label", "c0,c1,3..4", "c0.."])
def test_columns_of_a_table_by_range_list_or_all_but(fmt, columns, tmp_path, capsys) -> None:
    x = np.random.default_rng(7).normal(size=(N, 4))
    t = np.random.default_rng(8).integers(0, 4, N)
    path = _table(tmp_path, fmt, x, t)
    if columns == "c0..":  # to the last column, label included: refused below
        code, out, err = run(
            ["eval", "cross_entropy", "--input", f"{path}:{columns}", "--target", f"{path}:label"], capsys
        )
        assert code == 1 and "read the same column" in err and "(label)" in err
        return
    code, out, err = run(
        [
            "eval",
            "cross_entropy",
            "--input",
            f"{path}:{columns}",
            "--target",
            f"{path}:label",
            "--json",
            "--chunk-rows",
            "5",
        ],
        capsys,
    )
    assert code == 0, err
    expected, _ = torch_value("cross_entropy", {"input": x, "target": t}, {})
    assert json.loads(out)["value"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_whole_table_and_its_label_column_are_refused_not_mixed(fmt, tmp_path, capsys) -> None:
    x = np.random.default_rng(7).normal(size=(N, 4))
    t = np.random.default_rng(8).integers(0, 4, N)
    path = _table(tmp_path, fmt, x, t)
    code, out, err = run(["eval", "cross_entropy", "--input", path, "--target", f"{path}:label"], capsys)
    assert code == 1 and out == ""
    assert "--input and --target read the same column" in err and f"--input {path}:^label" in err


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("zz", "no column 'zz'"),
        ("c0,c0", "named twice"),
        ("c3..c0", "is empty"),
        ("^0..5", "leaves no column"),
    ],
)
def test_bad_column_selections_are_errors(spec, message, tmp_path, capsys) -> None:
    path = _table(tmp_path, "csv", np.zeros((3, 4)), np.zeros(3, np.int64))
    code, out, err = run(["eval", "mse_loss", "--input", f"{path}:{spec}", "--target", f"{path}:c1"], capsys)
    assert code == 1 and message in err and err.count("\n") == 1


def test_csv_with_a_byte_order_mark_keeps_its_header_and_first_row(tmp_path, capsys) -> None:
    x = np.random.default_rng(9).normal(size=(N, 3))
    t = np.random.default_rng(10).integers(0, 3, N)
    text = "a,b,c,label\n" + "".join(
        f"{float(r[0])!r},{float(r[1])!r},{float(r[2])!r},{v}\n" for r, v in zip(x, t, strict=True)
    )
    (tmp_path / "excel.csv").write_bytes(text.encode("utf-8-sig"))
    path = str(tmp_path / "excel.csv")
    code, out, err = run(
        ["eval", "cross_entropy", "--input", f"{path}:a..c", "--target", f"{path}:label", "--json"], capsys
    )
    assert code == 0, err
    record = json.loads(out)
    expected, terms = torch_value("cross_entropy", {"input": x, "target": t}, {})
    assert record["elements"] == terms == N
    assert record["value"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x\n2_5.0\n", "'2_5.0' is not a number"),
        ("x\n0x10\n", "'0x10' is not a number"),
        ("x\n١\n", "is not a number"),  # a non-ASCII digit, which int() would read
        ("", "no rows of numbers"),
        ("a,b\n", "no rows of numbers"),
    ],
)
def test_csv_numbers_are_read_strictly_and_an_empty_file_is_an_error(text, message, tmp_path, capsys) -> None:
    (tmp_path / "f.csv").write_text(text, encoding="utf-8")
    path = str(tmp_path / "f.csv")
    code, out, err = run(["eval", "mse_loss", "--input", path, "--target", path], capsys)
    assert code == 1 and out == "" and message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1.0, 2.0], [3.0], [4.0, 5.0]], "lists of different lengths (1, 2)"),
        ([[1.0, None], [3.0, 4.0]], "nulls inside its lists"),
        ([[1.0, 2.0], None], "null lists"),
    ],
)
def test_parquet_lists_that_are_ragged_or_hold_nulls_are_errors(rows, message, tmp_path, capsys) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": pa.array(rows, pa.list_(pa.float64()))}), tmp_path / "r.parquet")
    np.save(tmp_path / "t.npy", np.zeros((len(rows), 2)))
    argv = ["eval", "mse_loss", "--input", f"{tmp_path}/r.parquet:x", "--target", f"{tmp_path}/t.npy"]
    code, out, err = run(argv, capsys)
    assert code == 1 and out == "" and message in err, err


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax", "dask"])
def test_big_endian_npy_on_every_backend(backend, tmp_path, capsys) -> None:
    x = np.random.default_rng(11).normal(size=(N, 3))
    t = np.random.default_rng(12).normal(size=(N, 3))
    np.save(tmp_path / "x.npy", x.astype(">f8"))
    np.savez_compressed(tmp_path / "t.npz", t=t.astype(">f8"))
    code, out, err = run(
        [
            "eval",
            "mse_loss",
            "--input",
            f"{tmp_path}/x.npy",
            "--target",
            f"{tmp_path}/t.npz",
            "--backend",
            backend,
            "--chunk-rows",
            "5",
        ],
        capsys,
    )
    assert code == 0, err
    expected, _ = torch_value("mse_loss", {"input": x, "target": t}, {})
    assert float(out) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_integer_sums_beyond_2_to_the_53_are_exact(backend, tmp_path, capsys) -> None:
    import torch

    x = np.array([2**53 + 1, 3, 2**53 + 1, 5, 7], np.int64)
    t = np.zeros_like(x)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "t.npy", t)
    expected = int(torch.nn.functional.l1_loss(torch.from_numpy(x), torch.from_numpy(t), reduction="sum"))
    for rows in ("2", "5"):
        argv = ["eval", "l1_loss", "--input", f"{tmp_path}/x.npy", "--target", f"{tmp_path}/t.npy"]
        code, out, err = run(
            [*argv, "--option", "reduction=sum", "--backend", backend, "--chunk-rows", rows, "--json"], capsys
        )
        assert code == 0, err
        assert json.loads(out)["value"] == expected


@pytest.mark.parametrize(
    ("loss", "x", "shown"),
    [("l1_loss", [1.0, np.inf], "inf"), ("kl_div", [0.0, np.inf], "-inf"), ("l1_loss", [1.0, np.nan], "nan")],
)
def test_json_writes_non_finite_values_as_strings(loss, x, shown, tmp_path, capsys) -> None:
    import torch

    np.save(tmp_path / "x.npy", np.array(x))
    np.save(tmp_path / "t.npy", np.ones(2))
    fn = getattr(torch.nn.functional, loss)
    expected = float(
        fn(torch.tensor(x, dtype=torch.float64), torch.ones(2, dtype=torch.float64), reduction="sum")
    )
    argv = ["eval", loss, "--input", f"{tmp_path}/x.npy", "--target", f"{tmp_path}/t.npy"]
    code, out, err = run([*argv, "--option", "reduction=sum", "--json"], capsys)
    assert code == 0, err

    def refuse(token: str) -> None:
        raise AssertionError(f"a bare {token} in strict JSON")

    assert json.loads(out, parse_constant=refuse)["value"] == shown == str(expected)


def test_argparse_errors_are_one_line_and_exit_1() -> None:
    for argv in (["eval"], ["eval", "mse_loss", "--input", "x.npy", "--chunk-rows", "x"], ["nope"]):
        proc = subprocess.run([*ANYLOSS, *argv], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("anyloss"), proc.stderr
        assert ": error: " in proc.stderr and "usage" not in proc.stderr


def test_list_json_names_every_loss_with_its_class_arrays_and_options(capsys) -> None:
    code, out, err = run(["list", "--json"], capsys)
    assert code == 0 and err == ""
    record = json.loads(out)
    assert [entry["name"] for entry in record["losses"]] == _eval.available_losses()
    first = record["losses"][0]
    spec = _eval.SPECS[first["name"]]
    assert first["class"] == spec.cls and first["arrays"] == list(spec.arrays)
    assert first["options"] == spec.options
    assert "numpy" in record["backends"]


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("CrossEntropyLoss", "cross_entropy: "),
        ("cross_entropy", "cross_entropy: "),
        ("MSELoss", "mse_loss: "),
    ],
)
def test_info_takes_a_function_or_class_name(name, shown, capsys) -> None:
    code, out, err = run(["info", name], capsys)
    assert code == 0 and out.startswith(shown)


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("cross_entropi", "cross_entropy"), ("crossentropyloss", "CrossEntropyLoss"), ("MSELos", "MSELoss")],
)
def test_info_suggests_the_closest_name(name, suggestion, capsys) -> None:
    code, out, err = run(["info", name], capsys)
    assert code == 1 and f"did you mean {suggestion}?" in err


def test_demo_help_says_what_the_demo_shows(capsys) -> None:
    with pytest.raises(SystemExit):
        _cli.main(["demo", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "worked examples" in shown and "torch" in shown and "MindSpore" in shown
