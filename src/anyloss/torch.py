"""torch ``nn.Module`` drop-ins for every anyloss class.

``from anyloss.torch import CrossEntropyLoss`` gives a subclass of
``torch.nn.modules.loss._Loss`` (``_WeightedLoss`` where torch's class is one) with torch's
constructor signature, attributes and ``weight``/``pos_weight`` buffers (moved by ``.to()``,
saved in ``state_dict``); it is also an instance of the framework-free class of the same name
(``isinstance(module, anyloss.CrossEntropyLoss)``).  Calling it calls the anyloss function.

Under ``torch.jit.script`` the ``forward`` compiles to the ``torch.nn.functional`` call that
anyloss's native path makes for torch tensors: TorchScript only sees tensors, and it cannot
compile anyloss's generic body (which looks its array library up at run time).  Every module
whose torch counterpart scripts scripts, and the scripted module saves and loads
(torch 2.13 deprecates ``torch.jit.script`` with a ``DeprecationWarning``).  torch's
``TripletMarginWithDistanceLoss`` (keyword-only constructor, a Python callable attribute) and
``GaussianNLLLoss`` (a comprehension TorchScript does not support) cannot be scripted, and
neither can these two.

>>> import torch, anyloss, anyloss.torch as alt
>>> loss = alt.CrossEntropyLoss(label_smoothing=0.1)
>>> isinstance(loss, torch.nn.modules.loss._WeightedLoss), isinstance(loss, anyloss.CrossEntropyLoss)
(True, True)
>>> logits, target = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), torch.tensor([2, 1])
>>> loss(logits, target)
tensor(0.9576)
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.modules.loss import _Loss, _WeightedLoss

from . import _registry
from . import losses as _losses
from .functional import linear_cross_entropy as _linear_cross_entropy

# One module per recorded loss, named as torch.nn names it.
__all__ = [record.cls for record in _registry.RECORDS.values()]

_BUFFERS = ("weight", "pos_weight")
# Module classes whose torch counterpart torch.jit.script cannot compile.
UNSCRIPTABLE = frozenset({"GaussianNLLLoss", "LinearCrossEntropyLoss", "TripletMarginWithDistanceLoss"})


class _DropIn(torch.nn.Module):
    """Construction shared by the drop-ins: the framework-free class sets the attributes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        torch.nn.Module.__init__(self)
        _settings(type(self)).__init__(self, *args, **kwargs)  # type: ignore[arg-type]
        for name in _BUFFERS:
            if name in self.__dict__:
                # torch registers these as buffers (None included: then not in state_dict).
                self.register_buffer(name, self.__dict__.pop(name))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        settings = _settings(cls)
        cls.__signature__ = inspect.signature(settings)  # type: ignore[attr-defined]
        cls.__doc__ = _docstring(cls.__name__, cls.__doc__ or "")


def _settings(cls: type) -> type[_losses.Loss]:
    """The framework-free class a drop-in extends."""
    return next(c for c in cls.__mro__ if issubclass(c, _losses.Loss) and not issubclass(c, torch.nn.Module))


# -- docstrings ---------------------------------------------------------------------------
_SECTION = re.compile(r"^(\w[\w ]*)\n-+\n", re.M)


def _sections(doc: str) -> dict[str, str]:
    """A numpydoc docstring cut at its section headers; the text before them is ``''``."""
    doc = inspect.cleandoc(doc)
    parts = _SECTION.split(doc)
    sections = {"": parts[0].strip()}
    for title, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[title] = body.strip("\n")
    return sections


def _entries(parameters: str) -> list[tuple[list[str], str]]:
    """The entries of a Parameters section: (names, text with continuation lines)."""
    entries: list[tuple[list[str], str]] = []
    for line in parameters.splitlines():
        if line and not line[0].isspace():
            names = [n.strip() for n in line.split(":", 1)[0].split(",")]
            entries.append((names, line))
        elif entries:
            entries[-1] = (entries[-1][0], entries[-1][1] + "\n" + line)
    return entries


