"""The JAX kernel of linear_cross_entropy against torch's cross_entropy(linear(...)): values and
gradients for every option, under jit, grad, value_and_grad and vmap, and its memory."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anyloss._backends import backend_for
from support import backends as _beds  # noqa: F401  (switches jax_enable_x64 on)

KERNEL = backend_for(jnp).linear_cross_entropy_rows  # type: ignore[attr-defined]
N, H, C = 13, 7, 11
TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-5)}


def _inputs(
    dtype: Any, *, probabilities: bool, ignore_index: int = -100, seed: int = 0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, H)).astype(dtype)
    w = rng.standard_normal((C, H)).astype(dtype)
    if probabilities:
        t = rng.random((N, C)).astype(dtype)
        t /= t.sum(axis=1, keepdims=True)
    else:
        t = rng.integers(0, C, N)
        t[[3, 7]] = ignore_index
    return dict(x=x, w=w, t=t, b=rng.standard_normal(C).astype(dtype), cw=(rng.random(C) + 0.5).astype(dtype))


def _torch_reference(
    a: dict[str, Any],
    *,
    bias: bool,
    weighted: bool,
    ignore_index: int,
    smoothing: float,
    probabilities: bool,
    summed: bool,
    softcap: float | None = None,
    z_loss: float = 0.0,
) -> tuple[Any, tuple[Any, ...], Any]:
    """torch's loss (and gradients by autograd); z-loss and soft cap written out explicitly."""
    x, w, b = (torch.tensor(a[k], requires_grad=True) for k in ("x", "w", "b"))
    # torch differentiates the class weight with probability targets only.
    cw = torch.tensor(a["cw"], requires_grad=probabilities)
    t = torch.tensor(a["t"], requires_grad=probabilities)
    z = F.linear(x, w, b if bias else None)
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    kwargs: dict[str, Any] = dict(
        weight=cw if weighted else None, label_smoothing=smoothing, reduction="none"
    )
    if not probabilities:
        kwargs["ignore_index"] = ignore_index
    loss = F.cross_entropy(z, t, **kwargs)
    if z_loss:
        lse = torch.logsumexp(z, dim=1)
        keep = torch.ones_like(lse) if probabilities else (t != ignore_index).to(lse.dtype)
        loss = loss + z_loss * lse**2 * keep
    if summed:
        loss = loss.sum()
    inputs = (
        [x, w]
        + ([b] if bias else [])
        + ([t] if probabilities else [])
        + ([cw] if weighted and probabilities else [])
    )
    grads = torch.autograd.grad(loss.sum() * 1.5, inputs)
    return loss.detach().numpy(), tuple(g.numpy() for g in grads), torch.logsumexp(z, dim=1).detach().numpy()


def _jax_call(
    a: dict[str, Any], *, bias: bool, weighted: bool, probabilities: bool, transform: str, **options: Any
):
    names = (
        ["x", "w"]
        + (["b"] if bias else [])
        + (["t"] if probabilities else [])
        + (["cw"] if weighted and probabilities else [])
    )
    arrays = {k: jnp.asarray(v) for k, v in a.items()}

    def run(*diff: Any) -> tuple[Any, Any]:
        got = dict(arrays, **dict(zip(names, diff, strict=True)))
        return KERNEL(
            got["x"],
            got["w"],
            got["t"],
            got["b"] if bias else None,
            got["cw"] if weighted else None,
            probabilities=probabilities,
            **options,
        )

    def objective(*diff: Any) -> Any:
        return jnp.sum(run(*diff)[0]) * 1.5

    argnums = tuple(range(len(names)))
    diff = [arrays[k] for k in names]
    if transform == "jit":
        (loss, lse), grads = jax.jit(run)(*diff), jax.jit(jax.grad(objective, argnums))(*diff)
    elif transform == "value_and_grad":
        (loss, lse) = run(*diff)
        value, grads = jax.jit(jax.value_and_grad(objective, argnums))(*diff)
        np.testing.assert_allclose(np.asarray(value), np.sum(np.asarray(loss)) * 1.5, rtol=1e-12)
    else:
        (loss, lse), grads = run(*diff), jax.grad(objective, argnums)(*diff)
    return np.asarray(loss), tuple(np.asarray(g) for g in grads), np.asarray(lse)


