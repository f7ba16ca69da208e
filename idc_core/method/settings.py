"""Every hyper-parameter of IDC, named, with the defaults we chose where the paper is silent.

The paper gives the structure (RLFF, NCFD, K-means groups, warm-up / assigning / full phases,
20k iterations) but not the numbers; see docs/method-choices.md. Each field's description
says where its default comes from. All of them are written into the output manifest.

`PRESETS` holds `paper` (the paper's scale, for a GPU), `cpu` (an image of a few hundred pixels
condenses in seconds on two cores), `tiny` (tests) and the ablations `v1`..`v7` of Table 2, which
switch parts off on top of the `cpu` sizes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# A GPU is far from full with one instance's few synthetic patches (the paper's 256-pixel HR
# patches give ~1-20 per image at r = 0.1); 8 instances fill it better and, at the `paper`
# sizes, keep the cached real features of a group within a few GB.
CUDA_INSTANCES_PER_BATCH = 8


class IDCSettings(BaseModel):
    """Hyper-parameters of one IDC run (Algorithm 1). Defaults = full IDC at the paper's scale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Optimisation of the synthetic LR patches.
    iterations: int = Field(20000, ge=1, description="optimisation steps per instance (paper: 20k)")
    lr: float = Field(0.01, gt=0, description="learning rate of the synthetic pixels (NCFD: 0.01)")
    optimiser: Literal["adamw", "adam"] = Field("adamw", description="NCFD's code uses AdamW")
    weight_decay: float = Field(0.0, ge=0, description="AdamW decay; 0 keeps pixel brightness")
    init: Literal["real", "textured", "kcenter", "noise"] = Field(
        "real",
        description="start from random real LR patches of the instance (NCFD default); "
        "'textured': random ones among the patches of above-median texture complexity (DCSR's "
        "first step); 'kcenter': the instance's patches that K-Center picks in the teacher's "
        "pooled features (the most diverse ones); 'noise': uniform noise",
    )
    init_noise: float = Field(
        0.01, ge=0, description="std of Gaussian noise added to a 'real' start, so copies differ"
    )

    # Random Local Fourier Features (section 3.3).
    k: int = Field(3, ge=1, description="local neighbourhood (kernel) size; C' = c k^2")
    p: int | None = Field(
        4, ge=1, description="side of a local feature patch; None = whole feature map (NCFD)"
    )
    c_out: int = Field(64, ge=1, description="Fourier channels kept by random sampling (< 2C')")
    bn_eps: float = Field(1e-5, gt=0, description="epsilon of the batch normalisation")

    # NCFD (instance and group losses); values of the NCFD authors' code.
    num_freqs: int = Field(4096, ge=1, description="frequencies t drawn afresh at every step")
    alpha: float = Field(0.5, ge=0, le=1, description="amplitude vs phase weight")
    ncfd_scale: float = Field(
        300.0, gt=0, description="constant factor of the NCFD loss (not the SR scale factor)"
    )
    freq_chunk: int = Field(1024, ge=1, description="frequencies per chunk: bounds memory only")
    real_subsample: int = Field(
        16384, ge=1, description="max real unfolded samples drawn per step (real features cached)"
    )
    freq_bank: int = Field(
        0,
        ge=0,
        description="0: fresh frequencies per step (NCFD); >0: draw them from a bank "
        "this large whose real characteristic function is computed once over all real samples",
    )

    # Groups and pairs (section 3.4).
    n_groups: int = Field(8, ge=1, description="K-means groups M of the real feature patches")
    kmeans_n_init: int = Field(2, ge=1, description="K-means restarts (scikit-learn)")
    warmup_frac: float = Field(0.25, ge=0, le=1, description="share of steps with L_ins only")
    assign_frac: float = Field(
        0.25, ge=0, le=1, description="share of steps over which grouping and pairing grow"
    )
    assign_steps: int = Field(5, ge=1, description="assignment updates in the assigning phase")
    pair_refresh_every: int = Field(
        1, ge=1, description="steps between searches for each synthetic patch's nearest real one"
    )

    # Loss weights and the Table 2 switches.
    w_ins: float = Field(1.0, ge=0, description="weight of the instance-level NCFD")
    w_group: float = Field(1.0, ge=0, description="weight of the summed group-level NCFDs")
    w_pair: float = Field(1.0, ge=0, description="weight of the pair-wise L1")
    use_local_features: bool = Field(True, description="RLFF on; off = raw features (NCFD)")
    use_unfolding: bool = Field(True, description="each feature-patch pixel is one sample")
    use_instance: bool = True
    use_group: bool = True
    use_pair: bool = True

    # The synthesising regime: choices the paper leaves open, each measured (README, Benchmarks).
    group_reduction: Literal["sum", "mean"] = Field(
        "sum", description="group NCFDs summed over the M groups (paper's Eq. 7) or averaged"
    )
    pair_scale: Literal["raw", "relative"] = Field(
        "raw",
        description="pair L1 on the raw feature patches (Eq. 8), or divided by the instance's "
        "mean |real feature| so that it is on the scale of the NCFD terms",
    )
    pair_exclude_source: bool = Field(
        False,
        description="never pair a synthetic patch with the real patch it started from (from a "
        "real start that pair pulls every patch back to where it began)",
    )
    ncfd_features: Literal["unit", "scaled"] = Field(
        "unit",
        description="NCFD on L2-normalised feature vectors (NCFD's code), or on vectors divided "
        "by sqrt(dim), which keeps the magnitude that carries contrast and texture energy",
    )
    tv_weight: float = Field(
        0.0, ge=0, description="weight of a total-variation prior on the synthetic LR pixels"
    )
    real_weighting: Literal["uniform", "texture"] = Field(
        "uniform",
        description="weight of each real patch in the instance's and groups' target "
        "distributions and in the synthetic group quotas: 'uniform' (the paper), or its HR "
        "texture complexity (DCSR's measure), so that matching stops pulling the synthetic "
        "patches towards the flat content that dominates a photo",
    )
    residual_grid: int = Field(
        1,
        ge=1,
        description="1: every synthetic pixel is a free parameter (the paper); g > 1: the pixels "
        "are the start plus a residual on a grid g times coarser, bilinearly up-sampled, which "
        "cannot make per-pixel noise",
    )
    lr_from_hr: bool = Field(
        False,
        description="after stage 2, re-derive each LR patch as the bicubic down-sampling of its "
        "teacher-made HR patch, so every pair has the degradation the student is tested on",
    )

    # Execution.
    feature_batch: int = Field(64, ge=1, description="patches per teacher call for real features")
    bf16: bool = Field(True, description="bf16 autocast of the teacher on CUDA (ignored on CPU)")
    instances_per_batch: int | None = Field(
        None,
        ge=1,
        description="instances condensed together, one teacher batch per step (losses stay per "
        f"instance); None = {CUDA_INSTANCES_PER_BATCH} on CUDA, 1 on the CPU (no gain there)",
    )

    # Reporting (idc_core.method.diagnostics): does not change the condensed pairs.
    diagnostics: bool = Field(True, description="measure texture, fresh NCFD, nearest-real PSNR")

    @model_validator(mode="after")
    def _check(self) -> IDCSettings:
        if self.warmup_frac + self.assign_frac > 1:
            raise ValueError("warmup_frac + assign_frac must not exceed 1")
        if self.use_pair and not self.use_group:
            raise ValueError("the pair loss pairs within groups: use_pair needs use_group")
        if not (self.use_instance or self.use_group):
            raise ValueError("at least one of use_instance and use_group must be on")
        if self.p is None and self.use_group:
            raise ValueError("groups are built from local feature patches: set p")
        if self.freq_bank and self.freq_bank < self.num_freqs:
            raise ValueError("freq_bank must hold at least num_freqs frequencies (or be 0)")
        return self

    def batch_size_on(self, device_type: str) -> int:
        """`instances_per_batch`, or its default for a device type ('cuda', 'cpu')."""
        if self.instances_per_batch is not None:
            return self.instances_per_batch
        return CUDA_INSTANCES_PER_BATCH if device_type == "cuda" else 1


