import numpy as np
import pytest
import torch
from PIL import Image

from idc_core.data.images import load_rgb
from idc_core.data.resize import bicubic_downsample
from idc_core.evaluation import (
    evaluate_bicubic,
    evaluate_folders,
    evaluate_model,
    make_validator,
    super_resolve,
)
from idc_core.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("edsr-tiny", 4, num_feat=8, num_block=1)


def test_bicubic_row_matches_the_published_set5_figures(set5_dir):
    result = evaluate_bicubic(set5_dir, 4)
    assert len(result.images) == 5
    # The SR literature's Bicubic x4 on Set5 (MATLAB): 28.42 dB, SSIM 0.8104.
    assert result.mean_psnr == pytest.approx(28.42, abs=0.05)
    assert result.mean_ssim == pytest.approx(0.8104, abs=0.002)


def test_model_scores_per_image_and_mean(set5_dir, model):
    result = evaluate_model(model, set5_dir, 4)
    names = [s.name for s in result.images]
    assert names == ["baby", "bird", "butterfly", "head", "woman"]
    assert result.mean_psnr == pytest.approx(np.mean([s.psnr for s in result.images]))
    # An untrained tiny EDSR is bicubic plus small noise: close to, but not better than, bicubic.
    assert 24 < result.mean_psnr < 29
    sr = super_resolve(model, bicubic_downsample(load_rgb(set5_dir / "baby.png"), 4))
    assert sr.shape == (512, 512, 3) and sr.dtype == np.uint8
    assert make_validator(set5_dir, 4)(model) == {
        "psnr_y": pytest.approx(result.mean_psnr),
        "ssim_y": pytest.approx(result.mean_ssim),
    }
    assert result.to_dict()["name"] == "Set5"


def test_grey_images_score_as_three_equal_channels(tmp_path, set5_dir, model):
    grey = np.asarray(Image.open(set5_dir / "head.png").convert("L"))
    (tmp_path / "grey").mkdir()
    (tmp_path / "rgb").mkdir()
    Image.fromarray(grey, mode="L").save(tmp_path / "grey" / "head.png")
    Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2)).save(tmp_path / "rgb" / "head.png")
    grey_result, rgb_result = evaluate_folders(model, [tmp_path / "grey", tmp_path / "rgb"], 4)
    assert grey_result.images == [
        type(grey_result.images[0])("head", rgb_result.images[0].psnr, rgb_result.images[0].ssim)
    ]
    assert np.isfinite(grey_result.mean_psnr)


def test_scale_mismatch_and_empty_folder_are_refused(tmp_path, set5_dir, model):
    with pytest.raises(ValueError, match="x4"):
        evaluate_model(model, set5_dir, 2)
    with pytest.raises(ValueError, match="holds no images"):
        evaluate_model(model, tmp_path, 4)