INDEX_CASES = [
    pytest.param(dict(bias=False, weighted=False, ignore_index=-100, smoothing=0.0), id="plain"),
    pytest.param(dict(bias=True, weighted=False, ignore_index=-100, smoothing=0.0), id="bias"),
    pytest.param(dict(bias=False, weighted=True, ignore_index=-100, smoothing=0.0), id="weight"),
    pytest.param(dict(bias=True, weighted=True, ignore_index=-100, smoothing=0.25), id="all"),
    pytest.param(dict(bias=False, weighted=False, ignore_index=4, smoothing=0.1), id="ignore_4_smoothing"),
    pytest.param(dict(bias=False, weighted=True, ignore_index=-100, smoothing=0.1, z_loss=1e-2), id="z_loss"),
    pytest.param(
        dict(bias=True, weighted=False, ignore_index=-100, smoothing=0.0, softcap=1.5), id="softcap"
    ),
    pytest.param(
        dict(bias=True, weighted=True, ignore_index=-100, smoothing=0.2, softcap=2.0, z_loss=1e-3),
        id="every_option",
    ),
]
PROBABILITY_CASES = [
    pytest.param(dict(bias=False, weighted=False, smoothing=0.0), id="prob_plain"),
    pytest.param(dict(bias=True, weighted=True, smoothing=0.0), id="prob_weight_bias"),
    pytest.param(dict(bias=False, weighted=True, smoothing=0.3), id="prob_weight_smoothing"),
    pytest.param(
        dict(bias=True, weighted=True, smoothing=0.1, z_loss=1e-2, softcap=3.0), id="prob_every_option"
    ),
]


def _check(
    case: dict[str, Any], dtype: Any, *, probabilities: bool, summed: bool, chunk_size: int, transform: str
):
    case = dict(case)
    ignore_index = case.pop("ignore_index", -100)
    smoothing = case.pop("smoothing")
    a = _inputs(dtype, probabilities=probabilities, ignore_index=ignore_index)
    want, want_grads, want_lse = _torch_reference(
        a, ignore_index=ignore_index, smoothing=smoothing, probabilities=probabilities, summed=summed, **case
    )
    got, grads, lse = _jax_call(
        a,
        probabilities=probabilities,
        transform=transform,
        ignore_index=ignore_index,
        label_smoothing=smoothing,
        summed=summed,
        chunk_size=chunk_size,
        **case,
    )
    tol = TOL[dtype]
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_allclose(lse, want_lse, **tol)
    assert len(grads) == len(want_grads)
    for g, w in zip(grads, want_grads, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, **tol)


@pytest.mark.parametrize("transform", ["eager", "jit", "value_and_grad"])
@pytest.mark.parametrize("chunk_size", [1, 4, 64])
@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
@pytest.mark.parametrize("case", INDEX_CASES)
def test_index_targets_match_torch_float64(
    case: dict[str, Any], summed: bool, chunk_size: int, transform: str
) -> None:
    _check(case, np.float64, probabilities=False, summed=summed, chunk_size=chunk_size, transform=transform)


@pytest.mark.parametrize("transform", ["eager", "jit"])
@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
@pytest.mark.parametrize("case", PROBABILITY_CASES)
def test_probability_targets_match_torch_float64_target_and_weight_gradients_included(
    case: dict[str, Any], summed: bool, transform: str
) -> None:
    _check(case, np.float64, probabilities=True, summed=summed, chunk_size=4, transform=transform)


@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
@pytest.mark.parametrize("case", INDEX_CASES[:4] + PROBABILITY_CASES[1:2])
def test_float32_matches_torch(case: dict[str, Any], summed: bool) -> None:
    _check(
        case,
        np.float32,
        probabilities="ignore_index" not in case,
        summed=summed,
        chunk_size=4,
        transform="jit",
    )


