"""The release being verified, as an operator names it, and as the backend serves it.

``--expected-version`` accepts a version (``1.29.2.1360`` or just ``1.29.2``), a commit SHA
(full or at least 7 hex digits), or both joined by ``+`` or ``@`` (``1.29.2.1360+bfcfcb0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mt_verify.errors import ConfigError

_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_VERSION = re.compile(r"^v?\d+(\.\d+)*$")


def same_commit(a: str, b: str) -> bool:
    """The one SHA rule: two commit ids name the same commit when one is a prefix of the other (any case), as
    ``git`` resolves abbreviations; ids shorter than 7 hex digits never match."""
    a, b = a.strip().lower(), b.strip().lower()
    if len(a) < 7 or len(b) < 7:
        return False
    return a.startswith(b) or b.startswith(a)


class ReleaseError(ConfigError, ValueError):
    """An expected release that cannot be parsed (a configuration error)."""


@dataclass(frozen=True)
class ExpectedRelease:
    version: str | None = None
    sha: str | None = None

    @classmethod
    def parse(cls, text: str | None) -> ExpectedRelease | None:
        if text is None or not text.strip():
            return None
        version: str | None = None
        sha: str | None = None
        for part in re.split(r"[+@]", text.strip()):
            part = part.strip()
            if _SHA.match(part.lower()) and not _VERSION.match(part):
                sha = part.lower()
            elif _VERSION.match(part):
                version = part.removeprefix("v")
            else:
                raise ReleaseError(
                    f"expected version {text!r}: {part!r} is neither a version (1.29.2.1360) "
                    "nor a commit SHA (7-40 hex digits)"
                )
        return cls(version=version, sha=sha)

    def __str__(self) -> str:
        return "+".join(p for p in (self.version, self.sha) if p)

    def version_matches(self, served_version: str | None) -> bool:
        """``1.29.2`` matches any build of it (``1.29.2.1360``); a full version matches exactly."""
        if self.version is None:
            return True
        if served_version is None:
            return False
        return served_version == self.version or served_version.startswith(self.version + ".")

    def sha_matches(self, served_sha: str | None) -> bool:
        if self.sha is None:
            return True
        return served_sha is not None and same_commit(self.sha, served_sha)

    def matches(self, served_version: str | None, served_sha: str | None) -> bool:
        return self.version_matches(served_version) and self.sha_matches(served_sha)


@dataclass(frozen=True)
class ServedRelease:
    """The body of ``GET /api/version``."""

    version: str
    build_id: str | None
    commit_sha: str | None
    environment: str | None
    build_date: str | None = None

    @property
    def sha7(self) -> str | None:
        return self.commit_sha[:7] if self.commit_sha else None

    def __str__(self) -> str:
        return f"{self.version} ({self.sha7 or 'no commit_sha'})"


@dataclass(frozen=True)
class ReleaseIdentity:
    """What the running images and values must say: from the expected release, completed by ``/api/version``."""

    sha: str | None
    version: str | None
    build_id: str | None
    #: Where it came from, for messages ("expected release 1.29.2.1360+bfcfcb0", "served /api/version").
    source: str

    def tag(self, template: str) -> str:
        return template.format(sha7=(self.sha or "")[:7], sha=self.sha or "", version=self.version or "",
                               build_id=self.build_id or "")

    def sha_matches(self, sha: str | None) -> bool:
        """An image or value that carries no SHA says nothing against it."""
        return not self.sha or not sha or same_commit(self.sha, sha)


def build_id_of(version: str | None) -> str | None:
    """``1.29.2.1360`` -> ``1360`` (the fourth part is the CI build id); a three-part version has none."""
    parts = (version or "").split(".")
    return parts[3] if len(parts) == 4 and parts[3].isdigit() else None


def needs_served(template: str, sha: str | None, version: str | None) -> bool:
    """Whether the expected release alone cannot fill the image-tag template."""
    if not sha:
        return True
    if "{sha}" in template and len(sha) < 40:
        return True
    if "{version}" in template and not version:
        return True
    return "{build_id}" in template and not build_id_of(version)
