"""`sluice` commands: the parser, one module per command group, JSON output and tables."""
