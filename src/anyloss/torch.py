"""torch ``nn.Module`` drop-ins for every anyloss class.

``from anyloss.torch import CrossEntropyLoss`` gives a module with torch's constructor,
attributes, ``weight``/``pos_weight`` buffers (moved by ``.to()``, saved in
``state_dict``) and ``forward``; its forward calls the anyloss function.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

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


L1Loss = _module(_losses.L1Loss)
MSELoss = _module(_losses.MSELoss)
SmoothL1Loss = _module(_losses.SmoothL1Loss)
HuberLoss = _module(_losses.HuberLoss)
CTCLoss = _module(_losses.CTCLoss)
CrossEntropyLoss = _module(_losses.CrossEntropyLoss)
NLLLoss = _module(_losses.NLLLoss)
MultiMarginLoss = _module(_losses.MultiMarginLoss)
MultiLabelMarginLoss = _module(_losses.MultiLabelMarginLoss)
MultiLabelSoftMarginLoss = _module(_losses.MultiLabelSoftMarginLoss)
BCELoss = _module(_losses.BCELoss)
BCEWithLogitsLoss = _module(_losses.BCEWithLogitsLoss)
SoftMarginLoss = _module(_losses.SoftMarginLoss)
PoissonNLLLoss = _module(_losses.PoissonNLLLoss)
GaussianNLLLoss = _module(_losses.GaussianNLLLoss)
KLDivLoss = _module(_losses.KLDivLoss)
MarginRankingLoss = _module(_losses.MarginRankingLoss)
HingeEmbeddingLoss = _module(_losses.HingeEmbeddingLoss)
CosineEmbeddingLoss = _module(_losses.CosineEmbeddingLoss)
TripletMarginLoss = _module(_losses.TripletMarginLoss)
TripletMarginWithDistanceLoss = _module(_losses.TripletMarginWithDistanceLoss)

__all__ = [name for name in _losses.__all__ if name in globals() and name != "Loss"]
