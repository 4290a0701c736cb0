"""A local CA and a server certificate whose expiry the fault chooses."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme


def days_left_for(faults: set[str]) -> float:
    if "tls-expired" in faults:
        return -1
    if "tls-near-expiry" in faults:
        return 5
    if "tls-expiring-soon" in faults:
        return 15
    return 90


def server_context(state_dir: Path, faults: set[str]) -> tuple[ssl.SSLContext, Path]:
    """An SSL context for the sandbox's https listener, and the CA file a client must trust."""
    ca = trustme.CA(organization_name="mt-verify sandbox CA")
    now = datetime.now(UTC)
    not_after = now + timedelta(days=days_left_for(faults))
    not_before = min(now - timedelta(days=30), not_after - timedelta(days=1))
    leaf = ca.issue_cert("localhost", "127.0.0.1", not_before=not_before, not_after=not_after)
    ca_file = state_dir / "sandbox-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    return ctx, ca_file
