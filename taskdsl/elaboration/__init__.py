"""The elaborator's parts; :mod:`taskdsl.elaborate` composes them.

``base`` holds the shared state; ``declarations``, ``definitions`` (``def`` and
``refine``), ``tasks`` (tasks and objectives), ``patterns`` (patterns and
``use``) and ``config`` (``impl`` and ``train``) each elaborate one kind of
statement.  Expressions and diagrams are built by :mod:`taskdsl.diagrams`.
"""
