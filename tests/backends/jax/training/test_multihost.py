"""Multi-host training for real: two processes on this machine, one coordinator on localhost.

Each process is started the way a cluster would start it, with only
``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` set,
and two simulated CPU devices of its own
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``).  Each calls ``train``
into the same run folder, which joins the run through
``sharding.initialize_distributed`` (``jax.distributed.initialize``), shards
every batch over the four devices of both processes, loads only its half of
each batch, and all-reduces gradients across processes through Gloo.  The
parameters after a few steps must be those of the same run in one process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import numpy as np
import pytest

import taskdsl
from taskdsl.backends.jax.training.train import CONFIG, METRICS, train

TEXT = """
data pairs : -> Real[2], Class[3]
random noise : -> Real[2] ~ normal
learner get : Real[2] -> Class[3]
learner put : Real[2], Class[3] -> Real[2]
task classify:
    x, y <- pairs
    get(x) = y
task keep:
    x, y <- pairs
    put(x, y) = x          trains put
task noisy:
    z <- noise
    get(put(z, get(z))) = get(z)   trains put
objective all = classify + keep + 0.1 * noisy
impl get = nets.mlp(width = 8, depth = 1)
impl put = nets.mlp(width = 8, depth = 1)
train all:
    data pairs = datasets.sprites(n = 64, size = 8, fields = ["position", "scale"])
    batch 8
    steps 3
    checkpoint_every 2
    seed 5
"""

# One process of the job: train into the shared run folder, save the final params.
WORKER = textwrap.dedent('''
    import sys
    import jax, numpy as np, taskdsl
    from taskdsl.backends.jax.training.train import train

    text, out, dump = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]
    result = train(taskdsl.check_text(text).program, None, (), out, progress=False)
    assert jax.process_count() == 2 and jax.device_count() == 4, jax.devices()
    assert len(jax.local_devices()) == 2
    leaves = jax.tree_util.tree_leaves_with_path(result.params)
    np.savez(dump, **{jax.tree_util.keystr(p): np.asarray(x) for p, x in leaves})
    print("process", jax.process_index(), "finished", result.step, result.loss)
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def params_by_path(tree: object) -> dict[str, np.ndarray]:
    return {jax.tree_util.keystr(p): np.asarray(x)
            for p, x in jax.tree_util.tree_leaves_with_path(tree)}


@pytest.mark.slow  # three short runs, each compiling its step: about 30 s on two busy cores
def test_two_processes_train_what_one_process_trains(tmp_path: Path) -> None:
    source = tmp_path / "tiny.task"
    source.write_text(TEXT, encoding="utf-8")
    run = tmp_path / "two"
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_COORDINATOR_ADDRESS": f"localhost:{free_port()}", "JAX_NUM_PROCESSES": "2"}
    for name in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"):
        env.pop(name, None)
    workers = [subprocess.Popen(
        [sys.executable, "-c", WORKER, str(source), str(run), str(tmp_path / f"p{i}.npz")],
        env={**env, "JAX_PROCESS_ID": str(i)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for i in range(2)]
    try:
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate()
    for i, (w, (out, err)) in enumerate(zip(workers, outputs, strict=True)):
        assert w.returncode == 0, f"process {i} failed:\n{out}\n{err}"
        assert f"process {i} finished 3" in out, out

    # The same run in this one process (one device, or however many this process has).
    single = train(taskdsl.load(source), None, (), tmp_path / "one", progress=False)
    expected = params_by_path(single.params)
    per_process = [dict(np.load(tmp_path / f"p{i}.npz")) for i in range(2)]
    for got in per_process:
        assert got.keys() == expected.keys()
        for path, value in expected.items():
            np.testing.assert_allclose(got[path], value, rtol=1e-5, atol=1e-6, err_msg=path)
    for path, value in per_process[0].items():  # replicated: both hold the very same arrays
        np.testing.assert_array_equal(per_process[1][path], value, err_msg=path)

    # Process 0 alone wrote the record; both took part in the checkpoints.
    config = json.loads((run / CONFIG).read_text(encoding="utf-8"))
    assert (config["processes"], config["devices"]) == (2, 4)
    logged = [json.loads(line) for line in (run / METRICS).read_text().splitlines()]
    assert [r["step"] for r in logged] == [1, 3]
    np.testing.assert_allclose(logged[-1]["loss"], single.loss, rtol=1e-5)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["2", "3"]
