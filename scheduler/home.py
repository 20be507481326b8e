"""The state home: where sluice.db, logs, nodes.toml and jobs/ live. Everything in it is private to the user."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError


def default_home() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "sluice"


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700 folders."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a 0600 file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


@dataclass(frozen=True)
class Home:
    root: Path
    jobs_dir_override: Path | None = None

    @classmethod
    def resolve(cls, home: str | None, jobs: str | None = None) -> Home:
        raw = home or os.environ.get("SLUICE_HOME")
        root = Path(raw).expanduser() if raw else default_home()
        if root.exists() and not root.is_dir():
            raise UsageError(f"--home {root}: exists and is not a folder")
        return cls(root.absolute(), Path(jobs).expanduser().absolute() if jobs else None)

    @property
    def db_path(self) -> Path:
        return self.root / "sluice.db"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def nodes_file(self) -> Path:
        return self.root / "nodes.toml"

    @property
    def queues_file(self) -> Path:
        return self.root / "queues.toml"

    @property
    def jobs_dir(self) -> Path:
        return self.jobs_dir_override or self.root / "jobs"

    @property
    def lock_path(self) -> Path:
        return self.root / "scheduler.lock"

    def ensure(self) -> Home:
        private_dir(self.root)
        private_dir(self.logs_dir)
        return self
