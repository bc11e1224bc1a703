"""Images in, the image model's input out: decoding bytes, reading pixel arrays, resizing and normalizing.

EfficientNet-Lite0 was trained on 224x224 crops with pixels mapped to about [-1, 1] by
``(x - 127) / 128`` (the Lite models' preprocessing); :func:`image_array` produces exactly that
tensor, the same way as the torch reference the ONNX graph was checked against. Every failure
to read an image is a ValueError saying which input failed, so one bad document's error says
what to fix.
"""

from __future__ import annotations

import io
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

__all__ = ["decode_image", "image_array", "tensor_image"]

_RESIZE: Final = 256
_CROP: Final = 224
#: (x / 255 - 0.498) / 0.502 is EfficientNet-Lite's (x - 127) / 128 for 8-bit pixels x.
_MEAN: Final = np.float32(0.498)
_STD: Final = np.float32(0.502)
_CHANNEL_COUNTS: Final = (1, 3, 4)


def image_array(image: Image.Image) -> NDArray[np.float32]:
    """The model's input for ``image``: float32 ``[3, 224, 224]``, RGB, normalized.

    The shorter side is resized to 256 pixels (bicubic), the middle 224x224 is cropped, and the
    pixels are scaled to [0, 1] and normalized with mean 0.498 and standard deviation 0.502.
    """
    rgb = image.convert("RGB")
    width, height = rgb.size
    if min(width, height) == 0:
        raise ValueError(f"the image is {width}x{height} pixels, which has nothing to embed")
    scale = _RESIZE / min(width, height)
    resized = rgb.resize((round(width * scale), round(height * scale)), Image.Resampling.BICUBIC)
    left, top = (resized.width - _CROP) // 2, (resized.height - _CROP) // 2
    crop = resized.crop((left, top, left + _CROP, top + _CROP))
    pixels = np.asarray(crop, np.float32) / np.float32(255.0)
    normalized = (pixels - _MEAN) / _STD
    return np.ascontiguousarray(normalized.transpose(2, 0, 1))


def decode_image(data: bytes, source: str) -> Image.Image:
    """The image encoded in ``data`` (any format Pillow reads), decoded completely, and turned
    upright when its EXIF orientation says the camera was held sideways.

    Raises:
        ValueError: naming ``source``, when the bytes are not an image Pillow can read, or are
            truncated or damaged (the pixels are decoded here, so such errors surface here).
    """
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    # Pillow's decoders report bad data as any of these (UnidentifiedImageError is an OSError).
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{source}: not a readable image ({exc})") from exc
    ImageOps.exif_transpose(image, in_place=True)
    return image


def tensor_image(tensor: NDArray[np.generic]) -> Image.Image:
    """An image from an ``H x W x C`` pixel array, C being 1 (gray), 3 (RGB) or 4 (RGBA).

    Integer arrays hold 0-255 values. Float arrays are read as [0, 1] when all their values
    are at most 1, and as 0-255 otherwise (so both common conventions work); values are clipped.

    Raises:
        ValueError: the array is not ``H x W x {1, 3, 4}``, not numeric, or holds values out of
            range (integers outside 0-255, floats that are not finite).
    """
    if tensor.ndim != 3 or tensor.shape[2] not in _CHANNEL_COUNTS or 0 in tensor.shape:
        raise ValueError(f"an image tensor must be H x W x C with C in {_CHANNEL_COUNTS}, not shape {tensor.shape}")
    pixels = _uint8_pixels(tensor)
    # Pillow picks L, RGB or RGBA from the shape of uint8 data.
    return Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)


def _uint8_pixels(tensor: NDArray[np.generic]) -> NDArray[np.uint8]:
    if np.issubdtype(tensor.dtype, np.bool_) or not np.issubdtype(tensor.dtype, np.number):
        raise ValueError(f"an image tensor must hold numbers, not {tensor.dtype}")
    if np.issubdtype(tensor.dtype, np.integer):
        if tensor.min() < 0 or tensor.max() > 255:
            raise ValueError(f"an integer image tensor must hold 0-255, not {tensor.min()}..{tensor.max()}")
        return np.ascontiguousarray(tensor, np.uint8)
    if np.issubdtype(tensor.dtype, np.complexfloating):
        raise ValueError(f"an image tensor must hold real numbers, not {tensor.dtype}")
    values = np.asarray(tensor, np.float64)
    if not np.isfinite(values).all():
        raise ValueError("a float image tensor must hold finite values")
    if values.max() <= 1.0:
        values = values * 255.0
    return np.ascontiguousarray(np.clip(np.rint(values), 0, 255), np.uint8)
