"""Replicas behind one DNS name, balanced by gRPC itself: what a gateway channel needs for a ``dns:`` target.

In Kubernetes an executor's replicas sit behind a headless Service (``clusterIP: None``): its DNS
name answers with one A record per ready pod. A gateway channel to ``dns:///encoder.ns.svc:8081``
with gRPC's ``round_robin`` policy connects to every address and sends each call to the next one,
with no service mesh. gRPC resolves the name again whenever a connection closes (a pod going away,
or the executor's ``max_connection_age`` ending it), at most once per ``DNS_MIN_RESOLUTION_INTERVAL_MS``;
it does not poll DNS. A ``dns://server:port/name:port`` target asks that DNS server.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DNS_MIN_RESOLUTION_INTERVAL_MS", "balancing_options", "is_balanced"]

#: The least time between two resolutions of one name (gRPC's default is 30 s): new replicas are found
#: on the next reconnection after this.
DNS_MIN_RESOLUTION_INTERVAL_MS: Final = 1000


def is_balanced(address: str) -> bool:
    """Whether ``address`` names a set of replicas that gRPC balances itself (a ``dns:`` target)."""
    return address.startswith("dns:")


def balancing_options(address: str) -> list[tuple[str, str | int]]:
    """The channel options for ``address``: round-robin over every resolved address for a ``dns:`` target."""
    if not is_balanced(address):
        return []
    return [
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.dns_min_time_between_resolutions_ms", DNS_MIN_RESOLUTION_INTERVAL_MS),
    ]
