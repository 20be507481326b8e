"""A real OpenSSH sshd on a loopback port, run as the current user, with its own keys, config and known_hosts.

It can also run inside a network namespace: give it the namespace's address and an `ip netns exec` prefix."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from console.demo.localnode import node_toml_table

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/usr/bin/sshd", "/opt/homebrew/sbin/sshd")


def sshd_path() -> str | None:
    """Absolute path of the sshd binary, or None."""
    # sshd refuses to re-exec itself unless started by absolute path.
    found = shutil.which("sshd")
    if found:
        return os.path.abspath(found)
    return next((path for path in _CANDIDATES if os.access(path, os.X_OK)), None)


def _openssh_version(sshd: str) -> tuple[int, int]:
    # Older sshd has no -V but prints the version in its usage text, which the same regex finds.
    result = subprocess.run([sshd, "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", result.stdout + result.stderr)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _free_port() -> int:
    # Probed on the host's loopback even for a namespaced sshd: a fresh namespace has every port free.
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _process_table() -> list[tuple[int, int, str]]:
    """(pid, ppid, command name) for every process."""
    rows = []
    if Path("/proc/self/stat").exists():
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited while we looked
            # comm may contain spaces and parentheses; the state and ppid follow the last ')'.
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            state, ppid = stat[stat.rindex(")") + 2 :].split()[:2]
            if state != "Z":
                rows.append((int(entry.name), int(ppid), comm))
        return rows
    out = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,comm="], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        pid, ppid, comm = line.split(None, 2)
        rows.append((int(pid), int(ppid), os.path.basename(comm)))
    return rows


def _sshd_descendants(root: int) -> list[int]:
    """Processes below root that are sshd itself (per-connection monitors, sshd-session, sshd-auth)."""
    children: dict[int, list[tuple[int, str]]] = {}
    for pid, ppid, comm in _process_table():
        children.setdefault(ppid, []).append((pid, comm))
    found, stack = [], [root]
    while stack:
        for pid, comm in children.get(stack.pop(), []):
            if comm.startswith("sshd"):
                found.append(pid)
                stack.append(pid)
    return found


def _alive(pid: int) -> bool:
    return any(row[0] == pid for row in _process_table())


class OpenSSHServer:
    """An sshd -D -e child process listening on 127.0.0.1, accepting only our client key for the current user.

    host and prefix run it elsewhere: prefix is argv put before sshd's (e.g. `ip netns exec NS`, which execs
    sshd in place, so pid stays sshd's), host the address it listens on there and clients connect to.
    """

    def __init__(self, directory: Path, name: str = "sshd-node", extra_config: Iterable[str] = (), *,
                 host: str = HOST, prefix: Sequence[str] = ()) -> None:
        self.directory = Path(directory)
        self.name = name
        #: More sshd_config lines, e.g. a ForceCommand.
        self.extra_config = list(extra_config)
        self.host = host
        self.prefix = list(prefix)
        self.port = 0
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.client_key_path = self.directory / "client_key"
        self.known_hosts_path = self.directory / "known_hosts"
        self.host_key_path = self.directory / "ssh_host_ed25519_key"
        self.authorized_keys_path = self.directory / "authorized_keys"
        self.config_path = self.directory / "sshd_config"
        self.pid_path = self.directory / "sshd.pid"
        self.log_path = self.directory / "sshd.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        #: Sessions left behind by stop_listening, no longer below the listener.
        self._orphans: list[int] = []

    def __enter__(self) -> OpenSSHServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> None:
        """Start sshd and block until it answers with an SSH banner."""
        if self._proc is not None:
            return
        sshd = sshd_path()
        if sshd is None:
            raise RuntimeError("no sshd binary: install openssh-server")
        self._prepare_keys()
        if os.geteuid() == 0 and Path("/run").is_dir():
            # Debian's compiled-in privsep chroot; tmpfs /run in a fresh container lacks it.
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        fixed_port = self.port != 0
        for _ in range(3):
            if not fixed_port:
                self.port = _free_port()
            error = self._try_start(sshd)
            if error is None:
                self._write_known_hosts()
                return
            # Another process may grab a probed free port before sshd binds it.
            if fixed_port or "Address already in use" not in error:
                break
        raise RuntimeError(f"sshd did not start on {self.host}:{self.port}:\n{error}")

    def stop(self) -> None:
        """Drop live connections, then terminate the listener and wait for it."""
        if self._proc is None:
            return
        # Connections first, while the listener is alive to reap them and we can still find them below it.
        self.kill_connections()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop_listening(self) -> None:
        """Terminate the listener only: live connections and their sessions go on, new ones are refused."""
        if self._proc is None:
            return
        # sshd's listener does not signal its sessions when it exits; they are reaped by stop() later.
        self._orphans += _sshd_descendants(self._proc.pid)
        self._proc.terminate()
        self._proc.wait(timeout=5)

    def kill_connections(self) -> None:
        """SIGKILL the per-connection sshd processes (not the listener, not user commands): a dropped link."""
        if self._proc is None:
            return
        # An orphan's pid is killed only while it is still an sshd (never a pid reused since).
        orphans = {pid for pid, _, comm in _process_table() if pid in self._orphans and comm.startswith("sshd")}
        pids = _sshd_descendants(self._proc.pid) + sorted(orphans)
        self._orphans = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.02)

    def restart(self) -> None:
        """Stop and start again on the same port with the same host key."""
        self.stop()
        self.start()

    def node_toml(self, name: str, slots: int = 4, labels: Iterable[str] = (), workdir: str | None = None) -> str:
        """One [[node]] table for nodes.toml pointing at this server."""
        return node_toml_table(
            name=name,
            host=self.host,
            port=self.port,
            user=self.user,
            identity_file=self.client_key_path,
            known_hosts=self.known_hosts_path,
            slots=slots,
            labels=labels,
            workdir=workdir,
        )

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _prepare_keys(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path, comment in ((self.host_key_path, f"{self.name}-host"), (self.client_key_path, f"{self.name}-client")):
            if not path.exists():
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                    check=True, stdin=subprocess.DEVNULL,
                )
        self.authorized_keys_path.write_bytes(self.client_key_path.with_suffix(".pub").read_bytes())

    def _write_config(self, sshd: str) -> None:
        lines = [
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key_path}",
            f"PidFile {self.pid_path}",
            f"AuthorizedKeysFile {self.authorized_keys_path}",
            f"AllowUsers {self.user}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # tmp dirs are world-writable, which StrictModes rejects
            "PermitRootLogin prohibit-password",
            "AcceptEnv SLUICE_*",
            "MaxSessions 10",
            "MaxStartups 100",
            "ClientAliveInterval 5",
            "ClientAliveCountMax 3",
            "UseDNS no",
            "PrintMotd no",
            "X11Forwarding no",
            "AllowAgentForwarding no",
            "LogLevel VERBOSE",
        ]
        if _openssh_version(sshd) >= (9, 8):
            # 9.8+ penalises a source address whose sessions "crash", which is what kill_connections does.
            lines.append("PerSourcePenalties no")
        lines += self.extra_config
        self.config_path.write_text("\n".join(lines) + "\n")

    def _try_start(self, sshd: str) -> str | None:
        """Launch sshd once; None when it is ready, else the reason it is not."""
        for _ in range(2):
            self._write_config(sshd)
            self._log = open(self.log_path, "wb")  # noqa: SIM115 - lives as long as sshd
            self._proc = subprocess.Popen(
                [*self.prefix, sshd, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            error = self._wait_ready()
            if error is None:
                return None
            self._abandon()
            # Other distributions compile in another privsep chroot; sshd names it when it is missing.
            missing = re.search(r"Missing privilege separation directory: (\S+)", error)
            if not missing or os.geteuid() != 0:
                return error
            Path(missing.group(1)).mkdir(mode=0o755, parents=True, exist_ok=True)
        return error

    def _wait_ready(self) -> str | None:
        assert self._proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return f"sshd exited with {self._proc.returncode}:\n{self.log_text()}"
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(256).startswith(b"SSH-"):
                        return None
            except OSError:
                pass
            time.sleep(0.05)
        return f"sshd did not answer within {START_TIMEOUT:.0f}s:\n{self.log_text()}"

    def _abandon(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _write_known_hosts(self) -> None:
        algorithm, blob = self.host_key_path.with_suffix(".pub").read_text().split()[:2]
        fd = os.open(self.known_hosts_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"[{self.host}]:{self.port} {algorithm} {blob}\n")
