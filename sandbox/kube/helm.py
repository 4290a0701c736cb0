"""Helm 3 release storage, as the Secrets driver writes it.

Each revision is a Secret ``sh.helm.release.v1.<release>.v<N>`` of type ``helm.sh/release.v1`` with labels
``owner=helm``, ``name``, ``status``, ``version`` (and ``modifiedAt``). Its ``release`` key holds
base64(gzip(release JSON)); the API server's Secret encoding adds another base64 on top.
"""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

MAGIC_GZIP = b"\x1f\x8b\x08"


def encode_release(release: dict[str, Any]) -> str:
    """Release JSON -> the string Helm stores under ``data.release`` (before the Secret's own base64)."""
    raw = json.dumps(release, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9)).decode()


def secret_data_value(release: dict[str, Any]) -> str:
    """What ``GET .../secrets/NAME`` returns in ``data.release``: base64 of Helm's own string."""
    return base64.b64encode(encode_release(release).encode()).decode()
