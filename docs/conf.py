"""Sphinx configuration of the anyloss documentation (``make docs``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent

# The generated pages (per-loss pages, parity matrix, migration tables, capability table)
# come from the code and the tests; the generator skips itself when nothing changed.
subprocess.run([sys.executable, str(DOCS / "scripts" / "generate.py")], check=True)

import anyloss  # noqa: E402

project = "anyloss"
author = "the anyloss authors"
copyright = "the anyloss authors"
release = version = anyloss.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    # MathJax served from the built site itself, so math renders with no network.
    "sphinx-mathjax-offline",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "_generated/include",
    "scripts",
    "parity/*.md",  # included by the pages of _generated/parity/
    "benchmarks.md",  # the benchmark suite's page, included by _generated/benchmarks.md
]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

# Every example runs: `make docs` runs the doctest builder over the same pages.
doctest_global_setup = "import numpy as np"
doctest_test_doctest_blocks = "default"

html_theme = "pydata_sphinx_theme"
html_title = f"anyloss {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 8,
}
html_show_sourcelink = False
# The wide tables (parity matrix, benchmarks) get the page's whole width.
html_sidebars = {"parity-matrix": [], "_generated/benchmarks": []}
html_static_path = ["_static"]
html_css_files = ["anyloss.css"]
