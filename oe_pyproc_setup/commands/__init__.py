"""One module per `oe-pyproc` command; each is imported only when its command runs (see cli.COMMANDS)."""
