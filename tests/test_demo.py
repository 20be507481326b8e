"""`sluice demo --no-console` runs its whole mix on in-process SSH workers, every run ends as expected, and its
throwaway home is gone afterwards (one demo run proves both: each takes ~16 s)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_headless_demo_completes_its_mix_and_leaves_no_home_behind(tmp_path: Path) -> None:
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    result = subprocess.run([sys.executable, "-m", "console.main", "demo", "--no-console"], env=env,
                            capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "demo complete: every run ended as expected" in result.stdout
    assert "UNEXPECTED" not in result.stdout and "Traceback" not in result.stderr
    summary = [line for line in result.stdout.splitlines() if line.startswith("ok ")]
    assert len(summary) == 23
    assert any("flaky_sync" in line and "attempts 2" in line for line in summary)
    assert any("doomed_migration" in line and "failed" in line for line in summary)
    # Finished, it leaves no home behind and says so.
    assert list((tmp_path / "tmp").iterdir()) == []
    assert "23 runs: 22 succeeded, 1 failed" in result.stdout
    assert "removed the demo's folder" in result.stdout
