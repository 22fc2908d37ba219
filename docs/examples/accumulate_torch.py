"""Gradient accumulation on torch: the gradient of the whole batch's 'mean', micro-batch by
micro-batch, however many targets each micro-batch ignores."""

import torch

import anyloss as al


def accumulate(model: torch.nn.Module, micro_batches, **options) -> torch.Tensor:
    """Leave in each parameter's ``.grad`` the gradient of the whole batch's cross-entropy."""
    model.zero_grad()
    total = 0
    for x, t in micro_batches:
        numerator, denominator = al.mean_parts(al.cross_entropy, model(x), t, **options)
        numerator.backward()  # gradients of the numerators add up
        total = total + denominator
    for p in model.parameters():
        p.grad /= total  # one division by the summed denominators
    return total
