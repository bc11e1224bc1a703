"""The executor worker process: ``python -m docwire.runtime.worker --ready-fd N`` with a spec on stdin.

One process per replica. It builds the executor, serves it over gRPC (with health
and reflection), reports its port through the ready pipe, and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import sys

import cloudpickle
import uvloop

from docwire.executor.base import RuntimeArgs, instantiate
from docwire.observability.launch import start_executor_observer
from docwire.runtime.lifecycle import configure_logging, report_ready, tune_garbage_collector, wait_for_stop_signal
from docwire.runtime.loader import load_executor_class, load_py_modules
from docwire.runtime.servicer import ExecutorServicer
from docwire.runtime.spec import WorkerSpec
from docwire.runtime.status import set_error_details
from docwire.transports.grpc_server import PROCESS_STREAM_FRAMING_BYTES, PortUnavailable, start_grpc_server
from docwire_contract.methods import EXECUTOR_SERVICE

__all__ = ["main"]

logger = logging.getLogger("docwire.worker")


async def serve(spec: WorkerSpec, ready_fd: int | None) -> None:
    """Builds the executor and serves it until a stop signal."""
    set_error_details(spec.error_details)
    modules = load_py_modules(spec.py_modules)
    try:
        executor_class = load_executor_class(spec.uses, modules)
    except (ImportError, TypeError) as exc:  # what uses= names is not there: one line says it (shown in StartupError)
        raise SystemExit(f"{spec.name}: cannot load uses={spec.uses!r}: {exc}") from None
    runtime_args = RuntimeArgs(
        name=spec.name, replica_id=spec.replica_id, workspace=spec.workspace, shard_id=spec.shard_id
    )
    executor = instantiate(executor_class, runtime_args, spec.uses_with)
    observer, monitoring_port = start_executor_observer(spec.observability) or (None, None)
    servicer = ExecutorServicer(
        executor,
        max_message_bytes=spec.max_message_bytes,
        observer=observer,
        max_concurrency=spec.max_concurrency,
        dynamic_batching=spec.uses_dynamic_batching,
    )
    try:
        server = await start_grpc_server(
            [servicer.handler()],
            [EXECUTOR_SERVICE],
            spec.host,
            spec.port,
            max_message_bytes=spec.max_message_bytes + PROCESS_STREAM_FRAMING_BYTES,
            max_connection_age=spec.max_connection_age,
            credentials=None if spec.tls is None else spec.tls.server_credentials(),
        )
    except PortUnavailable as exc:  # its port is held by another process: one line says which and why
        raise SystemExit(f"{spec.name}/rep-{spec.replica_id}: {exc}") from None
    await server.set_serving(True)
    logger.info(
        "%s/rep-%d serving %s on port %d%s",
        spec.name,
        spec.replica_id,
        executor_class.__name__,
        server.port,
        " over mutual TLS" if spec.tls is not None else "",
    )
    tune_garbage_collector()
    report_ready(ready_fd, server.port, monitoring_port=monitoring_port)

    async def stop() -> None:
        await server.stop()
        await servicer.drain()
        servicer.close()
        try:
            executor.close()
        except Exception:  # user code: logged as its own, and the rest still closes
            logger.exception("%s/rep-%d: the executor's close() raised", spec.name, spec.replica_id)
        if observer is not None:
            observer.close()

    await wait_for_stop_signal(stop)


def main(argv: list[str] | None = None) -> None:
    """Entry point: reads the pickled WorkerSpec from stdin and serves it."""
    parser = argparse.ArgumentParser(prog="python -m docwire.runtime.worker")
    parser.add_argument("--ready-fd", type=int, default=None, help="pipe to write {'port': N} to once serving")
    args = parser.parse_args(argv)
    spec: WorkerSpec = cloudpickle.load(sys.stdin.buffer)
    configure_logging(f"{spec.name}/rep-{spec.replica_id}")
    uvloop.run(serve(spec, args.ready_fd))


if __name__ == "__main__":
    main()
