"""Reading and writing protobuf fields by hand, for a format docwire has no generated code for.

docarray v1's messages are a foreign format docwire only translates at its edge, so they are
walked field by field here rather than generated into the contract (their package name,
``docarray``, would also clash with docarray v2's messages in protobuf's descriptor pool).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Final

from docwire_contract.codec import LENGTH_DELIMITED, VARINT, field_key, varint_bytes
from docwire_contract.errors import BadRequest

# The names this module offers the package's other modules (its internal interface).
__all__ = [
    "FIXED32",
    "LENGTH_DELIMITED",
    "VARINT",
    "Field",
    "float_field",
    "message_field",
    "read_fields",
    "text_field",
    "unpack_float",
    "write_field",
]

FIXED64: Final = 1
FIXED32: Final = 5

#: One field as read: its number, its wire type, and its value (the payload of a length-delimited
#: field, as a view of the message's bytes; an int for the other wire types).
Field = tuple[int, int, "memoryview | int"]

_FLOAT: Final = struct.Struct("<f")


def read_fields(data: bytes | memoryview, what: str) -> Iterator[Field]:
    """Every field of a serialized message, in the order written; payloads are views, not copies.

    Raises:
        BadRequest: the bytes are not a protobuf message; ``what`` names the message in the error.
    """
    view = memoryview(data)
    end = len(view)
    pos = 0
    while pos < end:
        key, pos = _varint(view, pos, what)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, pos = _varint(view, pos, what)
            yield number, wire_type, value
        elif wire_type == LENGTH_DELIMITED:
            length, pos = _varint(view, pos, what)
            if pos + length > end:
                raise BadRequest(f"{what} is truncated: field {number} needs {length} bytes, {end - pos} remain")
            yield number, wire_type, view[pos : pos + length]
            pos += length
        elif wire_type in (FIXED32, FIXED64):
            size = 4 if wire_type == FIXED32 else 8
            if pos + size > end:
                raise BadRequest(f"{what} is truncated in field {number}")
            yield number, wire_type, int.from_bytes(view[pos : pos + size], "little")
            pos += size
        else:
            raise BadRequest(f"{what} is not a protobuf message (field {number} has wire type {wire_type})")


def _varint(view: memoryview, pos: int, what: str) -> tuple[int, int]:
    result = shift = 0
    for index in range(pos, min(pos + 10, len(view))):
        byte = view[index]
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, index + 1
        shift += 7
    raise BadRequest(f"{what} is not a protobuf message (a varint runs past its end)")


def unpack_float(bits: int) -> float:
    """A ``float`` field's value from the 32 bits ``read_fields`` gives for it."""
    value: float = _FLOAT.unpack(bits.to_bytes(4, "little"))[0]
    return value


def message_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (a message, bytes or a string's UTF-8) as protobuf writes it."""
    return field_key(number, LENGTH_DELIMITED) + varint_bytes(len(payload)) + payload


def text_field(number: int, text: str) -> bytes:
    return message_field(number, text.encode())


def float_field(number: int, value: float) -> bytes:
    return field_key(number, FIXED32) + _FLOAT.pack(value)


def write_field(number: int, wire_type: int, value: memoryview | int) -> bytes:
    """A field as ``read_fields`` gave it, written back."""
    if isinstance(value, memoryview):
        return message_field(number, bytes(value))
    if wire_type == VARINT:
        return field_key(number, wire_type) + varint_bytes(value)
    return field_key(number, wire_type) + value.to_bytes(4 if wire_type == FIXED32 else 8, "little")
