"""The top-level fields of a serialized message, read without parsing it: where each one's bytes are.

The hot path handles messages of a few hundred kB whose bulk is one field (a
``DataRequest``'s ``data``, a ``ProcessResult``'s ``reply``). Parsing them copies that
bulk into a message, and serializing copies it out again; reading their few top-level
keys (a handful of varints) finds the small fields to parse and the big one to pass on
as a slice. Protobuf merges a message field that occurs more than once, so the small
fields are parsed from the concatenation of every occurrence (``joined``), as the
parser would merge them.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from docwire_contract.codec import LENGTH_DELIMITED, VARINT, field_key, varint_bytes
from docwire_contract.codec._wire import read_varint

__all__ = ["Span", "data_field", "joined", "spans"]

_FIXED64: Final = 1
_FIXED32: Final = 5


class Span(NamedTuple):
    """One top-level field: its number and wire type, and where it sits in the buffer.

    ``start`` is where its key begins, ``value`` where its value (after the length, for a
    length-delimited field) begins, ``end`` where it ends. For a varint field ``number`` is
    read into ``varint``.
    """

    number: int
    wire_type: int
    start: int
    value: int
    end: int
    varint: int = 0


def spans(buf: bytes | memoryview) -> list[Span]:
    """Every top-level field of ``buf`` in order (one step per field, the values skipped).

    Raises:
        ValueError: ``buf`` is not a well-formed protobuf message at the top level (a key
            or length runs past the end, a group or unknown wire type).
    """
    found: list[Span] = []
    pos, size = 0, len(buf)
    try:
        while pos < size:
            start = pos
            key = buf[pos]
            pos += 1
            if key > 0x7F:
                key, pos = read_varint(buf, start, size)
            number, wire_type = key >> 3, key & 7
            if wire_type == LENGTH_DELIMITED:
                length = buf[pos]
                value = pos + 1
                if length > 0x7F:
                    length, value = read_varint(buf, pos, size)
                pos = value + length
                found.append(Span(number, wire_type, start, value, pos))
            elif wire_type == VARINT:
                varint, pos = read_varint(buf, value := pos, size)
                found.append(Span(number, wire_type, start, value, pos, varint))
            elif wire_type in (_FIXED64, _FIXED32):
                value = pos
                pos += 8 if wire_type == _FIXED64 else 4
                found.append(Span(number, wire_type, start, value, pos))
            else:
                raise ValueError(f"wire type {wire_type} of field {number} is not supported here")
            if number < 1 or pos > size:
                raise ValueError(f"field {number} runs past the end of the message")
    except IndexError:
        raise ValueError("a key or length runs past the end of the message") from None
    return found


def joined(buf: bytes | memoryview, found: list[Span], number: int) -> bytes:
    """The value bytes of every occurrence of length-delimited field ``number``, concatenated (empty: none)."""
    return b"".join(buf[s.value : s.end] for s in found if s.number == number and s.wire_type == LENGTH_DELIMITED)


def data_field(number: int, payload: bytes | memoryview) -> bytes:
    """A length-delimited field ``number`` holding ``payload``, as protobuf writes it (key, length, bytes)."""
    return b"".join((field_key(number, LENGTH_DELIMITED), varint_bytes(len(payload)), payload))
