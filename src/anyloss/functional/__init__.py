"""The loss functions, with torch.nn.functional's names, parameters and defaults."""

from ._regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss

__all__ = [
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
]
