"""Classes of the regression losses."""

from __future__ import annotations

from typing import Any

from ..functional import _regression as F
from ._base import Loss

__all__ = ["HuberLoss", "L1Loss", "MSELoss", "SmoothL1Loss"]


class L1Loss(Loss):
    """:func:`anyloss.l1_loss` as a class (torch's ``nn.L1Loss``)."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(Loss):
    """:func:`anyloss.mse_loss` as a class (torch's ``nn.MSELoss``)."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(Loss):
    """:func:`anyloss.smooth_l1_loss` as a class (torch's ``nn.SmoothL1Loss``)."""

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Any:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(Loss):
    """:func:`anyloss.huber_loss` as a class (torch's ``nn.HuberLoss``; no ``weight``)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        if not isinstance(delta, (float, int)) or isinstance(delta, bool):
            raise TypeError(f"delta must be a float or int, got: {type(delta)}")
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Any:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)
