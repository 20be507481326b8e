"""Host keys, over both SSH servers: the global known_hosts file counts, an unknown key and a changed key are
refused with different messages (the changed one loud, naming the file:line), and trust on first use only
with an explicit `host_key = "accept-new"`, which records the fingerprint and still refuses a changed key."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest
from harness import SluiceHome
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet, node_toml_table


@dataclass
class Worker:
    host: str
    port: int
    user: str
    identity_file: Path
    #: "type base64" of the host key the worker presents now.
    public_key: Callable[[], str]
    #: Bring the worker back on the same port with a new host key (reinstalled, or an impostor).
    replace_key: Callable[[], Awaitable[None]]

    def known_hosts_line(self) -> str:
        return f"[{self.host}]:{self.port} {self.public_key()}\n"

    def nodes_toml(self, known_hosts: Path, workdir: Path, host_key: str | None = None) -> str:
        table = node_toml_table(name="n1", host=self.host, port=self.port, user=self.user,
                                identity_file=self.identity_file, known_hosts=known_hosts, slots=2,
                                workdir=str(workdir))
        return table + (f'host_key = "{host_key}"\n' if host_key else "")


@pytest.fixture(params=["asyncssh", "openssh"])
async def worker(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Worker]:
    if request.param == "asyncssh":
        async with contextlib.AsyncExitStack() as stack:
            yield await _fleet_worker(stack, tmp_path)
    else:
        make: Callable[..., OpenSSHServer] = request.getfixturevalue("make_openssh_server")
        yield _sshd_worker(make("n1"))


async def _fleet_worker(stack: contextlib.AsyncExitStack, tmp_path: Path) -> Worker:
    fleets = [await stack.enter_async_context(LocalFleet(tmp_path / "keys"))]
    info = await fleets[0].start_node("n1")

    def public_key() -> str:
        key = asyncssh.read_private_key(fleets[-1].keys_dir / "host_key_n1")
        return " ".join(key.export_public_key().decode().split()[:2])

    async def replace_key() -> None:
        await fleets[-1].stop_node("n1")
        keys = tmp_path / f"keys{len(fleets)}"
        keys.mkdir(mode=0o700)
        # Same client key, so only the host key differs; a fresh keys folder makes a fresh host key.
        shutil.copy(fleets[0].client_key_path, keys / "client_key")
        fleets.append(await stack.enter_async_context(LocalFleet(keys)))
        await fleets[-1].start_node("n1", port=info.port)

    return Worker(info.host, info.port, fleets[0].user, fleets[0].client_key_path, public_key, replace_key)


def _sshd_worker(server: OpenSSHServer) -> Worker:
    def public_key() -> str:
        return " ".join(server.host_key_path.with_suffix(".pub").read_text().split()[:2])

    async def replace_key() -> None:
        server.stop()
        server.host_key_path.unlink()
        server.host_key_path.with_suffix(".pub").unlink()
        server.start()  # a fixed port: the same one; a missing host key: a new one

    return Worker(server.host, server.port, server.user, server.client_key_path, public_key, replace_key)


@pytest.fixture
def global_known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the transport looks for the machine-wide file (never the real /etc/ssh one); not created here."""
    path = tmp_path / "etc_ssh_known_hosts"
    monkeypatch.setenv("SLUICE_GLOBAL_KNOWN_HOSTS", str(path))
    return path


def fingerprint(tmp_path: Path, public_key: str) -> str:
    """The key's SHA256 fingerprint as ssh-keygen prints it: an oracle independent of Sluice."""
    pub = tmp_path / "oracle.pub"
    pub.write_text(public_key + "\n")
    listed = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    found = re.search(r"SHA256:[A-Za-z0-9+/]+", listed)
    assert found, listed
    return found.group(0)


async def run_job(home: SluiceHome) -> dict[str, object]:
    """Submit the job and run a scheduler until nothing more can happen: the run as `sluice show` has it."""
    run_id = await home.submit("quick")
    await home.run_until_idle()
    return await home.run_json(run_id)


async def node_row(home: SluiceHome) -> dict[str, str]:
    [node] = (await home.cli_json("nodes"))["nodes"]
    return node


async def accepted_events(home: SluiceHome) -> list[dict[str, str]]:
    return (await home.cli_json("events", "--kind", "host_key_accepted"))["events"]


def assert_verify_then_append(message: str, known_hosts: Path, worker: Worker) -> None:
    """The steps check the fingerprint before trusting the key, and never pipe keyscan into known_hosts."""
    assert f"ssh-keyscan -t ed25519 -p {worker.port} {worker.host} >" in message, "only the presented key's type"
    assert "ssh-keygen -lf" in message and "out of band" in message and "console" in message
    assert str(known_hosts) in message
    assert not re.search(r"ssh-keyscan[^;&|]*>>", message), "never 'append what keyscan returns'"


def new_home(tmp_path: Path, nodes_toml: str) -> SluiceHome:
    home = SluiceHome(tmp_path, nodes_toml)
    home.add_job("quick", 'command = "echo hi"\n')
    return home


