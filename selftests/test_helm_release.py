"""Helm 3 release Secrets decoded without a helm binary. The payloads are encoded here the way Helm 3's Secrets
driver does it (pkg/storage/driver/util.go: json.Marshal -> gzip BestCompression -> base64 StdEncoding; the API
server then base64-encodes Secret data), independently of the sandbox's encoder."""

from __future__ import annotations

import base64
import gzip
import io
import json
from typing import Any

import pytest

from mt_verify.kube.helm import HelmDecodeError, HelmRevision, decode_release, revisions


def helm_encode(release: dict[str, Any], *, compress: bool = True) -> str:
    """What ``data.release`` reads through the API for a release stored by Helm 3."""
    raw = json.dumps(release).encode()
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as gz:
            gz.write(raw)
        raw = buf.getvalue()
    stored = base64.standard_b64encode(raw)  # Helm's own encoding, what the Secret holds
    return base64.standard_b64encode(stored).decode()  # the API's encoding of Secret data


def release(number: int, status: str, **config: Any) -> dict[str, Any]:
    return {
        "name": "missing-table", "namespace": "missing-table", "version": number,
        "info": {"first_deployed": "2026-08-01T10:00:00.000000Z", "last_deployed": "2026-08-20T14:30:00.123456Z",
                 "deleted": "", "description": "Upgrade complete", "status": status},
        "chart": {"metadata": {"name": "missing-table", "version": "0.1.0", "appVersion": "1.4.0",
                               "apiVersion": "v2"}},
        "config": config,
    }


def secret(rel: dict[str, Any]) -> dict[str, Any]:
    n = rel["version"]
    return {"metadata": {"name": f"sh.helm.release.v1.missing-table.v{n}",
                         "labels": {"owner": "helm", "name": "missing-table", "status": rel["info"]["status"],
                                    "version": str(n)}},
            "type": "helm.sh/release.v1", "data": {"release": helm_encode(rel)}}


PROD_VALUES = {"version": "1.29.2", "buildId": "1360", "commitSha": "bfcfcb0199715ed65afe18d1a98397a4284750d1",
               "backend": {"image": {"repository": "ghcr.io/silverbeer/missing-table-backend", "tag": "bfcfcb0"}},
               "frontend": {"image": {"repository": "ghcr.io/silverbeer/missing-table-frontend", "tag": "bfcfcb0"}},
               "redis": {"enabled": True, "image": {"repository": "redis", "tag": "7-alpine"}}}


def test_decodes_a_gzipped_release_as_helm_3_stores_it() -> None:
    rel = release(2, "deployed", **PROD_VALUES)
    assert decode_release(helm_encode(rel)) == rel


def test_decodes_an_uncompressed_release() -> None:
    rel = release(1, "superseded")
    assert decode_release(helm_encode(rel, compress=False)) == rel


def test_accepts_bytes() -> None:
    rel = release(1, "deployed")
    assert decode_release(helm_encode(rel).encode()) == rel


@pytest.mark.parametrize(("data", "why"), [
    ("not base64!!", "not base64"),
    (base64.b64encode(b"plain text").decode(), "not base64"),
    (base64.b64encode(base64.b64encode(b"\x1f\x8b\x08garbage")).decode(), "corrupt gzip"),
    (base64.b64encode(base64.b64encode(b"[1, 2]")).decode(), "not a JSON object"),
    (base64.b64encode(base64.b64encode(b"{nope")).decode(), "not JSON"),
])
def test_rejects_what_helm_would_not_have_written(data: str, why: str) -> None:
    with pytest.raises(HelmDecodeError, match=why):
        decode_release(data)


def test_revision_reads_status_chart_and_stamped_values() -> None:
    rev = HelmRevision.of(release(7, "failed", **PROD_VALUES), secret="s")
    assert (rev.number, rev.status, rev.chart, rev.app_version) == (7, "failed", "missing-table-0.1.0", "1.4.0")
    assert rev.release_version == "1.29.2.1360"
    assert rev.commit_sha == PROD_VALUES["commitSha"]
    assert rev.image_tags() == {"backend": "bfcfcb0", "frontend": "bfcfcb0", "redis": "7-alpine"}


def test_revision_without_stamped_values_carries_no_release() -> None:
    rev = HelmRevision.of(release(1, "deployed"))
    assert rev.release_version is None and rev.commit_sha is None and rev.image_tags() == {}


def test_revisions_are_ordered_by_number_not_by_listing_order() -> None:
    secrets = [secret(release(n, s)) for n, s in ((10, "deployed"), (2, "superseded"), (9, "superseded"))]
    assert [r.number for r in revisions(secrets)] == [2, 9, 10]
    assert revisions(secrets)[-1].status == "deployed"


def test_an_undecodable_secret_is_named() -> None:
    bad = secret(release(3, "deployed"))
    bad["data"]["release"] = "@@@"
    with pytest.raises(HelmDecodeError, match=r"sh\.helm\.release\.v1\.missing-table\.v3"):
        revisions([secret(release(2, "superseded")), bad])


def test_sandbox_secrets_decode_like_helm_ones() -> None:
    """The simulated cluster's Secrets are read by the same decoder (and agree with this file's encoder)."""
    from sandbox.kube.helm import encode_release, secret_data_value

    rel = release(2, "deployed", **PROD_VALUES)
    assert decode_release(secret_data_value(rel)) == rel
    assert gzip.decompress(base64.b64decode(encode_release(rel)))[:1] == b"{"
