"""`oe-pyproc doctor`: checks are small functions from a Context to Findings; running and rendering apart.

- model.py: Finding, Remediation, Fix, Check (data only).
- context.py: Context, what checks read (Home, GUI layout, ...), computed lazily and cached.
- checks/: one module per check; checks/__init__.py holds the ordered registry.
- runner.py: runs checks; a check that raises becomes a "crash" finding.
- render.py: text (✓ / ! / ✗ with an ASCII fallback), JSON (schema 1) and a markdown bug report.
"""
