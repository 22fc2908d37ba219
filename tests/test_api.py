"""The public surface: torch's names, signatures and defaults, and no framework on import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import anyloss
import anyloss.torch as altorch

FUNCTIONS = sorted(anyloss.functional.__all__)
CLASSES = sorted(name for name in anyloss.losses.__all__ if name != "Loss")


#: Keyword-only parameters beyond torch (parity notes), after torch's own and before xp.
EXTENSIONS = {"linear_cross_entropy": ("z_loss", "softcap", "return_lse", "chunk_size")}
#: Classes whose torch module owns parameters: made with these arguments.  The framework-free
#: twin holds no layer (it takes it at call time, as the parity notes say).
OWNS_PARAMETERS = {"LinearCrossEntropyLoss": (4, 3)}


def _shape(sig: inspect.Signature) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults; annotations are ours to choose."""
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_signature_is_torchs_plus_keyword_only_xp(name: str) -> None:
    ours = _shape(inspect.signature(getattr(anyloss, name)))
    assert ours[-1] == ("xp", inspect.Parameter.KEYWORD_ONLY, None)
    extra = EXTENSIONS.get(name, ())
    torchs = ours[: len(ours) - 1 - len(extra)]
    assert torchs == _shape(inspect.signature(getattr(F, name)))
    beyond = ours[len(torchs) : -1]
    assert [(n, k) for n, k, _ in beyond] == [(n, inspect.Parameter.KEYWORD_ONLY) for n in extra]


@pytest.mark.parametrize("name", CLASSES)
def test_class_signatures_are_torchs(name: str) -> None:
    reference = getattr(torch.nn, name)
    if name in OWNS_PARAMETERS:
        ours = _shape(inspect.signature(getattr(altorch, name)))
        assert ours[: len(ours) - 3] == _shape(inspect.signature(reference))
        assert _shape(inspect.signature(getattr(altorch, name).forward)) == _shape(
            inspect.signature(reference.forward)
        )
        return
    for cls in (getattr(anyloss, name), getattr(altorch, name)):
        assert _shape(inspect.signature(cls)) == _shape(inspect.signature(reference))
        assert _shape(inspect.signature(cls.forward)) == _shape(inspect.signature(reference.forward))


@pytest.mark.parametrize("name", CLASSES)
def test_torch_module_is_a_module_with_torchs_attributes_and_buffers(name: str) -> None:
    args = OWNS_PARAMETERS.get(name, ())
    reference = getattr(torch.nn, name)(*args)
    module = getattr(altorch, name)(*args)
    assert isinstance(module, torch.nn.Module)
    public = {k for k in vars(reference) if not k.startswith("_") and k != "training"}
    assert public <= set(vars(module)) | set(module._buffers)
    assert set(module._buffers) == set(reference._buffers)
    assert module.state_dict().keys() == reference.state_dict().keys()


def test_every_torch_module_has_a_framework_free_twin() -> None:
    assert sorted(altorch.__all__) == CLASSES


def test_import_anyloss_imports_no_framework() -> None:
    code = (
        "import sys, anyloss, anyloss.functional, anyloss.losses\n"
        "loaded = [m for m in ('torch', 'jax', 'dask', 'cupy', 'array_api_strict') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_legacy_arguments_in_class_constructor_warn_once_and_set_reduction() -> None:
    with pytest.warns(UserWarning, match="reduction='sum'"):
        loss = anyloss.L1Loss(size_average=False)
    assert loss.reduction == "sum"


def test_bad_reduction_in_constructor_fails_only_at_call() -> None:
    import numpy as np

    loss = anyloss.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        loss(np.zeros(2), np.zeros(2))


def test_weight_buffers_move_with_the_module() -> None:
    module_classes = [getattr(altorch, n) for n in CLASSES]
    weighted = [c for c in module_classes if "weight" in inspect.signature(c).parameters]
    for cls in weighted:
        module = cls(*OWNS_PARAMETERS.get(cls.__name__, ()), weight=torch.ones(3, dtype=torch.float32))
        module.to(torch.float64)
        assert module.weight.dtype == torch.float64, cls.__name__


def test_explicit_namespace_is_used_as_given() -> None:
    import jax.numpy as jnp
    import numpy as np

    x, t = np.array([2.0, 3.0, 4.0]), np.array([2.5, 3.5, 4.5])
    assert anyloss.mse_loss(x, t, xp=np) == 0.25
    result = anyloss.mse_loss(jnp.asarray(x), jnp.asarray(t), xp=jnp)
    assert type(result).__module__.startswith("jax")
    assert float(result) == 0.25


def test_numpy_results_are_zero_dimensional_arrays_not_scalars() -> None:
    import numpy as np

    result = anyloss.l1_loss(np.ones(3, dtype=np.float32), np.zeros(3, dtype=np.float32))
    assert type(result) is np.ndarray and result.shape == () and result.dtype == np.float32
