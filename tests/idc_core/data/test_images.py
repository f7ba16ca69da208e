import numpy as np
import pytest
from PIL import Image

from idc_core.data.images import ImageReadError, list_images, load_rgb


@pytest.mark.parametrize(
    ("mode", "suffix"),
    [
        ("L", ".png"),
        ("RGBA", ".png"),
        ("P", ".bmp"),
        ("CMYK", ".jpg"),
        ("RGB", ".webp"),
        ("RGB", ".tiff"),
        ("LA", ".png"),
    ],
)
def test_any_mode_becomes_8bit_rgb(tmp_path, photos_dir, mode, suffix):
    source = Image.open(photos_dir / "chelsea.png").convert(mode)
    path = tmp_path / f"img{suffix}"
    source.save(path)
    array = load_rgb(path)
    assert array.dtype == np.uint8 and array.shape == (source.height, source.width, 3)


def test_16bit_greyscale_is_scaled_to_8bit(tmp_path):
    data = np.array([[0, 65535], [32768, 257]], dtype=np.uint16)
    path = tmp_path / "wide.png"
    Image.fromarray(data).save(path)
    array = load_rgb(path)
    assert array[:, :, 0].tolist() == [[0, 255], [128, 1]]
    assert (array[:, :, 0] == array[:, :, 2]).all()


def test_unreadable_file_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="broken.png"):
        load_rgb(path)


def test_list_images_sorted_and_errors_when_empty(tmp_path, photos_dir):
    assert [p.name for p in list_images(photos_dir)] == sorted(p.name for p in photos_dir.iterdir())
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ImageReadError, match="holds no images"):
        list_images(tmp_path)
