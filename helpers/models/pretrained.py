"""Pretrained weights from torchvision's cache, with an error that says how to get them offline.

torchvision already knows where every checkpoint lives (its weight enums carry ``url``, the
reference ``_metrics`` and the preprocessing ``transforms``) and caches downloads in
``$TORCH_HOME/hub/checkpoints``. This module adds only what a course needs on top: when the file
is missing and the download fails (no network on a cluster node or in a grading container), an
error that names the exact file and folder; and a small card of what the weights scored, so a
notebook can show students the number to aim for.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import WeightsEnum

__all__ = [
    "PretrainedWeightsError",
    "WeightsInfo",
    "checkpoint_folder",
    "load_pretrained_state",
    "weights_info",
]


class PretrainedWeightsError(FileNotFoundError):
    """The pretrained weight file is neither in torchvision's cache nor downloadable (or is
    unreadable). The message names the file, the folder and the URL."""


@dataclass(frozen=True)
class WeightsInfo:
    """Where a set of pretrained weights comes from and what it scored.

    Attributes:
        name: the torchvision enum member, e.g. ``"ResNet18_Weights.IMAGENET1K_V1"``.
        url: where torchvision downloads the file from.
        file_name: the file's name in the cache, e.g. ``"resnet18-f37072fd.pth"``.
        metrics: the reference scores, dataset -> metric -> value in percent, e.g.
            ``{"ImageNet-1K": {"acc@1": 69.758, "acc@5": 89.078}}``.
        recipe: the page describing how the weights were trained.
        num_params: parameters of the original network (with its original head).
        enum: the torchvision enum member itself (for ``enum.transforms()``, the preprocessing the
            weights expect: resize, crop and ImageNet normalisation).
    """

    name: str
    url: str
    file_name: str
    metrics: dict[str, dict[str, float]]
    recipe: str
    num_params: int
    enum: WeightsEnum

    def transforms(self) -> nn.Module:
        """The preprocessing these weights were trained with (torchvision's preset)."""
        return self.enum.transforms()

    @property
    def image_size(self) -> int:
        """Side in pixels of the (centre-cropped) images the weights were trained on."""
        return int(self.enum.transforms().crop_size[0])

    @property
    def mean(self) -> tuple[float, float, float]:
        """Per-channel (R, G, B) mean the inputs are normalised with, for images in [0, 1]."""
        return tuple(self.enum.transforms().mean)

    @property
    def std(self) -> tuple[float, float, float]:
        """Per-channel (R, G, B) standard deviation, as :attr:`mean`."""
        return tuple(self.enum.transforms().std)

    @property
    def normalize(self) -> nn.Module:
        """``Normalize(mean, std)`` for float (..., 3, H, W) images in [0, 1]."""
        from torchvision.transforms import v2

        return v2.Normalize(mean=list(self.mean), std=list(self.std))

    def __str__(self) -> str:
        scores = "; ".join(
            f"{dataset} " + ", ".join(f"{k} {v:g}%" for k, v in values.items())
            for dataset, values in self.metrics.items()
        )
        return f"{self.name}: {scores} (recipe: {self.recipe})"


def weights_info(weights: WeightsEnum) -> WeightsInfo:
    """The :class:`WeightsInfo` card of a torchvision weight enum member.

    >>> from torchvision.models import ResNet18_Weights
    >>> print(weights_info(ResNet18_Weights.IMAGENET1K_V1))  # doctest: +ELLIPSIS
    ResNet18_Weights.IMAGENET1K_V1: ImageNet-1K acc@1 69.758%, acc@5 89.078% (recipe: https://...)
    """
    return WeightsInfo(
        name=f"{type(weights).__name__}.{weights.name}",
        url=weights.url,
        file_name=Path(urlparse(weights.url).path).name,
        metrics={k: dict(v) for k, v in weights.meta.get("_metrics", {}).items()},
        recipe=weights.meta.get("recipe", ""),
        num_params=int(weights.meta.get("num_params", 0)),
        enum=weights,
    )


def checkpoint_folder() -> Path:
    """torchvision's checkpoint cache: ``$TORCH_HOME/hub/checkpoints`` (``TORCH_HOME`` defaults
    to ``~/.cache/torch``). Read at call time, so setting ``TORCH_HOME`` takes effect at once."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def load_pretrained_state(weights: WeightsEnum, *, progress: bool = False) -> dict[str, Any]:
    """The state dict of ``weights``: read from the cache, downloaded there if it is missing.

    Raises:
        PretrainedWeightsError: the file is not cached and cannot be downloaded, or the cached
            file cannot be read. The message names the file, the folder and the URL.
    """
    info = weights_info(weights)
    folder = checkpoint_folder()
    cached = folder / info.file_name
    was_cached = cached.is_file()
    try:
        # torchvision's own path: cache lookup, download (hash-checked) when missing, torch.load.
        # weights_only=True: a checkpoint is tensors only, so nothing in the file can run code.
        return weights.get_state_dict(progress=progress, check_hash=True, weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        # Why these: URLError, HTTPError, timeouts and SSL errors are OSErrors; a hash mismatch is
        # a RuntimeError; a truncated or foreign file fails torch.load with the others.
        if was_cached:
            # The loader's own message is long and suggests weights_only=False, which is not the
            # fix here; the chained exception keeps it for whoever needs the detail.
            raise PretrainedWeightsError(
                f"The pretrained weight file {info.file_name} in {folder} cannot be read "
                f"(torch.load raised {type(error).__name__}). It may be a partial download: "
                f"delete {cached} and try again, or "
                f"copy a fresh download of {info.url} to that path."
            ) from error
        reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        raise PretrainedWeightsError(
            f"The pretrained weights {info.name} need the file {info.file_name}, which is not in "
            f"{folder}, and downloading it failed ({reason}). On a machine with internet, "
            f"download {info.url} and copy it to {cached} (the folder is "
            f"$TORCH_HOME/hub/checkpoints; set TORCH_HOME to use another cache). "
            f"Or build the model with pretrained=False to start from random weights."
        ) from error


def load_into(model: nn.Module, weights: WeightsEnum, *, progress: bool = False) -> None:
    """Load ``weights`` into a torchvision ``model`` built with its original head.

    A file that loads but holds another network's tensors gets the same clear error.
    """
    state = load_pretrained_state(weights, progress=progress)
    info = weights_info(weights)
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise PretrainedWeightsError(
            f"The file {info.file_name} in {checkpoint_folder()} does not hold the weights of "
            f"{info.name} ({str(error).splitlines()[0]} ...). Delete it and copy a fresh "
            f"download of {info.url} there."
        ) from error
