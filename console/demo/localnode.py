"""In-process SSH worker nodes on loopback: real asyncssh servers that run real shell commands as the current user."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import os
import pwd
import re
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncssh

from .reaper import MARKER, new_fleet_id, reap

HOST = "127.0.0.1"
SHELL = "/bin/sh"
_CHUNK = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class LocalNodeInfo:
    name: str
    host: str
    port: int


def toml_string(value: str) -> str:
    """A TOML basic string for value."""
    # JSON escapes are a subset of TOML's; DEL is the one control char JSON leaves raw but TOML forbids.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def node_toml_table(
    *,
    name: str,
    host: str,
    port: int,
    user: str,
    identity_file: Path | str,
    known_hosts: Path | str,
    slots: int = 4,
    labels: Iterable[str] = (),
    workdir: str | None = None,
) -> str:
    """One [[node]] table of nodes.toml."""
    lines = [
        "[[node]]",
        f"name = {toml_string(name)}",
        f"host = {toml_string(host)}",
        f"port = {int(port)}",
        f"user = {toml_string(user)}",
        f"identity_file = {toml_string(str(identity_file))}",
        f"known_hosts = {toml_string(str(known_hosts))}",
        f"slots = {int(slots)}",
        f"labels = [{', '.join(toml_string(label) for label in labels)}]",
    ]
    if workdir is not None:
        lines.append(f"workdir = {toml_string(workdir)}")
    return "\n".join(lines) + "\n"


def _write_private(path: Path, data: bytes) -> None:
    """Replace path atomically with data, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)  # O_CREAT keeps the mode of a leftover tmp file
    os.replace(tmp, path)


def _load_or_create_key(path: Path, comment: str) -> asyncssh.SSHKey:
    """The ed25519 key at path, generated on first use so restarts keep their identity."""
    if path.exists():
        return asyncssh.read_private_key(path)
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    _write_private(path, key.export_private_key())
    return key


def _signal_group(pid: int, name: str) -> None:
    """Deliver an SSH-named signal to a command's process group, as sshd does."""
    signum = getattr(signal, f"SIG{name}", None)
    if isinstance(signum, signal.Signals):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signum)


async def _pipe_reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.ReadTransport]:
    """Wrap the read end of an os.pipe in a stream whose transport we can close."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_CHUNK)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    return reader, transport


async def _copy_out(
    reader: asyncio.StreamReader, transport: asyncio.ReadTransport, writer: asyncssh.SSHWriter[bytes]
) -> None:
    """Forward one child pipe to the channel until EOF, or until the channel is gone."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (OSError, asyncssh.Error):
        pass  # channel closed under us: dropping the pipe gives the command EOF/SIGPIPE like sshd
    finally:
        transport.close()


async def _feed_stdin(process: asyncssh.SSHServerProcess[bytes], child: asyncio.subprocess.Process) -> None:
    """Forward channel data to the command's stdin; channel EOF closes it."""
    stdin = child.stdin
    assert stdin is not None
    try:
        while True:
            try:
                data = await process.stdin.read(_CHUNK)
            except asyncssh.SignalReceived as exc:
                _signal_group(child.pid, exc.signal)
                continue
            except asyncssh.BreakReceived:
                _signal_group(child.pid, "INT")
                continue
            except asyncssh.TerminalSizeChanged:
                continue
            if not data:
                return
            stdin.write(data)
            await stdin.drain()
    except (OSError, asyncssh.Error):
        pass  # the command closed its stdin, or the connection is gone
    finally:
        stdin.close()


def _report_exit(process: asyncssh.SSHServerProcess[bytes], returncode: int) -> None:
    """Send exit-status, or exit-signal for a command killed by a signal, as OpenSSH does."""
    if returncode >= 0:
        process.exit(returncode)
        return
    try:
        name = signal.Signals(-returncode).name.removeprefix("SIG")
    except ValueError:
        process.exit(128 - returncode)
    else:
        process.exit_with_signal(name)


@dataclass(eq=False)
class _Node:
    name: str
    host_key: asyncssh.SSHKey
    port: int = 0
    acceptor: asyncssh.SSHAcceptor | None = None
    #: argv put before `/bin/sh -c COMMAND`, like an sshd ForceCommand wrapper (e.g. to run in a namespace).
    wrapper: tuple[str, ...] = ()
    conns: set[asyncssh.SSHServerConnection] = field(default_factory=set)
    #: Connections accepted since the node was first started (live or closed).
    accepted: int = 0
    children: set[asyncio.subprocess.Process] = field(default_factory=set)

    def info(self) -> LocalNodeInfo:
        return LocalNodeInfo(self.name, HOST, self.port)


