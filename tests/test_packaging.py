"""The version, the command line as ``python -m anyloss``, and the packaging metadata."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import anyloss

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"

# The extras a user installs, and the ones only development needs.
USER_EXTRAS = {"torch", "jax", "dask", "strict", "distributed", "parquet", "progress", "eval", "all"}
DEVELOPMENT_EXTRAS = {"test", "docs", "bench", "lint"}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # The child finds the same anyloss as this process (a source tree on PYTHONPATH or an install).
    env = dict(os.environ)
    src = str(Path(anyloss.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "anyloss", *args], capture_output=True, text=True, env=env, timeout=120
    )


def _pyproject() -> dict:
    if not PYPROJECT.exists():
        pytest.skip("no pyproject.toml beside the tests (an installed copy)")
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def test_version_is_a_release_number():
    assert re.fullmatch(r"\d+\.\d+\.\d+", anyloss.__version__)


def test_version_command():
    result = _run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"anyloss {anyloss.__version__}\n"


def test_python_m_anyloss_is_the_command():
    result = _run("list")
    assert result.returncode == 0, result.stderr
    assert "cross_entropy" in result.stdout


def test_python_m_anyloss_without_a_command_is_a_usage_error():
    result = _run()
    # As every usage error of the command: one line, exit status 1.
    assert result.returncode == 1
    assert result.stderr.startswith("anyloss: error:") and result.stderr.count("\n") == 1


def test_version_has_one_source():
    project = _pyproject()["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    dynamic = _pyproject()["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"attr": "anyloss.__version__"}


def test_extras():
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    assert set(extras) == USER_EXTRAS | DEVELOPMENT_EXTRAS
    # [all] is every user extra: the backends and [eval] (which holds the others).
    assert extras["all"] == ["anyloss[torch,jax,dask,strict,eval]"]
    assert extras["eval"] == ["anyloss[distributed,parquet,progress]"]
    # The native path passes torch 2.13's weight= to mse_loss, l1_loss and huber_loss.
    assert extras["torch"] == ["torch>=2.13"]


def test_license():
    data = _pyproject()
    project = data["project"]
    assert project["license"] == "BSD-3-Clause"
    assert project["license-files"] == ["LICENSE"]
    assert not any(c.startswith("License ::") for c in project["classifiers"])
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text()
    # setuptools 77 is the first to read an SPDX license string and license-files.
    assert "setuptools>=77" in data["build-system"]["requires"]


def test_python_classifiers_match_requires_python():
    project = _pyproject()["project"]
    assert project["requires-python"] == ">=3.10"
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert versions == {"3.10", "3.11", "3.12", "3.13"}
