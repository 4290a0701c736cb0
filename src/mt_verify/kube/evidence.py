"""The Kubernetes objects a failed deployment check judged, saved under its evidence, redacted, as the Kubernetes
e2e framework dumps them: Deployments, ReplicaSets, Pods, Events, and whatever else the check read.

Redaction: a Secret keeps its metadata and loses ``data``/``stringData`` (a Helm release Secret holds the chart's
values); container ``env`` keeps each name and masks each literal value; ``managedFields`` and the
``last-applied-configuration`` annotation (a copy of the object, env included) go; what is left passes through
:func:`mt_verify.redact.redact_text` (tokens, registered secrets).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mt_verify.redact import MASK, redact_text

FILE = "kubernetes-objects.yaml"
_DROP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


def _scrub(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_scrub(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: _scrub(v) for k, v in obj.items() if k != "managedFields"}
    if out.get("kind") == "Secret" or ("type" in out and "data" in out and "metadata" in out):
        for key in ("data", "stringData"):
            if key in out:
                out[key] = {name: MASK for name in (out[key] or {})}
    meta = out.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {k: v for k, v in meta["annotations"].items() if k not in _DROP_ANNOTATIONS}
    if isinstance(out.get("env"), list):
        out["env"] = [{**e, "value": MASK} if isinstance(e, dict) and "value" in e else e for e in out["env"]]
    return out


def _objects(value: Any) -> Iterable[dict[str, Any]]:
    """Every Kubernetes object inside a fixture value (a dict object, a list, a name -> object map, tuples)."""
    if isinstance(value, dict):
        if "metadata" in value and ("kind" in value or "spec" in value or "status" in value or "data" in value):
            yield value
            return
        for v in value.values():
            yield from _objects(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _objects(v)
    elif hasattr(value, "deployments") and isinstance(value.deployments, dict):  # kube.wait.Waited
        yield from _objects(value.deployments)


#: The kind of the objects a deployment-tier fixture holds (list items carry no ``kind``).
KIND_OF = {"rollouts": "Deployment", "replicasets": "ReplicaSet", "pods": "Pod", "services": "Service",
           "warning_events": "Event", "helm_secrets": "Secret", "ingress": "Ingress", "certificate": "Certificate",
           "argo_application": "Application"}


def save(judged: Mapping[str, Any], dest: Path) -> Path | None:
    """Write the objects found in ``judged`` (fixture name -> value) to ``dest/kubernetes-objects.yaml``."""
    docs: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for source, value in judged.items():
        for found in _objects(value):
            obj = found if "kind" in found or source not in KIND_OF else {"kind": KIND_OF[source], **found}
            meta = obj.get("metadata") or {}
            key = (str(obj.get("kind", source)), str(meta.get("namespace", "")), str(meta.get("name", "")))
            if key in seen:
                continue
            seen.add(key)
            docs.append(_scrub(copy.deepcopy(obj)))
    if not docs:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / FILE
    text = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False)
    path.write_text(redact_text(text), encoding="utf-8")
    return path
