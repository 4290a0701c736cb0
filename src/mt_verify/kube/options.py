"""Command-line options of the deployment tier (no Kubernetes import here: start-up stays fast)."""

from __future__ import annotations

import pytest


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mt-verify")
    group.addoption("--kube-context", dest="mt_kube_context", metavar="NAME",
                    help="kubeconfig context for the deployment tier (default: the environment's "
                         "kubernetes.context, else the kubeconfig's current context)")
    group.addoption("--kubeconfig", dest="mt_kubeconfig", metavar="FILE",
                    help="kubeconfig file for the deployment tier (default: the environment's kubernetes.kubeconfig, "
                         "else $KUBECONFIG, else ~/.kube/config; in a pod without one: the in-cluster service account)")
