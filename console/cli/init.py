"""`sluice init`: create the state home with commented examples."""

from __future__ import annotations

import asyncio
import shutil

from scheduler.home import Home, private_dir, write_private
from scheduler.store import open_database

from ..samples import sample_jobs_dir

NODES_EXAMPLE = '''# Worker nodes. One [[node]] table per machine; Sluice connects over SSH as `user`.
# Host keys are checked against known_hosts (the node's file or ~/.ssh/known_hosts, and /etc/ssh/ssh_known_hosts):
# add them first (ssh-keyscan to a temporary file, ssh-keygen -lf, compare the fingerprint, then append).
#
# [[node]]
# name = "etl-01"              # what Sluice calls it
# host = "etl-01.internal"
# port = 22
# user = "batch"
# identity_file = "~/.ssh/id_ed25519"   # optional: the agent and ~/.ssh/config defaults apply
# known_hosts = "~/.ssh/known_hosts"    # optional
# host_key = "strict"          # or "accept-new": trust an unknown host's first key and record it (an event)
# slots = 4                    # jobs at once
# labels = ["etl", "ssd"]      # a job's labels must all be here
# workdir = "~/.sluice"        # where attempt folders live on the worker
'''

QUEUES_EXAMPLE = '''# Queues are created on first use with priority 0 and no limit. Declare them here to set those.
#
# [[queue]]
# name = "reports"
# priority = 10        # higher queues dispatch first
# max_running = 8      # at most this many runs of the queue at once
'''


async def _create_store(home: Home) -> None:
    """The empty, private store, so that read-only commands (which create nothing) find one."""
    db = await open_database(home.db_path)
    await db.close()


def init_home(home: Home) -> int:
    home.require_writable()
    home.ensure()
    created = []
    if not home.db_path.exists():
        asyncio.run(_create_store(home))
        created.append(str(home.db_path))
    if not home.nodes_file.exists():
        write_private(home.nodes_file, NODES_EXAMPLE)
        created.append(str(home.nodes_file))
    if not home.queues_file.exists():
        write_private(home.queues_file, QUEUES_EXAMPLE)
        created.append(str(home.queues_file))
    if not home.jobs_dir.exists():
        private_dir(home.jobs_dir)
        for sample in sorted(sample_jobs_dir().glob("*.toml")):
            shutil.copyfile(sample, home.jobs_dir / sample.name)
            (home.jobs_dir / sample.name).chmod(0o600)
        created.append(f"{home.jobs_dir}/ (sample jobs)")
    print(f"sluice home: {home.root}")
    for path in created:
        print(f"  created {path}")
    if not created:
        print("  already set up; nothing changed")
    print("next: list your workers in nodes.toml, then run `sluice scheduler`")
    return 0
