"""The only module that talks asyncssh: persistent connections per node, channels capped under MaxSessions."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from ..config import NodeConfig
from ..executor import AcceptedHostKey, TargetUnavailable
from ..states import NodeState
from .host_keys import (
    Entry,
    KnownHostsFiles,
    Presented,
    append_entry,
    changed_message,
    global_known_hosts,
    known_hosts_name,
    unknown_message,
)

#: OpenSSH's default MaxSessions is 10 channels per connection; stay under it and open another past that.
CHANNELS_PER_CONNECTION = 8
MAX_CONNECTIONS_PER_NODE = 4


@dataclass(frozen=True)
class ExecResult:
    exit_status: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class TransportSettings:
    connect_timeout: float = 10.0
    keepalive_interval: float = 10.0
    keepalive_count_max: int = 3
    reconnect_initial: float = 0.5
    reconnect_max: float = 15.0
    #: The machine-wide known_hosts file, consulted beside each node's own.
    global_known_hosts: str = field(default_factory=global_known_hosts)


class _HostKeyCheck:
    """Why asyncssh trusted no entry for the key it was shown (unknown host or changed key); accept-new's call."""

    def __init__(self, files: KnownHostsFiles, accept_new: bool) -> None:
        self.files = files
        self.accept_new = accept_new
        self.presented: Presented | None = None
        #: Entries that name the host (with another key): the key changed.
        self.recorded: list[Entry] = []

    def untrusted(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """The key is in no entry asyncssh trusts: accept it only under accept-new, for a host no file names."""
        public_key = " ".join(key.export_public_key().decode().split()[:2])
        self.presented = Presented(known_hosts_name(host, port), host, port, public_key, key.get_fingerprint())
        self.recorded = _entries_naming(self.files.readable(), host, addr, port)
        return self.accepted

    @property
    def accepted(self) -> bool:
        return self.accept_new and self.presented is not None and not self.recorded


class _LinkClient(asyncssh.SSHClient):
    """Keeps why asyncssh dropped the connection (keepalive, reset): a cut command's result does not say."""

    def __init__(self, host_key: _HostKeyCheck) -> None:
        self.lost: Exception | None = None
        self.on_lost: Callable[[Exception | None], None] | None = None
        self.host_key = host_key

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        # Only called for a key no trusted entry lists; asyncssh then checks the server holds its private half.
        return self.host_key.untrusted(host, addr, port, key)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc
        if self.on_lost is not None:
            self.on_lost(exc)


class _Channelled:
    """One connection and how many of its channels are open (at most CHANNELS_PER_CONNECTION)."""

    def __init__(self, conn: asyncssh.SSHClientConnection, client: _LinkClient) -> None:
        self.conn = conn
        self.client = client
        self.open_channels = 0


class NodeLink:
    """Persistent asyncssh connections to one node, reconnected with backoff when they drop."""

    def __init__(self, node: NodeConfig, settings: TransportSettings) -> None:
        self.node = node
        self.settings = settings
        self.state = NodeState.UNKNOWN
        self.last_error: str | None = None
        self._connections: list[_Channelled] = []
        self._connect_lock = asyncio.Lock()
        #: Channels the node may have open at once: a caller past it waits for one to end.
        self._capacity = asyncio.Semaphore(CHANNELS_PER_CONNECTION * MAX_CONNECTIONS_PER_NODE)
        self._failures = 0
        self._next_try = 0.0
        #: Why the last new connection failed (said even while another connection keeps the node up).
        self._connect_error = ""
        #: Keys trusted on first use, oldest first: the loop records each in an event.
        self.accepted_keys: list[AcceptedHostKey] = []

    async def exec(self, script: str, args: list[str], stdin: bytes | None = None, timeout: float = 60.0) -> ExecResult:
        """Run `sh -c script` with args on the node and collect its output."""
        command = "sh -c " + shlex.quote(script) + " sluice " + " ".join(shlex.quote(arg) for arg in args)
        channelled = await self._acquire()
        try:
            result = await _run(channelled.conn, command, stdin, timeout)
        except TimeoutError as exc:
            # Only this command's channel was closed: the connection and the launches sharing it go on.
            raise TargetUnavailable(self.node.name, f"{self._where()}: no answer within {timeout:g}s; that "
                                                    "command's channel was closed", sent=True) from exc
        except (asyncssh.Error, OSError) as exc:
            message = self._lose(channelled, exc)
            raise TargetUnavailable(self.node.name, message, sent=True) from exc
        finally:
            self._release(channelled)
        if result.exit_status is not None and channelled in self._connections:
            # A command completed: whatever failed before, it answers.
            self.state, self.last_error = NodeState.UP, None
        if result.exit_status is None:
            # Neither an exit status nor a signal (that is -1): the link dropped under a command that may have
            # run. That is an unreachable node, never an exit code; its partial output is not trusted.
            raise TargetUnavailable(self.node.name, self._lose(channelled, None), sent=True)
        return ExecResult(result.exit_status, _as_bytes(result.stdout), _as_bytes(result.stderr))

    async def _acquire(self) -> _Channelled:
        """A channel slot on a connection: the least busy one with room, else a new one while under the cap."""
        await self._capacity.acquire()
        try:
            channelled = self._roomy()
            if channelled is None:
                async with self._connect_lock:
                    # Re-checked under the lock: the caller before us may have opened a connection with room.
                    channelled = self._roomy() or await self._connect()
        except BaseException:
            self._capacity.release()
            raise
        channelled.open_channels += 1
        return channelled

    def _roomy(self) -> _Channelled | None:
        """The live connection with the fewest open channels, if it has room for one more."""
        roomy = [c for c in self._connections if c.open_channels < CHANNELS_PER_CONNECTION]
        return min(roomy, key=lambda c: c.open_channels) if roomy else None

    def _release(self, channelled: _Channelled) -> None:
        channelled.open_channels -= 1
        self._capacity.release()

    async def _connect(self) -> _Channelled:
        """Open one more connection; the caller holds _connect_lock and the capacity says there is room."""
        if time.monotonic() < self._next_try:
            raise TargetUnavailable(self.node.name, self._connect_error or f"{self._where()}: reconnecting",
                                    refused=self.state == NodeState.REFUSED)
        files = KnownHostsFiles.of(self.node.known_hosts, self.settings.global_known_hosts)
        client = _LinkClient(_HostKeyCheck(files, self.node.host_key == "accept-new"))
        conn = await self._open(client, files)
        if client.host_key.accepted:
            self._record_accepted(conn, client.host_key, files)
        channelled = _Channelled(conn, client)
        client.on_lost = lambda exc: self._dropped(channelled, exc)
        self._connections.append(channelled)
        self._failures = 0
        self.state, self.last_error = NodeState.UP, None
        return channelled

    async def _open(self, client: _LinkClient, files: KnownHostsFiles) -> asyncssh.SSHClientConnection:
        """asyncssh.connect; a failure marks the node down or refused with the reason and raises."""
        try:
            return await asyncio.wait_for(asyncssh.connect(client_factory=lambda: client, **self._options(files)),
                                          self.settings.connect_timeout)
        except asyncssh.HostKeyNotVerifiable as exc:
            self._fail(NodeState.REFUSED, f"{self._where()}: {self._host_key_message(client.host_key, exc)}")
            raise TargetUnavailable(self.node.name, self._connect_error, refused=True) from exc
        except asyncssh.PermissionDenied as exc:
            self._fail(NodeState.REFUSED, f"{self._where()}: login refused for user {self.node.user or '(default)'}: "
                                  f"{exc.reason}; check identity_file or the agent, and authorized_keys")
            raise TargetUnavailable(self.node.name, self._connect_error, refused=True) from exc
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            self._fail(NodeState.DOWN, f"{self._where()}: cannot connect: {_describe(exc)}")
            raise TargetUnavailable(self.node.name, self._connect_error) from exc
        except ValueError as exc:  # asyncssh's KeyImportError and KeyEncryptionError: a key file it cannot use
            self._fail(NodeState.REFUSED,
                       f"{self._where()}: cannot use identity_file {self.node.identity_file}: {exc}")
            raise TargetUnavailable(self.node.name, self._connect_error, refused=True) from exc

    def _record_accepted(self, conn: asyncssh.SSHClientConnection, check: _HostKeyCheck,
                         files: KnownHostsFiles) -> None:
        """Write a first-use key to the node's known_hosts (the connection proved the server holds it)."""
        presented = check.presented
        assert presented is not None
        try:
            line = append_entry(files.own, presented)
        except OSError as exc:
            # Trusted but not recorded, the next connection would trust any key again: use none of them.
            conn.abort()
            self._fail(NodeState.REFUSED, f"{self._where()}: host key {presented.fingerprint} accepted on first use "
                                  f"but not recorded in {files.own}: {exc.strerror}")
            raise TargetUnavailable(self.node.name, self._connect_error, refused=True) from exc
        self.accepted_keys.append(AcceptedHostKey(presented.target, presented.algorithm, presented.fingerprint,
                                                  str(files.own), line))

    def _options(self, files: KnownHostsFiles) -> dict[str, object]:
        node = self.node
        options: dict[str, object] = {
            "host": node.host,
            "port": node.port,
            "keepalive_interval": self.settings.keepalive_interval,
            "keepalive_count_max": self.settings.keepalive_count_max,
            "connect_timeout": self.settings.connect_timeout,
        }
        if node.user:
            options["username"] = node.user
        if node.identity_file:
            options["client_keys"] = [str(Path(node.identity_file).expanduser())]
        readable = files.readable()
        # No readable known_hosts file must refuse, never trust: an empty trust set does that.
        options["known_hosts"] = [str(path) for path in readable] if readable else ([], [], [])
        return options

    def _host_key_message(self, check: _HostKeyCheck, exc: Exception) -> str:
        if check.presented is None:  # refused before our check saw it: a revoked key, an untrusted certificate
            return f"host key refused ({exc}); known_hosts files consulted: {check.files.named()}"
        if check.recorded:
            return changed_message(check.presented, check.recorded, check.files)
        return unknown_message(check.presented, check.files)

    def _fail(self, state: NodeState, message: str) -> None:
        """A new connection could not be opened; the node changes state only if no connection still works."""
        self._failures += 1
        delay = min(self.settings.reconnect_max, self.settings.reconnect_initial * 2 ** (self._failures - 1))
        self._next_try = time.monotonic() + delay
        self._connect_error = message
        if not self._connections:
            self.state, self.last_error = state, message

    def _mark_down(self, message: str) -> None:
        if not self._connections:
            self.state, self.last_error = NodeState.DOWN, message

    def _lose(self, channelled: _Channelled, exc: BaseException | None) -> str:
        """Drop a connection a command found dead; the message names why asyncssh closed it, if it did."""
        reason = channelled.client.lost or exc
        message = f"{self._where()}: connection lost: " + (
            _describe(reason) if reason is not None else "the command ended without an exit status")
        self._discard(channelled)
        self._mark_down(message)
        return message

    def _dropped(self, channelled: _Channelled, exc: Exception | None) -> None:
        """asyncssh closed a connection (keepalive unanswered, reset): the node is down now, not at the next call."""
        if channelled in self._connections:
            self._connections.remove(channelled)
            reason = _describe(exc) if exc is not None else "closed by the node"
            self._mark_down(f"{self._where()}: connection lost: {reason}")

    def _discard(self, channelled: _Channelled) -> None:
        if channelled in self._connections:
            self._connections.remove(channelled)
        channelled.conn.abort()

    def _where(self) -> str:
        return f"node {self.node.name} ({self.node.host}:{self.node.port})"

    def refuse(self, reason: str) -> str:
        """Mark the node refused for a reason found on it (not by SSH); returns the message recorded."""
        self.state, self.last_error = NodeState.REFUSED, f"{self._where()}: {reason}"
        return self.last_error

    def answered(self) -> None:
        """A command ran to completion on the node: it is up, whatever refused it before."""
        self.state, self.last_error = NodeState.UP, None

    def retry_now(self) -> None:
        """Forget the backoff (an operator asked, or a health check is due)."""
        self._next_try = 0.0

    async def close(self) -> None:
        """Close quickly: a link that hangs (a dead peer) is aborted instead of awaited."""
        for channelled in self._connections:
            channelled.conn.close()
        for channelled in self._connections:
            try:
                await asyncio.wait_for(channelled.conn.wait_closed(), 0.5)
            except (TimeoutError, asyncssh.Error, OSError):
                channelled.conn.abort()
        self._connections.clear()


async def _run(conn: asyncssh.SSHClientConnection, command: str, stdin: bytes | None,
               timeout: float) -> asyncssh.SSHCompletedProcess:
    """Run one command on its own channel; past the timeout that channel alone is closed."""
    process: asyncssh.SSHClientProcess[bytes] | None = None
    try:
        async with asyncio.timeout(timeout):
            process = await conn.create_process(command, input=stdin or None, encoding=None)
            if stdin == b"":
                process.stdin.write_eof()  # asyncssh sends no EOF for an empty input: a reader would wait forever
            return await process.wait(check=False)
    except TimeoutError:
        if process is not None:
            process.close()
        raise


def _entries_naming(files: list[Path], host: str, addr: str, port: int) -> list[Entry]:
    """The lines that name the host, matched as asyncssh does: `[host]:port` entries, else plain `host` ones."""
    with_port: list[Entry] = []
    without_port: list[Entry] = []
    for path in files:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue  # gone since asyncssh read it: it names nothing now
        for number, text in enumerate(lines, start=1):
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            try:
                known = asyncssh.import_known_hosts(text)
            except ValueError:
                continue  # a line asyncssh cannot parse is one it does not trust either
            plain = any(known.match(host, addr, None))
            if port != 22 and not plain and any(known.match(host, addr, port)):
                with_port.append(Entry(path, number))
            elif plain:
                without_port.append(Entry(path, number))
    # asyncssh falls back to plain `host` entries only when no `[host]:port` one matches.
    return with_port or without_port


def _as_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text
