"""The torch↔MindSpore loss table, measured: MindSpore's own losses and anyloss on MindSpore
tensors against torch 2.13 over the case tables.

Each case of ``tests/cases`` (the 21 classic losses) is put to three callers:

- ``ops``: MindSpore's functional loss that MindSpore's migration guide maps torch's function
  to (``mindspore.csv`` beside this script), called as a user porting the torch call would
  call it: the same arrays in the same order, the same options under their own names;
- ``nn``: MindSpore's loss class of the guide's mapping, the options given to the constructor
  (or to the call where the class takes them there);
- ``anyloss``: ``anyloss.<loss>`` on the same MindSpore tensors;

and compared with what torch does with the case (the test suite's oracle): the same value
within the test suite's tolerance, the same dtype, or both refusing the call.  A case that uses
an option the MindSpore form has no counterpart for (torch's legacy ``size_average`` and
``reduce``, ``kl_div``'s ``log_target``, the ``weight`` of torch 2.13's regression losses …)
cannot be put to that form and is counted apart.

Run in MindSpore's environment (``make mindspore-table``, which writes
``docs/scripts/mindspore_measured.json``); the docs build renders the page from that file.  The
cases run in a child process, restarted after a case that ends it (MindSpore's CPU kernels abort
the process on some inputs): such a case is counted as a crash.
"""

from __future__ import annotations

import csv
import datetime
import functools
import importlib.metadata
import inspect
import json
import platform
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))

FORMS = ("ops", "nn", "anyloss")
#: how a difference is named on the page
KINDS = {
    "value": "a different value",
    "dtype": "the value in another dtype",
    "refuses": "an error where torch computes",
    "accepts": "a value where torch raises",
    "crash": "the process ends",
}


@functools.cache
def mapping() -> dict[str, dict[str, str]]:
    """torch's functional name → the guide's MindSpore names (``mindspore.csv``)."""
    with (HERE / "mindspore.csv").open() as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {row["torch"]: row for row in rows}


# -- the child: runs the cases ------------------------------------------------------------
def _torch_parameters(fn: str) -> tuple[list[str], list[str]]:
    """torch's parameters of ``fn``: those without a default (the arrays), and the rest."""
    import torch.nn.functional as F

    params = inspect.signature(getattr(F, fn)).parameters.values()
    data = [p.name for p in params if p.default is inspect.Parameter.empty]
    return data, [p.name for p in params if p.default is not inspect.Parameter.empty]


def _split(case) -> tuple[list, dict]:
    """The case as torch binds it: its arrays in order, and its options by name."""
    data, options = _torch_parameters(case.fn)
    args = list(case.args)
    named = dict(zip(data + options, args, strict=False))
    named.update(case.kwargs)
    return [named[n] for n in data if n in named], {k: v for k, v in named.items() if k not in data}


def _parameters(fn) -> set[str]:
    return set(inspect.signature(fn).parameters)


class NoCounterpart(Exception):
    """The MindSpore form has no parameter for one of the case's options."""


def _ops_call(case, names, bed):
    import mindspore.ops as ops

    fn = getattr(ops, names["ops"])
    arrays, options = _split(case)
    accepted = _parameters(fn)
    missing = sorted(set(options) - accepted)
    if missing:
        raise NoCounterpart(", ".join(missing))
    return lambda: fn(*[bed.convert(a) for a in arrays], **{k: bed.convert(v) for k, v in options.items()})


def _nn_call(case, names, bed):
    import mindspore.nn as nn

    cls = getattr(nn, names["nn"])
    arrays, options = _split(case)
    init, call = _parameters(cls.__init__), _parameters(cls.construct)
    missing = sorted(k for k in options if k not in init and k not in call)
    if missing:
        raise NoCounterpart(", ".join(missing))

    def run():
        ctor = {k: bed.convert(v) for k, v in options.items() if k in init}
        kwargs = {k: bed.convert(v) for k, v in options.items() if k not in init}
        return cls(**ctor)(*[bed.convert(a) for a in arrays], **kwargs)

    return run


