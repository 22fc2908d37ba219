"""The base of the framework-free loss classes."""

from __future__ import annotations

from typing import Any

from .. import _reduction


class Loss:
    """A loss class holds its settings and calls its function; nothing else.

    Attribute names are torch's (``reduction``, ``weight``, ``ignore_index``, ...), so the
    torch ``nn.Module`` versions in :mod:`anyloss.torch` read the same.
    """

    reduction: str

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        # torch converts the legacy arguments once, at construction; a bad reduction
        # string is only reported by the first call.
        self.reduction = _reduction.resolve(size_average, reduce, reduction)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({settings})"
