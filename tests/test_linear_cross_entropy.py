"""linear_cross_entropy beyond the case table: the logits never whole, torch's kernel's
answers to retain_graph and double backward, and the extensions (z-loss, soft-capping, lse)
against the same formula written with torch on full logits."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import anyloss


def test_numpy_never_holds_the_logits() -> None:
    rng = np.random.default_rng(0)
    n, h, c = 512, 16, 32768  # logits of 128 MiB; a default chunk holds 8 rows (2 MiB)
    x, w = rng.normal(size=(n, h)), rng.normal(size=(c, h))
    t = rng.integers(0, c, n)
    tracemalloc.start()
    anyloss.linear_cross_entropy(x, w, t, label_smoothing=0.1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < n * c * 8 / 8, f"peak {peak} bytes, logits {n * c * 8}"


def _torch_inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(9, 5, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(7, 5, dtype=torch.float64, generator=g, requires_grad=True)
    t = torch.randint(0, 7, (9,), generator=g)
    return x, w, t


def test_second_backward_raises_unless_options_allow_it() -> None:
    x, w, t = _torch_inputs()
    loss = anyloss.linear_cross_entropy(x, w, t, chunk_size=2)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="a second time"):
        loss.backward()
    x.grad = None
    options = torch.nn.LinearCrossEntropyOptions(batch_chunk_size=2, allow_retain_graph=True)
    loss = anyloss.linear_cross_entropy(x, w, t, options=options)
    loss.backward(retain_graph=True)
    first = x.grad.clone()
    loss.backward()
    torch.testing.assert_close(x.grad, 2 * first)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_double_backward_raises(reduction: str) -> None:
    x, w, t = _torch_inputs()
    loss = anyloss.linear_cross_entropy(x, w, t, reduction=reduction, chunk_size=4).sum()
    (gx,) = torch.autograd.grad(loss, x, create_graph=True)
    # The kernel's backward pass (more than one chunk) is first order only: its gradient
    # carries no graph to differentiate.
    with pytest.raises(RuntimeError, match="does not require grad"):
        gx.sum().backward()


def _extended_reference(x, w, t, z_loss, softcap):
    z = F.linear(x, w)
    z = softcap * torch.tanh(z / softcap)
    lse = torch.logsumexp(z, 1)
    return F.cross_entropy(z, t, reduction="sum") + z_loss * (lse**2).sum(), lse


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("probabilities", [False, True], ids=["indices", "probabilities"])
def test_logits_in_one_chunk_have_torchs_second_backward_and_double_backward(
    probabilities, reduction
) -> None:
    x, w, t = _torch_inputs()
    if probabilities:
        t = torch.softmax(torch.linspace(-2, 2, 63, dtype=torch.float64).reshape(9, 7), 1)
    options = {"weight": torch.linspace(0.5, 1.5, 7, dtype=torch.float64), "label_smoothing": 0.1}
    got = anyloss.linear_cross_entropy(x, w, t, reduction=reduction, **options)
    want = F.linear_cross_entropy(x, w, t, reduction=reduction, **options)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    seed = torch.linspace(0.5, 1.5, want.numel(), dtype=want.dtype).reshape(want.shape)
    results = []
    for loss in (got, want):
        gx, gw = torch.autograd.grad(loss, (x, w), seed, create_graph=True)
        again = torch.autograd.grad(loss, (x, w), seed, retain_graph=True)
        second = torch.autograd.grad((gx * gx).sum() + (gw * x[:7, :5]).sum(), (x, w))
        results.append((gx, gw, *again, *second))
    for mine, theirs in zip(*results, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("reduction", ["sum", "none"])
def test_z_loss_softcap_and_lse_are_the_formula(reduction: str) -> None:
    x, w, t = _torch_inputs()
    want, want_lse = _extended_reference(x, w, t, 1e-2, 3.0)
    want_gx, want_gw = torch.autograd.grad(want, (x, w))
    got, lse = anyloss.linear_cross_entropy(
        x, w, t, reduction=reduction, z_loss=1e-2, softcap=3.0, return_lse=True, chunk_size=4
    )
    got = got.sum()
    gx, gw = torch.autograd.grad(got, (x, w))
    for a, b in ((got, want), (lse, want_lse), (gx, want_gx), (gw, want_gw)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    assert not lse.requires_grad


def test_numpy_extensions_equal_torch_kernel() -> None:
    x, w, t = _torch_inputs()
    got = anyloss.linear_cross_entropy(
        x.detach().numpy(), w.detach().numpy(), t.numpy(), z_loss=1e-2, softcap=3.0, chunk_size=3
    )
    want = anyloss.linear_cross_entropy(x, w, t, z_loss=1e-2, softcap=3.0, chunk_size=4)
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
# torch's own tracing of an autograd.Function makes a ctx object the way it tells users not to
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
@pytest.mark.parametrize("reduction", ["mean", "none"])  # the summed and the per-row kernels
def test_runs_under_torch_compile(reduction: str) -> None:
    x, w, t = _torch_inputs()
    compiled = torch.compile(
        lambda a, b, c: anyloss.linear_cross_entropy(a, b, c, reduction=reduction, chunk_size=4)
    )
    got = compiled(x, w, t)
    cotangent = torch.linspace(0.5, 1.5, got.numel(), dtype=got.dtype).reshape(got.shape)
    gx, gw = torch.autograd.grad(got, (x, w), cotangent)
    want = F.linear_cross_entropy(x, w, t, reduction=reduction)
    want_gx, want_gw = torch.autograd.grad(want, (x, w), cotangent)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(gx, want_gx, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(gw, want_gw, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("chunk_size", [1, None], ids=["chunks", "one-chunk"])
def test_compiled_graph_holds_the_chunked_pass_as_one_operator(chunk_size) -> None:
    # Dynamo would otherwise unroll the loop over chunks: here nine chunks of one row. One
    # chunk of all the logits is the generic body, which the compiler fuses.
    x, w, t = _torch_inputs()
    graphs = []

    def capture(gm, example_inputs):
        graphs.append(gm.graph)
        return gm.forward

    torch._dynamo.reset()
    compiled = torch.compile(
        lambda a, b, c: anyloss.linear_cross_entropy(a, b, c, chunk_size=chunk_size),
        backend=capture,
        fullgraph=True,
    )
    compiled(x, w, t).backward()
    targets = [node.target for graph in graphs for node in graph.nodes if node.op == "call_function"]
    operators = targets.count(torch.ops.anyloss.linear_cross_entropy)
    products = {F.linear, torch._C._nn.linear, torch.mm, torch.matmul, torch.addmm, torch.Tensor.addmm_}
    if chunk_size is None:
        assert operators == 0 and products.intersection(targets), targets
    else:
        assert operators == 1 and not products.intersection(targets), targets


def _compiled_option_calls():
    g = torch.Generator().manual_seed(5)
    probabilities = torch.softmax(torch.randn(9, 7, dtype=torch.float64, generator=g), 1)
    cw = torch.linspace(0.5, 1.5, 7, dtype=torch.float64)
    return {
        "plain": ({}, None),
        "bias": ({"linear_bias": torch.linspace(-1, 1, 7, dtype=torch.float64)}, None),
        "weight-ignore": ({"weight": cw, "ignore_index": 2}, None),
        "smoothing": ({"weight": cw, "label_smoothing": 0.1}, None),
        "probabilities": ({"weight": cw, "label_smoothing": 0.1}, probabilities),
        "extensions": ({"z_loss": 1e-2, "softcap": 3.0}, None),
    }


# (chunk_size, TILE_ROWS) of the compiled calls; see ``logit_blocks``
_LAYOUTS = {"one-chunk": (None, None), "chunks-of-rows": (4, 2), "blocks": (1, 8)}


@pytest.mark.parametrize("layout", list(_LAYOUTS))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("option", list(_compiled_option_calls()))
def test_compiled_call_gives_the_eager_kernels_values_and_gradients(
    option, reduction, layout, monkeypatch
) -> None:
    from anyloss._backends import _generic

    kwargs, probabilities = _compiled_option_calls()[option]
    chunk_size, tile_rows = _LAYOUTS[layout]
    if tile_rows is not None:
        monkeypatch.setattr(_generic, "TILE_ROWS", tile_rows)
    x, w, t = _torch_inputs()
    target = t if probabilities is None else probabilities
    bias = kwargs.get("linear_bias")
    leaves = [x, w] + ([bias.requires_grad_()] if bias is not None else [])
    kwargs = {**kwargs, "reduction": reduction, "chunk_size": chunk_size}

    def loss(a, b, c):
        return anyloss.linear_cross_entropy(a, b, c, **kwargs)

    torch._dynamo.reset()
    got = torch.compile(loss, backend="aot_eager", fullgraph=True)(x, w, target)
    want = loss(x, w, target)
    seed = torch.linspace(-1, 2, want.numel(), dtype=want.dtype).reshape(want.shape)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    for mine, eager in zip(
        torch.autograd.grad(got, leaves, seed), torch.autograd.grad(want, leaves, seed), strict=True
    ):
        torch.testing.assert_close(mine, eager, rtol=1e-12, atol=1e-13)


def test_compiled_summed_loss_takes_a_second_backward() -> None:
    # A compiled graph never scales the precomputed gradients in place.
    x, w, t = _torch_inputs()
    torch._dynamo.reset()
    loss = torch.compile(
        lambda a, b, c: anyloss.linear_cross_entropy(a, b, c, chunk_size=2), backend="aot_eager"
    )(x, w, t)
    first = torch.autograd.grad(loss, (x, w), retain_graph=True)
    second = torch.autograd.grad(loss, (x, w))
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
@pytest.mark.parametrize("summed", [True, False], ids=["summed", "rows"])
def test_compiled_operators_pass_torchs_operator_checks(summed: bool, dtype) -> None:
    from torch.library import opcheck

    x, w, t = _torch_inputs()
    x, w = x.detach().to(dtype).requires_grad_(), w.detach().to(dtype).requires_grad_()
    bias = torch.zeros(7, dtype=dtype, requires_grad=True)
    settings = (-100, 0.1, False, summed, 4, None, 0.0, [True, True, True])
    opcheck(torch.ops.anyloss.linear_cross_entropy, (x, w, bias, t, None, *settings))
    lse = torch.logsumexp(F.linear(x, w, bias).float(), 1).detach()
    grad_loss = torch.linspace(0.5, 1.5, 9, dtype=torch.float32 if dtype == torch.bfloat16 else dtype)
    opcheck(
        torch.ops.anyloss.linear_cross_entropy_backward,
        (x.detach(), w.detach(), bias.detach(), t, None, lse.to(grad_loss.dtype), grad_loss, *settings),
    )


def test_float16_mean_is_finite_where_torchs_reference_overflows() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20480, 8, generator=g).half()
    w = (torch.randn(4, 8, generator=g) * 3).half()
    t = torch.zeros(20480, dtype=torch.long)
    assert torch.isinf(F.linear_cross_entropy(x, w, t))
    got = anyloss.linear_cross_entropy(x, w, t)
    want = F.cross_entropy(F.linear(x, w).float(), t).half()
    assert torch.isfinite(got)
    torch.testing.assert_close(got, want, rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("wrt", ["class-weight", "probabilities"])
def test_probability_targets_and_their_class_weight_get_torchs_gradients(wrt: str, reduction: str) -> None:
    x, w, _ = _torch_inputs()
    g = torch.Generator().manual_seed(3)
    target = torch.softmax(torch.randn(9, 7, dtype=torch.float64, generator=g), 1)
    weight = torch.rand(7, dtype=torch.float64, generator=g)
    leaf = (weight if wrt == "class-weight" else target).requires_grad_(True)
    got = anyloss.linear_cross_entropy(
        x, w, target, weight=weight, reduction=reduction, label_smoothing=0.1, chunk_size=4
    )
    want = F.linear_cross_entropy(x, w, target, weight=weight, reduction=reduction, label_smoothing=0.1)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-13)
    cotangent = torch.linspace(0.5, 1.5, got.numel(), dtype=got.dtype).reshape(got.shape)
    leaves = (x, w, leaf)
    grads = zip(
        torch.autograd.grad(got, leaves, cotangent), torch.autograd.grad(want, leaves, cotangent), strict=True
    )
    for a, b in grads:
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_class_weight_with_gradient_and_class_indices_raises_as_torch() -> None:
    x, w, t = _torch_inputs()
    weight = torch.rand(7, dtype=torch.float64).requires_grad_(True)
    with pytest.raises(RuntimeError) as want:
        F.linear_cross_entropy(x, w, t, weight=weight)
    with pytest.raises(RuntimeError) as got:
        anyloss.linear_cross_entropy(x, w, t, weight=weight)
    assert str(got.value) == str(want.value)


# --- torch: blocks of rows and classes -------------------------------------------------


def _block_inputs(dtype, probabilities: bool, special: str | None = None):
    g = torch.Generator().manual_seed(3)
    n, h, c = 37, 5, 23
    x = torch.randn(n, h, dtype=dtype, generator=g)
    w = torch.randn(c, h, dtype=dtype, generator=g)
    if special == "inf":
        w[3, 0] = torch.inf
    elif special == "-inf":
        w[4, :] = -torch.inf
    elif special == "nan":
        w[5, 1] = torch.nan
    elif special == "all -inf":
        w[:] = -torch.inf
    if probabilities:
        t = torch.softmax(torch.randn(n, c, dtype=dtype, generator=g), 1)
    else:
        t = torch.randint(0, c, (n,), generator=g)
        t[::5] = -100
    return x.requires_grad_(), w.requires_grad_(), t


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 8 rows: a chunk of fewer rows becomes a block of 8 rows and fewer classes."""
    from anyloss._backends import _generic

    monkeypatch.setattr(_generic, "TILE_ROWS", 8)
    return _generic


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("probabilities", [False, True], ids=["indices", "probabilities"])
def test_blocks_of_rows_and_classes_match_torch(dtype, probabilities, small_blocks) -> None:
    x, w, t = _block_inputs(dtype, probabilities)
    tolerance = {"rtol": 1e-10, "atol": 1e-12} if dtype == torch.float64 else {"rtol": 1e-4, "atol": 1e-5}
    assert small_blocks.logit_blocks(37, 23, 2) == (8, 5)
    for smoothing, weighted, biased, reduction, chunk in itertools.product(
        (0.0, 0.2), (False, True), (False, True), ("mean", "sum", "none"), (1, 5)
    ):
        b = torch.linspace(-1, 1, 23, dtype=dtype).requires_grad_() if biased else None
        cw = torch.linspace(0.5, 1.5, 23, dtype=dtype) if weighted else None
        leaves = [x, w] + ([b] if biased else [])
        expected = F.cross_entropy(
            F.linear(x, w, b), t, weight=cw, reduction=reduction, label_smoothing=smoothing
        )
        got = anyloss.linear_cross_entropy(
            x,
            w,
            t,
            linear_bias=b,
            weight=cw,
            reduction=reduction,
            label_smoothing=smoothing,
            chunk_size=chunk,
        )
        seed = torch.linspace(-1, 2, expected.numel(), dtype=dtype).reshape(expected.shape)
        torch.testing.assert_close(got, expected, **tolerance)
        for mine, theirs in zip(
            torch.autograd.grad(got, leaves, seed), torch.autograd.grad(expected, leaves, seed), strict=True
        ):
            torch.testing.assert_close(mine, theirs, **tolerance)


