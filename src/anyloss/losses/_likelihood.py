"""Classes of the likelihood losses."""

from __future__ import annotations

from typing import Any

from ..functional import _likelihood as F
from ._base import Loss

__all__ = ["GaussianNLLLoss", "KLDivLoss", "PoissonNLLLoss"]


class PoissonNLLLoss(Loss):
    """:func:`anyloss.poisson_nll_loss` as a class (torch's ``nn.PoissonNLLLoss``)."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: bool | None = None,
        eps: float = 1e-08,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    # torch names the first argument of this forward ``log_input``.
    def forward(self, log_input: Any, target: Any) -> Any:
        return F.poisson_nll_loss(
            log_input,
            target,
            log_input=self.log_input,
            full=self.full,
            eps=self.eps,
            reduction=self.reduction,
        )


class GaussianNLLLoss(Loss):
    """:func:`anyloss.gaussian_nll_loss` as a class (torch's ``nn.GaussianNLLLoss``)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-06, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Any, target: Any, var: Any) -> Any:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps, reduction=self.reduction)


class KLDivLoss(Loss):
    """:func:`anyloss.kl_div` as a class (torch's ``nn.KLDivLoss``).

    Legacy arguments are converted at construction, as in torch, so the function's
    'batchmean' quirk with legacy arguments does not arise here.

    Examples
    --------
    >>> import numpy as np, anyloss as al
    >>> p = np.log(np.array([[0.4, 0.6], [0.3, 0.7]], dtype=np.float32))
    >>> q = np.array([[0.5, 0.5], [0.4, 0.6]], dtype=np.float32)
    >>> round(float(al.KLDivLoss(reduction="batchmean")(p, q)), 4)  # torch: tensor(0.0215)
    0.0215
    """

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Any, target: Any) -> Any:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
