"""anyloss.torch's modules against torch.nn's: bases, attributes, buffers, values, TorchScript.

Every module is built from the settings of the case tables' calls (the keyword arguments of
a call are the constructor's arguments), next to torch's module built from the same ones.
"""

from __future__ import annotations

import inspect
import io
import warnings

import numpy as np
import pytest
import torch
from torch.nn.modules.loss import _Loss, _WeightedLoss

import anyloss
import anyloss.torch as altorch
from anyloss._registry import RECORDS
from cases import CASES
from support.oracle import Case, assert_close, tensor_to_numpy, to_tensor, tolerance

NAMES = sorted(altorch.__all__)
CLASS_OF = {r.name: r.cls for r in RECORDS.values()}
# Modules that own a layer: built from sizes, not from a call's settings (tested below).
OWNS_LAYER = {"LinearCrossEntropyLoss"}
SETTINGS_NAMES = sorted(set(NAMES) - OWNS_LAYER)
# torch 2.13 deprecates TorchScript (script, save and load) in favour of torch.export.
SCRIPT_DEPRECATED = r"ignore:`torch\.jit\.\w+` is deprecated:DeprecationWarning"
# Per loss, at most this many calls of its case table.
PER_LOSS = 6


def _module_cases() -> list[Case]:
    chosen: list[Case] = []
    seen: set[tuple] = set()
    for case in CASES:
        cls = CLASS_OF[case.fn]
        if cls in OWNS_LAYER:
            continue
        constructor = inspect.signature(getattr(torch.nn, cls)).parameters
        forward = [p for p in inspect.signature(getattr(torch.nn, cls).forward).parameters if p != "self"]
        fits = (
            not case.raises
            and case.to_torch is None
            and len(case.args) == len(forward)
            and set(case.kwargs) <= set(constructor) - {"size_average", "reduce"}
            # The legacy spellings warn at every call; their tests are the functions'.
            and case.kwargs.get("reduction") != "elementwise_mean"
        )
        # One call per set of settings named and reduction, so that weights, pos_weight,
        # margins and every reduction are met.
        kind = (case.fn, frozenset(case.kwargs), case.kwargs.get("reduction", "mean"))
        if fits and kind not in seen and sum(c.fn == case.fn for c in chosen) < PER_LOSS:
            seen.add(kind)
            chosen.append(case)
    return chosen


MODULE_CASES = _module_cases()


def _pair(case: Case) -> tuple[torch.nn.Module, torch.nn.Module, tuple]:
    """(anyloss's module, torch's module, the forward arguments as tensors) for one call."""
    cls = CLASS_OF[case.fn]
    settings = {k: to_tensor(v) for k, v in case.kwargs.items()}
    args = tuple(to_tensor(a) for a in case.args)
    return getattr(altorch, cls)(**settings), getattr(torch.nn, cls)(**settings), args


def _public(module: torch.nn.Module) -> dict[str, object]:
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and k != "training"}


def test_every_loss_has_module_cases() -> None:
    assert {CLASS_OF[c.fn] for c in MODULE_CASES} == set(SETTINGS_NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_bases_are_torchs(name: str) -> None:
    ours, theirs = getattr(altorch, name), getattr(torch.nn, name)
    for base in (torch.nn.Module, _Loss, _WeightedLoss):
        assert issubclass(ours, base) == issubclass(theirs, base), base.__name__
    if name in OWNS_LAYER:
        assert not issubclass(ours, getattr(anyloss, name))  # that class owns no layer
        return
    module = ours()
    assert isinstance(module, _Loss)
    assert isinstance(module, getattr(anyloss, name)), "not an instance of the framework-free class"


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda c: c.id)
def test_module_matches_torchs_module(case: Case) -> None:
    ours, theirs, args = _pair(case)
    # Attributes: torch's public ones, with torch's values (distance_function is a callable:
    # torch's holds a PairwiseDistance module, ours the array-API function).
    expected = _public(theirs)
    got = _public(ours)
    for key, value in expected.items():
        if key == "distance_function":
            continue
        assert key in got, f"no attribute {key}"
        assert type(got[key]) is type(value) and got[key] == value, key
    # Buffers: the same names and values, so state_dicts load into each other.
    assert dict(ours.named_buffers()).keys() == dict(theirs.named_buffers()).keys()
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    ours.load_state_dict(theirs.state_dict())
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        want = theirs(*args)
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        got_value = ours(*args)
    assert [(w.category, str(w.message)) for w in ours_warned] == [
        (w.category, str(w.message)) for w in theirs_warned
    ]
    assert isinstance(got_value, torch.Tensor) and got_value.dtype == want.dtype
    rtol, atol = tolerance(case, str(want.dtype).removeprefix("torch."))
    assert_close(tensor_to_numpy(got_value), tensor_to_numpy(want), rtol, atol, case.id)


