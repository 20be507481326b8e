"""Sluice's engine: job store, dispatch loop and SSH executor. Never imports textual or console."""
