"""Certificates as a client sees them: chain and host verified, days to expiry counted."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509


@dataclass(frozen=True)
class CertInfo:
    host: str
    port: int
    verified: bool
    error: str | None
    not_after: datetime
    subject: str

    @property
    def days_left(self) -> float:
        return (self.not_after - datetime.now(UTC)).total_seconds() / 86400


def split_host(entry: str, default_port: int) -> tuple[str, int]:
    host, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    return (host, int(port)) if port else (entry, default_port)


def inspect(host: str, port: int, ca_file: str | None, timeout: float) -> CertInfo:
    """Connect and verify; when verification fails, connect again unverified to report the certificate.

    Raises OSError when nothing answers at all (that is the suite's problem, not a certificate's).
    """
    verified_ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    try:
        der = _peer_der(host, port, verified_ctx, timeout)
        error = None
    except ssl.SSLCertVerificationError as exc:
        error = exc.verify_message or str(exc)
        loose = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        loose.check_hostname = False
        loose.verify_mode = ssl.CERT_NONE  # only to read the certificate we already refused
        der = _peer_der(host, port, loose, timeout)
    cert = x509.load_der_x509_certificate(der)
    return CertInfo(host, port, error is None, error, cert.not_valid_after_utc, cert.subject.rfc4514_string())


def _peer_der(host: str, port: int, ctx: ssl.SSLContext, timeout: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            ctx.wrap_socket(sock, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError(f"{host}:{port} presented no certificate")
    return der
