"""The case tables, one module per loss family; every test reads them from here."""

from __future__ import annotations

from support.oracle import Case

from . import binary, classification, ctc, embedding, likelihood, linear_cross_entropy, regression

_TABLES = [binary, classification, ctc, embedding, likelihood, linear_cross_entropy, regression]

CASES: list[Case] = [case for table in _TABLES for case in table.CASES]

_ids = [case.id for case in CASES]
assert len(_ids) == len(set(_ids)), "case ids must be unique"


def cases_with_gradients() -> list[Case]:
    return [case for case in CASES if case.grad and not case.raises]
