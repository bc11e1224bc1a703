"""A DNS server on loopback that answers as a Kubernetes headless Service does: one A record per replica."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dnslib import QTYPE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class HeadlessService(BaseResolver):  # type: ignore[misc]
    """Answers A queries for ``name`` with the current replica addresses (TTL 0), nothing for other names."""

    def __init__(self, name: str, addresses: Sequence[str]) -> None:
        self.name = name.rstrip(".")
        self._addresses = list(addresses)
        self._lock = threading.Lock()
        self.queries = 0

    def set_addresses(self, addresses: Sequence[str]) -> None:
        """What later answers hold (a pod became ready, or went away)."""
        with self._lock:
            self._addresses = list(addresses)

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        question = request.q
        with self._lock:
            self.queries += 1
            addresses = list(self._addresses)
        if question.qtype == QTYPE.A and str(question.qname).rstrip(".") == self.name:
            for address in addresses:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(address), ttl=0))
        return reply


@contextmanager
def dns_server(resolver: BaseResolver, host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Serves ``resolver`` over UDP on ``host``; yields the bound port."""
    quiet = DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data")
    server = DNSServer(resolver, address=host, port=port, logger=quiet)
    server.start_thread()
    try:
        yield int(server.server.server_address[1])
    finally:
        server.stop()
        server.server.server_close()
