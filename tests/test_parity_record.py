"""The parity matrix built from the test run's records equals the matrix measured afresh."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from support import parity


@pytest.fixture
def matrix(monkeypatch):
    monkeypatch.syspath_prepend(str(parity.ROOT / "docs" / "scripts"))
    module = importlib.import_module("parity_matrix")
    yield module
    sys.modules.pop("parity_matrix", None)


def test_records_stand_for_the_comparisons_they_hold(matrix, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCS_PARITY_LOSSES", "l1_loss,nll_loss")
    wanted = sorted(matrix.comparisons())
    # a spread of value and gradient comparisons, over both losses and every backend
    wanted = wanted[:: max(1, len(wanted) // 30)]
    assert {k[2] for k in wanted} == {"value", "gradient"}
    monkeypatch.setattr(matrix, "comparisons", lambda: set(wanted))
    direct = matrix.measure(wanted)

    # the test run recorded every other comparison, in a file of the current sources ...
    monkeypatch.setenv(parity.ENV, str(tmp_path))
    monkeypatch.setattr(parity, "_FILES", {})
    for line in direct[::2]:
        parity.record(line)
    # ... and a file of other sources says every comparison failed: it must be ignored
    stale = [{**line, "error": float("inf"), "ok": False} for line in direct]
    (tmp_path / "stale.jsonl").write_text(
        "\n".join(json.dumps(x) for x in [{"fingerprint": "other sources"}, *stale]) + "\n"
    )

    lines, measured = matrix.gather(tmp_path, jobs=1)
    assert measured == len(direct) - len(direct[::2])
    assert sorted(lines, key=str) == sorted(direct, key=str)
    assert matrix.tabulate(lines) == matrix.tabulate(direct)


def test_nothing_is_recorded_unless_asked(monkeypatch, tmp_path):
    monkeypatch.delenv(parity.ENV, raising=False)
    monkeypatch.setattr(parity, "_FILES", {})
    parity.record({"case": "x", "backend": "numpy", "kind": "value", "error": 0.0, "ok": True, "rtol": 0.0})
    assert parity._FILES == {}
