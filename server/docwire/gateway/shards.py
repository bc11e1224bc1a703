"""The shards of one executor: each a ``ReplicaPool``, called by the endpoint's polling.

``ANY`` sends a request to one shard, shards taken in turn (and within it, its replicas
in turn, as for an unsharded executor); ``ALL`` sends it to every shard at once and merges
their replies (``merge``: by document id, matches concatenated, or the executor's reduce
hook; each shard's ``__results__`` come back as ``<executor>/shard-<i>/rep-<j>``). An
unsharded executor is one shard: its requests go straight to ``forward``.

Each shard's pool is named ``<executor>/shard-<i>``, so errors and the per-client-stream
upstream calls (``UpstreamStreams``, keyed by pool name and replica) tell shards apart.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Sequence

from docwire.gateway.forwarding import forward
from docwire.gateway.merge import DocsReducer, merge_replies
from docwire.gateway.reduce_hook import ReduceHookFailed, hook_reducer
from docwire.gateway.replica_streams import UpstreamStreams
from docwire.gateway.router import ExecutorNode
from docwire.gateway.splice import Reply, as_bytes
from docwire.gateway.upstream import ReplicaPool
from docwire.transports.tls import MutualTls
from docwire_contract.conventions import RESULTS_KEY
from docwire_contract.v1 import request_pb2

__all__ = ["ExecutorPools"]


class ExecutorPools:
    """Every shard of one executor (see the module docstring)."""

    def __init__(self, node: ExecutorNode, max_message_bytes: int, tls: MutualTls | None = None) -> None:
        self.node = node
        shards = node.shards
        if len(shards) == 1:
            self.pools = [ReplicaPool(node, max_message_bytes, tls)]
        else:
            self.pools = [
                ReplicaPool(ExecutorNode(f"{node.name}/shard-{i}", addresses), max_message_bytes, tls)
                for i, addresses in enumerate(shards)
            ]
        self._turn = itertools.cycle(range(len(self.pools)))
        hook = node.topology.reduce
        self.reducer: DocsReducer | None = None if hook is None else hook_reducer(hook, node.name)

    def with_node(self, node: ExecutorNode) -> ExecutorPools:
        """Takes ``node`` (the same executor, with its endpoints discovered) as its description."""
        self.node = node
        return self

    def send(
        self,
        raw: Reply,
        endpoint: str,
        timeout: float | None,
        metadata: Sequence[tuple[str, str]] = (),
        streams: UpstreamStreams | None = None,
    ) -> Awaitable[Reply]:
        """What the executor returns for ``raw`` (awaited): one shard's reply, or every shard's merged.

        Raises:
            DocwireError: (when awaited) a replica failed or cannot be reached, named with its address.
        """
        if len(self.pools) == 1:
            return forward(self.pools[0], raw, timeout, metadata, streams)
        if not self.node.topology.polls_all(endpoint):
            return forward(self.pools[next(self._turn)], raw, timeout, metadata, streams)
        return self._send_all(raw, timeout, metadata, streams)

    async def _send_all(
        self,
        raw: Reply,
        timeout: float | None,
        metadata: Sequence[tuple[str, str]],
        streams: UpstreamStreams | None,
    ) -> Reply:
        raws = await asyncio.gather(*(forward(pool, raw, timeout, metadata, streams) for pool in self.pools))
        replies = [request_pb2.DataRequest.FromString(as_bytes(reply)) for reply in raws]
        for shard, (reply, reply_raw) in enumerate(zip(replies, raws, strict=True)):
            if reply.header.status.code != request_pb2.Status.CODE_SUCCESS:
                return reply_raw  # the first failing shard's reply fails the request
            _name_shard_results(reply, self.node.name, shard)
        try:
            return merge_replies(replies, self.reducer).SerializeToString()
        except ReduceHookFailed as failed:
            return failed.reply(replies[0])

    def next_pool(self) -> ReplicaPool:
        """The pool of the shard whose turn it is (for calls that go to one shard: StreamDoc)."""
        return self.pools[next(self._turn)] if len(self.pools) > 1 else self.pools[0]

    async def endpoints(self, timeout: float, wait_for_ready: bool = False) -> request_pb2.EndpointsInfo:
        """Asks every replica of every shard for its endpoints; returns the first shard's answer."""
        infos = await asyncio.gather(*(pool.endpoints(timeout, wait_for_ready) for pool in self.pools))
        return infos[0]

    async def close(self) -> None:
        """Closes every channel."""
        for pool in self.pools:
            await pool.close()


def _name_shard_results(reply: request_pb2.DataRequest, name: str, shard: int) -> None:
    """Renames ``<name>/rep-<j>`` results ``<name>/shard-<i>/rep-<j>``: every shard's replica 0 says ``rep-0``."""
    if not reply.HasField("parameters") or RESULTS_KEY not in reply.parameters.fields:
        return
    results = reply.parameters.fields[RESULTS_KEY].struct_value.fields
    prefix = f"{name}/rep-"
    for key in [key for key in results if key.startswith(prefix)]:
        results[f"{name}/shard-{shard}/{key[len(name) + 1 :]}"].CopyFrom(results[key])
        del results[key]
