"""docwire's wire kernel: what the server and the client must agree on, and nothing else.

Both ``docwire`` (the server) and ``docwire_client`` import this package; it imports
neither of them (``tests/unit/test_import_graph.py`` checks it). Its modules:

* ``v1``: the code ``make proto`` generates from ``proto/docwire/v1`` (messages, gRPC
  stubs, typed ``.pyi``).
* ``conventions``: the values the ``.proto`` files cannot state (default endpoint,
  results key, message limit, error metadata key).
* ``methods``: the contract's gRPC service names and method paths, read from the
  generated descriptors.
* ``errors``: the ``DocwireError`` hierarchy, each error's gRPC status code, and the
  mapping of a failed call, an error reply or an HTTP error back to an error;
  ``status_map``: the tables from those codes to HTTP statuses and WebSocket close codes.
* ``doc_types``: the default ``Document`` schema and the helpers that read document
  classes from annotations.
* ``codec``: docarray documents to and from the contract's document messages, with the
  hand-written fast path for uniform batches (``codec._batch_layout``).
* ``allocator``: not the contract but what both sides do to move its large messages: glibc's
  heap kept for request-sized buffers (servers from their start, the client while it streams).
* ``legacy``: docarray v1's documents (what clip_client 0.8.3 sends) to and from the contract's,
  for the gateway's ``jina.*`` edge.
"""
