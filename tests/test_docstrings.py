"""The published help: every public docstring filled, parsed by numpydoc, true to its signature."""

from __future__ import annotations

import inspect
import re
import warnings
from collections import Counter

import pytest
from numpydoc.docscrape import ClassDoc, FunctionDoc

import anyloss
from anyloss import _docs

PUBLIC = sorted(name for name in anyloss.__all__ if not inspect.ismodule(getattr(anyloss, name)))
FUNCTIONS = [name for name in PUBLIC if not inspect.isclass(getattr(anyloss, name))]
CLASSES = [name for name in PUBLIC if inspect.isclass(getattr(anyloss, name))]

# Public objects whose docstrings document no parameters yet; strict, so that adding the
# section turns these into failures to remove here.
UNDOCUMENTED = {
    "Loss": "the base class documents neither its parameters nor a function that does",
}


def _param(name: str) -> object:
    if name in UNDOCUMENTED:
        return pytest.param(name, marks=pytest.mark.xfail(reason=UNDOCUMENTED[name], strict=True))
    return name


def _parse(obj: object) -> FunctionDoc:
    # numpydoc reports what it cannot parse (unknown sections, bad headers) as warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)


def _documented(doc: FunctionDoc) -> list[str]:
    """The parameter names of the Parameters section (``size_average, reduce`` is two)."""
    return [name.lstrip("*") for p in doc["Parameters"] for name in p.name.split(", ")]


def _unfilled(text: str) -> list[str]:
    """Marker-shaped ``{name}`` left in prose (inline literals may quote braces)."""
    prose = re.sub(r"``.*?``", "``…``", text, flags=re.DOTALL)
    return [m[0] for m in _docs.TOKEN.finditer(prose) if m["name"] is not None]


def _prose(text: str) -> str:
    """``text`` without its math (``.. math::`` blocks and ``:math:`` roles)."""
    text = re.sub(r":math:`[^`]*`", ":math:`…`", text)
    return re.sub(r"^( *)\.\. math::.*\n(?:\1 +.*\n|[ \t]*\n)*", "", text, flags=re.MULTILINE)


def _broken_pieces(doc: str) -> list[str]:
    """Shared pieces whose lines did not all land, in order and indented alike, in ``doc``."""
    lines = doc.splitlines()
    broken = []
    for key, piece in _docs.PIECES.items():
        first, *rest = piece.splitlines()
        for i, line in enumerate(lines):
            if first not in line:
                continue
            indent = line[: len(line) - len(line.lstrip())]
            following = lines[i + 1 : i + 1 + len(rest)]
            if line == indent + first and following[:2] != [indent + r for r in rest[:2]]:
                continue  # a hand-written entry under the same header
            # An inline piece's last line may go on with the paragraph's text.
            if len(following) != len(rest) or not all(
                got == indent + want or (j == len(rest) - 1 and got.startswith(indent + want))
                for j, (got, want) in enumerate(zip(following, rest, strict=True))
            ):
                broken.append(key)
    return broken


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_is_fully_rendered(name: str) -> None:
    doc = getattr(anyloss, name).__doc__
    assert doc, f"{name} has no docstring"
    assert _unfilled(doc) == []
    assert _broken_pieces(doc) == []
    prose = _prose(doc)
    assert "{{" not in prose and "}}" not in prose, "an escaped brace left as typed"


@pytest.mark.parametrize("name", [_param(name) for name in FUNCTIONS])
def test_function_parameters_section_is_its_signature(name: str) -> None:
    func = getattr(anyloss, name)
    doc = _parse(func)
    documented = _documented(doc)
    assert [n for n, count in Counter(documented).items() if count > 1] == []
    assert sorted(documented) == sorted(inspect.signature(func).parameters)
    assert doc["Returns"], "no Returns section"


@pytest.mark.parametrize("name", [_param(name) for name in CLASSES])
def test_class_parameters_are_documented(name: str) -> None:
    """A class documents its parameters, or names the function (``:func:``) that does."""
    cls = getattr(anyloss, name)
    doc = _parse(cls)
    expected = sorted(inspect.signature(cls).parameters)
    if doc["Parameters"]:
        assert sorted(_documented(doc)) == expected
        return
    targets = re.findall(r":func:`anyloss\.(\w+)`", cls.__doc__ or "")
    assert targets, f"{name} documents no parameters and names no function"
    func = getattr(anyloss, targets[0])
    documented = set(_documented(_parse(func)))
    assert set(expected) <= documented, f"not documented by {targets[0]}: {set(expected) - documented}"


# ``fill`` itself.


def _filled(doc: str) -> str:
    def f() -> None:
        pass

    f.__doc__ = doc
    return _docs.fill(f).__doc__ or ""


def test_fill_replaces_markers_indented_like_their_line() -> None:
    doc = _filled("Summary.\n\n    Parameters\n    ----------\n    {xp}\n\n    A.  {lazy}  B.\n")
    xp_lines = _docs.PIECES["xp"].splitlines()
    assert "\n    " + xp_lines[0] + "\n    " + xp_lines[1] + "\n" in doc
    lazy_lines = _docs.PIECES["lazy"].splitlines()
    assert "    A.  " + lazy_lines[0] + "\n    " + lazy_lines[1] + "\n" in doc
    assert doc.endswith(lazy_lines[-1] + "  B.\n")


def test_fill_leaves_other_braces_and_unescapes_doubled_ones() -> None:
    text = (
        "    kind : {'none', 'mean', 'sum'}\n"
        "    .. math:: \\text{margin} + x_{t_i} + \\frac{1}{C} \\begin{cases} a \\end{cases}\n"
        "    raises ``ValueError: {{reduction}} is not valid`` and {{'a', 'b'}}\n"
    )
    assert _filled(text) == text.replace("{{", "{").replace("}}", "}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("    {reductoin}\n", "unknown docstring marker {reductoin}"),
        ("    Raises ``{shape}`` errors.\n", "unknown docstring marker {shape}"),
        ("    reduction is {reduction} here\n", "{reduction} must stand alone on its line"),
    ],
)
def test_fill_rejects_unknown_and_misplaced_markers(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        _filled(text)
