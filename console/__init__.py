"""Sluice's faces: the `sluice` CLI (cli.py) and the Textual console (app.py). Imports scheduler, never the reverse."""
