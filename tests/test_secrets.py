"""A job's secrets reach its environment and nothing else: no store, log, event, output, command line or worker file."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import subprocess
import time
from pathlib import Path

import pytest
from cluster import cluster  # noqa: F401  (fixture)
from harness import SluiceHome
from reliability import spawn_scheduler, stop_scheduler, wait_all_ended

from console.demo.localnode import LocalFleet
from scheduler.config import load_job_file
from scheduler.errors import ConfigError
from scheduler.failpoints import CRASH_STATUS
from scheduler.secrets import SecretMissing, read_secrets

#: The job proves it got each secret by its hash, and waits on a gate so the test can look while it runs.
SECRET_JOB = """
command = '''
printf '%s' "$API_TOKEN" | sha256sum | cut -c1-64
printf '%s' "$DB_PASSWORD" | sha256sum | cut -c1-64
while [ ! -e {gate} ]; do sleep 0.05; done
'''
[params]
gate = ""
[secrets]
API_TOKEN = { env = "SLUICE_TEST_ETL_TOKEN" }
DB_PASSWORD = { file = "FILE" }
"""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _files_holding(root: Path, marker: bytes) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file() and marker in path.read_bytes()]


async def test_secrets_reach_the_job_and_leak_nowhere(
        cluster: SluiceHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token_marker, password_marker = secrets.token_hex(16), secrets.token_hex(16)
    token = f"tok-{token_marker}\nline two 'single' \"double\" $(touch x) `id` \\ é"
    password = f"pw-{password_marker}"
    secret_file = tmp_path / "db_password"
    secret_file.write_text(password + "\n", encoding="utf-8")
    monkeypatch.setenv("SLUICE_TEST_ETL_TOKEN", token)
    cluster.add_job("uses_secrets", SECRET_JOB.replace("FILE", str(secret_file)))
    gate = tmp_path / "gate"
    await cluster.start_scheduler()
    run_id = await cluster.submit("uses_secrets", f"gate={gate}")
    await cluster.wait_for(run_id, {"running"})
    deadline = time.monotonic() + 30
    while (await cluster.cli("logs", str(run_id))).stdout.count(b"\n") < 2:  # the job reached its gate
        assert time.monotonic() < deadline, "the job printed no digests"
        await asyncio.sleep(0.05)
    markers = [token_marker.encode(), password_marker.encode()]
    # While the job runs: no command line on the machine and no file of the worker holds a secret.
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, check=True).stdout
    workers = tmp_path / "workers"
    for marker in markers:
        assert marker not in processes
        assert _files_holding(workers, marker) == []
    gate.touch()
    run = await cluster.wait_ended(run_id)
    assert run["status"] == "succeeded"
    out = (await cluster.cli("logs", str(run_id))).text
    assert out.split() == [_digest(token), _digest(password)]
    shown = [(await cluster.cli("show", str(run_id), "--json")).stdout,
             (await cluster.cli("events", "--json")).stdout, (await cluster.cli("show", str(run_id))).stdout]
    await cluster.stop_scheduler()
    for marker in markers:
        assert _files_holding(cluster.home.root, marker) == []  # the store, its WAL, the log store
        assert not any(marker in text for text in shown)
        assert marker.decode() not in caplog.text


async def test_a_missing_secret_refuses_the_dispatch_with_an_event(
        cluster: SluiceHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.delenv("SLUICE_TEST_ETL_TOKEN", raising=False)
    cluster.add_job("uses_secrets", SECRET_JOB.replace("FILE", str(tmp_path / "absent")))
    await cluster.start_scheduler()
    run = await cluster.wait_ended(await cluster.submit("uses_secrets", f"gate={tmp_path / 'gate'}"))
    assert (run["status"], run["attempts"]) == ("failed", [])
    refused = run["events"][-1]
    assert refused["kind"] == "dispatch_refused"
    assert refused["detail"].startswith("secret API_TOKEN: the environment variable SLUICE_TEST_ETL_TOKEN is not "
                                        "set where the scheduler runs; not started")


@pytest.mark.parametrize(("secrets_table", "said"), [
    ('TOKEN = { env = "A", file = "/x" }', 'expected exactly one of env = "VARIABLE" or file = "PATH"'),
    ("TOKEN = { }", 'expected exactly one of env = "VARIABLE" or file = "PATH"'),
    ('PATH = { env = "A" }', "secret name 'PATH' is reserved"),
    ('SLUICE_X = { env = "A" }', "secret name 'SLUICE_X' is reserved"),
    ('LD_PRELOAD = { env = "A" }', "secret name 'LD_PRELOAD' is reserved"),
    ('lower = { env = "A" }', "secret name 'lower' must be upper-case letters, digits and _"),
])
def test_a_bad_secrets_table_is_refused_at_load(tmp_path: Path, secrets_table: str, said: str) -> None:
    path = tmp_path / "job.toml"
    path.write_text(f'command = "true"\n[secrets]\n{secrets_table}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_job_file(path)
    assert str(refused.value).startswith(f"{path}: secrets") and said in str(refused.value)


async def test_a_relaunch_whose_secret_is_gone_never_starts_the_job(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger, log = tmp_path / "ledger.txt", tmp_path / "scheduler.log"
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1")
        home = SluiceHome(tmp_path, fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
        home.add_job("secretive", f'command = "echo $SLUICE_RUN_ID >> {ledger}"\n'
                                  '[secrets]\nTOKEN = { env = "SLUICE_TEST_TOKEN" }\n')
        run_id = await home.submit("secretive")
        monkeypatch.setenv("SLUICE_TEST_TOKEN", "value")
        first = await spawn_scheduler(home, log, crash_at="dispatch_committed")
        assert await asyncio.wait_for(first.wait(), 60) == CRASH_STATUS
        # The attempt is committed as starting and was never launched; the restarted scheduler lacks the secret.
        monkeypatch.delenv("SLUICE_TEST_TOKEN")
        second = await spawn_scheduler(home, log)
        try:
            await wait_all_ended(home, [run_id], timeout=60)
        finally:
            await stop_scheduler(second)
        run = await home.run_json(run_id)
    assert not ledger.exists(), "the job started without its secret"
    assert run["status"] == "failed"
    assert run["attempts"][0]["reason"] == "launch_failed"
    details = [event["detail"] or "" for event in run["events"]]
    assert any("a secret it needs cannot be read on the bastion" in detail for detail in details)
    assert run["events"][-1]["kind"] == "dispatch_refused"


def test_an_empty_secret_is_refused_like_a_missing_one(tmp_path: Path) -> None:
    empty_file = tmp_path / "token"
    empty_file.write_text("\n", encoding="utf-8")
    for source, environ in (({"env": "ETL_TOKEN"}, {"ETL_TOKEN": ""}), ({"file": str(empty_file)}, {})):
        with pytest.raises(SecretMissing, match="secret TOKEN is empty: a job must never start with an empty"):
            read_secrets({"secrets": {"TOKEN": source}}, environ)
