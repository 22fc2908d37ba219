"""One record per loss: what every layer of anyloss needs to know about it.

Each loss function is decorated with :func:`loss` beside its body; the decorator fills its
docstring and files a :class:`LossRecord`.  The package's exports, the ``torch.nn.Module``
drop-ins, ``anyloss eval`` and its CLI, the documentation pages and the benchmark suite read
these records, and ``tests/test_registry.py`` fails, naming the missing piece, when a loss
lacks one of the things a loss must have (a class, a case table, a benchmark case, a docs
page, a parity note).

The 'mean' rule itself is not written here: it is the loss body's own division, which
:func:`anyloss.mean_parts` asks for as a numerator and a denominator.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ._docs import fill

__all__ = ["CLASS_INDEX", "ELEMENTWISE", "RECORDS", "ROWS", "LossRecord", "Streaming", "find", "loss_record"]

F = TypeVar("F", bound=Callable[..., Any])

#: Parameters that are never options (on the command line, in the docs' option lists).
#: (linear_cross_entropy's ``options`` is a torch object, ``return_lse`` changes what it returns.)
NOT_OPTIONS = frozenset({"size_average", "reduce", "distance_function", "xp", "options", "return_lse"})
#: Parameters with a default that are arrays all the same.
OPTIONAL_ARRAYS = frozenset({"linear_bias", "weight", "pos_weight"})
#: The shapes a benchmark case can take (benchmarks/cases.py builds each kind).
BENCH_KINDS = frozenset({"elementwise", "rows", "ctc"})


@dataclasses.dataclass(frozen=True)
class Streaming:
    """How a loss's arrays are cut into chunks of rows (``anyloss eval``, Dask row blocks).

    min_ndim:      the input's ndim from which its axis ``input_axis`` is a batch axis (below
                   it the arrays are unbatched and go through the loss whole).
    batch_arrays:  arrays whose axis 0 is always the batch axis (class-index targets,
                   per-sample variances and lengths), whatever their ndim.
    class_arrays:  arrays indexed by class, never chunked.
    input_axis:    the batch axis of the first array (1 for ctc_loss's ``(T, N, C)``).
    """

    min_ndim: int = 1
    batch_arrays: frozenset[str] = frozenset()
    class_arrays: frozenset[str] = frozenset()
    input_axis: int = 0

    def batch_axes(
        self,
        shapes: Mapping[str, tuple[int, ...]],
        first: str,
        names: Mapping[str, str] | None = None,
    ) -> tuple[dict[str, int | None], int]:
        """Which array is cut along which axis, and the number of rows.

        ``shapes`` maps the call's array parameters to their shapes, ``first`` names the
        loss's first array.  An array that is not cut (class weights, 0-D arrays, arrays
        broadcast along the batch axis, concatenated CTC targets, which are cut by their
        lengths) maps to None.  ``names`` names the arrays in error messages (default: the
        keys).  No batch axis at all gives 0 rows, and so does a first array
        that another array broadcasts to more axes.  Raises ``ValueError`` when
        an array that must share the batch axis has another length.
        """
        lead = shapes[first]
        axes: dict[str, int | None] = dict.fromkeys(shapes)
        name = {key: key for key in shapes} if names is None else names
        if len(lead) < self.min_ndim or len(lead) <= self.input_axis:
            return axes, 0
        if any(
            len(shape) > len(lead)
            for key, shape in shapes.items()
            if key not in self.class_arrays and key not in self.batch_arrays
        ):
            return axes, 0  # the first array is broadcast along a larger one's axes
        n = lead[self.input_axis]
        axes[first] = self.input_axis
        for key, shape in shapes.items():
            if key == first or key in self.class_arrays or not shape:
                continue
            if key in self.batch_arrays:
                if key == "targets" and len(shape) == 1:
                    continue  # concatenated CTC targets
                if shape[0] != n:
                    raise ValueError(
                        f"mismatched shapes: {name[first]} has {n} entries along axis "
                        f"{self.input_axis}, {name[key]} has {shape[0]}"
                    )
                axes[key] = 0
            elif len(shape) == len(lead) and self.input_axis == 0:
                if shape[0] == n:
                    axes[key] = 0
                elif shape[0] != 1:
                    raise ValueError(
                        f"mismatched shapes: {name[first]} has shape {list(lead)}, "
                        f"{name[key]} has shape {list(shape)}"
                    )
        return axes, n


#: Elementwise losses: every array is cut along axis 0 alike.
ELEMENTWISE = Streaming()
#: One loss term per row of a 2-D input, with one target per row.
ROWS = Streaming(min_ndim=2, batch_arrays=frozenset({"target"}))
#: Class-index targets: a target per row, a weight per class.
CLASS_INDEX = Streaming(min_ndim=2, batch_arrays=frozenset({"target"}), class_arrays=frozenset({"weight"}))


@dataclasses.dataclass(frozen=True)
class LossRecord:
    """Everything about one loss that is not its body.

    name:     the function's name, torch.nn.functional's.
    function: the function.
    cls:      the class's name, torch.nn's (the class itself is in :mod:`anyloss.losses`).
    family:   the file of its body and of its parity notes (``docs/parity/<family>.md``).
    mean:     what 'mean' divides by, in words (the body encodes it once).
    means:    the reductions that are a numerator over a denominator.
    streaming: how its arrays are cut into chunks of rows.
    bench:    the benchmark's kind of case: 'elementwise', 'rows' or 'ctc'.
    """

    name: str
    function: Callable[..., Any]
    cls: str
    family: str
    mean: str
    means: tuple[str, ...] = ("mean",)
    streaming: Streaming = ELEMENTWISE
    bench: str = "elementwise"

    @property
    def torch_function(self) -> str:
        return f"torch.nn.functional.{self.name}"

    @property
    def torch_class(self) -> str:
        return f"torch.nn.{self.cls}"

    @property
    def parameters(self) -> list[inspect.Parameter]:
        return list(inspect.signature(self.function).parameters.values())

    @property
    def arrays(self) -> tuple[str, ...]:
        """The array parameters: the required ones, then the optional ones (weights)."""
        return self.required + tuple(p.name for p in self.parameters if p.name in OPTIONAL_ARRAYS)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(
            p.name
            for p in self.parameters
            if p.default is inspect.Parameter.empty and p.name not in NOT_OPTIONS
        )

    @property
    def options(self) -> dict[str, Any]:
        """The options and their defaults, in the signature's order."""
        return {
            p.name: p.default
            for p in self.parameters
            if p.default is not inspect.Parameter.empty
            and p.name not in NOT_OPTIONS
            and p.name not in OPTIONAL_ARRAYS
        }


