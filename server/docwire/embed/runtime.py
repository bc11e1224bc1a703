"""ONNX Runtime sessions the way the embedding service runs them: CPU, telemetry off, threads chosen."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["cpu_session", "unit_rows"]


def cpu_session(model: Path, threads: int = 0) -> onnxruntime.InferenceSession:
    """An inference session on the CPU with ``threads`` intra-op threads (0: one per core).

    ONNX Runtime 1.29 and later send usage telemetry unless told not to; the pinned 1.28
    sends none, and the variable keeps a newer one quiet too.
    """
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime  # noqa: PLC0415 (heavy, and only encoder processes need it)

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def unit_rows(matrix: NDArray[np.float32]) -> NDArray[np.float32]:
    """Each row scaled to length 1 (a zero row stays zero), so dot products are cosine similarities."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: NDArray[np.float32] = (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return result
