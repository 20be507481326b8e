"""The worker fleets the dispatch benchmarks run on: in-process asyncssh nodes, or real OpenSSH sshd processes."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import common  # noqa: F401  (puts the repo and tests/ on sys.path)

from console.demo.localnode import LocalFleet, node_toml_table

KINDS = {"local": "in-process asyncssh nodes (console/demo/localnode.py)", "sshd": "real OpenSSH sshd on loopback"}

#: Set (to anything) to run the sshd fleet with the account's own shell start-up instead of a plain one.
ACCOUNT_SHELL_ENV = "SLUICE_BENCH_ACCOUNT_SHELL"


@dataclass(frozen=True)
class Worker:
    name: str
    host: str
    port: int
    user: str
    identity_file: Path
    known_hosts: Path

    def toml(self, slots: int, workdir: str) -> str:
        return node_toml_table(name=self.name, host=self.host, port=self.port, user=self.user,
                               identity_file=self.identity_file, known_hosts=self.known_hosts, slots=slots,
                               workdir=workdir)


def sshd_missing() -> str | None:
    """Why the sshd fleet cannot run here, or None."""
    from sshd import sshd_path

    if sshd_path() is None:
        return "no sshd binary (install openssh-server)"
    if shutil.which("ssh-keygen") is None:
        return "no ssh-keygen"
    return None


def plain_shell() -> bool:
    return not os.environ.get(ACCOUNT_SHELL_ENV)


def sshd_server(directory: Path, name: str):  # type: ignore[no-untyped-def]
    """An OpenSSHServer (tests/sshd.py) whose sessions get a plain shell start-up, unless ACCOUNT_SHELL_ENV is set.

    Issue 6 asks for "a plain user account whose shell start-up does nothing slow". sshd runs every command
    through the account's login shell, and bash run by sshd reads ~/.bashrc: on a machine whose ~/.bashrc
    runs e.g. `eval "$(pyenv init -)"` that costs ~100 ms and ~100 processes per exec, which would measure the
    account, not Sluice. Instead of creating an account, the bench points HOME (sshd_config SetEnv) at an empty
    folder, so the shell finds no rc file. Jobs and Sluice's wrappers see that HOME; the bench's workdir is an
    absolute path, so nothing else changes."""
    from sshd import OpenSSHServer

    class PlainShellServer(OpenSSHServer):
        def _write_config(self, sshd: str) -> None:
            super()._write_config(sshd)
            if plain_shell():
                home = self.directory / "plain-home"
                home.mkdir(mode=0o700, exist_ok=True)
                with open(self.config_path, "a") as config:
                    config.write(f"SetEnv HOME={home}\n")

    return PlainShellServer(directory, name)


@contextlib.asynccontextmanager
async def fleet(kind: str, root: Path, count: int = 4) -> AsyncIterator[list[Worker]]:
    """Start `count` workers of `kind` under root; stop them on exit."""
    root.mkdir(parents=True, exist_ok=True)
    if kind == "local":
        local = LocalFleet(root / "keys")
        try:
            for index in range(1, count + 1):
                await local.start_node(f"n{index}")
            yield [Worker(info.name, info.host, info.port, local.user, local.client_key_path,
                          local.known_hosts_path) for info in local.nodes()]
        finally:
            await local.close()
        return
    servers = [sshd_server(root / f"n{index}", f"n{index}") for index in range(1, count + 1)]
    try:
        for server in servers:
            server.start()
        yield [Worker(server.name, server.host, server.port, server.user, server.client_key_path,
                      server.known_hosts_path) for server in servers]
    finally:
        for server in servers:
            server.stop()
