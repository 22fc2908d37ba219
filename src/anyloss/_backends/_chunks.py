"""How ``linear_cross_entropy`` cuts a batch into chunks of rows when none is asked for.

A module of its own, importing nothing of anyloss, so that every kernel (NumPy's among
them, which the generic backend imports) reads the one rule.
"""

from __future__ import annotations

import math

__all__ = ["MIN_CHUNK_LOGITS", "default_chunk_size"]

#: The fewest logits a default chunk holds (1 MiB in float32), where the batch has as many:
#: below this, each chunk's fixed cost (a dozen array operations per block) outweighs its
#: arithmetic (at N=65536, H=64, C=1000 a 16th of it took 1.4× the time on torch), and so
#: few logits are no memory worth saving.
MIN_CHUNK_LOGITS = 1 << 18


def default_chunk_size(n: int, in_features: int, n_classes: int) -> int:
    """Rows per chunk when none is asked for: a power of two (at least 8) whose logits hold
    at most a 64th as many numbers as the gradients ``dX + dW`` that a training step must
    hold anyway, so that with the kernels' few temporaries of a chunk's size (three or
    four, and a block's share of ``dX``) the step stays within a tenth above them; but no
    fewer than :data:`MIN_CHUNK_LOGITS` logits where the batch has them."""
    logits = max((n_classes * in_features + n * in_features) / 64, MIN_CHUNK_LOGITS)
    budget = logits / max(n_classes, 1)
    rows = 1 << max(3, int(math.floor(math.log2(max(budget, 1.0)))))
    return max(1, min(n, rows))
