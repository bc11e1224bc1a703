"""Writes python_document.txtpb: a docwire.Document as the Python client encodes it.

Run from the repository root: ``.venv/bin/python sdk/go/docwire/testdata/python_document.py``.
The Go codec tests decode the file, so the Go SDK reads what the Python SDK writes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from google.protobuf import text_format

from docwire_contract.codec import encode_doc
from docwire_contract.doc_types import Document

HEADER = """\
# A docwire.Document as the Python client encodes it (docwire_contract.codec.encode_doc), in
# protobuf text format; made with sdk/go/docwire/testdata/python_document.py.
"""


def main() -> None:
    doc = Document(
        id="doc-1",
        text="hello",
        url="https://example.com/a.png",
        blob=b"\x00\x01",
        tensor=np.arange(6, dtype=np.float64).reshape(2, 3),
        embedding=np.array([0.5, -1, 2], dtype=np.float32),
        tags={"n": 3, "f": 0.25, "ok": True, "s": "x", "l": [1, "a"], "d": {"k": None}},
        matches=[Document(id="m-1", text="match")],
        chunks=[],
    )
    # text_format sorts map entries, so the file is the same on every run.
    text = HEADER + text_format.MessageToString(encode_doc(doc))
    (Path(__file__).parent / "python_document.txtpb").write_text(text)


if __name__ == "__main__":
    main()
