"""Data parallelism over every device, and joining a multi-host run.

One 1-D mesh over the batch axis: each step's batch is split across the
devices (``NamedSharding(mesh, P("batch"))``) while parameters and optimizer
state are replicated (``P()``).  The train step itself is unchanged: ``jax.jit``
follows its inputs' shardings, so XLA inserts the all-reduce of gradients.  With
several processes each loads only its slice of the global batch and
``jax.make_array_from_process_local_data`` assembles the global array.

Multi-host runs are joined through ``jax.distributed.initialize`` when the
environment describes one: ``JAX_COORDINATOR_ADDRESS`` (with
``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``), or a Slurm or Open MPI job with
more than one task, whose variables JAX reads itself.  On CPU the processes
exchange gradients through Gloo over TCP (``jax_cpu_collectives_implementation``,
JAX's default in recent versions; set here where an older JAX left it unset), so
a multi-host run can be tried on one machine: see ``tests/backends/jax/test_multihost.py``.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from . import errors

AXIS = "batch"
# Variables that, when they count more than one task, mean a cluster launched this process.
CLUSTER_SIZES = ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE")
COORDINATOR_WAIT_S = 120.0
"""How long a process other than the first waits for the coordinator to listen."""


def initialize_distributed(coordinator_wait_s: float = COORDINATOR_WAIT_S) -> bool:
    """Join the multi-host run the environment describes, once; True if there is one.

    Must run before any JAX computation, which is why ``train`` calls it first.
    """
    if jax.distributed.is_initialized():
        return True
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if address:
        processes, process_id = _env_int("JAX_NUM_PROCESSES"), _env_int("JAX_PROCESS_ID")
        _check_coordinator(address, process_id, coordinator_wait_s)
        _cpu_collectives()
        jax.distributed.initialize(address, num_processes=processes, process_id=process_id)
        return True
    if any((_env_int(name) or 1) > 1 for name in CLUSTER_SIZES):
        _cpu_collectives()
        jax.distributed.initialize()
        return True
    return False


def _check_coordinator(address: str, process_id: int | None, wait_s: float) -> None:
    """Fail with a TrainError, not JAX's abort of the whole process, when ``address``
    cannot work: malformed, taken (the coordinator, process 0, binds it) or silent
    for ``wait_s`` seconds (any other process connects to it).  Without a process id
    JAX finds its own later, so only the address's form is checked."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.coordinator_address(address)
    endpoint = (host.strip("[]"), int(port))
    if process_id is None:
        return
    if process_id == 0:  # JAX's coordinator listens on every interface
        try:
            with socket.create_server(("", endpoint[1])):
                return
        except OSError as failure:
            raise errors.coordinator_unusable(address, failure.strerror or str(failure)) from None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with socket.create_connection(endpoint, timeout=min(5.0, wait_s)):
                return
        except OSError as failure:
            if time.monotonic() >= deadline:
                raise errors.coordinator_silent(address, wait_s,
                                                failure.strerror or str(failure)) from None
        time.sleep(0.5)


def _cpu_collectives() -> None:
    """Gloo for cross-process collectives on CPU, unless a choice was made (or JAX made one)."""
    if getattr(jax.config, "jax_cpu_collectives_implementation", "gloo") is None:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.distributed_env(name, value) from None


@dataclass(frozen=True)
class DataParallel:
    """Where a data-parallel run puts things: batches split over ``mesh``, state replicated."""

    mesh: Mesh

    @property
    def batch_sharding(self) -> NamedSharding:
        return NamedSharding(self.mesh, P(AXIS))

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, P())

    def replicate(self, tree: Any) -> Any:
        """``tree`` (params, optimizer state, a key) copied to every device.

        With several processes ``device_put`` cannot reach the other hosts' devices: each
        process holds the same values (same seed), and builds its part of global arrays.
        """
        if jax.process_count() == 1:
            return jax.device_put(tree, self.replicated)
        return jax.tree.map(self._replicated_global, tree)

    def _replicated_global(self, x: Any) -> jax.Array:
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = self._replicated_global(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, self.replicated, lambda index: host[index])

    def shard(self, batch: Any) -> Any:
        """This process's slice of a batch, as global arrays split over the batch axis."""
        return jax.tree.map(
            lambda x: jax.make_array_from_process_local_data(self.batch_sharding, x), batch)


def data_parallel(batch_size: int, devices: list[jax.Device] | None = None
                  ) -> DataParallel | None:
    """A data-parallel layout over ``devices`` (default: all), or None when there is one.

    The batch must split evenly: every device runs the same shapes.
    """
    devices = jax.devices() if devices is None else devices
    if len(devices) == 1:
        return None
    if batch_size % len(devices):
        raise errors.batch_not_divisible(batch_size, len(devices), jax.process_count())
    return DataParallel(Mesh(np.array(devices), (AXIS,)))
