"""Choosing the torch device from 'auto', 'cpu' or 'cuda' (with an optional index)."""

from __future__ import annotations

import torch


class DeviceUnavailableError(ValueError):
    """CUDA was asked for on a machine without a usable GPU."""


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda'/'cuda:N' raises when it is not there."""
    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device {name!r} was requested but CUDA is not available on this machine "
                "(torch was built without CUDA or no GPU is visible); use --device cpu or auto"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {name!r} was requested but only {torch.cuda.device_count()} GPU(s) exist"
            )
        return device
    raise ValueError(f"unknown device {name!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
