"""The ``anyloss`` command line."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

import anyloss

from . import _eval
from ._examples import DEMO_DESCRIPTION, EXAMPLES, Example


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
    if _installed("mindspore"):
        import mindspore

        converters["mindspore"] = lambda a: mindspore.Tensor(a.copy())
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
    if hasattr(x, "asnumpy"):  # MindSpore
        x = x.asnumpy()
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    return float(np.asarray(x))


def run_example(example: Example, convert: Callable[[np.ndarray], Any]) -> float:
    loss = getattr(anyloss, example.loss)(**example.settings)
    return _to_float(loss(*(convert(a) for a in example.inputs)))


def demo(out: Any = None) -> int:
    """Each worked example on every installed backend beside the number its source quotes."""
    out = sys.stdout if out is None else out  # looked up now, so redirection is honoured
    converters = _converters()
    backends = list(converters)
    available = [e for e in EXAMPLES if hasattr(anyloss, e.loss)]
    width = max(len(e.title) for e in available)
    print(
        "anyloss demo: the worked examples of torch's and MindSpore's loss documentation,"
        " on every installed backend",
        file=out,
    )
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
    print(
        f"\n{len(available) * len(backends) - failures} of {len(available) * len(backends)} "
        "values match their sources.",
        file=out,
    )
    return 1 if failures else 0


def _eval_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "eval",
        help="a loss over arrays in files (.npy, .npz, .csv, Parquet), streamed in chunks",
        description="Compute a loss over arrays stored in files, streamed in chunks of rows "
        "with the reduction finished over the whole array in float64 (the in-memory value, "
        "up to the order of the additions). FILE[:COLUMNS] names an .npz member or CSV/Parquet "
        "columns: a name or number, a range a..b, a list a,b,3..5, or all but ^id,label.",
    )
    parser.add_argument("loss", help="the loss, e.g. cross_entropy (see `anyloss list`)")
    parser.add_argument(
        "--input", required=True, metavar="FILE[:COLUMNS]", help="the predictions (the loss's first array)"
    )
    parser.add_argument("--target", metavar="FILE[:COLUMNS]", help="the targets")
    parser.add_argument("--weight", metavar="FILE[:COLUMNS]", help="the weights")
    parser.add_argument(
        "--array",
        action="append",
        default=[],
        metavar="NAME=FILE[:COLUMNS]",
        help="any other array of the loss by its parameter name, e.g. "
        "var=var.npy or input_lengths=lengths.npy (repeatable)",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an option of the loss, e.g. ignore_index=0 (repeatable)",
    )
    parser.add_argument(
        "--backend",
        choices=_eval.BACKENDS,
        help="the array library the loss runs on (default: numpy; dask with --scheduler)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="Dask scheduler: a dask.distributed address (tcp://host:8786) or "
        "threads, processes, synchronous; implies --backend dask",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        metavar="N",
        help="rows per chunk (default: about 32 MiB of the widest input)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: loss, value, options, elements, backend, seconds",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (there is none when the output is not a terminal)",
    )


def eval_command(args: argparse.Namespace, out: Any = None) -> int:
    out = sys.stdout if out is None else out
    name = _eval.loss_name(args.loss)
    options = _eval.parse_options(name, args.option)
    named: dict[str, str] = {}
    for flag in ("input", "target", "weight"):
        spec = getattr(args, flag)
        if spec is not None:
            named[_eval.array_for_flag(name, flag)] = spec
    for item in args.array:
        key, sep, spec = item.partition("=")
        if not sep or not key.strip() or not spec:
            raise _eval.EvalError(f"bad --array '{item}': expected NAME=FILE[:COLUMNS]")
        key = key.strip()
        if key in named:
            raise _eval.EvalError(f"the array '{key}' is given twice")
        named[key] = spec
    params = _eval.loss_parameters(name)
    for key in named:
        if key not in params.arrays:
            raise _eval.EvalError(f"{name} has no array '{key}' (arrays: {', '.join(params.arrays)})")
    missing = [k for k in params.required if k not in named]
    if missing:
        flags = {_eval.array_for_flag(name, "target"): "--target"}
        need = ", ".join(flags.get(k, f"--array {k}=FILE") for k in missing)
        raise _eval.EvalError(f"{name} needs {need}")
    sources = {key: _eval.open_source(spec, key) for key, spec in named.items()}
    backend = args.backend or ("dask" if args.scheduler is not None else "numpy")
    progress = not args.no_progress and sys.stderr.isatty() and out.isatty()
    result = _eval.evaluate(
        name,
        sources,
        options,
        backend=backend,
        chunk_rows=args.chunk_rows,
        scheduler=args.scheduler,
        progress=progress,
    )
    if args.json:
        print(json.dumps(result.as_dict(), allow_nan=False), file=out)
    else:
        print(
            repr(result.value) if result.dtype.startswith(("float", "bfloat")) else str(int(result.value)),
            file=out,
        )
    return 0


def list_command(as_json: bool = False, out: Any = None) -> int:
    out = sys.stdout if out is None else out
    names = _eval.available_losses()
    if as_json:
        losses = []
        for name in names:
            params = _eval.loss_parameters(name)
            losses.append(
                {
                    "name": name,
                    "class": _eval.SPECS[name].cls,
                    "arrays": list(params.arrays),
                    "required": list(params.required),
                    "options": params.options,
                }
            )
        print(json.dumps({"losses": losses, "backends": _eval.installed_backends()}), file=out)
        return 0
    width = max((len(n) for n in names), default=0)
    for name in names:
        params = _eval.loss_parameters(name)
        options = ", ".join(f"{k}={v!r}" for k, v in params.options.items())
        print(f"{name:<{width}}  ({', '.join(params.arrays)})  {options}", file=out)
    print(f"\nbackends installed: {', '.join(_eval.installed_backends())}", file=out)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as every other error here: one line, exit status 1."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(
        prog="anyloss",
        description="PyTorch's loss functions, with PyTorch's exact semantics, on every array library.",
    )
    parser.add_argument("--version", action="version", version=f"anyloss {anyloss.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="the worked examples of torch's and MindSpore's loss documentation on every installed backend",
        description=DEMO_DESCRIPTION,
    )
    _eval_parser(commands)
    listing = commands.add_parser(
        "list",
        help="the losses, their arrays and options, and the backends",
        description="The losses, their arrays, options and defaults, and the backends installed.",
    )
    listing.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: losses (name, class, arrays, required, options) and backends",
    )
    info = commands.add_parser(
        "info",
        help="one loss: its arrays, options and defaults",
        description="One loss: its signature, arrays, options and "
        "defaults, how 'mean' divides, and the backends installed.",
    )
    info.add_argument("loss", help="the loss, by its name or class, e.g. cross_entropy or CrossEntropyLoss")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    try:
        if args.command == "list":
            return list_command(args.json)
        if args.command == "info":
            print(_eval.describe_loss(args.loss))
            return 0
        return eval_command(args)
    except _eval.EvalError as exc:
        print(f"anyloss {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (`anyloss list | head`): nothing to say
        sys.stdout = open(os.devnull, "w")  # so that the exit flushes quietly
        return 1
    except KeyboardInterrupt:
        print(f"anyloss {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a command line reports, it does not trace back
        print(f"anyloss {args.command}: error: {_eval.one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
