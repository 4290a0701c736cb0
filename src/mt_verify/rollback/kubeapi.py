"""The Kubernetes client for rolling back: created from the environment's kubeconfig and context, with its
errors translated at this one boundary (never ``str(ApiException)``: it prints every header and the body)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mt_verify.config import Kubernetes
from mt_verify.kube.access import status_message
from mt_verify.rollback import RollbackError


class NotFound(RollbackError):
    pass


class Conflict(RollbackError):
    pass


def api_client(k: Kubernetes, env_name: str = "gate") -> Any:
    """A client for the same cluster, kubeconfig and context the deployment tier resolves."""
    from mt_verify.kube.access import ClusterAccessError, connect, resolve

    try:
        return connect(resolve(env_name, k)).api
    except ClusterAccessError as exc:
        raise RollbackError(str(exc)) from None


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Map client errors to :class:`RollbackError` (forbidden, unreachable...), :class:`NotFound`, :class:`Conflict`."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    try:
        yield
    except ApiException as exc:
        message = f"{what}: {status_message(exc)}"
        if exc.status == 404:
            raise NotFound(message) from exc
        if exc.status == 409:
            raise Conflict(message) from exc
        if exc.status in (401, 403):
            raise RollbackError(message + " (the rollback identity lacks this permission)") from exc
        raise RollbackError(message) from exc
    except (Urllib3Error, OSError) as exc:
        raise RollbackError(f"{what}: cluster unreachable ({type(exc).__name__})") from exc
