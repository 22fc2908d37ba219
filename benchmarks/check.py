"""``python -m benchmarks --check-peers``: every NumPy and JAX peer against torch.nn.functional.

The suite checks each peer against anyloss before timing it; this checks the peers on their
own, against the reference, so a peer is known to be right before its loss lands in anyloss.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from . import cases, peers


def check_peers(sizes: tuple[str, ...] = ("small", "medium")) -> int:
    import jax
    import jax.numpy as jnp
    import torch
    import torch.nn.functional as F

    failures = 0
    for loss in cases.LOSSES:
        for size in sizes:
            case = cases.build(loss, size)
            targs = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in case.args]
            expected = getattr(F, loss)(*targs, **case.kwargs).numpy()
            jargs = [jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in case.args]
            _, np_peer = peers.numpy_peer(loss)
            jax_name, jax_peer = peers.jax_peer(loss)
            for who, got in (
                ("numpy", np_peer(*case.args, **case.kwargs)),
                (jax_name, jax.jit(partial(jax_peer, **case.kwargs))(*jargs)),
            ):
                got = np.asarray(got)
                ok = np.allclose(got, expected, rtol=2e-4, atol=1e-6) and got.dtype == np.float32
                failures += not ok
                print(f"{'ok  ' if ok else 'FAIL'} {loss:34s} {size:6s} {who:48s} {got!s:>12} {expected}")
    print(f"{failures} failures")
    return 1 if failures else 0
