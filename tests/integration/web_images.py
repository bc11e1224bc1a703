"""Images on the web, offline: a loopback HTTP(S) server and a CONNECT proxy that leads a named host to it.

The seed's curl command sends ``{"uri": "https://clip-as-service.jina.ai/_static/favicon.png"}``,
which the service fetches. Tests reach no network, so the service's processes are started with
``https_proxy`` pointing at :class:`ConnectProxy`, which tunnels every ``CONNECT`` to the local
HTTPS server, and ``SSL_CERT_FILE`` naming the test CA, which issued that server a certificate
for the seed's host name. The service's fetch (TLS, certificate check, HTTP) runs unchanged.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["ConnectProxy", "ImageServer", "environment", "png_bytes"]


def png_bytes(seed: int, size: tuple[int, int] = (48, 64)) -> bytes:
    """A small PNG of random pixels (``seed`` picks which)."""
    pixels = (np.random.default_rng(seed).random((*size, 3)) * 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


class ImageServer:
    """Serves ``files`` (path -> bytes) on a loopback port, over TLS when given a certificate."""

    def __init__(self, files: Mapping[str, bytes], cert_file: Path | None = None, key_file: Path | None = None) -> None:
        table = dict(files)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = table.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if cert_file is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_file, key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ImageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class ConnectProxy:
    """An HTTP proxy that answers every ``CONNECT`` by tunnelling to ``127.0.0.1:target_port``."""

    def __init__(self, target_port: int) -> None:
        class Tunnel(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                request = self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                if not request.startswith(b"CONNECT "):
                    self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                    return
                with socket.create_connection(("127.0.0.1", target_port), timeout=10) as upstream:
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    _pipe(self.connection, upstream)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Tunnel)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Copies bytes both ways until either side closes."""

    def copy(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    back = threading.Thread(target=copy, args=(upstream, client), daemon=True)
    back.start()
    copy(client, upstream)
    back.join(timeout=10)


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Sets environment variables for what starts inside the block (child processes keep them)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
