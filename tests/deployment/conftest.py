"""Fixtures of the deployment tier: one probe of the cluster per session, then at most one list call per kind.

Fixtures fetch, tests judge. Anything that stops the suite from looking (kubeconfig, unreachable API server,
401/403, missing namespace) is raised here as ``ClusterAccessError`` (a ``SuiteError``): the tests ERROR, they do
not FAIL, and the gate never rolls back on it. The first such error is cached by pytest for the whole session,
so an unreachable cluster costs one connection attempt, not one per test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mt_verify import rundir
from mt_verify.config import Deployment, Environment, Kubernetes
from mt_verify.kube import checks
from mt_verify.kube import evidence as kube_evidence
from mt_verify.kube.access import Kube, NotFound, Target, connect, resolve
from mt_verify.kube.wait import Waited, wait_for_rollouts
from mt_verify.plugin import outcome_of
from mt_verify.release import ExpectedRelease, ReleaseIdentity, build_id_of, needs_served, same_commit
from mt_verify.reporting.evidence import evidence_dir
from mt_verify.session import environment_of
from mt_verify.wait import progress_line

OBJ = dict[str, Any]
NOTE = "mt_kube_note"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``deployment`` / ``release_deployment`` / ``service_deployment``: one test per configured Deployment (ids are
    the names, or the Service's for ``service_deployment``)."""
    env = environment_of(metafunc.config)
    kube = env.kubernetes if env is not None else None
    choices: dict[str, tuple[Callable[[Deployment], bool], Callable[[Deployment], str], str]] = {
        "deployment": (lambda d: True, lambda d: d.name, "no deployments configured"),
        "release_deployment": (lambda d: bool(d.release_containers), lambda d: d.name,
                               "no deployment lists release_containers"),
        "service_deployment": (lambda d: d.service is not None, lambda d: str(d.service),
                               "no deployment names a service"),
    }
    for argname, (pick, ident, empty) in choices.items():
        if argname not in metafunc.fixturenames:
            continue
        if kube is None:
            reason = f"[{env.name if env else '?'}] no 'kubernetes' section: the deployment tier does not apply"
            skip = pytest.mark.skip(reason=reason)
            metafunc.parametrize(argname, [pytest.param(None, id="no-kubernetes", marks=skip)])
            continue
        chosen = [d for d in kube.deployments if pick(d)]
        if not chosen:
            metafunc.parametrize(argname, [pytest.param(None, id="none",
                                                        marks=pytest.mark.skip(reason=f"[{env.name}] {empty}"))])
            continue
        metafunc.parametrize(argname, chosen, ids=[ident(d) for d in chosen])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What the tier noticed without failing (how long it waited for a rollout, sync revision, LB address)."""
    lines = []
    for key in ("passed", "failed"):
        for rep in terminalreporter.stats.get(key, []):
            lines += [str(v) for k, v in getattr(rep, "user_properties", []) if k == NOTE]
    if lines:
        terminalreporter.write_sep("-", "deployment tier")
        for line in dict.fromkeys(lines):
            terminalreporter.write_line(line)


#: Fixtures whose objects a check judges: saved as evidence when it fails.
JUDGED = ("rollouts", "current_sets", "services", "ingress", "certificate", "warning_events", "helm_secrets",
          "argo_application")


@pytest.fixture(autouse=True)
def _mtv_kube_evidence(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed check keeps the Kubernetes objects it judged (redacted) under its evidence."""
    yield
    item = request.node
    if outcome_of(item).phases.get("call") != "failed":
        return
    judged = {name: item.funcargs[name] for name in JUDGED if name in item.funcargs}
    chosen = item.funcargs.get("deployment") or item.funcargs.get("release_deployment") \
        or item.funcargs.get("service_deployment")
    if chosen is not None and "current_sets" in judged:  # only the Deployment under test
        judged["current_sets"] = {chosen.name: judged["current_sets"].get(chosen.name)}
        if "rollouts" in judged:
            judged["rollouts"] = {chosen.name: judged["rollouts"].deployments.get(chosen.name)}
    base = rundir.current()
    path = kube_evidence.save(judged, evidence_dir(item.nodeid)) if judged and base is not None else None
    if path is not None and base is not None:
        outcome_of(item).evidence.append(str(path.resolve().relative_to(base.resolve())))