#: Every loss, in the order its family modules define them.
RECORDS: dict[str, LossRecord] = {}


def loss_record(
    *,
    cls: str,
    family: str,
    mean: str,
    means: tuple[str, ...] = ("mean",),
    streaming: Streaming = ELEMENTWISE,
    bench: str = "elementwise",
) -> Callable[[F], F]:
    """Decorate a loss function: fill its docstring and file its record."""
    if bench not in BENCH_KINDS:
        raise ValueError(f"bench must be one of {sorted(BENCH_KINDS)}, not {bench!r}")

    def register(function: F) -> F:
        fill(function)
        name = function.__name__
        if name in RECORDS:
            raise RuntimeError(f"anyloss: the loss {name} is recorded twice")
        RECORDS[name] = LossRecord(name, function, cls, family, mean, means, streaming, bench)
        return function

    return register


def find(key: Any) -> LossRecord:
    """The record of a loss given as its function, its name or its class name."""
    if isinstance(key, str):
        record = RECORDS.get(key) or next((r for r in RECORDS.values() if r.cls == key), None)
    else:
        record = next((r for r in RECORDS.values() if r.function is key), None)
    if record is None:
        known = ", ".join(RECORDS)
        raise ValueError(f"anyloss: {key!r} is not one of anyloss's losses ({known})")
    return record
