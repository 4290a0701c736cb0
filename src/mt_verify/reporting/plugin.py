"""Reports of every run (loaded by the root ``conftest.py`` after :mod:`mt_verify.plugin`).

Each run of ``pytest --env X`` writes into its run folder ``reports/<env>-<UTC>/`` (``$MT_REPORTS_DIR``):

- ``allure-results/`` (also when ``--alluredir`` is given elsewhere: then both) with ``environment.properties``,
  ``categories.json``, ``executor.json``, and per test the tier (epic), area (feature), ``severity=blocker`` for
  ``gate`` tests and links to the runbook section it automates;
- ``junit.xml`` (also when ``--junitxml`` is given: then both; only the xdist controller writes it);
- ``summary.json`` / ``summary.md`` (:mod:`mt_verify.reporting.summary`), written once by the controller,
  printed at the end of the run and appended to ``$GITHUB_STEP_SUMMARY``;
- ``evidence/<test>/``: for a failed test the HTTP exchanges it made (redacted), plus what the tiers save.

What each test was and how it ended arrives once per test, as the :class:`~mt_verify.outcome.TestOutcome` on its
teardown report (user property ``mt_outcome``, made by :mod:`mt_verify.plugin`). The *controller* (the xdist
controller, or the only process) collects them and writes the files. No other plugin's options are changed: the
run folder's own JUnit writer and Allure listener are registered beside any the command line asked for.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mt_verify import rundir
from mt_verify.outcome import TestOutcome
from mt_verify.redact import redact_text, register_secret
from mt_verify.reporting import summary as summ
from mt_verify.reporting.areas import derive_area, tier_of
from mt_verify.reporting.evidence import list_evidence

ALLURE_DIR = "allure-results"
JUNIT_NAME = "junit.xml"
OUTCOME_PROPERTY = "mt_outcome"

_WORKER_ALLURE_DIR = "mt_allure_dir"
_STATE_KEY = pytest.StashKey["Controller"]()
_ALLURE_KEY = pytest.StashKey[str]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# -- configuration -----------------------------------------------------------------------------------


def _env_name(config: pytest.Config) -> str | None:
    """The environment's name as :mod:`mt_verify.plugin` will load it (``name:`` in its file)."""
    name = config.getoption("mt_env", None)
    if not name:
        return None
    from mt_verify import config as cfg

    try:
        path, raw = cfg.load_raw(name)
    except cfg.ConfigError:
        return None  # mt_verify.plugin reports it
    value = raw.get("name")
    return value if isinstance(value, str) and value else path.stem


def _ensure_run_dir(config: pytest.Config) -> tuple[Path | None, str | None]:
    """This run's folder: ``$MT_REPORTS_DIR`` when the caller chose one, else a new ``reports/<env>-<UTC>/``
    (then also the previous target of ``reports/latest``, to restore if the run never starts)."""
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


def allure_enabled(config: pytest.Config) -> bool:
    """Allure results are being written, by the command line's ``--alluredir`` or into the run folder."""
    return bool(getattr(config.option, "allure_report_dir", None)) or _ALLURE_KEY in config.stash


def _start_allure(config: pytest.Config, results: Path) -> None:
    """Write Allure results into ``results`` as allure-pytest's own ``--alluredir`` would (same listener and
    writer), without changing its options; nothing to do when the command line already asked for a folder."""
    if getattr(config.option, "allure_report_dir", None) or not config.pluginmanager.hasplugin("allure_pytest"):
        return
    import allure_commons
    from allure_commons.logger import AllureFileLogger
    from allure_pytest.listener import AllureListener

    listener = AllureListener(config)
    config.pluginmanager.register(listener, "mt-verify-allure-listener")
    allure_commons.plugin_manager.register(listener)
    writer = AllureFileLogger(str(results.resolve()), False)
    allure_commons.plugin_manager.register(writer)

    def stop() -> None:
        for plugin in (writer, listener):
            name = allure_commons.plugin_manager.get_name(plugin)
            if name is not None:
                allure_commons.plugin_manager.unregister(plugin)

    config.add_cleanup(stop)
    config.stash[_ALLURE_KEY] = str(results)


