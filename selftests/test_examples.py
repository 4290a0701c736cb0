"""The ready-to-copy examples: valid YAML, unable to run in this repository by accident, and every ``mt-verify``
command they call is one the CLI accepts."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from mt_verify import config as cfg
from mt_verify.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "examples" / "github-workflows").glob("*.yml"))
CRONJOB = ROOT / "deploy" / "cronjob-nightly.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _commands(script: str) -> list[list[str]]:
    """``mt-verify ...`` / ``.venv/bin/mt-verify ...`` lines of a shell script (continuations joined, ``${{ }}``
    made plain words)."""
    script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", script).replace("\\\n", " ")
    out: list[list[str]] = []
    for line in script.splitlines():
        line = line.split(" || ")[0].split(" && ")[0].strip()
        if line.startswith(("mt-verify ", ".venv/bin/mt-verify ")):
            out.append(shlex.split(line)[1:])
    return out


def _accepts(argv: list[str]) -> Any:
    args = argv[: argv.index("--")] if "--" in argv else argv
    try:
        return build_parser().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"mt-verify {shlex.join(argv)}: the CLI refuses it (exit {exc.code})")


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def test_examples_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"post-deploy-gate.yml", "nightly-verification.yml"} <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_cannot_run_here_and_calls_real_commands(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert not {"push", "pull_request", "pull_request_target"} & set(triggers), "must not run on push or PRs"
    assert ".github" not in path.parts
    commands = [c for step in _steps(doc) if "run" in step for c in _commands(step["run"])]
    assert commands, f"{path.name} calls no mt-verify command"
    for argv in commands:
        _accepts(argv)
    uploads = [s for s in _steps(doc) if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads and all(s.get("if") == "always()" for s in uploads), "reports must be uploaded, even on failure"


def test_post_deploy_gate_runs_after_helm_upgrade_with_rollback() -> None:
    doc = yaml.safe_load((ROOT / "examples/github-workflows/post-deploy-gate.yml").read_text())
    runs = [s.get("run", "") for s in _steps(doc)]
    upgrade = next(i for i, r in enumerate(runs) if "helm upgrade" in r)
    gate = next(i for i, r in enumerate(runs) for c in _commands(r) if c[0] == "gate")
    assert upgrade < gate
    args = _accepts(next(c for c in _commands(runs[gate]) if c[0] == "gate"))
    assert args.rollback and args.expected_version


def test_nightly_never_rolls_back_and_keeps_history() -> None:
    doc = yaml.safe_load((ROOT / "examples/github-workflows/nightly-verification.yml").read_text())
    triggers = doc.get("on", doc.get(True))
    assert triggers["schedule"]
    commands = [c for s in _steps(doc) if "run" in s for c in _commands(s["run"])]
    assert {c[0] for c in commands} <= {"run", "report"} and any(c[0] == "run" for c in commands)
    uses = [str(s.get("uses", "")) for s in _steps(doc)]
    assert any(u.startswith("actions/cache/restore") for u in uses) and any(u.startswith("actions/cache/save")
                                                                           for u in uses)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_cronjob_runs_the_suite_read_only_where_prod_runs_with_its_own_service_account() -> None:
    docs = _docs(CRONJOB)
    cron = next(d for d in docs if d["kind"] == "CronJob")
    assert cron["apiVersion"] == "batch/v1"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    (container,) = pod["containers"]
    command = container["command"]
    assert command[0] == "mt-verify"
    args = _accepts(command[1:])
    assert args.command == "run"
    # The namespace it runs in is the one the environment it verifies names (in-cluster, it reads its own).
    env = cfg.load(args.env, {})
    assert env.kubernetes is not None
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] not in ("ClusterRoleBinding",)}
    assert namespaces == {env.kubernetes.namespace} | ({"argocd"} if env.kubernetes.argocd else set())
    assert cron["metadata"]["namespace"] == env.kubernetes.namespace
    # Its ServiceAccount is shipped beside it.
    account = pod["serviceAccountName"]
    assert any(d["kind"] == "ServiceAccount" and d["metadata"]["name"] == account for d in docs)
    claims = {v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if "persistentVolumeClaim" in v}
    assert claims <= {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    # Its image is the one deploy/Dockerfile's build command tags.
    assert f"-t {container['image']} " in DOCKERFILE.read_text()


def test_cronjob_service_account_is_bound_to_read_only_roles_only() -> None:
    rbac = ROOT / "deploy" / "rbac-readonly.yaml"
    readonly = _docs(rbac)
    roles = {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")): d for d in readonly
             if d["kind"] in ("Role", "ClusterRole")}
    verbs = {v for d in roles.values() for r in d.get("rules", []) for v in r.get("verbs", [])}
    assert verbs <= {"get", "list", "watch"}, f"the nightly role must be read-only, has {sorted(verbs)}"
    docs = _docs(CRONJOB)
    account = next(d for d in docs if d["kind"] == "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"][
        "serviceAccountName"]
    bindings = [d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert bindings
    for binding in bindings:
        assert {s["name"] for s in binding["subjects"]} == {account}
        ref = binding["roleRef"]
        key = (ref["kind"], ref["name"], binding["metadata"].get("namespace") if ref["kind"] == "Role" else None)
        assert key in roles, f"{binding['metadata']['name']} binds {key}, which rbac-readonly.yaml does not define"
    assert not [d for d in docs if d["kind"] in ("Role", "ClusterRole")], "the CronJob defines no roles of its own"


def test_dockerfile_installs_through_the_set_up_script() -> None:
    """No container runtime here: the Dockerfile's install steps must be the set-up script's, nothing else."""
    lines = DOCKERFILE.read_text().replace("\\\n", " ").splitlines()
    instructions = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    assert instructions[0].split()[:2] == ["FROM", "debian:12-slim"]
    runs = [ln[4:].strip() for ln in instructions if ln.startswith("RUN ")]
    assert runs and runs[0].startswith("bash scripts/setup.sh --install-only")
    for run in runs:
        for word in ("apt-get install", "pip install", "npm install", "playwright install", "curl", "wget"):
            assert word not in run, f"RUN installs on its own ({word}); scripts/setup.sh must do it: {run}"
    assert any(ln.startswith("COPY . /app") for ln in instructions)
    assert any(ln.startswith("USER ") and ln.split()[1] != "root" for ln in instructions)
    cron = next(d for d in _docs(CRONJOB) if d["kind"] == "CronJob")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(next(ln.split()[1] for ln in instructions
                                                           if ln.startswith("USER ")))
    assert pod["containers"][0]["workingDir"] == "/app"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".tools", "reports", ".git"} <= set(ignored)


def test_gate_rbac_covers_the_rollback_and_every_rule_is_justified() -> None:
    docs = _docs(ROOT / "deploy" / "rbac-gate.yaml")
    text = (ROOT / "deploy" / "rbac-gate.yaml").read_text()
    readme = (ROOT / "deploy" / "README.md").read_text()
    role = next(d for d in docs if d["kind"] == "Role")
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    needs = {("", "secrets"): {"get", "list", "create", "update"},          # helm's release records
             ("apps", "deployments"): {"get", "list", "watch", "patch"},     # helm rollback / rollout undo
             ("apps", "replicasets"): {"list"},                              # the kubectl strategy's plan
             ("coordination.k8s.io", "leases"): {"get", "create", "update", "delete"},  # mt_verify.rollback.lock
             ("", "configmaps"): {"get", "create", "update"}}                # the verdict record
    for key, verbs in needs.items():
        assert verbs <= granted.get(key, set()), f"{key}: needs {sorted(verbs)}, has {sorted(granted.get(key, []))}"
    assert not any(r == "*" or "*" in v for (_, r), v in granted.items()), "no wildcards"
    assert ("", "pods") in granted and not {"delete", "create", "patch"} & granted[("", "pods")]
    # Every rule carries a [tag] comment, and deploy/README.md has a line for each tag.
    tags = set(re.findall(r"#\s*\[([a-z-]+)\]", text))
    current, untagged, in_role = None, 0, False
    for line in text.splitlines():
        if line.startswith("kind:"):
            in_role = line.split()[1] in ("Role", "ClusterRole")
        tag = re.match(r"\s*#\s*\[([a-z-]+)\]", line)
        if tag:
            current = tag.group(1)
        elif in_role and line.strip().startswith("- apiGroups:") and current is None:
            untagged += 1
    assert untagged == 0, "every rule sits under a [tag] comment"
    for tag in tags:
        assert f"| [{tag}]" in readme, f"deploy/README.md does not justify [{tag}]"
    namespaces = {d["metadata"].get("namespace") for d in docs if "namespace" in d["metadata"]}
    assert namespaces == {cfg.load("dev", {}).kubernetes.namespace}  # type: ignore[union-attr]


def test_post_deploy_gate_deploys_and_verifies_the_same_environment() -> None:
    """The environment chosen is the one deployed (namespace, values file) and the one gated."""
    doc = yaml.safe_load((ROOT / "examples/github-workflows/post-deploy-gate.yml").read_text())
    triggers = doc.get("on", doc.get(True))
    options = triggers["workflow_dispatch"]["inputs"]["environment"]["options"]
    (job,) = doc["jobs"].values()
    assert job["env"]["MT_ENV"] == "${{ inputs.environment }}"
    assert job["env"]["NAMESPACE"] == "missing-table-${{ inputs.environment }}"
    assert job["environment"] == "${{ inputs.environment }}"
    runs = [s.get("run", "") for s in job["steps"]]
    upgrade = next(r for r in runs if "helm upgrade" in r)
    assert '-n "$NAMESPACE"' in upgrade and 'values-$MT_ENV.yaml' in upgrade
    gate = next(c for r in runs for c in _commands(r) if c[0] == "gate")
    assert gate[gate.index("--env") + 1] == "$MT_ENV"
    for name in options:
        env = cfg.load(name, {})
        assert env.kubernetes is not None and env.kubernetes.namespace == f"missing-table-{name}", name
        assert env.kubernetes.manager == "helm" and env.rollback.strategy == "helm", name


# -- the workflows run as shipped ------------------------------------------------------------------------------------
#
# Each workflow's steps run in order (selftests/workflows.py) in a fresh clone of the committed HEAD, against the
# sandbox, with secrets from test values. What cannot run on this machine is replaced by the stubs below, each with
# its reason; an unlisted ``uses:`` step fails the test.

# The real login form allows [a-zA-Z0-9_]{3,50} (contract), so no hyphen in the username.
SMOKE_USER, SMOKE_PASSWORD = "ci_smoke", "ci-smoke-password-4f1e9b"
WEBHOOK_SECRET = "https://hooks.example.invalid/services/T0/B0/ci-webhook-secret-77ab"


def _is_checkout_of(repo: str | None) -> Any:
    def match(step: dict[str, Any]) -> bool:
        return str(step.get("uses", "")).startswith("actions/checkout") and \
            (step.get("with") or {}).get("repository") == repo
    return match


def _clone(runner: Any, step: dict[str, Any]) -> int:
    target = runner.workspace / (step.get("with") or {}).get("path", "")
    if target.exists() and any(target.iterdir()):
        return 1
    return subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], capture_output=True,
                          timeout=120).returncode


def _uploaded(runner: Any, step: dict[str, Any]) -> int:
    path = runner.workspace / runner.expand(step["with"]["path"])
    return 0 if path.is_dir() and any(path.iterdir()) else 1


def _uses(prefix: str) -> Any:
    return lambda step: str(step.get("uses", "")).startswith(prefix)


def common_stubs() -> list[Any]:
    from selftests.workflows import Stub

    return [
        Stub("checkout mt-verify", "actions/checkout: a git clone of this repository's committed HEAD",
             lambda s: _is_checkout_of(None)(s) or _is_checkout_of("silverbeer/mt-verify")(s), _clone),
        Stub("checkout the app", "the app's chart is not here; only `helm upgrade` (stubbed) reads it",
             _is_checkout_of("silverbeer/missing-table")),
        Stub("setup-helm", "no helm download here; the rollback uses the sandbox's stand-in helm (rollback.binary)",
             _uses("azure/setup-helm")),
        Stub("setup-python", "the machine's Python 3.11 (Debian 12)", _uses("actions/setup-python")),
        Stub("cache", "no Actions cache: a cold start (no report history)", _uses("actions/cache/")),
        Stub("upload-artifact", "no artifact store: the path to upload must exist and hold files",
             _uses("actions/upload-artifact"), _uploaded),
    ]


def _site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def warm_install(runner: Any, step: dict[str, Any]) -> None:
    """Before the install step: what a warm dependency cache gives. The new venv sees this checkout's installed
    dependencies (a .pth to symlinks of them, mt-verify itself left out) and .tools/ (Allure) is this checkout's,
    so that ``scripts/setup.sh --install-only`` itself runs unchanged and only installs the clone (editable)."""
    if "scripts/setup.sh --install-only" not in str(step.get("run", "")):
        return
    clone = runner.workspace / str(step.get("working-directory", ""))
    if "mt-verify/scripts" in step["run"]:
        clone = runner.workspace / "mt-verify"
    seed = runner.workspace.parent / "warm-site-packages"
    seed.mkdir(exist_ok=True)
    for entry in _site_packages(ROOT / ".venv").iterdir():
        if entry.name.startswith(("mt_verify", "__editable__", "_virtualenv")) or entry.suffix == ".pth":
            continue
        (seed / entry.name).symlink_to(entry)
    # pip itself comes through the .pth too (ensurepip would take longer than the rest).
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(clone / ".venv")], check=True, timeout=120)
    (_site_packages(clone / ".venv") / "zz-warm-cache.pth").write_text(f"{seed}\n")
    if (ROOT / ".tools" / "allure").is_dir():
        (clone / ".tools").symlink_to(ROOT / ".tools")


def _base_env(tmp_path: Path) -> dict[str, str]:
    bin_dir = str(ROOT / "sandbox" / "bin")
    keep = {k: v for k, v in os.environ.items() if k in ("HOME", "LANG", "LC_ALL", "TERM", "TMPDIR")}
    keep["PATH"] = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                   if p and p != bin_dir and ".venv" not in p)
    return keep


def _secrets_absent(runner: Any, where: Path) -> None:
    secrets = (SMOKE_PASSWORD, WEBHOOK_SECRET, "ci-webhook-secret-77ab")
    text = runner.transcript() + runner.files["GITHUB_STEP_SUMMARY"].read_text()
    for secret in secrets:
        assert secret not in text, "a secret reached the job's output"
    for path in where.rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 20_000_000:
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"a secret reached {path}"


def _debian_12() -> None:
    # `container: debian:12` in both workflows: this machine is that container.
    assert Path("/etc/debian_version").read_text().startswith("12"), "the workflows' container is Debian 12"


WARM = [pytest.param(True, id="warm-cache"), pytest.param(False, id="cold", marks=pytest.mark.slow)]


@pytest.mark.parametrize("warm", WARM)
def test_post_deploy_gate_workflow_runs_as_shipped_and_rolls_a_bad_release_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool) -> None:
    import base64

    from mt_verify import launcher
    from sandbox.release import Release
    from selftests.workflows import JobRunner, Stub

    _debian_12()
    doc = yaml.safe_load((ROOT / "examples/github-workflows/post-deploy-gate.yml").read_text())
    (job,) = doc["jobs"].values()
    assert job["container"] == "debian:12"
    bad = Release.make("1.29.3", 1361)
    # The cluster and the site: a sandbox with the runbook's Helm layout stands in for dev's (the test's smoke user).
    monkeypatch.setenv("MT_SMOKE_USERNAME", SMOKE_USER)
    monkeypatch.setenv("MT_SMOKE_PASSWORD", SMOKE_PASSWORD)
    _, raw = cfg.load_raw("sandbox")
    launched = launcher.launch(cfg.Sandbox.model_validate(raw["sandbox"]), [], file=cfg.ENVIRONMENTS_DIR /
                               "sandbox.yaml")
    try:
        world = {k: v for k, v in launched.env.items() if k.startswith("MT_SANDBOX_")}
        kubeconfig = Path(world["MT_SANDBOX_KUBECONFIG"]).read_bytes()

        def helm_upgrade(runner: JobRunner, step: dict[str, Any]) -> int:
            """`helm upgrade` ships the release: here into the sandbox, the bad way (its /health is down)."""
            version = runner.value("inputs.version").split("+")[0]
            return subprocess.run([sys.executable, "-m", "sandbox", "deploy", "--version", version, "--fault",
                                   "health-down"], cwd=ROOT, env={**os.environ, **world}, capture_output=True,
                                  timeout=60).returncode

        stubs = [*common_stubs(),
                 Stub("helm upgrade", "no cluster to upgrade: the release is deployed into the sandbox instead",
                      lambda s: "helm upgrade" in str(s.get("run", "")), helm_upgrade)]
        context = {"inputs.environment": "sandbox", "inputs.version": f"{bad.version}+{bad.sha7}",
                   "inputs.image_tag": bad.sha7, "github.run_id": "4242",
                   "secrets.MT_SMOKE_USERNAME": SMOKE_USER, "secrets.MT_SMOKE_PASSWORD": SMOKE_PASSWORD,
                   "secrets.MT_SLACK_WEBHOOK_URL": WEBHOOK_SECRET,
                   "secrets.KUBECONFIG_B64": base64.b64encode(kubeconfig).decode()}
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        runner = JobRunner(workspace, context, stubs, {**_base_env(tmp_path), **world},
                           before_step=warm_install if warm else None)
        results = runner.run_job(job)
        state = json.loads(urllib.request.urlopen(world["MT_SANDBOX_CONTROL"] + "/state", timeout=10).read())
    finally:
        launched.stop()
    log = runner.transcript()
    outcome = [(r.how, r.returncode) for r in results]
    assert outcome == [("stub:checkout the app", 0), ("stub:checkout mt-verify", 0), ("stub:setup-helm", 0),
                       ("run", 0), ("run", 0), ("stub:helm upgrade", 0),
                       ("run", 1),                                   # the gate: rolled back, verified (exit 1)
                       ("run", 0), ("stub:upload-artifact", 0)], log
    clone = workspace / "mt-verify"
    gate = json.loads((clone / "reports" / "latest" / "gate.json").read_text())
    assert gate["exit_code"] == 1 and gate["after_rollback"]["passed"] is True, log
    assert state["served"]["version"] == "1.29.2.1360"
    assert runner.env["KUBECONFIG"] == str(workspace / ".kubeconfig")
    assert (workspace / ".kubeconfig").read_bytes() == kubeconfig
    assert "rollback" in runner.files["GITHUB_STEP_SUMMARY"].read_text().lower()
    assert list((clone / "reports").glob("sandbox-*/**/index.html")), "the HTML report step wrote no report"
    _secrets_absent(runner, clone / "reports")


@pytest.mark.parametrize("warm", WARM)
def test_nightly_workflow_runs_as_shipped_against_a_healthy_sandbox(tmp_path: Path, warm: bool) -> None:
    import base64

    from selftests.workflows import JobRunner

    _debian_12()
    doc = yaml.safe_load((ROOT / "examples/github-workflows/nightly-verification.yml").read_text())
    (job,) = doc["jobs"].values()
    assert job["container"] == "debian:12"
    # `mt-verify run --env sandbox` starts its own sandbox; the kubeconfig written is a test value it never reads.
    dummy = b"apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"
    context = {"inputs.environment": "sandbox", "github.run_id": "4343",
               "secrets.MT_SMOKE_USERNAME": SMOKE_USER, "secrets.MT_SMOKE_PASSWORD": SMOKE_PASSWORD,
               "secrets.MT_SLACK_WEBHOOK_URL": WEBHOOK_SECRET,
               "secrets.KUBECONFIG_B64": base64.b64encode(dummy).decode()}
    workspace = tmp_path / "workspace"
    runner = JobRunner(workspace, context, common_stubs(), _base_env(tmp_path),
                       before_step=warm_install if warm else None)
    workspace.mkdir()
    results = runner.run_job(job)
    log = runner.transcript()
    assert [(r.how, r.returncode) for r in results] == [
        ("stub:checkout mt-verify", 0), ("run", 0), ("run", 0), ("stub:cache", 0),
        ("run", 0),                                                   # mt-verify run: the sandbox is healthy
        ("run", 0), ("run", 0), ("stub:cache", 0), ("stub:upload-artifact", 0)], log
    summary = json.loads((workspace / "reports" / "latest" / "summary.json").read_text())
    assert summary["verdict"] in ("passed", "passed_with_warnings"), log
    assert {t["tier"] for t in summary["tests"]} >= {"health", "deployment", "smoke"}
    assert (workspace / "reports" / "latest" / "metrics.txt").read_text().endswith("# EOF\n")
    assert list((workspace / "reports").glob("sandbox-*/**/index.html")), log
    _secrets_absent(runner, workspace / "reports")
