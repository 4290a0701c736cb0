"""Which summary row ("area") and tier a test reports under.

A test's area comes from its ``@pytest.mark.area("TLS")`` marker when it has one (preferred: say it where the
test is written). Without the marker it is derived from the tier and the test's function name by the first
matching rule of :data:`RULES`:

====================  =============================================  ======================
Tier (``tests/<t>``)  Test function name contains                   Area
====================  =============================================  ======================
health                ``tls``, ``certificate``                       TLS
health                ``version``                                    Version
health                ``standings``                                  Standings
health                (anything else)                                Health
deployment            ``rollout``, ``replica``, ``deployment``       Deployments
deployment            ``pod``, ``restart``, ``image``, ``container``, Pods
                      ``job``
deployment            ``ingress``, ``certificate``, ``endpoint``,    Ingress/Certificate
                      ``service``, ``tls``
deployment            ``event``                                      Events
deployment            ``helm``, ``argo``, ``release``                Helm/Argo CD
deployment            (anything else)                                Deployments
smoke                 ``login``, ``logout``, ``auth``                Login
smoke                 ``standings``, ``table``                       Standings
smoke                 ``add_match``, ``match``                       Add match
smoke                 ``footer``, ``version``                        Footer
smoke                 ``anonymous``, ``front``, ``home``, ``shell``  Health
smoke                 (anything else)                                Other
(no tier)             (anything)                                     Other
====================  =============================================  ======================

The tier is the test's tier marker (``health``, ``deployment``, ``smoke``) or else the folder under ``tests/``.
Rules match whole ``_``-separated words or word prefixes (``pods`` matches ``pod``), so ``test_report`` is not
a ``pod`` test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

#: The summary's rows, in display order. A test whose marker names another area gets a row after these.
AREAS: tuple[str, ...] = (
    "Health",
    "Version",
    "TLS",
    "Deployments",
    "Pods",
    "Ingress/Certificate",
    "Events",
    "Helm/Argo CD",
    "Login",
    "Standings",
    "Add match",
    "Footer",
)
OTHER = "Other"
TIERS: tuple[str, ...] = ("health", "deployment", "smoke")

#: (tier, name words, area): the first rule whose tier matches and one of whose words starts a word of the
#: test name wins; an empty word tuple matches anything (the tier's fallback).
RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("health", ("tls", "certificate"), "TLS"),
    ("health", ("version",), "Version"),
    ("health", ("standings",), "Standings"),
    ("health", (), "Health"),
    ("deployment", ("rollout", "replica", "deployment"), "Deployments"),
    ("deployment", ("pod", "restart", "image", "container", "job"), "Pods"),
    ("deployment", ("ingress", "certificate", "endpoint", "service", "tls"), "Ingress/Certificate"),
    ("deployment", ("event",), "Events"),
    ("deployment", ("helm", "argo", "release"), "Helm/Argo CD"),
    ("deployment", (), "Deployments"),
    ("smoke", ("login", "logout", "auth"), "Login"),
    ("smoke", ("standings", "table"), "Standings"),
    ("smoke", ("add_match", "match"), "Add match"),
    ("smoke", ("footer", "version"), "Footer"),
    ("smoke", ("anonymous", "front", "home", "shell"), "Health"),
)

#: The runbook section each area automates (anchors of docs/05-deployment/production-runbook.md).
RUNBOOK_SECTIONS: dict[str, tuple[str, str]] = {
    "Health": ("Health Check Commands", "health-check-commands"),
    "Version": ("Version Updates", "version-updates"),
    "TLS": ("Application Not Accessible (SSL certificate)", "2-application-not-accessible"),
    "Deployments": ("Post-Deployment Verification", "post-deployment-verification"),
    "Pods": ("Pods Not Starting", "1-pods-not-starting"),
    "Ingress/Certificate": ("Application Not Accessible", "2-application-not-accessible"),
    "Events": ("Pods Not Starting (events)", "1-pods-not-starting"),
    "Helm/Argo CD": ("Rollback Procedures", "rollback-procedures"),
    "Login": ("Post-Deployment Verification (browser)", "post-deployment-verification"),
    "Standings": ("Post-Deployment Verification (browser)", "post-deployment-verification"),
    "Add match": ("Post-Deployment Verification (browser)", "post-deployment-verification"),
    "Footer": ("Post-Deployment Verification (version footer)", "post-deployment-verification"),
}
#: Every test automates this section; the area's own section is linked too.
RUNBOOK_MAIN = ("Post-Deployment Verification", "post-deployment-verification")
RUNBOOK_URL = "https://github.com/silverbeer/missing-table/blob/main/docs/05-deployment/production-runbook.md"

_WORD = re.compile(r"[a-z0-9]+")


def tier_of(markers: Iterable[str], path: str) -> str | None:
    """The tier from a tier marker, else from the folder ``tests/<tier>/`` in the node id's path."""
    names = set(markers)
    for tier in TIERS:
        if tier in names:
            return tier
    parts = PurePosixPath(path.replace("\\", "/")).parts
    for i, part in enumerate(parts[:-1]):
        if part == "tests" and parts[i + 1] in TIERS:
            return parts[i + 1]
    return None


def derive_area(tier: str | None, name: str) -> str:
    """The area of a test without an ``area`` marker (see the module docstring's table)."""
    base = name.split("[", 1)[0].lower()
    base = base[5:] if base.startswith("test_") else base
    words = _WORD.findall(base)
    for rule_tier, keys, area in RULES:
        if rule_tier != tier:
            continue
        if not keys:
            return area
        for key in keys:
            if "_" in key:
                if key in base:
                    return area
            elif any(word.startswith(key) for word in words):
                return area
    return OTHER


def order_key(area: str) -> tuple[int, str]:
    return (AREAS.index(area), "") if area in AREAS else (len(AREAS), area)
