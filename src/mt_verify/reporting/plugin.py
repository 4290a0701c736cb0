"""Reports of every run (loaded by the root ``conftest.py``: ``pytest_plugins = ["mt_verify.reporting.plugin"]``).

Each run of ``pytest --env X`` writes into its run folder ``reports/<env>-<UTC>/`` (``$MT_REPORTS_DIR``):

- ``allure-results/`` (unless ``--alluredir`` is given) with ``environment.properties``, ``categories.json``,
  ``executor.json``, and per test the tier (epic), area (feature), ``severity=blocker`` for ``gate`` tests and
  links to the runbook section it automates;
- ``junit.xml`` (unless ``--junitxml`` is given; only the xdist controller writes it);
- ``summary.json`` / ``summary.md`` (:mod:`mt_verify.reporting.summary`), written once by the controller,
  printed at the end of the run and appended to ``$GITHUB_STEP_SUMMARY``;
- ``evidence/<test>/``: for a failed test the HTTP exchanges it made (redacted), plus what the tiers save.

Two halves. The *test side* (every process that runs tests: xdist workers, or the only process) captures
:class:`~mt_verify.outcome.CheckWarning` per phase and puts everything the controller needs into
``report.user_properties``, which travel to the controller with each report:

=================  =========================================================
``mt_area``        the summary row (``@pytest.mark.area`` or derived, ``areas.py``)
``mt_tier``        ``health`` / ``deployment`` / ``smoke`` (or empty)
``mt_gate``        ``true`` when the test is marked ``gate``
``mt_warning``     one per CheckWarning raised in that phase (redacted, one line)
``mt_evidence``    a file saved for the failed test, relative to the run folder
``mt_served``      JSON ``{version, commit_sha, build_id}`` seen at ``/api/version``
``mt_note``        JSON ``{kind, text}``: something forgiven on the way to green (:mod:`mt_verify.notes`)
=================  =========================================================

(pytest's ``pytest_warning_recorded`` does reach the xdist controller, but only after the test's reports and
after Allure closed the test, so warnings travel as properties instead.) The *controller* (the xdist controller,
or the only process) aggregates ``pytest_runtest_logreport``/``pytest_collectreport`` and writes the files.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mt_verify import rundir
from mt_verify.notes import drain as drain_notes
from mt_verify.outcome import CheckWarning
from mt_verify.redact import redact_text, register_secret
from mt_verify.reporting import summary as summ
from mt_verify.reporting.areas import derive_area, tier_of
from mt_verify.reporting.evidence import evidence_dir, list_evidence

ALLURE_DIR = "allure-results"
JUNIT_NAME = "junit.xml"

_WORKER_ALLURE_DIR = "mt_allure_dir"
_WARNINGS_KEY = pytest.StashKey[dict[str, list[str]]]()
_STATE_KEY = pytest.StashKey["Controller"]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _prop(report: Any, name: str) -> list[str]:
    return [str(value) for key, value in (report.user_properties or ()) if key == name]


# -- configuration -----------------------------------------------------------------------------------


def _env_name(config: pytest.Config) -> str | None:
    """The environment's name as the root conftest will load it (``name:`` in its file)."""
    name = config.getoption("mt_env", None)
    if not name:
        return None
    from mt_verify import config as cfg

    try:
        path, raw = cfg.load_raw(name)
    except cfg.ConfigError:
        return None  # the root conftest reports it
    value = raw.get("name")
    return value if isinstance(value, str) and value else path.stem


def _ensure_run_dir(config: pytest.Config) -> tuple[Path | None, str | None]:
    """This run's folder: ``$MT_REPORTS_DIR`` when the caller chose one, else a new ``reports/<env>-<UTC>/``
    (then also the previous target of ``reports/latest``, to restore if the run never starts).

    Made here (before allure-pytest and junitxml configure) so that their output can go into it; the root
    conftest sees ``$MT_REPORTS_DIR`` set and uses the same folder.
    """
    current = rundir.current()
    if current is not None:
        current.mkdir(parents=True, exist_ok=True)
        return current, None
    name = _env_name(config)
    if name is None:
        return None, None
    latest = rundir.REPORTS / "latest"
    before = os.readlink(latest) if latest.is_symlink() else ""
    path = rundir.create(name, rundir.REPORTS)
    os.environ[rundir.RUN_DIR_VAR] = str(path)
    return path, before