def _docstring(cls_name: str, own: str) -> str:
    """The module's docstring: its own summary and example around its function's reference text.

    The function's extended summary (the formula), its constructor parameters and the
    shapes in its notes come from the function's docstring, so the two cannot disagree.
    """
    record = next(r for r in _registry.RECORDS.values() if r.cls == cls_name)
    mine = _sections(own)
    theirs = _sections(record.function.__doc__ or "")
    summary, _, extended = theirs[""].partition("\n\n")
    constructor = set(inspect.signature(getattr(_losses, cls_name)).parameters)
    params = []
    for names, text in _entries(theirs.get("Parameters", "")):
        if set(names) <= constructor:
            if set(names) & set(_BUFFERS):
                text += (
                    "\n    Registered as a buffer, as in torch: moved by ``.to()``, saved in ``state_dict``."
                )
            params.append(text)
    shapes = theirs.get("Notes", "").split("\n\n", 1)[0]
    if cls_name in UNSCRIPTABLE:
        script = f"torch's ``{cls_name}`` cannot be compiled by ``torch.jit.script``; neither can this one."
    else:
        script = (
            f"``torch.jit.script`` compiles it, as it does torch's ``{cls_name}``: the scripted\n"
            f"``forward`` is the ``{record.torch_function}`` call anyloss makes for torch tensors."
        )
    calling = (
        f"Calling the module returns :func:`anyloss.{record.name}` of its arguments with the\n"
        f"module's settings (``{summary.rstrip('.')}``), for the arrays of any library."
    )
    body = [
        mine[""],
        extended.strip(),
        "Parameters\n----------\n" + "\n".join(params),
        "Notes\n-----\n" + "\n\n".join(p for p in (calling, shapes, script) if p),
    ]
    if "Examples" in mine:
        body.append("Examples\n--------\n" + mine["Examples"])
    return "\n\n".join(b for b in body if b) + "\n"


# -- the modules --------------------------------------------------------------------------
class BCELoss(_DropIn, _WeightedLoss, _losses.BCELoss):
    """:func:`anyloss.binary_cross_entropy` as a drop-in for ``torch.nn.BCELoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.BCELoss()(torch.tensor([0.8, 0.3, 0.6]), torch.tensor([1.0, 0.0, 1.0]))
    tensor(0.3635)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)
        return _losses.BCELoss.forward(self, input, target)


class BCEWithLogitsLoss(_DropIn, _Loss, _losses.BCEWithLogitsLoss):
    """:func:`anyloss.binary_cross_entropy_with_logits` as a drop-in for ``torch.nn.BCEWithLogitsLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> loss = alt.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 1.0, 1.0]))
    >>> loss(torch.tensor([0.5, -1.5, 2.0]), torch.tensor([1.0, 0.0, 1.0]))
    tensor(0.4255)
    >>> sorted(loss.state_dict())
    ['pos_weight']
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.binary_cross_entropy_with_logits(
                input, target, self.weight, pos_weight=self.pos_weight, reduction=self.reduction
            )
        return _losses.BCEWithLogitsLoss.forward(self, input, target)


