"""Every recorded loss has everything a loss must have, and each failure names what is missing.

A loss is added in five places (CONTRIBUTING.md); every other layer reads its record.  These
tests catch the places that are easy to forget: a class, the torch module, a case table with a
'mean' and a gradient, a benchmark case with its peers, the parity notes, an example.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss
import anyloss.torch
from anyloss import _eval
from anyloss._registry import RECORDS, LossRecord
from cases import CASES

ROOT = Path(__file__).resolve().parents[1]
RECORD_LIST = list(RECORDS.values())
IDS = [r.name for r in RECORD_LIST]


def test_every_loss_of_the_package_has_a_record() -> None:
    assert set(anyloss.functional.__all__) == set(RECORDS), "functional.__all__ and the records differ"
    classes = {r.cls for r in RECORD_LIST}
    assert set(anyloss.losses.__all__) - {"Loss"} == classes, "losses.__all__ and the records differ"
    assert set(anyloss.torch.__all__) == classes


@pytest.mark.parametrize("record", RECORD_LIST, ids=IDS)
def test_record_is_exported_with_its_class_and_torch_module(record: LossRecord) -> None:
    assert getattr(anyloss, record.name) is record.function, f"anyloss.{record.name} is not exported"
    cls = getattr(anyloss.losses, record.cls, None)
    assert cls is not None, f"{record.name}: no class anyloss.{record.cls} in anyloss/losses"
    assert getattr(anyloss, record.cls) is cls, f"anyloss.{record.cls} is not exported"
    module = getattr(anyloss.torch, record.cls)
    assert issubclass(module, torch.nn.Module), f"anyloss.torch.{record.cls} is not an nn.Module"


@pytest.mark.parametrize("record", RECORD_LIST, ids=IDS)
def test_record_names_torch_counterparts(record: LossRecord) -> None:
    assert callable(getattr(F, record.name, None)), f"{record.torch_function} does not exist"
    assert hasattr(torch.nn, record.cls), f"{record.torch_class} does not exist"
    assert record.arrays and record.required, f"{record.name}: the record finds no array parameter"
    assert "reduction" in record.options, f"{record.name}: no reduction option"
    assert record.mean, f"{record.name}: the record does not say what 'mean' divides by"


@pytest.mark.parametrize("record", RECORD_LIST, ids=IDS)
def test_record_has_a_case_table_with_means_and_gradients(record: LossRecord) -> None:
    mine = [c for c in CASES if c.fn == record.name]
    assert mine, f"{record.name}: no cases in tests/cases/{record.family}.py"
    assert any(c.raises for c in mine), f"{record.name}: the case table has no error case"
    assert any(c.kwargs.get("reduction", "mean") == "mean" and not c.raises for c in mine), (
        f"{record.name}: the case table has no 'mean' case"
    )
    assert any(c.grad and not c.raises for c in mine), f"{record.name}: the case table has no gradient case"


@pytest.mark.parametrize("record", RECORD_LIST, ids=IDS)
def test_record_is_known_to_the_evaluator(record: LossRecord) -> None:
    params = _eval.loss_parameters(record.name)
    assert params.arrays == record.arrays
    assert f"'mean' divides the global sum by {record.mean}" in _eval.describe_loss(record.name)


@pytest.mark.parametrize("record", RECORD_LIST, ids=IDS)
def test_record_has_a_benchmark_case_and_peers(record: LossRecord) -> None:
    from benchmarks import cases, peers

    case = cases.build(record.name, "small")
    assert case.args, f"{record.name}: benchmarks/cases.py builds no arguments"
    for peer in (peers.numpy_peer, peers.jax_peer):
        try:
            description, _ = peer(record.name)
        except KeyError:
            pytest.fail(f"{record.name}: no {peer.__name__} in benchmarks/peers.py")
        assert description


@pytest.mark.parametrize("record", RECORD_LIST, ids=IDS)
def test_record_has_parity_notes_and_an_example(record: LossRecord) -> None:
    pages = [ROOT / "docs" / "parity.md", ROOT / "docs" / "parity" / f"{record.family}.md"]
    assert any(p.exists() and f"`{record.name}`" in p.read_text() for p in pages), (
        f"{record.name}: no parity-notes entry in docs/parity.md or docs/parity/{record.family}.md"
    )
    doc = inspect.getdoc(record.function) or ""
    assert "Examples\n--------\n>>>" in doc, f"{record.name}: its docstring has no Example"


def test_records_find_losses_by_function_name_or_class() -> None:
    from anyloss._registry import find

    record = RECORDS["cross_entropy"]
    assert find(anyloss.cross_entropy) is find("cross_entropy") is find("CrossEntropyLoss") is record
    with pytest.raises(ValueError, match="not one of anyloss's losses"):
        find(np.sum)