def _register_env_secrets(config: pytest.Config) -> None:
    """Mask the smoke user's password in every process, the controller included (it never logs in)."""
    name = config.getoption("mt_env", None)
    candidates = {"MT_SMOKE_PASSWORD"}
    if name:
        from mt_verify import config as cfg

        try:
            _, raw = cfg.load_raw(name)
            smoke = raw.get("smoke") or {}
            if isinstance(smoke, dict) and isinstance(smoke.get("password_env"), str):
                candidates.add(smoke["password_env"])
        except cfg.ConfigError:
            pass
    for var in candidates:
        register_secret(os.environ.get(var))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.option.help or config.option.version:
        return
    _register_env_secrets(config)
    # Harmless on an xdist controller: it neither collects nor runs tests.
    config.pluginmanager.register(TestSide(config), "mt-verify-reports-tests")
    if _is_worker(config):
        # xdist workers parse the command line again: the controller's choice arrives in workerinput.
        chosen = config.workerinput.get(_WORKER_ALLURE_DIR)  # type: ignore[attr-defined]
        if chosen and not getattr(config.option, "allure_report_dir", None):
            config.option.allure_report_dir = chosen
        return
    run_dir, latest_before = _ensure_run_dir(config)
    if run_dir is None:
        return
    allure_on = config.pluginmanager.hasplugin("allure_pytest")
    if allure_on and not getattr(config.option, "allure_report_dir", None):
        config.option.allure_report_dir = str(run_dir / ALLURE_DIR)
    if not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(run_dir / JUNIT_NAME)
    controller = Controller(config, run_dir)
    controller.latest_before = latest_before
    config.stash[_STATE_KEY] = controller
    config.pluginmanager.register(controller, "mt-verify-reports")


# -- test side: where tests run -----------------------------------------------------------------------


