"""Read a job's secrets on the bastion when it is dispatched: from the scheduler's environment or from files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The largest secret value: a token or a password, not a payload.
MAX_SECRET_BYTES = 16 * 1024


class SecretMissing(Exception):
    """A secret of the job cannot be read: the attempt must not start with an empty value."""


def read_secrets(definition: dict[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The job's secret values by variable name; SecretMissing names the first that cannot be read and why."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for name, source in sorted(definition.get("secrets", {}).items()):
        if source.get("env") is not None:
            value = environ.get(source["env"])
            if value is None:
                raise SecretMissing(f"secret {name}: the environment variable {source['env']} is not set where "
                                    "the scheduler runs")
        else:
            value = _read_file(name, source["file"])
        if not value:
            raise SecretMissing(f"secret {name} is empty: a job must never start with an empty secret")
        if "\x00" in value:
            raise SecretMissing(f"secret {name} contains a NUL byte, which no environment variable can hold")
        if len(value.encode("utf-8", "surrogateescape")) > MAX_SECRET_BYTES:
            raise SecretMissing(f"secret {name} is longer than {MAX_SECRET_BYTES} bytes")
        values[name] = value
    return values


def _read_file(name: str, file: str) -> str:
    path = Path(file).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SecretMissing(f"secret {name}: cannot read {path}: {exc.strerror}") from None
    # A token file usually ends with one newline that is not part of the token.
    return raw.removesuffix(b"\n").decode("utf-8", "surrogateescape")