def _anyloss_call(case, names, bed):
    import anyloss

    fn = getattr(anyloss, case.fn)
    return lambda: fn(
        *[bed.convert(a) for a in case.args], **{k: bed.convert(v) for k, v in case.kwargs.items()}
    )


_CALLERS = {"ops": _ops_call, "nn": _nn_call, "anyloss": _anyloss_call}


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value) -> str:
    """A value for the page: the number, or the first elements of an array."""
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        return repr(float(a))
    flat = ", ".join(repr(float(x)) for x in a.ravel()[:3])
    return f"shape {tuple(a.shape)}: [{flat}{', …' if a.size > 3 else ''}]"


def compare(case, expected, got) -> tuple[str, str]:
    """(kind, what happened) of one form on one case against torch; kind 'match' when alike."""
    from support.oracle import tolerance

    if expected.error is not None:
        if got.error is not None:
            return "match", ""
        return "accepts", f"torch raises {expected.error[0]}; MindSpore gives {_show(got.value)}"
    if got.error is not None:
        return "refuses", f"torch gives {_show(expected.value)}; {got.error[0]}: {_short(got.error[1])}"
    rtol, atol = tolerance(case, expected.dtype)
    want = np.asarray(expected.value, dtype=np.float64)
    have = np.asarray(got.value, dtype=np.float64)
    if have.shape != want.shape or not np.allclose(have, want, rtol=rtol, atol=atol, equal_nan=True):
        return "value", f"torch gives {_show(want)}; MindSpore gives {_show(have)}"
    if got.dtype != expected.dtype:
        return "dtype", f"torch gives {expected.dtype}; MindSpore gives {got.dtype}"
    return "match", ""


def _computed(result, bed):
    """``result`` once computed: MindSpore reports some errors only when the value is read.
    A tuple (``ops.ctc_loss`` returns the loss and its ``log_alpha``) stands for its first
    element, the loss."""
    if isinstance(result, tuple):
        result = result[0]
    bed.to_numpy(result)
    return result


def comparisons(losses: set[str] | None = None, skip: set[str] = frozenset(), forms=FORMS, outcomes=True):
    """Each (case, form) to compare, in table order: (key, case, form, torch's outcome, or
    None without ``outcomes``)."""
    from cases import CASES
    from support.oracle import torch_outcome

    names = mapping()
    for case in CASES:
        if case.fn not in names or (losses is not None and case.fn not in losses):
            continue
        expected = torch_outcome(case) if outcomes else None
        for form in forms:
            key = f"{case.id}|{form}"
            if key not in skip and (form == "anyloss" or names[case.fn][form] != "-"):
                yield key, case, form, expected


def compare_case(key, case, form, expected, bed, started=lambda line: None) -> dict:
    """One (case, form) compared with torch, as a line of the record; ``started`` is told just
    before MindSpore is called."""
    from support.oracle import record

    line = {"key": key, "loss": case.fn, "form": form, "case": case.name}
    if not all(bed.supports(v) for v in case.values()):
        return line | {"kind": "unsupported"}
    try:
        call = _CALLERS[form](case, mapping()[case.fn], bed)
    except NoCounterpart as exc:
        return line | {"kind": "inexpressible", "detail": str(exc)}
    started(line)
    with np.errstate(all="ignore"):
        got = record(lambda: _computed(call(), bed), bed.to_numpy)
    kind, detail = compare(case, expected, got)
    return line | {"kind": kind, "detail": detail}


def child(out: Path, skip: set[str], forms: tuple[str, ...]) -> None:
    """Append one line per (case, form) of ``forms`` to ``out``; a 'start' line before each
    call, so that the parent can tell which call ended the process."""
    from support.mindspore_bed import MindSporeBed

    warnings.simplefilter("ignore")
    bed = MindSporeBed()
    with out.open("a") as stream:

        def started(line: dict) -> None:
            stream.write(json.dumps({"start": line["key"], **line}) + "\n")
            stream.flush()

        for key, case, form, expected in comparisons(skip=skip, forms=forms):
            stream.write(json.dumps(compare_case(key, case, form, expected, bed, started)) + "\n")
            stream.flush()


