"""The suite's pytest plugins: :mod:`mt_verify.plugin` (options, the environment, shared fixtures, the outcome of
each test) and :mod:`mt_verify.reporting.plugin` (the run's reports)."""

pytest_plugins = ["mt_verify.plugin", "mt_verify.reporting.plugin"]