class SoftMarginLoss(_DropIn, _Loss, _losses.SoftMarginLoss):
    """:func:`anyloss.soft_margin_loss` as a drop-in for ``torch.nn.SoftMarginLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.SoftMarginLoss()(torch.tensor([0.5, -1.5, 2.0]), torch.tensor([1.0, -1.0, -1.0]))
    tensor(0.9341)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.soft_margin_loss(input, target, reduction=self.reduction)
        return _losses.SoftMarginLoss.forward(self, input, target)


class MultiLabelSoftMarginLoss(_DropIn, _WeightedLoss, _losses.MultiLabelSoftMarginLoss):
    """:func:`anyloss.multilabel_soft_margin_loss` as a drop-in for ``torch.nn.MultiLabelSoftMarginLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> x = torch.tensor([[0.5, -1.5, 2.0], [1.0, 0.0, -1.0]])
    >>> alt.MultiLabelSoftMarginLoss()(x, torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    tensor(0.5203)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.multilabel_soft_margin_loss(input, target, weight=self.weight, reduction=self.reduction)
        return _losses.MultiLabelSoftMarginLoss.forward(self, input, target)


class NLLLoss(_DropIn, _WeightedLoss, _losses.NLLLoss):
    """:func:`anyloss.nll_loss` as a drop-in for ``torch.nn.NLLLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> log_probs = torch.log_softmax(torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]), dim=1)
    >>> alt.NLLLoss(weight=torch.tensor([1.0, 1.0, 2.0]))(log_probs, torch.tensor([2, 0]))
    tensor(1.0743)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.nll_loss(
                input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction
            )
        return _losses.NLLLoss.forward(self, input, target)


class CrossEntropyLoss(_DropIn, _WeightedLoss, _losses.CrossEntropyLoss):
    """:func:`anyloss.cross_entropy` as a drop-in for ``torch.nn.CrossEntropyLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> logits = torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    >>> alt.CrossEntropyLoss()(logits, torch.tensor([2, 0]))
    tensor(1.4076)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.cross_entropy(
                input,
                target,
                weight=self.weight,
                ignore_index=self.ignore_index,
                reduction=self.reduction,
                label_smoothing=self.label_smoothing,
            )
        return _losses.CrossEntropyLoss.forward(self, input, target)


class CTCLoss(_DropIn, _Loss, _losses.CTCLoss):
    """:func:`anyloss.ctc_loss` as a drop-in for ``torch.nn.CTCLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> log_probs = torch.log_softmax(torch.arange(24.0).reshape(4, 1, 6).sin(), dim=2)
    >>> alt.CTCLoss()(log_probs, torch.tensor([[1, 2]]), torch.tensor([4]), torch.tensor([2]))
    tensor(1.5935)
    """

    def forward(
        self, log_probs: Tensor, targets: Tensor, input_lengths: Tensor, target_lengths: Tensor
    ) -> Tensor:
        if torch.jit.is_scripting():
            return F.ctc_loss(
                log_probs,
                targets,
                input_lengths,
                target_lengths,
                self.blank,
                self.reduction,
                self.zero_infinity,
            )
        return _losses.CTCLoss.forward(self, log_probs, targets, input_lengths, target_lengths)


class MarginRankingLoss(_DropIn, _Loss, _losses.MarginRankingLoss):
    """:func:`anyloss.margin_ranking_loss` as a drop-in for ``torch.nn.MarginRankingLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> x1, x2 = torch.tensor([0.5, -1.5, 2.0]), torch.tensor([1.0, 0.0, 1.0])
    >>> alt.MarginRankingLoss(margin=0.5)(x1, x2, torch.tensor([1.0, -1.0, 1.0]))
    tensor(0.3333)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)
        return _losses.MarginRankingLoss.forward(self, input1, input2, target)


class HingeEmbeddingLoss(_DropIn, _Loss, _losses.HingeEmbeddingLoss):
    """:func:`anyloss.hinge_embedding_loss` as a drop-in for ``torch.nn.HingeEmbeddingLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.HingeEmbeddingLoss()(torch.tensor([0.5, 1.5, 0.2]), torch.tensor([1.0, -1.0, -1.0]))
    tensor(0.4333)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)
        return _losses.HingeEmbeddingLoss.forward(self, input, target)


class CosineEmbeddingLoss(_DropIn, _Loss, _losses.CosineEmbeddingLoss):
    """:func:`anyloss.cosine_embedding_loss` as a drop-in for ``torch.nn.CosineEmbeddingLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> x1, x2 = torch.tensor([[1.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    >>> alt.CosineEmbeddingLoss()(x1, x2, torch.tensor([1, -1]))
    tensor(0.8536)
    """

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.cosine_embedding_loss(
                input1, input2, target, margin=self.margin, reduction=self.reduction
            )
        return _losses.CosineEmbeddingLoss.forward(self, input1, input2, target)


class TripletMarginLoss(_DropIn, _Loss, _losses.TripletMarginLoss):
    """:func:`anyloss.triplet_margin_loss` as a drop-in for ``torch.nn.TripletMarginLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> anchor, positive = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 1.0], [1.0, 2.0]])
    >>> alt.TripletMarginLoss()(anchor, positive, torch.tensor([[1.0, 0.0], [3.0, 1.0]]))
    tensor(0.5000)
    """

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.triplet_margin_loss(
                anchor,
                positive,
                negative,
                margin=self.margin,
                p=self.p,
                eps=self.eps,
                swap=self.swap,
                reduction=self.reduction,
            )
        return _losses.TripletMarginLoss.forward(self, anchor, positive, negative)


class TripletMarginWithDistanceLoss(_DropIn, _Loss, _losses.TripletMarginWithDistanceLoss):
    """:func:`anyloss.triplet_margin_with_distance_loss` as a drop-in for
    ``torch.nn.TripletMarginWithDistanceLoss`` (keyword-only arguments).

    Without ``distance_function`` the attribute holds the array-API version of torch's
    ``pairwise_distance``, where torch's holds a ``PairwiseDistance()`` module.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> anchor, positive = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[0.0, 1.0], [1.0, 2.0]])
    >>> loss = alt.TripletMarginWithDistanceLoss(distance_function=lambda a, b: (a - b).abs().sum(-1))
    >>> loss(anchor, positive, torch.tensor([[1.0, 0.0], [3.0, 1.0]]))
    tensor(0.5000)
    """

    forward = _losses.TripletMarginWithDistanceLoss.forward


