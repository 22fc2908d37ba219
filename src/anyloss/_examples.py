"""The worked examples of the documents anyloss comes from, with the numbers they quote.

Each example is a loss class, its settings, its inputs and the value the source prints
(torch's ``print(tensor)`` shows 4 decimals; the MindSpore mapping page rounds to 3).
``anyloss demo`` and the test suite check every one on every backend.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

#: What ``anyloss demo --help`` says the demo shows.
DEMO_DESCRIPTION = (
    "Runs the worked examples printed in torch's loss documentation (torch.nn's class pages) "
    "and in MindSpore's page mapping its losses to torch's: each example's loss, with the "
    "example's settings and inputs, on every installed backend (numpy, torch, jax, dask, "
    "array_api_strict, cupy), beside the number the documentation prints. A value is marked "
    "as matching when it rounds to that number at the documentation's precision (4 decimals "
    "for torch, 3 for MindSpore). The exit status is 1 if any value does not match."
)


@dataclasses.dataclass(frozen=True)
class Example:
    title: str
    loss: str  # class name in anyloss
    settings: dict[str, Any]
    inputs: tuple[np.ndarray, ...]
    quoted: float
    decimals: int
    source: str

    def matches(self, value: float) -> bool:
        return round(float(value), self.decimals) == round(self.quoted, self.decimals)


def _f32(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


EXAMPLES = [
    Example(
        "MSELoss",
        "MSELoss",
        {},
        (_f32([2.0, 3.0, 4.0]), _f32([2.5, 3.5, 4.5])),
        0.25,
        4,
        "Built-in loss functions (PyTorch docs, 1. MSELoss)",
    ),
    Example(
        "CrossEntropyLoss, class indices",
        "CrossEntropyLoss",
        {},
        (_f32([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), np.asarray([2, 0], dtype=np.int64)),
        1.4076,
        4,
        "Built-in loss functions (PyTorch docs, 2. CrossEntropyLoss)",
    ),
    Example(
        "BCEWithLogitsLoss",
        "BCEWithLogitsLoss",
        {},
        (_f32([0.5, -1.5, 2.0]), _f32([1.0, 0.0, 1.0])),
        0.2675,
        4,
        "Built-in loss functions (PyTorch docs, 3. BCEWithLogitsLoss)",
    ),
    Example(
        "SmoothL1Loss",
        "SmoothL1Loss",
        {},
        (_f32([2.0, 3.0, 4.0]), _f32([2.5, 3.5, 4.5])),
        0.125,
        4,
        "Built-in loss functions (PyTorch docs, 4. SmoothL1Loss)",
    ),
    Example(
        "CosineEmbeddingLoss",
        "CosineEmbeddingLoss",
        {},
        (_f32([[1.0, 0.0]]), _f32([[0.0, 1.0]]), np.asarray([1], dtype=np.int64)),
        1.0,
        4,
        "Built-in loss functions (PyTorch docs, 5. CosineEmbeddingLoss)",
    ),
    Example(
        "KLDivLoss, batchmean",
        "KLDivLoss",
        {"reduction": "batchmean"},
        (np.log(_f32([[0.4, 0.6], [0.3, 0.7]])), _f32([[0.5, 0.5], [0.4, 0.6]])),
        0.0215,
        4,
        "Built-in loss functions (PyTorch docs, 6. KLDivLoss)",
    ),
    Example(
        "CrossEntropyLoss, 3×5 float64",
        "CrossEntropyLoss",
        {},
        (
            np.asarray(
                [
                    [1.624, -0.611, -0.528, -1.072, 0.865],
                    [-2.301, 1.744, -0.761, 0.319, -0.249],
                    [1.462, -2.060, -0.322, -0.384, 1.133],
                ]
            ),
            np.asarray([1, 0, 4], dtype=np.int64),
        ),
        2.764,
        3,
        "Differences with torch.nn.CrossEntropyLoss (MindSpore mapping)",
    ),
]
