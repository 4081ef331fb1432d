"""Backends that lower taskdsl IR to executable code; each lives in its own subpackage.

A backend registers an object under the entry-point group ``taskdsl.backends``
(``pyproject.toml``), which the front end finds with
:func:`taskdsl.backend.installed`; the front end imports no module here.
"""
