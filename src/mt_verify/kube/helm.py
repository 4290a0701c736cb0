"""Helm 3 release Secrets, read without a helm binary.

Helm's Secrets driver stores revision N of release R as Secret ``sh.helm.release.v1.R.vN`` (type
``helm.sh/release.v1``, labels ``owner=helm``, ``name=R``, ``status``, ``version=N``). Its ``release`` key is
base64(gzip(release JSON)); the API returns Secret data base64-encoded once more. So: base64 -> base64 -> gunzip
(when the gzip magic is there; very old releases are plain JSON) -> JSON.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from dataclasses import dataclass, field
from typing import Any

GZIP_MAGIC = b"\x1f\x8b\x08"


class HelmDecodeError(ValueError):
    pass


def decode_release(data: str | bytes) -> dict[str, Any]:
    """A Secret's ``data.release`` exactly as the API returns it -> the release JSON object."""
    try:
        helm_text = base64.b64decode(data, validate=True)
        raw = base64.b64decode(helm_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HelmDecodeError(f"not base64 of base64 ({exc})") from None
    if raw[:3] == GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise HelmDecodeError(f"corrupt gzip ({exc})") from None
    try:
        release = json.loads(raw)
    except ValueError as exc:
        raise HelmDecodeError(f"not JSON ({exc})") from None
    if not isinstance(release, dict):
        raise HelmDecodeError("the release is not a JSON object")
    return release


@dataclass(frozen=True)
class HelmRevision:
    number: int
    status: str
    description: str
    chart: str
    app_version: str | None
    last_deployed: str | None
    values: dict[str, Any] = field(default_factory=dict)
    secret: str = ""

    @classmethod
    def of(cls, release: dict[str, Any], secret: str = "") -> HelmRevision:
        info = release.get("info") or {}
        meta = (release.get("chart") or {}).get("metadata") or {}
        return cls(number=int(release.get("version") or 0), status=str(info.get("status") or "unknown"),
                   description=str(info.get("description") or ""),
                   chart=f"{meta.get('name', '?')}-{meta.get('version', '?')}",
                   app_version=str(meta["appVersion"]) if meta.get("appVersion") else None,
                   last_deployed=info.get("last_deployed"), values=dict(release.get("config") or {}), secret=secret)

    @property
    def release_version(self) -> str | None:
        """``<version>.<buildId>`` from the values CI stamps (contract 3.3), when they are there."""
        version, build = self.values.get("version"), self.values.get("buildId")
        if not version:
            return None
        version, build = str(version), str(build) if build not in (None, "") else None
        return f"{version}.{build}" if build and not version.endswith("." + build) else version

    @property
    def commit_sha(self) -> str | None:
        sha = self.values.get("commitSha")
        return str(sha) if sha else None

    def image_tags(self) -> dict[str, str]:
        """``<component>.image.tag`` values: {"backend": "bfcfcb0", ...}."""
        out: dict[str, str] = {}
        for key, section in self.values.items():
            image = section.get("image") if isinstance(section, dict) else None
            if isinstance(image, dict) and image.get("tag") not in (None, ""):
                out[str(key)] = str(image["tag"])
        return out


def revisions(secrets: list[dict[str, Any]]) -> list[HelmRevision]:
    """Decode every release Secret (newest last). A Secret that does not decode raises :class:`HelmDecodeError`
    naming it."""
    out = []
    for secret in secrets:
        name = (secret.get("metadata") or {}).get("name", "?")
        data = (secret.get("data") or {}).get("release")
        if not data:
            raise HelmDecodeError(f"Secret {name} has no data.release")
        try:
            out.append(HelmRevision.of(decode_release(data), secret=name))
        except HelmDecodeError as exc:
            raise HelmDecodeError(f"Secret {name}: {exc}") from None
    return sorted(out, key=lambda r: r.number)
