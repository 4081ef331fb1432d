#!/usr/bin/env bash
# The GPU figures (issue #14), on the GPU JAX sees, in three parts:
#
#  1. the MNIST manipulator's train step (`manipulate`, examples/mnist_manipulator.task)
#     at batch $BATCH (1024) in float32: taskdsl's lowered step against the same
#     objective written by hand in JAX/Flax/Optax (benchmarks/step_overhead.py): ms per
#     step, examples/s, and the achieved TFLOP/s, the step's FLOPs being the cost
#     analysis of its lowering before compilation (backends/jax/lowering/cost.py), which
#     counts the convolutions that the compiled step's count leaves to cuDNN;
#  2. the same in bfloat16 (`--precision bfloat16`: the `precision` setting, bfloat16
#     compute on float32 parameters and optimizer state);
#  3. the whole-loop overhead ratios (benchmarks/loop_overhead.py): `taskdsl train`
#     against a hand-written `lax.scan` loop, on the `digits` MLP and on the MNIST
#     manipulator (which needs MNIST: `taskdsl data fetch mnist` once, or $TASKDSL_DATA).
#
# Installs nothing.  It assumes the package and a CUDA-enabled JAX are installed, e.g.
#     pip install -e '.[jax]' && pip install -U 'jax[cuda12]'
# Python is $PYTHON if set, else `python`.  Sizes: $BATCH (1024), $STEPS (200 timed steps
# of each step), $LOOP_ARGS (extra arguments of loop_overhead.py, e.g. "--rounds 1").
# Extra arguments go to both step_overhead.py runs, e.g.  benchmarks/gpu.sh --steps 500
# $GPU_SH_ANY_BACKEND=1 lets it run without a GPU (to check the script, with tiny sizes).
# It ends with a summary, one line per figure:
#     gpu: float32  step_rate: precision=float32 batch=1024 examples_per_s=<e> tflops=<t>
#     gpu: float32  step_overhead: taskdsl_ms=<a> handwritten_ms=<b> ratio=<a/b>
#     gpu: bfloat16 step_rate: ...
#     gpu: bfloat16 step_overhead: ...
#     gpu: loop_overhead: small_ratio=<r> manipulator_ratio=<r>
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python}"
batch="${BATCH:-1024}"
steps="${STEPS:-200}"
read -r -a loop_args <<< "${LOOP_ARGS:-}"

backend="$("$python" -c 'import jax; print(jax.default_backend())')"
if [[ "$backend" != "gpu" && "${GPU_SH_ANY_BACKEND:-0}" != "1" ]]; then
    echo "gpu.sh: JAX sees no GPU (default backend: $backend); install a CUDA-enabled jax," \
         "or run benchmarks/step_overhead.py directly for a CPU measurement" >&2
    exit 1
fi
"$python" -c 'import jax; print("devices:", jax.devices())'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT
export PYTHONUNBUFFERED=1
for precision in float32 bfloat16; do
    echo "== step: MNIST manipulator, batch $batch, $precision"
    "$python" benchmarks/step_overhead.py --batch "$batch" --steps "$steps" --warmup 10 \
        --chunk 20 --precision "$precision" "$@" | tee "$log/step_$precision"
done
echo "== loop: taskdsl train against a hand-written loop"
"$python" benchmarks/loop_overhead.py ${loop_args[@]+"${loop_args[@]}"} | tee "$log/loop"

echo "== summary"
for precision in float32 bfloat16; do
    grep -E '^(step_rate|step_overhead):' "$log/step_$precision" \
        | sed "s/^/gpu: $(printf '%-8s' "$precision") /"
done
grep -E '^loop_overhead:' "$log/loop" | sed 's/^/gpu: /'
