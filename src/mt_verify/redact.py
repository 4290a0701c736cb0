"""Keep credentials out of everything the suite writes.

A secret (the smoke password, a token learnt at run time) is registered once with :func:`register_secret`;
from then on :func:`redact_text` and :func:`redact_bytes` mask it in every form it can take on the way into a
report, and so do :func:`scrub_file` / :func:`scrub_tree` for whole files, zip archives (Playwright traces,
Allure attachments) member by member:

- as it is (text, and its UTF-8 bytes in binary files);
- JSON-escaped (``\\"``, ``\\\\``, ``\\u00e9`` or the raw character), also twice (JSON inside a JSON string) and
  with ``\\/``; Python-escaped (``unicode_escape``, as ``repr`` writes it);
- URL-encoded (``quote`` and ``quote_plus``, with and without ``/`` kept, upper- or lower-case hex);
- HTML/XML-escaped (``&quot;``, ``&#x27;``, ``&#39;``, ``&#34;``, ``&amp;``, ``&lt;``, ``&gt;``);
- base64, standard and URL-safe, at each of the three byte alignments a secret can have inside a larger base64
  string (the characters that depend only on the secret's bytes);
- and in part: any run of :data:`RUN` characters of the secret, in each of those encodings (so a secret cut by
  a truncation, or half-masked by a field regex that stopped at an escaped quote, still leaves nothing).

Why runs and not only whole values: the leak this closes (issue 11) was a JSON field regex that stopped at the
first ``\\"`` of a password and left the rest in the trace. Masking every covered character, not the whole value
only, makes the result independent of where a writer cut or escaped it.

How: all forms of all secrets go into one Aho-Corasick automaton (one pass over the text, every occurrence found,
overlapping ones too); the union of the matched spans is replaced, each maximal span by one :data:`MASK`.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import AnyStr
from urllib.parse import quote, quote_plus

SENSITIVE_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization", "x-csrf-token"}
MASK = "********"
#: Length of the shortest run of a secret that is masked wherever it appears (a secret shorter than this is
#: masked whole). The selftests' corpus searches for runs of this length.
RUN = 6
#: Shortest secret accepted (shorter values would mask ordinary words).
MIN_SECRET = 4

# JWTs (three base64url parts) and JSON fields that carry secrets (an escaped quote inside does not end them).
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_FIELDS = re.compile(
    r'("(?:access_token|refresh_token|password|token|csrf_token|auth_token)"\s*:\s*)"(?:[^"\\]|\\.)*"',
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)

_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Mask this value wherever it appears, in any encoding (passwords, tokens learnt at run time)."""
    if value and len(value) >= MIN_SECRET:
        _known.add(value)


def known_secrets() -> Iterable[str]:
    return tuple(_known)


# -- the forms a secret can take -----------------------------------------------------------------------------


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _json(text: str, ascii_only: bool) -> str:
    return json.dumps(text, ensure_ascii=ascii_only)[1:-1]


def _py(text: str) -> str:
    return text.encode("unicode_escape", "backslashreplace").decode("ascii")


#: Encodings that work character by character: the encoding of a run is a substring of the encoding of the
#: whole, so masking every encoded run covers every encoded occurrence.
_CHARWISE: tuple[Callable[[str], str], ...] = (
    lambda s: s,
    lambda s: _json(s, True),
    lambda s: _json(s, False),
    lambda s: _json(_json(s, True), True),
    lambda s: _json(_json(s, False), False),
    lambda s: _json(s, False).replace("/", "\\/"),
    _py,
    lambda s: _py(s).replace('"', '\\"').replace("'", "\\'"),
    lambda s: quote(s, safe=""),
    lambda s: quote(s),
    lambda s: quote_plus(s, safe=""),
    lambda s: quote_plus(s),
    lambda s: _lower_hex(quote(s, safe="")),
    lambda s: _lower_hex(quote_plus(s, safe="")),
    lambda s: html.escape(s, quote=True),
    lambda s: html.escape(s, quote=False),
    lambda s: html.escape(s, quote=True).replace("&#x27;", "&#39;").replace("&quot;", "&#34;"),
    lambda s: html.escape(s, quote=True).replace("&#x27;", "&apos;"),
    lambda s: html.escape(_json(s, False), quote=True),
)


def _runs(text: str, length: int) -> list[str]:
    if len(text) <= length:
        return [text]
    return [text[i:i + length] for i in range(len(text) - length + 1)]


