"""Reports of a run: summary (JSON + Markdown), Allure results and HTML, JUnit, evidence.

- :mod:`mt_verify.reporting.plugin`: the pytest plugin (loaded by the root conftest);
- :func:`mt_verify.reporting.summary.add_gate_section`: the gate's decision into a run's summary;
- :func:`mt_verify.reporting.html.render`: the Allure HTML report of a run, with history;
- :func:`mt_verify.reporting.evidence.evidence_dir`: where a test saves its evidence;
- :mod:`mt_verify.reporting.attach`: ``step``, ``attach_text``, ``attach_file`` for the tiers (redacted, saved as
  evidence, no-ops without Allure).

Importing this package is cheap (no allure, playwright or kubernetes imports).
"""
