"""The one table of the sandbox's faults: what each one does and which checks it must break, per tier.

The sandbox (``sandbox/app.py``, ``sandbox/server.py``, ``sandbox/web``) switches these faults on; the health and
smoke fault matrices (``selftests/test_health_matrix.py``, ``selftests/test_smoke_matrix.py``) and
``bench/soak.py`` read their expectations from here, so a fault and what it must break are written once.

Each :class:`Fault` names, per tier, the tests that must fail when it is on (``fails``), the tests that must
skip (``skips``: journeys that need a sign-in the fault breaks), or the text of the warning a still-green run
must show (``warns``). A tier a fault has no entry for is not part of that tier's matrix. Where a layout of the
simulated cluster changes the outcome, a key ``"<tier>@<layout>"`` (``"deployment@argocd"``) overrides the
tier's entry; :func:`expected_failures` resolves it. ``pending`` says why the matrices skip a fault for now.

The cluster's faults are here too (``layer="cluster"``): each names the deployment checks it fails on every
cluster layout that can cause it: ``deployment@helm`` and ``deployment@argocd`` (the simulated cluster,
``sandbox/kube``: environments ``sandbox`` and ``sandbox-argocd``) and ``deployment@real`` (the real control plane,
``sandbox/cluster``: ``sandbox-real``, where each fault is a real operation, described by ``real``). A layout a
fault has no key for cannot cause it. :func:`layout_matrix` is what the deployment matrices, the real one and
``bench/soak.py`` run; the real layout's expectation is always one simulated layout's (one replica and a Helm
release: the same symptom, the same checks), asserted below. Access faults (``layer="cluster-access"``) fail no
check: they make every check of ``errors``' tiers a suite error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Layer = Literal["api", "web", "listener", "hostile", "cluster", "cluster-access"]

# -- the checks faults break (test ids as JUnit reports them) --------------------------------------------------
# health tier
HEALTH_API = "test_health_endpoint_healthy[api]"
HEALTH_SITE = "test_health_endpoint_healthy[site]"
HEALTH_FULL = "test_health_full_all_checks_healthy"
VERSION_FIELDS = "test_version_fields_well_formed"
VERSION_EXPECTED = "test_served_version_is_expected_release"
VERSION_VIA_SITE = "test_version_same_through_site"
STANDINGS_AUTH = "test_standings_require_auth"
STANDINGS_ADD_UP = "test_standings_add_up"
SHELL_HTTP = "test_front_page_serves_app_shell[127.0.0.1]"
SHELL_HTTPS = "test_front_page_serves_app_shell[localhost]"
SCRIPTS_HTTP = "test_front_page_scripts_load[127.0.0.1]"
SCRIPTS_HTTPS = "test_front_page_scripts_load[localhost]"
REDIRECT = "test_http_redirects_to_https[127.0.0.1]"
TLS_CERT = "test_tls_certificate_valid[localhost]"
#: The health checks that ask the API host (directly or through the site's ``/api`` route).
API_CHECKS = frozenset({HEALTH_API, HEALTH_SITE, HEALTH_FULL, VERSION_FIELDS, VERSION_EXPECTED, VERSION_VIA_SITE,
                        STANDINGS_AUTH, STANDINGS_ADD_UP})
#: The health checks of the site's own listeners (http, https, the http->https redirector, its certificate).
SITE_CHECKS = frozenset({HEALTH_SITE, SHELL_HTTP, SHELL_HTTPS, SCRIPTS_HTTP, SCRIPTS_HTTPS, REDIRECT, TLS_CERT,
                         VERSION_VIA_SITE})

# smoke tier (one test per journey)
ANONYMOUS = "test_anonymous_front_page_loads_cleanly"
LOGIN = "test_login_through_ui_shows_user_menu_and_tabs"
WRONG_PASSWORD = "test_login_wrong_password_is_refused"
LOGOUT = "test_logout_returns_to_anonymous"
STANDINGS = "test_standings_table_matches_api"
ADD_MATCH = "test_add_match_schedules_a_friendly"
FOOTER = "test_footer_shows_served_version"
JOURNEYS = frozenset({ANONYMOUS, LOGIN, WRONG_PASSWORD, LOGOUT, STANDINGS, ADD_MATCH, FOOTER})
#: Journeys that reuse the worker's UI sign-in (skipped, not failed, when it is broken).
SIGNED_IN = frozenset({LOGOUT, STANDINGS, ADD_MATCH, FOOTER})

# deployment tier
ROLLOUT = "test_deployment_rollout_complete[missing-table-backend]"
PODS = "test_deployment_pods_running_and_ready[missing-table-backend]"
RESTARTS = "test_deployment_pods_not_restarting[missing-table-backend]"
IMAGES = "test_deployment_runs_release_images[missing-table-backend]"
ENDPOINTS = "test_service_has_ready_endpoints[missing-table-backend]"
INGRESS = "test_ingress_routes_configured_hosts"
CERT = "test_tls_certificate_ready"
EVENTS = "test_no_warning_events_since_rollout"
HELM_STATUS = "test_helm_release_deployed"
HELM_VALUES = "test_helm_release_values_match_release"
ARGO_SYNC = "test_argocd_application_synced"
ARGO_HEALTH = "test_argocd_application_healthy"
CACHE_FLUSH = "test_cache_flush_job_not_failed"
#: Cluster layouts: the simulated cluster's two (environments sandbox, sandbox-argocd) and the real one.
LAYOUTS = ("helm", "argocd", "real")
#: The environment whose sandbox runs each layout.
LAYOUT_ENVS = {"helm": "sandbox", "argocd": "sandbox-argocd", "real": "sandbox-real"}

@dataclass(frozen=True)
class Fault:
    name: str
    #: One line: what the sandbox does differently (``python -m sandbox faults`` prints it).
    description: str
    #: Where it is implemented: the API handlers, the SPA, the listeners, a hostile target, the cluster.
    layer: Layer
    #: ``tier`` (or ``tier@layout``) -> tests that must fail.
    fails: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: ``tier`` -> tests that must skip.
    skips: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: ``tier`` -> text of the warning a run that passes must show (faults that only warn).
    warns: Mapping[str, str] = field(default_factory=dict)
    #: Why the matrices skip this fault for now (None: they run it).
    pending: str | None = None
    #: Cluster faults: the real operation that causes it on the real cluster (None: only the simulated one can).
    real: str | None = None
    #: Tiers in which the fault makes every check a suite error, never a failed check (access faults).
    errors: frozenset[str] = frozenset()

    def tiers(self) -> set[str]:
        return {key.split("@", 1)[0] for key in (*self.fails, *self.warns)}


def _f(*names: str) -> frozenset[str]:
    return frozenset(names)


FAULTS: tuple[Fault, ...] = (
    # -- API (sandbox/app.py) -----------------------------------------------------------------------------------
    Fault("health-down", "/health answers 503", "api", {"health": _f(HEALTH_API, HEALTH_SITE)}),
    Fault("health-full-degraded", "/health/full reports reference data missing (200, status degraded)", "api",
          {"health": _f(HEALTH_FULL)}),
    Fault("database-unhealthy", "/health/full answers 503 with the database sub-check unhealthy", "api",
          {"health": _f(HEALTH_FULL)}),
    Fault("version-drift", "/api/version serves a release other than the deployed one", "api",
          {"health": _f(VERSION_EXPECTED)}),
    Fault("version-wrong-environment", "/api/version says environment 'development' (the backend's ENVIRONMENT "
          "unset)", "api", {"health": _f(VERSION_FIELDS)}),
    Fault("site-api-routing-broken", "the site's host sends /api to the SPA (ingress rule missing): index.html, 200",
          "api", {"health": _f(VERSION_VIA_SITE)}),
    Fault("slow-health-full", "/health/full answers after 1.2 s (over the sandbox's latency budget)", "api",
          {"health": _f(HEALTH_FULL)}),
    Fault("standings-empty", "/api/table answers 200 with no rows", "api",
          {"health": _f(STANDINGS_ADD_UP), "smoke": _f(STANDINGS)}),
    Fault("standings-arithmetic", "/api/table rows whose points do not equal 3W+D", "api",
          {"health": _f(STANDINGS_ADD_UP)}),
    Fault("front-page-broken", "/ answers 200 with a page that is not the app shell", "api",
          {"health": _f(SHELL_HTTP, SHELL_HTTPS, SCRIPTS_HTTP, SCRIPTS_HTTPS)}),
    Fault("assets-missing", "/assets/* answer index.html (nginx try_files) instead of the scripts", "api",
          {"health": _f(SCRIPTS_HTTP, SCRIPTS_HTTPS)}),
    Fault("auth-disabled", "/api/table is served without a token", "api", {"health": _f(STANDINGS_AUTH)}),
    Fault("tls-near-expiry", "the TLS certificate expires in 5 days (within critical_days)", "api",
          {"health": _f(TLS_CERT)}),
    Fault("tls-expiring-soon", "the TLS certificate expires in 15 days (within min_days: a warning, not a failure)",
          "api", warns={"health": "within min_days"}),
    # An expired certificate also breaks the https front page: a browser would refuse it too.
    Fault("tls-expired", "the TLS certificate expired yesterday", "api",
          {"health": _f(TLS_CERT, SHELL_HTTPS, SCRIPTS_HTTPS)}),
    Fault("http-no-redirect", "http:// answers 200 instead of redirecting to https://", "api",
          {"health": _f(REDIRECT)}),
    Fault("login-rejected", "POST /api/auth/login rejects valid credentials", "api",
          {"smoke": _f(LOGIN)}, skips={"smoke": SIGNED_IN}),
    Fault("login-slow", "POST /api/auth/login answers after 3 s", "api", {"smoke": _f(LOGIN)}),
    Fault("login-accepts-any-password", "POST /api/auth/login signs a known user in whatever the password", "api",
          {"smoke": _f(WRONG_PASSWORD)}),
    Fault("add-match-fails", "POST /api/matches answers 500 'Failed to add match'", "api",
          {"smoke": _f(ADD_MATCH)}),
    Fault("match-not-persisted", "POST /api/matches answers 200 but stores nothing", "api",
          {"smoke": _f(ADD_MATCH)}),
    Fault("api-5xx-on-load", "GET /api/matches/live (the SPA asks it on start-up) answers 500", "api",
          {"smoke": _f(ANONYMOUS)}),
    Fault("asset-404", "/assets/app.css answers 404 (a stylesheet missing from the image)", "api",
          {"smoke": _f(ANONYMOUS)}),
    # -- the SPA (sandbox/web reads them from window.__SANDBOX__) -----------------------------------------------
    Fault("js-error-on-load", "the page throws a JavaScript error on load", "web", {"smoke": _f(ANONYMOUS)}),
    Fault("console-error-unlisted", "the page logs a first-party console error no allow-list entry matches", "web",
          {"smoke": _f(ANONYMOUS)}),
    Fault("footer-wrong-version", "the version footer shows another version than /api/version", "web",
          {"smoke": _f(FOOTER)}),
    Fault("api-error-banner", "the page shows the API error banner", "web", {"smoke": _f(ANONYMOUS)}),
    Fault("standings-rows-disagree", "the standings table shows other points than /api/table", "web",
          {"smoke": _f(STANDINGS)}),
    Fault("logout-broken", "the Logout button leaves the user signed in", "web", {"smoke": _f(LOGOUT)}),
    # -- outages (sandbox/server.py closes listeners) -----------------------------------------------------------
    Fault("api-down", "the API listener refuses connections; the site stays up and its /api*, /health* answer 502",
          "listener", {"health": API_CHECKS, "smoke": _f(ANONYMOUS, LOGIN, WRONG_PASSWORD, FOOTER)},
          # The footer asks /api/version itself (a session fixture, set up before the sign-in is looked at).
          skips={"smoke": SIGNED_IN - {FOOTER}}),
    Fault("site-down", "the site's listeners (http, https, redirect) refuse connections; the API stays up",
          "listener", {"health": SITE_CHECKS, "smoke": _f(ANONYMOUS, LOGIN, WRONG_PASSWORD)},
          skips={"smoke": SIGNED_IN}),
    # -- the cluster (simulated: sandbox/kube/world.py renders them; real: sandbox/cluster/world.py causes them) --
    # A crash-looping pod is unready (the Deployment is short of replicas), restarting, and emits BackOff; with one
    # replica (argocd; real, where the new pod went Ready and the old one scaled down first) the Service is left
    # without a ready endpoint too.
    Fault("crash-loop", "a current backend pod is in CrashLoopBackOff (the Deployment shows it unavailable)",
          "cluster", {"deployment@helm": _f(ROLLOUT, PODS, RESTARTS, EVENTS),
                      "deployment@argocd": _f(ROLLOUT, PODS, RESTARTS, EVENTS, ENDPOINTS),
                      "deployment@real": _f(ROLLOUT, PODS, RESTARTS, EVENTS, ENDPOINTS)},
          real="helm upgrade: the new backend pod goes Ready, then crash-loops with restarts (a kwok Stage)"),
    # ImagePullBackOff: pending (short of replicas), Failed/BackOff events; no restart (it never started). Real:
    # RollingUpdate keeps the old pod serving while the new one cannot pull (as the 2-replica helm layout).
    Fault("image-pull", "a current backend pod cannot pull its image (ImagePullBackOff)", "cluster",
          {"deployment@helm": _f(ROLLOUT, PODS, EVENTS), "deployment@argocd": _f(ROLLOUT, PODS, EVENTS, ENDPOINTS),
           "deployment@real": _f(ROLLOUT, PODS, EVENTS)},
          real="helm upgrade: the new backend pod's image cannot be pulled (a kwok Stage: ImagePullBackOff)"),
    # Quota: one of two pods cannot be created (FailedCreate on the ReplicaSet); the pod that exists is fine.
    Fault("replicas-unavailable", "the backend ReplicaSet cannot create a pod (quota exceeded): fewer replicas "
          "available", "cluster", {"deployment@helm": _f(ROLLOUT, EVENTS),
                                   "deployment@argocd": _f(ROLLOUT, PODS, ENDPOINTS, EVENTS)}),
    # ProgressDeadlineExceeded: the new pod is unschedulable (FailedScheduling); the old pods still serve.
    Fault("rollout-stuck", "the backend rollout exceeded its progress deadline (new pod unschedulable)", "cluster",
          {f"deployment@{layout}": _f(ROLLOUT, PODS, EVENTS) for layout in LAYOUTS},
          real="helm upgrade: the new backend pod cannot be scheduled (nodeSelector matches no node); the "
               "Deployment controller reports ProgressDeadlineExceeded"),
    Fault("rollout-progressing", "the backend rollout is still in progress and completes 2 s after the first "
          "request (the tier waits and passes)", "cluster",
          {"deployment@helm": _f(), "deployment@argocd": _f()}),
    Fault("image-drift", "one pod of the current backend ReplicaSet runs another image tag", "cluster",
          {"deployment@helm": _f(IMAGES), "deployment@argocd": _f(IMAGES)}),
    Fault("restarts-current", "a pod of the current backend ReplicaSet restarted since the rollout", "cluster",
          {f"deployment@{layout}": _f(RESTARTS) for layout in LAYOUTS},
          real="helm upgrade: the new backend pod restarted once (a kwok Stage)"),
    Fault("restarts-old", "a terminating pod of the previous backend ReplicaSet restarted (must not count)",
          "cluster", {"deployment@helm": _f(), "deployment@argocd": _f()}),
    Fault("warning-events", "a Warning event (readiness probe failed) on a backend pod since the rollout", "cluster",
          {f"deployment@{layout}": _f(EVENTS) for layout in LAYOUTS},
          real="a Warning event (readiness probe failed) on the current backend pod, as a kubelet posts it"),
    Fault("no-endpoints", "the backend Service selects no pods (no ready endpoints)", "cluster",
          {f"deployment@{layout}": _f(ENDPOINTS) for layout in LAYOUTS},
          real="helm upgrade: the backend Service's selector matches no pod"),
    Fault("ingress-host-missing", "the Ingress lacks the api host", "cluster",
          {f"deployment@{layout}": _f(INGRESS) for layout in LAYOUTS},
          real="helm upgrade: the Ingress lacks the api host"),
    Fault("certificate-not-ready", "the TLS certificate is not ready (ManagedCertificate Provisioning / "
          "Ready=False)", "cluster", {f"deployment@{layout}": _f(CERT) for layout in LAYOUTS},
          real="the Certificate's Ready condition is False (the sandbox plays cert-manager)"),
    Fault("helm-failed", "the latest Helm revision is failed", "cluster",
          {"deployment@helm": _f(HELM_STATUS), "deployment@real": _f(HELM_STATUS)},
          real="a helm upgrade the API server rejects (invalid progressDeadlineSeconds): release failed"),
    Fault("helm-pending", "the latest Helm revision is pending-upgrade", "cluster",
          {"deployment@helm": _f(HELM_STATUS), "deployment@real": _f(HELM_STATUS)},
          real="a helm upgrade killed while its post-upgrade hook runs: release left pending-upgrade"),
    Fault("helm-values-stale", "the latest Helm revision's values carry the previous release (version, commitSha, "
          "tags)", "cluster", {"deployment@helm": _f(HELM_VALUES)}),
    Fault("argocd-out-of-sync", "the Argo CD Application is OutOfSync", "cluster",
          {"deployment@argocd": _f(ARGO_SYNC)}),
    Fault("argocd-degraded", "the Argo CD Application is Degraded", "cluster", {"deployment@argocd": _f(ARGO_HEALTH)}),
    # Under Helm the failed post-upgrade hook fails the release too and the job controller posts
    # BackoffLimitExceeded; under Argo CD (a PostSync hook) the sync operation fails, the Application stays
    # Synced/Healthy.
    Fault("cache-flush-failed", "the post-deploy cache-flush Job failed (BackoffLimitExceeded); under Helm, whose "
          "post-upgrade hook it is, the release is failed too", "cluster",
          {"deployment@helm": _f(CACHE_FLUSH, HELM_STATUS, EVENTS), "deployment@argocd": _f(CACHE_FLUSH, EVENTS),
           "deployment@real": _f(CACHE_FLUSH, HELM_STATUS, EVENTS)},
          real="helm upgrade: the post-upgrade cache-flush Job fails (a kwok Stage), so the release is failed too"),
    # -- access to the cluster: every deployment check a suite error (nothing was checked), none failed ----------
    Fault("kube-unreachable", "the kubeconfig points at a closed port", "cluster-access",
          errors=_f("deployment")),
    Fault("kube-forbidden", "every API request is refused with 403", "cluster-access", errors=_f("deployment")),
    Fault("kube-unauthorized", "every API request is refused with 401 (expired credentials)", "cluster-access",
          errors=_f("deployment")),
    # -- a hostile target: every path answers garbage (for the reliability soak, not a fault matrix) -------------
    Fault("hostile-html", "every path answers 200 text/html (index.html), JSON endpoints included", "hostile"),
    Fault("hostile-truncated-json", "every path answers 200 application/json cut off in the middle", "hostile"),
    Fault("hostile-empty-200", "every path answers 200 with an empty body", "hostile"),
    Fault("hostile-huge", "every path answers 200 with a 5 MB JSON body", "hostile"),
    Fault("hostile-redirect-loop", "every path redirects to itself", "hostile"),
    Fault("hostile-reset", "every connection is reset without an answer", "hostile"),
    Fault("hostile-hang", "every connection is accepted and never answered", "hostile"),
)

BY_NAME: dict[str, Fault] = {f.name: f for f in FAULTS}
assert len(BY_NAME) == len(FAULTS), "a fault is defined twice"

CLUSTER_LAYERS = ("cluster", "cluster-access")
#: name -> description of every fault the application side implements (sandbox/app.py, server.py, web).
DESCRIPTIONS: dict[str, str] = {f.name: f.description for f in FAULTS if f.layer not in CLUSTER_LAYERS}
#: name -> description of every fault the simulated cluster implements (sandbox/kube/world.py).
CLUSTER_DESCRIPTIONS: dict[str, str] = {f.name: f.description for f in FAULTS if f.layer in CLUSTER_LAYERS}
#: name -> the real operation of every fault the real cluster causes (sandbox/cluster/world.py).
REAL_DESCRIPTIONS: dict[str, str] = {f.name: f.real for f in FAULTS if f.real is not None}
#: Faults that cut the suite off the cluster (suite errors, never failed checks).
ACCESS: tuple[str, ...] = tuple(f.name for f in FAULTS if f.layer == "cluster-access")
HOSTILE: frozenset[str] = frozenset(f.name for f in FAULTS if f.layer == "hostile")
#: Faults that close listeners (server.py) rather than change answers.
OUTAGES: frozenset[str] = frozenset(f.name for f in FAULTS if f.layer == "listener")


def expected_failures(fault: str, tier: str, layout: str | None = None) -> frozenset[str]:
    """The tests ``fault`` must fail in ``tier`` (a layout's own entry first)."""
    f = BY_NAME[fault]
    if layout is not None and f"{tier}@{layout}" in f.fails:
        return f.fails[f"{tier}@{layout}"]
    return f.fails.get(tier, frozenset())


def expected_skips(fault: str, tier: str) -> frozenset[str]:
    return BY_NAME[fault].skips.get(tier, frozenset())


def in_matrix(tier: str, *, include_pending: bool = True) -> list[Fault]:
    """The faults of ``tier``'s matrix that fail checks, by name (warning-only faults: :func:`warning_only`)."""
    return sorted((f for f in FAULTS if any(k.split("@", 1)[0] == tier for k in f.fails)
                   and (include_pending or f.pending is None)), key=lambda f: f.name)


def warning_only(tier: str) -> dict[str, str]:
    """``fault -> warning text`` for the faults under which ``tier`` passes with a warning."""
    return {f.name: f.warns[tier] for f in FAULTS if tier in f.warns and tier not in f.fails}


def layout_matrix(tier: str, layout: str) -> dict[str, frozenset[str]]:
    """``fault -> tests it must fail`` for the faults ``layout`` can cause in ``tier`` (its own key only)."""
    key = f"{tier}@{layout}"
    return {f.name: f.fails[key] for f in sorted(FAULTS, key=lambda f: f.name) if key in f.fails}


def _real_is_simulated() -> None:
    for f in FAULTS:
        real = f.fails.get("deployment@real")
        if real is not None:
            assert f.real is not None, f"{f.name}: a real-cluster expectation without the real operation"
            assert real in (f.fails.get("deployment@helm"), f.fails.get("deployment@argocd")), (
                f"{f.name}: the real cluster's checks are no simulated layout's")
        else:
            assert f.real is None, f"{f.name}: a real operation without the checks it must fail"


_real_is_simulated()


def names(faults: Iterable[Fault]) -> list[str]:
    return [f.name for f in faults]
