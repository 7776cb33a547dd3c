"""Identity of a morphable head: weights of its identity components from a seed and a few sliders.

A template set with identity components (``TemplateSet.identity``, K x V x 3, one offset per unit
of a standard-normal weight, as ICT-FaceKit's PCA modes) gives another face's neutral as
``V0 + sum_k a_k I_k``. The expression targets stay offsets, so a take plays on any identity.
numpy only.
"""
from __future__ import annotations

import numpy as np

from ..errors import EmoTalkError

NUM_SLIDERS = 4  # the largest components, for hand control (PCA order: most variation first)
SLIDER_RANGE = 3.0  # standard deviations
SEED_SCALE = 0.8  # a random face draws a ~ N(0, 0.8^2): plausible, away from the model's extremes


class IdentityError(EmoTalkError):
    """An identity control outside its range."""


def identity_weights(num_components: int, seed: int = 0, sliders=()) -> np.ndarray:
    """Weights (K,) float32: seed 0 is the model's mean face; another seed a random plausible face;
    ``sliders[i]`` (in standard deviations, |s| <= 3) adds to component i."""
    if num_components < 0:
        raise IdentityError(f"identity: {num_components} components")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise IdentityError(f"identity seed must be an integer >= 0, got {seed!r}")
    sliders = [float(s) for s in sliders]
    if len(sliders) > max(num_components, NUM_SLIDERS):
        raise IdentityError(f"identity: {len(sliders)} sliders for {num_components} components")
    bad = [s for s in sliders if not abs(s) <= SLIDER_RANGE]
    if bad:
        raise IdentityError(f"identity sliders must lie in -{SLIDER_RANGE:g}..{SLIDER_RANGE:g}, got {bad[0]!r}")
    a = np.zeros(num_components, np.float32)
    if seed:
        a[:] = np.random.default_rng(seed).normal(0.0, SEED_SCALE, num_components)
    for i, s in enumerate(sliders[:num_components]):
        a[i] += s
    return a
