"""torch ``nn.Module`` drop-ins for every anyloss class.

``from anyloss.torch import CrossEntropyLoss`` gives a module with torch's constructor,
attributes, ``weight``/``pos_weight`` buffers (moved by ``.to()``, saved in
``state_dict``) and ``forward``; its forward calls the anyloss function.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from . import _registry
from . import losses as _losses

_BUFFERS = ("weight", "pos_weight")


class _Module(torch.nn.Module):
    _settings: type[_losses.Loss]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        torch.nn.Module.__init__(self)
        self._settings.__init__(self, *args, **kwargs)  # type: ignore[misc, arg-type]
        for name in _BUFFERS:
            if name in self.__dict__:
                self.register_buffer(name, self.__dict__.pop(name))


def _module(settings: type[_losses.Loss]) -> type[torch.nn.Module]:
    cls = type(
        settings.__name__,
        (_Module, settings),
        {
            "_settings": settings,
            "forward": settings.forward,
            "__module__": __name__,
            "__doc__": f"torch ``nn.Module`` version of :class:`anyloss.{settings.__name__}`.",
            "__signature__": inspect.signature(settings),
        },
    )
    return cls


__all__ = [record.cls for record in _registry.RECORDS.values()]


def __getattr__(name: str) -> type[torch.nn.Module]:
    # One module per recorded loss, named as torch.nn names it, made on first use.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = globals()[name] = _module(getattr(_losses, name))
    return module


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