@pytest.fixture
def note(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Report a fact next to the result (the terminal summary's "deployment tier" section; the report's user
    properties) without failing."""
    def add(text: str) -> None:
        print(text)
        request.node.user_properties.append((NOTE, text))

    return add


# -- access ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def kube_settings(environment: Environment) -> Kubernetes:
    if environment.kubernetes is None:
        pytest.skip(f"[{environment.name}] no 'kubernetes' section: the deployment tier does not apply")
    return environment.kubernetes


@pytest.fixture(scope="session")
def kube_target(kube_settings: Kubernetes, environment: Environment, kube_context_option: str | None,
                kubeconfig_option: str | None) -> Target:
    return resolve(environment.name, kube_settings, context=kube_context_option, kubeconfig=kubeconfig_option)


@pytest.fixture(scope="session")
def kube(kube_target: Target) -> Kube:
    """The cluster, probed once (reads the namespace): access problems end here as one clear suite error."""
    client = connect(kube_target)
    client.probe()
    return client


# -- one read per kind ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def rollouts(kube: Kube, kube_settings: Kubernetes, env_name: str, announce: Callable[[str], None]) -> Waited:
    """The configured Deployments, after waiting (up to ``rollout_timeout``) for rollouts in progress, saying
    where the wait stands while it lasts."""
    ns = kube_settings.namespace

    def read() -> dict[str, OBJ]:
        items = kube.items(f"list deployments in namespace {ns}", kube.apps.list_namespaced_deployment, ns)
        return {checks.name_of(d): d for d in items}

    def progress(waited: float, deadline: float, state: str) -> None:
        announce(progress_line(env_name, f"the rollouts in namespace {ns}", waited, deadline,
                               "kubernetes.rollout_timeout", state))

    return wait_for_rollouts(read, {d.name: d.replicas for d in kube_settings.deployments},
                             kube_settings.rollout_timeout, progress=progress)


@pytest.fixture(scope="session")
def replicasets(kube: Kube, kube_settings: Kubernetes, rollouts: Waited) -> list[OBJ]:
    ns = kube_settings.namespace
    return kube.items(f"list replicasets in namespace {ns}", kube.apps.list_namespaced_replica_set, ns)


@pytest.fixture(scope="session")
def pods(kube: Kube, kube_settings: Kubernetes, rollouts: Waited) -> list[OBJ]:
    ns = kube_settings.namespace
    return kube.items(f"list pods in namespace {ns}", kube.core.list_namespaced_pod, ns)


@pytest.fixture(scope="session")
def current_sets(rollouts: Waited, replicasets: list[OBJ], pods: list[OBJ],
                 kube_settings: Kubernetes) -> dict[str, tuple[OBJ | None, list[OBJ]]]:
    """Per configured Deployment: its current ReplicaSet (None if none) and that ReplicaSet's pods."""
    out: dict[str, tuple[OBJ | None, list[OBJ]]] = {}
    for d in kube_settings.deployments:
        dep = rollouts.deployments.get(d.name)
        rs = checks.current_replica_set(dep, replicasets) if dep is not None else None
        out[d.name] = (rs, checks.pods_of(rs, pods) if rs is not None else [])
    return out


@pytest.fixture(scope="session")
def services(kube: Kube, kube_settings: Kubernetes) -> dict[str, OBJ]:
    ns = kube_settings.namespace
    items = kube.items(f"list services in namespace {ns}", kube.core.list_namespaced_service, ns)
    return {checks.name_of(s): s for s in items}


@pytest.fixture(scope="session")
def service_endpoints(kube: Kube, kube_settings: Kubernetes) -> Callable[[str], tuple[list[str], list[str]]]:
    """``lookup(service) -> (ready, not ready)`` from EndpointSlices (v1 Endpoints where the cluster lacks them)."""
    ns = kube_settings.namespace
    try:
        slices = kube.items(f"list endpointslices in namespace {ns}",
                            kube.discovery.list_namespaced_endpoint_slice, ns)
    except NotFound:
        items = kube.items(f"list endpoints in namespace {ns}", kube.core.list_namespaced_endpoints, ns)
        legacy = {checks.name_of(e): e for e in items}
        return lambda svc: checks.legacy_endpoints(legacy.get(svc))
    return lambda svc: checks.slice_endpoints(svc, slices)


@pytest.fixture(scope="session")
def ingress(kube: Kube, kube_settings: Kubernetes) -> OBJ | None:
    if kube_settings.ingress is None:
        pytest.skip(f"no ingress configured for namespace {kube_settings.namespace}")
    ns, name = kube_settings.namespace, kube_settings.ingress.name
    try:
        return kube.call(f"get ingress {name} in namespace {ns}", kube.networking.read_namespaced_ingress, name, ns)
    except NotFound:
        return None


CERT_RESOURCES = {"gke-managed": ("networking.gke.io", "v1", "managedcertificates", "ManagedCertificate"),
                  "cert-manager": ("cert-manager.io", "v1", "certificates", "Certificate")}


@pytest.fixture(scope="session")
def certificate(kube: Kube, kube_settings: Kubernetes) -> OBJ | NotFound:
    """The certificate object, or the NotFound saying why there is none (object or CRD missing)."""
    if kube_settings.certificate is None:
        pytest.skip(f"no certificate configured for namespace {kube_settings.namespace}")
    group, version, plural, kind = CERT_RESOURCES[kube_settings.certificate.kind]
    ns, name = kube_settings.namespace, kube_settings.certificate.name
    try:
        return kube.call(f"get {kind} {name} in namespace {ns}", kube.custom.get_namespaced_custom_object,
                         group, version, ns, plural, name)
    except NotFound as exc:
        return exc


@pytest.fixture(scope="session")
def warning_events(kube: Kube, kube_settings: Kubernetes, rollouts: Waited) -> list[OBJ]:
    ns = kube_settings.namespace
    return kube.items(f"list Warning events in namespace {ns}", kube.core.list_namespaced_event, ns,
                      field_selector="type=Warning")


@pytest.fixture(scope="session")
def rollout_began(current_sets: dict[str, tuple[OBJ | None, list[OBJ]]], kube_settings: Kubernetes) -> datetime:
    """When this release's rollout began (events before it are not this release's)."""
    release = [current_sets[d.name] for d in kube_settings.deployments if d.release_containers]
    found = [(rs, p) for rs, p in release or current_sets.values() if rs is not None]
    began = checks.rollout_began(found)
    # No current ReplicaSet found (the rollout checks say why): look back over the events' one-hour lifetime.
    return began or datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture(scope="session")
def cache_flush_jobs(kube: Kube, kube_settings: Kubernetes) -> list[OBJ]:
    """The release's post-deploy cache-flush Jobs (``<release>-cache-flush-<sha7>``; a succeeded one is deleted)."""
    ns, prefix = kube_settings.namespace, f"{kube_settings.release}-cache-flush-"
    items = kube.items(f"list jobs in namespace {ns}", kube.batch.list_namespaced_job, ns)
    return [j for j in items if checks.name_of(j).startswith(prefix)]


@pytest.fixture(scope="session")
def helm_secrets(kube: Kube, kube_settings: Kubernetes) -> list[OBJ]:
    if kube_settings.manager != "helm":
        pytest.skip(f"Helm release status is not applicable: namespace {kube_settings.namespace} is managed by "
                    "Argo CD, which renders the chart with helm template (no Helm release Secrets)")
    ns, selector = kube_settings.namespace, f"owner=helm,name={kube_settings.release}"
    return kube.items(f"list secrets -l {selector} in namespace {ns}", kube.core.list_namespaced_secret, ns,
                      label_selector=selector)


@pytest.fixture(scope="session")
def argo_application(kube: Kube, kube_settings: Kubernetes) -> OBJ | None:
    if kube_settings.manager != "argocd" or kube_settings.argocd is None:
        pytest.skip(f"Argo CD is not applicable: kubernetes.manager is {kube_settings.manager}")
    ns, name = kube_settings.argocd.namespace, kube_settings.argocd.application
    try:
        return kube.call(f"get Application {name} in namespace {ns}", kube.custom.get_namespaced_custom_object,
                         "argoproj.io", "v1alpha1", ns, "applications", name)
    except NotFound:
        return None


# -- the release ------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def release_identity(request: pytest.FixtureRequest, expected_release: ExpectedRelease | None,
                     environment: Environment) -> ReleaseIdentity:
    """The release the images must carry: the expected release; where it lacks the SHA (or what the image-tag
    template needs), the backend's ``/api/version``."""
    template = environment.release.image_tag
    sha = expected_release.sha if expected_release else None
    version = expected_release.version if expected_release else None
    if not needs_served(template, sha, version):
        return ReleaseIdentity(sha=sha, version=version, build_id=build_id_of(version),
                                      source=f"expected release {expected_release}")
    served = request.getfixturevalue("served_release")
    if sha and served.commit_sha and not same_commit(sha, served.commit_sha):
        served_sha = sha  # the served backend runs something else: the version check reports that
    else:
        served_sha = served.commit_sha or sha
    source = "served /api/version" if expected_release is None else \
        f"expected release {expected_release}, completed from /api/version"
    return ReleaseIdentity(sha=served_sha, version=version or served.version,
                                  build_id=served.build_id or build_id_of(version), source=source)
