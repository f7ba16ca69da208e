import pytest

from idc_core.data.patches import PatchSettings
from idc_core.training import TrainRecipe, patches_from_images, train_teacher


def test_teacher_trains_on_all_patches_of_the_images(train_photos_dir):
    paths = sorted(train_photos_dir.glob("*.png"))[:2]
    patch = PatchSettings(patch_size=32, step=32, scale=2)
    pairs = patches_from_images(paths, patch)
    assert pairs.hr.shape[1:] == (32, 32, 3) and pairs.lr.shape[1:] == (16, 16, 3)
    assert len(pairs.names) == len(pairs) > 10
    model, history = train_teacher(paths, patch, TrainRecipe(iterations=3, batch_size=2))
    assert (model.arch, model.scale, len(history.losses)) == ("edsr-tiny", 2, 3)


def test_images_smaller_than_a_patch_give_a_clear_error(train_photos_dir):
    paths = sorted(train_photos_dir.glob("*.png"))[:2]
    with pytest.raises(ValueError, match="none of the 2 images"):
        patches_from_images(paths, PatchSettings(patch_size=4000, step=4000, scale=4))
