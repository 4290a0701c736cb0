"""A hostile smoke password leaves no fragment anywhere (issue 11, item 1).

For each password of a corpus (quotes, backslashes, non-ASCII, ``%``, ``&``, ``<``, whitespace, very long), the
sandbox's smoke user gets that password and the smoke tier runs twice: once with the login journey failing
(``login-rejected``: its trace spans the sign-in), once with the login passing and other journeys failing
(their traces carry the signed-in session, the logout journey's spans a successful sign-in). Then every byte
the run left (the run folder: evidence, traces, Allure results and attachments, JUnit, summaries, the rendered
HTML report; and the run's own output), zips unpacked at any depth, is searched for every 6-character run of the
password: as it is, JSON-escaped, URL-encoded (``quote``, ``quote_plus``), HTML-escaped, and base64 (standard
and URL-safe) at each byte alignment. The oracle is this file's own, not ``mt_verify.redact``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from mt_verify.reporting import html as report_html
from selftests.suite import Run, run_suite

RUN = 6


def _long_password() -> str:
    """300 characters from a wide alphabet (never hex-only: sha1 names in traces would match by chance)."""
    rng = random.Random(11)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789\"'\\%&<>+=/?#é漢ß"
    return "Lg" + "".join(rng.choice(alphabet) for _ in range(298))


#: name -> password. Each is distinctive: a 6-character run of it cannot occur in an artifact by chance.
CORPUS = {
    "issue-repro": 'Rt"Zx9é\\Kq%&<9',
    "quotes-backslashes": "q'uO\\\"te\\\\Bk7\"Lm`x'",
    "non-ascii": "Ünï©ødé-Ωmeğa-喜欢-🙂Wq",
    "percent-amp-lt-whitespace": " pct%41%zz +&amp;<b>\tJw&lt;%2F Vq7 ",
    "very-long": _long_password(),
}

#: kind -> the faults of that run, the journeys it runs (``-k``) and what must happen to the login journey. The
#: logout journey signs in on its own (through the API, the password in a JSON body) and fails after that with
#: ``logout-broken``: its evidence holds that exchange and its trace the signed-in calls after it (Bearer headers).
KINDS = {
    "login-fails": (["login-rejected"], "login", "failed"),
    "login-passes": (["logout-broken"], "login or logout", "passed"),
}
#: Also render the HTML report of these passwords' failing runs (10 s each: not all, to stay CI-sized).
RENDER = {"issue-repro", "very-long"}


# -- the oracle ---------------------------------------------------------------------------------------------


def _b64_inner(data: bytes, urlsafe: bool) -> list[bytes]:
    """Base64 characters determined by ``data`` alone, ``data`` at byte offset 0, 1 or 2 of an encoded stream."""
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    out = []
    for offset in range(3):
        text = enc(bytes(offset) + data + bytes(3))
        skip = (offset * 8 + 5) // 6  # characters that also hold bits of the bytes before
        keep = ((offset + len(data)) * 8) // 6  # characters made of data's bits only end here
        if keep - skip >= 4:
            out.append(text[skip:keep])
    return out


def fragments(secret: str) -> dict[bytes, str]:
    """Every byte string whose presence would reveal a 6-character run of ``secret`` -> what it is."""
    runs = [secret[i:i + RUN] for i in range(max(1, len(secret) - RUN + 1))]
    found: dict[bytes, str] = {}
    for run in runs:
        forms = {
            "raw": run,
            "JSON-escaped": json.dumps(run)[1:-1],
            "JSON-escaped (UTF-8)": json.dumps(run, ensure_ascii=False)[1:-1],
            "URL-encoded (quote)": quote(run, safe=""),
            "URL-encoded (quote_plus)": quote_plus(run, safe=""),
            "HTML-escaped": html.escape(run),
        }
        for what, text in forms.items():
            found.setdefault(text.encode("utf-8"), f"{what} run {run!r}")
        for urlsafe in (False, True):
            for inner in _b64_inner(run.encode("utf-8"), urlsafe):
                found.setdefault(inner, f"base64{'url' if urlsafe else ''} of run {run!r}")
    return found


def blobs(root: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under ``root``, and every member of every zip inside, at any depth."""
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield from _unpack(str(path.relative_to(root)), path.read_bytes())


def _unpack(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    yield name, data
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for member in archive.namelist():
                    yield from _unpack(f"{name}!{member}", archive.read(member))
        except zipfile.BadZipFile:
            pass


def _members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(m, archive.read(m)) for m in archive.namelist()]


