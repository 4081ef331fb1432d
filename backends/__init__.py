"""Backends that lower taskdsl IR to executable code; each lives in its own subpackage."""
