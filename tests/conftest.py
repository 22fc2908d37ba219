from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.backends import ALL  # noqa: E402


@pytest.fixture(params=ALL, ids=[b.name for b in ALL])
def backend(request):
    """Every backend of the test bed; tests take this fixture and never loop themselves."""
    return request.param


def pytest_collection_modifyitems(config, items):
    # Doctests of the package run on NumPy only, as the docstrings say.
    pass