def _start_junit(config: pytest.Config, path: Path) -> None:
    """The run folder's own ``junit.xml``, beside any ``--junitxml`` of the command line."""
    from _pytest.junitxml import LogXML

    if str(getattr(config.option, "xmlpath", "") or "") and \
            Path(config.option.xmlpath).resolve() == path.resolve():
        return  # junitxml writes exactly this file already
    xml = LogXML(str(path), config.option.junitprefix, config.getini("junit_suite_name"),
                 config.getini("junit_logging"), config.getini("junit_duration_report"),
                 config.getini("junit_family"), config.getini("junit_log_passing_tests"))
    config.pluginmanager.register(xml, "mt-verify-junit")


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.option.help or config.option.version:
        return
    _register_env_secrets(config)
    if _is_worker(config):
        # The controller chose the run folder's Allure results; workers write there too.
        chosen = config.workerinput.get(_WORKER_ALLURE_DIR)  # type: ignore[attr-defined]  # xdist adds workerinput
        if chosen:
            _start_allure(config, Path(chosen))
        return
    if config.option.collectonly:
        return  # --collect-only touches nothing: no run folder, reports/latest as it was
    run_dir, latest_before = _ensure_run_dir(config)
    if run_dir is None:
        return
    _start_allure(config, run_dir / ALLURE_DIR)
    _start_junit(config, run_dir / JUNIT_NAME)
    config.pluginmanager.register(FoldRepeats(), "mt-verify-fold-repeats")
    controller = Controller(config, run_dir)
    controller.latest_before = latest_before
    config.stash[_STATE_KEY] = controller
    config.pluginmanager.register(controller, "mt-verify-reports")


# -- the terminal: one suite error, said once ------------------------------------------------------------

SUITE_ERROR_PREFIX = "SUITE ERROR (nothing was checked): "


