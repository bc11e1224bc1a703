"""Mutual TLS between the gateway and executors served elsewhere (``docwire executor serve``).

Both ends hold the same three files, each from its own side: its certificate (chain), the
certificate's private key, and the CA its peer's certificate must be signed by. An executor
serves with its certificate and refuses any client without a certificate from ``ca_file``
(the gateways' CA); the gateway dials with its own certificate and verifies the executor's
against ``ca_file`` (the executors' CA). Executors a Flow launches itself stay plaintext on
loopback: only their gateway reaches them.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

__all__ = ["MutualTls"]

#: The keys of ``MutualTls`` in YAML (``with: {executor_tls: {...}}``).
_FIELDS = ("certfile", "keyfile", "ca_file")


@dataclass(frozen=True, slots=True, kw_only=True)
class MutualTls:
    """One end of a mutual TLS link: its own certificate and key, and the CA its peer must be signed by.

    Attributes:
        certfile: this end's PEM certificate (chain). Optional on the gateway's side only: without it
            the gateway verifies the executor but shows no certificate (an executor refuses that).
        keyfile: the PEM private key of ``certfile`` (unencrypted).
        ca_file: the PEM CA certificate(s) the peer's certificate must be signed by.
    """

    certfile: str | None
    keyfile: str | None
    ca_file: str

    def __post_init__(self) -> None:
        if (self.certfile is None) != (self.keyfile is None):
            raise ValueError("mutual TLS needs both certfile and keyfile, or neither (gateway side only)")
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            path = Path(value).expanduser().resolve()
            if not path.is_file():
                raise ValueError(f"TLS {name} {str(value)!r} does not exist or is not a file ({path})")
            object.__setattr__(self, name, str(path))
        if self.certfile is not None and self.keyfile is not None:
            try:
                ssl.create_default_context().load_cert_chain(self.certfile, self.keyfile, password=lambda: b"")
            except (ssl.SSLError, OSError, ValueError) as exc:
                raise ValueError(
                    f"cannot use TLS certfile {self.certfile!r} with keyfile {self.keyfile!r}: {exc} "
                    "(both must be PEM, the key unencrypted and matching the certificate)"
                ) from exc

    @classmethod
    def from_mapping(cls, settings: Mapping[str, str], base: Path | None = None) -> MutualTls:
        """Reads ``{certfile, keyfile, ca_file}`` (YAML), relative paths taken from ``base``.

        Raises:
            ValueError: a key is missing or unknown, or a file is not usable.
        """
        unknown = sorted(set(settings) - set(_FIELDS))
        if unknown or "ca_file" not in settings:
            raise ValueError(f"executor_tls takes {list(_FIELDS)} (ca_file required), not {dict(settings)!r}")

        def located(key: str) -> str | None:
            value = settings.get(key)
            if value is None:
                return None
            return str(Path(value).expanduser() if base is None else base / Path(value).expanduser())

        ca_file = located("ca_file")
        assert ca_file is not None
        return cls(certfile=located("certfile"), keyfile=located("keyfile"), ca_file=ca_file)

    def server_credentials(self) -> grpc.ServerCredentials:
        """An executor's credentials: its certificate, and a client certificate from ``ca_file`` required.

        Raises:
            ValueError: no certificate (an executor must show one).
        """
        if self.certfile is None or self.keyfile is None:
            raise ValueError("an executor served over TLS needs its certificate and key")
        pair = (Path(self.keyfile).read_bytes(), Path(self.certfile).read_bytes())
        return grpc.ssl_server_credentials(
            [pair], root_certificates=Path(self.ca_file).read_bytes(), require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """The gateway's credentials: the executor verified against ``ca_file``, its own certificate shown."""
        return grpc.ssl_channel_credentials(
            root_certificates=Path(self.ca_file).read_bytes(),
            private_key=None if self.keyfile is None else Path(self.keyfile).read_bytes(),
            certificate_chain=None if self.certfile is None else Path(self.certfile).read_bytes(),
        )
