"""Priorities for the journal: under systemd, each stderr line may start with `<N>` (sd-daemon(3)), and journald
records the line at that level. Only when stderr really is the journal stream: JOURNAL_STREAM names its device and
inode (systemd.exec(5)), and a child whose stderr went elsewhere inherits the variable but not the stream."""

from __future__ import annotations

import logging
import os
from typing import TextIO

#: sd-daemon levels (syslog's), the ones Sluice uses.
ERR, WARNING, NOTICE, INFO, DEBUG = 3, 4, 5, 6, 7


def is_journal(stream: TextIO) -> bool:
    """Whether `stream` is the journal stream systemd connected this service to."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        info = os.fstat(stream.fileno())
        return (info.st_dev, info.st_ino) == (int(device), int(inode))
    except (ValueError, OSError):  # unset, malformed, or a stream without a file descriptor
        return False


def prefixed(text: str, priority: int, journal: bool) -> str:
    """`text` with each line marked at `priority` when writing to the journal (it records lines one by one)."""
    if not journal:
        return text
    return "\n".join(f"<{priority}>{line}" for line in text.split("\n"))


def level_priority(levelno: int) -> int:
    """The sd-daemon level of a logging level."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return ERR
    if levelno >= logging.WARNING:
        return WARNING
    return INFO if levelno >= logging.INFO else DEBUG


class JournalFormatter(logging.Formatter):
    """Log records marked with their level, every line of a traceback included."""

    def format(self, record: logging.LogRecord) -> str:
        return prefixed(super().format(record), level_priority(record.levelno), journal=True)