@pytest.mark.filterwarnings(SCRIPT_DEPRECATED)
# The scripted forward is torch's call, with torch's warnings (kl_div's 'mean'); the eager test
# above compares those warnings with torch's.
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")
@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda c: c.id)
def test_scripted_module_matches_torchs_scripted_module(case: Case) -> None:
    ours, theirs, args = _pair(case)
    if CLASS_OF[case.fn] in altorch.UNSCRIPTABLE:
        # Neither can be compiled; should torch's become scriptable, this says so.
        with pytest.raises((torch.jit.frontend.NotSupportedError, RuntimeError)):
            torch.jit.script(theirs)
        with pytest.raises((torch.jit.frontend.NotSupportedError, RuntimeError)):
            torch.jit.script(ours)
        return
    scripted = torch.jit.script(ours)
    try:
        want = torch.jit.script(theirs)(*args)
    except RuntimeError as error:
        # TorchScript's types refuse the call (lengths as lists for CTCLoss): so do ours.
        with pytest.raises(type(error)):
            scripted(*args)
        return
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    for module in (scripted, loaded):
        got = module(*args)
        assert got.dtype == want.dtype
        assert_close(tensor_to_numpy(got), tensor_to_numpy(want), 0.0, 0.0, case.id)


@pytest.mark.parametrize("name", NAMES)
def test_module_docstring_documents_its_constructor(name: str) -> None:
    doc = inspect.getdoc(getattr(altorch, name))
    params = [
        p
        for p in inspect.signature(getattr(torch.nn, name)).parameters
        if p not in ("size_average", "reduce")
    ]
    section = doc.split("Parameters\n----------\n", 1)[1].split("\n\n", 1)[0]
    documented = {
        n.strip()
        for line in section.splitlines()
        if line and not line[0].isspace()
        for n in line.split(":")[0].split(",")
    }
    assert set(params) <= documented, f"{name}: {set(params) - documented} undocumented"
    assert "Examples\n--------\n" in doc and "anyloss.torch" in doc


def test_modules_take_any_librarys_arrays() -> None:
    x, t = np.array([2.0, 3.0, 4.0]), np.array([2.5, 3.5, 5.0])
    value = altorch.L1Loss()(x, t)
    assert isinstance(value, np.ndarray)
    assert value == torch.nn.L1Loss()(torch.from_numpy(x), torch.from_numpy(t)).item()


@pytest.mark.parametrize(
    "sizes, settings",
    [
        ((), {}),
        ((), {"bias": True, "reduction": "sum", "label_smoothing": 0.2}),
        ((), {"reduction": "none", "ignore_index": 1, "weight": torch.tensor([0.5, 2.0, 1.0])}),
        ((2,), {"bias": True}),
    ],
    ids=["defaults", "bias-sum-smoothing", "none-ignore-weight", "k-dim"],
)
def test_linear_module_matches_torchs_module(sizes: tuple[int, ...], settings: dict) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.LinearCrossEntropyLoss(4, 3, out_features=sizes, **settings)
    ours = altorch.LinearCrossEntropyLoss(4, 3, out_features=sizes, **settings)
    assert _public(ours).keys() >= _public(theirs).keys() - {"linear"}
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    x = torch.randn(5, 4, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 1, 0])
    if sizes:
        target = torch.randint(0, 3, (5, *sizes))
    ours, theirs = ours.double(), theirs.double()
    want, got = theirs(x, target), ours(x, target)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert_close(tensor_to_numpy(got), tensor_to_numpy(want.detach()), 1e-12, 1e-12, "value")
    want.sum().backward()
    got.sum().backward()
    for (name, p), q in zip(theirs.named_parameters(), ours.parameters(), strict=True):
        assert_close(tensor_to_numpy(q.grad), tensor_to_numpy(p.grad), 1e-12, 1e-12, name)


@pytest.mark.filterwarnings(SCRIPT_DEPRECATED)
def test_linear_module_scripts_as_torchs_does_not() -> None:
    with pytest.raises((torch.jit.frontend.NotSupportedError, RuntimeError, OSError)):
        torch.jit.script(torch.nn.LinearCrossEntropyLoss(4, 3))
    with pytest.raises((torch.jit.frontend.NotSupportedError, RuntimeError, OSError)):
        torch.jit.script(altorch.LinearCrossEntropyLoss(4, 3))
