"""A release of the stand-in app: what /api/version serves and what the images are tagged."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Release:
    version: str  # "<semver>.<build_id>"
    build_id: str
    commit_sha: str  # full 40 hex
    build_date: str

    @property
    def sha7(self) -> str:
        return self.commit_sha[:7]

    @property
    def semver(self) -> str:
        return self.version.rsplit(".", 1)[0]

    @classmethod
    def make(cls, semver: str, build_id: int | str) -> Release:
        sha = hashlib.sha1(f"{semver}.{build_id}".encode()).hexdigest()
        return cls(f"{semver}.{build_id}", str(build_id), sha, "2026-11-28T14:24:41Z")

    def to_json(self) -> dict[str, str]:
        return {
            "version": self.version,
            "build_id": self.build_id,
            "commit_sha": self.commit_sha,
            "build_date": self.build_date,
        }


#: What a fresh sandbox runs, and the release before it (the rollback target).
CURRENT = Release.make("1.29.2", 1360)
PREVIOUS = Release.make("1.29.1", 1352)
