"""Framework-free loss classes: settings held, the function called."""

from ._base import Loss
from ._binary import BCELoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss, SoftMarginLoss
from ._cross_entropy import CrossEntropyLoss, NLLLoss
from ._ctc import CTCLoss
from ._embedding import (
    CosineEmbeddingLoss,
    HingeEmbeddingLoss,
    MarginRankingLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from ._likelihood import GaussianNLLLoss, KLDivLoss, PoissonNLLLoss
from ._linear_cross_entropy import LinearCrossEntropyLoss
from ._margin import MultiLabelMarginLoss, MultiMarginLoss
from ._regression import HuberLoss, L1Loss, MSELoss, SmoothL1Loss

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CTCLoss",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "LinearCrossEntropyLoss",
    "Loss",
    "MarginRankingLoss",
    "MSELoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "SoftMarginLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
]