async def test_a_node_trusted_only_through_the_global_file_runs_a_job(
        tmp_path: Path, worker: Worker, global_known_hosts: Path) -> None:
    global_known_hosts.write_text("# managed for the whole fleet\n" + worker.known_hosts_line())
    own = tmp_path / "node_known_hosts"
    own.write_text("")  # the node has a file of its own, which does not list it
    home = new_home(tmp_path, worker.nodes_toml(own, tmp_path / "workers"))
    run = await run_job(home)
    assert run["status"] == "succeeded", (run, await node_row(home))
    assert own.read_text() == "", "a strict node never writes known_hosts"


async def test_an_unknown_key_is_refused_naming_the_files_consulted(
        tmp_path: Path, worker: Worker, global_known_hosts: Path) -> None:
    global_known_hosts.write_text(f"[{worker.host}]:1 {worker.public_key()}\n")  # another port: another host
    own = tmp_path / "node_known_hosts"
    own.write_text("")
    home = new_home(tmp_path, worker.nodes_toml(own, tmp_path / "workers"))
    run = await run_job(home)
    node = await node_row(home)
    assert run["status"] == "queued" and not list((tmp_path / "workers").rglob("job.sh")), "nothing ran"
    assert node["state"] == "refused", node
    message = node["last_error"]
    assert f"[{worker.host}]:{worker.port} is not in any known_hosts file consulted" in message
    assert str(own) in message and str(global_known_hosts) in message
    assert fingerprint(tmp_path, worker.public_key()) in message
    assert "CHANGED" not in message and "attack" not in message
    assert_verify_then_append(message, own, worker)
    table = (await home.cli("nodes")).text
    assert "refused" in table and "is not in any known_hosts file consulted" in table
    assert not await accepted_events(home)


async def test_a_changed_key_is_refused_loudly_naming_the_line_and_how_to_verify(
        tmp_path: Path, worker: Worker, global_known_hosts: Path) -> None:
    own = tmp_path / "node_known_hosts"
    own.write_text(f"# fleet\n[{worker.host}]:1 {worker.public_key()}\n{worker.known_hosts_line()}")
    before = own.read_text()
    await worker.replace_key()
    home = new_home(tmp_path, worker.nodes_toml(own, tmp_path / "workers"))
    run = await run_job(home)
    node = await node_row(home)
    assert run["status"] == "queued" and not list((tmp_path / "workers").rglob("job.sh")), "nothing ran"
    assert node["state"] == "refused", node
    message = node["last_error"]
    assert "HOST KEY CHANGED" in message and "POSSIBLE ATTACK" in message and "impersonat" in message
    assert f"{own}:3" in message, "the entry that no longer matches, by file and line"
    assert fingerprint(tmp_path, worker.public_key()) in message
    assert_verify_then_append(message, own, worker)
    assert own.read_text() == before
    assert not await accepted_events(home)


async def test_accept_new_trusts_the_first_key_records_it_and_refuses_a_later_change(
        tmp_path: Path, worker: Worker, global_known_hosts: Path) -> None:
    own = tmp_path / "ssh" / "node_known_hosts"  # neither the file nor its folder exists yet
    home = new_home(tmp_path, worker.nodes_toml(own, tmp_path / "workers", host_key="accept-new"))
    first = await run_job(home)
    assert first["status"] == "succeeded", (first, await node_row(home))
    recorded = own.read_text()
    assert recorded == worker.known_hosts_line()
    [event] = await accepted_events(home)
    accepted = fingerprint(tmp_path, worker.public_key())
    assert "node n1" in event["detail"] and accepted in event["detail"] and f"{own}:1" in event["detail"]
    assert event["actor"] == "scheduler"

    again = await run_job(home)  # the key is known now: no second acceptance
    assert again["status"] == "succeeded" and len(await accepted_events(home)) == 1

    await worker.replace_key()
    third = await run_job(home)
    node = await node_row(home)
    assert third["status"] == "queued" and node["state"] == "refused", node
    assert "HOST KEY CHANGED" in node["last_error"] and f"{own}:1" in node["last_error"]
    assert own.read_text() == recorded, "accept-new never replaces a recorded key"
    assert len(await accepted_events(home)) == 1


async def test_accept_new_refuses_a_key_it_cannot_record(
        tmp_path: Path, worker: Worker, global_known_hosts: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    own = blocker / "known_hosts"
    home = new_home(tmp_path, worker.nodes_toml(own, tmp_path / "workers", host_key="accept-new"))
    run = await run_job(home)
    node = await node_row(home)
    assert run["status"] == "queued" and node["state"] == "refused", node
    assert "accepted on first use but not recorded in " + str(own) in node["last_error"]
    assert not await accepted_events(home), "a key the next connection would not know is not trusted now"


async def test_an_unknown_host_key_setting_is_refused_naming_the_file_and_field(tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, '[[node]]\nname = "n1"\nhost = "h"\nhost_key = "yes"\n')
    result = await home.cli("nodes")
    assert result.code == 2, result
    assert str(home.home.nodes_file) in result.stderr and "host_key" in result.stderr
    assert "accept-new" in result.stderr and "'yes'" in result.stderr and "Traceback" not in result.stderr
