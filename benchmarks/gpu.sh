#!/usr/bin/env bash
# Step overhead on a GPU: taskdsl's lowered MNIST-manipulator train step against the same
# objective written by hand in JAX/Flax/Optax, at a GPU-sized batch (default 1024).
#
# Installs nothing.  It assumes the package and a CUDA-enabled JAX are installed, e.g.
#     pip install -e '.[jax]' && pip install -U 'jax[cuda12]'
# Python is $PYTHON if set, else `python`.  Extra arguments go to step_overhead.py and
# override the defaults below (argparse keeps the last value), e.g.
#     benchmarks/gpu.sh --batch 2048 --steps 500
# The last line printed is
#     step_overhead: taskdsl_ms=<a> handwritten_ms=<b> ratio=<a/b>
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"

backend="$("$python" -c 'import jax; print(jax.default_backend())')"
if [[ "$backend" != "gpu" ]]; then
    echo "gpu.sh: JAX sees no GPU (default backend: $backend); install a CUDA-enabled jax," \
         "or run benchmarks/step_overhead.py directly for a CPU measurement" >&2
    exit 1
fi
"$python" -c 'import jax; print("devices:", jax.devices())'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

exec env PYTHONUNBUFFERED=1 "$python" benchmarks/step_overhead.py \
    --batch 1024 --steps 200 --warmup 10 --chunk 20 --flops "$@"
