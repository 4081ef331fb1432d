#!/usr/bin/env bash
# The dependency floors, tested: install the lowest version of every direct
# dependency that pyproject.toml allows (uv's lowest-direct resolution) into
# a virtual environment of its own, then run the fast tests there.  A floor
# that is too low for the code fails here, not on a user's machine.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${FLOORS_VENV:-.venv-floors}
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip uv
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --resolution lowest-direct -e '.[dev]'
echo "floors: $("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null \
  | grep -iE '^(jax|flax|optax|orbax-checkpoint|numpy|lark|rich|egglog|z3-solver|pygls)==' | tr '\n' ' ')"
"$VENV/bin/python" -m pytest -q -m "not slow" -p no:cacheprovider "$@"
