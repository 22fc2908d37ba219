"""Gradient accumulation on JAX: the gradient of the whole batch's 'mean', micro-batch by
micro-batch, under ``jax.jit``."""

import functools

import jax

import anyloss as al


def _numerator(params, x, t, options):
    logits = x @ params["w"] + params["b"]
    numerator, denominator = al.mean_parts(al.cross_entropy, logits, t, **options)
    return numerator, denominator


def accumulate(params, micro_batches, **options):
    """The gradient of the whole batch's cross-entropy with respect to ``params``."""
    # Options are static: they are bound before tracing, never passed as traced values.
    step = jax.jit(jax.grad(functools.partial(_numerator, options=options), has_aux=True))
    grads, total = None, 0.0
    for x, t in micro_batches:
        g, denominator = step(params, x, t)
        grads = g if grads is None else jax.tree.map(jax.numpy.add, grads, g)
        total = total + denominator
    return jax.tree.map(lambda g: g / total, grads)