@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
def test_bfloat16_matches_torch_within_bfloat16_rounding(summed: bool) -> None:
    a = _inputs(np.float32, probabilities=False)
    x, w, t = torch.tensor(a["x"]).bfloat16(), torch.tensor(a["w"]).bfloat16(), torch.tensor(a["t"])
    x.requires_grad_(), w.requires_grad_()
    want = F.cross_entropy(F.linear(x, w), t, reduction="sum" if summed else "none")
    want_grads = torch.autograd.grad(want.sum(), (x, w))
    jx, jw = (jnp.asarray(v.detach().float().numpy()).astype(jnp.bfloat16) for v in (x, w))

    def run(x: Any, w: Any) -> Any:
        options = dict(
            ignore_index=-100, label_smoothing=0.0, probabilities=False, summed=summed, chunk_size=4
        )
        return KERNEL(x, w, jnp.asarray(a["t"]), None, None, **options)[0]

    got = run(jx, jw)
    grads = jax.grad(lambda x, w: jnp.sum(run(x, w).astype(jnp.float32)), (0, 1))(jx, jw)
    # Rows come back in the input's dtype, a sum in the compute dtype (float32), which the
    # public function divides ('mean') and rounds once.
    assert got.dtype == (jnp.float32 if summed else jnp.bfloat16)
    assert all(g.dtype == jnp.bfloat16 for g in grads)
    tol = dict(rtol=2e-2, atol=2e-2)
    np.testing.assert_allclose(np.asarray(got, np.float32), want.detach().float().numpy(), **tol)
    for g, ref in zip(grads, want_grads, strict=True):
        np.testing.assert_allclose(np.asarray(g, np.float32), ref.float().numpy(), **tol)


@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
def test_vmap_over_a_batch_of_problems_matches_torch(summed: bool) -> None:
    problems = [_inputs(np.float64, probabilities=False, seed=s) for s in range(3)]
    stacked = {k: jnp.stack([jnp.asarray(p[k]) for p in problems]) for k in ("x", "w", "t", "b")}

    def objective(x: Any, w: Any, t: Any, b: Any) -> Any:
        options = dict(
            ignore_index=-100, label_smoothing=0.1, probabilities=False, summed=summed, chunk_size=4
        )
        return jnp.sum(KERNEL(x, w, t, b, None, **options)[0])

    values, grads = jax.jit(jax.vmap(jax.value_and_grad(objective, (0, 1, 3))))(
        stacked["x"], stacked["w"], stacked["t"], stacked["b"]
    )
    for i, p in enumerate(problems):
        want, want_grads, _ = _torch_reference(
            p, bias=True, weighted=False, ignore_index=-100, smoothing=0.1, probabilities=False, summed=True
        )
        np.testing.assert_allclose(np.asarray(values[i]), want, rtol=1e-12)
        for g, w in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(np.asarray(g[i]), w / 1.5, rtol=1e-12, atol=1e-12)


def test_index_targets_and_their_class_weight_get_no_gradient() -> None:
    a = _inputs(np.float64, probabilities=False)
    x, w, t, cw = (jnp.asarray(a[k]) for k in ("x", "w", "t", "cw"))

    def objective(x: Any, cw: Any) -> Any:
        options = dict(ignore_index=-100, label_smoothing=0.2, probabilities=False, summed=True, chunk_size=4)
        return KERNEL(x, w, t, None, cw, **options)[0]

    _, d_cw = jax.grad(objective, (0, 1))(x, cw)
    assert d_cw.shape == cw.shape and not np.any(np.asarray(d_cw))


def test_lse_output_carries_no_gradient() -> None:
    a = _inputs(np.float64, probabilities=False)
    x, w, t = (jnp.asarray(a[k]) for k in ("x", "w", "t"))
    options = dict(ignore_index=-100, label_smoothing=0.0, probabilities=False, summed=False, chunk_size=4)
    d_x = jax.grad(lambda x: jnp.sum(KERNEL(x, w, t, None, None, **options)[1]))(x)
    assert not np.any(np.asarray(d_x))


