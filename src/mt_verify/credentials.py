"""The smoke user's credentials: read from the environment variables an environment file names, never stored."""

from __future__ import annotations

import os
from dataclasses import dataclass

from mt_verify.config import Environment
from mt_verify.errors import SuiteError
from mt_verify.redact import register_secret


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='********')"


def smoke_credentials_from(env: Environment) -> Credentials | str:
    """The smoke user of ``env``, with the password registered for redaction; when a variable is unset, the reason
    to skip the tier (a :class:`SuiteError` instead when ``smoke.required``)."""
    smoke = env.smoke
    missing = [n for n in (smoke.username_env, smoke.password_env) if not os.environ.get(n)]
    if missing:
        text = f"[{env.name}] smoke user credentials not set: {', '.join(missing)}"
        if smoke.required:
            raise SuiteError(text + " (smoke.required is true)")
        return text
    creds = Credentials(os.environ[smoke.username_env], os.environ[smoke.password_env])
    register_secret(creds.password)
    return creds