def base64_cores(data: bytes, *, urlsafe: bool = False) -> list[str]:
    """The base64 characters that depend only on ``data``, for each of the 3 byte offsets ``data`` can have
    inside a larger base64-encoded string (so these are substrings of any such encoding)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    cores = []
    for k in range(3):
        chars = encode(b"\0" * k + data + b"\0\0").decode("ascii")
        first = -(-8 * k // 6)  # the first character whose 6 bits all lie within data
        last = (8 * (k + len(data))) // 6  # one past the last such character
        if last > first:
            cores.append(chars[first:last])
    return cores


def secret_forms(secret: str) -> set[str]:
    """Every string whose presence in a text would reveal a run of ``secret`` (see the module docstring)."""
    forms: set[str] = set()
    for run in _runs(secret, RUN):
        for encode in _CHARWISE:
            forms.add(encode(run))
    # base64: a run of RUN characters is at least RUN bytes, of which at least 8*RUN//6 - 1 base64 characters
    # (7) depend on those bytes alone, whatever their alignment.
    shortest = min(len(secret.encode("utf-8", "surrogatepass")), RUN)
    b64_run = max(4, 8 * shortest // 6 - 1)
    for source in {secret, _json(secret, True), _json(secret, False)}:
        data = source.encode("utf-8", "surrogatepass")
        for urlsafe in (False, True):
            for core in base64_cores(data, urlsafe=urlsafe):
                if len(core) >= b64_run:
                    forms.update(_runs(core, b64_run))
    return {f for f in forms if f}


# -- matching ------------------------------------------------------------------------------------------------


class _Matcher:
    """Every occurrence of any of ``words``, overlapping ones too, found in one pass (Aho-Corasick, in C).

    Why not one regular expression: a trie-shaped pattern of a token's ~800 forms took ~0.1 s to compile, once
    per secret learnt, and scanned five times slower; this automaton builds in a millisecond."""

    def __init__(self, words: Iterable[str]) -> None:
        import ahocorasick

        self._automaton = ahocorasick.Automaton()
        for word in words:
            self._automaton.add_word(word, len(word))
        self._automaton.make_automaton()

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The union of the matched spans, as sorted, disjoint ``(start, end)`` pairs."""
        found = sorted((end + 1 - length, end + 1) for end, length in self._automaton.iter(text))
        spans: list[tuple[int, int]] = []
        for start, stop in found:
            if spans and start <= spans[-1][1]:
                if stop > spans[-1][1]:
                    spans[-1] = (spans[-1][0], stop)
            else:
                spans.append((start, stop))
        return spans


def _forms(secrets: frozenset[str]) -> set[str]:
    forms: set[str] = set()
    for secret in secrets:
        forms |= secret_forms(secret)
    return forms


@lru_cache(maxsize=8)
def _text_matcher(secrets: frozenset[str]) -> _Matcher | None:
    forms = _forms(secrets)
    return _Matcher(forms) if forms else None


@lru_cache(maxsize=8)
def _bytes_matcher(secrets: frozenset[str]) -> _Matcher | None:
    """Binary data is matched as Latin-1 text (one character a byte), against each form's UTF-8 bytes."""
    forms = _forms(secrets)
    if not forms:
        return None
    return _Matcher({f.encode("utf-8", "surrogatepass").decode("latin-1") for f in forms})


def _splice(data: AnyStr, spans: list[tuple[int, int]], mask: AnyStr) -> AnyStr:
    """``data`` with each span replaced by ``mask`` (text or bytes alike)."""
    parts, pos = [], 0
    for start, end in spans:
        parts += [data[pos:start], mask]
        pos = end
    parts.append(data[pos:])
    return data[:0].join(parts)


def _mask_known(text: str) -> str:
    matcher = _text_matcher(frozenset(_known))
    return text if matcher is None else _splice(text, matcher.spans(text), MASK)


def redact_text(text: str) -> str:
    text = _mask_known(text)
    text = _JWT.sub(MASK, text)
    text = _FIELDS.sub(lambda m: m.group(1) + f'"{MASK}"', text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)


def redact_bytes(data: bytes) -> bytes:
    """Mask known secrets (every form, as UTF-8) in binary data; the rest of the bytes are left as they are."""
    matcher = _bytes_matcher(frozenset(_known))
    return data if matcher is None else _splice(data, matcher.spans(data.decode("latin-1")), MASK.encode())


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (MASK if k.lower() in SENSITIVE_HEADERS else redact_text(v)) for k, v in headers.items()}


# -- files ---------------------------------------------------------------------------------------------------


def redact_blob(data: bytes) -> bytes:
    """Whatever a file holds: a zip (member by member, nested zips too), UTF-8 text, or other bytes."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        try:
            return _redact_zip(data)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError):
            pass  # not a readable zip after all: treat as bytes
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return redact_bytes(data)
    clean = redact_text(text)
    return data if clean == text else clean.encode("utf-8")


def _redact_zip(data: bytes) -> bytes:
    changed = False
    members: list[tuple[zipfile.ZipInfo, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as zin:
        for info in zin.infolist():
            body = zin.read(info)
            clean = redact_blob(body) if not info.is_dir() else body
            changed |= clean != body
            members.append((info, clean))
    if not changed:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info, body in members:
            zout.writestr(info.filename, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def redact_zip(src: Path, dst: Path) -> None:
    """Copy an archive, masking secrets in every member (a Playwright trace before it leaves the scratch)."""
    dst.write_bytes(redact_blob(src.read_bytes()))


def scrub_file(path: Path) -> bool:
    """Redact one file in place (text, binary, or zip members); True when it changed."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    clean = redact_blob(data)
    if clean == data:
        return False
    path.write_bytes(clean)
    return True


def scrub_tree(root: Path) -> int:
    """Redact every file under ``root`` in place (text, binary, zip members); return how many changed."""
    if not root.is_dir():
        return 0
    return sum(1 for path in sorted(root.rglob("*")) if path.is_file() and not path.is_symlink() and scrub_file(path))
