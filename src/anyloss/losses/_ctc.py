"""Class of the CTC loss."""

from __future__ import annotations

from typing import Any

from ..functional import _ctc as F
from ._base import Loss

__all__ = ["CTCLoss"]


class CTCLoss(Loss):
    """:func:`anyloss.ctc_loss` as a class (torch's ``nn.CTCLoss``)."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
        return F.ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            self.blank,
            self.reduction,
            self.zero_infinity,
        )
