"""An OTLP/gRPC trace sink for the benchmarks: answers every Export, parses nothing, prints its port.

Run as a process of its own (``bare.spawn_server(span_sink.__file__)``), so what receiving
spans costs is not counted in the process being measured. Stops on SIGTERM, saying on stderr
how many exports and bytes it took.
"""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
import uvloop

SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"


async def serve() -> None:
    received = [0, 0]  # exports, bytes

    def export(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        received[0] += 1
        received[1] += len(request)
        return b""  # an empty ExportTraceServiceResponse

    server = grpc.aio.server()
    handler: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(export)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"Export": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(port, flush=True)  # the handshake line spawn_server reads
    await stop.wait()
    await server.stop(grace=None)
    print(f"span sink: {received[0]:,} exports, {received[1] / 1e6:,.1f} MB of spans", file=sys.stderr)


if __name__ == "__main__":
    uvloop.run(serve())
