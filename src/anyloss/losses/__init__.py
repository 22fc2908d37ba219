"""Framework-free loss classes: settings held, the function called."""

from ._base import Loss
from ._regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

__all__ = [
    "HuberLoss",
    "L1Loss",
    "Loss",
    "MSELoss",
    "SmoothL1Loss",
]
