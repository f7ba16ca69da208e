import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from idc_core.data.images import load_rgb
from idc_core.data.resize import bicubic_downsample
from idc_core.evaluation import (
    bicubic_upsample,
    evaluate_bicubic,
    evaluate_folders,
    evaluate_model,
    evaluate_model_by_convention,
    make_validator,
    super_resolve,
)
from idc_core.models import build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("edsr-tiny", 4, num_feat=8, num_block=1)


# The SR literature's Bicubic x4 (MATLAB): Set5 28.42 dB / 0.8104, Set14 26.00 dB / 0.7027; what
# BasicSR's calculate_psnr/ssim make of the same images (float Y, grey images as RGB).
@pytest.mark.parametrize(
    ("folder", "images", "convention", "psnr", "ssim", "tolerance"),
    [
        ("set5_dir", 5, "matlab", 28.42, 0.8104, 0.01),
        ("set14_dir", 14, "matlab", 26.00, 0.7027, 0.01),
        ("set5_dir", 5, "basicsr", 28.431, 0.8113, 0.001),
        ("set14_dir", 14, "basicsr", 26.092, 0.7050, 0.001),
    ],
)
def test_bicubic_row_matches_the_published_figures(
    request, folder, images, convention, psnr, ssim, tolerance
):
    result = evaluate_bicubic(request.getfixturevalue(folder), 4, convention)
    assert len(result.images) == images and result.convention == convention
    assert result.mean_psnr == pytest.approx(psnr, abs=tolerance)
    assert result.mean_ssim == pytest.approx(ssim, abs=0.001)


@pytest.fixture(scope="module")
def two_photos(photos_dir, tmp_path_factory):
    """A colour and a greyscale photo: a test set that costs little to score."""
    folder = tmp_path_factory.mktemp("two_photos")
    for name in ("chelsea", "camera"):
        shutil.copy(photos_dir / f"{name}.png", folder)
    return folder


def test_the_default_convention_is_matlab(two_photos):
    default, matlab = evaluate_bicubic(two_photos, 4), evaluate_bicubic(two_photos, 4, "matlab")
    assert default.to_dict() == matlab.to_dict() and default.to_dict()["convention"] == "matlab"
    basicsr = evaluate_bicubic(two_photos, 4, "basicsr")
    assert basicsr.to_dict()["convention"] == "basicsr"
    assert all(b.psnr != m.psnr for b, m in zip(basicsr.images, matlab.images, strict=True))
    with pytest.raises(ValueError, match="unknown metric convention 'opencv'"):
        evaluate_bicubic(two_photos, 4, "opencv")


def test_model_scores_per_image_and_mean(photos_dir, two_photos, model):
    result = evaluate_model(model, photos_dir, 4)
    names = [s.name for s in result.images]
    assert names == ["astronaut", "camera", "chelsea", "coffee", "rocket"]
    assert result.mean_psnr == pytest.approx(np.mean([s.psnr for s in result.images]))
    # An untrained tiny EDSR is bicubic plus small noise: a PSNR in the range of bicubic's.
    assert 20 < result.mean_psnr < 35
    assert result.to_dict()["name"] == photos_dir.name
    sr = super_resolve(model, bicubic_downsample(load_rgb(photos_dir / "astronaut.png"), 4))
    assert sr.shape == (512, 512, 3) and sr.dtype == np.uint8
    for convention in ("matlab", "basicsr"):
        scores = evaluate_model(model, two_photos, 4, convention=convention)
        assert scores.convention == convention
        assert make_validator(two_photos, 4, convention=convention)(model) == {
            "psnr_y": pytest.approx(scores.mean_psnr),
            "ssim_y": pytest.approx(scores.mean_ssim),
        }


def test_several_conventions_score_one_super_resolution(two_photos, model):
    calls = {"n": 0}

    def count(_module, _inputs, _output):
        calls["n"] += 1

    hook = model.register_forward_hook(count)
    try:
        both = evaluate_model_by_convention(model, two_photos, 4, "cpu", ["matlab", "basicsr"])
    finally:
        hook.remove()
    assert calls["n"] == 2  # one forward per image, not one per image and convention
    assert list(both) == ["matlab", "basicsr"]
    for convention, result in both.items():
        alone = evaluate_model(model, two_photos, 4, convention=convention)
        assert result.to_dict() == alone.to_dict()
    with pytest.raises(ValueError, match="at least one convention"):
        evaluate_model_by_convention(model, two_photos, 4, "cpu", [])


def _grey_and_rgb_folders(tmp_path, photos_dir):
    """The same grey levels as a one-channel file and as an RGB file of three equal channels."""
    grey = np.asarray(Image.open(photos_dir / "rocket.png").convert("L"))
    (tmp_path / "grey").mkdir()
    (tmp_path / "rgb").mkdir()
    Image.fromarray(grey, mode="L").save(tmp_path / "grey" / "rocket.png")
    Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2)).save(tmp_path / "rgb" / "rocket.png")
    return [tmp_path / "grey", tmp_path / "rgb"], grey


def test_basicsr_scores_grey_images_as_three_equal_channels(tmp_path, photos_dir, model):
    folders, _ = _grey_and_rgb_folders(tmp_path, photos_dir)
    grey_result, rgb_result = evaluate_folders(model, folders, 4, convention="basicsr")
    assert grey_result.images == rgb_result.images
    assert np.isfinite(grey_result.mean_psnr)


def test_matlab_scores_grey_files_on_their_grey_levels(tmp_path, photos_dir):
    folders, grey = _grey_and_rgb_folders(tmp_path, photos_dir)
    grey_result, rgb_result = (evaluate_bicubic(folder, 4, "matlab") for folder in folders)
    # Bicubic of a grey image is grey: the grey file is scored on those levels (0..255), the
    # RGB file on Y = 16 + 219/255 x grey, whose errors are 219/255 as large (+1.32 dB).
    expected_difference = 20 * np.log10(219 / 255)
    assert grey_result.images[0].psnr - rgb_result.images[0].psnr == pytest.approx(
        expected_difference, abs=0.02
    )
    hr = grey[: grey.shape[0] // 4 * 4, : grey.shape[1] // 4 * 4]
    up = bicubic_upsample(bicubic_downsample(np.repeat(hr[:, :, None], 3, 2), 4), 4)
    error = (up[4:-4, 4:-4, 0].astype(np.float64) - hr[4:-4, 4:-4]) ** 2
    assert grey_result.images[0].psnr == pytest.approx(10 * np.log10(255**2 / error.mean()))


def test_scale_mismatch_and_empty_folder_are_refused(tmp_path, photos_dir, model):
    with pytest.raises(ValueError, match="x4"):
        evaluate_model(model, photos_dir, 2)
    with pytest.raises(ValueError, match="holds no images"):
        evaluate_model(model, tmp_path, 4)
