"""The Kubernetes client for rolling back: created from the environment's kubeconfig and context, with its
errors translated at this one boundary (never ``str(ApiException)``: it prints every header and the body)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mt_verify.config import Kubernetes
from mt_verify.rollback import RollbackError


class NotFound(RollbackError):
    pass


class Conflict(RollbackError):
    pass


def api_client(k: Kubernetes) -> Any:
    from kubernetes import config as kconfig
    from kubernetes.config.config_exception import ConfigException

    try:
        return kconfig.new_client_from_config(config_file=k.kubeconfig, context=k.context)
    except (ConfigException, OSError) as exc:
        raise RollbackError(f"cannot load kubeconfig {k.kubeconfig or '~/.kube/config'}"
                            f" (context {k.context or 'current'}): {exc}") from None


def _status_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") if isinstance(body, dict) else None
    except (TypeError, ValueError):
        message = None
    text = f"HTTP {exc.status} {exc.reason}"
    return f"{text}: {str(message)[:256]}" if message else text


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Map client errors to :class:`RollbackError` (forbidden, unreachable...), :class:`NotFound`, :class:`Conflict`."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    try:
        yield
    except ApiException as exc:
        message = f"{what}: {_status_message(exc)}"
        if exc.status == 404:
            raise NotFound(message) from exc
        if exc.status == 409:
            raise Conflict(message) from exc
        if exc.status in (401, 403):
            raise RollbackError(message + " (the rollback identity lacks this permission)") from exc
        raise RollbackError(message) from exc
    except (Urllib3Error, OSError) as exc:
        raise RollbackError(f"{what}: cluster unreachable ({type(exc).__name__})") from exc
