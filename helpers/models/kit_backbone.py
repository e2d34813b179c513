"""The kit's own pretrained ResNet-18: transfer learning without ImageNet's file (offline).

Machines without internet (grading containers, exam rooms, CI) have no ImageNet weights. The kit
therefore ships a ResNet-18 backbone of its own, pretrained on a task that no assignment grades:
multi-label classification of synthetic scenes of the shapes in
:data:`helpers.data.scenes.PRETRAIN_CLASSES` (pentagon, octagon, ellipse, ...; none of them an
assignment's class), from seeds no assignment uses. ``resnet18(num_classes=K, weights="kit")``
starts from it; :data:`RESNET18_KIT` is its card (what it was trained on, at which size, its
normalisation, its score, its SHA-256).

The file, ``helpers/models/weights/resnet18_kit_shapes_v1.pt``, is a state dict of the backbone
(every tensor of torchvision's ResNet-18 but ``fc``) in half precision: 22 MB instead of 45. It is
checked against :attr:`KitWeightsInfo.sha256` before ``torch.load(..., weights_only=True)`` reads
it, from the very bytes that were hashed.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torchvision.transforms import v2

from helpers.data.scenes import PRETRAIN_CLASSES

__all__ = ["RESNET18_KIT", "KitWeightsInfo", "load_kit_state"]

#: Where the kit's weight files live: inside the helpers package, so the student wheel has them.
WEIGHTS_FOLDER = Path(__file__).resolve().parent / "weights"
#: The largest file the loader reads (a ResNet-18 backbone in float32 is 45 MB).
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class KitWeightsInfo:
    """Card of a backbone the kit pretrained itself: what it learned from and what it scored.

    Attributes:
        name: how the card is printed, e.g. ``"kit:resnet18_shapes_v1"``.
        file_name: the weight file's name in :attr:`folder`.
        sha256: the file's SHA-256 (hex); the loader refuses any other bytes. Empty while the
            file is not built yet.
        trained_on: the pretraining task in words.
        classes: the pretraining labels (none of them an assignment's class).
        image_size: side in pixels of the square images it was trained on; feed images of about
            that size (``transforms()`` resizes to it).
        mean, std: per-channel (R, G, B) normalisation of its inputs, for images in [0, 1].
        metrics: held-out scores on its own task, dataset -> metric -> value in percent.
        recipe: the command that built the file.
        training: how long the pretraining took, on which machine, under which load.
        folder: where the file lives (the package's ``weights/`` folder).
    """

    name: str
    file_name: str
    sha256: str
    trained_on: str
    classes: tuple[str, ...]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    metrics: dict[str, dict[str, float]]
    recipe: str
    training: str
    folder: Path = field(default=WEIGHTS_FOLDER)

    @property
    def path(self) -> Path:
        """The weight file: :attr:`folder` / :attr:`file_name`."""
        return self.folder / self.file_name

    @property
    def normalize(self) -> v2.Normalize:
        """``Normalize(mean, std)`` for float (..., 3, H, W) images in [0, 1]."""
        return v2.Normalize(mean=list(self.mean), std=list(self.std))

    def transforms(self) -> nn.Module:
        """The preprocessing the weights expect: a PIL image, or a uint8 or float (3, H, W)
        tensor in [0, 1] -> float32 (3, S, S), resized and centre-cropped to
        ``S = image_size`` and normalised."""
        return v2.Compose(
            [
                v2.ToImage(),
                v2.Resize(self.image_size, antialias=True),
                v2.CenterCrop(self.image_size),
                v2.ToDtype(torch.float32, scale=True),
                self.normalize,
            ]
        )

    def __str__(self) -> str:
        scores = "; ".join(
            f"{dataset} " + ", ".join(f"{k} {v:g}%" for k, v in values.items())
            for dataset, values in self.metrics.items()
        )
        return (
            f"{self.name}: ResNet-18 pretrained on {self.trained_on} at "
            f"{self.image_size} x {self.image_size} px; {scores or 'not scored yet'} "
            f"(file {self.file_name}, sha256 {self.sha256[:12] or 'not built yet'})"
        )


#: The kit's ResNet-18 backbone, pretrained on synthetic scenes of PRETRAIN_CLASSES.
RESNET18_KIT = KitWeightsInfo(
    name="kit:resnet18_shapes_v1",
    file_name="resnet18_kit_shapes_v1.pt",
    sha256="411c7daa90d4774e5a3d2f4c6e065000d914edab8abc3d8fe0631edbf93a27bf",
    trained_on="multi-label synthetic scenes of 8 shapes no assignment grades",
    classes=PRETRAIN_CLASSES,
    image_size=64,
    mean=(0.5, 0.498, 0.499),
    std=(0.249, 0.248, 0.248),
    metrics={"kit shapes held-out (1000 scenes)": {"mAP": 48.46}},
    recipe="python -m helpers.models.pretrain_kit_backbone --out "
    "helpers/models/weights/resnet18_kit_shapes_v1.pt --images 20000 --epochs 4 --size 64",
    training="23.7 min on 1 thread of a shared 2-core machine, load average 4-8, torch 2.14.1",
)
"""The kit's ResNet-18 backbone (``weights="kit"``), built by :attr:`KitWeightsInfo.recipe`.

Pretraining (20,000 scenes of 64 px, half zoomed in, 4 epochs, AdamW one-cycle to 2e-3, batch
32, seed 1515): held-out mAP 32.4, 39.2, 46.4, 48.5 % after epochs 1-4 (still rising; a constant
predictor scores 26.6 %); 142 s to draw the scenes and 283-353 s per epoch (57-71 images/s on
one thread while other work kept the load average at 4-8). The file is 21.4 MiB.

Transfer, measured with ``python bench/kit_backbone.py`` (a4's task: 200 labelled 64 px crops of
the public tree's 8 classes, 25 per class, 600 held out from its test split; 15 epochs, Adam
1e-3, x0.1 every 5 epochs, batch 32, flips; the same budget for every mode; 1 thread, load
average 3-5), held-out accuracy, mean +- standard deviation over seeds 0, 1, 2, and seconds per
run:

===========================================  ==============  ======
ResNet-18                                    accuracy %      s/run
===========================================  ==============  ======
from scratch, every layer trains             26.9 +- 1.5     45
kit backbone, linear probe (``fc`` only)     31.1 +- 0.9     14
kit backbone, ``layer4`` + ``fc`` train      48.8 +- 2.6     26
kit backbone, every layer trains             56.5 +- 1.9     41
===========================================  ==============  ======

(Chance is 12.5 %.) The frozen features alone separate the new classes only a little (the probe);
letting the last block adapt is what pays, +22 points over scratch at a little over half its time.
With 800 labelled crops (100 per class, seed 0) the gap closes: scratch 66.2 % (146 s), last block
and head 67.5 % (69 s); pretraining helps most when labels are few.
"""


def _rebuild_hint(info: KitWeightsInfo) -> str:
    return (
        f"The file ships with the kit's helpers package: reinstall the student wheel, or in the "
        f"kit's repository run `git checkout -- helpers/models/weights/{info.file_name}`. There "
        f"it was built by `{info.recipe}` ({info.training or 'see kit_backbone.py'}); a "
        f"rebuilt file has other bytes, so put its SHA-256 (the command prints it) in "
        f"RESNET18_KIT in helpers/models/kit_backbone.py. Or choose weights=None (random) or "
        f"weights='imagenet' (torchvision's file)."
    )


def load_kit_state(info: KitWeightsInfo = RESNET18_KIT) -> dict[str, torch.Tensor]:
    """The backbone's tensors as float32, checked against ``info.sha256``.

    Returns:
        ``{name: tensor}`` for every tensor of torchvision's ResNet-18 except ``fc.weight`` and
        ``fc.bias`` (float32; ``num_batches_tracked`` int64).

    Raises:
        PretrainedWeightsError: the file is missing, too large, not the file the card names
            (SHA-256 differs) or unreadable. The message names the file and how to get it back.
    """
    from helpers.models.pretrained import PretrainedWeightsError

    path = info.path
    if not info.sha256:
        raise PretrainedWeightsError(
            f"The kit's pretrained weights {info.name} ({info.file_name}) are not built in this "
            f"version of the kit yet. Build them with `{info.recipe}` and put the SHA-256 it "
            "prints into RESNET18_KIT (helpers/models/kit_backbone.py), or update the kit."
        )
    try:
        with path.open("rb") as file:
            # Bound the read: a wrong file (a dataset, a full checkpoint) is refused unread.
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise PretrainedWeightsError(
            f"The kit's pretrained weight file {info.file_name} is missing from {info.folder}. "
            + _rebuild_hint(info)
        ) from None
    except OSError as error:
        raise PretrainedWeightsError(
            f"The kit's pretrained weight file {path} cannot be read ({error.strerror or error}). "
            + _rebuild_hint(info)
        ) from error
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > MAX_FILE_BYTES or digest != info.sha256:
        size = f"over {MAX_FILE_BYTES // 2**20} MiB" if len(data) > MAX_FILE_BYTES else digest
        raise PretrainedWeightsError(
            f"The kit's pretrained weight file {path} is not the file {info.name} was built "
            f"with: its SHA-256 should be {info.sha256}, the file has {size}. It may be "
            "truncated, edited or another checkpoint. " + _rebuild_hint(info)
        )
    try:
        # weights_only=True: tensors and plain containers only, nothing in the file runs code.
        # Read from the bytes just hashed, so the file cannot change between check and load.
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise PretrainedWeightsError(
            f"The kit's pretrained weight file {path} matches its SHA-256 but torch.load cannot "
            f"read it ({type(error).__name__}); this torch may be too old for it. "
            + _rebuild_hint(info)
        ) from error
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()
    ):
        raise PretrainedWeightsError(
            f"The kit's pretrained weight file {path} should hold a state dict (names -> "
            f"tensors), it holds a {type(state).__name__}. " + _rebuild_hint(info)
        )
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