class FoldRepeats:
    """Twenty tests that could not check for one reason (the cluster unreachable) are one story: pytest's ERRORS
    section and short summary show the first test with it, and one line counts the rest, as ``summary.md`` folds
    them. Only the terminal is folded; JUnit, Allure and ``summary.json`` keep every test."""

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Generator[None, None, None]:
        stats = terminalreporter.stats
        kept: dict[str, list[Any]] = {}
        folded: dict[str, tuple[str, int]] = {}  # text -> (first test, how many more)
        for key in ("error", "failed"):
            reports = stats.get(key)
            if not reports:
                continue
            kept[key] = reports
            shown = []
            for rep in reports:
                text = str(getattr(rep, "longrepr", "") or "")
                if not text.startswith(SUITE_ERROR_PREFIX):
                    shown.append(rep)
                elif text in folded:
                    first, more = folded[text]
                    folded[text] = (first, more + 1)
                else:
                    folded[text] = (rep.nodeid, 0)
                    shown.append(rep)
            stats[key] = shown
        try:
            return (yield)
        finally:
            stats.update(kept)
            for text, (first, more) in folded.items():
                if more:
                    terminalreporter.write_line(
                        f"mt-verify: {_plural(more, 'more test')} could not check for the same reason as {first} "
                        f"(folded here; junit.xml and summary.json list each): {summ.one_line(text, 160)}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# -- controller: aggregates and writes ----------------------------------------------------------------


class Controller:
    """The process that writes the run's files (the xdist controller, or the only process)."""

    def __init__(self, config: pytest.Config, run_dir: Path) -> None:
        self.config = config
        self.run_dir = run_dir
        self.records: dict[str, TestOutcome] = {}
        self.reruns: dict[str, int] = {}
        self.served: list[dict[str, str]] = []
        self.started = time.time()
        self.started_mono = time.monotonic()
        self.markdown: str | None = None
        self.data: dict[str, Any] | None = None
        self.scrubbed = 0
        #: Every selected test's area (for "stopped by -x": selected, never run).
        self.selected: dict[str, str] = {}
        #: Set when this process made the run folder: where ``reports/latest`` pointed before ("" = nowhere).
        self.latest_before: str | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """xdist: tell each worker where Allure results go (workers do not see the controller's choice)."""
        allure_dir = getattr(self.config.option, "allure_report_dir", None) or self.config.stash.get(_ALLURE_KEY, None)
        if allure_dir:
            node.workerinput[_WORKER_ALLURE_DIR] = str(allure_dir)

    def pytest_sessionstart(self) -> None:
        self.started = time.time()
        self.started_mono = time.monotonic()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """What was selected to run, by area (this process collected: no xdist)."""
        from mt_verify.plugin import outcome_of

        for item in session.items:
            self.selected[item.nodeid] = outcome_of(item).area

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """xdist: the workers collected; areas from the node ids (as for a test that crashed its worker)."""
        for nodeid in ids:
            if nodeid not in self.selected:
                path, _, name = nodeid.rpartition("::")
                self.selected[nodeid] = derive_area(tier_of((), path.split("::", 1)[0]), name)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        nodeid = report.nodeid or "<collection>"
        tier = tier_of((), nodeid.split("::", 1)[0])
        rec = TestOutcome(nodeid, tier=tier, area=derive_area(tier, Path(nodeid.split("::", 1)[0]).stem))
        rec.record_phase("collect", "failed", "error", "collection error: " + _reason(report.longrepr), 0.0)
        self.records[nodeid] = rec

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if str(report.outcome) == "rerun":  # pytest-rerunfailures: the attempt is discarded
            self.reruns[report.nodeid] = self.reruns.get(report.nodeid, 0) + 1
            return
        for name, value in report.user_properties:
            if name == OUTCOME_PROPERTY:
                rec = TestOutcome.from_json(str(value))
                self.records[report.nodeid] = rec
                if rec.served:
                    self.served.append(rec.served)
                return
        if report.failed and report.when != "teardown" and report.nodeid not in self.records:
            # No record will come (the worker crashed, or a plugin failed the phase before ours ran).
            rec = TestOutcome(report.nodeid, tier=tier_of((), report.nodeid.split("::", 1)[0]))
            rec.area = derive_area(rec.tier, report.nodeid.rsplit("::", 1)[-1])
            rec.record_phase(report.when, "failed", "error", _reason(report.longrepr), report.duration)
            self.records[report.nodeid] = rec

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

    def _stopped_reasons(self) -> dict[str, str]:
        """Areas whose selected tests never ran because ``-x`` / ``--maxfail`` ended the run first."""
        maxfail = int(getattr(self.config.option, "maxfail", 0) or 0)
        if not maxfail:
            return {}
        red = sum(1 for r in self.records.values() if r.verdict in ("failed", "error"))
        if red < maxfail:
            return {}
        flag = "-x" if maxfail == 1 else f"--maxfail {maxfail}"
        never = {area for nodeid, area in self.selected.items() if nodeid not in self.records}
        return {area: f"not run: stopped by {flag} after {red} red test(s), before this area's tests ran"
                for area in never}

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
            "allure_results": self.config.stash.get(_ALLURE_KEY, None)
            or getattr(self.config.option, "allure_report_dir", None),
            "junit": str(self.run_dir / JUNIT_NAME),
        }
        return summ.build(self.records.values(), environment=env, version=version, run=run,
                          not_run_reason=self._not_run_reason(), reruns=self.reruns,
                          not_run_reasons=self._stopped_reasons())

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
        allure_dir = self.config.stash.get(_ALLURE_KEY, None) or getattr(self.config.option, "allure_report_dir", None)
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
