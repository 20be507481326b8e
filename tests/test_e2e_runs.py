"""End to end through the CLI, against in-process asyncssh workers and real OpenSSH sshd workers."""

from __future__ import annotations

import asyncio
import getpass

from cluster import cluster  # noqa: F401  (fixture)
from harness import SluiceHome

BINARY_JOB = r"""
command = '''printf 'first line\n'; printf 'bin:\001\002\377\000\033[0m end\n' ; printf 'to stderr\n' >&2; printf 'no newline at end'
'''
"""
BINARY_STDOUT = b"first line\nbin:\x01\x02\xff\x00\x1b[0m end\nno newline at end"


async def test_run_succeeds_and_logs_are_byte_exact(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("binary", BINARY_JOB)
    await cluster.start_scheduler()
    run_id = await cluster.submit("binary")
    run = await cluster.wait_ended(run_id)
    assert run["status"] == "succeeded"
    assert run["exit_code"] == 0
    assert [a["reason"] for a in run["attempts"]] == ["exit"]
    stdout = await cluster.cli("logs", str(run_id))
    assert stdout.code == 0 and stdout.stdout == BINARY_STDOUT
    stderr = await cluster.cli("logs", str(run_id), "--stderr")
    assert stderr.stdout == b"to stderr\n"


async def test_job_environment_and_params_arrive_literally(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("echo_params", """
command = "printf '%s|' \\"$SLUICE_RUN_ID\\" \\"$SLUICE_ATTEMPT\\" \\"$SLUICE_JOB\\" \\"$SLUICE_PARAM_NASTY\\"; printf '%s' {nasty}"
[params]
nasty = "plain"
""")
    await cluster.start_scheduler()
    nasty = "$(touch /tmp/pwned) `id`; rm -rf / && echo 'quoted' \"double\" *.txt -n"
    run_id = await cluster.submit("echo_params", f"nasty={nasty}")
    assert (await cluster.wait_ended(run_id))["status"] == "succeeded"
    out = (await cluster.cli("logs", str(run_id))).text
    assert out == f"{run_id}|1|echo_params|{nasty}|{nasty}"


async def test_exit_code_fails_the_run_without_retry_by_default(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("exits", 'command = "echo failing; exit {code}"\n[params]\ncode = "3"\n')
    await cluster.start_scheduler()
    run_id = await cluster.submit("exits", "code=42")
    run = await cluster.wait_ended(run_id)
    assert (run["status"], run["exit_code"], run["attempt"]) == ("failed", 42, 1)
    wait = await cluster.cli("wait", str(run_id), "--timeout", "5")
    assert wait.code == 1


async def test_retry_with_backoff_until_success(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("flaky", """
command = "if [ $SLUICE_ATTEMPT -lt 3 ]; then echo nope >&2; exit 75; fi; echo ok"
[retry]
max_attempts = 4
backoff = "0.3s"
on_exit_codes = [75]
""")
    await cluster.start_scheduler()
    run_id = await cluster.submit("flaky")
    run = await cluster.wait_ended(run_id)
    assert run["status"] == "succeeded"
    assert [a["exit_code"] for a in run["attempts"]] == [75, 75, 0]
    kinds = [e["new_status"] for e in run["events"] if e["new_status"]]
    assert kinds == ["queued", "running", "retry_wait", "queued", "running", "retry_wait", "queued", "running",
                     "succeeded"]
    assert (await cluster.cli("wait", str(run_id))).code == 0


async def test_exit_code_outside_on_exit_codes_is_not_retried(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("picky", 'command = "exit 9"\n[retry]\nmax_attempts = 3\nbackoff = "0.1s"\non_exit_codes = [75]\n')
    await cluster.start_scheduler()
    run = await cluster.wait_ended(await cluster.submit("picky"))
    assert (run["status"], run["attempt"]) == ("failed", 1)


async def test_timeout_kills_the_process_group(cluster: SluiceHome) -> None:  # noqa: F811
    marker = cluster.root / "child-still-alive"
    cluster.add_job("slow", f"""
command = "(sleep 3; touch {marker}) & sleep 30"
timeout = "0.5s"
kill_grace = "0.5s"
""")
    await cluster.start_scheduler()
    run = await cluster.wait_ended(await cluster.submit("slow"), timeout=20)
    assert run["status"] == "timed_out"
    assert run["attempts"][0]["reason"] == "timeout"
    await asyncio.sleep(3.5)
    assert not marker.exists(), "a child of the job survived the timeout kill"


async def test_cancel_running_run_records_the_operator(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("forever", 'command = "echo started; sleep 60"\nkill_grace = "1s"\n')
    await cluster.start_scheduler()
    run_id = await cluster.submit("forever")
    await cluster.wait_for(run_id, {"running"})
    result = await cluster.cli("cancel", str(run_id), "--reason", "wrong day")
    assert result.code == 0, result.stderr
    run = await cluster.wait_ended(run_id, timeout=15)
    assert run["status"] == "cancelled"
    assert run["attempts"][0]["reason"] == "cancelled"
    request = [e for e in run["events"] if e["kind"] == "cancel_requested"]
    assert request and request[0]["actor"] == getpass.getuser() and request[0]["detail"] == "wrong day"


async def test_cancel_queued_run_is_immediate_without_scheduler(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("later", 'command = "true"\n')
    run_id = await cluster.submit("later")
    assert (await cluster.cli("cancel", str(run_id))).code == 0
    run = await cluster.run_json(run_id)
    assert run["status"] == "cancelled" and run["attempts"] == []


async def test_idempotent_submit_returns_the_same_run(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("once", 'command = "true"\n')
    first = await cluster.cli_json("submit", "once", "--key", "nightly-2026-11-22")
    second = await cluster.cli_json("submit", "once", "--key", "nightly-2026-11-22")
    assert first["run_id"] == second["run_id"] and second["created"] is False
    runs = await cluster.cli_json("runs")
    assert len(runs["runs"]) == 1


async def test_paused_queue_holds_runs_until_resumed(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("quick", 'command = "echo hi"\nqueue = "batch"\n')
    run_id = await cluster.submit("quick")
    assert (await cluster.cli("pause", "batch")).code == 0
    await cluster.run_until_idle()  # whatever a scheduler would start now, it has started
    runs = await cluster.cli_json("runs")
    assert runs["runs"][0]["status"] == "queued"
    assert runs["runs"][0]["wait_reason"] == "queue batch is paused"
    assert (await cluster.cli("resume", "batch")).code == 0
    await cluster.start_scheduler()
    assert (await cluster.wait_ended(run_id))["status"] == "succeeded"


async def test_drained_node_gets_no_new_runs(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("anywhere", 'command = "echo hi"\n')
    assert (await cluster.cli("drain", "n1", "--reason", "kernel update")).code == 0
    await cluster.start_scheduler()
    run_ids = [await cluster.submit("anywhere") for _ in range(4)]
    for run_id in run_ids:
        assert (await cluster.wait_ended(run_id))["node"] == "n2"
    nodes = {n["name"]: n for n in (await cluster.cli_json("nodes"))["nodes"]}
    assert nodes["n1"]["state"] == "drained" and nodes["n2"]["state"] == "up"


async def test_labels_place_runs_on_matching_nodes(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("needs_special", 'command = "echo hi"\nlabels = ["special"]\n')
    cluster.add_job("needs_gpu", 'command = "echo hi"\nlabels = ["gpu"]\n')
    await cluster.start_scheduler()
    special = await cluster.submit("needs_special")
    gpu = await cluster.submit("needs_gpu")
    assert (await cluster.wait_ended(special))["node"] == "n2"
    runs = {r["id"]: r for r in (await cluster.cli_json("runs"))["runs"]}
    assert runs[gpu]["status"] == "queued" and runs[gpu]["wait_reason"] == "no node has the labels gpu"


async def test_operator_retry_makes_a_new_attempt(cluster: SluiceHome) -> None:  # noqa: F811
    flag = cluster.root / "fixed"
    cluster.add_job("fixable", f'command = "test -e {flag}"\n')
    await cluster.start_scheduler()
    run_id = await cluster.submit("fixable")
    assert (await cluster.wait_ended(run_id))["status"] == "failed"
    flag.touch()
    assert (await cluster.cli("retry", str(run_id))).code == 0
    await cluster.wait_for(run_id, {"succeeded"})
    run = await cluster.run_json(run_id)
    assert [a["status"] for a in run["attempts"]] == ["failed", "succeeded"]
    assert any(e["kind"] == "retry" and e["actor"] == getpass.getuser() for e in run["events"])
