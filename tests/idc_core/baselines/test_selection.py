import numpy as np
import pytest
import torch

from idc_core.baselines import METHODS, select, select_indices, selection_budget
from idc_core.baselines.dcsr import texture_complexity
from idc_core.baselines.features import gram_features, pooled_features
from idc_core.baselines.herding import select_herding
from idc_core.data.patches import load_instance
from idc_core.models import build_model

from .conftest import SMALL_PATCHES


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    return build_model("edsr-tiny", 4)


@pytest.fixture(scope="module")
def instances(photos_dir):
    return [load_instance(photos_dir / f"{name}.png", SMALL_PATCHES) for name in ("chelsea", "rocket")]


def test_budget_is_global_and_at_least_one():
    assert selection_budget(120765, 0.1) == 12076  # the paper's Table 1 count
    assert selection_budget(50, 0.001) == 1
    with pytest.raises(ValueError, match="ratio"):
        selection_budget(10, 0.0)


def test_teacher_features_are_pooled_and_gram_maps(coffee, teacher):
    pooled = pooled_features(teacher, coffee.lr[:10], batch_size=4)
    gram = gram_features(teacher, coffee.lr[:10], batch_size=4)
    channels = teacher.feature_channels
    assert pooled.shape == (10, channels)
    assert gram.shape == (10, channels * (channels + 1) // 2)
    with torch.no_grad():
        maps = teacher.extract_features(
            torch.from_numpy(coffee.lr[:1]).permute(0, 3, 1, 2).float() / 255
        )
    assert np.allclose(pooled[0], maps.mean(dim=(2, 3))[0].numpy(), atol=1e-5)
    flat = maps.flatten(2)[0]
    assert np.isclose(gram[0, 0], float((flat[0] * flat[0]).mean()), rtol=1e-4)


def test_herding_through_select_uses_pooled_teacher_features(coffee, teacher):
    features = pooled_features(teacher, coffee.lr)
    picks = select("herding", coffee.lr, 20, seed=0, teacher=teacher)
    assert np.array_equal(picks, np.sort(select_herding(features, 20)))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_picks_the_budget_across_instances(method, instances, teacher):
    total = sum(len(instance) for instance in instances)
    kept = select_indices(method, instances, 0.1, teacher, seed=0)
    assert list(kept) == [instance.name for instance in instances]
    assert sum(len(indices) for indices in kept.values()) == selection_budget(total, 0.1)
    for instance in instances:
        indices = kept[instance.name]
        assert np.all(np.diff(indices) > 0)
        assert indices.size == 0 or (indices.min() >= 0 and indices.max() < len(instance))
    again = select_indices(method, instances, 0.1, teacher, seed=0)
    assert all(np.array_equal(kept[name], again[name]) for name in kept)


def test_dcsr_across_instances_keeps_above_median_texture(instances, teacher):
    kept = select_indices("dcsr", instances, 0.2, teacher, seed=1)
    complexity = np.concatenate([texture_complexity(instance.hr) for instance in instances])
    median = np.median(complexity)
    for instance in instances:
        assert np.all(texture_complexity(instance.hr[kept[instance.name]]) > median)


def test_selection_refuses_bad_requests(coffee, teacher):
    with pytest.raises(ValueError, match="unknown selection method"):
        select("idc", coffee.lr, 5, seed=0)
    with pytest.raises(ValueError, match="needs a teacher"):
        select("kcenter", coffee.lr, 5, seed=0)
    with pytest.raises(ValueError, match="texture complexity"):
        select("dcsr", coffee.lr, 5, seed=0, teacher=teacher)
    with pytest.raises(ValueError, match="unique"):
        select_indices("random", [coffee, coffee], 0.1, None, seed=0)
