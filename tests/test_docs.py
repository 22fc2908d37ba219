"""Every public name has an entry in the documentation site."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import anyloss
import anyloss.torch

DOCS = Path(__file__).resolve().parents[1] / "docs"
# An autodoc directive naming an object of anyloss: ``.. autofunction:: anyloss.mean_parts``.
DIRECTIVE = re.compile(r"^\.\. auto(?:function|class|module|data|exception):: (anyloss(?:\.\w+)*)", re.M)


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "scripts" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hand_written_entries() -> set[str]:
    return {name for page in DOCS.glob("*.md") for name in DIRECTIVE.findall(page.read_text())}


def test_every_public_name_has_a_docs_entry() -> None:
    generated = {f"anyloss.{name}" for name in _generator().documented()}
    entries = generated | _hand_written_entries()
    missing = sorted(f"anyloss.{name}" for name in anyloss.__all__ if f"anyloss.{name}" not in entries)
    assert not missing, f"public names with no entry in docs/: {missing}"


def test_the_torch_drop_ins_page_documents_every_module() -> None:
    page = _generator()._torch_page()
    documented = set(DIRECTIVE.findall(page))
    assert {f"anyloss.torch.{name}" for name in anyloss.torch.__all__} <= documented
    assert "anyloss.torch" in documented


def test_the_directive_pattern_finds_entries() -> None:
    # The hand-written reference page is found, so a name dropped from it is caught.
    assert {"anyloss.mean_parts", "anyloss.native_paths", "anyloss.MeanParts"} <= _hand_written_entries()


def test_math_text_has_no_escaped_underscores() -> None:
    # MathJax's \text{} is plain text: an escaped underscore shows its backslash.
    import anyloss.functional

    escaped = re.compile(r"\\text\{[^}]*\\_")
    found = [
        name
        for name in anyloss.functional.__all__
        if escaped.search(getattr(anyloss.functional, name).__doc__ or "")
    ]
    assert not found, f"docstrings with \\_ inside \\text{{}}: {found}"


def test_every_page_is_listed_once() -> None:
    generator = _generator()
    listed = generator._listed_pages()
    assert {"eval", "mean-parts", "jax"} <= listed
    extra = generator._extra_toc([])
    assert not any(re.search(rf"^{re.escape(page)}$", extra, re.M) for page in listed)


def test_the_loss_table_keeps_pipes_inside_cells() -> None:
    rows = _generator()._loss_table(["l1_loss"])
    assert "|input − target|" in anyloss.l1_loss.__doc__.splitlines()[0]
    # Three cells: the unescaped pipes are the four borders only.
    assert len(re.findall(r"(?<!\\)\|", rows[-1])) == 4