# Sized so that one 481 x 321 image at 64/32 patches (126 pairs, 16 x 16 LR) condenses in a few
# seconds on two cores with an edsr-tiny teacher (benchmarks/speed_condense.py): 128 frequencies
# per step drawn from a bank of 2048, nearest real patches searched every 10 steps.
_CPU = IDCSettings(
    iterations=100,
    init="kcenter",
    c_out=32,
    num_freqs=128,
    freq_chunk=128,
    freq_bank=2048,
    real_subsample=2048,
    n_groups=6,
    kmeans_n_init=1,
    pair_refresh_every=10,
)

# Table 2: (local feature, unfolding, instance, group, pair). v1 is plain NCFD: raw features of the
# whole map, one sample per patch.
_ABLATIONS: dict[str, dict] = {
    "v1": dict(
        use_local_features=False, use_unfolding=False, p=None, use_group=False, use_pair=False
    ),
    "v2": dict(use_unfolding=False, use_group=False, use_pair=False),
    "v3": dict(use_group=False, use_pair=False),
    "v4": dict(use_pair=False),
    "v5": dict(use_local_features=False),
    "v6": dict(use_unfolding=False),
    "v7": dict(use_instance=False),
}

PRESETS: dict[str, IDCSettings] = {
    "paper": IDCSettings(),
    "cpu": _CPU,
    "tiny": IDCSettings.model_validate(
        _CPU.model_dump()
        | dict(
            iterations=6,
            init="real",
            num_freqs=64,
            freq_chunk=64,
            freq_bank=256,
            real_subsample=512,
            n_groups=3,
            pair_refresh_every=2,
        )
    ),
    **{
        name: IDCSettings.model_validate(_CPU.model_dump() | switches)
        for name, switches in _ABLATIONS.items()
    },
}


def build_settings(preset: str = "cpu", overrides: dict | None = None) -> IDCSettings:
    """A preset with some fields replaced; unknown presets or fields raise ValueError."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return IDCSettings.model_validate(PRESETS[preset].model_dump() | (overrides or {}))
