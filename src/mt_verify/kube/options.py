"""Command-line options of the deployment tier (no Kubernetes import here: start-up stays fast)."""

from __future__ import annotations

import pytest


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mt-verify")
    group.addoption("--kube-context", dest="mt_kube_context", metavar="NAME",
                    help="kubeconfig context (default: the environment's kubernetes.context)")
