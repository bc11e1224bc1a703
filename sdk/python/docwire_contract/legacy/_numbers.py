"""docarray v1's field numbers (docarray 0.21's ``docarray.proto``, package ``docarray``).

Read from the descriptors compiled into docarray 0.21.1 (``docarray_pb2.DESCRIPTOR``); the
full table is in docs/legacy-docarray.md.
"""

from __future__ import annotations

from typing import Final

# The names this module offers the package's other modules (its internal interface).
__all__ = [
    "ARRAY_CLS_NAME",
    "ARRAY_DENSE",
    "ARRAY_SPARSE",
    "DOCS",
    "DOC_BLOB",
    "DOC_CHUNKS",
    "DOC_EMBEDDING",
    "DOC_ID",
    "DOC_MATCHES",
    "DOC_SCORES",
    "DOC_TAGS",
    "DOC_TENSOR",
    "DOC_TEXT",
    "DOC_URI",
    "MAP_KEY",
    "MAP_VALUE",
    "SCORE_VALUE",
]

#: DocumentArrayProto
DOCS: Final = 1
#: DocumentProto (the fields docwire's Document has; 5-8 and 10-13, 19, 20 have no counterpart)
DOC_ID: Final = 1
DOC_BLOB: Final = 2
DOC_TENSOR: Final = 3
DOC_TEXT: Final = 4
DOC_URI: Final = 9
DOC_CHUNKS: Final = 14
DOC_MATCHES: Final = 15
DOC_EMBEDDING: Final = 16
DOC_TAGS: Final = 17
DOC_SCORES: Final = 18
#: NdArrayProto (its DenseNdArrayProto is docwire.v1.DenseNdArray, field for field)
ARRAY_DENSE: Final = 1
ARRAY_SPARSE: Final = 2
ARRAY_CLS_NAME: Final = 3
#: NamedScoreProto
SCORE_VALUE: Final = 1
#: every map entry
MAP_KEY: Final = 1
MAP_VALUE: Final = 2
