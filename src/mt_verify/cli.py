"""``mt-verify``: run the suite, gate a deploy, render a report.

A thin wrapper: pytest does the checking; ``gate`` runs it as a subprocess, reads its results, decides and acts.
Imports stay light (no Kubernetes client, no Playwright) until a rollback is actually planned.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from mt_verify.gate import EXIT_MEANINGS, TIERS, GateExit, GateOptions, run_gate

RUN_TIMEOUT_S = 3600.0
#: A usage error exits 4, as pytest's does (and as the gate's "could not verify").
USAGE_ERROR = 4

_GATE_EPILOG = "exit codes:\n" + "\n".join(
    f"  {int(code)}  {EXIT_MEANINGS[code]}" for code in GateExit
) + """

Only a confirmed failure of a gating test (gate.markers, default: marked 'gate') leads to a rollback: the failed
gating tests run once more after rollback.confirm_delay seconds, and only failures that repeat count (the others are
reported as flaky). The gate never rolls back because the suite itself broke. After a rollback the health and
deployment tiers run again, expecting the release rolled back to.
Results: reports/<env>-<time>/gate.json (attempt 1 in that folder, confirm/ and after-rollback/ below it).
Environment: MT_GATE_BETWEEN_ATTEMPTS=CMD runs CMD between the first attempt and the confirmation.
Last, the environment's notify.webhooks are told and its metrics written (metrics.txt) and pushed
(metrics.pushgateway_url); neither ever changes the exit code."""

_RUN_EPILOG = """The suite's own exit code is returned (pytest's: 0 passed, 1 tests failed or errored, 2 interrupted,
3 internal error, 4 usage error, 5 no tests collected). Reports go to reports/<env>-<time>/ (JUnit as junit.xml)."""


def _tiers(text: str) -> list[str]:
    tiers = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in tiers if t not in TIERS]
    if unknown or not tiers:
        raise argparse.ArgumentTypeError(f"tiers are a comma-separated list of {', '.join(TIERS)}")
    return tiers


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mt-verify", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="{run,gate,report}")
    sub.required = True

    r = sub.add_parser("run", help="run the suite as an operator would with pytest, and write the reports",
                       description="Run the suite (pytest) against an environment and write the reports. "
                                   "Arguments after -- go to pytest.",
                       epilog=_RUN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--env", required=True, metavar="NAME|FILE", help="environment: a name in environments/ or a path")
    r.add_argument("--expected-version", metavar="VERSION", help="release to expect (1.29.2.1360, a SHA, or both)")
    r.add_argument("--timeout", type=float, default=RUN_TIMEOUT_S, metavar="SECONDS",
                   help=f"stop the run after this long (default {RUN_TIMEOUT_S:g})")
    r.add_argument("--html", dest="html", action="store_true", default=False,
                   help="also render the HTML report when the run ends (10-17 s of Allure on a small runner: off by "
                        "default, so the verdict is not kept waiting; `mt-verify report` renders it afterwards)")
    r.add_argument("--no-html", dest="html", action="store_false",
                   help="do not render the HTML report (the default; summary.json, summary.md and junit.xml are "
                        "always written)")

    g = sub.add_parser("gate", help="post-deploy gate: verify, confirm, roll back a confirmed failure",
                       description="Verify a release just deployed; on a confirmed failure of a gating check, roll "
                                   "it back (with --rollback) and verify again. Arguments after -- go to pytest.",
                       epilog=_GATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    g.add_argument("--env", required=True, metavar="NAME|FILE", help="environment: a name in environments/ or a path")
    g.add_argument("--expected-version", required=True, metavar="VERSION",
                   help="the release just deployed (1.29.3.1361, a commit SHA, or 1.29.3.1361+abc1234)")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--rollback", dest="rollback", action="store_true", default=None,
                      help="roll back a confirmed failure with the environment's rollback.strategy")
    mode.add_argument("--no-rollback", dest="rollback", action="store_false",
                      help="only verify and report (the default, unless --dry-run)")
    g.add_argument("--dry-run", action="store_true",
                   help="plan the rollback of a confirmed failure and print its exact command(s) instead of "
                        "running them (implies --rollback; exit 2 on a failure)")
    g.add_argument("--to-revision", type=int, metavar="N",
                   help="roll back to this Helm revision / Argo CD history id instead of the one chosen")
    g.add_argument("--tiers", type=_tiers, metavar="LIST",
                   help=f"comma-separated tiers to run ({','.join(TIERS)}; default: the environment's gate.tiers)")
    g.add_argument("-q", "--quiet", action="store_true", help="do not echo pytest's output (it is kept in pytest.log)")

    rep = sub.add_parser("report", help="render the HTML report of a run",
                         description="Render the HTML report of a run folder (default: the newest run of --env, or "
                                     "reports/latest), compared with the run before it.")
    rep.add_argument("--env", metavar="NAME", help="pick the newest run of this environment")
    rep.add_argument("--single-file", action="store_true", help="one self-contained HTML file")
    rep.add_argument("run_dir", nargs="?", type=Path, metavar="RUN_DIR")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args_in:
        cut = args_in.index("--")
        args_in, extra = args_in[:cut], args_in[cut + 1:]
    try:
        args = build_parser().parse_args(args_in)
    except SystemExit as exc:  # argparse's usage error is 2, which the gate means as "failed, not rolled back"
        return USAGE_ERROR if exc.code == 2 else int(exc.code or 0)
    if args.command == "run":
        return cmd_run(args.env, args.expected_version, extra, timeout_s=args.timeout, html=args.html)
    if args.command == "gate":
        # --dry-run shows the rollback plan: it implies --rollback (an explicit --no-rollback still wins).
        rollback = args.dry_run if args.rollback is None else args.rollback
        options = GateOptions(env=args.env, expected_version=args.expected_version, rollback=rollback,
                              dry_run=args.dry_run, to_revision=args.to_revision, tiers=args.tiers,
                              pytest_args=tuple(extra))
        return int(run_gate(options, echo_pytest=not args.quiet).exit)
    if extra:
        print("mt-verify report: unexpected arguments after --", file=sys.stderr)
        return 2
    return cmd_report(args.env, args.run_dir, single_file=args.single_file)


def cmd_run(env: str, expected: str | None, pytest_args: Sequence[str], *, timeout_s: float,
            html: bool = False) -> int:
    from mt_verify import config as cfg
    from mt_verify import rundir

    try:
        path, raw = cfg.load_raw(env)
    except cfg.ConfigError as exc:
        print(f"mt-verify run: {exc}", file=sys.stderr)
        return 4  # what pytest says for a usage error
    run_dir = rundir.current() or rundir.create(str(raw.get("name") or path.stem))
    environ = dict(os.environ)
    environ[rundir.RUN_DIR_VAR] = str(run_dir)
    # One word: pytest would take a separate path outside the repository as a test path (and its rootdir).
    command = [sys.executable, "-m", "pytest", f"--env={env}"]
    if expected:
        command += ["--expected-version", expected]
    if not any(a.startswith("--junitxml") or a.startswith("--junit-xml") for a in pytest_args):
        command.append(f"--junitxml={run_dir / 'junit.xml'}")
    command += list(pytest_args)
    try:
        code = subprocess.run(command, cwd=cfg.ROOT, env=environ, timeout=timeout_s, check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"mt-verify run: the suite did not finish within {timeout_s:g} s and was stopped", file=sys.stderr)
        code = 2  # pytest's "interrupted"
    except KeyboardInterrupt:
        code = 2
    page = _render(run_dir, single_file=False, quiet=True) if html else None
    from mt_verify import notify

    notify.after_run(env, run_dir, code)  # metrics and webhooks; never changes the exit code
    print(f"mt-verify run: reports in {run_dir}" + (f" (HTML: {page})" if page else
                                                    f" (HTML: mt-verify report --env {env})"))
    return code


def _runs(reports: Path, env: str | None) -> list[Path]:
    """Run folders ``<env>-<UTC time>`` of one environment (``sandbox`` is not ``sandbox-argocd``), oldest first."""
    pattern = f"{env}-*" if env else "*-*"
    runs = [p for p in reports.glob(pattern) if p.is_dir() and not p.is_symlink()
            and (env is None or p.name.rsplit("-", 1)[0] == env)]
    return sorted(runs, key=lambda p: p.name)


def _landing(run_dir: Path, allure: Path | None) -> Path | None:
    """``<run>/index.html``, the verdict first (mt_verify.reporting.landing); never fails the command."""
    from mt_verify.reporting import landing

    try:
        return landing.render(run_dir, allure=str(allure.relative_to(run_dir)) if allure else None)
    except Exception as exc:
        print(f"mt-verify: could not write {run_dir / landing.FILE_NAME}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return None


def _render(run_dir: Path, *, single_file: bool, quiet: bool) -> Path | None:
    try:
        from mt_verify.reporting import html
    except ImportError:
        if not quiet:
            print("mt-verify report: the HTML report is not available (mt_verify.reporting.html is missing)",
                  file=sys.stderr)
        return None
    env = run_dir.name.rsplit("-", 1)[0]
    earlier = [p for p in _runs(run_dir.parent, env) if p.name < run_dir.name]
    try:
        return html.render(run_dir, single_file=single_file, previous=earlier[-1] if earlier else None)
    except Exception as exc:  # the run's verdict never depends on the report
        print(f"mt-verify: could not render the HTML report of {run_dir}: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return None


def cmd_report(env: str | None, run_dir: Path | None, *, single_file: bool) -> int:
    from mt_verify import rundir

    if run_dir is None:
        # The newest run that finished writing its results (folders of runs still going, or that never started
        # pytest, have none).
        runs = [p for p in _runs(rundir.REPORTS, env) if (p / "summary.json").exists() or (p / "junit.xml").exists()]
        latest = rundir.REPORTS / "latest"
        if env is None and latest.exists() and (latest / "summary.json").exists():
            run_dir = latest.resolve()
        elif runs:
            run_dir = runs[-1]
    if run_dir is None or not run_dir.is_dir():
        where = run_dir or f"{rundir.REPORTS}/{env or '*'}-*"
        print(f"mt-verify report: no run folder at {where}", file=sys.stderr)
        return 1
    html = _render(run_dir.resolve(), single_file=single_file, quiet=False)
    first = _landing(run_dir.resolve(), html)
    if first is not None:
        print(first)  # the first screen: the verdict, the gate's story, the red and yellow checks
    if html is None:
        return 1
    print(html)
    return 0


if __name__ == "__main__":
    sys.exit(main())