class PoissonNLLLoss(_DropIn, _Loss, _losses.PoissonNLLLoss):
    """:func:`anyloss.poisson_nll_loss` as a drop-in for ``torch.nn.PoissonNLLLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.PoissonNLLLoss()(torch.tensor([0.5, -1.5, 2.0]), torch.tensor([1.0, 0.0, 3.0]))
    tensor(0.9203)
    """

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.poisson_nll_loss(
                log_input,
                target,
                log_input=self.log_input,
                full=self.full,
                eps=self.eps,
                reduction=self.reduction,
            )
        return _losses.PoissonNLLLoss.forward(self, log_input, target)


class GaussianNLLLoss(_DropIn, _Loss, _losses.GaussianNLLLoss):
    """:func:`anyloss.gaussian_nll_loss` as a drop-in for ``torch.nn.GaussianNLLLoss``
    (keyword-only arguments).

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> x, t = torch.tensor([0.5, -1.5, 2.0]), torch.tensor([1.0, 0.0, 3.0])
    >>> alt.GaussianNLLLoss()(x, t, torch.tensor([1.0, 2.0, 0.5]))
    tensor(0.5625)
    """

    forward = _losses.GaussianNLLLoss.forward


class KLDivLoss(_DropIn, _Loss, _losses.KLDivLoss):
    """:func:`anyloss.kl_div` as a drop-in for ``torch.nn.KLDivLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> log_q = torch.log(torch.tensor([[0.2, 0.3, 0.5]]))
    >>> alt.KLDivLoss(reduction="batchmean")(log_q, torch.tensor([[0.1, 0.6, 0.3]]))
    tensor(0.1933)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
        return _losses.KLDivLoss.forward(self, input, target)


class MultiMarginLoss(_DropIn, _WeightedLoss, _losses.MultiMarginLoss):
    """:func:`anyloss.multi_margin_loss` as a drop-in for ``torch.nn.MultiMarginLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> alt.MultiMarginLoss()(x, torch.tensor([3]))
    tensor(0.3250)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.multi_margin_loss(
                input, target, p=self.p, margin=self.margin, weight=self.weight, reduction=self.reduction
            )
        return _losses.MultiMarginLoss.forward(self, input, target)


class MultiLabelMarginLoss(_DropIn, _Loss, _losses.MultiLabelMarginLoss):
    """:func:`anyloss.multilabel_margin_loss` as a drop-in for ``torch.nn.MultiLabelMarginLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> x = torch.tensor([[0.1, 0.2, 0.4, 0.8]])
    >>> alt.MultiLabelMarginLoss()(x, torch.tensor([[3, 0, -1, 1]]))
    tensor(0.8500)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.multilabel_margin_loss(input, target, reduction=self.reduction)
        return _losses.MultiLabelMarginLoss.forward(self, input, target)


class L1Loss(_DropIn, _Loss, _losses.L1Loss):
    """:func:`anyloss.l1_loss` as a drop-in for ``torch.nn.L1Loss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.L1Loss()(torch.tensor([2.0, 3.0, 4.0]), torch.tensor([2.5, 3.5, 5.0]))
    tensor(0.6667)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.l1_loss(input, target, reduction=self.reduction)
        return _losses.L1Loss.forward(self, input, target)


class MSELoss(_DropIn, _Loss, _losses.MSELoss):
    """:func:`anyloss.mse_loss` as a drop-in for ``torch.nn.MSELoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.MSELoss()(torch.tensor([2.0, 3.0, 4.0]), torch.tensor([2.5, 3.5, 4.5]))
    tensor(0.2500)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.mse_loss(input, target, reduction=self.reduction)
        return _losses.MSELoss.forward(self, input, target)


class SmoothL1Loss(_DropIn, _Loss, _losses.SmoothL1Loss):
    """:func:`anyloss.smooth_l1_loss` as a drop-in for ``torch.nn.SmoothL1Loss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.SmoothL1Loss(beta=0.5)(torch.tensor([2.0, 3.0, 4.0]), torch.tensor([2.5, 3.5, 5.0]))
    tensor(0.4167)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)
        return _losses.SmoothL1Loss.forward(self, input, target)


