"""What a job finds on its worker: the login's umask (or its own), its workdir from the login's home, a private script."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cluster import cluster  # noqa: F401  (fixture)
from harness import SluiceHome

from scheduler.config import load_job_file
from scheduler.errors import ConfigError


def _login_umask() -> int:
    """The umask the workers' logins start with: both test backends inherit the test process's."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


async def test_a_job_keeps_the_logins_umask_not_sluices(cluster: SluiceHome, tmp_path: Path) -> None:  # noqa: F811
    login = _login_umask()
    assert login != 0o077, "the test needs a login umask that differs from Sluice's own"
    out = tmp_path / "out"
    out.mkdir()
    cluster.add_job("writes", f"command = \"umask; touch {out}/plain\"\n")
    cluster.add_job("own_umask", f"command = \"touch {out}/own\"\numask = \"027\"\n")
    await cluster.start_scheduler()
    plain = await cluster.wait_ended(await cluster.submit("writes"))
    own = await cluster.wait_ended(await cluster.submit("own_umask"))
    assert plain["status"] == own["status"] == "succeeded"
    assert int((await cluster.cli("logs", str(plain["id"]))).text.strip(), 8) == login
    assert stat.S_IMODE((out / "plain").stat().st_mode) == 0o666 & ~login
    assert stat.S_IMODE((out / "own").stat().st_mode) == 0o640


async def test_the_job_script_on_the_worker_is_private(cluster: SluiceHome, tmp_path: Path) -> None:  # noqa: F811
    cluster.add_job("quiet", "command = \"true\"\n")
    await cluster.start_scheduler()
    run = await cluster.wait_ended(await cluster.submit("quiet"))
    assert run["status"] == "succeeded"
    scripts = list((tmp_path / "workers").glob("*/r*-a1/job.sh"))
    assert len(scripts) == 1
    assert stat.S_IMODE(scripts[0].stat().st_mode) == 0o600


@pytest.mark.parametrize("workdir", [".", "~", "~/", ""])
async def test_a_relative_workdir_starts_from_the_logins_home(
        cluster: SluiceHome, workdir: str) -> None:  # noqa: F811
    where = f"workdir = \"{workdir}\"\n" if workdir else ""
    cluster.add_job("where", 'command = "pwd -P; cd \\"$HOME\\" && pwd -P"\n' + where)
    await cluster.start_scheduler()
    run = await cluster.wait_ended(await cluster.submit("where"))
    assert run["status"] == "succeeded"
    here, home = (await cluster.cli("logs", str(run["id"]))).text.split()
    assert here == home


@pytest.mark.parametrize(("workdir", "said"), [
    ("~bob/data", "~user is not supported"),
    ("data\\nrm", "control characters"),
])
def test_a_workdir_the_shell_would_read_otherwise_is_refused_at_load(
        tmp_path: Path, workdir: str, said: str) -> None:
    path = tmp_path / "job.toml"
    path.write_text(f'command = "true"\nworkdir = "{workdir}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{path}: workdir: .*{said}"):
        load_job_file(path)


def test_a_umask_that_is_not_octal_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "job.toml"
    path.write_text('command = "true"\numask = "0999"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"umask: expected an octal umask such as \"022\""):
        load_job_file(path)
