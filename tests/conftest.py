from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

# MindSpore lives in an environment of its own (NumPy 1.x, no JAX, Dask or array-api-strict):
# `pytest --mindspore` runs these files there, on MindSpore tensors; the main suite skips them.
MINDSPORE_FILES = ("test_against_torch.py", "test_mindspore.py")


def pytest_addoption(parser):
    parser.addoption(
        "--mindspore",
        action="store_true",
        help="run the torch comparison and the MindSpore tests on MindSpore tensors (make test-ms)",
    )


def pytest_configure(config):
    # The main suite's beds (support.backends) switch JAX's float64 on for every test file; in
    # MindSpore's environment there is no JAX.
    if not config.getoption("mindspore"):
        import support.backends  # noqa: F401


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix != ".py":
        return None
    if config.getoption("mindspore"):
        return collection_path.name not in MINDSPORE_FILES or None
    # The MindSpore files import MindSpore, which only its own environment has.
    return collection_path.name in ("test_mindspore.py", "mindspore_bed.py") or None


def pytest_generate_tests(metafunc):
    """Every bed of the test bed, as the ``backend`` fixture: tests never loop themselves."""
    if "backend" not in metafunc.fixturenames:
        return
    if any("backend" in m.args[0] for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test names its own backends
    if metafunc.config.getoption("mindspore"):
        from support.mindspore_bed import MindSporeBed

        beds = [MindSporeBed()]
    else:
        from support.backends import ALL

        beds = ALL
    metafunc.parametrize("backend", beds, ids=[b.name for b in beds], indirect=True)


@pytest.fixture
def backend(request):
    """The bed the test runs on (see ``pytest_generate_tests``)."""
    return request.param


def pytest_collection_modifyitems(config, items):
    """Gradients are compared, on a bed with a time budget (``Bed.gradient_cases_per_loss``:
    MindSpore's, eager JAX's), for its representative subset of the cases only; values, dtypes
    and errors for every case.  The other gradient comparisons are deselected."""
    from cases import cases_with_gradients

    chosen: dict[str, set[str]] = {}
    keep, drop = [], []
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params
        case, bed = (params.get("case"), params.get("backend")) if params else (None, None)
        gradient = getattr(item, "originalname", None) == "test_gradients_match_torch"  # doctests have none
        if gradient and case is not None and bed is not None:
            if bed.name not in chosen:
                chosen[bed.name] = {c.id for c in bed.gradient_cases(cases_with_gradients())}
            if case.id not in chosen[bed.name]:
                drop.append(item)
                continue
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