def test_no_rows_give_an_empty_loss_and_zero_sum() -> None:
    x, w = jnp.zeros((0, H)), jnp.ones((C, H))
    t = jnp.zeros((0,), jnp.int64)
    options = dict(ignore_index=-100, label_smoothing=0.0, probabilities=False, chunk_size=4)
    rows = KERNEL(x, w, t, None, None, summed=False, **options)[0]
    total, d_w = jax.value_and_grad(lambda w: KERNEL(x, w, t, None, None, summed=True, **options)[0])(w)
    assert rows.shape == (0,) and float(total) == 0.0 and not np.any(np.asarray(d_w))


@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
def test_compiled_step_never_holds_the_logits(summed: bool) -> None:
    n, h, c = 1024, 64, 8192
    x, w = jnp.ones((n, h), jnp.float32), jnp.ones((c, h), jnp.float32)
    t = jnp.zeros((n,), jnp.int32)

    def objective(x: Any, w: Any) -> Any:
        options = dict(
            ignore_index=-100, label_smoothing=0.1, probabilities=False, summed=summed, chunk_size=16
        )
        return jnp.sum(KERNEL(x, w, t, None, None, **options)[0])

    memory = jax.jit(jax.value_and_grad(objective, (0, 1))).lower(x, w).compile().memory_analysis()
    logits = n * c * 4
    gradients = (n + c) * h * 4
    # Generous: a tenth of the logits, well above one chunk and one tile of dW.
    assert memory.temp_size_in_bytes < logits / 10
    assert memory.temp_size_in_bytes < gradients


