"""Classes of the binary losses, MultiLabelSoftMarginLoss included."""

from __future__ import annotations

from typing import Any

from ..functional import _binary as F
from ._base import Loss

__all__ = ["BCELoss", "BCEWithLogitsLoss", "MultiLabelSoftMarginLoss", "SoftMarginLoss"]


class BCELoss(Loss):
    """:func:`anyloss.binary_cross_entropy` as a class (torch's ``nn.BCELoss``)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(Loss):
    """:func:`anyloss.binary_cross_entropy_with_logits` as a class (torch's ``nn.BCEWithLogitsLoss``).

    >>> import numpy as np, anyloss as al
    >>> loss = al.BCEWithLogitsLoss()
    >>> logits = np.array([0.5, -1.5, 2.0], dtype=np.float32)
    >>> print(f"{loss(logits, np.array([1.0, 0.0, 1.0], dtype=np.float32)):.4f}")
    0.2675
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class SoftMarginLoss(Loss):
    """:func:`anyloss.soft_margin_loss` as a class (torch's ``nn.SoftMarginLoss``)."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(Loss):
    """:func:`anyloss.multilabel_soft_margin_loss` as a class
    (torch's ``nn.MultiLabelSoftMarginLoss``)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight

    def forward(self, input: Any, target: Any) -> Any:
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)
