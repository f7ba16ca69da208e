"""Third-party SR checkpoints (SwinIR, RCAN, HAT, SPAN) loaded by spandrel and wrapped as `SRModel`.

Why the torchvision stub: spandrel's package imports torchvision at import time, only for its
LaMa (inpainting) and RestoreFormer (face restoration) architectures, which this project never
runs. torchvision cannot be installed beside the CPU build of torch that we use, so when
`import torchvision` fails we put a narrow stand-in (`torchvision.transforms.functional` with
`InterpolationMode`, `rotate`, `normalize`, which raise NotImplementedError when used) into
`sys.modules` for the duration of `import spandrel`, then remove it so that no other code mistakes
it for the real package. When the real torchvision imports (the GPU image), nothing is stubbed.

Feature layer of each supported architecture: the input of the up-sampling stage, i.e. the
body's output plus the long skip, read with a forward pre-hook on the module named here (the
forward stops there, so the up-sampler is not run):

| spandrel arch | hooked module (its input is the feature map)                       | channels   |
|---------------|---------------------------------------------------------------------|------------|
| SwinIR        | `conv_before_upsample` (pixelshuffle, nearest+conv) or `upsample`   | embed_dim  |
|               | (pixelshuffledirect): `conv_after_body(forward_features(x)) + x`    |            |
| HAT           | `conv_before_upsample`: `conv_after_body(forward_features(x)) + x`  | embed_dim  |
| RCAN          | `tail` (Upsampler + conv): `body(x) + x`                            | n_feats    |
| SPAN          | `upsampler`: `conv_cat([conv_1 out, block outputs])`                | feat. ch.  |

Features of inputs that the network pads internally (SwinIR/HAT windows) are cropped back to the
input's size (divided by the network's pixel-unshuffle factor, if any).
"""

from __future__ import annotations

import enum
import math
import sys
import types
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from idc_core.models.base import SRModel


def _stub_torchvision() -> list[str]:
    """Install the stand-in described in the module docstring; returns the names it added."""

    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise NotImplementedError("torchvision is not installed; this spandrel arch is unusable")

    class InterpolationMode(enum.Enum):
        NEAREST = "nearest"
        BILINEAR = "bilinear"
        BICUBIC = "bicubic"

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode = InterpolationMode  # type: ignore[attr-defined]
    functional.rotate = unavailable  # type: ignore[attr-defined]
    functional.normalize = unavailable  # type: ignore[attr-defined]
    transforms = types.ModuleType("torchvision.transforms")
    transforms.functional = functional  # type: ignore[attr-defined]
    root = types.ModuleType("torchvision")
    root.transforms = transforms  # type: ignore[attr-defined]
    stubs = {
        "torchvision": root,
        "torchvision.transforms": transforms,
        "torchvision.transforms.functional": functional,
    }
    sys.modules.update(stubs)
    return list(stubs)


def import_spandrel() -> types.ModuleType:
    """`import spandrel`, with the torchvision stand-in only while importing and only if needed."""
    if "spandrel" in sys.modules:
        return sys.modules["spandrel"]
    try:
        import torchvision  # noqa: F401
    except ImportError:
        added = _stub_torchvision()
    else:
        added = []
    try:
        import spandrel
    finally:
        for name in added:
            sys.modules.pop(name, None)
    return spandrel


def _swinir_feature_module(net: nn.Module) -> str:
    return "upsample" if net.upsampler == "pixelshuffledirect" else "conv_before_upsample"


# spandrel arch id -> (name of the module whose input is the feature map, unshuffle attribute).
FEATURE_LAYERS: dict[str, tuple[Any, str | None]] = {
    "SwinIR": (_swinir_feature_module, "start_unshuffle"),
    "HAT": (lambda net: "conv_before_upsample", None),
    "RCAN": (lambda net: "tail", "downscale_factor"),
    "SPAN": (lambda net: "upsampler", None),
}
SUPPORTED_ARCHS = tuple(FEATURE_LAYERS)


class UnsupportedSpandrelModel(ValueError):
    """The checkpoint loads in spandrel but is not a supported super-resolution network."""


class _FeaturesCaptured(Exception):
    """Raised by the pre-hook to stop the forward pass once the feature map is known."""

    def __init__(self, features: Tensor) -> None:
        super().__init__()
        self.features = features


class SpandrelSRModel(SRModel):
    """A spandrel `ImageModelDescriptor` seen through the `SRModel` interface."""

    def __init__(self, descriptor: Any) -> None:
        super().__init__()
        arch_id = str(descriptor.architecture.id)
        self.net = descriptor.model
        self.size_requirements = descriptor.size_requirements
        self.scale = int(descriptor.scale)
        self.arch = f"spandrel:{arch_id}"
        self.config = {"spandrel_arch": arch_id, "tags": list(descriptor.tags)}
        module_name, unshuffle_attr = FEATURE_LAYERS[arch_id]
        self.feature_module_name: str = module_name(self.net)
        self.feature_module: nn.Module = self.net.get_submodule(self.feature_module_name)
        self.unshuffle = int(getattr(self.net, unshuffle_attr, 1) or 1) if unshuffle_attr else 1
        first_conv = next(m for m in self.feature_module.modules() if isinstance(m, nn.Conv2d))
        self.feature_channels = int(first_conv.in_channels)

    def _pad(self, lr: Tensor) -> Tensor:
        """Replicate-pad to the network's size requirements (minimum side, multiple of)."""
        pad_w, pad_h = self.size_requirements.get_padding(lr.shape[-1], lr.shape[-2])
        return F.pad(lr, (0, pad_w, 0, pad_h), mode="replicate") if pad_w or pad_h else lr

    def forward(self, lr: Tensor) -> Tensor:
        height, width = lr.shape[-2:]
        return self.net(self._pad(lr))[..., : height * self.scale, : width * self.scale]

    def extract_features(self, lr: Tensor) -> Tensor:
        height, width = lr.shape[-2:]

        def capture(_module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            raise _FeaturesCaptured(inputs[0])

        handle = self.feature_module.register_forward_pre_hook(capture)
        try:
            self.net(self._pad(lr))
        except _FeaturesCaptured as captured:
            features = captured.features
        else:  # pragma: no cover - the hooked module is always on the forward path
            raise RuntimeError(f"{self.arch}: {self.feature_module_name} was never reached")
        finally:
            handle.remove()
        rows, cols = math.ceil(height / self.unshuffle), math.ceil(width / self.unshuffle)
        return features[..., :rows, :cols]


def load_spandrel_model(path: str | Path, device: str | torch.device = "cpu") -> SpandrelSRModel:
    """Load any spandrel-readable file and wrap it; raises for non-SR or unsupported archs."""
    spandrel = import_spandrel()
    descriptor = spandrel.ModelLoader(device=torch.device(device)).load_from_file(str(path))
    arch_id = str(descriptor.architecture.id)
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.scale < 2:
        raise UnsupportedSpandrelModel(
            f"{path}: {arch_id} ({descriptor.purpose}, scale {descriptor.scale}) is not a "
            "super-resolution model (image in, larger image out)"
        )
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise UnsupportedSpandrelModel(
            f"{path}: {arch_id} has {descriptor.input_channels} input / "
            f"{descriptor.output_channels} output channels; only RGB models are supported"
        )
    if arch_id not in FEATURE_LAYERS:
        raise UnsupportedSpandrelModel(
            f"{path}: spandrel architecture {arch_id} is not supported; supported: "
            f"{', '.join(SUPPORTED_ARCHS)}"
        )
    model = SpandrelSRModel(descriptor)
    model.eval()
    return model
