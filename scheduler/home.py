"""The state home: where sluice.db, logs, nodes.toml and jobs/ live. Everything in it is private to the user."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreFailed, UsageError


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


def _folder(option: str, raw: str) -> Path:
    """`raw` as an absolute folder path; UsageError naming `option` if it cannot be one."""
    shown = repr(raw) if len(raw) <= 60 else repr(raw[:57]) + "..."
    try:
        path = Path(raw).expanduser()
        if path.exists() and not path.is_dir():
            raise UsageError(f"{option} {path}: exists and is not a folder")
    except RuntimeError:
        # expanduser of ~name when no user has that name
        raise UsageError(f"{option} {shown}: cannot expand '~': no such user") from None
    except OSError as exc:
        # exists() only hides "no such file"; a name too long or a loop in the path is the operator's to fix
        raise UsageError(f"{option} {shown}: {exc.strerror or exc}") from None
    return path.absolute()


@dataclass(frozen=True)
class Home:
    root: Path
    jobs_dir_override: Path | None = None

    @classmethod
    def resolve(cls, home: str | None, jobs: str | None = None) -> Home:
        raw = home or os.environ.get("SLUICE_HOME")
        root = _folder("--home", raw) if raw else default_home()
        return cls(root, _folder("--jobs", jobs) if jobs else None)

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

    def require_writable(self) -> None:
        """Refuse, before anything is touched (a chmod included), a home this user may not write."""
        for path in (self.root, self.logs_dir, self.db_path):
            if path.exists() and not os.access(path, os.W_OK):
                raise StoreFailed(f"{path}: this user may not write it, so nothing was changed; a read-only "
                                  "command (runs, show, events...) or `sluice console --readonly` can still show "
                                  "this home")

    def ensure(self) -> Home:
        private_dir(self.root)
        private_dir(self.logs_dir)
        return self