@pytest.mark.parametrize("special", [None, "inf", "-inf", "nan", "all -inf"])
@pytest.mark.parametrize("probabilities", [False, True], ids=["indices", "probabilities"])
def test_blocks_give_the_whole_rows_answer_with_extensions_and_non_finite_logits(
    special, probabilities, small_blocks
) -> None:
    x, w, t = _block_inputs(torch.float64, probabilities, special)
    for smoothing, reduction, z_loss, softcap in itertools.product(
        (0.0, 0.2), ("mean", "none"), (0.0, 1e-3), (None, 3.0)
    ):
        options = {"reduction": reduction, "label_smoothing": smoothing, "z_loss": z_loss, "softcap": softcap}
        whole, whole_lse = anyloss.linear_cross_entropy(x, w, t, chunk_size=100, return_lse=True, **options)
        blocks, blocks_lse = anyloss.linear_cross_entropy(x, w, t, chunk_size=3, return_lse=True, **options)
        seed = torch.linspace(-1, 2, whole.numel(), dtype=whole.dtype).reshape(whole.shape)
        exact = {"rtol": 1e-10, "atol": 1e-12, "equal_nan": True}
        torch.testing.assert_close(blocks, whole, **exact)
        torch.testing.assert_close(blocks_lse, whole_lse, **exact)
        with torch.no_grad():  # losses only: one product per block where the targets allow
            values, values_lse = anyloss.linear_cross_entropy(
                x, w, t, chunk_size=3, return_lse=True, **options
            )
        torch.testing.assert_close(values, whole, **exact)
        torch.testing.assert_close(values_lse, whole_lse, **exact)
        for mine, theirs in zip(
            torch.autograd.grad(blocks, [x, w], seed), torch.autograd.grad(whole, [x, w], seed), strict=True
        ):
            torch.testing.assert_close(mine, theirs, **exact)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_blocks_log_sum_exp_in_place_has_the_bits_of_torchs(dtype) -> None:
    from anyloss._backends._torch import _logsumexp_

    g = torch.Generator().manual_seed(0)
    z = torch.randn(300, 77, generator=g, dtype=dtype) * 30
    z[0, 3], z[1, :], z[2, 5], z[3, 2], z[4, :2] = torch.inf, -torch.inf, torch.nan, -torch.inf, torch.inf
    expected = torch.logsumexp(z, 1)
    got = _logsumexp_(z)
    assert torch.equal(got.nan_to_num(7.0), expected.nan_to_num(7.0))
    assert got[2].isnan() and got[1] == -torch.inf and got[0] == torch.inf


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("class_weight", [False, True])
@pytest.mark.parametrize("z_loss", [0.0, 1e-3])
def test_a_chunk_of_whole_rows_of_class_indices_has_the_generic_terms_bits(
    z_loss, class_weight, dtype
) -> None:
    """The torch kernel's losses of a chunk of whole rows of class indices (no smoothing, no
    soft-cap), from the target's logit and the log-normalisers computed in place, are the
    generic terms' to the bit, and the logits' gradient from the same exponentials is the
    one computed from the logits to rounding: ignored targets, non-finite rows (a NaN
    gradient, as torch's) and NaN included."""
    from anyloss._backends._torch import (
        _chunk_logits_gradient,
        _index_rows_losses,
        _LinearSettings,
        _terms_backend,
    )

    g = torch.Generator().manual_seed(1)
    z = torch.randn(300, 77, generator=g, dtype=dtype) * 30
    z[0, 3], z[1, :], z[2, 5], z[4, :2], z[6, 1] = torch.inf, -torch.inf, torch.nan, torch.inf, torch.inf
    target = torch.randint(0, 77, (300,), generator=g)
    target[5:9] = -100
    weight = torch.rand(77, generator=g, dtype=dtype) if class_weight else None
    s = _LinearSettings(-100, 0.0, False, True, 300, None, z_loss, False)
    expected = _terms_backend().linear_cross_entropy_terms(
        z,
        target,
        weight,
        ignore_index=-100,
        label_smoothing=0.0,
        probabilities=False,
        softcap=None,
        z_loss=z_loss,
    )
    gradient = _chunk_logits_gradient(z.clone(), expected[1], target, weight, s)
    assert gradient[[0, 1, 2, 4, 6]].isnan().all() and gradient[7:].isfinite().all()
    for wanted in (False, True):
        *got, dz = _index_rows_losses(z.clone(), target, weight, s, gradient=wanted)
        for a, b in zip(got, expected, strict=True):
            assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0)) and torch.equal(a.isnan(), b.isnan())
        if wanted:
            assert torch.equal(dz.isnan(), gradient.isnan())
            # Each form rounds an exponent as large as |z − lse| (here up to about 250) before
            # exponentiating it: they may differ by that many units in the last place, and
            # below the smallest normal number by a subnormal.
            ulps, tiny = 512 * torch.finfo(dtype).eps, torch.finfo(dtype).tiny
            torch.testing.assert_close(dz.nan_to_num(7.0), gradient.nan_to_num(7.0), rtol=ulps, atol=tiny)
        else:
            assert dz is None


