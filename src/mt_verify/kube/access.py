"""Reaching the cluster: which kubeconfig and context, one API client, and every client error translated here.

    SuiteError (mt_verify.errors)
     +-- ClusterAccessError   the suite cannot look: bad kubeconfig, API server unreachable, 401 (credentials
          |                   expired), missing namespace, API server errors. Raised from session fixtures, so the
          |                   tests ERROR (the gate never rolls back on it), once per session.
          +-- Forbidden       403: the suite's identity lacks a permission (RBAC)
    NotFound                  an object is absent (404). Callers decide: an object the release must create is a
                              failed check, never an access error.

Where the kubeconfig comes from, first match wins: ``--kubeconfig``; the environment's ``kubernetes.kubeconfig``
(prod files write ``${KUBECONFIG:-~/.kube/config}``, so ``KUBECONFIG`` overrides them); ``$KUBECONFIG``;
``~/.kube/config``. When that file does not exist and the suite runs in a pod (``KUBERNETES_SERVICE_HOST``), the
pod's service account is used. The context: ``--kube-context``, else ``kubernetes.context``, else the kubeconfig's
current context.

Never ``str(ApiException)``: it prints every response header and the whole body. Messages carry the status, the
``Status.message`` (cut to 256 characters), the context and the namespace.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mt_verify.config import Kubernetes
from mt_verify.errors import ClusterAccessError, Forbidden

__all__ = ["ClusterAccessError", "Conflict", "Forbidden", "Kube", "NotFound", "client_for", "connect", "resolve"]

TEXT_MAX = 256
#: The first word of a call's description when it writes (the gate's rollback, Lease and verdict record).
WRITE_VERBS = {"create", "update", "replace", "patch", "delete", "renew", "take"}


class Conflict(Exception):
    """409: another writer changed the object first (optimistic concurrency); callers read again or give way."""


class NotFound(Exception):
    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"{what}: {message}")
        self.what = what
        self.message = message


@dataclass(frozen=True)
class Target:
    """Where the tier looks."""

    env: str
    namespace: str
    #: kubeconfig path (possibly a ``:``-separated list); None: in-cluster service account.
    kubeconfig: str | None
    context: str | None
    request_timeout: float

    @property
    def in_cluster(self) -> bool:
        return self.kubeconfig is None

    def where(self) -> str:
        source = "in-cluster service account" if self.in_cluster else f"kubeconfig {self.kubeconfig}"
        return f"context {self.context or '(current)'}, namespace {self.namespace}, {source}"

    def kubectl(self, args: str, namespace: str | None = None) -> str:
        """A ``kubectl`` command line an operator can paste to look closer."""
        ctx = f" --context {self.context}" if self.context else ""
        return f"kubectl{ctx} {args} -n {namespace or self.namespace}"


def resolve(env_name: str, k: Kubernetes, *, context: str | None = None, kubeconfig: str | None = None,
            environ: Mapping[str, str] = os.environ) -> Target:
    """Decide kubeconfig and context (see the module docstring)."""
    path = kubeconfig or k.kubeconfig or environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [os.path.expanduser(p) for p in path.split(os.pathsep) if p]
    chosen: str | None = os.pathsep.join(paths)
    if not any(Path(p).is_file() for p in paths):
        if environ.get("KUBERNETES_SERVICE_HOST"):
            chosen = None
        else:
            raise ClusterAccessError(
                f"[{env_name}] kubeconfig not found: {os.pathsep.join(paths)} (namespace {k.namespace}). Next: pass "
                "--kubeconfig FILE or set KUBECONFIG; see deploy/README.md for a read-only kubeconfig")
    return Target(env=env_name, namespace=k.namespace, kubeconfig=chosen, context=context or k.context,
                  request_timeout=k.request_timeout)


def status_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") if isinstance(body, dict) else None
    except (TypeError, ValueError):
        message = None
    text = f"HTTP {exc.status} {exc.reason or ''}".rstrip()
    return f"{text}: {str(message)[:TEXT_MAX]}" if message else text


class Kube:
    """One API client for the session; raw JSON (dicts) so that any valid object parses."""

    def __init__(self, target: Target, api_client: Any, server: str) -> None:
        from mt_verify.kube import api as routes

        self.target = target
        self.api = api_client
        self.server = server
        # The calls by the generated methods' names, without importing the generated classes (mt_verify.kube.api).
        self.core = routes.Group(api_client, routes.CORE)
        self.apps = routes.Group(api_client, routes.APPS)
        self.batch = routes.Group(api_client, routes.BATCH)
        self.discovery = routes.Group(api_client, routes.DISCOVERY)
        self.networking = routes.Group(api_client, routes.NETWORKING)
        self.custom = routes.Group(api_client, routes.CUSTOM)
        #: Requests made (the tier keeps it to one list per kind).
        self.requests = 0

    @property
    def timeout(self) -> tuple[float, float]:
        t = self.target.request_timeout
        return (min(3.0, t), t)

    @contextmanager
    def translated(self, what: str) -> Iterator[None]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        t = self.target
        try:
            yield
        except ApiException as exc:
            detail = status_message(exc)
            if exc.status == 404:
                raise NotFound(what, detail) from exc
            if exc.status == 409:
                raise Conflict(f"{what}: {detail}") from exc
            if exc.status == 401:
                raise ClusterAccessError(
                    f"[{t.env}] the Kubernetes API at {self.server} rejected the suite's credentials ({detail}) "
                    f"on {what} ({t.where()}): the token or client certificate is expired or wrong. Next: "
                    f"kubectl --context {t.context or '<context>'} auth whoami; refresh the credentials") from None
            if exc.status == 403:
                writes = what.split(" ", 1)[0] in WRITE_VERBS
                role = "the gate's role in deploy/rbac-gate.yaml" if writes else \
                    "the read-only role in deploy/rbac-readonly.yaml"
                raise Forbidden(
                    f"[{t.env}] forbidden: {what} ({t.where()}): {detail}. Next: "
                    f"{t.kubectl('auth can-i --list')}; grant {role}") from None
            raise ClusterAccessError(f"[{t.env}] the Kubernetes API at {self.server} failed {what} ({t.where()}): "
                                     f"{detail}") from None
        except (Urllib3Error, OSError) as exc:
            reason = _reason(exc)
            raise ClusterAccessError(
                f"[{t.env}] cannot reach the Kubernetes API at {self.server} ({reason}) on {what} ({t.where()}). "
                f"Next: kubectl --context {t.context or '<context>'} get ns {t.namespace}; check the kubeconfig's "
                "server, the VPN or the cluster") from None

    def call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``fn(*args, **kwargs)`` (a client API method) as parsed JSON, its errors translated."""
        self.requests += 1
        with self.translated(what):
            resp = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            data = json.loads(resp.data)
        if not isinstance(data, dict):
            raise ClusterAccessError(f"[{self.target.env}] {what}: the API answered {type(data).__name__}, "
                                     "not an object")
        return data

    def items(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return list(self.call(what, fn, *args, **kwargs).get("items") or [])

    def probe(self) -> None:
        """One cheap read that proves the suite can see the namespace; raises :class:`ClusterAccessError`."""
        t = self.target
        try:
            self.call(f"get namespace {t.namespace}", self.core.read_namespace, t.namespace)
            return
        except NotFound:
            raise ClusterAccessError(
                f"[{t.env}] namespace {t.namespace} does not exist ({t.where()}). Next: kubectl --context "
                f"{t.context or '<context>'} get namespaces; check kubernetes.namespace in the environment file"
            ) from None
        except Forbidden:
            pass
        # A namespaced Role cannot read the Namespace object; listing in it proves access.
        self.call(f"list deployments in namespace {t.namespace}", self.apps.list_namespaced_deployment,
                  t.namespace, limit=1)


def _reason(exc: BaseException) -> str:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        inner = getattr(seen, "reason", None)
        if isinstance(inner, BaseException):
            seen = inner
            continue
        break
    text = str(seen) if seen is not None else type(exc).__name__
    for key, short in (("Connection refused", "connection refused"), ("timed out", "timed out"),
                       ("Name or service not known", "host not found"), ("CERTIFICATE_VERIFY_FAILED",
                                                                         "TLS certificate not trusted")):
        if key in text:
            return short
    return f"{type(seen).__name__}"


def connect(target: Target) -> Kube:
    """Build the client (nothing is sent yet). Bad kubeconfig or context: :class:`ClusterAccessError`."""
    from kubernetes import client as k8s
    from kubernetes import config as kconfig
    from kubernetes.config.config_exception import ConfigException
    from urllib3.util.retry import Retry

    cfg = k8s.Configuration()
    try:
        if target.in_cluster:
            kconfig.load_incluster_config(client_configuration=cfg)
        else:
            kconfig.load_kube_config(config_file=target.kubeconfig, context=target.context,
                                     client_configuration=cfg, persist_config=False)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        text = " ".join(str(exc).split())[:TEXT_MAX]
        raise ClusterAccessError(f"[{target.env}] cannot load Kubernetes credentials ({target.where()}): {text}. "
                                 "Next: kubectl config get-contexts; pass --kube-context NAME") from None
    # One quick retry of a refused or reset connection; no retries on HTTP statuses (403 is never transient here).
    cfg.retries = Retry(total=2, connect=1, read=1, status=0, backoff_factor=0.1, raise_on_status=False)
    return Kube(target, k8s.ApiClient(cfg), cfg.host)


def client_for(k: Kubernetes, env_name: str) -> Kube:
    """The gate's way in (rollbacks, the Lease, the verdict record): the same kubeconfig and context resolution,
    client and error translation as the deployment tier, with the gate's own identity."""
    return connect(resolve(env_name, k))
