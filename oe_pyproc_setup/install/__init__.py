"""Putting the plugin into the GUI's folders and taking it out again (DESIGN §5): `plugin` plans and
performs install, `uninstall` undoes it, `manifest` records what was done, `containment` keeps every path
either of them touches inside the folders of the GUI root that oe-pyproc owns, `installed_plugins` edits
the GUI's installedPlugins.xml as its Plugin Installer does."""
