"""Classes of the cross-entropy losses: NLLLoss, CrossEntropyLoss."""

from __future__ import annotations

from typing import Any

from ..functional import _cross_entropy as F
from ._base import Loss

__all__ = ["CrossEntropyLoss", "NLLLoss"]


class NLLLoss(Loss):
    """:func:`anyloss.nll_loss` as a class (torch's ``nn.NLLLoss``)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Any:
        return F.nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class CrossEntropyLoss(Loss):
    """:func:`anyloss.cross_entropy` as a class (torch's ``nn.CrossEntropyLoss``).

    >>> import numpy as np, anyloss as al
    >>> logits = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    >>> print(f"{al.CrossEntropyLoss()(logits, np.array([2, 0])):.4f}")
    1.4076
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )
