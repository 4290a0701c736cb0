"""Certificates as a client sees them: chain and host verified, days to expiry counted.

A certificate that verifies is read with the standard library (``ssl``'s decoded peer certificate); only one that
is refused is parsed with ``cryptography`` (imported then: ~35 ms a health run does not pay when all is well)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


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
        with _connect(host, port, verified_ctx, timeout) as tls:
            seen = tls.getpeercert()
    except ssl.SSLCertVerificationError as exc:
        error = exc.verify_message or str(exc)
        loose = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        loose.check_hostname = False
        loose.verify_mode = ssl.CERT_NONE  # only to read the certificate we already refused
        return _refused(host, port, error, _peer_der(host, port, loose, timeout))
    if not seen or "notAfter" not in seen:
        raise ssl.SSLError(f"{host}:{port} presented no certificate")
    not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(seen["notAfter"])), UTC)
    return CertInfo(host, port, True, None, not_after, _rfc4514(seen.get("subject", ())))


#: OpenSSL's long attribute names -> RFC 4514's short ones (the rest are shown as OpenSSL names them).
_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
          "stateOrProvinceName": "ST", "localityName": "L", "domainComponent": "DC"}


def _rfc4514(subject: Any) -> str:
    """``ssl``'s decoded subject (RDNs, most significant first) as RFC 4514 text (least significant first)."""
    return ",".join("+".join(f"{_SHORT.get(k, k)}={v}" for k, v in rdn) for rdn in reversed(tuple(subject)))


def _refused(host: str, port: int, error: str, der: bytes) -> CertInfo:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return CertInfo(host, port, False, error, cert.not_valid_after_utc, cert.subject.rfc4514_string())


def _connect(host: str, port: int, ctx: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        return ctx.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise


def _peer_der(host: str, port: int, ctx: ssl.SSLContext, timeout: float) -> bytes:
    with _connect(host, port, ctx, timeout) as tls:
        der = tls.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError(f"{host}:{port} presented no certificate")
    return der
