"""Host keys without asyncssh: which known_hosts files a node trusts, how a first-use key is recorded, and what
an operator is told when a key is unknown or has changed (how to verify it, never "append what keyscan says")."""

from __future__ import annotations

import fcntl
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

#: OpenSSH's machine-wide file, honoured beside the node's own; tests point it elsewhere.
GLOBAL_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
GLOBAL_KNOWN_HOSTS_ENV = "SLUICE_GLOBAL_KNOWN_HOSTS"
USER_KNOWN_HOSTS = "~/.ssh/known_hosts"


def global_known_hosts() -> str:
    return os.environ.get(GLOBAL_KNOWN_HOSTS_ENV) or GLOBAL_KNOWN_HOSTS


@dataclass(frozen=True)
class KnownHostsFiles:
    """The node's own file (per-node, else the user's), which accept-new writes, and every file consulted."""

    own: Path
    consulted: tuple[Path, ...]

    @classmethod
    def of(cls, known_hosts: str | None, global_path: str) -> KnownHostsFiles:
        own = Path(known_hosts or USER_KNOWN_HOSTS).expanduser()
        other = Path(global_path).expanduser()
        return cls(own, (own,) if other == own else (own, other))

    def readable(self) -> list[Path]:
        return [path for path in self.consulted if path.is_file() and os.access(path, os.R_OK)]

    def named(self) -> str:
        return ", ".join(str(path) + ("" if path.exists() else " (no such file)") for path in self.consulted)


@dataclass(frozen=True)
class Entry:
    """A known_hosts line that names the host."""

    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Presented:
    """The host key a node presented: its known_hosts name, the key as `type base64`, its fingerprint."""

    target: str
    host: str
    port: int
    public_key: str
    fingerprint: str

    @property
    def algorithm(self) -> str:
        return self.public_key.split()[0]


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def append_entry(path: Path, presented: Presented) -> int:
    """Append the key to path (created 0600, its folder 0700, as ssh does); returns the entry's line number."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as known:
        # Two nodes may share ~/.ssh/known_hosts: the count and the append are one step under the lock.
        fcntl.flock(known, fcntl.LOCK_EX)
        known.seek(0)
        existing = known.read()
        separator = b"\n" if existing and not existing.endswith(b"\n") else b""
        known.write(separator + f"{presented.target} {presented.public_key}\n".encode())
        return existing.count(b"\n") + len(separator) + 1


def unknown_message(presented: Presented, files: KnownHostsFiles) -> str:
    return (f"host key refused: unknown host: {presented.target} is not in any known_hosts file consulted "
            f"({files.named()}); it presents {presented.algorithm} key {presented.fingerprint}. Nothing ran there. "
            f"To trust it, verify the key first: {_verify(presented)}; only if they match, append it: "
            f"cat \"$keys\" >> {shlex.quote(str(files.own))}")


def changed_message(presented: Presented, recorded: list[Entry], files: KnownHostsFiles) -> str:
    lines = ", ".join(str(entry) for entry in recorded[:5]) + (" and more" if len(recorded) > 5 else "")
    removals = " && ".join(f"ssh-keygen -R {shlex.quote(presented.target)} -f {shlex.quote(str(path))}"
                           for path in dict.fromkeys(entry.path for entry in recorded))
    return (f"host key refused: WARNING: HOST KEY CHANGED, POSSIBLE ATTACK: {presented.target} now presents "
            f"{presented.algorithm} key {presented.fingerprint}, which does not match the key recorded for it at "
            f"{lines}. Someone may be impersonating the worker (a man in the middle), or its host key was "
            f"replaced (a reinstall). Nothing ran there, and nothing will until the key is checked: "
            f"{_verify(presented)}; only if they match, replace the old entry: {removals} && "
            f"cat \"$keys\" >> {shlex.quote(str(files.own))}")


def _verify(presented: Presented) -> str:
    """Shell steps that show the fingerprint a keyscan finds, to compare with what the worker itself says."""
    kind = _key_type(presented.algorithm)
    # Only the presented key's type: every key appended afterwards is one whose fingerprint was compared.
    only = f"-t {kind} " if kind else ""
    return (f"keys=$(mktemp) && ssh-keyscan {only}-p {presented.port} {shlex.quote(presented.host)} > \"$keys\" && "
            f"ssh-keygen -lf \"$keys\"; compare with the fingerprint obtained out of band from the worker's "
            f"console (there: ssh-keygen -lf /etc/ssh/ssh_host_{kind or '*'}_key.pub)")


def _key_type(algorithm: str) -> str | None:
    """ssh-keyscan's -t word for a key algorithm, which is also the one in sshd's key file name."""
    if algorithm == "ssh-dss":
        return "dsa"
    return next((word for word in ("ed25519", "ecdsa", "rsa") if word in algorithm), None)
