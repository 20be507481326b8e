"""The only module that talks asyncssh: persistent connections per node, channels capped under MaxSessions."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from ..config import NodeConfig
from ..executor import TargetUnavailable

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


class _LinkClient(asyncssh.SSHClient):
    """Keeps why asyncssh dropped the connection (keepalive, reset): a cut command's result does not say."""

    def __init__(self) -> None:
        self.lost: Exception | None = None
        self.on_lost: Callable[[Exception | None], None] | None = None

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
        self.state = "unknown"
        self.last_error: str | None = None
        self._connections: list[_Channelled] = []
        self._connect_lock = asyncio.Lock()
        #: Channels the node may have open at once: a caller past it waits for one to end.
        self._capacity = asyncio.Semaphore(CHANNELS_PER_CONNECTION * MAX_CONNECTIONS_PER_NODE)
        self._failures = 0
        self._next_try = 0.0
        #: Why the last new connection failed (said even while another connection keeps the node up).
        self._connect_error = ""

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
            self.state, self.last_error = "up", None  # a command completed: whatever failed before, it answers
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
                                    refused=self.state == "refused")
        client = _LinkClient()
        try:
            conn = await asyncio.wait_for(asyncssh.connect(client_factory=lambda: client, **self._options()),
                                          self.settings.connect_timeout)
        except asyncssh.HostKeyNotVerifiable as exc:
            self._fail("refused", self._host_key_message(exc))
            raise TargetUnavailable(self.node.name, self._connect_error, refused=True) from exc
        except asyncssh.PermissionDenied as exc:
            self._fail("refused", f"{self._where()}: login refused for user {self.node.user or '(default)'}: "
                                  f"{exc.reason}; check identity_file or the agent, and authorized_keys")
            raise TargetUnavailable(self.node.name, self._connect_error, refused=True) from exc
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            self._fail("down", f"{self._where()}: cannot connect: {_describe(exc)}")
            raise TargetUnavailable(self.node.name, self._connect_error) from exc
        except ValueError as exc:  # asyncssh's KeyImportError and KeyEncryptionError: a key file it cannot use
            self._fail("refused", f"{self._where()}: cannot use identity_file {self.node.identity_file}: {exc}")
            raise TargetUnavailable(self.node.name, self._connect_error, refused=True) from exc
        channelled = _Channelled(conn, client)
        client.on_lost = lambda exc: self._dropped(channelled, exc)
        self._connections.append(channelled)
        self._failures = 0
        self.state, self.last_error = "up", None
        return channelled

    def _options(self) -> dict[str, object]:
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
        known_hosts = Path(node.known_hosts or "~/.ssh/known_hosts").expanduser()
        # A missing known_hosts file must refuse, never trust: an empty trust set does that.
        options["known_hosts"] = str(known_hosts) if known_hosts.exists() else ([], [], [])
        return options

    def _host_key_message(self, exc: Exception) -> str:
        known_hosts = self.node.known_hosts or "~/.ssh/known_hosts"
        target = self.node.host if self.node.port == 22 else f"[{self.node.host}]:{self.node.port}"
        return (f"{self._where()}: host key refused ({exc}): the key of {target} is not in {known_hosts} or has "
                f"changed. Verify its fingerprint, then add it with: ssh-keyscan -p {self.node.port} "
                f"{self.node.host} >> {known_hosts}")

    def _fail(self, state: str, message: str) -> None:
        """A new connection could not be opened; the node changes state only if no connection still works."""
        self._failures += 1
        delay = min(self.settings.reconnect_max, self.settings.reconnect_initial * 2 ** (self._failures - 1))
        self._next_try = time.monotonic() + delay
        self._connect_error = message
        if not self._connections:
            self.state, self.last_error = state, message

    def _mark_down(self, message: str) -> None:
        if not self._connections:
            self.state, self.last_error = "down", message

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
        self.state, self.last_error = "refused", f"{self._where()}: {reason}"
        return self.last_error

    def answered(self) -> None:
        """A command ran to completion on the node: it is up, whatever refused it before."""
        self.state, self.last_error = "up", None

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
            process = await conn.create_process(command, input=stdin, encoding=None)
            return await process.wait(check=False)
    except TimeoutError:
        if process is not None:
            process.close()
        raise


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
