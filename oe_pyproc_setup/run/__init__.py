"""`oe-pyproc run`, piece by piece: the plan (`plan`: what was asked, what will run), the input (`inputs`),
the host driver (`host`, with the input's event stream in `events`), the host's report parsed once and typed
(`report`), the processed output (`output`), the budget verdict (`verdict`) and the text and JSON renderings
(`text`, `document`). `commands/run.py` is the click command over them; `runplot` draws from them.

Only `plan` and `report` avoid numpy at import: the command imports the rest once numpy is known to be there.
"""