class TestSide:
    """Hooks of a process that runs tests: labels, warnings, HTTP evidence, served version."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.probes: list[Any] = []
        self.seen: dict[int, int] = {}  # id(probe) -> history length when the previous test ended

    @property
    def allure(self) -> bool:
        """Allure results are being written (the option is set by now: collection follows configure)."""
        return bool(getattr(self.config.option, "allure_report_dir", None)) and \
            self.config.pluginmanager.hasplugin("allure_pytest")

    # labels ---------------------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from mt_verify.reporting.allure_meta import marks_for

        for item in items:
            names = {m.name for m in item.iter_markers()}
            tier = tier_of(names, item.nodeid.split("::", 1)[0])
            mark = item.get_closest_marker("area")
            if mark is not None and mark.args:
                area = str(mark.args[0])
            else:
                name = getattr(item, "originalname", None) or item.name
                area = derive_area(tier, name)
            gate = "gate" in names
            item.user_properties.extend([("mt_area", area), ("mt_tier", tier or ""), ("mt_gate", str(gate).lower())])
            if self.allure:
                for m in marks_for(area, tier, gate):
                    item.add_marker(m)

    # warnings -------------------------------------------------------------------------------------
    @contextmanager
    def _capture(self, item: pytest.Item, when: str) -> Iterator[None]:
        with warnings.catch_warnings(record=True) as log:
            try:
                yield
            finally:
                caught = list(log)
        texts = item.stash.setdefault(_WARNINGS_KEY, {}).setdefault(when, [])
        for w in caught:
            if issubclass(w.category, CheckWarning):
                texts.append(summ.one_line(str(w.message), 300))
            # Hand it on to pytest's own recording (the warnings summary, -W error).
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        with self._capture(item, "setup"):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        with self._capture(item, "call"):
            return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Iterator[None]:
        with self._capture(item, "teardown"):
            return (yield)

    # probes ---------------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> Iterator[Any]:
        value = yield
        is_probe = isinstance(getattr(value, "history", None), list) and type(value).__name__ == "Probe"
        if is_probe and all(p is not value for p in self.probes):
            self.probes.append(value)
            self.seen.setdefault(id(value), 0)
        return value

    def _new_exchanges(self) -> list[Any]:
        out: list[Any] = []
        for probe in self.probes:
            out.extend(probe.history[self.seen.get(id(probe), 0):])
        return out

    def _mark_seen(self) -> None:
        for probe in self.probes:
            self.seen[id(probe)] = len(probe.history)

    # reports --------------------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        report = yield
        texts = item.stash.get(_WARNINGS_KEY, {}).pop(report.when, [])
        for text in texts:
            report.user_properties.append(("mt_warning", text))
        if texts and self.allure:
            _allure_warnings(texts)
        for n in drain_notes():
            report.user_properties.append(("mt_note", json.dumps({"kind": n.kind, "text": redact_text(n.text)})))
        if report.failed:
            for path in self._save_exchanges(item):
                report.user_properties.append(("mt_evidence", path))
        if report.when == "teardown":
            served = _served(self._new_exchanges())
            if served:
                report.user_properties.append(("mt_served", json.dumps(served, sort_keys=True)))
            self._mark_seen()
        return report

    def _save_exchanges(self, item: pytest.Item) -> list[str]:
        """The exchanges made since the previous test ended (this test and the fixtures it set up), redacted,
        into ``evidence/<test>/http-exchanges.txt`` and as Allure attachments."""
        exchanges = self._new_exchanges()
        if not exchanges:
            return []
        texts = [ex.describe() for ex in exchanges]
        saved: list[str] = []
        base = rundir.current()
        if base is not None:
            folder = evidence_dir(item.nodeid, base)
            path = folder / "http-exchanges.txt"
            with path.open("a", encoding="utf-8") as fh:
                for text in texts:
                    fh.write(text.rstrip() + "\n\n" + "-" * 72 + "\n\n")
            saved.append(str(path.relative_to(base)))
        if self.allure:
            import allure

            for ex, text in zip(exchanges, texts, strict=True):
                allure.attach(text, name=f"HTTP {ex.method} {redact_text(ex.url)} -> {ex.status}",
                              attachment_type=allure.attachment_type.TEXT)
        self._mark_seen()  # a teardown failure does not repeat the call's exchanges
        return saved


def _allure_warnings(texts: list[str]) -> None:
    import allure

    allure.dynamic.tag("warning")
    for text in texts:
        with allure.step(f"Warning: {text}"):
            pass
    allure.attach("\n".join(texts), name="warnings", attachment_type=allure.attachment_type.TEXT)


def _served(exchanges: list[Any]) -> dict[str, str] | None:
    """The release served at ``/api/version``, from the last good answer among ``exchanges``."""
    for ex in reversed(exchanges):
        if ex.status != 200 or not ex.url.split("?", 1)[0].endswith("/api/version"):
            continue
        try:
            body = json.loads(ex.body)
        except (ValueError, TypeError):
            continue
        if isinstance(body, dict) and isinstance(body.get("version"), str):
            return {k: str(body[k]) for k in ("version", "commit_sha", "build_id") if isinstance(body.get(k), str)}
    return None


# -- controller: aggregates and writes ----------------------------------------------------------------


class Controller:
    """The process that writes the run's files (the xdist controller, or the only process)."""

    def __init__(self, config: pytest.Config, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.records: dict[str, summ.TestRecord] = {}
        self.served: list[dict[str, str]] = []
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.markdown: str | None = None
        self.data: dict[str, Any] | None = None
        self.scrubbed = 0
        #: Set when this process made the run folder: where ``reports/latest`` pointed before ("" = nowhere).
        self.latest_before: str | None = None

    def _record(self, nodeid: str) -> summ.TestRecord:
        rec = self.records.get(nodeid)
        if rec is None:
            rec = self.records[nodeid] = summ.TestRecord(nodeid)
        return rec

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: tell each worker where Allure results go (workers do not see the controller's options)."""
        allure_dir = getattr(self.config.option, "allure_report_dir", None)
        if allure_dir:
            node.workerinput[_WORKER_ALLURE_DIR] = str(allure_dir)

    def pytest_sessionstart(self) -> None:
        self.started = time.time()
        self.started_mono = time.monotonic()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        rec = self._record(report.nodeid or "<collection>")
        rec.tier = tier_of((), report.nodeid.split("::", 1)[0])
        rec.area = derive_area(rec.tier, Path(report.nodeid.split("::", 1)[0]).stem)
        rec.phases["collect"] = "failed"
        rec.verdicts.append("error")
        rec.reason = "collection error: " + _reason(report.longrepr)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        rec = self._record(report.nodeid)
        for name, attr in (("mt_area", "area"), ("mt_tier", "tier")):
            values = _prop(report, name)
            if values and values[-1]:
                setattr(rec, attr, values[-1])
        if _prop(report, "mt_gate"):
            rec.gate = _prop(report, "mt_gate")[-1] == "true"
        if report.outcome == "rerun":  # pytest-rerunfailures: the attempt is discarded
            rec.reruns += 1
            rec.phases.clear()
            rec.verdicts.clear()
            rec.warnings.clear()
            rec.reason = ""
            rec.duration_s += report.duration
            return
        rec.phases[report.when] = report.outcome
        rec.duration_s += report.duration
        rec.warnings.extend(_prop(report, "mt_warning"))
        for raw in _prop(report, "mt_note"):
            try:
                rec.notes.append(json.loads(raw))
            except ValueError:
                pass
        rec.evidence.extend(p for p in _prop(report, "mt_evidence") if p not in rec.evidence)
        if report.failed:  # a verdict copied onto the item also rides on later, passing reports: ignore those
            rec.verdicts.extend(_prop(report, "mt_verdict"))
        for raw in _prop(report, "mt_served"):
            try:
                self.served.append(json.loads(raw))
            except ValueError:
                pass
        if report.failed and not rec.reason:
            rec.reason = _reason(report.longrepr)
        elif report.skipped and not rec.skip_reason:
            if hasattr(report, "wasxfail"):
                rec.skip_reason = summ.one_line(f"xfail: {report.wasxfail}" if report.wasxfail else "xfail")
            else:
                rec.skip_reason = _skip_reason(report.longrepr)

    # -- writing -----------------------------------------------------------------------------------
    def _environment(self) -> tuple[dict[str, Any], dict[str, Any]]:
        from mt_verify.session import ENV_KEY, EXPECTED_KEY

        env = self.config.stash.get(ENV_KEY, None)
        expected = self.config.stash.get(EXPECTED_KEY, None)
        info: dict[str, Any] = {"name": self.run_dir.name.rsplit("-", 1)[0]}
        if env is not None:
            kube = env.kubernetes
            info = {
                "name": env.name,
                "description": env.description or None,
                "site_url": redact_text(env.site.url),
                "api_url": redact_text(env.api.url),
                "namespace": kube.namespace if kube else None,
                "release": kube.release if kube else None,
                "manager": kube.manager if kube else None,
            }
        faults = self.config.getoption("mt_faults", None)
        if faults:
            info["sandbox_faults"] = list(faults)
        served = self.served[-1] if self.served else {}
        distinct = sorted({s.get("version", "") for s in self.served if s.get("version")})
        version: dict[str, Any] = {
            "expected": str(expected) if expected else None,
            "served": served.get("version"),
            "served_commit_sha": served.get("commit_sha"),
            "served_build_id": served.get("build_id"),
            "served_varied": distinct if len(distinct) > 1 else None,
            "matches": expected.matches(served.get("version"), served.get("commit_sha"))
            if expected and served else None,
        }
        return info, version

    def _not_run_reason(self) -> str:
        opt = self.config.option
        filters = []
        if getattr(opt, "markexpr", ""):
            filters.append(f"-m {opt.markexpr!r}")
        if getattr(opt, "keyword", ""):
            filters.append(f"-k {opt.keyword!r}")
        text = "not run: no test of this area was selected"
        return text + (f" ({', '.join(filters)})" if filters else "")

    def build(self, exitstatus: int) -> dict[str, Any]:
        for rec in self.records.values():
            rec.evidence = sorted(set(rec.evidence) | set(list_evidence(rec.nodeid, self.run_dir)))
        env, version = self._environment()
        finished = time.time()
        run = {
            "id": self.run_dir.name,
            "dir": str(self.run_dir),
            "started_at": _iso(self.started),
            "finished_at": _iso(finished),
            "duration_s": round(time.monotonic() - self.started_mono, 3),
            "exit_status": int(exitstatus),
            "command": redact_text(shlex.join(["pytest", *sys.argv[1:]])),
            "markexpr": getattr(self.config.option, "markexpr", "") or None,
            "workers": getattr(self.config.option, "numprocesses", None) or 0,
            "allure_results": getattr(self.config.option, "allure_report_dir", None),
            "junit": getattr(self.config.option, "xmlpath", None),
        }
        return summ.build(self.records.values(), environment=env, version=version, run=run,
                          not_run_reason=self._not_run_reason())

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.config.option.collectonly:
            return
        # The sandbox hands its smoke password to the run after this plugin configured: learn it now.
        _register_env_secrets(self.config)
        self.data = self.build(exitstatus)
        self.markdown = summ.write(self.run_dir, self.data)
        try:
            summ.append_step_summary(self.markdown)
        except OSError as exc:
            self.markdown += f"\n(could not append to ${summ.STEP_SUMMARY_VAR}: {exc})\n"
        allure_dir = getattr(self.config.option, "allure_report_dir", None)
        if allure_dir:
            self._allure_metadata(Path(allure_dir))

    def _allure_metadata(self, results: Path) -> None:
        from mt_verify import __version__
        from mt_verify.reporting.allure_meta import write_metadata

        assert self.data is not None
        env, version, run = self.data["environment"], self.data["version"], self.data["run"]
        props = {
            "environment": env.get("name"),
            "site.url": env.get("site_url"),
            "api.url": env.get("api_url"),
            "version.expected": version.get("expected"),
            "version.served": version.get("served"),
            "version.served.commit_sha": version.get("served_commit_sha"),
            "kubernetes.namespace": env.get("namespace"),
            "kubernetes.release": env.get("release"),
            "kubernetes.manager": env.get("manager"),
            "sandbox.faults": ",".join(env.get("sandbox_faults") or []),
            "suite.version": f"mt-verify {__version__}",
            "verdict": self.data["verdict"],
        }
        executor = {
            "name": "GitHub Actions" if os.environ.get("GITHUB_ACTIONS") else "mt-verify",
            "type": "github" if os.environ.get("GITHUB_ACTIONS") else "local",
            "buildName": f"{env.get('name')} {run['id']}",
            "reportName": f"mt-verify · {env.get('name')}",
        }
        server, repo, run_id = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        if server and repo and run_id:
            executor["buildUrl"] = f"{server}/{repo}/actions/runs/{run_id}"
        write_metadata(results, props, executor)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.markdown:
            return
        terminalreporter.write_sep("=", "mt-verify summary")
        for line in self.markdown.rstrip("\n").splitlines():
            if line.startswith(("<details>", "</details>")):
                continue
            terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Last line of defence: mask known secrets and JWTs in every text file of the run folder (JUnit is
        written after the summary; Allure results hold raw assertion text)."""
        if self.latest_before is not None and self.run_dir.is_dir() and not any(self.run_dir.iterdir()):
            self._forget_empty_run()
            return
        self.scrubbed = scrub_tree(self.run_dir)
        if self.scrubbed:
            print(f"mt-verify: masked {self.scrubbed} secret occurrence(s) in {self.run_dir}", file=sys.stderr)


    def _forget_empty_run(self) -> None:
        """The run never started (usage error, sandbox did not start): no empty folder, ``latest`` as it was."""
        try:
            self.run_dir.rmdir()
            latest = self.run_dir.parent / "latest"
            if latest.is_symlink() and os.readlink(latest) == self.run_dir.name:
                latest.unlink()
                if self.latest_before:
                    latest.symlink_to(self.latest_before)
        except OSError:
            pass
        if os.environ.get(rundir.RUN_DIR_VAR) == str(self.run_dir):
            os.environ.pop(rundir.RUN_DIR_VAR, None)


def scrub_tree(root: Path) -> int:
    """Redact every file under ``root`` in place (text, binary, zip members); return how many files changed."""
    from mt_verify.redact import scrub_tree as redact_tree  # issue 11: every encoding, zip members too

    return redact_tree(root)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _reason(longrepr: Any) -> str:
    """One line saying why a phase failed."""
    if longrepr is None:
        return ""
    if isinstance(longrepr, str):
        return summ.one_line(longrepr)
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return summ.one_line(str(crash.message).removeprefix("Failed: "))
    errorstring = getattr(longrepr, "errorstring", None)  # a fixture lookup error
    if errorstring:
        return summ.one_line(errorstring)
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return summ.one_line(longrepr[2])
    lines = [ln for ln in str(longrepr).splitlines() if ln.startswith("E ")]
    return summ.one_line(lines[0][1:] if lines else str(longrepr))


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        text = str(longrepr[2])
        return summ.one_line(text.removeprefix("Skipped: "))
    return _reason(longrepr)
