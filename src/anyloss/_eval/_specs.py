"""What ``anyloss eval`` knows of each loss: its record (:mod:`anyloss._registry`), read as
arrays given as files and options given on the command line."""

from __future__ import annotations

import ast
import dataclasses
import difflib
from collections.abc import Callable
from typing import Any

from .._registry import RECORDS, LossRecord
from ._common import EvalError

#: Every loss anyloss eval knows: all of anyloss's, by their records.
SPECS: dict[str, LossRecord] = RECORDS


def available_losses() -> list[str]:
    """The names of every loss, sorted."""
    return sorted(SPECS)


def loss_name(name: str) -> str:
    """The function's name of a loss named by it or by its class (``CrossEntropyLoss``);
    an unknown name is an error that suggests the closest known one."""
    if name in SPECS:
        return name
    by_class = {record.cls: key for key, record in SPECS.items()}
    if name in by_class:
        return by_class[name]
    lowered = {k.lower(): k for k in [*SPECS, *by_class]}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    close = [lowered[c] for c in close]
    hint = f"did you mean {close[0]}? " if close else ""
    raise EvalError(f"unknown loss '{name}' ({hint}`anyloss list` shows them all)")


def loss_record(name: str) -> LossRecord:
    return SPECS[loss_name(name)]


def loss_function(name: str) -> Callable[..., Any]:
    return loss_record(name).function


@dataclasses.dataclass(frozen=True)
class Parameters:
    arrays: tuple[str, ...]
    required: tuple[str, ...]
    options: dict[str, Any]


def loss_parameters(name: str) -> Parameters:
    """The loss's array parameters (required ones first) and its options with defaults."""
    record = loss_record(name)
    return Parameters(record.arrays, record.required, record.options)


def _parse_value(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, (int, float, str)) else text


def parse_options(name: str, items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` strings → the loss's options, every default filled in."""
    params = loss_parameters(name)
    options = dict(params.options)
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise EvalError(f"bad option '{item}': expected NAME=VALUE")
        if key not in params.options:
            valid = ", ".join(params.options) or "none"
            raise EvalError(f"unknown option '{key}' for {name} (options: {valid})")
        value, default = _parse_value(text), params.options[key]
        if isinstance(default, bool) and not isinstance(value, bool):
            raise EvalError(f"bad value '{text}' for option {key}: expected true or false")
        if (
            isinstance(default, (int, float))
            and not isinstance(default, bool)
            and not (isinstance(value, (int, float)) and not isinstance(value, bool))
        ):
            raise EvalError(f"bad value '{text}' for option {key}: expected a number")
        if isinstance(default, str) and not isinstance(value, str):
            value = text
        options[key] = value
    if options.get("reduction") == "none":
        raise EvalError("reduction 'none' gives one value per term; anyloss eval reduces ('mean' or 'sum')")
    return options
