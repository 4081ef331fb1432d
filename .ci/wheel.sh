#!/usr/bin/env bash
# Install from a wheel, outside the checkout: the front end alone first
# (check/explain/fmt/render work, backend commands say how to install JAX),
# then with the JAX extra (taskdsl demo --fast runs from the installed wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m pip wheel -q --no-deps -w "$WORK/dist" .
WHEEL=$(ls "$WORK"/dist/taskdsl-*.whl)
python3 -m venv "$WORK/venv"
PY="$WORK/venv/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q "$WHEEL"
cd "$WORK"  # nothing from the checkout is importable from here
EXAMPLES=$("$PY" -c 'from importlib.resources import files; print(files("taskdsl.examples"))')
STDLIB=$("$PY" -c 'from importlib.resources import files; print(files("taskdsl.stdlib"))')
"$WORK/venv/bin/taskdsl" check "$EXAMPLES"/*.task "$STDLIB"/*.task
"$WORK/venv/bin/taskdsl" fmt --check "$EXAMPLES"/*.task "$STDLIB"/*.task
"$WORK/venv/bin/taskdsl" explain "$EXAMPLES/mnist_manipulator.task" >/dev/null
"$WORK/venv/bin/taskdsl" render "$EXAMPLES/mnist_manipulator.task" -o "$WORK/diagram.svg"
test -s "$WORK/diagram.svg"
# A backend command without JAX: one line saying how to install it, exit 2, no traceback.
set +e
"$WORK/venv/bin/taskdsl" train "$EXAMPLES/sprites_demo.task" >"$WORK/out.txt" 2>&1
status=$?
set -e
cat "$WORK/out.txt"
if [ "$status" -eq 0 ] || grep -q Traceback "$WORK/out.txt" || ! grep -q "taskdsl\[jax\]" "$WORK/out.txt"; then
  echo "wheel: 'taskdsl train' without JAX should say how to install it (exit $status)" >&2
  exit 1
fi
"$PY" -m pip install -q "$WHEEL[jax]"
"$WORK/venv/bin/taskdsl" demo --fast --quiet --out "$WORK/demo"
test -s "$WORK/demo/eval.json"
echo "wheel: installed and ran from $(basename "$WHEEL")"
