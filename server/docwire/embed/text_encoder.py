"""Sentences to vectors: the tokenizer and the ONNX graph of the text model, mean-pooled and normalized."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from tokenizers import Tokenizer

from docwire.embed.models import TEXT_MODEL, TextModel
from docwire.embed.runtime import cpu_session, unit_rows

__all__ = ["TextEncoder"]


class TextEncoder:
    """Encodes sentences into unit vectors of ``dimensions`` floats, one row per sentence.

    The graph returns one vector per token; a sentence's vector is the mean over its real
    tokens (the attention mask leaves padding out), scaled to length 1 as the model was
    trained, so a dot product of two rows is their cosine similarity.
    """

    def __init__(self, model: TextModel = TEXT_MODEL, threads: int = 0) -> None:
        model.require()
        self.model = model
        self._tokenizer = Tokenizer.from_file(str(model.tokenizer_path))
        self._tokenizer.enable_truncation(model.max_tokens)
        # The packaged tokenizer pads every input to 128 tokens; pad to the batch's longest instead.
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._session = cpu_session(model.onnx_path, threads)

    @property
    def dimensions(self) -> int:
        return self.model.dimensions

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """``[len(texts), dimensions]`` float32 unit vectors, in input order."""
        if not texts:
            return np.zeros((0, self.dimensions), np.float32)
        batch = self._tokenizer.encode_batch(list(texts))
        ids = np.array([item.ids for item in batch], np.int64)
        mask = np.array([item.attention_mask for item in batch], np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (tokens,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return unit_rows(pooled)
