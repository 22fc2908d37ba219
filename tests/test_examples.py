"""Every worked example of torch's and MindSpore's loss documentation gives its quoted number,
on every backend."""

from __future__ import annotations

import io

import pytest

import anyloss
from anyloss._cli import main
from anyloss._examples import EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.title for e in EXAMPLES])
def test_seed_example_gives_its_quoted_value(example, backend) -> None:
    inputs = [backend.convert(a) for a in example.inputs]
    if not all(backend.supports(a) for a in example.inputs):
        pytest.skip(f"{backend.name} lacks a dtype of this example")
    loss = getattr(anyloss, example.loss)(**example.settings)
    value = float(backend.to_numpy(backend.call(loss, tuple(inputs), {})))
    assert example.matches(value), f"{value} does not round to {example.quoted}"


def test_demo_prints_every_example_and_marks_all_as_matching(capsys) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for example in EXAMPLES:
        assert example.title in out
    rows = [line for line in out.splitlines() if line.endswith(("✓", "✗"))]
    assert len(rows) == len(EXAMPLES)
    assert not any("✗" in row for row in rows)
    assert "not yet available" not in out


def test_demo_marks_a_value_that_differs() -> None:
    from anyloss import _cli

    out = io.StringIO()
    wrong = [e for e in EXAMPLES if e.loss == "MSELoss"][0]
    original = _cli.EXAMPLES
    _cli.EXAMPLES = [type(wrong)(**{**wrong.__dict__, "quoted": 0.5})]
    try:
        assert _cli.demo(out) == 1
    finally:
        _cli.EXAMPLES = original
    rows = [line for line in out.getvalue().splitlines() if line.endswith(("✓", "✗"))]
    assert rows and rows[0].count("✗") >= 1
