"""`sluice demo --no-console` runs its whole mix on in-process SSH workers and every run ends as expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_headless_demo_completes_its_mix(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "console.main", "demo", "--no-console", "--home", str(tmp_path)],
                            capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "demo complete: every run ended as expected" in result.stdout
    assert "UNEXPECTED" not in result.stdout and "Traceback" not in result.stderr
    summary = [line for line in result.stdout.splitlines() if line.startswith("ok ")]
    assert len(summary) == 23
    assert any("flaky_sync" in line and "attempts 2" in line for line in summary)
    assert any("doomed_migration" in line and "failed" in line for line in summary)
