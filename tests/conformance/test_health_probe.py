"""grpc.health.v1 as Kubernetes probes see it: grpc-health-probe against the gateway and every replica."""

from __future__ import annotations

import pytest

from .support import EXECUTOR_SERVICE, GATEWAY_SERVICE, HEALTH_SERVICE, WORKERS, call, probe, unused_port

# grpc-health-probe's exit codes.
SERVING = 0
CONNECTION_FAILURE = 2
RPC_FAILURE = 3

GATEWAY = "gateway"


@pytest.fixture(scope="module")
def addresses(gateway: str, workers: dict[str, str]) -> dict[str, str]:
    """The gateway's and every replica's address, by ``gateway`` or ``<executor>/rep-<i>``."""
    return {GATEWAY: gateway, **workers}


@pytest.mark.parametrize(
    ("target", "service", "exit_code"),
    [
        (GATEWAY, None, SERVING),
        (GATEWAY, GATEWAY_SERVICE, SERVING),
        # A service the server does not serve is unknown to its health service: NOT_FOUND.
        (GATEWAY, EXECUTOR_SERVICE, RPC_FAILURE),
        *[(worker, service, SERVING) for worker in WORKERS for service in (None, EXECUTOR_SERVICE)],
        *[(worker, GATEWAY_SERVICE, RPC_FAILURE) for worker in WORKERS],
    ],
)
def test_health_probe_reports_each_server_and_service(
    addresses: dict[str, str], target: str, service: str | None, exit_code: int
) -> None:
    run = probe(addresses[target], service)
    assert run.returncode == exit_code, run.explain()
    output = run.stdout + run.stderr
    if exit_code == SERVING:
        assert "status: SERVING" in output, run.explain()
    else:
        assert "code = NotFound" in output, run.explain()


def test_health_probe_fails_where_nothing_listens() -> None:
    run = probe(f"127.0.0.1:{unused_port()}")
    assert run.returncode == CONNECTION_FAILURE, run.explain()
    assert "failed to connect" in run.stderr, run.explain()


@pytest.mark.parametrize("target", [GATEWAY, *WORKERS])
def test_health_check_answers_grpcurl_too(addresses: dict[str, str], target: str) -> None:
    service = GATEWAY_SERVICE if target == GATEWAY else EXECUTOR_SERVICE
    for name in ("", service):
        assert call(addresses[target], f"{HEALTH_SERVICE}/Check", {"service": name}).one() == {"status": "SERVING"}
