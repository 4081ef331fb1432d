"""Data parallelism: a sharded step equals the single-device step; the layout's own checks.

The multi-device checks run in a subprocess started with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``: the flag only takes
effect before JAX initialises its CPU backend, which this process has done.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import jax
import pytest

from taskdsl.backends.jax.training import sharding
from taskdsl.backends.jax.training.errors import USAGE, TrainError

EIGHT_DEVICES = textwrap.dedent('''
    import jax, numpy as np, optax, taskdsl
    from jax.sharding import PartitionSpec as P
    from taskdsl.backends.jax.lowering.lower import lower, make_train_step
    from taskdsl.backends.jax.training.sharding import data_parallel
    from taskdsl.backends.jax.training.train import train
    from taskdsl.backends.jax.training.errors import TrainError

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
        y <- pairs
        get(put(z, get(z))) = get(z)   trains put
    objective all = classify + keep + 0.1 * noisy
    impl get = nets.mlp(width = 8, depth = 1)
    impl put = nets.mlp(width = 8, depth = 1)
    train all:
        data pairs = datasets.sprites(n = 64, size = 8, fields = ["position", "scale"])
    """
    assert jax.device_count() == 8
    program = taskdsl.check_text(TEXT).program
    low = lower(program)
    init_opt, step = make_train_step(low, optax.adam(1e-2), donate=False, batch_size=16)
    params = low.init(jax.random.key(0))
    opt_state = init_opt(params)
    rng = np.random.default_rng(0)
    batch = {r.key: (rng.random((16, 2), dtype=np.float32), rng.integers(0, 3, 16))
             for r in low.data_requests()}
    key = jax.random.key(1)

    layout = data_parallel(16)
    sharded = layout.shard(batch)
    leaf = jax.tree.leaves(sharded)[0]
    assert leaf.sharding.spec == P("batch") and len(leaf.addressable_shards) == 8
    assert leaf.addressable_shards[0].data.shape[0] == 2

    one = step(params, opt_state, batch, key)
    many = step(*layout.replicate((params, opt_state, key))[:2], sharded, layout.replicate(key))
    for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(many), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    assert all(x.sharding.is_fully_replicated for x in jax.tree.leaves(many[0]))

    try:
        data_parallel(12)
        raise AssertionError("batch 12 over 8 devices was accepted")
    except TrainError as error:
        assert "batch 12 cannot be split evenly over 8 devices" in str(error), error
        assert "--set batch=8 or 16" in str(error), error

    import tempfile, json, pathlib
    out = pathlib.Path(tempfile.mkdtemp()) / "run"
    result = train(program, None, ["steps=6", "batch=16"], out, progress=False)
    assert result.step == 6 and np.isfinite(result.loss)
    assert json.loads((out / "config.json").read_text())["devices"] == 8
    print("sharded ok")
''')


def test_a_sharded_step_matches_the_single_device_step() -> None:
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([sys.executable, "-c", EIGHT_DEVICES], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "sharded ok" in done.stdout


def test_one_device_needs_no_layout() -> None:
    assert sharding.data_parallel(5, devices=jax.devices()[:1]) is None


def test_no_cluster_means_no_distributed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JAX_COORDINATOR_ADDRESS", *sharding.CLUSTER_SIZES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_NTASKS", "1")  # a one-task Slurm job is not multi-host
    assert sharding.initialize_distributed() is False


def test_a_malformed_cluster_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "localhost:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(TrainError) as caught:
        sharding.initialize_distributed()
    assert caught.value.exit_code == USAGE
    assert "$JAX_NUM_PROCESSES must be a whole number" in str(caught.value)


def coordinated(monkeypatch: pytest.MonkeyPatch, address: str, process: int) -> TrainError:
    """The TrainError that joining a run at ``address`` as ``process`` raises."""
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", address)
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", str(process))
    with pytest.raises(TrainError) as caught:
        sharding.initialize_distributed(coordinator_wait_s=0.5)
    assert caught.value.exit_code == USAGE
    assert not jax.distributed.is_initialized()
    return caught.value


@pytest.mark.parametrize("address", ["localhost", "localhost:port", ":1234", "host:70000"])
def test_a_malformed_coordinator_address_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    assert "must be HOST:PORT" in str(coordinated(monkeypatch, address, 1))


def test_a_silent_coordinator_is_a_clear_error_not_an_abort(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]  # free, and nobody listens once closed
    error = str(coordinated(monkeypatch, f"127.0.0.1:{port}", 1))
    assert f"no coordinator answered at 127.0.0.1:{port} within 0.5 s" in error
    assert "JAX_PROCESS_ID=0" in error


def test_a_taken_coordinator_port_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("", 0)) as taken:
        port = taken.getsockname()[1]
        error = str(coordinated(monkeypatch, f"localhost:{port}", 0))
    assert f"cannot listen on localhost:{port}" in error


def test_without_a_process_id_only_the_address_form_is_checked() -> None:
    # JAX may find the id itself (a cluster's variables): no wait for a coordinator
    # that could be this very process.
    sharding._check_coordinator("127.0.0.1:1", None, wait_s=60)
