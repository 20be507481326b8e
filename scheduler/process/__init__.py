"""The scheduler process: one central loop (loop.py) that owns every write and the memory that mirrors it, one
watcher task per node (watcher.py) that only talks to its node, and the steps of a pass, each in a module of
its own: attempts, kills, node health, cleanup, dispatch. Import from the modules: this package stays light so
the CLI can read settings without loading the loop."""
