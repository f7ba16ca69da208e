"""Third-party SR checkpoints loaded by spandrel and wrapped as `SRModel`.

Why the torchvision stub: spandrel's package imports torchvision at import time, only for its
LaMa (inpainting) and RestoreFormer (face restoration) architectures, which this project never
runs. torchvision cannot be installed beside the CPU build of torch that we use, and a torchvision
built for another torch fails on import with errors other than ImportError (RuntimeError
"operator torchvision::nms does not exist"). So when `import torchvision` fails in any way we put
a narrow stand-in (`torchvision.transforms.functional` with `InterpolationMode`, `rotate`,
`normalize`, which raise NotImplementedError when used) into `sys.modules` for the duration of
`import spandrel`, then remove it so that no other code mistakes it for the real package. When
the real torchvision imports (the GPU image), nothing is stubbed. `spandrel_extra_arches`
(SRFormer among others), when installed, is registered in the same step.

Feature layer of each supported architecture: the input of the up-sampling stage, i.e. the
body's output plus the long skip, read with a forward pre-hook on the module named here (the
forward stops there, so the up-sampler is not run). "SwinIR-like" below means
`conv_before_upsample` (upsamplers pixelshuffle, nearest+conv, pixelshuffle_aux) or `upsample`
(pixelshuffledirect), whose input is `conv_after_body(forward_features(x)) + x`:

| spandrel arch | hooked module (its input is the feature map)                       | channels   |
|---------------|---------------------------------------------------------------------|------------|
| SwinIR        | SwinIR-like                                                         | embed_dim  |
| Swin2SR       | SwinIR-like                                                         | embed_dim  |
| HAT           | SwinIR-like (`conv_before_upsample`)                                | embed_dim  |
| DAT           | SwinIR-like                                                         | embed_dim  |
| SRFormer      | SwinIR-like (needs `spandrel_extra_arches`)                         | embed_dim  |
| DRCT          | SwinIR-like (`conv_before_upsample`)                                | embed_dim  |
| RGT           | SwinIR-like (`conv_before_upsample`)                                | embed_dim  |
| ATD           | SwinIR-like                                                         | embed_dim  |
| CRAFT         | `upsample`: `conv_after_body(forward_features(x)) + x`              | embed_dim  |
| RCAN          | `tail` (Upsampler + conv): `body(x) + x`                            | n_feats    |
| ESRGAN        | `model.2` (first up-sampling block): `x + body(x)` (ShortcutBlock) | num_filters|
| OmniSR        | `up`: `output(residual_layer(x)) + x`                               | num_feat   |
| SPAN          | `upsampler`: `conv_cat([conv_1 out, block outputs])`                | feat. ch.  |
| SeemoRe       | `upsampler`: `conv_2(norm(body(x))) + x`                            | embedding_dim |
| SAFMN         | `to_img`: `feats(x) + x`                                            | dim        |
| FDAT          | `upsampler`: `conv_after(groups(x)) + x`                            | embed_dim  |
| MoESR         | `upscale`: `blocks(x) + x`                                          | dim        |

Features of inputs that the network pads internally (window sizes) are cropped back to the
input's size (divided by the network's pixel-unshuffle factor, if any: ESRGAN's `shuffle_factor`,
RCAN's `downscale_factor`, SwinIR's `start_unshuffle`, FDAT's unshuffle mode). The other SR
architectures that spandrel reads are refused by name: some have no such layer (Compact and
SwiftSRGAN add the input's up-sampling after the network, RealCUGAN is a U-Net, AuraSR a GAN),
the rest are not mapped and tested here yet (GRL, ATD, DCTLSA, DITN, PLKSR, MoSR, ...).
"""

from __future__ import annotations

import enum
import math
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from idc_core.models.base import ModelLoadError, SRModel


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


def _torchvision_imports() -> bool:
    """Whether the real torchvision imports; a broken one leaves no half-imported modules."""
    try:
        import torchvision  # noqa: F401
    except Exception:  # ImportError, or RuntimeError from a torchvision built for another torch
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        return False
    return True


def import_spandrel() -> types.ModuleType:
    """`import spandrel` (+ extra arches), with the torchvision stand-in only while importing."""
    if "spandrel" in sys.modules:
        return sys.modules["spandrel"]
    added = [] if _torchvision_imports() else _stub_torchvision()
    try:
        import spandrel

        try:
            import spandrel_extra_arches
        except ImportError:
            pass
        else:
            spandrel_extra_arches.install()
    finally:
        for name in added:
            sys.modules.pop(name, None)
    return spandrel


def _swinir_like(net: nn.Module) -> str:
    """`upsample` for the lightweight up-sampler, else `conv_before_upsample` (docstring table)."""
    return (
        "upsample"
        if getattr(net, "upsampler", "") == "pixelshuffledirect"
        else "conv_before_upsample"
    )


