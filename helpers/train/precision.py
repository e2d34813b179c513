"""Mixed precision (AMP): autocast and loss scaling on CUDA, float32 everywhere else."""

from __future__ import annotations

import contextlib
import warnings

import torch


class _Precision:
    """Mixed precision on CUDA: bfloat16 autocast where the GPU supports it (no loss scaling
    needed), float16 with a GradScaler elsewhere; float32 on every other device."""

    def __init__(self, device: torch.device, enabled: bool | None) -> None:
        if enabled and device.type != "cuda":
            warnings.warn(
                f"Mixed precision is used on CUDA only; training in float32 on {device}.",
                stacklevel=3,
            )
        self.enabled = device.type == "cuda" and enabled is not False
        self.dtype = (
            torch.bfloat16 if self.enabled and torch.cuda.is_bf16_supported() else torch.float16
        )
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.enabled and self.dtype == torch.float16
        )

    def autocast(self) -> contextlib.AbstractContextManager:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(device_type="cuda", dtype=self.dtype)

    def __str__(self) -> str:
        return str(self.dtype).removeprefix("torch.") if self.enabled else "float32"
