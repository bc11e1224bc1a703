"""Images to vectors: EfficientNet-Lite0's pooled features from its ONNX graph, normalized."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from docwire.embed.image_preprocessing import image_array
from docwire.embed.models import IMAGE_MODEL, ImageModel
from docwire.embed.runtime import cpu_session, unit_rows

__all__ = ["ImageEncoder"]


class ImageEncoder:
    """Encodes images into unit vectors of ``dimensions`` floats, one row per image.

    The vectors are the network's global-average-pooled last features (an ImageNet
    classifier's penultimate layer), a common general-purpose image descriptor; they are
    not comparable with the text model's vectors.
    """

    def __init__(self, model: ImageModel = IMAGE_MODEL, threads: int = 0) -> None:
        model.require()
        self.model = model
        self._session = cpu_session(model.onnx_path, threads)

    @property
    def dimensions(self) -> int:
        return self.model.dimensions

    def encode(self, images: Sequence[Image.Image]) -> NDArray[np.float32]:
        """``[len(images), dimensions]`` float32 unit vectors, in input order."""
        if not images:
            return np.zeros((0, self.dimensions), np.float32)
        batch = np.stack([image_array(image) for image in images])
        (features,) = self._session.run(["embedding"], {"image": batch})
        return unit_rows(features)
