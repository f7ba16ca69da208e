"""The shared benchmark helpers: pair-count matching, image subsets, the float-LR row's input."""

import numpy as np
import pytest

from benchmarks.common import (
    BenchmarkError,
    image_paths,
    load_instances,
    selection_ratio,
    training_pairs,
)
from idc_core.baselines import selection_budget
from idc_core.data.paired import write_pairs
from idc_core.data.patches import PatchSettings
from idc_core.method.condense import synthetic_count


def test_selection_ratio_gives_the_baselines_idcs_pair_count(t91_dir, bsd200_dir):
    paths = image_paths([t91_dir, bsd200_dir], 6)
    instances = load_instances(paths, PatchSettings(patch_size=64, step=32, scale=4))
    total = sum(len(i) for i in instances)
    for ratio in (0.01, 0.1):
        idc_count = sum(synthetic_count(len(i), ratio) for i in instances)
        assert idc_count > selection_budget(total, ratio)  # ceil per image makes more
        assert selection_budget(total, selection_ratio(instances, ratio)) == idc_count


def test_image_subset_is_evenly_spaced_over_the_folders(t91_dir, bsd200_dir):
    everything = image_paths([t91_dir, bsd200_dir])
    subset = image_paths([t91_dir, bsd200_dir], 29)
    assert len(everything) == 291 and len(subset) == 29
    assert subset[0] == everything[0] and subset[-1] == everything[-1]
    assert {p.parent.name for p in subset} == {"T91", "BSD200"}
    with pytest.raises(BenchmarkError):
        image_paths([t91_dir], 0)


def test_float_lr_row_refuses_a_set_without_float_lr(t91_dir, tmp_path):
    instance = load_instances(image_paths([t91_dir], 1), PatchSettings(patch_size=32, step=32))[0]
    write_pairs(tmp_path, ["a", "b"], instance.hr[:2], instance.lr[:2])
    assert training_pairs("idc", tmp_path).lr.dtype == np.uint8
    with pytest.raises(BenchmarkError, match="no LR_float"):
        training_pairs("idc-float", tmp_path)
