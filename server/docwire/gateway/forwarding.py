"""How one request reaches an executor: unary (``ReplicaPool``) or over its client stream's ``UpstreamStreams``.

The choice is made here, per request, so neither of the two knows the other: the pool
gives the replica whose turn it is (and the unary call with failover), the streams
give the ProcessStream call open to that replica on this client stream, if any.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence

from docwire.gateway.replica_streams import UpstreamStreams
from docwire.gateway.splice import Reply
from docwire.gateway.upstream import ReplicaPool

__all__ = ["forward"]


def forward(
    pool: ReplicaPool,
    raw: Reply,
    timeout: float | None,
    metadata: Sequence[tuple[str, str]] = (),
    streams: UpstreamStreams | None = None,
) -> Awaitable[Reply]:
    """What the next replica of ``pool`` returns for ``raw`` (awaited), passing ``metadata`` (the client's headers) on.

    Without ``streams`` the request goes unary, skipping replicas that refuse connections.
    With ``streams`` (the requests of one client stream, or the gateway's Posts), the first
    request to a replica goes unary too; later ones go over the ProcessStream call open to
    it, opened once its channel is connected (see ``replica_streams``); one that call can no
    longer take goes unary.

    The reply comes as bytes (unary) or as a view into the stream's result (see
    ``replica_streams.result_parts``): either is passed on without a copy.

    Not a coroutine itself: it returns the pool's or the stream's, so the choice adds no
    frame to a request's path.

    Raises:
        DocwireError: (when awaited) the replica failed the request or cannot be reached,
            named with its address.
    """
    order = pool.order()
    if streams is not None:
        name, index = pool.node.name, order[0]
        stream = streams.stream_to(name, index)
        if stream is None and not streams.first_request_to(name, index) and pool.connected(index):
            call = pool.process_stream_call(index, metadata)
            stream = streams.open(name, index, pool.node.addresses[index], call, metadata)
        if stream is not None:  # its trace context rides in the call when it differs; unary if it cannot be sent
            return stream.process(raw, timeout, metadata, lambda: pool.process(raw, timeout, metadata, order))
    return pool.process(raw, timeout, metadata, order)
