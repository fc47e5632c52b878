"""Reports the identifiable-data check's figures over its corpus at the end of the test run."""

from __future__ import annotations

import pytest

# Filled by tests/content/test_privacy.py; read when the run's summary is printed.
PRIVACY_FIGURES = pytest.StashKey[dict[str, float]]()


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    figures = config.stash.get(PRIVACY_FIGURES, None)
    if not figures or "precision" not in figures:
        return
    line = (
        f"privacy corpus: {figures['identifying']:.0f} identifying, {figures['clean']:.0f} clean;"
        f" precision {figures['precision']:.2f}, recall {figures['recall']:.2f}"
    )
    if "us_per_kb" in figures:
        line += f"; {figures['us_per_kb']:.0f} µs per KB"
    terminalreporter.write_line(line)