class _NodeServer(asyncssh.SSHServer):
    """Per-connection hooks: track the connection, admit only the current user with the fleet's key."""

    def __init__(self, node: _Node, users: frozenset[str], keys: asyncssh.SSHAuthorizedKeys) -> None:
        self._node = node
        self._users = users
        self._keys = keys
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._node.conns.add(conn)
        self._node.accepted += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._node.conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        # Other user names get no keys, so they fail like an unknown account on a real sshd.
        if username in self._users and self._conn is not None:
            self._conn.set_authorized_keys(self._keys)
        return True


class LocalFleet:
    """Starts N asyncssh servers on 127.0.0.1 with generated host keys, one client key, and a known_hosts file.

    With reap_jobs, every command carries the fleet's marker (`SLUICE_LOCALNODE_FLEET=<fleet_id>`) and close()
    kills whatever still carries it: the detached jobs too, which a real worker would keep running."""

    def __init__(
        self, keys_dir: Path, *, keepalive_interval: float = 15.0, reap_jobs: bool = False, fleet_id: str | None = None
    ) -> None:
        self.keys_dir = Path(keys_dir)
        self.reap_jobs = reap_jobs
        self.fleet_id = fleet_id or new_fleet_id()
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.client_key_path = self.keys_dir / "client_key"
        self.known_hosts_path = self.keys_dir / "known_hosts"
        self.user = getpass.getuser()
        self._keepalive_interval = keepalive_interval
        client_key = _load_or_create_key(self.client_key_path, "sluice-localnode-client")
        public = client_key.export_public_key()
        (self.keys_dir / "client_key.pub").write_bytes(public)
        self._authorized = asyncssh.import_authorized_keys(public.decode())
        self._users = frozenset({self.user, pwd.getpwuid(os.getuid()).pw_name})
        self._home = Path.home()
        self._nodes: dict[str, _Node] = {}
        self._handlers: set[asyncio.Task[Any]] = set()
        self._write_known_hosts()

    async def __aenter__(self) -> LocalFleet:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start_node(self, name: str, port: int = 0, wrapper: Sequence[str] | None = None) -> LocalNodeInfo:
        """Start (or restart) a node; a restarted node keeps its port, host key and wrapper unless given one."""
        if not _NAME.match(name):
            raise ValueError(f"invalid node name {name!r}")
        node = self._nodes.get(name)
        if node is None:
            key = _load_or_create_key(self.keys_dir / f"host_key_{name}", f"sluice-localnode-{name}")
            node = self._nodes[name] = _Node(name, key)
        if port and node.port and port != node.port:
            raise ValueError(f"node {name!r} already uses port {node.port}")
        if wrapper is not None:
            node.wrapper = tuple(wrapper)
        if node.acceptor is not None:
            return node.info()
        node.acceptor = await asyncssh.listen(
            host=HOST,
            port=node.port or port,
            server_factory=partial(_NodeServer, node, self._users, self._authorized),
            server_host_keys=[node.host_key],
            process_factory=partial(self._serve, node),
            encoding=None,
            allow_pty=False,
            agent_forwarding=False,
            keepalive_interval=self._keepalive_interval,
        )
        node.port = node.acceptor.get_port()
        self._write_known_hosts()
        return node.info()

    async def stop_node(self, name: str, *, kill_commands: bool = False) -> None:
        """Stop listening and drop live connections; kill_commands also SIGKILLs the node's running commands."""
        node = self._node(name)
        acceptor, node.acceptor = node.acceptor, None
        if acceptor is not None:
            acceptor.close()
        await self._abort(node)
        if acceptor is not None:
            await acceptor.wait_closed()
        if kill_commands:
            self._kill(node)

    def stop_listening(self, name: str) -> None:
        """Refuse new connections but keep the live ones (a worker whose sshd listener died, its sessions alive)."""
        node = self._node(name)
        acceptor, node.acceptor = node.acceptor, None
        if acceptor is not None:
            acceptor.close()  # asyncssh: stops listening only, existing connections stay open

    async def drop_connections(self, name: str) -> None:
        """Abruptly close live client connections but keep listening."""
        await self._abort(self._node(name))

    def nodes(self) -> list[LocalNodeInfo]:
        """Every node started so far, running or stopped, in start order."""
        return [node.info() for node in self._nodes.values()]

    def is_running(self, name: str) -> bool:
        return self._node(name).acceptor is not None

    def connections_accepted(self, name: str) -> int:
        """How many SSH connections the node has accepted since it was first started."""
        return self._node(name).accepted

    def active_commands(self, name: str | None = None) -> int:
        """How many commands are still running (not yet reaped), on one node or on all."""
        nodes = [self._node(name)] if name is not None else self._nodes.values()
        return sum(len(node.children) for node in nodes)

    def nodes_toml(
        self, slots: int = 4, labels: Mapping[str, list[str]] | None = None, workdir: str | None = None
    ) -> str:
        """A nodes.toml text with one [[node]] table per node."""
        labels = labels or {}
        return "\n".join(
            node_toml_table(
                name=info.name,
                host=info.host,
                port=info.port,
                user=self.user,
                identity_file=self.client_key_path,
                known_hosts=self.known_hosts_path,
                slots=slots,
                labels=labels.get(info.name, []),
                workdir=workdir,
            )
            for info in self.nodes()
        )

    async def close(self) -> None:
        """Stop every node, kill commands still attached to a channel (and with reap_jobs the detached ones too)."""
        for name in list(self._nodes):
            await self.stop_node(name, kill_commands=True)
        if self.reap_jobs:
            await asyncio.to_thread(reap, self.fleet_id)
        if self._handlers:
            await asyncio.wait(set(self._handlers))

    def _node(self, name: str) -> _Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise KeyError(f"no local node named {name!r}") from None

    def _write_known_hosts(self) -> None:
        lines = []
        for node in self._nodes.values():
            if node.port:
                algorithm, blob = node.host_key.export_public_key().decode().split()[:2]
                lines.append(f"[{HOST}]:{node.port} {algorithm} {blob}\n")
        _write_private(self.known_hosts_path, "".join(lines).encode())

    async def _abort(self, node: _Node) -> None:
        conns = list(node.conns)
        for conn in conns:
            conn.abort()
        for conn in conns:
            await conn.wait_closed()

    def _kill(self, node: _Node) -> None:
        # By group, even if the shell already exited: its background jobs may still hold the output pipes.
        for child in list(node.children):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)

    async def _serve(self, node: _Node, process: asyncssh.SSHServerProcess[bytes]) -> None:
        """Run one exec request as `/bin/sh -c COMMAND`, the way sshd runs a session without a pty."""
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        command = process.command
        if command is None:
            process.stderr.write(b"localnode: only exec requests are supported\n")
            process.exit(1)
            return
        env = {**os.environb, **process.channel.get_environment_bytes()}
        if self.reap_jobs:
            env[MARKER.encode()] = self.fleet_id.encode()  # last, so a client cannot unset or fake it
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            # Own pipes for stdout/stderr (not PIPE) so we can drop them when the channel dies.
            child = await asyncio.create_subprocess_exec(
                *node.wrapper, SHELL, "-c", command, stdin=asyncio.subprocess.PIPE, stdout=out_w, stderr=err_w,
                cwd=self._home, env=env, start_new_session=True,
            )
        except OSError as exc:
            os.close(out_r)
            os.close(err_r)
            process.stderr.write(f"localnode: cannot run {SHELL}: {exc}\n".encode())
            process.exit(127)
            return
        finally:
            os.close(out_w)
            os.close(err_w)
        node.children.add(child)
        try:
            await self._relay(process, child, out_r, err_r)
        finally:
            node.children.discard(child)

    async def _relay(
        self, process: asyncssh.SSHServerProcess[bytes], child: asyncio.subprocess.Process, out_r: int, err_r: int
    ) -> None:
        out, out_t = await _pipe_reader(out_r)
        err, err_t = await _pipe_reader(err_r)
        feeder = asyncio.create_task(_feed_stdin(process, child))
        copies = {
            asyncio.create_task(_copy_out(out, out_t, process.stdout)),
            asyncio.create_task(_copy_out(err, err_t, process.stderr)),
        }
        closed = asyncio.create_task(process.wait_closed())
        # Like sshd, the session lasts until both output pipes hit EOF, which can outlive the command itself.
        pending: set[asyncio.Task[None]] = {*copies, closed}
        while closed in pending and pending & copies:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if closed.done():
            out_t.close()
            err_t.close()
        await asyncio.wait(copies)
        returncode = await child.wait()
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        if not process.is_closing():
            _report_exit(process, returncode)
        await asyncio.gather(closed, return_exceptions=True)
