"""Sluice's faces: the CLI (cli/), the Textual console (tui/) and the demo (demo/). Imports scheduler, never the reverse."""
