"""The ``anyloss`` command line."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import anyloss

from ._examples import EXAMPLES, Example


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _converters() -> dict[str, Callable[[np.ndarray], Any]]:
    """NumPy → array converters for every installed backend, imported only now."""
    converters: dict[str, Callable[[np.ndarray], Any]] = {"numpy": lambda a: a}
    if _installed("torch"):
        import torch

        converters["torch"] = lambda a: torch.from_numpy(a.copy())
    if _installed("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)  # keep the float64 examples in float64
        import jax.numpy as jnp

        converters["jax"] = jnp.asarray
    if _installed("dask"):
        import dask.array as da

        converters["dask"] = da.from_array
    if _installed("array_api_strict"):
        import array_api_strict

        converters["array_api_strict"] = array_api_strict.asarray
    if _installed("cupy"):
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
            converters["cupy"] = cupy.asarray
        except Exception:  # noqa: BLE001 - CuPy without a usable GPU is simply absent
            pass
    return converters


def _to_float(x: Any) -> float:
    if hasattr(x, "compute"):
        x = x.compute()
    if hasattr(x, "get"):  # CuPy
        x = x.get()
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    return float(np.asarray(x))


def run_example(example: Example, convert: Callable[[np.ndarray], Any]) -> float:
    loss = getattr(anyloss, example.loss)(**example.settings)
    return _to_float(loss(*(convert(a) for a in example.inputs)))


def demo(out: Any = sys.stdout) -> int:
    """Each worked example on every installed backend beside the number its source quotes."""
    converters = _converters()
    backends = list(converters)
    available = [e for e in EXAMPLES if hasattr(anyloss, e.loss)]
    width = max(len(e.title) for e in available)
    print("anyloss demo: the worked examples of the seed documents, on every installed backend",
          file=out)
    print("(✓ = the value rounds to the quoted number; ✗ = it does not)\n", file=out)
    header = f"{'example':<{width}}  {'quoted':>8}  " + "  ".join(f"{b:>18}" for b in backends)
    print(header, file=out)
    print("-" * len(header), file=out)
    failures = 0
    for example in available:
        cells = []
        for name in backends:
            value = run_example(example, converters[name])
            ok = example.matches(value)
            failures += not ok
            cells.append(f"{value:>16.{example.decimals + 2}f} {'✓' if ok else '✗'}")
        print(f"{example.title:<{width}}  {example.quoted:>8}  " + "  ".join(cells), file=out)
    missing = [e.title for e in EXAMPLES if not hasattr(anyloss, e.loss)]
    if missing:
        print(f"\nnot yet available: {', '.join(missing)}", file=out)
    print(f"\n{len(available) * len(backends) - failures} of {len(available) * len(backends)} "
          "values match their sources.", file=out)
    return 1 if failures else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="anyloss",
        description="PyTorch's loss functions, with PyTorch's exact semantics, on every array "
        "library.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo", help="the seed documents' worked examples on every installed backend"
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    raise SystemExit(main())
