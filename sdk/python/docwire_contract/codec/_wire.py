"""Protobuf basics the codec's modules share.

``Node``, the bound on caches keyed by what arrives on the wire, and the varint and
field-key framing for the fields written by hand around serialized messages.
"""

from __future__ import annotations

from typing import Final

from docwire_contract.v1 import document_pb2

# The names this module offers the codec's other modules (its internal interface).
__all__ = [
    "FIXED64",
    "LENGTH_DELIMITED",
    "VARINT",
    "WIRE_CACHE_LIMIT",
    "Node",
    "WireFormatError",
    "field_key",
    "read_varint",
    "varint_bytes",
]

Node = document_pb2.Node
# Caches keyed by what arrives on the wire stop growing at this size.
WIRE_CACHE_LIMIT: Final = 256


class WireFormatError(ValueError):
    """Bytes that are not the protobuf wire format where a reader expected it."""


def read_varint(buf: bytes | memoryview, pos: int, end: int) -> tuple[int, int]:
    """The varint at ``pos`` and where it ends.

    Raises:
        WireFormatError: it runs past ``end`` or is longer than 10 bytes.
    """
    result = 0
    shift = 0
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            break
    raise WireFormatError("a varint runs past the end of the message or is longer than 10 bytes")


def varint_bytes(value: int) -> bytes:
    """A length as protobuf writes it: 7 bits a byte, low first, the high bit set on all but the last."""
    if value < 0x80:
        return _ONE_BYTE[value]
    if value < 0x4000:  # a field's length up to 16 kB, a key: two bytes
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_ONE_BYTE: Final = tuple(bytes((value,)) for value in range(0x80))


#: Protobuf wire types of the fields written by hand around serialized messages.
VARINT: Final = 0
FIXED64: Final = 1
LENGTH_DELIMITED: Final = 2


def field_key(number: int, wire_type: int) -> bytes:
    """The key protobuf writes before field ``number`` of ``wire_type`` (``VARINT``, ``LENGTH_DELIMITED``)."""
    return varint_bytes(number << 3 | wire_type)
