"""EfficientNet-Lite0 built into ONNX without torch: it reproduces torch's numbers, and bad input fails clearly."""

from __future__ import annotations

import io
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from docwire.embed.efficientnet import build_feature_model, export_feature_model, load_checkpoint
from docwire.embed.image_preprocessing import decode_image, image_array, tensor_image
from docwire.embed.models import IMAGE_MODEL
from docwire.embed.runtime import cpu_session

# Recorded once from torch 2.15 with efficientnet_lite_pytorch 0.1.0 and the same checkpoint:
# EfficientNet.from_pretrained("efficientnet-lite0", weights_path=...).eval(), then
# extract_features(x).mean((2, 3)) on x = image_array(_synthetic_image())[None]
# (script /tmp/effnet_verify.py). The ONNX graph differed from torch by at most 4e-6 on this
# image and 1.2e-5 over random inputs and 65 photos; the tolerance leaves room for other CPUs.
# ReLU6 zeroes most of the 1280 features (987 here), so eight of the largest are checked too.
_TORCH_FIRST_8 = [0.0, 0.0, 0.176071, 0.0, 0.0, 0.0, 0.0, 0.0]
_TORCH_LARGEST_AT = [113, 287, 423, 434, 455, 468, 897, 1277]
_TORCH_LARGEST = [5.319342, 4.01084, 2.522866, 2.210479, 4.276191, 3.69285, 2.658297, 3.247275]
_TORCH_NORM = 13.022985
_TOLERANCE = 1e-4


def _synthetic_image() -> Image.Image:
    """A 400x300 RGB image: horizontal and vertical ramps and a 25-pixel checkerboard."""
    y, x = np.mgrid[0:300, 0:400]
    red = x * 255 // 399
    green = y * 255 // 299
    blue = ((x // 25 + y // 25) % 2) * 255
    return Image.fromarray(np.stack([red, green, blue], axis=-1).astype(np.uint8))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("efficientnet") / "model.onnx"
    export_feature_model(IMAGE_MODEL.checkpoint(), target)
    return target


def _embed(model: Path, batch: NDArray[np.float32]) -> NDArray[np.float32]:
    (features,) = cpu_session(model, threads=1).run(["embedding"], {"image": batch})
    return np.asarray(features, np.float32)


def test_matches_torch_on_a_synthetic_image(model_path: Path) -> None:
    (features,) = _embed(model_path, image_array(_synthetic_image())[None])
    np.testing.assert_allclose(features[:8], _TORCH_FIRST_8, atol=_TOLERANCE)
    np.testing.assert_allclose(features[_TORCH_LARGEST_AT], _TORCH_LARGEST, atol=_TOLERANCE)
    assert np.linalg.norm(features) == pytest.approx(_TORCH_NORM, abs=_TOLERANCE)


@pytest.mark.parametrize("count", [1, 3])
def test_embeds_a_batch_into_1280_floats_per_image(model_path: Path, count: int) -> None:
    batch = np.random.default_rng(count).uniform(-1, 1, (count, 3, 224, 224)).astype(np.float32)
    features = _embed(model_path, batch)
    assert features.shape == (count, 1280)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()


def test_is_deterministic_and_batch_independent(model_path: Path) -> None:
    image = image_array(_synthetic_image())
    single = _embed(model_path, image[None])
    batched = _embed(model_path, np.stack([image, np.zeros_like(image), image]))
    np.testing.assert_array_equal(_embed(model_path, image[None]), single)
    np.testing.assert_allclose(batched[[0, 2]], np.concatenate([single, single]), atol=1e-5)


def test_image_array_is_normalized_chw() -> None:
    array = image_array(_synthetic_image().convert("L"))
    assert array.shape == (3, 224, 224)
    assert array.dtype == np.float32
    assert array.flags.c_contiguous
    # (x / 255 - 0.498) / 0.502 maps 0 and 255 to about -0.992 and 1.0016.
    assert -0.993 < float(array.min()) < float(array.max()) < 1.002


def test_a_truncated_checkpoint_is_refused_naming_the_file(tmp_path: Path) -> None:
    data = IMAGE_MODEL.checkpoint().read_bytes()
    for cut in (100, 40_000, len(data) // 2):
        broken = tmp_path / f"cut-{cut}.pth"
        broken.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=re.escape(str(broken))):
            load_checkpoint(broken)


def test_a_checkpoint_naming_another_class_is_refused(tmp_path: Path) -> None:
    header = b"".join(
        pickle.dumps(part, protocol=2)
        for part in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True})
    )
    # What pickle.dumps(os.system) would write: a GLOBAL opcode naming os.system, then STOP.
    crafted = tmp_path / "crafted.pth"
    crafted.write_bytes(header + b"\x80\x02cos\nsystem\nq\x00.")
    with pytest.raises(ValueError, match=rf"{re.escape(str(crafted))}.*os\.system"):
        load_checkpoint(crafted)


def test_a_zip_checkpoint_is_refused(tmp_path: Path) -> None:
    zipped = tmp_path / "new-format.pth"
    zipped.write_bytes(b"PK\x03\x04" + bytes(60))
    with pytest.raises(ValueError, match=re.escape(str(zipped))):
        load_checkpoint(zipped)


def test_a_missing_weight_is_named() -> None:
    weights = load_checkpoint(IMAGE_MODEL.checkpoint())
    del weights["_blocks.7._bn1.running_var"]
    with pytest.raises(ValueError, match=r"_blocks\.7\._bn1\.running_var"):
        build_feature_model(weights)


def test_bytes_that_are_not_an_image_are_refused_naming_the_source() -> None:
    with pytest.raises(ValueError, match="document 7: blob"):
        decode_image(b"not an image", source="document 7: blob")


def test_a_truncated_image_fails_when_decoded(tmp_path: Path) -> None:
    path = tmp_path / "image.jpg"
    _synthetic_image().save(path)
    data = path.read_bytes()
    with pytest.raises(ValueError, match=r"upload\.jpg: .*truncated"):
        decode_image(data[: len(data) // 2], source="upload.jpg")


@pytest.mark.parametrize(
    ("tensor", "mode"),
    [
        (np.zeros((4, 5, 3), np.uint8), "RGB"),
        (np.ones((4, 5, 4), np.float32), "RGBA"),
        (np.full((4, 5, 1), 200.0), "L"),
    ],
)
def test_tensor_image_reads_hwc_arrays(tensor: NDArray[np.generic], mode: str) -> None:
    image = tensor_image(tensor)
    assert (image.mode, image.size) == (mode, (5, 4))


def test_tensor_image_scales_unit_floats() -> None:
    assert tensor_image(np.full((2, 2, 3), 0.5, np.float32)).getpixel((0, 0)) == (128, 128, 128)
    assert tensor_image(np.full((2, 2, 3), 100.0)).getpixel((0, 0)) == (100, 100, 100)


@pytest.mark.parametrize("shape", [(3, 224, 224), (224, 224), (4, 4, 2), (0, 4, 3)])
def test_tensor_image_names_a_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=rf"shape \({shape[0]}, "):
        tensor_image(np.zeros(shape, np.uint8))


def test_decode_image_turns_sideways_photos_upright() -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", exif=exif)
    assert decode_image(out.getvalue(), "photo").size == (20, 40)