def search(root: Path, secret: str) -> tuple[int, list[str]]:
    """(bytes searched, leaks)."""
    needles = fragments(secret)
    searched, leaks = 0, []
    for name, data in blobs(root):
        searched += len(data)
        for needle, what in needles.items():
            if needle in data:
                leaks.append(f"{name}: {what}")
                break
    return searched, leaks


def name_of(password: str) -> str:
    return next(name for name, value in CORPUS.items() if value == password)


# -- the runs -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[(p, k) for p in CORPUS for k in KINDS], ids=lambda pk: f"{pk[0]}-{pk[1]}")
def hostile_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path, str, str]:
    name, kind = request.param
    password = CORPUS[name]
    tmp = tmp_path_factory.mktemp(f"pw-{name}-{kind}")
    faults, selection, _ = KINDS[kind]
    args = ["--env", "sandbox", "-m", "smoke", "-k", selection, "-p", "no:randomly"]
    for fault in faults:
        args += ["--sandbox-fault", fault]
    run = run_suite(tmp, *args, env={"MT_SMOKE_PASSWORD": password, "GITHUB_STEP_SUMMARY": str(tmp / "step.md")},
                    timeout=240)
    (tmp / "output.log").write_text(run.output, encoding="utf-8")
    if report_html.available() and kind == "login-fails" and name in RENDER:
        report_html.render(tmp / "reports", single_file=False, previous=None)  # the run folder ($MT_REPORTS_DIR)
    return run, tmp, password, kind


def test_hostile_password_leaves_no_fragment_in_any_artifact(hostile_run: tuple[Run, Path, str, str]) -> None:
    run, tmp, password, kind = hostile_run
    _, _, login_outcome = KINDS[kind]
    # The runs did what they are for: the journeys failed (so evidence was kept) and the sign-in did not crash
    # the stand-in (a non-ASCII password once did: the login journey then fails for another reason).
    assert run.outcomes.get("test_login_through_ui_shows_user_menu_and_tabs") == login_outcome, run.output
    assert run.failed, run.output
    traces = list(tmp.rglob("evidence/*/trace*.zip"))
    assert traces, "no trace was kept: the search below would prove nothing"
    if kind == "login-passes":
        assert run.outcomes.get("test_logout_returns_to_anonymous") == "failed", run.output
    elif name_of(password) in RENDER and report_html.available():
        assert list(tmp.rglob("allure-report/index.html")), "the HTML report was not rendered"
    # The sign-in is not in any trace at all (tracing stopped around it), masked or not.
    logins = [f"{t.name}!{m}" for t in traces for m, data in _members(t) if m.endswith("trace.network")
              and any("/api/auth/login" in json.loads(line).get("snapshot", {}).get("request", {}).get("url", "")
                      for line in data.decode("utf-8").splitlines() if line.strip())]
    assert not logins, f"a trace recorded the login request: {logins}"
    searched, leaks = search(tmp, password)
    assert searched > 100_000, f"only {searched} bytes searched: did the run write its reports?"
    assert not leaks, f"{len(leaks)} leak(s) of the password:\n" + "\n".join(leaks[:20])


def test_oracle_finds_a_fragment_in_every_encoding(tmp_path: Path) -> None:
    """The search above would see a leak: a fragment planted in each encoding, inside JSON, a zip and base64,
    is found (and a clean folder is not)."""
    secret = CORPUS["issue-repro"]
    run = secret[3:9]
    planted = {
        "raw.txt": f"x {run} y".encode(),
        "json.json": json.dumps({"password": "**" + secret[2:]}).encode(),
        "quote.log": quote(secret, safe="").encode(),
        "plus.log": quote_plus(secret[1:8]).encode(),
        "page.html": html.escape(f"<p>{secret[4:]}</p>").encode(),
    }
    for offset in range(3):
        planted[f"b64-{offset}.txt"] = base64.b64encode(b"z" * offset + secret[5:12].encode()).decode().encode()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("trace.network", json.dumps({"postData": secret}))
    planted["trace.zip"] = archive.getvalue()
    for name, data in planted.items():
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_bytes(data)
        assert search(folder, secret)[1], f"the oracle missed the fragment in {name}"
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "summary.json").write_text(json.dumps({"password": "********", "note": "Zx9 Kq% &<"}))
    assert search(clean, secret)[1] == []