def _torch_adapter_call(**changes):
    from anyloss._backends._torch import _ADAPTERS

    g = torch.Generator().manual_seed(6)
    call = {
        "input": torch.randn(6, 3, generator=g),
        "linear_weight": torch.randn(5, 3, generator=g),
        "target": torch.randint(0, 5, (6,), generator=g),
        "linear_bias": None,
        "weight": None,
        "reduction": "mean",
        "ignore_index": None,
        "label_smoothing": 0.0,
        "options": None,
        "z_loss": 0.0,
        "softcap": None,
        "return_lse": False,
        "chunk_size": None,
    }
    call.update(changes)
    return _ADAPTERS["linear_cross_entropy"](
        call.pop("input"), call.pop("linear_weight"), call.pop("target"), **call
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_torch_usual_call_in_one_chunk_is_torchs_cross_entropy_of_the_logits(reduction, dtype) -> None:
    g = torch.Generator().manual_seed(7)
    x, w = torch.randn(6, 3, generator=g).to(dtype), torch.randn(5, 3, generator=g).to(dtype)
    t = torch.tensor([0, 4, -100, 2, 2, 1])
    for options in (
        {},
        {"linear_bias": torch.linspace(-1, 1, 5).to(dtype)},
        {"weight": torch.linspace(0.5, 1.5, 5).to(dtype), "label_smoothing": 0.2},
        {"ignore_index": 2, "label_smoothing": 1},
    ):
        t = t.clamp(min=0) if "ignore_index" in options else t
        got = _torch_adapter_call(input=x, linear_weight=w, target=t, reduction=reduction, **options)
        bias = options.get("linear_bias")
        if dtype == torch.bfloat16:  # the losses in float32, as every path computes them
            weight = options.get("weight")
            kwargs = {**options, "weight": None if weight is None else weight.float()}
            kwargs.pop("linear_bias", None)
            kwargs.setdefault("ignore_index", -100)
            want = F.cross_entropy(F.linear(x, w, bias).float(), t, reduction=reduction, **kwargs).to(dtype)
        else:
            want = F.linear_cross_entropy(x, w, t, reduction=reduction, **options)
        assert got.dtype == want.dtype
        assert torch.equal(got, want), options


@pytest.mark.parametrize(
    "change",
    [
        "options",
        "z-loss",
        "soft-cap",
        "return_lse",
        "chunk_size",
        "more than one chunk",
        "1-D input",
        "int32 target",
        "float64 layer",
        "features",
        "no classes",
        "float64 class weight",
        "bias shape",
        "label smoothing above 1",
        "reduction",
    ],
)
def test_torch_usual_call_declines_what_the_body_or_the_kernel_must_see(change) -> None:
    g = torch.Generator().manual_seed(8)
    changes = {
        "options": {"options": torch.nn.LinearCrossEntropyOptions()},
        "z-loss": {"z_loss": 1e-4},
        "soft-cap": {"softcap": 30.0},
        "return_lse": {"return_lse": True},
        "chunk_size": {"chunk_size": 6},
        # 2**16 classes: a default chunk of 8 rows
        "more than one chunk": {
            "linear_weight": torch.randn(1 << 16, 3, generator=g),
            "target": torch.arange(9),
            "input": torch.randn(9, 3, generator=g),
        },
        "1-D input": {"input": torch.randn(3, generator=g), "target": torch.tensor(1)},
        "int32 target": {"target": torch.arange(6, dtype=torch.int32) % 5},
        "float64 layer": {"linear_weight": torch.randn(5, 3, dtype=torch.float64, generator=g)},
        "features": {"linear_weight": torch.randn(5, 4, generator=g)},
        "no classes": {"linear_weight": torch.randn(0, 3, generator=g), "target": torch.full((6,), -100)},
        "float64 class weight": {"weight": torch.ones(5, dtype=torch.float64)},
        "bias shape": {"linear_bias": torch.ones(4)},
        "label smoothing above 1": {"label_smoothing": 1.5},
        "reduction": {"reduction": "batchmean"},
    }[change]
    assert _torch_adapter_call(**changes) is NotImplemented
