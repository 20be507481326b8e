"""The SSH executor: one module (transport.py) talks asyncssh; the rest speaks the Executor interface."""
