"""Fast conversion between docarray documents and ``docwire.v1`` document messages.

The wire format is docarray's own (``DocProto``/``DocListProto``, field for field), so
docarray decodes what this module encodes and the other way round. docarray's
``to_protobuf``/``from_protobuf`` are too slow for the hot path: they build messages
through keyword constructors, decode tensors through ``parse_obj_as`` and validate
every field through pydantic again. This module produces the same messages and the
same documents, faster:

* **Encoding** dispatches on the exact type of each value through a table
  (``type -> encoder``) that is filled once per type, in the order docarray's
  ``_type_to_protobuf`` tests ``isinstance``. A value docarray encodes by value (an
  ``int`` in an ``Any`` field, a ``list`` of tensors, ...) is encoded by value here too;
  tensors go straight from ``tobytes()`` into the ``buffer`` field. Values this module
  does not know (torch tensors, custom docarray types) go through docarray's own
  ``_to_node_protobuf``, so nothing is lost.
* **Decoding** uses a plan built once per document class: for each declared field a
  decoder (field name -> function) that reads the node, mirrors docarray's
  ``_get_content_from_node_proto`` (the ``type`` string picks the docarray class, the
  field annotation picks the class of nested documents and document lists) and then
  brings the value to what pydantic would make of it (a tensor is viewed as the
  declared tensor class through that class' own validator, as pydantic does). When
  every field came out already valid, the document is built directly, without
  pydantic (``__dict__`` and ``__pydantic_fields_set__`` set as ``__init__`` would set
  them; absent fields take their defaults as pydantic gives them: a hashable default
  shared, any other a fresh deep copy per document, a factory called). When one did
  not (a value pydantic would coerce or reject, a missing required field, a
  constrained field, a class with its own validators), the document is built with
  ``cls(**fields)``, exactly as docarray builds it, so the outcome is docarray's.
  Classes that override docarray's protobuf hooks are decoded by docarray itself.

Behaviour callers must know (all of it docarray's):

* Fields present in a message but not declared by a typed ``doc_type`` are dropped
  silently, as docarray's ``from_protobuf`` drops them (only classes with
  ``_load_extra_fields_from_protobuf``, i.e. ``AnyDoc``, keep them).
* A declared field absent from a message takes its default; for ``id`` that is a new
  random id.
* ``id`` travels as text with type ``"id"``; a plain text id is accepted too.
* ``AnyDoc`` keeps every field with the value the node alone describes: nested
  documents become ``AnyDoc``, document lists untyped ``DocList``, tensors the class
  their ``type`` names. Its ``__pydantic_fields_set__`` is empty, as with docarray.
* Integers travel as ``int32``; a larger one cannot be encoded.
* A tensor's class comes from its ``type`` and is then validated into the declared
  class: an ``AnyTensor`` field gets an ``NdArray``, an ``AnyEmbedding`` field an
  ``NdArrayEmbedding``, whatever the sender had.

* Decoded tensors are writable copies of the message bytes, as docarray's are.
* Map order is not kept on the wire: dict fields (``tags``) and ``AnyDoc`` fields come
  back in protobuf's order, as with docarray.

Where this module deliberately differs from docarray:

* A tensor with no ``type`` (or one naming a class not installed here, e.g.
  ``torch_tensor`` without torch) decodes as an ``NdArray``; docarray refuses it.
* List items of a ``list[X]`` field (builtin generic) are read as ``X``, like those of
  ``typing.List[X]``; docarray only unpacks ``typing`` generics.
* A tensor with an empty buffer keeps its dtype (docarray turns it into float64 zeros)
  and must have a zero-sized shape: a non-empty shape without data is refused, as a
  guard against messages that would make the receiver allocate huge arrays.
* Errors are ``DocumentSchemaError``/``BadRequest`` naming the document and field,
  where docarray raises whatever its internals raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docwire_contract.codec._wire import LENGTH_DELIMITED, VARINT, field_key, varint_bytes
from docwire_contract.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from docwire_contract.codec._encoding import encode_doc
    from docwire_contract.codec._uniform_decoding import decode_doc, decode_docs, reencodes_unchanged
    from docwire_contract.codec._uniform_encoding import encode_docs

__all__ = [
    "LENGTH_DELIMITED",
    "VARINT",
    "decode_doc",
    "decode_docs",
    "encode_doc",
    "encode_docs",
    "field_key",
    "reencodes_unchanged",
    "varint_bytes",
]

#: The document functions, resolved on first use (PEP 562): they load docarray, numpy and pydantic,
#: which a gateway forwarding bytes (it needs only the wire framing above) never imports.
_LOCATIONS = {
    "encode_doc": "docwire_contract.codec._encoding",
    "decode_doc": "docwire_contract.codec._uniform_decoding",
    "decode_docs": "docwire_contract.codec._uniform_decoding",
    "reencodes_unchanged": "docwire_contract.codec._uniform_decoding",
    "encode_docs": "docwire_contract.codec._uniform_encoding",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), {name: (module, name) for name, module in _LOCATIONS.items()})
