"""Why the gateway cannot reach an executor over (or without) TLS, in words.

gRPC reports a TLS handshake an executor refused as ``Socket closed``: with TLS 1.3 the client
finishes its side before the server judges its certificate, and a plaintext client gets the
same. When discovery meets such a failure, the gateway shakes hands once more with Python's
``ssl`` (same files, same address) and watches what the executor does next, so the error can say
what is wrong: no client certificate, one the executor does not trust, an executor certificate
the gateway does not trust, or TLS on one end only.
"""

from __future__ import annotations

import asyncio
import ssl

from docwire.transports.tls import MutualTls

__all__ = ["tls_failure"]


def _context(tls: MutualTls | None) -> ssl.SSLContext:
    if tls is None:  # only to learn whether the executor speaks TLS at all
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=tls.ca_file)
        if tls.certfile is not None:
            context.load_cert_chain(tls.certfile, tls.keyfile)
    context.set_alpn_protocols(["h2"])  # a gRPC server closes TLS connections that do not offer HTTP/2
    return context


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` or ``[v6]:port``; None for targets gRPC resolves itself (``dns:///...``)."""
    if "/" in address:
        return None
    host, _, port = address.rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


async def tls_failure(address: str, tls: MutualTls | None, timeout: float = 2.0) -> str | None:
    """What keeps the gateway (dialling with ``tls``, None: plaintext) from ``address``, when TLS is why.

    Returns None when TLS is not the problem (or it cannot tell): the caller goes on waiting.
    """
    target = _host_port(address)
    if target is None:
        return None
    host, port = target
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=_context(tls), server_hostname=host), timeout
        )
    except ssl.SSLCertVerificationError as exc:
        return f"TLS: the gateway does not trust the executor's certificate ({exc.verify_message})"
    except ssl.SSLError as exc:
        if tls is None:
            return None  # not TLS on the other end either
        return f"TLS handshake failed ({exc.reason or exc})"
    except (OSError, TimeoutError):
        return None
    try:
        # TLS 1.3: the executor judges the client certificate after the handshake; gRPC then closes without
        # an alert. An HTTP/2 server that took us sends its SETTINGS first, so an empty read is a refusal.
        refused = not await asyncio.wait_for(reader.read(1), timeout)
    except (OSError, TimeoutError):  # ssl.SSLError (an alert) is an OSError
        refused = True
    finally:
        writer.close()
    if tls is None:
        return "the executor serves TLS and the gateway dials it in plaintext: give the gateway executor_tls"
    if not refused:
        return None
    if tls.certfile is None:
        return (
            "TLS: the executor closed the connection after the handshake: "
            "it requires a client certificate, and the gateway shows none"
        )
    return (
        "TLS: the executor closed the connection after the handshake: it does not accept the gateway's client "
        "certificate (not signed by the CA it trusts, --tls-client-ca?)"
    )
