"""anyloss: PyTorch's loss functions, with PyTorch's exact semantics, on every array library.

>>> import numpy as np, anyloss as al
>>> al.mse_loss(np.array([2.0, 3.0, 4.0]), np.array([2.5, 3.5, 4.5]))
array(0.25)

Importing anyloss imports no framework: NumPy and array-api-compat only.  The torch
``nn.Module`` versions of the classes live in :mod:`anyloss.torch`.
"""

from . import functional, losses
from ._backends import native_paths
from ._parts import MeanParts, mean_parts
from ._threads import get_num_threads, set_num_threads
from .functional import *  # noqa: F403
from .losses import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    *functional.__all__,
    *losses.__all__,
    "MeanParts",
    "functional",
    "get_num_threads",
    "losses",
    "mean_parts",
    "native_paths",
    "set_num_threads",
]
