"""Classes of the hinge losses: MultiMarginLoss, MultiLabelMarginLoss."""

from __future__ import annotations

from typing import Any

from ..functional import _margin as F
from ._base import Loss

__all__ = ["MultiLabelMarginLoss", "MultiMarginLoss"]


class MultiMarginLoss(Loss):
    """:func:`anyloss.multi_margin_loss` as a class (torch's ``nn.MultiMarginLoss``).

    ``p`` and the dimension of ``weight`` are checked at construction, as torch does.
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if p != 1 and p != 2:
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.ndim != 1:
            raise ValueError(
                f"MultiMarginLoss: expected weight to be None or 1D tensor, got {weight.ndim}D instead"
            )
        self.weight = weight
        self.p = p
        self.margin = margin

    def forward(self, input: Any, target: Any) -> Any:
        return F.multi_margin_loss(
            input,
            target,
            p=self.p,
            margin=self.margin,
            weight=self.weight,
            reduction=self.reduction,
        )


class MultiLabelMarginLoss(Loss):
    """:func:`anyloss.multilabel_margin_loss` as a class (torch's ``nn.MultiLabelMarginLoss``)."""

    def forward(self, input: Any, target: Any) -> Any:
        return F.multilabel_margin_loss(input, target, reduction=self.reduction)
