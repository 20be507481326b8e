"""`sluice nodes --check [NODE...]`, through the real CLI against real OpenSSH sshd and the in-process asyncssh
server: every check passes on a healthy node; an unwritable workdir, a skewed clock, a node that is down, an
unknown or changed host key and a refused login each fail with their reason; --json; exit codes; an unknown
node name is bad input (exit 2) and nothing is connected to."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from cluster import cluster  # noqa: F401  (fixture)
from harness import SluiceHome
from sshd import OpenSSHServer

from console.demo.localnode import LocalFleet, node_toml_table

CHECKS = ["reachable", "host_key", "login", "sh", "setsid", "proc", "workdir", "disk", "clock", "rtt"]


def _node(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(node for node in document["nodes"] if node["name"] == name)


def _dead_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_healthy_nodes_pass_every_check(cluster: SluiceHome) -> None:  # noqa: F811
    result = await cluster.cli("nodes", "--check", "--json")
    assert result.code == 0, result.stdout.decode() + result.stderr
    document = result.json()
    assert document["ok"] is True
    assert [node["name"] for node in document["nodes"]] == ["n1", "n2"]
    for node in document["nodes"]:
        assert node["ok"] is True
        assert list(node["checks"]) == CHECKS
        for name, check in node["checks"].items():
            assert set(check) == {"ok", "status", "value", "detail"}, name
            assert check["ok"] is True and check["status"] == "pass", (name, check)
        assert node["checks"]["login"]["value"] == check_user()
        assert node["checks"]["workdir"]["value"].startswith(str(cluster.root / "workers"))
        assert isinstance(node["checks"]["disk"]["value"], int) and node["checks"]["disk"]["value"] > 0
        assert abs(node["checks"]["clock"]["value"]) < 5
        assert node["checks"]["rtt"]["value"] > 0


def check_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


async def test_the_text_report_is_one_line_per_node_and_exit_zero(cluster: SluiceHome) -> None:  # noqa: F811
    result = await cluster.cli("nodes", "--check")
    assert result.code == 0, result.text + result.stderr
    lines = result.text.splitlines()
    assert [line.split()[0] for line in lines] == ["n1", "n2"]
    for line in lines:
        assert line.split()[1] == "ok:"
        for word in ("reachable", "host key", "login", "sh", "setsid", "/proc", "workdir", "free", "skew", "rtt"):
            assert word in line, (word, line)


async def test_named_nodes_are_the_only_ones_checked(local_fleet: LocalFleet, tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, local_fleet.nodes_toml(workdir=str(tmp_path / "workers")))
    result = await home.cli("nodes", "--check", "n2", "--json")
    assert result.code == 0, result.stderr
    assert [node["name"] for node in result.json()["nodes"]] == ["n2"]
    assert local_fleet.connections_accepted("n1") == 0


async def test_an_unknown_node_name_exits_2_naming_it_and_connects_nowhere(local_fleet: LocalFleet,
                                                                          tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, local_fleet.nodes_toml(workdir=str(tmp_path / "workers")))
    result = await home.cli("nodes", "--check", "n1", "nope")
    assert result.code == 2
    assert "nope" in result.stderr and "nodes.toml" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == b""
    assert local_fleet.connections_accepted("n1") == 0 and local_fleet.connections_accepted("n2") == 0


async def test_an_unwritable_workdir_fails_that_check_only(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    # A regular file where a folder of the workdir should be: no user, root included, can create it.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder\n")
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(blocker / "sluice")))
    result = await home.cli("nodes", "--check", "--json")
    assert result.code == 1, result.stderr
    checks = _node(result.json(), "n1")["checks"]
    assert checks["workdir"]["ok"] is False and checks["workdir"]["status"] == "fail"
    assert "not a directory" in checks["workdir"]["detail"] or "cannot" in checks["workdir"]["detail"]
    assert str(blocker) in checks["workdir"]["detail"]
    assert all(checks[name]["ok"] for name in CHECKS if name not in ("workdir", "disk")), checks
    assert blocker.read_text() == "not a folder\n"


async def test_a_skewed_clock_fails_past_five_seconds(tmp_path: Path) -> None:
    # The worker's `date` runs a minute ahead (a shim first on its PATH); every other check is real.
    shims = tmp_path / "shims"
    shims.mkdir()
    real_date = shutil.which("date")
    (shims / "date").write_text(f'#!/bin/sh\nexec {real_date} -d @$(( $({real_date} +%s) + 60 )) "$@"\n')
    (shims / "date").chmod(0o755)
    async with LocalFleet(tmp_path / "keys") as fleet:
        await fleet.start_node("n1", wrapper=["env", f"PATH={shims}:{os.environ['PATH']}"])
        home = SluiceHome(tmp_path, fleet.nodes_toml(workdir=str(tmp_path / "workers")))
        result = await home.cli("nodes", "--check", "--json")
    assert result.code == 1, result.stderr
    clock = _node(result.json(), "n1")["checks"]["clock"]
    assert clock["ok"] is False
    assert 50 < clock["value"] < 70
    assert "ahead" in clock["detail"] and "5" in clock["detail"]


async def test_a_node_that_is_down_gets_its_line_with_why(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    down = node_toml_table(name="gone", host="127.0.0.1", port=_dead_port(), user=openssh_server.user,
                           identity_file=openssh_server.client_key_path, known_hosts=openssh_server.known_hosts_path,
                           slots=1, workdir=str(tmp_path / "workers"))
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "workers")) + "\n" + down)
    result = await home.cli("nodes", "--check", "--json")
    assert result.code == 1, result.stderr
    gone = _node(result.json(), "gone")
    assert gone["ok"] is False
    assert gone["checks"]["reachable"]["ok"] is False
    assert "cannot connect" in gone["checks"]["reachable"]["detail"]
    assert all(gone["checks"][name]["status"] == "skipped" and gone["checks"][name]["ok"] is None
               for name in CHECKS[1:])
    assert _node(result.json(), "n1")["ok"] is True
    text = await home.cli("nodes", "--check")
    assert text.code == 1
    line = next(line for line in text.text.splitlines() if line.startswith("gone"))
    assert "DOWN" in line and "cannot connect" in line


def _other_host_key(directory: Path) -> str:
    key = directory / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return " ".join(key.with_suffix(".pub").read_text().split()[:2])


async def test_an_unknown_host_key_fails_the_host_key_check(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    openssh_server.known_hosts_path.write_text("")
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "workers")))
    result = await home.cli("nodes", "--check", "--json")
    assert result.code == 1, result.stderr
    checks = _node(result.json(), "n1")["checks"]
    assert checks["reachable"]["ok"] is True
    assert checks["host_key"]["ok"] is False and "unknown host" in checks["host_key"]["detail"]
    assert checks["login"]["status"] == "skipped"
    text = await home.cli("nodes", "--check")
    assert "REFUSED" in text.text and "host key" in text.text


async def test_a_changed_host_key_fails_loudly(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    openssh_server.known_hosts_path.write_text(
        f"[{openssh_server.host}]:{openssh_server.port} {_other_host_key(tmp_path)}\n")
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "workers")))
    result = await home.cli("nodes", "--check", "--json")
    assert result.code == 1, result.stderr
    host_key = _node(result.json(), "n1")["checks"]["host_key"]
    assert host_key["ok"] is False and "HOST KEY CHANGED" in host_key["detail"]


async def test_a_refused_login_fails_the_login_check(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    openssh_server.authorized_keys_path.write_text("")
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "workers")))
    result = await home.cli("nodes", "--check", "--json")
    assert result.code == 1, result.stderr
    checks = _node(result.json(), "n1")["checks"]
    assert checks["reachable"]["ok"] is True and checks["host_key"]["ok"] is True
    assert checks["login"]["ok"] is False and "login refused" in checks["login"]["detail"]
    assert checks["sh"]["status"] == "skipped"


async def test_checks_change_no_node_state_in_the_store(openssh_server: OpenSSHServer, tmp_path: Path) -> None:
    home = SluiceHome(tmp_path, openssh_server.node_toml("n1", workdir=str(tmp_path / "workers")))
    before = await home.cli_json("nodes")
    assert (await home.cli("nodes", "--check")).code == 0
    assert await home.cli_json("nodes") == before

