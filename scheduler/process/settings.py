"""The scheduler process's knobs, with the defaults an operator gets from `sluice scheduler`."""

from __future__ import annotations

from dataclasses import dataclass

#: An unreachable node's attempts are given up only after this lease (HTCondor's job lease is 40 minutes):
#: a VPN blip or an sshd restart must never start a long job a second time.
DEFAULT_LOST_AFTER = 600.0


@dataclass(frozen=True)
class SchedulerSettings:
    tick: float = 0.2
    poll_interval: float = 0.5
    #: Bytes one probe of a node fetches at most, all attempts and streams together: small enough to cross a
    #: 1 Mbit/s link well inside the probe timeout, so a backlog always makes progress.
    max_chunk: int = 1 << 20
    #: The default lease of an unreachable node's attempts (nodes.toml and job files may set their own).
    node_lost_after: float = DEFAULT_LOST_AFTER
    node_check_interval: float = 5.0
    retention: float = 3600.0
    cleanup_interval: float = 60.0
    scan_limit: int = 500
    #: A quarantined node is health-checked this long after it was quarantined (and after each failed check).
    quarantine_cooldown: float = 60.0