def test_chunk_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        KERNEL(
            jnp.ones((2, 3)),
            jnp.ones((4, 3)),
            jnp.zeros(2, jnp.int32),
            None,
            None,
            ignore_index=-100,
            label_smoothing=0.0,
            probabilities=False,
            summed=True,
            chunk_size=0,
        )


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 4 rows: a chunk of fewer rows becomes a block of 4 rows and fewer classes
    (at chunk_size 1 and 2, blocks of 2 and 5 of the 11 classes, the last one shorter)."""
    from anyloss._backends import _generic

    monkeypatch.setattr(_generic, "TILE_ROWS", 4)
    assert _generic.logit_blocks(N, C, 1) == (4, 2) and _generic.logit_blocks(N, C, 2) == (4, 5)
    return _generic


@pytest.mark.parametrize("chunk_size", [1, 2])
@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
@pytest.mark.parametrize("case", INDEX_CASES)
def test_blocks_of_rows_and_classes_match_torch_with_index_targets(
    case: dict[str, Any], summed: bool, chunk_size: int, small_blocks
) -> None:
    _check(case, np.float64, probabilities=False, summed=summed, chunk_size=chunk_size, transform="jit")


@pytest.mark.parametrize("chunk_size", [1, 2])
@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
@pytest.mark.parametrize("case", PROBABILITY_CASES)
def test_blocks_of_rows_and_classes_match_torch_with_probability_targets(
    case: dict[str, Any], summed: bool, chunk_size: int, small_blocks
) -> None:
    _check(case, np.float64, probabilities=True, summed=summed, chunk_size=chunk_size, transform="jit")


@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
@pytest.mark.parametrize(
    ("case", "probabilities"),
    [
        (INDEX_CASES[3].values[0], False),
        (INDEX_CASES[-1].values[0], False),
        (PROBABILITY_CASES[-1].values[0], True),
    ],
    ids=["all", "every_option", "prob_every_option"],
)
def test_blocks_in_float32_and_eagerly_match_torch(
    case: dict[str, Any], probabilities: bool, summed: bool, small_blocks
) -> None:
    for dtype, transform in ((np.float32, "jit"), (np.float64, "eager")):
        _check(
            case,
            dtype,
            probabilities=probabilities,
            summed=summed,
            chunk_size=2,
            transform=transform,
        )


@pytest.mark.parametrize(
    ("special", "probabilities"),
    [(s, False) for s in ("inf", "-inf", "nan", "all -inf", "target out of range")]
    + [(s, True) for s in ("inf", "-inf", "nan", "all -inf")],
)
def test_chunks_and_blocks_give_the_whole_rows_answer_for_non_finite_logits(
    special: str, probabilities: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of rows with padding (13 rows in chunks of 4) and blocks of classes against
    all rows at once, on JAX itself, where torch's reference has no answer to compare with
    (a target out of range raises there): a padded row's logits are NaN where a weight is
    infinite, and its share of the weight's gradient must still be 0."""
    from anyloss._backends import _generic

    default_rows = _generic.TILE_ROWS
    a = _inputs(np.float64, probabilities=probabilities)
    w = a["w"]
    if special == "inf":
        w[3, 0] = np.inf
    elif special == "-inf":
        w[4, :] = -np.inf
    elif special == "nan":
        w[5, 1] = np.nan
    elif special == "all -inf":
        w[:] = -np.inf
    else:
        a["t"][[2, 9]] = [C, 3 * C]
    arrays = [jnp.asarray(a[k]) for k in ("x", "w", "t", "b", "cw")]
    for summed, smoothing, z_loss, softcap in [
        (False, 0.0, 0.0, None),
        (True, 0.2, 1e-3, None),
        (False, 0.1, 0.0, 3.0),
        (True, 0.0, 1e-2, 2.0),
    ]:
        options = dict(
            ignore_index=-100,
            label_smoothing=smoothing,
            probabilities=probabilities,
            summed=summed,
            z_loss=z_loss,
            softcap=softcap,
        )

        def run(x: Any, w: Any, t: Any, b: Any, cw: Any, chunk_size: int, options: dict) -> Any:
            loss, lse = KERNEL(x, w, t, b, cw, chunk_size=chunk_size, **options)
            return jnp.sum(loss * jnp.linspace(-1, 2, loss.size).reshape(loss.shape)), (loss, lse)

        results = []
        for tile_rows, chunk_size in ((default_rows, N), (default_rows, 4), (4, 2)):
            monkeypatch.setattr(_generic, "TILE_ROWS", tile_rows)
            step = jax.value_and_grad(
                partial(run, chunk_size=chunk_size, options=options), (0, 1, 3), has_aux=True
            )
            (_, aux), grads = step(*arrays)
            results.append([np.asarray(v) for v in (*aux, *grads)])
        for chunked in results[1:]:
            for got, whole in zip(chunked, results[0], strict=True):
                np.testing.assert_allclose(got, whole, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("summed", [False, True], ids=["rows", "summed"])
def test_vmap_over_blocks_matches_torch(summed: bool, small_blocks) -> None:
    problems = [_inputs(np.float64, probabilities=False, seed=s) for s in range(2)]
    stacked = {k: jnp.stack([jnp.asarray(p[k]) for p in problems]) for k in ("x", "w", "t", "b", "cw")}

    def objective(x: Any, w: Any, t: Any, b: Any, cw: Any) -> Any:
        options = dict(
            ignore_index=-100, label_smoothing=0.1, probabilities=False, summed=summed, chunk_size=2
        )
        return jnp.sum(KERNEL(x, w, t, b, cw, **options)[0])

    values, grads = jax.jit(jax.vmap(jax.value_and_grad(objective, (0, 1, 3))))(*stacked.values())
    for i, p in enumerate(problems):
        want, want_grads, _ = _torch_reference(
            p, bias=True, weighted=True, ignore_index=-100, smoothing=0.1, probabilities=False, summed=True
        )
        np.testing.assert_allclose(np.asarray(values[i]), want, rtol=1e-12)
        for g, w in zip(grads, want_grads, strict=True):
            np.testing.assert_allclose(np.asarray(g[i]), w / 1.5, rtol=1e-12, atol=1e-12)
