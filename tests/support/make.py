"""Deterministic NumPy inputs for the case tables."""

from __future__ import annotations

import zlib

import numpy as np

from .arrays import BFLOAT16


def rng(name: str) -> np.random.Generator:
    """A generator seeded by a name, so each table's data is fixed and independent."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def normal(name: str, shape: tuple[int, ...], dtype: str = "float32", scale: float = 1.0):
    data = rng(name).normal(size=shape) * scale
    return cast(data, dtype)


def uniform(name: str, shape: tuple[int, ...], low: float, high: float, dtype: str = "float32"):
    return cast(rng(name).uniform(low, high, size=shape), dtype)


def integers(name: str, shape: tuple[int, ...], low: int, high: int, dtype: str = "int64"):
    return rng(name).integers(low, high, size=shape).astype(dtype)


def array(values, dtype: str = "float32"):
    return cast(np.asarray(values, dtype=np.float64), dtype)


def cast(data, dtype: str):
    data = np.asarray(data)
    if dtype == "bfloat16":
        return data.astype(np.float32).astype(BFLOAT16)
    return data.astype(dtype)


REDUCTIONS = ("none", "mean", "sum")
FLOATS = ("float32", "float64")
HALVES = ("float16", "bfloat16")
