"""Migration tables: the same inputs through torch, anyloss, optax and Keras 3.

Every number on the migration page comes from running the code shown beside it; the code
strings below are evaluated as they are printed.  MindSpore needs an environment of its own
(NumPy 1.x), so its page is rendered from ``mindspore_measured.json``, the record of a run of
``mindspore_table.py`` there (``make mindspore-table``), with the versions it ran with.

Run as ``python docs/scripts/migration.py OUTDIR`` (the docs build does this).  It writes
``migration.md`` (the whole guide's tables) and ``migration-<loss>.md`` for each loss page.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import sys
import warnings
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")

from mindspore_table import KINDS  # noqa: E402 - how a kind of difference is named

#: torch loss -> MindSpore's class, function and how they differ (a category)
MINDSPORE = Path(__file__).resolve().with_name("mindspore.csv")
#: the run of mindspore_table.py that the MindSpore page is made from
MEASURED = Path(__file__).resolve().with_name("mindspore_measured.json")


@dataclasses.dataclass
class Comparison:
    loss: str  # torch.nn.functional's name
    title: str
    setup: str  # Python defining the NumPy inputs
    calls: list[tuple[str, str]]  # (library, expression)
    differs: str  # what the other libraries do differently, as the numbers show


COMPARISONS = [
    Comparison(
        "mse_loss",
        "mean squared error",
        "x = np.array([[0.5, 1.5, 2.0], [1.0, -1.0, 0.0]], dtype=np.float32)\n"
        "t = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)",
        [
            ("torch", "F.mse_loss(torch.from_numpy(x), torch.from_numpy(t))"),
            ("anyloss", "al.mse_loss(x, t)"),
            ("optax", "optax.losses.squared_error(x, t).mean()"),
            ("optax", "optax.losses.l2_loss(x, t).mean()"),
            ("Keras", "keras.losses.MeanSquaredError()(t, x)"),
        ],
        "optax returns the elementwise loss (reduce it yourself), and its `l2_loss` is half"
        " the squared error.  Keras takes `(y_true, y_pred)`, the target first.",
    ),
    Comparison(
        "l1_loss",
        "mean absolute error",
        "x = np.array([[0.5, 1.5, 2.0], [1.0, -1.0, 0.0]], dtype=np.float32)\n"
        "t = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], dtype=np.float32)",
        [
            ("torch", "F.l1_loss(torch.from_numpy(x), torch.from_numpy(t))"),
            ("anyloss", "al.l1_loss(x, t)"),
            ("Keras", "keras.losses.MeanAbsoluteError()(t, x)"),
        ],
        "optax has no L1 loss.  Keras averages over the last axis, then over the batch"
        " (the same number as torch's mean when every row has the same length) and takes"
        " the target first.",
    ),
    Comparison(
        "huber_loss",
        "Huber loss, delta = 0.5",
        "x = np.array([0.1, 0.4, 1.0, -2.0], dtype=np.float32)\nt = np.zeros(4, dtype=np.float32)",
        [
            ("torch", "F.huber_loss(torch.from_numpy(x), torch.from_numpy(t), delta=0.5)"),
            ("anyloss", "al.huber_loss(x, t, delta=0.5)"),
            ("optax", "optax.losses.huber_loss(x, t, delta=0.5).mean()"),
            ("Keras", "keras.losses.Huber(delta=0.5)(t, x)"),
        ],
        "The same formula everywhere; optax does not reduce, Keras takes the target first.",
    ),
    Comparison(
        "smooth_l1_loss",
        "smooth L1, beta = 0.5",
        "x = np.array([0.1, 0.4, 1.0, -2.0], dtype=np.float32)\nt = np.zeros(4, dtype=np.float32)",
        [
            ("torch", "F.smooth_l1_loss(torch.from_numpy(x), torch.from_numpy(t), beta=0.5)"),
            ("anyloss", "al.smooth_l1_loss(x, t, beta=0.5)"),
            ("optax", "optax.losses.huber_loss(x, t, delta=0.5).mean() / 0.5"),
            ("Keras", "keras.losses.Huber(delta=0.5)(t, x) / 0.5"),
        ],
        "Neither optax nor Keras has smooth L1; it is the Huber loss divided by `beta`.",
    ),
    Comparison(
        "cross_entropy",
        "class indices",
        "x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.3, 2.2, 1.0], [1.5, -0.5, 0.0, 0.2]],"
        " dtype=np.float32)\n"
        "t = np.array([0, 3, 1])",
        [
            ("torch", "F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t))"),
            ("anyloss", "al.cross_entropy(x, t)"),
            ("optax", "optax.losses.softmax_cross_entropy_with_integer_labels(x, t).mean()"),
            ("Keras", "keras.losses.SparseCategoricalCrossentropy(from_logits=True)(t, x)"),
        ],
        "The same number; optax gives one loss per row, Keras needs `from_logits=True`"
        " for logits (its default expects probabilities).",
    ),
    Comparison(
        "cross_entropy",
        "ignore_index",
        "x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.3, 2.2, 1.0], [1.5, -0.5, 0.0, 0.2]],"
        " dtype=np.float32)\n"
        "t = np.array([0, -100, 1])",
        [
            ("torch", "F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t))"),
            ("anyloss", "al.cross_entropy(x, t)"),
            ("optax", "optax.losses.softmax_cross_entropy_with_integer_labels(x, t).mean()"),
            (
                "Keras",
                "keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-100)(t, x)",
            ),
        ],
        "torch (and anyloss) skip targets equal to `ignore_index` (default −100) and average"
        " over the others.  optax has no `ignore_index`: what it gives for an out-of-range"
        " label is shown.  Keras's `ignore_class` must be set explicitly.",
    ),
    Comparison(
        "cross_entropy",
        "label_smoothing = 0.1",
        "x = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, 0.3, 2.2, 1.0], [1.5, -0.5, 0.0, 0.2]],"
        " dtype=np.float32)\n"
        "t = np.array([0, 3, 1])\n"
        "onehot = np.eye(4, dtype=np.float32)[t]",
        [
            ("torch", "F.cross_entropy(torch.from_numpy(x), torch.from_numpy(t), label_smoothing=0.1)"),
            ("anyloss", "al.cross_entropy(x, t, label_smoothing=0.1)"),
            ("optax", "optax.losses.softmax_cross_entropy(x, optax.smooth_labels(onehot, 0.1)).mean()"),
            (
                "Keras",
                "keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(onehot, x)",
            ),
        ],
        "optax and Keras smooth one-hot targets (Keras's sparse loss has no"
        " `label_smoothing`); torch takes class indices directly.",
    ),
    Comparison(
        "binary_cross_entropy",
        "probabilities at 0 and 1",
        "p = np.array([0.0, 0.3, 0.9], dtype=np.float32)\ny = np.array([1.0, 0.0, 1.0], dtype=np.float32)",
        [
            ("torch", "F.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(y))"),
            ("anyloss", "al.binary_cross_entropy(p, y)"),
            ("Keras", "keras.losses.BinaryCrossentropy()(y, p)"),
        ],
        "torch clamps each log at −100, so a probability of exactly 0 for a positive"
        " target costs 100; Keras clips probabilities to [1e-7, 1 − 1e-7] first, so the"
        " same element costs about 16.1.  optax has no BCE on probabilities.",
    ),
    Comparison(
        "binary_cross_entropy_with_logits",
        "logits",
        "x = np.array([-2.0, 0.5, 3.0, 0.0], dtype=np.float32)\n"
        "y = np.array([0.0, 1.0, 1.0, 0.3], dtype=np.float32)",
        [
            ("torch", "F.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(y))"),
            ("anyloss", "al.binary_cross_entropy_with_logits(x, y)"),
            ("optax", "optax.losses.sigmoid_binary_cross_entropy(x, y).mean()"),
            ("Keras", "keras.losses.BinaryCrossentropy(from_logits=True)(y, x)"),
        ],
        "The same number; neither optax nor Keras has torch's `pos_weight` or `weight`.",
    ),
    Comparison(
        "kl_div",
        "KL divergence",
        "logq = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], dtype=np.float32))\n"
        "p = np.array([[0.1, 0.1, 0.8], [0.5, 0.25, 0.25]], dtype=np.float32)",
        [
            ("torch", "F.kl_div(torch.from_numpy(logq), torch.from_numpy(p))"),
            ("torch", "F.kl_div(torch.from_numpy(logq), torch.from_numpy(p), reduction='batchmean')"),
            ("anyloss", "al.kl_div(logq, p, reduction='batchmean')"),
            ("optax", "optax.losses.kl_divergence(logq, p).mean()"),
            ("Keras", "keras.losses.KLDivergence()(p, np.exp(logq))"),
        ],
        "torch's input is log-probabilities and its default 'mean' divides by every element"
        " (batch × classes); 'batchmean' is the KL divergence per sample, which is what"
        " optax (log-predictions, summed over the last axis) and Keras (probabilities for"
        " both, clipped to [1e-7, 1]) give.",
    ),
    Comparison(
        "poisson_nll_loss",
        "rates, not log-rates",
        "rate = np.array([0.0, 0.5, 2.0], dtype=np.float32)\ny = np.array([1.0, 0.0, 3.0], dtype=np.float32)",
        [
            ("torch", "F.poisson_nll_loss(torch.from_numpy(rate), torch.from_numpy(y), log_input=False)"),
            ("anyloss", "al.poisson_nll_loss(rate, y, log_input=False)"),
            ("Keras", "keras.losses.Poisson()(y, rate)"),
        ],
        "torch's default `log_input=True` takes log-rates; with rates, torch adds"
        " `eps=1e-8` inside the log and Keras adds 1e-7, which shows where a rate is 0."
        "  optax has no Poisson loss.",
    ),
    Comparison(
        "soft_margin_loss",
        "labels ±1",
        "x = np.array([-2.0, 0.5, 3.0, 0.0], dtype=np.float32)\n"
        "y = np.array([-1.0, 1.0, -1.0, 1.0], dtype=np.float32)",
        [
            ("torch", "F.soft_margin_loss(torch.from_numpy(x), torch.from_numpy(y))"),
            ("anyloss", "al.soft_margin_loss(x, y)"),
            ("optax", "optax.losses.sigmoid_binary_cross_entropy(x, (y + 1) / 2).mean()"),
        ],
        "log(1 + exp(−y·x)) is the logistic loss: optax's sigmoid BCE with labels mapped"
        " from ±1 to 0/1.  Keras's `Hinge` is a different loss (max(0, 1 − y·x)).",
    ),
    Comparison(
        "multilabel_soft_margin_loss",
        "multi-label logits",
        "x = np.array([[-2.0, 0.5, 3.0], [1.0, 0.0, -1.0]], dtype=np.float32)\n"
        "y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=np.float32)",
        [
            ("torch", "F.multilabel_soft_margin_loss(torch.from_numpy(x), torch.from_numpy(y))"),
            ("anyloss", "al.multilabel_soft_margin_loss(x, y)"),
            ("optax", "optax.losses.sigmoid_binary_cross_entropy(x, y).mean()"),
            ("Keras", "keras.losses.BinaryCrossentropy(from_logits=True)(y, x)"),
        ],
        "The same number: the mean over classes of the sigmoid BCE, then over the batch.",
    ),
    Comparison(
        "multi_margin_loss",
        "multi-class hinge",
        "x = np.array([[0.1, 0.2, 0.4, 0.8], [1.0, 0.5, -0.5, 0.0]], dtype=np.float32)\n"
        "t = np.array([3, 1])\n"
        "onehot = np.eye(4, dtype=np.float32)[t]",
        [
            ("torch", "F.multi_margin_loss(torch.from_numpy(x), torch.from_numpy(t))"),
            ("anyloss", "al.multi_margin_loss(x, t)"),
            ("optax", "optax.losses.multiclass_hinge_loss(x, t).mean()"),
            ("Keras", "keras.losses.CategoricalHinge()(onehot, x)"),
        ],
        "torch sums the hinge over every wrong class and divides by the number of classes;"
        " optax and Keras take the largest wrong class only (Crammer–Singer), so the"
        " numbers differ.",
    ),
    Comparison(
        "cosine_embedding_loss",
        "similar pairs (y = 1)",
        "a = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]], dtype=np.float32)\n"
        "b = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]], dtype=np.float32)\n"
        "y = np.array([1.0, 1.0], dtype=np.float32)",
        [
            (
                "torch",
                "F.cosine_embedding_loss(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(y))",
            ),
            ("anyloss", "al.cosine_embedding_loss(a, b, y)"),
            ("optax", "optax.losses.cosine_distance(a, b).mean()"),
            ("Keras", "keras.losses.CosineSimilarity()(a, b)"),
        ],
        "For y = 1 torch's loss is 1 − cos, optax's `cosine_distance`; Keras gives −cos"
        " (its loss is the negative similarity).  Only torch has the y = −1 margin branch.",
    ),
    Comparison(
        "triplet_margin_loss",
        "triplets, p = 2",
        "a = np.array([[0.0, 1.0], [1.0, 1.0]], dtype=np.float32)\n"
        "pos = np.array([[0.0, 1.5], [1.0, 1.0]], dtype=np.float32)\n"
        "neg = np.array([[1.0, 1.0], [1.2, 1.0]], dtype=np.float32)",
        [
            (
                "torch",
                "F.triplet_margin_loss(torch.from_numpy(a), torch.from_numpy(pos), torch.from_numpy(neg))",
            ),
            ("anyloss", "al.triplet_margin_loss(a, pos, neg)"),
            ("optax", "optax.losses.triplet_margin_loss(a, pos, neg).mean()"),
        ],
        "torch adds `eps=1e-6` to each difference before the norm; optax adds it to the"
        " sum of powers, which shows when an anchor equals its positive.  Keras has no"
        " triplet loss.",
    ),
    Comparison(
        "ctc_loss",
        "CTC, blank = 0",
        "rng = np.random.default_rng(0)\n"
        "logits = rng.normal(size=(2, 6, 4)).astype(np.float32)  # batch, time, classes\n"
        "labels = np.array([[1, 2, 2], [3, 1, 0]])  # 0 pads the second label sequence\n"
        "lengths = np.array([3, 2])\n"
        "logp = np.moveaxis(np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)),"
        " 1, 0)  # time first, as torch\n"
        "frames = np.array([6, 6])",
        [
            (
                "torch",
                "F.ctc_loss(torch.from_numpy(logp), torch.from_numpy(labels),"
                " torch.from_numpy(frames), torch.from_numpy(lengths))",
            ),
            (
                "torch",
                "F.ctc_loss(torch.from_numpy(logp), torch.from_numpy(labels),"
                " torch.from_numpy(frames), torch.from_numpy(lengths), reduction='sum')",
            ),
            ("anyloss", "al.ctc_loss(logp, labels, frames, lengths)"),
            (
                "optax",
                "optax.losses.ctc_loss(logits, np.zeros((2, 6)), labels,"
                " (labels == 0).astype(np.float32)).sum()",
            ),
            ("Keras", "keras.losses.CTC()(labels, logits)"),
        ],
        "torch takes log-probabilities time-first `(T, N, C)` and its 'mean' divides each"
        " sequence's loss by its target length before averaging; optax and Keras take"
        " logits batch-first and give the per-sequence negative log-likelihood (optax"
        " with padding masks, Keras averaging over the batch), like torch's 'sum' / N.",
    ),
]


def _namespace() -> dict:
    import keras
    import numpy as np
    import optax
    import torch
    import torch.nn.functional as F

    import anyloss as al

    return {"np": np, "torch": torch, "F": F, "al": al, "optax": optax, "keras": keras}


def _number(value) -> str:
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().numpy()
    value = float(np.asarray(value))
    return f"{value:.6g}"


def _available(expression: str, names: set[str]) -> bool:
    used = re.findall(r"\bal\.(\w+)", expression)
    return all(name in names for name in used)


def run(comparison: Comparison, names: set[str]) -> list[tuple[str, str, str]]:
    namespace = _namespace()
    exec(comparison.setup, namespace)  # noqa: S102 - the code shown on the page
    rows = []
    for library, expression in comparison.calls:
        if not _available(expression, names):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                value = _number(eval(expression, namespace))  # noqa: S307
            except Exception as exc:  # noqa: BLE001 - the error is what the library does
                value = f"{type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
        rows.append((library, expression, value))
    return rows


def versions() -> str:
    import keras
    import optax
    import torch

    import anyloss

    return (
        f"torch {torch.__version__}, anyloss {anyloss.__version__},"
        f" optax {optax.__version__}, Keras {keras.__version__}"
        f" (backend {keras.backend.backend()})"
    )


def render_comparison(comparison: Comparison, rows: list, level: str = "###") -> str:
    lines = [
        f"{level} `{comparison.loss}`: {comparison.title}",
        "",
        "```python",
        comparison.setup,
        "```",
        "",
        "| library | call | value |",
        "| --- | --- | --- |",
    ]
    for library, expression, value in rows:
        lines.append(f"| {library} | `{expression}` | {value} |")
    lines += ["", comparison.differs, ""]
    return "\n".join(lines)


def mindspore_rows() -> list[dict[str, str]]:
    """The rows of ``mindspore.csv``: torch's functional name and MindSpore's names."""
    with MINDSPORE.open(newline="") as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def mindspore_measured() -> dict | None:
    """The run of ``mindspore_table.py`` (MindSpore's environment), when one was recorded."""
    return json.loads(MEASURED.read_text()) if MEASURED.exists() else None


def _form_cell(entry: dict | None) -> str:
    """How one MindSpore form (or anyloss on MindSpore) fares against torch on a loss's cases."""
    if entry is None:
        return "–"
    compared = entry["cases"] - entry["inexpressible"] - entry["unsupported"]
    differ = [(KINDS[k], entry[k][0]) for k in KINDS if k in entry]
    mark = "✓" if not differ and compared else "✗"
    text = f"{mark} {entry['match']} of {compared}"
    if differ:
        text += ": " + ", ".join(f"{n} {what}" for what, n in differ)
    if entry["inexpressible"]:
        options = ", ".join(f"`{o}`" for o in entry["options"])
        text += f" ({entry['inexpressible']} more use {options}, which it lacks)"
    return text


def render_mindspore(rows: list[dict[str, str]], measured: dict, only: str | None = None) -> str:
    """The summary table (one row per loss) and, per loss, one case of each kind of difference."""
    losses = measured["losses"]
    lines = [
        "| torch | `mindspore.ops` | `mindspore.nn` | anyloss on MindSpore |",
        "| --- | --- | --- | --- |",
    ]
    details = []
    for row in rows:
        loss = row["torch"]
        if only is not None and loss != only:
            continue
        forms = losses.get(loss, {})
        ops = "no function" if row["ops"] == "-" else f"`{row['ops']}`: {_form_cell(forms.get('ops'))}"
        nn = f"`{row['nn']}`: {_form_cell(forms.get('nn'))}"
        lines.append(f"| `{loss}` | {ops} | {nn} | {_form_cell(forms.get('anyloss'))} |")
        examples = []
        for form, name in (("ops", row["ops"]), ("nn", row["nn"])):
            for kind, what in KINDS.items():
                if kind in forms.get(form, {}):
                    _, case, detail = forms[form][kind]
                    examples.append(f"- `mindspore.{form}.{name}`, {what}, case `{case}`: {detail}")
        if examples:
            details += ["", f"**`{loss}`**", "", *examples]
    return "\n".join([":::{container} prose-table", *lines, ":::", *details])


def _measured_with(measured: dict) -> str:
    v = measured["versions"]
    return (
        f"measured with MindSpore {v['mindspore']} (CPU, PyNative mode)"
        f" against torch {v['torch']} on {v['date']}"
    )


def _mindspore_page(rows: list[dict[str, str]], measured: dict) -> str:
    return "\n".join(
        [
            f"Every case of the test tables, {_measured_with(measured)} by"
            " `docs/scripts/mindspore_table.py` (`make mindspore-table`).  A cell counts the"
            " cases where the form gives torch's value (within the test suite's tolerance) in"
            " torch's dtype, or refuses the call as torch does, out of the cases it can"
            " express; it names the other kinds of result, and the cases that use an option the"
            " form has no parameter for.  A form that returns a tuple (`ops.ctc_loss` returns"
            " the loss and its `log_alpha`) is compared by its first element.  Some of"
            " MindSpore's results depend on what ran before them in the process (after a kernel"
            " fails, later calls of it can fail too), so a rerun can move a count by one or two;"
            " anyloss runs in a process of its own.  The ✗ of anyloss"
            " on MindSpore are cases where MindSpore's CPU kernels fall short (bfloat16"
            " comparisons and absolute values, float64 arithmetic with Python constants rounded"
            " to float32), listed in [Backends](backends.md) and expected failures of its"
            " tests.",
            "",
            render_mindspore(rows, measured),
            "",
        ]
    )


def main(argv: list[str]) -> int:
    import anyloss

    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    names = set(anyloss.functional.__all__)
    header = "<!-- generated by docs/scripts/migration.py; do not edit -->\n\n"
    parts = [
        header,
        f"Measured with {versions()} when these docs were built; values are"
        " rounded to 6 significant digits.\n",
    ]
    per_loss: dict[str, list[str]] = {}
    for comparison in COMPARISONS:
        rows = run(comparison, names)
        parts.append(render_comparison(comparison, rows))
        per_loss.setdefault(comparison.loss, []).append(render_comparison(comparison, rows, level="###"))
    ms, measured = mindspore_rows(), mindspore_measured()
    if measured is not None:
        (out / "mindspore.md").write_text(header + _mindspore_page(ms, measured))
    (out / "migration.md").write_text("\n".join(parts))
    for loss in names:
        text = "\n".join(per_loss.get(loss, []))
        ms_rows = render_mindspore(ms, measured, only=loss) if measured and loss in measured["losses"] else ""
        if ms_rows:
            where = f"{_measured_with(measured)}; see [torch ↔ MindSpore](../../mindspore.md)"
            text += f"\n\nMindSpore ({where}):\n\n{ms_rows}\n"
        (out / f"migration-{loss}.md").write_text(
            header + (text or "No measured comparison for this loss yet.\n")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
