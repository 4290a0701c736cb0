"""Certificates of the configured hosts: they verify, cover the host, and are not about to expire."""

from __future__ import annotations

import pytest

from mt_verify import nextsteps
from mt_verify.checks.tls import inspect, split_host
from mt_verify.config import Environment
from mt_verify.outcome import fail, warn
from mt_verify.probe import Probe
from mt_verify.session import environment_of, host_ids

pytestmark = [pytest.mark.health, pytest.mark.gate, pytest.mark.area("TLS")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    env = environment_of(metafunc.config)
    if env is not None and "tls_host" in metafunc.fixturenames:
        metafunc.parametrize("tls_host", env.tls.hosts or [None], ids=host_ids(env.tls.hosts) or ["none"])


def test_tls_certificate_valid(environment: Environment, env_name: str, tls_host: str | None, probe: Probe) -> None:
    if tls_host is None:
        pytest.skip("no TLS hosts configured (tls.hosts)")
    host, port = split_host(tls_host, environment.tls.port)
    try:
        cert = inspect(host, port, environment.http.ca_file, environment.http.timeout)
    except OSError as exc:
        refused = probe.reachability.connects(host, port)
        if refused is None:  # TCP connects: the TLS handshake itself failed or hung
            fail(env_name, f"certificate of {tls_host}", "a TLS handshake", f"{type(exc).__name__}: {exc}",
                 next_step=nextsteps.certificate(environment, host))
        if probe.reachability.other_answering(host, port) is None:
            probe.reachability.require_any()
        fail(env_name, f"certificate of {tls_host}", f"a connection to {host}:{port}",
             f"{refused} while other hosts of the environment answer", next_step=nextsteps.frontend_down(environment))
    days = cert.days_left
    expiry = f"notAfter {cert.not_after:%Y-%m-%d %H:%M} UTC ({days:.1f} days)"
    renew = nextsteps.certificate(environment, host)
    if not cert.verified:
        fail(env_name, f"certificate of {tls_host}", "a certificate that verifies for the host",
             cert.error, details=f"{cert.subject}; {expiry}", next_step=renew)
    if days <= environment.tls.critical_days:
        fail(env_name, f"certificate of {tls_host}", f"more than {environment.tls.critical_days} days left",
             expiry, next_step=renew)
    if days <= environment.tls.min_days:
        warn(env_name, f"certificate of {tls_host}", f"{expiry}, within min_days {environment.tls.min_days}")
