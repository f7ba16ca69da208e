"""The rows' training sets: pair-count matching, image subsets, the jobs of the row keys, and the
float-LR row's input."""

import numpy as np
import pytest

from benchmarks.config import BenchmarkError, config_from_options
from benchmarks.datasets import image_paths, load_instances, row_job, selection_ratio
from benchmarks.paper_tables import ROW_LABELS
from benchmarks.students import training_pairs
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


def _config(tmp_path, rows: str):
    options = dict(
        out=tmp_path, rows=rows, seeds=1, train_folder=None, test_folder=None,
        val_folder=tmp_path, images=None, patch_size=32, step=32, scale=4, ratio=0.1,
        arch="edsr-tiny", teacher=None, teacher_iterations=None, student_iterations=10,
        batch_size=4, learning_rate=1e-3, val_every=0, upsampler_feat=0, upsampler_blocks=1,
        upsampler_iterations=1, idc_features="teacher", idc_preset="tiny", idc_iterations=0,
        selection_seed=3,
        device="cpu",
    )  # fmt: skip
    return config_from_options(options, ROW_LABELS, False, True)


def test_row_keys_give_teacher_hr_selections_and_idc_variants(t91_dir, tmp_path):
    rows = 'random,kcenter-t,idc[init="noise";iterations=7],idc'
    config = _config(tmp_path, rows)
    assert config.rows == ["random", "kcenter-t", 'idc[init="noise";iterations=7]', "idc"]
    assert config.labels["kcenter-t"] == "K-Center-T"
    instances = load_instances(image_paths([t91_dir], 3), config.patch)
    random, kcenter_t, variant, idc = (row_job(row, instances, config) for row in config.rows)
    assert (random.method, random.teacher_hr) == ("random", False)
    assert (kcenter_t.method, kcenter_t.teacher_hr) == ("kcenter", True)
    assert kcenter_t.ratio == random.ratio == selection_ratio(instances, 0.1)
    assert variant.method == "idc" and variant.overrides == {"init": "noise", "iterations": 7}
    assert variant.idc_settings().init == "noise" and idc.overrides == {}
    with pytest.raises(BenchmarkError, match="unknown rows"):
        _config(tmp_path, "idc-t")
    with pytest.raises(BenchmarkError, match="key=value"):
        row_job("idc[iterations]", instances, config)
