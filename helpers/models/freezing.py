"""Freeze all of a network but the parts you name: the usual way to fine-tune a pretrained one."""

from __future__ import annotations

from torch import nn

__all__ = ["freeze_all_but", "parameter_counts", "unfreeze"]


def freeze_all_but(model: nn.Module, *trainable: str) -> list[str]:
    """Turn off gradients for every parameter except those under the named submodules.

    Names are submodule paths as ``model.named_modules()`` gives them, e.g. ``"fc"`` and
    ``"layer4"`` for a ResNet, ``"classifier.6"`` for AlexNet's last layer. With no names the
    whole model is frozen. Build the optimizer after freezing, e.g.
    ``SGD((p for p in model.parameters() if p.requires_grad), lr=...)``. BatchNorm layers in
    frozen parts still update their running statistics in ``model.train()`` mode.

    Returns:
        The names of the parameters left trainable.

    Raises:
        ValueError: a name is not a submodule of ``model``; the message lists the top-level ones.

    >>> from torchvision.models import resnet18
    >>> freeze_all_but(resnet18(), "fc")
    ['fc.weight', 'fc.bias']
    """
    modules = dict(model.named_modules())
    unknown = [name for name in trainable if name not in modules or name == ""]
    if unknown:
        top = ", ".join(name for name, _ in model.named_children())
        raise ValueError(
            f"{type(model).__name__} has no submodule named {', '.join(map(repr, unknown))}. "
            f"Its top-level parts are: {top}. Name deeper ones with dots, e.g. 'classifier.6'; "
            "print(model) shows the tree."
        )
    left = []
    for name, parameter in model.named_parameters():
        keep = any(name.startswith(part + ".") for part in trainable)
        parameter.requires_grad_(keep)
        if keep:
            left.append(name)
    return left


def unfreeze(model: nn.Module) -> None:
    """Turn gradients back on for every parameter of ``model``."""
    for parameter in model.parameters():
        parameter.requires_grad_(True)


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """Number of trainable and of all parameters (scalars, not tensors).

    >>> from helpers.models import base_net
    >>> parameter_counts(base_net())
    {'trainable': 4414, 'total': 4414}
    """
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}