class HuberLoss(_DropIn, _Loss, _losses.HuberLoss):
    """:func:`anyloss.huber_loss` as a drop-in for ``torch.nn.HuberLoss``.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> alt.HuberLoss(delta=0.5)(torch.tensor([2.0, 3.0, 4.0]), torch.tensor([2.5, 3.5, 5.0]))
    tensor(0.2083)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)
        return _losses.HuberLoss.forward(self, input, target)


class LinearCrossEntropyLoss(_WeightedLoss):
    """:func:`anyloss.linear_cross_entropy` as a drop-in for ``torch.nn.LinearCrossEntropyLoss``.

    The module owns its layer as torch's does: ``self.linear``, an ``nn.Linear(in_features,
    num_classes * prod(out_features), bias=bias)`` whose weight (and bias) ``forward`` reshapes
    to ``(C, d1, ..., dK, H)`` (and ``(C, d1, ..., dK)``), so ``state_dict`` keys, shapes and
    values load from and into torch's module.  As torch's, it is a
    ``torch.nn.modules.loss._WeightedLoss``; unlike the other drop-ins it is not an instance
    of the framework-free :class:`anyloss.LinearCrossEntropyLoss`, which owns no layer and
    takes the weight at call time.

    Parameters
    ----------
    in_features : int
        Size of each input row, ``H``.
    num_classes : int
        Number of classes, ``C``.
    out_features : tuple of int, default ()
        ``(d1, ..., dK)`` for the K-dimensional loss; the target then has shape
        ``(N, d1, ..., dK)``.
    bias : bool, default False
        Whether the layer adds a learnable bias to the logits.
    device, dtype : optional
        Where, and in which dtype, the layer's parameters are made.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        As :func:`anyloss.linear_cross_entropy`.
    weight : Tensor, optional
        Class weights, shape ``(C,)``.  Registered as a buffer, as in torch: moved by
        ``.to()``, saved in ``state_dict``.
    ignore_index : int, optional
        The ignored class index; ``None`` means -100 for class-index targets and is the
        only value probability targets accept, as in torch.
    label_smoothing : float, default 0.0
        In ``[0, 1]``.
    options : torch.nn.LinearCrossEntropyOptions, optional
        torch's options: ``batch_chunk_size`` sets anyloss's chunk and
        ``allow_retain_graph`` a second backward pass (see
        :func:`anyloss.linear_cross_entropy`).
    z_loss, softcap, chunk_size : keyword-only, beyond torch
        As :func:`anyloss.linear_cross_entropy`.

    Notes
    -----
    ``forward(input, target)`` takes ``input`` ``(N, H)`` or ``(H,)`` and the target of
    :func:`anyloss.linear_cross_entropy`; the ``(N, C)`` logits are never made.
    ``torch.jit.script`` cannot compile torch's module (it holds an options dataclass);
    neither can this one.

    Examples
    --------
    >>> import torch, anyloss.torch as alt
    >>> _ = torch.manual_seed(0)
    >>> ours, torchs = alt.LinearCrossEntropyLoss(4, 3), torch.nn.LinearCrossEntropyLoss(4, 3)
    >>> _ = ours.load_state_dict(torchs.state_dict())
    >>> x, t = torch.randn(2, 4), torch.tensor([0, 2])
    >>> bool(ours(x, t) == torchs(x, t))
    True
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        device: Any = None,
        dtype: Any = None,
        reduction: str = "mean",
        weight: Any = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        options: Any = None,
        z_loss: float = 0.0,
        softcap: float | None = None,
        chunk_size: int | None = None,
    ) -> None:
        if weight is not None and weight.shape != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        # torch's _WeightedLoss registers ``weight`` as a buffer and sets ``reduction``.
        super().__init__(weight, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = torch.nn.Linear(
            in_features, math.prod(out_features, start=num_classes), bias=bias, device=device, dtype=dtype
        )
        self.options = options
        self.z_loss, self.softcap, self.chunk_size = z_loss, softcap, chunk_size

    def forward(self, input: Any, target: Any) -> Any:
        shape = (self.num_classes, *self.out_features)
        bias = self.linear.bias
        return _linear_cross_entropy(
            input,
            self.linear.weight.reshape((*shape, self.linear.in_features)),
            target,
            linear_bias=None if bias is None else bias.reshape(shape),
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
            options=self.options,
            z_loss=self.z_loss,
            softcap=self.softcap,
            chunk_size=self.chunk_size,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.linear.in_features},"
            f" num_classes={self.num_classes},"
            f" out_features={self.out_features},"
            f" bias={self.linear.bias is not None},"
            f" reduction={self.reduction},"
            f" ignore_index={self.ignore_index},"
            f" label_smoothing={self.label_smoothing},"
            f" options={self.options}"
        )
