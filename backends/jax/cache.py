"""JAX's persistent compilation cache: on by default, in the user's own cache folder.

A second ``taskdsl train`` of the same objective, a ``--resume``, ``eval`` and
``manipulate`` load the compiled step from disk instead of compiling it again
(seconds on a CPU, more on a GPU).  What JAX reads back from that folder is code
it runs, so it lives where only the user can write (:func:`taskdsl.caching.user_cache_folder`,
mode 0700), never in a shared or world-writable place (``docs/security.md``).

``TASKDSL_COMPILATION_CACHE=off`` turns it off; ``=PATH`` puts it in PATH; a
``JAX_COMPILATION_CACHE_DIR`` the user set is left as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

from taskdsl.caching import user_cache_folder

ENV = "TASKDSL_COMPILATION_CACHE"
OFF = frozenset({"off", "0", "false", "no"})
# Steps that compile faster than this are not worth a disk entry (JAX's default is 1 s,
# which would skip most of a small model's steps on a CPU).
MIN_COMPILE_SECONDS = 0.2


def cache_folder() -> Path | None:
    """Where compiled steps are kept, or None when the cache is off or has no safe home."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen.lower() in OFF:
        return None
    if chosen:
        return Path(chosen).expanduser()
    return user_cache_folder("xla")


def enable() -> Path | None:
    """Point JAX's persistent cache at :func:`cache_folder` before anything compiles;
    the folder used (JAX's own when the user configured one), or None."""
    import jax

    configured = jax.config.jax_compilation_cache_dir
    if configured:
        return Path(configured)
    folder = cache_folder()
    if folder is None:
        return None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None  # a cache that cannot be written is no reason to stop a run
    jax.config.update("jax_compilation_cache_dir", str(folder))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:  # the user's, if set
        jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder
