"""The simulated cluster's REST surface: real Kubernetes paths, list and get with label and field selectors,
``Status`` objects for errors, and Lease and ConfigMap writes (the only objects a client may change: the gate's
rollback lock, and the ConfigMap where each gate records its verdict per Helm revision)."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.kube.world import OBJ, World, micro
from sandbox.listener import Handler

TOKEN = "sandbox-token"
#: The ServiceAccount deploy/rbac-readonly.yaml creates (mt-verify in missing-table), as the real API names it.
USER = "system:serviceaccount:missing-table:mt-verify"

#: (group, version, plural) -> (Kind, namespaced)
RESOURCES: dict[tuple[str, str, str], tuple[str, bool]] = {
    ("", "v1", "namespaces"): ("Namespace", False),
    ("", "v1", "pods"): ("Pod", True),
    ("", "v1", "services"): ("Service", True),
    ("", "v1", "endpoints"): ("Endpoints", True),
    ("", "v1", "events"): ("Event", True),
    ("", "v1", "secrets"): ("Secret", True),
    ("", "v1", "configmaps"): ("ConfigMap", True),
    ("apps", "v1", "deployments"): ("Deployment", True),
    ("apps", "v1", "replicasets"): ("ReplicaSet", True),
    ("batch", "v1", "jobs"): ("Job", True),
    ("discovery.k8s.io", "v1", "endpointslices"): ("EndpointSlice", True),
    ("networking.k8s.io", "v1", "ingresses"): ("Ingress", True),
    ("coordination.k8s.io", "v1", "leases"): ("Lease", True),
    ("networking.gke.io", "v1", "managedcertificates"): ("ManagedCertificate", True),
    ("cert-manager.io", "v1", "certificates"): ("Certificate", True),
    ("argoproj.io", "v1alpha1", "applications"): ("Application", True),
}
SHORT_NAMES = {"namespaces": ["ns"], "pods": ["po"], "services": ["svc"], "endpoints": ["ep"], "events": ["ev"],
               "deployments": ["deploy"], "replicasets": ["rs"], "ingresses": ["ing"],
               "certificates": ["cert", "certs"], "managedcertificates": ["mcrt"], "applications": ["app", "apps"]}
#: Custom resources exist only in the layout that installs their CRD.
CRDS = {"helm": {"managedcertificates"}, "argocd": {"certificates", "applications"}}

_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[a-z0-9.-]+)/(?P<version>v[0-9a-z]+))"
    r"(?:/namespaces/(?P<ns>[a-z0-9-]+))?(?:/(?P<plural>[a-z]+))?(?:/(?P<name>[A-Za-z0-9.-]+))?/?$")


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: OBJ | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_body(code: int, reason: str, message: str, details: OBJ | None = None) -> OBJ:
    body: OBJ = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                 "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


# -- selectors ---------------------------------------------------------------------------------------

_SET = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_terms(text: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t.strip() for t in terms if t.strip()]


def label_matcher(selector: str) -> Any:
    """``a=b,c!=d,e in (f,g),h notin (i),j,!k`` -> predicate over a labels dict."""
    tests = []
    for term in _split_terms(selector):
        m = _SET.match(term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                tests.append(lambda lb, k=key, vs=values: lb.get(k) in vs)
            else:
                tests.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            tests.append(lambda lb, k=key, v=value: lb.get(k) != v)
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            tests.append(lambda lb, k=key, v=value: lb.get(k) == v)
        elif term.startswith("!"):
            absent = term[1:].strip()
            tests.append(lambda lb, k=absent: k not in lb)
        elif re.match(r"^[A-Za-z0-9./_-]+$", term):
            tests.append(lambda lb, k=term: k in lb)
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return lambda labels: all(t(labels or {}) for t in tests)


FIELDS = {"metadata.name", "metadata.namespace", "type", "reason", "involvedObject.kind", "involvedObject.name",
          "involvedObject.namespace", "involvedObject.uid", "status.phase", "spec.nodeName"}


def _dig(obj: OBJ, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def field_matcher(selector: str) -> Any:
    tests = []
    for term in _split_terms(selector):
        neg = "!=" in term
        key, value = (s.strip() for s in term.replace("==", "=").split("!=" if neg else "=", 1))
        if key not in FIELDS:
            known = ", ".join(sorted(FIELDS))
            raise ApiError(400, "BadRequest", f'"{key}" is not a known field selector: only "{known}"')
        tests.append((key, value, neg))
    return lambda obj: all((_dig(obj, k) != v) if n else (_dig(obj, k) == v) for k, v, n in tests)


# -- server-side printing (what kubectl get asks for: Accept: ...;as=Table;g=meta.k8s.io;v=v1) -------------

def _age(obj: OBJ) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    secs = max(int(time.time() - datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit}"
    return f"{secs}s"


def _pod_cells(pod: OBJ) -> list[Any]:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    ready = sum(1 for cs in statuses if cs.get("ready"))
    reason = (pod.get("status") or {}).get("phase", "Unknown")
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason"):
            reason = waiting["reason"]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    return [f"{ready}/{len((pod.get('spec') or {}).get('containers') or [])}", reason, restarts]


def _deployment_cells(dep: OBJ) -> list[Any]:
    st = dep.get("status") or {}
    return [f"{st.get('readyReplicas', 0)}/{(dep.get('spec') or {}).get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0)]


#: plural-less by kind: extra columns (name, type) and their cells, between NAME and AGE, as kubectl prints them.
TABLE_COLUMNS: dict[str, tuple[list[tuple[str, str]], Any]] = {
    "Pod": ([("Ready", "string"), ("Status", "string"), ("Restarts", "string")], _pod_cells),
    "Deployment": ([("Ready", "string"), ("Up-to-date", "integer"), ("Available", "integer")], _deployment_cells),
}


def as_table(found: OBJ) -> OBJ:
    """A list or an object as the ``meta.k8s.io/v1`` Table a real API server returns to ``kubectl get``."""
    items = found.get("items") if "items" in found else [found]
    kind = (found.get("kind") or "").removesuffix("List") if "items" in found else found.get("kind", "")
    extra, cells = TABLE_COLUMNS.get(kind, ([], lambda _o: []))
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0}]
    columns += [{"name": n, "type": ty, "format": "", "description": n, "priority": 0} for n, ty in extra]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "Age", "priority": 0})
    rows = [{"cells": [o["metadata"]["name"], *cells(o), _age(o)],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}}
            for o in items or []]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": (found.get("metadata") or {}).get("resourceVersion", "")},
            "columnDefinitions": columns, "rows": rows}


# -- handler -----------------------------------------------------------------------------------------

class Cluster:
    """The world plus the lock every request holds while it reads or writes it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.lock = threading.RLock()
        #: ConfigMaps clients wrote (the gate's verdicts), by (namespace, name).
        self.configmaps: dict[tuple[str, str], OBJ] = {}
        self._seed_gate_verdicts()

    def _seed_gate_verdicts(self) -> None:
        """The world as a gate would have left it: the revisions installed before the suite arrived passed their
        gates (``mt-verify-gate-<release>``, the format of ``mt_verify.rollback.record``)."""
        from sandbox.kube.world import NAMESPACE, RELEASE

        if self.world.layout != "helm" or not self.world.helm:
            return
        data = {f"v{rev.number}": json.dumps({"revision": rev.number, "verdict": "passed",
                                              "version": rev.release.version, "commit_sha": rev.release.commit_sha,
                                              "exit_code": 0, "at": micro(rev.at)[:19] + "Z",
                                              "reason": "every gating check passed"}, sort_keys=True)
                for rev in self.world.helm}
        self._store(NAMESPACE, f"mt-verify-gate-{RELEASE}", {"metadata": {"labels": {
            "app.kubernetes.io/managed-by": "mt-verify", "app.kubernetes.io/instance": RELEASE}}, "data": data},
            None, "configmaps")

    def _resource(self, m: re.Match[str]) -> tuple[str, str, str, str | None, str | None]:
        group = "" if m.group("core") else m.group("group")
        version = m.group("core") or m.group("version")
        ns, plural, name = m.group("ns"), m.group("plural"), m.group("name")
        if plural is None and ns is not None and group == "":  # /api/v1/namespaces/NAME
            return group, version, "namespaces", None, ns
        if plural is None and ns is None and name is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if plural is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        key = (group, version, plural)
        if key not in RESOURCES:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        crd_owner = next((layout for layout, names in CRDS.items() if plural in names), None)
        if crd_owner is not None and crd_owner != self.world.layout:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return group, version, plural, ns, name

    # -- discovery (what kubectl reads before anything else) --------------------------------------------

    def _served(self) -> list[tuple[str, str, str, str, bool]]:
        """(group, version, plural, kind, namespaced) the API serves in this layout."""
        out = []
        for (group, version, plural), (kind, namespaced) in RESOURCES.items():
            owner = next((layout for layout, names in CRDS.items() if plural in names), None)
            if owner is None or owner == self.world.layout:
                out.append((group, version, plural, kind, namespaced))
        return out

    def discovery(self, path: str) -> OBJ | None:
        """``/api``, ``/apis``, ``/api/v1``, ``/apis/G``, ``/apis/G/V`` (legacy discovery documents), else None."""
        served = self._served()
        groups: dict[str, str] = {}
        for group, version, *_ in served:
            if group:
                groups.setdefault(group, version)
        path = path.rstrip("/")
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:443"}]}

        def group_doc(g: str) -> OBJ:
            gv = {"groupVersion": f"{g}/{groups[g]}", "version": groups[g]}
            return {"name": g, "versions": [gv], "preferredVersion": gv}

        if path == "/apis":
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_doc(g) for g in groups]}
        m = re.match(r"^/apis/([a-z0-9.-]+)$", path)
        if m and m.group(1) in groups:
            return {"kind": "APIGroup", "apiVersion": "v1", **group_doc(m.group(1))}
        m = re.match(r"^/(?:api/(v1)|apis/([a-z0-9.-]+)/(v[0-9a-z]+))$", path)
        if not m:
            return None
        group, version = (m.group(2) or ""), (m.group(1) or m.group(3))
        resources = []
        for g, v, plural, kind, namespaced in served:
            if (g, v) != (group, version):
                continue
            verbs = ["get", "list", "watch"] + (["create", "update", "patch", "delete"] if plural == "leases" else [])
            entry: OBJ = {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                          "verbs": verbs}
            if plural in SHORT_NAMES:
                entry["shortNames"] = SHORT_NAMES[plural]
            resources.append(entry)
            if plural == "deployments":
                resources.append({"name": "deployments/status", "singularName": "", "namespaced": True,
                                  "kind": "Deployment", "verbs": ["get"]})
        if not resources:
            return None
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}".lstrip("/"),
                "resources": resources}

    def get(self, path: str, query: dict[str, str]) -> OBJ:
        found = self.discovery(path)
        if found is not None:
            return found
        m = _PATH.match(path)
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group, version, plural, ns, name = self._resource(m)
        kind, namespaced = RESOURCES[(group, version, plural)]
        with self.lock:
            self.world.observe()
            objects = [copy.deepcopy(o) for o in self.configmaps.values()] if plural == "configmaps" \
                else self.world.render()[plural]
            rv = str(self.world.rv)
        if plural == "namespaces":
            if name is not None:
                found = next((o for o in objects if o["metadata"]["name"] == name), None)
                if found is None:
                    raise ApiError(404, "NotFound", f'namespaces "{name}" not found',
                                   {"name": name, "kind": "namespaces"})
                return found
            return self._list(kind, group, version, objects, rv, query)
        if namespaced and ns is not None:
            objects = [o for o in objects if o["metadata"].get("namespace") == ns]
        if name is not None:
            found = next((o for o in objects if o["metadata"]["name"] == name), None)
            if found is None:
                raise ApiError(404, "NotFound", f'{plural}.{group or "core"} "{name}" not found'.replace(".core", ""),
                               {"name": name, "group": group, "kind": plural})
            return found
        return self._list(kind, group, version, objects, rv, query)

    def _list(self, kind: str, group: str, version: str, objects: list[OBJ], rv: str, query: dict[str, str]) -> OBJ:
        if query.get("labelSelector"):
            match = label_matcher(query["labelSelector"])
            objects = [o for o in objects if match(o["metadata"].get("labels"))]
        if query.get("fieldSelector"):
            fmatch = field_matcher(query["fieldSelector"])
            objects = [o for o in objects if fmatch(o)]
        if query.get("limit"):
            objects = objects[: max(int(query["limit"]), 0) or None]
        return {"apiVersion": f"{group}/{version}" if group else version, "kind": f"{kind}List",
                "metadata": {"resourceVersion": rv}, "items": objects}

    # Leases and ConfigMaps: the kinds a client may write (the gate's rollback lock and its verdicts).
    def write(self, method: str, path: str, body: OBJ | None) -> tuple[int, OBJ]:
        m = _PATH.match(path)
        if not m:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        group, _version, plural, ns, name = self._resource(m)
        if plural not in ("leases", "configmaps") or ns is None:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
            # Real RBAC's wording: the resource (with its group) and, when one is named, the object.
            qualified = f"{plural}.{group}" if group else plural
            what = f'{qualified} "{name}"' if name else qualified
            raise ApiError(403, "Forbidden", f'{what} is forbidden: User "{USER}" cannot {verb} resource '
                                             f'"{plural}" in API group "{group}" in the namespace "{ns}"',
                           {"name": name, "group": group, "kind": plural} if name else {"group": group,
                                                                                       "kind": plural})
        kind = RESOURCES[(group, _version, plural)][0]
        qualified = f"{plural}.{group}" if group else plural
        with self.lock:
            world = self.world
            store = world.leases if plural == "leases" else self.configmaps
            if ns not in world.namespaces():
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found')
            if method == "POST":
                body = body or {}
                lname = (body.get("metadata") or {}).get("name")
                if not lname:
                    raise ApiError(422, "Invalid", f"{kind} is invalid: metadata.name: Required value")
                if (ns, lname) in store:
                    raise ApiError(409, "AlreadyExists", f'{qualified} "{lname}" already exists',
                                   {"name": lname, "group": group, "kind": plural})
                return 201, self._store(ns, lname, body, None, plural)
            key = (ns, name or "")
            current = store.get(key)
            if current is None:
                raise ApiError(404, "NotFound", f'{qualified} "{name}" not found',
                               {"name": name, "group": group, "kind": plural})
            if method == "PUT":
                body = body or {}
                want = (body.get("metadata") or {}).get("resourceVersion")
                if want and want != current["metadata"]["resourceVersion"]:
                    raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified} '
                                                    f'"{name}": the object has been modified; please apply your '
                                                    "changes to the latest version and try again")
                return 200, self._store(ns, name or "", body, current, plural)
            if method == "DELETE":
                want = ((body or {}).get("preconditions") or {}).get("resourceVersion")
                if want and want != current["metadata"]["resourceVersion"]:
                    raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified} '
                                                    f'"{name}": the ResourceVersion in the precondition ({want}) '
                                                    "does not match the ResourceVersion in record")
                del store[key]
                world.bump()
                return 200, status_body(200, "", "") | {"status": "Success", "details": {"name": name}}
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {plural} by the sandbox cluster")

    def _store(self, ns: str, name: str, body: OBJ, current: OBJ | None, plural: str = "leases") -> OBJ:
        meta = dict(body.get("metadata") or {})
        meta.update(name=name, namespace=ns, resourceVersion=self.world.bump(),
                    uid=current["metadata"]["uid"] if current else f"{plural}-{ns}-{name}-{time.monotonic_ns()}",
                    creationTimestamp=current["metadata"]["creationTimestamp"] if current else micro(time.time())[:19]
                    + "Z")
        if plural == "configmaps":
            data = body.get("data") or {}
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
                raise ApiError(400, "BadRequest", "ConfigMap data: keys and values must be strings")
            obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": dict(data)}
            self.configmaps[(ns, name)] = obj
            return copy.deepcopy(obj)
        obj = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
               "spec": copy.deepcopy(body.get("spec") or {})}
        self.world.leases[(ns, name)] = obj
        return copy.deepcopy(obj)


def handler_for(cluster: Cluster) -> type[Handler]:
    class ApiHandler(Handler):
        def _reply(self, code: int, body: OBJ) -> None:
            self.reply_json(code, body, {"Audit-Id": f"{time.monotonic_ns():x}"})

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            try:
                faults = cluster.world.faults
                if self.headers.get("Authorization") != f"Bearer {TOKEN}" or "kube-unauthorized" in faults:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                if "kube-forbidden" in faults:
                    raise ApiError(403, "Forbidden", f'forbidden: User "{USER}" cannot {method.lower()} path '
                                                     f'"{parts.path}"')
                if parts.path == "/version":
                    self._reply(200, {"major": "1", "minor": "35", "gitVersion": "v1.35.0-sandbox",
                                      "platform": "linux/amd64"})
                    return
                if method == "GET" and query.get("watch") in ("true", "1"):
                    self._watch(parts.path, query)
                    return
                if method == "GET":
                    found = cluster.get(parts.path, query)
                    if "as=Table" in (self.headers.get("Accept") or "") and found.get("kind") not in (
                            "APIResourceList", "APIGroupList", "APIGroup", "APIVersions"):
                        found = as_table(found)
                    self._reply(200, found)
                    return
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    raise ApiError(400, "BadRequest", "the request body is not JSON") from None
                code, out = cluster.write(method, parts.path, body)
                self._reply(code, out)
            except ApiError as exc:
                self._reply(exc.code, status_body(exc.code, exc.reason, exc.message, exc.details))

        def _watch(self, path: str, query: dict[str, str]) -> None:
            """A watch: a chunked stream of ``{"type", "object"}`` lines. The simulated objects change with time
            (a rollout completing) as well as with writes, so each tick sends every object whose rendering changed
            since the last one (the first tick sends them all as MODIFIED, which an informer takes as a resync).
            The stream ends after ``timeoutSeconds`` (at most 30 s), as an API server ends it; clients re-watch."""
            plain = {k: v for k, v in query.items() if k not in ("watch", "resourceVersion", "timeoutSeconds",
                                                                   "allowWatchBookmarks", "sendInitialEvents")}
            listed = cluster.get(path, plain)  # raises ApiError (404, 400) before any byte is sent
            items = listed.get("items", [listed])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            seen: dict[str, str] = {}
            deadline = time.monotonic() + min(float(query.get("timeoutSeconds") or 30), 30.0)
            try:
                while True:
                    for obj in items:
                        key = obj["metadata"].get("uid") or obj["metadata"]["name"]
                        text = json.dumps(obj, sort_keys=True)
                        if seen.get(key) != text:
                            seen[key] = text
                            line = json.dumps({"type": "MODIFIED", "object": obj}).encode() + b"\n"
                            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                    self.wfile.flush()
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.25)  # the simulated API's resync tick (a server loop, bounded by the deadline)
                    try:
                        listed = cluster.get(path, plain)
                    except ApiError:
                        break
                    items = listed.get("items", [listed])
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:  # the client went away
                self.close_connection = True

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return ApiHandler
