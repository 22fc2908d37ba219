"""The interface every bed of the test bed implements (see ``backends``).

A bed makes arrays of one library from NumPy inputs, calls a loss on them, reads results back
and, where the library differentiates, takes gradients.  It imports no framework itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import array_api_compat
import numpy as np

from .arrays import dtype_name, is_array


class Bed:
    name: str = ""
    #: one line for the documentation's list of tested backends
    description: str = ""
    lazy = False
    differentiable = False
    #: dtypes this backend has; cases in other dtypes are not applicable to it
    unsupported: frozenset[str] = frozenset()
    array_type: Any = None
    #: None: the gradients of every case are compared; else only those of the first this many
    #: gradient cases of each loss, in table order (:meth:`gradient_cases`: a time budget)
    gradient_cases_per_loss: int | None = None

    def __repr__(self) -> str:
        return self.name

    # -- conversion -------------------------------------------------------------------
    def asarray(self, a: np.ndarray) -> Any:
        raise NotImplementedError

    def convert(self, value: Any) -> Any:
        """NumPy arrays become this backend's arrays; everything else is passed as is."""
        return self.asarray(value) if is_array(value) else value

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def supports(self, value: Any) -> bool:
        return not (is_array(value) and dtype_name(value.dtype) in self.unsupported)

    # -- devices ----------------------------------------------------------------------
    def device_of(self, x: Any) -> Any:
        """The device an array of this backend lives on."""
        return array_api_compat.device(x)

    @property
    def expected_device(self) -> Any:
        """The device ``asarray`` puts inputs on, so the device every result must be on."""
        return self.device_of(self.asarray(np.zeros(1, dtype=np.float32)))

    def gradient_cases(self, cases: list[Any]) -> list[Any]:
        """The cases, among ``cases`` (cases with gradients), whose gradients this bed compares
        with torch: all of them, or the first ``gradient_cases_per_loss`` of each loss."""
        if self.gradient_cases_per_loss is None:
            return list(cases)
        seen: dict[str, int] = {}
        chosen = []
        for case in cases:
            seen[case.fn] = seen.get(case.fn, 0) + 1
            if seen[case.fn] <= self.gradient_cases_per_loss:
                chosen.append(case)
        return chosen

    def known_gap(self, case: Any, what: str) -> str | None:
        """Why this bed cannot yet match torch on ``case`` (``what``: 'value' or 'gradient'), or None.

        The test marks such a case as a strict expected failure, so a fixed gap is noticed."""
        return None

    def crashes(self, case: Any, what: str) -> bool:
        """Whether the known gap crashes the process: the case is then an expected failure that
        is not run (``pytest.xfail``), since a crash would end the test process."""
        return False

    # -- calling ----------------------------------------------------------------------
    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        yield

    def call(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        with self.context():
            return fn(*args, **kwargs)

    def grad(
        self, fn: Callable[..., Any], args: tuple, kwargs: dict, wrt: tuple, cotangent: np.ndarray
    ) -> list[np.ndarray]:
        """Gradients of sum(fn(...) * cotangent) with respect to the arguments named in ``wrt``."""
        raise NotImplementedError
