"""The one exception tree of mt-verify: did the application fail, or could the suite not check?

Every check raises one side or the other, and the exception's type alone decides the verdict everywhere:
pytest's outcome, Allure's FAILED or BROKEN, JUnit, ``summary.json`` and the gate (which rolls back only on
a confirmed *failure*, never on a suite error)::

    Exception
    ├── SuiteError ................. the suite could not check: never a reason to roll back (verdict "error")
    │   ├── ConfigError ............ a bad environment file, option or expected version
    │   ├── TargetUnreachable ...... no configured host can be reached at all: the runner has no network
    │   ├── ClusterAccessError ..... the Kubernetes API server cannot be reached or rejects the credentials
    │   │   └── Forbidden .......... RBAC says no (names the verb and the resource)
    │   ├── BrowserError ........... Chromium is missing or cannot start
    │   └── SandboxError ........... the stand-in world did not start
    └── AssertionError
        └── CheckFailed ............ a check found the application wrong (verdict "failed")
            └── DeadlineExceeded ... waited until the deadline without seeing the expected state

Translation happens at one boundary per library: httpx in :mod:`mt_verify.probe` (a host that refuses,
resets, hangs or breaks TLS while another host answers is the application's failure), the Kubernetes client in
:mod:`mt_verify.kube.access`, Playwright in :mod:`mt_verify.browser.boundary`. Anything else that escapes a test
(a bug in the suite) is an error too: the suite cannot vouch for what it did not check.

A ``CheckFailed`` message starts with one line naming the environment, the resource, what was expected and what
was seen (:func:`mt_verify.outcome.message`); details and a ``Next:`` line with a real command follow.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["passed", "failed", "error", "skipped"]


class SuiteError(Exception):
    """The suite could not do its job: nothing was checked, so nothing may be concluded (nor rolled back)."""


class ConfigError(SuiteError):
    """A bad environment file, command-line option or expected version: one line naming the file and field."""


class TargetUnreachable(SuiteError):
    """No configured host of the environment can be reached (DNS fails for every host, or every connect does)."""


class ClusterAccessError(SuiteError):
    """The Kubernetes API server cannot be reached, or rejects the credentials."""


class Forbidden(ClusterAccessError):
    """RBAC denies a read the tier needs."""


class BrowserError(SuiteError):
    """The browser is missing or cannot start."""


class SandboxError(SuiteError):
    """The sandbox did not start (or stopped) for this run."""


class CheckFailed(AssertionError):
    """A check found the application wrong: the first line of the message names env, resource, expected, actual."""


class DeadlineExceeded(CheckFailed):
    """A bounded wait (version poll, rollout) reached its deadline without the expected state."""


def verdict_of(exc: BaseException | None) -> Verdict:
    """What an exception that ended a test phase means: ``failed`` (the application) or ``error`` (the suite).

    The only place that answers the question. A plain ``assert`` or ``pytest.fail`` in a test is a failed check;
    a :class:`SuiteError` or any other exception is the suite's.
    """
    if exc is None:
        return "passed"
    import pytest

    if isinstance(exc, pytest.skip.Exception):
        return "skipped"
    if isinstance(exc, AssertionError | pytest.fail.Exception):
        return "failed"
    return "error"
