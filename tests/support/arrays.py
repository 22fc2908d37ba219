"""What the case tables and the oracle need to know about NumPy inputs, and nothing more.

Kept apart from the backend beds so that MindSpore's environment (which has no JAX, Dask or
array-api-strict) can import the tables and the oracle.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def is_array(x: Any) -> bool:
    return isinstance(x, np.ndarray)


def dtype_name(dtype: Any) -> str:
    return str(dtype).rsplit(".", 1)[-1].lower()  # MindSpore prints Float32