# -- the parent: restarts the child after a crash, then sums up ------------------------------
def run_cases(scratch: Path, forms: tuple[str, ...]) -> list[dict]:
    """Every (case, form) line of ``forms``, the child restarted past any call that ended it."""
    scratch.unlink(missing_ok=True)
    lines: list[dict] = []
    skip: set[str] = set()
    while True:
        skipped = scratch.with_suffix(".skip")
        skipped.write_text("\n".join(sorted(skip)))
        command = [sys.executable, __file__, "--child", str(scratch), str(skipped), ",".join(forms)]
        proc = subprocess.run(command, check=False)
        raw = [json.loads(x) for x in scratch.read_text().splitlines() if x.strip()]
        lines = [x for x in raw if "start" not in x]
        done = {x["key"] for x in lines}
        if proc.returncode == 0:
            keys = [x["key"] for x in lines]
            if len(keys) != len(set(keys)):
                raise RuntimeError("a comparison was made twice: the restarts skipped too little")
            return lines
        started = [x for x in raw if "start" in x and x["start"] not in done]
        if not started:
            raise RuntimeError(f"the child failed (exit {proc.returncode}) outside a case")
        crashed = started[-1]
        with scratch.open("a") as stream:
            crashed.pop("start")
            line = {**crashed, "kind": "crash"}
            line["detail"] = f"exit status {proc.returncode}"
            stream.write(json.dumps(line) + "\n")
        skip = done | {line["key"]}


def summarize(lines: list[dict]) -> dict:
    """{loss: {form: {'cases', 'match', 'inexpressible', 'unsupported', kind: [count, case,
    detail] for each kind of difference}}}."""
    table: dict = {}
    for line in lines:
        entry = table.setdefault(line["loss"], {}).setdefault(
            line["form"], {"cases": 0, "match": 0, "inexpressible": 0, "unsupported": 0}
        )
        entry["cases"] += 1
        kind = line["kind"]
        if kind in ("match", "inexpressible", "unsupported"):
            entry[kind] += 1
            if kind == "inexpressible":
                entry["options"] = sorted(set(line["detail"].split(", ")) | set(entry.get("options", [])))
            continue
        slot = entry.setdefault(kind, [0, line["case"], line.get("detail", "")])
        slot[0] += 1
    return table


def versions() -> dict[str, str]:
    return {name: importlib.metadata.version(name) for name in ("mindspore", "torch", "numpy")} | {
        "python": platform.python_version(),
        "date": datetime.date.today().isoformat(),
    }


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--child":
        child(Path(argv[2]), set(Path(argv[3]).read_text().splitlines()), tuple(argv[4].split(",")))
        return 0
    out = Path(argv[1]) if len(argv) > 1 else HERE / "mindspore_measured.json"
    scratch = out.with_suffix(".lines")
    # anyloss in a process of its own: a MindSpore kernel that failed on some inputs can fail
    # later calls of the same primitive in the same process
    lines = run_cases(scratch, ("anyloss",)) + run_cases(scratch, ("ops", "nn"))
    scratch.unlink()
    scratch.with_suffix(".skip").unlink()
    data = {"versions": versions(), "losses": summarize(lines)}
    out.write_text(json.dumps(data, indent=1, sort_keys=True, default=lambda x: None) + "\n")
    bad = [
        (loss, forms["anyloss"])
        for loss, forms in data["losses"].items()
        if forms["anyloss"]["match"] + forms["anyloss"]["unsupported"] != forms["anyloss"]["cases"]
    ]
    for loss, entry in bad:
        print(f"anyloss on MindSpore differs from torch on {loss}: {entry}", file=sys.stderr)
    print(f"wrote {out} ({len(lines)} comparisons)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
