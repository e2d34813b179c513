"""Reproducible runs: one call seeds Python, NumPy and torch (and makes cuDNN deterministic)."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU, CUDA and MPS) with ``seed``.

    With ``deterministic=True`` cuDNN also picks deterministic algorithms and stops benchmarking
    (``torch.backends.cudnn.deterministic = True``, ``benchmark = False``): on the CPU the same
    seed then gives the same run; on a GPU a few operations (e.g. the backward pass of bilinear
    upsampling) stay nondeterministic, so expect tiny differences there. DataLoader workers are
    seeded from torch's generator, so shuffling and augmentation repeat too.

    >>> seed_everything(0); a = torch.rand(2)
    >>> seed_everything(0); bool((a == torch.rand(2)).all())
    True
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds every CUDA and MPS device as well
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
