"""torch ``nn.Module`` drop-ins for every anyloss class.

``from anyloss.torch import CrossEntropyLoss`` gives a module with torch's constructor,
attributes, ``weight``/``pos_weight`` buffers (moved by ``.to()``, saved in
``state_dict``) and ``forward``; its forward calls the anyloss function.
``LinearCrossEntropyLoss`` also owns its layer, an ``nn.Linear``, as torch's does.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch

from . import _registry
from . import losses as _losses
from .functional import linear_cross_entropy as _linear_cross_entropy

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


class LinearCrossEntropyLoss(torch.nn.Module):
    """torch's ``nn.LinearCrossEntropyLoss``, computed by :func:`anyloss.linear_cross_entropy`.

    torch's constructor: the module owns an ``nn.Linear(in_features, num_classes *
    prod(out_features), bias=bias)`` (its weight reshaped to ``(C, d1, ..., dK, H)`` in
    ``forward``), the class ``weight`` is a buffer, and ``options`` (torch's
    ``LinearCrossEntropyOptions``) sets the chunking and ``allow_retain_graph``.  Beyond
    torch, keyword-only: ``z_loss``, ``softcap`` and ``chunk_size``
    (see :func:`anyloss.linear_cross_entropy`).
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        device: Any = None,
        dtype: Any = None,
        reduction: str = "mean",
        weight: Any = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options: Any = None,
        z_loss: float = 0.0,
        softcap: float | None = None,
        chunk_size: int | None = None,
    ) -> None:
        if weight is not None and weight.shape != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        super().__init__()
        self.register_buffer("weight", weight)
        self.reduction = reduction
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = torch.nn.Linear(
            in_features, math.prod(out_features, start=num_classes), bias=bias, device=device, dtype=dtype
        )
        self.options = options
        self.z_loss, self.softcap, self.chunk_size = z_loss, softcap, chunk_size

    def forward(self, input: Any, target: Any) -> Any:
        shape = (self.num_classes, *self.out_features)
        bias = self.linear.bias
        return _linear_cross_entropy(
            input,
            self.linear.weight.reshape((*shape, self.linear.in_features)),
            target,
            linear_bias=None if bias is None else bias.reshape(shape),
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
            z_loss=self.z_loss,
            softcap=self.softcap,
            chunk_size=self.chunk_size,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.linear.in_features},"
            f" num_classes={self.num_classes},"
            f" out_features={self.out_features},"
            f" bias={self.linear.bias is not None},"
            f" reduction={self.reduction},"
            f" ignore_index={self.ignore_index},"
            f" label_smoothing={self.label_smoothing},"
            f" options={self.options}"
        )


__all__ = [record.cls for record in _registry.RECORDS.values()]


def __getattr__(name: str) -> type[torch.nn.Module]:
    # One module per recorded loss, named as torch.nn names it, made on first use (those
    # with parameters of their own, LinearCrossEntropyLoss, are written above).
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = globals()[name] = _module(getattr(_losses, name))
    return module


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
