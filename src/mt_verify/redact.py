"""Keep credentials out of everything the suite writes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SENSITIVE_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization", "x-csrf-token"}
MASK = "********"

# JWTs (three base64url parts) and JSON fields that carry secrets.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_FIELDS = re.compile(
    r'("(?:access_token|refresh_token|password|token|csrf_token|auth_token)"\s*:\s*)"[^"]*"', re.IGNORECASE
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)

_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this exact value wherever it appears (passwords, tokens learnt at run time)."""
    if value and len(value) >= 4:
        _known.add(value)


def known_secrets() -> Iterable[str]:
    return tuple(_known)


def redact_text(text: str) -> str:
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    text = _FIELDS.sub(lambda m: m.group(1) + f'"{MASK}"', text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k.lower() in SENSITIVE_HEADERS else redact_text(v)) for k, v in headers.items()}