def _module(name: str) -> Callable[[nn.Module], str]:
    return lambda _net: name


def _attribute(name: str) -> Callable[[nn.Module], int]:
    return lambda net: int(getattr(net, name, 1) or 1)


def _no_unshuffle(_net: nn.Module) -> int:
    return 1


def _fdat_unshuffle(net: nn.Module) -> int:
    return int(getattr(net, "pad")) if isinstance(net.conv_first, nn.Sequential) else 1  # noqa: B009 - an int attribute mypy types as Tensor | Module


# spandrel arch id -> (name of the module whose input is the feature map, pixel-unshuffle factor).
FEATURE_LAYERS: dict[str, tuple[Callable[[nn.Module], str], Callable[[nn.Module], int]]] = {
    "SwinIR": (_swinir_like, _attribute("start_unshuffle")),
    "Swin2SR": (_swinir_like, _no_unshuffle),
    "HAT": (_swinir_like, _no_unshuffle),
    "DAT": (_swinir_like, _no_unshuffle),
    "SRFormer": (_swinir_like, _no_unshuffle),
    "DRCT": (_swinir_like, _no_unshuffle),
    "RGT": (_swinir_like, _no_unshuffle),
    "CRAFT": (_module("upsample"), _no_unshuffle),
    "RCAN": (_module("tail"), _attribute("downscale_factor")),
    "ESRGAN": (_module("model.2"), _attribute("shuffle_factor")),
    "OmniSR": (_module("up"), _no_unshuffle),
    "SPAN": (_module("upsampler"), _no_unshuffle),
    "SeemoRe": (_module("upsampler"), _no_unshuffle),
    "SAFMN": (_module("to_img"), _no_unshuffle),
    "FDAT": (_module("upsampler"), _fdat_unshuffle),
    "MoESR": (_module("upscale"), _no_unshuffle),
}
SUPPORTED_ARCHS = tuple(FEATURE_LAYERS)


class UnsupportedSpandrelModel(ModelLoadError):
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
        module_name, unshuffle = FEATURE_LAYERS[arch_id]
        self.feature_module_name: str = module_name(self.net)
        self.feature_module: nn.Module = self.net.get_submodule(self.feature_module_name)
        self.unshuffle = unshuffle(self.net)
        # Read off one small forward: the hooked module does not always start with a convolution.
        self.net.eval()  # teachers run in eval mode (batch norm statistics stay as loaded)
        weight = next(self.net.parameters())
        probe = torch.zeros(1, 3, 8, 8, dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            self.feature_channels = int(self.extract_features(probe).shape[1])

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


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """The tensors of a .pth/.pt/.ckpt/.safetensors file, unwrapped as spandrel does
    (`params_ema` before `params`, `state_dict`, ...; `module.` prefixes removed)."""
    spandrel = import_spandrel()
    return dict(spandrel.ModelLoader().load_state_dict_from_file(str(path)))


def _describe_keys(state_dict: Mapping[str, Any], shown: int = 4) -> str:
    keys = list(state_dict)
    more = f", ... ({len(keys)} in all)" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more if keys else "no tensors"


def spandrel_model_from_state_dict(
    state_dict: Mapping[str, Any], path: str | Path, device: str | torch.device = "cpu"
) -> SpandrelSRModel:
    """Detect the architecture of `state_dict` with spandrel and wrap it; raises
    `UnsupportedSpandrelModel` naming what it is when it is no SR network we can hook."""
    spandrel = import_spandrel()
    loader = spandrel.ModelLoader(device=torch.device(device))
    try:
        descriptor = loader.load_from_state_dict(state_dict)
    except spandrel.UnsupportedModelError as error:
        raise UnsupportedSpandrelModel(
            f"{path}: no known architecture matches this checkpoint (keys: "
            f"{_describe_keys(state_dict)}). Loadable: our .safetensors + .json pair, BasicSR's "
            f"EDSR, and spandrel's {', '.join(SUPPORTED_ARCHS)}"
        ) from error
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
            f"{path}: spandrel reads this {arch_id} x{descriptor.scale} model, but IDC cannot use "
            f"it as a teacher: its feature layer (body output plus long skip, before the "
            f"up-sampler) is not mapped. Supported spandrel architectures: "
            f"{', '.join(SUPPORTED_ARCHS)}"
        )
    model = SpandrelSRModel(descriptor)
    model.eval()
    return model


def load_spandrel_model(path: str | Path, device: str | torch.device = "cpu") -> SpandrelSRModel:
    """Load any spandrel-readable file and wrap it; raises for non-SR or unsupported archs."""
    return spandrel_model_from_state_dict(read_state_dict(path), path, device)
