"""The class of linear_cross_entropy: LinearCrossEntropyLoss."""

from __future__ import annotations

from typing import Any

from ..functional import _linear_cross_entropy as F
from ._base import Loss

__all__ = ["LinearCrossEntropyLoss"]


class LinearCrossEntropyLoss(Loss):
    """:func:`anyloss.linear_cross_entropy` as a class; the layer is given at call time.

    A framework-free class has no parameters to create, so unlike torch's
    ``nn.LinearCrossEntropyLoss`` (which owns an ``nn.Linear``) it holds only the loss's
    settings, and each call takes the layer's weight (and bias) beside the input:
    ``loss(input, linear_weight, target, linear_bias=None)``.  The weight then lives
    wherever the model keeps it (a JAX pytree, a NumPy array, a tied embedding).
    ``anyloss.torch.LinearCrossEntropyLoss`` is torch's module, with torch's constructor
    and its own ``nn.Linear``.

    >>> import numpy as np, anyloss as al
    >>> x = np.array([[1.0, 0.5], [-0.5, 2.0]])
    >>> w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> print(f"{al.LinearCrossEntropyLoss()(x, w, np.array([2, 1])):.4f}")
    0.6021
    """

    def __init__(
        self,
        *,
        reduction: str = "mean",
        weight: Any = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options: Any = None,
        z_loss: float = 0.0,
        softcap: float | None = None,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__(None, None, reduction)
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.options = options
        self.z_loss = z_loss
        self.softcap = softcap
        self.chunk_size = chunk_size

    def forward(self, input: Any, linear_weight: Any, target: Any, linear_bias: Any = None) -> Any:
        return F.linear_cross_entropy(
            input,
            linear_weight,
            target,
            linear_bias=linear_bias,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
            z_loss=self.z_loss,
            softcap=self.softcap,
            chunk_size=self.chunk_size,
        )
