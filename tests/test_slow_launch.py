"""A launch whose supervisor is slower than the launcher's budget is abandoned atomically: the late supervisor
never starts the job, so the retry elsewhere is the only copy."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from harness import FAST, SluiceHome

from console.demo.localnode import LocalFleet


def _slow_first_setsid(folder: Path) -> Path:
    """A wrapper putting a `setsid` first on PATH whose first call waits until the launcher has given up (a
    loaded worker); every call records when the real setsid it ran returned."""
    real = shutil.which("setsid")
    assert real, "setsid (util-linux) is needed on the test machine"
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "setsid"
    fake.write_text("#!/bin/sh\n"
                    # The first call (the first launch's supervisor, run in the attempt folder) waits until
                    # the launcher gave up on it: late by construction, whatever the machine's speed.
                    f'if mkdir "{folder}/slow.taken" 2>/dev/null; then\n'
                    '  i=0; while [ ! -d abandoned ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done; slow=1\n'
                    'fi\n'
                    f'{real} "$@"\n'
                    f'[ -n "${{slow:-}}" ] && touch "{folder}/slow.done"\n'
                    "exit 0\n")
    fake.chmod(0o755)
    wrapper = folder / "slow-path"
    wrapper.write_text(f'#!/bin/sh\nPATH="{bin_dir}:$PATH" exec "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


async def test_a_supervisor_that_starts_late_never_runs_an_abandoned_attempt(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    wrapper = _slow_first_setsid(tmp_path / "worker-env")
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1", wrapper=[str(wrapper)])
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=1, workdir=str(tmp_path / "workers")))
        home.add_job("once", f"command = 'echo start >> {ledger}; echo done'\n")
        await home.start_scheduler(FAST)
        try:
            run_id = await home.submit("once")
            final = await home.wait_ended(run_id, timeout=60)
            deadline = time.monotonic() + 30
            while not (tmp_path / "worker-env" / "slow.done").exists():  # the late supervisor has had its say
                assert time.monotonic() < deadline, "the slow supervisor never returned"
                await asyncio.sleep(0.05)
        finally:
            await home.stop_scheduler()
    assert ledger.read_text().splitlines() == ["start"], "the abandoned attempt's late supervisor started nothing"
    assert final["status"] == "succeeded"
    assert [a["reason"] for a in final["attempts"]] == ["launch_failed", "exit"]
    assert "abandoned" in (final["attempts"][0]["error"] or "")
